/**
 * `osloscope bench` (also `npm run bench`): RPC calls/s and p50/p99 of
 *   - osloscope client + osloscope server,
 *   - Python oslo.messaging client + server (Debian python3-oslo.messaging),
 *   - raw amqplib request/reply, bare (no envelope, no confirms) and with
 *     publisher confirms on both sides (the AMQP work oslo's protocol needs),
 * side by side on the same broker at each concurrency, with the ratios the
 * product targets (≥ 3× Python at 1, ≥ 15× at 64, ≥ 60% of raw everywhere).
 * Each server runs in its own process, like the Python pair.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import amqplib from 'amqplib';
import { RpcClient, Transport, TransportURL } from '../../server/messaging/index.ts';
import { DEFAULT_URL, EXIT, numberOption, parse, reportError, UsageError, type Io } from './common.ts';
import { readConfigFiles } from './config-files.ts';

const DEFAULT_PYTHON = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('../../test/interop/peers/oslo_peer.py', import.meta.url));
const SERVER = fileURLToPath(new URL('./bench-server.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url));

export interface BenchResult {
  impl: 'osloscope' | 'python' | 'amqplib' | 'amqplib+confirms';
  concurrency: number;
  calls: number;
  seconds: number;
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** calls/s of every round, when the run was repeated (the reported one is the median) */
  rounds?: number[];
}

export const BENCH_HELP = `usage: osloscope bench [options]

  --concurrency LIST   comma-separated (default 1,8,64)
  --calls N            calls per run for osloscope and amqplib (default 5000)
  --python-calls N     calls per run for Python (default 1000; it is slower)
  --skip-python        only osloscope and amqplib
  --python PATH        the Python whose oslo.messaging is measured (default ${DEFAULT_PYTHON}; e.g.
                       scripts/stacks/python-sid for a newer release); layout options such as
                       ?rabbit_quorum_queue=true in --url reach osloscope and Python alike
  --tap                the tap benchmarks instead: decoder msgs/s on one core, tap vs the
                       broker's fastest delivery (drops), resident memory after 1M messages
  --repeat N           rounds per measurement, interleaved; the median round is reported (default 3)
  --markdown           print a Markdown table (for BENCHMARKS.md)
  --url URL            broker (default $TRANSPORT_URL, the files' transport_url, or ${DEFAULT_URL})
  --config-file PATH, --config-dir DIR
                       oslo.config files whose [DEFAULT] transport_url is the broker (later files win)`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Run `calls` invocations of `one` with `concurrency` workers; latencies in ms. */
async function drive(calls: number, concurrency: number, one: (n: number) => Promise<void>): Promise<{ seconds: number; latencies: number[] }> {
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const n = next++;
        if (n >= calls) return;
        const t0 = performance.now();
        await one(n);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

function summarize(impl: BenchResult['impl'], concurrency: number, calls: number, r: { seconds: number; latencies: number[] }): BenchResult {
  return { impl, concurrency, calls, seconds: r.seconds, callsPerSec: calls / r.seconds, p50Ms: percentile(r.latencies, 0.5), p99Ms: percentile(r.latencies, 0.99) };
}

/** Start a child that prints a JSON line with event "ready". */
function startChild(cmd: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${stderr.slice(-500)}`)), 30_000);
    rl.on('line', (line) => {
      if (line.includes('"ready"')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before it was ready: ${stderr.slice(-500)}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function benchOsloscope(url: string, concurrency: number, calls: number): Promise<BenchResult> {
  const topic = `bench-${randomBytes(4).toString('hex')}`;
  const server = await startChild(process.execPath, ['--import', `file://${TSX}`, SERVER, 'osloscope', url, topic]);
  const transport = new Transport(url, { programName: 'osloscope-bench-client' });
  try {
    const client = new RpcClient(transport, { topic }, { timeout: 30 });
    await drive(Math.min(500, calls), concurrency, async (n) => void (await client.call({}, 'ping', { n })));
    const r = await drive(calls, concurrency, async (n) => {
      if ((await client.call({}, 'ping', { n })) !== n) throw new Error('wrong ping reply');
    });
    return summarize('osloscope', concurrency, calls, r);
  } finally {
    await transport.close();
    await stopChild(server);
  }
}

async function benchRaw(url: string, concurrency: number, calls: number, confirms: boolean): Promise<BenchResult> {
  const topic = `bench-raw-${randomBytes(4).toString('hex')}`;
  const server = await startChild(process.execPath, ['--import', `file://${TSX}`, SERVER, confirms ? 'raw-confirms' : 'raw', url, topic]);
  const e = TransportURL.parse(url).amqpEndpoints()[0];
  const conn = await amqplib.connect({ hostname: e.hostname, port: e.port, username: e.username, password: e.password, vhost: e.vhost }, { noDelay: true });
  try {
    const ch = confirms ? await conn.createConfirmChannel() : await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    const pending = new Map<string, (n: number) => void>();
    await ch.consume(queue, (m) => m && pending.get(m.properties.correlationId as string)?.(JSON.parse(m.content.toString()).result as number), { noAck: true });
    let seq = 0;
    const call = (n: number) =>
      new Promise<number>((resolve, reject) => {
        const id = String(seq++);
        const body = Buffer.from(JSON.stringify({ n }));
        const opts = { replyTo: queue, correlationId: id };
        if (!confirms) {
          pending.set(id, (v) => {
            pending.delete(id);
            resolve(v);
          });
          ch.sendToQueue(topic, body, opts);
          return;
        }
        // like an oslo call: done when both the broker's confirm and the reply are in
        let reply: number | undefined;
        let confirmed = false;
        pending.set(id, (v) => {
          pending.delete(id);
          reply = v;
          if (confirmed) resolve(v);
        });
        (ch as amqplib.ConfirmChannel).sendToQueue(topic, body, opts, (err) => {
          if (err) return reject(err);
          confirmed = true;
          if (reply !== undefined) resolve(reply);
        });
      });
    await drive(Math.min(500, calls), concurrency, async (n) => void (await call(n)));
    const r = await drive(calls, concurrency, async (n) => {
      if ((await call(n)) !== n) throw new Error('wrong raw reply');
    });
    return summarize(confirms ? 'amqplib+confirms' : 'amqplib', concurrency, calls, r);
  } finally {
    await conn.close();
    await stopChild(server);
  }
}

async function benchPython(python: string, url: string, concurrency: number, calls: number): Promise<BenchResult> {
  const topic = `bench-py-${randomBytes(4).toString('hex')}`;
  const server = await startChild(python, [PEER, 'bench-server', '--url', url, '--topic', topic, '--server', 'bench']);
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(python, [PEER, 'bench-client', '--url', url, '--topic', topic, '--concurrency', String(concurrency), '--calls', String(calls), '--warmup', String(Math.min(200, calls))], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`python bench-client failed (${code}): ${stderr.slice(-800)}`))));
    });
    const line = out.split('\n').find((l) => l.includes('calls_per_sec'));
    if (!line) throw new Error(`python bench-client printed no result: ${out.slice(-500)}`);
    const j = JSON.parse(line) as { calls: number; seconds: number; calls_per_sec: number; p50_ms: number; p99_ms: number };
    return { impl: 'python', concurrency, calls: j.calls, seconds: j.seconds, callsPerSec: j.calls_per_sec, p50Ms: j.p50_ms, p99Ms: j.p99_ms };
  } finally {
    await stopChild(server);
  }
}

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');

export function renderTable(results: BenchResult[], markdown: boolean): string {
  const concurrencies = [...new Set(results.map((r) => r.concurrency))];
  const rows: string[][] = [['concurrency', 'impl', 'calls', 'calls/s (median)', 'rounds calls/s', 'p50 ms', 'p99 ms', 'vs Python', 'vs amqplib', 'vs amqplib+confirms']];
  for (const c of concurrencies) {
    const py = results.find((r) => r.concurrency === c && r.impl === 'python');
    const raw = results.find((r) => r.concurrency === c && r.impl === 'amqplib');
    const rawc = results.find((r) => r.concurrency === c && r.impl === 'amqplib+confirms');
    for (const r of results.filter((x) => x.concurrency === c)) {
      rows.push([
        String(c),
        r.impl,
        String(r.calls),
        fmt(r.callsPerSec),
        (r.rounds ?? [r.callsPerSec]).map((x) => fmt(x)).join(' / '),
        fmt(r.p50Ms, 2),
        fmt(r.p99Ms, 2),
        py ? `${fmt(r.callsPerSec / py.callsPerSec, 1)}×` : '–',
        raw ? `${fmt((100 * r.callsPerSec) / raw.callsPerSec)}%` : '–',
        rawc ? `${fmt((100 * r.callsPerSec) / rawc.callsPerSec)}%` : '–',
      ]);
    }
  }
  if (markdown) {
    const [head, ...body] = rows;
    return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n');
}

const MEMORY_CHILD = fileURLToPath(new URL('./bench-tap-memory.ts', import.meta.url));

async function runTapBench(url: string, markdown: boolean, io: Io): Promise<number> {
  const { benchDecoder, benchTapThroughput } = await import('../../server/tap/index.ts');
  io.stderr.write('decoder…');
  const dec = benchDecoder({ messages: 300_000 });
  io.stderr.write(' tap vs broker…');
  const thr = await benchTapThroughput({ url, messages: 200_000, publishers: 2 });
  type Mem = { messages: number; rssMB: number; heapUsedMB: number; peakRssMB: number; topics: number; seconds: number };
  const memory = (topics: number): Promise<Mem> =>
    new Promise<Mem>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', `file://${TSX}`, MEMORY_CHILD, '1000000', String(topics)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}')) : reject(new Error(`memory benchmark failed: ${err.slice(-500)}`))));
    });
  io.stderr.write(' memory after 1M messages…');
  const mem = await memory(0);
  io.stderr.write(' and over 100000 topics…');
  const memTopics = await memory(100_000);
  io.stderr.write(' done\n');
  const memRow = (m: Mem): string[] => [
    `peak resident memory over ${m.messages} tapped messages${m.topics ? ` on ${m.topics} distinct topics` : ''}`,
    `${fmt(m.peakRssMB)} MB peak RSS (${fmt(m.rssMB)} MB at the end, heap ${fmt(m.heapUsedMB)} MB)`,
    '≤ 300 MB',
  ];
  const rows = [
    ['benchmark', 'measured', 'target'],
    ['decoder, one core (decode + classify + redact, ~' + Math.round(dec.avgBytes) + ' B oslo bodies)', `${fmt(dec.perCpuSecond)} msgs/s per CPU-second (${fmt(dec.perSecond)} wall)`, '≥ 50000 msgs/s'],
    [`tap vs broker (${thr.published} msgs from 2 publisher processes)`, `broker took ${fmt(thr.publishPerSecond)} msgs/s; tap decoded ${thr.received}/${thr.published}, missed ${thr.missed}`, 'no drops'],
    memRow(mem),
    memRow(memTopics),
  ];
  if (markdown) {
    const [head, ...body] = rows;
    io.stdout.write([`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n');
  } else {
    for (const r of rows) io.stdout.write(`${r.join('  |  ')}\n`);
  }
  return EXIT.ok;
}

export async function runBenchCommand(argv: string[], io: Io): Promise<number> {
  try {
    const { values } = parse(argv, {
      concurrency: { type: 'string' },
      calls: { type: 'string' },
      'python-calls': { type: 'string' },
      'skip-python': { type: 'boolean' },
      python: { type: 'string' },
      markdown: { type: 'boolean' },
      tap: { type: 'boolean' },
      repeat: { type: 'string' },
    });
    if (values.help) {
      io.stdout.write(`${BENCH_HELP}\n`);
      return EXIT.ok;
    }
    // the raw URL goes to the Python and amqplib baselines too, so only the
    // files' transport_url is taken, not their [oslo_messaging_rabbit] options
    const url = values.url ?? io.env.TRANSPORT_URL ?? readConfigFiles(values)?.defaults.transport_url ?? DEFAULT_URL;
    if (values.tap) return await runTapBench(url, !!values.markdown, io);
    const concurrencies = (values.concurrency ?? '1,8,64').split(',').map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency takes positive integers, got '${s}'`);
      return n;
    });
    const calls = numberOption(values.calls, 'calls', { min: 1 }) ?? 5000;
    const pyCalls = numberOption(values['python-calls'], 'python-calls', { min: 1 }) ?? 1000;
    const withPython = !values['skip-python'];
    const python = values.python ?? DEFAULT_PYTHON;
    if (withPython && !existsSync(python)) throw new UsageError(`${python} not found: install python3-oslo.messaging or pass --skip-python`);
    const repeat = numberOption(values.repeat, 'repeat', { min: 1 }) ?? 3;
    const results: BenchResult[] = [];
    for (const c of concurrencies) {
      const runs = new Map<BenchResult['impl'], BenchResult[]>();
      const keep = (r: BenchResult) => runs.set(r.impl, [...(runs.get(r.impl) ?? []), r]);
      // rounds interleave the implementations so a noisy moment hits them alike
      for (let round = 1; round <= repeat; round++) {
        io.stderr.write(`concurrency ${c}, round ${round}/${repeat}: osloscope…`);
        keep(await benchOsloscope(url, c, calls));
        io.stderr.write(' amqplib…');
        keep(await benchRaw(url, c, calls, false));
        io.stderr.write(' amqplib+confirms…');
        keep(await benchRaw(url, c, calls, true));
        if (withPython) {
          io.stderr.write(' python…');
          keep(await benchPython(python, url, c, pyCalls));
        }
        io.stderr.write(' done\n');
      }
      for (const list of runs.values()) {
        const sorted = [...list].sort((a, b) => a.callsPerSec - b.callsPerSec);
        results.push({ ...sorted[Math.floor((sorted.length - 1) / 2)], rounds: list.map((r) => r.callsPerSec) });
      }
    }
    io.stdout.write(`${renderTable(results, !!values.markdown)}\n`);
    return EXIT.ok;
  } catch (err) {
    return reportError(err, io);
  }
}
