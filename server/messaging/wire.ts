/**
 * Wire constants of oslo.messaging's rabbit driver, defined once.
 * Sources: _drivers/common.py (envelope), _drivers/amqp.py (context packing,
 * unique ids), _drivers/amqpdriver.py (reply keys), impl_rabbit.py (properties).
 */
import { randomBytes, randomUUID } from 'node:crypto';

/** common._RPC_ENVELOPE_VERSION */
export const ENVELOPE_VERSION = '2.0';
/** common._VERSION_KEY / _MESSAGE_KEY */
export const VERSION_KEY = 'oslo.version';
export const MESSAGE_KEY = 'oslo.message';

/** amqp.py pack_context prefix */
export const CONTEXT_PREFIX = '_context_';
export const MSG_ID_KEY = '_msg_id';
export const REPLY_Q_KEY = '_reply_q';
export const TIMEOUT_KEY = '_timeout';
export const UNIQUE_ID_KEY = '_unique_id';

/** kombu Producer.publish defaults as they reach the wire (docs/wire.md#properties). */
export const CONTENT_TYPE = 'application/json';
export const CONTENT_ENCODING = 'utf-8';
export const DELIVERY_MODE_PERSISTENT = 2;

/** kombu compression header values. kombu's "gzip" is zlib format. */
export const COMPRESSION_HEADER = 'compression';
export const COMPRESSION_TYPES = {
  gzip: 'application/x-gzip',
  bz2: 'application/x-bz2',
  lzma: 'application/x-lzma',
} as const;

/** Notification priorities as oslo writes them in bodies (uppercase) and routing keys (lowercase). */
export const NOTIFICATION_PRIORITIES = ['audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample'] as const;
export type NotificationPriority = (typeof NOTIFICATION_PRIORITIES)[number];

/** The endpoint method oslo adds when rpc_ping_enabled (rpc/server.py PingEndpoint). */
export const PING_METHOD = 'oslo_rpc_server_ping';

/** _drivers/amqpdriver.py ObsoleteReplyQueuesCache and reply retry interval. */
export const REPLY_RETRY_INTERVAL_MS = 250;
export const OBSOLETE_REPLY_QUEUES_SIZE = 200;
export const OBSOLETE_REPLY_QUEUES_TTL_MS = 60_000;

/** amqp.py _MsgIdCache.DUP_MSG_CHECK_SIZE */
export const DUP_MSG_CHECK_SIZE = 16;

const UUID_POOL_BYTES = 16 * 256;
let uuidPool = Buffer.alloc(0);
let uuidOffset = 0;

/**
 * uuid4 hex without dashes (Python's uuid.uuid4().hex): _msg_id, _unique_id,
 * reply_/fanout queue suffixes. Sixteen bytes from a pooled randomBytes block
 * with the version (4) and variant (10xx) bits set, hex-encoded directly: a
 * call takes two, and randomUUID() plus stripping the dashes cost ~3% of a
 * loaded RPC client's CPU.
 */
export function uuidHex(): string {
  if (uuidOffset >= uuidPool.length) {
    uuidPool = randomBytes(UUID_POOL_BYTES);
    uuidOffset = 0;
  }
  const o = uuidOffset;
  uuidOffset += 16;
  uuidPool[o + 6] = (uuidPool[o + 6] & 0x0f) | 0x40;
  uuidPool[o + 8] = (uuidPool[o + 8] & 0x3f) | 0x80;
  return uuidPool.toString('hex', o, o + 16);
}

/** uuid4 with dashes: notification message_id. */
export function uuidDashed(): string {
  return randomUUID();
}

/** Connection name as py-amqp sends it: `<basename(argv0)>:<pid>:<uuid4>` (impl_rabbit Connection.__init__). */
export function connectionName(program = defaultProgramName()): string {
  return `${program}:${process.pid}:${randomUUID()}`;
}

function defaultProgramName(): string {
  const script = process.argv[1] ?? process.argv0;
  const base = script.split('/').pop() ?? 'osloscope';
  return base.replace(/\.(ts|js|mjs|cjs)$/, '') || 'osloscope';
}
