/**
 * `amqplib+oslo` in `osloscope bench`: the protocol floor. The smallest
 * amqplib code that puts the same frames on the wire as osloscope's
 * RpcClient.call({}, 'ping', { n }) against an RpcServer (`{ fanout: false }`)
 * whose ping(n) returns n, so that osloscope vs this is what the
 * implementation costs and this vs amqplib+confirms what oslo's protocol costs
 * (docs/wire.md: properties, envelope and requests, replies, queues osloscope
 * declares):
 *   - topology: the `openstack` topic exchange, the `<topic>` and
 *     `<topic>.<server>` queues (non-durable, not auto-delete, no arguments),
 *     each bound with its own name, consumed with tags "1" and "2", no qos;
 *     the caller's exclusive `reply_<32 hex>` queue with x-expires (ms of
 *     rabbit_transient_queues_ttl), consumed without acks, as osloscope does;
 *   - requests: the v2 envelope of {method, args, _msg_id, _reply_q, _timeout,
 *     _unique_id} in Python's json.dumps layout, to `openstack` with routing
 *     key `<topic>`, content type/encoding, empty headers, delivery mode 2,
 *     priority 0, expiration = the call timeout in ms, not mandatory; a call
 *     is done when its confirm and its reply are both in;
 *   - replies: the v2 envelope of {result, failure, ending, _msg_id,
 *     _unique_id} to the default exchange with routing key `_reply_q`,
 *     mandatory, the same properties without expiration; requests acked on
 *     receipt;
 *   - per process, like a Transport: a listen connection (reply queue or
 *     request queues) and a send connection, each with one confirm channel.
 * The codec is template strings and JSON.parse; ids are 32 lowercase hex
 * digits (a random per-process prefix and a counter), the size of uuid4 hex.
 */
import { randomBytes } from 'node:crypto';
import amqplib from 'amqplib';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { TransportURL } from '../../server/messaging/index.ts';

/** oslo's control_exchange default */
export const FLOOR_EXCHANGE = 'openstack';
/** rabbit_transient_queues_ttl default (s): x-expires of the reply queue */
const REPLY_QUEUE_TTL_S = 1800;

/** Every publish's properties (impl_rabbit Connection._publish via kombu): one object, reused. */
const REPLY_OPTIONS = { contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, deliveryMode: 2, priority: 0, mandatory: true };

/** An amqplib connection as osloscope's rabbit driver opens one (heartbeat_timeout_threshold 60, RabbitMQ's frame_max), with TCP_NODELAY. */
export function floorConnect(url: string): Promise<ChannelModel> {
  const e = TransportURL.parse(url).amqpEndpoints()[0];
  return amqplib.connect(
    { hostname: e.hostname, port: e.port, username: e.username, password: e.password, vhost: e.vhost, heartbeat: 60, frameMax: 131_072 },
    { noDelay: true },
  );
}

const ID_PREFIX = randomBytes(8).toString('hex');
let idCounter = 0;
/** 32 lowercase hex digits, unique per process run: the shape and size of uuid4().hex. */
function newId(): string {
  return ID_PREFIX + (idCounter++).toString(16).padStart(16, '0');
}

/** The v2 envelope around an inner message already in json.dumps layout (JSON.stringify escapes it as Python does for ASCII). */
function envelope(inner: string): Buffer {
  return Buffer.from(`{"oslo.version": "2.0", "oslo.message": ${JSON.stringify(inner)}}`);
}

/** Both JSON layers of an enveloped body. */
function openEnvelope(body: Buffer): Record<string, unknown> {
  return JSON.parse((JSON.parse(body.toString()) as Record<string, string>)['oslo.message']) as Record<string, unknown>;
}

/**
 * The server side: ping(n) → n on `<topic>` and `<topic>.<server>`. Resolves
 * once it consumes; the returned function closes both connections and deletes
 * the queues it declared (osloscope leaves its topic queues, as oslo does;
 * the floor cleans up after itself).
 */
export async function floorServer(url: string, topic: string, server = 'bench'): Promise<() => Promise<void>> {
  const listen = await floorConnect(url);
  const send = await floorConnect(url);
  try {
    const out = await send.createConfirmChannel();
    const ch = await listen.createConfirmChannel();
    const queues = [topic, `${topic}.${server}`];
    for (const q of queues) {
      await ch.assertExchange(FLOOR_EXCHANGE, 'topic', { durable: false, autoDelete: false });
      await ch.assertQueue(q, { durable: false, autoDelete: false, arguments: {} });
      await ch.bindQueue(q, FLOOR_EXCHANGE, q);
    }
    const onRequest = (m: ConsumeMessage | null) => {
      if (!m) return;
      ch.ack(m);
      const req = openEnvelope(m.content);
      if (req.method !== 'ping' || typeof req._reply_q !== 'string') return;
      const result = JSON.stringify((req.args as { n?: unknown }).n ?? null);
      const inner = `{"result": ${result}, "failure": null, "ending": true, "_msg_id": "${req._msg_id as string}", "_unique_id": "${newId()}"}`;
      out.publish('', req._reply_q, envelope(inner), REPLY_OPTIONS);
    };
    await ch.consume(topic, onRequest, { consumerTag: '1', arguments: {} });
    await ch.consume(queues[1], onRequest, { consumerTag: '2', arguments: {} });
    return async () => {
      for (const tag of ['1', '2']) await ch.cancel(tag).catch(() => undefined);
      for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
      await closeAll(listen, send);
    };
  } catch (err) {
    await closeAll(listen, send);
    throw err;
  }
}

/** Both connections of a floor process, closed whatever state they are in. */
async function closeAll(...connections: ChannelModel[]): Promise<void> {
  for (const c of connections) await c.close().catch(() => undefined);
}

export interface FloorClient {
  /** ping(n): resolves with the reply's result once the request's confirm and the reply are in */
  call(n: number): Promise<unknown>;
  readonly replyQ: string;
  close(): Promise<void>;
}

/** The client side: calls to `openstack`/`<topic>`, replies on its own `reply_<hex>` queue; `timeout` (s) becomes the expiration. */
export async function floorClient(url: string, topic: string, timeout = 30): Promise<FloorClient> {
  const listen = await floorConnect(url);
  const send = await floorConnect(url);
  try {
    const replies = await listen.createConfirmChannel();
    const out = await send.createConfirmChannel();
    const replyQ = `reply_${newId()}`;
    await replies.assertQueue(replyQ, { durable: false, autoDelete: false, exclusive: true, arguments: { 'x-expires': REPLY_QUEUE_TTL_S * 1000 } });
    await out.assertExchange(FLOOR_EXCHANGE, 'topic', { durable: false, autoDelete: false });
    const options = { contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, deliveryMode: 2, priority: 0, expiration: String(Math.trunc(timeout * 1000)) };
    const pending = new Map<string, (reply: Record<string, unknown>) => void>();
    await replies.consume(
      replyQ,
      (m) => {
        if (!m) return;
        const reply = openEnvelope(m.content);
        pending.get(reply._msg_id as string)?.(reply);
      },
      { consumerTag: '1', noAck: true },
    );
    return {
      replyQ,
      call: (n) =>
        new Promise((resolve, reject) => {
          const msgId = newId();
          let reply: Record<string, unknown> | undefined;
          let confirmed = false;
          const done = (r: Record<string, unknown>) => (r.failure === null ? resolve(r.result) : reject(new Error(String(r.failure))));
          pending.set(msgId, (r) => {
            pending.delete(msgId);
            reply = r;
            if (confirmed) done(r);
          });
          const inner = `{"method": "ping", "args": {"n": ${JSON.stringify(n)}}, "_msg_id": "${msgId}", "_reply_q": "${replyQ}", "_timeout": null, "_unique_id": "${newId()}"}`;
          out.publish(FLOOR_EXCHANGE, topic, envelope(inner), options, (err) => {
            if (err) {
              pending.delete(msgId);
              return reject(err instanceof Error ? err : new Error(String(err)));
            }
            confirmed = true;
            if (reply) done(reply);
          });
        }),
      async close() {
        await closeAll(listen, send);
      },
    };
  } catch (err) {
    await closeAll(listen, send);
    throw err;
  }
}
