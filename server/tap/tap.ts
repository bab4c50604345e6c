/**
 * The traffic tap: watches oslo.messaging traffic without taking any of it.
 *
 * Bindings mode (plain AMQP rights): one queue of our own — exclusive (gone
 * with our connection), auto-delete, x-expires, capped with x-max-length +
 * drop-head and x-message-ttl so a slow or dead osloscope never makes the
 * broker accumulate — bound with `#` to each control exchange that exists and to
 * every `<topic>_fanout` exchange. Services keep their own queues; a copy of
 * each message is routed to ours. Replies travel through the default
 * exchange, which cannot be bound, so they are invisible here.
 *
 * Firehose mode (`rabbitmqctl trace_on`): the same kind of queue bound to
 * `amq.rabbitmq.trace` with `publish.#` and `deliver.#`; RabbitMQ copies
 * every publish (with `routed_queues`) and every delivery (with the
 * consumer's connection) of the vhost there, replies included.
 *
 * The connection is a ResilientLink: after a broker-side kill it reconnects
 * quickly and replays our declares/bindings/consumer. Bindings to exchanges
 * that vanished meanwhile (non-durable ones go with a broker restart, a peer's
 * auto-delete `<topic>_fanout` with its last binding) are skipped by the
 * replay and re-bound here as soon as the exchange is back (`awaiting`,
 * checked every REBIND_MS). When replay is refused outright (406, 403) the
 * tap rebuilds itself from scratch with passive checks first.
 *
 * The tap never talks to sockets or HTTP clients: it emits TapEvents and
 * answers status()/snapshot()/recent()/calls().
 */
import type {
  BrokerView,
  CallGroup,
  CallRecord,
  CallState,
  DecodedMessage,
  FanoutHistory,
  KnownTargets,
  FanoutHistoryQuery,
  LatencyHistogram,
  TapEvent,
  TapMode,
  TapModeSetting,
  TapSnapshot,
  TapStatus,
} from '../../lib/tap-contracts.ts';
import { silentLogger, topology, type Logger, type ResilientLink, type Transport } from '../messaging/index.ts';
import type { BrokerHealthReport, BrokerHealthSummary, FirehoseCoverage } from '../../lib/broker-contracts.ts';
import { BrokerReporter } from './broker-report.ts';
import { buildBrokerView } from './broker-view.ts';
import { FirehoseControl } from './firehose.ts';
import type { CallChange, QueueFact } from './calls.ts';
import { TRACE_EXCHANGE } from './decoder.ts';
import {
  InspectorError,
  inspectorFor,
  ManagementInspector,
  vhostOf,
  type BrokerInspector,
} from './inspector.ts';
import { TrafficModel, type RecentOptions, type TrafficModelOptions } from './model.ts';
import { FanoutHistoryReader } from './fanout-history.ts';
import type { RateQuery } from './rates.ts';
import { tapStatus } from './tap-status.ts';
import { CallerLookups } from './tap-lookups.ts';
import { ExchangeBinder } from './tap-exchanges.ts';
import { IngestPipeline } from './tap-ingest.ts';
import { randomBytes } from 'node:crypto';

/** Defined with oslo's other exchange names in the core's topology; re-exported for the tap's callers. */
export const DEFAULT_CONTROL_EXCHANGES = topology.DEFAULT_CONTROL_EXCHANGES;

/** Every queue the tap declares starts with this; other taps' queues are left out of routed_queues. */
export const TAP_QUEUE_PREFIX = 'osloscope-tap-';

/** x-expires of the tap's own queues: gone this long after their consumer is, even if the connection is not. */
export const TAP_QUEUE_EXPIRES_MS = 300_000;

export interface TapIntervals {
  /** stuck-call classification and caller lookups (default 1000 ms) */
  tickMs?: number;
  /** exchange discovery in bindings mode (default 10 s) */
  discoveryMs?: number;
  /** auto mode: re-check whether tracing is on (default 30 s) */
  modeCheckMs?: number;
  /** minimum time between consumer/connection lookups for caller resolution (default 3 s) */
  lookupMs?: number;
  /** a link that stays down this long after a failed recovery is rebuilt from scratch (default 3 s) */
  rebuildAfterMs?: number;
}

export interface TapOptions {
  transport: Transport;
  /** TAP_MODE (default auto) */
  mode?: TapModeSetting;
  /** control exchanges to tap when they exist (default DEFAULT_CONTROL_EXCHANGES) */
  exchanges?: readonly string[];
  /** also tap every topic exchange (not amq.*) the management API lists (default true) */
  discoverExchanges?: boolean;
  /**
   * RABBITMQ_MANAGEMENT_URL. undefined: try `http://<amqp host>:15672` with the
   * transport's credentials; null: never use the management API.
   */
  managementUrl?: string | null;
  /** replaces the inspector the tap would pick */
  inspector?: BrokerInspector;
  clock?: () => number;
  model?: TrafficModelOptions;
  /** x-max-length of the tap's queues (default 100 000; drop-head) */
  queueMaxLength?: number;
  /** x-message-ttl of the tap's queues (default 60 s) */
  queueMessageTtlMs?: number;
  /** rpc_response_timeout for calls without expiration (default the transport's) */
  rpcResponseTimeoutMs?: number;
  /** rpc_conn_pool_size for the broker view (default the transport's) */
  rpcConnPoolSize?: number;
  intervals?: TapIntervals;
  /** how long the firehose probe waits for its trace (default 1500 ms) */
  probeTimeoutMs?: number;
  /** connection attempts at start: null = until it works (server), 0 = one try (CLI) */
  connectRetry?: number | null;
  /** FIREHOSE_ENABLE: turn tracing on for the vhost on every node at start (management API, administrator tag) */
  firehoseEnable?: boolean;
  /** FIREHOSE_AUTO_OFF: turn the tracing osloscope turned on off after this long (0 = when the tap stops) */
  firehoseAutoOffMs?: number;
  log?: Logger;
}

type TapListener = (event: TapEvent) => void;

interface Timers {
  tick?: NodeJS.Timeout;
  discovery?: NodeJS.Timeout;
  modeCheck?: NodeJS.Timeout;
}

export class Tap {
  readonly model: TrafficModel;
  private readonly transport: Transport;
  private readonly requestedMode: TapModeSetting;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly queueArgs: Record<string, unknown>;
  private readonly intervals: Required<TapIntervals>;
  private readonly probeTimeoutMs: number;
  private readonly poolSize: number;
  private readonly listeners = new Set<TapListener>();

  private inspector: BrokerInspector | null = null;
  /** per-node tracing state and control (management API only) */
  private firehose: FirehoseControl | null = null;
  private firehoseError: string | null = null;
  private reporter: BrokerReporter | null = null;
  private link: ResilientLink | null = null;
  private linkGeneration = 0;
  private mode: TapMode = 'off';
  private state: TapStatus['state'] = 'stopped';
  private error: string | null = null;
  private startedAt: number | null = null;
  private tracingOn: boolean | null = null;
  private tracingDetectedBy: TapStatus['firehose']['detectedBy'] = 'none';
  private canEnable = false;
  private id = randomBytes(4).toString('hex');
  private bindingsQueue: string | null = null;
  private firehoseQueue: string | null = null;
  private probeQueue: string | null = null;
  /** bindings mode: the exchanges the bindings queue is bound to, and finding more */
  private readonly exchanges: ExchangeBinder;
  /** deliveries → observations → decoded messages → model, calls and events */
  private readonly ingest: IngestPipeline;
  private historyReader: FanoutHistoryReader | null = null;
  private probeWaiter: ((ok: boolean) => void) | null = null;
  private probeToken: string | null = null;
  private lastTraceAt = 0;
  private timers: Timers = {};
  private serialChain: Promise<unknown> = Promise.resolve();
  private unsubscribeTransport: (() => void) | null = null;
  private downSince: number | null = null;
  private tickRunning = false;
  private memoryDropped = 0;
  private stopped = false;
  /** the last rebuild failed: try again after rebuildAfterMs whatever the (closed) link says */
  private rebuildPending = false;
  private readonly recovery = { reconnects: 0, rebuilds: 0, skipped: 0, lastOutageMs: null as number | null };
  /** who is behind reply queues and connections (caller names) */
  private readonly lookups: CallerLookups;

  constructor(private readonly options: TapOptions) {
    this.transport = options.transport;
    this.requestedMode = options.mode ?? 'auto';
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? this.transport.log ?? silentLogger;
    this.exchanges = new ExchangeBinder({
      exchanges: options.exchanges ?? DEFAULT_CONTROL_EXCHANGES,
      discoverExchanges: options.discoverExchanges ?? true,
      inspector: () => this.inspector,
      link: () => this.link,
      mode: () => this.mode,
      queue: () => this.bindingsQueue,
      serial: (fn) => this.serial(fn),
      emit: (e) => this.emit(e),
      onRebound: () => this.emitStatus(),
      clock: this.clock,
      log: this.log,
      id: () => this.id,
    });
    // Exclusive, never durable:false + exclusive:false (transient_nonexcl_queues is denied by default on
    // RabbitMQ 4.3, docs/wire.md#queues-osloscope-declares), with x-expires as a second guard should the connection linger.
    this.queueArgs = {
      'x-expires': TAP_QUEUE_EXPIRES_MS,
      'x-max-length': options.queueMaxLength ?? 100_000,
      'x-overflow': 'drop-head',
      'x-message-ttl': options.queueMessageTtlMs ?? 60_000,
    };
    this.intervals = {
      tickMs: options.intervals?.tickMs ?? 1000,
      discoveryMs: options.intervals?.discoveryMs ?? 10_000,
      modeCheckMs: options.intervals?.modeCheckMs ?? 30_000,
      lookupMs: options.intervals?.lookupMs ?? 3000,
      rebuildAfterMs: options.intervals?.rebuildAfterMs ?? 3000,
    };
    this.probeTimeoutMs = options.probeTimeoutMs ?? 1500;
    this.poolSize = options.rpcConnPoolSize ?? this.transport.rabbit.rpc_conn_pool_size;
    this.lookups = new CallerLookups({
      inspector: () => this.inspector,
      clock: this.clock,
      lookupMs: this.intervals.lookupMs,
      log: this.log,
      observeReplyConsumer: (queue, name, now) => this.model.calls.epochs.observe(queue, name, now),
    });
    this.model = new TrafficModel({
      ...options.model,
      calls: {
        defaultTimeoutMs: options.rpcResponseTimeoutMs ?? this.transport.conf.rpc_response_timeout * 1000,
        ...options.model?.calls,
        resolveCaller: (replyQ) => this.lookups.callerOf(replyQ),
        resolveConnection: (broker) => this.lookups.connectionName(broker),
      },
    });
    this.ingest = new IngestPipeline({
      model: this.model,
      tapQueuePrefix: TAP_QUEUE_PREFIX,
      maxMessageBytes: this.transport.maxMessageBytes,
      clock: this.clock,
      log: this.log,
      // a connection not seen yet is looked up (rate-limited) so callers and servers get names
      nameConnection: (broker) => this.lookups.nameTraced(broker),
      probeTraced: (queue) => this.probeTraced(queue),
      traceArrived: () => this.traceArrived(),
      noticeTopic: (topic) => this.exchanges.noticeTopic(topic),
      emit: (e) => this.emit(e),
      listening: () => this.listeners.size > 0,
      stopped: () => this.stopped,
    });
  }

  // ---- events --------------------------------------------------------------

  on(listener: TapListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: TapEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'tap listener failed');
      }
    }
  }

  private emitStatus(): void {
    if (this.listeners.size > 0) this.emit({ type: 'tap:status', status: this.status() });
  }

  // ---- life cycle ------------------------------------------------------------

  get vhost(): string {
    return vhostOf(this.transport);
  }

  /**
   * Connect, pick the mode, declare and bind, start consuming. Rejects when
   * the broker cannot be reached within `connectRetry` attempts.
   */
  async start(): Promise<void> {
    if (this.state !== 'stopped' || this.stopped) throw new Error('Tap already started');
    this.state = 'starting';
    this.startedAt = this.clock();
    if (this.requestedMode === 'off') {
      this.mode = 'off';
      this.state = 'running';
      this.emitStatus();
      return;
    }
    try {
      this.inspector = await this.pickInspector();
      this.canEnable = await this.inspector.canEnableTracing().catch(() => false);
      this.setUpBrokerReads(this.inspector);
      if (this.options.firehoseEnable) await this.turnFirehoseOn();
      this.unsubscribeTransport = this.transport.events.on((e) => {
        if (e.type === 'connection:state' && this.link && e.connection === this.link.connectionName) this.onLinkState(e.state, e.error);
      });
      await this.serial(() => this.attach(this.options.connectRetry ?? null));
    } catch (err) {
      this.state = 'error';
      this.error = (err as Error).message;
      await this.teardownLink();
      this.unsubscribeTransport?.();
      throw err;
    }
    this.state = 'running';
    this.startTimers();
    this.emitStatus();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of Object.values(this.timers)) if (t) clearInterval(t);
    this.timers = {};
    this.exchanges.stop();
    this.unsubscribeTransport?.();
    // what osloscope turned on it turns off (FIREHOSE_AUTO_OFF or not): never leave tracing on by surprise
    await this.firehose?.disable('stop').catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'could not turn tracing off'));
    // close first, outside the queue: a connect loop still waiting for the broker ends at once
    const link = this.link;
    this.linkGeneration++;
    await link?.close().catch(() => undefined);
    await this.serial(() => this.teardownLink());
    this.state = 'stopped';
    this.emitStatus();
  }

  /** Run tap reconfigurations one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serialChain.then(fn, fn);
    this.serialChain = run.catch(() => undefined);
    return run;
  }

  private async pickInspector(): Promise<BrokerInspector> {
    if (this.options.inspector) return this.options.inspector;
    return inspectorFor(this.transport, {
      managementUrl: this.options.managementUrl,
      log: this.log,
      checkQueue: async (q) => {
        if (!this.link) return null;
        try {
          const r = await this.link.checkQueue(q);
          return { messageCount: r.messageCount, consumerCount: r.consumerCount };
        } catch {
          return null;
        }
      },
      knownQueues: () => [...this.ingest.knownQueues],
    });
  }

  /** Open a fresh link, decide the mode, declare everything. */
  private async attach(retry: number | null): Promise<void> {
    const generation = ++this.linkGeneration;
    this.id = randomBytes(4).toString('hex');
    this.exchanges.reset();
    this.bindingsQueue = null;
    this.firehoseQueue = null;
    this.probeQueue = null;
    const link = this.transport.createLink('listen');
    this.link = link;
    await link.connect(retry);
    if (generation !== this.linkGeneration) return;
    const mode = await this.decideMode();
    await this.enterMode(mode);
    this.downSince = null;
  }

  private async teardownLink(): Promise<void> {
    const link = this.link;
    this.link = null;
    this.linkGeneration++;
    this.probeWaiter?.(false);
    // exclusive queues (and their bindings) go with the connection
    if (link) await link.close().catch(() => undefined);
  }

  private onLinkState(state: string, error?: string): void {
    if (state === 'connected') {
      if (this.state === 'recovering') {
        this.state = 'running';
        this.error = null;
        this.recovery.reconnects++;
        if (this.downSince !== null) this.recovery.lastOutageMs = this.clock() - this.downSince;
        this.downSince = null;
        this.forgetVanished();
        this.log.info({ tap: this.id, outageMs: this.recovery.lastOutageMs }, 'tap connection recovered');
        // exchanges may have appeared or vanished meanwhile
        void this.serial(() => this.exchanges.discover()).catch(() => undefined);
        // a node restart loses its tracing state (rabbit_trace keeps it in the node's application env)
        void this.checkMode().catch(() => undefined);
        this.emitStatus();
      }
    } else if (state === 'disconnected' && this.state === 'running') {
      this.state = 'recovering';
      this.error = error ?? null;
      this.downSince = this.clock();
      this.emitStatus();
    } else if (state === 'disconnected' && this.state === 'recovering' && error) {
      this.error = error;
    }
  }

  /** Count what the replay skipped; bindings whose exchange vanished are re-bound once it is back. */
  private forgetVanished(): void {
    const link = this.link;
    if (!link) return;
    this.recovery.skipped += link.lastSkipped.length;
    this.exchanges.forgetVanished(link.lastSkipped);
  }

  /** A link whose recovery was refused (replay 406) stays 'disconnected': rebuild from scratch. */
  private async maybeRebuild(): Promise<void> {
    if (this.stopped || this.state !== 'recovering') return;
    const now = this.clock();
    if (!this.rebuildPending) {
      const link = this.link;
      const st = link?.currentState;
      // `connecting` counts as progress only while a connect loop really runs (never a stuck state)
      if (st === 'connected' || (st === 'connecting' && link?.retrying)) {
        this.downSince ??= now;
        return;
      }
    }
    if (this.downSince === null) this.downSince = now;
    if (now - this.downSince < this.intervals.rebuildAfterMs) return;
    this.downSince = now;
    this.log.warn({ tap: this.id, err: this.error }, 'tap connection did not recover; rebuilding');
    await this.serial(async () => {
      if (this.stopped) return;
      await this.teardownLink();
      try {
        await this.attach(0);
        this.rebuildPending = false;
        this.recovery.rebuilds++;
        this.state = 'running';
        this.error = null;
        this.emitStatus();
      } catch (err) {
        this.error = (err as Error).message;
        // connected but refused our declares: still not tapping
        this.state = 'recovering';
        this.rebuildPending = true;
        this.downSince = this.clock();
        await this.link?.close().catch(() => undefined);
      }
    });
  }

  // ---- modes -------------------------------------------------------------------

  private async detectTracing(): Promise<boolean | null> {
    if (!this.inspector) return null;
    if (this.firehose) {
      try {
        const c = await this.firehose.check();
        const on = tracingFromCoverage(c);
        if (on !== null) {
          this.tracingOn = on;
          this.tracingDetectedBy = 'management';
        }
        return on;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cannot read tracing state');
        return null;
      }
    }
    try {
      const on = await this.inspector.tracing();
      if (on !== null) {
        this.tracingOn = on;
        this.tracingDetectedBy = this.inspector.source === 'memory' ? 'memory' : 'management';
      }
      return on;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot read tracing state');
      return null;
    }
  }

  private async decideMode(): Promise<TapMode> {
    if (this.requestedMode === 'bindings') {
      await this.detectTracing();
      return 'bindings';
    }
    const on = await this.detectTracing();
    if (this.requestedMode === 'firehose') return 'firehose';
    if (on !== null) return on ? 'firehose' : 'bindings';
    // no API to ask: publish a probe and see whether a trace of it arrives
    const seen = await this.probeFirehose();
    this.tracingOn = seen;
    this.tracingDetectedBy = 'probe';
    return seen ? 'firehose' : 'bindings';
  }

  private queueOptions() {
    return { durable: false, autoDelete: true, exclusive: true, arguments: { ...this.queueArgs } };
  }

  private async ensureFirehoseQueue(): Promise<void> {
    const link = this.requireLink();
    if (this.firehoseQueue) return;
    const q = `${TAP_QUEUE_PREFIX}${this.id}-firehose`;
    await link.assertQueue(q, this.queueOptions());
    await link.bindQueue(q, TRACE_EXCHANGE, 'publish.#');
    await link.bindQueue(q, TRACE_EXCHANGE, 'deliver.#');
    await link.consume(q, (d) => this.ingest.onTrace(d), { noAck: true });
    this.firehoseQueue = q;
  }

  private async probeFirehose(): Promise<boolean> {
    const link = this.requireLink();
    await this.ensureFirehoseQueue();
    if (!this.probeQueue) {
      const pq = `${TAP_QUEUE_PREFIX}${this.id}-probe`;
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
      }, this.probeTimeoutMs);
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

  private async enterMode(mode: TapMode): Promise<void> {
    const link = this.requireLink();
    const previous = this.mode;
    this.mode = mode;
    if (mode === 'firehose') {
      await this.ensureFirehoseQueue();
      if (this.bindingsQueue) {
        const q = this.bindingsQueue;
        this.bindingsQueue = null;
        this.exchanges.dropBindings();
        await link.deleteQueue(q).catch(() => undefined);
      }
    } else if (mode === 'bindings') {
      if (!this.bindingsQueue) {
        const q = `${TAP_QUEUE_PREFIX}${this.id}`;
        await link.assertQueue(q, this.queueOptions());
        this.bindingsQueue = q;
        await this.exchanges.discover();
        await link.consume(q, (d) => this.ingest.onDelivery(d), { noAck: true });
      }
      // auto mode keeps the trace binding: the first trace that shows up means tracing was turned on
      if (this.requestedMode === 'auto') await this.ensureFirehoseQueue();
      else if (this.firehoseQueue) {
        const q = this.firehoseQueue;
        this.firehoseQueue = null;
        await link.deleteQueue(q).catch(() => undefined);
      }
    }
    if (previous !== mode) {
      this.log.info({ tap: this.id, mode, vhost: this.vhost }, `tap mode ${mode}`);
      this.emitStatus();
    }
  }

  private requireLink(): ResilientLink {
    if (!this.link) throw new Error('Tap is not connected');
    return this.link;
  }

  /**
   * Tracing on for the vhost on every node (management API: one PUT per node's
   * listener; memory broker: its flag), then firehose mode. Tracing
   * osloscope turned on is turned off again after FIREHOSE_AUTO_OFF and when
   * the tap stops.
   */
  async enableFirehose(): Promise<TapStatus> {
    if (!this.inspector) throw new InspectorError('Tap is not started');
    if (this.firehose) {
      const c = await this.firehose.enable();
      this.firehoseError = null;
      this.tracingOn = tracingFromCoverage(c) ?? c.on > 0;
      this.tracingDetectedBy = 'management';
      if (this.requestedMode !== 'off' && this.requestedMode !== 'bindings' && this.link && c.on > 0) await this.serial(() => this.enterMode('firehose'));
      this.emitStatus();
      return this.status();
    }
    if (!(await this.inspector.canEnableTracing())) {
      throw new InspectorError(
        `Cannot turn tracing on through ${this.inspector.describe()}: it needs the management API with an administrator user. Run: rabbitmqctl trace_on -p ${this.vhost}`,
      );
    }
    await this.inspector.enableTracing();
    this.tracingOn = true;
    this.tracingDetectedBy = this.inspector.source === 'memory' ? 'memory' : 'management';
    if (this.requestedMode !== 'off' && this.link) await this.serial(() => this.enterMode('firehose'));
    this.emitStatus();
    return this.status();
  }

  private async checkMode(): Promise<void> {
    if (this.requestedMode !== 'auto' || !this.link || this.state !== 'running') {
      // keep coverage current (and re-enable nodes that restarted when osloscope turned tracing on)
      if (this.firehose && this.requestedMode !== 'off') await this.detectTracing();
      return;
    }
    let on = await this.detectTracing();
    if (on === null && this.mode === 'firehose' && this.clock() - this.lastTraceAt > this.intervals.modeCheckMs) {
      on = await this.probeFirehose().catch(() => null);
      if (on !== null) {
        this.tracingOn = on;
        this.tracingDetectedBy = 'probe';
      }
    }
    if (on === true && this.mode !== 'firehose') await this.serial(() => this.enterMode('firehose'));
    else if (on === false && this.mode !== 'bindings') await this.serial(() => this.enterMode('bindings'));
  }

  // ---- what the pipeline asks of the mode ------------------------------------------

  /** A trace of a probe: ours means tracing is on. */
  private probeTraced(queue: string): void {
    if (queue !== this.probeQueue) return;
    this.tracingOn = true;
    this.lastTraceAt = this.clock();
    this.probeWaiter?.(true);
  }

  /** A trace of real traffic: ingest it in firehose mode; in auto bindings mode it means tracing was turned on. */
  private traceArrived(): boolean {
    this.lastTraceAt = this.clock();
    if (this.mode === 'firehose') return true;
    if (this.requestedMode === 'auto' && this.state === 'running' && this.link) {
      this.tracingOn = true;
      this.tracingDetectedBy = 'probe';
      void this.serial(() => this.enterMode('firehose')).catch(() => undefined);
    }
    return false;
  }

  private emitCall(c: CallChange): void {
    if (this.listeners.size > 0) this.emit({ type: 'tap:call', call: c.record });
  }

  // ---- periodic work -----------------------------------------------------------------

  private startTimers(): void {
    const every = (ms: number, fn: () => Promise<void>): NodeJS.Timeout => {
      let running = false;
      const t = setInterval(() => {
        if (running || this.stopped) return;
        running = true;
        fn()
          .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'tap background task failed'))
          .finally(() => {
            running = false;
          });
      }, ms);
      t.unref();
      return t;
    };
    this.timers.tick = every(this.intervals.tickMs, async () => {
      await this.tick();
    });
    this.timers.discovery = every(this.intervals.discoveryMs, () => this.serial(() => this.exchanges.discover()));
    this.timers.modeCheck = every(this.intervals.modeCheckMs, () => this.checkMode());
  }

  /** Classify calls past their deadline (with fresh queue facts), resolve callers, rebuild a dead link. */
  async tick(): Promise<CallChange[]> {
    if (this.tickRunning) return [];
    this.tickRunning = true;
    try {
      await this.maybeRebuild();
      const now = this.clock();
      const due = this.model.calls.dueQueues(now);
      const facts = new Map<string, QueueFact | null>();
      if (due.length > 0) {
        await this.lookups.refresh(true);
        await Promise.all(due.slice(0, 200).map(async (q) => facts.set(q, await this.queueFact(q))));
      } else if (this.lookups.unresolved > 0 || this.model.calls.unresolvedReplyQueues().length > 0) {
        await this.lookups.refresh(false);
      }
      const changes = this.model.tick(now, (q) => facts.get(q));
      for (const c of changes) this.emitCall(c);
      await this.refreshDropped();
      return changes;
    } finally {
      this.tickRunning = false;
    }
  }

  /** Exact, current consumer count: a passive declare (the management API's numbers lag by the stats interval). */
  private async queueFact(queue: string): Promise<QueueFact | null> {
    const link = this.link;
    if (!link || !link.isConnected) return null;
    try {
      const r = await link.checkQueue(queue);
      return { exists: true, consumers: r.consumerCount, depth: r.messageCount };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 404) return { exists: false, consumers: 0, depth: 0 };
      return null;
    }
  }

  private async refreshDropped(): Promise<void> {
    const inspector = this.inspector;
    if (!inspector?.droppedFrom) return;
    let n = 0;
    for (const q of [this.bindingsQueue, this.firehoseQueue]) if (q) n += inspector.droppedFrom(q);
    if (n > this.memoryDropped) {
      this.model.counters.dropped += n - this.memoryDropped;
      this.memoryDropped = n;
    }
  }

  // ---- queries -----------------------------------------------------------------------

  status(): TapStatus {
    return tapStatus({
      requestedMode: this.requestedMode,
      mode: this.mode,
      state: this.state,
      error: this.error,
      vhost: this.vhost,
      firehose: { on: this.tracingOn, detectedBy: this.tracingDetectedBy, canEnable: this.canEnable },
      coverage: this.firehose?.coverage ?? null,
      firehoseError: this.firehoseError,
      boundExchanges: this.exchanges.boundExchanges,
      fanoutExchanges: this.exchanges.fanoutExchanges,
      tapQueues: [this.bindingsQueue, this.firehoseQueue],
      inspector: this.inspector?.source ?? 'passive',
      counters: this.model.tapCounters(),
      startedAt: this.startedAt,
      recovery: { ...this.recovery, awaiting: this.exchanges.awaitingExchanges(20) },
    });
  }

  snapshot(nowMs: number = this.clock(), rates?: RateQuery): TapSnapshot {
    return {
      nowMs,
      status: this.status(),
      rates: this.model.snapshotRates(nowMs, rates),
      calls: this.model.calls.counts(),
    };
  }

  /** Exchanges, topics, servers and methods the traffic named lately, most recent first. */
  knownTargets(limit = 200): KnownTargets {
    return this.model.knownTargets(limit);
  }

  /** Recent decoded messages, oldest first; `filter` uses the live-stream grammar (throws FilterSyntaxError). */
  recent(options: RecentOptions = {}): DecodedMessage[] {
    return this.model.recent(options);
  }

  calls(query: { state?: CallState; limit?: number } = {}): CallRecord[] {
    return this.model.callList(query);
  }

  call(msgId: string): CallRecord | null {
    return this.model.calls.get(msgId);
  }

  /** In-flight and stuck calls grouped by caller process (`_reply_q` → reply-queue consumer → `<prog>:<pid>`). */
  callGroups(query: { state?: CallState } = { state: 'inflight' }): CallGroup[] {
    const groups = new Map<string, CallGroup>();
    for (const c of this.model.callList({ state: query.state, limit: 10_000 })) {
      // a queue-manager reply queue names the service even when its consumer is not known
      const qm = c.caller.queueManager;
      const key = c.caller.process ?? (qm ? `${qm.process}@${qm.host}` : '');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { process: key || null, replyQueues: [], calls: [] }));
      if (c.caller.replyQ && !g.replyQueues.includes(c.caller.replyQ)) g.replyQueues.push(c.caller.replyQ);
      g.calls.push(c);
    }
    return [...groups.values()].sort((a, b) => b.calls.length - a.calls.length);
  }

  /** Broadcasts kept in the `<topic>_fanout` stream (rabbit_stream_fanout), read without taking them: fanout-history.ts. */
  fanoutHistory(query: FanoutHistoryQuery): Promise<FanoutHistory> {
    this.historyReader ??= new FanoutHistoryReader({ transport: this.transport, inspector: () => this.inspector, clock: this.clock });
    return this.historyReader.read(query);
  }

  latency(): LatencyHistogram {
    return this.model.calls.latency.toJSON();
  }

  /** Queues, reply queues without consumers and connections per process, from the inspector. */
  async brokerView(): Promise<BrokerView> {
    const inspector = this.inspector;
    const at = this.clock();
    const own = new Set([this.bindingsQueue, this.firehoseQueue, this.probeQueue].filter((q): q is string => q !== null));
    if (!inspector) {
      return buildBrokerView({ source: 'passive', vhost: this.vhost, at, poolSize: this.poolSize, topics: [], exchanges: null, queues: null, consumers: null, connections: null, error: 'tap not started' });
    }
    let error: string | null = null;
    const safe = async <T>(p: Promise<T>): Promise<T | null> => {
      try {
        return await p;
      } catch (err) {
        error = (err as Error).message;
        return null;
      }
    };
    const [exchanges, queues, consumers, connections] = await Promise.all([
      safe(inspector.exchanges()),
      safe(inspector.queues()),
      safe(inspector.consumers()),
      safe(inspector.connections()),
    ]);
    this.lookups.apply(consumers, connections);
    return buildBrokerView({
      source: inspector.source,
      vhost: this.vhost,
      at,
      poolSize: this.poolSize,
      topics: this.ingest.knownTopics,
      pools: this.ingest.pools,
      exchanges,
      queues: queues?.filter((q) => !q.name.startsWith(TAP_QUEUE_PREFIX)) ?? null,
      consumers,
      connections,
      ownQueues: own,
      error,
    });
  }

  /** Layout, health and firehose coverage (read at most every 15 s). */
  async brokerHealth(force = false): Promise<BrokerHealthReport> {
    if (!this.reporter) return { at: this.clock(), layout: null, health: null, firehose: null };
    return this.reporter.report(force);
  }

  /** The last broker health report, summarised; never waits (null before the first read). */
  brokerHealthSummary(): BrokerHealthSummary | null {
    return this.reporter?.summary() ?? null;
  }

  /** Per-node tracing state (management API only; null before the first check). */
  get firehoseCoverage(): FirehoseCoverage | null {
    return this.firehose?.coverage ?? null;
  }

  private setUpBrokerReads(inspector: BrokerInspector): void {
    this.firehose =
      inspector instanceof ManagementInspector
        ? new FirehoseControl({ inspector, vhost: this.vhost, clock: this.clock, log: this.log, autoOffMs: this.options.firehoseAutoOffMs ?? 0 })
        : null;
    this.reporter = new BrokerReporter({
      inspector,
      vhost: this.vhost,
      controlExchanges: this.options.exchanges ?? DEFAULT_CONTROL_EXCHANGES,
      topics: () => this.ingest.knownTopics,
      knownQueues: () => this.ingest.knownQueues,
      queueExists: async (q) => {
        const link = this.link;
        if (!link || !link.isConnected) return null;
        try {
          await link.checkQueue(q);
          return true;
        } catch (err) {
          return (err as { code?: unknown }).code === 404 ? false : null;
        }
      },
      exchangeExists: async (x) => {
        const link = this.link;
        if (!link || !link.isConnected) return null;
        try {
          await link.checkExchange(x);
          return true;
        } catch (err) {
          return (err as { code?: unknown }).code === 404 ? false : null;
        }
      },
      memoryBroker: this.transport.memoryBroker ?? null,
      firehose: this.firehose,
      clock: this.clock,
      log: this.log,
    });
  }

  /** FIREHOSE_ENABLE at start: a refusal is reported (status hint, log), never fatal. */
  private async turnFirehoseOn(): Promise<void> {
    try {
      if (this.firehose) {
        const c = await this.firehose.enable();
        this.log.info({ vhost: this.vhost, coverage: c.summary, autoOffAt: c.autoOffAt }, 'FIREHOSE_ENABLE: tracing turned on');
      } else if (this.inspector && (await this.inspector.canEnableTracing())) {
        await this.inspector.enableTracing();
      } else {
        throw new InspectorError(`FIREHOSE_ENABLE needs the management API (RABBITMQ_MANAGEMENT_URL) with an administrator user; ${this.inspector?.describe() ?? 'no inspector'} cannot turn tracing on.`);
      }
      this.firehoseError = null;
    } catch (err) {
      this.firehoseError = `Could not turn the firehose on: ${(err as Error).message}`;
      this.log.warn({ err: (err as Error).message }, 'FIREHOSE_ENABLE failed');
    }
  }

  /** The inspector in use (null before start). */
  get brokerInspector(): BrokerInspector | null {
    return this.inspector;
  }

  /** The tap's AMQP connection name (`<prog>:<pid>:<uuid>`), e.g. to find it in the management UI. */
  get connectionName(): string | null {
    return this.link?.connectionName ?? null;
  }
}

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
