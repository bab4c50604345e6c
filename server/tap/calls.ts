/**
 * Call ↔ reply correlation and the stuck-call classifier.
 *
 * A call is keyed by `_msg_id` (uuid4 hex, amqpdriver._send); its reply
 * carries the same `_msg_id` and travels to the default exchange with
 * routing key `_reply_q` (amqpdriver direct_send). In firehose mode every
 * step is visible — request publish (with `routed_queues`), delivery to a
 * server's connection, call-monitor heartbeats, reply publish (with its own
 * `routed_queues`), reply delivery to the caller — and a call past its
 * deadline gets exactly one cause. In bindings mode only the request is
 * visible and the answer is weaker (see classifyBindings).
 *
 * The deadline is what the caller itself waits: the `expiration` property
 * oslo puts on every call (str(int(timeout*1000)), docs/wire.md#properties), or
 * rpc_response_timeout when a non-oslo sender left it out. A call-monitor
 * call (`_timeout` set, e.g. nova's `_timeout: 60` with `expiration:
 * "1800000"`) gives up earlier: amqpdriver ReplyWaiter.wait raises
 * MessagingTimeout when no heartbeat came within `_timeout` (its
 * call_monitor_timer restarts on each heartbeat), so in firehose mode, where
 * heartbeats are visible, such a call is stuck once `_timeout` passes
 * without one, long before its expiration.
 *
 * Reply queues named by the queue manager (`reply_<host>:<proc>:<n>`) are
 * reused by the restarted service: who consumes one is tracked per consumer
 * connection (reply-epochs.ts), and a reply that reaches a new process is
 * `late_reply_across_restart`.
 *
 * Pure: time comes in as arguments, broker facts (queue consumers) through
 * `QueueFacts`, so unit tests drive it with a fake clock.
 */
import {
  globalRequestIdOf,
  type CallEvent,
  type CallOutcome,
  type CallRecord,
  type CallState,
  type CallTarget,
  type CallTimelineEntry,
  type DecodedMessage,
  type StuckCause,
} from '../../lib/tap-contracts.ts';
import { LatencyHistograms, pyLabel } from './histogram.ts';
import { classifyBindings, classifyFirehose, replyGone, verdict, type QueueFacts, type Verdict } from './stuck-classifier.ts';
import { parseReplyQueue, processOf } from './queue-names.ts';
import { Interner } from './intern.ts';
import { truncationMarker } from './message-size.ts';
import { differentProcess, ReplyQueueEpochs, type ReplyEpoch } from './reply-epochs.ts';

export { processOf };

export type { QueueFact, QueueFacts } from './stuck-classifier.ts';

export interface CallerInfo {
  process: string | null;
  connectionName: string | null;
}

export interface CallTrackerOptions {
  /** calls kept (default 20 000); finished calls are evicted first */
  maxCalls?: number;
  /**
   * estimated bytes the kept calls may hold together (default 32 MiB): a
   * call's strings, failure text and timeline count, so long routing keys,
   * failure messages or timelines cannot grow the map past it
   */
  maxCallBytes?: number;
  /** timeline entries per call (default 64; repeated events are collapsed) */
  maxTimeline?: number;
  /** rpc_response_timeout in ms for calls without `expiration` (default 60 000) */
  defaultTimeoutMs?: number;
  /** latency histogram series cap */
  maxHistogramSeries?: number;
  /** `_reply_q` → the caller (consumer of the reply queue) */
  resolveCaller?: (replyQ: string) => CallerInfo | null;
  /** broker connection name (`ip:port -> ip:port`) → client connection_name */
  resolveConnection?: (brokerConnection: string) => string | null;
  /** reply-queue consumers over time (default: a tracker of its own, fed by reply delivery traces) */
  epochs?: ReplyQueueEpochs;
}

interface Entry {
  msgId: string;
  method: string;
  target: CallTarget;
  replyQ: string | null;
  requestId: string | null;
  globalRequestId: string | null;
  publishedAt: number;
  timeoutMs: number;
  timeoutSource: 'expiration' | 'default';
  deadline: number;
  callMonitorTimeout: number | null;
  /** the request was seen through the firehose: replies and deliveries are visible */
  firehose: boolean;
  routedQueues: string[] | null;
  deliveredAt: number | null;
  serverConnection: string | null;
  serverProcess: string | null;
  heartbeats: number;
  lastHeartbeatAt: number | null;
  /** a call-monitor call whose `_timeout` ran out between heartbeats: when the caller gave up */
  monitorLapsedAt: number | null;
  replyAt: number | null;
  replyRouted: boolean | null;
  replyUnroutable: number;
  replyDeliveredAt: number | null;
  callerConnection: string | null;
  caller: CallerInfo;
  /** broker connection that published the request (firehose): the caller's own process */
  publisherConnection: string | null;
  publisherName: string | null;
  /** reply-queue consumer (client connection name) when the call was made, when known */
  callerEpoch: string | null;
  /** the reply queue's new consumer after the caller's service restarted */
  restartedTo: string | null;
  /** a reply delivered to a connection not named yet from a reusable reply queue (settleDelivery) */
  pendingDelivery: PendingDelivery | null;
  state: CallState;
  outcome: CallOutcome | null;
  failure: { class: string; module: string; message: string } | null;
  cause: StuckCause | null;
  causeDetail: string | null;
  causeCertain: boolean;
  indistinguishable: StuckCause[];
  timeline: CallTimelineEntry[];
  latencyMs: number | null;
  updatedAt: number;
  /** estimated bytes this call holds (callBytes + its timeline and failure) */
  bytes: number;
}

interface PendingDelivery {
  /** the broker's name of the consuming connection */
  connection: string;
  queue: string;
  ts: number;
}

/**
 * How long a reply delivered to a connection not named yet waits for its name before it counts as the
 * caller's (tap-lookups.ts asks the broker about such a connection for as long).
 */
export const PENDING_DELIVERY_MS = 30_000;

/** Default bound on the estimated bytes of the kept calls. */
export const DEFAULT_CALL_BYTES = 32 * 1024 * 1024;
/** Characters of a remote failure's message a call keeps (the whole reply is in the recent messages). */
export const CALL_FAILURE_MESSAGE_MAX = 4096;
/** Fixed cost of a kept call besides its strings (the entry's fields, its map slot, the timeline array). */
const CALL_OVERHEAD_BYTES = 640;
const TIMELINE_ENTRY_BYTES = 48;
/** Deliver traces kept while their publish trace has not come: calls, and estimated bytes (message-size.ts budget each). */
const EARLY_CALLS = 1000;
const EARLY_BYTES = 8 * 1024 * 1024;
const EARLY_MESSAGE_BYTES = 256 * 1024;

function textBytes(s: string | null): number {
  return s === null ? 0 : 16 + s.length;
}

/** Causes bindings mode cannot see: they all need the reply path or the deliveries. */
export const BINDINGS_BLIND_CAUSES: readonly StuckCause[] = ['expired_in_queue', 'no_reply', 'reply_queue_gone', 'late_reply'];

/** Shared by every call whose caller is not known yet (never mutated: a known caller replaces it). */
const NO_CALLER: CallerInfo = Object.freeze({ process: null, connectionName: null }) as CallerInfo;
/** The interning key of a call's target (null fields apart from any text). */
/** A field of targetKey(): null apart from every string. A module function, not a closure made per call. */
function keyPart(v: string | null): string {
  return v === null ? '\u0001' : v;
}

function targetKey(m: DecodedMessage): string {
  return `${m.exchange}\u0000${m.routingKey}\u0000${keyPart(m.topic)}\u0000${keyPart(m.server)}\u0000${keyPart(m.namespace)}\u0000${keyPart(m.version)}`;
}

/**
 * A timeline entry, frozen: an entry is never changed once pushed (a collapsed repeat or the newest entry of
 * a full timeline replaces it), so the records built for `tap:call` events share the entries instead of
 * copying each one.
 */
function timelineEntry(ts: number, event: CallEvent, detail: string): CallTimelineEntry {
  return Object.freeze({ ts, event, detail });
}

/** Shared empty `indistinguishable` list. */
const NO_CAUSES: StuckCause[] = Object.freeze([]) as unknown as StuckCause[];


/**
 * The timeline texts every call has (delivered, routed to one queue, reply delivered, result after n ms),
 * kept by their parts: a queue or connection name as the trace carried it, a latency. Building each text
 * and then interning it made and hashed a new string per event; these look the parts up instead and
 * build a text once. Shared like interned strings, and bounded the same way: past `max` texts the cache
 * starts over.
 */
class TimelineTexts {
  private readonly toTexts = new Map<string, string>();
  private readonly resultTexts = new Map<number, string>();
  private readonly deliveredTexts = new Map<string, Map<string, string>>();
  private count = 0;

  constructor(
    private readonly max = 8192,
    private readonly maxPart = 256,
  ) {}

  /** `to <who>` */
  to(who: string): string {
    let t = this.toTexts.get(who);
    if (t === undefined) {
      t = `to ${who}`;
      if (who.length <= this.maxPart) this.keep(this.toTexts, who, t);
    }
    return t;
  }

  /** `result after <ms> ms` */
  resultAfter(ms: number): string {
    let t = this.resultTexts.get(ms);
    if (t === undefined) {
      t = `result after ${ms} ms`;
      this.keep(this.resultTexts, ms, t);
    }
    return t;
  }

  /** `from queue <queue> to <who>` */
  delivered(queue: string, who: string): string {
    let byWho = this.deliveredTexts.get(queue);
    let t = byWho?.get(who);
    if (t === undefined) {
      t = `from queue ${queue} to ${who}`;
      if (queue.length <= this.maxPart && who.length <= this.maxPart) {
        if (byWho === undefined) this.deliveredTexts.set(queue, (byWho = new Map()));
        this.keep(byWho, who, t);
      }
    }
    return t;
  }

  private keep<K>(map: Map<K, string>, key: K, text: string): void {
    if (this.count >= this.max) {
      this.toTexts.clear();
      this.resultTexts.clear();
      this.deliveredTexts.clear();
      this.count = 0;
    }
    map.set(key, text);
    this.count++;
  }
}

/** A call that changed; `record` is built on first access (most changes have no listener). */
export interface CallChange {
  readonly record: CallRecord;
  readonly reason: 'new' | 'state' | 'cause';
}

/** A CallChange whose record is built on first access, once. */
class LazyCallChange implements CallChange {
  private built: CallRecord | undefined = undefined;

  constructor(
    private readonly build: (e: Entry) => CallRecord,
    private readonly entry: Entry,
    readonly reason: CallChange['reason'],
  ) {}

  get record(): CallRecord {
    return (this.built ??= this.build(this.entry));
  }
}

export class CallTracker {
  private readonly calls = new Map<string, Entry>();
  /** ids of finished calls, oldest first: evicted before anything in flight or stuck */
  private readonly doneOrder = new Set<string>();
  /**
   * Deliver traces that overtook their publish trace. RabbitMQ traces a
   * publish in the publisher's channel and a delivery in the consumer's, so
   * the two can reach the trace queue in either order.
   */
  private readonly early = new Map<string, { msgs: DecodedMessage[]; bytes: number }>();
  private earlyBytes = 0;
  private readonly maxCalls: number;
  private readonly maxCallBytes: number;
  private totalBytes = 0;
  private readonly maxTimeline: number;
  private readonly defaultTimeoutMs: number;
  readonly latency: LatencyHistograms;
  readonly epochs: ReplyQueueEpochs;
  /**
   * Calls kept share equal strings and targets: thousands of calls to the
   * same method and topic, from the same reply queue, with the same
   * timeline texts, hold one copy of each (bounded tables, see intern.ts).
   */
  private readonly strings = new Interner<string>(8192, 256);
  private readonly targets = new Interner<CallTarget>(4096, 512);
  private readonly texts = new TimelineTexts();
  evicted = 0;
  /** replies/heartbeats whose call was never seen (sent before the tap started, or evicted) */
  orphanReplies = 0;

  constructor(private readonly options: CallTrackerOptions = {}) {
    this.maxCalls = options.maxCalls ?? 20_000;
    this.maxCallBytes = options.maxCallBytes ?? DEFAULT_CALL_BYTES;
    if (!(this.maxCallBytes > 0)) throw new RangeError('maxCallBytes must be positive');
    this.maxTimeline = options.maxTimeline ?? 64;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000;
    this.latency = new LatencyHistograms(options.maxHistogramSeries ?? 1000);
    this.epochs = options.epochs ?? new ReplyQueueEpochs();
  }

  get size(): number {
    return this.calls.size;
  }

  /**
   * Feed one decoded message. Returns the call whose state or cause changed
   * (for `tap:call` events), or null.
   */
  observe(m: DecodedMessage): CallChange | null {
    if (m.msgId === null) return null;
    if (m.kind === 'call') return this.onCall(m);
    if (m.kind === 'reply' || m.kind === 'heartbeat') return this.onReply(m);
    return null;
  }

  private onCall(m: DecodedMessage): CallChange | null {
    const msgId = m.msgId as string;
    const t = m.trace;
    if (t?.event === 'deliver') {
      const e = this.calls.get(msgId);
      if (!e) {
        this.keepEarly(msgId, m);
        return null;
      }
      const redelivered = t.redelivered === true;
      if (e.deliveredAt === null) e.deliveredAt = m.ts;
      e.serverConnection = t.connection;
      const name = t.connectionName ?? (t.connection ? (this.options.resolveConnection?.(t.connection) ?? null) : null);
      if (name) e.serverProcess = processOf(name) ?? name;
      this.pushKept(e, m.ts, redelivered ? 'redelivered' : 'delivered', this.texts.delivered(t.queue ?? '?', name ?? t.connection ?? 'a consumer'));
      return null;
    }
    if (this.calls.has(msgId)) {
      // the same request published again (a retried send): keep the first, note the repeat
      const e = this.calls.get(msgId) as Entry;
      this.push(e, m.ts, 'published', 'published again');
      return null;
    }
    const timeoutMs = m.timeoutMs ?? this.defaultTimeoutMs;
    const str = this.strings;
    const e: Entry = {
      msgId,
      method: str.string(m.method ?? ''),
      target: this.targets.value(targetKey(m), () =>
        Object.freeze({
          exchange: str.string(m.exchange),
          topic: str.string(m.topic),
          server: str.string(m.server),
          namespace: str.string(m.namespace),
          version: str.string(m.version),
          routingKey: str.string(m.routingKey),
        }),
      ),
      replyQ: str.string(m.replyQ),
      requestId: m.requestId,
      globalRequestId: globalRequestIdOf(m),
      publishedAt: m.ts,
      timeoutMs,
      timeoutSource: m.timeoutMs === null ? 'default' : 'expiration',
      deadline: m.ts + timeoutMs,
      callMonitorTimeout: m.callMonitorTimeout,
      firehose: t !== null,
      routedQueues: t?.routedQueues ?? null,
      deliveredAt: null,
      serverConnection: null,
      serverProcess: null,
      heartbeats: 0,
      lastHeartbeatAt: null,
      monitorLapsedAt: null,
      replyAt: null,
      replyRouted: null,
      replyUnroutable: 0,
      replyDeliveredAt: null,
      callerConnection: null,
      caller: NO_CALLER,
      publisherConnection: t?.event === 'publish' ? t.connection : null,
      publisherName: t?.event === 'publish' ? t.connectionName : null,
      callerEpoch: null,
      restartedTo: null,
      pendingDelivery: null,
      state: 'inflight',
      outcome: null,
      failure: null,
      cause: null,
      causeDetail: null,
      causeCertain: true,
      indistinguishable: NO_CAUSES,
      timeline: [],
      latencyMs: null,
      updatedAt: m.ts,
      bytes: CALL_OVERHEAD_BYTES + textBytes(msgId) + textBytes(m.method) + textBytes(m.replyQ) + textBytes(m.requestId) + textBytes(m.routingKey) + textBytes(globalRequestIdOf(m)),
    };
    this.resolveCaller(e);
    if (e.replyQ) {
      // the reply queue's consumer when the call was made; an epoch last seen before the publish may already be gone
      const ep = this.epochs.at(e.replyQ, m.ts);
      e.callerEpoch = ep && ep.lastSeen >= m.ts ? ep.connectionName : e.caller.connectionName;
    }
    const where = `${m.exchange || '(default)'} / ${m.routingKey}`;
    this.push(
      e,
      m.ts,
      'published',
      `${where}, timeout ${timeoutMs} ms${e.timeoutSource === 'default' ? ' (no expiration: rpc_response_timeout)' : ''}` +
        (m.callMonitorTimeout
          ? `, call_monitor_timeout ${m.callMonitorTimeout} s (the caller gives up after ${m.callMonitorTimeout} s without a heartbeat)`
          : ''),
    );
    if (t) {
      const routed = t.routedQueues ?? [];
      if (routed.length === 0) this.push(e, m.ts, 'unroutable', `no queue is bound to ${where}`);
      else if (routed.length === 1) this.pushKept(e, m.ts, 'routed', this.texts.to(routed[0]));
      else this.push(e, m.ts, 'routed', `to ${routed.join(', ')}`);
    }
    this.insert(e);
    const early = this.early.get(msgId);
    if (early) {
      this.early.delete(msgId);
      this.earlyBytes -= early.bytes;
      for (const d of early.msgs) this.observe(d);
    }
    return this.change(e, 'new');
  }

  private keepEarly(msgId: string, m: DecodedMessage): void {
    let list = this.early.get(msgId);
    if (!list) {
      if (this.early.size >= EARLY_CALLS) this.dropEarliest();
      this.early.set(msgId, (list = { msgs: [], bytes: 0 }));
    }
    if (list.msgs.length >= 8) return;
    // the message as the model stores it: within its per-message budget
    const bytes = Math.min(m.bytes, EARLY_MESSAGE_BYTES) + 1024;
    list.msgs.push(m);
    list.bytes += bytes;
    this.earlyBytes += bytes;
    while (this.earlyBytes > EARLY_BYTES && this.early.size > 1) this.dropEarliest();
  }

  private dropEarliest(): void {
    const [id, oldest] = this.early.entries().next().value as [string, { bytes: number }];
    this.early.delete(id);
    this.earlyBytes -= oldest.bytes;
  }

  private onReply(m: DecodedMessage): CallChange | null {
    const e = this.calls.get(m.msgId as string);
    const t = m.trace;
    if (!e) {
      if (t?.event === 'deliver') this.keepEarly(m.msgId as string, m);
      else this.orphanReplies++;
      return null;
    }
    if (t?.event === 'deliver') {
      const name = t.connectionName ?? (t.connection ? (this.options.resolveConnection?.(t.connection) ?? null) : null);
      const queue = t.queue ?? m.replyQ;
      if (name === null && t.connection && m.kind !== 'heartbeat' && queue && this.mayBeReused(e, queue)) {
        // A queue-manager reply queue reached by a connection not known yet: the restarted service may have taken
        // the name over (its new connection is listed by the broker only after a while). Decided once it is named.
        e.pendingDelivery = { connection: t.connection, queue, ts: m.ts };
        return null;
      }
      return this.delivered(e, name, t.connection, queue, m.ts, m.kind === 'heartbeat');
    }
    // Unroutable: the memory broker traces an empty routed_queues; RabbitMQ routes default-exchange publishes by
    // name without checking the queue exists, so its trace still lists the missing reply queue (see replyGone).
    const routed = t ? (t.routedQueues ?? []).length > 0 : null;
    if (m.kind === 'heartbeat') {
      // a heartbeat after the caller's call_monitor_timer ran out comes too late: the caller already gave up
      const md = this.monitorDeadline(e);
      if (md !== null && m.ts > md && e.monitorLapsedAt === null) e.monitorLapsedAt = md;
      e.heartbeats++;
      e.lastHeartbeatAt = m.ts;
      if (routed === false) {
        e.replyUnroutable++;
        this.push(e, m.ts, 'reply_unroutable', `heartbeat to ${m.routingKey} routed to no queue`);
      } else this.push(e, m.ts, 'heartbeat', `call-monitor heartbeat #${e.heartbeats}`);
      return null;
    }
    // kind reply: final when ending is true; the pre-ending two-message scheme sends a result with ending false first
    if (m.ending !== true) {
      this.push(e, m.ts, 'reply_published', 'partial reply (ending=false), final message still to come');
      return null;
    }
    if (routed === false || e.replyAt !== null) {
      // A final reply published again is the server's retry after a basic.return (NO_ROUTE): it resends every
      // 0.25 s until kombu_missing_consumer_retry_timeout (amqpdriver AMQPIncomingMessage._send_reply).
      e.replyUnroutable++;
      this.push(
        e,
        m.ts,
        'reply_unroutable',
        routed === false
          ? `reply to ${m.routingKey} routed to no queue: the caller's reply queue is gone`
          : `reply to ${m.routingKey} published again: the broker returned it (NO_ROUTE), the caller's reply queue is gone`,
      );
      if (e.replyAt === null) e.replyAt = m.ts;
      if (e.state === 'stuck' && e.cause !== 'reply_queue_gone' && e.cause !== 'late_reply' && e.cause !== 'late_reply_across_restart') return this.setCause(e, m.ts, replyGone(e));
      return null;
    }
    e.replyAt = m.ts;
    e.replyRouted = routed;
    e.failure = m.failure ? this.keptFailure(e, m.failure) : null;
    e.outcome = m.failure ? 'failure' : 'result';
    e.latencyMs = m.ts - e.publishedAt;
    if (m.failure) this.push(e, m.ts, 'reply_published', `failure ${m.failure.class} after ${e.latencyMs} ms`);
    else this.pushKept(e, m.ts, 'reply_published', this.texts.resultAfter(e.latencyMs));
    this.observeLatency(e);
    if (e.restartedTo !== null || this.restartedSince(e, m.ts)) return this.setCause(e, m.ts, this.restartVerdict(e, true));
    const giveUp = this.giveUpAt(e);
    if (m.ts > giveUp) {
      const monitor = giveUp < e.deadline;
      return this.setCause(
        e,
        m.ts,
        verdict(
          'late_reply',
          monitor
            ? `reply published ${m.ts - giveUp} ms after the caller gave up: no heartbeat within call_monitor_timeout ${e.callMonitorTimeout} s (${e.heartbeats} heartbeat${e.heartbeats === 1 ? '' : 's'} seen); the caller had already raised MessagingTimeout and drops it`
            : `reply published ${m.ts - e.deadline} ms after the caller's ${e.timeoutMs} ms timeout: the caller had already raised MessagingTimeout and drops it`,
          true,
          [],
        ),
      );
    }
    // firehose: done once the caller's delivery is seen (or it was seen already, and its consumer is named); otherwise done now
    if (t && (e.replyDeliveredAt === null || e.pendingDelivery !== null)) return null;
    return this.finish(e, m.ts);
  }

  /** The failure a call keeps: its message cut to CALL_FAILURE_MESSAGE_MAX, counted in the call's bytes. */
  private keptFailure(e: Entry, f: { class: string; module: string; message: string }): Entry['failure'] {
    const message = f.message.length > CALL_FAILURE_MESSAGE_MAX ? f.message.slice(0, CALL_FAILURE_MESSAGE_MAX) + truncationMarker(Buffer.byteLength(f.message)) : f.message;
    // frozen: records share it (a later failure replaces it, never changes it)
    const kept = Object.freeze({ class: this.strings.string(f.class), module: this.strings.string(f.module), message });
    this.grow(e, textBytes(kept.class) + textBytes(kept.module) + textBytes(message));
    return kept;
  }

  /** Count `n` more bytes for a kept call. */
  private grow(e: Entry, n: number): void {
    e.bytes += n;
    if (this.calls.get(e.msgId) === e) this.totalBytes += n;
  }

  /** A reply (or heartbeat) of `e` delivered from `queue` to the consumer `name` (null: not known) at `ts`. */
  private delivered(e: Entry, name: string | null, connection: string | null, queue: string | null, ts: number, heartbeat: boolean): CallChange | null {
    if (name && queue) this.epochs.observe(queue, name, ts);
    const callerName = this.callerName(e);
    if (name && callerName && differentProcess(name, callerName)) {
      // the reply queue is consumed by another process than the caller's: the service restarted and reused the name
      if (e.restartedTo === null) e.restartedTo = name;
      if (heartbeat) return null;
      e.replyDeliveredAt = ts;
      this.push(e, ts, 'reply_delivered', `to ${name}, not to the caller ${callerName}: it restarted`);
      return this.setCause(e, ts, this.restartVerdict(e, true));
    }
    if (heartbeat) return null;
    e.replyDeliveredAt = ts;
    e.callerConnection = connection;
    if (name) e.caller = { process: processOf(name) ?? name, connectionName: name };
    this.pushKept(e, ts, 'reply_delivered', this.texts.to(name ?? connection ?? 'the caller'));
    // the reply reached the caller in time: done (the publish trace may come before or after this one)
    if (e.state === 'inflight' && e.replyAt !== null && e.replyAt <= this.giveUpAt(e)) return this.finish(e, ts);
    return null;
  }

  /**
   * Whether a delivery from `queue` may have gone to another process than the caller: a queue-manager name
   * (reused by the restarted service) whose caller is known, so that naming the consumer can tell.
   */
  private mayBeReused(e: Entry, queue: string): boolean {
    return e.state === 'inflight' && parseReplyQueue(queue)?.queueManager != null && this.callerName(e) !== null;
  }

  /** Settle a delivery whose consumer was not named yet: named now, or after PENDING_DELIVERY_MS as it was traced. */
  private settleDelivery(e: Entry, nowMs: number): CallChange | null {
    const p = e.pendingDelivery as PendingDelivery;
    const name = this.options.resolveConnection?.(p.connection) ?? null;
    if (name === null && nowMs - p.ts < PENDING_DELIVERY_MS) return null;
    e.pendingDelivery = null;
    return this.delivered(e, name, p.connection, p.queue, p.ts, false);
  }

  private finish(e: Entry, ts: number): CallChange | null {
    if (e.state === 'done') return null;
    this.markDone(e);
    e.updatedAt = Math.max(e.updatedAt, ts);
    return this.change(e, 'state');
  }

  private markDone(e: Entry): void {
    e.state = 'done';
    this.doneOrder.add(e.msgId);
  }

  private change(e: Entry, reason: CallChange['reason']): CallChange {
    return new LazyCallChange(this.recordOf, e, reason);
  }

  /** record() for LazyCallChange, bound once (a closure per change would be made, and named, per message). */
  private readonly recordOf = (e: Entry): CallRecord => this.record(e);

  private observeLatency(e: Entry): void {
    if (e.latencyMs === null) return;
    this.latency.observe(
      {
        call_type: 'call',
        exchange: e.target.exchange,
        topic: pyLabel(e.target.topic),
        namespace: pyLabel(e.target.namespace),
        version: pyLabel(e.target.version),
        server: pyLabel(e.target.server),
        fanout: 'False',
        process: e.caller.process ?? '',
        method: e.method,
        timeout: pyLabel(e.timeoutSource === 'expiration' ? e.timeoutMs / 1000 : null),
      },
      e.latencyMs / 1000,
    );
  }

  /** Queues whose facts the next tick() needs (routed / target queues and reply queues of calls past their deadline). */
  dueQueues(nowMs: number): string[] {
    const out = new Set<string>();
    for (const e of this.calls.values()) {
      if (e.state !== 'inflight' || nowMs < this.giveUpAt(e)) continue;
      for (const q of this.targetQueues(e)) out.add(q);
      if (e.replyQ) out.add(e.replyQ);
    }
    return [...out];
  }

  /** The queues the request went to; bindings mode guesses oslo's naming (queue name = routing key). */
  private targetQueues(e: Entry): string[] {
    if (e.routedQueues !== null) return e.routedQueues;
    return e.target.routingKey ? [e.target.routingKey] : [];
  }

  /** Classify every in-flight call past its deadline. Returns the calls that changed. */
  tick(nowMs: number, facts: QueueFacts = () => null): CallChange[] {
    const changed: CallChange[] = [];
    for (const e of this.calls.values()) {
      if (e.pendingDelivery !== null) {
        const c = this.settleDelivery(e, nowMs);
        if (c) changed.push(c);
        // delivered before the caller gave up: no deadline passes while who got it is not known
        if (e.pendingDelivery !== null) continue;
      }
      if (e.state !== 'inflight') continue;
      const giveUp = this.giveUpAt(e);
      if (nowMs < giveUp) continue;
      if (giveUp < e.deadline) {
        this.push(
          e,
          giveUp,
          'timeout',
          `no heartbeat within call_monitor_timeout ${e.callMonitorTimeout} s` +
            (e.lastHeartbeatAt === null ? ' of the publish' : ` of the last one (${e.heartbeats} seen)`) +
            `: the caller gives up although the ${e.timeoutMs} ms timeout has not passed`,
        );
      } else this.push(e, e.deadline, 'timeout', `no final reply within ${e.timeoutMs} ms`);
      const restart = e.replyQ && (e.restartedTo !== null || this.restartedSince(e, nowMs)) ? this.restartVerdict(e, e.firehose) : null;
      const v = restart ?? (e.firehose ? classifyFirehose(e, facts, this.targetQueues(e), this.giveUpAt(e)) : classifyBindings(e, facts));
      if (v === null && e.firehose) {
        this.push(e, nowMs, 'classified', 'reply published in time; its delivery was not traced');
        const c = this.finish(e, nowMs);
        if (c) changed.push(c);
        continue;
      }
      if (v === null) {
        this.markDone(e);
        e.outcome = 'unobserved';
        e.causeCertain = false;
        e.indistinguishable = [...BINDINGS_BLIND_CAUSES];
        e.causeDetail =
          'replies are invisible in bindings mode (they go through the default exchange): the call may have succeeded, or be stuck for one of: ' +
          BINDINGS_BLIND_CAUSES.join(', ') +
          '. Turn the firehose on to tell them apart.';
        e.updatedAt = nowMs;
        this.push(e, nowMs, 'classified', 'outcome not observable in bindings mode');
        changed.push(this.change(e, 'state'));
        continue;
      }
      const c = this.setCause(e, nowMs, v);
      if (c) changed.push(c);
    }
    return changed;
  }

  /**
   * When the caller gives up: its timeout, or for call-monitor calls seen
   * through the firehose, `_timeout` after the last heartbeat (or the publish)
   * if that comes first (amqpdriver ReplyWaiter.wait).
   */
  private giveUpAt(e: Entry): number {
    return Math.min(e.deadline, e.monitorLapsedAt ?? Infinity, this.monitorDeadline(e) ?? Infinity);
  }

  private monitorDeadline(e: Entry): number | null {
    if (!e.firehose || e.callMonitorTimeout === null || !(e.callMonitorTimeout > 0)) return null;
    return (e.lastHeartbeatAt ?? e.publishedAt) + e.callMonitorTimeout * 1000;
  }

  /** The caller's client connection name: the publisher's (firehose) or the reply queue's consumer when the call was made. */
  private callerName(e: Entry): string | null {
    if (!e.publisherName && e.publisherConnection) e.publisherName = this.options.resolveConnection?.(e.publisherConnection) ?? null;
    return e.publisherName ?? e.callerEpoch;
  }

  /** The reply queue is consumed by another process than the caller's, since after the call was made (by `nowMs`). */
  private restartedSince(e: Entry, nowMs: number): boolean {
    if (!e.replyQ) return false;
    const callerName = this.callerName(e);
    const cur = this.epochs.current(e.replyQ);
    if (!callerName || !cur || cur.firstSeen > nowMs || !differentProcess(cur.connectionName, callerName)) return false;
    // the new consumer showed up after the call was made, or the caller was seen consuming at publish time
    if (cur.firstSeen >= e.publishedAt || e.callerEpoch !== null) {
      e.restartedTo = cur.connectionName;
      return true;
    }
    return false;
  }

  private restartVerdict(e: Entry, certain: boolean): Verdict {
    const q = e.replyQ ?? '?';
    const qm = e.replyQ ? parseReplyQueue(e.replyQ)?.queueManager : null;
    const was = this.callerName(e);
    const now = e.restartedTo;
    const epoch: ReplyEpoch | null = e.replyQ ? this.epochs.current(e.replyQ) : null;
    const reply =
      e.replyAt === null
        ? 'no reply was published yet; when it comes it goes to the new process'
        : `the ${e.outcome === 'failure' ? 'failure' : 'result'} published ${e.replyAt - e.publishedAt} ms after the call went to the new process`;
    return verdict(
      'late_reply_across_restart',
      `the caller ${was ? (processOf(was) ?? was) : '?'} is gone: ${qm ? `its service ${qm.process} on ${qm.host} restarted and` : 'the reply queue was'} re-consumed ${q} as ${now ? (processOf(now) ?? now) : 'a new process'}` +
        `${epoch && epoch.connectionName === now ? ` (since ${new Date(epoch.firstSeen).toISOString()})` : ''}; ${reply}, which drops it ("No calling threads waiting for msg_id")`,
      certain,
      certain ? [] : ['no_reply'],
    );
  }

  private setCause(e: Entry, nowMs: number, { cause, detail, certain, indistinguishable }: Verdict): CallChange | null {
    const before = { state: e.state, cause: e.cause };
    e.state = 'stuck';
    e.cause = cause;
    e.causeDetail = detail;
    e.causeCertain = certain;
    e.indistinguishable = indistinguishable.length === 0 ? NO_CAUSES : indistinguishable;
    e.updatedAt = nowMs;
    this.push(e, nowMs, 'classified', cause);
    if (before.state === 'done') this.doneOrder.delete(e.msgId);
    if (before.state !== 'stuck') return this.change(e, 'state');
    if (before.cause !== cause) return this.change(e, 'cause');
    return null;
  }

  private push(e: Entry, ts: number, event: CallEvent, text: string): void {
    this.pushKept(e, ts, event, this.strings.string(text));
  }

  /** push() of a text that is already shared (TimelineTexts): not interned again. */
  private pushKept(e: Entry, ts: number, event: CallEvent, detail: string): void {
    e.updatedAt = Math.max(e.updatedAt, ts);
    const last = e.timeline[e.timeline.length - 1];
    if (last && last.event === event && (event === 'heartbeat' || event === 'reply_unroutable' || event === 'published')) {
      // collapse repeats (heartbeats every _timeout/2 s, unroutable reply retries every 0.25 s)
      const m = /^(.*) \(×(\d+)\)$/.exec(last.detail);
      const n = m ? Number(m[2]) + 1 : 2;
      this.grow(e, detail.length + 8 - last.detail.length);
      e.timeline[e.timeline.length - 1] = timelineEntry(ts, event, `${detail} (×${n})`);
      return;
    }
    if (e.timeline.length >= this.maxTimeline) {
      // keep the start of the story and the newest entry
      this.grow(e, detail.length - e.timeline[e.timeline.length - 1].detail.length);
      e.timeline[e.timeline.length - 1] = timelineEntry(ts, event, detail);
      return;
    }
    this.grow(e, TIMELINE_ENTRY_BYTES + detail.length);
    e.timeline.push(timelineEntry(ts, event, detail));
  }

  private insert(e: Entry): void {
    if (this.calls.size >= this.maxCalls) this.evictOne();
    while (this.calls.size > 0 && this.totalBytes + e.bytes > this.maxCallBytes) this.evictOne();
    this.calls.set(e.msgId, e);
    this.totalBytes += e.bytes;
  }

  /** estimated bytes the kept calls hold */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Evict the oldest finished call, else the oldest call. */
  private evictOne(): void {
    let victim: string | undefined = this.doneOrder.values().next().value;
    if (victim === undefined) victim = this.calls.keys().next().value;
    if (victim === undefined) return;
    this.totalBytes -= (this.calls.get(victim) as Entry).bytes;
    this.calls.delete(victim);
    this.doneOrder.delete(victim);
    this.evicted++;
  }

  private resolveCaller(e: Entry): void {
    if (e.caller.connectionName || !e.replyQ) return;
    const c = this.options.resolveCaller?.(e.replyQ);
    if (c) e.caller = c;
  }

  private record(e: Entry): CallRecord {
    this.resolveCaller(e);
    if (!e.caller.connectionName && e.callerConnection) {
      const name = this.options.resolveConnection?.(e.callerConnection) ?? null;
      if (name) e.caller = { process: processOf(name) ?? name, connectionName: name };
    }
    if (!e.serverProcess && e.serverConnection) {
      const name = this.options.resolveConnection?.(e.serverConnection) ?? null;
      if (name) e.serverProcess = processOf(name) ?? name;
    }
    return {
      msgId: e.msgId,
      method: e.method,
      // the target, the timeline's entries and the failure are frozen and shared, not copied per record
      target: e.target,
      caller: {
        replyQ: e.replyQ,
        process: e.caller.process ?? processOf(this.callerName(e)),
        connectionName: e.caller.connectionName,
        queueManager: e.replyQ ? (parseReplyQueue(e.replyQ)?.queueManager ?? null) : null,
      },
      serverProcess: e.serverProcess,
      requestId: e.requestId,
      globalRequestId: e.globalRequestId,
      publishedAt: e.publishedAt,
      timeoutMs: e.timeoutMs,
      timeoutSource: e.timeoutSource,
      deadline: e.deadline,
      callMonitorTimeout: e.callMonitorTimeout,
      monitorDeadline: this.monitorDeadline(e),
      state: e.state,
      outcome: e.outcome,
      cause: e.cause,
      causeDetail: e.causeDetail,
      causeCertain: e.causeCertain,
      indistinguishable: e.indistinguishable.length === 0 ? NO_CAUSES : [...e.indistinguishable],
      heartbeats: e.heartbeats,
      lastHeartbeatAt: e.lastHeartbeatAt,
      failure: e.failure,
      timeline: e.timeline.slice(),
      latencyMs: e.latencyMs,
      updatedAt: e.updatedAt,
    };
  }

  get(msgId: string): CallRecord | null {
    const e = this.calls.get(msgId);
    return e ? this.record(e) : null;
  }

  /** Calls, newest first; `state` filters. */
  list(query: { state?: CallState; limit?: number } = {}): CallRecord[] {
    const limit = query.limit ?? 500;
    const out: CallRecord[] = [];
    const all = [...this.calls.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const e = all[i];
      if (query.state && e.state !== query.state) continue;
      out.push(this.record(e));
    }
    return out;
  }

  counts(): { inflight: number; stuck: number; done: number; byCause: Record<StuckCause, number> } {
    const byCause: Record<StuckCause, number> = {
      unroutable: 0,
      no_consumer: 0,
      expired_in_queue: 0,
      no_reply: 0,
      reply_queue_gone: 0,
      late_reply: 0,
      late_reply_across_restart: 0,
    };
    let inflight = 0;
    let stuck = 0;
    let done = 0;
    for (const e of this.calls.values()) {
      if (e.state === 'inflight') inflight++;
      else if (e.state === 'done') done++;
      else {
        stuck++;
        if (e.cause) byCause[e.cause]++;
      }
    }
    return { inflight, stuck, done, byCause };
  }

  /** Reply queues of in-flight calls whose caller is not known yet (to look up). */
  unresolvedReplyQueues(): string[] {
    const out = new Set<string>();
    for (const e of this.calls.values()) {
      if (e.state === 'inflight' && !e.caller.connectionName && e.replyQ) out.add(e.replyQ);
    }
    return [...out];
  }
}
