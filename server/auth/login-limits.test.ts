/**
 * Login throttling (login-limiter.ts), session revocation on logout and the
 * client address behind trusted proxies (client-address.ts).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthConfig } from '../config.ts';
import { isAddressOrCidr, TrustedProxies } from './client-address.ts';
import { LoginLimiter } from './login-limiter.ts';
import { Sessions } from './session.ts';
import { hashPassword, parseUsers } from './users.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('LoginLimiter', () => {
  it('backs off per (account, address) after the free failures, and the right password works once the back-off passes', () => {
    const c = clock();
    const l = new LoginLimiter({ freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 8000 }, c.now);
    for (let i = 0; i < 3; i++) {
      const t = l.begin('alice', '192.0.2.1');
      expect(t.ok).toBe(true);
      if (t.ok) t.settle(false);
    }
    const fourth = l.begin('alice', '192.0.2.1');
    expect(fourth.ok).toBe(true); // checked, but it opens a 1 s back-off
    if (fourth.ok) fourth.settle(false);
    const blocked = l.begin('alice', '192.0.2.1');
    expect(blocked).toMatchObject({ ok: false, reason: 'backoff', retryAfterSeconds: 1 });
    // another address is not affected
    expect(l.begin('alice', '198.51.100.7').ok).toBe(true);
    c.advance(1000);
    const t5 = l.begin('alice', '192.0.2.1');
    expect(t5.ok).toBe(true);
    if (t5.ok) t5.settle(false);
    expect(l.begin('alice', '192.0.2.1')).toMatchObject({ ok: false, retryAfterSeconds: 2 }); // doubled
    // never more than the ceiling, however many failures
    for (let i = 0; i < 20; i++) {
      c.advance(10_000);
      const t = l.begin('alice', '192.0.2.1');
      if (t.ok) t.settle(false);
    }
    const r = l.begin('alice', '192.0.2.1');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.retryAfterSeconds).toBeLessThanOrEqual(8);
    c.advance(8000);
    const right = l.begin('alice', '192.0.2.1');
    expect(right.ok).toBe(true);
    if (right.ok) right.settle(true);
    // success clears the pair
    for (let i = 0; i < 3; i++) expect(l.begin('alice', '192.0.2.1').ok).toBe(true);
  });

  it('reserves before the check: of 300 simultaneous attempts only the free ones (plus the one that opens the back-off) pass', () => {
    const l = new LoginLimiter({ freeFailures: 5 });
    const tickets = Array.from({ length: 300 }, () => l.begin('alice', '192.0.2.1'));
    expect(tickets.filter((t) => t.ok).length).toBe(6);
  });

  it('caps attempts per address across account names', () => {
    const c = clock();
    const l = new LoginLimiter({ perAddressPerMinute: 10 }, c.now);
    const passed = Array.from({ length: 50 }, (_, i) => l.begin(`user${i}`, '192.0.2.9')).filter((t) => t.ok).length;
    expect(passed).toBe(10);
    c.advance(60_000);
    expect(l.begin('user99', '192.0.2.9').ok).toBe(true);
  });

  it('caps failures per account across addresses, but never for an address the account logged in from', () => {
    const c = clock();
    const l = new LoginLimiter({ accountBudget: 20, accountWindowMs: 600_000 }, c.now);
    const home = l.begin('alice', '10.0.0.1');
    if (home.ok) home.settle(true);
    // 20 addresses × 10 guesses
    let checked = 0;
    for (let a = 0; a < 20; a++)
      for (let g = 0; g < 10; g++) {
        const t = l.begin('alice', `203.0.113.${a}`);
        if (t.ok) {
          checked++;
          t.settle(false);
        }
      }
    expect(checked).toBe(20);
    expect(l.begin('alice', '198.51.100.1')).toMatchObject({ ok: false, reason: 'account' });
    // the real user at home still gets in
    const real = l.begin('alice', '10.0.0.1');
    expect(real.ok).toBe(true);
    // and a new address after the window
    c.advance(600_000);
    expect(l.begin('alice', '198.51.100.1').ok).toBe(true);
  });

  it('stays bounded', () => {
    const l = new LoginLimiter({ maxEntries: 100, perAddressPerMinute: 1e9 });
    for (let i = 0; i < 5000; i++) l.begin(`u${i}`, `a${i}`);
    const sizes = l as unknown as { pairs: Map<string, unknown>; addresses: Map<string, unknown>; accounts: Map<string, unknown> };
    expect(sizes.pairs.size).toBeLessThanOrEqual(100);
    expect(sizes.addresses.size).toBeLessThanOrEqual(100);
    expect(sizes.accounts.size).toBeLessThanOrEqual(100);
  });
});

function reqFrom(peer: string, headers: Record<string, string> = {}): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: peer });
  return { socket, headers } as unknown as IncomingMessage;
}

describe('TrustedProxies', () => {
  it('validates addresses and ranges', () => {
    for (const ok of ['10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '0.0.0.0/0']) expect(isAddressOrCidr(ok)).toBe(true);
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'proxy.local', '10.0.0.1/8/1', '', '10.0.0.0/x']) expect(isAddressOrCidr(bad)).toBe(false);
  });

  it('believes X-Forwarded-For only from a trusted proxy, read right to left', () => {
    const none = new TrustedProxies([]);
    expect(none.clientAddress(reqFrom('10.0.0.5', { 'x-forwarded-for': '1.2.3.4' }))).toBe('10.0.0.5');
    const t = new TrustedProxies(['10.0.0.0/24', '::1']);
    expect(t.clientAddress(reqFrom('10.0.0.5', { 'x-forwarded-for': '198.51.100.2' }))).toBe('198.51.100.2');
    expect(t.clientAddress(reqFrom('::ffff:10.0.0.5', { 'x-forwarded-for': '198.51.100.2' }))).toBe('198.51.100.2');
    // a client-written first hop is not believed over what the proxy appended
    expect(t.clientAddress(reqFrom('10.0.0.5', { 'x-forwarded-for': '6.6.6.6, 198.51.100.3, 10.0.0.7' }))).toBe('198.51.100.3');
    expect(t.clientAddress(reqFrom('203.0.113.9', { 'x-forwarded-for': '198.51.100.2' }))).toBe('203.0.113.9');
    expect(t.clientAddress(reqFrom('10.0.0.5'))).toBe('10.0.0.5');
  });
});

describe('Sessions: logout revokes, limits answer 429', () => {
  let server: Server;
  let base: string;
  let auth: AuthConfig;
  let sessions: Sessions;

  beforeAll(async () => {
    auth = {
      enabled: true,
      users: parseUsers(`alice:operator:${await hashPassword('wonderland')}`),
      sessionSecret: 's'.repeat(40),
      sessionTtlSeconds: 3600,
      cookieSecure: false,
      trustedProxies: ['127.0.0.1'],
    };
    sessions = new Sessions(auth, { freeFailures: 3, baseDelayMs: 2500, maxDelayMs: 2500 });
    server = createServer(async (rq, rs) => {
      if (rq.url?.startsWith('/login')) {
        const u = new URL(rq.url, 'http://x');
        rs.end(JSON.stringify(await sessions.login(rq, rs, u.searchParams.get('u') ?? '', u.searchParams.get('p') ?? '')));
      } else if (rq.url === '/logout') {
        await sessions.logout(rq, rs);
        rs.end('{}');
      } else rs.end(JSON.stringify(await sessions.principal(rq)));
    });
    // One run in a dozen (load average ~15) failed a request with ECONNRESET: fetch reuses an idle socket for the
    // server's keep-alive hint less a second, and when the loaded event loop delays an answer by more than that second
    // the server's idle close can meet a reused socket. No idle close within the test's life.
    server.keepAliveTimeout = 120_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0];

  it('a cookie copied before logout no longer works after it; other sessions of the user do', async () => {
    const one = cookieOf(await fetch(`${base}/login?u=alice&p=wonderland`));
    const two = cookieOf(await fetch(`${base}/login?u=alice&p=wonderland`));
    const copy = one;
    expect(await (await fetch(`${base}/me`, { headers: { cookie: copy } })).json()).toMatchObject({ name: 'alice' });
    await fetch(`${base}/logout`, { headers: { cookie: one } });
    expect(await (await fetch(`${base}/me`, { headers: { cookie: copy } })).json()).toBeNull();
    expect(await (await fetch(`${base}/me`, { headers: { cookie: two } })).json()).toMatchObject({ name: 'alice' });
  });

  it('300 parallel wrong passwords: a handful are checked, the rest are refused as rate limited; the right one works after the back-off', async () => {
    // The back-off window is what this test measures, so the limiter Sessions asks runs on a clock the test
    // ticks (as LoginLimiter's own tests above do): on the real clock a loaded machine stretched the 300
    // requests past the 2.5 s back-off (8 guesses checked, at a load average of 14), and the test slept 2.6 s.
    const c = clock(Date.now());
    (sessions as unknown as { limiter: LoginLimiter }).limiter = new LoginLimiter({ freeFailures: 3, baseDelayMs: 2500, maxDelayMs: 2500 }, c.now);
    const from = { 'x-forwarded-for': '192.0.2.44' };
    const answers = await Promise.all(
      Array.from({ length: 300 }, () => fetch(`${base}/login?u=alice&p=guess`, { headers: from }).then((r) => r.json() as Promise<{ ok: boolean; reason: string }>)),
    );
    // the three free failures and the one that opens the back-off
    const checked = answers.filter((a) => a.reason === 'bad_credentials').length;
    expect(checked).toBe(4);
    expect(answers.filter((a) => a.reason === 'rate_limited').length).toBe(300 - checked);
    const login = async () => (await fetch(`${base}/login?u=alice&p=wonderland`, { headers: from })).json();
    // during the back-off even the right password waits, told how long
    expect(await login()).toMatchObject({ ok: false, reason: 'rate_limited', scope: 'backoff', retryAfterSeconds: 3 });
    // another client (its own address through the trusted proxy) is not locked out
    expect(await (await fetch(`${base}/login?u=alice&p=wonderland`, { headers: { 'x-forwarded-for': '192.0.2.45' } })).json()).toMatchObject({ ok: true });
    c.advance(2499);
    expect(await login()).toMatchObject({ ok: false, reason: 'rate_limited', scope: 'backoff', retryAfterSeconds: 1 });
    c.advance(1);
    expect(await login()).toMatchObject({ ok: true });
  });
});
