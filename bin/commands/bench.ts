/**
 * `osloscope bench` (also `npm run bench`): RPC calls/s and p50/p99 of
 *   - osloscope client + osloscope server,
 *   - Python oslo.messaging client + server (Debian python3-oslo.messaging),
 *   - raw amqplib request/reply, bare (no envelope, no confirms) and with
 *     publisher confirms on both sides (the AMQP work oslo's protocol needs),
 *   - amqplib+oslo: the same frames as an osloscope call and reply (oslo's
 *     topology, envelope, properties, two connections per process) from the
 *     least amqplib code that makes them (bench-oslo-floor.ts), so that
 *     osloscope vs amqplib+oslo is what the implementation costs and
 *     amqplib+oslo vs amqplib+confirms what the protocol costs,
 * side by side on the same broker at each concurrency, with the ratios the
 * product targets (≥ 3× Python at 1, ≥ 15× at 64, ≥ 60% of raw everywhere).
 * Each server runs in its own process, like the Python pair.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { RpcClient, Transport, TransportURL } from '../../server/messaging/index.ts';
import { DEFAULT_URL, EXIT, numberOption, parse, reportError, UsageError, type Io } from './common.ts';
import { readConfigFiles } from './config-files.ts';
import { benchFirehose, type FirehoseResult } from './bench-firehose.ts';
import { CpuMeter, localListenerPid } from './proc-cpu.ts';
import { startChild, stopChild } from './bench-children.ts';
import { floorClient } from './bench-oslo-floor.ts';

const DEFAULT_PYTHON = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('../../test/interop/peers/oslo_peer.py', import.meta.url));
const SERVER = fileURLToPath(new URL('./bench-server.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url));

export interface BenchResult {
  impl: 'osloscope' | 'python' | 'amqplib' | 'amqplib+confirms' | 'amqplib+oslo';
  concurrency: number;
  calls: number;
  seconds: number;
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** calls/s of every round, when the run was repeated (the reported one is the median) */
  rounds?: number[];
  /** CPU (µs) per call of the client process, the server process and the local broker (null: not measurable) */
  clientCpuUs?: number | null;
  serverCpuUs?: number | null;
  brokerCpuUs?: number | null;
}

export const BENCH_HELP = `usage: osloscope bench [options]

RPC calls/s of osloscope, Python oslo.messaging and three amqplib request/reply
baselines: bare (amqplib), with publisher confirms (amqplib+confirms), and oslo's
exact frames on two connections per process (amqplib+oslo: the protocol's floor).

  --concurrency LIST   comma-separated (default 1,8,64)
  --calls N            calls per run for osloscope and amqplib (default 5000)
  --python-calls N     calls per run for Python (default 1000; it is slower)
  --skip-python        only osloscope and the amqplib baselines
  --python PATH        the Python whose oslo.messaging is measured (default ${DEFAULT_PYTHON}; e.g.
                       scripts/stacks/python-sid for a newer release); layout options such as
                       ?rabbit_quorum_queue=true in --url reach osloscope and Python alike
  --tap                the tap benchmarks instead: decoder msgs/s on one core, tap vs the
                       broker's fastest delivery (drops), resident memory after 1M messages
  --firehose           the firehose benchmark instead: in a throw-away traced vhost, calls/s
                       at --concurrency (default 64) with tracing off, on, and on with the tap
                       running; trace messages/s, tap lag p99, drops, tap and broker CPU per call
                       (needs the management API or a local broker with rabbitmqctl)
  --management-url URL the broker's management API for --firehose (default http://<host>:15672)
  --repeat N           rounds per measurement, interleaved; the median round is reported (default 3)
  --markdown           print a Markdown table (for BENCHMARKS.md)
  --json               print every figure as JSON instead, one object per measurement and line
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

/**
 * CPU per call of this process (the client), the server child and the
 * broker when it runs on this machine, from now until perCall().
 */
function cpuMeters(url: string, server: ChildProcess): { perCall(calls: number): Pick<BenchResult, 'clientCpuUs' | 'serverCpuUs' | 'brokerCpuUs'> } {
  const e = TransportURL.parse(url).amqpEndpoints()[0];
  const client0 = process.cpuUsage();
  const serverCpu = new CpuMeter(server.pid);
  const brokerCpu = new CpuMeter(localListenerPid(e.hostname, e.port));
  return {
    perCall(calls) {
      const c = process.cpuUsage(client0);
      const us = (s: number | null) => (s === null ? null : (s * 1e6) / calls);
      return { clientCpuUs: (c.user + c.system) / calls, serverCpuUs: us(serverCpu.seconds()), brokerCpuUs: us(brokerCpu.seconds()) };
    },
  };
}


async function benchOsloscope(url: string, concurrency: number, calls: number): Promise<BenchResult> {
  const topic = `bench-${randomBytes(4).toString('hex')}`;
  const server = await startChild(process.execPath, ['--import', `file://${TSX}`, SERVER, 'osloscope', url, topic]);
  const transport = new Transport(url, { programName: 'osloscope-bench-client' });
  try {
    const client = new RpcClient(transport, { topic }, { timeout: 30 });
    await drive(Math.min(500, calls), concurrency, async (n) => void (await client.call({}, 'ping', { n })));
    const cpu = cpuMeters(url, server);
    const r = await drive(calls, concurrency, async (n) => {
      if ((await client.call({}, 'ping', { n })) !== n) throw new Error('wrong ping reply');
    });
    return { ...summarize('osloscope', concurrency, calls, r), ...cpu.perCall(calls) };
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
    const cpu = cpuMeters(url, server);
    const r = await drive(calls, concurrency, async (n) => {
      if ((await call(n)) !== n) throw new Error('wrong raw reply');
    });
    return { ...summarize(confirms ? 'amqplib+confirms' : 'amqplib', concurrency, calls, r), ...cpu.perCall(calls) };
  } finally {
    await conn.close();
    await stopChild(server);
  }
}

/** amqplib+oslo: bench-oslo-floor.ts's client here, its server in a child, like the others. */
async function benchOsloFloor(url: string, concurrency: number, calls: number): Promise<BenchResult> {
  const topic = `bench-floor-${randomBytes(4).toString('hex')}`;
  const server = await startChild(process.execPath, ['--import', `file://${TSX}`, SERVER, 'oslo-floor', url, topic]);
  let client: Awaited<ReturnType<typeof floorClient>> | undefined;
  try {
    // the same call timeout as the osloscope client (its expiration)
    client = await floorClient(url, topic, 30);
    const c = client;
    await drive(Math.min(500, calls), concurrency, async (n) => void (await c.call(n)));
    const cpu = cpuMeters(url, server);
    const r = await drive(calls, concurrency, async (n) => {
      if ((await c.call(n)) !== n) throw new Error('wrong amqplib+oslo reply');
    });
    return { ...summarize('amqplib+oslo', concurrency, calls, r), ...cpu.perCall(calls) };
  } finally {
    await client?.close();
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
  const rows: string[][] = [
    [
      'concurrency',
      'impl',
      'calls',
      'calls/s (median)',
      'rounds calls/s',
      'p50 ms',
      'p99 ms',
      'vs Python',
      'vs amqplib',
      'vs amqplib+confirms',
      'vs amqplib+oslo',
      'CPU µs/call client / server / broker',
    ],
  ];
  for (const c of concurrencies) {
    const py = results.find((r) => r.concurrency === c && r.impl === 'python');
    const raw = results.find((r) => r.concurrency === c && r.impl === 'amqplib');
    const rawc = results.find((r) => r.concurrency === c && r.impl === 'amqplib+confirms');
    const floor = results.find((r) => r.concurrency === c && r.impl === 'amqplib+oslo');
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
        floor ? `${fmt((100 * r.callsPerSec) / floor.callsPerSec)}%` : '–',
        r.clientCpuUs == null ? '–' : `${fmt(r.clientCpuUs)} / ${fmt(r.serverCpuUs ?? NaN)} / ${fmt(r.brokerCpuUs ?? NaN)}`,
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

/** What every --json line starts with: the machine and moment the figures come from. */
export function benchEnvironment(url: string): Record<string, unknown> {
  return {
    benchmark: 'environment',
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? null,
    loadAverage1m: loadavg()[0],
    broker: TransportURL.parse(url).describe(),
  };
}

/** One JSON object per RPC measurement, the ratios as fractions next to the raw figures. */
export function rpcJson(results: BenchResult[]): Record<string, unknown>[] {
  return results.map((r) => {
    const peer = (impl: BenchResult['impl']) => results.find((x) => x.concurrency === r.concurrency && x.impl === impl);
    const ratio = (impl: BenchResult['impl']) => {
      const p = peer(impl);
      return p ? r.callsPerSec / p.callsPerSec : undefined;
    };
    return {
      benchmark: 'rpc',
      impl: r.impl,
      concurrency: r.concurrency,
      calls: r.calls,
      seconds: r.seconds,
      callsPerSec: r.callsPerSec,
      rounds: r.rounds ?? [r.callsPerSec],
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      vsPython: ratio('python'),
      vsAmqplib: ratio('amqplib'),
      vsAmqplibConfirms: ratio('amqplib+confirms'),
      vsAmqplibOslo: ratio('amqplib+oslo'),
      clientCpuUsPerCall: r.clientCpuUs ?? undefined,
      serverCpuUsPerCall: r.serverCpuUs ?? undefined,
      brokerCpuUsPerCall: r.brokerCpuUs ?? undefined,
    };
  });
}

function writeJson(io: Io, objects: Record<string, unknown>[]): void {
  // undefined (not measured) drops the key; NaN would become null, so it is dropped too
  for (const o of objects) io.stdout.write(`${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? undefined : v))}\n`);
}

export function firehoseTable(r: FirehoseResult, markdown: boolean): string {
  const us = (v: number | null) => (v === null ? '–' : fmt(v));
  const rows = [
    ['measurement', 'median', 'rounds'],
    ['calls/s, tracing off', fmt(r.callsPerSecNoTrace), r.rounds.map((x) => fmt(x.callsPerSecNoTrace)).join(' / ')],
    ['calls/s, tracing on, no tap', fmt(r.callsPerSecTraceNoTap), r.rounds.map((x) => fmt(x.callsPerSecTraceNoTap)).join(' / ')],
    ['calls/s, tracing on, tap running', fmt(r.callsPerSecWithTap), r.rounds.map((x) => fmt(x.callsPerSecWithTap)).join(' / ')],
    ['trace messages/s into the tap', fmt(r.traceMessagesPerSec), r.rounds.map((x) => fmt(x.traceMessagesPerSec)).join(' / ')],
    ['trace messages received / expected', `${r.traceMessages} / ${r.expectedTraceMessages}`, r.rounds.map((x) => `${x.traceMessages}/${x.expectedTraceMessages}`).join(' / ')],
    ['drops', fmt(r.drops), r.rounds.map((x) => fmt(x.drops)).join(' / ')],
    ['tap lag p50 / p99 / max ms (send → decoded publish)', `${fmt(r.lagP50Ms)} / ${fmt(r.lagP99Ms)} / ${fmt(r.lagMaxMs)}`, r.rounds.map((x) => fmt(x.lagP99Ms)).join(' / ')],
    ['tap CPU µs per trace message', fmt(r.tapCpuUsPerTraceMessage, 1), r.rounds.map((x) => fmt(x.tapCpuUsPerTraceMessage, 1)).join(' / ')],
    ['tap CPU µs per call', fmt(r.tapCpuUsPerCall), r.rounds.map((x) => fmt(x.tapCpuUsPerCall)).join(' / ')],
    ['broker CPU µs per call, tracing off', us(r.brokerCpuUsPerCallNoTrace), r.rounds.map((x) => us(x.brokerCpuUsPerCallNoTrace)).join(' / ')],
    ['broker CPU µs per call, tracing on, no tap', us(r.brokerCpuUsPerCallTraceNoTap), r.rounds.map((x) => us(x.brokerCpuUsPerCallTraceNoTap)).join(' / ')],
    ['broker CPU µs per call, tracing on, tap running', us(r.brokerCpuUsPerCallWithTap), r.rounds.map((x) => us(x.brokerCpuUsPerCallWithTap)).join(' / ')],
  ];
  if (markdown) {
    const [head, ...body] = rows;
    return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((x) => `| ${x.join(' | ')} |`)].join('\n');
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((x) => x[i].length)));
  return rows.map((x) => x.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n');
}

const MEMORY_CHILD = fileURLToPath(new URL('./bench-tap-memory.ts', import.meta.url));

async function runTapBench(url: string, format: 'markdown' | 'json' | 'text', io: Io): Promise<number> {
  const markdown = format === 'markdown';
  const { benchDecoder, benchTapThroughput } = await import('./bench-tap.ts');
  io.stderr.write('decoder…');
  const dec = benchDecoder({ messages: 300_000 });
  io.stderr.write(' decoder on firehose traces…');
  const decTrace = benchDecoder({ messages: 300_000, trace: true });
  io.stderr.write(' tap vs broker…');
  const thr = await benchTapThroughput({ url, messages: 200_000, publishers: 2 });
  type Mem = { messages: number; rssMB: number; heapUsedMB: number; peakRssMB: number; peakHeapUsedMB: number; topics: number; seconds: number };
  const memory = (topics: number): Promise<Mem> =>
    new Promise<Mem>((resolve, reject) => {
      const child = spawn(process.execPath, ['--expose-gc', '--import', `file://${TSX}`, MEMORY_CHILD, '1000000', String(topics)], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  if (format === 'json') {
    const decoderJson = (d: typeof dec) => ({
      benchmark: d.trace ? 'decoder-firehose' : 'decoder',
      messages: d.messages,
      avgBytes: d.avgBytes,
      seconds: d.seconds,
      cpuSeconds: d.cpuSeconds,
      msgsPerSec: d.perSecond,
      msgsPerCpuSecond: d.perCpuSecond,
    });
    writeJson(io, [
      benchEnvironment(url),
      decoderJson(dec),
      decoderJson(decTrace),
      { benchmark: 'tap-throughput', ...thr },
      { benchmark: 'tap-memory', ...mem },
      { benchmark: 'tap-memory', ...memTopics },
    ]);
    return EXIT.ok;
  }
  const memRow = (m: Mem): string[] => [
    `peak resident memory over ${m.messages} tapped messages${m.topics ? ` on ${m.topics} distinct topics` : ''}`,
    `${fmt(m.peakRssMB)} MB peak RSS (heap peak ${fmt(m.peakHeapUsedMB)} MB; at the end after a full collection ${fmt(m.rssMB)} MB RSS, heap ${fmt(m.heapUsedMB)} MB)`,
    '≤ 300 MB',
  ];
  const rows = [
    ['benchmark', 'measured', 'target'],
    ['decoder, one core (decode + classify + redact, ~' + Math.round(dec.avgBytes) + ' B oslo bodies)', `${fmt(dec.perCpuSecond)} msgs/s per CPU-second (${fmt(dec.perSecond)} wall)`, '≥ 150000 msgs/s'],
    [
      'decoder, one core, firehose trace messages (trace headers + the same bodies, publish and deliver)',
      `${fmt(decTrace.perCpuSecond)} msgs/s per CPU-second (${fmt(decTrace.perSecond)} wall)`,
      '≥ 150000 msgs/s',
    ],
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
      json: { type: 'boolean' },
      tap: { type: 'boolean' },
      firehose: { type: 'boolean' },
      'management-url': { type: 'string' },
      repeat: { type: 'string' },
    });
    if (values.help) {
      io.stdout.write(`${BENCH_HELP}\n`);
      return EXIT.ok;
    }
    // the raw URL goes to the Python and amqplib baselines too, so only the
    // files' transport_url is taken, not their [oslo_messaging_rabbit] options
    const url = values.url ?? io.env.TRANSPORT_URL ?? readConfigFiles(values)?.defaults.transport_url ?? DEFAULT_URL;
    if (values.markdown && values.json) throw new UsageError('--markdown and --json exclude each other');
    if (values.tap && values.firehose) throw new UsageError('--tap and --firehose are separate benchmarks: pick one');
    const format = values.json ? 'json' : values.markdown ? 'markdown' : 'text';
    if (values.tap) return await runTapBench(url, format, io);
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
    if (values.firehose) {
      if (concurrencies.length !== 1 && values.concurrency !== undefined) throw new UsageError('--firehose takes one --concurrency');
      const r = await benchFirehose({
        url,
        managementUrl: values['management-url'],
        calls,
        concurrency: values.concurrency === undefined ? 64 : concurrencies[0],
        repeat,
        progress: (text) => io.stderr.write(text),
      });
      if (format === 'json') {
        const { rounds, ...median } = r;
        writeJson(io, [benchEnvironment(url), { benchmark: 'firehose', ...median, roundsDetail: rounds }]);
      } else io.stdout.write(`${firehoseTable(r, format === 'markdown')}\n`);
      return EXIT.ok;
    }
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
        io.stderr.write(' amqplib+oslo…');
        keep(await benchOsloFloor(url, c, calls));
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
    if (format === 'json') writeJson(io, [benchEnvironment(url), ...rpcJson(results)]);
    else io.stdout.write(`${renderTable(results, format === 'markdown')}\n`);
    return EXIT.ok;
  } catch (err) {
    return reportError(err, io);
  }
}
