/**
 * Resident memory after 1M tapped messages, in a fresh process so nothing
 * else the benchmark did is counted. Prints one JSON line.
 */
import { benchModelMemory } from '../../server/tap/index.ts';

const messages = Number(process.argv[2] ?? 1_000_000);
process.stdout.write(`${JSON.stringify(benchModelMemory({ messages }))}\n`);
