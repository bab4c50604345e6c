/**
 * The traffic model: everything the tap remembers, bounded whatever the
 * traffic. A ring of recent decoded messages, rate counters, the call
 * tracker with its latency histograms, and counters of what was dropped.
 * No I/O and no clock: the tap feeds it decoded messages and asks it
 * questions with `nowMs`.
 */
import type { CallRecord, CallState, DecodedMessage, KnownTargets, RateSnapshot, TapCounters } from '../../lib/tap-contracts.ts';
import { CallTracker, type CallChange, type CallTrackerOptions, type QueueFacts } from './calls.ts';
import { parseFilter } from './filter.ts';
import { RateModel, type RateLimits, type RateQuery } from './rates.ts';
import { boundHeapGrowth, DEFAULT_HEAP_GROWTH_PERCENT } from './heap-growth.ts';
import { boundMessage, DEFAULT_MESSAGE_BYTES } from './message-size.ts';

/** Default bound on the bytes the recent messages hold together. */
export const DEFAULT_RECENT_BYTES = 64 * 1024 * 1024;

/**
 * A ring of at most `capacity` items and `maxBytes` bytes (each item pushed
 * with its size); pushing past either bound drops (and counts) the oldest.
 * The newest item is always kept, whatever its size.
 */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private readonly sizes: Float64Array;
  private next = 0;
  private count = 0;
  private totalBytes = 0;
  overwritten = 0;

  constructor(
    readonly capacity: number,
    readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('Ring capacity must be a positive integer');
    if (!(maxBytes > 0)) throw new RangeError('Ring maxBytes must be positive');
    this.items = new Array<T | undefined>(capacity);
    this.sizes = new Float64Array(capacity);
  }

  push(item: T, bytes = 0): void {
    if (this.count === this.capacity) this.dropOldest();
    this.items[this.next] = item;
    this.sizes[this.next] = bytes;
    this.totalBytes += bytes;
    this.count++;
    this.next = (this.next + 1) % this.capacity;
    while (this.totalBytes > this.maxBytes && this.count > 1) this.dropOldest();
  }

  private dropOldest(): void {
    const idx = (this.next - this.count + this.capacity) % this.capacity;
    this.totalBytes -= this.sizes[idx];
    this.items[idx] = undefined;
    this.sizes[idx] = 0;
    this.count--;
    this.overwritten++;
  }

  get size(): number {
    return this.count;
  }

  /** estimated bytes held */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Newest first, stopping when `visit` returns false. */
  scanNewest(visit: (item: T) => boolean): void {
    for (let i = 0; i < this.count; i++) {
      const idx = (this.next - 1 - i + this.capacity) % this.capacity;
      if (!visit(this.items[idx] as T)) return;
    }
  }

  clear(): void {
    this.items.fill(undefined);
    this.sizes.fill(0);
    this.next = 0;
    this.count = 0;
    this.totalBytes = 0;
  }
}

export interface TrafficModelOptions {
  /** decoded messages kept for recent() (default 5000) */
  recentLimit?: number;
  /** estimated bytes those messages may hold together (default 64 MiB); the oldest go first */
  recentBytes?: number;
  /** stored bytes of one message's user data; larger ones are kept cut (default 256 KiB, message-size.ts) */
  messageBytes?: number;
  /** also keep firehose `deliver.` observations in the stream (default false: one entry per publish) */
  includeDeliveries?: boolean;
  rates?: RateLimits;
  calls?: CallTrackerOptions;
  /**
   * V8 heap growth between full collections for the whole process, in
   * percent of what survived (default 50; 0 = V8's own, up to 4×): see
   * heap-growth.ts. What the model drops (messages leaving the ring, evicted
   * calls) is garbage that would otherwise pile up to several times the
   * model's size before V8 collects it.
   */
  heapGrowthPercent?: number;
}

export interface RecentOptions {
  filter?: string | ((m: DecodedMessage) => boolean);
  limit?: number;
  /** only messages with a larger id */
  afterId?: string;
}

export interface IngestResult {
  /** the message belongs in the live stream */
  stream: boolean;
  /** the message as stored (cut to the per-message budget when larger): what to show and send */
  message: DecodedMessage;
  call: CallChange | null;
}

export class TrafficModel {
  readonly rates: RateModel;
  readonly calls: CallTracker;
  private readonly ring: Ring<DecodedMessage>;
  private readonly includeDeliveries: boolean;
  private readonly messageBytes: number;
  readonly counters = { received: 0, decoded: 0, undecodable: 0, dropped: 0, truncated: 0 };

  constructor(options: TrafficModelOptions = {}) {
    this.ring = new Ring(options.recentLimit ?? 5000, options.recentBytes ?? DEFAULT_RECENT_BYTES);
    this.messageBytes = options.messageBytes ?? DEFAULT_MESSAGE_BYTES;
    this.includeDeliveries = options.includeDeliveries ?? false;
    this.rates = new RateModel(options.rates);
    this.calls = new CallTracker(options.calls);
    boundHeapGrowth(options.heapGrowthPercent ?? DEFAULT_HEAP_GROWTH_PERCENT);
  }

  /** Feed one decoded message (counted as received). */
  ingest(decoded: DecodedMessage): IngestResult {
    this.counters.received++;
    if (decoded.error === null) this.counters.decoded++;
    else this.counters.undecodable++;
    const { message: m, storedBytes } = boundMessage(decoded, this.messageBytes);
    if (m !== decoded) this.counters.truncated++;
    const deliver = m.trace?.event === 'deliver';
    const call = this.calls.observe(m);
    if (deliver) {
      if (!this.includeDeliveries) return { stream: false, message: m, call };
    } else {
      this.rates.add(m);
    }
    this.ring.push(m, storedBytes);
    return { stream: true, message: m, call };
  }

  tick(nowMs: number, facts?: QueueFacts): CallChange[] {
    return this.calls.tick(nowMs, facts);
  }

  recent(options: RecentOptions = {}): DecodedMessage[] {
    const limit = Math.min(options.limit ?? 200, this.ring.capacity);
    const pred = typeof options.filter === 'function' ? options.filter : options.filter ? parseFilter(options.filter).predicate : null;
    const after = options.afterId === undefined ? -1 : Number(options.afterId);
    const out: DecodedMessage[] = [];
    this.ring.scanNewest((m) => {
      if (after >= 0 && Number(m.id) <= after) return false;
      if (!pred || pred(m)) out.push(m);
      return out.length < limit;
    });
    return out.reverse();
  }

  callList(query: { state?: CallState; limit?: number } = {}): CallRecord[] {
    return this.calls.list(query);
  }

  snapshotRates(nowMs: number, query?: RateQuery): RateSnapshot {
    return this.rates.snapshot(nowMs, query);
  }

  knownTargets(limit: number): KnownTargets {
    return this.rates.knownTargets(limit);
  }

  tapCounters(): TapCounters {
    return {
      received: this.counters.received,
      decoded: this.counters.decoded,
      undecodable: this.counters.undecodable,
      dropped: this.counters.dropped,
      evictedMessages: this.ring.overwritten,
      evictedCalls: this.calls.evicted,
      evictedRateKeys: this.rates.evictedKeys,
    };
  }

  get recentSize(): number {
    return this.ring.size;
  }

  /** estimated bytes held by the recent messages */
  get recentBytes(): number {
    return this.ring.bytes;
  }
}
