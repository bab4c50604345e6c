/**
 * Redaction and JSON-safety, applied to every value before it leaves the tap.
 *
 * Real services put secrets on the wire in clear text: every RPC request of a
 * service that passes an oslo.context RequestContext carries
 * `_context_auth_token` (docs/wire.md#envelope-and-requests), and args, payloads and results may
 * hold passwords (e.g. a nova `change_instance_metadata`, a cinder connector's
 * `auth_password`, a transport URL in a config dump). One recursive pass
 * replaces the value of every key that looks like a token, password, secret
 * or credential, and scrubs `user:password@` out of URL-looking strings.
 *
 * The same pass makes values JSON-safe: pyLoads returns bigints for Python
 * ints beyond 2^53 (JSON.stringify throws on them) and NaN/Infinity for
 * Python's bare tokens (JSON.stringify turns them into null).
 */
import { isUtf8 } from 'node:buffer';
import { REDACTED } from '../../lib/tap-contracts.ts';
import { redactUrlPasswords } from '../messaging/index.ts';

export { REDACTED };
const REDACTED_TEXT = REDACTED;

/**
 * oslo.utils' own list (`oslo_utils/strutils.py` `_SANITIZE_KEYS`, used by
 * `mask_password` and `mask_dict_password`): Debian bookworm's 6.0.1 plus
 * `chapsecret`, added by the 7.x/9.x that sid ships. A key that merely
 * contains one of them is a secret (mask_dict_password's `sani_key in
 * k.lower()`), so e.g. nova's `adminPass` and `new_pass`
 * (rebuild_instance/set_admin_password) are covered.
 */
export const OSLO_SANITIZE_KEYS: readonly string[] = [
  'adminpass', 'admin_pass', 'password', 'admin_password', 'auth_token', 'new_pass', 'auth_password',
  'secret_uuid', 'secret', 'sys_pswd', 'token', 'configdrive', 'chappassword', 'encrypted_key',
  'private_key', 'fernetkey', 'sslkey', 'passphrase', 'cephclusterfsid', 'octaviaheartbeatkey',
  'rabbitcookie', 'cephmanilaclientkey', 'pacemakerremoteauthkey', 'designaterndckey', 'cephadminkey',
  'heatauthencryptionkey', 'cephclientkey', 'keystonecredential', 'barbicansimplecryptokek', 'cephrgwkey',
  'swifthashsuffix', 'migrationsshkey', 'cephmdskey', 'cephmonkey', 'chapsecret',
];

/**
 * Our stricter fragments on top of oslo's list: anything that looks like a
 * token, password, secret, credential or key material. `auth_token`,
 * `service_token`, `password`, `db_pwd`, `secret`, `credential(s)`,
 * `private_key`, `api_key`, `access_key` (EC2 creds), `authorization`,
 * `x-auth-token`, `cookie`, `passphrase`, `signature`, `ssh_key`,
 * `encryption_key_id` (a volume's Barbican key reference), `pass`/`db_pass`.
 */
const SECRET_FRAGMENT =
  'token|passw|pwd|pswd|passphrase|secret|credential|private[_-]?key|api[_-]?key|access[_-]?key|auth[_-]?key|' +
  'authorization|cookie|signature|ssh[_-]?key|encrypt(?:ion|ed)[_-]?key|fernet[_-]?key|ssl[_-]?key|' +
  'admin[_-]?pass|new[_-]?pass|configdrive|kek\\b|hash[_-]?suffix';
const SECRET_KEY = new RegExp(`${SECRET_FRAGMENT}|(?:^|[_.-]|admin|new|old|root|user|db)pass(?:$|[_.-]|\\d)`, 'i');

/** Key → secret? Keys repeat on every message, so the answer is memoised (bounded). */
const keyCache = new Map<string, boolean>();
const KEY_CACHE_MAX = 10_000;

export function isSecretKey(key: string): boolean {
  let hit = keyCache.get(key);
  if (hit === undefined) {
    const lower = key.toLowerCase();
    hit = SECRET_KEY.test(key) || OSLO_SANITIZE_KEYS.some((k) => lower.includes(k));
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(key, hit);
  }
  return hit;
}

/** URL passwords: the core's one pattern (server/messaging/transport-url.ts), part of this path. */
export { redactUrlPasswords };

// ---------------------------------------------------------------------------
// oslo_utils.strutils.mask_password, ported pattern for pattern so that the
// golden test (test/interop/redact-golden.test.ts) can hold it to the Python
// byte for byte. Python's re.DOTALL | re.IGNORECASE → JS flags 'si'; \g<n> → $n.
// ---------------------------------------------------------------------------

/** strutils `_FORMAT_PATTERNS_1` (one group kept, the value replaced). */
const FORMAT_PATTERNS_1 = [`(%k[0-9]*\\s*[=]\\s*)[^\\s^'^"]+`];
/** strutils `_FORMAT_PATTERNS_2` (two groups kept around the value). */
const FORMAT_PATTERNS_2 = [
  `(%k[0-9]*\\s*[=]\\s*["'])[^"']*(["'])`,
  `(%k[0-9]*\\s*[=]\\s*["])[^"]*(["])`,
  `(%k[0-9]*\\s*[=]\\s*['])[^']*(['])`,
  `(%k[0-9]*\\s+["'])[^"']*(["'])`,
  `([-]{2}%k[0-9]*\\s+)[^'^"^=^\\s]+([\\s]*)`,
  `(<%k[0-9]*>)[^<]*(</%k[0-9]*>)`,
  `(["']%k[0-9]*["']\\s*:\\s*["'])[^"']*(["'])`,
  `(['"][^"']*%k[0-9]*['"]\\s*:\\s*u?['"])[^"']*(['"])`,
  `(['"][^'"]*%k[0-9]*['"]\\s*,\\s*'--?[A-z]+'\\s*,\\s*u?['"])[^"']*(['"])`,
  `(%k[0-9]*\\s*--?[A-z]+\\s*)\\S+(\\s*)`,
];
/** strutils `_FORMAT_PATTERNS_WILDCARD` (passwords holding quotes; only group 1 is kept). */
const FORMAT_PATTERNS_WILDCARD = [`(['"][^"']*%k[0-9]*['"]\\s*:\\s*u?['"].*['"])[^"']*(['"])`];

const OSLO_PATTERN_CHARS = /[='"<-]/;

interface OsloPatterns {
  key: string;
  two: RegExp[];
  one: RegExp[];
  wildcard: RegExp[];
}

const compile = (patterns: string[], key: string): RegExp[] => patterns.map((p) => new RegExp(p.replaceAll('%k', key), 'gsi'));
const patternsFor = (key: string): OsloPatterns => ({
  key,
  two: compile(FORMAT_PATTERNS_2, key),
  one: compile(FORMAT_PATTERNS_1, key),
  wildcard: compile(FORMAT_PATTERNS_WILDCARD, key),
});
const OSLO_PATTERNS: OsloPatterns[] = OSLO_SANITIZE_KEYS.map(patternsFor);
const patternCache = new Map<string, OsloPatterns>(OSLO_PATTERNS.map((p) => [p.key, p]));
const cachedPatterns = (key: string): OsloPatterns => {
  let p = patternCache.get(key);
  if (!p) patternCache.set(key, (p = patternsFor(key)));
  return p;
};

/**
 * oslo_utils.strutils.mask_password(message, secret): the same substitutions
 * in the same order. `wildcard: false` skips `_FORMAT_PATTERNS_WILDCARD`,
 * whose greedy `.*` deletes text up to the last quote of the message (for
 * `{'new_pass': 'x', 'ok': 1}` it eats `'ok'`, and for a body cut inside a
 * value it removes the key and leaves the value): redactText masks passwords
 * holding quotes by matching the closing quote instead.
 */
export function maskPassword(message: string, secret: string = REDACTED_TEXT, wildcard = true, keys?: readonly string[]): string {
  // Python's `$` would be literal in \g<1> + secret; escape it for String.replace.
  // Every pattern needs one of = ' " < - (see the lists above): without them nothing can match.
  if (!OSLO_PATTERN_CHARS.test(message)) return message;
  const s = secret.replaceAll('$', '$$$$');
  let lower = message.toLowerCase();
  // `keys`: another oslo.utils release's _SANITIZE_KEYS (the golden test compares against each)
  for (const p of keys ? keys.map(cachedPatterns) : OSLO_PATTERNS) {
    if (!lower.includes(p.key)) continue;
    for (const re of p.two) message = message.replace(re, `$1${s}$2`);
    for (const re of p.one) message = message.replace(re, `$1${s}`);
    if (wildcard) for (const re of p.wildcard) message = message.replace(re, '$1');
    lower = message.toLowerCase();
  }
  return message;
}

// ---------------------------------------------------------------------------
// Our stricter text rules, applied after oslo's.
// ---------------------------------------------------------------------------

/** A key name (in text) containing a secret fragment; `(?<![\w])` so `mytoken` counts but only whole words. */
/** Our fragments and every oslo key (`cephclusterfsid`, `swifthashsuffix`, ...), as oslo masks them in text too. */
const TEXT_FRAGMENT = `${SECRET_FRAGMENT}|${OSLO_SANITIZE_KEYS.join('|')}`;
const TEXT_KEY_BODY = `[A-Za-z0-9_.-]*(?:${TEXT_FRAGMENT}|(?:admin|new|old|root|user|db)?[_.-]?pass(?![a-z]))[A-Za-z0-9_.-]*`;
const TEXT_KEY = `(?<![A-Za-z0-9_.-])${TEXT_KEY_BODY}`;
/** HTTP auth schemes: their credentials follow one space (`Authorization: Bearer <token>`). */
const AUTH_SCHEME = /\b(Bearer|Basic|Digest|Negotiate|Token|OAuth)(\s+)[A-Za-z0-9._~+/=:-]{6,}/g;
/**
 * `key: "value"`, `'key': u'value'`, `key="value"`, `"key" => 'value'`: the value up to a closing quote that
 * ends it (not followed by a letter, digit or `_`), so a password holding the quote
 * (`'a'b'`, what oslo's wildcard pattern is for) is masked whole, and to the end when the text was cut short.
 */
const TEXT_QUOTED = new RegExp(`(${TEXT_KEY}['"]?\\s*(?::|=>?)\\s*[ub]?)(['"])((?:\\\\.|[^\\\\])*?)(\\2(?=[^A-Za-z0-9_]|$)|$)`, 'gis');
/** `key=value`, `key: value`, `--key value`, `key value` is left alone (too loose). */
/** The same inside JSON that is itself a JSON string (oslo's `oslo.message` envelope): `\\"password\\": \\"value\\"`. */
const TEXT_ESCAPED = new RegExp(`(${TEXT_KEY}\\\\+["']\\s*:\\s*\\\\+["'])(.*?)(\\\\+["']|$)`, 'gis');
const TEXT_BARE = new RegExp(`((${TEXT_KEY})['"]?\\s*(?::|=>?)\\s*)(?![\\s'"{[]|\\*\\*\\*)((?:ssh-[a-z0-9]+|ecdsa-[a-z0-9-]+)\\s+[^\\s'",;&}\\])<>]+|[^\\s'",;&}\\])<>]+)`, 'gi');
const TEXT_FLAG = new RegExp(`(--${TEXT_KEY_BODY}[=\\s]\\s*)([^\\s'"]+)`, 'gi');
const TEXT_XML = new RegExp(`(<(${TEXT_KEY})>)[^<]*(</\\2>|$)`, 'gi');
/**
 * `nova.exception.InstancePasswordSetFailed: …`, `keystoneauth1.exceptions.http.InvalidToken: …`: a
 * traceback's last line names a class (CamelCase, optionally module-qualified) before `:`; the text
 * after it is the message, masked by the other rules, not a value to hide whole.
 */
const EXCEPTION_NAME = /^(?:[a-z_][a-z0-9_]*\.)*[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*$/;
/** Keystone fernet tokens (`gAAAAA…`) and JWTs wherever they stand. */
const BARE_TOKENS = /\bgAAAAA[A-Za-z0-9_-]{20,}={0,2}|\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const PEM_PRIVATE = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/**
 * Cheap tests before the rules above: a string holding none of these fragments (ASCII case ignored) needs
 * nothing. Every rule above needs one of them, and each is at least three characters long.
 */
export const MAYBE_SECRET_FRAGMENTS: readonly string[] = [
  'pass', 'pwd', 'pswd', 'token', 'secret', 'cred', 'auth', 'cookie', 'sign', 'key', 'kek', 'fsid', 'suffix',
  'configdrive', 'bearer', 'basic', 'digest', 'negotiate', 'gaaaaa', 'eyj', '://',
];
const MAYBE_SECRET = new RegExp(MAYBE_SECRET_FRAGMENTS.map((f) => f.replaceAll('/', '\\/')).join('|'), 'i');

/**
 * The fragments' first three characters, as a table of trigrams over a 29-symbol alphabet (letters with
 * their case folded, `:`, `/`, and 0 for every other character, which no fragment holds). A string in which
 * no trigram is in the table cannot match MAYBE_SECRET. One scan of its characters tells that at about two
 * thirds of the expression's cost on the ids, names and hex strings that make up most of a message; the
 * expression then decides for the few strings that pass. `/i` without `u` folds ASCII letters only, so no
 * character beyond U+007F matches a fragment's letter.
 */
const TRIGRAM_SYMBOL = new Uint8Array(65536);
for (let c = 0x61; c <= 0x7a; c++) {
  TRIGRAM_SYMBOL[c] = c - 0x60;
  TRIGRAM_SYMBOL[c - 0x20] = c - 0x60;
}
TRIGRAM_SYMBOL[0x3a] = 27; // ':'
TRIGRAM_SYMBOL[0x2f] = 28; // '/'
const FRAGMENT_TRIGRAMS = new Uint8Array(1 << 15);
for (const f of MAYBE_SECRET_FRAGMENTS) {
  FRAGMENT_TRIGRAMS[(TRIGRAM_SYMBOL[f.charCodeAt(0)] << 10) | (TRIGRAM_SYMBOL[f.charCodeAt(1)] << 5) | TRIGRAM_SYMBOL[f.charCodeAt(2)]] = 1;
}

/** `MAYBE_SECRET.test(text)`, answered by the trigram scan for strings with no candidate (most of them). */
export function maybeSecret(text: string): boolean {
  // the first two characters make trigrams (0, 0, a) and (0, a, b), which no fragment has: no index check needed
  let t = 0;
  for (let i = 0; i < text.length; i++) {
    t = ((t << 5) | TRIGRAM_SYMBOL[text.charCodeAt(i)]) & 0x7fff;
    if (FRAGMENT_TRIGRAMS[t] !== 0) return MAYBE_SECRET.test(text);
  }
  return false;
}
const HAS_SECRET_KEY = new RegExp(`${TEXT_FRAGMENT}|pass(?![a-z])`, 'i');
const HAS_AUTH_SCHEME = /bearer|basic|digest|negotiate|token|oauth/i;

/**
 * Everything secret in free text (tracebacks, failure messages, raw bodies,
 * headers): oslo's mask_password, then URL passwords, HTTP Authorization
 * credentials, `key=value`/`key: value`/`"key": "value"`/`--key value`/XML
 * forms for every key isSecretKey() would mask, bare fernet tokens and JWTs,
 * and PEM private keys. Idempotent: `***` is never masked again.
 */
export function redactText(text: string): string {
  if (text.length < 6 || !maybeSecret(text)) return text;
  let out = maskPassword(text, REDACTED_TEXT, false);
  out = redactUrlPasswords(out);
  if (out.includes('PRIVATE KEY-----')) out = out.replace(PEM_PRIVATE, (_m, kind: string) => `-----BEGIN ${kind}PRIVATE KEY-----${REDACTED_TEXT}`);
  if (HAS_AUTH_SCHEME.test(out)) out = out.replace(AUTH_SCHEME, (_m, scheme: string, sp: string) => `${scheme}${sp}${REDACTED_TEXT}`);
  if (HAS_SECRET_KEY.test(out)) {
    const kv = out.includes(':') || out.includes('=');
    if (kv && (out.includes('"') || out.includes("'"))) out = out.replace(TEXT_QUOTED, (m, lead: string, q: string, value: string, end: string) =>
      value === '' || value === REDACTED_TEXT ? m : `${lead}${q}${REDACTED_TEXT}${end}`,
    );
    if (kv && out.includes('\\')) out = out.replace(TEXT_ESCAPED, (m, lead: string, value: string, end: string) => (value === '' || value === REDACTED_TEXT ? m : `${lead}${REDACTED_TEXT}${end}`));
    if (kv)
      out = out.replace(TEXT_BARE, (m, lead: string, key: string, value: string) =>
        /^(?:Bearer|Basic|Digest|Negotiate|Token|OAuth|null|None)$/i.test(value) || (EXCEPTION_NAME.test(key) && !lead.includes('=')) ? m : `${lead}${REDACTED_TEXT}`,
      );
    if (out.includes('--')) out = out.replace(TEXT_FLAG, (_m, lead: string) => `${lead}${REDACTED_TEXT}`);
    if (out.includes('<')) out = out.replace(TEXT_XML, (_m, open: string, _k: string, close: string) => `${open}${REDACTED_TEXT}${close}`);
  }
  if (out.includes('gAAAAA') || out.includes('eyJ')) out = out.replace(BARE_TOKENS, REDACTED_TEXT);
  return out;
}

/** What an undecodable body may show. */
export interface RawView {
  raw: string | null;
  rawEncoding: 'utf8' | 'base64' | null;
  rawTruncated: boolean;
}

/**
 * The first `keep` bytes of a body that could not be decoded, redacted.
 *
 * UTF-8 text goes through redactText. Bytes that are not UTF-8 are read as
 * Latin-1 (one character per byte, so every ASCII key and value keeps its
 * place), redacted the same way and only then base64-encoded: a JSON body
 * with one stray byte still has its `_context_auth_token` masked. A
 * compressed body is never shown: a viewer could inflate the base64 and read
 * what no redaction has seen.
 */
export function redactRawBody(body: Buffer, keep: number, compressed: boolean): RawView {
  const rawTruncated = body.length > keep;
  if (compressed) return { raw: null, rawEncoding: null, rawTruncated };
  const head = body.subarray(0, keep);
  let text: Buffer = head;
  if (!isUtf8(head) && rawTruncated) text = trimPartialUtf8(head);
  if (isUtf8(text)) return { raw: redactText(text.toString('utf8')), rawEncoding: 'utf8', rawTruncated };
  return { raw: Buffer.from(redactText(head.toString('latin1')), 'latin1').toString('base64'), rawEncoding: 'base64', rawTruncated };
}

/** A cut may split a UTF-8 sequence: drop up to 3 trailing continuation bytes and their lead byte. */
function trimPartialUtf8(b: Buffer): Buffer {
  let end = b.length;
  for (let i = 0; i < 4 && end > 0; i++) {
    const c = b[end - 1];
    if ((c & 0xc0) === 0x80) end--;
    else {
      if (c >= 0xc0) end--;
      break;
    }
  }
  return b.subarray(0, end);
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
      return redactText(value);
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

/** A log call's fields, redacted; an Error becomes its type, message and stack, each redacted. */
export function redactLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const key of Object.keys(fields)) {
    const v = fields[key];
    const r = v instanceof Error ? { type: v.name, message: redactText(v.message), stack: redactText(v.stack ?? '') } : isSecretKey(key) ? secretValue(v) : redactAny(v, 1);
    if (r !== v) (out ??= { ...fields })[key] = r;
  }
  return out ?? fields;
}

/**
 * pino options that run every log call through the redaction, the message
 * text included: a remote failure logged at debug (rpc-server's expected
 * failures, a refused login's user name) quotes what the caller sent.
 */
export const LOG_REDACTION = {
  formatters: { log: redactLogFields },
  hooks: {
    logMethod(this: unknown, args: unknown[], method: (...a: unknown[]) => void): void {
      method.apply(
        this,
        args.map((a) => (typeof a === 'string' ? redactText(a) : a)),
      );
    },
  },
};
