/**
 * Sessions: an iron-session sealed cookie (httpOnly, SameSite=Strict) naming
 * the user. The role is taken from the configuration on every request, so a
 * user removed from AUTH_USERS loses access at the next restart even with an
 * old cookie.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getIronSession, unsealData, type SessionOptions } from 'iron-session';
import type { AuthConfig } from '../config.ts';
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
}

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

  constructor(private readonly auth: AuthConfig) {
    this.options = {
      cookieName: SESSION_COOKIE,
      // iron-session needs a 32+ character password even when unused.
      password: auth.enabled ? auth.sessionSecret : 'x'.repeat(32),
      ttl: auth.sessionTtlSeconds,
      cookieOptions: { httpOnly: true, sameSite: 'strict', secure: auth.cookieSecure, path: '/' },
    };
  }

  get enabled(): boolean {
    return this.auth.enabled;
  }

  /** The principal behind a request (HTTP or socket.io handshake), or null when not logged in. */
  async principal(req: IncomingMessage): Promise<Principal | null> {
    if (!this.auth.enabled) return LOCAL_PRINCIPAL;
    const seal = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (!seal) return null;
    let data: SessionData;
    try {
      data = await unsealData<SessionData>(seal, { password: this.auth.sessionSecret, ttl: this.auth.sessionTtlSeconds });
    } catch {
      return null;
    }
    const user = this.auth.users.find((u) => u.name === data.user);
    return user ? { name: user.name, role: user.role } : null;
  }

  /** Check a name and password; on success set the session cookie on `res`. */
  async login(req: IncomingMessage, res: ServerResponse, name: string, password: string): Promise<Principal | null> {
    const user = this.auth.users.find((u) => u.name === name);
    // Verify against a dummy hash when the user is unknown so timing does not reveal names.
    const ok = await verifyPassword(password, user?.hash ?? DUMMY_HASH);
    if (!user || !ok) return null;
    const session = await getIronSession<SessionData>(req, res, this.options);
    session.user = user.name;
    session.issuedAt = Date.now();
    await session.save();
    return { name: user.name, role: user.role };
  }

  async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = await getIronSession<SessionData>(req, res, this.options);
    session.destroy();
  }
}

const DUMMY_HASH = 'scrypt$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
