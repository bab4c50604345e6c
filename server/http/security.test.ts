/**
 * The API's security fixes end to end on the real composition root (memory
 * transport): logout ends a session for every copy of its cookie, wrong
 * passwords in parallel are throttled with 429 + Retry-After, and a fired
 * call's remote error reaches neither the caller nor the history (which
 * viewers read) with the secrets it quoted.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../auth/users.ts';
import { loadConfig } from '../config.ts';
import { startOsloscope, type RunningServer } from '../index.ts';
import { ExpectedFailure, MemoryBroker, RpcServer, Transport } from '../messaging/index.ts';
import { tempHistoryDatabase } from '../store/test-db.ts';

const silent = pino({ level: 'silent' });
const json = { 'content-type': 'application/json' };

describe('API security (access control on)', () => {
  let srv: RunningServer;
  let service: { stop(): Promise<void> };

  beforeAll(async () => {
    srv = await startOsloscope(
      loadConfig({
        PORT: '0',
        DEMO_FLEET: 'off',
        TAP_MODE: 'off',
        AUDIT_LOG: join(mkdtempSync(join(tmpdir(), 'osloscope-sec-')), 'audit.log'),
        HISTORY_DATABASE: tempHistoryDatabase(),
        AUTH_USERS: `ops:operator:${await hashPassword('ops-password')},watcher:viewer:${await hashPassword('watch-password')}`,
        SESSION_SECRET: 'k'.repeat(48),
        TRUSTED_PROXIES: '127.0.0.1,::1',
      }),
      { withoutPages: true, log: silent },
    );
    const t = new Transport('memory://', { memoryBroker: MemoryBroker.shared('/'), conf: { control_exchange: 'openstack' }, programName: 'nova-compute' });
    const s = new RpcServer(t, { topic: 'sec-test', server: 'host-1' }, [
      {
        // what nova does when set_admin_password fails: the message quotes what it was given
        set_admin_password: (_c: unknown, a: Record<string, unknown>) => {
          throw new ExpectedFailure('InstancePasswordSetFailed', 'nova.exception', `Failed to set admin password: new_pass=${String(a.new_pass)} Authorization: Bearer ${String(a.token)}`);
        },
      },
    ]);
    await s.start(0);
    service = {
      async stop() {
        await s.stop();
        await t.close();
      },
    };
  });
  afterAll(async () => {
    await service?.stop();
    await srv?.close();
  });

  const login = (username: string, password: string, from = '192.0.2.10') =>
    fetch(`${srv.url}/api/session`, { method: 'POST', headers: { ...json, 'x-forwarded-for': from }, body: JSON.stringify({ username, password }) });
  const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0];

  it('logout ends the session: a copy of the cookie taken before DELETE /api/session can no longer fire', async () => {
    const cookie = cookieOf(await login('ops', 'ops-password'));
    const copy = cookie;
    const cast = () =>
      fetch(`${srv.url}/api/rpc`, { method: 'POST', headers: { ...json, cookie: copy }, body: JSON.stringify({ type: 'cast', target: { topic: 'nobody' }, method: 'm' }) });
    expect((await cast()).status).toBe(200);
    expect((await fetch(`${srv.url}/api/session`, { method: 'DELETE', headers: { cookie } })).status).toBe(200);
    expect((await cast()).status).toBe(401);
    expect((await fetch(`${srv.url}/api/messages`, { headers: { cookie: copy } })).status).toBe(401);
  });

  it('a fired call\'s remote error is redacted for the caller and in /api/rpc/history, which viewers read', async () => {
    const ops = cookieOf(await login('ops', 'ops-password'));
    const res = await fetch(`${srv.url}/api/rpc`, {
      method: 'POST',
      headers: { ...json, cookie: ops },
      body: JSON.stringify({ target: { topic: 'sec-test' }, method: 'set_admin_password', args: { new_pass: 'NP-mark-1', token: 'TK-mark-2' }, context: { auth_token: 'AT-mark-3' } }),
    });
    expect(res.status).toBe(502);
    const body = await res.text();
    expect(body).toContain('InstancePasswordSetFailed');
    expect(body).not.toMatch(/mark-\d/);
    const viewer = cookieOf(await login('watcher', 'watch-password'));
    const history = await (await fetch(`${srv.url}/api/rpc/history`, { headers: { cookie: viewer } })).text();
    expect(history).toContain('set_admin_password');
    expect(history).toContain('InstancePasswordSetFailed: Failed to set admin password');
    expect(history).not.toMatch(/mark-\d/);
  });

  it('300 parallel wrong passwords: almost all get 429 with Retry-After; the real user elsewhere still logs in', async () => {
    const answers = await Promise.all(Array.from({ length: 300 }, () => login('ops', 'wrong', '203.0.113.7')));
    const statuses = answers.map((r) => r.status);
    const checked = statuses.filter((s) => s === 401).length;
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(8);
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBe(300 - checked);
    expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited[0].json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect((await login('ops', 'ops-password', '198.51.100.20')).status).toBe(200);
  });
});
