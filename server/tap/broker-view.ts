/**
 * The Broker page's data: oslo queues by kind with depth and consumers,
 * reply queues nobody consumes (callers that died; oslo never deletes them,
 * they expire rabbit_transient_queues_ttl after the last consumer left), and
 * connections grouped by process against rpc_conn_pool_size.
 *
 * Queue kinds follow oslo's naming (docs/wire.md#queue-names, parsed in
 * queue-names.ts): `<topic>`, `<topic>.<server>`, `<topic>_fanout_<hex>`,
 * `<topic>_fanout_<host>:<proc>:<n>`, the `<topic>_fanout` stream,
 * `reply_<hex>`, `reply_<host>:<proc>:<n>`, `<topic>.<priority>` and
 * notification pools. A name is a topic queue only when its topic is known:
 * from a `<topic>_fanout` exchange (every RPC server declares one) or from
 * traffic.
 *
 * What counts as a problem changed with the new layouts (§1.7, §1.8):
 * - a stream keeps every message until x-max-age: its depth is retention,
 *   not a backlog, and it has no consumer when no server of the topic runs;
 * - with use_queue_manager or stream fanout oslo no longer deletes fanout
 *   queues on close, and reply queues are never deleted by their caller:
 *   an orphan with no consumer is normal until its x-expires
 *   (rabbit_transient_queues_ttl, 1800 s) removes it. Only an orphan that
 *   holds messages, never expires (ttl 0) and has sat idle for long, or
 *   outlived its x-expires, is worth a warning.
 *
 * A count the broker did not report is null, never 0: with statistics disabled (`management.disable_stats`
 * and `management_agent.disable_metrics_collector`, common on big clusters) the management API lists queues
 * without messages and consumers, and reading those as 0 would call every reply and fanout queue an orphan.
 * The tap asks the broker for them (withPassiveCounts); what is left unknown stays null.
 */
import type { BrokerQueue, BrokerQueueKind, BrokerView, ProcessConnections } from '../../lib/tap-contracts.ts';
import { processOf } from './calls.ts';
import { UNREPORTED_CHECKS, type InspectedConnection, type InspectedConsumer, type InspectedExchange, type InspectedQueue, type InspectorSource } from './inspector.ts';
import { parseFanoutExchange, parseQueueName } from './queue-names.ts';

const KIND_ORDER: Record<BrokerQueueKind, number> = { topic: 0, server: 1, fanout: 2, notification: 3, reply: 4, other: 5 };

/** An orphan without x-expires that has been idle this long is reported (oslo's default ttl, 1800 s). */
export const ORPHAN_IDLE_WARN_MS = 1_800_000;
/** x-expires is enforced by a broker timer: allow it this much lateness before calling a queue overdue. */
const EXPIRY_SLACK_MS = 60_000;
/** The note of a reply or fanout queue whose consumers the broker did not report. */
export const STATS_NOT_REPORTED =
  'consumers not reported by the management API (statistics disabled: management.disable_stats / management_agent.disable_metrics_collector) ' +
  `and not asked of the broker (an exclusive queue never is, nor more than ${UNREPORTED_CHECKS} a view), so whether it is an orphan is not known; rabbitmqctl list_queues name messages consumers tells`;

export interface QueueKindInfo {
  kind: BrokerQueueKind;
  topic: string | null;
  server: string | null;
}

export function queueKind(name: string, topics: ReadonlySet<string>, pools?: ReadonlyMap<string, string | null>): QueueKindInfo {
  const p = parseQueueName(name, { topics, pools });
  return { kind: p.kind, topic: p.topic, server: p.server };
}

function queueTypeOf(q: InspectedQueue): BrokerQueue['queueType'] {
  const t = q.type ?? (typeof q.arguments?.['x-queue-type'] === 'string' ? (q.arguments['x-queue-type'] as string) : null);
  return t === 'classic' || t === 'quorum' || t === 'stream' ? t : null;
}

function expiresOf(q: InspectedQueue): number | null {
  const v = q.arguments?.['x-expires'];
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : null;
  return n !== null && n > 0 ? n : null;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** health and note of one queue (see the module comment). */
export function queueHealth(
  q: {
    kind: BrokerQueueKind;
    depth: number | null;
    consumers: number | null;
    queueType: BrokerQueue['queueType'];
    stream: boolean;
    expiresMs: number | null;
    idleSince: number | null;
    /** a stream's x-max-age (`1800s`) */
    maxAge?: string | null;
  },
  at: number,
): { health: BrokerQueue['health']; note: string | null } {
  if (q.queueType === 'stream' || (q.kind === 'fanout' && q.stream && q.queueType === null)) {
    // RabbitMQ 3.13+ leaves a stream's message count out of /api/queues: 0 there means "not counted"
    return {
      health: 'ok',
      note:
        `stream: keeps what it was sent for ${q.maxAge ? `x-max-age ${q.maxAge}` : 'its retention policy'}, so its depth is retention, not a backlog` +
        `${q.depth !== null && q.depth > 0 ? ` (${q.depth} message${q.depth === 1 ? '' : 's'} kept)` : ''}; every reader keeps its own offset`,
    };
  }
  if ((q.kind !== 'reply' && q.kind !== 'fanout') || (q.consumers !== null && q.consumers > 0)) return { health: 'ok', note: null };
  const what = q.kind === 'reply' ? 'reply queue' : 'fanout queue';
  if (q.consumers === null) return { health: 'ok', note: STATS_NOT_REPORTED };
  if (q.depth !== null && q.depth > 0) {
    return {
      health: 'warn',
      note:
        q.kind === 'reply'
          ? `orphan ${what} holding ${q.depth} repl${q.depth === 1 ? 'y' : 'ies'} nobody will read: the caller died or restarted before they came`
          : `orphan ${what} holding ${q.depth} broadcast${q.depth === 1 ? '' : 's'} nobody will read: its server is gone`,
    };
  }
  const idle = q.idleSince === null ? null : Math.max(0, at - q.idleSince);
  if (q.expiresMs === null) {
    if (idle !== null && idle >= ORPHAN_IDLE_WARN_MS) {
      return { health: 'warn', note: `orphan ${what} without x-expires (rabbit_transient_queues_ttl = 0), idle for ${duration(idle)}: the broker never removes it` };
    }
    return {
      health: 'ok',
      note: `no consumer and no x-expires (rabbit_transient_queues_ttl = 0): kept until deleted${idle === null ? '' : `; idle for ${duration(idle)}`}`,
    };
  }
  if (idle !== null && idle > q.expiresMs + EXPIRY_SLACK_MS) {
    return { health: 'warn', note: `orphan ${what} idle for ${duration(idle)}, past its x-expires of ${duration(q.expiresMs)}: the broker should have removed it` };
  }
  return {
    health: 'expiring',
    note:
      idle === null
        ? `no consumer: normal for an orphan ${what}, removed by the broker after ${duration(q.expiresMs)} unused (x-expires)`
        : `no consumer for ${duration(idle)}: normal, the broker removes it in about ${duration(Math.max(0, q.expiresMs - idle))} (x-expires ${duration(q.expiresMs)})`,
  };
}

/** Topics named by `<topic>_fanout` exchanges. */
export function topicsFromExchanges(exchanges: readonly InspectedExchange[] | null): string[] {
  if (!exchanges) return [];
  const out: string[] = [];
  for (const x of exchanges) {
    const t = x.type === 'fanout' ? parseFanoutExchange(x.name) : null;
    if (t !== null) out.push(t);
  }
  return out;
}

export interface BrokerViewInput {
  source: InspectorSource;
  vhost: string;
  at: number;
  poolSize: number;
  topics: Iterable<string>;
  /** notification listener pools (queue → topic), learnt from the queues notifications were routed to */
  pools?: ReadonlyMap<string, string | null>;
  exchanges: InspectedExchange[] | null;
  queues: InspectedQueue[] | null;
  consumers: InspectedConsumer[] | null;
  connections: InspectedConnection[] | null;
  /** the tap's own queues, left out of the view */
  ownQueues?: ReadonlySet<string>;
  error?: string | null;
}

/** Orphans of one `<host>:<proc>` beyond this many counter values suggest counter drift. */
export const COUNTER_DRIFT_ORPHANS = 8;

/**
 * Queue-manager counter drift (§1.8 item 6): the counter in
 * `/dev/shm/<host>_<proc>_qmanager` resets on restart, so a service reuses
 * its names; names that keep multiplying without consumers mean the counter
 * is not being reset (e.g. a lost /dev/shm, pods renamed per restart) and
 * every restart leaves new orphans behind until x-expires.
 */
function noteCounterDrift(queues: BrokerQueue[]): void {
  const orphans = new Map<string, BrokerQueue[]>();
  for (const q of queues) {
    if (!q.queueManager || q.consumers !== 0 || (q.kind !== 'reply' && q.kind !== 'fanout')) continue;
    const key = `${q.kind} ${q.queueManager.host}:${q.queueManager.process}`;
    let list = orphans.get(key);
    if (!list) orphans.set(key, (list = []));
    list.push(q);
  }
  for (const list of orphans.values()) {
    if (list.length <= COUNTER_DRIFT_ORPHANS) continue;
    const qm = list[0].queueManager as NonNullable<BrokerQueue['queueManager']>;
    const max = Math.max(...list.map((q) => q.queueManager?.n ?? 0));
    for (const q of list) {
      q.health = 'warn';
      q.note = `${list.length} orphan ${q.kind} queues named ${qm.host}:${qm.process}:<n> (n up to ${max}): queue-manager names multiply instead of being reused after restarts${q.note ? `; ${q.note}` : ''}`;
    }
  }
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
    const k = parseQueueName(q.name, { topics, pools: input.pools });
    const queueType = queueTypeOf(q);
    const expiresMs = expiresOf(q);
    const idleSince = q.idleSince ?? null;
    const stream = queueType === 'stream' || (queueType === null && k.kind === 'fanout' && k.stream);
    const maxAge = q.arguments?.['x-max-age'];
    const h = queueHealth(
      { kind: k.kind, depth: q.messages, consumers: q.consumers, queueType, stream, expiresMs, idleSince, maxAge: typeof maxAge === 'string' ? maxAge : null },
      input.at,
    );
    queues.push({
      name: q.name,
      kind: k.kind,
      topic: k.topic,
      server: k.server,
      depth: q.messages,
      consumers: q.consumers,
      consumerProcesses: [...(consumerProcesses.get(q.name) ?? [])].sort(),
      queueType,
      queueManager: k.queueManager,
      depthIs: stream ? 'retention' : 'backlog',
      expiresMs,
      idleSince,
      rates: q.rates ?? null,
      health: h.health,
      note: h.note,
    });
  }
  queues.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  noteCounterDrift(queues);
  const replyQueuesWithoutConsumers = queues
    .filter((q) => q.kind === 'reply' && q.consumers === 0)
    .map((q) => ({ name: q.name, depth: q.depth, health: q.health, note: q.note }));

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
