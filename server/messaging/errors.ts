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

/** A bad transport URL or option; `part` names what is wrong. (oslo: InvalidTransportURL / ConfigFileValueError) */
export class ConfigError extends MessagingError {
  constructor(
    message: string,
    readonly part?: string,
    options?: MessagingErrorOptions,
  ) {
    super(message, options);
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

/** Map an error to the CLI exit code contract (product.md): 3 remote, 4 timeout, 5 cannot connect. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof RemoteError) return 3;
  if (err instanceof MessagingTimeout) return 4;
  if (err instanceof MessageDeliveryFailure) return 5;
  if (err instanceof ConfigError) return 2;
  return 1;
}
