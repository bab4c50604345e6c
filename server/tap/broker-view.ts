/**
 * The Broker page's data: oslo queues by kind with depth and consumers,
 * reply queues nobody consumes (callers that died; oslo never deletes them,
 * they expire rabbit_transient_queues_ttl after the last consumer left), and
 * connections grouped by process against rpc_conn_pool_size.
 *
 * Queue kinds follow oslo's naming (oslo-wire.md §2): `<topic>`,
 * `<topic>.<server>`, `<topic>_fanout_<hex>`, `reply_<hex>`,
 * `<topic>.<priority>` (and master's use_queue_manager names
 * `reply_<host>:<proc>:<n>`, `<topic>_fanout_<host>:<proc>:<n>`). A name is a
 * topic queue only when its topic is known: from a `<topic>_fanout` exchange
 * (every RPC server declares one) or from traffic.
 */
import type { BrokerQueue, BrokerQueueKind, BrokerView, ProcessConnections } from '../../lib/tap-contracts.ts';
import { wire } from '../messaging/index.ts';
import { processOf } from './calls.ts';
import type { InspectedConnection, InspectedConsumer, InspectedExchange, InspectedQueue, InspectorSource } from './inspector.ts';

const PRIORITIES: ReadonlySet<string> = new Set(wire.NOTIFICATION_PRIORITIES);
const REPLY_QUEUE = /^reply_(?:[0-9a-f]{32}|.+:.+:\d+)$/;
const FANOUT_QUEUE = /^(.+)_fanout_(?:[0-9a-f]{32}|.+:.+:\d+)$/;

const KIND_ORDER: Record<BrokerQueueKind, number> = { topic: 0, server: 1, fanout: 2, notification: 3, reply: 4, other: 5 };

export interface QueueKindInfo {
  kind: BrokerQueueKind;
  topic: string | null;
  server: string | null;
}

export function queueKind(name: string, topics: ReadonlySet<string>): QueueKindInfo {
  if (REPLY_QUEUE.test(name)) return { kind: 'reply', topic: null, server: null };
  const f = FANOUT_QUEUE.exec(name);
  if (f) return { kind: 'fanout', topic: f[1], server: null };
  const dot = name.lastIndexOf('.');
  if (dot > 0 && PRIORITIES.has(name.slice(dot + 1))) {
    const topic = name.slice(0, dot);
    // `compute.info` could be a server queue of topic `compute` on host `info`; oslo never names hosts like priorities
    return { kind: 'notification', topic, server: null };
  }
  if (topics.has(name)) return { kind: 'topic', topic: name, server: null };
  const first = name.indexOf('.');
  if (first > 0 && topics.has(name.slice(0, first))) return { kind: 'server', topic: name.slice(0, first), server: name.slice(first + 1) };
  return { kind: 'other', topic: null, server: null };
}

/** Topics named by `<topic>_fanout` exchanges. */
export function topicsFromExchanges(exchanges: readonly InspectedExchange[] | null): string[] {
  if (!exchanges) return [];
  return exchanges.filter((x) => x.type === 'fanout' && x.name.endsWith('_fanout')).map((x) => x.name.slice(0, -'_fanout'.length));
}

export interface BrokerViewInput {
  source: InspectorSource;
  vhost: string;
  at: number;
  poolSize: number;
  topics: Iterable<string>;
  exchanges: InspectedExchange[] | null;
  queues: InspectedQueue[] | null;
  consumers: InspectedConsumer[] | null;
  connections: InspectedConnection[] | null;
  /** the tap's own queues, left out of the view */
  ownQueues?: ReadonlySet<string>;
  error?: string | null;
}

export function buildBrokerView(input: BrokerViewInput): BrokerView {
  const topics = new Set<string>(input.topics);
  for (const t of topicsFromExchanges(input.exchanges)) topics.add(t);
  const clientName = new Map<string, string | null>();
  for (const c of input.connections ?? []) clientName.set(c.name, c.connectionName);
  const consumerProcesses = new Map<string, Set<string>>();
  const consumingConnections = new Set<string>();
  for (const c of input.consumers ?? []) {
    const name = c.connectionName ?? (c.connection ? (clientName.get(c.connection) ?? null) : null);
    if (c.connection) consumingConnections.add(c.connection);
    const p = processOf(name) ?? name;
    if (!p) continue;
    let s = consumerProcesses.get(c.queue);
    if (!s) consumerProcesses.set(c.queue, (s = new Set()));
    s.add(p);
  }
  const own = input.ownQueues ?? new Set<string>();
  const queues: BrokerQueue[] = [];
  for (const q of input.queues ?? []) {
    if (own.has(q.name)) continue;
    const k = queueKind(q.name, topics);
    queues.push({
      name: q.name,
      kind: k.kind,
      topic: k.topic,
      server: k.server,
      depth: q.messages,
      consumers: q.consumers,
      consumerProcesses: [...(consumerProcesses.get(q.name) ?? [])].sort(),
    });
  }
  queues.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const replyQueuesWithoutConsumers = queues.filter((q) => q.kind === 'reply' && q.consumers === 0).map((q) => ({ name: q.name, depth: q.depth }));

  const groups = new Map<string, { connections: number; listen: number }>();
  let unnamed = 0;
  for (const c of input.connections ?? []) {
    const p = processOf(c.connectionName);
    if (!p) {
      unnamed++;
      continue;
    }
    let g = groups.get(p);
    if (!g) groups.set(p, (g = { connections: 0, listen: 0 }));
    g.connections++;
    if (consumingConnections.has(c.name)) g.listen++;
  }
  const processes: ProcessConnections[] = [...groups.entries()]
    .map(([process, g]) => ({
      process,
      connections: g.connections,
      listen: g.listen,
      send: g.connections - g.listen,
      overPoolLimit: g.connections - g.listen > input.poolSize,
    }))
    .sort((a, b) => b.connections - a.connections || (a.process < b.process ? -1 : 1));

  return {
    source: input.source,
    at: input.at,
    vhost: input.vhost,
    complete: input.queues !== null && input.connections !== null && input.consumers !== null && !input.error,
    error: input.error ?? null,
    queues,
    replyQueuesWithoutConsumers,
    connections: { poolSize: input.poolSize, processes, unnamed },
  };
}
