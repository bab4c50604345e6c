/**
 * oslo's exchange/queue names and flags (oslo-wire.md §2), defined once.
 * impl_rabbit.py: _get_queue_arguments, declare_topic_consumer,
 * declare_fanout_consumer, declare_direct_consumer, topic_send, fanout_send,
 * direct_send, notify_send / _publish_and_creates_default_queue.
 */
import type { ExchangeOptions, QueueOptions } from './driver.ts';
import { rabbitDefaults, type RabbitOptions } from './options.ts';
import { uuidHex } from './wire.ts';

/** The [oslo_messaging_rabbit] options topology depends on (names as oslo spells them). */
export type TopologyOptions = Pick<
  RabbitOptions,
  | 'amqp_durable_queues'
  | 'amqp_auto_delete'
  | 'rabbit_ha_queues'
  | 'rabbit_quorum_queue'
  | 'rabbit_quorum_delivery_limit'
  | 'rabbit_quroum_max_memory_length'
  | 'rabbit_quroum_max_memory_bytes'
  | 'rabbit_transient_queues_ttl'
>;

export const DEFAULT_TOPOLOGY: TopologyOptions = rabbitDefaults();

/**
 * impl_rabbit._get_queue_arguments(ha, ttl, quorum, quorum_cfg), keys in
 * exactly its insertion order: x-ha-policy, x-queue-type, x-delivery-limit,
 * x-max-in-memory-length, x-max-in-memory-bytes, x-expires.
 */
export function queueArguments(o: TopologyOptions, ttlSeconds: number, quorum: boolean): Record<string, unknown> {
  if (o.rabbit_ha_queues && quorum) {
    throw new RangeError('The rabbit_ha_queues and rabbit_quorum_queue options are mutually exclusive');
  }
  const args: Record<string, unknown> = {};
  if (o.rabbit_ha_queues) args['x-ha-policy'] = 'all';
  if (quorum) {
    args['x-queue-type'] = 'quorum';
    if (o.rabbit_quorum_delivery_limit) args['x-delivery-limit'] = o.rabbit_quorum_delivery_limit;
    if (o.rabbit_quroum_max_memory_length) args['x-max-in-memory-length'] = o.rabbit_quroum_max_memory_length;
    if (o.rabbit_quroum_max_memory_bytes) args['x-max-in-memory-bytes'] = o.rabbit_quroum_max_memory_bytes;
  }
  if (ttlSeconds > 0) args['x-expires'] = ttlSeconds * 1000;
  return args;
}

/** Connection.durable = amqp_durable_queues OR rabbit_quorum_queue */
export function durable(o: TopologyOptions): boolean {
  return o.amqp_durable_queues || o.rabbit_quorum_queue;
}

/** The control exchange (topic) used for RPC and notifications. */
export function controlExchange(o: TopologyOptions): ExchangeOptions {
  return { durable: durable(o), autoDelete: o.amqp_auto_delete };
}

/** `<topic>` and `<topic>.<server>` RPC queues: no x-expires, may be quorum. */
export function topicQueue(o: TopologyOptions): QueueOptions {
  return {
    durable: durable(o),
    autoDelete: o.amqp_auto_delete,
    arguments: queueArguments(o, 0, o.rabbit_quorum_queue),
  };
}

/** `<topic>_fanout` exchange: never durable, auto-delete. */
export const FANOUT_EXCHANGE: ExchangeOptions = { durable: false, autoDelete: true };

export function fanoutExchangeName(topic: string): string {
  return `${topic}_fanout`;
}

export function fanoutQueueName(topic: string): string {
  return `${topic}_fanout_${uuidHex()}`;
}

/** fanout and reply queues: transient, x-expires = rabbit_transient_queues_ttl, never quorum in 14.0.3. */
export function transientQueue(o: TopologyOptions): QueueOptions {
  return {
    durable: false,
    autoDelete: false,
    arguments: queueArguments(o, o.rabbit_transient_queues_ttl, false),
  };
}

export function replyQueueName(): string {
  return `reply_${uuidHex()}`;
}

/** routing key of an RPC send: `<topic>` or `<topic>.<server>` */
export function topicRoutingKey(topic: string, server?: string | null): string {
  return server ? `${topic}.${server}` : topic;
}

/** notification `<topic>.<priority>` queues: same flags as the control exchange, may be quorum, no x-expires */
export function notificationQueue(o: TopologyOptions): QueueOptions {
  return {
    durable: durable(o),
    autoDelete: o.amqp_auto_delete,
    arguments: queueArguments(o, 0, o.rabbit_quorum_queue),
  };
}

export function notificationRoutingKey(topic: string, priority: string): string {
  return `${topic}.${priority.toLowerCase()}`;
}
