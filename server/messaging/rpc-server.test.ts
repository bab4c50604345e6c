import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Delivery } from './driver.ts';
import { MemoryBroker, type MemoryLink } from './drivers/memory/index.ts';
import { decodeBody, encodeBody, type Dict } from './envelope.ts';
import type { Endpoint } from './dispatcher.ts';
import type { CoreEvent } from './events.ts';
import { pyLoads } from './json.ts';
import { RpcServer } from './rpc-server.ts';
import { RpcClient } from './rpc-client.ts';
import { ExpectedFailure, RemoteError } from './errors.ts';
import { Transport } from './transport.ts';

interface Reply {
  /** fake-clock time it arrived, ms since the request was published */
  at: number;
  raw: string;
  message: Dict;
  properties: Delivery['properties'];
}

/**
 * RpcServer on the memory transport with kombu_missing_consumer_retry_timeout
 * at 1 s. A raw link plays the Python caller: it publishes hand-made requests
 * and collects what arrives on its reply queue. Timers are fake; deliveries
 * (setImmediate) are real.
 */
describe('RpcServer', () => {
  let broker: MemoryBroker;
  let transport: Transport;
  let server: RpcServer;
  let client: MemoryLink;
  let replies: Reply[];
  let invoked: { method: string; ctxt: Dict; args: Dict }[];
  let events: CoreEvent[];
  let t0: number;
  let seq: number;

  const endpoints = (): Endpoint[] => [
    {
      target: { version: '1.1' },
      echo(ctxt: Dict, args: Dict) {
        invoked.push({ method: 'echo', ctxt, args });
        return args.value;
      },
      async sleep(ctxt: Dict, args: Dict) {
        invoked.push({ method: 'sleep', ctxt, args });
        await new Promise((r) => setTimeout(r, (args.secs as number) * 1000));
        return 'done';
      },
      fail() {
        invoked.push({ method: 'fail', ctxt: {}, args: {} });
        throw new Error('boom');
      },
      unserializable() {
        return { f: () => 1 };
      },
    },
  ];

  async function start(rabbit: Record<string, unknown> = {}): Promise<void> {
    transport = new Transport('memory://', { memoryBroker: broker, rabbit: { kombu_missing_consumer_retry_timeout: 1, ...rabbit } });
    transport.events.on((e) => events.push(e));
    server = new RpcServer(transport, { topic: 'compute', server: 'host1' }, endpoints());
    await server.start();
  }

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    broker = new MemoryBroker();
    replies = [];
    invoked = [];
    events = [];
    seq = 0;
    client = broker.connect('python-caller');
    await client.assertQueue('reply_test', { durable: false, autoDelete: false });
    await client.consume(
      'reply_test',
      (d) => {
        const raw = d.body.toString('latin1');
        replies.push({ at: Date.now() - t0, raw, message: decodeBody(d.body, d.properties.headers).message, properties: d.properties });
      },
      { noAck: true },
    );
    await start();
    t0 = Date.now();
  });

  afterEach(async () => {
    await server.stop();
    await transport.close();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  async function settle(): Promise<void> {
    for (let i = 0; i < 4; i++) await new Promise<void>((r) => setImmediate(r));
  }

  /** Move the fake clock in small steps so arrival times are exact to `step`. */
  async function advance(ms: number, step = 50): Promise<void> {
    for (let done = 0; done < ms; done += step) {
      await vi.advanceTimersByTimeAsync(Math.min(step, ms - done));
      await settle();
    }
  }

  /** Publish a request like AMQPDriverBase._send; a call when `call` is given. */
  async function send(method: string, args: Dict, opts: { call?: { timeout?: unknown; replyQ?: string }; uniqueId?: string | null; routingKey?: string } = {}): Promise<string> {
    const msgId = `msg${++seq}`;
    const msg: Dict = { method, args, version: '1.1' };
    if (opts.call) {
      msg._msg_id = msgId;
      msg._reply_q = opts.call.replyQ ?? 'reply_test';
      msg._timeout = opts.call.timeout ?? null;
    }
    if (opts.uniqueId !== null) msg._unique_id = opts.uniqueId ?? `uniq${seq}`;
    msg._context_user_id = 'u1';
    const { body, headers } = encodeBody(msg);
    await client.publish('openstack', opts.routingKey ?? 'compute', body, { headers, deliveryMode: 2, priority: 0 });
    await settle();
    return msgId;
  }

  /** The queue trace of every publish to the default exchange (rabbitmqctl trace_on). */
  async function tracePublishesTo(routingKey: string): Promise<() => number[]> {
    broker.setTracing(true);
    const tracer = broker.connect('tracer');
    await tracer.assertQueue('trace', { durable: false, autoDelete: false });
    await tracer.bindQueue('trace', 'amq.rabbitmq.trace', 'publish.');
    const times: number[] = [];
    await tracer.consume(
      'trace',
      (d) => {
        if ((d.properties.headers?.routing_keys as string[])[0] === routingKey) times.push(Date.now() - t0);
      },
      { noAck: true },
    );
    return () => times;
  }

  it('declares oslo’s topology in order and consumes with tags "1", "2", "3"', () => {
    const fanout = server.queues[2];
    expect(fanout).toMatch(/^compute_fanout_[0-9a-f]{32}$/);
    expect(server.queues).toEqual(['compute', 'compute.host1', fanout]);
    expect(broker.listQueues().filter((q) => q.name !== 'reply_test')).toEqual([
      expect.objectContaining({ name: 'compute', durable: false, autoDelete: false, arguments: {} }),
      expect.objectContaining({ name: 'compute.host1', durable: false, autoDelete: false, arguments: {} }),
      expect.objectContaining({ name: fanout, durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } }),
    ]);
    expect(broker.listBindings().filter((b) => b.source !== '')).toEqual([
      { source: 'compute_fanout', destination: fanout, routingKey: 'compute', arguments: {} },
      { source: 'openstack', destination: 'compute', routingKey: 'compute', arguments: {} },
      { source: 'openstack', destination: 'compute.host1', routingKey: 'compute.host1', arguments: {} },
    ]);
    expect(broker.listExchanges()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'openstack', type: 'topic', durable: false, autoDelete: false }),
        expect.objectContaining({ name: 'compute_fanout', type: 'fanout', durable: false, autoDelete: true }),
      ]),
    );
    const consumers = broker.listConsumers().filter((c) => c.queue !== 'reply_test');
    expect(consumers.map((c) => [c.queue, c.consumerTag, c.ackRequired])).toEqual([
      ['compute', '1', true],
      ['compute.host1', '2', true],
      [fanout, '3', true],
    ]);
  });

  it('replies to a call with result, failure, ending, _msg_id, _unique_id in that order, mandatory, no expiration', async () => {
    const sendSpy = vi.spyOn(transport, 'sendTo');
    const msgId = await send('echo', { value: ['é', 1.5, null] }, { call: {} });
    expect(replies).toHaveLength(1);
    const [r] = replies;
    expect(Object.keys(r.message)).toEqual(['result', 'failure', 'ending', '_msg_id', '_unique_id']);
    expect(r.message).toMatchObject({ result: ['é', 1.5, null], failure: null, ending: true, _msg_id: msgId });
    expect(r.message._unique_id).toMatch(/^[0-9a-f]{32}$/);
    expect(r.raw).toMatch(/^\{"oslo\.version": "2\.0", "oslo\.message": "\{\\"result\\": \[\\"\\\\u00e9\\", 1\.5, null\], \\"failure\\": null, \\"ending\\": true, /);
    expect(r.properties).toEqual({ contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, deliveryMode: 2, priority: 0 });
    expect(sendSpy).toHaveBeenCalledWith(expect.objectContaining({ exchange: '', routingKey: 'reply_test', options: expect.objectContaining({ mandatory: true }) }), expect.anything());
    expect(server.stats()).toMatchObject({ received: 1, calls: 1, replies: 1, failures: 0 });
  });

  it('hands endpoints the context with client_timeout added', async () => {
    await send('echo', { value: 1 }, { call: { timeout: 30 } });
    await send('echo', { value: 2 });
    expect(invoked.map((i) => i.ctxt)).toEqual([
      { user_id: 'u1', client_timeout: 30 },
      { user_id: 'u1', client_timeout: null },
    ]);
  });

  it('sends failures as serialized Python exceptions, and nothing at all for failing casts', async () => {
    await send('nosuch', {}, { call: {} });
    await send('fail', {}, { call: {} });
    await send('fail', {});
    await advance(100);
    expect(replies).toHaveLength(2);
    const f1 = pyLoads(replies[0].message.failure as string) as Dict;
    expect(Object.keys(f1)).toEqual(['class', 'module', 'message', 'tb', 'args', 'kwargs']);
    expect(f1).toMatchObject({ class: 'NoSuchMethod', module: 'oslo_messaging.rpc.dispatcher', message: 'Endpoint does not support RPC method nosuch' });
    expect(replies[0].message).toMatchObject({ result: null, ending: true });
    expect(pyLoads(replies[1].message.failure as string)).toMatchObject({ class: 'Exception', module: 'builtins', message: 'boom' });
    expect(server.stats()).toMatchObject({ calls: 2, casts: 1, failures: 3, replies: 2 });
  });

  it('turns a result that cannot be serialized into a TypeError failure reply', async () => {
    await send('unserializable', {}, { call: {} });
    expect(replies).toHaveLength(1);
    expect(replies[0].message.result).toBeNull();
    expect(pyLoads(replies[0].message.failure as string)).toMatchObject({ class: 'TypeError', module: 'builtins' });
  });

  it('acks a request on receipt, before the endpoint returns', async () => {
    await send('sleep', { secs: 5 }, { call: {} });
    expect(invoked).toHaveLength(1);
    expect(broker.listQueues().find((q) => q.name === 'compute')).toMatchObject({ messages: 0, messagesUnacknowledged: 0 });
    await advance(5000, 500);
    expect(replies.map((r) => r.message.result)).toEqual(['done']);
  });

  it.each([
    // [_timeout, method seconds, heartbeat arrival times (ms)] — RPCDispatcher._watchdog: every int(_timeout)/2 s
    [4, 5, [2000, 4000]],
    [3, 4, [1500, 3000]],
    [2, 2.5, [1000, 2000]],
    [2.5, 2.5, [1000, 2000]], // int(2.5) = 2
    ['4', 5, [2000, 4000]], // int("4") = 4
    [1.9, 3, []], // int(1.9)/2 = 0.5 < 1: a warning, no heartbeats
    [1, 3, []],
    [0, 3, []], // falsy: no watchdog at all
    [null, 3, []],
  ])('with _timeout %j and a %d s method sends heartbeats at %j ms, then the reply', async (timeout, secs, beats) => {
    const msgId = await send('sleep', { secs }, { call: { timeout } });
    await advance(secs * 1000 + 500);
    const heartbeats = replies.filter((r) => r.message.ending === false);
    expect(heartbeats.map((r) => r.at)).toEqual(beats);
    for (const h of heartbeats) {
      expect(Object.keys(h.message)).toEqual(['result', 'failure', 'ending', '_msg_id', '_unique_id']);
      expect(h.message).toMatchObject({ result: null, failure: null, ending: false, _msg_id: msgId });
    }
    expect(replies.at(-1)?.message).toMatchObject({ result: 'done', ending: true });
    expect(replies.at(-1)?.at).toBe(secs * 1000);
    expect(replies).toHaveLength(beats.length + 1);
    expect(server.stats().heartbeats).toBe(beats.length);
  });

  it('sends no heartbeats for a cast, whatever _timeout says', async () => {
    const msg: Dict = { method: 'sleep', args: { secs: 3 }, version: '1.1', _timeout: 2, _unique_id: 'c1' };
    await client.publish('openstack', 'compute', encodeBody(msg).body, {});
    await settle();
    await advance(3500, 500);
    expect(invoked).toHaveLength(1);
    expect(replies).toEqual([]);
  });

  it('drops a request whose _unique_id is among the last 16 seen', async () => {
    await send('echo', { value: 'A' }, { uniqueId: 'A' });
    await send('echo', { value: 'A again' }, { uniqueId: 'A' });
    expect(invoked.map((i) => i.args.value)).toEqual(['A']);
    for (let i = 1; i <= 15; i++) await send('echo', { value: `B${i}` }, { uniqueId: `B${i}` });
    // A and B1..B15 are the last 16: A is still a duplicate
    await send('echo', { value: 'A third' }, { uniqueId: 'A' });
    expect(invoked).toHaveLength(16);
    await send('echo', { value: 'B16' }, { uniqueId: 'B16' });
    // now A has been pushed out
    await send('echo', { value: 'A fourth' }, { uniqueId: 'A' });
    expect(invoked.map((i) => i.args.value).slice(-2)).toEqual(['B16', 'A fourth']);
    expect(server.stats()).toMatchObject({ duplicates: 2, received: 20 });
  });

  it('never treats requests without _unique_id as duplicates', async () => {
    await send('echo', { value: 1 }, { uniqueId: null });
    await send('echo', { value: 2 }, { uniqueId: null });
    expect(invoked).toHaveLength(2);
  });

  it('rejects a malformed body without requeueing it and keeps consuming', async () => {
    await client.publish('openstack', 'compute', Buffer.from('{not json'), {});
    await client.publish('openstack', 'compute', Buffer.from('{"oslo.version": "2.1", "oslo.message": "{}"}'), {});
    await client.publish('openstack', 'compute', Buffer.from('x'), { headers: { compression: 'application/x-gzip' } });
    // the gzip body is inflated on libuv's thread pool: its rejection lands a few event-loop turns later
    for (let i = 0; i < 5000 && server.stats().malformed < 3; i++) await settle();
    expect(broker.listQueues().find((q) => q.name === 'compute')).toMatchObject({ messages: 0, messagesUnacknowledged: 0 });
    expect(server.stats()).toMatchObject({ received: 3, malformed: 3, calls: 0, casts: 0 });
    expect(events.filter((e) => e.type === 'message:malformed')).toHaveLength(3);
    await send('echo', { value: 'still here' }, { call: {} });
    expect(replies.map((r) => r.message.result)).toEqual(['still here']);
  });

  it('retries a reply to a missing queue every 0.25 s until kombu_missing_consumer_retry_timeout, then drops replies to it', async () => {
    const publishes = await tracePublishesTo('reply_gone');
    await send('echo', { value: 1 }, { call: { replyQ: 'reply_gone' } });
    await advance(2000);
    expect(publishes()).toEqual([0, 250, 500, 750, 1000]);
    expect(server.stats()).toMatchObject({ repliesAbandoned: 1 });

    // ObsoleteReplyQueuesCache: the next reply to that queue is dropped without a publish
    await send('echo', { value: 2 }, { call: { replyQ: 'reply_gone' } });
    await advance(2000);
    expect(publishes()).toHaveLength(5);
    expect(invoked).toHaveLength(2);

    // other reply queues are unaffected
    await send('echo', { value: 3 }, { call: {} });
    expect(replies.map((r) => r.message.result)).toEqual([3]);

    // after the cache's 60 s TTL the queue is tried again
    await advance(57_000, 1000);
    await send('echo', { value: 4 }, { call: { replyQ: 'reply_gone' } });
    await advance(2000);
    expect(publishes()).toHaveLength(10);
    expect(server.stats().repliesAbandoned).toBe(2);
  });

  it('delivers a reply once the missing queue appears within the retry window', async () => {
    await send('echo', { value: 'eventually' }, { call: { replyQ: 'reply_late' } });
    await advance(500);
    const got: Dict[] = [];
    await client.assertQueue('reply_late', { durable: false, autoDelete: false });
    await client.consume('reply_late', (d) => got.push(decodeBody(d.body).message), { noAck: true });
    await advance(500);
    expect(got.map((m) => m.result)).toEqual(['eventually']);
    expect(server.stats()).toMatchObject({ repliesAbandoned: 0, replies: 1 });
  });

  it('stops heartbeats at the first one that cannot be delivered; the final reply still gets its retries', async () => {
    const publishes = await tracePublishesTo('reply_gone');
    await send('sleep', { secs: 3.5 }, { call: { replyQ: 'reply_gone', timeout: 2 } });
    await advance(6000);
    // one heartbeat at 1 s (returned: no more heartbeats), then the final reply at 3.5 s retried for 1 s
    expect(publishes()).toEqual([1000, 3500, 3750, 4000, 4250, 4500]);
    expect(server.stats()).toMatchObject({ heartbeats: 0, repliesAbandoned: 1 });
  });

  it('with direct_mandatory_flag=false sends replies fire-and-forget', async () => {
    await server.stop();
    await transport.close();
    await start({ direct_mandatory_flag: false });
    const publishes = await tracePublishesTo('reply_gone');
    await send('echo', { value: 1 }, { call: { replyQ: 'reply_gone' } });
    await advance(2000);
    expect(publishes()).toEqual([0]);
    expect(server.stats()).toMatchObject({ replies: 1, repliesAbandoned: 0 });
  });

  it('runs at most maxConcurrency requests at once and queues the rest', async () => {
    await server.stop();
    server = new RpcServer(transport, { topic: 'compute', server: 'host1' }, endpoints(), { maxConcurrency: 1 });
    await server.start();
    await send('sleep', { secs: 1 }, { call: {} });
    await send('echo', { value: 'second' }, { call: {} });
    expect(invoked.map((i) => i.method)).toEqual(['sleep']);
    expect(server.stats()).toMatchObject({ running: 1, queued: 1 });
    await advance(1000, 500);
    expect(invoked.map((i) => i.method)).toEqual(['sleep', 'echo']);
    expect(replies.map((r) => r.message.result)).toEqual(['done', 'second']);
  });

  it('answers on the server-specific queue and the fanout exchange too', async () => {
    await send('echo', { value: 'direct' }, { call: {}, routingKey: 'compute.host1' });
    const fanout: Dict = { method: 'echo', args: { value: 'fan' }, version: '1.1', _unique_id: 'f1' };
    await client.publish('compute_fanout', '', encodeBody(fanout).body, {});
    await settle();
    expect(invoked.map((i) => i.args.value)).toEqual(['direct', 'fan']);
    expect(replies.map((r) => r.message.result)).toEqual(['direct']);
  });

  it('stop() lets running requests reply, cancels its consumers and deletes the fanout queue', async () => {
    const fanoutQueue = server.queues[2];
    await send('sleep', { secs: 1 }, { call: {} });
    const stopped = server.stop();
    await settle();
    expect(broker.listConsumers().filter((c) => c.queue !== 'reply_test')).toEqual([]);
    await advance(1000, 500);
    await stopped;
    expect(replies.map((r) => r.message.result)).toEqual(['done']);
    expect(broker.listQueues().map((q) => q.name)).toEqual(['compute', 'compute.host1', 'reply_test']);
    expect(broker.listQueues().some((q) => q.name === fanoutQueue)).toBe(false);
  });
});

/** rpc/server.py _process_incoming: which failures are logged as errors and which at debug. */
describe('RpcServer failure logging', () => {
  it('logs expected endpoint failures and *_ignore_errors lookups at debug, the rest loudly', async () => {
    const logged: { level: string; msg: string; method?: unknown }[] = [];
    const record = (level: string) => (obj: object, msg: string) => logged.push({ level, msg, method: (obj as { method?: unknown }).method });
    const log = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
    const transport = new Transport('memory://', { memoryBroker: new MemoryBroker(), log });
    const server = new RpcServer(transport, { topic: 'compute', server: 'h1' }, [
      {
        expected() {
          throw new ExpectedFailure('InstanceNotFound', 'nova.exception', 'Instance x could not be found.');
        },
        unexpected() {
          throw new Error('boom');
        },
      },
    ]);
    await server.start();
    const client = new RpcClient(transport, { topic: 'compute' }, { timeout: 5 });
    try {
      for (const method of ['expected', 'unexpected', 'gone_ignore_errors', 'gone']) {
        await expect(client.call({}, method)).rejects.toBeInstanceOf(RemoteError);
      }
      const failures = logged.filter((l) => l.msg.includes('during message handling')).map((l) => [l.method, l.level]);
      expect(failures).toEqual([
        ['expected', 'debug'],
        ['unexpected', 'warn'],
        ['gone_ignore_errors', 'debug'],
        ['gone', 'warn'],
      ]);
    } finally {
      await server.stop();
      await transport.close();
    }
  });
});

describe('RpcServer layouts (docs/wire.md#layouts)', () => {
  const kolla = { rabbit_quorum_queue: true, rabbit_transient_quorum_queue: true, rabbit_stream_fanout: true, use_queue_manager: true, rabbit_qos_prefetch_count: 1 };
  const echo = (seen: string[]): Endpoint[] => [{ echo: (_c: Dict, a: Dict) => void seen.push(String(a.value)) }];
  const settle = async () => {
    for (let i = 0; i < 6; i++) await new Promise<void>((r) => setImmediate(r));
  };

  it('with use_queue_manager skips a fanout queue name another live process consumes, and keeps its own on stop', async () => {
    const broker = new MemoryBroker();
    const other = broker.connect('other-process');
    await other.assertQueue('t_fanout_node1:svc:1', { durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } });
    await other.consume('t_fanout_node1:svc:1', () => undefined);
    const t = new Transport('memory://', { memoryBroker: broker, rabbit: { use_queue_manager: true, hostname: 'node1', processname: 'svc' } });
    const s = new RpcServer(t, { topic: 't', server: 's1' }, echo([]));
    await s.start(0);
    expect(s.queues[2]).toBe('t_fanout_node1:svc:2');
    await s.stop();
    // queue-manager names are reused after a restart, so a clean stop keeps the queue (impl_rabbit Connection.close)
    expect(broker.listQueues().map((q) => q.name)).toContain('t_fanout_node1:svc:2');
    await t.close();
  });

  it('with rabbit_stream_fanout reads the shared stream from "last" and resumes after the last offset seen on reconnect', async () => {
    const broker = new MemoryBroker();
    const t = new Transport('memory://', { memoryBroker: broker, rabbit: kolla, retryPolicy: { intervalStartMs: 300, intervalStepMs: 10, intervalMaxMs: 500, reconnectDelayMs: 0 } });
    const seen: string[] = [];
    const s = new RpcServer(t, { topic: 't', server: 's1' }, echo(seen));
    await s.start(0);
    expect(s.queues[2]).toBe('t_fanout');
    expect(broker.listConsumers().find((c) => c.queue === 't_fanout')).toMatchObject({ prefetchCount: 1, ackRequired: true });
    const c = new RpcClient(t, { topic: 't', fanout: true });
    await c.cast({}, 'echo', { value: 'f1' });
    await c.cast({}, 'echo', { value: 'f2' });
    await settle();
    expect(seen).toEqual(['f1', 'f2']);
    // the connection dies; fanouts sent meanwhile are all read after the reconnect ("last"
    // would start at f4 and lose f3), and nothing twice
    broker.disconnectAll((name) => t.status().links.some((l) => l.name === name && l.purpose === 'listen'));
    await c.cast({}, 'echo', { value: 'f3' });
    await c.cast({}, 'echo', { value: 'f4' });
    await vi.waitFor(() => expect(seen).toEqual(['f1', 'f2', 'f3', 'f4']), { timeout: 3000 });
    await s.stop();
    expect(broker.listQueues().map((q) => q.name)).toContain('t_fanout');
    await t.close();
  });
});

describe('RpcServer on RabbitMQ 4.3 denying transient non-exclusive queues', () => {
  it('joins a topic whose queues the services made durable, with its own fanout queue exclusive instead of refused', async () => {
    const broker = new MemoryBroker({ deniedDeprecatedFeatures: ['transient_nonexcl_queues'] });
    const svc = broker.connect('services');
    await svc.assertExchange('openstack', 'topic', { durable: true, autoDelete: false });
    for (const q of ['t', 't.py1']) {
      await svc.assertQueue(q, { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'quorum' } });
      await svc.bindQueue(q, 'openstack', q);
    }
    const t = new Transport('memory://', { memoryBroker: broker });
    const seen: string[] = [];
    const s = new RpcServer(t, { topic: 't', server: 's1' }, [{ echo: (_c: Dict, a: Dict) => void seen.push(String(a.value)) }]);
    // its own t.s1 is new and would be transient: that one the broker refuses, with its text
    const refused = await s.start(0).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'BrokerRefusal', code: 541 });
    expect((refused as Error).message).toContain('transient_nonexcl_queues');
    await svc.assertQueue('t.s1', { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'quorum' } });
    await s.start(0);
    expect(broker.listQueues().find((q) => q.name === s.queues[2])).toMatchObject({ exclusive: true, durable: false, arguments: { 'x-expires': 1_800_000 } });
    await new RpcClient(t, { topic: 't', fanout: true }).cast({}, 'echo', { value: 'f' });
    await vi.waitFor(() => expect(seen).toEqual(['f']));
    await s.stop();
    await t.close();
  });
});
