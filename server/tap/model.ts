/**
 * The traffic model: everything the tap remembers, bounded whatever the
 * traffic. A ring of recent decoded messages, rate counters, the call
 * tracker with its latency histograms, and counters of what was dropped.
 * No I/O and no clock: the tap feeds it decoded messages and asks it
 * questions with `nowMs`.
 */
import type { CallRecord, CallState, DecodedMessage, RateSnapshot, TapCounters } from '../../lib/tap-contracts.ts';
import { CallTracker, type CallChange, type CallTrackerOptions, type QueueFacts } from './calls.ts';
import { parseFilter } from './filter.ts';
import { RateModel, type RateLimits, type RateQuery } from './rates.ts';

/** A fixed-capacity ring; pushing past capacity overwrites (and counts) the oldest. */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;
  overwritten = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('Ring capacity must be a positive integer');
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    if (this.count === this.capacity) this.overwritten++;
    else this.count++;
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  get size(): number {
    return this.count;
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
    this.next = 0;
    this.count = 0;
  }
}

export interface TrafficModelOptions {
  /** decoded messages kept for recent() (default 5000) */
  recentLimit?: number;
  /** also keep firehose `deliver.` observations in the stream (default false: one entry per publish) */
  includeDeliveries?: boolean;
  rates?: RateLimits;
  calls?: CallTrackerOptions;
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
  call: CallChange | null;
}

export class TrafficModel {
  readonly rates: RateModel;
  readonly calls: CallTracker;
  private readonly ring: Ring<DecodedMessage>;
  private readonly includeDeliveries: boolean;
  readonly counters = { received: 0, decoded: 0, undecodable: 0, dropped: 0 };

  constructor(options: TrafficModelOptions = {}) {
    this.ring = new Ring(options.recentLimit ?? 5000);
    this.includeDeliveries = options.includeDeliveries ?? false;
    this.rates = new RateModel(options.rates);
    this.calls = new CallTracker(options.calls);
  }

  /** Feed one decoded message (counted as received). */
  ingest(m: DecodedMessage): IngestResult {
    this.counters.received++;
    if (m.error === null) this.counters.decoded++;
    else this.counters.undecodable++;
    const deliver = m.trace?.event === 'deliver';
    const call = this.calls.observe(m);
    if (deliver) {
      if (!this.includeDeliveries) return { stream: false, call };
    } else {
      this.rates.add(m);
    }
    this.ring.push(m);
    return { stream: true, call };
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
}
