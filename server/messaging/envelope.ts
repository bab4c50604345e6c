/**
 * Message bodies as oslo puts them on the wire: the v2 envelope
 * (common.serialize_msg / deserialize_msg), context packing (amqp.py
 * pack_context / unpack_context), kombu compression, and remote failures
 * (common.serialize_remote_exception / deserialize_remote_exception).
 */
import { deflateSync } from 'node:zlib';
import { DEFAULT_MAX_MESSAGE_BYTES, decompressAsync, decompressSync } from './compression.ts';
import { MalformedMessage, RemoteError, ServerFailure, UnsupportedRpcEnvelopeVersion } from './errors.ts';
import { jsonText, pyDumps, pyDumpsLiteral, pyLoads } from './json.ts';
import { versionIsCompatible } from './target.ts';
import type { PublishOptions } from './driver.ts';
import {
  COMPRESSION_HEADER,
  CONTENT_ENCODING,
  CONTENT_TYPE,
  DELIVERY_MODE_PERSISTENT,
  COMPRESSION_TYPES,
  CONTEXT_PREFIX,
  ENVELOPE_VERSION,
  MESSAGE_KEY,
  MSG_ID_KEY,
  REPLY_Q_KEY,
  TIMEOUT_KEY,
  VERSION_KEY,
} from './wire.ts';

export type Dict = Record<string, unknown>;
export type Compression = 'gzip' | null;

export interface EncodedBody {
  body: Buffer;
  /** AMQP headers table: `{}` (kombu always sends one) or `{compression: ...}` */
  headers: Dict;
}

/**
 * The basic properties of every oslo publish as kombu puts them on the wire
 * (impl_rabbit Connection._publish): content type/encoding, the headers table,
 * delivery_mode 2 and priority 0 always present (flag word 0xF800), plus the
 * call's `expiration` when given.
 */
export function osloProperties(headers: Dict, extra: { expiration?: string; mandatory?: boolean } = {}): PublishOptions {
  const props: PublishOptions = {
    contentType: CONTENT_TYPE,
    contentEncoding: CONTENT_ENCODING,
    headers,
    deliveryMode: DELIVERY_MODE_PERSISTENT,
    priority: 0,
  };
  if (extra.expiration !== undefined) props.expiration = extra.expiration;
  if (extra.mandatory) props.mandatory = true;
  return props;
}

/**
 * How Python's json.dumps starts every v2 envelope (common.serialize_msg), up
 * to the opening quote of the inner message's string literal.
 */
const ENVELOPE_HEAD = `{"${VERSION_KEY}": "${ENVELOPE_VERSION}", "${MESSAGE_KEY}": "`;

/** common.serialize_msg + kombu json.dumps: the exact body bytes of an enveloped message. */
export function envelopeText(message: Dict): string {
  // json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(message)}): two plain keys in that order
  return `${ENVELOPE_HEAD.slice(0, -1)}${pyDumpsLiteral(message)}}`;
}

export function encodeBody(message: Dict, options: { enveloped?: boolean; compression?: Compression } = {}): EncodedBody {
  const text = options.enveloped === false ? pyDumps(message) : envelopeText(message);
  // pyDumps output is pure ASCII (ensure_ascii), so latin1 is an exact, fast encoding.
  const raw = Buffer.from(text, 'latin1');
  if (options.compression === 'gzip') {
    // kombu's "gzip" compressor is zlib.compress: zlib format, not a gzip file.
    return { body: deflateSync(raw), headers: { [COMPRESSION_HEADER]: COMPRESSION_TYPES.gzip } };
  }
  return { body: raw, headers: {} };
}

export interface DecodedBody {
  /** the oslo message dict (inner message for v2, the whole body for v1) */
  message: Dict;
  /** true when the body carried the oslo.version/oslo.message envelope */
  enveloped: boolean;
  envelopeVersion?: string;
}

export interface DecodeOptions {
  /** most bytes a compressed body may inflate to (default 16 MiB, RabbitMQ 4's max_message_size) */
  maxBytes?: number;
}

/** The body with its kombu compression undone on the calling thread, capped (see compression.ts). */
export function decompress(body: Buffer, headers: Dict | undefined, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): Buffer {
  return decompressSync(body, headers, maxBytes);
}

/**
 * kombu decode + common.deserialize_msg, on the calling thread. Compressed
 * bodies are inflated here too (capped), so consumers use decodeBodyAsync.
 * Throws MalformedMessage (never anything else).
 */
export function decodeBody(body: Buffer, headers?: Dict, options: DecodeOptions = {}): DecodedBody {
  return parseBody(decompressSync(body, headers, options.maxBytes));
}

/**
 * decodeBody with the decompression off the event loop (thread pool or
 * worker) and capped: what every consumer of the core uses. Rejects with
 * MalformedMessage (MessageTooLarge past the cap).
 */
export async function decodeBodyAsync(body: Buffer, headers?: Dict, options: DecodeOptions = {}): Promise<DecodedBody> {
  return parseBody(await decompressAsync(body, headers, options.maxBytes));
}

/** kombu's json loads + common.deserialize_msg on the plain body. */
export function parseBody(raw: Buffer): DecodedBody {
  let text: string;
  try {
    text = jsonText(raw);
  } catch (cause) {
    throw new MalformedMessage(`Body is not JSON: ${(cause as Error).message}`, { cause });
  }
  // An envelope exactly as Python writes it: only its inner string literal needs parsing. Anything
  // else in between (more keys, a malformed literal) fails that parse and takes the general path.
  if (text.startsWith(ENVELOPE_HEAD) && text.endsWith('"}')) {
    let literal: unknown;
    try {
      literal = JSON.parse(text.slice(ENVELOPE_HEAD.length - 1, -1));
    } catch {
      literal = undefined;
    }
    if (typeof literal === 'string') return { message: innerMessage(literal), enveloped: true, envelopeVersion: ENVELOPE_VERSION };
  }
  let outer: unknown;
  try {
    outer = pyLoads(text);
  } catch (cause) {
    throw new MalformedMessage(`Body is not JSON: ${(cause as Error).message}`, { cause });
  }
  if (!isDict(outer)) throw new MalformedMessage(`Body is JSON ${typeName(outer)}, not an object`);
  if (!(VERSION_KEY in outer) || !(MESSAGE_KEY in outer)) return { message: outer, enveloped: false };
  const version = outer[VERSION_KEY];
  if (typeof version !== 'string' || !envelopeCompatible(version)) {
    // common.UnsupportedRpcEnvelopeVersion.msg_fmt
    throw new UnsupportedRpcEnvelopeVersion(`Specified RPC envelope version, ${String(version)}, not supported by this endpoint.`);
  }
  const inner = outer[MESSAGE_KEY];
  if (typeof inner !== 'string') throw new MalformedMessage('oslo.message is not a string');
  return { message: innerMessage(inner), enveloped: true, envelopeVersion: version };
}

/** The envelope's `oslo.message` string, parsed: it must hold a JSON object. */
function innerMessage(inner: string): Dict {
  let message: unknown;
  try {
    message = pyLoads(inner);
  } catch (cause) {
    throw new MalformedMessage(`oslo.message is not JSON: ${(cause as Error).message}`, { cause });
  }
  if (!isDict(message)) throw new MalformedMessage(`oslo.message is JSON ${typeName(message)}, not an object`);
  return message;
}

/**
 * version_is_compatible('2.0', v): major 2, minor 0, revision 0, with
 * Python's int() parsing. A version Python cannot parse raises there; the
 * message is rejected either way.
 */
function envelopeCompatible(version: string): boolean {
  try {
    return versionIsCompatible(ENVELOPE_VERSION, version);
  } catch {
    return false;
  }
}

export function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** amqp.py pack_context: append `_context_<key>` for each context item, in its order. */
export function packContext(message: Dict, context: Dict | undefined | null): void {
  if (!context) return;
  for (const [key, value] of Object.entries(context)) {
    if (value !== undefined) message[CONTEXT_PREFIX + key] = value;
  }
}

export interface UnpackedMessage {
  /** context as endpoints see it: the `_context_*` items plus `client_timeout` */
  ctxt: Dict;
  msgId: string | null;
  replyQ: string | null;
  clientTimeout: unknown;
  /** the message without context and call keys */
  message: Dict;
}

/** amqp.py unpack_context: pop `_context_*`, `_msg_id`, `_reply_q`, `_timeout`. */
export function unpackContext(message: Dict): UnpackedMessage {
  const ctxt: Dict = {};
  const rest: Dict = {};
  for (const [key, value] of Object.entries(message)) {
    if (key.startsWith(CONTEXT_PREFIX)) ctxt[key.slice(CONTEXT_PREFIX.length)] = value;
    else if (key !== MSG_ID_KEY && key !== REPLY_Q_KEY && key !== TIMEOUT_KEY) rest[key] = value;
  }
  const clientTimeout = message[TIMEOUT_KEY] ?? null;
  ctxt.client_timeout = clientTimeout;
  const msgId = message[MSG_ID_KEY];
  const replyQ = message[REPLY_Q_KEY];
  return {
    ctxt,
    msgId: typeof msgId === 'string' ? msgId : null,
    replyQ: typeof replyQ === 'string' ? replyQ : null,
    clientTimeout,
    message: rest,
  };
}

const REMOTE_POSTFIX = '_Remote';

/** Python built-in exception names a JS error may be reported as. */
const PY_BUILTINS = new Set(['TypeError', 'ValueError', 'KeyError', 'IndexError', 'RuntimeError', 'AttributeError', 'NotImplementedError', 'TimeoutError']);

export interface FailureInfo {
  class: string;
  module: string;
  message: string;
  tb: string[];
  args: unknown[];
  kwargs: Dict;
}

/** What a TS error looks like to a Python caller. */
export function failureInfo(err: unknown, where = 'endpoint'): FailureInfo {
  let cls: string;
  let mod: string;
  let message: string;
  let args: unknown[];
  let kwargs: Dict = {};
  if (err instanceof ServerFailure) {
    cls = err.pyClass;
    mod = err.pyModule;
    message = err.message;
    args = err.pyArgs;
    kwargs = err.pyKwargs;
  } else if (err instanceof RemoteError) {
    // Re-raising a remote failure forwards it as Python would (class/module of origin).
    cls = err.excType;
    mod = err.module;
    message = err.value;
    args = err.args;
    kwargs = err.kwargs;
  } else if (err instanceof Error) {
    cls = err.name === 'Error' ? 'Exception' : err.name;
    mod = PY_BUILTINS.has(cls) || cls === 'Exception' ? 'builtins' : 'osloscope';
    message = err.message;
    args = [err.message];
  } else {
    cls = 'Exception';
    mod = 'builtins';
    message = String(err);
    args = [message];
  }
  if (cls.endsWith(REMOTE_POSTFIX) && mod.endsWith(REMOTE_POSTFIX)) {
    cls = cls.slice(0, -REMOTE_POSTFIX.length);
    mod = mod.slice(0, -REMOTE_POSTFIX.length);
  }
  const qualified = mod === 'builtins' ? cls : `${mod}.${cls}`;
  // traceback.format_exception shape: header, one frame, "<qualified>: <message>".
  const tb = [
    'Traceback (most recent call last):\n',
    `  File "osloscope", line 1, in ${where}\n`,
    message === '' ? `${qualified}\n` : `${qualified}: ${message}\n`,
  ];
  return { class: cls, module: mod, message, tb, args, kwargs };
}

/** common.serialize_remote_exception: the failure as the JSON *string* Python callers expect. */
export function serializeFailure(err: unknown, where?: string): string {
  const f = failureInfo(err, where);
  return pyDumps({ class: f.class, module: f.module, message: f.message, tb: f.tb, args: f.args, kwargs: f.kwargs });
}

/** common.deserialize_remote_exception, minus importing Python classes: always a RemoteError. */
export function deserializeFailure(failure: unknown): RemoteError {
  let data: unknown = failure;
  if (typeof failure === 'string') {
    try {
      data = pyLoads(failure);
    } catch {
      return new RemoteError('Exception', 'builtins', failure, []);
    }
  }
  if (!isDict(data)) return new RemoteError('Exception', 'builtins', String(failure), []);
  const tb = Array.isArray(data.tb) ? data.tb.map(String) : [];
  return new RemoteError(
    String(data.class ?? 'Exception'),
    String(data.module ?? 'builtins'),
    String(data.message ?? ''),
    tb,
    Array.isArray(data.args) ? data.args : [],
    isDict(data.kwargs) ? data.kwargs : {},
  );
}
