/**
 * What osloscope reads about the broker beyond traffic: the queue layout the
 * services declared in a vhost, firehose coverage across the cluster's nodes,
 * and RabbitMQ 4.x health (alarms, deprecated features, quorum members,
 * delivery limits). Served by GET /api/broker/health, summarised in
 * GET /api/health, shown on the Broker page. zod only.
 *
 * Layout letters follow oslo.messaging's [oslo_messaging_rabbit] options
 * (impl_rabbit.py): Q = rabbit_quorum_queue, T = rabbit_transient_quorum_queue,
 * S = rabbit_stream_fanout, M = use_queue_manager, D = amqp_durable_queues.
 */
import { z } from 'zod';

export const queueTypeSchema = z.enum(['classic', 'quorum', 'stream', 'unknown']);
export type QueueType = z.infer<typeof queueTypeSchema>;

export const layoutQueueKindSchema = z.enum(['topic', 'server', 'fanout', 'reply', 'notification']);
export type LayoutQueueKind = z.infer<typeof layoutQueueKindSchema>;

/** Queues of one kind by type and durability. */
export const layoutCountsSchema = z.object({
  total: z.number(),
  classic: z.number(),
  /** classic and durable (amqp_durable_queues, or a durable declare by a Q/T service on a classic-only vhost) */
  classicDurable: z.number(),
  quorum: z.number(),
  stream: z.number(),
  /** type not known (passive declares cannot read it) */
  unknown: z.number(),
  /** names `…<host>:<proc>:<n>` (use_queue_manager) */
  queueManager: z.number(),
});
export type LayoutCounts = z.infer<typeof layoutCountsSchema>;

export const layoutNameSchema = z.enum([
  /** oslo.messaging's defaults: transient classic queues, transient exchanges */
  'oslo-defaults',
  /** kolla-ansible 2025.1+: Q+T+S+M */
  'kolla',
  /** kolla-ansible 2024.1: Q only */
  'kolla-2024.1',
  /** openstack-helm: D+T+M, durable classic topic queues */
  'openstack-helm',
  /** two or more variants in one vhost */
  'mixed',
  /** a consistent combination without a well-known name */
  'custom',
  /** no oslo queue found */
  'empty',
  /** could not be read */
  'unknown',
]);
export type LayoutName = z.infer<typeof layoutNameSchema>;

export const layoutDriftSchema = z.object({
  code: z.enum([
    /** one topic's queues are of two types (servers configured differently) */
    'topic-types-differ',
    /** some topics quorum, others classic (services configured differently) */
    'services-differ',
    /** `<t>_fanout` exchanges durable for some topics, transient for others */
    'fanout-exchange-durability',
    /** reply/fanout queues quorum (T) while topic queues are classic: openstack-helm's `rabbit_quorum_queues` typo */
    'quorum-expected-classic-found',
    /** a durable control exchange (Q or D) next to transient classic topic queues */
    'control-exchange-durability',
    /** the vhost's default queue type turns oslo's plain durable declares into another type */
    'default-queue-type',
  ]),
  message: z.string(),
  /** queue or exchange names (at most 10) */
  examples: z.array(z.string()),
});
export type LayoutDrift = z.infer<typeof layoutDriftSchema>;

export const layoutTopicSchema = z.object({
  topic: z.string(),
  /** letters for this topic, e.g. "Q+T+S+M" or "" for oslo defaults */
  letters: z.string(),
  topicType: queueTypeSchema.nullable(),
  serverTypes: z.array(queueTypeSchema),
  fanout: z.enum(['stream', 'quorum', 'classic', 'unknown']).nullable(),
  fanoutExchangeDurable: z.boolean().nullable(),
});
export type LayoutTopic = z.infer<typeof layoutTopicSchema>;

export const layoutReportSchema = z.object({
  vhost: z.string(),
  at: z.number(),
  source: z.enum(['management', 'memory', 'passive', 'none']),
  /** every queue and exchange was read (false: passive declares, a page limit, or an error) */
  complete: z.boolean(),
  error: z.string().nullable(),
  name: layoutNameSchema,
  /** operator words, e.g. "kolla-ansible 2025.1+ (Q+T+S+M)" */
  label: z.string(),
  letters: z.string(),
  flags: z.object({
    quorum: z.boolean().nullable(),
    transientQuorum: z.boolean().nullable(),
    streamFanout: z.boolean().nullable(),
    queueManager: z.boolean().nullable(),
    durable: z.boolean().nullable(),
  }),
  /** the vhost's default queue type, when the broker says (3.11+) */
  defaultQueueType: z.string().nullable(),
  counts: z.object({
    topic: layoutCountsSchema,
    server: layoutCountsSchema,
    fanout: layoutCountsSchema,
    reply: layoutCountsSchema,
    notification: layoutCountsSchema,
  }),
  exchanges: z.object({
    control: z.array(z.object({ name: z.string(), durable: z.boolean().nullable() })),
    fanoutDurable: z.number(),
    fanoutTransient: z.number(),
  }),
  /** queue-manager hosts and processes seen in names (at most 20) */
  queueManagerProcesses: z.array(z.string()),
  /** per topic (at most 200, drifting topics first) */
  topics: z.array(layoutTopicSchema),
  drift: z.array(layoutDriftSchema),
  /** one sentence per finding, for the Broker page and logs */
  evidence: z.array(z.string()),
});
export type LayoutReport = z.infer<typeof layoutReportSchema>;

// ---------------------------------------------------------------------------
// Firehose coverage

export const firehoseNodeSchema = z.object({
  node: z.string(),
  /** tracing on for the vhost on this node; null = could not ask this node */
  tracing: z.boolean().nullable(),
  /** connections of the vhost on this node (null: unknown) */
  connections: z.number().nullable(),
  /** the node's management listener, credential-free */
  endpoint: z.string().nullable(),
  error: z.string().nullable(),
  /** osloscope turned tracing on here (and will turn it off) */
  enabledByOsloscope: z.boolean(),
});
export type FirehoseNode = z.infer<typeof firehoseNodeSchema>;

export const firehoseCoverageSchema = z.object({
  at: z.number(),
  vhost: z.string(),
  nodes: z.array(firehoseNodeSchema),
  /** nodes with tracing on / nodes asked successfully / all nodes */
  on: z.number(),
  known: z.number(),
  total: z.number(),
  /** share of the vhost's connections on nodes with tracing on (0..1); null when unknown */
  weighted: z.number().nullable(),
  /** e.g. "tracing on 2 of 3 nodes (67% of connections)" */
  summary: z.string(),
  /** when osloscope will turn off the tracing it turned on (epoch ms), null = not scheduled */
  autoOffAt: z.number().nullable(),
});
export type FirehoseCoverage = z.infer<typeof firehoseCoverageSchema>;

// ---------------------------------------------------------------------------
// Broker health

export const brokerNodeSchema = z.object({
  name: z.string(),
  running: z.boolean(),
  version: z.string().nullable(),
  memAlarm: z.boolean(),
  diskAlarm: z.boolean(),
  /** network partitions this node reports */
  partitions: z.array(z.string()),
  uptimeMs: z.number().nullable(),
});
export type BrokerNode = z.infer<typeof brokerNodeSchema>;

export const brokerWarningSchema = z.object({
  level: z.enum(['bad', 'warn', 'info']),
  code: z.string(),
  message: z.string(),
  /** queue names, nodes, features (at most 20) */
  subjects: z.array(z.string()),
});
export type BrokerWarning = z.infer<typeof brokerWarningSchema>;

export const quorumQueueInfoSchema = z.object({
  name: z.string(),
  leader: z.string().nullable(),
  members: z.array(z.string()),
  /** members not online */
  offline: z.array(z.string()),
  /** x-delivery-limit argument or delivery-limit policy; null = none set */
  deliveryLimit: z.number().nullable(),
  /** oslo notification queue (`<topic>.<priority>`) */
  notification: z.boolean(),
});
export type QuorumQueueInfo = z.infer<typeof quorumQueueInfoSchema>;

export const brokerHealthSchema = z.object({
  at: z.number(),
  vhost: z.string(),
  source: z.enum(['management', 'memory', 'passive', 'none']),
  error: z.string().nullable(),
  /** version of the node that answered, and the cluster name */
  version: z.string().nullable(),
  clusterName: z.string().nullable(),
  nodes: z.array(brokerNodeSchema),
  alarms: z.array(z.object({ node: z.string(), resource: z.enum(['memory', 'disk']) })),
  deprecatedFeatures: z.object({
    /** false on RabbitMQ < 3.13 (no /api/deprecated-features) or without the API */
    supported: z.boolean(),
    used: z.array(z.object({ name: z.string(), description: z.string(), phase: z.string() })),
  }),
  quorum: z.object({
    queues: z.number(),
    /** queues led per node */
    leaders: z.array(z.object({ node: z.string(), count: z.number() })),
    /** queues with members offline, and those without a leader (at most 50) */
    degraded: z.array(quorumQueueInfoSchema),
    /** RabbitMQ's default delivery limit for quorum queues without one (20 since 4.0, none before) */
    defaultDeliveryLimit: z.number().nullable(),
    /** quorum notification queues under the default limit (at most 50) */
    notificationsUnderDefaultLimit: z.array(z.string()),
  }),
  warnings: z.array(brokerWarningSchema),
  /** the queue list was cut at the page limit */
  truncated: z.boolean(),
});
export type BrokerHealth = z.infer<typeof brokerHealthSchema>;

/** GET /api/broker/health */
export const brokerHealthReportSchema = z.object({
  at: z.number(),
  layout: layoutReportSchema.nullable(),
  health: brokerHealthSchema.nullable(),
  firehose: firehoseCoverageSchema.nullable(),
});
export type BrokerHealthReport = z.infer<typeof brokerHealthReportSchema>;

/** The part of the report GET /api/health carries (no queue names for anonymous callers). */
export const brokerHealthSummarySchema = z.object({
  at: z.number(),
  layout: z.object({ name: layoutNameSchema, label: z.string(), drift: z.number(), complete: z.boolean() }).nullable(),
  firehose: z.object({ on: z.number(), known: z.number(), total: z.number(), weighted: z.number().nullable(), summary: z.string() }).nullable(),
  version: z.string().nullable(),
  nodes: z.number().nullable(),
  alarms: z.number(),
  deprecatedFeaturesUsed: z.array(z.string()),
  warnings: z.number(),
});
export type BrokerHealthSummary = z.infer<typeof brokerHealthSummarySchema>;
