/**
 * Reading a cell's vitest JSON report back for the matrix (scripts/matrix.ts): counts, failed tests,
 * and the tests that passed only on their retry together with why each earlier attempt failed.
 *
 * vitest keeps every attempt's error on the test (`result.errors`, one per failed attempt, in order)
 * and its JSON reporter writes them as `failureMessages` also for a test whose last attempt passed:
 * a passed test with failure messages is one that needed the retry (MATRIX_RETRY), and those
 * messages are the only trace the first attempt leaves.
 */
import { relative } from 'node:path';

export interface JsonReport {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  testResults?: Array<{
    name: string;
    status?: string;
    message?: string;
    assertionResults?: Array<{ fullName?: string; title?: string; status: string; duration?: number; failureMessages?: string[] }>;
  }>;
}

/** A test that failed at least once: the failed attempts' errors, oldest first. */
export interface AttemptFailures {
  /** `file > full name` */
  test: string;
  /** passed on a later attempt (it needed the retry), or failed on every attempt */
  passedOnRetry: boolean;
  /** one error per failed attempt */
  attempts: string[];
}

export interface ReportSummary {
  passed: number;
  failed: number;
  skipped: number;
  /** one line per failed test (or file that failed outside a test) */
  failures: string[];
  /** one line per test that passed only on its retry, with why the earlier attempt(s) failed */
  retried: string[];
  /** every failed attempt's error, for the log */
  attempts: AttemptFailures[];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The first line of a failure, with where in the test it happened. */
export function failureLine(root: string, message: string | undefined, durationMs?: number): string {
  const text = message ?? '';
  const at = new RegExp(`at (?:.*\\()?${escapeRe(root)}/((?:test|e2e|server|scripts|lib|bin|components)/[^:)]+:\\d+)`).exec(text)?.[1];
  // vitest's JSON report loses the "Test timed out" text of a timeout
  const head = text.startsWith('Error: STACK_TRACE_ERROR')
    ? `test timed out${durationMs ? ` after ${Math.round(durationMs / 1000)} s` : ''}`
    : firstLine(text);
  return at ? `${head} (${at})` : head;
}

export function firstLine(text: string | undefined): string {
  const line = (text ?? '').split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '(no message)';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

const ordinal = (n: number) => (n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`);

/**
 * Why a file failed outside its tests, from the default reporter's output: vitest's JSON report keeps only
 * the file's own errors, so a describe block's failed beforeAll/afterAll leaves the file "failed" with no
 * message there. The default reporter prints it under "Failed Suites" as ` FAIL  file > suite` and the error
 * below; this returns `suite: first line of the error` for the file, or undefined.
 */
export function suiteFailureFromLog(log: string | undefined, rel: string): string | undefined {
  if (!log) return undefined;
  // eslint-disable-next-line no-control-regex
  const lines = log.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  const start = lines.findIndex((l) => /Failed Suites \d+/.test(l));
  if (start < 0) return undefined;
  const prefix = ` FAIL  ${rel} > `;
  for (let i = start + 1; i < lines.length; i++) {
    if (/Failed Tests \d+|Test Files /.test(lines[i])) break;
    if (!lines[i].startsWith(prefix)) continue;
    const suite = lines[i].slice(prefix.length).trim();
    const error = lines.slice(i + 1).find((l) => l.trim().length > 0 && !l.startsWith(' FAIL '));
    return `${suite}: ${firstLine(error)}`;
  }
  return undefined;
}

export function summariseReport(report: JsonReport, root: string, log?: string): ReportSummary {
  const failures: string[] = [];
  const retried: string[] = [];
  const attempts: AttemptFailures[] = [];
  for (const file of report.testResults ?? []) {
    const rel = relative(root, file.name);
    const results = file.assertionResults ?? [];
    for (const a of results) {
      const messages = a.failureMessages ?? [];
      if (messages.length === 0 || (a.status !== 'failed' && a.status !== 'passed')) continue;
      const test = `${rel} > ${a.fullName ?? a.title}`;
      // the duration covers every attempt: it only says how long a timeout took when the one attempt failed
      const line = (m: string) => failureLine(root, m, messages.length === 1 && a.status === 'failed' ? a.duration : undefined);
      attempts.push({ test, passedOnRetry: a.status === 'passed', attempts: messages });
      if (a.status === 'passed') {
        const why = messages.map((m, i) => (messages.length > 1 ? `${ordinal(i + 1)} attempt: ` : '') + line(m)).join('; ');
        retried.push(`${test}: passed on attempt ${messages.length + 1}; ${messages.length > 1 ? why : `1st attempt failed: ${why}`}`);
      } else if (messages.length > 1 && new Set(messages.map(line)).size > 1) {
        // every attempt failed, not alike: both reasons
        failures.push(`${test}: ${messages.map((m, i) => `${ordinal(i + 1)} attempt: ${line(m)}`).join('; ')}`);
      } else {
        failures.push(`${test}: ${line(messages[0])}`);
      }
    }
    // a file that failed outside any test (import error, beforeAll, afterAll)
    if (file.status === 'failed' && !results.some((a) => a.status === 'failed')) {
      failures.push(`${rel}: ${file.message ? firstLine(file.message) : (suiteFailureFromLog(log, rel) ?? '(no message: see the cell log)')}`);
    }
  }
  return {
    passed: report.numPassedTests ?? 0,
    failed: report.numFailedTests ?? 0,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
    failures,
    retried,
    attempts,
  };
}

/**
 * The failed attempts of tests that passed on their retry, for the cell's log: vitest's default
 * reporter prints nothing of an attempt that a retry made good, so without this the log of a green
 * run holds no evidence of the flake. Each error is cut to `maxLines` lines, without the stack frames
 * of vitest's own runner.
 */
export function retriedAttemptsText(summary: ReportSummary, maxLines = 25): string {
  const out: string[] = [];
  for (const t of summary.attempts.filter((x) => x.passedOnRetry)) {
    t.attempts.forEach((m, i) => {
      out.push(`── ${t.test}: attempt ${i + 1} of ${t.attempts.length + 1} failed (it passed on attempt ${t.attempts.length + 1}):`);
      const lines = m.split('\n').filter((l) => !/^\s+at .*(node_modules\/|\(<anonymous>\)|node:internal)/.test(l));
      // vitest's JSON report keeps no text for a timeout, only where the test was declared
      if (lines[0]?.startsWith('Error: STACK_TRACE_ERROR')) lines[0] = 'test timed out (the test\'s timeout; the frames below are where it is declared)';
      out.push(...lines.slice(0, maxLines).map((l) => `   ${l}`));
      if (lines.length > maxLines) out.push(`   … ${lines.length - maxLines} more lines`);
    });
  }
  return out.join('\n');
}
