/**
 * Sessions: an iron-session sealed cookie (httpOnly, SameSite=Strict) naming
 * the user. The role is taken from the configuration on every request, so a
 * user removed from AUTH_USERS loses access at the next restart even with an
 * old cookie.
 *
 * A sealed cookie stays valid until its TTL wherever it is copied, so logout
 * also revokes it on the server: each login gets a random session id, and
 * logout lists that id until the cookie would have expired anyway. The list
 * is bounded; when it is full, the user's sessions issued before that moment
 * are all revoked instead (never fewer). The list lives in memory: a restart
 * forgets it, and cookies logged out before the restart work again until
 * their TTL (rotate SESSION_SECRET to end every session).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { getIronSession, unsealData, type SessionOptions } from 'iron-session';
import type { AuthConfig } from '../config.ts';
import { TrustedProxies } from './client-address.ts';
import { LoginLimiter, type LoginLimits } from './login-limiter.ts';
import { verifyPassword, type Role } from './users.ts';

export const SESSION_COOKIE = 'osloscope_session';

/** Who is asking. With access control off every local client is the operator "local". */
export interface Principal {
  name: string;
  role: Role;
}

interface SessionData {
  user?: string;
  issuedAt?: number;
  /** random id, listed on logout */
  sid?: string;
}

/** The outcome of a login attempt. */
export type LoginOutcome =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'bad_credentials' }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number; scope: 'backoff' | 'address' | 'account' };

/** Most revoked session ids kept (each expires with its cookie's TTL). */
const MAX_REVOKED = 100_000;

export const LOCAL_PRINCIPAL: Principal = Object.freeze({ name: 'local', role: 'operator' });

/** Cookie header → name/value pairs (first occurrence wins, as browsers send the most specific first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    let value = part.slice(i + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!out.has(name)) {
      try {
        out.set(name, decodeURIComponent(value));
      } catch {
        out.set(name, value);
      }
    }
  }
  return out;
}

export class Sessions {
  private readonly options: SessionOptions;
  /** session id → when its cookie expires anyway (ms) */
  private readonly revoked = new Map<string, number>();
  /** user → sessions issued before this moment are revoked (used when `revoked` is full) */
  private readonly notBefore = new Map<string, number>();
  readonly limiter: LoginLimiter;
  readonly proxies: TrustedProxies;
  /** called after a logout revoked a session (the realtime gateway ends that session's open sockets) */
  private readonly revokeListeners: Array<() => void> = [];

  constructor(
    private readonly auth: AuthConfig,
    limits: Partial<LoginLimits> = {},
  ) {
    this.limiter = new LoginLimiter(limits);
    this.proxies = new TrustedProxies(auth.trustedProxies ?? []);
    this.options = {
      cookieName: SESSION_COOKIE,
      // iron-session needs a 32+ character password even when unused.
      password: auth.enabled ? auth.sessionSecret : 'x'.repeat(32),
      ttl: auth.sessionTtlSeconds,
      cookieOptions: { httpOnly: true, sameSite: 'strict', secure: auth.cookieSecure, path: auth.cookiePath ?? '/' },
    };
  }

  get enabled(): boolean {
    return this.auth.enabled;
  }

  /**
   * A typed user name as it may be logged: the name of a configured user, or
   * `(unknown user)`. A password typed into the name field must not reach the log.
   */
  loggableName(typed: string): string {
    return this.auth.users.some((u) => u.name === typed) ? typed : '(unknown user)';
  }

  /** The address a request comes from, honouring TRUSTED_PROXIES. */
  clientAddress(req: IncomingMessage): string {
    return this.proxies.clientAddress(req);
  }

  /** The principal behind a request (HTTP or socket.io handshake), or null when not logged in or logged out. */
  async principal(req: IncomingMessage): Promise<Principal | null> {
    if (!this.auth.enabled) return LOCAL_PRINCIPAL;
    const data = await this.read(req);
    if (!data) return null;
    const user = this.auth.users.find((u) => u.name === data.user);
    return user ? { name: user.name, role: user.role } : null;
  }

  /** The cookie's data when it is sealed by us, unexpired and not revoked. */
  private async read(req: IncomingMessage): Promise<SessionData | null> {
    const seal = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (!seal) return null;
    let data: SessionData;
    try {
      data = await unsealData<SessionData>(seal, { password: this.auth.sessionSecret, ttl: this.auth.sessionTtlSeconds });
    } catch {
      return null;
    }
    if (typeof data.user !== 'string') return null;
    if (typeof data.sid === 'string' && this.revoked.has(data.sid)) return null;
    const cutoff = this.notBefore.get(data.user);
    if (cutoff !== undefined && (typeof data.issuedAt !== 'number' || data.issuedAt <= cutoff)) return null;
    return data;
  }

  /**
   * Check a name and password within the login limits; on success set the
   * session cookie on `res`. The limits are asked first and synchronously, so
   * parallel guesses cannot all reach the (slow, constant-time) check.
   */
  async login(req: IncomingMessage, res: ServerResponse, name: string, password: string): Promise<LoginOutcome> {
    const ticket = this.limiter.begin(name, this.clientAddress(req));
    if (!ticket.ok) return { ok: false, reason: 'rate_limited', retryAfterSeconds: ticket.retryAfterSeconds, scope: ticket.reason };
    const user = this.auth.users.find((u) => u.name === name);
    // Verify against a dummy hash when the user is unknown so timing does not reveal names.
    let ok = false;
    try {
      ok = await verifyPassword(password, user?.hash ?? DUMMY_HASH);
    } finally {
      ticket.settle(ok && user !== undefined);
    }
    if (!user || !ok) return { ok: false, reason: 'bad_credentials' };
    const session = await getIronSession<SessionData>(req, res, this.options);
    session.user = user.name;
    session.issuedAt = Date.now();
    session.sid = randomBytes(18).toString('base64url');
    await session.save();
    return { ok: true, principal: { name: user.name, role: user.role } };
  }

  /** Clear the cookie and revoke the session it names, so a copy of it no longer works either. */
  async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const data = this.auth.enabled ? await this.read(req) : null;
    if (data) this.revoke(data);
    const session = await getIronSession<SessionData>(req, res, this.options);
    session.destroy();
  }

  /** Run `fn` after every logout that revoked a session. */
  onRevoke(fn: () => void): void {
    this.revokeListeners.push(fn);
  }

  private revoke(data: SessionData): void {
    this.revokeRecord(data);
    for (const fn of this.revokeListeners) fn();
  }

  private revokeRecord(data: SessionData): void {
    const now = Date.now();
    const issued = typeof data.issuedAt === 'number' ? data.issuedAt : now;
    const expires = issued + this.auth.sessionTtlSeconds * 1000;
    if (typeof data.sid === 'string' && this.revoked.size < MAX_REVOKED) {
      this.revoked.set(data.sid, expires);
      return;
    }
    if (typeof data.sid === 'string') {
      for (const [sid, until] of this.revoked) if (until <= now) this.revoked.delete(sid);
      if (this.revoked.size < MAX_REVOKED) {
        this.revoked.set(data.sid, expires);
        return;
      }
    }
    // no id (a cookie from before ids) or the list is full: end all of this user's sessions issued so far
    this.notBefore.set(data.user as string, now);
  }
}

const DUMMY_HASH = 'scrypt$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
