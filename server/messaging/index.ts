/**
 * osloscope's oslo.messaging core: the one public face. The CLI, the tap and
 * the web server use the core only through this module.
 */
export * from './errors.ts';
export type { Driver, Link, Delivery, MessageProperties, PublishOptions, QueueInfo, QueueOptions, ExchangeOptions, ExchangeType } from './driver.ts';
export { PyFloat, pyDumps, pyLoads } from './json.ts';
export { TransportURL, redactUrlPasswords } from './transport-url.ts';
export {
  rabbitDefaults,
  messagingDefaults,
  notificationDefaults,
  type RabbitOptions,
  type MessagingOptions,
  type NotificationOptions,
} from './options.ts';
export {
  loadOsloConfig,
  configSourcesFromTokens,
  transportUrlFrom,
  originOf,
  ConfigFileError,
  DEFAULT_CONFIG_FILE_LIMITS,
  type ConfigSource,
  type ConfigFileLimits,
  type OsloFileConfig,
  type SettingCandidate,
} from './oslo-config.ts';
export type { Target } from './target.ts';
export { versionIsCompatible, describeTarget } from './target.ts';
export { Transport, getTransport, type TransportOptions, type TransportStatus, type LinkStatus } from './transport.ts';
export { RpcClient, RPCVersionCapError, type CallOptions, type PrepareOptions, type CallResult, type SendInfo } from './rpc-client.ts';
export { RpcServer, type RpcServerOptions, type RpcServerStats } from './rpc-server.ts';
export type { Endpoint, EndpointTarget, AccessPolicy } from './dispatcher.ts';
export { ReplyWaiter, type ReplyWaiterStats } from './reply-waiter.ts';
export { ConnectionPool, type PoolStats } from './pool.ts';
export { ResilientLink, backoffDelay, type RetryPolicy, type LinkState } from './resilient-link.ts';
export { Notifier, sanitizeContext, pyUtcTimestamp, type NotifierOptions, type NotificationDriver } from './notifier.ts';
export {
  NotificationListener,
  NotificationFilter,
  NotificationResult,
  type NotificationEndpoint,
  type NotificationMessage,
  type NotificationListenerOptions,
} from './notification-listener.ts';
export { CoreEvents, silentLogger, type CoreEvent, type Logger } from './events.ts';
export {
  decodeBody,
  decodeBodyAsync,
  parseBody,
  encodeBody,
  envelopeText,
  decompress,
  type DecodeOptions,
  serializeFailure,
  deserializeFailure,
  unpackContext,
  type Dict,
  type DecodedBody,
} from './envelope.ts';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  MessageTooLarge,
  bunzip2Sync,
  compressionOf,
  decompressAsync,
  decompressSync,
  registerDecompressor,
  type Decompressor,
} from './compression.ts';
export { OrderedDecoder } from './ordered-decoder.ts';
export * as wire from './wire.ts';
export * as topology from './topology.ts';
export { MemoryBroker, MemoryDriver } from './drivers/memory/index.ts';
