/**
 * `--config-file` on the real CLI against the real broker: an operator points
 * osloscope at the nova.conf / neutron.conf their services use, and the
 * command connects where the file says, with the file's control_exchange and
 * notification topics; flags and environment still win; a broken file is one
 * line naming file and line, exit 2, and no password anywhere.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TRANSPORT_URL, uniqueName } from '../support/brokers.ts';

const BIN = fileURLToPath(new URL('../../bin/osloscope', import.meta.url));
const DEAD = 'rabbit://guest:guest@127.0.0.1:1/';
const dir = mkdtempSync(join(tmpdir(), 'osloscope-cli-conf-'));
const password = new URL(TEST_TRANSPORT_URL.replace(/^rabbit:/, 'http:')).password;

/** The environment without the variables that would win over the files. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { TRANSPORT_URL: _u, CONTROL_EXCHANGE: _c, ...rest } = process.env;
  return { ...rest, ...extra };
}

function conf(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function run(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 30_000, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('osloscope --config-file', () => {
  const exchange = uniqueName('conf');
  const topic = uniqueName('conf');
  let server: ChildProcess;
  let novaConf: string;

  beforeAll(async () => {
    // what kolla-ansible renders, pointed at the test broker
    novaConf = conf(
      'nova.conf',
      `[DEFAULT]
debug = False
my_ip = 127.0.0.1
transport_url = ${TEST_TRANSPORT_URL}
control_exchange = ${exchange}
rpc_response_timeout = 30

[oslo_messaging_notifications]
driver = messagingv2
topics = ${topic}_notif

[oslo_messaging_rabbit]
heartbeat_in_pthread = false
rabbit_quorum_queues = true
`,
    );
    server = spawn(BIN, ['serve', '--topic', topic, '--server', 's1', '--config-file', novaConf], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('osloscope serve --config-file did not become ready')), 20_000);
      createInterface({ input: server.stdout! }).on('line', (line) => {
        if (line.includes('"ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.on('exit', (code) => reject(new Error(`osloscope serve exited ${code}`)));
    });
  });

  afterAll(() => {
    server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it("calls through the file's transport_url and control_exchange, and notes ignored typos", async () => {
    const r = await run(['call', '--config-file', novaConf, '--topic', topic, '--method', 'add', '--args', '{"a": 2, "b": 40}']);
    expect(r.stdout).toBe('42\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('[oslo_messaging_rabbit] rabbit_quorum_queues is not an oslo.messaging option and is ignored');
    expect(r.stderr).toContain('did you mean rabbit_quorum_queue?');
    expect(r.stderr).toContain('heartbeat_in_pthread was removed in oslo.messaging 18.0.0');
    if (password) expect(r.stderr).not.toContain(password);
  });

  it('lets a later file override an earlier one, and flags and environment override files', async () => {
    const dead = conf('dead.conf', `[DEFAULT]\ntransport_url = ${DEAD}\ncontrol_exchange = nowhere\n`);
    // nova.conf after dead.conf wins
    expect((await run(['call', '--config-file', dead, '--config-file', novaConf, '--topic', topic, '--method', 'echo', '--args', '{"value": 1}'])).stdout).toBe('1\n');
    // the environment wins over the file's dead URL, the flag over its exchange
    const r = await run(['call', '--config-file', dead, '--control-exchange', exchange, '--topic', topic, '--method', 'echo', '--args', '{"value": 2}'], cleanEnv({ TRANSPORT_URL: TEST_TRANSPORT_URL }));
    expect(r).toMatchObject({ code: 0, stdout: '2\n' });
    // dead.conf last: its URL is used and cannot connect
    const last = await run(['call', '--config-file', novaConf, '--config-file', dead, '--topic', topic, '--method', 'echo', '--args', '{}', '--timeout', '5']);
    expect(last.code).toBe(5);
  });

  it("sends a notification to the file's [oslo_messaging_notifications] topics", async () => {
    const r = await run(['notify', '--config-file', novaConf, '--publisher-id', 'compute.h1', '--event-type', 'test.event', '--payload', '{}']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { exchange: string; routing_keys: string[] };
    expect(out.exchange).toBe(exchange);
    expect(out.routing_keys).toEqual([`${topic}_notif.info`]);
  });

  it('refuses a broken file with one line naming file and line, exit 2, no password', async () => {
    const broken = conf('broken.conf', `[DEFAULT]\ntransport_url = rabbit://nova:Sup3rS3cret@ctl:5672/\n[oslo_messaging_rabbit]\nrabbit_qos_prefetch_count = many\n`);
    const r = await run(['cast', '--config-file', broken, '--topic', topic, '--method', 'echo']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`osloscope: ${broken}:4: [oslo_messaging_rabbit] rabbit_qos_prefetch_count has an invalid value: invalid literal for int() with base 10: 'many'\n`);
    const missing = await run(['call', '--config-file', join(dir, 'nope.conf'), '--topic', topic, '--method', 'echo']);
    expect(missing).toMatchObject({ code: 2, stderr: `osloscope: ${join(dir, 'nope.conf')}: cannot read the configuration file: no such file or directory\n` });
    const secretBad = conf('secret-bad.conf', `[DEFAULT]\ntransport_url = rabbit://nova:Sup3rS3cret@ctl:notaport/\n`);
    const s = await run(['call', '--config-file', secretBad, '--topic', topic, '--method', 'echo']);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain(`${secretBad}:2`);
    expect(s.stderr).not.toContain('Sup3rS3cret');
  });

  it.each(['call', 'cast', 'notify', 'serve', 'tap', 'demo', 'bench'])('documents --config-file and the precedence in `%s --help`', async (command) => {
    const r = await run([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--config-file PATH');
    expect(r.stdout).toContain('--config-dir DIR');
    expect(r.stdout).toMatch(/precedence|take precedence|later files win/);
  });

  it('accepts --config-file on tap and demo and names a broken file', async () => {
    const broken = conf('broken2.conf', '[DEFAULT]\n  indented\n');
    const tap = await run(['tap', '--config-file', broken, '--count', '1']);
    expect(tap.code).toBe(2);
    expect(tap.stderr).toContain(`${broken}:2: Unexpected continuation line`);
    const demo = await run(['demo', '--config-file', broken, '--seconds', '1']);
    expect(demo.code).toBe(2);
    expect(demo.stderr).toContain(`${broken}:2: Unexpected continuation line`);
  });
});
