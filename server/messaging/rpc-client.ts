/**
 * oslo_messaging.RPCClient (rpc/client.py) over the AMQP send path
 * (amqpdriver.AMQPDriverBase._send, impl_rabbit topic_send / fanout_send).
 */
import { InvalidTarget, MessagingError, MessagingTimeout, RemoteError } from './errors.ts';
import { encodeBody, osloProperties, packContext, type Compression, type Dict } from './envelope.ts';
import { overrideTarget, requireTopic, versionIsCompatible, type Target } from './target.ts';
import { controlExchange, fanoutExchange, fanoutExchangeName, topicRoutingKey } from './topology.ts';
import type { Transport } from './transport.ts';
import { MSG_ID_KEY, REPLY_Q_KEY, TIMEOUT_KEY, UNIQUE_ID_KEY, uuidHex } from './wire.ts';

export interface CallOptions {
  /** seconds; null → rpc_response_timeout */
  timeout?: number | null;
  /** seconds; the server sends heartbeats every int(t)/2 s and each must arrive within t */
  callMonitorTimeout?: number | null;
  /** reconnect attempts for the send (null = forever, like oslo's default) */
  retry?: number | null;
  /** refuse to send versions above this (RPCVersionCapError) */
  versionCap?: string | null;
  /** TransportOptions(at_least_once=True): mandatory publish, unroutable → MessageUndeliverable */
  atLeastOnce?: boolean;
}

export type PrepareOptions = Partial<Target> & CallOptions;

export interface SendInfo {
  msgId?: string;
  uniqueId: string;
  exchange: string;
  routingKey: string;
  bytes: number;
}

export interface CallResult {
  result: unknown;
  msgId: string;
  elapsedMs: number;
  info: SendInfo;
}

/** rpc/client.py RPCVersionCapError */
export class RPCVersionCapError extends MessagingError {}

export class RpcClient {
  readonly target: Target;
  readonly options: CallOptions;

  constructor(
    readonly transport: Transport,
    target: Target,
    options: CallOptions = {},
  ) {
    this.target = { ...target };
    this.options = { ...options };
  }

  /** RPCClient.prepare(): a client with some target or call attributes overridden. */
  prepare(overrides: PrepareOptions): RpcClient {
    const { timeout, callMonitorTimeout, retry, versionCap, atLeastOnce, ...targetOverrides } = overrides;
    return new RpcClient(this.transport, overrideTarget(this.target, targetOverrides), {
      ...this.options,
      ...definedOnly({ timeout, callMonitorTimeout, retry, versionCap, atLeastOnce }),
    });
  }

  /** RPCClient.can_send_version() */
  canSendVersion(version?: string | null): boolean {
    const v = version === undefined ? this.target.version : version;
    return versionIsCompatible(this.options.versionCap ?? null, v ?? null);
  }

  /** Invoke a method and wait for its result; RemoteError / MessagingTimeout on failure. */
  async call(ctxt: Dict | null, method: string, args: Dict = {}): Promise<unknown> {
    return (await this.callDetailed(ctxt, method, args)).result;
  }

  async callDetailed(ctxt: Dict | null, method: string, args: Dict = {}): Promise<CallResult> {
    if (this.target.fanout) throw new InvalidTarget('A call cannot be used with fanout');
    const topic = requireTopic(this.target, 'call');
    const message = this.makeMessage(method, args);
    const timeout = this.options.timeout ?? this.transport.conf.rpc_response_timeout;
    const cmTimeout = this.options.callMonitorTimeout ?? null;
    const waiter = this.transport.startedReplyWaiter ?? (await this.transport.getReplyWaiter(this.options.retry ?? null));
    const msgId = uuidHex();
    message[MSG_ID_KEY] = msgId;
    message[REPLY_Q_KEY] = waiter.replyQ;
    message[TIMEOUT_KEY] = cmTimeout;
    const started = performance.now();
    // Listen before publishing so a fast reply is never missed (amqpdriver: _waiter.listen before send).
    const reply = waiter.wait(msgId, { timeout, callMonitorTimeout: cmTimeout, method });
    reply.catch(() => undefined);
    let info: SendInfo;
    try {
      info = await this.send(topic, message, ctxt, timeout);
    } catch (err) {
      waiter.cancel(msgId, err as Error);
      throw err;
    }
    info.msgId = msgId;
    this.transport.events.emit({ type: 'rpc:sent', kind: 'call', exchange: info.exchange, routingKey: info.routingKey, method, msgId, bytes: info.bytes });
    try {
      const result = await reply;
      return { result, msgId, elapsedMs: performance.now() - started, info };
    } catch (err) {
      if (err instanceof RemoteError || err instanceof MessagingTimeout) Object.assign(err, { msgId });
      throw err;
    }
  }

  /** Invoke a method without waiting; returns once the broker confirmed the publish. */
  async cast(ctxt: Dict | null, method: string, args: Dict = {}): Promise<SendInfo> {
    const topic = requireTopic(this.target, 'cast');
    const message = this.makeMessage(method, args);
    const info = await this.send(topic, message, ctxt, null);
    this.transport.events.emit({
      type: 'rpc:sent',
      kind: this.target.fanout ? 'fanout' : 'cast',
      exchange: info.exchange,
      routingKey: info.routingKey,
      method,
      bytes: info.bytes,
    });
    return info;
  }

  /** _BaseCallContext._make_message: method, args, then namespace / version only when set. */
  private makeMessage(method: string, args: Dict): Dict {
    if (typeof method !== 'string' || method === '') throw new MessagingError('An RPC method name is required');
    const msg: Dict = { method, args: { ...args } };
    if (this.target.namespace != null) msg.namespace = this.target.namespace;
    if (this.target.version != null) msg.version = this.target.version;
    if (this.options.versionCap != null && !versionIsCompatible(this.options.versionCap, (msg.version as string) ?? null)) {
      throw new RPCVersionCapError(
        `Requested message version, ${String(msg.version ?? 'None')} is incompatible.  It needs to be equal in major version and less than or equal in minor version as the specified version cap ${this.options.versionCap}.`,
      );
    }
    return msg;
  }

  private async send(topic: string, message: Dict, ctxt: Dict | null, timeout: number | null): Promise<SendInfo> {
    const uniqueId = uuidHex();
    message[UNIQUE_ID_KEY] = uniqueId;
    packContext(message, ctxt);
    const compression = (this.transport.rabbit.kombu_compression as Compression | undefined) ?? null;
    const { body, headers } = encodeBody(message, { compression: compression === 'gzip' ? 'gzip' : null });
    // impl_rabbit: only calls carry a per-message TTL, str(int(timeout * 1000)).
    const props = osloProperties(headers, timeout === null ? {} : { expiration: String(Math.trunc(timeout * 1000)) });
    const retry = this.options.retry ?? null;
    const topology = this.transport.topology;
    let exchange: string;
    let routingKey: string;
    if (this.target.fanout) {
      exchange = fanoutExchangeName(topic);
      routingKey = '';
      await this.transport.send({ exchange, routingKey, body, options: props, retry, declare: { type: 'fanout', options: fanoutExchange(topology) } });
    } else {
      exchange = this.target.exchange || this.transport.conf.control_exchange;
      routingKey = topicRoutingKey(topic, this.target.server);
      if (this.options.atLeastOnce) props.mandatory = true;
      await this.transport.send({ exchange, routingKey, body, options: props, retry, declare: { type: 'topic', options: controlExchange(topology) } });
    }
    return { uniqueId, exchange, routingKey, bytes: body.length };
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
