/**
 * The CLI contract (README "Command line"): JSON on stdout, one line on
 * stderr, exit 0 ok, 2 usage, 3 remote error, 4 timeout, 5 cannot connect,
 * 6 refused by the broker — run as a user runs it, bin/osloscope against the
 * real broker.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TRANSPORT_URL, uniqueName } from '../support/brokers.ts';

const BIN = fileURLToPath(new URL('../../bin/osloscope', import.meta.url));
const DEAD = 'rabbit://guest:guest@127.0.0.1:1/';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 30_000, env: { ...process.env, TRANSPORT_URL: TEST_TRANSPORT_URL } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('bin/osloscope', () => {
  const exchange = uniqueName('cli');
  const topic = uniqueName('cli');
  let server: ChildProcess;

  beforeAll(async () => {
    server = spawn(BIN, ['serve', '--topic', topic, '--server', 's1', '--control-exchange', exchange], {
      env: { ...process.env, TRANSPORT_URL: TEST_TRANSPORT_URL },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('osloscope serve did not become ready')), 20_000);
      createInterface({ input: server.stdout! }).on('line', (line) => {
        if (line.includes('"ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });

  afterAll(() => {
    server?.kill('SIGTERM');
  });

  const common = ['--topic', topic, '--control-exchange', exchange];

  it('prints a call result as JSON and exits 0', async () => {
    const r = await run(['call', ...common, '--method', 'add', '--args', '{"a": 2, "b": 40}']);
    expect(r).toMatchObject({ code: 0, stdout: '42\n', stderr: '' });
  });

  it('exits 3 with one line for a remote error', async () => {
    const r = await run(['call', ...common, '--method', 'fail', '--args', '{"message": "boom"}']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('RemoteError: builtins.ValueError: boom\n');
  });

  it('prints no secret of a result or a remote error (stdout, stderr, --json, --traceback)', async () => {
    const echoed = await run(['call', ...common, '--method', 'echo', '--args', '{"value": {"adminPass": "s3cret-admin", "name": "vm1", "url": "rabbit://nova:s3cret-url@mq:5672/"}}']);
    expect(echoed.code).toBe(0);
    expect(JSON.parse(echoed.stdout)).toMatchObject({ name: 'vm1' });
    const failed = await run(['call', ...common, '--method', 'fail', '--args', '{"message": "login failed password=s3cret-text for nova"}', '--traceback']);
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(/^RemoteError: builtins\.ValueError: login failed password=\*\*\*/);
    const json = await run(['call', ...common, '--json', '--method', 'fail', '--args', '{"message": "token: s3cret-json"}', '--traceback']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stderr).error.code).toBe('remote_error');
    for (const out of [echoed.stdout, echoed.stderr, failed.stdout, failed.stderr, json.stdout, json.stderr]) expect(out).not.toMatch(/s3cret/);
  }, 120_000);

  it('exits 4 on a timeout', async () => {
    const r = await run(['call', '--topic', uniqueName('nobody'), '--control-exchange', exchange, '--method', 'x', '--timeout', '0.5']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^MessagingTimeout: Timed out waiting for a reply to message ID [0-9a-f]{32}\n$/);
  });

  it.each([
    ['call', ['--topic', 't', '--method', 'm']],
    ['cast', ['--topic', 't', '--method', 'm']],
    ['cast', ['--topic', 't', '--method', 'm', '--fanout']],
    ['notify', ['--publisher-id', 'p', '--event-type', 'a.b']],
  ])('%s exits 5 at once when the broker cannot be reached', async (command, args) => {
    const started = Date.now();
    const r = await run([command, ...args, '--url', DEAD]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^Cannot connect: .*127\.0\.0\.1:1/);
    expect(r.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it.each([
    ['call', ['--method', 'm', '--timeout', '5']],
    ['cast', ['--method', 'm']],
  ])('%s exits 6 with the broker text when the broker refuses it', async (command, args) => {
    const started = Date.now();
    const r = await run([command, '--topic', 't', '--control-exchange', 'amq.rabbitmq.trace', ...args]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^Refused by the broker \(403\): basic\.publish amq\.rabbitmq\.trace\/t: ACCESS_REFUSED - cannot publish to internal exchange 'amq\.rabbitmq\.trace' in vhost '[^']*'\n$/);
    expect(r.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('exits 6 at once when the broker refuses the login', async () => {
    const r = await run(['call', '--topic', 't', '--method', 'm', '--url', TEST_TRANSPORT_URL.replace(/\/\/([^:@/]+):([^@/]*)@/, '//$1:wrong-password@')]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^Refused by the broker \(403\): .*ACCESS_REFUSED - Login was refused/);
  });

  it('exits 2 on bad usage', async () => {
    expect((await run(['call', '--topic', 't'])).code).toBe(2);
    expect((await run(['call', ...common, '--method', 'm', '--args', '{bad'])).code).toBe(2);
    expect((await run(['nosuch'])).code).toBe(2);
  });
});
