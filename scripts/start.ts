/**
 * `npm start`: build the pages when `.next` is missing or older than the
 * sources, then run the server (server/index.ts). Development mode
 * (`npm run dev`) skips the build: Next compiles on demand.
 */
import { ensureBuilt } from './build-if-needed.ts';
import { main } from '../server/index.ts';

async function run(): Promise<void> {
  if (process.env.NODE_ENV !== 'development') {
    try {
      await ensureBuilt();
    } catch (err) {
      process.stderr.write(`osloscope: cannot build the pages: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  await main();
}

void run();
