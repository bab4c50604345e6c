/**
 * Recovery written once over the driver seam, following
 * impl_rabbit.Connection.ensure / ensure_connection / _set_current_channel:
 * every declare, bind, qos and consume is recorded; when the link dies the
 * next host is tried with kombu's backoff (interval_start, +interval_step per
 * attempt, capped at interval_max, plus kombu_reconnect_delay) and, once
 * connected, the whole topology is replayed and consumers re-issued with the
 * same tags.
 *
 * `listen` links recover in the background at once (a consumer must come
 * back by itself); `send` links recover lazily on their next use, bounded by
 * the caller's `retry` count like oslo's ensure(retry=...).
 *
 * Two deliberate departures from kombu for `listen` links, because a tap or a
 * server that is not consuming loses traffic:
 * - the first reconnect attempts are quick (QUICK_RECOVERY: 50 ms doubling to
 *   500 ms, jittered) for the first minute of an outage, then kombu's capped
 *   backoff; kombu's 1 s + 2 s steps + 1 s reconnect delay left a tap deaf for
 *   up to 6 s after the broker was back;
 * - a replay step whose target vanished while we were away (a peer's
 *   auto-delete `<topic>_fanout` exchange, a queue someone else declared) is
 *   skipped and counted (`skipped`, `lastSkipped`) instead of ending recovery:
 *   exchanges and queues this link did not declare are checked passively (a
 *   scratch channel, so a 404 does not kill the link) before binding to or
 *   consuming from them.
 */
import { BrokerRefusal, ConnectionLost, MessageDeliveryFailure, MessagingError } from './errors.ts';
import { PromiseSink } from './driver.ts';
import type {
  ConsumeOptions,
  Delivery,
  DeliveryHandler,
  Driver,
  EnsureOutcome,
  ExchangeOptions,
  ExchangeType,
  Link,
  PublishOptions,
  PublishSink,
  QueueInfo,
  QueueOptions,
} from './driver.ts';

export interface RetryPolicy {
  /** rabbit_retry_interval (s) → ms */
  intervalStartMs: number;
  /** rabbit_retry_backoff (s) → ms, added per attempt (kombu interval_step) */
  intervalStepMs: number;
  /** rabbit_interval_max (s) → ms */
  intervalMaxMs: number;
  /** kombu_reconnect_delay (s) → ms, slept before each reconnect */
  reconnectDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  intervalStartMs: 1000,
  intervalStepMs: 2000,
  intervalMaxMs: 30_000,
  reconnectDelayMs: 1000,
};

/** Background recovery of `listen` links: quick, jittered first attempts, then the RetryPolicy backoff. */
export interface QuickRecovery {
  /** delay before the first reconnect attempt; doubled per attempt up to maxMs */
  firstMs: number;
  maxMs: number;
  /** quick attempts for this long after the link went down, then RetryPolicy's backoff */
  windowMs: number;
}

export const QUICK_RECOVERY: QuickRecovery = { firstMs: 50, maxMs: 500, windowMs: 60_000 };

/**
 * Delay before background reconnect attempt n (0-based) of a listen link that
 * went down `downForMs` ago: min(maxMs, firstMs·2ⁿ) × U(0.5, 1) while within
 * the quick window (so a link is never more than maxMs behind a broker that is
 * back), then backoffDelay() counted from the end of the window.
 */
export function recoveryDelay(
  policy: RetryPolicy,
  quick: QuickRecovery,
  attempt: number,
  downForMs: number,
  quickAttempts: number,
  random = Math.random,
): number {
  if (downForMs < quick.windowMs) {
    const base = Math.min(quick.maxMs, quick.firstMs * 2 ** Math.min(attempt, 30));
    return Math.max(1, Math.round(base * (0.5 + 0.5 * random())));
  }
  return backoffDelay(policy, Math.max(0, attempt - quickAttempts), random);
}

/** A replay step skipped because its target no longer exists on the broker. */
export interface ReplaySkip {
  kind: 'binding' | 'consumer';
  /** the exchange (binding) or queue that vanished */
  missing: string;
  missingKind: 'exchange' | 'queue';
  queue: string;
  exchange?: string;
  routingKey?: string;
}

export type LinkState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface LinkLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ResilientLinkOptions {
  connectionName: string;
  purpose: 'send' | 'listen';
  policy?: RetryPolicy;
  /** background recovery of listen links (default QUICK_RECOVERY) */
  quickRecovery?: QuickRecovery;
  log?: LinkLogger;
  /** state changes (connected / disconnected / closed), for status() and the dashboard */
  onState?: (state: LinkState, detail: { endpoint?: string; error?: Error; attempt?: number }) => void;
}

interface Binding {
  queue: string;
  exchange: string;
  routingKey: string;
  args?: Record<string, unknown>;
}

interface Consumer {
  queue: string;
  handler: DeliveryHandler;
  options: ConsumeOptions;
  replayArguments?: () => Record<string, unknown>;
  tag: string;
}

export interface ResilientConsumeOptions extends ConsumeOptions {
  /** consumer arguments for a re-consume after a reconnect (a stream consumer resumes at its next offset) */
  replayArguments?: () => Record<string, unknown>;
}

/** Delay before reconnect attempt n (0-based), with ±20% jitter so a fleet does not reconnect in lockstep. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const base = Math.min(policy.intervalMaxMs, policy.intervalStartMs + policy.intervalStepMs * attempt);
  const jitter = 0.8 + 0.4 * random();
  return Math.round(base * jitter) + policy.reconnectDelayMs;
}

export class ResilientLink {
  private link: Link | undefined;
  private connecting: Promise<Link> | undefined;
  private closed = false;
  private state: LinkState = 'idle';
  private readonly policy: RetryPolicy;
  /** `ensure`: declared only when missing (ensureExchange/ensureQueue), replayed the same way */
  private readonly exchanges = new Map<string, { type: ExchangeType; options: ExchangeOptions; ensure: boolean }>();
  private readonly queues = new Map<string, { options: QueueOptions; ensure: boolean }>();
  private readonly bindings = new Map<string, Binding>();
  private readonly consumers = new Map<string, Consumer>();
  private prefetchCount: number | undefined;
  private readonly deliveredOn = new WeakMap<Delivery, Link>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private recoveryWaiters: ((link: Link | undefined, err?: Error) => void)[] = [];
  /** times this link came back after a failure */
  reconnects = 0;
  /** replay steps skipped because their exchange or queue had vanished, since the link was made */
  skipped = 0;
  /** what the most recent successful replay skipped */
  lastSkipped: ReplaySkip[] = [];
  /** when the link went down (start of the current outage) */
  private downSince: number | undefined;
  /** while reconnecting: why the last attempt failed, which attempt comes next (1-based) and when (ms since the epoch) */
  retry: { error: string; attempt: number; nextAt: number } | null = null;

  constructor(
    private readonly driver: Driver,
    private readonly options: ResilientLinkOptions,
  ) {
    this.policy = options.policy ?? DEFAULT_RETRY_POLICY;
  }

  get connectionName(): string {
    return this.options.connectionName;
  }

  get endpoint(): string | undefined {
    return this.link?.endpoint;
  }

  get currentState(): LinkState {
    return this.state;
  }

  get isConnected(): boolean {
    return !!this.link?.isOpen;
  }

  private setState(state: LinkState, detail: { endpoint?: string; error?: Error; attempt?: number } = {}): void {
    this.state = state;
    this.options.onState?.(state, detail);
  }

  /**
   * Connect (or return the live link). `retry` bounds the attempts like
   * oslo's ensure(retry): null/undefined or negative = forever, 0 = one attempt only.
   */
  async connect(retry: number | null = null): Promise<Link> {
    if (retry !== null && retry < 0) retry = null;
    if (this.closed) throw new MessagingError(`Connection ${this.connectionName} is closed`);
    if (this.link?.isOpen) return this.link;
    if (!this.connecting) {
      const attempt = this.connectLoop(retry).finally(() => {
        this.connecting = undefined;
      });
      this.connecting = attempt;
      attempt.catch((err: Error) => this.afterFailedConnect(err));
    }
    return this.connecting;
  }

  /** True while a connect loop runs (an attempt in flight or a backoff sleep before the next). */
  get retrying(): boolean {
    return this.connecting !== undefined;
  }

  /**
   * A connect loop that gave up never leaves the link `connecting`: it is
   * `disconnected`, and a listen link whose loop was bounded by a caller's
   * `retry` (a passive check while down) goes back to background recovery.
   */
  private afterFailedConnect(err: Error): void {
    if (this.closed || this.link?.isOpen) return;
    this.setState('disconnected', { error: err });
    if (this.options.purpose === 'listen' && isRecoverable(err)) this.scheduleRecovery();
  }

  private async connectLoop(retry: number | null): Promise<Link> {
    let attempt = 0;
    let quickAttempts = 0;
    /** attempts that failed on a racing replay step: they do not grow the back-off */
    let racingAttempts = 0;
    const quick = this.options.purpose === 'listen' ? (this.options.quickRecovery ?? QUICK_RECOVERY) : null;
    this.downSince ??= Date.now();
    for (;;) {
      this.setState('connecting', { attempt });
      let replaying = false;
      try {
        const link = await this.driver.connect({ connectionName: this.connectionName, attempt });
        if (this.closed) {
          await link.close();
          throw new MessagingError(`Connection ${this.connectionName} is closed`);
        }
        let skips: ReplaySkip[];
        try {
          replaying = true;
          skips = await this.replay(link);
        } catch (err) {
          await link.close().catch(() => undefined);
          throw err;
        }
        this.retry = null;
        this.adopt(link, skips);
        return link;
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        if (this.closed) throw error;
        // A broker-side refusal of our topology (406, 403, ...) will not heal by retrying. A 404 or
        // 405 during replay will: something vanished between the passive check and the step (next
        // replay skips it), or our exclusive queue of the dead connection is not deleted yet.
        const racing = replaying && (error as MessagingError).code !== undefined && [404, 405].includes((error as MessagingError).code as number);
        // A listen link coming back from a loss keeps trying when the broker refuses the handshake itself (530:
        // the vhost is not started yet; 403: its user database is still loading): a restarted broker says so for
        // a moment after it accepts connections, and oslo's services keep trying too. The first connect still
        // fails at once, so a wrong URL, user or vhost is an error, not a silent loop.
        const rebooting = !replaying && this.hadLink && this.options.purpose === 'listen' && isHandshakeRefusal(error);
        if (!racing && !rebooting && !isRecoverable(error)) throw error;
        if (retry !== null && attempt >= retry) {
          throw new MessageDeliveryFailure(
            `Unable to connect to AMQP server after ${attempt + 1} tries: ${error.message}`,
            { cause: error, code: racing ? undefined : (error as MessagingError).code },
          );
        }
        const downFor = Date.now() - (this.downSince ?? Date.now());
        // A racing replay step met a broker that is up and answering: it only has to let go of the dead
        // connection's exclusive queue (405) or finish a deletion (404), which it does within moments. The
        // next try comes after the first quick delay, not the back-off this outage has grown to (up to
        // maxMs per refusal, plus a whole reconnect, each time the broker is slow to let go).
        const delay = !quick
          ? backoffDelay(this.policy, attempt)
          : racing && downFor < quick.windowMs
            ? recoveryDelay(this.policy, quick, 0, downFor, 0)
            : recoveryDelay(this.policy, quick, attempt - racingAttempts, downFor, quickAttempts - racingAttempts);
        if (racing) racingAttempts += 1;
        if (quick && downFor < quick.windowMs) quickAttempts = attempt + 1;
        this.retry = { error: error.message, attempt: attempt + 1, nextAt: Date.now() + delay };
        this.options.log?.warn(
          { connection: this.connectionName, attempt, delayMs: delay, err: error.message },
          `AMQP server is unreachable: ${error.message}. Trying again in ${(delay / 1000).toFixed(1)} seconds.`,
        );
        await sleep(delay);
        if (this.closed) throw new MessagingError(`Connection ${this.connectionName} is closed`);
        attempt += 1;
      }
    }
  }

  /**
   * Re-declare everything on a fresh link, in oslo's order: exchanges, queues, bindings, qos, consumers.
   * Bindings to exchanges and consumers on queues this link did not declare are checked passively first;
   * what vanished is skipped, forgotten (the owner re-binds when it comes back) and returned.
   */
  private async replay(link: Link): Promise<ReplaySkip[]> {
    for (const [name, e] of this.exchanges) {
      if (e.ensure) await link.ensureExchange(name, e.type, e.options);
      else await link.assertExchange(name, e.type, e.options);
    }
    for (const [name, q] of this.queues) {
      if (q.ensure) await link.ensureQueue(name, q.options);
      else await link.assertQueue(name, q.options);
    }
    const skips: ReplaySkip[] = [];
    const present = new Map<string, Promise<boolean>>();
    const exists = (kind: 'exchange' | 'queue', name: string): Promise<boolean> => {
      // ours were just declared; the default exchange and amq.* always exist
      if (kind === 'exchange' && (name === '' || name.startsWith('amq.') || this.exchanges.has(name))) return Promise.resolve(true);
      if (kind === 'queue' && this.queues.has(name)) return Promise.resolve(true);
      const key = `${kind}\0${name}`;
      let p = present.get(key);
      if (!p) {
        const check = kind === 'exchange' ? link.checkExchange(name) : link.checkQueue(name);
        p = check.then(
          () => true,
          (err: unknown) => {
            if ((err as MessagingError).code === 404) return false;
            throw err;
          },
        );
        present.set(key, p);
      }
      return p;
    };
    // the checks run side by side (a tap may be bound to hundreds of fanout exchanges), 16 at a time
    const wanted: ['exchange' | 'queue', string][] = [];
    for (const b of this.bindings.values()) wanted.push(['queue', b.queue], ['exchange', b.exchange]);
    for (const c of this.consumers.values()) wanted.push(['queue', c.queue]);
    for (let i = 0; i < wanted.length; i += 16) await Promise.all(wanted.slice(i, i + 16).map(([k, n]) => exists(k, n)));
    for (const [key, b] of [...this.bindings]) {
      const missing = !(await exists('queue', b.queue)) ? 'queue' : !(await exists('exchange', b.exchange)) ? 'exchange' : null;
      if (missing) {
        this.bindings.delete(key);
        skips.push({ kind: 'binding', missing: missing === 'queue' ? b.queue : b.exchange, missingKind: missing, queue: b.queue, exchange: b.exchange, routingKey: b.routingKey });
        continue;
      }
      await link.bindQueue(b.queue, b.exchange, b.routingKey, b.args);
    }
    if (this.prefetchCount !== undefined) await link.prefetch(this.prefetchCount);
    for (const [tag, c] of [...this.consumers]) {
      if (!(await exists('queue', c.queue))) {
        this.consumers.delete(tag);
        skips.push({ kind: 'consumer', missing: c.queue, missingKind: 'queue', queue: c.queue });
        continue;
      }
      const args = c.replayArguments ? c.replayArguments() : c.options.arguments;
      await link.consume(c.queue, this.wrap(link, c.handler, c.options), { ...c.options, ...(args ? { arguments: args } : {}), consumerTag: c.tag });
    }
    return skips;
  }

  private adopt(link: Link, skips: ReplaySkip[] = []): void {
    const recovered = this.hadLink;
    this.hadLink = true;
    this.link = link;
    this.downSince = undefined;
    this.lastSkipped = skips;
    this.skipped += skips.length;
    link.onClose((err) => this.onLinkClosed(link, err));
    if (skips.length > 0) {
      this.options.log?.warn(
        { connection: this.connectionName, skipped: skips.map((k) => `${k.kind} ${k.exchange ?? ''}→${k.queue} (${k.missingKind} ${k.missing} vanished)`) },
        `Skipped ${skips.length} replay step(s) whose exchange or queue no longer exists`,
      );
    }
    if (recovered) {
      this.reconnects += 1;
      this.options.log?.info({ connection: this.connectionName, endpoint: link.endpoint }, 'Reconnected to AMQP server');
    }
    this.setState('connected', { endpoint: link.endpoint });
    for (const w of this.recoveryWaiters.splice(0)) w(link);
  }

  private hadLink = false;

  private onLinkClosed(link: Link, err?: Error): void {
    if (this.link !== link) return;
    this.link = undefined;
    if (this.closed) return;
    this.downSince = Date.now();
    const error = err ?? new ConnectionLost(`Connection to ${link.endpoint} closed`);
    this.setState('disconnected', { endpoint: link.endpoint, error });
    // A refusal closed the channel (or connection) under an operation whose
    // caller gets the error itself; a listen link's failed recovery is
    // logged by scheduleRecovery.
    const quiet = error instanceof BrokerRefusal;
    (quiet ? this.options.log?.info : this.options.log?.warn)?.call(
      this.options.log,
      { connection: this.connectionName, endpoint: link.endpoint, err: error.message },
      'AMQP connection lost',
    );
    if (this.options.purpose === 'listen') this.scheduleRecovery();
  }

  private scheduleRecovery(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed || this.link?.isOpen) return;
      // joins a connect loop already running; afterFailedConnect sets `disconnected` and, for a
      // bounded loop that ran out of tries, schedules this again
      this.connect(null).catch((err: Error) => {
        if (this.reconnectTimer) return; // a bounded loop ran out of tries; recovery is scheduled again
        // Topology refused: give up loudly rather than loop on a 406 (the owner rebuilds).
        this.options.log?.warn({ connection: this.connectionName, err: err.message }, 'Recovery failed');
        for (const w of this.recoveryWaiters.splice(0)) w(undefined, err);
      });
    }, 0);
  }

  /** Wait until the link is back (listen links). Resolves false if it was closed instead. */
  waitForRecovery(): Promise<boolean> {
    if (this.link?.isOpen) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => this.recoveryWaiters.push((link) => resolve(!!link)));
  }

  /**
   * The handler a consumer gets on `link`: each delivery remembers its link so
   * that ack/reject go to the channel that delivered it, never to a newer one.
   * A no-ack consumer's deliveries are never acked: its handler is used as it is.
   */
  private wrap(link: Link, handler: DeliveryHandler, options: ConsumeOptions): DeliveryHandler {
    if (options.noAck) return handler;
    return (d) => {
      this.deliveredOn.set(d, link);
      handler(d);
    };
  }

  /** Run an operation on the live link; a connection-level failure is retried after reconnecting. */
  private async run<T>(fn: (link: Link) => Promise<T>, retry: number | null): Promise<T> {
    if (retry !== null && retry < 0) retry = null; // ensure(): `retry is None or retry < 0` means forever
    let attempts = 0;
    for (;;) {
      const link = await this.connect(retry === null ? null : Math.max(0, retry - attempts));
      try {
        return await fn(link);
      } catch (err) {
        if (link.isOpen || this.closed || !isRecoverable(err)) throw err;
        // The link died under the operation: reconnect and try again, like ensure().
        attempts += 1;
        if (retry !== null && attempts > retry) {
          throw new ConnectionLost(`Connection lost during operation: ${(err as Error).message}`, { cause: err });
        }
      }
    }
  }

  async assertExchange(name: string, type: ExchangeType, options: ExchangeOptions): Promise<void> {
    await this.run((l) => l.assertExchange(name, type, options), null);
    this.exchanges.set(name, { type, options, ensure: false });
  }

  /** Declare the exchange unless it exists (Link.ensureExchange); after a reconnect, the same again. */
  async ensureExchange(name: string, type: ExchangeType, options: ExchangeOptions): Promise<EnsureOutcome> {
    const outcome = await this.run((l) => l.ensureExchange(name, type, options), null);
    this.exchanges.set(name, { type, options, ensure: true });
    return outcome;
  }

  /** Declare the queue unless it exists (Link.ensureQueue); after a reconnect, the same again. */
  async ensureQueue(name: string, options: QueueOptions): Promise<EnsureOutcome> {
    const outcome = await this.run((l) => l.ensureQueue(name, options), null);
    this.queues.set(name, { options, ensure: true });
    return outcome;
  }

  /** True when the exchange was declared on this connection (replayed after reconnects). */
  hasExchange(name: string): boolean {
    return this.exchanges.has(name);
  }

  hasQueue(name: string): boolean {
    return this.queues.has(name);
  }

  async assertQueue(name: string, options: QueueOptions): Promise<QueueInfo> {
    const info = await this.run((l) => l.assertQueue(name, options), null);
    this.queues.set(info.queue, { options, ensure: false });
    return info;
  }

  checkQueue(name: string): Promise<QueueInfo> {
    return this.run((l) => l.checkQueue(name), 0);
  }

  checkExchange(name: string): Promise<void> {
    return this.run((l) => l.checkExchange(name), 0);
  }

  async bindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void> {
    await this.run((l) => l.bindQueue(queue, exchange, routingKey, args), null);
    this.bindings.set(`${queue}\0${exchange}\0${routingKey}`, { queue, exchange, routingKey, args });
  }

  async unbindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void> {
    this.bindings.delete(`${queue}\0${exchange}\0${routingKey}`);
    await this.run((l) => l.unbindQueue(queue, exchange, routingKey, args), 0);
  }

  async deleteQueue(name: string): Promise<void> {
    this.forgetQueue(name);
    await this.run((l) => l.deleteQueue(name), 0);
  }

  /** Stop replaying a queue (and its bindings/consumers) after reconnects. */
  forgetQueue(name: string): void {
    this.queues.delete(name);
    for (const [k, b] of this.bindings) if (b.queue === name) this.bindings.delete(k);
    for (const [k, c] of this.consumers) if (c.queue === name) this.consumers.delete(k);
  }

  async prefetch(count: number): Promise<void> {
    this.prefetchCount = count;
    await this.run((l) => l.prefetch(count), null);
  }

  publish(exchange: string, routingKey: string, body: Buffer, options: PublishOptions, retry: number | null = null): Promise<void> {
    return new Promise<void>((resolve, reject) => this.publishTo(exchange, routingKey, body, options, retry, new PromiseSink(resolve, reject)));
  }

  /**
   * publish() without a promise: the outcome goes to `sink`. On a live link
   * the publish is handed to it at once (run() would first await connect(),
   * two promise hops per publish before the driver sees it); a link that died
   * under it is reconnected and the publish retried, as run() does.
   */
  publishTo(exchange: string, routingKey: string, body: Buffer, options: PublishOptions, retry: number | null, sink: PublishSink): void {
    const link = this.link;
    if (link !== undefined && link.isOpen && !this.closed) {
      link.publishTo(exchange, routingKey, body, options, new LivePublish(this, link, exchange, routingKey, body, options, retry, sink));
      return;
    }
    this.publishSlowly(exchange, routingKey, body, options, retry, sink);
  }

  /** Through run(): connect first (bounded by `retry`), reconnect when the link dies under the publish. */
  publishSlowly(exchange: string, routingKey: string, body: Buffer, options: PublishOptions, retry: number | null, sink: PublishSink): void {
    this.run((l) => l.publish(exchange, routingKey, body, options), retry).then(
      () => sink.published(),
      (err: Error) => sink.publishFailed(err),
    );
  }

  async consume(queue: string, handler: DeliveryHandler, resilientOptions: ResilientConsumeOptions = {}): Promise<string> {
    const { replayArguments, ...options } = resilientOptions;
    const tag = await this.run((l) => l.consume(queue, this.wrap(l, handler, options), options), null);
    this.consumers.set(tag, { queue, handler, options, replayArguments, tag });
    return tag;
  }

  async cancel(consumerTag: string): Promise<void> {
    this.consumers.delete(consumerTag);
    if (this.link?.isOpen) await this.link.cancel(consumerTag);
  }

  ack(delivery: Delivery): void {
    const link = this.deliveredOn.get(delivery);
    // A delivery from a dead link cannot be acked; the broker redelivers it.
    if (link?.isOpen) link.ack(delivery);
  }

  reject(delivery: Delivery, requeue: boolean): void {
    const link = this.deliveredOn.get(delivery);
    if (link?.isOpen) link.reject(delivery, requeue);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const link = this.link;
    this.link = undefined;
    for (const w of this.recoveryWaiters.splice(0)) w(undefined);
    if (link) await link.close().catch(() => undefined);
    this.setState('closed');
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/**
 * A publish handed to a live link: its confirm goes straight to the caller's
 * sink; when the link died under it, it is tried again through run() with
 * one attempt used (ensure(): the retry count bounds reconnects).
 */
class LivePublish implements PublishSink {
  constructor(
    private readonly owner: ResilientLink,
    private readonly link: Link,
    private readonly exchange: string,
    private readonly routingKey: string,
    private readonly body: Buffer,
    private readonly options: PublishOptions,
    private readonly retry: number | null,
    private readonly sink: PublishSink,
  ) {}

  published(): void {
    this.sink.published();
  }

  publishFailed(err: Error): void {
    if (this.link.isOpen || this.owner.isClosed || !isRecoverable(err)) {
      this.sink.publishFailed(err);
      return;
    }
    // run(): `retry` null or negative means forever; otherwise this attempt counts against it
    const retry = this.retry === null || this.retry < 0 ? null : this.retry - 1;
    if (retry !== null && retry < 0) {
      this.sink.publishFailed(new ConnectionLost(`Connection lost during operation: ${err.message}`, { cause: err }));
      return;
    }
    this.owner.publishSlowly(this.exchange, this.routingKey, this.body, this.options, retry, this.sink);
  }
}

/**
 * Failures worth reconnecting for: socket errors (no AMQP code), 320
 * CONNECTION_FORCED (broker restart), 541 INTERNAL_ERROR (impl_rabbit
 * Consumer.declare sleeps and retries it, LP#1822778) unless the broker
 * says a deprecated feature is denied (RabbitMQ 4.3 `transient_nonexcl_queues`,
 * `global_qos`), which no retry changes. A channel refusal (403, 404 on a
 * passive check, 405, 406, 530) repeats forever if retried, so it is the
 * caller's to see.
 */
export function isRecoverable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 541) return !/deprecated/i.test((err as { message?: unknown }).message as string);
  return typeof code !== 'number' || code === 320;
}

/** The broker refused the connection's login or its vhost (connection.start-ok / connection.open), not a channel's operation. */
export function isHandshakeRefusal(err: unknown): boolean {
  const cause = err instanceof BrokerRefusal ? err : (err as { cause?: unknown } | null)?.cause;
  return cause instanceof BrokerRefusal && (cause.operation === 'connection.open' || cause.operation === 'connection.start-ok');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
