/**
 * oslo_messaging RPCServer (rpc/server.py) with the AMQP listener
 * (amqpdriver.RpcAMQPListener, AMQPIncomingMessage): declares oslo's topic,
 * topic.server and fanout queues, acks each request on receipt (at-most-once),
 * drops duplicates by `_unique_id`, runs endpoints with bounded concurrency
 * (executor_thread_pool_size), sends call-monitor heartbeats only when the
 * caller set `_timeout`, and replies on a pooled send connection with
 * mandatory=true, retrying a missing reply queue every 0.25 s until
 * kombu_missing_consumer_retry_timeout, then dropping replies to it for 60 s.
 */
import { BrokerRefusal, ExpectedFailure, MessageUndeliverable, MessagingError, NoSuchMethod, SerializationError } from './errors.ts';
import { encodeBody, osloProperties, serializeFailure, unpackContext, type Dict, type UnpackedMessage } from './envelope.ts';
import type { Delivery, PublishSink } from './driver.ts';
import type { OrderedDecoder } from './ordered-decoder.ts';
import { pingEndpoint, readRequest, RpcDispatcher, type AccessPolicy, type DispatchRequest, type Endpoint } from './dispatcher.ts';
import type { ResilientLink } from './resilient-link.ts';
import { requireTopic, type Target } from './target.ts';
import {
  consumerArguments,
  controlExchange,
  fanoutExchange,
  fanoutExchangeName,
  fanoutQueue,
  STREAM_START_OFFSET,
  topicQueue,
  topicRoutingKey,
} from './topology.ts';
import type { SendSpec, Transport } from './transport.ts';
import {
  DUP_MSG_CHECK_SIZE,
  MSG_ID_KEY,
  OBSOLETE_REPLY_QUEUES_SIZE,
  OBSOLETE_REPLY_QUEUES_TTL_MS,
  REPLY_RETRY_INTERVAL_MS,
  UNIQUE_ID_KEY,
  uuidHex,
} from './wire.ts';

export interface RpcServerOptions {
  /** executor_thread_pool_size (oslo default 64) */
  maxConcurrency?: number;
  accessPolicy?: AccessPolicy;
  /** rpc_ping_enabled: answer oslo_rpc_server_ping with "pong" */
  pingEnabled?: boolean;
  /** also listen on `<topic>_fanout` (default true) */
  fanout?: boolean;
}

export interface RpcServerStats {
  received: number;
  calls: number;
  casts: number;
  replies: number;
  failures: number;
  heartbeats: number;
  duplicates: number;
  malformed: number;
  running: number;
  queued: number;
  repliesAbandoned: number;
}

/** amqpdriver.ObsoleteReplyQueuesCache: reply queues found gone, remembered for 60 s. */
class ObsoleteReplyQueues {
  private readonly entries = new Map<string, number>();
  add(replyQ: string, now = Date.now()): void {
    this.entries.delete(replyQ);
    this.entries.set(replyQ, now + OBSOLETE_REPLY_QUEUES_TTL_MS);
    while (this.entries.size > OBSOLETE_REPLY_QUEUES_SIZE) this.entries.delete(this.entries.keys().next().value as string);
  }
  valid(replyQ: string, now?: number): boolean {
    if (this.entries.size === 0) return true;
    const until = this.entries.get(replyQ);
    if (until === undefined) return true;
    if (until <= (now ?? Date.now())) {
      this.entries.delete(replyQ);
      return true;
    }
    return false;
  }
}

export class RpcServer {
  private link: ResilientLink | undefined;
  private readonly decoder: OrderedDecoder;
  private readonly dispatcher: RpcDispatcher;
  private readonly exchange: string;
  private readonly topic: string;
  private fanoutQueue: string | undefined;
  /** stream fanout (rabbit_stream_fanout): where the consumer resumes after a reconnect */
  private nextStreamOffset: string | number = STREAM_START_OFFSET;
  private readonly recentUnique: string[] = [];
  private readonly obsolete = new ObsoleteReplyQueues();
  private readonly backlog: UnpackedMessage[] = [];
  private running = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private started = false;
  private stopping = false;
  private readonly maxConcurrency: number;
  private counters = {
    received: 0,
    calls: 0,
    casts: 0,
    replies: 0,
    failures: 0,
    heartbeats: 0,
    duplicates: 0,
    malformed: 0,
    repliesAbandoned: 0,
  };

  constructor(
    readonly transport: Transport,
    readonly target: Target,
    endpoints: Endpoint[],
    private readonly options: RpcServerOptions = {},
  ) {
    this.topic = requireTopic(target, 'listen');
    this.decoder = transport.orderedDecoder();
    if (!target.server) throw new MessagingError('An RPC server target needs a server name');
    this.exchange = target.exchange || transport.conf.control_exchange;
    const all = [...endpoints];
    if (options.pingEnabled ?? transport.conf.rpc_ping_enabled) all.push(pingEndpoint);
    this.dispatcher = new RpcDispatcher(all, options.accessPolicy ?? 'default');
    this.maxConcurrency = options.maxConcurrency ?? transport.conf.executor_thread_pool_size;
  }

  get queues(): string[] {
    const q = [this.topic, topicRoutingKey(this.topic, this.target.server)];
    if (this.fanoutQueue) q.push(this.fanoutQueue);
    return q;
  }

  stats(): RpcServerStats {
    return { ...this.counters, running: this.running, queued: this.backlog.length };
  }

  /**
   * Declare oslo's topology for the configured layout and start consuming
   * (impl_rabbit declare_topic_consumer ×2, declare_fanout_consumer).
   * Exchanges and queues that exist are joined as they are (Link.ensure*):
   * a topic whose services made `<topic>` quorum, the control exchange
   * durable or `<topic>_fanout` a stream is served without a 406. `retry`
   * bounds the first connection attempts (null = keep trying).
   */
  async start(retry: number | null = null): Promise<void> {
    if (this.started) return;
    this.started = true;
    const link = this.transport.createLink('listen');
    this.link = link;
    const topology = this.transport.topology;
    try {
      await link.connect(retry);
      const server = topicRoutingKey(this.topic, this.target.server);
      for (const name of [this.topic, server]) {
        await link.ensureExchange(this.exchange, 'topic', controlExchange(topology));
        await link.ensureQueue(name, topicQueue(topology));
        await link.bindQueue(name, this.exchange, name);
      }
      if (this.options.fanout !== false) {
        const fanout = await this.pickFanoutQueue(link);
        this.fanoutQueue = fanout.name;
        await link.ensureExchange(fanoutExchangeName(this.topic), 'fanout', fanoutExchange(topology));
        await this.ensureFanoutQueue(link, fanout);
        await link.bindQueue(fanout.name, fanoutExchangeName(this.topic), this.topic);
      }
      // _set_qos: basic.qos(0, N, global=False) on listen connections, only when N > 0
      if (topology.rabbit_qos_prefetch_count > 0) await link.prefetch(topology.rabbit_qos_prefetch_count);
      let tag = 1;
      for (const q of [this.topic, server]) {
        await link.consume(q, (d) => this.onDelivery(d), { consumerTag: String(tag++), arguments: consumerArguments(topology) });
      }
      if (this.fanoutQueue) {
        if (topology.rabbit_stream_fanout) {
          // Consumer.declare: a stream consumer starts at "last" and, after a
          // reconnect, resumes after the last offset it saw (Consumer._callback
          // reads x-stream-offset from each message).
          await link.consume(
            this.fanoutQueue,
            (d) => {
              const offset = d.properties.headers?.['x-stream-offset'];
              if (typeof offset === 'number' || typeof offset === 'bigint') this.nextStreamOffset = Number(offset) + 1;
              this.onDelivery(d);
            },
            { consumerTag: String(tag++), arguments: consumerArguments(topology, this.nextStreamOffset), replayArguments: () => consumerArguments(topology, this.nextStreamOffset) },
          );
        } else {
          await link.consume(this.fanoutQueue, (d) => this.onDelivery(d), { consumerTag: String(tag++), arguments: consumerArguments(topology) });
        }
      }
    } catch (err) {
      this.started = false;
      this.link = undefined;
      await link.close();
      throw err;
    }
  }

  /**
   * The fanout queue for the layout. A queue-manager name that another live
   * process is consuming from is skipped: two servers on one queue would
   * each get half of the fanouts. An unconsumed one is reused, as oslo does
   * after a restart.
   */
  private async pickFanoutQueue(link: ResilientLink): Promise<ReturnType<typeof fanoutQueue>> {
    const topology = this.transport.topology;
    const qm = this.transport.queueManager;
    if (!qm || topology.rabbit_stream_fanout) return fanoutQueue(topology, this.topic);
    for (let tries = 0; ; tries++) {
      const candidate = fanoutQueue(topology, this.topic, () => qm.get());
      try {
        const info = await link.checkQueue(candidate.name);
        if (info.consumerCount === 0 || tries >= 63) return candidate;
      } catch (err) {
        const code = (err as MessagingError).code;
        if (code === 404) return candidate;
        // 405: another connection's exclusive queue of that name, as taken as a consumed one
        if (code !== 405 || tries >= 63) throw err;
      }
    }
  }

  /**
   * The server's own fanout queue. oslo's default one is transient and
   * non-exclusive, which RabbitMQ 4.3 refuses where the
   * `transient_nonexcl_queues` deprecated feature is denied (541 with the
   * deprecation text, closing the connection). Only this server reads it and
   * a clean stop deletes it anyway, so it is declared exclusive there instead
   * (docs/wire.md#queues-osloscope-declares); the shared topic queues cannot be.
   */
  private async ensureFanoutQueue(link: ResilientLink, fanout: ReturnType<typeof fanoutQueue>): Promise<void> {
    try {
      await link.ensureQueue(fanout.name, fanout.options);
    } catch (err) {
      const denied = err instanceof BrokerRefusal && err.code === 541 && err.replyText.includes('transient_nonexcl_queues');
      if (!denied || fanout.options.durable || fanout.options.exclusive) throw err;
      this.transport.log.info({ queue: fanout.name }, 'Transient non-exclusive queues are denied by the broker: declaring the fanout queue exclusive');
      await link.ensureQueue(fanout.name, { ...fanout.options, exclusive: true });
    }
  }

  /** Decoded deliveries of every consumer, in order (one function for all, no closure per message). */
  private readonly onDecoded = (message: Dict, d: Delivery): void => {
    const link = this.link;
    if (link) this.onMessage(link, d, message);
  };

  /** impl_rabbit Consumer._callback: a body that cannot be decoded is rejected without requeue. */
  private readonly onUndecodable = (err: unknown, d: Delivery): void => {
    this.link?.reject(d, false);
    this.transport.reportMalformed(`rpc-server:${this.topic}`, d, err);
    this.counters.malformed += 1;
  };

  private onDelivery(d: Delivery): void {
    if (!this.link) return;
    this.counters.received += 1;
    this.decoder.push(d, this.onDecoded, this.onUndecodable);
  }

  private onMessage(link: ResilientLink, d: Delivery, message: Dict): void {
    // RpcAMQPListener.__call__: ack on receipt, before dispatch (at-most-once).
    link.ack(d);
    const uniqueId = message[UNIQUE_ID_KEY];
    if (typeof uniqueId === 'string') {
      if (this.recentUnique.includes(uniqueId)) {
        this.counters.duplicates += 1;
        this.transport.log.info({ uniqueId }, `Duplicate message detected and ignored: ${uniqueId}`);
        return;
      }
      this.recentUnique.push(uniqueId);
      if (this.recentUnique.length > DUP_MSG_CHECK_SIZE) this.recentUnique.shift();
    }
    const job = unpackContext(message);
    if (job.msgId) this.counters.calls += 1;
    else this.counters.casts += 1;
    if (this.running < this.maxConcurrency && this.backlog.length === 0) {
      this.startJob(job);
      this.checkIdle();
    } else {
      this.backlog.push(job);
    }
  }

  /**
   * Run one request in an executor slot. The slot is held until the reply is
   * confirmed (or given up); a request that needs no waiting (a cast to a
   * synchronous endpoint) frees it before start() returns. No promise is made
   * for a job that does not wait: the dispatch of a synchronous endpoint and
   * the reply's publish happen in the delivery's own turn, and the reply's
   * confirm frees the slot through a callback (FinalReply), not a promise.
   */
  private startJob(job: UnpackedMessage): void {
    this.running += 1;
    let waiting = false;
    try {
      waiting = this.process(job);
    } catch (err) {
      this.transport.log.error({ err: (err as Error).message }, 'RPC server job failed');
    }
    if (!waiting) this.running -= 1;
  }

  /** A job that process() said it would finish later is done: free its slot, start what waits. */
  private jobDone(): void {
    this.running -= 1;
    while (this.running < this.maxConcurrency) {
      const next = this.backlog.shift();
      if (!next) break;
      this.startJob(next);
    }
    this.checkIdle();
  }

  /** Wake stop() once nothing runs and nothing waits. */
  private checkIdle(): void {
    if (this.running === 0 && this.backlog.length === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private whenIdle(): Promise<void> {
    if (this.running === 0 && this.backlog.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Dispatch a request (RPCDispatcher.dispatch) and send its reply. Returns
   * true when the job finishes later (jobDone() is called once then), false
   * when there is nothing to wait for. An endpoint's promise (or thenable) is
   * awaited; a plain value is not, so a synchronous endpoint costs no promise hop.
   */
  private process(job: UnpackedMessage): boolean {
    const req = readRequest(job.message);
    const started = performance.now();
    const isCall = !!job.msgId && !!job.replyQ;
    // RPCDispatcher._watchdog: heartbeats every int(_timeout)/2 s, only when _timeout is truthy and >= 2.
    const watchdog = isCall && job.clientTimeout ? this.watchdog(job.msgId!, job.replyQ!, job.clientTimeout) : undefined;
    let result: unknown;
    let raisedByEndpoint = false;
    try {
      const { endpoint, fn } = this.dispatcher.resolve(req);
      raisedByEndpoint = true;
      result = fn.call(endpoint, job.ctxt, req.args);
    } catch (err) {
      watchdog?.stop();
      return this.finish(job, req, started, isCall, null, err, raisedByEndpoint);
    }
    if (isThenable(result)) {
      Promise.resolve(result)
        .then(
          (value) => {
            watchdog?.stop();
            if (!this.finish(job, req, started, isCall, value, NO_FAILURE, true)) this.jobDone();
          },
          (err: unknown) => {
            watchdog?.stop();
            if (!this.finish(job, req, started, isCall, null, err, true)) this.jobDone();
          },
        )
        .catch((err: unknown) => {
          this.transport.log.error({ err: (err as Error)?.message }, 'RPC server job failed');
          this.jobDone();
        });
      return true;
    }
    watchdog?.stop();
    return this.finish(job, req, started, isCall, result, NO_FAILURE, true);
  }

  /** Call-monitor heartbeats (an empty, not-ending reply) every int(_timeout)/2 s until stopped. */
  private watchdog(msgId: string, replyQ: string, clientTimeout: unknown): { stop(): void } | undefined {
    const interval = pyInt(clientTimeout) / 2;
    if (interval < 1) {
      this.transport.log.warn({ msgId }, `Client provided an invalid timeout value of ${String(clientTimeout)}`);
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const beat = (): void => {
      timer = setTimeout(() => {
        this.sendReply(msgId, replyQ, null, null, false, 0)
          .then(() => {
            this.counters.heartbeats += 1;
            if (timer) beat();
          })
          .catch((err: unknown) => {
            // a failed heartbeat stops the watchdog; the caller's own timeout takes over
            this.transport.log.debug({ msgId, err: (err as Error).message }, 'Call-monitor heartbeat failed');
            timer = undefined;
          });
      }, interval * 1000);
    };
    beat();
    return {
      stop() {
        if (timer) clearTimeout(timer);
        timer = undefined;
      },
    };
  }

  /**
   * rpc/server.py _process_incoming after the endpoint returned or raised: log, count, reply. True when
   * a reply was handed to the broker and its confirm will call jobDone().
   */
  private finish(job: UnpackedMessage, req: DispatchRequest, started: number, isCall: boolean, value: unknown, failure: unknown, raisedByEndpoint: boolean): boolean {
    const method = typeof req.method === 'string' ? req.method : String(req.method);
    const ok = failure === NO_FAILURE;
    if (this.transport.events.size > 0) {
      const elapsedMs = performance.now() - started;
      this.transport.events.emit({ type: 'server:dispatch', topic: this.topic, server: this.target.server ?? undefined, method, ok, elapsedMs });
    }
    if (!ok) {
      this.counters.failures += 1;
      // rpc/server.py _process_incoming: an exception the endpoint declared expected
      // (@expected_exceptions) and NoSuchMethod for *_ignore_errors are debug; the rest is logged loudly.
      const expected =
        (raisedByEndpoint && failure instanceof ExpectedFailure) || (failure instanceof NoSuchMethod && failure.method.endsWith('_ignore_errors'));
      const fields = { method, msgId: job.msgId, err: (failure as Error)?.message };
      if (expected) this.transport.log.debug(fields, 'Expected exception during message handling');
      else this.transport.log.warn(fields, 'Exception during message handling');
    }
    if (!isCall) return false; // casts never get replies, even on failure
    const failureText = ok ? null : serializeFailure(failure, method);
    const result = ok ? (value === undefined ? null : value) : null;
    return this.sendFinalReply(job.msgId!, job.replyQ!, result, failureText);
  }

  /**
   * The final reply of a call, its confirm reported to a FinalReply (no
   * promise). False when nothing was sent (a reply queue known gone, a reply
   * that could not be encoded): the job is done.
   */
  private sendFinalReply(msgId: string, replyQ: string, result: unknown, failure: string | null): boolean {
    if (!this.obsolete.valid(replyQ)) {
      this.transport.log.warn({ msgId, replyQ }, `${replyQ} doesn't exist, drop reply to ${msgId}`);
      return false;
    }
    const retryMs = this.transport.rabbit.kombu_missing_consumer_retry_timeout * 1000;
    let spec: SendSpec;
    try {
      spec = this.replySpec(msgId, replyQ, result, failure, true);
    } catch (err) {
      this.transport.log.error({ msgId, err: (err as Error).message }, 'Failed to send reply');
      return false;
    }
    this.transport.sendTo(spec, new FinalReply(this, msgId, replyQ, result, failure, retryMs, Date.now() + retryMs));
    return true;
  }

  /**
   * A final reply's publish came back (FinalReply): confirmed, or failed and
   * retried while its queue is missing (retryReply). Either way the job is done.
   * @internal
   */
  finalReplyFailed(reply: FinalReply, err: Error): void {
    this.retryReply(err, reply.msgId, reply.replyQ, reply.result, reply.failure, true, reply.retryMs, reply.deadline).then(
      () => this.finalReplySent(),
      (e: unknown) => {
        this.transport.log.error({ msgId: reply.msgId, err: (e as Error).message }, 'Failed to send reply');
        this.jobDone();
      },
    );
  }

  /** @internal */
  finalReplySent(): void {
    this.counters.replies += 1;
    this.jobDone();
  }

  /**
   * AMQPIncomingMessage.reply / _send_reply: one publish, mandatory unless
   * direct_mandatory_flag is off; a final reply to a missing queue is retried
   * every 0.25 s until the deadline (retryReply).
   */
  private sendReply(msgId: string, replyQ: string, result: unknown, failure: string | null, ending: boolean, missingQueueRetryMs: number): Promise<void> {
    if (!this.obsolete.valid(replyQ)) {
      this.transport.log.warn({ msgId, replyQ }, `${replyQ} doesn't exist, drop reply to ${msgId}`);
      return RESOLVED;
    }
    const deadline = Date.now() + missingQueueRetryMs;
    let sent: Promise<void>;
    try {
      sent = this.publishReply(msgId, replyQ, result, failure, ending);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return sent.catch((err: unknown) => this.retryReply(err, msgId, replyQ, result, failure, ending, missingQueueRetryMs, deadline));
  }

  /** Encode and publish one reply; a result that cannot be serialized becomes a failure reply. */
  private publishReply(msgId: string, replyQ: string, result: unknown, failure: string | null, ending: boolean): Promise<void> {
    return this.transport.send(this.replySpec(msgId, replyQ, result, failure, ending));
  }

  /** One reply, encoded, ready to publish; a result that cannot be serialized becomes a failure reply. */
  private replySpec(msgId: string, replyQ: string, result: unknown, failure: string | null, ending: boolean): SendSpec {
    let encoded: { body: Buffer; headers: Dict };
    const compression = this.transport.rabbit.kombu_compression === 'gzip' ? 'gzip' : null;
    try {
      encoded = encodeBody({ result, failure, ending, [MSG_ID_KEY]: msgId, [UNIQUE_ID_KEY]: uuidHex() }, { compression });
    } catch (err) {
      // A result that cannot be serialized becomes a failure reply, so the caller
      // learns why instead of timing out (Python raises in the same place).
      if (!(err instanceof SerializationError) || failure !== null) throw err;
      const text = serializeFailure(new ExpectedFailure('TypeError', 'builtins', err.message), 'reply');
      encoded = encodeBody({ result: null, failure: text, ending, [MSG_ID_KEY]: msgId, [UNIQUE_ID_KEY]: uuidHex() }, { compression });
    }
    const props = osloProperties(encoded.headers, { mandatory: this.transport.rabbit.direct_mandatory_flag });
    return { exchange: '', routingKey: replyQ, body: encoded.body, options: props };
  }

  /** The slow path of sendReply: the reply queue is missing (a returned mandatory publish). */
  private async retryReply(
    err: unknown,
    msgId: string,
    replyQ: string,
    result: unknown,
    failure: string | null,
    ending: boolean,
    missingQueueRetryMs: number,
    deadline: number,
  ): Promise<void> {
    for (;;) {
      if (!(err instanceof MessageUndeliverable)) throw err;
      if (!ending) throw new MessagingError('Heartbeat send failed. Missing queue', { cause: err });
      if (Date.now() >= deadline) {
        this.obsolete.add(replyQ);
        this.counters.repliesAbandoned += 1;
        this.transport.log.error(
          { msgId, replyQ },
          `The reply ${msgId} failed to send after ${Math.round(missingQueueRetryMs / 1000)} seconds due to a missing queue (${replyQ}). Abandoning...`,
        );
        return;
      }
      await new Promise((r) => setTimeout(r, REPLY_RETRY_INTERVAL_MS));
      try {
        await this.publishReply(msgId, replyQ, result, failure, ending);
        return;
      } catch (e) {
        err = e;
      }
    }
  }

  /**
   * server.stop() + wait(): stop consuming, let running requests finish and
   * reply, then close the listen connection. A clean close deletes the
   * fanout queue, except a stream (shared by every server) or a
   * queue-manager name (reused after a restart) (impl_rabbit Connection.close).
   */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    const link = this.link;
    if (link) {
      for (let tag = 1; tag <= this.queues.length; tag++) await link.cancel(String(tag)).catch(() => undefined);
    }
    await this.whenIdle();
    if (link) {
      const topology = this.transport.topology;
      const keep = topology.rabbit_stream_fanout || topology.use_queue_manager;
      if (this.fanoutQueue && !keep && link.isConnected) await link.deleteQueue(this.fanoutQueue).catch(() => undefined);
      await link.close();
    }
    this.link = undefined;
    this.started = false;
    this.stopping = false;
  }
}

/** A call's final reply in flight: its confirm frees the job's slot, a missing reply queue is retried. */
class FinalReply implements PublishSink {
  constructor(
    private readonly server: RpcServer,
    readonly msgId: string,
    readonly replyQ: string,
    readonly result: unknown,
    readonly failure: string | null,
    readonly retryMs: number,
    readonly deadline: number,
  ) {}

  published(): void {
    this.server.finalReplySent();
  }

  publishFailed(err: Error): void {
    this.server.finalReplyFailed(this, err);
  }
}

/** The `failure` of a job whose endpoint returned (an endpoint may throw anything, undefined included). */
const NO_FAILURE: unique symbol = Symbol('no failure');

const RESOLVED: Promise<void> = Promise.resolve();

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** Python int(): truncates floats, parses integer strings; anything else counts as 0 (ValueError path). */
function pyInt(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number.parseInt(v, 10);
  return 0;
}
