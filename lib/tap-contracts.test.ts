import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  brokerViewSchema,
  callRecordSchema,
  decodedMessageSchema,
  fanoutHistoryQuerySchema,
  parseStreamStart,
  latencyHistogramSchema,
  MESSAGE_KINDS,
  rateSnapshotSchema,
  RPC_PROCESSING_SECONDS_BUCKETS,
  STUCK_CAUSES,
  tapEventSchema,
  tapStatusSchema,
} from './tap-contracts.ts';

const message = {
  id: '1',
  ts: 1,
  kind: 'call',
  exchange: 'nova',
  routingKey: 'compute.h1',
  topic: 'compute',
  server: 'h1',
  method: 'get',
  namespace: null,
  version: '5.1',
  msgId: 'a',
  replyQ: 'reply_a',
  uniqueId: 'u',
  callMonitorTimeout: null,
  timeoutMs: 60000,
  args: { x: 1 },
  context: { request_id: 'req-1' },
  requestId: 'req-1',
  result: null,
  failure: null,
  ending: null,
  eventType: null,
  priority: null,
  publisherId: null,
  messageId: null,
  timestamp: null,
  payload: null,
  properties: { contentType: 'application/json', headers: {} },
  trace: { event: 'publish', routedQueues: ['compute.h1'], connection: 'a -> b', connectionName: null, channel: 1, queue: null, redelivered: null, node: 'n', vhost: '/', user: 'guest' },
  broker: null,
  bytes: 10,
  enveloped: true,
  compression: null,
  error: null,
  raw: null,
  rawEncoding: null,
  rawTruncated: false,
};

describe('tap contracts', () => {
  it('lib/ stays importable by the browser: zod only', () => {
    const src = readFileSync(new URL('./tap-contracts.ts', import.meta.url), 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports).toEqual(['zod']);
  });

  it('accepts a decoded message and rejects a wrong kind or a missing field', () => {
    expect(decodedMessageSchema.parse(message)).toEqual(message);
    expect(decodedMessageSchema.safeParse({ ...message, kind: 'rpc' }).success).toBe(false);
    const { topic: _t, ...noTopic } = message;
    expect(decodedMessageSchema.safeParse(noTopic).success).toBe(false);
    expect(decodedMessageSchema.safeParse({ ...message, trace: { ...message.trace, event: 'consume' } }).success).toBe(false);
  });

  it('carries broker-added headers as metadata beside the message', () => {
    const withBroker = { ...message, broker: { streamOffset: 12, deliveryCount: null, acquiredCount: 2, timestampMs: 1_700_000_000_123, timestamp: 1_700_000_000, routedBy: 'rabbit@n1', death: [{ queue: 'q', reason: 'expired', count: 1, exchange: '', routingKeys: ['q'], time: 1_700_000_000_000 }] } };
    expect(decodedMessageSchema.parse(withBroker)).toEqual(withBroker);
    expect(decodedMessageSchema.safeParse({ ...message, broker: { streamOffset: '12' } }).success).toBe(false);
  });

  it('parses stream start positions the way x-stream-offset takes them', () => {
    expect(parseStreamStart('first')).toEqual({ kind: 'first' });
    expect(parseStreamStart('last')).toEqual({ kind: 'last' });
    expect(parseStreamStart('1234')).toEqual({ kind: 'offset', offset: 1234 });
    expect(parseStreamStart('30m')).toEqual({ kind: 'interval', text: '30m', ms: 1_800_000 });
    expect(parseStreamStart('1D')).toEqual({ kind: 'interval', text: '1D', ms: 86_400_000 });
    expect(parseStreamStart('2026-11-30T07:00:00Z')).toEqual({ kind: 'timestamp', ms: Date.UTC(2026, 10, 30, 7) });
    for (const bad of ['', '-1', '30x', '0m', 'yesterday', '2026-11-30', '1e3']) expect(parseStreamStart(bad)).toBeInstanceOf(Error);
    expect(fanoutHistoryQuerySchema.safeParse({ topic: 'compute', since: '30m', limit: '100' }).success).toBe(true);
    const bad = fanoutHistoryQuerySchema.safeParse({ topic: 'compute', since: 'soon', limit: '99999' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['limit', 'since']);
    expect(fanoutHistoryQuerySchema.safeParse({ topic: 'a b' }).success).toBe(false);
  });

  it('names the kinds and stuck causes the product defines', () => {
    expect(MESSAGE_KINDS).toEqual(['call', 'cast', 'fanout', 'reply', 'heartbeat', 'notification', 'unknown']);
    expect(STUCK_CAUSES).toEqual(['unroutable', 'no_consumer', 'expired_in_queue', 'no_reply', 'reply_queue_gone', 'late_reply', 'late_reply_across_restart']);
    expect(RPC_PROCESSING_SECONDS_BUCKETS).toEqual([0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0, 100]);
  });

  it('validates call records, status, rates, histograms, broker view and events', () => {
    const call = {
      msgId: 'a',
      method: 'get',
      target: { exchange: 'nova', topic: 'compute', server: null, namespace: null, version: null, routingKey: 'compute' },
      caller: { replyQ: 'reply_h1:nova-api:2', process: 'nova-api:1', connectionName: null, queueManager: { host: 'h1', process: 'nova-api', n: 2 } },
      serverProcess: null,
      requestId: null,
      publishedAt: 1,
      timeoutMs: 60000,
      timeoutSource: 'expiration',
      deadline: 60001,
      callMonitorTimeout: null,
      monitorDeadline: null,
      state: 'stuck',
      outcome: null,
      cause: 'no_consumer',
      causeDetail: 'x',
      causeCertain: true,
      indistinguishable: [],
      heartbeats: 0,
      lastHeartbeatAt: null,
      failure: null,
      timeline: [{ ts: 1, event: 'published', detail: 'x' }],
      latencyMs: null,
      updatedAt: 2,
    };
    expect(callRecordSchema.parse(call)).toEqual(call);
    expect(callRecordSchema.safeParse({ ...call, cause: 'broker_on_fire' }).success).toBe(false);
    expect(callRecordSchema.safeParse({ ...call, state: 'lost' }).success).toBe(false);

    const counters = { received: 1, decoded: 1, undecodable: 0, dropped: 0, evictedMessages: 0, evictedCalls: 0, evictedRateKeys: 0 };
    const status = {
      requestedMode: 'auto',
      mode: 'bindings',
      state: 'running',
      error: null,
      vhost: '/',
      canSeeReplies: false,
      firehose: { on: false, detectedBy: 'management', canEnable: true },
      hint: 'rabbitmqctl trace_on -p /',
      tappedExchanges: ['nova'],
      fanoutExchanges: [],
      tapQueues: ['osloscope-tap-1'],
      inspector: 'management',
      counters,
      startedAt: 1,
    };
    expect(tapStatusSchema.parse(status)).toEqual(status);
    expect(tapStatusSchema.safeParse({ ...status, mode: 'auto' }).success).toBe(false);

    const zeros = Object.fromEntries(MESSAGE_KINDS.map((k) => [k, 0]));
    const series = Object.fromEntries(MESSAGE_KINDS.map((k) => [k, [0]]));
    const rates = { nowMs: 1, bucketMs: 1000, windowMs: 60000, startMs: 0, total: [0], byKind: series, totalsByKind: zeros, series: { exchange: [], topic: [], server: [], method: [] }, topMethods: [] };
    expect(rateSnapshotSchema.parse(rates)).toEqual(rates);
    expect(rateSnapshotSchema.safeParse({ ...rates, totalsByKind: { call: 1 } }).success).toBe(false);

    expect(latencyHistogramSchema.safeParse({ name: 'n', help: 'h', buckets: [1], series: [{ labels: { method: 'x' }, counts: [1, 0], sum: 1, count: 1 }] }).success).toBe(false);

    const view = { source: 'memory', at: 1, vhost: '/', complete: true, error: null, queues: [{ name: 'compute', kind: 'topic', topic: 'compute', server: null, depth: 0, consumers: 1, consumerProcesses: [], queueType: 'quorum', queueManager: null, depthIs: 'backlog', expiresMs: null, idleSince: null, health: 'ok', note: null }], replyQueuesWithoutConsumers: [{ name: 'reply_h:p:1', depth: 0, health: 'expiring', note: 'x' }], connections: { poolSize: 30, processes: [], unnamed: 0 } };
    expect(brokerViewSchema.parse(view)).toEqual(view);

    expect(brokerViewSchema.safeParse({ ...view, queues: [{ ...view.queues[0], depthIs: 'lag' }] }).success).toBe(false);

    expect(tapEventSchema.parse({ type: 'tap:message', message }).type).toBe('tap:message');
    expect(tapEventSchema.safeParse({ type: 'tap:nope' }).success).toBe(false);
  });
});
