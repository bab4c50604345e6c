/**
 * The memory broker's management views: what RabbitMQ's management API (GET /api/queues,
 * /exchanges, /bindings, /connections, /consumers; rabbitmqadmin field meanings, camelCased) would
 * show for its state. Read-only snapshots, sorted by name as the API sorts them.
 */
import type { ExchangeType } from '../../driver.ts';
import type { MemoryExchange } from './memory-exchange.ts';
import type { MemoryLink } from './memory-link.ts';
import type { MemoryQueue } from './memory-queue.ts';

/** Management-API-like views (rabbitmqadmin / GET /api/queues field meanings, camelCased). */
export interface QueueView {
  name: string;
  messages: number;
  messagesReady: number;
  messagesUnacknowledged: number;
  consumers: number;
  durable: boolean;
  autoDelete: boolean;
  exclusive: boolean;
  arguments: Record<string, unknown>;
  /** dropped because their TTL ran out */
  messagesExpired: number;
  /** discarded by x-max-length (drop-head heads, reject-publish refusals) */
  messagesDropped: number;
}

export interface ExchangeView {
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}

export interface BindingView {
  source: string;
  destination: string;
  routingKey: string;
  arguments: Record<string, unknown>;
}

export interface ConnectionView {
  /** the client-provided connection name */
  name: string;
  /** RabbitMQ's own name for the connection, `<peer> -> <server>` (the firehose `connection` header) */
  address: string;
  user: string;
  vhost: string;
  channels: 1;
  consumers: number;
}

export interface ConsumerView {
  queue: string;
  consumerTag: string;
  connectionName: string;
  ackRequired: boolean;
  exclusive: boolean;
  prefetchCount: number;
}

export function queueViews(queues: Iterable<MemoryQueue>, now: number): QueueView[] {
  return [...queues]
    .sort((a, b) => compare(a.name, b.name))
    .map((q) => {
      q.dropExpiredHead(now);
      return {
        name: q.name,
        messages: q.stream ? q.messageCount : q.ready.length + q.unacked,
        messagesReady: q.messageCount,
        messagesUnacknowledged: q.unacked,
        consumers: q.consumerCount,
        durable: q.durable,
        autoDelete: q.autoDelete,
        exclusive: q.exclusive,
        arguments: { ...q.arguments },
        messagesExpired: q.messagesExpired,
        messagesDropped: q.messagesDropped,
      };
    });
}

export function exchangeViews(exchanges: Iterable<MemoryExchange>): ExchangeView[] {
  return [...exchanges]
    .sort((a, b) => compare(a.name, b.name))
    .map((x) => ({
      name: x.name,
      type: x.type,
      durable: x.durable,
      autoDelete: x.autoDelete,
      internal: x.internal,
      arguments: { ...x.arguments },
    }));
}

/** Every binding, including the default exchange's implicit one per queue (as the management API lists them). */
export function bindingViews(queues: Iterable<MemoryQueue>, exchanges: Iterable<MemoryExchange>): BindingView[] {
  const out: BindingView[] = [];
  for (const q of [...queues].sort((a, b) => compare(a.name, b.name))) out.push({ source: '', destination: q.name, routingKey: q.name, arguments: {} });
  const named = [...exchanges].filter((x) => x.name !== '').sort((a, b) => compare(a.name, b.name));
  for (const x of named) {
    for (const b of x.bindings) out.push({ source: x.name, destination: b.queue.name, routingKey: b.key, arguments: { ...b.args } });
  }
  return out;
}

export function connectionViews(links: Iterable<MemoryLink>, user: string, vhost: string): ConnectionView[] {
  return [...links].map((l) => ({
    name: l.connectionName,
    address: l.address,
    user,
    vhost,
    channels: 1 as const,
    consumers: l.consumerCount,
  }));
}

export function consumerViews(links: Iterable<MemoryLink>): ConsumerView[] {
  const out: ConsumerView[] = [];
  for (const l of links) {
    for (const c of l.consumerList()) {
      out.push({
        queue: c.queue.name,
        consumerTag: c.tag,
        connectionName: l.connectionName,
        ackRequired: !c.noAck,
        exclusive: c.exclusive,
        prefetchCount: c.prefetch,
      });
    }
  }
  return out;
}

/** Code-unit order, as the management API sorts names. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
