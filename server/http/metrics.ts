/**
 * A tiny Prometheus text-format registry (counters, gauges, histograms with
 * labels). Enough for GET /metrics without a dependency; names follow
 * oslo.metrics (oslo_metrics/metrics/oslo_messaging.py) where one exists,
 * and Prometheus' naming rules otherwise (counters end in `_total`, base
 * units: `_seconds`, `_bytes`, `_ratio`).
 *
 * One departure from oslo.metrics: no `process` label. oslo.metrics labels
 * every series with the process id, so each restart of a service (or of
 * osloscope) starts new series and the old ones linger in Prometheus; the
 * series here sum over processes.
 */

export type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}

interface Metric {
  render(): string;
}

/** Bounded label sets: beyond `maxSeries` new label sets are folded into one overflow series. */
const MAX_SERIES = 5000;

/** Labels never exported: a process id explodes series when processes restart. */
export const DROPPED_LABELS: readonly string[] = ['process'];

/** `labels` without the dropped ones. */
export function withoutDropped(labels: Labels): Labels {
  if (!DROPPED_LABELS.some((k) => k in labels)) return labels;
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) if (!DROPPED_LABELS.includes(k)) out[k] = v;
  return out;
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(given: Labels = {}, by = 1): void {
    const labels = withoutDropped(given);
    const key = JSON.stringify(labels);
    const e = this.values.get(key);
    if (e) e.value += by;
    else if (this.values.size < MAX_SERIES) this.values.set(key, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(JSON.stringify(withoutDropped(labels)))?.value ?? 0;
  }

  render(): string {
    let out = header(this.name, this.help, 'counter');
    for (const { labels, value } of this.values.values()) out += `${this.name}${formatLabels(labels)} ${formatValue(value)}\n`;
    return out;
  }
}

export class Histogram implements Metric {
  private readonly values = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(given: Labels, value: number): void {
    const labels = withoutDropped(given);
    const key = JSON.stringify(labels);
    let e = this.values.get(key);
    if (!e) {
      if (this.values.size >= MAX_SERIES) return;
      e = { labels, counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.values.set(key, e);
    }
    let i = this.buckets.findIndex((b) => value <= b);
    if (i < 0) i = this.buckets.length;
    e.counts[i]++;
    e.sum += value;
    e.count++;
  }

  render(): string {
    let out = header(this.name, this.help, 'histogram');
    for (const { labels, counts, sum, count } of this.values.values()) out += renderHistogramSeries(this.name, this.buckets, labels, counts, sum, count);
    return out;
  }
}

/** One histogram series from non-cumulative bucket counts (the last one is +Inf). */
export function renderHistogramSeries(name: string, buckets: readonly number[], labels: Labels, counts: readonly number[], sum: number, count: number): string {
  let out = '';
  let cumulative = 0;
  for (let i = 0; i < buckets.length; i++) {
    cumulative += counts[i] ?? 0;
    out += `${name}_bucket${formatLabels({ ...labels, le: String(buckets[i]) })} ${cumulative}\n`;
  }
  out += `${name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${count}\n`;
  out += `${name}_sum${formatLabels(labels)} ${formatValue(sum)}\n`;
  out += `${name}_count${formatLabels(labels)} ${count}\n`;
  return out;
}

/** A gauge family computed at scrape time. */
export function renderGauge(name: string, help: string, samples: { labels?: Labels; value: number }[]): string {
  let out = header(name, help, 'gauge');
  for (const s of samples) out += `${name}${formatLabels(s.labels ?? {})} ${formatValue(s.value)}\n`;
  return out;
}

/** A counter family whose values come from elsewhere (e.g. the tap's counters) at scrape time. */
export function renderCounter(name: string, help: string, samples: { labels?: Labels; value: number }[]): string {
  let out = header(name, help, 'counter');
  for (const s of samples) out += `${name}${formatLabels(s.labels ?? {})} ${formatValue(s.value)}\n`;
  return out;
}

/** Histogram series summed over the labels they differ in once the dropped ones are gone. */
export function mergeHistogramSeries(series: readonly { labels: Labels; counts: readonly number[]; sum: number; count: number }[]): { labels: Labels; counts: number[]; sum: number; count: number }[] {
  const out = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  for (const s of series) {
    const labels = withoutDropped(s.labels);
    const key = JSON.stringify(labels);
    const e = out.get(key);
    if (!e) out.set(key, { labels, counts: [...s.counts], sum: s.sum, count: s.count });
    else {
      for (let i = 0; i < s.counts.length; i++) e.counts[i] = (e.counts[i] ?? 0) + s.counts[i];
      e.sum += s.sum;
      e.count += s.count;
    }
  }
  return [...out.values()];
}

export function renderHistogramFamily(name: string, help: string, buckets: readonly number[], series: { labels: Labels; counts: readonly number[]; sum: number; count: number }[]): string {
  let out = header(name, help, 'histogram');
  for (const s of series) out += renderHistogramSeries(name, buckets, s.labels, s.counts, s.sum, s.count);
  return out;
}

/** oslo_metrics rpc_processing_seconds_buckets */
export const RPC_PROCESSING_SECONDS_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0, 100] as const;

/**
 * osloscope's own RPC client metrics (messages fired from the Console / API):
 * oslo.metrics' rpc_client_* families and label names, less `process`.
 */
export class RpcClientMetrics {
  readonly start = new Counter('oslo_messaging_rpc_client_invocation_start_total', 'Total number of RPC invocation start.');
  readonly end = new Counter('oslo_messaging_rpc_client_invocation_end_total', 'Total number of RPC invocation end.');
  readonly seconds = new Histogram('oslo_messaging_rpc_client_processing_seconds', 'Duration of RPC processing.', RPC_PROCESSING_SECONDS_BUCKETS);
  readonly exceptions = new Counter('oslo_messaging_rpc_client_exception_total', 'Total number of exception while RPC processing.');

  render(): string {
    return [this.start, this.end, this.seconds, this.exceptions].map((m) => m.render()).join('');
  }
}
