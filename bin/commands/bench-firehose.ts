/**
 * `osloscope bench --firehose`: the tap under the broker's fastest RPC rate
 * with tracing on. In a throw-away vhost (tracing is never turned on for
 * `/`), an osloscope RpcClient and RpcServer, each in its own process, make
 * calls as fast as the broker takes them in three phases per round:
 *   1. tracing off (the broker's plain rate and CPU per call),
 *   2. tracing on, nobody reading `amq.rabbitmq.trace` (what tracing alone costs the broker),
 *   3. tracing on and the tap in firehose mode in this process, which does nothing else.
 * Each call is four trace messages (publish and deliver of the request and of
 * the reply). Reported: calls/s of each phase, trace messages/s the tap took,
 * the tap's lag (the client's wall-clock send time carried in the call's args
 * → the tap's decoded `publish` event), drops (trace messages that never
 * reached the tap or that it could not keep), the tap's CPU per trace message
 * and per call, and the broker's (beam.smp) CPU per call in each phase.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Transport, TransportURL } from '../../server/messaging/index.ts';
import { ManagementInspector, Tap } from '../../server/tap/index.ts';
import { CpuMeter, localListenerPid } from './proc-cpu.ts';
import { startChild, stopChild } from './bench-children.ts';

const SERVER = fileURLToPath(new URL('./bench-server.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url));

export interface FirehoseRound {
  calls: number;
  concurrency: number;
  /** phase 1: tracing off */
  callsPerSecNoTrace: number;
  /** phase 2: tracing on, no tap */
  callsPerSecTraceNoTap: number;
  /** phase 3: tracing on, tap running */
  callsPerSecWithTap: number;
  /** trace messages the tap received in phase 3 (4 per call when nothing is lost) */
  traceMessages: number;
  expectedTraceMessages: number;
  /** trace messages/s from the first call's start to the tap's last decoded message */
  traceMessagesPerSec: number;
  /** expected − received, plus what the tap counted as dropped */
  drops: number;
  /** client send → tap's decoded `publish` event of that request (ms) */
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** CPU of the tap's process (µs) per trace message and per call, phase 3 */
  tapCpuUsPerTraceMessage: number;
  tapCpuUsPerCall: number;
  /** beam.smp CPU (µs) per call in each phase; null when the broker is not local */
  brokerCpuUsPerCallNoTrace: number | null;
  brokerCpuUsPerCallTraceNoTap: number | null;
  brokerCpuUsPerCallWithTap: number | null;
}

export type FirehoseResult = FirehoseRound & { rounds: FirehoseRound[] };

export interface FirehoseBenchOptions {
  url: string;
  /** management API of the broker (default http://<amqp host>:15672 with the URL's credentials) */
  managementUrl?: string;
  calls?: number;
  concurrency?: number;
  repeat?: number;
  progress?: (text: string) => void;
}

const wallMs = (): number => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function startServer(url: string, topic: string): Promise<ChildProcess> {
  return startChild(process.execPath, ['--import', `file://${TSX}`, SERVER, 'osloscope', url, topic]);
}

/** One client process making `calls` calls with `concurrency` workers; its calls/s. */
function runClient(url: string, topic: string, calls: number, concurrency: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', `file://${TSX}`, SERVER, 'osloscope-client', url, topic, String(calls), String(concurrency)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench client failed (${code}): ${err.slice(-800)}`));
      try {
        resolve((JSON.parse(out.trim().split('\n').pop() ?? '{}') as { callsPerSec: number }).callsPerSec);
      } catch {
        reject(new Error(`bench client printed no result: ${out.slice(-300)}`));
      }
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function medianRound(rounds: FirehoseRound[]): FirehoseResult {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(rounds[0]) as (keyof FirehoseRound)[]) {
    const values = rounds.map((r) => r[key]).filter((v): v is number => typeof v === 'number');
    out[key] = values.length === rounds.length ? median(values) : null;
  }
  return { ...(out as unknown as FirehoseRound), rounds };
}

export async function benchFirehose(options: FirehoseBenchOptions): Promise<FirehoseResult> {
  const calls = options.calls ?? 5000;
  const concurrency = options.concurrency ?? 64;
  const repeat = options.repeat ?? 3;
  const progress = options.progress ?? (() => undefined);
  const base = TransportURL.parse(options.url);
  const endpoint = base.amqpEndpoints()[0];
  const vhost = `osloscope-bench-firehose-${randomBytes(4).toString('hex')}`;
  const enc = encodeURIComponent(vhost);
  const brokerPid = localListenerPid(endpoint.hostname, endpoint.port);
  const host = endpoint.hostname.includes(':') ? `[${endpoint.hostname}]` : endpoint.hostname;
  const url = `rabbit://${encodeURIComponent(endpoint.username)}:${encodeURIComponent(endpoint.password)}@${host}:${endpoint.port}/${enc}`;
  const control = await vhostControl(vhost, endpoint.username, options.managementUrl ?? `http://${encodeURIComponent(endpoint.username)}:${encodeURIComponent(endpoint.password)}@${host}:15672`, brokerPid !== null);
  const setTracing = (on: boolean) => control.setTracing(on);

  await control.create();
  const rounds: FirehoseRound[] = [];
  try {
    for (let round = 1; round <= repeat; round++) {
      const topic = `bench-fh-${randomBytes(4).toString('hex')}`;
      const server = await startServer(url, topic);
      try {
        // warm the server, the queues and the broker's code paths (tracing off)
        await runClient(url, topic, Math.min(500, calls), concurrency);

        progress(`round ${round}/${repeat}: tracing off…`);
        const b1 = new CpuMeter(brokerPid);
        const noTrace = await runClient(url, topic, calls, concurrency);
        const broker1 = b1.seconds();

        await setTracing(true);
        progress(' tracing on…');
        const b2 = new CpuMeter(brokerPid);
        const traceNoTap = await runClient(url, topic, calls, concurrency);
        const broker2 = b2.seconds();

        progress(' tracing on with the tap…');
        const r3 = await withTap(url, topic, calls, concurrency, brokerPid);
        await setTracing(false);
        const perCall = (s: number | null) => (s === null ? null : (s * 1e6) / calls);
        rounds.push({
          calls,
          concurrency,
          callsPerSecNoTrace: noTrace,
          callsPerSecTraceNoTap: traceNoTap,
          ...r3,
          brokerCpuUsPerCallNoTrace: perCall(broker1),
          brokerCpuUsPerCallTraceNoTap: perCall(broker2),
        });
        progress(' done\n');
      } finally {
        await stopChild(server);
      }
    }
  } finally {
    await setTracing(false).catch(() => undefined);
    await control.remove().catch(() => undefined);
  }
  return medianRound(rounds);
}

interface VhostControl {
  create(): Promise<void>;
  setTracing(on: boolean): Promise<void>;
  remove(): Promise<void>;
}

/**
 * Creates, traces and deletes the throw-away vhost: through the management
 * API when it answers, else with `rabbitmqctl` when the broker runs here
 * (`rabbitmqctl trace_on -p <vhost>`).
 */
async function vhostControl(vhost: string, user: string, managementUrl: string, local: boolean): Promise<VhostControl> {
  const enc = encodeURIComponent(vhost);
  const mgmt = new ManagementInspector({ url: managementUrl, vhost, timeoutMs: 20_000 });
  const reachable = await mgmt.check().then(
    () => true,
    () => false,
  );
  if (reachable) {
    const put = async (tracing: boolean) => {
      await mgmt.request(`/vhosts/${enc}`, { method: 'PUT', body: { description: 'osloscope firehose benchmark', tracing } });
    };
    return {
      async create() {
        await put(false);
        await mgmt.request(`/permissions/${enc}/${encodeURIComponent(user)}`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
      },
      setTracing: put,
      async remove() {
        await mgmt.request(`/vhosts/${enc}`, { method: 'DELETE' });
      },
    };
  }
  if (!local) throw new Error(`the firehose benchmark needs the management API (${mgmt.describe()} did not answer) or a local broker with rabbitmqctl`);
  const ctl = (...args: string[]) =>
    new Promise<void>((resolve, reject) => {
      execFile('rabbitmqctl', args, { timeout: 60_000 }, (err, _out, stderr) => (err ? reject(new Error(`rabbitmqctl ${args.join(' ')}: ${stderr || err.message}`)) : resolve()));
    });
  return {
    async create() {
      await ctl('add_vhost', vhost);
      await ctl('set_permissions', '-p', vhost, user, '.*', '.*', '.*');
    },
    setTracing: (on) => ctl(on ? 'trace_on' : 'trace_off', '-p', vhost),
    remove: () => ctl('delete_vhost', vhost),
  };
}

type TapPhase = Pick<
  FirehoseRound,
  | 'callsPerSecWithTap'
  | 'traceMessages'
  | 'expectedTraceMessages'
  | 'traceMessagesPerSec'
  | 'drops'
  | 'lagP50Ms'
  | 'lagP99Ms'
  | 'lagMaxMs'
  | 'tapCpuUsPerTraceMessage'
  | 'tapCpuUsPerCall'
  | 'brokerCpuUsPerCallWithTap'
>;

async function withTap(url: string, topic: string, calls: number, concurrency: number, brokerPid: number | null): Promise<TapPhase> {
  const transport = new Transport(url, { programName: 'osloscope-bench-tap' });
  const tap = new Tap({
    transport,
    mode: 'firehose',
    discoverExchanges: false,
    managementUrl: null,
    connectRetry: 0,
    intervals: { discoveryMs: 3_600_000, modeCheckMs: 3_600_000 },
  });
  const lags: number[] = [];
  let lastAt = 0;
  tap.on((e) => {
    if (e.type !== 'tap:message') return;
    lastAt = wallMs();
    const m = e.message;
    if (m.trace?.event !== 'publish' || m.kind !== 'call' || m.topic !== topic) return;
    const t = (m.args as { t?: unknown } | null)?.t;
    if (typeof t === 'number') lags.push(lastAt - t);
  });
  try {
    await tap.start();
    const before = tap.status().counters;
    const expected = calls * 4;
    const cpu0 = process.cpuUsage();
    const broker = new CpuMeter(brokerPid);
    const t0 = wallMs();
    const callsPerSec = await runClient(url, topic, calls, concurrency);
    // drain: until every trace is in, or nothing new came for 5 s
    let last = -1;
    let stableSince = Date.now();
    for (;;) {
      // the model's counter, not status(): the benchmark's polling is not the tap's work
      const got = tap.model.counters.received - before.received;
      if (got >= expected) break;
      if (got !== last) {
        last = got;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > 5000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const cpu = process.cpuUsage(cpu0);
    const brokerSeconds = broker.seconds();
    const after = tap.status().counters;
    const received = after.received - before.received;
    const dropped = after.dropped - before.dropped;
    const tapCpuUs = cpu.user + cpu.system;
    lags.sort((a, b) => a - b);
    return {
      callsPerSecWithTap: callsPerSec,
      traceMessages: received,
      expectedTraceMessages: expected,
      traceMessagesPerSec: received / (Math.max(lastAt - t0, 1) / 1000),
      drops: Math.max(0, expected - received) + dropped,
      lagP50Ms: percentile(lags, 0.5),
      lagP99Ms: percentile(lags, 0.99),
      lagMaxMs: lags.length ? lags[lags.length - 1] : NaN,
      tapCpuUsPerTraceMessage: tapCpuUs / Math.max(received, 1),
      tapCpuUsPerCall: tapCpuUs / calls,
      brokerCpuUsPerCallWithTap: brokerSeconds === null ? null : (brokerSeconds * 1e6) / calls,
    };
  } finally {
    await tap.stop().catch(() => undefined);
    await transport.close().catch(() => undefined);
  }
}
