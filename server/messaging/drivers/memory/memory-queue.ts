/**
 * One queue of the memory broker: ready messages in a FIFO deque, its
 * consumers served round-robin, and RabbitMQ 3.10 classic-queue rules for
 * TTL, max-length and expiry (rabbit_amqqueue_process).
 *
 * A stream (`x-queue-type: stream`, what rabbit_stream_fanout declares) is
 * an append-only log instead: every consumer reads it from its own offset
 * (consumer argument `x-stream-offset`: "first", "last", "next" or a
 * number; default "next"), deliveries carry the `x-stream-offset` header,
 * and nothing is removed by consuming (rabbit_stream_queue). The log keeps
 * the last STREAM_MAX_MESSAGES messages (RabbitMQ: retention by x-max-age
 * and segment size).
 */
import type { DeliveryHandler, MessageProperties } from '../../driver.ts';
import type { Clock } from './clock.ts';
import { Deque } from './deque.ts';
import { fieldValue } from './field-values.ts';
import type { MemoryLink } from './memory-link.ts';

/** A queue.bind: `exchange` → `queue` for `key` (and `args`, for headers exchanges). */
export interface Binding {
  readonly exchange: string;
  readonly queue: MemoryQueue;
  readonly key: string;
  readonly args: Record<string, unknown>;
}

/** What one basic.publish carries; shared by every queue it is routed to. */
export interface Envelope {
  body: Buffer;
  exchange: string;
  routingKey: string;
  properties: MessageProperties;
  /** per-message TTL from the `expiration` property, ms */
  ttl: number | undefined;
}

/** A message as one queue holds it. */
export interface QueuedMessage {
  env: Envelope;
  /** enqueue order inside this queue, to put requeued messages back in order */
  seq: number;
  /** absolute expiry (clock ms), from min(x-message-ttl, expiration) at enqueue */
  expiresAt: number | undefined;
  redelivered: boolean;
}

export interface MemoryConsumer {
  readonly tag: string;
  readonly queue: MemoryQueue;
  readonly link: MemoryLink;
  readonly handler: DeliveryHandler;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  /** basic.qos(global=false) in force when the consumer was created; RabbitMQ applies it per consumer. 0 = unlimited */
  readonly prefetch: number;
  readonly arguments: Record<string, unknown>;
  unacked: number;
  active: boolean;
}

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** How many messages a memory stream keeps (its stand-in for x-max-age retention). */
export const STREAM_MAX_MESSAGES = 10_000;

export interface QueueSettings {
  name: string;
  durable: boolean;
  autoDelete: boolean;
  exclusive: boolean;
  arguments: Record<string, unknown>;
  owner: MemoryLink | undefined;
  messageTtl: number | undefined;
  maxLength: number | undefined;
  overflow: Overflow;
  expires: number | undefined;
  /** x-queue-type stream */
  stream?: boolean;
}

/** The broker side a queue needs: time, deletion and firehose tracing. */
export interface QueueHost {
  readonly clock: Clock;
  /** x-expires ran out */
  expireQueue(queue: MemoryQueue): void;
  /** the last consumer of an auto-delete queue went away */
  autoDeleteQueue(queue: MemoryQueue): void;
  traceDeliver(queue: MemoryQueue, msg: QueuedMessage, link: MemoryLink): void;
}

export class MemoryQueue {
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly arguments: Record<string, unknown>;
  readonly owner: MemoryLink | undefined;
  readonly messageTtl: number | undefined;
  readonly maxLength: number | undefined;
  readonly overflow: Overflow;
  readonly expires: number | undefined;
  readonly stream: boolean;

  readonly ready = new Deque<QueuedMessage>();
  /** stream queues: the log, oldest first; log[0] has offset logStart */
  private readonly log: Envelope[] = [];
  private logStart = 0;
  /** stream queues: the next offset each consumer reads */
  private readonly cursors = new Map<MemoryConsumer, number>();
  consumers: MemoryConsumer[] = [];
  /** delivered to an ack-mode consumer, not yet acked or rejected */
  unacked = 0;
  /** messages dropped because their TTL ran out (x-message-ttl or expiration); never delivered */
  messagesExpired = 0;
  /** messages discarded by x-max-length: heads dropped (drop-head) or publishes refused (reject-publish) */
  messagesDropped = 0;
  /** bindings pointing at this queue, removed with it */
  readonly bindings = new Set<Binding>();
  deleted = false;

  private rr = 0;
  private seq = 0;
  private hadConsumer = false;
  private ttlTimer: unknown;
  private ttlDue: number | undefined;
  private expiryTimer: unknown;

  constructor(
    private readonly host: QueueHost,
    s: QueueSettings,
  ) {
    this.name = s.name;
    this.durable = s.durable;
    this.autoDelete = s.autoDelete;
    this.exclusive = s.exclusive;
    this.arguments = s.arguments;
    this.owner = s.owner;
    this.messageTtl = s.messageTtl;
    this.maxLength = s.maxLength;
    this.overflow = s.overflow;
    this.expires = s.expires;
    this.stream = s.stream === true;
    this.armExpiry();
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  /** Messages held: ready ones, or a stream's whole log. */
  get messageCount(): number {
    return this.stream ? this.log.length : this.ready.length;
  }

  /**
   * Route one published message into this queue. Like
   * rabbit_amqqueue_process:deliver_or_enqueue, a message that finds no
   * ready messages ahead of it and a consumer with spare prefetch is handed
   * to that consumer at once (so TTL 0 and x-max-length 0 behave as on
   * RabbitMQ: delivered when someone can take it now, else discarded).
   * Returns 'rejected' when x-overflow reject-publish refuses it (the
   * publisher then gets a nack).
   */
  enqueue(env: Envelope): 'ok' | 'rejected' {
    if (this.stream) {
      this.log.push(env);
      if (this.log.length > STREAM_MAX_MESSAGES) {
        this.log.shift();
        this.logStart++;
      }
      this.pumpStream();
      return 'ok';
    }
    const now = this.host.clock.now();
    this.dropExpiredHead(now);
    const ttl = minDefined(env.ttl, this.messageTtl);
    const msg: QueuedMessage = { env, seq: this.seq++, expiresAt: ttl === undefined ? undefined : now + ttl, redelivered: false };
    if (this.ready.length === 0) {
      const c = this.nextConsumer();
      if (c) {
        this.deliverTo(c, msg);
        return 'ok';
      }
    }
    if (ttl === 0) {
      this.messagesExpired++;
      return 'ok';
    }
    if (this.maxLength !== undefined && this.ready.length >= this.maxLength) {
      if (this.overflow !== 'drop-head') {
        this.messagesDropped++;
        return 'rejected';
      }
      if (this.maxLength === 0) {
        this.messagesDropped++;
        return 'ok';
      }
      while (this.ready.length >= this.maxLength) {
        this.ready.shift();
        this.messagesDropped++;
      }
    }
    this.ready.push(msg);
    this.armTtl(now);
    return 'ok';
  }

  /** Hand ready messages to consumers with spare prefetch, dropping expired heads on the way. */
  pump(): void {
    if (this.deleted) return;
    if (this.stream) {
      this.pumpStream();
      return;
    }
    const now = this.host.clock.now();
    while (this.ready.length > 0 && this.consumers.length > 0) {
      const head = this.ready.peek() as QueuedMessage;
      if (head.expiresAt !== undefined && now >= head.expiresAt) {
        this.ready.shift();
        this.messagesExpired++;
        continue;
      }
      const c = this.nextConsumer();
      if (!c) break;
      this.ready.shift();
      this.deliverTo(c, head);
    }
    this.dropExpiredHead(now);
    this.armTtl(now);
  }

  /**
   * Put messages back at the head, oldest first, marked redelivered
   * (basic.reject requeue=true, or unacked messages of a closed channel).
   */
  requeue(msgs: QueuedMessage[]): void {
    if (this.deleted || msgs.length === 0) return;
    // a stream keeps every message in its log: nothing goes back, credit is freed
    if (this.stream) {
      this.pumpStream();
      return;
    }
    const sorted = msgs.length > 1 ? [...msgs].sort((a, b) => b.seq - a.seq) : msgs;
    for (const m of sorted) {
      m.redelivered = true;
      this.ready.unshift(m);
    }
    this.pump();
  }

  /** An unacked delivery was acked, rejected or given back: free the consumer's prefetch slot. */
  settle(consumer: MemoryConsumer): void {
    consumer.unacked--;
    if (!this.deleted) this.unacked--;
  }

  addConsumer(c: MemoryConsumer): void {
    if (this.stream) this.cursors.set(c, this.startOffset(c.arguments['x-stream-offset']));
    this.consumers.push(c);
    this.hadConsumer = true;
    this.clearExpiry();
    this.pump();
  }

  /** Detach a consumer; the caller runs afterConsumerRemoved() once its own cleanup is done. */
  detachConsumer(c: MemoryConsumer): void {
    const i = this.consumers.indexOf(c);
    if (i < 0) return;
    this.cursors.delete(c);
    this.consumers.splice(i, 1);
    if (this.rr > i) this.rr--;
    if (this.rr >= this.consumers.length) this.rr = 0;
  }

  /** auto_delete: gone with its last consumer (only once it has had one); x-expires: the idle clock restarts. */
  afterConsumerRemoved(): void {
    if (this.deleted || this.consumers.length > 0) return;
    if (this.autoDelete && this.hadConsumer) {
      this.host.autoDeleteQueue(this);
      return;
    }
    this.armExpiry();
  }

  /** queue.declare (active or passive) counts as use: restart the x-expires clock. */
  touch(): void {
    this.armExpiry();
  }

  /** Drop expired messages at the head (RabbitMQ only ever expires from the head). */
  dropExpiredHead(now: number): void {
    for (;;) {
      const head = this.ready.peek();
      if (head === undefined || head.expiresAt === undefined || now < head.expiresAt) return;
      this.ready.shift();
      this.messagesExpired++;
    }
  }

  /** Forget everything; the broker has removed the queue. */
  dispose(): void {
    this.deleted = true;
    this.clearExpiry();
    if (this.ttlTimer !== undefined) this.host.clock.clearTimeout(this.ttlTimer);
    this.ttlTimer = undefined;
    this.ttlDue = undefined;
    this.ready.clear();
    this.log.length = 0;
    this.cursors.clear();
    this.consumers = [];
    this.unacked = 0;
  }

  /** Where a new stream consumer starts (rabbit_stream_queue: "last" is the last chunk; here, the last message). */
  private startOffset(spec: unknown): number {
    const end = this.logStart + this.log.length;
    const v = fieldValue(spec).value;
    if (v === 'first') return this.logStart;
    if (v === 'last') return Math.max(this.logStart, end - 1);
    if (typeof v === 'number' && Number.isInteger(v)) return Math.min(Math.max(v, this.logStart), end);
    return end;
  }

  /** Give each stream consumer the log entries after its cursor, as far as its credit (prefetch) goes. */
  private pumpStream(): void {
    if (this.deleted) return;
    const end = this.logStart + this.log.length;
    for (const c of [...this.consumers]) {
      let at = Math.max(this.cursors.get(c) ?? end, this.logStart);
      while (at < end && c.active && (c.prefetch === 0 || c.unacked < c.prefetch)) {
        const env = this.log[at - this.logStart];
        const headers = { ...(env.properties.headers ?? {}), 'x-stream-offset': at };
        this.deliverTo(c, { env: { ...env, properties: { ...env.properties, headers } }, seq: at, expiresAt: undefined, redelivered: false });
        at++;
      }
      this.cursors.set(c, at);
    }
  }

  private deliverTo(c: MemoryConsumer, msg: QueuedMessage): void {
    if (!c.noAck) {
      c.unacked++;
      this.unacked++;
    }
    c.link.deliver(c, msg);
    this.host.traceDeliver(this, msg, c.link);
  }

  private nextConsumer(): MemoryConsumer | undefined {
    const n = this.consumers.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.rr + i) % n;
      const c = this.consumers[idx];
      if (c.noAck || c.prefetch === 0 || c.unacked < c.prefetch) {
        this.rr = (idx + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  /**
   * One timer for the head's expiry, so expired messages leave the counts
   * even with nobody consuming. A timer already due no later than the new
   * head is kept (when it fires, pump() re-arms for the head of that time):
   * re-arming on every head change would cost a timer per delivery.
   */
  private armTtl(now: number): void {
    const due = this.ready.peek()?.expiresAt;
    if (due === undefined || this.deleted) return;
    if (this.ttlTimer !== undefined && (this.ttlDue as number) <= due) return;
    if (this.ttlTimer !== undefined) this.host.clock.clearTimeout(this.ttlTimer);
    this.ttlDue = due;
    this.ttlTimer = this.host.clock.setTimeout(
      () => {
        this.ttlTimer = undefined;
        this.ttlDue = undefined;
        this.pump();
      },
      Math.max(0, due - now),
    );
  }

  private armExpiry(): void {
    if (this.expires === undefined || this.deleted) return;
    this.clearExpiry();
    if (this.consumers.length > 0) return;
    this.expiryTimer = this.host.clock.setTimeout(() => {
      this.expiryTimer = undefined;
      if (!this.deleted && this.consumers.length === 0) this.host.expireQueue(this);
    }, this.expires);
  }

  private clearExpiry(): void {
    if (this.expiryTimer !== undefined) this.host.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
