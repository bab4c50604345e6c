/**
 * Test harness for the real Python oslo.messaging peers in
 * `test/interop/peers/oslo_peer.py`.
 *
 * A peer is a child process speaking JSON lines: every stdout line is one
 * JSON object (an event such as `{"event": "ready"}` or an answer
 * `{"id": 3, "ok": true, ...}`), commands go to its stdin one per line.
 * Long-running peers print a `ready` event once they are listening;
 * `startPeer` resolves only after that, so a message sent afterwards cannot
 * be lost.
 *
 * Peers never outlive the test run: every peer is tracked and SIGKILLed
 * when this process exits, peers stop by themselves on EOF on stdin (the
 * pipe closes when this process dies, however it dies) and ask the kernel
 * for SIGTERM when their parent goes away.
 */
import { spawn, execFile, execFileSync, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import amqplib, { type Channel } from 'amqplib';
import type { RabbitOptions } from '../../server/messaging/index.ts';

/**
 * The Python running the peers: Debian bookworm's /usr/bin/python3
 * (oslo.messaging 14.0.3) unless TEST_PYTHON names another, e.g. a stack's
 * `scripts/stacks/python-sid` (oslo.messaging 18.x inside the sid chroot).
 */
export const PYTHON = process.env.TEST_PYTHON || '/usr/bin/python3';
export const RABBIT_URL = process.env.TEST_TRANSPORT_URL ?? 'rabbit://guest:guest@127.0.0.1:5672/';
/** The same broker for amqplib (the form `scripts/ensure-test-env.ts` checks). */
export const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const PEER_SCRIPT = fileURLToPath(new URL('./peers/oslo_peer.py', import.meta.url));

/**
 * The `[oslo_messaging_rabbit]` layouts the peers can run with
 * (TEST_PEER_LAYOUT), as deployments render them (docs/wire.md#layouts):
 * - `default`: oslo's defaults (classic transient queues, `reply_<hex32>`,
 *   one `<topic>_fanout_<hex32>` queue per server);
 * - `quorum`: `rabbit_quorum_queue` only (durable quorum topic queues, durable
 *   control exchange) — the one modern option oslo.messaging 14.0.3 knows;
 * - `kolla`: kolla-ansible 2025.1+ (Q+T+S+M, `rabbit_qos_prefetch_count = 1`);
 * - `kolla50`: kolla-ansible master (the same with prefetch 50);
 * - `helm`: openstack-helm (`amqp_durable_queues` + T + M: durable classic
 *   topic queues, quorum reply and fanout queues; its `rabbit_quorum_queues`
 *   typo is not an oslo option, so Q stays off).
 */
export type PeerLayout = 'default' | 'quorum' | 'kolla' | 'kolla50' | 'helm';

export interface LayoutFlags {
  /** Q: topic queues are durable quorum queues, the control exchange durable. */
  quorum: boolean;
  /** D: amqp_durable_queues (durable classic topic queues, durable control exchange). */
  durableQueues: boolean;
  /** T: reply and fanout queues are durable quorum queues with x-expires; `<topic>_fanout` exchange durable. */
  transientQuorum: boolean;
  /** S: one `<topic>_fanout` stream queue shared by all servers of a topic. */
  streamFanout: boolean;
  /** M: `reply_<host>:<proc>:<n>` and `<topic>_fanout_<host>:<proc>:<n>` names, fanout queues kept on close. */
  queueManager: boolean;
  /** rabbit_qos_prefetch_count on listening connections (0 = no basic.qos). */
  prefetch: number;
  /** Lowest oslo.messaging that knows every option of the layout. */
  minOslo: string;
}

const LAYOUTS: Record<PeerLayout, LayoutFlags> = {
  default: { quorum: false, durableQueues: false, transientQuorum: false, streamFanout: false, queueManager: false, prefetch: 0, minOslo: '0' },
  quorum: { quorum: true, durableQueues: false, transientQuorum: false, streamFanout: false, queueManager: false, prefetch: 0, minOslo: '0' },
  // rabbit_transient_quorum_queue, rabbit_stream_fanout and use_queue_manager
  // were added in oslo.messaging 14.7.0 (impl_rabbit.py rabbit_opts).
  kolla: { quorum: true, durableQueues: false, transientQuorum: true, streamFanout: true, queueManager: true, prefetch: 1, minOslo: '14.7.0' },
  kolla50: { quorum: true, durableQueues: false, transientQuorum: true, streamFanout: true, queueManager: true, prefetch: 50, minOslo: '14.7.0' },
  helm: { quorum: false, durableQueues: true, transientQuorum: true, streamFanout: false, queueManager: true, prefetch: 0, minOslo: '14.7.0' },
};

export const PEER_LAYOUTS = Object.keys(LAYOUTS) as PeerLayout[];

function parseLayout(value: string | undefined): PeerLayout {
  const name = value?.trim() || 'default';
  if (!(name in LAYOUTS)) throw new Error(`TEST_PEER_LAYOUT=${name} is not a layout; use one of ${PEER_LAYOUTS.join(', ')}`);
  return name as PeerLayout;
}

/** The layout every peer of this run uses (TEST_PEER_LAYOUT, default `default`). */
export const PEER_LAYOUT: PeerLayout = parseLayout(process.env.TEST_PEER_LAYOUT);
export const LAYOUT: Readonly<LayoutFlags> = LAYOUTS[PEER_LAYOUT];

/**
 * Where the queue manager's oslo.concurrency external lock lives
 * (oslo_messaging/_drivers/amqpdriver.py QManager uses
 * `lockutils.synchronized(..., external=True)`, which needs lock_path).
 * Stacks mount the host's /tmp into their chroot.
 */
const LOCK_PATH = '/tmp/osloscope-oslo-locks';

/** `--conf` overrides that give a peer the layout's options. */
export function layoutConf(layout: PeerLayout = PEER_LAYOUT): string[] {
  const f = LAYOUTS[layout];
  const conf: string[] = [];
  const rabbit = (name: string, value: string | number | boolean) => conf.push('--conf', `oslo_messaging_rabbit.${name}=${value}`);
  if (f.quorum) rabbit('rabbit_quorum_queue', true);
  if (f.durableQueues) rabbit('amqp_durable_queues', true);
  if (f.transientQuorum) rabbit('rabbit_transient_quorum_queue', true);
  if (f.streamFanout) rabbit('rabbit_stream_fanout', true);
  if (f.queueManager) rabbit('use_queue_manager', true);
  if (f.prefetch > 0) rabbit('rabbit_qos_prefetch_count', f.prefetch);
  if (f.queueManager) conf.push('--conf', `oslo_concurrency.lock_path=${LOCK_PATH}`);
  return conf;
}

/**
 * The layout's [oslo_messaging_rabbit] options for osloscope itself, the same ones `layoutConf` gives
 * the Python peers: where osloscope serves a topic or listens for notifications beside the services, an
 * operator configures it like them (with its defaults it would declare what is missing non-durable first).
 */
export function osloscopeLayoutOptions(layout: PeerLayout = PEER_LAYOUT): Partial<RabbitOptions> {
  const f = LAYOUTS[layout];
  return {
    rabbit_quorum_queue: f.quorum,
    amqp_durable_queues: f.durableQueues,
    rabbit_transient_quorum_queue: f.transientQuorum,
    rabbit_stream_fanout: f.streamFanout,
    use_queue_manager: f.queueManager,
    rabbit_qos_prefetch_count: f.prefetch,
  };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The name a Python peer's reply queue has under the layout (docs/wire.md#layouts,
 * #queue-names): `reply_<uuid4 hex>` by default; with use_queue_manager
 * `reply_<hostname>:<processname>:<n>` (amqpdriver.py QManager; hostname
 * `socket.gethostname()`, processname `basename(sys.argv[0])`, the peer script).
 */
export function pythonReplyQueuePattern(layout: PeerLayout = PEER_LAYOUT): RegExp {
  if (!LAYOUTS[layout].queueManager) return /^reply_[0-9a-f]{32}$/;
  return new RegExp(`^reply_${escapeRegExp(hostname())}:${escapeRegExp(basename(PEER_SCRIPT))}:[1-9][0-9]*$`);
}

/** Compares dotted versions numerically: negative when a < b. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+~-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+~-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** True when PYTHON's oslo.messaging is `version` or newer (false when it cannot be imported). */
export function pythonOsloAtLeast(version: string): boolean {
  const have = pythonOsloVersion();
  return have !== null && compareVersions(have, version) >= 0;
}

let osloVersionCache: string | null | undefined;

/** oslo.messaging's version as PYTHON reports it (null when it cannot import it). Checked once. */
export function pythonOsloVersion(): string | null {
  if (osloVersionCache !== undefined) return osloVersionCache;
  try {
    osloVersionCache = execFileSync(PYTHON, ['-c', 'import importlib.metadata as m; print(m.version("oslo.messaging"))'], {
      env: childEnv(undefined),
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim() || null;
  } catch {
    osloVersionCache = null;
  }
  return osloVersionCache;
}

/**
 * Refuses a layout the Python at hand cannot run: oslo.messaging 14.0.3
 * (bookworm) knows none of the 14.7 options and would die on the first
 * `--conf` override, so a `kolla` run on it must fail up front, naming why.
 */
export function assertLayoutSupported(layout: PeerLayout = PEER_LAYOUT): void {
  const need = LAYOUTS[layout].minOslo;
  if (need === '0') return;
  const have = pythonOsloVersion();
  if (have === null) return; // pythonAvailable() reports a missing oslo.messaging
  if (compareVersions(have, need) < 0) {
    throw new Error(
      `TEST_PEER_LAYOUT=${layout} needs oslo.messaging >= ${need}, but ${PYTHON} has ${have}; ` +
        `run it on a stack that has it (scripts/stacks/stack env sid) or use one of: ` +
        PEER_LAYOUTS.filter((l) => LAYOUTS[l].minOslo === '0').join(', '),
    );
  }
}

const DEFAULT_READY_TIMEOUT_MS = 30_000;
const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const STDERR_KEEP_CHARS = 64 * 1024;
const TAIL_CHARS = 4_000;

export type PeerSubcommand =
  | 'rpc-server'
  | 'rpc-client'
  | 'notify'
  | 'notify-listener'
  | 'bench-server'
  | 'bench-client';

/** One stdout line of a peer. */
export type PeerEvent = Record<string, unknown>;

export interface StartPeerOptions {
  /** Extra environment for the Python process. */
  env?: Record<string, string | undefined>;
  /** How long to wait for the `ready` event (default 30 s). */
  readyTimeoutMs?: number;
}

export interface RpcTargetSpec {
  topic: string;
  server?: string;
  exchange?: string;
  namespace?: string;
  version?: string;
  fanout?: boolean;
}

/** A command for the `rpc-client` peer. `*_json` fields are JSON texts parsed by Python and win over their plain twin (to send 2.0 or ints above 2^53). */
export interface RpcCommand {
  op: 'call' | 'cast';
  target: RpcTargetSpec;
  method: string;
  args?: Record<string, unknown>;
  args_json?: string;
  ctxt?: Record<string, unknown>;
  ctxt_json?: string;
  timeout?: number;
  call_monitor_timeout?: number;
  retry?: number;
  version_cap?: string;
  /** TransportOptions(at_least_once=True): unroutable sends raise MessageUndeliverable. */
  at_least_once?: boolean;
}

export interface RpcAnswerOk {
  id: number;
  ok: true;
  result: unknown;
  /** Python repr() of the result: tells 2.0 from 2, keeps big ints. */
  result_repr: string;
  /** The result as oslo's jsonutils.dumps writes it. */
  result_json: string | null;
  elapsed: number;
}

export interface RpcAnswerError {
  id: number;
  ok: false;
  /** Exception class as raised in the Python client, e.g. MessagingTimeout, RemoteError, InstanceNotFound_Remote. */
  type: string;
  module: string;
  message: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** Present when type is RemoteError. */
  remote?: { exc_type: string; value: string; traceback: string[] };
  elapsed: number;
}

export type RpcAnswer = RpcAnswerOk | RpcAnswerError;

export type NotificationPriority = 'audit' | 'debug' | 'info' | 'warn' | 'warning' | 'error' | 'critical' | 'sample';

/** A command for the `notify` peer. */
export interface NotifyCommand {
  driver?: 'messagingv2' | 'messaging';
  topics?: string[];
  publisher_id?: string;
  event_type: string;
  priority: NotificationPriority;
  payload?: unknown;
  payload_json?: string;
  ctxt?: Record<string, unknown>;
  ctxt_json?: string;
  retry?: number;
}

export type NotifyAnswer =
  | { id: number; ok: true; elapsed: number }
  | { id: number; ok: false; type: string; message: string; elapsed: number };

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Waiter {
  pred: (e: PeerEvent) => boolean;
  resolve: (e: PeerEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const livePeers = new Set<PythonPeer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: kill() on a ChildProcess is.
  process.on('exit', () => {
    for (const peer of livePeers) peer.killNow();
  });
}

function tail(text: string, chars = TAIL_CHARS): string {
  return text.length <= chars ? text : `…${text.slice(-chars)}`;
}

function childEnv(extra: Record<string, string | undefined> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The pyenv Python on PATH must not leak its settings into Debian's Python.
  delete env.PYTHONHOME;
  delete env.PYTHONPATH;
  env.PYTHONUNBUFFERED = '1';
  // Keep __pycache__ out of the source tree.
  env.PYTHONDONTWRITEBYTECODE = '1';
  // Halve the interpreter's start-up: eventlet (imported by oslo) would load
  // dnspython for its green resolver and setuptools' distutils shim with
  // pkg_resources. The peers use neither.
  env.EVENTLET_NO_GREENDNS = 'yes';
  env.SETUPTOOLS_USE_DISTUTILS = 'stdlib';
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

function peerArgv(subcommand: string, args: readonly string[]): string[] {
  // The layout's options come first: a test's own --conf for the same option wins.
  const argv = [PEER_SCRIPT, subcommand, ...layoutConf(), ...args];
  if (!args.includes('--url')) argv.push('--url', RABBIT_URL);
  return argv;
}

export class PythonPeer {
  /** Every stdout line so far, parsed (a non-JSON line is kept as `{event: 'unparsed', line}`). */
  readonly events: PeerEvent[] = [];
  readonly subcommand: string;
  readonly argv: readonly string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<PeerExit>;

  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderrText = '';
  private exitInfo: PeerExit | null = null;
  private readonly waiters = new Set<Waiter>();
  private nextId = 1;

  constructor(subcommand: string, args: readonly string[], opts: StartPeerOptions = {}) {
    this.subcommand = subcommand;
    this.argv = peerArgv(subcommand, args);
    this.child = spawn(PYTHON, this.argv, {
      env: childEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    livePeers.add(this);
    installExitHook();

    this.exited = new Promise<PeerExit>((resolve) => {
      // 'close' comes after 'exit' and after stdout/stderr are drained, so
      // every line the peer wrote has been seen by then.
      this.child.on('close', (code, signal) => {
        this.exitInfo = { code, signal };
        livePeers.delete(this);
        for (const w of [...this.waiters]) {
          this.dropWaiter(w);
          w.reject(this.failure(`peer exited (code ${code}, signal ${signal}) before the event arrived`));
        }
        resolve({ code, signal });
      });
    });
    this.child.on('error', (err) => {
      this.stderrText += `\n[spawn error] ${err.message}`;
    });
    this.child.stdin.on('error', () => {
      // EPIPE after the peer died; the exit path reports it.
    });

    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderrText += chunk;
      if (this.stderrText.length > STDERR_KEEP_CHARS * 2) {
        this.stderrText = this.stderrText.slice(-STDERR_KEEP_CHARS);
      }
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exitStatus(): PeerExit | null {
    return this.exitInfo;
  }

  /** Collected stderr (the last 64 KiB or more). */
  stderr(): string {
    return this.stderrText;
  }

  /** An index into `events`; pass it to `waitFor` to ignore what came before. */
  mark(): number {
    return this.events.length;
  }

  /** Events matching `pred` so far. */
  filter(pred: (e: PeerEvent) => boolean): PeerEvent[] {
    return this.events.filter(pred);
  }

  /**
   * Resolves with the first event matching `pred`, looking at events from
   * index `since` (default 0: past events count) and then at new ones.
   * Rejects on timeout or when the peer exits, with its stderr tail.
   */
  waitFor(pred: (e: PeerEvent) => boolean, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS, since = 0): Promise<PeerEvent> {
    for (let i = since; i < this.events.length; i++) {
      if (pred(this.events[i])) return Promise.resolve(this.events[i]);
    }
    if (this.exitInfo) {
      return Promise.reject(this.failure('peer has exited; no matching event'));
    }
    return new Promise<PeerEvent>((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.dropWaiter(waiter);
          reject(this.failure(`timed out after ${timeoutMs} ms waiting for an event matching ${describePredicate(pred)}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Sends a command with a fresh id; resolves with the answer carrying that id. */
  request(cmd: object, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<PeerEvent> {
    if (this.exitInfo) return Promise.reject(this.failure('cannot send a command: peer has exited'));
    const id = this.nextId++;
    const answer = this.waitFor((e) => e.id === id && !('event' in e), timeoutMs, this.events.length);
    this.child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`);
    return answer.catch((err: unknown) => {
      throw err instanceof Error ? new Error(`command ${id} ${JSON.stringify(cmd)}: ${err.message}`, { cause: err }) : err;
    });
  }

  /** An `rpc-client` call or cast. The wait covers the call's own timeouts plus 15 s. */
  async rpc(cmd: RpcCommand, timeoutMs?: number): Promise<RpcAnswer> {
    const limit = timeoutMs ?? ((cmd.timeout ?? 60) + 15) * 1000;
    const answer = await this.request(cmd, limit);
    if (typeof answer.ok !== 'boolean') throw this.failure(`malformed rpc answer ${JSON.stringify(answer)}`);
    return answer as unknown as RpcAnswer;
  }

  /** A `notify` command; resolves once the notification was published (or failed). */
  async notify(cmd: NotifyCommand, timeoutMs?: number): Promise<NotifyAnswer> {
    const answer = await this.request(cmd, timeoutMs);
    if (typeof answer.ok !== 'boolean') throw this.failure(`malformed notify answer ${JSON.stringify(answer)}`);
    return answer as unknown as NotifyAnswer;
  }

  /** SIGTERM (the peer shuts down cleanly), SIGKILL after a grace period; resolves when exited. */
  async stop(graceMs = STOP_GRACE_MS): Promise<PeerExit> {
    if (this.exitInfo) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.killNow(), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL now; resolves when exited. */
  async kill(): Promise<PeerExit> {
    this.killNow();
    return this.exited;
  }

  /** Closes stdin: servers stop cleanly, clients first answer what is in flight. */
  endInput(): void {
    this.child.stdin.end();
  }

  /** Synchronous SIGKILL (for exit hooks). */
  killNow(): void {
    if (!this.exitInfo) this.child.kill('SIGKILL');
  }

  /** An Error naming the peer, with recent events and the stderr tail. */
  failure(what: string): Error {
    const recent = this.events.slice(-5).map((e) => JSON.stringify(e).slice(0, 400));
    return new Error(
      [
        `python peer ${this.subcommand} (pid ${this.pid}): ${what}`,
        `  command: ${PYTHON} ${this.argv.join(' ')}`,
        `  last events (${this.events.length} total):${recent.length ? `\n    ${recent.join('\n    ')}` : ' none'}`,
        `  stderr tail:\n${tail(this.stderrText) || '    (empty)'}`,
      ].join('\n'),
    );
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    let event: PeerEvent;
    try {
      const parsed: unknown = JSON.parse(line);
      event = isRecord(parsed) ? parsed : { event: 'unparsed', line };
    } catch {
      event = { event: 'unparsed', line };
    }
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (w.pred(event)) {
        this.dropWaiter(w);
        w.resolve(event);
      }
    }
  }

  private dropWaiter(w: Waiter): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
  }
}

function isRecord(value: unknown): value is PeerEvent {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describePredicate(pred: (e: PeerEvent) => boolean): string {
  const src = pred.toString().replace(/\s+/g, ' ');
  return src.length > 200 ? `${src.slice(0, 200)}…` : src;
}

/**
 * Starts a long-running peer (`rpc-server`, `rpc-client`, `notify`,
 * `notify-listener`, `bench-server`) and resolves once it printed its
 * `ready` event. `--url RABBIT_URL` is added unless `args` has `--url`.
 */
export async function startPeer(
  subcommand: PeerSubcommand,
  args: readonly string[] = [],
  opts: StartPeerOptions = {},
): Promise<PythonPeer> {
  const peer = new PythonPeer(subcommand, args, opts);
  try {
    await peer.waitFor((e) => e.event === 'ready', opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  } catch (err) {
    await peer.kill();
    throw err;
  }
  return peer;
}

export interface PeerRun {
  exit: PeerExit;
  events: PeerEvent[];
  stderr: string;
}

/**
 * Runs a one-shot peer (e.g. `bench-client`) to completion. Rejects with
 * the stderr tail if it does not finish within `timeoutMs`.
 */
export async function runPeer(
  subcommand: PeerSubcommand,
  args: readonly string[] = [],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<PeerRun> {
  const peer = new PythonPeer(subcommand, args, { env: opts.env });
  peer.endInput();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = peer.failure(`did not finish within ${timeoutMs} ms`);
      void peer.kill();
      reject(err);
    }, timeoutMs);
  });
  try {
    const exit = await Promise.race([peer.exited, timedOut]);
    return { exit, events: peer.events, stderr: peer.stderr() };
  } finally {
    clearTimeout(timer);
  }
}

/** Stops every peer this process started (SIGTERM, then SIGKILL). */
export async function stopAllPeers(graceMs = STOP_GRACE_MS): Promise<void> {
  await Promise.all([...livePeers].map((p) => p.stop(graceMs)));
}

/** Peers still running (for leak checks). */
export function runningPeers(): readonly PythonPeer[] {
  return [...livePeers];
}

/** A name no other test (or test run) uses: `${prefix}-${random hex}`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

let pythonCheck: Promise<boolean> | undefined;

/**
 * True when PYTHON can import oslo_messaging (checked once). Throws when
 * TEST_PEER_LAYOUT asks for options that Python's oslo.messaging lacks.
 */
export function pythonAvailable(): Promise<boolean> {
  assertLayoutSupported();
  // an import that was killed by the timeout is a loaded machine, not a missing library: asked once more, longer
  const check = (timeout: number) =>
    new Promise<'yes' | 'no' | 'slow'>((resolve) => {
      execFile(PYTHON, ['-c', 'import oslo_messaging'], { env: childEnv(undefined), timeout }, (err) =>
        resolve(!err ? 'yes' : err.killed ? 'slow' : 'no'),
      );
    });
  pythonCheck ??= check(30_000).then(async (first) => (first === 'slow' ? (await check(90_000)) === 'yes' : first === 'yes'));
  return pythonCheck;
}

/** True when the broker accepts an AMQP connection at AMQP_URL. */
export async function brokerAvailable(url = AMQP_URL): Promise<boolean> {
  try {
    const conn = await amqplib.connect(url, { timeout: 15_000 });
    await conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Deletes queues and exchanges a test created (RPC topic queues and
 * notification queues are never deleted by oslo). Missing ones are fine.
 */
export async function deleteBrokerEntities(
  entities: { queues?: readonly string[]; exchanges?: readonly string[] },
  url = AMQP_URL,
): Promise<void> {
  const conn = await amqplib.connect(url, { timeout: 15_000 });
  conn.on('error', () => {
    // A channel error also surfaces here; the per-operation catch handles it.
  });
  try {
    const ops: Array<(ch: Channel) => Promise<unknown>> = [
      ...(entities.queues ?? []).map((q) => (ch: Channel) => ch.deleteQueue(q)),
      ...(entities.exchanges ?? []).map((x) => (ch: Channel) => ch.deleteExchange(x)),
    ];
    let channel = await conn.createChannel();
    channel.on('error', () => {});
    for (const op of ops) {
      try {
        await op(channel);
      } catch {
        // A failed operation closes the channel: open a fresh one.
        channel = await conn.createChannel();
        channel.on('error', () => {});
      }
    }
  } finally {
    await conn.close().catch(() => {});
  }
}
