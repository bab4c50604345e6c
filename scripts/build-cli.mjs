// `npm run build:cli`: makes the CLI's bundle (.build/cli/, see bin/launch.mjs) current now,
// so the next `osloscope` starts from it; prints its entry file. Exit 1 when it cannot be made.
import { buildOnce, freshBundle, ROOT } from '../bin/launch.mjs';

const entry = (await freshBundle(ROOT)) ?? (await buildOnce(ROOT));
if (entry) process.stdout.write(`${entry}\n`);
else {
  process.stderr.write('osloscope: the CLI bundle cannot be built here (the CLI runs through tsx)\n');
  process.exitCode = 1;
}
