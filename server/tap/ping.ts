/**
 * Ping a topic's whole fleet: oslo's `oslo_rpc_server_ping` call to every
 * server of a topic, with who answered, in how long, and who did not.
 *
 * oslo.messaging rpc/dispatcher.py adds `PingEndpoint` (method
 * `oslo_rpc_server_ping`, answers "pong") when `[DEFAULT] rpc_ping_enabled`
 * is true. A server without it still answers — with a NoSuchMethod (or
 * UnsupportedVersion) remote error — which proves it consumes its
 * `<topic>.<server>` queue; that counts as answered (status `error`, the
 * message says so).
 *
 * Servers come from three places, merged: the `<topic>.<server>` queues the
 * broker lists (management API, or the queues the tap has named in passive
 * mode), servers seen in observed traffic, and servers given by the caller.
 * Every call is sent mandatory (oslo's at_least_once): a server whose queue
 * is gone is reported at once as `no_queue`, not after the timeout.
 *
 * Once a server's call has settled, a passive queue.declare on its
 * `<topic>.<server>` queue gives the consumers at that moment, straight from
 * the queue: the management API counts them from periodic queue stats (every
 * 5 s by default, later on a loaded broker, and not at all for a queue whose
 * first stats are not in yet), so its number still said 1 for a server that had
 * just died, or 0 for one that had just started. The count is what tells a
 * dead server (its queue outlives it, nobody consumes: oslo declares
 * `<topic>.<server>` without auto-delete) from one that holds its queue and
 * does not answer (hung, or busy with earlier calls).
 */
import {
  MessageDeliveryFailure,
  MessageUndeliverable,
  MessagingTimeout,
  RemoteError,
  RpcClient,
  wire,
  type Transport,
} from '../messaging/index.ts';
import { MAX_PING_SERVERS, type FleetPing, type PingServerResult, type PingSource } from '../../lib/ping-contracts.ts';

export {
  DEFAULT_PING_TIMEOUT_S,
  MAX_PING_SERVERS,
  MAX_PING_TIMEOUT_S,
  MIN_PING_TIMEOUT_S,
  type FleetPing,
  type PingServerResult,
  type PingSource,
  type PingStatus,
} from '../../lib/ping-contracts.ts';

/** Calls in flight at once. */
export const PING_CONCURRENCY = 32;

export type PingCandidate = Pick<PingServerResult, 'server' | 'sources' | 'consumers'>;

/** A queue as the broker lists it: name and consumers. */
export interface ListedQueue {
  name: string;
  consumers?: number | null;
}

/** `<server>` of `<topic>.<server>`, or null. A server part is a host name: non-empty, may hold dots. */
export function serverOfQueue(topic: string, queueName: string): string | null {
  const prefix = `${topic}.`;
  if (!queueName.startsWith(prefix)) return null;
  const server = queueName.slice(prefix.length);
  return server.length > 0 ? server : null;
}

/**
 * Merge the servers a topic is known to have, in name order: from the
 * broker's queues, observed traffic and the caller's list. `only` keeps just
 * those servers (`--server`), given even when nothing else knows them.
 */
export function discoverServers(input: {
  topic: string;
  queues?: readonly ListedQueue[] | null;
  observed?: Iterable<string>;
  given?: readonly string[];
  only?: readonly string[];
}): PingCandidate[] {
  const byServer = new Map<string, PingCandidate>();
  const add = (server: string, source: PingSource, consumers: number | null = null): void => {
    let c = byServer.get(server);
    if (!c) {
      c = { server, sources: [], consumers: null };
      byServer.set(server, c);
    }
    if (!c.sources.includes(source)) c.sources.push(source);
    if (consumers !== null) c.consumers = consumers;
  };
  for (const q of input.queues ?? []) {
    const s = serverOfQueue(input.topic, q.name);
    if (s !== null) add(s, 'queue', typeof q.consumers === 'number' ? q.consumers : null);
  }
  for (const s of input.observed ?? []) if (s) add(s, 'traffic');
  for (const s of input.given ?? []) if (s) add(s, 'given');
  if (input.only && input.only.length > 0) {
    for (const s of input.only) add(s, 'given');
    const keep = new Set(input.only);
    for (const s of [...byServer.keys()]) if (!keep.has(s)) byServer.delete(s);
  }
  return [...byServer.values()].sort((a, b) => a.server.localeCompare(b.server));
}

export interface PingFleetOptions {
  topic: string;
  exchange?: string | null;
  candidates: PingCandidate[];
  timeoutSeconds: number;
  discovery: Omit<FleetPing['discovery'], 'truncated'>;
  concurrency?: number;
  clock?: () => number;
  /** the consumers of a queue now (default: a passive queue.declare on the transport) */
  queueConsumers?: (queue: string) => Promise<QueueConsumers>;
}

/** A queue's consumers now: a number, `gone` (404: no such queue), or null (could not be asked). */
export type QueueConsumers = number | 'gone' | null;

const queueOf = (topic: string, server: string): string => `${topic}.${server}`;

/**
 * Passive queue.declare on a send connection of the pool, borrowed and given back at once as send() does (the
 * check runs on its own channel, beside the publishes): declare-ok's consumer_count comes from the queue itself.
 */
export async function passiveConsumers(transport: Transport, queue: string): Promise<QueueConsumers> {
  try {
    const link = await transport.pool.get();
    transport.pool.put(link);
    return (await link.checkQueue(queue)).consumerCount;
  } catch (err) {
    return (err as { code?: unknown }).code === 404 ? 'gone' : null;
  }
}

/**
 * The result with the queue's consumers at the verdict (the listed count stays when the queue could not be
 * asked), and for a server that did not answer, what they say about it.
 */
export function withConsumers(r: PingServerResult, queue: string, now: QueueConsumers, timeoutSeconds: number): PingServerResult {
  if (now === null) return r;
  if (now === 'gone') {
    if (r.status !== 'timeout') return { ...r, consumers: null };
    return { ...r, consumers: null, message: `no reply within ${timeoutSeconds} s, and queue ${queue} is gone now: the server left and its queue was deleted` };
  }
  if (r.status !== 'timeout') return { ...r, consumers: now };
  const why =
    now === 0
      ? `nobody consumes ${queue}: the server is not running (its queue outlives it)`
      : `${now} consumer(s) on ${queue} did not answer: the server is hung or busy with earlier calls`;
  return { ...r, consumers: now, message: `no reply within ${timeoutSeconds} s; ${why}` };
}

/** Ping each candidate once, at most `concurrency` at a time; never throws for a server's failure. */
export async function pingFleet(transport: Transport, o: PingFleetOptions): Promise<FleetPing> {
  const clock = o.clock ?? Date.now;
  const truncated = o.candidates.length > MAX_PING_SERVERS;
  const candidates = o.candidates.slice(0, MAX_PING_SERVERS);
  const results: PingServerResult[] = new Array(candidates.length);
  const count = o.queueConsumers ?? ((queue: string) => passiveConsumers(transport, queue));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < candidates.length) {
      const i = next++;
      const pinged = await pingOne(transport, o.topic, o.exchange ?? null, candidates[i], o.timeoutSeconds);
      results[i] = withConsumers(pinged, queueOf(o.topic, pinged.server), await count(queueOf(o.topic, pinged.server)), o.timeoutSeconds);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? PING_CONCURRENCY, candidates.length) }, worker));
  const answered = results.filter((r) => r.answered).length;
  let note = o.discovery.note;
  if (truncated) note = `${note ? `${note}; ` : ''}only the first ${MAX_PING_SERVERS} of ${o.candidates.length} servers were pinged`;
  return {
    topic: o.topic,
    exchange: o.exchange ?? null,
    at: clock(),
    timeoutSeconds: o.timeoutSeconds,
    discovery: { ...o.discovery, note, truncated },
    servers: results,
    answered,
    missing: results.length - answered,
  };
}

async function pingOne(transport: Transport, topic: string, exchange: string | null, c: PingCandidate, timeoutSeconds: number): Promise<PingServerResult> {
  // retry 0: a broker that cannot take the publish fails this server now, not after reconnects
  const client = new RpcClient(transport, { topic, server: c.server, exchange }, { timeout: timeoutSeconds, retry: 0, atLeastOnce: true });
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
  try {
    const result = await client.call({}, wire.PING_METHOD, {});
    return { ...c, status: 'pong', answered: true, latencyMs: elapsed(), message: result === 'pong' ? null : `answered ${JSON.stringify(result)?.slice(0, 200)}` };
  } catch (err) {
    if (err instanceof RemoteError) {
      // without rpc_ping_enabled the dispatcher finds no endpoint for the method (NoSuchMethod), or none for
      // version 1.0 when every endpoint declares another version (UnsupportedVersion): rpc/dispatcher.py _dispatch
      const disabled = err.excType === 'NoSuchMethod' || err.excType === 'UnsupportedVersion';
      return {
        ...c,
        status: 'error',
        answered: true,
        latencyMs: elapsed(),
        message: disabled ? `alive, but ping is not enabled (rpc_ping_enabled = false): ${err.value}` : `${err.excType}: ${err.value}`.slice(0, 500),
      };
    }
    if (err instanceof MessagingTimeout) return { ...c, status: 'timeout', answered: false, latencyMs: null, message: `no reply within ${timeoutSeconds} s` };
    if (err instanceof MessageUndeliverable) {
      const message = `no queue ${queueOf(topic, c.server)} took the call (returned unroutable): the server left and its queue was deleted, or it never served this topic on this exchange`;
      return { ...c, status: 'no_queue', answered: false, latencyMs: null, message };
    }
    const text = err instanceof Error ? err.message : String(err);
    return { ...c, status: 'failed', answered: false, latencyMs: null, message: (err instanceof MessageDeliveryFailure ? `cannot send: ${text}` : text).slice(0, 500) };
  }
}
