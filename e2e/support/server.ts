/**
 * Start the real osloscope server (server/index.ts) as a child process on a
 * fresh port, wait until it listens, and stop it by its pid afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

export interface ServerHandle {
  url: string;
  port: number;
  child: ChildProcess;
  /** everything the server wrote (pino JSON lines and stderr) */
  output(): string;
  auditLog: string;
  stop(): Promise<number | null>;
}

export async function startServer(env: Record<string, string> = {}, timeoutMs = 60_000, fixedPort?: number): Promise<ServerHandle> {
  const port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'osloscope-server-'));
  const auditLog = join(dir, 'audit.log');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'index.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      AUDIT_LOG: auditLog,
      // its own history, never the working copy's data/ (a later `npm start` would show the tests' calls)
      HISTORY_DATABASE: join(dir, 'history.sqlite'),
      // the test environment's variables must not leak into the server
      TRANSPORT_URL: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const onData = (b: Buffer) => {
    out += b.toString();
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`osloscope exited with ${child.exitCode} before listening:\n${out.slice(-4000)}`);
    if (out.includes('osloscope listening on') || (await healthy(url))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`osloscope did not listen within ${timeoutMs} ms:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    child,
    auditLog,
    output: () => out,
    stop: () =>
      new Promise((res) => {
        if (child.exitCode !== null) return res(child.exitCode);
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', (code) => {
          clearTimeout(t);
          res(code);
        });
        child.kill('SIGTERM');
      }),
  };
}
