/**
 * A memory-driver Link: one "connection with one confirm channel" on a
 * MemoryBroker. It owns what RabbitMQ keeps per channel — consumers, the
 * unacked deliveries, the prefetch setting — and dies the way a channel does
 * on RabbitMQ: a channel error (404 on publish, 406 on an inequivalent
 * declare, 405, 403, 530 …) closes it, its unacked messages are requeued,
 * its exclusive queues deleted, and its close listeners get the error.
 *
 * Passive checks (checkQueue/checkExchange) fail without closing: the rabbit
 * driver runs them on a throwaway channel (see driver.ts).
 */
import type {
  ConsumeOptions,
  Delivery,
  DeliveryHandler,
  EnsureOutcome,
  ExchangeOptions,
  ExchangeType,
  Link,
  PublishOptions,
  PublishSink,
  QueueInfo,
  QueueOptions,
} from '../../driver.ts';
import { ConnectionLost, MessageDeliveryFailure, MessageUndeliverable, MessagingError } from '../../errors.ts';
import { invalidPrefetch, REPLY, reusedConsumerTag, unknownDeliveryTag } from './broker-errors.ts';
import { Deque } from './deque.ts';
import type { MemoryBroker } from './memory-broker.ts';
import type { MemoryConsumer, MemoryQueue, QueuedMessage } from './memory-queue.ts';

/** A delivery assigned to one of this link's consumers. */
interface Pending {
  readonly consumer: MemoryConsumer;
  readonly msg: QueuedMessage;
  readonly delivery: Delivery;
  /** the handler has been called with it */
  handed: boolean;
  /** withdrawn before the handler saw it (consumer cancelled) */
  withdrawn: boolean;
}

export class MemoryLink implements Link {
  readonly connectionName: string;
  readonly endpoint: string;
  /**
   * The broker-side connection name in RabbitMQ's shape,
   * `<peer ip:port> -> <server ip:port>` (what the firehose `connection`
   * header and the management API's connection `name` carry).
   */
  readonly address: string;
  /** Queues declared exclusive by this link; deleted when it ends. */
  readonly ownedQueues = new Set<MemoryQueue>();

  private open = true;
  private closeError: Error | undefined;
  private readonly listeners: ((err?: Error) => void)[] = [];
  private readonly consumers = new Map<string, MemoryConsumer>();
  private readonly unacked = new Map<number, Pending>();
  private readonly outbox = new Deque<Pending>();
  private flushScheduled = false;
  private nextTag = 1;
  private prefetchCount = 0;

  constructor(
    private readonly broker: MemoryBroker,
    connectionName: string,
    address: string,
    endpoint: string,
  ) {
    this.connectionName = connectionName;
    this.address = address;
    this.endpoint = endpoint;
  }

  get isOpen(): boolean {
    return this.open;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  /** Consumers of this link, for introspection. */
  consumerList(): MemoryConsumer[] {
    return [...this.consumers.values()];
  }

  get unackedCount(): number {
    return this.unacked.size;
  }

  onClose(listener: (err?: Error) => void): void {
    if (!this.open) {
      const err = this.closeError;
      queueMicrotask(() => listener(err));
      return;
    }
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.shutdown(undefined);
  }

  async assertExchange(name: string, type: ExchangeType, options: ExchangeOptions): Promise<void> {
    this.ensureOpen();
    this.fatal(() => this.broker.declareExchange(name, type, options));
  }

  async checkExchange(name: string): Promise<void> {
    this.ensureOpen();
    this.broker.checkExchange(name);
  }

  async assertQueue(name: string, options: QueueOptions): Promise<QueueInfo> {
    this.ensureOpen();
    return this.fatal(() => this.broker.declareQueue(this, name, options));
  }

  /** Check and declare are one step here, so no other declare can come between them (the rabbit driver handles that race). */
  async ensureExchange(name: string, type: ExchangeType, options: ExchangeOptions): Promise<EnsureOutcome> {
    this.ensureOpen();
    if (this.broker.hasExchange(name)) return { existed: true };
    this.fatal(() => this.broker.declareExchange(name, type, options));
    return { existed: false };
  }

  async ensureQueue(name: string, options: QueueOptions): Promise<EnsureOutcome> {
    this.ensureOpen();
    if (this.broker.hasQueue(name)) {
      // the passive check's own refusals (405 another connection's exclusive queue) leave the link open
      this.broker.checkQueue(this, name);
      return { existed: true };
    }
    this.fatal(() => this.broker.declareQueue(this, name, options));
    return { existed: false };
  }

  async checkQueue(name: string): Promise<QueueInfo> {
    this.ensureOpen();
    return this.broker.checkQueue(this, name);
  }

  async bindQueue(queue: string, exchange: string, routingKey: string, args: Record<string, unknown> = {}): Promise<void> {
    this.ensureOpen();
    this.fatal(() => this.broker.bindQueue(this, queue, exchange, routingKey, args));
  }

  async unbindQueue(queue: string, exchange: string, routingKey: string, args: Record<string, unknown> = {}): Promise<void> {
    this.ensureOpen();
    this.fatal(() => this.broker.unbindQueue(this, queue, exchange, routingKey, args));
  }

  async deleteQueue(name: string): Promise<void> {
    this.ensureOpen();
    this.fatal(() => this.broker.deleteQueue(this, name));
  }

  async prefetch(count: number): Promise<void> {
    this.ensureOpen();
    if (!Number.isInteger(count) || count < 0 || count > 0xffff) throw this.fail(invalidPrefetch(count));
    this.prefetchCount = count;
  }

  async publish(exchange: string, routingKey: string, body: Buffer, options: PublishOptions): Promise<void> {
    this.ensureOpen();
    const outcome = this.fatal(() => this.broker.publish(this, exchange, routingKey, body, options));
    if (outcome === 'returned') {
      throw new MessageUndeliverable(
        `NO_ROUTE - message returned: no queue bound to exchange '${exchange}' for routing key '${routingKey}'`,
        exchange,
        routingKey,
        { code: REPLY.NO_ROUTE },
      );
    }
    if (outcome === 'nacked') {
      // x-overflow reject-publish: the queue refused it and the confirm is a basic.nack.
      throw new MessageDeliveryFailure(`message nacked by the broker (exchange '${exchange}', routing key '${routingKey}')`);
    }
  }

  publishTo(exchange: string, routingKey: string, body: Buffer, options: PublishOptions, sink: PublishSink): void {
    this.publish(exchange, routingKey, body, options).then(
      () => sink.published(),
      (err: Error) => sink.publishFailed(err),
    );
  }

  async consume(queue: string, handler: DeliveryHandler, options: ConsumeOptions = {}): Promise<string> {
    this.ensureOpen();
    return this.fatal(() => {
      const tag = options.consumerTag || this.broker.generateName('amq.ctag-');
      // RabbitMQ answers a reused tag with a connection error (530), so the link goes.
      if (this.consumers.has(tag)) throw reusedConsumerTag(tag);
      const q = this.broker.queueForConsume(this, queue, options.exclusive === true, { noAck: options.noAck === true, prefetch: this.prefetchCount });
      const consumer: MemoryConsumer = {
        tag,
        queue: q,
        link: this,
        handler,
        noAck: options.noAck === true,
        exclusive: options.exclusive === true,
        prefetch: this.prefetchCount,
        arguments: { ...(options.arguments ?? {}) },
        unacked: 0,
        active: true,
      };
      this.consumers.set(tag, consumer);
      q.addConsumer(consumer);
      return tag;
    });
  }

  async cancel(consumerTag: string): Promise<void> {
    this.ensureOpen();
    const c = this.consumers.get(consumerTag);
    // basic.cancel of an unknown tag is answered with cancel-ok on RabbitMQ
    if (!c) return;
    this.consumers.delete(consumerTag);
    c.active = false;
    c.queue.detachConsumer(c);
    // Deliveries assigned but not yet handed to the handler go back to the
    // queue: after cancel-ok the handler must not run again.
    const back = this.withdraw(c);
    c.queue.requeue(back);
    c.queue.afterConsumerRemoved();
  }

  ack(delivery: Delivery): void {
    if (!this.open) return;
    const p = this.settle(delivery.deliveryTag);
    if (p) p.consumer.queue.pump();
  }

  reject(delivery: Delivery, requeue: boolean): void {
    if (!this.open) return;
    const p = this.settle(delivery.deliveryTag);
    if (!p) return;
    if (requeue) p.consumer.queue.requeue([p.msg]);
    else p.consumer.queue.pump();
  }

  // ---- broker side -------------------------------------------------------

  /** @internal The queue assigned `msg` to `consumer`; the handler runs later, never inside the caller's stack. */
  deliver(consumer: MemoryConsumer, msg: QueuedMessage): void {
    const tag = this.nextTag++;
    const env = msg.env;
    const delivery: Delivery = {
      body: env.body,
      exchange: env.exchange,
      routingKey: env.routingKey,
      redelivered: msg.redelivered,
      deliveryTag: tag,
      consumerTag: consumer.tag,
      properties: env.properties,
    };
    const p: Pending = { consumer, msg, delivery, handed: false, withdrawn: false };
    if (!consumer.noAck) this.unacked.set(tag, p);
    this.outbox.push(p);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** @internal The queue was deleted under one of our consumers (RabbitMQ's basic.cancel from the server). */
  serverCancel(consumer: MemoryConsumer): void {
    if (this.consumers.get(consumer.tag) !== consumer) return;
    this.consumers.delete(consumer.tag);
    consumer.active = false;
    this.withdraw(consumer);
  }

  /** @internal End the link with an error (channel/connection close from the broker). */
  kill(err: Error): void {
    this.shutdown(err);
  }

  // ---- internals ---------------------------------------------------------

  /** Run a broker operation whose failure closes the channel, as on RabbitMQ. */
  private fatal<T>(op: () => T): T {
    try {
      return op();
    } catch (e) {
      throw this.fail(e);
    }
  }

  private fail(e: unknown): Error {
    const err = e instanceof Error ? e : new MessagingError(String(e));
    this.shutdown(err);
    return err;
  }

  private ensureOpen(): void {
    if (this.open) return;
    const cause = this.closeError;
    const code = cause instanceof MessagingError ? cause.code : undefined;
    throw new ConnectionLost(`link ${this.connectionName} is closed`, { cause, code });
  }

  /** Ack or reject bookkeeping; an unknown tag is a 406 channel error on RabbitMQ. */
  private settle(tag: number): Pending | undefined {
    const p = this.unacked.get(tag);
    if (!p) {
      this.shutdown(unknownDeliveryTag(tag));
      return undefined;
    }
    this.unacked.delete(tag);
    p.consumer.queue.settle(p.consumer);
    return p;
  }

  /** Take back `consumer`'s deliveries the handler has not seen yet. */
  private withdraw(consumer: MemoryConsumer): QueuedMessage[] {
    const back: QueuedMessage[] = [];
    for (const p of this.outbox) {
      if (p.consumer !== consumer || p.handed || p.withdrawn) continue;
      p.withdrawn = true;
      if (!consumer.noAck) {
        this.unacked.delete(p.delivery.deliveryTag);
        consumer.queue.settle(consumer);
      }
      back.push(p.msg);
    }
    return back;
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    // Only what is queued now: deliveries caused by these handlers (acks
    // freeing prefetch, publishes) wait for the next turn so timers and I/O
    // are not starved.
    let n = this.outbox.length;
    while (n-- > 0 && this.open) {
      const p = this.outbox.shift() as Pending;
      if (p.withdrawn || !p.consumer.active) continue;
      p.handed = true;
      try {
        p.consumer.handler(p.delivery);
      } catch (e) {
        // amqplib rethrows a consumer callback's exception when nobody
        // listens for 'handler-error'; do the same, outside our loop.
        setImmediate(() => {
          throw e;
        });
      }
    }
    if (this.open && this.outbox.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  };

  private shutdown(err: Error | undefined): void {
    if (!this.open) return;
    this.open = false;
    this.closeError = err;

    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    for (const c of consumers) {
      c.active = false;
      c.queue.detachConsumer(c);
    }

    // Unacked (and not yet handed) deliveries go back to their queues,
    // redelivered, in their original order — rabbit_channel on close.
    const byQueue = new Map<MemoryQueue, QueuedMessage[]>();
    for (const p of this.unacked.values()) {
      p.consumer.queue.settle(p.consumer);
      const list = byQueue.get(p.consumer.queue);
      if (list) list.push(p.msg);
      else byQueue.set(p.consumer.queue, [p.msg]);
    }
    this.unacked.clear();
    this.outbox.clear();
    for (const [q, msgs] of byQueue) q.requeue(msgs);

    for (const c of consumers) c.queue.afterConsumerRemoved();
    this.broker.linkEnded(this);

    const listeners = this.listeners.splice(0);
    queueMicrotask(() => {
      for (const l of listeners) l(err);
    });
  }
}
