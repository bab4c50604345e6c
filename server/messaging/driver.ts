/**
 * The driver seam. A driver gives AMQP 0-9-1 "links": one connection with one
 * confirm channel, exactly what oslo's impl_rabbit.Connection holds (one
 * channel per connection, publisher confirms on). Everything oslo-specific
 * (names, flags, envelopes, RPC) is written once above this seam, in
 * topology.ts / rpc-*.ts / notify-*.ts, and runs unchanged on the `rabbit`
 * driver (amqplib, a real broker) and the `memory` driver (an in-process
 * broker with the same semantics).
 *
 * A Link never reconnects by itself: when it dies it calls its close
 * listeners once with the error. Recovery (backoff, failover, re-declare,
 * re-consume) lives in ResilientLink, written once against this seam.
 */
import type { MessageProperties } from '../../lib/tap-contracts.ts';

export type ExchangeType = 'topic' | 'fanout' | 'direct' | 'headers';

export interface ExchangeOptions {
  durable: boolean;
  autoDelete: boolean;
  internal?: boolean;
  arguments?: Record<string, unknown>;
}

export interface QueueOptions {
  durable: boolean;
  autoDelete: boolean;
  exclusive?: boolean;
  /** x-expires, x-message-ttl, x-max-length, x-overflow, x-queue-type, x-ha-policy ... in insertion order */
  arguments?: Record<string, unknown>;
}

export interface QueueInfo {
  queue: string;
  messageCount: number;
  consumerCount: number;
}

/**
 * AMQP basic properties, defined once with the tap's wire schema (lib/tap-contracts.ts). Only the
 * ones set are put on the wire; `expiration` is the per-message TTL in milliseconds as a decimal
 * string (oslo: str(int(timeout*1000))).
 */
export type { MessageProperties };

export interface PublishOptions extends MessageProperties {
  /** basic.publish mandatory flag: a message no queue takes is returned and publish() rejects with MessageUndeliverable. */
  mandatory?: boolean;
}

/** Where a publish's outcome goes when no promise is wanted (Link.publishTo). */
export interface PublishSink {
  /** the broker confirmed the publish */
  published(): void;
  /** it was not confirmed: refused, returned (mandatory), nacked, or the link died */
  publishFailed(err: Error): void;
}

/** A PublishSink that settles a promise: publish() written over publishTo() with no closure per publish. */
export class PromiseSink implements PublishSink {
  constructor(
    readonly published: () => void,
    readonly publishFailed: (err: Error) => void,
  ) {}
}

export interface Delivery {
  body: Buffer;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  deliveryTag: number;
  consumerTag: string;
  properties: MessageProperties;
}

export interface ConsumeOptions {
  /** oslo uses "1", "2", ... per connection; the broker picks one when absent. */
  consumerTag?: string;
  noAck?: boolean;
  exclusive?: boolean;
  arguments?: Record<string, unknown>;
}

export type DeliveryHandler = (delivery: Delivery) => void;

/** What an ensure* declare found: `existed` = an entity of that name was there and was left as it is. */
export interface EnsureOutcome {
  existed: boolean;
}

/** One connection + one confirm channel. */
export interface Link {
  /** client-provided connection name, `<prog>:<pid>:<uuid>` */
  readonly connectionName: string;
  /** `host:port` this link is connected to (for logs; never includes credentials) */
  readonly endpoint: string;

  assertExchange(name: string, type: ExchangeType, options: ExchangeOptions): Promise<void>;
  assertQueue(name: string, options: QueueOptions): Promise<QueueInfo>;
  /**
   * Declare the exchange only if none of that name exists; an existing one
   * is used as it is, whatever its flags. The services of a vhost decide its
   * layout (a control exchange declared durable by quorum-queue services
   * refuses a non-durable declare with 406 `inequivalent arg 'durable'` and
   * closes the channel), so a client joining it must not redeclare. Never
   * fails with `inequivalent arg` (a concurrent declare with other flags
   * counts as existing) and a refusal does not close the link.
   */
  ensureExchange(name: string, type: ExchangeType, options: ExchangeOptions): Promise<EnsureOutcome>;
  /** Like ensureExchange, for a queue: an existing queue (quorum, stream, durable or not) is used as it is. */
  ensureQueue(name: string, options: QueueOptions): Promise<EnsureOutcome>;
  /** Passive declare. Rejects with a MessagingError code 404 when the queue does not exist; the link stays usable. */
  checkQueue(name: string): Promise<QueueInfo>;
  /** Passive exchange declare; rejects code 404 when missing; the link stays usable. */
  checkExchange(name: string): Promise<void>;
  bindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void>;
  unbindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void>;
  deleteQueue(name: string): Promise<void>;
  /** basic.qos(0, count, global=false): never global (RabbitMQ 4.3 denies the `global_qos` deprecated feature) */
  prefetch(count: number): Promise<void>;

  /**
   * Publish and wait for the broker's confirm. With `mandatory`, a message no
   * queue takes rejects with MessageUndeliverable (the basic.return that
   * precedes the ack).
   */
  publish(exchange: string, routingKey: string, body: Buffer, options: PublishOptions): Promise<void>;
  /**
   * publish() without a promise, for the RPC hot path: the confirm (or the
   * failure, possibly before this returns) goes to `sink`. Never throws.
   */
  publishTo(exchange: string, routingKey: string, body: Buffer, options: PublishOptions, sink: PublishSink): void;

  consume(queue: string, handler: DeliveryHandler, options?: ConsumeOptions): Promise<string>;
  cancel(consumerTag: string): Promise<void>;
  ack(delivery: Delivery): void;
  reject(delivery: Delivery, requeue: boolean): void;

  /** True until the link is closed or dies. */
  readonly isOpen: boolean;
  /** Called once when the link ends: with an error when it died, undefined on close(). */
  onClose(listener: (err?: Error) => void): void;
  close(): Promise<void>;
}

export interface ConnectOptions {
  connectionName: string;
  /** zero-based attempt counter, used to pick the failover host (round-robin) */
  attempt?: number;
}

export interface Driver {
  readonly name: 'rabbit' | 'memory';
  /** Open a link to one host (chosen round-robin by `attempt`). Rejects with MessageDeliveryFailure. */
  connect(options: ConnectOptions): Promise<Link>;
  /** Human-readable, credential-free description of where this driver points. */
  describe(): string;
}
