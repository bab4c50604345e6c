/**
 * osloscope under a sub-path behind a real nginx (Debian's package), with the
 * example configuration deploy/nginx/osloscope.conf: BASE_PATH=/osloscope,
 * login and its redirects, the session cookie's path, live data over the
 * socket.io WebSocket through the proxy, a call fired from the Console, and
 * the client address the audit log records from X-Forwarded-For
 * (TRUSTED_PROXIES). nginx runs as our own non-daemon child on a loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../server/auth/users.ts';
import { launchBrowser, type LaunchedBrowser } from './support/browser.ts';
import { freePort, ROOT, startServer, type ServerHandle } from './support/server.ts';
import { BUILD_TIMEOUT_MS, buildOnce, until, waitLive } from './support/setup.ts';

const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const BASE = '/osloscope';
const ready = existsSync(NGINX);
if (!ready) console.warn('[e2e] SKIPPED nginx.spec.ts: nginx is missing (apt-get install nginx; npm test installs it)');

/** The example configuration, pointed at our ports, with what a foreground nginx in a scratch prefix needs. */
export function nginxConfig(example: string, o: { listen: number; upstream: number; prefix: string; root: boolean }): string {
  const site = example
    .replace(/server 127\.0\.0\.1:3000;/, `server 127.0.0.1:${o.upstream};`)
    .replace(/listen 443 ssl;/, `listen 127.0.0.1:${o.listen};`)
    .replace(/server_name [^;]+;/, 'server_name 127.0.0.1;');
  if (site.includes(':3000;') || site.includes('listen 443')) throw new Error('deploy/nginx/osloscope.conf changed shape: update nginxConfig()');
  return [
    o.root ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${o.prefix}/nginx.pid;`,
    `error_log ${o.prefix}/error.log info;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${o.prefix}/access.log;`,
    `  client_body_temp_path ${o.prefix}/body;`,
    `  proxy_temp_path ${o.prefix}/proxy;`,
    `  fastcgi_temp_path ${o.prefix}/fastcgi;`,
    `  uwsgi_temp_path ${o.prefix}/uwsgi;`,
    `  scgi_temp_path ${o.prefix}/scgi;`,
    site,
    '}',
  ].join('\n');
}

describe.skipIf(!ready && !process.env.CI)('behind nginx under BASE_PATH=/osloscope', () => {
  let osloscope: ServerHandle;
  let browser: LaunchedBrowser;
  let nginx: ChildProcess;
  let nginxLog = '';
  let prefix = '';
  let proxy = '';

  beforeAll(async () => {
    await buildOnce(BASE);
    const users = `ada:operator:${await hashPassword('ada-password')}`;
    [osloscope, browser] = await Promise.all([
      startServer({ BASE_PATH: BASE, AUTH_USERS: users, SESSION_SECRET: 'nginx-e2e-'.repeat(4), TRUSTED_PROXIES: '127.0.0.1' }),
      launchBrowser({ width: 1280, height: 800 }),
    ]);
    prefix = mkdtempSync(join(tmpdir(), 'osloscope-nginx-'));
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, d));
    const port = await freePort();
    const conf = nginxConfig(readFileSync(join(ROOT, 'deploy', 'nginx', 'osloscope.conf'), 'utf8'), {
      listen: port,
      upstream: osloscope.port,
      prefix,
      root: process.getuid?.() === 0,
    });
    writeFileSync(join(prefix, 'nginx.conf'), conf);
    nginx = spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stdout?.on('data', (b: Buffer) => (nginxLog += b.toString()));
    nginx.stderr?.on('data', (b: Buffer) => (nginxLog += b.toString()));
    proxy = `http://127.0.0.1:${port}`;
    await until(
      async () => {
        if (nginx.exitCode !== null) throw new Error(`nginx exited ${nginx.exitCode}: ${nginxLog}`);
        return (await fetch(`${proxy}${BASE}/api/health`, { signal: AbortSignal.timeout(1000) })).status;
      },
      (s) => s === 200,
      'nginx to proxy /osloscope/api/health',
      20_000,
    );
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    if (nginx && nginx.exitCode === null) {
      const gone = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGQUIT');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (nginx.exitCode === null) nginx.kill('SIGKILL');
    }
    await osloscope?.stop();
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  it('answers only under the sub-path and redirects pages to its login', async () => {
    const direct = await fetch(`${osloscope.url}/api/health`);
    expect(direct.status).toBe(404);
    expect((await direct.json()) as unknown).toMatchObject({ ok: false, error: { message: expect.stringContaining('/osloscope') } });
    const page = await fetch(`${proxy}${BASE}/broker`, { redirect: 'manual' });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe(`${BASE}/login?next=${encodeURIComponent(`${BASE}/broker`)}`);
    const bare = await fetch(`${proxy}${BASE}`, { redirect: 'manual' });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe(`${BASE}/login?next=${encodeURIComponent(BASE)}`);
    const root = await fetch(`${osloscope.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe(BASE);
    const icon = await fetch(`${proxy}${BASE}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toMatch(/icon/);
  });

  it('logs in, sees live data over the proxied socket and fires a call; the audit log names the forwarded client', async () => {
    const page = await browser.context.newPage();
    // a client address nginx appends its own hop to; osloscope trusts 127.0.0.1 (TRUSTED_PROXIES)
    await page.setExtraHTTPHeaders({ 'x-forwarded-for': '198.51.100.7' });
    await page.goto(`${proxy}${BASE}/live`);
    await page.getByTestId('login-form').waitFor();
    expect(new URL(page.url()).pathname).toBe(`${BASE}/login`);
    await page.getByTestId('login-user').fill('ada');
    await page.getByTestId('login-password').fill('ada-password');
    await page.getByTestId('login-submit').click();
    await until(
      async () => ({ url: page.url(), error: await page.getByTestId('login-error').innerText({ timeout: 100 }).catch(() => '') }),
      (v) => v.url === `${proxy}${BASE}/live` || v.error !== '',
      'the login to land on /osloscope/live',
      30_000,
    ).then((v) => expect(v).toEqual({ url: `${proxy}${BASE}/live`, error: '' }));
    const cookie = (await browser.context.cookies(`${proxy}${BASE}/live`)).find((c) => c.name.startsWith('osloscope'));
    expect(cookie?.path).toBe(BASE);
    await waitLive(page, 30_000);
    // the demo fleet's traffic arrives over the WebSocket through nginx
    await page.getByTestId('message-row').first().waitFor({ timeout: 30_000 });
    const ws = nginxAccess(prefix).filter((l) => l.includes(`${BASE}/socket.io/`) && l.includes('transport=websocket') && / 101 /.test(l));
    expect(ws.length).toBeGreaterThan(0);

    // client-side navigation keeps the prefix
    await page.getByTestId('nav-console').click();
    await page.waitForURL(`${proxy}${BASE}/console`);
    await page.getByTestId('console-page').waitFor();
    await page.getByTestId('field-exchange').fill('nova');
    await page.getByTestId('field-topic').fill('conductor');
    await page.getByTestId('field-version').fill('3.0');
    await page.getByTestId('field-method').fill('ping');
    await page.getByTestId('field-args').fill('{"arg": "through nginx"}');
    await until(() => page.getByTestId('fire-submit').isEnabled(), (v) => v, 'the fire button');
    await page.getByTestId('fire-submit').click();
    await page.getByTestId('result-ok').waitFor({ timeout: 15_000 });
    expect(JSON.parse(await page.getByTestId('result-value').innerText())).toMatchObject({ arg: 'through nginx' });
    const audit = await until(
      () => Promise.resolve(readFileSync(osloscope.auditLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { method: string; remote: string | null })),
      (rows) => rows.some((r) => r.method === 'ping'),
      'the audit line',
    );
    expect(audit.find((r) => r.method === 'ping')?.remote).toBe('198.51.100.7');

    // logging out lands on the prefixed login page
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${proxy}${BASE}/login`);
    await page.close();
  }, 120_000);
});

function nginxAccess(prefix: string): string[] {
  try {
    return readFileSync(join(prefix, 'access.log'), 'utf8').split('\n');
  } catch {
    return [];
  }
}
