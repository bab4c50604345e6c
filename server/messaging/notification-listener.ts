/**
 * oslo_messaging notification listeners (notify/listener.py,
 * notify/dispatcher.py, notify/filter.py) over amqpdriver
 * listen_for_notifications: queues `<topic>.<priority>` shared with every
 * pool-less listener, or one queue named after the pool bound to every
 * (exchange, `<topic>.<priority>`); v1 and v2 bodies; ack after the endpoint
 * returns; REQUEUE or an exception requeues only when allowRequeue.
 */
import { unpackContext, type Dict } from './envelope.ts';
import type { Delivery } from './driver.ts';
import type { OrderedDecoder } from './ordered-decoder.ts';
import type { ResilientLink } from './resilient-link.ts';
import { requireTopic, type Target } from './target.ts';
import { controlExchange, notificationQueue, notificationRoutingKey } from './topology.ts';
import type { Transport } from './transport.ts';
import { DUP_MSG_CHECK_SIZE, NOTIFICATION_PRIORITIES, UNIQUE_ID_KEY, type NotificationPriority } from './wire.ts';

export const NotificationResult = { HANDLED: 'handled', REQUEUE: 'requeue' } as const;
export type NotificationResultValue = (typeof NotificationResult)[keyof typeof NotificationResult];

export interface NotificationMetadata {
  message_id: unknown;
  timestamp: unknown;
}

export interface NotificationMessage {
  ctxt: Dict;
  publisher_id: unknown;
  event_type: unknown;
  payload: unknown;
  metadata: NotificationMetadata;
  priority: string;
}

type Handler = (ctxt: Dict, publisherId: unknown, eventType: unknown, payload: unknown, metadata: NotificationMetadata) => unknown;
type BatchHandler = (messages: NotificationMessage[]) => unknown;

/** notify/filter.py NotificationFilter: Python re.match (anchored at the start) on each given field. */
export interface NotificationFilterSpec {
  publisherId?: string;
  eventType?: string;
  context?: Record<string, string>;
  metadata?: Record<string, string>;
  payload?: Record<string, string>;
}

export class NotificationFilter {
  private readonly publisherId?: RegExp;
  private readonly eventType?: RegExp;
  private readonly context: [string, RegExp][];
  private readonly metadata: [string, RegExp][];
  private readonly payload: [string, RegExp][];

  constructor(spec: NotificationFilterSpec) {
    const re = (s: string) => new RegExp(s, 'y');
    this.publisherId = spec.publisherId === undefined ? undefined : re(spec.publisherId);
    this.eventType = spec.eventType === undefined ? undefined : re(spec.eventType);
    const dict = (d?: Record<string, string>) => Object.entries(d ?? {}).map(([k, v]) => [k, re(v)] as [string, RegExp]);
    this.context = dict(spec.context);
    this.metadata = dict(spec.metadata);
    this.payload = dict(spec.payload);
  }

  match(m: NotificationMessage): boolean {
    const single = (data: unknown, r?: RegExp) => {
      if (!r) return true;
      if (typeof data !== 'string') return false;
      r.lastIndex = 0;
      return r.test(data);
    };
    const dict = (data: unknown, rs: [string, RegExp][]) => {
      if (rs.length === 0) return true;
      if (!data || typeof data !== 'object') return false;
      return rs.every(([k, r]) => k in (data as Dict) && single((data as Dict)[k], r));
    };
    return (
      single(m.publisher_id, this.publisherId) &&
      single(m.event_type, this.eventType) &&
      dict(m.ctxt, this.context) &&
      dict(m.metadata, this.metadata) &&
      dict(m.payload, this.payload)
    );
  }
}

/** An endpoint implements some of audit/debug/info/warn/error/critical/sample. */
export type NotificationEndpoint = Partial<Record<NotificationPriority, Handler | BatchHandler>> & {
  filterRule?: NotificationFilter;
};

export interface NotificationListenerOptions {
  /** pool name: one queue named P receives a copy of every matching notification */
  pool?: string | null;
  /** honour REQUEUE / exceptions with basic.reject(requeue=true) (oslo default False) */
  allowRequeue?: boolean;
  /** batch listener: deliver lists of up to batchSize messages, or what arrived within batchTimeout (s) */
  batchSize?: number;
  batchTimeout?: number;
}

interface Incoming {
  delivery: Delivery;
  message: NotificationMessage;
  uniqueId?: string;
}

export class NotificationListener {
  private link: ResilientLink | undefined;
  private readonly decoder: OrderedDecoder;
  private readonly priorities: NotificationPriority[];
  private readonly recentUnique: string[] = [];
  private batch: Incoming[] = [];
  private batchTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly queueNames: string[] = [];
  counters = { received: 0, handled: 0, requeued: 0, duplicates: 0, malformed: 0 };

  constructor(
    readonly transport: Transport,
    readonly targets: Target[],
    private readonly endpoints: NotificationEndpoint[],
    private readonly options: NotificationListenerOptions = {},
  ) {
    this.decoder = transport.orderedDecoder();
    // NotificationDispatcher.supported_priorities: only priorities some endpoint implements are bound.
    this.priorities = NOTIFICATION_PRIORITIES.filter((p) => endpoints.some((e) => typeof e[p] === 'function'));
  }

  get queues(): string[] {
    return [...this.queueNames];
  }

  async start(retry: number | null = null): Promise<void> {
    const link = this.transport.createLink('listen');
    this.link = link;
    const rabbit = this.transport.rabbit;
    try {
      await link.connect(retry);
      for (const target of this.targets) {
        const topic = requireTopic(target, 'listen for notifications');
        const exchange = target.exchange || this.transport.conf.control_exchange;
        for (const priority of this.priorities) {
          const routingKey = notificationRoutingKey(topic, priority);
          const queue = this.options.pool || routingKey;
          // Existing exchanges and queues are used as they are (Link.ensureExchange):
          // on a quorum vhost they are durable, and a redeclare with other flags is a 406.
          await link.ensureExchange(exchange, 'topic', controlExchange(this.transport.topology));
          await link.ensureQueue(queue, notificationQueue(this.transport.topology));
          await link.bindQueue(queue, exchange, routingKey);
          if (!this.queueNames.includes(queue)) this.queueNames.push(queue);
        }
      }
      if (rabbit.rabbit_qos_prefetch_count > 0) await link.prefetch(rabbit.rabbit_qos_prefetch_count);
      let tag = 1;
      for (const q of this.queueNames) await link.consume(q, (d) => this.onDelivery(d), { consumerTag: String(tag++) });
    } catch (err) {
      this.link = undefined;
      await link.close();
      throw err;
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
      'notification-listener',
      (raw) => this.onMessage(link, d, raw),
      () => {
        this.counters.malformed += 1;
      },
    );
  }

  private onMessage(link: ResilientLink, d: Delivery, raw: Dict): void {
    const uniqueId = typeof raw[UNIQUE_ID_KEY] === 'string' ? (raw[UNIQUE_ID_KEY] as string) : undefined;
    if (uniqueId && this.recentUnique.includes(uniqueId)) {
      this.counters.duplicates += 1;
      link.ack(d);
      return;
    }
    const { ctxt, message } = unpackContext(raw);
    delete ctxt.client_timeout;
    const incoming: Incoming = {
      delivery: d,
      uniqueId,
      message: {
        ctxt,
        publisher_id: message.publisher_id ?? null,
        event_type: message.event_type ?? null,
        payload: message.payload ?? null,
        metadata: { message_id: message.message_id ?? null, timestamp: message.timestamp ?? null },
        priority: typeof message.priority === 'string' ? message.priority.toLowerCase() : '',
      },
    };
    if (this.options.batchSize) {
      this.batch.push(incoming);
      if (this.batch.length >= this.options.batchSize) this.flushBatch();
      else if (!this.batchTimer) {
        this.batchTimer = setTimeout(() => this.flushBatch(), (this.options.batchTimeout ?? 1) * 1000);
      }
      return;
    }
    // one at a time, in order, like oslo's single listener thread
    this.chain = this.chain.then(() => this.handleOne(incoming));
  }

  private async handleOne(incoming: Incoming): Promise<void> {
    const m = incoming.message;
    let result: NotificationResultValue = NotificationResult.HANDLED;
    if (!(NOTIFICATION_PRIORITIES as readonly string[]).includes(m.priority)) {
      this.transport.log.warn({ priority: m.priority }, `Unknown priority "${m.priority}"`);
    } else {
      for (const endpoint of this.endpoints) {
        const fn = endpoint[m.priority as NotificationPriority] as Handler | undefined;
        if (typeof fn !== 'function') continue;
        if (endpoint.filterRule && !endpoint.filterRule.match(m)) continue;
        let ret: unknown;
        try {
          ret = await fn.call(endpoint, m.ctxt, m.publisher_id, m.event_type, m.payload, m.metadata);
        } catch (err) {
          this.transport.log.error({ err: (err as Error).message }, 'Callback raised an exception.');
          ret = NotificationResult.REQUEUE;
        }
        if (ret === NotificationResult.REQUEUE) {
          result = NotificationResult.REQUEUE;
          break;
        }
      }
    }
    this.settle(incoming, result === NotificationResult.REQUEUE);
  }

  private flushBatch(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    const items = this.batch.splice(0);
    if (items.length === 0) return;
    this.chain = this.chain.then(() => this.handleBatch(items));
  }

  private async handleBatch(items: Incoming[]): Promise<void> {
    const requeue = new Set<Incoming>();
    const byPriority = new Map<string, Incoming[]>();
    for (const i of items) {
      const list = byPriority.get(i.message.priority) ?? [];
      list.push(i);
      byPriority.set(i.message.priority, list);
    }
    for (const [priority, group] of [...byPriority].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!(NOTIFICATION_PRIORITIES as readonly string[]).includes(priority)) {
        this.transport.log.warn({ priority }, `Unknown priority "${priority}"`);
        continue;
      }
      for (const endpoint of this.endpoints) {
        const fn = endpoint[priority as NotificationPriority] as BatchHandler | undefined;
        if (typeof fn !== 'function') continue;
        const selected = endpoint.filterRule ? group.filter((i) => endpoint.filterRule!.match(i.message)) : group;
        if (selected.length === 0) continue;
        let ret: unknown;
        try {
          ret = await fn.call(endpoint, selected.map((i) => i.message));
        } catch (err) {
          this.transport.log.error({ err: (err as Error).message }, 'Callback raised an exception.');
          ret = NotificationResult.REQUEUE;
        }
        if (ret === NotificationResult.REQUEUE) {
          for (const i of group) requeue.add(i);
          break;
        }
      }
    }
    for (const i of items) this.settle(i, requeue.has(i));
  }

  private settle(incoming: Incoming, requeue: boolean): void {
    const link = this.link;
    if (!link) return;
    if (requeue && this.options.allowRequeue) {
      this.counters.requeued += 1;
      link.reject(incoming.delivery, true);
      return;
    }
    // NotificationAMQPIncomingMessage.acknowledge: ack, then remember the _unique_id.
    link.ack(incoming.delivery);
    this.counters.handled += 1;
    if (incoming.uniqueId) {
      this.recentUnique.push(incoming.uniqueId);
      if (this.recentUnique.length > DUP_MSG_CHECK_SIZE) this.recentUnique.shift();
    }
  }

  async stop(): Promise<void> {
    const link = this.link;
    if (!link) return;
    for (let tag = 1; tag <= this.queueNames.length; tag++) await link.cancel(String(tag)).catch(() => undefined);
    this.flushBatch();
    await this.chain;
    await link.close();
    this.link = undefined;
  }
}
