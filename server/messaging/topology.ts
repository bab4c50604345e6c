/**
 * oslo's exchange/queue names and flags (docs/wire.md#names-and-flags and
 * #layouts), defined once, for every layout oslo.messaging 14.0.3 to 18.x can
 * declare: the default, quorum topic queues (Q, `rabbit_quorum_queue`),
 * durable classic ones (D, `amqp_durable_queues`), quorum reply/fanout queues
 * (T, `rabbit_transient_quorum_queue`), one stream per fanout (S,
 * `rabbit_stream_fanout`) and queue-manager names (M, `use_queue_manager`).
 *
 * impl_rabbit.py (18.x): _get_queue_arguments, Connection.__init__ (option
 * checks), Connection.durable, declare_topic_consumer,
 * declare_fanout_consumer, declare_direct_consumer, Consumer.declare
 * (consumer arguments), topic_send, fanout_send, notify_send /
 * _publish_and_creates_default_queue; amqpdriver.QManager.
 */
import { basename } from 'node:path';
import { hostname as osHostname } from 'node:os';
import type { ExchangeOptions, QueueOptions } from './driver.ts';
import { ConfigError } from './errors.ts';
import { rabbitDefaults } from './options.ts';
import { uuidHex } from './wire.ts';

/** RabbitMQ's firehose exchange: every publish and delivery, copied while tracing is on for a vhost. */
export const TRACE_EXCHANGE = 'amq.rabbitmq.trace';

/**
 * `openstack` (oslo's default control_exchange) plus the exchanges services set with
 * set_transport_defaults: what the tap binds to and config offers by default.
 */
export const DEFAULT_CONTROL_EXCHANGES: readonly string[] = [
  'openstack',
  'nova',
  'neutron',
  'cinder',
  'glance',
  'heat',
  'ironic',
  'keystone',
  'octavia',
  'designate',
  'manila',
  'magnum',
  'barbican',
  'placement',
  'trove',
  'sahara',
  'aodh',
  'ceilometer',
  'zun',
];

/** The [oslo_messaging_rabbit] options topology depends on (names as oslo 18.x spells them). */
export interface TopologyOptions {
  amqp_durable_queues: boolean;
  amqp_auto_delete: boolean;
  rabbit_ha_queues: boolean;
  rabbit_quorum_queue: boolean;
  rabbit_quorum_delivery_limit: number;
  rabbit_quorum_max_memory_length: number;
  rabbit_quorum_max_memory_bytes: number;
  rabbit_transient_queues_ttl: number;
  rabbit_transient_quorum_queue: boolean;
  rabbit_stream_fanout: boolean;
  use_queue_manager: boolean;
  rabbit_qos_prefetch_count: number;
  enable_cancel_on_failover: boolean;
  /** queue-manager host part; oslo's default is socket.gethostname() */
  hostname: string;
  /** queue-manager process part; oslo's default is basename(sys.argv[0]) */
  processname: string;
}

/**
 * The topology slice of a `[oslo_messaging_rabbit]` option set. Reads the
 * 14.3.0+ names of the quorum memory limits and falls back to 14.0.3's
 * `rabbit_quroum_*` spellings; an empty hostname/processname takes oslo's
 * runtime default. Checks the combinations oslo refuses at connection
 * construction (impl_rabbit Connection.__init__, _get_queue_arguments) and
 * raises ConfigError with oslo's text.
 */
export function topologyOptions(rabbit: object, programName?: string): TopologyOptions {
  const r = rabbit as Record<string, unknown>;
  const bool = (k: string): boolean => r[k] === true;
  const num = (...keys: string[]): number => {
    for (const k of keys) if (typeof r[k] === 'number') return r[k] as number;
    return 0;
  };
  const str = (k: string): string => (typeof r[k] === 'string' ? (r[k] as string) : '');
  const o: TopologyOptions = {
    amqp_durable_queues: bool('amqp_durable_queues'),
    amqp_auto_delete: bool('amqp_auto_delete'),
    rabbit_ha_queues: bool('rabbit_ha_queues'),
    rabbit_quorum_queue: bool('rabbit_quorum_queue'),
    rabbit_quorum_delivery_limit: num('rabbit_quorum_delivery_limit'),
    rabbit_quorum_max_memory_length: num('rabbit_quorum_max_memory_length', 'rabbit_quroum_max_memory_length'),
    rabbit_quorum_max_memory_bytes: num('rabbit_quorum_max_memory_bytes', 'rabbit_quroum_max_memory_bytes'),
    rabbit_transient_queues_ttl: typeof r.rabbit_transient_queues_ttl === 'number' ? r.rabbit_transient_queues_ttl : 1800,
    rabbit_transient_quorum_queue: bool('rabbit_transient_quorum_queue'),
    rabbit_stream_fanout: bool('rabbit_stream_fanout'),
    use_queue_manager: bool('use_queue_manager'),
    rabbit_qos_prefetch_count: num('rabbit_qos_prefetch_count'),
    enable_cancel_on_failover: bool('enable_cancel_on_failover'),
    hostname: str('hostname') || osHostname(),
    processname: str('processname') || programName || basename(process.argv[1] ?? 'osloscope'),
  };
  checkTopology(o);
  return o;
}

/** impl_rabbit Connection.__init__ and _get_queue_arguments refusals, with oslo's texts. */
export function checkTopology(o: TopologyOptions): void {
  if (o.rabbit_stream_fanout && o.rabbit_qos_prefetch_count <= 0) {
    throw new ConfigError(
      'Configuration Error: rabbit_stream_fanout need rabbit_qos_prefetch_count to be set to a value greater than 0.',
      'rabbit_stream_fanout',
    );
  }
  if (o.rabbit_stream_fanout && !o.rabbit_transient_quorum_queue) {
    throw new ConfigError('Configuration Error: rabbit_stream_fanout need rabbit_transient_quorum_queue to be set to true.', 'rabbit_stream_fanout');
  }
  if (o.rabbit_ha_queues && (o.rabbit_quorum_queue || o.rabbit_transient_quorum_queue)) {
    throw new ConfigError(
      'Configuration Error: rabbit_quorum_queue and rabbit_ha_queues both enabled, queue type is quorum or HA (mirrored) not both',
      'rabbit_ha_queues',
    );
  }
}

export const DEFAULT_TOPOLOGY: TopologyOptions = topologyOptions(rabbitDefaults(), 'osloscope');

/**
 * impl_rabbit._get_queue_arguments(ha, ttl, quorum, quorum_cfg, stream),
 * keys in exactly its insertion order: x-ha-policy, x-queue-type,
 * x-delivery-limit, x-max-in-memory-length, x-max-in-memory-bytes,
 * x-expires; a stream queue rebuilds the table as x-queue-type, x-max-age
 * (a string, "<ttl>s").
 */
export function queueArguments(o: TopologyOptions, ttlSeconds: number, quorum: boolean, stream = false): Record<string, unknown> {
  if (o.rabbit_ha_queues && quorum) {
    throw new RangeError('The rabbit_ha_queues and rabbit_quorum_queue options are mutually exclusive');
  }
  if (stream) {
    const args: Record<string, unknown> = { 'x-queue-type': 'stream' };
    if (ttlSeconds > 0) args['x-max-age'] = `${ttlSeconds}s`;
    return args;
  }
  const args: Record<string, unknown> = {};
  if (o.rabbit_ha_queues) args['x-ha-policy'] = 'all';
  if (quorum) {
    args['x-queue-type'] = 'quorum';
    if (o.rabbit_quorum_delivery_limit) args['x-delivery-limit'] = o.rabbit_quorum_delivery_limit;
    if (o.rabbit_quorum_max_memory_length) args['x-max-in-memory-length'] = o.rabbit_quorum_max_memory_length;
    if (o.rabbit_quorum_max_memory_bytes) args['x-max-in-memory-bytes'] = o.rabbit_quorum_max_memory_bytes;
  }
  if (ttlSeconds > 0) args['x-expires'] = ttlSeconds * 1000;
  return args;
}

/** Connection.durable = amqp_durable_queues OR rabbit_quorum_queue */
export function durable(o: TopologyOptions): boolean {
  return o.amqp_durable_queues || o.rabbit_quorum_queue;
}

/** The control exchange (topic) used for RPC and notifications (topic_send, notify_send, declare_topic_consumer). */
export function controlExchange(o: TopologyOptions): ExchangeOptions {
  return { durable: durable(o), autoDelete: o.amqp_auto_delete };
}

/** `<topic>` and `<topic>.<server>` RPC queues: no x-expires, quorum with Q (declare_topic_consumer). */
export function topicQueue(o: TopologyOptions): QueueOptions {
  return {
    durable: durable(o),
    autoDelete: o.amqp_auto_delete,
    arguments: queueArguments(o, 0, o.rabbit_quorum_queue),
  };
}

/**
 * `<topic>_fanout` exchange: auto-delete, durable with T (fanout_send:
 * durable=rabbit_transient_quorum_queue; declare_fanout_consumer:
 * rabbit_transient_quorum_queue or rabbit_stream_fanout, the same since S
 * requires T).
 */
export function fanoutExchange(o: TopologyOptions): ExchangeOptions {
  return { durable: o.rabbit_transient_quorum_queue || o.rabbit_stream_fanout, autoDelete: true };
}

/** The 14.0.3 default `<topic>_fanout` exchange flags (no T). */
export const FANOUT_EXCHANGE: ExchangeOptions = { durable: false, autoDelete: true };

export function fanoutExchangeName(topic: string): string {
  return `${topic}_fanout`;
}

/**
 * declare_fanout_consumer: the queue a server reads fanouts from, and its
 * flags. S: one shared stream named like the exchange; otherwise
 * `<topic>_fanout_<unique>` (a uuid4 hex, or `<host>:<proc>:<n>` with M),
 * durable quorum with T, x-expires = rabbit_transient_queues_ttl.
 */
export function fanoutQueue(o: TopologyOptions, topic: string, unique: () => string = uuidHex): { name: string; options: QueueOptions } {
  if (o.rabbit_stream_fanout) {
    return {
      name: fanoutExchangeName(topic),
      options: { durable: true, autoDelete: false, arguments: queueArguments(o, o.rabbit_transient_queues_ttl, false, true) },
    };
  }
  return {
    name: `${topic}_fanout_${unique()}`,
    options: {
      durable: o.rabbit_transient_quorum_queue,
      autoDelete: false,
      arguments: queueArguments(o, o.rabbit_transient_queues_ttl, o.rabbit_transient_quorum_queue),
    },
  };
}

/** A 14.0.3-style fanout queue name (`<topic>_fanout_<uuid hex>`). */
export function fanoutQueueName(topic: string): string {
  return `${topic}_fanout_${uuidHex()}`;
}

/**
 * Consumer.declare: consumer arguments. A stream consumer gets exactly
 * `{x-stream-offset: <offset>}` (replacing x-cancel-on-ha-failover, which
 * RabbitMQ 4.x ignores anyway); others `{x-cancel-on-ha-failover: true}`
 * with enable_cancel_on_failover, else none.
 */
export function consumerArguments(o: TopologyOptions, streamOffset?: string | number): Record<string, unknown> {
  if (streamOffset !== undefined) return { 'x-stream-offset': streamOffset };
  return o.enable_cancel_on_failover ? { 'x-cancel-on-ha-failover': true } : {};
}

/** Where a stream consumer starts (Consumer.next_stream_offset, 14.8.0+): "last", then last seen + 1. */
export const STREAM_START_OFFSET = 'last';

/**
 * osloscope's own reply queue. oslo's (declare_direct_consumer) is
 * non-exclusive, and with T a durable quorum queue; ours is always
 * exclusive, non-durable, classic, with x-expires = rabbit_transient_queues_ttl
 * (docs/wire.md#queues-osloscope-declares): valid on RabbitMQ 3.x and 4.3 (which denies
 * non-durable non-exclusive queues), gone with its connection, and
 * invisible to servers, which publish replies through the default exchange.
 * Only the name follows the layout: `reply_<host>:<proc>:<n>` with M.
 */
export function replyQueue(o: TopologyOptions): QueueOptions {
  return { durable: false, autoDelete: false, exclusive: true, arguments: queueArguments(o, o.rabbit_transient_queues_ttl, false) };
}

/** fanout and reply queues of the 14.0.3 default layout: transient, x-expires = rabbit_transient_queues_ttl. */
export function transientQueue(o: TopologyOptions): QueueOptions {
  return {
    durable: false,
    autoDelete: false,
    arguments: queueArguments(o, o.rabbit_transient_queues_ttl, false),
  };
}

export function replyQueueName(unique: string = uuidHex()): string {
  return `reply_${unique}`;
}

/** routing key of an RPC send: `<topic>` or `<topic>.<server>` */
export function topicRoutingKey(topic: string, server?: string | null): string {
  return server ? `${topic}.${server}` : topic;
}

/** notification `<topic>.<priority>` queues: same flags as the control exchange, quorum with Q, no x-expires */
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

/**
 * amqpdriver.QManager: `<hostname>:<processname>:<n>` names for reply and
 * fanout queues, one counter per process shared by both kinds, starting at
 * 1 (oslo keeps it in /dev/shm per process group so a restarted service
 * reuses its names; osloscope is one process, so the counter lives here).
 * A caller that finds a name held by another live process takes the next.
 */
export class QueueManager {
  private counter = 0;
  constructor(
    readonly hostname: string,
    readonly processname: string,
  ) {}

  get(): string {
    this.counter += 1;
    return `${this.hostname}:${this.processname}:${this.counter}`;
  }
}
