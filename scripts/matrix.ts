/**
 * The test matrix: the suite on Debian bookworm's stack (host RabbitMQ 3.10 +
 * oslo.messaging 14.0.3, `vitest run` unchanged), then the interop, tap and
 * e2e batteries against the modern stacks of `scripts/stacks/stack` (trixie:
 * RabbitMQ 4.0 + oslo.messaging 16.1; sid: RabbitMQ 4.3 + oslo.messaging 18.x;
 * sid-cluster: three sid nodes behind one multi-host transport_url; sid-fault:
 * one more sid node the fault suite stops, starts and cuts), once per
 * Python peer layout (TEST_PEER_LAYOUT: oslo defaults, kolla's Q+T+S+M with
 * prefetch 1 and 50, openstack-helm's D+T+M).
 *
 *   node --import tsx scripts/matrix.ts [--with-suite] [--list] [FILTER...]
 *
 * FILTER (also MATRIX=a,b): `stack[:layout[:battery]]`, each part a name or
 * `*`, e.g. `sid:kolla`, `trixie`, `*:helm:tap`, `sid-cluster`, `bookworm`.
 * `--with-suite` (what `npm test` runs) adds the bookworm suite first.
 *
 * Every cell is its own `vitest run` with the stack's TEST_* variables
 * (`stack env`), CI=true (a missing broker or Python fails, never skips), and
 * a JSON report read back for the summary. A failed test runs once more
 * (MATRIX_RETRY); one that passes on its retry is listed in the summary with
 * why its first attempt failed, and that attempt's error goes in the cell's log
 * (scripts/matrix-report.ts). A failed cell fails the run; the other cells
 * still run. The exit code is non-zero when any cell failed, ran
 * no test, timed out, or its stack could not be brought up.
 */
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redactUrlPasswords } from '../server/messaging/transport-url.ts';
import { retriedAttemptsText, summariseReport, type JsonReport } from './matrix-report.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const STACK = join(ROOT, 'scripts', 'stacks', 'stack');
const VITEST = join(ROOT, 'node_modules', '.bin', 'vitest');

type StackName = 'bookworm' | 'trixie' | 'sid' | 'sid-cluster' | 'sid-fault';
type Battery = 'suite' | 'interop' | 'tap' | 'e2e' | 'layouts' | 'e2e-layout' | 'ping' | 'investigate' | 'fleet' | 'cluster' | 'faults';

interface BatterySpec {
  files: () => string[];
  /** vitest -t: only these tests of the files. */
  testNamePattern?: string;
  timeoutMs: number;
  /** a second stack the battery needs up beside the cell's: its broker as TEST_SECOND_TRANSPORT_URL, _AMQP_HOST, _MANAGEMENT_URL */
  secondStack?: StackName;
}

const BATTERIES: Record<Battery, BatterySpec> = {
  // today's whole suite on bookworm, exactly as `vitest run` ran it before
  suite: { files: () => [], timeoutMs: 30 * 60_000 },
  // both directions: call, cast, fanout, server targeting, namespaces/versions,
  // failures, call-monitor heartbeats, notifications v2 with pools; tap on Python traffic
  interop: {
    files: () => ['test/interop/rpc-interop.test.ts', 'test/interop/notify-interop.test.ts', 'test/interop/tap-python.test.ts'],
    timeoutMs: 10 * 60_000,
  },
  // every kind seen, nothing stolen, replies correlated, stuck causes
  tap: { files: () => ['test/integration/tap-rabbit.test.ts'], timeoutMs: 10 * 60_000 },
  // the dashboard fires a call at a Python server and classifies a stuck call
  e2e: {
    files: () => ['e2e/rabbit.spec.ts'],
    testNamePattern: 'fires a call from the form|shows a stuck call',
    timeoutMs: 10 * 60_000,
  },
  // what each layout's servers declare, met by osloscope's declarations, the
  // tap (queue-manager names, streams) and the broker view; services
  // configured by a file; the Broker page and the Live page's fanout history
  layouts: {
    files: () =>
      present([
        'test/interop/layouts-interop.test.ts',
        'test/interop/tap-layouts.test.ts',
        'test/interop/config-file-interop.test.ts',
        'test/integration/broker-layout.test.ts',
      ]),
    timeoutMs: 10 * 60_000,
  },
  'e2e-layout': { files: () => present(['e2e/broker-health.spec.ts', 'e2e/fanout-history.spec.ts']), timeoutMs: 10 * 60_000 },
  // oslo_rpc_server_ping to a topic's fleet of Python servers (rpc_ping_enabled), found from their queues
  ping: { files: () => present(['test/interop/ping-interop.test.ts']), timeoutMs: 10 * 60_000 },
  // a Python caller's timeout log line pasted into the search box lands on its call page, also after
  // osloscope restarts on the same history store: a SQLite file, then PostgreSQL (the host's, 127.0.0.1:5432)
  investigate: { files: () => present(['e2e/investigate.spec.ts']), timeoutMs: 15 * 60_000 },
  // one osloscope over two real brokers (TRANSPORT_URLS): the cell's and trixie's, a Python server on each;
  // over HTTP, and in Chromium (the selector, Live, Calls, Overview, Broker page, Console, a broker going away)
  fleet: { files: () => present(['test/integration/fleet-rabbit.test.ts', 'e2e/fleet.spec.ts']), timeoutMs: 15 * 60_000, secondStack: 'trixie' },
  // the cluster's own tests (failover when osloscope's node dies), when present
  cluster: { files: () => listTests('test/cluster'), timeoutMs: 10 * 60_000 },
  // 20 node restarts and 20 close_all_connections with traffic, the tap and fired calls (issue #8);
  // a restart of the node is 20-30 s on the loaded 2-core machine
  faults: { files: () => listTests('test/faults'), timeoutMs: 30 * 60_000 },
};

const STACK_LAYOUTS = ['default', 'kolla', 'kolla50', 'helm'] as const;
// Two: with more, the tests' 2 s management-API probes time out on a loaded 2-core machine.
const MATRIX_WORKERS = Math.max(1, Number.parseInt(process.env.MATRIX_WORKERS ?? '', 10) || 2);
const MATRIX_RETRY = Number.parseInt(process.env.MATRIX_RETRY ?? '1', 10) || 0;

interface Cell {
  stack: StackName;
  layout: string;
  battery: Battery;
}

function allCells(withSuite: boolean): Cell[] {
  const cells: Cell[] = [];
  if (withSuite) cells.push({ stack: 'bookworm', layout: 'default', battery: 'suite' });
  for (const stack of ['trixie', 'sid'] as const) {
    for (const layout of STACK_LAYOUTS) {
      for (const battery of ['interop', 'tap', 'e2e', 'layouts', 'e2e-layout'] as const) cells.push({ stack, layout, battery });
    }
    // server queues and timeouts read alike in every layout: these batteries run once, on kolla's
    cells.push({ stack, layout: 'kolla', battery: 'ping' }, { stack, layout: 'kolla', battery: 'investigate' });
  }
  // two brokers of different RabbitMQ versions in one dashboard: sid's (4.3) and trixie's (4.0)
  cells.push({ stack: 'sid', layout: 'kolla', battery: 'fleet' });
  // Clusters run quorum queues: kolla's layout is what they carry in production.
  for (const battery of ['tap', 'e2e', 'cluster'] as const) cells.push({ stack: 'sid-cluster', layout: 'kolla', battery });
  // its own node, stopped and started at will: never one of the brokers other cells use
  cells.push({ stack: 'sid-fault', layout: 'default', battery: 'faults' });
  return cells;
}

/** The files of a battery that exist in this checkout (batteries grow file by file). */
function present(files: string[]): string[] {
  return files.filter((f) => existsSync(join(ROOT, f)));
}

function listTests(dir: string): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, f))
    .sort();
}

function matches(cell: Cell, filter: string): boolean {
  const [s = '*', l = '*', b = '*'] = filter.split(':');
  const ok = (want: string, have: string) => want === '*' || want === '' || want === have;
  return ok(s, cell.stack) && ok(l, cell.layout) && ok(b, cell.battery);
}

interface CellResult {
  cell: Cell;
  status: 'passed' | 'failed';
  passed: number;
  failed: number;
  skipped: number;
  ms: number;
  /** Why the cell failed beyond failing tests (timeout, no tests, stack down). */
  note?: string;
  failures: string[];
  /** tests that passed only on their retry, each with why its earlier attempt failed */
  retried: string[];
}

const log = (line: string) => process.stdout.write(`[matrix] ${line}\n`);

/** Process groups of the vitest runs in flight and the cells' vhosts: both go when the matrix is interrupted. */
const running = new Set<number>();
const vhostRemovals = new Set<() => Promise<void>>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const pid of running) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const removals = Promise.all([...vhostRemovals].map((remove) => remove()));
    void Promise.race([removals, new Promise((r) => setTimeout(r, 5_000))]).then(() => process.exit(130));
  });
}

function label(cell: Cell): string {
  return cell.battery === 'suite' ? 'bookworm (suite)' : `${cell.stack} × ${cell.layout} × ${cell.battery}`;
}

/** `stack env NAME` as a map (K=V lines). */
function stackEnv(stack: StackName): Record<string, string> {
  if (stack === 'bookworm') return {};
  const res = spawnSync(STACK, ['env', stack], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`stack env ${stack} failed: ${res.stderr.trim()}`);
  const env: Record<string, string> = {};
  for (const line of res.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** Runs `stack up NAMES...` (it provisions missing chroots, in parallel per suite); resolves with its exit code. */
function stacksUp(names: StackName[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(STACK, ['up', ...names], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) => {
      log(`cannot run ${STACK}: ${err.message}`);
      resolve(127);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/**
 * Runs one cell. `buffered`: the cell's output goes to a file and is printed
 * in one block when it ends (cells of different stacks run side by side).
 */
function runCell(cell: Cell, reportDir: string, buffered: boolean): Promise<CellResult> {
  const spec = BATTERIES[cell.battery];
  const files = spec.files();
  const started = Date.now();
  const result = (partial: Partial<CellResult>): CellResult => ({
    cell,
    status: 'failed',
    passed: 0,
    failed: 0,
    skipped: 0,
    ms: Date.now() - started,
    failures: [],
    retried: [],
    ...partial,
  });
  if (cell.battery !== 'suite' && files.length === 0) {
    return Promise.resolve(result({ status: 'passed', note: 'no test files (nothing to run)' }));
  }
  let env: NodeJS.ProcessEnv = { ...process.env };
  if (cell.stack !== 'bookworm') {
    // Only the stack's own TEST_* variables, and CI=true: on a stack, a
    // missing broker or Python fails the cell instead of skipping tests.
    for (const key of Object.keys(env)) if (key.startsWith('TEST_')) delete env[key];
    try {
      env = { ...env, ...stackEnv(cell.stack), CI: process.env.CI || 'true', TEST_PEER_LAYOUT: cell.layout };
      if (spec.secondStack) {
        const second = stackEnv(spec.secondStack);
        env = {
          ...env,
          TEST_SECOND_TRANSPORT_URL: second.TEST_TRANSPORT_URL,
          TEST_SECOND_AMQP_HOST: second.TEST_AMQP_HOST,
          TEST_SECOND_MANAGEMENT_URL: second.TEST_MANAGEMENT_URL,
        };
      }
    } catch (err) {
      return Promise.resolve(result({ note: (err as Error).message }));
    }
  }
  if (cell.battery !== 'suite' && cell.battery !== 'cluster' && cell.battery !== 'faults') {
    // Each cell in a fresh vhost of its own, removed afterwards: layouts
    // disagree on the control exchange's durability (a `default` peer gets
    // 406 inequivalent arg 'durable' for an `openstack` that a kolla run
    // declared durable), and a run must not inherit another's queues.
    return cellVhost(env, cell).then(
      async ({ vhostEnv, remove }) => {
        vhostRemovals.add(remove);
        try {
          return await spawnCell(cell, spec, files, { ...env, ...vhostEnv }, reportDir, buffered, started);
        } finally {
          vhostRemovals.delete(remove);
          await remove();
        }
      },
      (err: unknown) => result({ note: `cannot create the cell's vhost: ${(err as Error).message}` }),
    );
  }
  return spawnCell(cell, spec, files, env, reportDir, buffered, started);
}

/** Creates `osloscope-matrix-<layout>-<battery>-<hex>` through TEST_MANAGEMENT_URL; the cell's transport and AMQP URLs point at it. */
async function cellVhost(env: NodeJS.ProcessEnv, cell: Cell): Promise<{ vhostEnv: Record<string, string>; remove: () => Promise<void> }> {
  const mgmt = new URL(env.TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672');
  const user = decodeURIComponent(mgmt.username || 'guest');
  const auth = `Basic ${Buffer.from(`${user}:${decodeURIComponent(mgmt.password || 'guest')}`).toString('base64')}`;
  const vhost = `osloscope-matrix-${cell.layout}-${cell.battery}-${randomBytes(3).toString('hex')}`;
  const enc = encodeURIComponent(vhost);
  const api = async (path: string, method: string, body?: unknown) => {
    const res = await fetch(`${mgmt.protocol}//${mgmt.host}/api${path}`, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok && !(method === 'DELETE' && res.status === 404)) throw new Error(`${method} /api${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  };
  await api(`/vhosts/${enc}`, 'PUT', { description: `osloscope test matrix: ${label(cell)}` });
  await api(`/permissions/${enc}/${encodeURIComponent(user)}`, 'PUT', { configure: '.*', write: '.*', read: '.*' });
  // scheme://authority[/vhost]: the authority may list several hosts (oslo's multi-host URL)
  const withVhost = (url: string | undefined) => (url ? url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)(\/[^?#]*)?/i, `$1/${enc}`) : url);
  const vhostEnv: Record<string, string> = { TEST_VHOST: vhost };
  for (const key of ['TEST_TRANSPORT_URL', 'TEST_AMQP_URL'] as const) {
    const url = withVhost(env[key]);
    if (url) vhostEnv[key] = url;
  }
  return {
    vhostEnv,
    remove: async () => {
      await api(`/vhosts/${enc}`, 'DELETE').catch((err: unknown) => {
        log(`could not delete vhost ${vhost}: ${(err as Error).message}`);
      });
    },
  };
}

function spawnCell(
  cell: Cell,
  spec: BatterySpec,
  files: string[],
  env: NodeJS.ProcessEnv,
  reportDir: string,
  buffered: boolean,
  started: number,
): Promise<CellResult> {
  const reportFile = join(reportDir, `${cell.stack}-${cell.layout}-${cell.battery}.json`);
  const args = ['run', ...files, '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`];
  if (spec.testNamePattern) args.push('-t', spec.testNamePattern);
  // Files of a stack battery mostly wait on brokers and Python peers: run
  // them side by side (vitest's default on 2 cores is one at a time).
  if (cell.stack !== 'bookworm' && files.length > 1) args.push(`--maxWorkers=${MATRIX_WORKERS}`);
  // Brokers, a cluster, Python peers, Chromium and vitest's workers share two cores: a management read, a
  // broker's answer or a thread-pool inflate now and then takes seconds. A failed test runs once more
  // (MATRIX_RETRY, default 1); one that fails twice fails the cell.
  if (MATRIX_RETRY > 0) args.push(`--retry=${MATRIX_RETRY}`);

  const bar = '═'.repeat(Math.max(10, 70 - label(cell).length));
  let header = `\n╔══ ${label(cell)} ${bar}\n`;
  if (cell.stack !== 'bookworm') {
    header += `║ TEST_TRANSPORT_URL=${redactUrlPasswords(env.TEST_TRANSPORT_URL ?? '')} TEST_PYTHON=${relative(ROOT, env.TEST_PYTHON ?? '')} TEST_PEER_LAYOUT=${env.TEST_PEER_LAYOUT}\n`;
  }
  header += `║ vitest ${args.slice(0, files.length + 1).join(' ')}${spec.testNamePattern ? ` -t '${spec.testNamePattern}'` : ''}\n`;
  const outFile = join(reportDir, `${cell.stack}-${cell.layout}-${cell.battery}.log`);
  let outFd: number | null = null;
  if (buffered) {
    log(`▶ ${label(cell)}`);
    outFd = openSync(outFile, 'w');
  } else {
    process.stdout.write(header);
  }

  return new Promise((resolve) => {
    // Own process group, so a timeout kills vitest and its workers and peers.
    const stdio: StdioOptions = outFd === null ? ['ignore', 'inherit', 'inherit'] : ['ignore', outFd, outFd];
    const child = spawn(VITEST, args, { cwd: ROOT, env, stdio, detached: true });
    running.add(child.pid!);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, spec.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child.pid!);
      const { result: r, attemptsText } = summarise(cell, reportFile, code, started, outFd === null ? undefined : readFileSync(outFile, 'utf8'));
      if (timedOut) {
        r.status = 'failed';
        r.note = `timed out after ${spec.timeoutMs / 60_000} min`;
      }
      if (outFd !== null) {
        closeSync(outFd);
        process.stdout.write(header);
        process.stdout.write(readFileSync(outFile));
      }
      // vitest prints nothing of an attempt its retry made good: the failed attempts go in the log here
      if (attemptsText) process.stdout.write(`║ passed only on the retry (MATRIX_RETRY=${MATRIX_RETRY}); the failed attempts:\n${attemptsText.replace(/^/gm, '║ ')}\n`);
      const onRetry = r.retried.length ? `, ${r.retried.length} of them on the retry` : '';
      process.stdout.write(`╚══ ${label(cell)}: ${r.status.toUpperCase()} (${r.passed} passed${onRetry}, ${r.failed} failed, ${r.skipped} skipped, ${fmtTime(r.ms)})${r.note ? ` — ${r.note}` : ''}\n`);
      resolve(r);
    });
  });
}

function summarise(cell: Cell, reportFile: string, code: number | null, started: number, log?: string): { result: CellResult; attemptsText: string } {
  const ms = Date.now() - started;
  let report: JsonReport | null = null;
  try {
    report = JSON.parse(readFileSync(reportFile, 'utf8')) as JsonReport;
  } catch {
    // vitest died before writing it: the exit code decides
  }
  const s = summariseReport(report ?? {}, ROOT, log);
  const { passed, failed, failures } = s;
  let note: string | undefined;
  let ok = code === 0 && failures.length === 0;
  if (!report) note = `vitest exited ${code} without a report`;
  else if (passed + failed === 0) {
    ok = false;
    if (failures.length === 0) note = 'ran no test (all skipped or filtered out)';
  } else if (code !== 0 && failures.length === 0) note = `vitest exited ${code}`;
  return {
    result: { cell, status: ok ? 'passed' : 'failed', passed, failed, skipped: s.skipped, ms, note, failures, retried: s.retried },
    attemptsText: retriedAttemptsText(s),
  };
}

function fmtTime(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function table(results: CellResult[], upMs: number | null): string {
  const rows = [['stack', 'layout', 'battery', 'result', 'passed', 'failed', 'skipped', 'time']];
  for (const r of results) {
    rows.push([r.cell.stack, r.cell.layout, r.cell.battery, r.status === 'passed' ? 'PASS' : 'FAIL', String(r.passed), String(r.failed), String(r.skipped), fmtTime(r.ms)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)];
  // stack × layout roll-up
  const groups = new Map<string, { ok: boolean; ms: number; passed: number; failed: number }>();
  for (const r of results) {
    const key = `${r.cell.stack} × ${r.cell.layout}`;
    const g = groups.get(key) ?? { ok: true, ms: 0, passed: 0, failed: 0 };
    g.ok &&= r.status === 'passed';
    g.ms += r.ms;
    g.passed += r.passed;
    g.failed += r.failed;
    groups.set(key, g);
  }
  out.push('', 'stack × layout:');
  for (const [key, g] of groups) out.push(`  ${key.padEnd(24)} ${g.ok ? 'PASS' : 'FAIL'}  ${g.passed} passed, ${g.failed} failed, ${fmtTime(g.ms)}`);
  if (upMs !== null) out.push(`  (stacks up: ${fmtTime(upMs)})`);
  return out.join('\n');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const USAGE = 'usage: node --import tsx scripts/matrix.ts [--with-suite] [--list] [FILTER...]  (FILTER: stack[:layout[:battery]], e.g. sid:kolla)';
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const unknown = argv.filter((a) => a.startsWith('-') && a !== '--with-suite' && a !== '--list');
  if (unknown.length) {
    process.stderr.write(`unknown option ${unknown.join(', ')}\n${USAGE}\n`);
    return 2;
  }
  const withSuite = argv.includes('--with-suite');
  const listOnly = argv.includes('--list');
  const positional = argv.filter((a) => !a.startsWith('--'));
  // `npm test -- path/to/file.test.ts`: the bookworm suite limited to those files, no matrix.
  const suiteFiles = positional.filter((a) => a.includes('/') || a.endsWith('.ts'));
  if (suiteFiles.length) BATTERIES.suite.files = () => suiteFiles;
  const filters = [
    ...positional.filter((a) => !suiteFiles.includes(a)),
    ...(process.env.MATRIX ?? '').split(',').map((f) => f.trim()).filter(Boolean),
    ...(suiteFiles.length ? ['bookworm'] : []),
  ];
  const cells = allCells(withSuite || filters.some((f) => f.startsWith('bookworm'))).filter(
    (c) => filters.length === 0 || filters.some((f) => matches(c, f)),
  );
  if (cells.length === 0) {
    log(`no cell matches ${filters.join(', ')}; try --list`);
    return 2;
  }
  if (listOnly) {
    for (const c of cells) process.stdout.write(`${c.stack}:${c.layout}:${c.battery}\n`);
    return 0;
  }
  const started = Date.now();
  const reportDir = join(tmpdir(), `osloscope-matrix-${process.pid}`);
  mkdirSync(reportDir, { recursive: true });

  // Bring every needed stack up first (provisioning a fresh machine's chroots
  // takes a few minutes); a stack that cannot come up fails its cells loudly.
  const stacks = [...new Set(cells.flatMap((c) => [c.stack, BATTERIES[c.battery].secondStack]).filter((s): s is StackName => s !== undefined && s !== 'bookworm'))];
  let upMs: number | null = null;
  const down = new Set<StackName>();
  if (stacks.length) {
    const t0 = Date.now();
    log(`bringing up ${stacks.join(', ')}`);
    const code = await stacksUp(stacks);
    upMs = Date.now() - t0;
    if (code !== 0) {
      // find out which ones are missing: ask each one alone (fast when up)
      for (const s of stacks) if ((await stacksUp([s])) !== 0) down.add(s);
    }
  }

  const results = new Map<Cell, CellResult>();
  const run = async (cell: Cell, buffered: boolean) => {
    const second = BATTERIES[cell.battery].secondStack;
    if (down.has(cell.stack) || (second !== undefined && down.has(second))) {
      const which = down.has(cell.stack) ? cell.stack : second;
      results.set(cell, { cell, status: 'failed', passed: 0, failed: 0, skipped: 0, ms: 0, note: `stack ${which} could not be brought up (see scripts/stacks/stack output above)`, failures: [], retried: [] });
      return;
    }
    results.set(cell, await runCell(cell, reportDir, buffered));
  };
  // The bookworm suite alone first, its output live.
  for (const cell of cells.filter((c) => c.stack === 'bookworm')) await run(cell, false);
  // Then one lane per stack, lanes side by side (MATRIX_JOBS at a time), cells
  // of a lane one after the other: peers of two runs in one chroot share oslo's
  // queue-manager counter (/dev/shm/<host>_<proc>_qmanager, amqpdriver.py
  // QManager), which restarts at 1 whenever another process group writes it,
  // so one run would reuse reply_<host>:<proc>:<n> names it still consumes.
  const lanes = new Map<StackName, Cell[]>();
  for (const cell of cells.filter((c) => c.stack !== 'bookworm')) lanes.set(cell.stack, [...(lanes.get(cell.stack) ?? []), cell]);
  const jobs = Math.max(1, Number.parseInt(process.env.MATRIX_JOBS ?? '', 10) || 3);
  // The longest lane first (the fault node's stop/start cycles take ~10 min), so it runs beside the
  // others instead of after them.
  const queue = [...lanes.values()].sort((a, b) => Number(b.some((c) => c.battery === 'faults')) - Number(a.some((c) => c.battery === 'faults')));
  const buffered = queue.length > 1 && jobs > 1;
  await Promise.all(
    Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      for (let lane = queue.shift(); lane; lane = queue.shift()) {
        for (const cell of lane) await run(cell, buffered);
      }
    }),
  );
  rmSync(reportDir, { recursive: true, force: true });
  const ordered = cells.map((c) => results.get(c)!);

  const summary = [
    '',
    `══ matrix summary (${fmtTime(Date.now() - started)}) ══`,
    table(ordered, upMs),
  ];
  const failedCells = ordered.filter((r) => r.status === 'failed');
  if (failedCells.length) {
    summary.push('', `${failedCells.length} of ${ordered.length} cells FAILED:`);
    for (const r of failedCells) {
      summary.push(`  ${label(r.cell)}${r.note ? ` — ${r.note}` : ''}`);
      for (const f of r.failures) summary.push(`    ✗ ${f}`);
    }
  } else {
    summary.push('', `all ${ordered.length} cells passed`);
  }
  // green, but only thanks to the retry: each with why its first attempt failed (the full errors are in the cell's log)
  const retried = ordered.filter((r) => r.retried.length > 0);
  if (retried.length) {
    summary.push('', `${retried.reduce((n, r) => n + r.retried.length, 0)} test(s) passed only on their retry:`);
    for (const r of retried) {
      summary.push(`  ${label(r.cell)}`);
      for (const f of r.retried) summary.push(`    ↻ ${f}`);
    }
  }
  // the plain closing line CI readers look for, over every cell
  const sum = (k: 'passed' | 'failed' | 'skipped') => ordered.reduce((n, r) => n + r[k], 0);
  summary.push(`tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`);
  const text = summary.join('\n');
  process.stdout.write(`${text}\n`);
  if (process.env.MATRIX_REPORT) writeFileSync(process.env.MATRIX_REPORT, `${text}\n`);
  return failedCells.length ? 1 : 0;
}

process.exitCode = await main();
