import { describe, expect, it } from 'vitest';
import type { CallRecord, LatencyHistogram, RateSnapshot } from './tap-contracts.ts';
import {
  filledFraction,
  slidingCount,
  callAgeMs,
  downsampleRates,
  formatDuration,
  histogramRows,
  isStale,
  kindRows,
  methodLatencies,
  OTHER_KEY,
  quantileMs,
  rateRows,
  recentRate,
  timelineRows,
  timeoutFraction,
} from './series.ts';

const START = 1_000_000;
/** 10 one-second buckets starting at START; the snapshot was taken 400 ms into the last one. */
function snapshot(series: Record<string, number[]>, nowMs = START + 9_400): RateSnapshot {
  const n = 10;
  const total = new Array<number>(n).fill(0);
  for (const b of Object.values(series)) b.forEach((v, i) => (total[i] += v));
  const mk = (key: string, buckets: number[]) => ({ key, topic: key, method: null, total: buckets.reduce((a, b) => a + b, 0), buckets });
  return {
    nowMs,
    bucketMs: 1000,
    windowMs: n * 1000,
    startMs: START,
    total,
    byKind: { call: total.map((v) => Math.floor(v / 2)), cast: total.map((v) => v - Math.floor(v / 2)) } as RateSnapshot['byKind'],
    totalsByKind: { call: 0, cast: 0 } as RateSnapshot['totalsByKind'],
    series: { topic: Object.entries(series).map(([k, b]) => mk(k, b)), exchange: [], server: [], method: [] },
    topMethods: [],
  };
}

describe('rateRows', () => {
  const s = snapshot({
    compute: [1, 2, 3, 4, 5, 6, 7, 8, 9, 2],
    conductor: [0, 0, 0, 0, 0, 0, 0, 0, 10, 0],
    scheduler: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    idle: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  });

  it('makes one row per bucket with per-second rates of the biggest series first', () => {
    const r = rateRows(s, { dimension: 'topic', nowMs: START + 9_400 });
    expect(r.keys).toEqual(['compute', 'conductor', 'scheduler']); // idle has no traffic
    expect(r.rows).toHaveLength(10);
    expect(r.rows[0]).toEqual({ t: START, compute: 1, conductor: 0, scheduler: 1 });
    expect(r.rows[8]).toEqual({ t: START + 8000, compute: 9, conductor: 10, scheduler: 0 });
  });

  it('reads the bucket still filling as a sliding one-second window, without a dip', () => {
    const r = rateRows(s, { dimension: 'topic', nowMs: START + 9_400 });
    // 0.4 s into the last bucket: its 2 messages + 60 % of the previous bucket's 9
    expect(r.rows[9].compute).toBeCloseTo(2 + 9 * 0.6);
    expect(r.rows[9].conductor).toBeCloseTo(10 * 0.6);
    expect(filledFraction(s, START + 9000)).toBeCloseTo(0.4);
    expect(filledFraction(s, START + 8000)).toBe(1);
    expect(slidingCount([4, 0], 1, 0.25)).toBe(3);
    expect(slidingCount([4, 1], 1, 1)).toBe(1);
    // a new series shows up at once, however early in the bucket
    expect(slidingCount([0, 1], 1, 0.01)).toBe(1);
  });

  it('folds everything past `top` into (other)', () => {
    const r = rateRows(s, { dimension: 'topic', nowMs: START + 9_400, top: 1 });
    expect(r.keys).toEqual(['compute', OTHER_KEY]);
    expect(r.rows[8][OTHER_KEY]).toBe(10);
    expect(r.rows[0][OTHER_KEY]).toBe(1);
  });

  it('keeps only matching series when asked', () => {
    const r = rateRows(s, { dimension: 'topic', nowMs: START + 9_400, include: (k) => k.startsWith('sched') });
    expect(r.keys).toEqual(['scheduler']);
  });

  it('cuts the window at nowMs, so a stale snapshot stops short of now', () => {
    const later = rateRows(s, { dimension: 'topic', nowMs: START + 15_000, windowMs: 10_000 });
    expect(later.rows.map((r) => r.t)).toEqual([5, 6, 7, 8, 9].map((i) => START + i * 1000));
    expect(rateRows(s, { dimension: 'topic', nowMs: START + 60_000, windowMs: 10_000 }).rows).toEqual([]);
  });

  it('is empty without a snapshot', () => {
    expect(rateRows(null, { dimension: 'topic', nowMs: 0 })).toEqual({ rows: [], keys: [], bucketSeconds: 1 });
  });
});

describe('kindRows and recentRate', () => {
  const s = snapshot({ a: [10, 10, 10, 10, 10, 10, 10, 10, 10, 3] });

  it('splits rates by kind', () => {
    const rows = kindRows(s, START + 9_400);
    expect(rows[0]).toEqual({ t: START, call: 5, cast: 5 });
    expect(rows[9].call).toBeCloseTo(1 + 5 * 0.6);
  });

  it('averages complete buckets only', () => {
    expect(recentRate(s, START + 9_400, 5)).toBe(10);
    expect(recentRate(s, START + 9_400, 100)).toBe(10);
    expect(recentRate(null, 0)).toBe(0);
  });
});

describe('downsampleRates', () => {
  it('sums groups of buckets, keeping the newest bucket last', () => {
    const s = snapshot({ a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
    const d = downsampleRates(s, 3);
    expect(d.bucketMs).toBe(3000);
    expect(d.total).toEqual([1, 2 + 3 + 4, 5 + 6 + 7, 8 + 9 + 10]);
    expect(d.series.topic[0].buckets).toEqual([1, 9, 18, 27]);
    expect(d.startMs).toBe(START - 2000);
    expect(d.startMs + d.total.length * d.bucketMs).toBe(START + 10_000);
    expect(downsampleRates(s, 1)).toBe(s);
  });
});

describe('histograms', () => {
  const edges = [0.01, 0.1, 1];
  const labels = (topic: string, method: string) => ({
    call_type: 'call' as const,
    exchange: 'nova',
    topic,
    namespace: 'None',
    version: '1.0',
    server: 'None',
    fanout: 'False' as const,
    process: 'p:1',
    method,
    timeout: '60',
  });
  const h: LatencyHistogram = {
    name: 'x',
    help: 'x',
    buckets: edges,
    series: [
      { labels: labels('compute', 'a'), counts: [1, 3, 0, 0], sum: 0.2, count: 4 },
      { labels: labels('compute', 'a'), counts: [0, 1, 0, 0], sum: 0.05, count: 1 },
      { labels: labels('conductor', 'b'), counts: [0, 0, 1, 1], sum: 3, count: 2 },
    ],
  };

  it('draws one bar per bucket, merged over series of a method', () => {
    expect(histogramRows(h, 'compute:a').map((r) => r.count)).toEqual([1, 4, 0, 0]);
    expect(histogramRows(h, null).map((r) => r.bucket)).toEqual(['≤ 10 ms', '≤ 100 ms', '≤ 1 s', '> 1 s']);
  });

  it('estimates per-method latency', () => {
    const m = methodLatencies(h);
    expect(m.map((x) => x.key)).toEqual(['compute:a', 'conductor:b']);
    expect(m[0].count).toBe(5);
    expect(m[0].meanMs).toBe(50);
    expect(m[0].p50Ms).toBeGreaterThan(10);
    expect(m[0].p50Ms).toBeLessThanOrEqual(100);
  });

  it('interpolates quantiles like histogram_quantile', () => {
    expect(quantileMs([0, 10, 0, 0], edges, 0.5)).toBe(55);
    expect(quantileMs([0, 0, 0, 5], edges, 0.5)).toBe(1000);
    expect(quantileMs([0, 0, 0, 0], edges, 0.5)).toBeNull();
  });
});

describe('calls and formatting', () => {
  const call = {
    publishedAt: 10_000,
    timeoutMs: 4_000,
    state: 'inflight',
    latencyMs: null,
    timeline: [
      { ts: 10_000, event: 'published', detail: 'x' },
      { ts: 10_250, event: 'delivered', detail: 'y' },
    ],
  } as unknown as CallRecord;

  it('ages calls from nowMs', () => {
    expect(callAgeMs(call, 13_000)).toBe(3000);
    expect(timeoutFraction(call, 12_000)).toBe(0.5);
    expect(callAgeMs({ ...call, state: 'done', latencyMs: 120 }, 99_999)).toBe(120);
    expect(timelineRows(call).map((r) => r.offsetMs)).toEqual([0, 250]);
  });

  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(1234)).toBe('1.23 s');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4 m 05 s');
    expect(formatDuration(7_260_000)).toBe('2 h 01 m');
  });

  it('tells stale data', () => {
    expect(isStale(null, 5000)).toBe(true);
    expect(isStale(1000, 3000, 3000)).toBe(false);
    expect(isStale(1000, 4001, 3000)).toBe(true);
  });
});
