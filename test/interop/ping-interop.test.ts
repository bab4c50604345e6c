/**
 * `osloscope ping` against real Python oslo.messaging RPC servers: two with
 * rpc_ping_enabled = True and one without, on one topic. The CLI finds them
 * from the broker's `<topic>.<server>` queues (management API), all answer
 * (the one without ping with NoSuchMethod: alive), exit 0; then one server
 * stops and ping names it as not answering, with its queue left and nobody
 * consuming it, exit 3.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import amqplib from 'amqplib';
import type { FleetPing } from '../../server/tap/ping.ts';
import { managementAvailable, TEST_MANAGEMENT_URL, waitFor } from '../../server/tap/test-support.ts';
import { AMQP_URL, brokerAvailable, deleteBrokerEntities, pythonAvailable, RABBIT_URL, startPeer, stopAllPeers, uniqueName, type PythonPeer } from './python-peer.ts';

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

/** A queue's consumers as the queue itself counts them (passive queue.declare), not the management API's lagging stats. */
async function consumersOf(queue: string): Promise<number> {
  const conn = await amqplib.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(queue)).consumerCount;
  } finally {
    await conn.close().catch(() => undefined);
  }
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
    // each oslo server consumes its <topic>.<server> queue once; the count is the queue's own, at the answer
    expect(s['py-a']).toMatchObject({ status: 'pong', answered: true, sources: ['queue'], consumers: 1 });
    expect(s['py-b']).toMatchObject({ status: 'pong', answered: true, consumers: 1 });
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
    // The process has exited; the broker drops its consumer when it sees the connection close (a quorum queue
    // through its log). Wait for that, as the queue counts it: the management API's count comes from queue stats
    // every 5 s and lists a queue without stats as 0, so it may say 0 before, or 1 after, py-b's consumer is gone.
    await waitFor(async () => (await consumersOf(`${topic}.py-b`)) === 0 || null, `${topic}.py-b without consumers`, 30_000, 100);
    const r = await ping(['--topic', topic, '--exchange', exchange, '--timeout', '4']);
    const out = r.stdout + r.stderr;
    expect(r.stdout, out).toMatch(new RegExp(`topic ${topic} on exchange ${exchange}: 2 of 3 server\\(s\\) answered`));
    // its <topic>.<server> queue outlives it (oslo declares it without auto-delete): nobody takes the call
    expect(r.stdout, out).toMatch(new RegExp(`^\\s+py-b\\s+timeout\\s+-\\s+0\\s+queue\\s+no reply within 4 s; nobody consumes ${topic}\\.py-b: the server is not running \\(its queue outlives it\\)$`, 'm'));
    expect(r.stdout, out).toMatch(/^\s+py-a\s+pong\s+[\d.]+ ms\s+1\s/m);
    expect(r.code).toBe(3);
  }, 120_000);
});
