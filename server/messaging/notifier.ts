/**
 * oslo_messaging.Notifier (notify/notifier.py) with the `messagingv2` and
 * `messaging` drivers (notify/messaging.py) over the AMQP notify path
 * (amqpdriver._send notify=True, impl_rabbit notify_send /
 * _publish_and_creates_default_queue).
 */
import { MessagingError } from './errors.ts';
import { encodeBody, osloProperties, packContext, type Dict } from './envelope.ts';
import { controlExchange, notificationQueue, notificationRoutingKey } from './topology.ts';
import type { Transport } from './transport.ts';
import { UNIQUE_ID_KEY, uuidDashed, uuidHex, type NotificationPriority } from './wire.ts';

/** `messagingv2` = enveloped 2.0 bodies; `messaging` = bare 1.0 bodies; `noop` sends nothing. */
export type NotificationDriver = 'messagingv2' | 'messaging' | 'noop';

export interface NotifierOptions {
  publisherId?: string;
  driver?: NotificationDriver;
  /** [oslo_messaging_notifications] topics */
  topics?: string[];
  /** reconnect attempts; null = forever (oslo notifier default retry=-1) */
  retry?: number | null;
}

/** notifier._sanitize_context: the context keys a notification may carry (14.0.3). */
const SAFE_CONTEXT_KEYS = new Set([
  'user_id', 'project_id', 'domain_id', 'user_domain_id', 'project_domain_id', 'is_admin', 'request_id', 'roles',
  'user_name', 'project_name', 'domain_name', 'user_domain_name', 'project_domain_name', 'service_user_id',
  'service_user_domain_id', 'service_user_domain_name', 'service_project_id', 'service_project_name',
  'service_project_domain_id', 'service_project_domain_name', 'service_roles', 'global_request_id', 'system_scope',
  'user', 'domain', 'user_domain', 'project_domain',
]);

export function sanitizeContext(ctxt: Dict | null | undefined): Dict {
  const out: Dict = {};
  if (!ctxt) return out;
  for (const [k, v] of Object.entries(ctxt)) if (SAFE_CONTEXT_KEYS.has(k)) out[k] = v;
  return out;
}

/** str(timeutils.utcnow()): "YYYY-MM-DD HH:MM:SS.ffffff", fraction omitted when it is zero. */
export function pyUtcTimestamp(date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${p(date.getUTCFullYear(), 4)}-${p(date.getUTCMonth() + 1)}-${p(date.getUTCDate())} ${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}`;
  const micros = date.getUTCMilliseconds() * 1000;
  return micros === 0 ? base : `${base}.${p(micros, 6)}`;
}

export interface NotificationSent {
  messageId: string;
  exchange: string;
  routingKeys: string[];
}

export class Notifier {
  readonly publisherId: string | undefined;
  readonly driver: NotificationDriver;
  readonly topics: string[];
  readonly retry: number | null;

  constructor(
    readonly transport: Transport,
    options: NotifierOptions = {},
  ) {
    this.publisherId = options.publisherId;
    this.driver = options.driver ?? 'messagingv2';
    this.topics = options.topics ?? ['notifications'];
    this.retry = options.retry === undefined ? null : options.retry;
  }

  /** Notifier.prepare(publisher_id, retry) */
  prepare(options: { publisherId?: string; retry?: number | null }): Notifier {
    return new Notifier(this.transport, {
      publisherId: options.publisherId ?? this.publisherId,
      driver: this.driver,
      topics: this.topics,
      retry: options.retry === undefined ? this.retry : options.retry,
    });
  }

  audit(ctxt: Dict | null, eventType: string, payload: unknown) {
    return this.notify(ctxt, eventType, payload, 'audit');
  }
  debug(ctxt: Dict | null, eventType: string, payload: unknown) {
    return this.notify(ctxt, eventType, payload, 'debug');
  }
  info(ctxt: Dict | null, eventType: string, payload: unknown) {
    return this.notify(ctxt, eventType, payload, 'info');
  }
  /** Notifier.warn / warning: priority WARN */
  warn(ctxt: Dict | null, eventType: string, payload: unknown) {
    return this.notify(ctxt, eventType, payload, 'warn');
  }
  error(ctxt: Dict | null, eventType: string, payload: unknown) {
    return this.notify(ctxt, eventType, payload, 'error');
  }
  critical(ctxt: Dict | null, eventType: string, payload: unknown) {
    return this.notify(ctxt, eventType, payload, 'critical');
  }
  sample(ctxt: Dict | null, eventType: string, payload: unknown) {
    return this.notify(ctxt, eventType, payload, 'sample');
  }

  /**
   * Notifier._notify + MessagingDriver.notify: one publish per topic to the
   * control exchange, routing key `<topic>.<priority>`. Unlike oslo, send
   * errors reach the caller (oslo only logs them); callers that want oslo's
   * fire-and-forget can ignore the promise's rejection.
   */
  async notify(ctxt: Dict | null, eventType: string, payload: unknown, priority: NotificationPriority, publisherId?: string): Promise<NotificationSent> {
    const messageId = uuidDashed();
    const exchange = this.transport.conf.control_exchange;
    if (this.driver === 'noop') return { messageId, exchange, routingKeys: [] };
    const pub = publisherId ?? this.publisherId;
    if (!pub) throw new MessagingError('A notification needs a publisher_id');
    const safe = sanitizeContext(ctxt);
    // Notifier._notify stamps the message once; every topic gets the same timestamp.
    const timestamp = pyUtcTimestamp();
    const routingKeys: string[] = [];
    for (const topic of this.topics) {
      // each topic gets its own copy: _send adds _unique_id and the context per send
      const msg: Dict = {
        message_id: messageId,
        publisher_id: pub,
        event_type: eventType,
        priority: priority.toUpperCase(),
        payload,
        timestamp,
      };
      msg[UNIQUE_ID_KEY] = uuidHex();
      packContext(msg, safe);
      const { body, headers } = encodeBody(msg, {
        enveloped: this.driver === 'messagingv2',
        compression: this.transport.rabbit.kombu_compression === 'gzip' ? 'gzip' : null,
      });
      const routingKey = notificationRoutingKey(topic, priority);
      const props = osloProperties(headers);
      const topology = this.transport.topology;
      await this.transport.send({
        exchange,
        routingKey,
        body,
        options: props,
        retry: this.retry,
        declare: { type: 'topic', options: controlExchange(topology) },
        // _publish_and_creates_default_queue: the publisher declares and binds <topic>.<priority>, once per channel.
        queue: { name: routingKey, options: notificationQueue(topology) },
      });
      routingKeys.push(routingKey);
      this.transport.events.emit({ type: 'notification:sent', exchange, routingKey, eventType, priority });
    }
    return { messageId, exchange, routingKeys };
  }
}
