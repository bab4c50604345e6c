/**
 * The Tap on the memory transport (the embedded demo's broker): bindings,
 * firehose, mode detection, discovery, recovery, bounded queues. The real
 * RabbitMQ and Python services are in test/integration and test/interop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TapEvent } from '../../lib/tap-contracts.ts';
import { MemoryBroker, Notifier, RpcClient, RpcServer, Transport, type Endpoint } from '../messaging/index.ts';
import { STATS_NOT_REPORTED } from './broker-view.ts';
import { MemoryInspector, PassiveInspector, type InspectedQueue } from './inspector.ts';
import { Tap, TAP_QUEUE_PREFIX, type TapOptions } from './tap.ts';
import { waitFor } from './test-support.ts';

const FAST_RETRY = { intervalStartMs: 20, intervalStepMs: 20, intervalMaxMs: 100, reconnectDelayMs: 0 };

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

function setup() {
  const broker = new MemoryBroker();
  const transport = (prog: string) => {
    const t = new Transport('memory://', { memoryBroker: broker, programName: prog, retryPolicy: FAST_RETRY });
    cleanups.push(() => t.close());
    return t;
  };
  const invoked: string[] = [];
  const endpoints = (server: string): Endpoint[] => [
    {
      echo: (_c: unknown, a: Record<string, unknown>) => {
        invoked.push(`${server}:echo:${String(a.value)}`);
        return a.value;
      },
      sleep: async (_c: unknown, a: Record<string, unknown>) => {
        await new Promise((r) => setTimeout(r, Number(a.ms)));
        return 'slept';
      },
    },
  ];
  const server = async (topic: string, name: string) => {
    const s = new RpcServer(transport(`nova-${name}`), { topic, server: name }, endpoints(name));
    await s.start();
    cleanups.push(() => s.stop());
    return s;
  };
  const tap = async (options: Partial<TapOptions> = {}) => {
    const t = new Tap({ transport: transport('osloscope'), intervals: { tickMs: 50, discoveryMs: 100, modeCheckMs: 100, rebuildAfterMs: 100 }, ...options });
    const events: TapEvent[] = [];
    t.on((e) => events.push(e));
    await t.start();
    cleanups.push(() => t.stop());
    return { tap: t, events };
  };
  return { broker, transport, server, tap, invoked };
}

describe('Tap on the memory transport', () => {
  it('bindings mode: capped exclusive queue bound to existing exchanges only, every kind seen, replies not, services get everything', async () => {
    const env = setup();
    await env.server('compute', 'host1');
    const { tap, events } = await env.tap({ mode: 'auto' });
    const st = tap.status();
    expect(st).toMatchObject({ mode: 'bindings', requestedMode: 'auto', canSeeReplies: false, inspector: 'memory', firehose: { on: false, detectedBy: 'memory', canEnable: true } });
    expect(st.hint).toMatch(/rabbitmqctl trace_on -p \//);
    expect(st.tappedExchanges).toEqual(['openstack']);
    expect(st.fanoutExchanges).toEqual(['compute_fanout']);
    // never creates an exchange that was not there: no nova, neutron, ... exchanges appeared
    expect(env.broker.listExchanges().map((x) => x.name).filter((n) => !n.startsWith('amq.') && n !== '')).toEqual(['compute_fanout', 'openstack']);
    const q = env.broker.listQueues().find((x) => x.name === st.tapQueues.find((n) => !n.endsWith('-firehose')));
    expect(q).toMatchObject({ exclusive: true, autoDelete: true, durable: false, arguments: { 'x-max-length': 100_000, 'x-overflow': 'drop-head', 'x-message-ttl': 60_000 } });

    const client = new RpcClient(env.transport('nova-api'), { topic: 'compute' });
    expect(await client.call({ auth_token: 'TOKEN-1', request_id: 'req-7' }, 'echo', { value: 1 })).toBe(1);
    await client.prepare({ server: 'host1' }).cast({}, 'echo', { value: 2 });
    await client.prepare({ fanout: true }).cast({}, 'echo', { value: 3 });
    await new Notifier(env.transport('nova-compute'), { publisherId: 'compute.host1' }).info({ user_id: 'u' }, 'compute.instance.update', { password: 'pw', id: 'i' });
    await waitFor(() => tap.recent().length >= 4, 'four messages');
    await waitFor(() => env.invoked.length === 3, 'server invocations');
    expect(env.invoked.sort()).toEqual(['host1:echo:1', 'host1:echo:2', 'host1:echo:3']);
    const seen = tap.recent().map((m) => [m.kind, m.topic, m.server, m.method ?? m.eventType]);
    expect(seen).toEqual([
      ['call', 'compute', null, 'echo'],
      ['cast', 'compute', 'host1', 'echo'],
      ['fanout', 'compute', null, 'echo'],
      ['notification', 'notifications', null, 'compute.instance.update'],
    ]);
    // no reply in bindings mode
    expect(tap.recent({ filter: 'kind:reply' })).toEqual([]);
    const out = JSON.stringify({ recent: tap.recent(), calls: tap.calls(), events });
    expect(out).not.toContain('TOKEN-1');
    expect(out).not.toContain('"pw"');
    expect(events.filter((e) => e.type === 'tap:message')).toHaveLength(4);
    expect(tap.snapshot().rates.totalsByKind).toMatchObject({ call: 1, cast: 1, fanout: 1, notification: 1 });
    expect(tap.calls({ state: 'inflight' })).toHaveLength(1);
  });

  it('picks up a new fanout exchange while running, from the exchange list and from observed traffic', async () => {
    const env = setup();
    const { tap } = await env.tap({ mode: 'bindings' });
    expect(tap.status().fanoutExchanges).toEqual([]);
    await env.server('network', 'agent1');
    await waitFor(() => tap.status().fanoutExchanges.includes('network_fanout'), 'network_fanout bound from the exchange list');

    // no exchange listing: seeing traffic for topic T passively checks T_fanout and binds it
    const env2 = setup();
    await env2.server('volume', 'v1');
    const blind = new PassiveInspector('/', async () => null, () => []);
    const { tap: tap2 } = await env2.tap({ mode: 'bindings', inspector: blind });
    expect(tap2.status()).toMatchObject({ inspector: 'passive', fanoutExchanges: [] });
    await new RpcClient(env2.transport('cinder-api'), { topic: 'volume' }).cast({}, 'echo', { value: 'x' });
    await waitFor(() => tap2.status().fanoutExchanges.includes('volume_fanout'), 'volume_fanout bound after traffic');
    await new RpcClient(env2.transport('cinder-api'), { topic: 'volume', fanout: true }).cast({}, 'echo', { value: 'y' });
    await waitFor(() => tap2.recent({ filter: 'kind:fanout' }).length === 1, 'fanout seen');
  });

  it('firehose mode: replies, deliveries and a complete call timeline with the caller and server processes', async () => {
    const env = setup();
    env.broker.setTracing(true);
    await env.server('compute', 'host1');
    const { tap } = await env.tap({ mode: 'auto' });
    expect(tap.status()).toMatchObject({ mode: 'firehose', canSeeReplies: true, hint: null, firehose: { on: true, detectedBy: 'memory' } });
    const client = new RpcClient(env.transport('nova-api'), { topic: 'compute' });
    await client.call({ auth_token: 'TOKEN-2' }, 'echo', { value: 5 });
    await waitFor(() => tap.calls({ state: 'done' }).length === 1, 'call done');
    await tap.tick();
    const [c] = tap.calls();
    expect(c).toMatchObject({ method: 'echo', state: 'done', outcome: 'result', caller: { process: `nova-api:${process.pid}` }, serverProcess: `nova-host1:${process.pid}` });
    expect(c.timeline.map((e) => e.event)).toEqual(['published', 'routed', 'delivered', 'reply_published', 'reply_delivered']);
    expect(tap.recent({ filter: 'kind:reply' })).toHaveLength(1);
    expect(tap.latency().series[0]).toMatchObject({ count: 1, labels: { method: 'echo', topic: 'compute' } });
    expect(JSON.stringify(tap.recent())).not.toContain('TOKEN-2');
    const groups = tap.callGroups({ state: 'done' });
    expect(groups).toHaveLength(1);
    expect(groups[0].process).toBe(`nova-api:${process.pid}`);
  });

  it('enableFirehose() turns tracing on and switches; a trace arriving in auto bindings mode switches too', async () => {
    const env = setup();
    const { tap, events } = await env.tap({ mode: 'auto' });
    expect(tap.status().mode).toBe('bindings');
    const st = await tap.enableFirehose();
    expect(env.broker.isTracing).toBe(true);
    expect(st.mode).toBe('firehose');
    expect(events.some((e) => e.type === 'tap:status' && e.status.mode === 'firehose')).toBe(true);
    // the bindings queue is gone after the switch
    expect(env.broker.listQueues().filter((q) => q.name.startsWith(TAP_QUEUE_PREFIX)).map((q) => q.name.endsWith('-firehose'))).toEqual([true]);

    const env2 = setup();
    await env2.server('compute', 'h');
    const { tap: tap2 } = await env2.tap({ mode: 'auto', intervals: { modeCheckMs: 3_600_000 } });
    expect(tap2.status().mode).toBe('bindings');
    env2.broker.setTracing(true);
    await new RpcClient(env2.transport('nova-api'), { topic: 'compute' }).cast({}, 'echo', { value: 1 });
    await waitFor(() => tap2.status().mode === 'firehose', 'switch to firehose on the first trace');
  });

  it('without an API, probes the firehose by publishing to its own queue', async () => {
    for (const tracing of [true, false]) {
      const env = setup();
      env.broker.setTracing(tracing);
      const blind = new PassiveInspector('/', async () => null, () => []);
      const { tap } = await env.tap({ mode: 'auto', inspector: blind, probeTimeoutMs: 300 });
      expect(tap.status()).toMatchObject({ mode: tracing ? 'firehose' : 'bindings', firehose: { on: tracing, detectedBy: 'probe', canEnable: false } });
      // the probe is not traffic
      expect(tap.status().counters.received).toBe(0);
      await expect(tap.enableFirehose()).rejects.toThrow(/rabbitmqctl trace_on/);
    }
  });

  it('a broker view whose counts the management API left out (statistics disabled) gets them from passive declares', async () => {
    const env = setup();
    await env.server('compute', 'host1');
    // the memory broker's views, with the counts left out as RabbitMQ does with management.disable_stats
    const memory = new MemoryInspector(env.broker);
    const blind = Object.assign(Object.create(memory) as MemoryInspector, {
      source: 'management' as const,
      queues: async (): Promise<InspectedQueue[]> => (await memory.queues()).map((q) => ({ ...q, messages: null, consumers: null })),
    });
    const { tap } = await env.tap({ mode: 'bindings', inspector: blind });
    // a call: the client's reply queue and its consumer
    expect(await new RpcClient(env.transport('nova-api'), { topic: 'compute' }).call({}, 'echo', { value: 1 })).toBe(1);
    const view = await tap.brokerView();
    const by = Object.fromEntries(view.queues.map((q) => [q.name, q]));
    expect(by['compute']).toMatchObject({ kind: 'topic', depth: 0, consumers: 1 });
    expect(by['compute.host1']).toMatchObject({ kind: 'server', depth: 0, consumers: 1 });
    expect(view.queues.find((q) => q.kind === 'fanout')).toMatchObject({ consumers: 1, health: 'ok', note: null });
    // osloscope's own reply queue is exclusive: never asked (the broker would refuse another connection and close the channel)
    expect(view.queues.find((q) => q.kind === 'reply')).toMatchObject({ consumers: null, health: 'ok', note: STATS_NOT_REPORTED });
    // the tap's own queues are neither listed nor asked about
    expect(view.queues.some((q) => q.name.startsWith(TAP_QUEUE_PREFIX))).toBe(false);
  });

  it("its queues disappear when it stops, and it never consumes a service's queue", async () => {
    const env = setup();
    await env.server('compute', 'host1');
    const { tap } = await env.tap({ mode: 'auto' });
    const consumers = env.broker.listConsumers().filter((c) => c.connectionName === tap.connectionName);
    expect(consumers.length).toBeGreaterThan(0);
    expect(consumers.every((c) => c.queue.startsWith(TAP_QUEUE_PREFIX))).toBe(true);
    await tap.stop();
    expect(env.broker.listQueues().filter((q) => q.name.startsWith(TAP_QUEUE_PREFIX))).toEqual([]);
    expect(tap.status().state).toBe('stopped');
  });

  it('recovers after its connection is killed, and skips (then re-binds) a fanout exchange that vanished meanwhile', async () => {
    const env = setup();
    await env.server('compute', 'host1');
    const { tap } = await env.tap({ mode: 'bindings' });
    const client = new RpcClient(env.transport('nova-api'), { topic: 'compute' });
    expect(env.broker.disconnectAll((n) => n === tap.connectionName)).toBe(1);
    await waitFor(() => tap.status().state === 'running' && env.broker.listConsumers().some((c) => c.connectionName === tap.connectionName), 'recovered');
    await client.cast({}, 'echo', { value: 'after-kill' });
    await waitFor(() => tap.recent({ filter: 'after-kill' }).length === 1, 'traffic after recovery');

    // a fanout exchange that vanishes while we are disconnected: the replay skips its binding (no 404, which
    // used to end recovery), counts it, and the tap binds it again once a server declares it again
    const env2 = setup();
    const s = await env2.server('network', 'a1');
    const { tap: tap2 } = await env2.tap({ mode: 'bindings' });
    expect(tap2.status().fanoutExchanges).toEqual(['network_fanout']);
    await s.stop();
    env2.broker.disconnectAll((n) => n === tap2.connectionName);
    // our exclusive queue died with the connection, so the auto-delete fanout exchange went with its last binding
    expect(env2.broker.listExchanges().some((x) => x.name === 'network_fanout')).toBe(false);
    await waitFor(() => tap2.status().state === 'running' && tap2.connectionName !== null && env2.broker.listConsumers().some((c) => c.connectionName === tap2.connectionName), 'recovered', 10_000);
    expect(tap2.status().fanoutExchanges).toEqual([]);
    expect(tap2.status().recovery).toMatchObject({ reconnects: 1, rebuilds: 0, skipped: 1, awaiting: ['network_fanout'] });
    await new RpcClient(env2.transport('neutron'), { topic: 'network' }).cast({}, 'echo', { value: 'recovered' });
    await waitFor(() => tap2.recent({ filter: 'recovered' }).length === 1, 'traffic after recovery');
    await env2.server('network', 'a2');
    await waitFor(() => tap2.status().fanoutExchanges.includes('network_fanout'), 'network_fanout bound again', 5000);
    expect(tap2.status().recovery?.awaiting).toEqual([]);
  });

  it('comes back after a broker restart, with servers re-declaring their exchanges around it', async () => {
    const env = setup();
    await env.server('compute', 'host1');
    const { tap } = await env.tap({ mode: 'bindings' });
    env.broker.stop();
    await waitFor(() => tap.status().state === 'recovering', 'recovering');
    await new Promise((r) => setTimeout(r, 100));
    env.broker.start();
    await waitFor(() => tap.status().state === 'running', 'running again', 10_000);
    const client = new RpcClient(env.transport('nova-api'), { topic: 'compute' });
    await waitFor(async () => {
      await client.cast({}, 'echo', { value: 'restarted' });
      return tap.recent({ filter: 'restarted' }).length > 0;
    }, 'traffic after the restart', 10_000, 200);
    await waitFor(() => tap.status().fanoutExchanges.includes('compute_fanout'), 'compute_fanout bound again', 10_000);
  });

  it('firehose: classifies unroutable and no_consumer calls past their deadline', async () => {
    const env = setup();
    env.broker.setTracing(true);
    const s = await env.server('compute', 'host1');
    const { tap } = await env.tap({ mode: 'firehose' });
    const client = new RpcClient(env.transport('nova-api'), { topic: 'nowhere' }, { timeout: 0.2 });
    await expect(client.call({}, 'echo', { value: 1 })).rejects.toThrow(/Timed out/);
    await s.stop();
    await expect(client.prepare({ topic: 'compute' }).call({}, 'echo', { value: 2 })).rejects.toThrow(/Timed out/);
    await waitFor(() => tap.calls({ state: 'stuck' }).length === 2, 'two stuck calls', 5000);
    const byTopic = Object.fromEntries(tap.calls({ state: 'stuck' }).map((c) => [c.target.topic, c.cause]));
    expect(byTopic).toEqual({ nowhere: 'unroutable', compute: 'no_consumer' });
    expect(tap.snapshot().calls.byCause).toMatchObject({ unroutable: 1, no_consumer: 1 });
  });

  it('gives a broker view of oslo queues with consumer processes, leaving its own queues out', async () => {
    const env = setup();
    await env.server('compute', 'host1');
    const { tap } = await env.tap({ mode: 'bindings' });
    await new RpcClient(env.transport('nova-api'), { topic: 'compute' }).call({}, 'echo', { value: 1 });
    const view = await tap.brokerView();
    expect(view).toMatchObject({ source: 'memory', complete: true, vhost: '/' });
    expect(view.queues.find((q) => q.name === 'compute')).toMatchObject({ kind: 'topic', consumers: 1, consumerProcesses: [`nova-host1:${process.pid}`] });
    expect(view.queues.find((q) => q.name === 'compute.host1')).toMatchObject({ kind: 'server', server: 'host1' });
    expect(view.queues.filter((q) => q.kind === 'reply')).toHaveLength(1);
    expect(view.queues.some((q) => q.name.startsWith(TAP_QUEUE_PREFIX))).toBe(false);
    expect(view.connections.processes.map((p) => p.process).sort()).toEqual([`nova-api:${process.pid}`, `nova-host1:${process.pid}`, `osloscope:${process.pid}`].sort());
  });

  it('mode off watches nothing', async () => {
    const env = setup();
    const { tap } = await env.tap({ mode: 'off' });
    expect(tap.status()).toMatchObject({ mode: 'off', state: 'running', tapQueues: [] });
    expect(env.broker.listConnections()).toEqual([]);
  });

  it('one tap per broker: two taps side by side each watch their own broker, and stopping one leaves the other tapping', async () => {
    const a = setup();
    const b = setup();
    await a.server('compute', 'a1');
    await b.server('network', 'b1');
    const ta = await a.tap({ mode: 'auto' });
    const tb = await b.tap({ mode: 'auto' });
    await tb.tap.enableFirehose();
    expect(ta.tap.status()).toMatchObject({ mode: 'bindings', fanoutExchanges: ['compute_fanout'] });
    expect(tb.tap.status()).toMatchObject({ mode: 'firehose', canSeeReplies: true });
    expect(ta.tap.connectionName).not.toBe(tb.tap.connectionName);

    await new RpcClient(a.transport('nova-api'), { topic: 'compute' }).call({}, 'echo', { value: 'to-a' });
    await new RpcClient(b.transport('neutron-api'), { topic: 'network' }).call({}, 'echo', { value: 'to-b' });
    await waitFor(() => ta.tap.calls().length === 1 && tb.tap.calls().some((c) => c.state === 'done'), 'each call on its own tap');
    expect(ta.tap.recent().map((m) => m.topic)).toEqual(['compute']);
    expect(new Set(tb.tap.recent().map((m) => m.topic ?? 'reply'))).toEqual(new Set(['network', 'reply']));

    await ta.tap.stop();
    expect(ta.tap.status().state).toBe('stopped');
    await new RpcClient(b.transport('neutron-api'), { topic: 'network' }).call({}, 'echo', { value: 'again' });
    await waitFor(() => tb.tap.calls().filter((c) => c.state === 'done').length === 2, 'the other tap still tapping');
    expect(tb.tap.status().state).toBe('running');
  });
});
