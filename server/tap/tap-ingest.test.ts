/**
 * The ingest pipeline on its own: compressed bodies keep the broker's order, a backlog behind them is
 * bounded, firehose traces of the tap's own queues are never traffic, and what the traffic names is learnt.
 */
import { describe, expect, it } from 'vitest';
import type { TapEvent } from '../../lib/tap-contracts.ts';
import { encodeBody, silentLogger, type Delivery, type MessageProperties } from '../messaging/index.ts';
import { TrafficModel } from './model.ts';
import { IngestPipeline, MAX_INFLATING } from './tap-ingest.ts';
import { waitFor } from './test-support.ts';

const PROPS: MessageProperties = { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, priority: 0, headers: {} };

function setup(over: { traceArrived?: () => boolean; names?: Record<string, string> } = {}) {
  const model = new TrafficModel();
  const events: TapEvent[] = [];
  const probes: string[] = [];
  const topics: string[] = [];
  const pipeline = new IngestPipeline({
    model,
    tapQueuePrefix: 'osloscope-tap-',
    maxMessageBytes: 1 << 20,
    clock: () => 1_700_000_000_000,
    log: silentLogger,
    nameConnection: (c) => over.names?.[c] ?? null,
    probeTraced: (q) => void probes.push(q),
    traceArrived: over.traceArrived ?? (() => true),
    noticeTopic: (t) => void topics.push(t),
    emit: (e) => void events.push(e),
    listening: () => true,
    stopped: () => false,
  });
  return { model, events, probes, topics, pipeline };
}

function cast(value: number, compression?: 'gzip'): Delivery {
  const enc = encodeBody({ method: 'echo', args: { value }, _unique_id: `u${value}` }, { compression });
  return { body: enc.body, exchange: 'openstack', routingKey: 'compute.host1', redelivered: false, deliveryTag: value, consumerTag: 'c', properties: { ...PROPS, headers: enc.headers } };
}

function trace(routingKey: string, headers: Record<string, unknown>, body = cast(1).body): Delivery {
  return { body, exchange: 'amq.rabbitmq.trace', routingKey, redelivered: false, deliveryTag: 1, consumerTag: 'c', properties: { headers: { properties: PROPS, ...headers } } };
}

describe('IngestPipeline', () => {
  it('keeps the broker order across a compressed body being inflated, and emits each message', async () => {
    const env = setup();
    env.pipeline.onDelivery(cast(1));
    env.pipeline.onDelivery(cast(2, 'gzip'));
    env.pipeline.onDelivery(cast(3));
    await waitFor(() => env.model.recent().length === 3, 'three messages');
    expect(env.model.recent().map((m) => m.args)).toEqual([{ value: 1 }, { value: 2 }, { value: 3 }]);
    expect(env.model.recent()[1].compression).toBe('application/x-gzip');
    expect(env.events.filter((e) => e.type === 'tap:message')).toHaveLength(3);
    expect(env.topics).toEqual(['compute', 'compute', 'compute']);
    expect([...env.pipeline.knownTopics]).toEqual(['compute']);
    expect([...env.pipeline.knownQueues].sort()).toEqual(['compute', 'compute.host1']);
  });

  it(`drops (and counts) what arrives behind ${MAX_INFLATING} waiting deliveries`, async () => {
    const env = setup();
    for (let i = 0; i < MAX_INFLATING + 5; i++) env.pipeline.onDelivery(cast(i, 'gzip'));
    expect(env.model.counters.dropped).toBe(5);
    await waitFor(() => env.model.recent().length === MAX_INFLATING, 'the kept ones');
    expect(env.model.counters.received).toBe(MAX_INFLATING + 5);
  });

  it('never takes traces of tap queues for traffic; names connections and hides tap queues from routed_queues', () => {
    const env = setup({ names: { 'a -> b': 'nova-api:1:x' } });
    env.pipeline.onTrace(trace('publish.', { exchange_name: '', routing_keys: ['osloscope-tap-1-probe'], routed_queues: ['osloscope-tap-1-probe'] }));
    env.pipeline.onTrace(trace('deliver.osloscope-tap-2', { exchange_name: 'openstack', routing_keys: ['compute'], redelivered: 0 }));
    expect(env.probes).toEqual(['osloscope-tap-1-probe']);
    expect(env.model.recent()).toEqual([]);
    env.pipeline.onTrace(trace('publish.openstack', { exchange_name: 'openstack', routing_keys: ['compute'], routed_queues: ['compute', 'osloscope-tap-2'], connection: 'a -> b' }));
    const [m] = env.model.recent();
    expect(m.trace).toMatchObject({ event: 'publish', routedQueues: ['compute'], connection: 'a -> b', connectionName: 'nova-api:1:x' });
    // a trace of a call is not a reason to look for <topic>_fanout: that is bindings mode's business
    expect(env.topics).toEqual([]);
  });

  it('ingests no trace while the mode says no (bindings mode)', () => {
    let asked = 0;
    const env = setup({ traceArrived: () => (asked++, false) });
    env.pipeline.onTrace(trace('publish.openstack', { exchange_name: 'openstack', routing_keys: ['compute'], routed_queues: ['compute'] }));
    expect(asked).toBe(1);
    expect(env.model.counters.received).toBe(0);
  });
});
