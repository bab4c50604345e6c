/**
 * `osloscope bench --json` against the real RabbitMQ: a short run prints one
 * JSON object per measurement, each of the documented shape, every figure a
 * positive finite number, and ratios that agree with the calls/s they come
 * from. The firehose benchmark's JSON likewise, in its throw-away traced vhost.
 * amqplib+oslo (the protocol floor) is checked against osloscope on the wire:
 * one request and one reply of each, captured, must match in exchange,
 * routing key, every basic property and the body's layout and size.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import amqplib from 'amqplib';
import type { Channel, GetMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RpcClient, RpcServer, Transport } from '../../server/messaging/index.ts';
import { renderTable, runBenchCommand, type BenchResult } from './bench.ts';
import { floorClient, floorServer, FLOOR_EXCHANGE } from './bench-oslo-floor.ts';

const URL = process.env.TEST_TRANSPORT_URL ?? 'rabbit://guest:guest@127.0.0.1:5672/';

const available = await amqplib.connect(URL.replace(/^rabbit:/, 'amqp:')).then(
  async (c) => {
    await c.close();
    return true;
  },
  () => false,
);
if (!available && process.env.CI) throw new Error(`RabbitMQ not reachable at ${URL}`);

const positive = z.number().positive().finite();
const environment = z.object({ benchmark: z.literal('environment'), date: z.string(), node: z.string(), cpus: z.number().int().positive(), loadAverage1m: z.number().nonnegative() });
const rpc = z
  .object({
    benchmark: z.literal('rpc'),
    impl: z.enum(['osloscope', 'amqplib', 'amqplib+confirms', 'amqplib+oslo']),
    concurrency: z.number().int().positive(),
    calls: z.number().int().positive(),
    seconds: positive,
    callsPerSec: positive,
    rounds: z.array(positive).min(1),
    p50Ms: positive,
    p99Ms: positive,
    vsAmqplib: positive,
    vsAmqplibConfirms: positive,
    vsAmqplibOslo: positive,
    clientCpuUsPerCall: positive,
    serverCpuUsPerCall: z.number().nonnegative().finite(),
    brokerCpuUsPerCall: z.number().nonnegative().finite().optional(),
  })
  .strict();

async function bench(args: string[]): Promise<{ code: number; lines: unknown[]; stderr: string }> {
  let out = '';
  let stderr = '';
  const sink = (f: (s: string) => void) =>
    new Writable({
      write(chunk, _e, cb) {
        f(String(chunk));
        cb();
      },
    });
  const code = await runBenchCommand([...args, '--url', URL], {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (stderr += s)),
    env: {},
  });
  const lines = out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
  return { code, lines, stderr };
}

describe.skipIf(!available)('osloscope bench --json on RabbitMQ', () => {
  it('prints one valid object per measurement with positive, finite figures', async () => {
    const { code, lines, stderr } = await bench(['--json', '--skip-python', '--calls', '60', '--repeat', '2', '--concurrency', '1,4']);
    expect(code, stderr).toBe(0);
    expect(lines).toHaveLength(1 + 2 * 4);
    environment.parse(lines[0]);
    const rows = lines.slice(1).map((l) => rpc.parse(l));
    expect(rows.map((r) => `${r.concurrency} ${r.impl}`).sort()).toEqual(
      ['1 amqplib', '1 amqplib+confirms', '1 amqplib+oslo', '1 osloscope', '4 amqplib', '4 amqplib+confirms', '4 amqplib+oslo', '4 osloscope'].sort(),
    );
    for (const r of rows) {
      expect(r.calls).toBe(60);
      expect(r.rounds).toHaveLength(2);
      // the reported figure is one of the rounds (the median), and it matches calls / seconds
      expect(r.rounds).toContain(r.callsPerSec);
      expect(r.callsPerSec).toBeCloseTo(r.calls / r.seconds, 6);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
      const base = rows.find((x) => x.concurrency === r.concurrency && x.impl === 'amqplib+confirms')!;
      expect(r.vsAmqplibConfirms).toBeCloseTo(r.callsPerSec / base.callsPerSec, 9);
      const floor = rows.find((x) => x.concurrency === r.concurrency && x.impl === 'amqplib+oslo')!;
      expect(r.vsAmqplibOslo).toBeCloseTo(r.callsPerSec / floor.callsPerSec, 9);
    }
    for (const c of [1, 4]) {
      const floor = rows.find((x) => x.concurrency === c && x.impl === 'amqplib+oslo')!;
      expect(floor.vsAmqplibOslo).toBe(1);
      // the floor sends more than amqplib+confirms and less than nothing: within an order of magnitude of it
      expect(floor.vsAmqplibConfirms).toBeGreaterThan(0.1);
      expect(floor.vsAmqplibConfirms).toBeLessThan(10);
    }
  }, 300_000);

  it('--markdown and --json together are a usage error', async () => {
    const { code, stderr } = await bench(['--json', '--markdown', '--skip-python']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('--markdown and --json');
  });

  it('--firehose --json: the tap keeps every trace message of a short run in a traced throw-away vhost', async () => {
    const { code, lines, stderr } = await bench(['--firehose', '--json', '--calls', '150', '--repeat', '1', '--concurrency', '8']);
    expect(code, stderr).toBe(0);
    expect(lines).toHaveLength(2);
    environment.parse(lines[0]);
    const fh = z
      .object({
        benchmark: z.literal('firehose'),
        calls: z.literal(150),
        concurrency: z.literal(8),
        callsPerSecNoTrace: positive,
        callsPerSecTraceNoTap: positive,
        callsPerSecWithTap: positive,
        traceMessages: positive,
        expectedTraceMessages: positive,
        traceMessagesPerSec: positive,
        drops: z.number().int().nonnegative(),
        lagP50Ms: positive,
        lagP99Ms: positive,
        lagMaxMs: positive,
        tapCpuUsPerTraceMessage: positive,
        tapCpuUsPerCall: positive,
        brokerCpuUsPerCallNoTrace: z.number().nonnegative().finite().optional(),
        brokerCpuUsPerCallTraceNoTap: z.number().nonnegative().finite().optional(),
        brokerCpuUsPerCallWithTap: z.number().nonnegative().finite().optional(),
        roundsDetail: z.array(z.record(z.string(), z.unknown())).length(1),
      })
      .strict()
      .parse(lines[1]);
    // four traces per call: publish and deliver of the request and of the reply
    expect(fh.expectedTraceMessages).toBe(600);
    expect(fh.traceMessages).toBe(600);
    expect(fh.drops).toBe(0);
    expect(fh.lagP99Ms).toBeGreaterThanOrEqual(fh.lagP50Ms);
  }, 300_000);
});

describe('renderTable', () => {
  it('has a vs amqplib+oslo column: each row against the protocol floor at its concurrency', () => {
    const row = (impl: BenchResult['impl'], callsPerSec: number): BenchResult => ({ impl, concurrency: 8, calls: 100, seconds: 100 / callsPerSec, callsPerSec, p50Ms: 1, p99Ms: 2 });
    const table = renderTable([row('osloscope', 1500), row('amqplib', 4000), row('amqplib+confirms', 2500), row('amqplib+oslo', 2000)], true);
    const [head, , ...body] = table.split('\n').map((l) => l.split('|').map((c) => c.trim()));
    const col = head.indexOf('vs amqplib+oslo');
    expect(col).toBeGreaterThan(head.indexOf('vs amqplib+confirms'));
    const cell = (impl: string) => body.find((r) => r[2] === impl)![col];
    expect(cell('osloscope')).toBe('75%');
    expect(cell('amqplib+confirms')).toBe('125%');
    expect(cell('amqplib+oslo')).toBe('100%');
  });
});

/** One message as the broker delivered it: where it went, its properties, its body. */
interface Captured {
  exchange: string;
  routingKey: string;
  properties: Record<string, unknown>;
  body: string;
}

async function getOne(ch: Channel, queue: string): Promise<Captured> {
  const until = Date.now() + 10_000;
  for (;;) {
    const m: GetMessage | false = await ch.get(queue, { noAck: true });
    if (m) return { exchange: m.fields.exchange, routingKey: m.fields.routingKey, properties: { ...m.properties }, body: m.content.toString('latin1') };
    if (Date.now() > until) throw new Error(`nothing arrived on ${queue}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Both JSON layers of an oslo body: the envelope's keys, the message's keys and values. */
function layers(body: string): { outer: string[]; inner: Record<string, unknown> } {
  const outer = JSON.parse(body) as Record<string, string>;
  return { outer: Object.keys(outer), inner: JSON.parse(outer['oslo.message']) as Record<string, unknown> };
}

/** The body with every uuid-hex-shaped id masked: what must be equal byte for byte. */
const masked = (body: string) => body.replace(/[0-9a-f]{32}/g, '#'.repeat(32));

/** A queue's flags and arguments from the management API, or null when it does not answer. */
async function queueInfo(name: string): Promise<Record<string, unknown> | null> {
  const u = new globalThis.URL(URL.replace(/^rabbit:/, 'http:'));
  const vhost = encodeURIComponent(decodeURIComponent(u.pathname.slice(1)) || '/');
  try {
    const res = await fetch(`http://${u.hostname}:15672/api/queues/${vhost}/${encodeURIComponent(name)}`, {
      headers: { authorization: `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` },
      signal: AbortSignal.timeout(3000),
    });
    if (!res.ok) return null;
    const q = (await res.json()) as Record<string, unknown>;
    return { durable: q.durable, auto_delete: q.auto_delete, exclusive: q.exclusive, arguments: q.arguments };
  } catch {
    return null;
  }
}

describe.skipIf(!available)('amqplib+oslo on the wire', () => {
  it('sends the same request and reply as osloscope: exchange, routing key, properties, body layout and size', async () => {
    const topic = `bench-wire-${randomBytes(4).toString('hex')}`;
    const conn = await amqplib.connect(URL.replace(/^rabbit:/, 'amqp:'));
    const ch = await conn.createChannel();
    try {
      // a second queue on the requests' binding sees every request; replies are made to come to another
      await ch.assertExchange(FLOOR_EXCHANGE, 'topic', { durable: false, autoDelete: false });
      const requests = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.bindQueue(requests, FLOOR_EXCHANGE, topic);
      const replies = (await ch.assertQueue('', { exclusive: true })).queue;

      /** One call through `impl`, its request captured, then replayed to get a reply on `replies`. */
      const capture = async (impl: 'osloscope' | 'amqplib+oslo') => {
        let stopServer: () => Promise<void>;
        let call: (n: number) => Promise<unknown>;
        let replyQ: string;
        let stopClient: () => Promise<void>;
        if (impl === 'osloscope') {
          // as bench-server.ts and bench.ts set them up
          const serverTransport = new Transport(URL, { programName: 'osloscope-bench-server' });
          const server = new RpcServer(serverTransport, { topic, server: 'bench' }, [{ ping: (_c: unknown, args: Record<string, unknown>) => args.n }], { fanout: false });
          await server.start(0);
          stopServer = async () => {
            await server.stop();
            await serverTransport.close();
          };
          const transport = new Transport(URL, { programName: 'osloscope-bench-client' });
          const client = new RpcClient(transport, { topic }, { timeout: 30 });
          call = (n) => client.call({}, 'ping', { n });
          stopClient = () => transport.close();
          replyQ = (await transport.getReplyWaiter()).replyQ;
        } else {
          // after osloscope's server on the same topic: a queue declared with other flags or arguments fails with 406 here
          stopServer = await floorServer(URL, topic);
          const client = await floorClient(URL, topic, 30);
          call = (n) => client.call(n);
          stopClient = () => client.close();
          replyQ = client.replyQ;
        }
        try {
          expect(await call(12345)).toBe(12345);
          const request = await getOne(ch, requests);
          const replyQueue = await queueInfo(replyQ);
          // the same request again, its reply sent to `replies` and a new _unique_id (osloscope drops duplicates)
          const inner = layers(request.body).inner;
          const replay = request.body.replace(inner._reply_q as string, replies).replace(inner._unique_id as string, randomBytes(16).toString('hex'));
          const props = Object.fromEntries(Object.entries(request.properties).filter(([, v]) => v !== undefined));
          ch.publish(FLOOR_EXCHANGE, topic, Buffer.from(replay, 'latin1'), props);
          const reply = await getOne(ch, replies);
          // the replay went to the capture queue too
          await getOne(ch, requests);
          return { request, reply, replyQ, replyQueue, msgId: inner._msg_id };
        } finally {
          await stopClient();
          await stopServer();
        }
      };

      const oslo = await capture('osloscope');
      const floor = await capture('amqplib+oslo');

      for (const [what, o, f] of [
        ['request', oslo.request, floor.request],
        ['reply', oslo.reply, floor.reply],
      ] as const) {
        expect(f.exchange, what).toBe(o.exchange);
        expect(f.routingKey, what).toBe(o.routingKey);
        expect(f.properties, what).toStrictEqual(o.properties);
        expect(layers(f.body).outer, what).toEqual(layers(o.body).outer);
        expect(Object.keys(layers(f.body).inner), what).toEqual(Object.keys(layers(o.body).inner));
        expect(f.body.length, what).toBe(o.body.length);
        expect(masked(f.body), what).toBe(masked(o.body));
      }
      // what both must be (docs/wire.md), so that equal does not mean equally wrong
      expect(oslo.request.exchange).toBe('openstack');
      expect(oslo.request.routingKey).toBe(topic);
      expect(oslo.request.properties).toMatchObject({ contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, deliveryMode: 2, priority: 0, expiration: '30000' });
      expect(Object.keys(layers(oslo.request.body).inner)).toEqual(['method', 'args', '_msg_id', '_reply_q', '_timeout', '_unique_id']);
      expect(layers(floor.request.body).inner).toMatchObject({ method: 'ping', args: { n: 12345 }, _reply_q: floor.replyQ, _timeout: null });
      expect(floor.replyQ).toMatch(/^reply_[0-9a-f]{32}$/);
      expect(oslo.replyQ).toMatch(/^reply_[0-9a-f]{32}$/);
      expect(oslo.reply.exchange).toBe('');
      expect(oslo.reply.routingKey).toBe(replies);
      expect(oslo.reply.properties).toMatchObject({ contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, deliveryMode: 2, priority: 0, expiration: undefined });
      expect(layers(floor.reply.body).inner).toMatchObject({ result: 12345, failure: null, ending: true, _msg_id: floor.msgId });
      expect(layers(oslo.reply.body).inner).toMatchObject({ result: 12345, failure: null, ending: true, _msg_id: oslo.msgId });
      // the reply queues, when the management API answers
      if (oslo.replyQueue && floor.replyQueue) {
        expect(floor.replyQueue).toStrictEqual(oslo.replyQueue);
        expect(oslo.replyQueue).toStrictEqual({ durable: false, auto_delete: false, exclusive: true, arguments: { 'x-expires': 1_800_000 } });
      }
    } finally {
      await ch.deleteQueue(topic).catch(() => undefined);
      await ch.deleteQueue(`${topic}.bench`).catch(() => undefined);
      await conn.close().catch(() => undefined);
    }
  }, 60_000);
});
