/**
 * oslo.messaging's queue and exchange names, parsed back (docs/wire.md#queue-names).
 * One module so the decoder, the call tracker and the broker view agree.
 *
 * Names oslo writes (oslo_messaging/_drivers/impl_rabbit.py):
 * - reply queue: `reply_<uuid4 hex>` (amqpdriver ReplyWaiter via
 *   Connection.declare_direct_consumer), or with `use_queue_manager` (14.7.0+)
 *   `reply_<hostname>:<processname>:<n>` (QManager.get), n counting from 1;
 * - fanout exchange `<topic>_fanout` (fanout_send / declare_fanout_consumer);
 * - fanout queue `<topic>_fanout_<uuid4 hex>`, `<topic>_fanout_<host>:<proc>:<n>`
 *   with the queue manager, or exactly `<topic>_fanout` with
 *   `rabbit_stream_fanout` (one stream shared by every server of the topic);
 * - topic queues `<topic>` and `<topic>.<server>` (declare_topic_consumer):
 *   the server is a host name, often an FQDN with dots of its own, so the
 *   split is on the first '.' and only after a known topic;
 * - notification queues `<topic>.<priority>` (amqpdriver
 *   listen_for_notifications), or, for listener pools, the pool name itself
 *   bound with routing key `<topic>.<priority>` — a pool is only known from
 *   its bindings or from the queues a notification was routed to.
 *
 * The queue-manager counter lives in `/dev/shm/<host>_<proc>_qmanager`, is
 * shared by every worker of the service and resets to 1 when the service
 * restarts, so the same names come back after a restart: `{host, process, n}`
 * names a slot, not a process lifetime (see reply-epochs.ts).
 */
import type { BrokerQueueKind, QueueManagerName } from '../../lib/tap-contracts.ts';
import { wire } from '../messaging/index.ts';

export const FANOUT_SUFFIX = '_fanout';
const PRIORITIES: ReadonlySet<string> = new Set(wire.NOTIFICATION_PRIORITIES);

const REPLY_QUEUE = /^reply_(?:([0-9a-f]{32})|([^:]+):([^:]+):([1-9][0-9]*))$/;
const FANOUT_QUEUE = /^(.+)_fanout(?:_(?:([0-9a-f]{32})|([^:]+):([^:]+):([0-9]+)))?$/;
const FANOUT_EXCHANGE = /^(.+)_fanout$/;

export interface ReplyQueueName {
  /** the uuid4 hex suffix of a classic `reply_<hex>` name */
  hex: string | null;
  /** `{host, process, n}` of a queue-manager name */
  queueManager: QueueManagerName | null;
}

/** `reply_<hex32>` or `reply_<host>:<proc>:<n>`; null for anything else. */
export function parseReplyQueue(name: string): ReplyQueueName | null {
  if (!name.startsWith('reply_')) return null;
  const m = REPLY_QUEUE.exec(name);
  if (!m) return null;
  if (m[1] !== undefined) return { hex: m[1], queueManager: null };
  return { hex: null, queueManager: { host: m[2], process: m[3], n: Number(m[4]) } };
}

/** `<topic>` of a `<topic>_fanout` exchange (also the name of the stream fanout queue); null otherwise. */
export function parseFanoutExchange(name: string): string | null {
  const m = FANOUT_EXCHANGE.exec(name);
  return m ? m[1] : null;
}

export interface FanoutQueueName {
  topic: string;
  /** no suffix: the one `<topic>_fanout` stream of rabbit_stream_fanout (the queue's x-queue-type says for sure) */
  stream: boolean;
  hex: string | null;
  queueManager: QueueManagerName | null;
}

/** A fanout queue name in any of its three forms; null otherwise. */
export function parseFanoutQueue(name: string): FanoutQueueName | null {
  const m = FANOUT_QUEUE.exec(name);
  if (!m) return null;
  if (m[2] !== undefined) return { topic: m[1], stream: false, hex: m[2], queueManager: null };
  if (m[3] !== undefined) return { topic: m[1], stream: false, hex: null, queueManager: { host: m[3], process: m[4], n: Number(m[5]) } };
  return { topic: m[1], stream: true, hex: null, queueManager: null };
}

/**
 * `<prog>:<pid>` of a client connection name `<argv0>:<pid>:<uuid4>` (what
 * oslo's impl_rabbit gives py-amqp as connection_name, and osloscope too);
 * null for other names.
 */
export function processOf(connectionName: string | null | undefined): string | null {
  if (!connectionName) return null;
  const m = /^(.+):(\d+):[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.exec(connectionName);
  return m ? `${m[1]}:${m[2]}` : null;
}

/** The `<host>:<proc>:<n>` text of a queue-manager name. */
export function queueManagerLabel(q: QueueManagerName): string {
  return `${q.host}:${q.process}:${q.n}`;
}

/**
 * `<topic>` / `<topic>.<server>` of an RPC routing key or queue name. The
 * server part is a host name and may hold dots (FQDNs), so the split comes
 * right after a known topic; the longest known topic that prefixes the name
 * wins (dotted topic names exist in some deployments). With no known topic
 * matching, the first '.' splits: oslo topics are plain words.
 */
export function splitTopicServer(name: string, topics?: ReadonlySet<string>): { topic: string; server: string | null } {
  if (topics && topics.size > 0) {
    if (topics.has(name)) return { topic: name, server: null };
    let best = -1;
    for (let i = name.indexOf('.'); i > 0; i = name.indexOf('.', i + 1)) {
      if (topics.has(name.slice(0, i))) best = i;
    }
    if (best > 0) return { topic: name.slice(0, best), server: name.slice(best + 1) };
  }
  const dot = name.indexOf('.');
  return dot < 0 ? { topic: name, server: null } : { topic: name.slice(0, dot), server: name.slice(dot + 1) };
}

/** `<topic>` and priority of `<topic>.<priority>`; null when the last word is no oslo priority. */
export function parseNotificationQueue(name: string): { topic: string; priority: string } | null {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  const priority = name.slice(dot + 1);
  return PRIORITIES.has(priority) ? { topic: name.slice(0, dot), priority } : null;
}

export interface ParsedQueueName {
  kind: BrokerQueueKind;
  topic: string | null;
  server: string | null;
  /** fanout: the stream form `<topic>_fanout` */
  stream: boolean;
  /** notification: the priority of `<topic>.<priority>`; null for pools */
  priority: string | null;
  /** notification pools: the pool name (= the queue name) */
  pool: string | null;
  queueManager: QueueManagerName | null;
}

export interface QueueNameContext {
  /** topics known from `<topic>_fanout` exchanges or traffic */
  topics: ReadonlySet<string>;
  /** queue names known to be notification listener pools (bound with `<topic>.<priority>` under another name) */
  pools?: ReadonlyMap<string, string | null>;
}

/** Classify a queue name by oslo's naming (§1.4). */
export function parseQueueName(name: string, ctx: QueueNameContext): ParsedQueueName {
  const none = { stream: false, priority: null, pool: null, queueManager: null };
  const r = parseReplyQueue(name);
  if (r) return { ...none, kind: 'reply', topic: null, server: null, queueManager: r.queueManager };
  const f = parseFanoutQueue(name);
  if (f) return { ...none, kind: 'fanout', topic: f.topic, server: null, stream: f.stream, queueManager: f.queueManager };
  const pool = ctx.pools?.get(name);
  if (pool !== undefined) return { ...none, kind: 'notification', topic: pool, server: null, pool: name };
  const n = parseNotificationQueue(name);
  // `compute.info` could be a server queue of topic `compute` on a host named `info`; oslo never names hosts like priorities
  if (n) return { ...none, kind: 'notification', topic: n.topic, server: null, priority: n.priority };
  const ts = splitTopicServer(name, ctx.topics);
  if (ctx.topics.has(ts.topic)) {
    return ts.server === null ? { ...none, kind: 'topic', topic: ts.topic, server: null } : { ...none, kind: 'server', topic: ts.topic, server: ts.server };
  }
  return { ...none, kind: 'other', topic: null, server: null };
}

/**
 * Notification pools from a firehose publish: a notification routed with
 * key `<topic>.<priority>` to a queue of another name went to a pool.
 */
export function poolsFromRoutedQueues(routingKey: string, routedQueues: readonly string[]): { pool: string; topic: string }[] {
  const n = parseNotificationQueue(routingKey);
  if (!n) return [];
  const out: { pool: string; topic: string }[] = [];
  for (const q of routedQueues) {
    if (q === routingKey || q.startsWith('reply_') || parseFanoutQueue(q)) continue;
    out.push({ pool: q, topic: n.topic });
  }
  return out;
}
