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
import { encodeBody, osloProperties, serializeFailure, unpackContext, type Dict } from './envelope.ts';
import type { Delivery } from './driver.ts';
import type { OrderedDecoder } from './ordered-decoder.ts';
import { pingEndpoint, readRequest, RpcDispatcher, type AccessPolicy, type Endpoint } from './dispatcher.ts';
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
import type { Transport } from './transport.ts';
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
  valid(replyQ: string, now = Date.now()): boolean {
    const until = this.entries.get(replyQ);
    if (until === undefined) return true;
    if (until <= now) {
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
  private readonly backlog: (() => Promise<void>)[] = [];
  private running = 0;
  private readonly inflight = new Set<Promise<void>>();
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

  private onDelivery(d: Delivery): void {
    const link = this.link;
    if (!link) return;
    this.counters.received += 1;
    this.transport.decodeOrReject(
      this.decoder,
      link,
      d,
      `rpc-server:${this.topic}`,
      (message) => this.onMessage(link, d, message),
      () => {
        this.counters.malformed += 1;
      },
    );
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
    const unpacked = unpackContext(message);
    if (unpacked.msgId) this.counters.calls += 1;
    else this.counters.casts += 1;
    this.schedule(() => this.process(unpacked.message, unpacked.ctxt, unpacked.msgId, unpacked.replyQ, unpacked.clientTimeout));
  }

  private schedule(job: () => Promise<void>): void {
    if (this.running < this.maxConcurrency) this.runJob(job);
    else this.backlog.push(job);
  }

  private runJob(job: () => Promise<void>): void {
    this.running += 1;
    const p = job()
      .catch((err: unknown) => this.transport.log.error({ err: (err as Error).message }, 'RPC server job failed'))
      .finally(() => {
        this.running -= 1;
        this.inflight.delete(p);
        const next = this.backlog.shift();
        if (next) this.runJob(next);
      });
    this.inflight.add(p);
  }

  private async process(message: Dict, ctxt: Dict, msgId: string | null, replyQ: string | null, clientTimeout: unknown): Promise<void> {
    const req = readRequest(message);
    const started = performance.now();
    const method = typeof req.method === 'string' ? req.method : String(req.method);
    let heartbeat: NodeJS.Timeout | undefined;
    const isCall = !!msgId && !!replyQ;
    // RPCDispatcher._watchdog: heartbeats every int(_timeout)/2 s, only when _timeout is truthy and >= 2.
    if (isCall && clientTimeout) {
      const interval = pyInt(clientTimeout) / 2;
      if (interval >= 1) {
        const beat = (): void => {
          heartbeat = setTimeout(() => {
            this.sendReply(msgId, replyQ, null, null, false, 0)
              .then(() => {
                this.counters.heartbeats += 1;
                if (heartbeat) beat();
              })
              .catch((err: unknown) => {
                // a failed heartbeat stops the watchdog; the caller's own timeout takes over
                this.transport.log.debug({ msgId, err: (err as Error).message }, 'Call-monitor heartbeat failed');
                heartbeat = undefined;
              });
          }, interval * 1000);
        };
        beat();
      } else {
        this.transport.log.warn({ msgId }, `Client provided an invalid timeout value of ${String(clientTimeout)}`);
      }
    }
    let result: unknown = null;
    let failure: unknown;
    let raisedByEndpoint = false;
    try {
      const { endpoint, fn } = this.dispatcher.resolve(req);
      raisedByEndpoint = true;
      result = await fn.call(endpoint, ctxt, req.args);
      if (result === undefined) result = null;
    } catch (err) {
      failure = err;
    } finally {
      if (heartbeat) clearTimeout(heartbeat);
      heartbeat = undefined;
    }
    const elapsedMs = performance.now() - started;
    this.transport.events.emit({ type: 'server:dispatch', topic: this.topic, server: this.target.server ?? undefined, method, ok: failure === undefined, elapsedMs });
    if (failure !== undefined) {
      this.counters.failures += 1;
      // rpc/server.py _process_incoming: an exception the endpoint declared expected
      // (@expected_exceptions) and NoSuchMethod for *_ignore_errors are debug; the rest is logged loudly.
      const expected =
        (raisedByEndpoint && failure instanceof ExpectedFailure) || (failure instanceof NoSuchMethod && failure.method.endsWith('_ignore_errors'));
      const fields = { method, msgId, err: (failure as Error)?.message };
      if (expected) this.transport.log.debug(fields, 'Expected exception during message handling');
      else this.transport.log.warn(fields, 'Exception during message handling');
    }
    if (!isCall) return; // casts never get replies, even on failure
    const failureText = failure === undefined ? null : serializeFailure(failure, method);
    try {
      await this.sendReply(msgId, replyQ, failure === undefined ? result : null, failureText, true, this.transport.rabbit.kombu_missing_consumer_retry_timeout * 1000);
      this.counters.replies += 1;
    } catch (err) {
      this.transport.log.error({ msgId, err: (err as Error).message }, 'Failed to send reply');
    }
  }

  /** AMQPIncomingMessage.reply / _send_reply. */
  private async sendReply(
    msgId: string,
    replyQ: string,
    result: unknown,
    failure: string | null,
    ending: boolean,
    missingQueueRetryMs: number,
  ): Promise<void> {
    if (!this.obsolete.valid(replyQ)) {
      this.transport.log.warn({ msgId, replyQ }, `${replyQ} doesn't exist, drop reply to ${msgId}`);
      return;
    }
    const deadline = Date.now() + missingQueueRetryMs;
    const mandatory = this.transport.rabbit.direct_mandatory_flag;
    for (;;) {
      const reply: Dict = { result, failure, ending, [MSG_ID_KEY]: msgId, [UNIQUE_ID_KEY]: uuidHex() };
      let encoded: { body: Buffer; headers: Dict };
      try {
        encoded = encodeBody(reply, { compression: this.transport.rabbit.kombu_compression === 'gzip' ? 'gzip' : null });
      } catch (err) {
        // A result that cannot be serialized becomes a failure reply, so the caller
        // learns why instead of timing out (Python raises in the same place).
        if (!(err instanceof SerializationError) || failure !== null) throw err;
        result = null;
        failure = serializeFailure(new ExpectedFailure('TypeError', 'builtins', err.message), 'reply');
        continue;
      }
      const { body, headers } = encoded;
      const props = osloProperties(headers, { mandatory });
      try {
        await this.transport.send({ exchange: '', routingKey: replyQ, body, options: props });
        return;
      } catch (err) {
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
    while (this.inflight.size > 0 || this.backlog.length > 0) {
      await Promise.allSettled([...this.inflight]);
    }
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

/** Python int(): truncates floats, parses integer strings; anything else counts as 0 (ValueError path). */
function pyInt(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number.parseInt(v, 10);
  return 0;
}
