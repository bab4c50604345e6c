/**
 * The contract battery: the same RPC and notification behaviour on the
 * memory driver and on the real RabbitMQ.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BrokerRefusal,
  ConnectionLost,
  ExpectedFailure,
  InvalidTarget,
  MessagingTimeout,
  NotificationFilter,
  NotificationListener,
  NotificationResult,
  Notifier,
  PyFloat,
  RemoteError,
  RpcClient,
  RpcServer,
  type Endpoint,
  type NotificationMessage,
  type RabbitOptions,
  type Transport,
} from '../../server/messaging/index.ts';
import { eventually, memoryHarness, rabbitHarness, uniqueName, type BrokerHarness } from '../support/brokers.ts';

interface Invocation {
  server: string;
  method: string;
  args: Record<string, unknown>;
  ctxt: Record<string, unknown>;
}

function testEndpoints(server: string, log: Invocation[]): Endpoint[] {
  const record = (method: string, ctxt: Record<string, unknown>, args: Record<string, unknown>) => log.push({ server, method, args, ctxt });
  return [
    {
      target: { version: '1.3' },
      echo(ctxt: Record<string, unknown>, args: Record<string, unknown>) {
        record('echo', ctxt, args);
        return args.value;
      },
      whoami(ctxt: Record<string, unknown>, args: Record<string, unknown>) {
        record('whoami', ctxt, args);
        return server;
      },
      echo_ctxt(ctxt: Record<string, unknown>) {
        return ctxt;
      },
      add(_ctxt: Record<string, unknown>, args: Record<string, unknown>) {
        return (args.a as number) + (args.b as number);
      },
      async sleep(_ctxt: Record<string, unknown>, args: Record<string, unknown>) {
        await new Promise((r) => setTimeout(r, (args.secs as number) * 1000));
        return args.secs;
      },
      fail_custom(_ctxt: Record<string, unknown>, args: Record<string, unknown>) {
        throw new ExpectedFailure('InstanceNotFound', 'nova.exception', `Instance ${String(args.name)} could not be found.`, {
          kwargs: { code: 404, instance_id: args.name },
        });
      },
      _hidden() {
        return 'secret';
      },
      unserializable() {
        return { callback: () => 1 };
      },
    },
    {
      target: { namespace: 'ns1', version: '2.1' },
      ns_method(_ctxt: Record<string, unknown>, args: Record<string, unknown>) {
        return { ns: 'ns1', x: args.x };
      },
    },
  ];
}

const harnesses: [string, () => BrokerHarness][] = [
  ['memory', memoryHarness],
  ['rabbit', rabbitHarness],
];

describe.each(harnesses)('contract on %s', (_name, make) => {
  let h: BrokerHarness;
  let serverTransport: Transport;
  let clientTransport: Transport;
  let topic: string;
  let exchange: string;
  const log: Invocation[] = [];
  const servers: RpcServer[] = [];

  beforeAll(async () => {
    h = make();
    topic = uniqueName('contract');
    exchange = uniqueName('ex');
    serverTransport = h.transport({ conf: { control_exchange: exchange } });
    clientTransport = h.transport({ conf: { control_exchange: exchange } });
    for (const name of ['s1', 's2']) {
      const s = new RpcServer(serverTransport, { topic, server: name }, testEndpoints(name, log));
      await s.start(0);
      servers.push(s);
    }
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await h.cleanup();
  });

  afterEach(() => {
    log.length = 0;
  });

  const client = (o: Parameters<RpcClient['prepare']>[0] = {}) =>
    new RpcClient(clientTransport, { topic, version: '1.3' }, { timeout: 10 }).prepare(o);

  it('calls and gets results of every JSON type back', async () => {
    const value = { s: 'é中😀', n: 42, f: 1.5, pf: new PyFloat(2), t: true, nul: null, list: [1, [2, { x: 'y' }]], big: 2n ** 64n };
    const got = (await client().call({ user_id: 'u1' }, 'echo', { value })) as Record<string, unknown>;
    expect(got).toEqual({ s: 'é中😀', n: 42, f: 1.5, pf: 2, t: true, nul: null, list: [1, [2, { x: 'y' }]], big: 2n ** 64n });
    expect(await client().call(null, 'add', { a: 2, b: 3 })).toBe(5);
  });

  it('delivers the context with client_timeout to the endpoint', async () => {
    const ctxt = (await client({ callMonitorTimeout: 4 }).call({ user_id: 'u1', request_id: 'req-1' }, 'echo_ctxt')) as Record<string, unknown>;
    expect(ctxt).toEqual({ user_id: 'u1', request_id: 'req-1', client_timeout: 4 });
  });

  it('casts reach exactly one server of the topic', async () => {
    await client().cast({}, 'echo', { value: 'cast-1' });
    await eventually(() => log.find((i) => i.args.value === 'cast-1'), 'the cast');
    await new Promise((r) => setTimeout(r, 100));
    expect(log.filter((i) => i.args.value === 'cast-1')).toHaveLength(1);
  });

  it('fanout casts reach every server', async () => {
    await client({ fanout: true }).cast({}, 'echo', { value: 'fan-1' });
    await eventually(() => log.filter((i) => i.args.value === 'fan-1').length === 2, 'both servers');
    expect(new Set(log.filter((i) => i.args.value === 'fan-1').map((i) => i.server))).toEqual(new Set(['s1', 's2']));
  });

  it('server-targeted calls go to that server only', async () => {
    for (let i = 0; i < 4; i++) {
      expect(await client({ server: 's2' }).call({}, 'whoami')).toBe('s2');
    }
  });

  it('refuses call() with fanout', async () => {
    await expect(client({ fanout: true }).call({}, 'echo', { value: 1 })).rejects.toBeInstanceOf(InvalidTarget);
  });

  it('times out with oslo text when nobody listens', async () => {
    const started = Date.now();
    const err = (await client({ topic: uniqueName('nobody'), timeout: 0.5 })
      .call({}, 'echo', { value: 1 })
      .catch((e: unknown) => e)) as MessagingTimeout;
    expect(err).toBeInstanceOf(MessagingTimeout);
    expect(err.message).toMatch(/^Timed out waiting for a reply to message ID [0-9a-f]{32}$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(480);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('rebuilds remote failures as RemoteError with class, module, message, traceback and kwargs', async () => {
    const err = (await client()
      .call({}, 'fail_custom', { name: 'vm1' })
      .catch((e: unknown) => e)) as RemoteError;
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.excType).toBe('InstanceNotFound');
    expect(err.module).toBe('nova.exception');
    expect(err.value).toBe('Instance vm1 could not be found.');
    expect(err.kwargs).toEqual({ code: 404, instance_id: 'vm1' });
    expect(err.traceback[0]).toBe('Traceback (most recent call last):\n');
    expect(err.traceback.at(-1)).toBe('nova.exception.InstanceNotFound: Instance vm1 could not be found.\n');
  });

  it('answers a result that cannot be serialized with a TypeError failure instead of silence', async () => {
    const err = (await client().call({}, 'unserializable').catch((e: unknown) => e)) as RemoteError;
    expect(err).toBeInstanceOf(RemoteError);
    expect([err.excType, err.module]).toEqual(['TypeError', 'builtins']);
    expect(err.value).toContain('callback');
  });

  it('routes by namespace and version and fails like the Python dispatcher', async () => {
    expect(await client({ namespace: 'ns1', version: '2.0' }).call({}, 'ns_method', { x: 7 })).toEqual({ ns: 'ns1', x: 7 });
    expect(await client({ version: '1.2' }).call({}, 'add', { a: 1, b: 1 })).toBe(2);
    const noMethod = (await client().call({}, 'nosuch').catch((e: unknown) => e)) as RemoteError;
    expect([noMethod.excType, noMethod.module, noMethod.value]).toEqual([
      'NoSuchMethod',
      'oslo_messaging.rpc.dispatcher',
      'Endpoint does not support RPC method nosuch',
    ]);
    const hidden = (await client().call({}, '_hidden').catch((e: unknown) => e)) as RemoteError;
    expect(hidden.excType).toBe('NoSuchMethod');
    const badVersion = (await client({ version: '1.4' }).call({}, 'add', { a: 1, b: 1 }).catch((e: unknown) => e)) as RemoteError;
    expect([badVersion.excType, badVersion.value]).toEqual(['UnsupportedVersion', 'Endpoint does not support RPC version 1.4. Attempted method: add']);
    const badNs = (await client({ namespace: 'other' }).call({}, 'add', { a: 1, b: 1 }).catch((e: unknown) => e)) as RemoteError;
    expect(badNs.excType).toBe('UnsupportedVersion');
  });

  it('keeps a slow call alive with call-monitor heartbeats, and only when _timeout is set', async () => {
    const before = (await clientTransport.getReplyWaiter()).stats().heartbeats;
    expect(await client({ callMonitorTimeout: 2, timeout: 10 }).call({}, 'sleep', { secs: 2.5 })).toBe(2.5);
    const after = (await clientTransport.getReplyWaiter()).stats().heartbeats;
    expect(after - before).toBe(2);
    expect(await client({ timeout: 10 }).call({}, 'sleep', { secs: 1.2 })).toBe(1.2);
    expect((await clientTransport.getReplyWaiter()).stats().heartbeats).toBe(after);
  });

  it('fails a call whose heartbeats stop within call_monitor_timeout, before the overall timeout', async () => {
    // A server that acks and never answers: the call-monitor timer (1.5 s) fires long before 20 s.
    const silentTopic = uniqueName('silent');
    const silent = new RpcServer(serverTransport, { topic: silentTopic, server: 'x' }, [
      { target: { version: '1.3' }, hang: () => new Promise(() => undefined) },
    ]);
    await silent.start(0);
    try {
      const started = Date.now();
      const err = await client({ topic: silentTopic, timeout: 20, callMonitorTimeout: 1.5 })
        .call({}, 'hang')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MessagingTimeout);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      // the hanging endpoint never returns; do not wait for it
      void silent.stop();
    }
  });

  it('limits the send pool and makes callers wait', async () => {
    const t = h.transport({ conf: { control_exchange: exchange }, rabbit: { rpc_conn_pool_size: 2, conn_pool_min_size: 1 } });
    const c = new RpcClient(t, { topic, version: '1.3' });
    let maxWaiters = 0;
    const off = t.events.on((e) => {
      if (e.type === 'pool:limit') maxWaiters = Math.max(maxWaiters, e.stats.waiters + 1);
    });
    await Promise.all(Array.from({ length: 12 }, (_, i) => c.cast({}, 'echo', { value: `pool-${i}` })));
    off();
    const stats = t.pool.stats();
    expect(stats.max).toBe(2);
    expect(stats.created).toBeLessThanOrEqual(2);
    expect(stats.totalCreated).toBe(2);
    expect(stats.inUse).toBe(0);
    expect(maxWaiters).toBeGreaterThan(0);
    await eventually(() => log.filter((i) => String(i.args.value).startsWith('pool-')).length === 12, 'all pooled casts');
  });

  it('rejects pending calls at once when the reply connection drops, then recovers', async () => {
    const t = h.transport({ conf: { control_exchange: exchange } });
    const c = new RpcClient(t, { topic, version: '1.3' }, { timeout: 30 });
    expect(await c.call({}, 'add', { a: 1, b: 2 })).toBe(3);
    const pending = c.call({}, 'sleep', { secs: 8 });
    pending.catch(() => undefined);
    await eventually(() => t.status().replyWaiter?.pending === 1, 'the pending call');
    expect(await h.killConnections(t)).toBeGreaterThan(0);
    const killed = Date.now();
    await expect(pending).rejects.toBeInstanceOf(ConnectionLost);
    // at once: long before the 8 s call or its 30 s timeout would end it
    expect(Date.now() - killed).toBeLessThan(1500);
    // the reply queue consumer and send links come back by themselves
    expect(await eventually(async () => c.call({}, 'add', { a: 2, b: 2 }).catch(() => undefined), 'a call after recovery', 15_000)).toBe(4);
  });

  it('a server recovers after its connection is killed and keeps serving', async () => {
    const t = h.transport({ conf: { control_exchange: exchange } });
    const rtopic = uniqueName('recover');
    const s = new RpcServer(t, { topic: rtopic, server: 'r1' }, testEndpoints('r1', log));
    await s.start(0);
    try {
      const c = client({ topic: rtopic, timeout: 2 });
      expect(await c.call({}, 'whoami')).toBe('r1');
      expect(await h.killConnections(t)).toBeGreaterThan(0);
      expect(await eventually(async () => c.call({}, 'whoami').catch(() => undefined), 'the server back', 15_000)).toBe('r1');
      expect(t.status().links.some((l) => l.reconnects > 0)).toBe(true);
    } finally {
      await s.stop();
    }
  });

  describe('joining a vhost other services laid out (docs/wire.md#layouts)', () => {
    // What kolla's Python services declared before osloscope arrived: a durable
    // control exchange (Q), quorum topic queues, a durable <topic>_fanout (T)
    // and one stream on it (S). A client or server with oslo's default flags
    // would get 406 inequivalent arg 'durable' redeclaring any of them.
    let lx: string;
    let lt: string;
    let svc: Transport;

    beforeAll(async () => {
      lx = uniqueName('kolla-ex');
      lt = uniqueName('kolla');
      svc = h.transport();
      const link = svc.createLink('listen');
      await link.connect(0);
      await link.assertExchange(lx, 'topic', { durable: true, autoDelete: false });
      for (const q of [lt, `${lt}.py1`]) {
        await link.assertQueue(q, { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'quorum' } });
        await link.bindQueue(q, lx, q);
      }
      await link.assertExchange(`${lt}_fanout`, 'fanout', { durable: true, autoDelete: true });
      await link.assertQueue(`${lt}_fanout`, { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1800s' } });
      await link.bindQueue(`${lt}_fanout`, `${lt}_fanout`, lt);
      await link.close();
    });

    afterAll(async () => {
      const link = svc.createLink('send');
      await link.connect(0);
      for (const q of [lt, `${lt}.py1`, `${lt}_fanout`]) await link.deleteQueue(q).catch(() => undefined);
      await link.close();
    });

    it('a default-layout server joins the quorum topic queues and a default-layout client calls, casts and fans out to it', async () => {
      const t = h.transport({ conf: { control_exchange: lx } });
      const seen: Invocation[] = [];
      const s = new RpcServer(t, { topic: lt, server: 'ts1' }, testEndpoints('ts1', seen));
      await s.start(0);
      try {
        const c = new RpcClient(h.transport({ conf: { control_exchange: lx } }), { topic: lt, version: '1.3' }, { timeout: 10 });
        expect(await c.call({}, 'add', { a: 20, b: 22 })).toBe(42);
        expect(await c.prepare({ server: 'ts1' }).call({}, 'whoami')).toBe('ts1');
        await c.cast({}, 'echo', { value: 'join-cast' });
        await c.prepare({ fanout: true }).cast({}, 'echo', { value: 'join-fanout' });
        await eventually(() => seen.some((i) => i.args.value === 'join-cast') && seen.some((i) => i.args.value === 'join-fanout'), 'cast and fanout');
      } finally {
        await s.stop();
      }
    });

    it.each<[string, Partial<RabbitOptions>]>([
      ['kolla (Q+T+S+M, prefetch 1)', { rabbit_quorum_queue: true, rabbit_transient_quorum_queue: true, rabbit_stream_fanout: true, use_queue_manager: true, rabbit_qos_prefetch_count: 1 }],
      ['helm (D+T+M)', { amqp_durable_queues: true, rabbit_transient_quorum_queue: true, use_queue_manager: true }],
    ])('servers and clients configured %s serve calls, casts and fanouts to every server', async (_name, rabbit) => {
      const ltopic = uniqueName('layout');
      const lex = uniqueName('layout-ex');
      const seen: Invocation[] = [];
      const servers: RpcServer[] = [];
      try {
        for (const name of ['k1', 'k2']) {
          const s = new RpcServer(h.transport({ conf: { control_exchange: lex }, rabbit }), { topic: ltopic, server: name }, testEndpoints(name, seen));
          await s.start(0);
          servers.push(s);
        }
        if (rabbit.rabbit_stream_fanout) expect(servers.map((s) => s.queues[2])).toEqual([`${ltopic}_fanout`, `${ltopic}_fanout`]);
        else for (const s of servers) expect(s.queues[2]).toMatch(new RegExp(`^${ltopic}_fanout_[^:]+:contract-[0-9a-f]+:1$`));
        const c = new RpcClient(h.transport({ conf: { control_exchange: lex }, rabbit }), { topic: ltopic, version: '1.3' }, { timeout: 10 });
        expect(await c.call({}, 'add', { a: 3, b: 4 })).toBe(7);
        expect(await c.prepare({ server: 'k2' }).call({}, 'whoami')).toBe('k2');
        for (const v of ['fan-a', 'fan-b']) await c.prepare({ fanout: true }).cast({}, 'echo', { value: v });
        await eventually(() => seen.filter((i) => String(i.args.value).startsWith('fan-')).length === 4, 'both fanouts on both servers');
        expect(seen.filter((i) => i.args.value === 'fan-a').map((i) => i.server).sort()).toEqual(['k1', 'k2']);
      } finally {
        await Promise.all(servers.map((s) => s.stop()));
        const link = svc.createLink('send');
        await link.connect(0);
        for (const q of [ltopic, `${ltopic}.k1`, `${ltopic}.k2`, `${ltopic}_fanout`, ...servers.map((s) => s.queues[2])]) {
          await link.deleteQueue(q).catch(() => undefined);
        }
        await link.close();
      }
    });

    it('a default-layout notifier and listener use the quorum notification queue the services declared', async () => {
      const ntopic = uniqueName('kolla-notif');
      const link = svc.createLink('send');
      await link.connect(0);
      await link.assertQueue(`${ntopic}.info`, { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'quorum' } });
      await link.bindQueue(`${ntopic}.info`, lx, `${ntopic}.info`);
      const got: unknown[] = [];
      const listener = new NotificationListener(h.transport({ conf: { control_exchange: lx } }), [{ topic: ntopic }], [
        { info: (_c: unknown, _p: unknown, eventType: unknown) => void got.push(eventType) },
      ]);
      try {
        const n = new Notifier(h.transport({ conf: { control_exchange: lx } }), { publisherId: 'p', topics: [ntopic] });
        await n.info({}, 'compute.instance.create.end', {});
        await listener.start(0);
        await eventually(() => got.length === 1, 'the notification');
        expect(got).toEqual(['compute.instance.create.end']);
      } finally {
        await listener.stop();
        await link.deleteQueue(`${ntopic}.info`).catch(() => undefined);
        await link.close();
      }
    });

    it('a quorum-configured client fires on a vhost whose services kept the default non-durable exchanges', async () => {
      const c = new RpcClient(
        h.transport({ conf: { control_exchange: exchange }, rabbit: { rabbit_quorum_queue: true, rabbit_transient_quorum_queue: true } }),
        { topic, version: '1.3' },
        { timeout: 10 },
      );
      expect(await c.call({}, 'add', { a: 1, b: 1 })).toBe(2);
      await c.prepare({ fanout: true }).cast({}, 'echo', { value: 'quorum-fanout' });
      await eventually(() => log.filter((i) => i.args.value === 'quorum-fanout').length === 2, 'both default-layout servers');
    });

    it('a broker refusal is a BrokerRefusal with the code and the broker text, never retried', async () => {
      const c = new RpcClient(h.transport(), { topic: 'x', exchange: 'amq.rabbitmq.trace' }, { timeout: 5, retry: null });
      const started = Date.now();
      const err = (await c.cast({}, 'echo', {}).catch((e: unknown) => e)) as BrokerRefusal;
      expect(err).toBeInstanceOf(BrokerRefusal);
      expect(err.code).toBe(403);
      expect(err.replyText).toMatch(/^ACCESS_REFUSED - .*internal exchange 'amq\.rabbitmq\.trace'/);
      expect(Date.now() - started).toBeLessThan(3000);
      // a plain declare with other flags is refused the same way, and says which argument
      const link = svc.createLink('send');
      try {
        const declare = (await link.assertExchange(lx, 'topic', { durable: false, autoDelete: false }).catch((e: unknown) => e)) as BrokerRefusal;
        expect(declare).toBeInstanceOf(BrokerRefusal);
        expect(declare.code).toBe(406);
        const vhost = h.name === 'rabbit' ? (process.env.TEST_VHOST ?? '/') : '/';
        expect(declare.replyText).toBe(`PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '${lx}' in vhost '${vhost}': received 'false' but current is 'true'`);
      } finally {
        await link.close();
      }
    });
  });

  describe('notifications', () => {
    const received: { listener: string; m: NotificationMessage }[] = [];
    const listeners: NotificationListener[] = [];
    let ntopic: string;

    const endpoint = (listener: string, extra: Partial<Record<string, unknown>> = {}) => ({
      info: (ctxt: Record<string, unknown>, publisher_id: unknown, event_type: unknown, payload: unknown, metadata: { message_id: unknown; timestamp: unknown }) => {
        received.push({ listener, m: { ctxt, publisher_id, event_type, payload, metadata, priority: 'info' } });
      },
      error: (ctxt: Record<string, unknown>, publisher_id: unknown, event_type: unknown, payload: unknown, metadata: { message_id: unknown; timestamp: unknown }) => {
        received.push({ listener, m: { ctxt, publisher_id, event_type, payload, metadata, priority: 'error' } });
      },
      ...extra,
    });

    beforeAll(async () => {
      ntopic = uniqueName('notifications');
      for (const [name, pool] of [
        ['poolA', 'poolA-' + ntopic],
        ['poolB', 'poolB-' + ntopic],
      ]) {
        const l = new NotificationListener(serverTransport, [{ topic: ntopic }], [endpoint(name)], { pool });
        await l.start(0);
        listeners.push(l);
      }
    });

    afterAll(async () => {
      await Promise.all(listeners.map((l) => l.stop()));
    });

    afterEach(() => {
      received.length = 0;
    });

    it('delivers v2 and v1 notifications to every pool with metadata and a sanitized context', async () => {
      for (const driver of ['messagingv2', 'messaging'] as const) {
        const n = new Notifier(clientTransport, { publisherId: 'compute.host1', driver, topics: [ntopic] });
        await n.info({ user_id: 'u1', auth_token: 'SECRET', request_id: 'req-9' }, 'compute.instance.create.end', { driver });
      }
      await eventually(() => received.length === 4, 'four copies (2 pools × 2 messages)');
      for (const pool of ['poolA', 'poolB']) {
        const mine = received.filter((r) => r.listener === pool).map((r) => r.m);
        expect(mine.map((m) => (m.payload as { driver: string }).driver).sort()).toEqual(['messaging', 'messagingv2']);
        for (const m of mine) {
          expect(m.publisher_id).toBe('compute.host1');
          expect(m.event_type).toBe('compute.instance.create.end');
          expect(m.ctxt).toEqual({ user_id: 'u1', request_id: 'req-9' });
          expect(m.metadata.message_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
          expect(m.metadata.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$/);
        }
      }
    });

    it('pool-less listeners on one topic compete for messages', async () => {
      const ctopic = uniqueName('compete');
      const a = new NotificationListener(serverTransport, [{ topic: ctopic }], [endpoint('a')]);
      const b = new NotificationListener(serverTransport, [{ topic: ctopic }], [endpoint('b')]);
      await a.start(0);
      await b.start(0);
      try {
        const n = new Notifier(clientTransport, { publisherId: 'p', topics: [ctopic] });
        for (let i = 0; i < 6; i++) await n.error({}, 'x.y', { i });
        await eventually(() => received.length === 6, 'six notifications');
        await new Promise((r) => setTimeout(r, 100));
        expect(received).toHaveLength(6);
        expect(new Set(received.map((r) => (r.m.payload as { i: number }).i)).size).toBe(6);
        expect(new Set(received.map((r) => r.listener))).toEqual(new Set(['a', 'b']));
      } finally {
        await a.stop();
        await b.stop();
      }
    });

    it('batches, filters, and requeues when allowed', async () => {
      const btopic = uniqueName('batch');
      const batches: NotificationMessage[][] = [];
      let seen = 0;
      const batch = new NotificationListener(
        serverTransport,
        [{ topic: btopic }],
        [
          {
            filterRule: new NotificationFilter({ eventType: '^keep\\.' }),
            info: (messages: NotificationMessage[]) => {
              seen += 1;
              // the first batch is refused once, then handled
              if (seen === 1) return NotificationResult.REQUEUE;
              batches.push(messages);
              return NotificationResult.HANDLED;
            },
          },
        ],
        { batchSize: 3, batchTimeout: 0.3, allowRequeue: true },
      );
      await batch.start(0);
      try {
        const n = new Notifier(clientTransport, { publisherId: 'p', topics: [btopic] });
        for (const et of ['keep.a', 'drop.b', 'keep.c']) await n.info({}, et, {});
        await eventually(() => batches.flat().length >= 2, 'the filtered batch after a requeue');
        expect(batches.flat().map((m) => m.event_type).sort()).toEqual(['keep.a', 'keep.c']);
        expect(batch.counters.requeued).toBeGreaterThan(0);
      } finally {
        await batch.stop();
      }
    });
  });
});
