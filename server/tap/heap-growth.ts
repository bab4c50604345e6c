/**
 * How far V8 lets the heap grow between full collections in a process that
 * taps. By default V8 (on a machine with a few GB of memory) lets the old
 * generation grow up to 4× what survived the last full collection before it
 * collects again, so a tap holding ~45 MB of recent messages, calls and rate
 * counters peaked at ~180 MB of heap, mostly messages that had already left
 * the ring. A growth of 1.5× keeps the peak near what is live, costs a few
 * more full collections (each over a bounded heap) and, unlike a heap cap
 * (`--max-old-space-size`), can never end the process with an out-of-memory
 * crash.
 */
import v8 from 'node:v8';

/** Default growth between full collections, in percent of what survived (V8's `--heap-growing-percent`). */
export const DEFAULT_HEAP_GROWTH_PERCENT = 50;

let applied: number | null = null;

/**
 * Set V8's heap growth for this process (once; later calls with another
 * value win). 0 leaves V8's own policy. Returns the percent in force.
 */
export function boundHeapGrowth(percent = DEFAULT_HEAP_GROWTH_PERCENT): number {
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) throw new RangeError('heap growth percent must be an integer 0..1000');
  if (applied === percent) return percent;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  applied = percent;
  return percent;
}

/** The growth set by boundHeapGrowth, or null when the process runs with V8's own policy. */
export function heapGrowthPercent(): number | null {
  return applied;
}
