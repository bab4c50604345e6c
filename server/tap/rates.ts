/**
 * Message rates in 1 s buckets over up to one hour, per exchange / topic /
 * server / method, per kind, and in total. Pure: every call takes the time
 * (`nowMs` / the message's `ts`), nothing reads a clock.
 *
 * Each key owns a sparse list of the seconds it was counted in, and a ring
 * of 3600 Uint32 counters (14 KB) once it was counted in more than
 * SPARSE_SECONDS distinct seconds of the last hour. Keys are capped: past
 * the cap the least recently counted key is evicted (and counted), so a
 * flood of distinct topics or methods cannot grow memory, and the keys such
 * a flood brings in stay sparse.
 */
import { MESSAGE_KINDS, type KnownTargets, type MessageKind, type RateDimension, type RateSeries, type RateSnapshot, type TopMethod } from '../../lib/tap-contracts.ts';

export const BUCKET_MS = 1000;
/** One hour of 1 s buckets. */
export const MAX_WINDOW_BUCKETS = 3600;
export const MIN_WINDOW_MS = 60_000;
export const MAX_WINDOW_MS = MAX_WINDOW_BUCKETS * BUCKET_MS;

/**
 * Distinct seconds a counter keeps as a sparse list before it takes a full
 * ring: a key seen now and then (one of 100 000 topics, a rare method) costs
 * ~1 KB at most instead of 14 KB.
 */
export const SPARSE_SECONDS = 64;
/** Bytes of a full ring. */
export const DENSE_BYTES = MAX_WINDOW_BUCKETS * 4;

/**
 * Per-second counters over the last hour. Sparse (a sorted list of the
 * seconds that had counts) until it has more than SPARSE_SECONDS of them
 * in the window, then a ring of MAX_WINDOW_BUCKETS counters.
 */
export class SecondCounter {
  private ring: Uint32Array | null = null;
  /** sparse mode: ascending seconds and their counts */
  private secs: number[] = [];
  private counts: number[] = [];
  /** absolute second of the newest bucket written; -1 = never */
  private newest = -1;

  add(second: number, n = 1): void {
    if (this.ring === null) {
      this.addSparse(second, n);
      return;
    }
    const ring = this.ring;
    if (second > this.newest) {
      // zero the slots between the last write and now (all of them after a long pause)
      const gap = this.newest < 0 ? MAX_WINDOW_BUCKETS : Math.min(second - this.newest, MAX_WINDOW_BUCKETS);
      for (let i = 0; i < gap; i++) ring[(second - i) % MAX_WINDOW_BUCKETS] = 0;
      this.newest = second;
    } else if (second <= this.newest - MAX_WINDOW_BUCKETS) {
      return; // older than the ring holds
    }
    ring[second % MAX_WINDOW_BUCKETS] += n;
  }

  private addSparse(second: number, n: number): void {
    const { secs, counts } = this;
    if (second > this.newest) {
      secs.push(second);
      counts.push(n);
      this.newest = second;
      // forget seconds that left the window
      let drop = 0;
      while (drop < secs.length && secs[drop] <= second - MAX_WINDOW_BUCKETS) drop++;
      if (drop > 0) {
        secs.splice(0, drop);
        counts.splice(0, drop);
      }
    } else if (second <= this.newest - MAX_WINDOW_BUCKETS) {
      return;
    } else {
      let i = secs.length - 1;
      while (i >= 0 && secs[i] > second) i--;
      if (i >= 0 && secs[i] === second) counts[i] += n;
      else {
        secs.splice(i + 1, 0, second);
        counts.splice(i + 1, 0, n);
      }
    }
    if (secs.length > SPARSE_SECONDS) {
      const ring = new Uint32Array(MAX_WINDOW_BUCKETS);
      for (let k = 0; k < secs.length; k++) ring[secs[k] % MAX_WINDOW_BUCKETS] += counts[k];
      this.ring = ring;
      this.secs = [];
      this.counts = [];
    }
  }

  /** Counts for the `count` seconds ending with `lastSecond` (oldest first), into `out` (added to it). */
  read(lastSecond: number, count: number, out: number[]): number {
    let total = 0;
    const first = lastSecond - count + 1;
    const lo = Math.max(first, this.newest - MAX_WINDOW_BUCKETS + 1);
    const hi = Math.min(lastSecond, this.newest);
    if (this.ring === null) {
      for (let k = 0; k < this.secs.length; k++) {
        const s = this.secs[k];
        if (s < lo || s > hi) continue;
        out[s - first] += this.counts[k];
        total += this.counts[k];
      }
      return total;
    }
    for (let s = lo; s <= hi; s++) {
      const v = this.ring[s % MAX_WINDOW_BUCKETS];
      if (v !== 0) {
        out[s - first] += v;
        total += v;
      }
    }
    return total;
  }

  /** Sum over the window without building a series. */
  sum(lastSecond: number, count: number): number {
    let total = 0;
    const lo = Math.max(lastSecond - count + 1, this.newest - MAX_WINDOW_BUCKETS + 1);
    const hi = Math.min(lastSecond, this.newest);
    if (this.ring === null) {
      for (let k = 0; k < this.secs.length; k++) {
        const s = this.secs[k];
        if (s >= lo && s <= hi) total += this.counts[k];
      }
      return total;
    }
    for (let s = lo; s <= hi; s++) total += this.ring[s % MAX_WINDOW_BUCKETS];
    return total;
  }

  get newestSecond(): number {
    return this.newest;
  }

  /** estimated bytes held */
  get bytes(): number {
    return this.ring === null ? 64 + this.secs.length * 16 : 64 + DENSE_BYTES;
  }
}

interface KeyEntry {
  counter: SecondCounter;
  topic: string | null;
  method: string | null;
  /** the kinds of message the key was counted for, one bit per MESSAGE_KINDS index (KIND_BIT) */
  kinds: number;
}

/** One bit per message kind, for KeyEntry.kinds. */
const KIND_BIT = new Map<MessageKind, number>(MESSAGE_KINDS.map((k, i) => [k, 1 << i]));
/** Calls and casts: their exchange is one an RPC client targets (a fanout's is `<topic>_fanout`, never typed as one). */
const DIRECT_BITS = (KIND_BIT.get('call') as number) | (KIND_BIT.get('cast') as number);
/**
 * Requests: a topic they carry is one an RPC server consumes. Notifications share the control exchange but go to
 * `<topic>.<priority>` queues that only notification listeners consume (docs/wire.md#notifications).
 */
const RPC_BITS = DIRECT_BITS | (KIND_BIT.get('fanout') as number);
const NOTIFICATION_BIT = KIND_BIT.get('notification') as number;

/** Counters for one dimension, least-recently-used eviction past `cap`. */
class Dimension {
  /** Map order doubles as the LRU order: a counted key is moved to the end. */
  private readonly keys = new Map<string, KeyEntry>();
  evicted = 0;

  constructor(private readonly cap: number) {}

  add(key: string, second: number, topic: string | null, method: string | null, kindBit = 0): void {
    let e = this.keys.get(key);
    if (e) {
      // move to the back only when the second changes: cheap for bursts on one key
      if (e.counter.newestSecond !== second) {
        this.keys.delete(key);
        this.keys.set(key, e);
      }
    } else {
      if (this.keys.size >= this.cap) {
        const oldest = this.keys.keys().next().value as string;
        this.keys.delete(oldest);
        this.evicted++;
      }
      e = { counter: new SecondCounter(), topic, method, kinds: 0 };
      this.keys.set(key, e);
    }
    e.kinds |= kindBit;
    e.counter.add(second);
  }

  series(lastSecond: number, buckets: number, limit: number): RateSeries[] {
    const ranked: { key: string; e: KeyEntry; total: number }[] = [];
    for (const [key, e] of this.keys) {
      if (e.counter.newestSecond <= lastSecond - buckets) continue;
      const total = e.counter.sum(lastSecond, buckets);
      if (total > 0) ranked.push({ key, e, total });
    }
    ranked.sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : 1));
    return ranked.slice(0, limit).map(({ key, e, total }) => {
      const out = new Array<number>(buckets).fill(0);
      e.counter.read(lastSecond, buckets, out);
      return { key, topic: e.topic, method: e.method, total, buckets: out };
    });
  }

  /**
   * Keys counted lately, the most recently counted first (the LRU order, read backwards); with `kinds`, only
   * keys counted for one of those kinds (`without`: and for none of these).
   */
  recentKeys(limit: number, kinds = -1, without = 0): { key: string; topic: string | null; method: string | null }[] {
    const all = [...this.keys];
    const out: { key: string; topic: string | null; method: string | null }[] = [];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const e = all[i][1];
      if ((kinds !== -1 && (e.kinds & kinds) === 0) || (e.kinds & without) !== 0) continue;
      out.push({ key: all[i][0], topic: e.topic, method: e.method });
    }
    return out;
  }

  get size(): number {
    return this.keys.size;
  }

  /** estimated bytes of the counters */
  get bytes(): number {
    let n = 0;
    for (const [key, e] of this.keys) n += 96 + key.length * 2 + e.counter.bytes;
    return n;
  }
}

export interface RateLimits {
  /** distinct keys kept per dimension (default 1000; method keys 2000) */
  keysPerDimension?: number;
}

export interface RateSample {
  ts: number;
  kind: MessageKind;
  exchange: string;
  topic: string | null;
  server: string | null;
  method: string | null;
}

export interface RateQuery {
  windowMs?: number;
  /** series per dimension (default 20) */
  limit?: number;
  /** top methods (default 10) */
  top?: number;
}

export class RateModel {
  private readonly total = new SecondCounter();
  private readonly kinds = new Map<MessageKind, SecondCounter>(MESSAGE_KINDS.map((k) => [k, new SecondCounter()]));
  private readonly dims: Record<RateDimension, Dimension>;

  constructor(limits: RateLimits = {}) {
    const cap = limits.keysPerDimension ?? 1000;
    this.dims = { exchange: new Dimension(cap), topic: new Dimension(cap), server: new Dimension(cap), method: new Dimension(cap * 2) };
  }

  add(s: RateSample): void {
    const second = Math.floor(s.ts / BUCKET_MS);
    this.total.add(second);
    (this.kinds.get(s.kind) as SecondCounter).add(second);
    const bit = KIND_BIT.get(s.kind) ?? 0;
    this.dims.exchange.add(s.exchange === '' ? '(default)' : s.exchange, second, null, null, bit);
    if (s.topic !== null) this.dims.topic.add(s.topic, second, s.topic, null, bit);
    if (s.server !== null) this.dims.server.add(s.topic === null ? s.server : this.serverKey(s.topic, s.server), second, s.topic, null, bit);
    if (s.method !== null) this.dims.method.add(this.methodKey(s.topic, s.method), second, s.topic, s.method, bit);
  }

  /**
   * The last `<topic>.<server>` and `<topic>:<method>` keys: traffic comes in runs of one target, and a key
   * built per message (a new string, flattened and hashed for the lookup) cost more than the count itself.
   */
  private lastServer: { topic: string; server: string; key: string } | null = null;
  private lastMethod: { topic: string | null; method: string; key: string } | null = null;

  private serverKey(topic: string, server: string): string {
    const l = this.lastServer;
    if (l !== null && l.topic === topic && l.server === server) return l.key;
    const key = `${topic}.${server}`;
    this.lastServer = { topic, server, key };
    return key;
  }

  private methodKey(topic: string | null, method: string): string {
    const l = this.lastMethod;
    if (l !== null && l.topic === topic && l.method === method) return l.key;
    const key = `${topic ?? ''}:${method}`;
    this.lastMethod = { topic, method, key };
    return key;
  }

  /** Keys dropped because of the per-dimension cap. */
  get evictedKeys(): number {
    return this.dims.exchange.evicted + this.dims.topic.evicted + this.dims.server.evicted + this.dims.method.evicted;
  }

  get keyCount(): number {
    return this.dims.exchange.size + this.dims.topic.size + this.dims.server.size + this.dims.method.size;
  }

  /** estimated bytes of every counter (walks the keys: for benchmarks and status, not per message) */
  get bytes(): number {
    return this.dims.exchange.bytes + this.dims.topic.bytes + this.dims.server.bytes + this.dims.method.bytes;
  }

  /**
   * What traffic named lately, most recent first, at most `limit` of each: exchanges and topics seen carrying
   * calls, casts or fanouts, `<topic>.<server>` servers and `<topic>:<method>` methods (the Console's
   * suggestions). A topic seen only with notifications (or replies, or undecodable bodies) has no RPC server
   * behind it: a call to it times out, so it is listed apart, in `notificationTopics`, for the Console to warn.
   */
  knownTargets(limit: number): KnownTargets {
    return {
      exchanges: this.dims.exchange.recentKeys(limit, DIRECT_BITS).map((k) => k.key).filter((k) => k !== '(default)'),
      topics: this.dims.topic.recentKeys(limit, RPC_BITS).map((k) => k.key),
      notificationTopics: this.dims.topic.recentKeys(limit, NOTIFICATION_BIT, RPC_BITS).map((k) => k.key),
      servers: this.dims.server
        .recentKeys(limit)
        .filter((k) => k.topic !== null)
        .map((k) => ({ topic: k.topic as string, server: k.key.slice((k.topic as string).length + 1) })),
      methods: this.dims.method.recentKeys(limit).map((k) => ({ topic: k.topic, method: k.method ?? '' })),
    };
  }

  snapshot(nowMs: number, q: RateQuery = {}): RateSnapshot {
    const windowMs = clampWindow(q.windowMs ?? MIN_WINDOW_MS);
    const buckets = windowMs / BUCKET_MS;
    const last = Math.floor(nowMs / BUCKET_MS);
    const limit = q.limit ?? 20;
    const total = new Array<number>(buckets).fill(0);
    this.total.read(last, buckets, total);
    const byKind = {} as Record<MessageKind, number[]>;
    const totalsByKind = {} as Record<MessageKind, number>;
    for (const k of MESSAGE_KINDS) {
      const arr = new Array<number>(buckets).fill(0);
      totalsByKind[k] = (this.kinds.get(k) as SecondCounter).read(last, buckets, arr);
      byKind[k] = arr;
    }
    const method = this.dims.method.series(last, buckets, Math.max(limit, q.top ?? 10));
    const topMethods: TopMethod[] = method.slice(0, q.top ?? 10).map((s) => ({
      key: s.key,
      topic: s.topic,
      method: s.method ?? s.key,
      count: s.total,
      perSecond: s.total / (windowMs / 1000),
    }));
    return {
      nowMs,
      bucketMs: BUCKET_MS,
      windowMs,
      startMs: (last - buckets + 1) * BUCKET_MS,
      total,
      byKind,
      totalsByKind,
      series: {
        exchange: this.dims.exchange.series(last, buckets, limit),
        topic: this.dims.topic.series(last, buckets, limit),
        server: this.dims.server.series(last, buckets, limit),
        method: method.slice(0, limit),
      },
      topMethods,
    };
  }
}

/** Windows are whole seconds between 1 min and 1 h. */
export function clampWindow(ms: number): number {
  const s = Math.round(ms / BUCKET_MS) * BUCKET_MS;
  return Math.min(MAX_WINDOW_MS, Math.max(MIN_WINDOW_MS, s));
}
