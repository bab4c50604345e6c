/**
 * BASE_PATH on the real composition root (memory transport, pages off): the
 * API and socket.io answer under the prefix only, `/` points at it, and the
 * session cookie is scoped to it. The pages under the prefix (Next's
 * basePath) and a real proxy in front are e2e/nginx.spec.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../auth/users.ts';
import { ConfigError } from '../messaging/index.ts';
import { loadConfig } from '../config.ts';
import { startOsloscope, type RunningServer } from '../index.ts';
import { tempHistoryDatabase } from '../store/test-db.ts';

const silent = pino({ level: 'silent' });

describe('BASE_PATH configuration', () => {
  it('accepts a sub-path and scopes the session cookie to it', () => {
    const c = loadConfig({ BASE_PATH: '/osloscope', DEMO_FLEET: 'off' });
    expect(c.basePath).toBe('/osloscope');
    expect(c.auth.cookiePath).toBe('/osloscope');
    expect(loadConfig({ BASE_PATH: '/ops/osloscope', DEMO_FLEET: 'off' }).basePath).toBe('/ops/osloscope');
    expect(loadConfig({ DEMO_FLEET: 'off' }).basePath).toBe('');
    expect(loadConfig({ DEMO_FLEET: 'off' }).auth.cookiePath).toBe('/');
  });

  it.each(['osloscope', '/osloscope/', '/', '/a b', '/x?y', '//x'])('refuses %j naming the variable', (v) => {
    expect(() => loadConfig({ BASE_PATH: v, DEMO_FLEET: 'off' })).toThrow(ConfigError);
    expect(() => loadConfig({ BASE_PATH: v, DEMO_FLEET: 'off' })).toThrow(/BASE_PATH/);
  });
});

describe('served under BASE_PATH=/osloscope', () => {
  let srv: RunningServer;

  beforeAll(async () => {
    srv = await startOsloscope(
      loadConfig({
        PORT: '0',
        DEMO_FLEET: 'off',
        BASE_PATH: '/osloscope',
        AUDIT_LOG: join(mkdtempSync(join(tmpdir(), 'osloscope-base-')), 'audit.log'),
        HISTORY_DATABASE: tempHistoryDatabase(),
        AUTH_USERS: `ops:operator:${await hashPassword('ops-password')}`,
        SESSION_SECRET: 'b'.repeat(40),
      }),
      { withoutPages: true, log: silent },
    );
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('answers the API under the prefix only', async () => {
    const ok = await fetch(`${srv.url}/osloscope/api/health`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { ok: boolean }).ok).toBe(true);
    const outside = await fetch(`${srv.url}/api/health`);
    expect(outside.status).toBe(404);
    expect(((await outside.json()) as { error: { message: string } }).error.message).toMatch(/served under \/osloscope \(BASE_PATH\)/);
    // a path that merely starts with the prefix's letters is outside it
    expect((await fetch(`${srv.url}/osloscopeX/api/health`)).status).toBe(404);
    const root = await fetch(`${srv.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/osloscope');
  });

  it('scopes the session cookie to the prefix and accepts it under it', async () => {
    const login = await fetch(`${srv.url}/osloscope/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ops', password: 'ops-password' }),
    });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/;\s*Path=\/osloscope(;|$)/i);
    const cookie = setCookie.split(';')[0];
    const status = await fetch(`${srv.url}/osloscope/api/status`, { headers: { cookie } });
    expect(status.status).toBe(200);
    expect((await fetch(`${srv.url}/osloscope/api/status`)).status).toBe(401);
  });

  it('serves socket.io at <prefix>/socket.io, not at /socket.io', async () => {
    const login = await fetch(`${srv.url}/osloscope/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ops', password: 'ops-password' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const connect = (path: string) =>
      new Promise<string>((resolve) => {
        const s = io(srv.url, { path, transports: ['websocket'], extraHeaders: { cookie }, reconnection: false, timeout: 5000 });
        s.on('connect', () => {
          s.close();
          resolve('connected');
        });
        s.on('connect_error', (err) => {
          s.close();
          resolve(`error: ${err.message}`);
        });
      });
    expect(await connect('/osloscope/socket.io')).toBe('connected');
    expect(await connect('/socket.io')).toMatch(/^error/);
  });
});
