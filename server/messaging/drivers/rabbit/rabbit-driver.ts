/**
 * The rabbit driver: a Link is one amqplib connection with one confirm
 * channel, as oslo's impl_rabbit.Connection holds one kombu channel with
 * confirm_publish on. No recovery here: a dead link reports once through
 * onClose and ResilientLink takes over.
 */
import amqplib from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import { AMQP_REPLY_NAMES, BrokerRefusal, MessageDeliveryFailure, MessageUndeliverable, MessagingError } from '../../errors.ts';
import { PromiseSink } from '../../driver.ts';
import type {
  ConnectOptions,
  ConsumeOptions,
  Delivery,
  DeliveryHandler,
  Driver,
  EnsureOutcome,
  ExchangeOptions,
  ExchangeType,
  Link,
  MessageProperties,
  PublishOptions,
  PublishSink,
  QueueInfo,
  QueueOptions,
} from '../../driver.ts';
import type { AmqpEndpoint } from '../../transport-url.ts';

export interface RabbitDriverOptions {
  /** heartbeat_timeout_threshold (s); 0 disables. oslo default 60. */
  heartbeat: number;
  /** kombu_failover_strategy */
  failoverStrategy: 'round-robin' | 'shuffle';
  /** socket connect timeout (ms) */
  connectTimeoutMs: number;
  ssl?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

export class RabbitDriver implements Driver {
  readonly name = 'rabbit' as const;
  private readonly order: AmqpEndpoint[];

  constructor(
    endpoints: AmqpEndpoint[],
    private readonly options: RabbitDriverOptions,
  ) {
    if (endpoints.length === 0) throw new MessageDeliveryFailure('No RabbitMQ host configured');
    // impl_rabbit Connection.__init__ shuffles the host list once (random.shuffle(url.hosts)).
    this.order = [...endpoints];
    for (let i = this.order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
    }
  }

  describe(): string {
    return `rabbit://${this.order.map((e) => e.label).join(',')}`;
  }

  async connect({ connectionName, attempt = 0 }: ConnectOptions): Promise<Link> {
    const endpoint =
      this.options.failoverStrategy === 'shuffle'
        ? this.order[Math.floor(Math.random() * this.order.length)]
        : this.order[attempt % this.order.length];
    let model: ChannelModel;
    try {
      model = await amqplib.connect(
        {
          protocol: endpoint.ssl ? 'amqps' : 'amqp',
          hostname: endpoint.hostname,
          port: endpoint.port,
          username: endpoint.username,
          password: endpoint.password,
          vhost: endpoint.vhost,
          heartbeat: this.options.heartbeat,
          // RabbitMQ's own default frame_max. Set explicitly: RabbitMQ 4.1 raised the
          // pre-authentication frame size to 8192 and clients offering less cannot
          // connect (rabbitmq-server release-notes/4.1.0.md); amqplib 2 accepts
          // frames up to 64 MiB before tuning, so only the negotiated value matters.
          frameMax: FRAME_MAX,
        },
        {
          // Without TCP_NODELAY a request/reply pays Nagle + delayed ACK (~40 ms).
          noDelay: true,
          timeout: this.options.connectTimeoutMs,
          clientProperties: { connection_name: connectionName },
          ...(endpoint.ssl && this.options.ssl ? this.options.ssl : {}),
        },
      );
    } catch (err) {
      // A broker that answers and says no (bad credentials, a vhost it will not
      // open) is a refusal: reconnecting will not change its mind.
      const refusal = handshakeRefusal(err, endpoint.vhost);
      const cause = refusal ?? err;
      // Never echo the URL: amqplib errors do not carry credentials, but keep our text fixed.
      throw new MessageDeliveryFailure(
        `Unable to connect to AMQP server on ${endpoint.label}: ${refusal ? `${refusal.code} ${refusal.replyText}` : describeError(err)}`,
        { cause, code: refusal?.code ?? codeOf(err) },
      );
    }
    coalesceWrites(model);
    try {
      const channel = await model.createConfirmChannel();
      return new RabbitLink(model, channel, connectionName, endpoint.label);
    } catch (cause) {
      await model.close().catch(() => undefined);
      throw new MessageDeliveryFailure(`Unable to open a channel on ${endpoint.label}: ${describeError(cause)}`, {
        cause,
        code: codeOf(cause),
      });
    }
  }
}

/** One publish waiting for the broker's confirm (and, when mandatory, for a basic.return that may precede it). */
class PendingConfirm {
  returned = false;
  constructor(
    private readonly link: RabbitLink,
    readonly exchange: string,
    readonly routingKey: string,
    readonly body: Buffer,
    readonly mandatory: boolean,
    private readonly sink: PublishSink,
  ) {}

  settle(err: unknown): void {
    if (this.mandatory) this.link.forgetMandatory(this);
    if (err) {
      // A refused publish (403 internal exchange, 404 no exchange) closes the
      // channel: the channel's 'error' (kept in lastError) comes before the
      // confirm callbacks get amqplib's bare "channel closed".
      const refusal = this.link.refusal;
      const where = `${this.exchange || '(default)'}/${this.routingKey}`;
      this.sink.publishFailed(
        refusal
          ? new BrokerRefusal(refusal.replyText, refusal.code, `basic.publish ${where}`, { cause: refusal })
          : wrapAmqpError(err, `Publish to ${where} not confirmed by ${this.link.endpoint}`),
      );
    } else if (this.returned) {
      this.sink.publishFailed(
        new MessageUndeliverable(`Message to exchange '${this.exchange}' with routing key '${this.routingKey}' was returned: NO_ROUTE`, this.exchange, this.routingKey, {
          code: 312,
        }),
      );
    } else {
      this.sink.published();
    }
  }
}

class RabbitLink implements Link {
  private open = true;
  private closing = false;
  private closeListeners: ((err?: Error) => void)[] = [];
  private lastError: Error | undefined;
  /** mandatory publishes awaiting their confirm; a basic.return always precedes the ack of its message */
  private readonly pendingMandatory: PendingConfirm[] = [];

  constructor(
    private readonly model: ChannelModel,
    private readonly channel: ConfirmChannel,
    readonly connectionName: string,
    readonly endpoint: string,
  ) {
    model.on('error', (err: Error) => {
      this.lastError = wrapAmqpError(err, `Connection to ${endpoint} failed`);
    });
    model.on('close', (err?: Error) => {
      this.finish(err ? wrapAmqpError(err, `Connection to ${endpoint} closed`) : this.lastError);
    });
    channel.on('error', (err: Error) => {
      this.lastError = wrapAmqpError(err, `Channel on ${endpoint} closed`);
    });
    channel.on('close', () => {
      // One channel per link: a closed channel ends the link (as RabbitMQ closing
      // oslo's only channel makes kombu reconnect).
      if (!this.closing) void this.model.close().catch(() => undefined);
      this.finish(this.lastError ?? (this.closing ? undefined : new MessagingError(`Channel on ${endpoint} closed`)));
    });
    channel.on('return', (msg: Message) => {
      const hit = this.pendingMandatory.find(
        (p) =>
          !p.returned &&
          p.exchange === msg.fields.exchange &&
          p.routingKey === msg.fields.routingKey &&
          p.body.equals(msg.content),
      );
      if (hit) hit.returned = true;
    });
  }

  get isOpen(): boolean {
    return this.open;
  }

  onClose(listener: (err?: Error) => void): void {
    if (!this.open) {
      queueMicrotask(() => listener(this.lastError));
      return;
    }
    this.closeListeners.push(listener);
  }

  private finish(err?: Error): void {
    if (!this.open) return;
    this.open = false;
    const error = this.closing ? undefined : (err ?? new MessagingError(`Connection to ${this.endpoint} closed`));
    this.lastError = error;
    for (const l of this.closeListeners.splice(0)) l(error);
  }

  private ensureOpen(): void {
    if (!this.open) throw this.lastError ?? new MessagingError(`Connection to ${this.endpoint} is closed`);
  }

  private async op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.ensureOpen();
    try {
      return await fn();
    } catch (err) {
      throw this.explain(err, what);
    }
  }

  /**
   * The error of a failed operation. A refusal with a connection-level code
   * (RabbitMQ 4.3's 541 for a denied deprecated feature, 530) closes the whole
   * connection: amqplib reports it on the connection (kept in lastError) and
   * rejects the pending operation with a bare "Channel ended".
   */
  private explain(err: unknown, what: string): Error {
    if (codeOf(err) === undefined && this.lastError instanceof BrokerRefusal) {
      return new BrokerRefusal(this.lastError.replyText, this.lastError.code, what, { cause: this.lastError });
    }
    return wrapAmqpError(err, `${what} failed on ${this.endpoint}`);
  }

  assertExchange(name: string, type: ExchangeType, options: ExchangeOptions): Promise<void> {
    return this.op(`exchange.declare ${name}`, async () => {
      await this.channel.assertExchange(name, type, {
        durable: options.durable,
        autoDelete: options.autoDelete,
        internal: options.internal ?? false,
        arguments: options.arguments ?? {},
      });
    });
  }

  assertQueue(name: string, options: QueueOptions): Promise<QueueInfo> {
    return this.op(`queue.declare ${name}`, async () => {
      const r = await this.channel.assertQueue(name, {
        durable: options.durable,
        autoDelete: options.autoDelete,
        exclusive: options.exclusive ?? false,
        arguments: options.arguments ?? {},
      });
      return { queue: r.queue, messageCount: r.messageCount, consumerCount: r.consumerCount };
    });
  }

  /**
   * Declare unless an exchange of that name exists, whatever its flags. Both
   * steps run on a scratch channel: the passive check closes its channel on
   * 404, and a declare racing another client's (406 inequivalent arg) must
   * not take the link's own channel down with it.
   */
  async ensureExchange(name: string, type: ExchangeType, options: ExchangeOptions): Promise<EnsureOutcome> {
    if (await this.exists(`exchange.declare(passive) ${name}`, (ch) => ch.checkExchange(name))) return { existed: true };
    return this.declareOnScratch(`exchange.declare ${name}`, async (ch) => {
      await ch.assertExchange(name, type, {
        durable: options.durable,
        autoDelete: options.autoDelete,
        internal: options.internal ?? false,
        arguments: options.arguments ?? {},
      });
    });
  }

  /** Like ensureExchange, for a queue; exclusive queues are declared on the link's channel (they belong to the connection either way). */
  async ensureQueue(name: string, options: QueueOptions): Promise<EnsureOutcome> {
    if (await this.exists(`queue.declare(passive) ${name}`, (ch) => ch.checkQueue(name))) return { existed: true };
    return this.declareOnScratch(`queue.declare ${name}`, async (ch) => {
      await ch.assertQueue(name, {
        durable: options.durable,
        autoDelete: options.autoDelete,
        exclusive: options.exclusive ?? false,
        arguments: options.arguments ?? {},
      });
    });
  }

  private async exists(what: string, check: (ch: Channel) => Promise<unknown>): Promise<boolean> {
    try {
      await this.passive(what, check);
      return true;
    } catch (err) {
      if ((err as MessagingError).code === 404) return false;
      throw err;
    }
  }

  private async declareOnScratch(what: string, declare: (ch: Channel) => Promise<void>): Promise<EnsureOutcome> {
    try {
      await this.passive(what, declare);
      return { existed: false };
    } catch (err) {
      // Someone declared it between our check and our declare, with other flags:
      // it exists now, and that is all a publisher or consumer needs.
      if (err instanceof BrokerRefusal && err.code === 406 && err.replyText.includes('inequivalent arg')) return { existed: true };
      throw err;
    }
  }

  /** Passive declares close the channel on 404, so they run on a throwaway channel. */
  private async passive<T>(what: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
    this.ensureOpen();
    let ch: Channel;
    try {
      ch = await this.model.createChannel();
    } catch (err) {
      throw wrapAmqpError(err, `${what} failed on ${this.endpoint}`);
    }
    let chError: Error | undefined;
    ch.on('error', (e: Error) => {
      chError = e;
    });
    try {
      return await fn(ch);
    } catch (err) {
      throw this.explain(chError ?? err, what);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  checkQueue(name: string): Promise<QueueInfo> {
    return this.passive(`queue.declare(passive) ${name}`, async (ch) => {
      const r = await ch.checkQueue(name);
      return { queue: r.queue, messageCount: r.messageCount, consumerCount: r.consumerCount };
    });
  }

  checkExchange(name: string): Promise<void> {
    return this.passive(`exchange.declare(passive) ${name}`, async (ch) => {
      await ch.checkExchange(name);
    });
  }

  bindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void> {
    return this.op(`queue.bind ${queue}`, async () => {
      await this.channel.bindQueue(queue, exchange, routingKey, args ?? {});
    });
  }

  unbindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void> {
    return this.op(`queue.unbind ${queue}`, async () => {
      await this.channel.unbindQueue(queue, exchange, routingKey, args ?? {});
    });
  }

  deleteQueue(name: string): Promise<void> {
    return this.op(`queue.delete ${name}`, async () => {
      await this.channel.deleteQueue(name);
    });
  }

  prefetch(count: number): Promise<void> {
    return this.op('basic.qos', async () => {
      await this.channel.prefetch(count, false);
    });
  }

  publish(exchange: string, routingKey: string, body: Buffer, options: PublishOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => this.publishTo(exchange, routingKey, body, options, new PromiseSink(resolve, reject)));
  }

  publishTo(exchange: string, routingKey: string, body: Buffer, options: PublishOptions, sink: PublishSink): void {
    if (!this.open) {
      sink.publishFailed(this.lastError ?? new MessagingError(`Connection to ${this.endpoint} is closed`));
      return;
    }
    const amqpOptions = toAmqplibProps(options);
    amqpOptions.mandatory = !!options.mandatory;
    const confirm = new PendingConfirm(this, exchange, routingKey, body, !!options.mandatory, sink);
    if (confirm.mandatory) this.pendingMandatory.push(confirm);
    try {
      // an inline callback: a named closure per publish costs a defineProperty under tsx (keepNames)
      this.channel.publish(exchange, routingKey, body, amqpOptions, (err: unknown) => confirm.settle(err));
    } catch (err) {
      confirm.settle(err);
    }
  }

  /** A confirm came in for a mandatory publish: forget it (a basic.return, if any, came before). */
  forgetMandatory(confirm: PendingConfirm): void {
    const list = this.pendingMandatory;
    // confirms come in publish order, so it is nearly always the first
    const i = list[0] === confirm ? 0 : list.indexOf(confirm);
    if (i === 0) list.shift();
    else if (i > 0) list.splice(i, 1);
  }

  /** The refusal that closed the channel under a publish, if that is what happened. */
  get refusal(): BrokerRefusal | undefined {
    return this.lastError instanceof BrokerRefusal ? this.lastError : undefined;
  }

  consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions = {}): Promise<string> {
    return this.op(`basic.consume ${queue}`, async () => {
      const r = await this.channel.consume(
        queue,
        (msg: ConsumeMessage | null) => {
          if (msg === null) {
            // consumer_cancel_notify: the broker cancelled us (queue deleted, HA failover).
            // oslo treats it as a recoverable error and reconnects (impl_rabbit Consumer).
            this.lastError = new MessagingError(`Consumer on queue ${queue} cancelled by the broker`);
            void this.model.close().catch(() => undefined);
            return;
          }
          handler(toDelivery(msg));
        },
        {
          consumerTag: options.consumerTag,
          noAck: options.noAck ?? false,
          exclusive: options.exclusive ?? false,
          arguments: options.arguments ?? {},
        },
      );
      return r.consumerTag;
    });
  }

  cancel(consumerTag: string): Promise<void> {
    return this.op('basic.cancel', async () => {
      await this.channel.cancel(consumerTag);
    });
  }

  ack(delivery: Delivery): void {
    if (!this.open) return;
    this.channel.ack(asMessage(delivery));
  }

  reject(delivery: Delivery, requeue: boolean): void {
    if (!this.open) return;
    this.channel.reject(asMessage(delivery), requeue);
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.closing = true;
    try {
      await this.model.close();
    } catch {
      // already closing or dead: the close listeners fire either way
    }
    this.finish(undefined);
  }
}

/**
 * With TCP_NODELAY every frame amqplib hands the socket becomes its own
 * segment and syscall. amqplib's muxer writes the frames of all channels in
 * one synchronous pass, so corking the socket for the rest of the tick turns
 * that pass into one writev without adding latency (uncork runs before the
 * event loop moves on). Measured: about a quarter of the CPU of a loaded
 * request/reply process was spent in per-frame socket writes.
 */
function coalesceWrites(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: NodeJS.WritableStream & { cork?: () => void; uncork?: () => void } }).stream;
  if (!stream || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let corked = false;
  stream.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      stream.cork!();
      process.nextTick(() => {
        corked = false;
        stream.uncork!();
      });
    }
    return write(...args);
  }) as typeof stream.write;
}

/**
 * The headers table of a publish without headers. amqplib copies every
 * publish's headers with Object.create(headers), which turns that object
 * into a prototype: a fresh `{}` per publish made V8 set up a new prototype
 * map each time (8.8% of a loaded RPC client's CPU in Args.publish). One
 * shared empty object is set up once; the wire bytes are the same empty table.
 */
const EMPTY_HEADERS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function hasOwnKeys(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

function toAmqplibProps(p: MessageProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.contentEncoding !== undefined) out.contentEncoding = p.contentEncoding;
  out.headers = p.headers && hasOwnKeys(p.headers) ? p.headers : EMPTY_HEADERS;
  if (p.deliveryMode !== undefined) out.deliveryMode = p.deliveryMode;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.correlationId !== undefined) out.correlationId = p.correlationId;
  if (p.replyTo !== undefined) out.replyTo = p.replyTo;
  if (p.expiration !== undefined) out.expiration = p.expiration;
  if (p.messageId !== undefined) out.messageId = p.messageId;
  if (p.timestamp !== undefined) out.timestamp = p.timestamp;
  if (p.type !== undefined) out.type = p.type;
  if (p.userId !== undefined) out.userId = p.userId;
  if (p.appId !== undefined) out.appId = p.appId;
  return out;
}

function toDelivery(msg: ConsumeMessage): Delivery {
  const p = msg.properties;
  const properties: MessageProperties = {};
  if (p.contentType !== undefined) properties.contentType = p.contentType;
  if (p.contentEncoding !== undefined) properties.contentEncoding = p.contentEncoding;
  if (p.headers !== undefined) properties.headers = p.headers;
  if (p.deliveryMode !== undefined) properties.deliveryMode = p.deliveryMode;
  if (p.priority !== undefined) properties.priority = p.priority;
  if (p.correlationId !== undefined) properties.correlationId = p.correlationId;
  if (p.replyTo !== undefined) properties.replyTo = p.replyTo;
  if (p.expiration !== undefined) properties.expiration = String(p.expiration);
  if (p.messageId !== undefined) properties.messageId = p.messageId;
  if (p.timestamp !== undefined) properties.timestamp = p.timestamp;
  if (p.type !== undefined) properties.type = p.type;
  if (p.userId !== undefined) properties.userId = p.userId;
  if (p.appId !== undefined) properties.appId = p.appId;
  return {
    body: msg.content,
    exchange: msg.fields.exchange,
    routingKey: msg.fields.routingKey,
    redelivered: msg.fields.redelivered,
    deliveryTag: msg.fields.deliveryTag,
    consumerTag: msg.fields.consumerTag,
    properties,
  };
}

/**
 * What amqplib's ack/reject read of a message: its delivery tag only
 * (Args.ack / Args.reject take message.fields.deliveryTag). Deliveries used to
 * carry the amqplib message in a non-enumerable property; defining it cost
 * each delivery a slow-path property definition.
 */
function asMessage(d: Delivery): Message {
  return { fields: { deliveryTag: d.deliveryTag } } as unknown as Message;
}

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    // Node socket errors carry a string code (ECONNREFUSED) that reads better than an empty message.
    const sys = (err as { code?: unknown }).code;
    if (typeof sys === 'string' && !err.message.includes(sys)) return `${sys} ${err.message}`.trim();
    if (err.message) return err.message;
    const nested = (err as { errors?: unknown[] }).errors;
    if (Array.isArray(nested) && nested.length) return describeError(nested[0]);
    return err.name;
  }
  return String(err);
}

/**
 * amqplib reports a refused handshake only in its message: the login
 * (`Handshake terminated by server: 403 (ACCESS-REFUSED) with message "…"`),
 * or, for connection.open of a vhost the user may not open or that does not
 * exist, a bare `Expected ConnectionOpenOk; got <ConnectionClose …>` without
 * RabbitMQ's 530 NOT_ALLOWED text.
 */
function handshakeRefusal(err: unknown, vhost: string): BrokerRefusal | undefined {
  const message = err instanceof Error ? err.message : '';
  const m = /^Handshake terminated by server: (\d{3}) \([A-Z-]+\) with message "([\s\S]*)"$/.exec(message);
  if (m && AMQP_REPLY_NAMES[Number(m[1])]) return new BrokerRefusal(m[2], Number(m[1]), 'connection.start-ok', { cause: err });
  if (/^Expected ConnectionOpenOk; got <ConnectionClose/.test(message)) {
    return new BrokerRefusal(`NOT_ALLOWED - the broker refused to open vhost '${vhost}' (it does not exist or this user may not use it)`, 530, 'connection.open', {
      cause: err,
    });
  }
  return undefined;
}

/** RabbitMQ's default frame_max (rabbit.app `frame_max`, 131072), at least the 8192 RabbitMQ 4.1 requires. */
export const FRAME_MAX = 131_072;

/**
 * Keep MessagingErrors; turn a broker's channel or connection close with a
 * refusal code into BrokerRefusal (the reply text kept verbatim), and other
 * amqplib/socket errors into MessagingError with the AMQP code kept.
 */
export function wrapAmqpError(err: unknown, context: string): Error {
  if (err instanceof MessagingError) return err;
  const code = codeOf(err);
  const replyText = err instanceof Error ? /with message "([\s\S]*)"$/.exec(err.message)?.[1] : undefined;
  if (code !== undefined && replyText !== undefined && AMQP_REPLY_NAMES[code]) {
    return new BrokerRefusal(replyText, code, context.replace(/ failed on .*$/, ''), { cause: err });
  }
  return new MessagingError(`${context}: ${describeError(err)}`, { cause: err, code });
}
