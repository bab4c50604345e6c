/**
 * Fanout history: the broadcasts a topic's servers received before
 * osloscope started, read back from the `<topic>_fanout` stream.
 *
 * With `rabbit_stream_fanout` (oslo.messaging 14.7.0+, on in kolla 2025.1
 * and later) every fanout cast of a topic lands in one stream queue named
 * exactly `<topic>_fanout`, kept for `x-max-age` (rabbit_transient_queues_ttl,
 * 1800 s) whoever reads it (impl_rabbit Connection.declare_fanout_consumer,
 * docs/wire.md#layouts). A stream is read without taking anything: each
 * consumer picks its own start with the `x-stream-offset` consumer argument
 * (`first`, `last`, an offset, a timestamp in seconds, or an interval such
 * as `30m`), must set basic.qos > 0 and ack what it got (acks are credit, not
 * removal), and is cancelled when done (RabbitMQ streams guide, "Consuming";
 * rabbit_stream_queue:consume refuses a consumer without prefetch). oslo's
 * own agents consume the same stream from `last`, so reading it disturbs
 * nobody.
 *
 * Only a queue the broker reports as `type: stream` is read: consuming any
 * other queue would take messages away from a service. That needs the
 * management API; without it the read is refused with the reason.
 *
 * Every read is bounded: messages, bytes, wall time, and it stops at the
 * tail (the newest offset when the read began), so a busy topic cannot keep
 * it open. The messages go through the tap's normal decoder and redaction.
 *
 * A stream delivery carries its offset (`x-stream-offset`) but not its
 * publish time, unless the broker's timestamp interceptor adds
 * `timestamp_in_ms`. So the read also asks the stream where a few moments
 * in the window begin (a consumer attached by timestamp starts at the chunk
 * for that time) and brackets each message between two of them.
 */
import type { DecodedMessage, FanoutHistory, FanoutHistoryEntry, FanoutHistoryQuery, StreamStart } from '../../lib/tap-contracts.ts';
import { parseStreamStart } from '../../lib/tap-contracts.ts';
import type { Delivery, Link, Transport } from '../messaging/index.ts';
import { decodeObservation, fromDelivery } from './decoder.ts';
import { parseFilter } from './filter.ts';
import { InspectorError, ManagementInspector, MemoryInspector, type BrokerInspector } from './inspector.ts';
import { FANOUT_SUFFIX } from './queue-names.ts';

/** What the reader needs of an AMQP link (a ResilientLink of the tap's transport, or a fake in unit tests). */
export type StreamLink = Pick<Link, 'prefetch' | 'consume' | 'cancel' | 'ack' | 'close'>;

/** What the broker says about the queue (management API). */
export interface StreamQueueInfo {
  exists: boolean;
  /** `type` as the broker reports it */
  type: string | null;
  /** `x-max-age` of the queue or its effective policy (e.g. `1800s`) */
  maxAge: string | null;
  /** messages in the stream, when reported */
  messages: number | null;
}

export class FanoutHistoryError extends Error {
  override name = 'FanoutHistoryError';
  constructor(
    /** HTTP status the API answers with */
    readonly status: number,
    readonly code: 'validation_failed' | 'no_stream' | 'not_a_stream' | 'unsupported' | 'busy' | 'broker_error',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface FanoutHistoryLimits {
  /** messages read at most (default 500) */
  limit?: number;
  /** body bytes read at most (default 16 MiB) */
  maxBytes?: number;
  /** wall time of the whole read, probes included (default 10 s) */
  maxTimeMs?: number;
  /** no delivery for this long after the last one: caught up (default 600 ms) */
  idleMs?: number;
  /** how long to wait for the first delivery of a consumer (default 2 s: a cold stream reads from disk) */
  firstDeliveryMs?: number;
  /** timestamps probed to bracket publish times (default 12) */
  timeProbes?: number;
}

export interface FanoutHistoryRequest extends FanoutHistoryLimits {
  topic: string;
  /** `x-stream-offset` start (parseStreamStart grammar); default `30m` */
  since?: string;
  /** keep only these (the live-stream filter), applied after decoding */
  filter?: (m: DecodedMessage) => boolean;
}

export interface FanoutHistoryDeps {
  /** the broker's view of the queue; null = cannot tell (no management API) */
  describeQueue(queue: string): Promise<StreamQueueInfo | null>;
  /** a fresh, dedicated link (closed by the reader) */
  openLink(): Promise<StreamLink>;
  clock?: () => number;
  /** ids for the decoded messages (default h1, h2, ...) */
  nextId?: () => string;
}

export const DEFAULT_HISTORY_SINCE = '30m';
export const HISTORY_DEFAULTS: Required<FanoutHistoryLimits> = {
  limit: 500,
  maxBytes: 16 * 1024 * 1024,
  maxTimeMs: 10_000,
  idleMs: 600,
  firstDeliveryMs: 2000,
  timeProbes: 12,
};
/** basic.qos for the read: streams deliver in credit-sized batches */
const PREFETCH = 100;

/** The `x-stream-offset` consumer argument for a start position (AMQP types RabbitMQ expects). */
export function streamOffsetArgument(start: StreamStart): unknown {
  switch (start.kind) {
    case 'first':
    case 'last':
      return start.kind;
    case 'offset':
      return { '!': 'long', value: start.offset };
    case 'timestamp':
      // an AMQP timestamp is in seconds (rabbit_stream_queue: {timestamp, Ts} → Ts * 1000)
      return { '!': 'timestamp', value: Math.floor(start.ms / 1000) };
    case 'interval':
      return start.text;
  }
}

function offsetOf(d: Delivery): number | null {
  const v = d.properties.headers?.['x-stream-offset'];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

/** `1800s`, `30m`, `1h`, `7D` (x-max-age grammar) in ms; null when unreadable. */
export function maxAgeMs(maxAge: string | null): number | null {
  if (!maxAge) return null;
  const m = /^([0-9]+)(Y|M|D|h|m|s)$/.exec(maxAge.trim());
  if (!m) return null;
  const unit: Record<string, number> = { Y: 365 * 86_400_000, M: 30 * 86_400_000, D: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
  return Number(m[1]) * unit[m[2]];
}

interface Read {
  deliveries: { d: Delivery; offset: number | null; at: number }[];
  bytes: number;
  stoppedBy: FanoutHistory['stoppedBy'];
}

/**
 * One consumer on the stream from `start`: collects deliveries until a bound
 * or the tail, acks each (credit), cancels. `stopAt` ends the read once an
 * offset at or past it arrived (the tail when the read began).
 */
async function consumeStream(
  link: StreamLink,
  queue: string,
  start: StreamStart,
  o: { max: number; maxBytes: number; deadline: number; idleMs: number; firstMs: number; stopAt: number | null; clock: () => number },
): Promise<Read> {
  const read: Read = { deliveries: [], bytes: 0, stoppedBy: 'tail' };
  let done = false;
  let wake: (() => void) | null = null;
  let lastAt = o.clock();
  const finish = (why: Read['stoppedBy']) => {
    if (done) return;
    done = true;
    read.stoppedBy = why;
    wake?.();
  };
  const tag = await link.consume(
    queue,
    (d) => {
      if (done) return;
      // streams need acks as credit for more deliveries; nothing is removed
      link.ack(d);
      const offset = offsetOf(d);
      read.deliveries.push({ d, offset, at: o.clock() });
      read.bytes += d.body.length;
      lastAt = o.clock();
      if (read.deliveries.length >= o.max) finish('limit');
      else if (read.bytes >= o.maxBytes) finish('bytes');
      else if (o.stopAt !== null && offset !== null && offset >= o.stopAt) finish('tail');
    },
    { noAck: false, arguments: { 'x-stream-offset': streamOffsetArgument(start) } },
  );
  const began = o.clock();
  try {
    while (!done) {
      const now = o.clock();
      if (now >= o.deadline) {
        finish('time');
        break;
      }
      const idleLimit = read.deliveries.length === 0 ? began + o.firstMs : lastAt + o.idleMs;
      if (now >= idleLimit) {
        finish('tail');
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(1, Math.min(idleLimit, o.deadline) - now));
      });
      wake = null;
    }
  } finally {
    await link.cancel(tag).catch(() => undefined);
  }
  return read;
}

function describeStart(start: StreamStart, since: string): string {
  return start.kind === 'interval' ? `the last ${since}` : start.kind === 'timestamp' ? `since ${new Date(start.ms).toISOString()}` : `from ${since}`;
}

/** Read a topic's fanout stream. Throws FanoutHistoryError with an HTTP status and a reason. */
export async function readFanoutHistory(req: FanoutHistoryRequest, deps: FanoutHistoryDeps): Promise<FanoutHistory> {
  const clock = deps.clock ?? Date.now;
  let seq = 0;
  const nextId = deps.nextId ?? (() => `h${++seq}`);
  const limits: Required<FanoutHistoryLimits> = {
    limit: req.limit ?? HISTORY_DEFAULTS.limit,
    maxBytes: req.maxBytes ?? HISTORY_DEFAULTS.maxBytes,
    maxTimeMs: req.maxTimeMs ?? HISTORY_DEFAULTS.maxTimeMs,
    idleMs: req.idleMs ?? HISTORY_DEFAULTS.idleMs,
    firstDeliveryMs: req.firstDeliveryMs ?? HISTORY_DEFAULTS.firstDeliveryMs,
    timeProbes: req.timeProbes ?? HISTORY_DEFAULTS.timeProbes,
  };
  const since = (req.since ?? DEFAULT_HISTORY_SINCE).trim();
  const start = parseStreamStart(since);
  if (start instanceof Error) throw new FanoutHistoryError(400, 'validation_failed', start.message);
  const topic = req.topic;
  if (!topic || /[\s\u0000-\u001f]/.test(topic) || topic.length > 200) throw new FanoutHistoryError(400, 'validation_failed', 'topic must be 1–200 characters without spaces');
  const queue = `${topic}${FANOUT_SUFFIX}`;

  const info = await deps.describeQueue(queue).catch((err: unknown) => {
    throw new FanoutHistoryError(502, 'broker_error', `Cannot ask the management API about ${queue}: ${(err as Error).message}`, { cause: err });
  });
  if (info === null) {
    throw new FanoutHistoryError(
      501,
      'unsupported',
      `Fanout history needs the RabbitMQ management API (RABBITMQ_MANAGEMENT_URL) to confirm ${queue} is a stream before reading it: consuming any other kind of queue would take messages from the services.`,
    );
  }
  if (!info.exists) {
    throw new FanoutHistoryError(
      404,
      'no_stream',
      `Topic ${topic} has no fanout stream: there is no queue named ${queue}. Its services do not use rabbit_stream_fanout (oslo.messaging 14.7.0+, kolla 2025.1 and later), or no server of ${topic} has started on this vhost; broadcasts then go to per-server ${queue}_<id> queues and are not kept.`,
    );
  }
  if (info.type !== 'stream') {
    throw new FanoutHistoryError(
      409,
      'not_a_stream',
      `${queue} is a ${info.type ?? 'non-stream'} queue, not a stream: reading it would take broadcasts from the services, so osloscope does not. Fanout history needs rabbit_stream_fanout = true.`,
    );
  }

  const startedAt = clock();
  const deadline = startedAt + limits.maxTimeMs;
  let link: StreamLink;
  try {
    link = await deps.openLink();
  } catch (err) {
    throw new FanoutHistoryError(502, 'broker_error', `Cannot connect to read ${queue}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await link.prefetch(PREFETCH);
    // the tail now: the newest offset of the last chunk (bounded like the rest)
    const tailRead = await consumeStream(link, queue, { kind: 'last' }, {
      max: 10_000,
      maxBytes: limits.maxBytes,
      deadline,
      idleMs: Math.min(limits.idleMs, 300),
      firstMs: Math.min(limits.firstDeliveryMs, 500),
      stopAt: null,
      clock,
    });
    const tail = tailRead.deliveries.reduce<number | null>((max, x) => (x.offset !== null && (max === null || x.offset > max) ? x.offset : max), null);
    const main: Read = tail === null ? { deliveries: [], bytes: 0, stoppedBy: 'tail' } : await consumeStream(link, queue, start, {
      max: limits.limit,
      maxBytes: limits.maxBytes,
      deadline,
      idleMs: limits.idleMs,
      firstMs: limits.firstDeliveryMs,
      stopAt: tail,
      clock,
    });
    // a read that stops exactly at the tail with the limit reached did get everything
    const stoppedBy = main.stoppedBy === 'limit' && main.deliveries.at(-1)?.offset === tail ? 'tail' : main.stoppedBy;
    const kept = main.deliveries.filter((x) => tail === null || x.offset === null || x.offset <= tail);

    // When does each offset begin? A consumer attached at time t starts at the first chunk written at or after
    // t: probe a coarse grid over the window, then halve the widest bracket that still holds a message.
    const windowStart =
      start.kind === 'interval' ? startedAt - start.ms : start.kind === 'timestamp' ? start.ms : startedAt - (maxAgeMs(info.maxAge) ?? 1_800_000);
    const probes: Probe[] = [];
    const probeAt = async (ms: number): Promise<void> => {
      const t = Math.floor(ms / 1000) * 1000;
      if (probes.some((p) => p.t === t)) return;
      const probe = await consumeStream(link, queue, { kind: 'timestamp', ms: t }, {
        max: 1,
        maxBytes: limits.maxBytes,
        deadline,
        idleMs: 0,
        firstMs: 300,
        stopAt: null,
        clock,
      });
      probes.push({ t, first: probe.deliveries[0]?.offset ?? null });
      probes.sort((a, b) => a.t - b.t);
    };
    const timed = kept.filter((x) => x.offset !== null && numberHeader(x.d.properties.headers?.timestamp_in_ms) === null).map((x) => x.offset as number);
    if (timed.length > 0 && limits.timeProbes > 0 && windowStart < startedAt) {
      const step = (startedAt - windowStart) / limits.timeProbes;
      for (let i = 1; i < limits.timeProbes && clock() < deadline; i++) await probeAt(windowStart + step * i);
      for (let n = 0; n < limits.timeProbes * 2 && clock() < deadline; n++) {
        let widest: { after: number; before: number } | null = null;
        for (const o of new Set(timed)) {
          const b = bracket(probes, o, windowStart, startedAt);
          if (b.before - b.after > TIME_RESOLUTION_MS && (!widest || b.before - b.after > widest.before - widest.after)) widest = b;
        }
        if (!widest) break;
        await probeAt((widest.after + widest.before) / 2);
      }
    }

    const entries: FanoutHistoryEntry[] = [];
    for (const x of kept) {
      const publishedAt = numberHeader(x.d.properties.headers?.timestamp_in_ms);
      let after: number | null = null;
      let before: number | null = null;
      if (publishedAt === null && x.offset !== null && probes.length > 0) {
        const b = bracket(probes, x.offset, windowStart, Math.min(startedAt, x.at));
        after = b.after;
        before = b.before;
        // with `first` or an offset the window start is a guess (the stream's age), not a bound
        if (after === windowStart && start.kind !== 'interval' && start.kind !== 'timestamp') after = null;
      } else if (publishedAt === null) before = x.at;
      const ts = publishedAt ?? (after !== null && before !== null ? Math.round((after + before) / 2) : (before ?? x.at));
      const m = decodeObservation({ ...fromDelivery(x.d), id: nextId(), ts });
      if (req.filter && !req.filter(m)) continue;
      entries.push({ message: m, offset: x.offset, publishedAt, after, before });
    }
    const offsets = kept.map((x) => x.offset).filter((o): o is number => o !== null);
    const finishedAt = clock();
    let note: string | null = null;
    if (tail === null) note = `The stream ${queue} is empty: no broadcast of ${topic} is retained${info.maxAge ? ` (x-max-age ${info.maxAge})` : ''}.`;
    else if (kept.length === 0) note = `No broadcast of ${topic} ${describeStart(start, since)}; the stream holds older ones only.`;
    else if (stoppedBy !== 'tail') note = `Stopped by the ${stoppedBy} bound before the newest broadcast: narrow the window or raise the limit.`;
    return {
      topic,
      queue,
      since,
      startedAt,
      finishedAt,
      entries,
      read: kept.length,
      bytes: kept.reduce((n, x) => n + x.d.body.length, 0),
      firstOffset: offsets.length ? Math.min(...offsets) : null,
      lastOffset: offsets.length ? Math.max(...offsets) : null,
      stoppedBy,
      retention: info.maxAge,
      streamMessages: info.messages,
      note,
    };
  } catch (err) {
    if (err instanceof FanoutHistoryError) throw err;
    throw new FanoutHistoryError(502, 'broker_error', `Reading ${queue} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await link.close().catch(() => undefined);
  }
}

interface Probe {
  /** ms, whole seconds (an AMQP timestamp) */
  t: number;
  /** first offset a consumer attached at `t` got; null: none (t is past the tail) */
  first: number | null;
}

/** Probes closer than this are not refined further (AMQP timestamps are whole seconds). */
const TIME_RESOLUTION_MS = 2000;

/** Published after the last probe whose consumer started at or before `offset`, before the first that started past it. */
function bracket(probes: readonly Probe[], offset: number, from: number, to: number): { after: number; before: number } {
  let after = from;
  let before = to;
  for (const p of probes) {
    if (p.first !== null && p.first <= offset) after = Math.max(after, p.t);
    else {
      before = Math.min(before, p.t);
      break;
    }
  }
  return { after, before };
}

function numberHeader(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return null;
}

/** How many history reads may run at once per osloscope (each holds one AMQP connection for a few seconds). */
export const MAX_CONCURRENT_HISTORY_READS = 2;

export interface FanoutHistoryReaderOptions {
  transport: Transport;
  /** the tap's inspector, once it has one */
  inspector: () => BrokerInspector | null;
  clock?: () => number;
  limits?: FanoutHistoryLimits;
}

/** The tap's fanout-history service: validates a query, looks the stream up, reads it on a connection of its own. */
export class FanoutHistoryReader {
  private running = 0;

  constructor(private readonly o: FanoutHistoryReaderOptions) {}

  async read(query: FanoutHistoryQuery): Promise<FanoutHistory> {
    let filter: ((m: DecodedMessage) => boolean) | undefined;
    if (query.filter && query.filter.trim()) {
      try {
        filter = parseFilter(query.filter).predicate;
      } catch (err) {
        throw new FanoutHistoryError(400, 'validation_failed', `Bad filter: ${(err as Error).message}`);
      }
    }
    if (this.running >= MAX_CONCURRENT_HISTORY_READS) {
      throw new FanoutHistoryError(429, 'busy', `${this.running} fanout history reads are running; try again in a few seconds`);
    }
    this.running++;
    try {
      return await readFanoutHistory(
        { ...this.o.limits, topic: query.topic, since: query.since, limit: query.limit ?? this.o.limits?.limit, filter },
        {
          clock: this.o.clock,
          describeQueue: (q) => describeStreamQueue(this.o.inspector(), q),
          openLink: async () => {
            const link = this.o.transport.createLink('listen');
            try {
              await link.connect(0);
            } catch (err) {
              await link.close().catch(() => undefined);
              throw err;
            }
            return link;
          },
        },
      );
    } finally {
      this.running--;
    }
  }
}

/** The management API's (or the memory broker's) view of one queue; null when the inspector cannot tell. */
export async function describeStreamQueue(inspector: BrokerInspector | null, queue: string): Promise<StreamQueueInfo | null> {
  if (inspector instanceof ManagementInspector) {
    let q: { type?: string; arguments?: Record<string, unknown>; effective_policy_definition?: Record<string, unknown>; messages?: number };
    try {
      q = await inspector.request(`/queues/${encodeURIComponent(inspector.vhost)}/${encodeURIComponent(queue)}?disable_stats=true`);
    } catch (err) {
      if (err instanceof InspectorError && err.status === 404) return { exists: false, type: null, maxAge: null, messages: null };
      throw err;
    }
    const maxAge = q.arguments?.['x-max-age'] ?? q.effective_policy_definition?.['max-age'];
    return {
      exists: true,
      type: typeof q.type === 'string' ? q.type : null,
      maxAge: typeof maxAge === 'string' ? maxAge : null,
      messages: typeof q.messages === 'number' && q.messages > 0 ? q.messages : null,
    };
  }
  if (inspector instanceof MemoryInspector) {
    const q = (await inspector.queues()).find((x) => x.name === queue);
    // the embedded memory broker has no streams
    return q ? { exists: true, type: q.type ?? 'classic', maxAge: null, messages: q.messages } : { exists: false, type: null, maxAge: null, messages: null };
  }
  return null;
}
