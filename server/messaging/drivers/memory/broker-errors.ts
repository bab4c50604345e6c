/**
 * The AMQP channel and connection errors the memory broker raises, with
 * RabbitMQ 3.10's reply codes and reply texts (taken from the real broker:
 * rabbit_channel, rabbit_amqqueue, rabbit_exchange, rabbit_misc), so a log
 * line or a test reads the same on both drivers.
 */
import { BrokerRefusal, ConnectionLost, type MessagingError } from '../../errors.ts';

export const REPLY = {
  CONNECTION_FORCED: 320,
  NO_ROUTE: 312,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  COMMAND_INVALID: 503,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const;

/** `'/'` → `vhost '/'`, the way rabbit_misc:rs/1 names a resource. */
function rs(kind: 'queue' | 'exchange', name: string, vhost: string): string {
  return `${kind} '${name}' in vhost '${vhost}'`;
}

function err(code: number, text: string): MessagingError {
  return new BrokerRefusal(text, code);
}

export function noQueue(name: string, vhost: string): MessagingError {
  return err(REPLY.NOT_FOUND, `NOT_FOUND - no ${rs('queue', name, vhost)}`);
}

export function noExchange(name: string, vhost: string): MessagingError {
  return err(REPLY.NOT_FOUND, `NOT_FOUND - no ${rs('exchange', name, vhost)}`);
}

export function defaultExchangeRefused(): MessagingError {
  return err(REPLY.ACCESS_REFUSED, 'ACCESS_REFUSED - operation not permitted on the default exchange');
}

export function reservedName(kind: 'queue' | 'exchange', name: string): MessagingError {
  return err(REPLY.ACCESS_REFUSED, `ACCESS_REFUSED - ${kind} name '${name}' contains reserved prefix 'amq.*'`);
}

export function internalExchange(name: string, vhost: string): MessagingError {
  return err(REPLY.ACCESS_REFUSED, `ACCESS_REFUSED - cannot publish to internal ${rs('exchange', name, vhost)}`);
}

export function exclusiveConsumerInUse(queue: string, vhost: string): MessagingError {
  return err(REPLY.ACCESS_REFUSED, `ACCESS_REFUSED - ${rs('queue', queue, vhost)} in exclusive use`);
}

export function resourceLocked(queue: string, vhost: string): MessagingError {
  return err(
    REPLY.RESOURCE_LOCKED,
    `RESOURCE_LOCKED - cannot obtain exclusive access to locked ${rs('queue', queue, vhost)}. ` +
      'It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.',
  );
}

/** rabbit_misc:assert_field_equivalence/4 and assert_args_equivalence/4 */
export function inequivalentArg(
  kind: 'queue' | 'exchange',
  name: string,
  vhost: string,
  arg: string,
  received: string,
  current: string,
): MessagingError {
  return err(
    REPLY.PRECONDITION_FAILED,
    `PRECONDITION_FAILED - inequivalent arg '${arg}' for ${rs(kind, name, vhost)}: received ${received} but current is ${current}`,
  );
}

export function invalidArg(queue: string, vhost: string, arg: string, reason: string): MessagingError {
  return err(REPLY.PRECONDITION_FAILED, `PRECONDITION_FAILED - invalid arg '${arg}' for ${rs('queue', queue, vhost)}: ${reason}`);
}

/** rabbit_quorum_queue:declare/2 refuses transient, auto-delete and exclusive quorum queues. */
export function invalidProperty(queue: string, vhost: string, property: string): MessagingError {
  return err(REPLY.PRECONDITION_FAILED, `PRECONDITION_FAILED - invalid property '${property}' for ${rs('queue', queue, vhost)}`);
}

export function invalidExpiration(value: string, reason: string): MessagingError {
  return err(REPLY.PRECONDITION_FAILED, `PRECONDITION_FAILED - invalid expiration '${value}': ${reason}`);
}

export function unknownDeliveryTag(tag: number): MessagingError {
  return err(REPLY.PRECONDITION_FAILED, `PRECONDITION_FAILED - unknown delivery tag ${tag}`);
}

export function userIdMismatch(userId: string, user: string): MessagingError {
  return err(
    REPLY.PRECONDITION_FAILED,
    `PRECONDITION_FAILED - user_id property set to '${userId}' but authenticated user was '${user}'`,
  );
}

export function reusedConsumerTag(tag: string): MessagingError {
  return err(REPLY.NOT_ALLOWED, `NOT_ALLOWED - attempt to reuse consumer tag '${tag}'`);
}

export function unknownExchangeType(type: string): MessagingError {
  return err(REPLY.COMMAND_INVALID, `COMMAND_INVALID - unknown exchange type '${type}'`);
}

export function invalidPrefetch(count: number): MessagingError {
  return err(REPLY.COMMAND_INVALID, `COMMAND_INVALID - invalid prefetch count ${count}`);
}

export function connectionForced(text: string): ConnectionLost {
  return new ConnectionLost(`CONNECTION_FORCED - ${text}`, { code: REPLY.CONNECTION_FORCED });
}

/** rabbit_stream_queue:consume, texts from RabbitMQ 4.3.6; RabbitMQ closes the connection for it. */
export function streamAutoAck(queue: string, vhost: string): MessagingError {
  return err(REPLY.NOT_IMPLEMENTED, `NOT_IMPLEMENTED - automatic acknowledgement not supported by stream ${rs('queue', queue, vhost)}`);
}

export function streamPrefetchUnset(queue: string, vhost: string): MessagingError {
  return err(REPLY.PRECONDITION_FAILED, `PRECONDITION_FAILED - consumer prefetch count is not set for stream ${rs('queue', queue, vhost)}`);
}

/**
 * rabbit_amqqueue on RabbitMQ 4.x where a deprecated feature is denied
 * (`deprecated_features.permit.<feature> = false`, or 4.3's denied_by_default
 * `transient_nonexcl_queues`): 541 with rabbit_deprecated_features'
 * warning text; RabbitMQ closes the connection.
 */
export function deprecatedFeatureDenied(feature: string): MessagingError {
  return err(
    REPLY.INTERNAL_ERROR,
    `INTERNAL_ERROR - Feature \`${feature}\` is deprecated.\nIts use is not permitted per the configuration (overriding the default, which is permitted):\n` +
      `    "deprecated_features.permit.${feature} = false"\nIts use will not be permitted by default in a future minor RabbitMQ version and the feature will be removed from a future major RabbitMQ version; actual versions to be determined.\n` +
      `To continue using this feature when it is not permitted by default, set the following parameter in your configuration:\n    "deprecated_features.permit.${feature} = true"`,
  );
}
