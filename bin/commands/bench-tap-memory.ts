/**
 * Resident memory after 1M tapped messages, in a fresh process so nothing
 * else the benchmark did is counted (its peak is the process's own
 * ru_maxrss). Arguments: messages, distinct topics (0 = the samples' own).
 * Prints one JSON line.
 */
import { benchModelMemory } from '../../server/tap/index.ts';

const messages = Number(process.argv[2] ?? 1_000_000);
const topics = Number(process.argv[3] ?? 0);
process.stdout.write(`${JSON.stringify(benchModelMemory({ messages, topics }))}\n`);
