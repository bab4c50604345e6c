/**
 * What one decoded message may cost the traffic model. Bodies up to the
 * transport's message size cap (16 MiB) are valid oslo traffic, but keeping
 * thousands of them whole exhausts memory and makes every listing a
 * gigabyte string. A message larger than the per-message budget keeps its
 * shape (every field, every key up to the budget) with long strings cut to
 * a head and a marker saying how many bytes the whole value had, and
 * arrays/objects cut once the budget is spent.
 */
import type { DecodedMessage } from '../../lib/tap-contracts.ts';

/** Default stored size of one message (its decoded user data). */
export const DEFAULT_MESSAGE_BYTES = 256 * 1024;
/** Characters kept of a string that is cut. */
export const STRING_HEAD = 1024;
/** Fixed cost of a stored message besides its user data (ids, routing, properties, trace). */
export const MESSAGE_OVERHEAD_BYTES = 1024;
/** Top-level text fields taken from the body (method, event_type, ...) never keep more than this. */
const FIELD_MAX = 1024;

/** The marker a cut string ends with; the UI shows it as it is. */
export function truncationMarker(bytes: number): string {
  return `… [truncated, ${bytes} bytes]`;
}

export interface BoundedMessage {
  message: DecodedMessage;
  /** estimated bytes the stored message holds */
  storedBytes: number;
}

interface Budget {
  left: number;
  used: number;
  cut: boolean;
}

function cutString(s: string, b: Budget, head: number): string {
  const keep = Math.max(0, Math.min(head, b.left));
  b.cut = true;
  const out = s.slice(0, keep) + truncationMarker(Buffer.byteLength(s));
  b.left -= out.length;
  b.used += out.length;
  return out;
}

function bound(v: unknown, b: Budget, depth: number): unknown {
  if (typeof v === 'string') {
    if (v.length <= b.left) {
      b.left -= v.length;
      b.used += v.length;
      return v;
    }
    return cutString(v, b, STRING_HEAD);
  }
  if (v === null || typeof v !== 'object') {
    b.left -= 8;
    b.used += 8;
    return v;
  }
  if (depth > 64) {
    b.cut = true;
    return '… [truncated, nested too deep]';
  }
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (let i = 0; i < v.length; i++) {
      if (b.left <= 0) {
        b.cut = true;
        out.push(`… [truncated, ${v.length - i} more items]`);
        break;
      }
      out.push(bound(v[i], b, depth + 1));
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    if (b.left <= 0) {
      b.cut = true;
      out['…'] = `[truncated, ${keys.length - i} more keys]`;
      break;
    }
    const k = keys[i];
    const key = k.length > FIELD_MAX ? cutString(k, b, 64) : k;
    b.left -= key.length;
    b.used += key.length;
    out[key] = bound((v as Record<string, unknown>)[k], b, depth + 1);
  }
  return out;
}

const TEXT_FIELDS = ['method', 'namespace', 'version', 'msgId', 'replyQ', 'uniqueId', 'requestId', 'eventType', 'priority', 'publisherId', 'messageId', 'timestamp', 'error'] as const;

/**
 * The message as the model stores it: unchanged when it fits `maxBytes`
 * (checked cheaply: an uncompressed body is never smaller than what it
 * decodes to), else a copy with long values cut and `truncatedBytes` set.
 */
export function boundMessage(m: DecodedMessage, maxBytes = DEFAULT_MESSAGE_BYTES): BoundedMessage {
  if (m.compression === null && m.bytes <= maxBytes) return { message: m, storedBytes: m.bytes + MESSAGE_OVERHEAD_BYTES };
  const b: Budget = { left: maxBytes, used: 0, cut: false };
  const out: DecodedMessage = { ...m };
  for (const f of TEXT_FIELDS) {
    const s = out[f];
    if (typeof s === 'string' && s.length > FIELD_MAX) out[f] = cutString(s, { left: FIELD_MAX, used: 0, cut: false }, FIELD_MAX);
  }
  out.context = bound(m.context, b, 0) as DecodedMessage['context'];
  out.args = m.args === null ? null : bound(m.args, b, 0);
  out.result = m.result === null ? null : bound(m.result, b, 0);
  out.payload = m.payload === null ? null : bound(m.payload, b, 0);
  if (m.failure) {
    const f = m.failure;
    out.failure = {
      class: f.class.length > FIELD_MAX ? cutString(f.class, b, FIELD_MAX) : f.class,
      module: f.module.length > FIELD_MAX ? cutString(f.module, b, FIELD_MAX) : f.module,
      message: bound(f.message, b, 0) as string,
      tb: bound(f.tb, b, 0) as string[],
      args: bound(f.args, b, 0) as unknown[],
      kwargs: bound(f.kwargs, b, 0) as Record<string, unknown>,
    };
  }
  const cut = b.cut || TEXT_FIELDS.some((f) => out[f] !== m[f]);
  if (!cut) return { message: m, storedBytes: b.used + MESSAGE_OVERHEAD_BYTES };
  out.truncatedBytes = m.bytes;
  return { message: out, storedBytes: b.used + MESSAGE_OVERHEAD_BYTES };
}
