/**
 * The matrix's reading of a vitest JSON report, on reports a real `vitest run --retry=1` wrote: a test
 * that passes only on its retry must leave why its first attempt failed, in the summary and in the log.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureLine, retriedAttemptsText, summariseReport, type JsonReport } from './matrix-report.ts';

const VITEST = fileURLToPath(new URL('../node_modules/.bin/vitest', import.meta.url));

// globals: the fixture lives outside the project, where `import 'vitest'` would not resolve
const FIXTURE = `
import { existsSync, writeFileSync } from 'node:fs';
const marker = new URL('./first-attempt-done', import.meta.url);
it('passes on its retry', () => {
  const first = !existsSync(marker);
  writeFileSync(marker, '');
  expect(first ? 'stale tracing state' : 'fresh').toBe('fresh');
});
it('fails every time, differently', () => {
  globalThis.n = (globalThis.n ?? 0) + 1;
  throw new Error('attempt ' + globalThis.n + ' broke');
});
it('fails every time, alike', () => {
  throw new Error('always the same');
});
it('times out once', { timeout: 300 }, async () => {
  const first = !existsSync(new URL('./timed-out-once', import.meta.url));
  writeFileSync(new URL('./timed-out-once', import.meta.url), '');
  if (first) await new Promise((r) => setTimeout(r, 2000));
});
it('passes at once', () => {
  expect(1).toBe(1);
});
`;

// a describe block whose cleanup fails after its test passed: the JSON report marks the file failed with no message
const HOOK_FIXTURE = `
describe('suite with a broken cleanup', () => {
  afterAll(() => {
    throw new Error('cleanup broke: the node did not come back');
  });
  it('passes', () => {
    expect(1).toBe(1);
  });
});
`;

describe('matrix report', () => {
  let dir: string;
  let report: JsonReport;
  /** the default reporter's output of the same run */
  let log = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'osloscope-matrix-report-'));
    writeFileSync(join(dir, 'flaky.test.mjs'), FIXTURE);
    writeFileSync(join(dir, 'hook.test.mjs'), HOOK_FIXTURE);
    const out = join(dir, 'report.json');
    await new Promise<void>((resolve) => {
      execFile(
        VITEST,
        ['run', '--root', dir, '--globals', '--retry=1', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`],
        { env: { ...process.env, CI: 'true' }, timeout: 60_000 },
        // it exits 1: two tests fail on both attempts
        (_err, stdout, stderr) => {
          log = `${stdout}${stderr}`;
          resolve();
        },
      );
    });
    report = JSON.parse(readFileSync(out, 'utf8')) as JsonReport;
  }, 90_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the test that passed only on its retry with why its first attempt failed', () => {
    const s = summariseReport(report, dir);
    expect({ passed: s.passed, failed: s.failed }).toEqual({ passed: 4, failed: 2 });
    expect(s.retried).toEqual([
      expect.stringMatching(/^flaky\.test\.mjs > passes on its retry: passed on attempt 2; 1st attempt failed: AssertionError: expected 'stale tracing state' to be 'fresh'/),
      'flaky.test.mjs > times out once: passed on attempt 2; 1st attempt failed: test timed out',
    ]);
    // the log gets the whole error of the failed attempt, not only its first line
    const text = retriedAttemptsText(s);
    expect(text).toContain('flaky.test.mjs > passes on its retry: attempt 1 of 2 failed (it passed on attempt 2)');
    expect(text).toMatch(/expected 'stale tracing state' to be 'fresh'[\s\S]*at .*flaky\.test\.mjs:\d+/);
    expect(text).not.toContain('always the same');
    // the runner's own frames are left out; a timeout is named as one
    expect(text).not.toMatch(/node_modules|<anonymous>|node:internal/);
    expect(text).toMatch(/times out once: attempt 1 of 2 failed \(it passed on attempt 2\):\n   test timed out/);
  });

  it('a test that failed on every attempt: both reasons when they differ, one when alike', () => {
    const s = summariseReport(report, dir);
    expect(s.failures.filter((f) => f.startsWith('flaky.test.mjs'))).toEqual([
      'flaky.test.mjs > fails every time, differently: 1st attempt: Error: attempt 1 broke; 2nd attempt: Error: attempt 2 broke',
      'flaky.test.mjs > fails every time, alike: Error: always the same',
    ]);
  });

  it('a file that failed in a describe block\'s hook is named with the hook\'s error, from the log', () => {
    expect(report.testResults?.find((f) => f.name.endsWith('hook.test.mjs'))).toMatchObject({ status: 'failed', message: '' });
    expect(summariseReport(report, dir, log).failures).toContain('hook.test.mjs: suite with a broken cleanup: Error: cleanup broke: the node did not come back');
    // without the log (a cell that was not buffered) it says where to look
    expect(summariseReport(report, dir).failures).toContain('hook.test.mjs: (no message: see the cell log)');
  });

  it('failureLine: where in the project it failed, and a timeout named as one', () => {
    const root = '/work/x';
    expect(failureLine(root, `Error: boom\n    at helper (/work/x/node_modules/y.js:1:1)\n    at /work/x/test/a.test.ts:12:5`)).toBe('Error: boom (test/a.test.ts:12)');
    expect(failureLine(root, 'Error: STACK_TRACE_ERROR\n    at x', 30_400)).toBe('test timed out after 30 s');
    expect(failureLine(root, undefined)).toBe('(no message)');
  });
});
