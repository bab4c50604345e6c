/**
 * `npx osloscope` from the packed package: `npm pack`, the tarball laid out
 * in an empty folder as `npm install <tarball>` lays it out
 * (node_modules/osloscope, node_modules/.bin/osloscope), then
 * `npx osloscope --help` and a call to an RPC server on the real broker.
 *
 * The package's dependencies are linked from this checkout's node_modules
 * rather than installed: npm's cache holds the tarballs `npm ci` used but not
 * the registry metadata `npm install` asks for, and fetching it takes minutes.
 * So the test proves what the tarball holds and that its bin runs from
 * another folder with its dependencies hoisted beside it (tsx included), not
 * npm's resolver.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcServer, Transport } from '../../server/messaging/index.ts';
import { brokerAvailable } from '../interop/python-peer.ts';
import { TEST_TRANSPORT_URL, uniqueName } from '../support/brokers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const hasBroker = await brokerAvailable();
if (!hasBroker && process.env.CI) throw new Error('RabbitMQ is required for the packed-package test in CI');
if (!hasBroker) console.warn('SKIPPED packed package test: no RabbitMQ');
const d = hasBroker ? describe : describe.skip;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: 90_000, env: { ...process.env, npm_config_update_notifier: 'false', ...env } }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

d('the packed package (npx osloscope)', () => {
  let dir: string;
  let app: string;
  let files: string[] = [];
  let server: RpcServer;
  let transport: Transport;
  const topic = uniqueName('npx');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osloscope-pack-'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], ROOT);
    expect(packed.code, packed.stderr).toBe(0);
    const info = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    files = info[0].files.map((f) => f.path);
    app = join(dir, 'app');
    const modules = join(app, 'node_modules');
    mkdirSync(modules, { recursive: true });
    const untar = await run('tar', ['-xzf', join(dir, info[0].filename), '-C', modules], dir);
    expect(untar.code, untar.stderr).toBe(0);
    renameSync(join(modules, 'package'), join(modules, 'osloscope'));
    // the dependencies npm would hoist beside it
    const pkg = JSON.parse(readFileSync(join(modules, 'osloscope', 'package.json'), 'utf8')) as { dependencies: Record<string, string>; bin: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) {
      const target = join(ROOT, 'node_modules', dep);
      const link = join(modules, dep);
      mkdirSync(join(link, '..'), { recursive: true });
      symlinkSync(target, link);
    }
    mkdirSync(join(modules, '.bin'));
    for (const [name, path] of Object.entries(pkg.bin)) symlinkSync(join('..', 'osloscope', path), join(modules, '.bin', name));
    transport = new Transport(TEST_TRANSPORT_URL, { programName: 'npx-test-server' });
    server = new RpcServer(transport, { topic, server: 'h1' }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.value }]);
    await server.start(0);
  }, 120_000);

  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    await transport?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('packs the CLI and its sources, not the tests', () => {
    expect(files).toEqual(expect.arrayContaining(['bin/osloscope', 'bin/osloscope.ts', 'bin/register-tsx.mjs', 'bin/commands/ping.ts', 'server/messaging/index.ts', 'bin/commands/tap.ts', 'lib/tap-contracts.ts', 'package.json']));
    expect(files.filter((f) => f.endsWith('.test.ts') || f.startsWith('test/') || f.startsWith('e2e/'))).toEqual([]);
    expect(readdirSync(join(app, 'node_modules', '.bin'))).toContain('osloscope');
  });

  it('npx osloscope --help runs from an empty folder', async () => {
    const r = await run('npx', ['--no-install', 'osloscope', '--help'], app);
    expect(r.stdout).toMatch(/^osloscope — watch and drive oslo\.messaging RPC traffic/);
    expect(r.stdout).toMatch(/^ {2}ping /m);
    expect(r.code).toBe(0);
  }, 90_000);

  it('npx osloscope call reaches an RPC server through the broker', async () => {
    const r = await run('npx', ['--no-install', 'osloscope', 'call', '--topic', topic, '--method', 'echo', '--args', '{"value": {"n": 7}}', '--timeout', '30'], app, { TRANSPORT_URL: TEST_TRANSPORT_URL });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ n: 7 });
    expect(r.code).toBe(0);
  }, 90_000);
});
