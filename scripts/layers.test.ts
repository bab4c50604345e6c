/**
 * The layer rules of CONTRIBUTING.md, checked on every run of the suite: dependency-cruiser with
 * .dependency-cruiser.cjs over the whole tree (the same check as `npm run lint`). A failure lists
 * each import that breaks a rule, with the rule's name and why it exists.
 *
 * The second test proves the rules can fail: the same configuration over a small throw-away tree
 * with two planted violations must report exactly those.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

/** Cruise `targets` in `cwd` with the project's rules; the violations dependency-cruiser reports. */
async function cruise(cwd: string, targets: string[], config = join(ROOT, '.dependency-cruiser.cjs')): Promise<Violation[]> {
  // --output-type json exits 0 whatever it finds; the summary carries the violations.
  const { stdout } = await run(process.execPath, [DEPCRUISE, '--config', config, '--output-type', 'json', ...targets], {
    cwd,
    maxBuffer: 256 * 1024 * 1024,
    timeout: 150_000,
  });
  const report = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations;
}

const describeViolations = (vs: Violation[]) => vs.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).join('\n');

describe('layer rules (CONTRIBUTING.md, .dependency-cruiser.cjs)', () => {
  it('no import in the tree breaks a layer rule', async () => {
    const violations = await cruise(ROOT, ['server', 'lib', 'components', 'app', 'bin', 'scripts', 'test', 'e2e']);
    expect(describeViolations(violations), 'imports that break the layer rules').toBe('');
  }, 180_000);

  it('reports a planted lib → server import and an http → realtime import', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osloscope-layers-'));
    try {
      for (const d of ['lib', 'server/messaging', 'server/realtime', 'server/http']) await mkdir(join(dir, d), { recursive: true });
      await writeFile(join(dir, 'server/messaging/index.ts'), 'export const core = 1;\n');
      await writeFile(join(dir, 'server/realtime/feed.ts'), "import { core } from '../messaging/index.ts';\nexport const feed = core;\n");
      await writeFile(join(dir, 'server/http/api.ts'), "import { feed } from '../realtime/feed.ts';\nexport const api = feed;\n");
      await writeFile(join(dir, 'lib/contract.ts'), "import { core } from '../server/messaging/index.ts';\nexport const c = core;\n");
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true, noEmit: true, module: 'ESNext', moduleResolution: 'Bundler' } }));
      await copyFile(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
      const violations = await cruise(dir, ['lib', 'server'], join(dir, '.dependency-cruiser.cjs'));
      expect(describeViolations(violations).split('\n').sort()).toEqual([
        'lib-types-only-from-lib: lib/contract.ts → server/messaging/index.ts',
        'lib-is-shared: lib/contract.ts → server/messaging/index.ts',
        'realtime-and-http-are-siblings: server/http/api.ts → server/realtime/feed.ts',
      ].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
