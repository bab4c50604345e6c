/**
 * Firehose (`rabbitmqctl trace_on`) emulation: the trace messages RabbitMQ
 * 3.10 publishes to the internal topic exchange `amq.rabbitmq.trace`.
 *
 * Format, as captured from RabbitMQ 3.10.8 with trace_on and a queue bound to
 * `amq.rabbitmq.trace` with `#` (amqplib publisher and consumer; the AMQP
 * field type tag of each value in brackets):
 *
 * Routing keys: `publish.<exchange name>` for every basic.publish that reached
 * an exchange — the default exchange gives `publish.` — and
 * `deliver.<queue name>` for every message handed to a consumer (noAck ones
 * too). A publish is traced before the queues see it, also when nothing is
 * routed (then `routed_queues` is empty; a mandatory publish is still
 * returned afterwards). A publish refused with a channel error (unknown or
 * internal exchange, bad expiration) is not traced. A message whose TTL runs
 * out in the queue gets a `publish.` trace and never a `deliver.` trace.
 * Messages published to `amq.rabbitmq.trace` itself are traced neither on
 * publish nor on delivery (rabbit_trace skips that exchange).
 *
 * Trace message: body = the original body, unchanged. Its only property is
 * `headers`; its own content type, delivery mode etc. are absent. Header
 * table, in this order:
 *
 *   publish                          deliver
 *   exchange_name   [S] ''           exchange_name [S] exchange it was published to
 *   routing_keys    [A] [S rk]       routing_keys  [A] [S rk]
 *   properties      [F] (below)      properties    [F] (below)
 *   node            [S] rabbit@localhost   node    [S]
 *   vhost           [S] '/'          redelivered   [I] 0 | 1   (an integer, not a bool)
 *   connection      [S] (below)      vhost         [S]
 *   channel         [I] 1            connection    [S]
 *   user            [S] 'guest'      channel       [I] 1
 *   routed_queues   [A] [S queue…]   user          [S]
 *
 * `connection` is the broker's own connection name, peer address then
 * server address — `127.0.0.1:51916 -> 127.0.0.1:5672` — NOT the
 * client-provided `connection_name`. The memory broker keeps that shape:
 * every link gets a synthetic peer port (see MemoryLink.address) on the
 * broker's configured listener address.
 *
 * On a `deliver.` trace, `connection`, `channel` and `user` are the
 * consumer's (a second connection consuming showed its own peer port), not
 * the publisher's.
 *
 * `routed_queues` came back sorted by name, whatever the binding order
 * (fanout: bound q3 then q2 → [q2, q3]; topic: bound z, a, m, b → [a, b, m,
 * z]); the memory broker sorts too.
 *
 * `properties` holds the published basic properties under their AMQP
 * (snake_case) names, in RabbitMQ's reverse-of-spec order: app_id, user_id,
 * type, timestamp [I, seconds as given], message_id, expiration [S],
 * reply_to, correlation_id, priority [I], delivery_mode [I], headers [F],
 * content_encoding, content_type. Only properties that were set appear,
 * except `headers`: amqplib always sends a headers table (empty when none is
 * given), so a publish through the rabbit driver always shows `headers` —
 * an empty table for `{}` publishes. The memory broker adds `headers: {}`
 * when absent so the tap sees the same shape on both drivers. User header
 * values keep the types the publisher used.
 *
 * The tap reads these through amqplib, which turns every integer type into a
 * JS number and tables into objects, so the values below are plain numbers,
 * strings, arrays and objects.
 */
import type { MessageProperties } from '../../driver.ts';
import { TRACE_EXCHANGE } from '../../topology.ts';

export { TRACE_EXCHANGE };

/** Publish-side context of a traced message. */
export interface TraceContext {
  node: string;
  vhost: string;
  /** broker-side connection name, `<peer ip:port> -> <server ip:port>` */
  connection: string;
  channel: number;
  user: string;
}

export interface TracedMessage {
  exchange: string;
  routingKey: string;
  properties: MessageProperties;
}

/** Basic properties → RabbitMQ's trace `properties` table (order matters: same as the real broker). */
export function traceProperties(p: MessageProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p.appId !== undefined) out.app_id = p.appId;
  if (p.userId !== undefined) out.user_id = p.userId;
  if (p.type !== undefined) out.type = p.type;
  if (p.timestamp !== undefined) out.timestamp = p.timestamp;
  if (p.messageId !== undefined) out.message_id = p.messageId;
  if (p.expiration !== undefined) out.expiration = p.expiration;
  if (p.replyTo !== undefined) out.reply_to = p.replyTo;
  if (p.correlationId !== undefined) out.correlation_id = p.correlationId;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.deliveryMode !== undefined) out.delivery_mode = p.deliveryMode;
  out.headers = p.headers ?? {};
  if (p.contentEncoding !== undefined) out.content_encoding = p.contentEncoding;
  if (p.contentType !== undefined) out.content_type = p.contentType;
  return out;
}

export function publishTraceHeaders(msg: TracedMessage, ctx: TraceContext, routedQueues: string[]): Record<string, unknown> {
  return {
    exchange_name: msg.exchange,
    routing_keys: [msg.routingKey],
    properties: traceProperties(msg.properties),
    node: ctx.node,
    vhost: ctx.vhost,
    connection: ctx.connection,
    channel: ctx.channel,
    user: ctx.user,
    routed_queues: [...routedQueues].sort(),
  };
}

export function deliverTraceHeaders(msg: TracedMessage, ctx: TraceContext, redelivered: boolean): Record<string, unknown> {
  return {
    exchange_name: msg.exchange,
    routing_keys: [msg.routingKey],
    properties: traceProperties(msg.properties),
    node: ctx.node,
    redelivered: redelivered ? 1 : 0,
    vhost: ctx.vhost,
    connection: ctx.connection,
    channel: ctx.channel,
    user: ctx.user,
  };
}
