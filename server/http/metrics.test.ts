import { describe, expect, it } from 'vitest';
import { Counter, formatLabels, Histogram, renderGauge } from './metrics.ts';
import { describeJsonError } from './respond.ts';

describe('Prometheus text', () => {
  it('escapes label values', () => {
    expect(formatLabels({ a: 'x"y\\z\nw' })).toBe('{a="x\\"y\\\\z\\nw"}');
    expect(formatLabels({})).toBe('');
  });

  it('renders counters with one HELP/TYPE and a line per label set', () => {
    const c = new Counter('things_total', 'Things.');
    c.inc({ kind: 'a' });
    c.inc({ kind: 'a' }, 2);
    c.inc({ kind: 'b' });
    expect(c.render()).toBe('# HELP things_total Things.\n# TYPE things_total counter\nthings_total{kind="a"} 3\nthings_total{kind="b"} 1\n');
  });

  it('renders histograms with cumulative buckets, +Inf, sum and count', () => {
    const h = new Histogram('lat_seconds', 'Latency.', [0.1, 1]);
    for (const v of [0.05, 0.5, 0.7, 3]) h.observe({ m: 'x' }, v);
    const text = h.render();
    expect(text).toContain('lat_seconds_bucket{m="x",le="0.1"} 1\n');
    expect(text).toContain('lat_seconds_bucket{m="x",le="1"} 3\n');
    expect(text).toContain('lat_seconds_bucket{m="x",le="+Inf"} 4\n');
    expect(text).toContain('lat_seconds_sum{m="x"} 4.25\n');
    expect(text).toContain('lat_seconds_count{m="x"} 4\n');
  });

  it('renders gauges', () => {
    expect(renderGauge('g', 'G.', [{ value: 1.5 }, { labels: { s: 'idle' }, value: Number.POSITIVE_INFINITY }])).toBe('# HELP g G.\n# TYPE g gauge\ng 1.5\ng{s="idle"} +Inf\n');
  });
});

describe('describeJsonError', () => {
  it('adds line and column to a position', () => {
    const text = '{\n  "a": }';
    let err: Error | undefined;
    try {
      JSON.parse(text);
    } catch (e) {
      err = e as Error;
    }
    const msg = describeJsonError(err as Error, text);
    expect(msg.length).toBeGreaterThan(0);
    expect(describeJsonError(new Error('Unexpected token } in JSON at position 9'), text)).toBe('Unexpected token } in JSON at position 9 (line 2 column 8)');
  });
});
