/**
 * The one error family of the messaging core. Names follow oslo.messaging
 * (oslo_messaging/exceptions.py, rpc/client.py, rpc/dispatcher.py) so an
 * OpenStack developer recognises each failure.
 *
 * Every error carries `name` and, where it wraps another failure, `cause`.
 * AMQP close codes (404, 406, 320, ...) are kept on `code`.
 */

export interface MessagingErrorOptions {
  cause?: unknown;
  /** AMQP reply code when the failure came from a channel or connection close. */
  code?: number;
}

export class MessagingError extends Error {
  /** AMQP reply code (e.g. 404 NOT_FOUND, 406 PRECONDITION_FAILED, 320 CONNECTION_FORCED). */
  readonly code?: number;

  constructor(message: string, options: MessagingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options.code !== undefined) this.code = options.code;
  }
}

/** One bad setting: the variable (or option) and what is wrong with it. */
export interface ConfigProblem {
  variable: string;
  problem: string;
}

/**
 * A bad transport URL, option or environment; `part` names what is wrong, `problems` lists every
 * bad variable when several were checked at once (server/config.ts). The one configuration error.
 * (oslo: InvalidTransportURL / ConfigFileValueError)
 */
export class ConfigError extends MessagingError {
  readonly problems: readonly ConfigProblem[];
  constructor(
    message: string,
    readonly part?: string,
    options?: MessagingErrorOptions & { problems?: readonly ConfigProblem[] },
  ) {
    super(message, options);
    this.problems = options?.problems ?? [];
  }
}

/** A call got no final reply in time. Text as oslo 14.0.3 ReplyWaiter. */
export class MessagingTimeout extends MessagingError {
  constructor(
    message: string,
    readonly msgId?: string,
    options?: MessagingErrorOptions,
  ) {
    super(message, options);
  }
}

/** The broker could not be reached, or an operation failed after all its retries. */
export class MessageDeliveryFailure extends MessagingError {}

/** The connection under a pending operation went away; the operation was not completed. */
export class ConnectionLost extends MessageDeliveryFailure {}

/** AMQP 0-9-1 reply codes (amqp0-9-1.xml constants) a broker closes a channel or connection with. */
export const AMQP_REPLY_NAMES: Readonly<Record<number, string>> = {
  403: 'ACCESS_REFUSED',
  404: 'NOT_FOUND',
  405: 'RESOURCE_LOCKED',
  406: 'PRECONDITION_FAILED',
  501: 'FRAME_ERROR',
  502: 'SYNTAX_ERROR',
  503: 'COMMAND_INVALID',
  504: 'CHANNEL_ERROR',
  505: 'UNEXPECTED_FRAME',
  506: 'RESOURCE_ERROR',
  530: 'NOT_ALLOWED',
  540: 'NOT_IMPLEMENTED',
  541: 'INTERNAL_ERROR',
};

/**
 * The broker refused an operation: it closed the channel (or connection)
 * with a reply code such as 406 PRECONDITION_FAILED (an `inequivalent arg`
 * declare), 403 ACCESS_REFUSED, 404 NOT_FOUND, 405 RESOURCE_LOCKED, 530
 * NOT_ALLOWED or 541 INTERNAL_ERROR (RabbitMQ 4.3 refusing a denied
 * deprecated feature). Retrying the same operation gets the same answer, so
 * it is never retried; `replyText` is the broker's own text, kept verbatim
 * because it names the entity and the argument at fault.
 */
export class BrokerRefusal extends MessagingError {
  declare readonly code: number;
  constructor(
    /** e.g. `PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'openstack' in vhost '/': received 'false' but current is 'true'` */
    readonly replyText: string,
    code: number,
    /** what was refused, e.g. `exchange.declare openstack` (may be empty) */
    readonly operation = '',
    options: Omit<MessagingErrorOptions, 'code'> = {},
  ) {
    super(operation ? `${operation}: ${replyText}` : replyText, { ...options, code });
  }

  /** `406 PRECONDITION_FAILED` */
  get replyName(): string {
    return `${this.code} ${AMQP_REPLY_NAMES[this.code] ?? 'ERROR'}`;
  }
}

/** A mandatory publish was returned by the broker (312 NO_ROUTE). */
export class MessageUndeliverable extends MessagingError {
  constructor(
    message: string,
    readonly exchange: string,
    readonly routingKey: string,
    options?: MessagingErrorOptions,
  ) {
    super(message, options);
  }
}

/** A target that cannot be used for the requested operation (e.g. call() with fanout). */
export class InvalidTarget extends MessagingError {}

/** A body that cannot be decoded (bad compression, bad JSON, unsupported envelope). */
export class MalformedMessage extends MessagingError {}

/** oslo common.UnsupportedRpcEnvelopeVersion */
export class UnsupportedRpcEnvelopeVersion extends MalformedMessage {}

/** A value the Python-compatible JSON encoder cannot represent. */
export class SerializationError extends MessagingError {}

/**
 * A failure raised on the remote side of a call, rebuilt from oslo's
 * serialized failure (common.serialize_remote_exception): class, module,
 * message, traceback lines, args and kwargs.
 */
export class RemoteError extends MessagingError {
  constructor(
    readonly excType: string,
    readonly module: string,
    readonly value: string,
    readonly traceback: string[],
    readonly args: unknown[] = [],
    readonly kwargs: Record<string, unknown> = {},
  ) {
    // oslo rpc/client.py RemoteError.__init__: "Remote error: %(exc_type)s %(value)s\n%(traceback)s."
    super(`Remote error: ${excType} ${value}\n${traceback.join('')}`);
  }
}

/**
 * Errors an RPC server sends back as failures. `pyClass`/`pyModule` are the
 * names put on the wire, exactly as the Python dispatcher sends them.
 */
export class ServerFailure extends MessagingError {
  readonly pyClass: string = 'Exception';
  readonly pyModule: string = 'builtins';
  readonly pyArgs: unknown[];
  readonly pyKwargs: Record<string, unknown>;

  constructor(message: string, options: MessagingErrorOptions & { args?: unknown[]; kwargs?: Record<string, unknown> } = {}) {
    super(message, options);
    this.pyArgs = options.args ?? [message];
    this.pyKwargs = options.kwargs ?? {};
  }
}

/** oslo_messaging.rpc.dispatcher.NoSuchMethod */
export class NoSuchMethod extends ServerFailure {
  override readonly pyClass = 'NoSuchMethod';
  override readonly pyModule = 'oslo_messaging.rpc.dispatcher';
  constructor(readonly method: string) {
    super(`Endpoint does not support RPC method ${method}`);
  }
}

/** oslo_messaging.rpc.dispatcher.UnsupportedVersion */
export class UnsupportedVersion extends ServerFailure {
  override readonly pyClass = 'UnsupportedVersion';
  override readonly pyModule = 'oslo_messaging.rpc.dispatcher';
  constructor(
    readonly version: string,
    readonly method?: string,
  ) {
    super(
      method === undefined
        ? `Endpoint does not support RPC version ${version}`
        : `Endpoint does not support RPC version ${version}. Attempted method: ${method}`,
    );
  }
}

/**
 * Raise this from an endpoint to send a failure with any Python class and
 * module name. Like oslo's @expected_exceptions, the RPC server logs it at
 * debug rather than as an error (e.g. `new ExpectedFailure('InstanceNotFound', 'nova.exception', 'Instance vm1 could not be found.', {kwargs:{code:404}})`).
 */
export class ExpectedFailure extends ServerFailure {
  override readonly pyClass: string;
  override readonly pyModule: string;
  constructor(
    pyClass: string,
    pyModule: string,
    message: string,
    options: { args?: unknown[]; kwargs?: Record<string, unknown> } = {},
  ) {
    super(message, options);
    this.pyClass = pyClass;
    this.pyModule = pyModule;
  }
}

/**
 * The broker refusal behind an error, if any: the error itself or one in its
 * `cause` chain (a send that gave up after a refused declare wraps it).
 */
export function refusalIn(err: unknown): BrokerRefusal | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof BrokerRefusal) return e;
  }
  return undefined;
}
