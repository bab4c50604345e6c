import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReason, distDirFor, ROOT } from './build-if-needed.ts';

describe('buildReason', () => {
  const basePath = `/osloscope-marker-${process.pid}`;
  const dir = join(ROOT, distDirFor(basePath));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rebuilds a build folder whose last build did not finish, though Next already wrote its BUILD_ID', () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'BUILD_ID'), 'half-built');
    expect(buildReason(basePath)).toMatch(/did not finish/);
    writeFileSync(join(dir, 'OSLOSCOPE_BUILT'), new Date().toISOString());
    expect(buildReason(basePath)).toBeNull();
  });
});
