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
 *   node --import tsx scripts/measure-dashboard.ts [--url rabbit://guest:guest@127.0.0.1:5672/] [--samples 30] [--seconds 20]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { io as connect, type Socket } from 'socket.io-client';
import { redactUrlPasswords, RpcClient, Transport } from '../server/messaging/index.ts';
import { ensureBuilt } from './build-if-needed.ts';
import { launchBrowser } from '../e2e/support/browser.ts';
import { startServer, type ServerHandle } from '../e2e/support/server.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'rabbit://guest:guest@127.0.0.1:5672/' },
    samples: { type: 'string', default: '30' },
    seconds: { type: 'string', default: '20' },
    viewers: { type: 'string', default: '1,50' },
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
      const seenAt = await page.waitForFunction(
        (t) => {
          const el = document.querySelector('[data-testid=rate-chart]');
          return (el?.getAttribute('data-keys') ?? '').split(',').includes(t) ? Date.now() : false;
        },
        topic,
        { polling: 'raf', timeout: 10_000 },
      );
      latencies.push((await seenAt.jsonValue()) as number - published);
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

async function main(): Promise<void> {
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
