import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import {
  consumerArguments,
  controlExchange,
  DEFAULT_TOPOLOGY,
  fanoutExchange,
  fanoutQueue,
  QueueManager,
  replyQueue,
  topologyOptions,
  durable,
  FANOUT_EXCHANGE,
  fanoutExchangeName,
  fanoutQueueName,
  notificationQueue,
  notificationRoutingKey,
  queueArguments,
  replyQueueName,
  topicQueue,
  topicRoutingKey,
  transientQueue,
  type TopologyOptions,
} from './topology.ts';

const opts = (o: Partial<TopologyOptions> = {}): TopologyOptions => ({ ...DEFAULT_TOPOLOGY, ...o });

/** Arguments with their insertion order made visible (order is what goes on the wire). */
const entries = (args: Record<string, unknown> | undefined) => Object.entries(args ?? {});

describe('queueArguments (impl_rabbit._get_queue_arguments)', () => {
  // Each expectation is what Python's _get_queue_arguments returns for the same inputs.
  it('is empty by default and adds x-expires only for a positive ttl', () => {
    expect(entries(queueArguments(opts(), 0, false))).toEqual([]);
    expect(entries(queueArguments(opts(), 1800, false))).toEqual([['x-expires', 1_800_000]]);
    expect(entries(queueArguments(opts(), 1, false))).toEqual([['x-expires', 1000]]);
  });

  it('puts x-ha-policy first', () => {
    expect(entries(queueArguments(opts({ rabbit_ha_queues: true }), 1800, false))).toEqual([
      ['x-ha-policy', 'all'],
      ['x-expires', 1_800_000],
    ]);
  });

  it('adds the quorum keys in order, each only when its option is non-zero', () => {
    expect(entries(queueArguments(opts(), 0, true))).toEqual([['x-queue-type', 'quorum']]);
    const all = opts({ rabbit_quorum_delivery_limit: 5, rabbit_quorum_max_memory_length: 1000, rabbit_quorum_max_memory_bytes: 2048 });
    expect(entries(queueArguments(all, 60, true))).toEqual([
      ['x-queue-type', 'quorum'],
      ['x-delivery-limit', 5],
      ['x-max-in-memory-length', 1000],
      ['x-max-in-memory-bytes', 2048],
      ['x-expires', 60_000],
    ]);
    expect(entries(queueArguments(opts({ rabbit_quorum_max_memory_bytes: 7 }), 0, true))).toEqual([
      ['x-queue-type', 'quorum'],
      ['x-max-in-memory-bytes', 7],
    ]);
    // the quorum settings mean nothing for a queue that is not quorum
    expect(entries(queueArguments(all, 60, false))).toEqual([['x-expires', 60_000]]);
  });

  it('refuses HA together with quorum, but only for a quorum queue', () => {
    const both = opts({ rabbit_ha_queues: true, rabbit_quorum_queue: true });
    expect(() => queueArguments(both, 0, true)).toThrow(RangeError);
    expect(entries(queueArguments(both, 1800, false))).toEqual([
      ['x-ha-policy', 'all'],
      ['x-expires', 1_800_000],
    ]);
  });
});

describe('docs/wire.md#names-and-flags flags per use and option combination', () => {
  it('defaults: non-durable topic exchange, plain topic queues, transient queues with x-expires 1800 s', () => {
    const o = opts();
    expect(durable(o)).toBe(false);
    expect(controlExchange(o)).toEqual({ durable: false, autoDelete: false });
    expect(topicQueue(o)).toEqual({ durable: false, autoDelete: false, arguments: {} });
    expect(notificationQueue(o)).toEqual({ durable: false, autoDelete: false, arguments: {} });
    expect(transientQueue(o)).toEqual({ durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } });
    expect(FANOUT_EXCHANGE).toEqual({ durable: false, autoDelete: true });
  });

  it('amqp_durable_queues makes the control exchange, topic and notification queues durable, never transient ones', () => {
    const o = opts({ amqp_durable_queues: true });
    expect(controlExchange(o)).toEqual({ durable: true, autoDelete: false });
    expect(topicQueue(o)).toEqual({ durable: true, autoDelete: false, arguments: {} });
    expect(notificationQueue(o)).toEqual({ durable: true, autoDelete: false, arguments: {} });
    expect(transientQueue(o)).toEqual({ durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } });
  });

  it('amqp_auto_delete applies to the control exchange, topic and notification queues only', () => {
    const o = opts({ amqp_auto_delete: true });
    expect(controlExchange(o)).toEqual({ durable: false, autoDelete: true });
    expect(topicQueue(o)).toMatchObject({ autoDelete: true });
    expect(notificationQueue(o)).toMatchObject({ autoDelete: true });
    expect(transientQueue(o)).toMatchObject({ autoDelete: false });
  });

  it('rabbit_quorum_queue implies durable and makes topic and notification queues quorum, not transient ones (14.0.3)', () => {
    const o = opts({ rabbit_quorum_queue: true, rabbit_quorum_delivery_limit: 3 });
    expect(durable(o)).toBe(true);
    expect(controlExchange(o)).toEqual({ durable: true, autoDelete: false });
    expect(entries(topicQueue(o).arguments)).toEqual([
      ['x-queue-type', 'quorum'],
      ['x-delivery-limit', 3],
    ]);
    expect(topicQueue(o)).toMatchObject({ durable: true });
    expect(notificationQueue(o)).toEqual(topicQueue(o));
    expect(transientQueue(o)).toEqual({ durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } });
  });

  it('rabbit_ha_queues adds x-ha-policy everywhere, before x-expires', () => {
    const o = opts({ rabbit_ha_queues: true, rabbit_transient_queues_ttl: 60 });
    expect(topicQueue(o).arguments).toEqual({ 'x-ha-policy': 'all' });
    expect(notificationQueue(o).arguments).toEqual({ 'x-ha-policy': 'all' });
    expect(entries(transientQueue(o).arguments)).toEqual([
      ['x-ha-policy', 'all'],
      ['x-expires', 60_000],
    ]);
  });

  it('HA with quorum fails for topic and notification queues', () => {
    const o = opts({ rabbit_ha_queues: true, rabbit_quorum_queue: true });
    expect(() => topicQueue(o)).toThrow(RangeError);
    expect(() => notificationQueue(o)).toThrow(RangeError);
  });

  it('never puts x-expires on topic or notification queues', () => {
    const o = opts({ rabbit_transient_queues_ttl: 5 });
    expect(topicQueue(o).arguments).toEqual({});
    expect(notificationQueue(o).arguments).toEqual({});
    expect(transientQueue(o).arguments).toEqual({ 'x-expires': 5000 });
  });
});

describe('names and routing keys', () => {
  it('names fanout exchanges and queues, and reply queues, with uuid4 hex', () => {
    expect(fanoutExchangeName('compute')).toBe('compute_fanout');
    expect(fanoutQueueName('compute')).toMatch(/^compute_fanout_[0-9a-f]{32}$/);
    expect(replyQueueName()).toMatch(/^reply_[0-9a-f]{32}$/);
    expect(replyQueueName()).not.toBe(replyQueueName());
  });

  it('routes to <topic> or <topic>.<server>', () => {
    expect(topicRoutingKey('compute')).toBe('compute');
    expect(topicRoutingKey('compute', null)).toBe('compute');
    expect(topicRoutingKey('compute', '')).toBe('compute');
    expect(topicRoutingKey('compute', 'host1')).toBe('compute.host1');
  });

  it('routes notifications to <topic>.<priority lowercase>', () => {
    expect(notificationRoutingKey('notifications', 'INFO')).toBe('notifications.info');
    expect(notificationRoutingKey('versioned_notifications', 'warn')).toBe('versioned_notifications.warn');
  });
});

describe('docs/wire.md#layouts layouts (impl_rabbit 18.x)', () => {
  const hex = () => '0123456789abcdef0123456789abcdef';

  it('T: quorum fanout queues with x-expires, a durable fanout exchange, the control exchange unchanged', () => {
    const o = opts({ rabbit_transient_quorum_queue: true, rabbit_quorum_delivery_limit: 5 });
    expect(controlExchange(o)).toEqual({ durable: false, autoDelete: false });
    expect(fanoutExchange(o)).toEqual({ durable: true, autoDelete: true });
    const q = fanoutQueue(o, 'compute', hex);
    expect(q.name).toBe('compute_fanout_0123456789abcdef0123456789abcdef');
    expect(q.options).toMatchObject({ durable: true, autoDelete: false });
    // Python 18.3: _get_queue_arguments(False, 1800, True, QuorumMemConfig(5, 0, 0), False)
    expect(entries(q.options.arguments)).toEqual([
      ['x-queue-type', 'quorum'],
      ['x-delivery-limit', 5],
      ['x-expires', 1_800_000],
    ]);
  });

  it('S: one stream named like the exchange, args exactly x-queue-type then x-max-age as a string', () => {
    const o = opts({ rabbit_transient_quorum_queue: true, rabbit_stream_fanout: true, rabbit_qos_prefetch_count: 1, rabbit_quorum_delivery_limit: 5 });
    const q = fanoutQueue(o, 'compute', hex);
    expect(q.name).toBe('compute_fanout');
    expect(q.options).toMatchObject({ durable: true, autoDelete: false });
    expect(entries(q.options.arguments)).toEqual([
      ['x-queue-type', 'stream'],
      ['x-max-age', '1800s'],
    ]);
    expect(entries(fanoutQueue({ ...o, rabbit_transient_queues_ttl: 0 }, 'compute').options.arguments)).toEqual([['x-queue-type', 'stream']]);
    expect(fanoutExchange(o)).toEqual({ durable: true, autoDelete: true });
  });

  it('stream consumers get only x-stream-offset, replacing x-cancel-on-ha-failover', () => {
    const o = opts({ enable_cancel_on_failover: true });
    expect(consumerArguments(o)).toEqual({ 'x-cancel-on-ha-failover': true });
    expect(consumerArguments(o, 'last')).toEqual({ 'x-stream-offset': 'last' });
    expect(consumerArguments(o, 42)).toEqual({ 'x-stream-offset': 42 });
    expect(consumerArguments(opts())).toEqual({});
  });

  it('M: <host>:<proc>:<n> names from one counter shared by reply and fanout queues', () => {
    const qm = new QueueManager('node1', 'nova-compute');
    expect(replyQueueName(qm.get())).toBe('reply_node1:nova-compute:1');
    expect(fanoutQueue(opts({ use_queue_manager: true }), 'compute', () => qm.get()).name).toBe('compute_fanout_node1:nova-compute:2');
  });

  it("osloscope's own reply queue is exclusive, classic and non-durable in every layout", () => {
    for (const o of [opts(), opts({ rabbit_transient_quorum_queue: true, rabbit_quorum_queue: true })]) {
      expect(replyQueue(o)).toEqual({ durable: false, autoDelete: false, exclusive: true, arguments: { 'x-expires': 1_800_000 } });
    }
  });

  it("refuses what oslo's Connection.__init__ refuses, with oslo's text", () => {
    expect(() => topologyOptions({ rabbit_stream_fanout: true, rabbit_transient_quorum_queue: true })).toThrow(
      new ConfigError('Configuration Error: rabbit_stream_fanout need rabbit_qos_prefetch_count to be set to a value greater than 0.', 'rabbit_stream_fanout'),
    );
    expect(() => topologyOptions({ rabbit_stream_fanout: true, rabbit_qos_prefetch_count: 1 })).toThrow(/need rabbit_transient_quorum_queue to be set to true/);
    expect(topologyOptions({ rabbit_stream_fanout: true, rabbit_transient_quorum_queue: true, rabbit_qos_prefetch_count: 1 }).rabbit_stream_fanout).toBe(true);
  });

  it('reads 14.0.3 quorum memory spellings and defaults hostname/processname like oslo', () => {
    const o = topologyOptions({ rabbit_quroum_max_memory_length: 7, hostname: '', processname: '' }, 'prog');
    expect(o.rabbit_quorum_max_memory_length).toBe(7);
    expect(o.processname).toBe('prog');
    expect(o.hostname.length).toBeGreaterThan(0);
    expect(topologyOptions({ hostname: 'h', processname: 'p' }).processname).toBe('p');
  });
});
