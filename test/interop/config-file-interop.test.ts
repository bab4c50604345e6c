/**
 * One configuration file, two readers: a real Python oslo.messaging peer
 * configured only by an oslo.config file (`peers/conf_peer.py`) and
 * osloscope given the same file with `--config-file`, in both directions on
 * the real broker. The file carries the broker (TEST_TRANSPORT_URL), a
 * control_exchange of its own and TEST_PEER_LAYOUT's [oslo_messaging_rabbit]
 * options (kolla's Q+T+S+M on the sid stack), so both sides must read the
 * same exchange, queue layout and prefetch from it to meet.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { assertLayoutSupported, layoutConf, PEER_LAYOUT, PYTHON, pythonOsloVersion, RABBIT_URL } from './python-peer.ts';
import { uniqueName } from '../support/brokers.ts';

const BIN = fileURLToPath(new URL('../../bin/osloscope', import.meta.url));
const PEER = fileURLToPath(new URL('./peers/conf_peer.py', import.meta.url));

const available = pythonOsloVersion() !== null;
if (!available) {
  const why = `${PYTHON} cannot import oslo_messaging`;
  if (process.env.CI) throw new Error(why);
  console.warn(`\n*** SKIPPING config file interop test: ${why} ***\n`);
}

/** The layout's `--conf group.name=value` overrides written as an oslo.config file. */
function layoutIni(): string {
  const groups = new Map<string, string[]>();
  const conf = layoutConf();
  for (let i = 1; i < conf.length; i += 2) {
    const [key, value] = [conf[i].slice(0, conf[i].indexOf('=')), conf[i].slice(conf[i].indexOf('=') + 1)];
    const dot = key.indexOf('.');
    const group = key.slice(0, dot);
    groups.set(group, [...(groups.get(group) ?? []), `${key.slice(dot + 1)} = ${value}`]);
  }
  return [...groups].map(([g, lines]) => `[${g}]\n${lines.join('\n')}\n`).join('\n');
}

function env(): NodeJS.ProcessEnv {
  const { TRANSPORT_URL: _u, CONTROL_EXCHANGE: _c, ...rest } = process.env;
  return rest;
}

/** Start a long-running process and wait for its `ready` line on stdout. */
function startReady(cmd: string, args: string[], what: string): Promise<ChildProcess> {
  const child = spawn(cmd, args, { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not become ready: ${stderr}`)), 40_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"ready"')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`${what} exited ${code}: ${stderr}`)));
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, env: env() }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!available)(`one oslo.config file read by Python oslo.messaging and osloscope (layout ${PEER_LAYOUT})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'osloscope-conf-interop-'));
  const file = join(dir, 'nova.conf');
  const children: ChildProcess[] = [];

  beforeAll(() => {
    assertLayoutSupported();
    writeFileSync(
      file,
      `# written like a service's nova.conf\n[DEFAULT]\ntransport_url = ${RABBIT_URL}\ncontrol_exchange = ${uniqueName('confx')}\n\n${layoutIni()}`,
    );
  });

  afterAll(() => {
    for (const c of children) {
      c.stdin?.end();
      c.kill('SIGTERM');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('Python calls osloscope serve --config-file', async () => {
    const topic = uniqueName('conf-osc');
    children.push(await startReady(BIN, ['serve', '--config-file', file, '--topic', topic, '--server', 's1'], 'osloscope serve'));
    const r = await run(PYTHON, [PEER, 'call', file, topic]);
    expect(r.stdout.trim().split('\n').pop(), r.stderr.slice(-2000)).toBe('42');
  });

  it('osloscope call --config-file calls a Python server', async () => {
    const topic = uniqueName('conf-py');
    children.push(await startReady(PYTHON, [PEER, 'serve', file, topic, 'py1'], 'Python conf_peer serve'));
    const r = await run(BIN, ['call', '--config-file', file, '--topic', topic, '--method', 'add', '--args', '{"a": 2, "b": 40}', '--timeout', '30']);
    expect(r.stdout, r.stderr).toBe('42\n');
    expect(r.code).toBe(0);
  });
});
