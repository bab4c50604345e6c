/**
 * oslo_messaging.RPCClient (rpc/client.py) over the AMQP send path
 * (amqpdriver.AMQPDriverBase._send, impl_rabbit topic_send / fanout_send).
 */
import { InvalidTarget, MessagingError, MessagingTimeout, RemoteError } from './errors.ts';
import { encodeBody, osloProperties, packContext, type Compression, type Dict } from './envelope.ts';
import { overrideTarget, requireTopic, versionIsCompatible, type Target } from './target.ts';
import { controlExchange, fanoutExchange, fanoutExchangeName, topicRoutingKey } from './topology.ts';
import type { PublishSink } from './driver.ts';
import type { SendSpec, Transport } from './transport.ts';
import type { ReplySink, ReplyWaiter } from './reply-waiter.ts';
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
  call(ctxt: Dict | null, method: string, args: Dict = {}): Promise<unknown> {
    return this.invoke(ctxt, method, args, false) as Promise<unknown>;
  }

  callDetailed(ctxt: Dict | null, method: string, args: Dict = {}): Promise<CallResult> {
    return this.invoke(ctxt, method, args, true) as Promise<CallResult>;
  }

  /**
   * One call: done when both the broker's confirm of the request and the
   * final reply are in. No async function on the way: the promise returned
   * is the only one the call makes once the reply waiter runs.
   */
  private invoke(ctxt: Dict | null, method: string, args: Dict, detailed: boolean): Promise<unknown> {
    let topic: string;
    let message: Dict;
    try {
      if (this.target.fanout) throw new InvalidTarget('A call cannot be used with fanout');
      topic = requireTopic(this.target, 'call');
      message = this.makeMessage(method, args);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const waiter = this.transport.startedReplyWaiter;
    // no named closure per call here: under tsx (keepNames) each would cost a defineProperty
    if (waiter) {
      return new Promise((resolve, reject) => this.startCall(waiter, topic, message, ctxt, method, new PendingCall(this.transport, method, detailed, resolve, reject)));
    }
    // the first call of the transport starts its reply waiter (amqpdriver._get_reply_q)
    return this.transport
      .getReplyWaiter(this.options.retry ?? null)
      .then((w) => new Promise((resolve, reject) => this.startCall(w, topic, message, ctxt, method, new PendingCall(this.transport, method, detailed, resolve, reject))));
  }

  /** Register the call with the reply waiter, then publish its request; never throws (a failure rejects the call). */
  private startCall(waiter: ReplyWaiter, topic: string, message: Dict, ctxt: Dict | null, method: string, call: PendingCall): void {
    const timeout = this.options.timeout ?? this.transport.conf.rpc_response_timeout;
    const cmTimeout = this.options.callMonitorTimeout ?? null;
    const msgId = uuidHex();
    message[MSG_ID_KEY] = msgId;
    message[REPLY_Q_KEY] = waiter.replyQ;
    message[TIMEOUT_KEY] = cmTimeout;
    call.msgId = msgId;
    call.started = performance.now();
    let spec: SendSpec;
    try {
      // Listen before publishing so a fast reply is never missed (amqpdriver: _waiter.listen before send).
      waiter.listen(msgId, { timeout, callMonitorTimeout: cmTimeout, method }, call);
      call.waiter = waiter;
      spec = this.request(topic, message, ctxt, timeout, call);
    } catch (err) {
      call.publishFailed(err as Error);
      return;
    }
    // the confirm goes to the call itself: no promise for the send
    this.transport.sendTo(spec, call);
  }

  /** Invoke a method without waiting; returns once the broker confirmed the publish. */
  async cast(ctxt: Dict | null, method: string, args: Dict = {}): Promise<SendInfo> {
    const topic = requireTopic(this.target, 'cast');
    const message = this.makeMessage(method, args);
    const info: SendInfo = { uniqueId: '', exchange: '', routingKey: '', bytes: 0 };
    await this.transport.send(this.request(topic, message, ctxt, null, info));
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

  /**
   * A request ready to publish (AMQPDriverBase._send): the unique id and
   * context packed, the body encoded, where it goes. Fills `info` (where it
   * went, how big).
   */
  private request(topic: string, message: Dict, ctxt: Dict | null, timeout: number | null, info: SendInfo): SendSpec {
    const uniqueId = uuidHex();
    message[UNIQUE_ID_KEY] = uniqueId;
    packContext(message, ctxt);
    const compression = (this.transport.rabbit.kombu_compression as Compression | undefined) ?? null;
    const { body, headers } = encodeBody(message, { compression: compression === 'gzip' ? 'gzip' : null });
    // impl_rabbit: only calls carry a per-message TTL, str(int(timeout * 1000)).
    const props = osloProperties(headers, timeout === null ? {} : { expiration: String(Math.trunc(timeout * 1000)) });
    const retry = this.options.retry ?? null;
    const topology = this.transport.topology;
    info.uniqueId = uniqueId;
    info.bytes = body.length;
    if (this.target.fanout) {
      info.exchange = fanoutExchangeName(topic);
      info.routingKey = '';
      return { exchange: info.exchange, routingKey: '', body, options: props, retry, declare: { type: 'fanout', options: fanoutExchange(topology) } };
    }
    info.exchange = this.target.exchange || this.transport.conf.control_exchange;
    info.routingKey = topicRoutingKey(topic, this.target.server);
    if (this.options.atLeastOnce) props.mandatory = true;
    return {
      exchange: info.exchange,
      routingKey: info.routingKey,
      body,
      options: props,
      retry,
      declare: { type: 'topic', options: controlExchange(topology) },
    };
  }
}

/**
 * A call in flight: the reply waiter's sink for its reply, and the handlers
 * of its request's confirm. It settles once both are in, like amqpdriver's
 * _send (publish, confirmed) followed by _waiter.wait: a failed send wins over
 * whatever the reply waiter says, and a reply coming before the confirm waits
 * for it.
 */
class PendingCall implements ReplySink, PublishSink, SendInfo {
  msgId = '';
  uniqueId = '';
  exchange = '';
  routingKey = '';
  bytes = 0;
  started = 0;
  waiter: ReplyWaiter | undefined;
  private sent = false;
  private done = false;
  private outcome: { result: unknown } | { error: Error } | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly method: string,
    private readonly detailed: boolean,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  replied(result: unknown): void {
    this.outcome = { result };
    if (this.sent) this.finish();
  }

  failed(err: Error): void {
    if (err instanceof RemoteError || err instanceof MessagingTimeout) Object.assign(err, { msgId: this.msgId });
    this.outcome = { error: err };
    if (this.sent) this.finish();
  }

  /** The broker confirmed the request. */
  published(): void {
    this.sent = true;
    if (this.transport.events.size > 0) {
      this.transport.events.emit({ type: 'rpc:sent', kind: 'call', exchange: this.exchange, routingKey: this.routingKey, method: this.method, msgId: this.msgId, bytes: this.bytes });
    }
    if (this.outcome) this.finish();
  }

  /** The request was not sent (or not confirmed): that wins over whatever the reply waiter says. */
  publishFailed(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.waiter?.cancel(this.msgId, err);
    this.reject(err);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    const outcome = this.outcome!;
    if ('error' in outcome) {
      this.reject(outcome.error);
      return;
    }
    if (!this.detailed) {
      this.resolve(outcome.result);
      return;
    }
    const info: SendInfo = { msgId: this.msgId, uniqueId: this.uniqueId, exchange: this.exchange, routingKey: this.routingKey, bytes: this.bytes };
    this.resolve({ result: outcome.result, msgId: this.msgId, elapsedMs: performance.now() - this.started, info } satisfies CallResult);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
