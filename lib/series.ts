/**
 * Pure transforms from the tap's snapshots to the plain rows recharts draws.
 * Every function takes `nowMs` (in the server's clock) instead of reading the
 * clock, so tests pin time and stale snapshots visibly slide out of the window.
 */
import type { CallRecord, LatencyHistogram, RateDimension, RateSnapshot } from './tap-contracts.ts';

export const OTHER_KEY = '(other)';

/** One chart row: the bucket start time `t` and one numeric column per series key. */
export type RateRow = { t: number } & Record<string, number>;

export interface RateRowsOptions {
  dimension: RateDimension;
  nowMs: number;
  /** how far back the chart goes (default: the snapshot's window) */
  windowMs?: number;
  /** series drawn individually; the rest are summed into `(other)` */
  top?: number;
  /** only series whose key matches (e.g. a chosen topic) */
  include?: (key: string) => boolean;
}

export interface RateRows {
  rows: RateRow[];
  /** series keys in drawing order, biggest first, `(other)` last */
  keys: string[];
  /** messages per second per bucket (bucketMs may be other than 1 s) */
  bucketSeconds: number;
}

/**
 * Per-second rates of the top series of a dimension, one row per bucket in
 * `[nowMs - windowMs, nowMs]`. Buckets the snapshot does not cover (newer than
 * the snapshot: it is stale) are absent, so a stale chart stops short.
 */
export function rateRows(snapshot: RateSnapshot | null | undefined, o: RateRowsOptions): RateRows {
  if (!snapshot) return { rows: [], keys: [], bucketSeconds: 1 };
  const bucketSeconds = snapshot.bucketMs / 1000;
  const windowMs = o.windowMs ?? snapshot.windowMs;
  const top = o.top ?? 6;
  const all = snapshot.series[o.dimension].filter((s) => (o.include ? o.include(s.key) : true));
  const ranked = [...all].sort((a, b) => b.total - a.total || a.key.localeCompare(b.key));
  const shown = ranked.slice(0, top).filter((s) => s.total > 0);
  const rest = ranked.slice(top).filter((s) => s.total > 0);
  const keys = shown.map((s) => s.key);
  if (rest.length > 0) keys.push(OTHER_KEY);

  const rows: RateRow[] = [];
  const n = snapshot.total.length;
  for (let i = 0; i < n; i++) {
    const t = snapshot.startMs + i * snapshot.bucketMs;
    if (t + snapshot.bucketMs <= o.nowMs - windowMs || t > o.nowMs) continue;
    const f = filledFraction(snapshot, t);
    const rate = (buckets: readonly number[]) => round2(slidingCount(buckets, i, f) / bucketSeconds);
    const row: RateRow = { t } as RateRow;
    for (const s of shown) row[s.key] = rate(s.buckets);
    if (rest.length > 0) {
      let sum = 0;
      for (const s of rest) sum += slidingCount(s.buckets, i, f);
      row[OTHER_KEY] = round2(sum / bucketSeconds);
    }
    rows.push(row);
  }
  return { rows, keys, bucketSeconds };
}

/**
 * How much of the bucket starting at `bucketStart` had elapsed when the
 * snapshot was taken: 1 for complete buckets, less for the one still filling.
 */
export function filledFraction(snapshot: RateSnapshot, bucketStart: number): number {
  const end = bucketStart + snapshot.bucketMs;
  if (snapshot.nowMs >= end || snapshot.nowMs < bucketStart) return 1;
  return (snapshot.nowMs - bucketStart) / snapshot.bucketMs;
}

/**
 * Messages in bucket `i`. For the bucket still filling (fraction `f`), the
 * count over the bucket-long window ending now: its own messages plus the
 * not yet replaced share of the previous bucket, so the newest point neither
 * dips (few messages so far) nor jumps (few divided by a short time).
 */
export function slidingCount(buckets: readonly number[], i: number, f: number): number {
  const cur = buckets[i] ?? 0;
  if (f >= 1) return cur;
  return cur + (buckets[i - 1] ?? 0) * (1 - f);
}

/** Total messages per second per bucket, split by kind: rows `{t, call, cast, ...}`. */
export function kindRows(snapshot: RateSnapshot | null | undefined, nowMs: number, windowMs?: number): RateRow[] {
  if (!snapshot) return [];
  const w = windowMs ?? snapshot.windowMs;
  const secs = snapshot.bucketMs / 1000;
  const rows: RateRow[] = [];
  for (let i = 0; i < snapshot.total.length; i++) {
    const t = snapshot.startMs + i * snapshot.bucketMs;
    if (t + snapshot.bucketMs <= nowMs - w || t > nowMs) continue;
    const f = filledFraction(snapshot, t);
    const row = { t } as RateRow;
    for (const [kind, buckets] of Object.entries(snapshot.byKind)) row[kind] = round2(slidingCount(buckets ?? [], i, f) / secs);
    rows.push(row);
  }
  return rows;
}

/**
 * Messages per second over the last `seconds` complete buckets before
 * `nowMs` (the bucket still filling is left out: it would read low).
 */
export function recentRate(snapshot: RateSnapshot | null | undefined, nowMs: number, seconds = 10): number {
  if (!snapshot || snapshot.total.length === 0) return 0;
  let sum = 0;
  let spanMs = 0;
  for (let i = snapshot.total.length - 1; i >= 0; i--) {
    const start = snapshot.startMs + i * snapshot.bucketMs;
    const end = start + snapshot.bucketMs;
    if (end > nowMs || end > snapshot.nowMs) continue; // still filling (or in the future)
    if (start < nowMs - seconds * 1000) break;
    sum += snapshot.total[i];
    spanMs += snapshot.bucketMs;
  }
  return spanMs === 0 ? 0 : round2(sum / (spanMs / 1000));
}

/** Whether data received at `receivedAtMs` is too old to be trusted as live. */
export function isStale(receivedAtMs: number | null | undefined, nowMs: number, maxAgeMs = 3000): boolean {
  return receivedAtMs == null || nowMs - receivedAtMs > maxAgeMs;
}

export interface HistogramRow {
  /** bucket label: `≤ 0.1 s`, the last one `> 100 s` */
  bucket: string;
  le: number;
  count: number;
}

/** The histogram of one method key (`<topic>:<method>`, or all methods when null) as plain bars. */
export function histogramRows(h: LatencyHistogram | null | undefined, methodKey: string | null): HistogramRow[] {
  if (!h) return [];
  const counts = new Array<number>(h.buckets.length + 1).fill(0);
  for (const s of h.series) {
    if (methodKey !== null && histogramKey(s.labels.topic, s.labels.method) !== methodKey) continue;
    s.counts.forEach((c, i) => (counts[i] += c));
  }
  return counts.map((count, i) => ({
    bucket: i < h.buckets.length ? `≤ ${formatSeconds(h.buckets[i])}` : `> ${formatSeconds(h.buckets[h.buckets.length - 1])}`,
    le: i < h.buckets.length ? h.buckets[i] : Number.POSITIVE_INFINITY,
    count,
  }));
}

export function histogramKey(topic: string, method: string): string {
  return `${topic}:${method}`;
}

export interface MethodLatency {
  key: string;
  topic: string;
  method: string;
  count: number;
  meanMs: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Per-method call counts and latency estimates, biggest count first. */
export function methodLatencies(h: LatencyHistogram | null | undefined): MethodLatency[] {
  if (!h) return [];
  const by = new Map<string, { topic: string; method: string; counts: number[]; sum: number; count: number }>();
  for (const s of h.series) {
    const key = histogramKey(s.labels.topic, s.labels.method);
    let e = by.get(key);
    if (!e) {
      e = { topic: s.labels.topic, method: s.labels.method, counts: new Array<number>(h.buckets.length + 1).fill(0), sum: 0, count: 0 };
      by.set(key, e);
    }
    s.counts.forEach((c, i) => (e.counts[i] += c));
    e.sum += s.sum;
    e.count += s.count;
  }
  return [...by.entries()]
    .map(([key, e]) => ({
      key,
      topic: e.topic,
      method: e.method,
      count: e.count,
      meanMs: e.count === 0 ? 0 : round2((e.sum / e.count) * 1000),
      p50Ms: quantileMs(e.counts, h.buckets, 0.5),
      p95Ms: quantileMs(e.counts, h.buckets, 0.95),
    }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/**
 * Prometheus-style histogram_quantile: linear interpolation inside the bucket
 * holding the q-th observation. Null when empty; observations above the last
 * edge report that edge (the estimate cannot say more).
 */
export function quantileMs(counts: readonly number[], edges: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (seen + counts[i] >= rank && counts[i] > 0) {
      if (i >= edges.length) return edges[edges.length - 1] * 1000;
      const lower = i === 0 ? 0 : edges[i - 1];
      const upper = edges[i];
      const frac = (rank - seen) / counts[i];
      return round2((lower + (upper - lower) * frac) * 1000);
    }
    seen += counts[i];
  }
  return edges[edges.length - 1] * 1000;
}

/** How long a call has been waiting at `nowMs`, or how long it took when it is done. */
export function callAgeMs(call: CallRecord, nowMs: number): number {
  if (call.state === 'done' && call.latencyMs !== null) return call.latencyMs;
  return Math.max(0, nowMs - call.publishedAt);
}

/** Fraction of the caller's timeout used up at `nowMs` (may exceed 1 for stuck calls). */
export function timeoutFraction(call: CallRecord, nowMs: number): number {
  return call.timeoutMs <= 0 ? 1 : (nowMs - call.publishedAt) / call.timeoutMs;
}

/** Timeline entries as offsets from the publish, for a per-call timeline bar. */
export function timelineRows(call: CallRecord): { offsetMs: number; event: string; detail: string }[] {
  return call.timeline.map((e) => ({ offsetMs: Math.max(0, e.ts - call.publishedAt), event: e.event, detail: e.detail }));
}

export function formatSeconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  return `${s} s`;
}

/** 850 ms, 12.3 s, 4 m 05 s, 2 h 01 m */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const totalS = Math.floor(ms / 1000);
  if (totalS < 3600) return `${Math.floor(totalS / 60)} m ${String(totalS % 60).padStart(2, '0')} s`;
  return `${Math.floor(totalS / 3600)} h ${String(Math.floor((totalS % 3600) / 60)).padStart(2, '0')} m`;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * Merge every `factor` consecutive buckets of a rate snapshot into one (sums),
 * so a long window travels and draws as a few hundred points. Bucket
 * alignment keeps the newest (possibly partial) bucket last.
 */
export function downsampleRates(s: RateSnapshot, factor: number): RateSnapshot {
  const f = Math.max(1, Math.floor(factor));
  if (f === 1) return s;
  const n = s.total.length;
  // group from the newest bucket backwards so the last group ends at the newest bucket
  const groups = Math.ceil(n / f);
  const offset = groups * f - n; // leading buckets missing from the first group
  const merge = (arr: readonly number[]): number[] => {
    const out = new Array<number>(groups).fill(0);
    for (let i = 0; i < arr.length; i++) out[Math.floor((i + offset) / f)] += arr[i] ?? 0;
    return out;
  };
  const byKind = Object.fromEntries(Object.entries(s.byKind).map(([k, v]) => [k, merge(v ?? [])])) as RateSnapshot['byKind'];
  const dims = Object.fromEntries(
    Object.entries(s.series).map(([dim, list]) => [dim, list.map((x) => ({ ...x, buckets: merge(x.buckets) }))]),
  ) as RateSnapshot['series'];
  return {
    ...s,
    bucketMs: s.bucketMs * f,
    startMs: s.startMs - offset * s.bucketMs,
    windowMs: groups * f * s.bucketMs,
    total: merge(s.total),
    byKind,
    series: dims,
  };
}
