/**
 * An in-process AMQP 0-9-1 broker (one virtual host) with the RabbitMQ 3.10
 * semantics the rabbit driver and oslo's topology rely on, so the RPC layer
 * runs unchanged on it (osloscope's default mode and every unit test).
 *
 * Covered: the default exchange and direct/fanout/topic/headers exchanges,
 * the pre-declared amq.* exchanges, declare equivalence (406), exclusive
 * (405) and auto-delete queues and exchanges, x-expires, x-message-ttl and
 * per-message expiration, x-max-length with drop-head / reject-publish,
 * mandatory returns, publisher confirms (a publish resolves once routed),
 * competing consumers round-robin, per-consumer prefetch, ack/reject/requeue,
 * redelivery of a closed link's unacked messages, server-named queues and
 * consumer tags, and the firehose (`rabbitmqctl trace_on`). Not covered:
 * dead-lettering, priorities, basic.get, persistence (durable only matters
 * for equivalence checks). Streams are append-only logs read from each
 * consumer's own offset (memory-queue.ts).
 *
 * Error texts and codes are RabbitMQ's (broker-errors.ts). Every broker
 * operation runs synchronously; links wrap them in promises and deliver to
 * consumer handlers asynchronously. What the management API would show
 * (list* views) is built in management.ts.
 */
import { randomBytes } from 'node:crypto';
import type { ExchangeOptions, ExchangeType, MessageProperties, PublishOptions, QueueInfo, QueueOptions } from '../../driver.ts';
import { MessageDeliveryFailure } from '../../errors.ts';
import * as E from './broker-errors.ts';
import { type Clock, systemClock } from './clock.ts';
import { describeArg, fieldEquals, fieldValue, type FieldValue } from './field-values.ts';
import { deliverTraceHeaders, publishTraceHeaders, TRACE_EXCHANGE, type TraceContext } from './firehose.ts';
import { MemoryExchange } from './memory-exchange.ts';
import { MemoryLink } from './memory-link.ts';
import {
  bindingViews,
  connectionViews,
  consumerViews,
  exchangeViews,
  queueViews,
  type BindingView,
  type ConnectionView,
  type ConsumerView,
  type ExchangeView,
  type QueueView,
} from './management.ts';
import { type Envelope, MemoryQueue, type Overflow, type QueuedMessage, type QueueHost } from './memory-queue.ts';

export interface MemoryBrokerOptions {
  /** virtual host name, used in error texts and the firehose (default '/') */
  vhost?: string;
  clock?: Clock;
  /** node name in firehose headers (RabbitMQ: `rabbit@<host>`) */
  node?: string;
  /** the "authenticated user" of every link: firehose `user`, user_id checks (default 'guest') */
  user?: string;
  /** server half of the synthetic connection names, `<ip>:<port>` (default '127.0.0.1:5672') */
  listenAddress?: string;
  /**
   * Deprecated features refused as RabbitMQ 4.3 can be configured to
   * (`deprecated_features.permit.transient_nonexcl_queues = false`, its
   * upstream default): declaring a new non-durable, non-exclusive queue is a 541.
   */
  deniedDeprecatedFeatures?: readonly 'transient_nonexcl_queues'[];
}

type PublishOutcome = 'ok' | 'returned' | 'nacked';

const EXCHANGE_TYPES: ReadonlySet<string> = new Set(['direct', 'fanout', 'topic', 'headers']);

/**
 * Queue arguments RabbitMQ 3.10 compares on re-declare
 * (rabbit_amqqueue:declare_args/0, in its order); others, like the legacy
 * `x-ha-policy` oslo sends, are ignored.
 */
const EQUIVALENT_QUEUE_ARGS = [
  'x-expires',
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-max-length-bytes',
  'x-max-in-memory-length',
  'x-max-in-memory-bytes',
  'x-max-priority',
  'x-overflow',
  'x-queue-mode',
  'x-single-active-consumer',
  'x-queue-type',
  'x-quorum-initial-group-size',
  'x-max-age',
  'x-stream-max-segment-size-bytes',
  'x-initial-cluster-size',
  'x-queue-leader-locator',
  'x-queue-master-locator',
];

const OVERFLOW_VALUES: ReadonlySet<string> = new Set(['drop-head', 'reject-publish', 'reject-publish-dlx']);

/** First synthetic peer port (start of the IANA ephemeral range). */
const FIRST_PEER_PORT = 49152;

export class MemoryBroker implements QueueHost {
  private static readonly registry = new Map<string, MemoryBroker>();

  /** The process-wide broker for a virtual host, so `memory://` transports in one process meet. */
  static shared(name = '/'): MemoryBroker {
    let b = MemoryBroker.registry.get(name);
    if (!b) {
      b = new MemoryBroker({ vhost: name });
      MemoryBroker.registry.set(name, b);
    }
    return b;
  }

  readonly vhost: string;
  readonly clock: Clock;
  readonly node: string;
  readonly user: string;
  readonly listenAddress: string;
  private readonly denied: ReadonlySet<string>;

  private running = true;
  private tracing = false;
  private nextPeerPort = FIRST_PEER_PORT;
  private readonly exchanges = new Map<string, MemoryExchange>();
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly links = new Set<MemoryLink>();

  constructor(options: MemoryBrokerOptions = {}) {
    this.vhost = options.vhost ?? '/';
    this.clock = options.clock ?? systemClock;
    this.node = options.node ?? 'memory@localhost';
    this.user = options.user ?? 'guest';
    this.listenAddress = options.listenAddress ?? '127.0.0.1:5672';
    this.denied = new Set(options.deniedDeprecatedFeatures ?? []);
    // What every RabbitMQ vhost starts with (rabbit_vhost:add → rabbit_exchange declarations).
    this.addExchange('', 'direct', true, false, false);
    this.addExchange('amq.direct', 'direct', true, false, false);
    this.addExchange('amq.fanout', 'fanout', true, false, false);
    this.addExchange('amq.topic', 'topic', true, false, false);
    this.addExchange('amq.headers', 'headers', true, false, false);
    this.addExchange('amq.match', 'headers', true, false, false);
    this.addExchange(TRACE_EXCHANGE, 'topic', true, false, true);
  }

  get isRunning(): boolean {
    return this.running;
  }

  get isTracing(): boolean {
    return this.tracing;
  }

  // ---- controls ----------------------------------------------------------

  /** Open a link (what MemoryDriver.connect does). Rejects with MessageDeliveryFailure while stopped. */
  connect(connectionName: string): MemoryLink {
    if (!this.running) {
      throw new MessageDeliveryFailure(`cannot connect to memory://${this.vhost}: broker is stopped`);
    }
    const port = this.nextPeerPort;
    this.nextPeerPort = port >= 65535 ? FIRST_PEER_PORT : port + 1;
    const link = new MemoryLink(this, connectionName, `127.0.0.1:${port} -> ${this.listenAddress}`, `memory://${this.vhost}`);
    this.links.add(link);
    return link;
  }

  /**
   * Like a broker shutdown: every link dies with ConnectionLost 320
   * CONNECTION_FORCED and connecting fails until start(). Queues and
   * exchanges survive unless exclusive/auto-delete rules remove them.
   */
  stop(reason = 'shutdown'): void {
    this.running = false;
    this.killAll(E.connectionForced(`broker forced connection closure with reason '${reason}'`));
  }

  start(): void {
    this.running = true;
  }

  /**
   * Kill links (320 CONNECTION_FORCED) without stopping, like closing
   * connections from the management UI: all of them, or those whose
   * client-provided connection name passes `filter`. Returns how many died.
   */
  disconnectAll(filter?: (connectionName: string) => boolean, reason = 'Closed via management plugin'): number {
    return this.killAll(E.connectionForced(reason), filter);
  }

  /** `rabbitmqctl trace_on` / `trace_off` for this vhost. See firehose.ts for the format. */
  setTracing(on: boolean): void {
    this.tracing = on;
  }

  // ---- introspection -----------------------------------------------------

  listQueues(): QueueView[] {
    return queueViews(this.queues.values(), this.clock.now());
  }

  listExchanges(): ExchangeView[] {
    return exchangeViews(this.exchanges.values());
  }

  /** Every binding, including the default exchange's implicit one per queue (as the management API lists them). */
  listBindings(): BindingView[] {
    return bindingViews(this.queues.values(), this.exchanges.values());
  }

  listConnections(): ConnectionView[] {
    return connectionViews(this.links, this.user, this.vhost);
  }

  listConsumers(): ConsumerView[] {
    return consumerViews(this.links);
  }

  // ---- operations used by MemoryLink (each throws the RabbitMQ error) -----

  /** @internal */
  hasExchange(name: string): boolean {
    return this.exchanges.has(name);
  }

  /** @internal */
  hasQueue(name: string): boolean {
    return this.queues.has(name);
  }

  /** @internal */
  declareExchange(name: string, type: ExchangeType, options: ExchangeOptions): void {
    if (name === '') throw E.defaultExchangeRefused();
    if (!EXCHANGE_TYPES.has(type)) throw E.unknownExchangeType(type);
    const internal = options.internal === true;
    const args = { ...(options.arguments ?? {}) };
    const existing = this.exchanges.get(name);
    if (existing) {
      // rabbit_exchange:assert_equivalence — type, durable, auto_delete, internal, then alternate-exchange only
      const field = (arg: string, received: unknown, current: unknown): void => {
        if (received !== current) throw E.inequivalentArg('exchange', name, this.vhost, arg, `'${received}'`, `'${current}'`);
      };
      field('type', type, existing.type);
      field('durable', options.durable, existing.durable);
      field('auto_delete', options.autoDelete, existing.autoDelete);
      field('internal', internal, existing.internal);
      this.assertArgs('exchange', name, args, existing.arguments, ['alternate-exchange']);
      return;
    }
    if (name.startsWith('amq.')) throw E.reservedName('exchange', name);
    this.addExchange(name, type, options.durable, options.autoDelete, internal, args);
  }

  /** @internal Passive exchange.declare. RabbitMQ refuses even a passive declare of the default exchange (403). */
  checkExchange(name: string): void {
    if (name === '') throw E.defaultExchangeRefused();
    if (!this.exchanges.has(name)) throw E.noExchange(name, this.vhost);
  }

  /** @internal */
  declareQueue(link: MemoryLink, requested: string, options: QueueOptions): QueueInfo {
    const exclusive = options.exclusive === true;
    const name = requested === '' ? this.generateName('amq.gen-') : requested;
    if (requested !== '' && requested.startsWith('amq.')) throw E.reservedName('queue', requested);
    const args = { ...(options.arguments ?? {}) };
    const existing = this.queues.get(name);
    if (existing) {
      if (existing.exclusive !== exclusive || (existing.exclusive && existing.owner !== link)) {
        throw E.resourceLocked(name, this.vhost);
      }
      if (options.durable !== existing.durable) {
        throw E.inequivalentArg('queue', name, this.vhost, 'durable', `'${options.durable}'`, `'${existing.durable}'`);
      }
      if (options.autoDelete !== existing.autoDelete) {
        throw E.inequivalentArg('queue', name, this.vhost, 'auto_delete', `'${options.autoDelete}'`, `'${existing.autoDelete}'`);
      }
      this.assertArgs('queue', name, normaliseQueueType(args), normaliseQueueType(existing.arguments), EQUIVALENT_QUEUE_ARGS);
      existing.touch();
      return info(existing);
    }
    // Arguments are validated for a new queue only; an existing queue is
    // compared first (a string x-expires against an integer one is an
    // inequivalence on RabbitMQ, not an invalid arg).
    const parsed = this.parseQueueArgs(name, args);
    if (!options.durable && !exclusive && this.denied.has('transient_nonexcl_queues')) throw E.deprecatedFeatureDenied('transient_nonexcl_queues');
    const queueType = fieldValue(args['x-queue-type']).value;
    if (queueType === 'quorum' || queueType === 'stream') {
      // rabbit_quorum_queue:declare / rabbit_stream_queue:declare
      if (!options.durable) throw E.invalidProperty(name, this.vhost, 'non-durable');
      if (options.autoDelete) throw E.invalidProperty(name, this.vhost, 'auto-delete');
      if (exclusive) throw E.invalidProperty(name, this.vhost, 'exclusive-declaration');
    }
    const q = new MemoryQueue(this, {
      name,
      durable: options.durable,
      autoDelete: options.autoDelete,
      exclusive,
      arguments: args,
      owner: exclusive ? link : undefined,
      ...parsed,
      stream: queueType === 'stream',
    });
    this.queues.set(name, q);
    if (exclusive) link.ownedQueues.add(q);
    return info(q);
  }

  /** @internal Passive queue.declare. */
  checkQueue(link: MemoryLink, name: string): QueueInfo {
    const q = this.accessQueue(link, name);
    q.touch();
    return info(q);
  }

  /** @internal */
  bindQueue(link: MemoryLink, queue: string, exchange: string, key: string, args: Record<string, unknown>): void {
    if (exchange === '') throw E.defaultExchangeRefused();
    const x = this.exchanges.get(exchange);
    if (!x) throw E.noExchange(exchange, this.vhost);
    const q = this.accessQueue(link, queue);
    const b = x.addBinding(q, key, { ...args });
    if (b) q.bindings.add(b);
  }

  /** @internal queue.unbind of a missing binding, queue or exchange succeeds on RabbitMQ 3.10. */
  unbindQueue(link: MemoryLink, queue: string, exchange: string, key: string, args: Record<string, unknown>): void {
    if (exchange === '') throw E.defaultExchangeRefused();
    const x = this.exchanges.get(exchange);
    const q = this.queues.get(queue);
    if (!x || !q) return;
    this.checkExclusive(link, q);
    const b = x.removeBinding(q, key, args);
    if (!b) return;
    q.bindings.delete(b);
    this.maybeAutoDeleteExchange(x);
  }

  /** @internal Deleting a missing queue succeeds on RabbitMQ 3.10. */
  deleteQueue(link: MemoryLink, name: string): void {
    const q = this.queues.get(name);
    if (!q) return;
    this.checkExclusive(link, q);
    this.removeQueue(q);
  }

  /** @internal The queue a basic.consume attaches to, after RabbitMQ's access and exclusivity checks. */
  queueForConsume(link: MemoryLink, name: string, exclusive: boolean, consumer: { noAck: boolean; prefetch: number } = { noAck: false, prefetch: 0 }): MemoryQueue {
    const q = this.accessQueue(link, name);
    if (q.stream) {
      // rabbit_stream_queue:consume (checked on RabbitMQ 4.3.6): no auto-ack, a prefetch is required
      if (consumer.noAck) throw E.streamAutoAck(name, this.vhost);
      if (consumer.prefetch === 0) throw E.streamPrefetchUnset(name, this.vhost);
    }
    if ((exclusive && q.consumerCount > 0) || q.consumers.some((c) => c.exclusive)) {
      throw E.exclusiveConsumerInUse(name, this.vhost);
    }
    return q;
  }

  /** @internal basic.publish + wait for the confirm. */
  publish(link: MemoryLink, exchange: string, routingKey: string, body: Buffer, options: PublishOptions): PublishOutcome {
    const { mandatory, ...props } = options;
    const properties = definedOnly(props);
    const ttl = properties.expiration === undefined ? undefined : parseExpiration(properties.expiration);
    if (properties.userId !== undefined && properties.userId !== this.user) throw E.userIdMismatch(properties.userId, this.user);
    const x = this.exchanges.get(exchange);
    if (!x) throw E.noExchange(exchange, this.vhost);
    if (x.internal) throw E.internalExchange(exchange, this.vhost);
    if (properties.headers) properties.headers = { ...properties.headers };
    const env: Envelope = { body: Buffer.from(body), exchange, routingKey, properties, ttl };
    const targets = this.route(x, routingKey, properties.headers);
    if (this.tracing) {
      // RabbitMQ 3.10 names the routing key in a default-exchange publish's routed_queues
      // even when no such queue exists (the default exchange routes by name unchecked).
      const routed = exchange === '' && targets.length === 0 ? [routingKey] : targets.map((q) => q.name);
      this.emitTrace(`publish.${exchange}`, env.body, publishTraceHeaders(env, this.traceContext(link), routed));
    }
    if (targets.length === 0) return mandatory ? 'returned' : 'ok';
    let nacked = false;
    for (const q of targets) if (q.enqueue(env) === 'rejected') nacked = true;
    return nacked ? 'nacked' : 'ok';
  }

  /** @internal Random server-generated names: `amq.gen-…`, `amq.ctag-…` (16 random bytes, base64url, like RabbitMQ). */
  generateName(prefix: string): string {
    return prefix + randomBytes(16).toString('base64url');
  }

  /** @internal A link ended (closed or died): its exclusive queues go with it. */
  linkEnded(link: MemoryLink): void {
    this.links.delete(link);
    for (const q of link.ownedQueues) this.removeQueue(q);
    link.ownedQueues.clear();
  }

  // ---- QueueHost -----------------------------------------------------------

  /** @internal */
  expireQueue(queue: MemoryQueue): void {
    this.removeQueue(queue);
  }

  /** @internal */
  autoDeleteQueue(queue: MemoryQueue): void {
    this.removeQueue(queue);
  }

  /** @internal */
  traceDeliver(queue: MemoryQueue, msg: QueuedMessage, link: MemoryLink): void {
    // rabbit_trace never traces messages of the trace exchange itself
    if (!this.tracing || msg.env.exchange === TRACE_EXCHANGE) return;
    this.emitTrace(`deliver.${queue.name}`, msg.env.body, deliverTraceHeaders(msg.env, this.traceContext(link), msg.redelivered));
  }

  // ---- internals ---------------------------------------------------------

  private addExchange(
    name: string,
    type: ExchangeType,
    durable: boolean,
    autoDelete: boolean,
    internal: boolean,
    args: Record<string, unknown> = {},
  ): void {
    this.exchanges.set(name, new MemoryExchange(name, type, durable, autoDelete, internal, args));
  }

  private route(x: MemoryExchange, routingKey: string, headers: Record<string, unknown> | undefined): MemoryQueue[] {
    if (x.name === '') {
      const q = this.queues.get(routingKey);
      return q ? [q] : [];
    }
    return x.route(routingKey, headers);
  }

  private emitTrace(routingKey: string, body: Buffer, headers: Record<string, unknown>): void {
    const x = this.exchanges.get(TRACE_EXCHANGE) as MemoryExchange;
    const env: Envelope = { body, exchange: TRACE_EXCHANGE, routingKey, properties: { headers }, ttl: undefined };
    for (const q of x.route(routingKey, headers)) q.enqueue(env);
  }

  private traceContext(link: MemoryLink): TraceContext {
    return { node: this.node, vhost: this.vhost, connection: link.address, channel: 1, user: this.user };
  }

  /** Lookup + exclusive-owner check, as every queue method but publish does. */
  private accessQueue(link: MemoryLink, name: string): MemoryQueue {
    const q = this.queues.get(name);
    if (!q) throw E.noQueue(name, this.vhost);
    this.checkExclusive(link, q);
    return q;
  }

  private checkExclusive(link: MemoryLink, q: MemoryQueue): void {
    if (q.exclusive && q.owner !== link) throw E.resourceLocked(q.name, this.vhost);
  }

  private removeQueue(q: MemoryQueue): void {
    if (q.deleted || this.queues.get(q.name) !== q) return;
    this.queues.delete(q.name);
    const consumers = q.consumers;
    const bindings = [...q.bindings];
    q.bindings.clear();
    q.dispose();
    for (const c of consumers) c.link.serverCancel(c);
    q.owner?.ownedQueues.delete(q);
    for (const b of bindings) {
      const x = this.exchanges.get(b.exchange);
      if (!x) continue;
      x.removeBindingRef(b);
      this.maybeAutoDeleteExchange(x);
    }
  }

  /** An auto-delete exchange goes when its last binding does (rabbit_exchange:maybe_auto_delete). */
  private maybeAutoDeleteExchange(x: MemoryExchange): void {
    if (x.autoDelete && x.bindings.length === 0 && this.exchanges.get(x.name) === x) this.exchanges.delete(x.name);
  }

  private killAll(err: Error, filter?: (connectionName: string) => boolean): number {
    let killed = 0;
    for (const link of [...this.links]) {
      if (filter && !filter(link.connectionName)) continue;
      link.kill(err);
      killed++;
    }
    return killed;
  }

  private assertArgs(
    kind: 'queue' | 'exchange',
    name: string,
    received: Record<string, unknown>,
    current: Record<string, unknown>,
    keys: readonly string[],
  ): void {
    for (const key of keys) {
      const r: FieldValue | undefined = Object.hasOwn(received, key) ? fieldValue(received[key]) : undefined;
      const c: FieldValue | undefined = Object.hasOwn(current, key) ? fieldValue(current[key]) : undefined;
      if (r === undefined && c === undefined) continue;
      if (r !== undefined && c !== undefined && fieldEquals(r, c)) continue;
      const both = r !== undefined && c !== undefined;
      throw E.inequivalentArg(kind, name, this.vhost, key, describeArg(r, both), describeArg(c, both));
    }
  }

  /** rabbit_amqqueue:declare_args/0 checks for the arguments the memory broker acts on. */
  private parseQueueArgs(
    name: string,
    args: Record<string, unknown>,
  ): { messageTtl: number | undefined; maxLength: number | undefined; overflow: Overflow; expires: number | undefined } {
    const int = (key: string, min: number): number | undefined => {
      if (!Object.hasOwn(args, key)) return undefined;
      const { type, value } = fieldValue(args[key]);
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw E.invalidArg(name, this.vhost, key, `"expected integer, got ${type}"`);
      }
      if (value < 0) throw E.invalidArg(name, this.vhost, key, `{value_negative,${value}}`);
      if (value < min) throw E.invalidArg(name, this.vhost, key, `{value_zero,${value}}`);
      return value;
    };
    const expires = int('x-expires', 1);
    const messageTtl = int('x-message-ttl', 0);
    const maxLength = int('x-max-length', 0);
    let overflow: Overflow = 'drop-head';
    if (Object.hasOwn(args, 'x-overflow')) {
      const v = fieldValue(args['x-overflow']).value;
      if (typeof v !== 'string' || !OVERFLOW_VALUES.has(v)) throw E.invalidArg(name, this.vhost, 'x-overflow', 'invalid_overflow');
      overflow = v as Overflow;
    }
    return { messageTtl, maxLength, overflow, expires };
  }
}

function info(q: MemoryQueue): QueueInfo {
  return { queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount };
}

/** `x-queue-type: classic` is what an absent x-queue-type means (rabbit_queue_type:discover). */
function normaliseQueueType(args: Record<string, unknown>): Record<string, unknown> {
  if (fieldValue(args['x-queue-type']).value !== 'classic') return args;
  const { 'x-queue-type': _classic, ...rest } = args;
  return rest;
}

/**
 * The `expiration` property: a decimal string of milliseconds
 * (rabbit_basic:parse_expiration, Erlang list_to_integer); anything else is
 * a 406 that closes the channel.
 */
function parseExpiration(raw: string): number {
  const text = String(raw);
  const m = /^[+-]?\d+/.exec(text);
  if (!m) throw E.invalidExpiration(text, 'no_integer');
  if (m[0].length !== text.length) throw E.invalidExpiration(text, `{leftover_string,"${text.slice(m[0].length)}"}`);
  const n = Number(m[0]);
  if (n < 0) throw E.invalidExpiration(text, `{value_negative,${n}}`);
  return n;
}

/** Basic properties as given, minus keys explicitly set to undefined. */
function definedOnly(props: MessageProperties): MessageProperties {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) if (v !== undefined) out[k] = v;
  return out as MessageProperties;
}
