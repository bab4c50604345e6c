/**
 * Per-method RPC latency histograms with oslo.metrics' names, labels and
 * bucket edges (oslo_metrics/metrics/oslo_messaging.py:
 * rpc_client_processing_seconds, rpc_processing_seconds_buckets), so a
 * Prometheus dashboard built for oslo.metrics reads osloscope's too. The tap
 * measures what a caller sees on the wire: request publish → final reply
 * publish.
 */
import {
  RPC_CLIENT_PROCESSING_SECONDS,
  RPC_PROCESSING_SECONDS_BUCKETS,
  type LatencyHistogram,
  type LatencyHistogramSeries,
} from '../../lib/tap-contracts.ts';

export type LatencyLabels = LatencyHistogramSeries['labels'];

interface Series {
  labels: LatencyLabels;
  counts: number[];
  sum: number;
  count: number;
}

const EDGES: readonly number[] = RPC_PROCESSING_SECONDS_BUCKETS;

/** Index of the first bucket whose upper edge (le) holds `seconds`; EDGES.length = +Inf. */
export function bucketIndex(seconds: number): number {
  let lo = 0;
  let hi = EDGES.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (seconds <= EDGES[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Python's str() of an optional label value, as oslo.metrics puts it in labels. */
export function pyLabel(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return 'None';
  return String(v);
}

export class LatencyHistograms {
  private readonly series = new Map<string, Series>();
  evicted = 0;

  constructor(private readonly cap = 1000) {}

  observe(labels: LatencyLabels, seconds: number): void {
    const key = labelKey(labels);
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.cap) {
        this.series.delete(this.series.keys().next().value as string);
        this.evicted++;
      }
      s = { labels, counts: new Array<number>(EDGES.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    s.counts[bucketIndex(seconds)]++;
    s.sum += seconds;
    s.count++;
  }

  get size(): number {
    return this.series.size;
  }

  toJSON(filter?: (labels: LatencyLabels) => boolean): LatencyHistogram {
    const series: LatencyHistogramSeries[] = [];
    for (const s of this.series.values()) {
      if (filter && !filter(s.labels)) continue;
      series.push({ labels: { ...s.labels }, counts: [...s.counts], sum: s.sum, count: s.count });
    }
    return {
      name: RPC_CLIENT_PROCESSING_SECONDS,
      help: 'Duration of RPC processing.',
      buckets: [...EDGES],
      series,
    };
  }
}

function labelKey(l: LatencyLabels): string {
  return [l.exchange, l.topic, l.server, l.namespace, l.version, l.method, l.process, l.timeout].join('\u0000');
}
