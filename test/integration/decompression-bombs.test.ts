/**
 * Decompression bombs against every consumer on the real RabbitMQ: an RPC
 * server, the reply waiter, a notification listener and the tap. kombu
 * marks compressed bodies with the `compression` header (kombu/compression.py:
 * application/x-gzip is zlib, application/x-bz2 is bz2); a body of about a
 * megabyte that inflates to a gigabyte must be rejected at the message size
 * cap, counted, never stall the event loop and never grow the process.
 */
import { execFileSync } from 'node:child_process';
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationListener, RpcClient, RpcServer, Transport, type CoreEvent } from '../../server/messaging/index.ts';
import { Tap } from '../../server/tap/index.ts';
import { createTestVhost, managementAvailable, TEST_MANAGEMENT_URL, waitFor, type TestVhost } from '../../server/tap/test-support.ts';

const FAST_RETRY = { intervalStartMs: 50, intervalStepMs: 100, intervalMaxMs: 500, reconnectDelayMs: 0 };
const available = await managementAvailable();
if (!available && process.env.CI) throw new Error('RabbitMQ management API not reachable at ' + TEST_MANAGEMENT_URL);

const MiB = 1024 * 1024;

/** Bombs made by Python's own codecs (what kombu calls), streamed so the test never holds the plain bytes. */
function pythonBomb(codec: 'zlib' | 'bz2', mib: number): Buffer {
  const make =
    codec === 'zlib'
      ? 'c = zlib.compressobj(9)'
      : 'c = bz2.BZ2Compressor(9)';
  const script = `import sys, zlib, bz2
${make}
head = b'{"oslo.version": "2.0", "oslo.message": "{\\\\"method\\\\": \\\\"echo\\\\", \\\\"args\\\\": {\\\\"v\\\\": \\\\"'
out = [c.compress(head)]
chunk = b'A' * (1024 * 1024)
for _ in range(${mib}):
    out.append(c.compress(chunk))
out.append(c.compress(b'\\\\"}}"}'))
out.append(c.flush())
sys.stdout.buffer.write(b''.join(out))
`;
  return execFileSync('/usr/bin/python3', ['-c', script], { maxBuffer: 64 * MiB });
}

const GZIP = { compression: 'application/x-gzip' };
const BZ2 = { compression: 'application/x-bz2' };

/** Largest gap between ticks of a 10 ms timer while `work` runs, and the RSS growth it caused. */
async function watchLoop(work: () => Promise<void>): Promise<{ maxGapMs: number; rssGrowthMb: number }> {
  const rss0 = process.memoryUsage.rss();
  let peak = rss0;
  let last = performance.now();
  let maxGapMs = 0;
  const t = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(t);
  }
  return { maxGapMs, rssGrowthMb: (peak - rss0) / MiB };
}

describe.skipIf(!available)('decompression bombs on RabbitMQ', () => {
  let vh: TestVhost;
  let amqp: ChannelModel;
  let ch: Channel;
  let gzipBomb: Buffer;
  let bz2Bomb: Buffer;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    gzipBomb = pythonBomb('zlib', 1024); // ~1 MB on the wire, 1 GiB inflated
    bz2Bomb = pythonBomb('bz2', 256); // a few hundred bytes, 256 MiB inflated
    expect(gzipBomb.length).toBeLessThan(2 * MiB);
    expect(bz2Bomb.length).toBeLessThan(64 * 1024);
    vh = await createTestVhost('osloscope-bombs');
    amqp = await amqplib.connect(vh.amqpUrl);
    ch = await amqp.createChannel();
    await ch.assertExchange('openstack', 'topic', { durable: false, autoDelete: false });
  }, 60_000);

  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await vh?.remove();
  });

  function transport(): { t: Transport; events: CoreEvent[] } {
    const t = new Transport(vh.url, { programName: 'osloscope-bombs', retryPolicy: FAST_RETRY });
    const events: CoreEvent[] = [];
    t.events.on((e) => events.push(e));
    closers.push(() => t.close());
    return { t, events };
  }

  const oversized = (events: CoreEvent[]) => events.filter((e) => e.type === 'message:malformed' && e.reason === 'oversized');

  it('an RPC server rejects gzip and bz2 bombs at the cap, counts them, keeps its timers and memory, and still serves', async () => {
    const { t, events } = transport();
    const server = new RpcServer(t, { topic: 'bombs', server: 's1' }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.v }]);
    await server.start(3);
    closers.push(() => server.stop());
    const watched = await watchLoop(async () => {
      for (const [body, headers] of [
        [gzipBomb, GZIP],
        [bz2Bomb, BZ2],
        [gzipBomb, GZIP],
      ] as const) {
        ch.publish('openstack', 'bombs', body, { contentType: 'application/json', contentEncoding: 'utf-8', headers });
      }
      await waitFor(() => server.stats().malformed === 3, 'three rejected bombs', 30_000);
    });
    expect(watched.maxGapMs).toBeLessThan(150);
    expect(watched.rssGrowthMb).toBeLessThan(200);
    expect(t.rejected.oversized).toBe(3);
    expect(t.status().rejected).toEqual({ malformed: 0, oversized: 3 });
    expect(oversized(events)).toHaveLength(3);
    expect(oversized(events)[0]).toMatchObject({ where: 'rpc-server:bombs', bytes: gzipBomb.length });
    // rejected without requeue: gone from the queue, not redelivered
    await waitFor(async () => (await vh.queue('bombs'))?.messages === 0, 'an empty queue', 10_000);
    expect(await new RpcClient(t, { topic: 'bombs' }, { timeout: 10 }).call({}, 'echo', { v: 'still here' })).toBe('still here');
  }, 90_000);

  it('the reply waiter drops a bomb on its reply queue without stalling, and the next call still gets its reply', async () => {
    const { t } = transport();
    const server = new RpcServer(t, { topic: 'bombs-reply', server: 's1' }, [{ echo: (_c: unknown, a: Record<string, unknown>) => a.v }]);
    await server.start(3);
    closers.push(() => server.stop());
    const client = new RpcClient(t, { topic: 'bombs-reply' }, { timeout: 10 });
    expect(await client.call({}, 'echo', { v: 1 })).toBe(1);
    const waiter = await t.getReplyWaiter();
    const watched = await watchLoop(async () => {
      ch.sendToQueue(waiter.replyQ, gzipBomb, { headers: GZIP });
      ch.sendToQueue(waiter.replyQ, bz2Bomb, { headers: BZ2 });
      await waitFor(() => t.rejected.oversized === 2, 'two dropped bombs', 30_000);
    });
    expect(watched.maxGapMs).toBeLessThan(150);
    expect(watched.rssGrowthMb).toBeLessThan(200);
    expect(await client.call({}, 'echo', { v: 2 })).toBe(2);
  }, 90_000);

  it('a notification listener rejects a bomb and handles the notification behind it, in order', async () => {
    const { t } = transport();
    const seen: string[] = [];
    const listener = new NotificationListener(t, [{ topic: 'bomb_notifications' }], [
      { info: (_c, _p, eventType) => void seen.push(String(eventType)) },
    ]);
    await listener.start(3);
    closers.push(() => listener.stop());
    const ok = Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify({ event_type: 'after.bomb', payload: {}, priority: 'INFO', publisher_id: 'x', message_id: 'm', timestamp: 't' }) }));
    ch.publish('openstack', 'bomb_notifications.info', gzipBomb, { headers: GZIP });
    ch.publish('openstack', 'bomb_notifications.info', ok, { headers: {} });
    await waitFor(() => seen.length === 1, 'the notification', 30_000);
    expect(seen).toEqual(['after.bomb']);
    expect(t.rejected.oversized).toBe(1);
  }, 90_000);

  it('the tap counts a bomb as undecodable (beyond the cap) without stalling, and keeps the stream in order', async () => {
    const { t } = transport();
    const tap = new Tap({ transport: t, managementUrl: TEST_MANAGEMENT_URL, mode: 'bindings', intervals: { tickMs: 200, discoveryMs: 300, modeCheckMs: 500, rebuildAfterMs: 1000 } });
    await tap.start();
    closers.push(() => tap.stop());
    const cast = (v: number) => Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify({ method: 'm', args: { v } }) }));
    const watched = await watchLoop(async () => {
      ch.publish('openstack', 'tapped', cast(1));
      ch.publish('openstack', 'tapped', bz2Bomb, { headers: BZ2 });
      ch.publish('openstack', 'tapped', gzipBomb, { headers: GZIP });
      ch.publish('openstack', 'tapped', cast(2));
      await waitFor(() => tap.recent({ limit: 10 }).length === 4, 'four tapped messages', 30_000);
    });
    expect(watched.maxGapMs).toBeLessThan(150);
    expect(watched.rssGrowthMb).toBeLessThan(200);
    const got = tap.recent({ limit: 10 });
    expect(got.map((m) => m.kind)).toEqual(['cast', 'unknown', 'unknown', 'cast']);
    expect(got[1].error).toMatch(/inflates beyond 16777216 bytes/);
    expect(got[2].error).toMatch(/inflates beyond 16777216 bytes/);
    expect(got[3].args).toEqual({ v: 2 });
  }, 90_000);
});
