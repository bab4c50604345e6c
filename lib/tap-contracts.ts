/**
 * What the traffic tap (server/tap) hands to the outside world: decoded
 * messages, call records, stuck-call causes, tap status, rate snapshots,
 * latency histograms and the broker view. Shared by the server, the CLI and
 * the browser, so zod only: no Node, React, socket.io or amqplib here.
 *
 * Every value that crosses this boundary is JSON-safe (Python big ints arrive
 * as decimal strings, NaN/Infinity as the strings "NaN"/"Infinity") and has
 * already been redacted (secrets replaced by REDACTED).
 */
import { z } from 'zod';

/** The placeholder every redacted secret is replaced with. */
export const REDACTED = '***';

// ---------------------------------------------------------------------------
// Decoded messages
// ---------------------------------------------------------------------------

/**
 * call: RPC request with `_msg_id` + `_reply_q`; cast: RPC request without;
 * fanout: RPC request on a `<topic>_fanout` exchange; reply: final reply (or
 * old-style partial reply); heartbeat: call-monitor reply (`ending:false`,
 * `result` and `failure` null); notification: `event_type` + `publisher_id` +
 * `priority`; unknown: anything else, including undecodable bodies.
 */
export const messageKindSchema = z.enum(['call', 'cast', 'fanout', 'reply', 'heartbeat', 'notification', 'unknown']);
export type MessageKind = z.infer<typeof messageKindSchema>;
export const MESSAGE_KINDS = messageKindSchema.options;

/** oslo's serialized remote exception (common.serialize_remote_exception), parsed from the `failure` string. */
export const remoteFailureSchema = z.object({
  class: z.string(),
  module: z.string(),
  message: z.string(),
  tb: z.array(z.string()),
  args: z.array(z.unknown()),
  kwargs: z.record(z.string(), z.unknown()),
});
export type RemoteFailure = z.infer<typeof remoteFailureSchema>;

/** AMQP basic properties as published (camelCase, only those present). */
export const messagePropertiesSchema = z.object({
  contentType: z.string().optional(),
  contentEncoding: z.string().optional(),
  headers: z.record(z.string(), z.unknown()).optional(),
  deliveryMode: z.number().optional(),
  priority: z.number().optional(),
  correlationId: z.string().optional(),
  replyTo: z.string().optional(),
  expiration: z.string().optional(),
  messageId: z.string().optional(),
  timestamp: z.number().optional(),
  type: z.string().optional(),
  userId: z.string().optional(),
  appId: z.string().optional(),
});
export type MessageProperties = z.infer<typeof messagePropertiesSchema>;

/** Firehose (`amq.rabbitmq.trace`) information; null in bindings mode. */
export const traceInfoSchema = z.object({
  /** `publish.<exchange>` or `deliver.<queue>` */
  event: z.enum(['publish', 'deliver']),
  /** publish: the queues the broker routed to (empty = unroutable); deliver: null */
  routedQueues: z.array(z.string()).nullable(),
  /** the broker's own connection name, `<peer ip:port> -> <server ip:port>` */
  connection: z.string().nullable(),
  /** the client-provided `connection_name` (`<prog>:<pid>:<uuid>`) when it could be resolved */
  connectionName: z.string().nullable(),
  channel: z.number().nullable(),
  /** deliver: the queue the message was delivered from */
  queue: z.string().nullable(),
  /** deliver: the broker's redelivered flag */
  redelivered: z.boolean().nullable(),
  node: z.string().nullable(),
  vhost: z.string().nullable(),
  user: z.string().nullable(),
});
export type TraceInfo = z.infer<typeof traceInfoSchema>;

/** `{host, process, n}` of a queue-manager name `reply_<host>:<proc>:<n>` / `<topic>_fanout_<host>:<proc>:<n>` (use_queue_manager, oslo.messaging 14.7.0+). */
export const queueManagerNameSchema = z.object({ host: z.string(), process: z.string(), n: z.number() });
export type QueueManagerName = z.infer<typeof queueManagerNameSchema>;

/** One `x-death` entry (RabbitMQ dead-lettering), as far as it is readable. */
export const deathEntrySchema = z.object({
  queue: z.string().nullable(),
  reason: z.string().nullable(),
  count: z.number().nullable(),
  exchange: z.string().nullable(),
  routingKeys: z.array(z.string()),
  /** ms since the epoch */
  time: z.number().nullable(),
});
export type DeathEntry = z.infer<typeof deathEntrySchema>;

/**
 * What the broker (not oslo) added to a message: read off the headers and
 * moved out of `properties.headers`, so those stay what the publisher sent.
 * None of it changes how a message is classified (docs/wire.md#broker-added-headers).
 */
export const brokerMetadataSchema = z.object({
  /** `x-stream-offset`: the message's offset in the stream it was read from */
  streamOffset: z.number().nullable(),
  /** `x-delivery-count`: redeliveries of a quorum-queue message */
  deliveryCount: z.number().nullable(),
  /** `x-acquired-count` (RabbitMQ 4.3+): times a quorum-queue message was handed to a consumer */
  acquiredCount: z.number().nullable(),
  /** `timestamp_in_ms` (4.2+ incoming timestamp interceptor): when the broker received the publish, ms */
  timestampMs: z.number().nullable(),
  /** the `timestamp` property the same interceptor sets (seconds); oslo never sets it */
  timestamp: z.number().nullable(),
  /** `x-routed-by`: the node that routed the publish (routing-node interceptor) */
  routedBy: z.string().nullable(),
  /** `x-death`: dead-lettering history, newest first (capped) */
  death: z.array(deathEntrySchema).nullable(),
});
export type BrokerMetadata = z.infer<typeof brokerMetadataSchema>;

export const decodedMessageSchema = z.object({
  /** tap-local id, unique for the life of the tap (monotonic); in a fleet of several transports `<transport>:<id>` */
  id: z.string(),
  /** the named transport (broker) it was seen on (TRANSPORT_URLS; `default` for TRANSPORT_URL), stamped by server/fleet.ts */
  transport: z.string().optional(),
  /** observation time, ms since the epoch */
  ts: z.number(),
  kind: messageKindSchema,
  exchange: z.string(),
  routingKey: z.string(),
  /** RPC: `<topic>` of `<topic>[.<server>]` or of `<topic>_fanout`; notification: `<topic>` of `<topic>.<priority>` */
  topic: z.string().nullable(),
  server: z.string().nullable(),
  method: z.string().nullable(),
  namespace: z.string().nullable(),
  version: z.string().nullable(),
  msgId: z.string().nullable(),
  replyQ: z.string().nullable(),
  uniqueId: z.string().nullable(),
  /** `_timeout` of a call: the caller's call_monitor_timeout in seconds (null when unset) */
  callMonitorTimeout: z.number().nullable(),
  /** the `expiration` property in ms (calls only, = the caller's timeout) */
  timeoutMs: z.number().nullable(),
  args: z.unknown().nullable(),
  /** `_context_*` items without the prefix, redacted */
  context: z.record(z.string(), z.unknown()),
  /** `_context_request_id` / `global_request_id`, for filtering */
  requestId: z.string().nullable(),
  result: z.unknown().nullable(),
  failure: remoteFailureSchema.nullable(),
  ending: z.boolean().nullable(),
  eventType: z.string().nullable(),
  /** notification priority as sent (uppercase: INFO, ERROR, ...) */
  priority: z.string().nullable(),
  publisherId: z.string().nullable(),
  /** notification message_id (uuid4 with dashes) */
  messageId: z.string().nullable(),
  /** notification timestamp text as Python wrote it */
  timestamp: z.string().nullable(),
  payload: z.unknown().nullable(),
  properties: messagePropertiesSchema,
  trace: traceInfoSchema.nullable(),
  /** headers the broker added (stream offset, delivery counts, interceptor timestamps, x-death); null when none */
  broker: brokerMetadataSchema.nullable(),
  /** body size on the wire (compressed size when compressed) */
  bytes: z.number(),
  /** true for the v2 `oslo.version`/`oslo.message` envelope, false for v1 bodies */
  enveloped: z.boolean(),
  /** the `compression` header when present (`application/x-gzip`, `application/x-bz2`, ...) */
  compression: z.string().nullable(),
  /** why the body could not be decoded; null when it was */
  error: z.string().nullable(),
  /** undecodable bodies only: the first bytes of the body (capped) */
  raw: z.string().nullable(),
  rawEncoding: z.enum(['utf8', 'base64']).nullable(),
  rawTruncated: z.boolean(),
  /**
   * Set when the stored copy was cut to the per-message budget: the body's
   * size as received. Cut strings end with "… [truncated, N bytes]".
   */
  truncatedBytes: z.number().optional(),
});
export type DecodedMessage = z.infer<typeof decodedMessageSchema>;

/** A message's global_request_id (oslo.context's RequestContext.to_dict), when its caller set one. */
export function globalRequestIdOf(m: Pick<DecodedMessage, 'context'>): string | null {
  const g = m.context?.global_request_id;
  return typeof g === 'string' && g.length > 0 ? g.slice(0, 200) : null;
}

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

/**
 * Why a call got no (timely) final reply:
 * unroutable — the request publish was routed to no queue;
 * no_consumer — the target queue has no consumer;
 * expired_in_queue — the request sat in a consumed queue until its expiration and was never delivered;
 * no_reply — delivered, the server never answered (heartbeats tell whether it was still working);
 * reply_queue_gone — the reply was published but no queue took it (caller's reply queue gone) or it sat in a queue nobody consumes;
 * late_reply — the reply came after the caller's timeout;
 * late_reply_across_restart — the caller's service restarted while the call was open: its queue-manager reply
 *   queue `reply_<host>:<proc>:<n>` was taken over by the new process, which drops the reply ("No calling threads
 *   waiting for msg_id").
 */
export const stuckCauseSchema = z.enum(['unroutable', 'no_consumer', 'expired_in_queue', 'no_reply', 'reply_queue_gone', 'late_reply', 'late_reply_across_restart']);
export type StuckCause = z.infer<typeof stuckCauseSchema>;
export const STUCK_CAUSES = stuckCauseSchema.options;

export const callStateSchema = z.enum(['inflight', 'stuck', 'done']);
export type CallState = z.infer<typeof callStateSchema>;

/** result / failure: the caller got a final reply in time; unobserved: replies are invisible (bindings mode), outcome unknown. */
export const callOutcomeSchema = z.enum(['result', 'failure', 'unobserved']);
export type CallOutcome = z.infer<typeof callOutcomeSchema>;

export const callEventSchema = z.enum([
  'published',
  'routed',
  'unroutable',
  'delivered',
  'redelivered',
  'heartbeat',
  'reply_published',
  'reply_unroutable',
  'reply_delivered',
  'timeout',
  'classified',
]);
export type CallEvent = z.infer<typeof callEventSchema>;

export const callTimelineEntrySchema = z.object({
  ts: z.number(),
  event: callEventSchema,
  detail: z.string(),
});
export type CallTimelineEntry = z.infer<typeof callTimelineEntrySchema>;

export const callTargetSchema = z.object({
  exchange: z.string(),
  topic: z.string().nullable(),
  server: z.string().nullable(),
  namespace: z.string().nullable(),
  version: z.string().nullable(),
  routingKey: z.string(),
});
export type CallTarget = z.infer<typeof callTargetSchema>;

export const callerSchema = z.object({
  replyQ: z.string().nullable(),
  /** `<prog>:<pid>` of the process consuming the reply queue, when known */
  process: z.string().nullable(),
  /** full client connection name `<prog>:<pid>:<uuid>`, when known */
  connectionName: z.string().nullable(),
  /** `{host, process, n}` when `_reply_q` is a queue-manager name (names the service even when the consumer is unknown) */
  queueManager: queueManagerNameSchema.nullable(),
});
export type Caller = z.infer<typeof callerSchema>;

export const callRecordSchema = z.object({
  msgId: z.string(),
  /** the named transport (broker) the call was seen on (TRANSPORT_URLS; `default` for TRANSPORT_URL), stamped by server/fleet.ts */
  transport: z.string().optional(),
  method: z.string(),
  target: callTargetSchema,
  caller: callerSchema,
  /** `<prog>:<pid>` of the server process the request was delivered to (firehose mode) */
  serverProcess: z.string().nullable(),
  requestId: z.string().nullable(),
  /** the context's global_request_id (absent in records stored before it was kept) */
  globalRequestId: z.string().nullable().optional(),
  publishedAt: z.number(),
  /** the caller's timeout: the `expiration` property, or rpc_response_timeout when absent */
  timeoutMs: z.number(),
  timeoutSource: z.enum(['expiration', 'default']),
  /** publishedAt + timeoutMs */
  deadline: z.number(),
  /** `_timeout`: call_monitor_timeout in seconds, null when unset (no heartbeats expected) */
  callMonitorTimeout: z.number().nullable(),
  /**
   * call-monitor calls: when the caller gives up unless a heartbeat comes first (last heartbeat, or the publish,
   * + `_timeout`; amqpdriver ReplyWaiter.wait restarts its call_monitor_timer on each heartbeat). null without a
   * call monitor, or when heartbeats are invisible (bindings mode).
   */
  monitorDeadline: z.number().nullable(),
  state: callStateSchema,
  outcome: callOutcomeSchema.nullable(),
  cause: stuckCauseSchema.nullable(),
  causeDetail: z.string().nullable(),
  /** false when the tap's view (bindings mode) cannot rule out the causes in `indistinguishable` */
  causeCertain: z.boolean(),
  /** causes the tap cannot tell apart for this call (bindings mode) */
  indistinguishable: z.array(stuckCauseSchema),
  heartbeats: z.number(),
  lastHeartbeatAt: z.number().nullable(),
  /** class and message of the remote failure, when the final reply carried one */
  failure: z.object({ class: z.string(), module: z.string(), message: z.string() }).nullable(),
  timeline: z.array(callTimelineEntrySchema),
  /** request publish → final reply publish, when both were seen */
  latencyMs: z.number().nullable(),
  updatedAt: z.number(),
});
export type CallRecord = z.infer<typeof callRecordSchema>;

export const callGroupSchema = z.object({
  /** `<prog>:<pid>` or null when the caller could not be resolved */
  process: z.string().nullable(),
  replyQueues: z.array(z.string()),
  calls: z.array(callRecordSchema),
});
export type CallGroup = z.infer<typeof callGroupSchema>;

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

export const tapModeSchema = z.enum(['bindings', 'firehose', 'off']);
export type TapMode = z.infer<typeof tapModeSchema>;
export const tapModeSettingSchema = z.enum(['auto', 'bindings', 'firehose', 'off']);
export type TapModeSetting = z.infer<typeof tapModeSettingSchema>;

export const tapCountersSchema = z.object({
  /** deliveries taken from the tap's queues (firehose: publish + deliver traces) */
  received: z.number(),
  decoded: z.number(),
  undecodable: z.number(),
  /** deliveries the tap could not keep (local backlog full, or broker-side drop-head when the broker reports it) */
  dropped: z.number(),
  evictedMessages: z.number(),
  evictedCalls: z.number(),
  evictedRateKeys: z.number(),
});
export type TapCounters = z.infer<typeof tapCountersSchema>;

export const tapStatusSchema = z.object({
  requestedMode: tapModeSettingSchema,
  mode: tapModeSchema,
  state: z.enum(['starting', 'running', 'recovering', 'stopped', 'error']),
  error: z.string().nullable(),
  vhost: z.string(),
  /** replies only travel through the default exchange: visible in firehose mode only */
  canSeeReplies: z.boolean(),
  firehose: z.object({
    /** tracing is on for the vhost (null: unknown) */
    on: z.boolean().nullable(),
    /** how `on` was found out */
    detectedBy: z.enum(['management', 'probe', 'memory', 'none']),
    /** enableFirehose() can turn it on (management credentials allow it, or memory broker) */
    canEnable: z.boolean(),
  }),
  /** what the operator should do to see more, e.g. how to turn the firehose on */
  hint: z.string().nullable(),
  tappedExchanges: z.array(z.string()),
  fanoutExchanges: z.array(z.string()),
  /** the tap's own (exclusive, capped) queues */
  tapQueues: z.array(z.string()),
  /** which broker inspector backs the broker view */
  inspector: z.enum(['management', 'memory', 'passive']),
  counters: tapCountersSchema,
  startedAt: z.number().nullable(),
  /**
   * What waits in the fullest of the tap's own queues on the broker (management API queue stats, every 5 s) against its cap
   * (x-max-length, drop-head). A backlog near the cap means the tap is behind and the broker is
   * dropping the oldest deliveries, which no counter reports (absent: not read yet).
   */
  backlog: z.object({ messages: z.number(), cap: z.number() }).nullable().optional(),
  /** broker connection losses the tap came back from (optional for older servers) */
  recovery: z
    .object({
      /** times the connection came back (reconnect + replay) */
      reconnects: z.number(),
      /** times the tap rebuilt itself from scratch after a refused recovery */
      rebuilds: z.number(),
      /** replay steps skipped because their exchange or queue had vanished (re-bound when it is back) */
      skipped: z.number(),
      /** exchanges the tap lost in the last recovery and waits to see again, at most 20 */
      awaiting: z.array(z.string()),
      /** how long the last outage lasted, from the connection loss to consuming again (ms) */
      lastOutageMs: z.number().nullable(),
      /** while recovering: why the last attempt failed (redacted), attempts failed so far, when the next starts (ms since the epoch) */
      retry: z.object({ error: z.string(), attempt: z.number(), nextAt: z.number() }).nullable().optional(),
    })
    .optional(),
});
export type TapStatus = z.infer<typeof tapStatusSchema>;

// ---------------------------------------------------------------------------
// Rates
// ---------------------------------------------------------------------------

export const rateDimensionSchema = z.enum(['exchange', 'topic', 'server', 'method']);
export type RateDimension = z.infer<typeof rateDimensionSchema>;

export const rateSeriesSchema = z.object({
  /** unique within its dimension (method series: `<topic>:<method>`) */
  key: z.string(),
  topic: z.string().nullable(),
  method: z.string().nullable(),
  /** messages in the window */
  total: z.number(),
  /** one count per 1 s bucket, oldest first, `buckets.length === windowMs / bucketMs` */
  buckets: z.array(z.number()),
});
export type RateSeries = z.infer<typeof rateSeriesSchema>;

export const topMethodSchema = z.object({
  key: z.string(),
  topic: z.string().nullable(),
  method: z.string(),
  count: z.number(),
  perSecond: z.number(),
});
export type TopMethod = z.infer<typeof topMethodSchema>;

export const rateSnapshotSchema = z.object({
  nowMs: z.number(),
  bucketMs: z.number(),
  windowMs: z.number(),
  /** start of the first (oldest) bucket */
  startMs: z.number(),
  /** all messages, per bucket */
  total: z.array(z.number()),
  /** per kind, per bucket */
  byKind: z.record(messageKindSchema, z.array(z.number())),
  /** totals by kind over the window */
  totalsByKind: z.record(messageKindSchema, z.number()),
  series: z.object({
    exchange: z.array(rateSeriesSchema),
    topic: z.array(rateSeriesSchema),
    server: z.array(rateSeriesSchema),
    method: z.array(rateSeriesSchema),
  }),
  topMethods: z.array(topMethodSchema),
});
export type RateSnapshot = z.infer<typeof rateSnapshotSchema>;

/** What the traffic named lately, most recent first: the Console's suggestions (`GET /api/targets`). */
export const knownTargetsSchema = z.object({
  /** exchanges that carried calls, casts or fanouts */
  exchanges: z.array(z.string()),
  /** topics that carried calls, casts or fanouts: an RPC server consumes them */
  topics: z.array(z.string()),
  /** topics seen carrying notifications and never an RPC request: no RPC server answers there */
  notificationTopics: z.array(z.string()),
  servers: z.array(z.object({ topic: z.string(), server: z.string() })),
  methods: z.array(z.object({ topic: z.string().nullable(), method: z.string() })),
});
export type KnownTargets = z.infer<typeof knownTargetsSchema>;

// ---------------------------------------------------------------------------
// Latency histograms (oslo.metrics names and bucket edges)
// ---------------------------------------------------------------------------

/** oslo_metrics/metrics/oslo_messaging.py rpc_processing_seconds_buckets */
export const RPC_PROCESSING_SECONDS_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0, 100] as const;
/** what the tap measures is the caller's view: request publish → reply publish */
export const RPC_CLIENT_PROCESSING_SECONDS = 'oslo_messaging_rpc_client_processing_seconds';

export const latencyHistogramSeriesSchema = z.object({
  /** oslo.metrics rpc_client_common_labels that the wire shows */
  labels: z.object({
    call_type: z.literal('call'),
    exchange: z.string(),
    topic: z.string(),
    namespace: z.string(),
    version: z.string(),
    server: z.string(),
    fanout: z.literal('False'),
    process: z.string(),
    method: z.string(),
    timeout: z.string(),
  }),
  /** non-cumulative count per bucket; the last entry is the +Inf bucket (length = buckets.length + 1) */
  counts: z.array(z.number()),
  sum: z.number(),
  count: z.number(),
});
export type LatencyHistogramSeries = z.infer<typeof latencyHistogramSeriesSchema>;

export const latencyHistogramSchema = z.object({
  name: z.string(),
  help: z.string(),
  /** upper bucket edges in seconds (Prometheus `le`), without +Inf */
  buckets: z.array(z.number()),
  series: z.array(latencyHistogramSeriesSchema),
});
export type LatencyHistogram = z.infer<typeof latencyHistogramSchema>;

// ---------------------------------------------------------------------------
// Broker view
// ---------------------------------------------------------------------------

export const brokerQueueKindSchema = z.enum(['topic', 'server', 'fanout', 'notification', 'reply', 'other']);
export type BrokerQueueKind = z.infer<typeof brokerQueueKindSchema>;

export const brokerQueueSchema = z.object({
  name: z.string(),
  kind: brokerQueueKindSchema,
  topic: z.string().nullable(),
  server: z.string().nullable(),
  /** ready + unacknowledged; null when the broker did not report it (statistics disabled, a stream's count on 3.13+) */
  depth: z.number().nullable(),
  /** null when the broker did not report it (statistics disabled) */
  consumers: z.number().nullable(),
  /** `<prog>:<pid>` of the consuming processes, when known */
  consumerProcesses: z.array(z.string()),
  /** `x-queue-type` as the broker reports it; null when the inspector cannot tell */
  queueType: z.enum(['classic', 'quorum', 'stream']).nullable(),
  /** `{host, process, n}` of a queue-manager name */
  queueManager: queueManagerNameSchema.nullable(),
  /** a stream keeps what it was sent until x-max-age / max-length: its depth is retention, not backlog */
  depthIs: z.enum(['backlog', 'retention']),
  /** `x-expires` in ms (oslo: rabbit_transient_queues_ttl × 1000 on reply and fanout queues), null when unset or unknown */
  expiresMs: z.number().nullable(),
  /** when the queue last had activity (management `idle_since`), ms; null when busy or unknown */
  idleSince: z.number().nullable(),
  /** messages per second published to (in) and delivered from (out) the queue; null when the broker keeps no rates (passive view, memory) */
  rates: z.object({ in: z.number(), out: z.number() }).nullable().optional(),
  /**
   * ok; expiring — an orphan reply/fanout queue without consumers, normal until its x-expires elapses (oslo keeps
   * queue-manager and stream fanout queues on close); warn — see `note`.
   */
  health: z.enum(['ok', 'expiring', 'warn']),
  note: z.string().nullable(),
});
export type BrokerQueue = z.infer<typeof brokerQueueSchema>;

export const processConnectionsSchema = z.object({
  /** `<prog>:<pid>` from the client connection_name `<prog>:<pid>:<uuid>` */
  process: z.string(),
  connections: z.number(),
  /** connections with at least one consumer (RPC servers, listeners, reply waiters) */
  listen: z.number(),
  /** connections without consumers: oslo's pooled send connections */
  send: z.number(),
  /** send connections above rpc_conn_pool_size */
  overPoolLimit: z.boolean(),
});
export type ProcessConnections = z.infer<typeof processConnectionsSchema>;

export const brokerViewSchema = z.object({
  source: z.enum(['management', 'memory', 'passive']),
  at: z.number(),
  vhost: z.string(),
  /** false when some parts could not be read (passive mode knows only the queues it has seen named) */
  complete: z.boolean(),
  error: z.string().nullable(),
  queues: z.array(brokerQueueSchema),
  replyQueuesWithoutConsumers: z.array(
    z.object({
      name: z.string(),
      depth: z.number().nullable(),
      /** expiring: normal until x-expires; warn: holds replies, never expires, or outlived its x-expires */
      health: z.enum(['ok', 'expiring', 'warn']),
      note: z.string().nullable(),
    }),
  ),
  connections: z.object({
    /** rpc_conn_pool_size the processes are compared against */
    poolSize: z.number(),
    processes: z.array(processConnectionsSchema),
    /** connections without a `<prog>:<pid>:<uuid>` name */
    unnamed: z.number(),
  }),
});
export type BrokerView = z.infer<typeof brokerViewSchema>;

// ---------------------------------------------------------------------------
// Fanout history (a rabbit_stream_fanout `<topic>_fanout` stream, read without taking anything)
// ---------------------------------------------------------------------------

/** RabbitMQ's interval grammar for `x-stream-offset` (the same as `x-max-age`): a number and Y, M, D, h, m or s. */
export const STREAM_INTERVAL = /^([1-9][0-9]{0,8})(Y|M|D|h|m|s)$/;
const INTERVAL_MS: Record<string, number> = { Y: 365 * 86_400_000, M: 30 * 86_400_000, D: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/**
 * Where a stream read starts (the `x-stream-offset` consumer argument): `first` (oldest retained), `last` (the last
 * chunk), an offset (a non-negative integer), a time (ISO 8601, e.g. 2026-11-30T07:00:00Z), or an interval back from
 * now (`30m`, `2h`, `1D`).
 */
export type StreamStart =
  | { kind: 'first' }
  | { kind: 'last' }
  | { kind: 'offset'; offset: number }
  | { kind: 'timestamp'; ms: number }
  | { kind: 'interval'; text: string; ms: number };

/** Parse a `since` text; an Error says what is wrong. */
export function parseStreamStart(text: string): StreamStart | Error {
  const t = text.trim();
  if (t === 'first' || t === 'last') return { kind: t };
  if (/^[0-9]{1,15}$/.test(t)) return { kind: 'offset', offset: Number(t) };
  const iv = STREAM_INTERVAL.exec(t);
  if (iv) return { kind: 'interval', text: t, ms: Number(iv[1]) * INTERVAL_MS[iv[2]] };
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return { kind: 'timestamp', ms };
  }
  return new Error(
    `"${t.slice(0, 40)}" is not a stream position: use first, last, an offset (0, 1234), a time (2026-11-30T07:00:00Z) or an interval back from now (30s, 30m, 2h, 1D)`,
  );
}

export const FANOUT_HISTORY_MAX_LIMIT = 2000;

/** GET /api/fanout-history query (all strings on the wire). */
export const fanoutHistoryQuerySchema = z.object({
  topic: z
    .string({ message: 'topic is required' })
    .min(1, { message: 'topic is required' })
    .max(200, { message: 'topic is at most 200 characters' })
    .regex(/^[^\s\u0000-\u001f]+$/, { message: 'topic has no spaces or control characters' }),
  since: z
    .string()
    .max(64)
    .superRefine((v, ctx) => {
      const r = parseStreamStart(v);
      if (r instanceof Error) ctx.addIssue({ code: 'custom', message: r.message });
    })
    .optional(),
  limit: z.coerce
    .number({ message: 'limit is a number' })
    .int({ message: 'limit is a whole number' })
    .min(1, { message: 'limit is at least 1' })
    .max(FANOUT_HISTORY_MAX_LIMIT, { message: `limit is at most ${FANOUT_HISTORY_MAX_LIMIT}` })
    .optional(),
  /** live-stream filter grammar, applied after decoding */
  filter: z.string().max(1000).optional(),
});
export type FanoutHistoryQuery = z.infer<typeof fanoutHistoryQuerySchema>;

/**
 * One broadcast read back from the stream. A stream delivery carries its offset but not when it was published
 * (unless the broker's timestamp interceptor is on), so the time is bracketed by probing the stream at a few
 * timestamps (`x-stream-offset` by time attaches at chunk granularity): published after `after` and before `before`.
 */
export const fanoutHistoryEntrySchema = z.object({
  /** `ts` is the best known publish time: `publishedAt`, else the middle of `after`–`before` */
  message: decodedMessageSchema,
  offset: z.number().nullable(),
  /** exact broker receive time (`timestamp_in_ms`), when the interceptor is on */
  publishedAt: z.number().nullable(),
  after: z.number().nullable(),
  before: z.number().nullable(),
});
export type FanoutHistoryEntry = z.infer<typeof fanoutHistoryEntrySchema>;

export const fanoutHistorySchema = z.object({
  topic: z.string(),
  /** the stream read: `<topic>_fanout` */
  queue: z.string(),
  /** the `since` asked for, as given */
  since: z.string(),
  startedAt: z.number(),
  finishedAt: z.number(),
  /** oldest first */
  entries: z.array(fanoutHistoryEntrySchema),
  /** messages read from the stream (the filter may have kept fewer) */
  read: z.number(),
  bytes: z.number(),
  firstOffset: z.number().nullable(),
  lastOffset: z.number().nullable(),
  /** tail: caught up with the newest message; limit/bytes/time: a bound stopped the read first (there may be more) */
  stoppedBy: z.enum(['tail', 'limit', 'bytes', 'time']),
  /** what the stream keeps (its x-max-age / policy), when the management API told */
  retention: z.string().nullable(),
  /** messages the stream holds now, when known */
  streamMessages: z.number().nullable(),
  note: z.string().nullable(),
});
export type FanoutHistory = z.infer<typeof fanoutHistorySchema>;

// ---------------------------------------------------------------------------
// Queries and events
// ---------------------------------------------------------------------------

/** `recent()` / GET /api/messages query; `filter` uses the live-stream grammar (kind:call topic:compute method:get_* ...). */
export const recentQuerySchema = z.object({
  filter: z.string().max(1000).optional(),
  limit: z.number().int().min(1).max(10_000).optional(),
  /** only messages with a larger id sequence than this one */
  afterId: z.string().optional(),
});
export type RecentQuery = z.infer<typeof recentQuerySchema>;

/** `snapshot(nowMs)`: everything the overview page needs in one object. */
export const tapSnapshotSchema = z.object({
  nowMs: z.number(),
  status: tapStatusSchema,
  rates: rateSnapshotSchema,
  calls: z.object({
    inflight: z.number(),
    stuck: z.number(),
    done: z.number(),
    byCause: z.record(stuckCauseSchema, z.number()),
  }),
});
export type TapSnapshot = z.infer<typeof tapSnapshotSchema>;

/** What the tap emits; the realtime gateway batches these. */
export const tapEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('tap:message'), message: decodedMessageSchema }),
  z.object({ type: z.literal('tap:call'), call: callRecordSchema }),
  z.object({ type: z.literal('tap:status'), status: tapStatusSchema }),
  z.object({ type: z.literal('tap:exchange'), exchange: z.string(), action: z.enum(['bound', 'unbound']) }),
  z.object({ type: z.literal('tap:error'), message: z.string() }),
]);
export type TapEvent = z.infer<typeof tapEventSchema>;
