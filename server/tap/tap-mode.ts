/**
 * One tap session's mode: firehose or bindings, and the queues each needs.
 *
 * - decide(): TAP_MODE=bindings or firehose is taken as asked; auto asks whether tracing is on (per-node
 *   coverage through the management API, the memory broker's flag) and, when nothing can tell, publishes a
 *   probe to its own queue and waits `probeTimeoutMs` for its trace.
 * - enter(): firehose mode consumes a queue bound to `amq.rabbitmq.trace` (`publish.#`, `deliver.#`);
 *   bindings mode a queue bound to the exchanges ExchangeBinder finds. Auto mode in bindings mode keeps the
 *   trace queue too: the first trace that arrives means tracing was turned on (traceArrived()).
 * - check(): every modeCheckMs (and after a reconnect) auto mode follows tracing being turned on or off
 *   (`rabbitmqctl trace_on`/`trace_off` by an operator included); other modes keep the tracing state and the
 *   coverage current. Whether the user may turn tracing on is asked again while unknown (a /whoami that got no
 *   answer at start) and every CAN_ENABLE_RECHECK_MS.
 * - enable() / enableAtStart(): FIREHOSE_ENABLE and the dashboard's button turn tracing on; what osloscope
 *   turned on it turns off after FIREHOSE_AUTO_OFF and when the tap stops (disableOnStop()). enable() resolves
 *   only in firehose mode (or with no link to switch, which the status then says); tracing it could not turn on
 *   yet is an error, and the next check() goes on trying.
 *
 * A management read that gets no answer (a loaded broker) is asked again, up to DETECT_ATTEMPTS times, before
 * auto mode falls back to the probe: a slow API must not make it pick bindings mode with tracing on.
 */
import type { FirehoseCoverage } from '../../lib/broker-contracts.ts';
import type { TapMode, TapModeSetting, TapStatus } from '../../lib/tap-contracts.ts';
import type { Delivery, Logger, ResilientLink } from '../messaging/index.ts';
import { TRACE_EXCHANGE } from './decoder.ts';
import { FirehoseControl } from './firehose.ts';
import { InspectorError, ManagementInspector, type BrokerInspector } from './inspector.ts';
import { randomBytes } from 'node:crypto';

/** Every queue the tap declares starts with this; other taps' queues are left out of routed_queues. */
export const TAP_QUEUE_PREFIX = 'osloscope-tap-';

/** x-expires of the tap's own queues: gone this long after their consumer is, even if the connection is not. */
export const TAP_QUEUE_EXPIRES_MS = 300_000;

/** Reads of the tracing state when deciding the mode, while the management API gives no answer. */
export const DETECT_ATTEMPTS = 3;

/** Whether the user may turn tracing on is asked again this often (tags change), and at each check while unknown. */
export const CAN_ENABLE_RECHECK_MS = 300_000;

/**
 * Auto mode's reading of per-node coverage: on only when every node that
 * answered has tracing on (a node that did not answer is reported, not
 * guessed); off when some node has it off — the firehose would then miss the
 * traffic of that node's connections, which bindings mode still sees.
 */
export function tracingFromCoverage(c: FirehoseCoverage): boolean | null {
  if (c.known === 0) return null;
  return c.on === c.known;
}

export interface ModeControlOptions {
  requestedMode: TapModeSetting;
  vhost: string;
  /** x-max-length of the tap's queues (drop-head) */
  queueMaxLength: number;
  /** x-message-ttl of the tap's queues */
  queueMessageTtlMs: number;
  /** how long the probe waits for its trace */
  probeTimeoutMs: number;
  /** auto mode in firehose mode without an API: probe again after this long without a trace */
  modeCheckMs: number;
  /** FIREHOSE_AUTO_OFF */
  firehoseAutoOffMs: number;
  /** pause between reads of the tracing state that got no answer (default 250 ms, times the tries so far) */
  retryDelayMs?: number;
  inspector: () => BrokerInspector | null;
  link: () => ResilientLink | null;
  /** the session's id, part of its queue names */
  id: () => string;
  /** the tap's life-cycle state: auto mode switches only while running */
  state: () => TapStatus['state'];
  serial: <T>(fn: () => Promise<T>) => Promise<T>;
  /** consumers of the two queues (the ingest pipeline) */
  onDelivery: (d: Delivery) => void;
  onTrace: (d: Delivery) => void;
  /** bindings mode's exchanges: bind them to a new bindings queue, forget them with a deleted one */
  discover: () => Promise<void>;
  dropBindings: () => void;
  emitStatus: () => void;
  clock: () => number;
  log: Logger;
}

export class ModeControl {
  private current: TapMode = 'off';
  private tracingOn: boolean | null = null;
  private detectedBy: TapStatus['firehose']['detectedBy'] = 'none';
  private canEnable = false;
  /** when canEnable was last answered (null: never, e.g. a /whoami that timed out) */
  private canEnableAt: number | null = null;
  /** per-node tracing state and control (management API only) */
  private control: FirehoseControl | null = null;
  private firehoseError: string | null = null;
  private bindingsQueue: string | null = null;
  private firehoseQueue: string | null = null;
  private probeQueue: string | null = null;
  private probeWaiter: ((ok: boolean) => void) | null = null;
  private probeToken: string | null = null;
  private lastTraceAt = 0;
  private readonly queueArgs: Record<string, unknown>;

  constructor(private readonly o: ModeControlOptions) {
    // Exclusive, never durable:false + exclusive:false (transient_nonexcl_queues is denied by default on
    // RabbitMQ 4.3, docs/wire.md#queues-osloscope-declares), with x-expires as a second guard should the connection linger.
    this.queueArgs = {
      'x-expires': TAP_QUEUE_EXPIRES_MS,
      'x-max-length': o.queueMaxLength,
      'x-overflow': 'drop-head',
      'x-message-ttl': o.queueMessageTtlMs,
    };
  }

  get mode(): TapMode {
    return this.current;
  }

  /** The bindings queue (null outside bindings mode). */
  get bindings(): string | null {
    return this.bindingsQueue;
  }

  /** The queues the tap consumes (bindings, firehose), for status and drop counts. */
  get consumedQueues(): (string | null)[] {
    return [this.bindingsQueue, this.firehoseQueue];
  }

  /** Every queue of the tap's own, the probe's included (left out of the broker view). */
  get ownQueues(): string[] {
    return [this.bindingsQueue, this.firehoseQueue, this.probeQueue].filter((q): q is string => q !== null);
  }

  get firehose(): FirehoseControl | null {
    return this.control;
  }

  get firehoseStatus(): TapStatus['firehose'] {
    return { on: this.tracingOn, detectedBy: this.detectedBy, canEnable: this.canEnable };
  }

  get lastFirehoseError(): string | null {
    return this.firehoseError;
  }

  /** TAP_MODE=off: nothing is watched. */
  off(): void {
    this.current = 'off';
  }

  /** The inspector is known: whether tracing can be turned on, and per-node control through the management API. */
  async setUp(inspector: BrokerInspector): Promise<void> {
    await this.readCanEnable(inspector);
    this.control =
      inspector instanceof ManagementInspector
        ? new FirehoseControl({
            inspector,
            vhost: this.o.vhost,
            clock: this.o.clock,
            log: this.o.log,
            autoOffMs: this.o.firehoseAutoOffMs,
            ...(this.o.retryDelayMs === undefined ? {} : { retryDelayMs: this.o.retryDelayMs }),
          })
        : null;
  }

  /**
   * Whether the user may turn tracing on. The management API's /whoami can time out on a loaded broker: that says
   * nothing about the user, so canEnable keeps its value and the next check() asks again. Returns whether it changed.
   */
  private async readCanEnable(inspector: BrokerInspector): Promise<boolean> {
    const before = this.canEnable;
    if (inspector instanceof ManagementInspector) {
      const admin = await inspector.administrator();
      if (admin === null) return false;
      this.canEnable = admin;
    } else {
      this.canEnable = await inspector.canEnableTracing().catch(() => false);
    }
    this.canEnableAt = this.o.clock();
    return before !== this.canEnable;
  }

  /** A fresh link: the queues went with the old connection. */
  forgetQueues(): void {
    this.bindingsQueue = null;
    this.firehoseQueue = null;
    this.probeQueue = null;
  }

  /** The link is going: a probe still waiting has its answer. */
  cancelProbe(): void {
    this.probeWaiter?.(false);
  }

  /** Turn off the tracing osloscope turned on (FIREHOSE_AUTO_OFF or not): never leave tracing on by surprise. */
  async disableOnStop(): Promise<void> {
    await this.control?.disable('stop').catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'could not turn tracing off'));
  }

  // ---- what the ingest pipeline reports --------------------------------------------

  /**
   * A trace of a probe: ours means tracing is on. One that comes after its wait ran out (a loaded broker) still
   * counts: auto mode in bindings mode switches, as on any other trace.
   */
  probeTraced(queue: string): void {
    if (queue !== this.probeQueue) return;
    this.lastTraceAt = this.o.clock();
    if (this.probeWaiter) {
      this.tracingOn = true;
      this.probeWaiter(true);
      return;
    }
    this.traceArrived();
  }

  /** A trace of real traffic: ingest it in firehose mode; in auto bindings mode it means tracing was turned on. */
  traceArrived(): boolean {
    this.lastTraceAt = this.o.clock();
    if (this.current === 'firehose') return true;
    if (this.o.requestedMode === 'auto' && this.o.state() === 'running' && this.o.link()) {
      this.tracingOn = true;
      this.detectedBy = 'probe';
      void this.o.serial(() => this.enter('firehose')).catch(() => undefined);
    }
    return false;
  }

  // ---- choosing ----------------------------------------------------------------------

  private async detectTracing(): Promise<boolean | null> {
    const inspector = this.o.inspector();
    if (!inspector) return null;
    if (this.control) {
      try {
        const c = await this.control.check();
        const on = tracingFromCoverage(c);
        if (on !== null) {
          this.tracingOn = on;
          this.detectedBy = 'management';
        }
        // tracing on everywhere: an earlier failure to turn it on is moot (a check finished the job)
        if (on === true) this.firehoseError = null;
        return on;
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'cannot read tracing state');
        return null;
      }
    }
    try {
      const on = await inspector.tracing();
      if (on !== null) {
        this.tracingOn = on;
        this.detectedBy = inspector.source === 'memory' ? 'memory' : 'management';
      }
      return on;
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'cannot read tracing state');
      return null;
    }
  }

  /**
   * The tracing state through the management API, asked again (DETECT_ATTEMPTS in all) while no node answers:
   * under load one read can time out where the next one answers.
   */
  private async detectTracingPatiently(): Promise<boolean | null> {
    let on = await this.detectTracing();
    for (let i = 1; on === null && this.control && i < DETECT_ATTEMPTS; i++) {
      await new Promise((r) => setTimeout(r, (this.o.retryDelayMs ?? 250) * i));
      on = await this.detectTracing();
    }
    return on;
  }

  /** The mode a fresh link starts in. */
  async decide(): Promise<TapMode> {
    const requested = this.o.requestedMode;
    if (requested === 'bindings') {
      await this.detectTracing();
      return 'bindings';
    }
    const on = requested === 'auto' ? await this.detectTracingPatiently() : await this.detectTracing();
    if (requested === 'firehose') return 'firehose';
    if (on !== null) return on ? 'firehose' : 'bindings';
    // no API to ask: publish a probe and see whether a trace of it arrives
    const seen = await this.probe();
    this.tracingOn = seen;
    this.detectedBy = 'probe';
    return seen ? 'firehose' : 'bindings';
  }

  /** Auto mode follows tracing turned on or off; the other modes keep the coverage current. */
  async check(): Promise<void> {
    const inspector = this.o.inspector();
    if (inspector && this.o.requestedMode !== 'off' && (this.canEnableAt === null || this.o.clock() - this.canEnableAt >= CAN_ENABLE_RECHECK_MS)) {
      if (await this.readCanEnable(inspector).catch(() => false)) this.o.emitStatus();
    }
    if (this.o.requestedMode !== 'auto' || !this.o.link() || this.o.state() !== 'running') {
      // keep the tracing state and coverage current (and re-enable nodes that restarted when osloscope turned tracing on)
      if (this.o.requestedMode !== 'off') await this.detectTracing();
      return;
    }
    let on = await this.detectTracing();
    if (on === null && this.current === 'firehose' && this.o.clock() - this.lastTraceAt > this.o.modeCheckMs) {
      on = await this.probe().catch(() => null);
      if (on !== null) {
        this.tracingOn = on;
        this.detectedBy = 'probe';
      }
    }
    if (on === true && this.current !== 'firehose') await this.o.serial(() => this.enter('firehose'));
    else if (on === false && this.current !== 'bindings') await this.o.serial(() => this.enter('bindings'));
  }

  // ---- queues ------------------------------------------------------------------------

  private requireLink(): ResilientLink {
    const link = this.o.link();
    if (!link) throw new Error('Tap is not connected');
    return link;
  }

  private queueOptions() {
    return { durable: false, autoDelete: true, exclusive: true, arguments: { ...this.queueArgs } };
  }

  private async ensureFirehoseQueue(): Promise<void> {
    const link = this.requireLink();
    if (this.firehoseQueue) return;
    const q = `${TAP_QUEUE_PREFIX}${this.o.id()}-firehose`;
    await link.assertQueue(q, this.queueOptions());
    await link.bindQueue(q, TRACE_EXCHANGE, 'publish.#');
    await link.bindQueue(q, TRACE_EXCHANGE, 'deliver.#');
    await link.consume(q, this.o.onTrace, { noAck: true });
    this.firehoseQueue = q;
  }

  private async probe(): Promise<boolean> {
    const link = this.requireLink();
    await this.ensureFirehoseQueue();
    if (!this.probeQueue) {
      const pq = `${TAP_QUEUE_PREFIX}${this.o.id()}-probe`;
      await link.assertQueue(pq, {
        durable: false,
        autoDelete: true,
        exclusive: true,
        arguments: { 'x-expires': TAP_QUEUE_EXPIRES_MS, 'x-max-length': 10, 'x-message-ttl': 1000 },
      });
      this.probeQueue = pq;
    }
    this.probeToken = randomBytes(8).toString('hex');
    const seen = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.probeWaiter = null;
        resolve(false);
      }, this.o.probeTimeoutMs);
      this.probeWaiter = (ok) => {
        clearTimeout(timer);
        this.probeWaiter = null;
        resolve(ok);
      };
    });
    // through the default exchange to our own queue: traced as `publish.` when tracing is on
    await link.publish('', this.probeQueue, Buffer.from(JSON.stringify({ 'osloscope.probe': this.probeToken })), {
      contentType: 'application/json',
      headers: {},
    });
    return seen;
  }

  /** Declare and consume what `mode` needs, delete what it does not. */
  async enter(mode: TapMode): Promise<void> {
    const link = this.requireLink();
    const previous = this.current;
    this.current = mode;
    if (mode === 'firehose') {
      await this.ensureFirehoseQueue();
      if (this.bindingsQueue) {
        const q = this.bindingsQueue;
        this.bindingsQueue = null;
        this.o.dropBindings();
        await link.deleteQueue(q).catch(() => undefined);
      }
    } else if (mode === 'bindings') {
      if (!this.bindingsQueue) {
        const q = `${TAP_QUEUE_PREFIX}${this.o.id()}`;
        await link.assertQueue(q, this.queueOptions());
        this.bindingsQueue = q;
        await this.o.discover();
        await link.consume(q, this.o.onDelivery, { noAck: true });
      }
      // auto mode keeps the trace binding: the first trace that shows up means tracing was turned on
      if (this.o.requestedMode === 'auto') await this.ensureFirehoseQueue();
      else if (this.firehoseQueue) {
        const q = this.firehoseQueue;
        this.firehoseQueue = null;
        await link.deleteQueue(q).catch(() => undefined);
      }
    }
    if (previous !== mode) {
      this.o.log.info({ tap: this.o.id(), mode, vhost: this.o.vhost }, `tap mode ${mode}`);
      this.o.emitStatus();
    }
  }

  // ---- turning tracing on ------------------------------------------------------------

  /**
   * Tracing on for the vhost on every node (management API: one PUT per node's
   * listener; memory broker: its flag), then firehose mode.
   */
  async enable(): Promise<void> {
    const inspector = this.o.inspector();
    if (!inspector) throw new InspectorError('Tap is not started');
    const requested = this.o.requestedMode;
    if (this.control) {
      const c = await this.control.enable();
      if (c.nodes.some((n) => n.enabledByOsloscope)) {
        // a PUT worked, so the user may (a /whoami that timed out at start left canEnable false)
        this.canEnable = true;
        this.canEnableAt = this.o.clock();
      }
      if (c.on === 0) {
        // no node said yes: an answer "done" would be false. The control keeps it wanted, so the next check goes on.
        const why = c.nodes.filter((n) => n.error).map((n) => `${n.node}: ${n.error}`);
        throw new InspectorError(`Tracing is not on yet (${c.summary}${why.length > 0 ? `; ${why.join('; ')}` : ''}). osloscope tries again at its next check.`);
      }
      this.firehoseError = null;
      this.tracingOn = tracingFromCoverage(c) ?? true;
      this.detectedBy = 'management';
      if (requested !== 'off' && requested !== 'bindings' && this.o.link()) await this.o.serial(() => this.enter('firehose'));
      return;
    }
    if (!(await inspector.canEnableTracing())) {
      throw new InspectorError(
        `Cannot turn tracing on through ${inspector.describe()}: it needs the management API with an administrator user. Run: rabbitmqctl trace_on -p ${this.o.vhost}`,
      );
    }
    await inspector.enableTracing();
    this.tracingOn = true;
    this.detectedBy = inspector.source === 'memory' ? 'memory' : 'management';
    if (requested !== 'off' && this.o.link()) await this.o.serial(() => this.enter('firehose'));
  }

  /** FIREHOSE_ENABLE at start: a refusal is reported (status hint, log), never fatal. */
  async enableAtStart(): Promise<void> {
    const inspector = this.o.inspector();
    try {
      if (this.control) {
        const c = await this.control.enable();
        // the control keeps it wanted: the checks go on turning it on where no node answered yet
        if (c.on === 0) throw new InspectorError(`tracing is not on yet (${c.summary}); osloscope tries again at its next check`);
        this.o.log.info({ vhost: this.o.vhost, coverage: c.summary, autoOffAt: c.autoOffAt }, 'FIREHOSE_ENABLE: tracing turned on');
      } else if (inspector && (await inspector.canEnableTracing())) {
        await inspector.enableTracing();
      } else {
        throw new InspectorError(`FIREHOSE_ENABLE needs the management API (RABBITMQ_MANAGEMENT_URL) with an administrator user; ${inspector?.describe() ?? 'no inspector'} cannot turn tracing on.`);
      }
      this.firehoseError = null;
    } catch (err) {
      this.firehoseError = `Could not turn the firehose on: ${(err as Error).message}`;
      this.o.log.warn({ err: (err as Error).message }, 'FIREHOSE_ENABLE failed');
    }
  }

  /** Per-node tracing state (management API only; null before the first check). */
  get coverage(): FirehoseCoverage | null {
    return this.control?.coverage ?? null;
  }
}
