/**
 * Resident memory of the traffic model after `messages` tapped messages
 * (product.md: ≤ 300 MB after 1M). The messages go through the decoder into
 * the traffic model directly (no broker: pushing 1M through RabbitMQ on a
 * 2-core machine takes minutes and measures the broker), each call with its
 * own `_msg_id` so the call map fills up. Run it in a fresh process
 * (bench-tap-memory.ts) so nothing else is counted.
 *
 * The target bounds the PEAK: the process's ru_maxrss over the whole run,
 * next to RSS sampled through the run (with the heap at that moment), and the
 * end figures.
 */
import { decodeObservation, heapGrowthPercent, TrafficModel } from '../../server/tap/index.ts';
import { prng, sampleEnvelopes } from './bench-tap.ts';

export interface MemoryBenchResult {
  messages: number;
  seconds: number;
  perSecond: number;
  /** CPU seconds of the run (user + system): the rate per CPU second is comparable on a busy machine */
  cpuSeconds: number;
  /** distinct topics the messages were spread over (0: the samples' own) */
  topics: number;
  /** the process's peak resident set over the whole run (getrusage ru_maxrss): what the target bounds */
  peakRssMB: number;
  /** the highest RSS sampled through the run, and the V8 heap in use at that sample */
  peakSampledRssMB: number;
  heapAtPeakMB: number;
  /** the highest heap in use sampled (live data plus garbage not yet collected) */
  peakHeapUsedMB: number;
  /** the highest off-heap memory sampled (Buffers, typed arrays) */
  peakExternalMB: number;
  /** RSS after each tenth of the run */
  rssSamplesMB: number[];
  rssBeforeMB: number;
  /** at the end (after a full collection when the process runs with --expose-gc) */
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
  endAfterGc: boolean;
  /** V8 heap growth between full collections in force (heap-growth.ts); null = V8's own */
  heapGrowthPercent: number | null;
  /** estimated bytes the recent ring held at the end, and what it kept */
  recentBytes: number;
  recentKept: number;
  /** estimated bytes of the rate counters at the end */
  rateBytes: number;
  rateKeys: number;
  callsKept: number;
  evictedCalls: number;
  evictedMessages: number;
  evictedRateKeys: number;
}

const MB = 1048576;

export function benchModelMemory(options: { messages?: number; topics?: number; sampleEvery?: number } = {}): MemoryBenchResult {
  const total = options.messages ?? 1_000_000;
  const topics = options.topics ?? 0;
  const sampleEvery = options.sampleEvery ?? 1000;
  const rssBefore = process.memoryUsage.rss();
  const samples = sampleEnvelopes(4000, 7);
  const rand = prng(99);
  const model = new TrafficModel();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let now = 1_700_000_000_000;
  const rssSamplesMB: number[] = [];
  const tenth = Math.max(1, Math.floor(total / 10));
  let peakSampledRss = 0;
  let heapAtPeak = 0;
  let peakHeapUsed = 0;
  let peakExternal = 0;
  const sample = (): number => {
    const m = process.memoryUsage();
    if (m.rss > peakSampledRss) {
      peakSampledRss = m.rss;
      heapAtPeak = m.heapUsed;
    }
    peakHeapUsed = Math.max(peakHeapUsed, m.heapUsed);
    peakExternal = Math.max(peakExternal, m.external);
    return m.rss;
  };
  const id = Buffer.alloc(32);
  for (let i = 0; i < total; i++) {
    if (i % sampleEvery === 0) {
      const rss = sample();
      if (i > 0 && i % tenth === 0) rssSamplesMB.push(Math.round(rss / MB));
    }
    const s = samples[i % samples.length];
    // a fresh _msg_id per message: patch the 32 hex chars after `_msg_id\": \"` in place
    const body = Buffer.from(s.body);
    const at = body.indexOf('_msg_id\\": \\"');
    if (at >= 0) {
      for (let k = 0; k < 32; k += 8) id.write(Math.floor(rand() * 0x100000000).toString(16).padStart(8, '0'), k, 'latin1');
      id.copy(body, at + 13);
    }
    now += 1 + (i % 3);
    // distinct topics: each routing key (so topic, rate keys and queue names) gets one of `topics` prefixes
    const routingKey = topics > 0 ? `t${i % topics}_${s.routingKey}` : s.routingKey;
    model.ingest(decodeObservation({ id: String(i + 1), ts: now, body, exchange: s.exchange, routingKey, properties: s.properties, trace: null }));
    if (i % 10_000 === 0) model.tick(now);
  }
  sample();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const mem = process.memoryUsage();
  const counters = model.tapCounters();
  return {
    messages: total,
    seconds,
    perSecond: total / seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    topics,
    // ru_maxrss is in kilobytes on Linux
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    peakSampledRssMB: peakSampledRss / MB,
    heapAtPeakMB: heapAtPeak / MB,
    peakHeapUsedMB: peakHeapUsed / MB,
    peakExternalMB: peakExternal / MB,
    rssSamplesMB,
    rssBeforeMB: rssBefore / MB,
    rssMB: mem.rss / MB,
    heapUsedMB: mem.heapUsed / MB,
    externalMB: mem.external / MB,
    endAfterGc: gc !== undefined,
    heapGrowthPercent: heapGrowthPercent(),
    recentBytes: model.recentBytes,
    recentKept: model.recentSize,
    rateBytes: model.rates.bytes,
    rateKeys: model.rates.keyCount,
    callsKept: model.calls.size,
    evictedCalls: counters.evictedCalls,
    evictedMessages: counters.evictedMessages,
    evictedRateKeys: counters.evictedRateKeys,
  };
}
