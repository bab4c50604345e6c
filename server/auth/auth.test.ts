import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLoopbackHost, checkSameOrigin, permits } from './access.ts';
import { LOCAL_PRINCIPAL, parseCookies, Sessions, SESSION_COOKIE } from './session.ts';
import { hashPassword, parseUsers, verifyPassword } from './users.ts';
import type { AuthConfig } from '../config.ts';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('users', () => {
  it('hashes with scrypt and verifies in constant time', async () => {
    const h = await hashPassword('correct horse');
    expect(h).toMatch(/^scrypt\$[\w-]+\$[\w-]+$/);
    expect(h).not.toContain('correct');
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct hors', h)).toBe(false);
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
    expect(await hashPassword('correct horse')).not.toBe(h); // salted
  });

  it('parses AUTH_USERS and says what is wrong', async () => {
    const h = await hashPassword('pw');
    expect(parseUsers(` alice:operator:${h} , bob:viewer:${h}`)).toEqual([
      { name: 'alice', role: 'operator', hash: h },
      { name: 'bob', role: 'viewer', hash: h },
    ]);
    expect(() => parseUsers('alice:operator')).toThrow(/entry 1 \(alice\): expected name:role:hash/);
    expect(() => parseUsers(`alice:root:${h}`)).toThrow(/role must be viewer or operator/);
    expect(() => parseUsers(`alice:viewer:${h},alice:operator:${h}`)).toThrow(/listed twice/);
    expect(() => parseUsers('alice:viewer:secret')).toThrow(/scrypt hash/);
    expect(() => parseUsers(' , ')).toThrow(/at least one/);
  });
});

describe('permits', () => {
  const op = { name: 'a', role: 'operator' as const };
  const viewer = { name: 'b', role: 'viewer' as const };
  it('lets viewers watch and operators fire, unless read-only', () => {
    expect(permits(null, 'watch', false)).toMatchObject({ ok: false, status: 401, code: 'unauthenticated' });
    expect(permits(viewer, 'watch', false).ok).toBe(true);
    expect(permits(viewer, 'fire', false)).toMatchObject({ ok: false, status: 403, code: 'forbidden' });
    expect(permits(op, 'fire', false).ok).toBe(true);
    expect(permits(op, 'fire', true)).toMatchObject({ ok: false, status: 403, code: 'read_only' });
    expect(permits(op, 'watch', true).ok).toBe(true);
  });
});

describe('request checks', () => {
  it('accepts same-origin and non-browser requests, refuses cross-site ones', () => {
    expect(checkSameOrigin(req({ host: '127.0.0.1:3000', origin: 'http://127.0.0.1:3000' }), []).ok).toBe(true);
    expect(checkSameOrigin(req({ host: '127.0.0.1:3000' }), []).ok).toBe(true); // curl
    expect(checkSameOrigin(req({ host: '127.0.0.1:3000', 'sec-fetch-site': 'same-origin' }), []).ok).toBe(true);
    expect(checkSameOrigin(req({ host: '127.0.0.1:3000', origin: 'http://evil.example' }), [])).toMatchObject({ ok: false, code: 'cross_origin' });
    expect(checkSameOrigin(req({ host: '127.0.0.1:3000', 'sec-fetch-site': 'cross-site' }), [])).toMatchObject({ ok: false, code: 'cross_origin' });
    expect(checkSameOrigin(req({ host: 'internal:3000', origin: 'https://scope.example.com' }), ['https://scope.example.com']).ok).toBe(true);
  });

  it('answers only loopback Host names without access control (DNS rebinding)', () => {
    for (const host of ['127.0.0.1:3000', 'localhost:3000', '[::1]:3000', 'localhost']) expect(checkLoopbackHost(req({ host }), []).ok).toBe(true);
    expect(checkLoopbackHost(req({ host: 'attacker.example:3000' }), [])).toMatchObject({ ok: false, code: 'bad_host' });
    expect(checkLoopbackHost(req({}), []).ok).toBe(false);
    expect(checkLoopbackHost(req({ host: 'scope.example.com' }), ['https://scope.example.com']).ok).toBe(true);
  });

  it('parses cookies', () => {
    expect(parseCookies('a=1; b="two"; c=%20x; a=3')).toEqual(new Map([['a', '1'], ['b', 'two'], ['c', ' x']]));
    expect(parseCookies(undefined).size).toBe(0);
  });
});

describe('Sessions', () => {
  let server: Server;
  let base: string;
  let auth: AuthConfig;
  let sessions: Sessions;

  beforeAll(async () => {
    auth = {
      enabled: true,
      users: parseUsers(`alice:operator:${await hashPassword('wonderland')},bob:viewer:${await hashPassword('builder')}`),
      sessionSecret: 's'.repeat(40),
      sessionTtlSeconds: 3600,
      cookieSecure: false,
    };
    sessions = new Sessions(auth);
    server = createServer(async (rq, rs) => {
      if (rq.url?.startsWith('/login')) {
        const u = new URL(rq.url, 'http://x');
        const out = await sessions.login(rq, rs, u.searchParams.get('u') ?? '', u.searchParams.get('p') ?? '');
        rs.end(JSON.stringify(out.ok ? out.principal : null));
      } else if (rq.url === '/logout') {
        await sessions.logout(rq, rs);
        rs.end('{}');
      } else rs.end(JSON.stringify(await sessions.principal(rq)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('logs in with a sealed, httpOnly, SameSite=Strict cookie that names the user', async () => {
    const res = await fetch(`${base}/login?u=alice&p=wonderland`);
    expect(await res.json()).toEqual({ name: 'alice', role: 'operator' });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain('alice');
    const value = cookie.split(';')[0];
    expect(await (await fetch(`${base}/me`, { headers: { cookie: value } })).json()).toEqual({ name: 'alice', role: 'operator' });
  });

  it('names only configured users in logs (a password typed into the name field is not logged)', () => {
    expect(sessions.loggableName('alice')).toBe('alice');
    expect(sessions.loggableName('wonderland')).toBe('(unknown user)');
    expect(sessions.loggableName('')).toBe('(unknown user)');
  });

  it('refuses wrong passwords, unknown users, tampered and foreign cookies', async () => {
    expect(await (await fetch(`${base}/login?u=alice&p=nope`)).json()).toBeNull();
    expect(await (await fetch(`${base}/login?u=mallory&p=wonderland`)).json()).toBeNull();
    const cookie = ((await fetch(`${base}/login?u=bob&p=builder`)).headers.get('set-cookie') ?? '').split(';')[0];
    const tampered = cookie.slice(0, -4) + (cookie.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(await (await fetch(`${base}/me`, { headers: { cookie: tampered } })).json()).toBeNull();
    expect(await (await fetch(`${base}/me`)).json()).toBeNull();
    // a cookie sealed with another secret means nothing here
    const other = new Sessions({ ...auth, sessionSecret: 'o'.repeat(40) });
    expect(await other.principal(req({ cookie }))).toBeNull();
    // the role comes from the configuration, and a removed user loses access
    const demoted = new Sessions({ ...auth, users: auth.users.filter((u) => u.name !== 'bob') });
    expect(await demoted.principal(req({ cookie }))).toBeNull();
  });

  it('is the local operator when access control is off', async () => {
    const off = new Sessions({ ...auth, enabled: false });
    expect(await off.principal(req({}))).toBe(LOCAL_PRINCIPAL);
  });
});
