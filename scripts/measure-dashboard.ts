/**
 * Dashboard performance, measured (not a timed test):
 *
 * 1. publish → chart update latency: a cast to a fresh topic is published
 *    through the core; the time until the Overview's rate chart in headless
 *    Chromium draws that topic is recorded (p50 / p95 / max over N samples).
 * 2. server CPU with 1 vs 50 connected viewers: socket.io clients subscribe
 *    to every feed a browser can (status, rates, calls, the unfiltered live stream)
 *    against the embedded demo fleet; the server process's CPU time
 *    (/proc/<pid>/stat) is sampled over a fixed window.
 *
 * 3. `--busy`: the dashboard under a busy cloud. In a throw-away traced vhost
 *    (`/` is never traced), an osloscope RPC server and `--clients` client
 *    processes call as fast as the broker lets them while the dashboard taps
 *    the firehose (each call is four trace messages). Under that load it
 *    measures the trace messages/s the tap receives, publish → chart latency
 *    as in 1., and how smooth Live stays while it is scrolled: a Chromium
 *    performance trace (DevTools timeline frame events: frames drawn and
 *    dropped, main-thread tasks over 50 ms) and, in the page, the intervals
 *    between animation frames.
 *
 *   node --import tsx scripts/measure-dashboard.ts [--url rabbit://guest:guest@127.0.0.1:5672/] [--samples 30] [--seconds 20]
 *   node --import tsx scripts/measure-dashboard.ts --busy [--clients 3] [--samples 20] [--seconds 10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io as connect, type Socket } from 'socket.io-client';
import { redactUrlPasswords, RpcClient, Transport } from '../server/messaging/index.ts';
import { ensureBuilt } from './build-if-needed.ts';
import { launchBrowser } from '../e2e/support/browser.ts';
import { startServer, type ServerHandle } from '../e2e/support/server.ts';
import { createTestVhost } from '../server/tap/test-support.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'rabbit://guest:guest@127.0.0.1:5672/' },
    samples: { type: 'string', default: '30' },
    seconds: { type: 'string', default: '20' },
    viewers: { type: 'string', default: '1,50' },
    busy: { type: 'boolean', default: false },
    clients: { type: 'string', default: '3' },
  },
});

const CLK_TCK = 100; // Linux USER_HZ

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (after pid and comm)
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

async function measureLatency(server: ServerHandle, url: string, samples: number): Promise<number[]> {
  const browser = await launchBrowser();
  const transport = new Transport(url, { programName: 'osloscope-latency-probe' });
  const latencies: number[] = [];
  try {
    const page = await browser.context.newPage();
    await page.goto(server.url);
    await page.locator('[data-testid=socket-state][data-state=connected]').waitFor({ timeout: 20_000 });
    const run = Math.random().toString(36).slice(2, 8);
    for (let i = 0; i < samples; i++) {
      const topic = `latprobe-${run}-${i}`;
      await page.getByTestId('rate-focus').fill(topic);
      // let React apply the focus before publishing, and spread samples over the push cycle
      await page.waitForTimeout(300 + Math.random() * 700);
      const published = Date.now();
      await new RpcClient(transport, { topic }).cast({}, 'probe', { i });
      // a sample the chart never shows within 30 s counts as 30 s (never dropped from the percentiles)
      const seenAt = await page
        .waitForFunction(
          (t) => {
            const el = document.querySelector('[data-testid=rate-chart]');
            return (el?.getAttribute('data-keys') ?? '').split(',').includes(t) ? Date.now() : false;
          },
          topic,
          { polling: 'raf', timeout: 30_000 },
        )
        .then(async (h) => (await h.jsonValue()) as number)
        .catch(() => published + 30_000);
      latencies.push(seenAt - published);
    }
  } finally {
    await transport.close();
    await browser.close();
  }
  return latencies;
}

interface ViewerRun {
  viewers: number;
  cpuPercent: number;
  eventsPerViewerPerSecond: number;
  kbPerViewerPerSecond: number;
}

async function measureViewers(server: ServerHandle, counts: number[], seconds: number): Promise<ViewerRun[]> {
  const pid = server.child.pid as number;
  const out: ViewerRun[] = [];
  for (const n of counts) {
    const sockets: Socket[] = [];
    let events = 0;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const s = connect(server.url, { path: '/socket.io', transports: ['websocket'], forceNew: true, reconnection: false });
      s.onAny((_event, payload) => {
        events++;
        // approximate payload size (the JSON the server encoded)
        bytes += JSON.stringify(payload).length;
      });
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('connect_error', reject);
      });
      await s.emitWithAck('status:subscribe', {});
      await s.emitWithAck('rates:subscribe', { windowMs: 60_000, dimension: 'topic' });
      await s.emitWithAck('calls:subscribe', {});
      await s.emitWithAck('traffic:subscribe', { filter: '', limit: 200 });
      sockets.push(s);
    }
    // settle, then measure
    await new Promise((r) => setTimeout(r, 3000));
    events = 0;
    bytes = 0;
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - c0;
    out.push({
      viewers: n,
      cpuPercent: (cpu / elapsed) * 100,
      eventsPerViewerPerSecond: events / n / elapsed,
      kbPerViewerPerSecond: bytes / n / elapsed / 1024,
    });
    for (const s of sockets) s.close();
    await new Promise((r) => setTimeout(r, 2000));
  }
  return out;
}

const BENCH_PEER = fileURLToPath(new URL('../bin/commands/bench-server.ts', import.meta.url));

function benchPeer(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', BENCH_PEER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr?.on('data', (b: Buffer) => process.stderr.write(`[load] ${b.toString()}`));
  return child;
}

async function apiStatus(server: ServerHandle): Promise<{ received: number; dropped: number; mode: string; backlog: string }> {
  const body = (await (await fetch(`${server.url}/api/status`)).json()) as {
    data: { tap: { mode: string; counters: { received: number; dropped: number }; backlog?: { messages: number; cap: number } | null } | null };
  };
  const tap = body.data.tap;
  if (!tap) throw new Error('the dashboard has no tap');
  const backlog = tap.backlog ? `${tap.backlog.messages} of ${tap.backlog.cap}` : 'not read';
  return { received: tap.counters.received, dropped: tap.counters.dropped, mode: tap.mode, backlog };
}

interface Smoothness {
  tracedFrames: number;
  droppedFrames: number;
  longTasks: number;
  longestTaskMs: number;
  rafFrames: number;
  rafP95Ms: number;
  rafOver50Ms: number;
  rows: number;
}

/** Scroll Live's table for `seconds` while a Chromium performance trace records the frames. */
async function measureLiveScroll(server: ServerHandle, seconds: number): Promise<Smoothness> {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/live`);
    await page.locator('[data-testid=message-row]').first().waitFor({ timeout: 30_000 });
    const cdp = await browser.context.newCDPSession(page);
    const events: Array<{ name: string; ph: string; dur?: number; cat: string }> = [];
    cdp.on('Tracing.dataCollected', (e) => {
      for (const ev of e.value as unknown as typeof events) events.push(ev);
    });
    const done = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
    await cdp.send('Tracing.start', {
      transferMode: 'ReportEvents',
      traceConfig: { includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline.frame', 'toplevel'] },
    });
    // a plain script (not a compiled function: tsx wraps named functions in a helper the page lacks)
    const inPage = (await page.evaluate(`(async (ms) => {
      let box = document.querySelector('[data-testid=message-table]');
      while (box && box !== document.body && !(box.scrollHeight > box.clientHeight && /auto|scroll/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
      const scroller = box && box !== document.body ? box : document.scrollingElement;
      const gaps = [];
      let last = performance.now();
      let dir = 1;
      const end = last + ms;
      await new Promise((resolve) => {
        const step = (t) => {
          gaps.push(t - last);
          last = t;
          if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2) dir = -1;
          else if (scroller.scrollTop <= 0) dir = 1;
          scroller.scrollTop += dir * 40;
          if (t < end) requestAnimationFrame(step);
          else resolve();
        };
        requestAnimationFrame(step);
      });
      return { gaps, rows: document.querySelectorAll('[data-testid=message-row]').length };
    })(${seconds * 1000})`)) as { gaps: number[]; rows: number };
    await cdp.send('Tracing.end');
    await done;
    const tasks = events.filter((e) => e.ph === 'X' && (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask') && (e.dur ?? 0) > 50_000);
    const gaps = inPage.gaps.slice(1).sort((a, b) => a - b);
    return {
      tracedFrames: events.filter((e) => e.name === 'DrawFrame').length,
      droppedFrames: events.filter((e) => e.name === 'DroppedFrame').length,
      longTasks: tasks.length,
      longestTaskMs: Math.max(0, ...tasks.map((t) => (t.dur ?? 0) / 1000)),
      rafFrames: gaps.length,
      rafP95Ms: percentile(gaps, 0.95),
      rafOver50Ms: gaps.filter((g) => g > 50).length,
      rows: inPage.rows,
    };
  } finally {
    await browser.close();
  }
}

async function measureBusy(samples: number, seconds: number, clients: number): Promise<void> {
  const vhost = await createTestVhost('osloscope-busy', { tracing: true });
  const topic = 'busy-bench';
  const load: ChildProcess[] = [];
  let server: ServerHandle | null = null;
  try {
    const rpcServer = benchPeer(['osloscope', vhost.url, topic]);
    load.push(rpcServer);
    await new Promise<void>((resolve, reject) => {
      rpcServer.stdout?.on('data', (b: Buffer) => b.toString().includes('"ready"') && resolve());
      rpcServer.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
    });
    server = await startServer({ TRANSPORT_URL: vhost.url, DEMO_FLEET: 'off', LOG_LEVEL: 'warn', TAP_MODE: 'firehose', HISTORY: 'off' });
    for (let i = 0; i < clients; i++) load.push(benchPeer(['osloscope-client', vhost.url, topic, '100000000', '64']));
    await new Promise((r) => setTimeout(r, 5000));
    const pid = server.child.pid as number;
    const before = await apiStatus(server);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 5000));
    const after = await apiStatus(server);
    const cpu = cpuSeconds(pid) - cpu0;
    const elapsed = (performance.now() - t0) / 1000;
    const received = after.received - before.received;
    const traceRate = received / elapsed;
    process.stdout.write(
      `tap mode ${after.mode}: ${traceRate.toFixed(0)} trace messages/s received (≈ ${(traceRate / 4).toFixed(0)} calls/s), dropped ${after.dropped}, backlog ${after.backlog}; ` +
        `dashboard CPU ${((cpu / elapsed) * 100).toFixed(0)} % of a core, ${received > 0 ? ((cpu * 1e6) / received).toFixed(0) : '-'} µs per trace message; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
    );
    const backlog = async () => (await vhost.mgmt.queues()).filter((q) => q.name.startsWith('osloscope-tap-')).reduce((n, q) => n + (q.messages ?? 0), 0);
    process.stdout.write(`trace messages waiting in the tap's queue: ${await backlog()}\n`);
    const probeStart = await apiStatus(server);
    const probeCpu0 = cpuSeconds(pid);
    const probeT0 = performance.now();
    const lat = (await measureLatency(server, vhost.url, samples)).sort((a, b) => a - b);
    const probeEnd = await apiStatus(server);
    const probeSeconds = (performance.now() - probeT0) / 1000;
    process.stdout.write(
      `while Chromium showed the Overview: ${((probeEnd.received - probeStart.received) / probeSeconds).toFixed(0)} trace messages/s taken by the tap, dashboard CPU ${(((cpuSeconds(pid) - probeCpu0) / probeSeconds) * 100).toFixed(0)} % of a core; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
    );
    process.stdout.write(`trace messages waiting in the tap's queue after the probes: ${await backlog()} (the tap's own reading: ${probeEnd.backlog})\n`);
    process.stdout.write(`publish → chart under load: p50 ${percentile(lat, 0.5)} ms, p95 ${percentile(lat, 0.95)} ms, max ${lat.at(-1)} ms (target p95 ≤ 1500 ms)\n`);
    process.stdout.write(`samples: ${lat.join(' ')}\n`);
    const s = await measureLiveScroll(server, seconds);
    process.stdout.write(
      `Live scrolled for ${seconds} s (${s.rows} rows): Chromium trace ${s.tracedFrames} frames drawn, ${s.droppedFrames} dropped, ${s.longTasks} main-thread tasks > 50 ms (longest ${s.longestTaskMs.toFixed(0)} ms); ` +
        `in-page ${s.rafFrames} animation frames, p95 interval ${s.rafP95Ms.toFixed(1)} ms, ${s.rafOver50Ms} over 50 ms\n`,
    );
    const end = await apiStatus(server);
    process.stdout.write(`tap dropped over the run: ${end.dropped}; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  } finally {
    for (const c of load) c.kill('SIGTERM');
    await server?.stop();
    await vhost.remove();
  }
}

async function main(): Promise<void> {
  if (values.busy) {
    await ensureBuilt();
    process.stdout.write(`# the dashboard under a busy cloud (firehose on, ${values.clients} client processes at concurrency 64)\n`);
    await measureBusy(Number(values.samples), Number(values.seconds), Number(values.clients));
    return;
  }
  const samples = Number(values.samples);
  const seconds = Number(values.seconds);
  const counts = (values.viewers ?? '1,50').split(',').map(Number);
  await ensureBuilt();

  process.stdout.write(`# publish → chart update latency (${samples} samples, broker ${redactUrlPasswords(values.url)})\n`);
  const rabbit = await startServer({ TRANSPORT_URL: values.url, DEMO_FLEET: 'off', LOG_LEVEL: 'warn' });
  let lat: number[];
  try {
    lat = (await measureLatency(rabbit, values.url, samples)).sort((a, b) => a - b);
  } finally {
    await rabbit.stop();
  }
  process.stdout.write(`p50 ${percentile(lat, 0.5)} ms, p95 ${percentile(lat, 0.95)} ms, max ${lat.at(-1)} ms (target p95 ≤ 1500 ms)\n`);
  process.stdout.write(`samples: ${lat.join(' ')}\n\n`);

  process.stdout.write(`# server CPU vs connected viewers (embedded demo fleet, ${seconds} s windows)\n`);
  const embedded = await startServer({ LOG_LEVEL: 'warn' });
  try {
    await new Promise((r) => setTimeout(r, 5000));
    const idle = cpuSeconds(embedded.child.pid as number);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const base = ((cpuSeconds(embedded.child.pid as number) - idle) / seconds) * 100;
    process.stdout.write(`viewers 0: CPU ${base.toFixed(1)} %\n`);
    for (const r of await measureViewers(embedded, counts, seconds)) {
      process.stdout.write(
        `viewers ${r.viewers}: CPU ${r.cpuPercent.toFixed(1)} % · ${r.eventsPerViewerPerSecond.toFixed(1)} events/s and ${r.kbPerViewerPerSecond.toFixed(1)} KiB/s per viewer\n`,
      );
    }
  } finally {
    await embedded.stop();
  }
}

await main();
