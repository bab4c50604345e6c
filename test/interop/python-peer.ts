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
import { spawn, execFile, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import amqplib, { type Channel } from 'amqplib';

export const PYTHON = '/usr/bin/python3';
export const RABBIT_URL = process.env.TEST_TRANSPORT_URL ?? 'rabbit://guest:guest@127.0.0.1:5672/';
/** The same broker for amqplib (the form `scripts/ensure-test-env.ts` checks). */
export const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const PEER_SCRIPT = fileURLToPath(new URL('./peers/oslo_peer.py', import.meta.url));

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
  const argv = [PEER_SCRIPT, subcommand, ...args];
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

/** True when /usr/bin/python3 can import oslo_messaging (checked once). */
export function pythonAvailable(): Promise<boolean> {
  pythonCheck ??= new Promise<boolean>((resolve) => {
    execFile(PYTHON, ['-c', 'import oslo_messaging'], { env: childEnv(undefined), timeout: 30_000 }, (err) =>
      resolve(!err),
    );
  });
  return pythonCheck;
}

/** True when the broker accepts an AMQP connection at AMQP_URL. */
export async function brokerAvailable(url = AMQP_URL): Promise<boolean> {
  try {
    const conn = await amqplib.connect(url, { timeout: 3_000 });
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
  const conn = await amqplib.connect(url, { timeout: 3_000 });
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
