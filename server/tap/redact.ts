/**
 * Redaction and JSON-safety, applied to every value before it leaves the tap.
 *
 * Real services put secrets on the wire in clear text: every RPC request of a
 * service that passes an oslo.context RequestContext carries
 * `_context_auth_token` (oslo-wire.md §4), and args, payloads and results may
 * hold passwords (e.g. a nova `change_instance_metadata`, a cinder connector's
 * `auth_password`, a transport URL in a config dump). One recursive pass
 * replaces the value of every key that looks like a token, password, secret
 * or credential, and scrubs `user:password@` out of URL-looking strings.
 *
 * The same pass makes values JSON-safe: pyLoads returns bigints for Python
 * ints beyond 2^53 (JSON.stringify throws on them) and NaN/Infinity for
 * Python's bare tokens (JSON.stringify turns them into null).
 */
import { REDACTED } from '../../lib/tap-contracts.ts';

export { REDACTED };
const REDACTED_TEXT = REDACTED;

/**
 * Key names treated as secrets. `auth_token`, `service_token`, `password`,
 * `admin_password`, `auth_password` (cinder CHAP), `secret`, `client_secret`,
 * `credential(s)`, `private_key`, `api_key`, `access_key` (EC2 creds),
 * `authorization`, `x-auth-token`, `cookie`, `passphrase`, `signature`.
 */
const SECRET_KEY = /token|passw|pwd|passphrase|secret|credential|private[_-]?key|api[_-]?key|access[_-]?key|auth[_-]?key|authorization|cookie|signature/i;

/** Key → secret? Keys repeat on every message, so the answer is memoised (bounded). */
const keyCache = new Map<string, boolean>();
const KEY_CACHE_MAX = 10_000;

export function isSecretKey(key: string): boolean {
  let hit = keyCache.get(key);
  if (hit === undefined) {
    hit = SECRET_KEY.test(key);
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(key, hit);
  }
  return hit;
}

/** `scheme://user:password@` and, in multi-host transport URLs, `,user:password@`. */
const URL_USERINFO = /(\/\/|,)([^\s:@/,]*):([^\s@/,]+)@/g;

/** Scrub passwords from URL-looking text (`rabbit://nova:s3cret@ctl:5672/` → `rabbit://nova:***@ctl:5672/`). */
export function redactUrlPasswords(text: string): string {
  if (text.length < 8 || !text.includes('://') || !text.includes('@')) return text;
  return text.replace(URL_USERINFO, (_m, lead: string, user: string) => `${lead}${user}:${REDACTED_TEXT}@`);
}

const MAX_DEPTH = 64;

/**
 * `value` redacted and JSON-safe: Map → object, bigint → decimal string,
 * NaN/±Infinity → "NaN"/"Infinity"/"-Infinity", Buffer/typed arrays →
 * base64, undefined → null, anything deeper than 64 levels → a marker.
 *
 * Copy on write: the input is never modified; an array or object in which
 * nothing needed changing is returned as it is (freshly parsed message
 * bodies usually have no secret at all, and copying them would double the
 * decoder's allocations).
 */
export function redact(value: unknown, depth = 0): unknown {
  return redactAny(value, depth);
}

function redactAny(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return redactUrlPasswords(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
      return null;
    case 'object':
      break;
    default:
      return String(value);
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const r = redactAny(v, depth + 1);
      if (out !== null) out.push(r);
      else if (r !== v) {
        out = value.slice(0, i);
        out.push(r);
      }
    }
    return out ?? value;
  }
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) {
      const key = String(k);
      setKey(out, key, isSecretKey(key) ? secretValue(v) : redactAny(v, depth + 1));
    }
    return out;
  }
  if (ArrayBuffer.isView(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  // PyFloat and similar wrappers carry a numeric valueOf
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function' && !(value instanceof Date)) {
    return redactAny((value as { toJSON(): unknown }).toJSON(), depth + 1);
  }
  return redactObject(value as Record<string, unknown>, depth);
}

/** Object case of redact() (copy on write), also used for contexts (keys without the `_context_` prefix). */
export function redactObject(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    const v = obj[key];
    const r = isSecretKey(key) ? secretValue(v) : redactAny(v, depth + 1);
    if (out !== null) setKey(out, key, r);
    else if (r !== v) {
      out = {};
      for (const before in obj) {
        if (before === key) break;
        if (Object.hasOwn(obj, before)) setKey(out, before, obj[before]);
      }
      setKey(out, key, r);
    }
  }
  return out ?? obj;
}

/** A JSON key such as `__proto__` must stay a plain own property, never touch the prototype. */
function setKey(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** Nothing of a secret leaks, not even its shape; null/empty stays visible (it tells "no token sent"). */
function secretValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (v === '') return '';
  return REDACTED_TEXT;
}
