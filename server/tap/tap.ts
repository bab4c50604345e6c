/**
 * The traffic tap: one tap session per broker connection, watching oslo.messaging traffic without taking
 * any of it. A fleet holds one Tap per broker it watches.
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
 * The Tap composes one part per concern and answers for them together:
 *
 * - tap-link.ts     LinkCycle: the connection's life cycle, reconnects, rebuilds after a refused recovery
 * - tap-mode.ts     ModeControl: firehose or bindings, tracing detection, the probe, enabling and auto-off
 * - tap-exchanges.ts ExchangeBinder: bindings mode's exchanges, discovery, re-binding after a recovery
 * - tap-lookups.ts  CallerLookups: who is behind reply queues and connections (the connection-name cache)
 * - tap-ingest.ts   IngestPipeline: delivery → observation → decode → model and calls → events
 * - tap-status.ts   tapStatus(): the status and its hint text
 * - inspector.ts    inspectorFor(): the broker inspector for the transport (management, memory, passive)
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
  TapModeSetting,
  TapSnapshot,
  TapStatus,
} from '../../lib/tap-contracts.ts';
import { silentLogger, topology, type Logger, type Transport } from '../messaging/index.ts';
import type { BrokerHealthReport, BrokerHealthSummary, FirehoseCoverage } from '../../lib/broker-contracts.ts';
import { BrokerReporter } from './broker-report.ts';
import { buildBrokerView, queueKind, topicsFromExchanges } from './broker-view.ts';
import type { CallChange, QueueFact } from './calls.ts';
import { inspectorFor, vhostOf, withPassiveCounts, type BrokerInspector, type PassiveQueueCheck } from './inspector.ts';
import { TrafficModel, type RecentOptions, type TrafficModelOptions } from './model.ts';
import { FanoutHistoryReader } from './fanout-history.ts';
import type { RateQuery } from './rates.ts';
import { tapStatus } from './tap-status.ts';
import { CallerLookups } from './tap-lookups.ts';
import { ExchangeBinder } from './tap-exchanges.ts';
import { IngestPipeline } from './tap-ingest.ts';
import { LinkCycle } from './tap-link.ts';
import { ModeControl, TAP_QUEUE_PREFIX } from './tap-mode.ts';

export { TAP_QUEUE_PREFIX, TAP_QUEUE_EXPIRES_MS, tracingFromCoverage } from './tap-mode.ts';

/** How often the tap reads its queues' backlog (the management API's queue stats refresh every 5 s by default). */
const BACKLOG_READ_MS = 5000;

/** Defined with oslo's other exchange names in the core's topology; re-exported for the tap's callers. */
export const DEFAULT_CONTROL_EXCHANGES = topology.DEFAULT_CONTROL_EXCHANGES;

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
  private readonly intervals: Required<TapIntervals>;
  private readonly poolSize: number;
  private readonly listeners = new Set<TapListener>();

  /** the connection, its recovery and the life-cycle state */
  private readonly cycle: LinkCycle;
  /** firehose or bindings, and the queues each needs */
  private readonly modes: ModeControl;
  /** bindings mode: the exchanges the bindings queue is bound to, and finding more */
  private readonly exchanges: ExchangeBinder;
  /** who is behind reply queues and connections (caller names) */
  private readonly lookups: CallerLookups;
  /** deliveries → observations → decoded messages → model, calls and events */
  private readonly ingest: IngestPipeline;

  private inspector: BrokerInspector | null = null;
  private reporter: BrokerReporter | null = null;
  private historyReader: FanoutHistoryReader | null = null;
  private startedAt: number | null = null;
  private timers: Timers = {};
  private tickRunning = false;
  private memoryDropped = 0;
  /** the fullest tap queue at the last read (null: not read yet) */
  private backlog: { messages: number; cap: number } | null = null;
  private backlogReadAt = Number.NEGATIVE_INFINITY;
  private readonly queueMaxLength: number;
  private stopped = false;

  constructor(private readonly options: TapOptions) {
    this.transport = options.transport;
    this.requestedMode = options.mode ?? 'auto';
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? this.transport.log ?? silentLogger;
    this.intervals = {
      tickMs: options.intervals?.tickMs ?? 1000,
      discoveryMs: options.intervals?.discoveryMs ?? 10_000,
      modeCheckMs: options.intervals?.modeCheckMs ?? 30_000,
      lookupMs: options.intervals?.lookupMs ?? 3000,
      rebuildAfterMs: options.intervals?.rebuildAfterMs ?? 3000,
    };
    this.poolSize = options.rpcConnPoolSize ?? this.transport.rabbit.rpc_conn_pool_size;
    const serial = <T>(fn: () => Promise<T>): Promise<T> => this.cycle.serial(fn);
    const link = () => this.cycle.link;
    const id = () => this.cycle.id;
    const emitStatus = () => this.emitStatus();

    this.cycle = new LinkCycle({
      transport: this.transport,
      rebuildAfterMs: this.intervals.rebuildAfterMs,
      onFresh: () => {
        this.exchanges.reset();
        this.modes.forgetQueues();
      },
      onConnected: async () => {
        await this.modes.enter(await this.modes.decide());
      },
      onRecovered: (l) => {
        this.exchanges.forgetVanished(l.lastSkipped);
        // exchanges may have appeared or vanished meanwhile
        void serial(() => this.exchanges.discover()).catch(() => undefined);
        // a node restart loses its tracing state (rabbit_trace keeps it in the node's application env)
        void this.modes.check().catch(() => undefined);
      },
      onTeardown: () => this.modes.cancelProbe(),
      emitStatus,
      stopped: () => this.stopped,
      clock: this.clock,
      log: this.log,
    });
    this.queueMaxLength = options.queueMaxLength ?? 100_000;
    this.modes = new ModeControl({
      requestedMode: this.requestedMode,
      vhost: this.vhost,
      queueMaxLength: this.queueMaxLength,
      queueMessageTtlMs: options.queueMessageTtlMs ?? 60_000,
      probeTimeoutMs: options.probeTimeoutMs ?? 1500,
      modeCheckMs: this.intervals.modeCheckMs,
      firehoseAutoOffMs: options.firehoseAutoOffMs ?? 0,
      inspector: () => this.inspector,
      link,
      id,
      state: () => this.cycle.state,
      serial,
      onDelivery: (d) => this.ingest.onDelivery(d),
      onTrace: (d) => this.ingest.onTrace(d),
      discover: () => this.exchanges.discover(),
      dropBindings: () => this.exchanges.dropBindings(),
      emitStatus,
      clock: this.clock,
      log: this.log,
    });
    this.exchanges = new ExchangeBinder({
      exchanges: options.exchanges ?? DEFAULT_CONTROL_EXCHANGES,
      discoverExchanges: options.discoverExchanges ?? true,
      inspector: () => this.inspector,
      link,
      mode: () => this.modes.mode,
      queue: () => this.modes.bindings,
      serial,
      emit: (e) => this.emit(e),
      onRebound: emitStatus,
      clock: this.clock,
      log: this.log,
      id,
    });
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
      probeTraced: (queue) => this.modes.probeTraced(queue),
      traceArrived: () => this.modes.traceArrived(),
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

  private emitCall(c: CallChange): void {
    if (this.listeners.size > 0) this.emit({ type: 'tap:call', call: c.record });
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
    const cycle = this.cycle;
    if (cycle.state !== 'stopped' || this.stopped) throw new Error('Tap already started');
    cycle.state = 'starting';
    this.startedAt = this.clock();
    if (this.requestedMode === 'off') {
      this.modes.off();
      cycle.state = 'running';
      this.emitStatus();
      return;
    }
    try {
      this.inspector = await this.pickInspector();
      await this.modes.setUp(this.inspector);
      this.reporter = this.brokerReporter(this.inspector);
      if (this.options.firehoseEnable) await this.modes.enableAtStart();
      cycle.watch();
      await cycle.serial(() => cycle.attach(this.options.connectRetry ?? null));
    } catch (err) {
      cycle.state = 'error';
      cycle.error = (err as Error).message;
      await cycle.teardown();
      cycle.unwatch();
      throw err;
    }
    cycle.state = 'running';
    this.startTimers();
    this.emitStatus();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of Object.values(this.timers)) if (t) clearInterval(t);
    this.timers = {};
    this.exchanges.stop();
    this.cycle.unwatch();
    // what osloscope turned on it turns off (FIREHOSE_AUTO_OFF or not): never leave tracing on by surprise
    await this.modes.disableOnStop();
    await this.cycle.close();
    this.cycle.state = 'stopped';
    this.emitStatus();
  }

  /** A passive queue.declare on the tap's own link: a queue's exact counts, null when it could not be asked. */
  private readonly passiveCheck: PassiveQueueCheck = async (q) => {
    const link = this.cycle.link;
    if (!link) return null;
    try {
      const r = await link.checkQueue(q);
      return { messageCount: r.messageCount, consumerCount: r.consumerCount };
    } catch {
      return null;
    }
  };

  private async pickInspector(): Promise<BrokerInspector> {
    if (this.options.inspector) return this.options.inspector;
    return inspectorFor(this.transport, {
      managementUrl: this.options.managementUrl,
      log: this.log,
      checkQueue: this.passiveCheck,
      knownQueues: () => [...this.ingest.knownQueues],
    });
  }

  /**
   * Tracing on for the vhost on every node (management API: one PUT per node's
   * listener; memory broker: its flag), then firehose mode. Tracing
   * osloscope turned on is turned off again after FIREHOSE_AUTO_OFF and when
   * the tap stops.
   */
  async enableFirehose(): Promise<TapStatus> {
    await this.modes.enable();
    this.emitStatus();
    return this.status();
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
    this.timers.discovery = every(this.intervals.discoveryMs, () => this.cycle.serial(() => this.exchanges.discover()));
    this.timers.modeCheck = every(this.intervals.modeCheckMs, () => this.modes.check());
  }

  /** Classify calls past their deadline (with fresh queue facts), resolve callers, rebuild a dead link. */
  async tick(): Promise<CallChange[]> {
    if (this.tickRunning) return [];
    this.tickRunning = true;
    try {
      await this.cycle.maybeRebuild();
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
      await this.refreshBacklog();
      return changes;
    } finally {
      this.tickRunning = false;
    }
  }

  /** Exact, current consumer count: a passive declare (the management API's numbers lag by the stats interval). */
  private async queueFact(queue: string): Promise<QueueFact | null> {
    const link = this.cycle.link;
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

  /**
   * The fullest of the tap's own queues against its cap, read through the inspector (the management API's
   * queue stats, refreshed by the broker every few seconds; the memory broker), never on the tap's own link,
   * whose recovery must not wait behind a read. Without one (passive inspector) the backlog stays unknown.
   */
  private async refreshBacklog(): Promise<void> {
    const inspector = this.inspector;
    const now = this.clock();
    if (!inspector?.queueDepth || now - this.backlogReadAt < BACKLOG_READ_MS) return;
    this.backlogReadAt = now;
    const queues = this.modes.consumedQueues.filter((q): q is string => q !== null);
    if (queues.length === 0) return;
    try {
      const depths = await Promise.all(queues.map((q) => inspector.queueDepth!(q)));
      this.backlog = { messages: Math.max(0, ...depths.map((d) => d ?? 0)), cap: this.queueMaxLength };
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'tap backlog not read');
    }
  }

  private async refreshDropped(): Promise<void> {
    const inspector = this.inspector;
    if (!inspector?.droppedFrom) return;
    let n = 0;
    for (const q of this.modes.consumedQueues) if (q) n += inspector.droppedFrom(q);
    if (n > this.memoryDropped) {
      this.model.counters.dropped += n - this.memoryDropped;
      this.memoryDropped = n;
    }
  }

  // ---- queries -----------------------------------------------------------------------

  status(): TapStatus {
    return tapStatus({
      requestedMode: this.requestedMode,
      mode: this.modes.mode,
      state: this.cycle.state,
      error: this.cycle.error,
      vhost: this.vhost,
      firehose: this.modes.firehoseStatus,
      coverage: this.modes.coverage,
      firehoseError: this.modes.lastFirehoseError,
      boundExchanges: this.exchanges.boundExchanges,
      fanoutExchanges: this.exchanges.fanoutExchanges,
      tapQueues: this.modes.consumedQueues,
      inspector: this.inspector?.source ?? 'passive',
      counters: this.model.tapCounters(),
      startedAt: this.startedAt,
      recovery: { ...this.cycle.recovery, awaiting: this.exchanges.awaitingExchanges(20) },
      backlog: this.backlog,
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
    const own = new Set(this.modes.ownQueues);
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
    const [exchanges, listed, consumers, connections] = await Promise.all([
      safe(inspector.exchanges()),
      safe(inspector.queues()),
      safe(inspector.consumers()),
      safe(inspector.connections()),
    ]);
    this.lookups.apply(consumers, connections);
    const ours = listed?.filter((q) => !q.name.startsWith(TAP_QUEUE_PREFIX)) ?? null;
    // statistics disabled: the counts the management API left out, from the broker itself
    let topics: Set<string> | null = null;
    const kindOf = (name: string) => queueKind(name, (topics ??= new Set([...this.ingest.knownTopics, ...topicsFromExchanges(exchanges)])), this.ingest.pools).kind;
    const queues = ours ? await withPassiveCounts(ours, this.passiveCheck, kindOf) : ours;
    return buildBrokerView({
      source: inspector.source,
      vhost: this.vhost,
      at,
      poolSize: this.poolSize,
      topics: this.ingest.knownTopics,
      pools: this.ingest.pools,
      exchanges,
      queues,
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
    return this.modes.coverage;
  }

  /** Layout, health and firehose coverage reads for the broker report. */
  private brokerReporter(inspector: BrokerInspector): BrokerReporter {
    return new BrokerReporter({
      inspector,
      vhost: this.vhost,
      controlExchanges: this.options.exchanges ?? DEFAULT_CONTROL_EXCHANGES,
      topics: () => this.ingest.knownTopics,
      knownQueues: () => this.ingest.knownQueues,
      queueExists: async (q) => {
        const link = this.cycle.link;
        if (!link || !link.isConnected) return null;
        try {
          await link.checkQueue(q);
          return true;
        } catch (err) {
          return (err as { code?: unknown }).code === 404 ? false : null;
        }
      },
      exchangeExists: async (x) => {
        const link = this.cycle.link;
        if (!link || !link.isConnected) return null;
        try {
          await link.checkExchange(x);
          return true;
        } catch (err) {
          return (err as { code?: unknown }).code === 404 ? false : null;
        }
      },
      memoryBroker: this.transport.memoryBroker ?? null,
      firehose: this.modes.firehose,
      clock: this.clock,
      log: this.log,
    });
  }

  /** The inspector in use (null before start). */
  get brokerInspector(): BrokerInspector | null {
    return this.inspector;
  }

  /** The tap's AMQP connection name (`<prog>:<pid>:<uuid>`), e.g. to find it in the management UI. */
  get connectionName(): string | null {
    return this.cycle.link?.connectionName ?? null;
  }
}
