/**
 * Resident memory over 1M tapped messages, in a fresh process so nothing
 * else the benchmark did is counted (its peak is the process's own
 * ru_maxrss, next to RSS and heap sampled through the run). Arguments:
 * messages, distinct topics (0 = the samples' own). Prints one JSON line.
 * Run with --expose-gc for end figures after a full collection.
 */
import { benchModelMemory } from './bench-memory.ts';

const messages = Number(process.argv[2] ?? 1_000_000);
const topics = Number(process.argv[3] ?? 0);
process.stdout.write(`${JSON.stringify(benchModelMemory({ messages, topics }))}\n`);
