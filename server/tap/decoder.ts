/**
 * The shadow consumer's decoder (docs/wire.md#what-the-tap-sees): pure and synchronous,
 * one AMQP message in, one redacted DecodedMessage out, never a throw.
 *
 * (1) undo kombu compression (`compression` header), (2) parse the JSON
 * tolerantly (NaN, big ints), (3) unwrap the v2 envelope or take a v1 body
 * as it is, (4) classify by the keys oslo writes (rpc/client.py
 * _make_message, amqpdriver _send / _send_reply, notify/notifier.py _notify),
 * (5) split `_context_*` from the message and redact everything.
 *
 * Headers the broker adds (docs/wire.md#broker-added-headers: `x-stream-offset`,
 * `x-delivery-count`, `x-acquired-count`, `timestamp_in_ms` with the
 * interceptor's `timestamp` property, `x-routed-by`, `x-death`) are moved
 * out of the headers into `broker` metadata: they never decide a kind, and
 * the headers left are what the publisher sent.
 *
 * Messages read from a stream (`rabbit_stream_fanout`) come back with
 * exchange "" and routing key = the stream name (rabbit_stream_queue
 * entry_to_msg drops the original exchange), so a request on the default
 * exchange whose routing key is `<topic>_fanout` is a fanout.
 *
 * Also parses RabbitMQ 3.10 firehose deliveries (`amq.rabbitmq.trace`, see
 * the header table in server/messaging/drivers/memory/firehose.ts) back into
 * the original message plus its trace information.
 */
import type { BrokerMetadata, DeathEntry, DecodedMessage, MessageKind, RemoteFailure, TraceInfo } from '../../lib/tap-contracts.ts';
import { parseBody, pyLoads, topology, wire, type Delivery, type MessageProperties } from '../messaging/index.ts';
import { decompressBody } from './compression.ts';
import { parseFanoutExchange, parseNotificationQueue, splitTopicServer } from './queue-names.ts';
import { isSecretKey, REDACTED, redact, redactObject, redactRawBody, redactText } from './redact.ts';

/**
 * A request on the default exchange read out of a `<topic>_fanout` stream:
 * the broker rebuilt it with routing key = the stream name (a stream
 * consumer, or a firehose `deliver.<topic>_fanout` trace). oslo itself never
 * sends a request to the default exchange.
 */
function streamFanoutTopic(o: Observation): string | null {
  const fromKey = parseFanoutExchange(o.routingKey);
  if (fromKey !== null) return fromKey;
  const q = o.trace?.queue;
  return q ? parseFanoutExchange(q) : null;
}

/** Undecodable bodies are kept raw up to this many bytes. */
export const RAW_KEEP_BYTES = 4096;

/** RabbitMQ's firehose exchange, defined once in the core's topology. */
export const TRACE_EXCHANGE = topology.TRACE_EXCHANGE;

/** One message as the tap saw it, before decoding. */
export interface Observation {
  id: string;
  /** observation time, ms since the epoch */
  ts: number;
  body: Buffer;
  /** the exchange it was published to ('' = default exchange) */
  exchange: string;
  routingKey: string;
  /** the publisher's basic properties */
  properties: MessageProperties;
  /** firehose information, null in bindings mode */
  trace: TraceInfo | null;
}

export type ObservedMessage = Omit<Observation, 'id' | 'ts'>;

/**
 * A delivery from one of the tap's bound queues (bindings mode): the message as published. Like
 * fromTraceDelivery's, the observation has an empty id and time 0 for the ingest to stamp in place
 * (created with them, so stamping does not change the object's shape).
 */
export function fromDelivery(d: Delivery): Observation {
  return { id: '', ts: 0, body: d.body, exchange: d.exchange, routingKey: d.routingKey, properties: d.properties, trace: null };
}

/**
 * A delivery from `amq.rabbitmq.trace`: the original message and its trace
 * headers. Null when the routing key is neither `publish.*` nor `deliver.*`.
 */
export function fromTraceDelivery(d: Delivery): Observation | null {
  const rk = d.routingKey;
  let event: 'publish' | 'deliver';
  let queue: string | null = null;
  if (rk.startsWith('publish.')) event = 'publish';
  else if (rk.startsWith('deliver.')) {
    event = 'deliver';
    queue = rk.slice('deliver.'.length);
  } else return null;
  const h = d.properties.headers ?? {};
  const routingKeys = h.routing_keys;
  const routingKey = Array.isArray(routingKeys) && routingKeys.length > 0 ? String(routingKeys[0]) : '';
  const exchange = h.exchange_name === undefined ? (event === 'publish' ? rk.slice('publish.'.length) : '') : str(h.exchange_name);
  const routed = h.routed_queues;
  const trace: TraceInfo = {
    event,
    routedQueues: event === 'publish' ? (Array.isArray(routed) ? strings(routed) : []) : null,
    connection: h.connection === undefined ? null : str(h.connection),
    connectionName: null,
    channel: typeof h.channel === 'number' ? h.channel : null,
    queue,
    // RabbitMQ sends redelivered as an integer 0/1 (firehose.ts)
    redelivered: event === 'deliver' ? h.redelivered === 1 || h.redelivered === true : null,
    node: h.node === undefined ? null : str(h.node),
    vhost: h.vhost === undefined ? null : str(h.vhost),
    user: h.user === undefined ? null : str(h.user),
  };
  return { id: '', ts: 0, body: d.body, exchange, routingKey, properties: traceProperties(h.properties), trace };
}

/** An AMQP array as strings: the array itself when it holds only strings (amqplib's decoding, made for this delivery alone). */
function strings(a: unknown[]): string[] {
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'string') return a.map((q) => str(q));
  return a as string[];
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

/** The trace `properties` table (AMQP snake_case names) back to basic properties. */
function traceProperties(p: unknown): MessageProperties {
  const out: MessageProperties = {};
  if (!p || typeof p !== 'object') return out;
  const t = p as Record<string, unknown>;
  if (t.content_type !== undefined) out.contentType = str(t.content_type);
  if (t.content_encoding !== undefined) out.contentEncoding = str(t.content_encoding);
  if (t.headers && typeof t.headers === 'object') out.headers = t.headers as Record<string, unknown>;
  if (typeof t.delivery_mode === 'number') out.deliveryMode = t.delivery_mode;
  if (typeof t.priority === 'number') out.priority = t.priority;
  if (t.correlation_id !== undefined) out.correlationId = str(t.correlation_id);
  if (t.reply_to !== undefined) out.replyTo = str(t.reply_to);
  if (t.expiration !== undefined) out.expiration = str(t.expiration);
  if (t.message_id !== undefined) out.messageId = str(t.message_id);
  if (typeof t.timestamp === 'number') out.timestamp = t.timestamp;
  if (t.type !== undefined) out.type = str(t.type);
  if (t.user_id !== undefined) out.userId = str(t.user_id);
  if (t.app_id !== undefined) out.appId = str(t.app_id);
  return out;
}

// Wire constants and helpers bound once: the hot path runs per message, and
// module namespace lookups (`wire.X`) cost a property get each time.
const CONTEXT_PREFIX = wire.CONTEXT_PREFIX;
const CONTEXT_PREFIX_LEN = CONTEXT_PREFIX.length;
const MSG_ID_KEY = wire.MSG_ID_KEY;
const REPLY_Q_KEY = wire.REPLY_Q_KEY;
const TIMEOUT_KEY = wire.TIMEOUT_KEY;
const UNIQUE_ID_KEY = wire.UNIQUE_ID_KEY;
const COMPRESSION_HEADER = wire.COMPRESSION_HEADER;
const REDACTED_TEXT = REDACTED;
const secretKey = isSecretKey;
const redactValue = redact;
const parseOsloBody = parseBody;

const FANOUT_SUFFIX = '_fanout';

/**
 * Decode one observation. Never throws: failures give kind `unknown` with
 * `error` and `raw`. `inflated` is the compressed body already undone off
 * the event loop (or why it could not be, e.g. beyond the size cap); without
 * it a compressed body is inflated here, capped.
 */
export function decodeObservation(o: Observation, inflated?: Buffer | Error): DecodedMessage {
  const props = o.properties;
  const headers = props.headers;
  const compressionHeader = headers ? headers[COMPRESSION_HEADER] : undefined;
  const compression = compressionHeader === undefined || compressionHeader === null ? null : str(compressionHeader);
  const base = baseMessage(o, compression);
  // firehose: the publish and the deliver trace(s) of one message carry the same body
  const reusable = o.trace !== null && compression === null && o.body.length <= TRACE_REUSE_MAX_BYTES;
  if (reusable && reuseDecoded(base, o)) return base;
  let message: Record<string, unknown>;
  try {
    if (inflated instanceof Error) throw inflated;
    const raw = compression === null ? o.body : (inflated ?? decompressBody(o.body, compression));
    const decoded = parseOsloBody(raw);
    message = decoded.message;
    base.enveloped = decoded.enveloped;
  } catch (err) {
    return undecodable(base, o.body, err);
  }
  try {
    classify(base, message, o);
  } catch (err) {
    // classify only reads plain JSON values; a throw here is a bug, but still never crashes the tap
    return undecodable(base, o.body, err);
  }
  if (reusable) keepDecoded(base, o);
  return base;
}

/**
 * The last firehose traces' bodies and what they decoded to. RabbitMQ traces
 * a message once when published and once per delivery, each a copy of the
 * same body, and at a busy broker's pace the deliver trace follows its
 * publish trace within a few trace messages: it takes that decoding (parsed,
 * classified, redacted once) instead of doing it again. What the body alone
 * decides is copied; what the trace's own delivery decides (id, time,
 * properties, broker metadata, trace) is always its own. A small ring of
 * small bodies, compared byte for byte: only an identical body under the
 * same exchange and routing key reuses a decoding.
 */
const TRACE_REUSE_ENTRIES = 32;
const TRACE_REUSE_MAX_BYTES = 16 * 1024;

interface ReusableDecoding {
  body: Buffer;
  /** fingerprint(body): most candidates of the same length differ here, without a call into Buffer.equals */
  print: number;
  exchange: string;
  routingKey: string;
  /** the decoding read the trace's queue (a request on the default exchange: a stream fanout?); undefined: it did not */
  queue: string | null | undefined;
  m: DecodedMessage;
}

const recentDecodings: (ReusableDecoding | undefined)[] = new Array<ReusableDecoding | undefined>(TRACE_REUSE_ENTRIES);
let recentNext = 0;

/** Forget the recent firehose decodings (tests compare a reused decoding with a fresh one). */
export function clearTraceDecodings(): void {
  recentDecodings.fill(undefined);
  recentNext = 0;
}

function keepDecoded(m: DecodedMessage, o: Observation): void {
  // request(): only a non-call request on the default exchange looks at the trace's queue (streamFanoutTopic)
  const readsQueue = m.method !== null && m.kind !== 'call' && o.exchange === '';
  recentDecodings[recentNext] = { body: o.body, print: fingerprint(o.body), exchange: o.exchange, routingKey: o.routingKey, queue: readsQueue ? (o.trace?.queue ?? null) : undefined, m };
  recentNext = (recentNext + 1) % TRACE_REUSE_ENTRIES;
}

/**
 * Eight bytes of a body: near its end (an oslo body ends with the `_unique_id` hex, random per message) and
 * in its middle. Bodies of calls to one method often have the same length; this tells them apart cheaply.
 */
function fingerprint(body: Buffer): number {
  const len = body.length;
  return len < 16 ? 0 : (body.readUInt32LE(len - 12) ^ body.readUInt32LE(len >>> 1)) >>> 0;
}

function findDecoded(o: Observation): ReusableDecoding | null {
  const body = o.body;
  const len = body.length;
  let print = -1;
  // newest first: the deliver trace usually follows its publish trace closely
  for (let k = 1; k <= TRACE_REUSE_ENTRIES; k++) {
    const e = recentDecodings[(recentNext - k + TRACE_REUSE_ENTRIES) % TRACE_REUSE_ENTRIES];
    if (e === undefined) return null;
    if (e.body.length !== len || e.routingKey !== o.routingKey || e.exchange !== o.exchange) continue;
    if (e.queue !== undefined && e.queue !== (o.trace?.queue ?? null)) continue;
    if (e.body === body) return e;
    if (print === -1) print = fingerprint(body);
    if (e.print === print && e.body.equals(body)) return e;
  }
  return null;
}

function reuseDecoded(base: DecodedMessage, o: Observation): boolean {
  const hit = findDecoded(o);
  if (hit === null) return false;
  const m = hit.m;
  base.kind = m.kind;
  base.topic = m.topic;
  base.server = m.server;
  base.method = m.method;
  base.namespace = m.namespace;
  base.version = m.version;
  base.msgId = m.msgId;
  base.replyQ = m.replyQ;
  base.uniqueId = m.uniqueId;
  base.callMonitorTimeout = m.callMonitorTimeout;
  base.args = m.args;
  base.context = m.context;
  base.requestId = m.requestId;
  base.result = m.result;
  base.failure = m.failure;
  base.ending = m.ending;
  base.eventType = m.eventType;
  base.priority = m.priority;
  base.publisherId = m.publisherId;
  base.messageId = m.messageId;
  base.timestamp = m.timestamp;
  base.payload = m.payload;
  base.enveloped = m.enveloped;
  return true;
}

function baseMessage(o: Observation, compression: string | null): DecodedMessage {
  const broker = brokerMetadata(o.properties);
  return {
    id: o.id,
    ts: o.ts,
    kind: 'unknown',
    exchange: o.exchange,
    routingKey: o.routingKey,
    topic: null,
    server: null,
    method: null,
    namespace: null,
    version: null,
    msgId: null,
    replyQ: null,
    uniqueId: null,
    callMonitorTimeout: null,
    timeoutMs: expirationMs(o.properties.expiration),
    args: null,
    context: {},
    requestId: null,
    result: null,
    failure: null,
    ending: null,
    eventType: null,
    priority: null,
    publisherId: null,
    messageId: null,
    timestamp: null,
    payload: null,
    properties: publicProperties(o.properties, broker !== null),
    trace: o.trace,
    broker,
    bytes: o.body.length,
    enveloped: false,
    compression,
    error: null,
    raw: null,
    rawEncoding: null,
    rawTruncated: false,
  };
}

/** The `expiration` property oslo sets on calls: str(int(timeout*1000)). */
function expirationMs(expiration: string | undefined): number | null {
  if (expiration === undefined) return null;
  const n = Number(expiration);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** Headers RabbitMQ (not the publisher) puts on a message; oslo never writes them. */
export const BROKER_HEADERS: ReadonlySet<string> = new Set([
  'x-stream-offset',
  'x-delivery-count',
  'x-acquired-count',
  'timestamp_in_ms',
  'x-routed-by',
  'x-death',
]);

/** x-death entries kept per message */
const MAX_DEATHS = 16;

/** An AMQP field value as a number: amqplib gives numbers, bigints and `{'!': 'timestamp', value}`; the memory broker plain values. */
function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) return Number(v);
  if (v && typeof v === 'object' && 'value' in v) return num((v as { value: unknown }).value);
  return null;
}

function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || Buffer.isBuffer(v)) return redactText(str(v));
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return null;
}

function deaths(v: unknown): DeathEntry[] | null {
  if (!Array.isArray(v)) return null;
  const out: DeathEntry[] = [];
  for (const d of v.slice(0, MAX_DEATHS)) {
    if (!d || typeof d !== 'object') continue;
    const t = d as Record<string, unknown>;
    const rks = t['routing-keys'];
    const time = num(t.time);
    out.push({
      queue: text(t.queue),
      reason: text(t.reason),
      count: num(t.count),
      exchange: text(t.exchange),
      routingKeys: Array.isArray(rks) ? rks.slice(0, 16).map((k) => text(k) ?? '') : [],
      // an AMQP timestamp is in seconds
      time: time === null ? null : time * 1000,
    });
  }
  return out;
}

/** The broker-added part of the headers; null when there is none (the usual case: oslo sends `headers={}`). */
export function brokerMetadata(p: MessageProperties): BrokerMetadata | null {
  const h = p.headers;
  if (!h) return null;
  let found = false;
  for (const k in h) {
    if (BROKER_HEADERS.has(k)) {
      found = true;
      break;
    }
  }
  if (!found) return null;
  const timestampMs = num(h.timestamp_in_ms);
  return {
    streamOffset: num(h['x-stream-offset']),
    deliveryCount: num(h['x-delivery-count']),
    acquiredCount: num(h['x-acquired-count']),
    timestampMs,
    // the set_header_timestamp interceptor writes both; alone, a `timestamp` property is the publisher's
    timestamp: timestampMs === null ? null : num(p.timestamp),
    routedBy: text(h['x-routed-by']),
    death: deaths(h['x-death']),
  };
}

/** Basic properties as published: redacted, broker-added headers (and the interceptor's timestamp) left out. */
function publicProperties(p: MessageProperties, brokerAdded: boolean): DecodedMessage['properties'] {
  const out: DecodedMessage['properties'] = {};
  const interceptorTimestamp = brokerAdded && p.headers !== undefined && p.headers.timestamp_in_ms !== undefined;
  for (const key in p) {
    const v = (p as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (key === 'headers') {
      let h = v as Record<string, unknown>;
      if (brokerAdded) {
        h = {};
        for (const k in v as Record<string, unknown>) if (!BROKER_HEADERS.has(k)) h[k] = (v as Record<string, unknown>)[k];
      }
      out.headers = redact(h) as Record<string, unknown>;
    } else if (key === 'timestamp' && interceptorTimestamp) {
      continue;
    } else (out as Record<string, unknown>)[key] = typeof v === 'string' ? redactText(v) : v;
  }
  return out;
}

function undecodable(m: DecodedMessage, body: Buffer, err: unknown): DecodedMessage {
  m.kind = 'unknown';
  // JSON.parse-style messages quote the body around the failure: redacted like the body itself
  m.error = redactText(err instanceof Error ? err.message : String(err));
  const view = redactRawBody(body, RAW_KEEP_BYTES, m.compression !== null);
  m.raw = view.raw;
  m.rawEncoding = view.rawEncoding;
  m.rawTruncated = view.rawTruncated;
  return m;
}

function classify(m: DecodedMessage, msg: Record<string, unknown>, o: Observation): void {
  const method = msg.method;
  if (typeof method === 'string') {
    request(m, msg, method, o);
    return;
  }
  if ('event_type' in msg && 'publisher_id' in msg && 'priority' in msg) {
    notification(m, msg, o);
    return;
  }
  const msgId = msg[MSG_ID_KEY];
  if (typeof msgId === 'string' && ('ending' in msg || 'failure' in msg || 'result' in msg)) {
    reply(m, msg, msgId, o);
    return;
  }
  // JSON, but not an oslo shape: keep it visible, redacted.
  m.payload = redactObject(msg);
}

/** A `_context_<name>` key of a message: the name, and whether its value is masked. */
interface ContextKey {
  name: string;
  secret: boolean;
}

/**
 * Message key → its context name, null when it is not a context key. The
 * same few dozen keys come with every message: slicing the prefix off and
 * asking isSecretKey about the new string (hashed afresh each time) was a
 * tenth of the decoder. Bounded like isSecretKey's own memo.
 */
const contextKeys = new Map<string, ContextKey | null>();
const CONTEXT_KEYS_MAX = 10_000;

function contextKey(key: string): ContextKey | null {
  let k = contextKeys.get(key);
  if (k === undefined) {
    const name = key.slice(CONTEXT_PREFIX_LEN);
    // `_context___proto__` must not reach the object's prototype
    k = key.startsWith(CONTEXT_PREFIX) && name !== '__proto__' ? { name, secret: secretKey(name) } : null;
    if (contextKeys.size >= CONTEXT_KEYS_MAX) contextKeys.clear();
    contextKeys.set(key, k);
  }
  return k;
}

/** amqp.py unpack_context: `_context_<key>` items, prefix stripped, secrets redacted. */
function splitContext(m: DecodedMessage, msg: Record<string, unknown>): void {
  const ctx: Record<string, unknown> = {};
  for (const key in msg) {
    // `_context_` keys come last (amqp.py pack_context appends them)
    if (key.charCodeAt(0) !== 95) continue;
    const k = contextKey(key);
    if (k === null) continue;
    const v = msg[key];
    if (k.secret) ctx[k.name] = v === null || v === undefined ? null : v === '' ? '' : REDACTED_TEXT;
    else if (v === null || typeof v === 'number' || typeof v === 'boolean') ctx[k.name] = v !== v || v === Infinity || v === -Infinity ? String(v) : v;
    else ctx[k.name] = redactValue(v, 1);
  }
  m.context = ctx;
  const rid = ctx.request_id ?? ctx.global_request_id;
  m.requestId = typeof rid === 'string' ? rid : null;
}

function request(m: DecodedMessage, msg: Record<string, unknown>, method: string, o: Observation): void {
  const msgId = msg[MSG_ID_KEY];
  const replyQ = msg[REPLY_Q_KEY];
  const isCall = typeof msgId === 'string' && typeof replyQ === 'string';
  const exchange = o.exchange;
  let kind: MessageKind;
  let fanoutTopic: string | null = null;
  if (isCall) kind = 'call';
  else if (exchange.endsWith(FANOUT_SUFFIX)) {
    kind = 'fanout';
    // fanout casts go to `<topic>_fanout` with routing key "" (amqpdriver fanout_send)
    fanoutTopic = exchange.slice(0, -FANOUT_SUFFIX.length);
  } else if (exchange === '' && (fanoutTopic = streamFanoutTopic(o)) !== null) kind = 'fanout';
  else kind = 'cast';
  m.kind = kind;
  m.method = method;
  if (kind === 'fanout') m.topic = fanoutTopic;
  else {
    // `<topic>` or `<topic>.<server>`: topics are plain names, a server may hold dots (host names)
    const ts = splitTopicServer(o.routingKey);
    m.topic = ts.topic;
    m.server = ts.server;
  }
  m.namespace = typeof msg.namespace === 'string' ? msg.namespace : null;
  m.version = typeof msg.version === 'string' ? msg.version : msg.version === undefined || msg.version === null ? null : String(msg.version);
  m.args = msg.args === undefined ? {} : redactValue(msg.args);
  if (isCall) {
    m.msgId = msgId as string;
    m.replyQ = replyQ as string;
    const t = msg[TIMEOUT_KEY];
    m.callMonitorTimeout = typeof t === 'number' && Number.isFinite(t) ? t : null;
  }
  const uid = msg[UNIQUE_ID_KEY];
  m.uniqueId = typeof uid === 'string' ? uid : null;
  splitContext(m, msg);
}

function notification(m: DecodedMessage, msg: Record<string, unknown>, o: Observation): void {
  m.kind = 'notification';
  m.eventType = msg.event_type === null || msg.event_type === undefined ? null : String(msg.event_type);
  m.publisherId = msg.publisher_id === null || msg.publisher_id === undefined ? null : String(msg.publisher_id);
  m.priority = msg.priority === null || msg.priority === undefined ? null : String(msg.priority);
  m.messageId = typeof msg.message_id === 'string' ? msg.message_id : null;
  m.timestamp = typeof msg.timestamp === 'string' ? msg.timestamp : null;
  m.payload = redact(msg.payload);
  const uid = msg[UNIQUE_ID_KEY];
  m.uniqueId = typeof uid === 'string' ? uid : null;
  // routing key `<topic>.<priority lowercase>` (notify/messaging.py MessagingDriver.notify)
  const rk = o.routingKey;
  m.topic = parseNotificationQueue(rk)?.topic ?? rk;
  splitContext(m, msg);
}

function reply(m: DecodedMessage, msg: Record<string, unknown>, msgId: string, o: Observation): void {
  m.msgId = msgId;
  // replies go to the default exchange with routing key = the caller's _reply_q (amqpdriver direct_send)
  m.replyQ = o.routingKey || null;
  const uid = msg[UNIQUE_ID_KEY];
  m.uniqueId = typeof uid === 'string' ? uid : null;
  const ending = msg.ending;
  m.ending = typeof ending === 'boolean' ? ending : null;
  const result = msg.result;
  const failure = msg.failure;
  m.result = result === undefined ? null : redact(result);
  m.failure = failure === undefined || failure === null ? null : parseFailure(failure);
  // AMQPIncomingMessage.heartbeat → _send_reply(None, None, ending=False)
  const heartbeat = ending === false && (result === null || result === undefined) && (failure === null || failure === undefined);
  m.kind = heartbeat ? 'heartbeat' : 'reply';
}

/** common.serialize_remote_exception's JSON string (or, tolerated, an object) → its fields, redacted. */
export function parseFailure(failure: unknown): RemoteFailure {
  let data: unknown = failure;
  if (typeof failure === 'string') {
    try {
      data = pyLoads(failure);
    } catch {
      return { class: 'Exception', module: 'builtins', message: redactText(failure), tb: [], args: [], kwargs: {} };
    }
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    return { class: 'Exception', module: 'builtins', message: redactText(String(data)), tb: [], args: [], kwargs: {} };
  }
  const d = data as Record<string, unknown>;
  return {
    class: d.class === undefined || d.class === null ? 'Exception' : String(d.class),
    module: d.module === undefined || d.module === null ? 'builtins' : String(d.module),
    message: redactText(d.message === undefined || d.message === null ? '' : String(d.message)),
    tb: Array.isArray(d.tb) ? d.tb.map((l) => redactText(String(l))) : [],
    args: Array.isArray(d.args) ? (redact(d.args) as unknown[]) : [],
    kwargs: d.kwargs && typeof d.kwargs === 'object' && !Array.isArray(d.kwargs) ? redactObject(d.kwargs as Record<string, unknown>) : {},
  };
}

/** The `<topic>` a message belongs to, for fanout discovery (`<topic>_fanout`). */
export function fanoutExchangeOf(topic: string): string {
  return `${topic}${FANOUT_SUFFIX}`;
}
