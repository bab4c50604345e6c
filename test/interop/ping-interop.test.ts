/**
 * `osloscope ping` against real Python oslo.messaging RPC servers: two with
 * rpc_ping_enabled = True and one without, on one topic. The CLI finds them
 * from the broker's `<topic>.<server>` queues (management API), all answer
 * (the one without ping with NoSuchMethod: alive), exit 0; then one server
 * stops and ping names it as not answering, exit 3.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetPing } from '../../server/tap/ping.ts';
import { ManagementInspector } from '../../server/tap/inspector.ts';
import { managementAvailable, TEST_MANAGEMENT_URL, waitFor } from '../../server/tap/test-support.ts';
import { brokerAvailable, deleteBrokerEntities, pythonAvailable, RABBIT_URL, startPeer, stopAllPeers, uniqueName, type PythonPeer } from './python-peer.ts';

const BIN = fileURLToPath(new URL('../../bin/osloscope', import.meta.url));

const ready = (await pythonAvailable()) && (await brokerAvailable()) && (await managementAvailable());
if (!ready && process.env.CI) throw new Error('Python oslo.messaging, RabbitMQ and its management API are required for the ping interop test in CI');
if (!ready) console.warn('SKIPPED ping interop: needs Python oslo.messaging, RabbitMQ and its management API');
const d = ready ? describe : describe.skip;

function ping(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      BIN,
      ['ping', ...args],
      { timeout: 90_000, env: { ...process.env, TRANSPORT_URL: RABBIT_URL, RABBITMQ_MANAGEMENT_URL: TEST_MANAGEMENT_URL } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0;
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
      },
    );
  });
}

function byServer(r: FleetPing): Record<string, FleetPing['servers'][number]> {
  return Object.fromEntries(r.servers.map((s) => [s.server, s]));
}

d('osloscope ping → Python oslo.messaging servers', () => {
  const topic = uniqueName('ping');
  const exchange = uniqueName('ping-x');
  let gone: PythonPeer;

  beforeAll(async () => {
    const peers = await Promise.all([
      startPeer('rpc-server', ['--topic', topic, '--server', 'py-a', '--exchange', exchange, '--ping']),
      startPeer('rpc-server', ['--topic', topic, '--server', 'py-b', '--exchange', exchange, '--ping']),
      startPeer('rpc-server', ['--topic', topic, '--server', 'py-noping', '--exchange', exchange]),
    ]);
    gone = peers[1];
  }, 120_000);

  afterAll(async () => {
    await stopAllPeers();
    await deleteBrokerEntities({ queues: [topic, `${topic}.py-a`, `${topic}.py-b`, `${topic}.py-noping`], exchanges: [exchange, `${topic}_fanout`] }).catch(() => undefined);
  });

  it('finds every server of the topic from its queues; all answer, exit 0', async () => {
    const r = await ping(['--topic', topic, '--exchange', exchange, '--timeout', '20', '--json']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as FleetPing;
    expect(Object.keys(byServer(out)).sort()).toEqual(['py-a', 'py-b', 'py-noping']);
    const s = byServer(out);
    expect(s['py-a']).toMatchObject({ status: 'pong', answered: true, sources: ['queue'] });
    expect(s['py-b']).toMatchObject({ status: 'pong', answered: true });
    expect(s['py-a'].latencyMs).toBeGreaterThan(0);
    // without rpc_ping_enabled the dispatcher answers NoSuchMethod: the server is alive
    expect(s['py-noping']).toMatchObject({ status: 'error', answered: true });
    expect(s['py-noping'].message).toMatch(/rpc_ping_enabled/);
    expect(out).toMatchObject({ topic, answered: 3, missing: 0, discovery: { queueSource: 'management', queues: 3 } });
    expect(r.code).toBe(0);
  }, 120_000);

  it('--server pings only the servers named; an unknown one has no queue, exit 3', async () => {
    const one = await ping(['--topic', topic, '--exchange', exchange, '--server', 'py-a', '--json']);
    expect(one.code).toBe(0);
    expect((JSON.parse(one.stdout) as FleetPing).servers.map((s) => [s.server, s.status])).toEqual([['py-a', 'pong']]);
    const ghost = await ping(['--topic', topic, '--exchange', exchange, '--server', 'py-a', '--server', 'ghost', '--timeout', '5', '--json']);
    const s = byServer(JSON.parse(ghost.stdout) as FleetPing);
    expect(s.ghost).toMatchObject({ status: 'no_queue', answered: false, latencyMs: null });
    expect(s['py-a']).toMatchObject({ status: 'pong' });
    expect(ghost.code).toBe(3);
  }, 120_000);

  it('a stopped server is named as not answering, exit 3', async () => {
    await gone.stop();
    // The management API counts consumers from periodic queue stats (every 5 s by
    // default): wait until it has seen py-b's consumer go, as an operator would.
    const vhost = decodeURIComponent(new URL(RABBIT_URL).pathname.slice(1)) || '/';
    const management = new ManagementInspector({ url: TEST_MANAGEMENT_URL, vhost, timeoutMs: 5000 });
    await waitFor(async () => (await management.queues()).find((q) => q.name === `${topic}.py-b` && q.consumers === 0), `${topic}.py-b listed with 0 consumers`, 30_000, 250);
    const r = await ping(['--topic', topic, '--exchange', exchange, '--timeout', '4']);
    expect(r.stdout, r.stdout + r.stderr).toMatch(new RegExp(`topic ${topic} on exchange ${exchange}: 2 of 3 server\\(s\\) answered`));
    // its <topic>.<server> queue outlives it (oslo declares it without auto-delete): nobody takes the call
    expect(r.stdout).toMatch(/^\s+py-b\s+timeout\s+-\s+0\s+queue\s+no reply within 4 s$/m);
    expect(r.stdout).toMatch(/^\s+py-a\s+pong\s+[\d.]+ ms\s/m);
    expect(r.code).toBe(3);
  }, 120_000);
});
