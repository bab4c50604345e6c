/**
 * The Python-compatible JSON codec of the messaging core.
 *
 * Every oslo body is written twice by Python's stdlib encoder: the inner
 * message by `oslo_serialization.jsonutils.dumps` (`json.dumps` with
 * `default=to_primitive`, called from oslo_messaging/_drivers/common.py
 * `serialize_msg`), then the envelope by kombu (`kombu.utils.json.dumps`,
 * plain `json.dumps`). To be byte-identical with a Python peer we reproduce
 * `json.dumps(obj)` with its defaults (Python 3.11, Lib/json/encoder.py):
 * `ensure_ascii=True`, separators `", "` / `": "`, `allow_nan=True`, floats in
 * `float.__repr__`, keys in insertion order. `JSON.stringify` differs on all of
 * these (no spaces, raw non-ASCII, `1.0` → `1`, `NaN` → `null`, big ints lost).
 *
 * Reading goes the other way: Python emits bare `NaN`/`Infinity`/`-Infinity`
 * and unbounded ints, which `JSON.parse` rejects or rounds, so `pyLoads` is a
 * tolerant decoder that keeps `JSON.parse` as its fast path.
 *
 * JS/Python model: a JS number that is integral is a Python `int`, any other
 * number a Python `float`; wrap a number in `PyFloat` to send an integral
 * float (`new PyFloat(2)` → `2.0`). A `bigint` is an `int` of any size.
 *
 * Key order: JS objects enumerate integer-like keys ("0", "42") first, in
 * ascending order, before all other keys — whatever order they were written
 * in. Python dicts keep insertion order for every key. When that order
 * matters on the wire, pass a `Map` (encoded in Map order), and decode with
 * `pyLoads(text, { objects: 'map' })` to get one back.
 */

import { isAscii, isUtf8 } from 'node:buffer';
import { MalformedMessage, SerializationError } from './errors.ts';

/**
 * A number that must be written as a Python `float` even when integral
 * (`new PyFloat(1)` → `1.0`, `new PyFloat(-0)` → `-0.0`, `new PyFloat(1e16)` → `1e+16`).
 */
export class PyFloat {
  constructor(readonly value: number) {}

  valueOf(): number {
    return this.value;
  }

  /** JSON.stringify (logs, socket payloads) sees the plain number. */
  toJSON(): number {
    return this.value;
  }
}

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

/**
 * Thrown inside the encoder; collects the path while the stack unwinds so the
 * hot path never tracks where it is. Turned into a SerializationError by pyDumps.
 */
class EncodeFailure {
  readonly path: Array<string | number> = [];
  constructor(readonly reason: string) {}
}

/** Printable ASCII minus `"` and `\`: such strings are written verbatim. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** DEL and everything above ASCII: JSON.stringify leaves these raw, Python escapes them. */
const NON_ASCII = /[\x7f-\uffff]/;

/** Escapes for code units below 0x80, as Lib/json/encoder.py ESCAPE_DCT (lowercase hex). */
const ASCII_ESCAPES: string[] = [];
for (let c = 0; c < 0x80; c++) {
  ASCII_ESCAPES.push(c < 0x20 || c === 0x7f ? `\\u${c.toString(16).padStart(4, '0')}` : String.fromCharCode(c));
}
ASCII_ESCAPES[0x22] = '\\"';
ASCII_ESCAPES[0x5c] = '\\\\';
ASCII_ESCAPES[0x08] = '\\b';
ASCII_ESCAPES[0x09] = '\\t';
ASCII_ESCAPES[0x0a] = '\\n';
ASCII_ESCAPES[0x0c] = '\\f';
ASCII_ESCAPES[0x0d] = '\\r';

/**
 * The quote mark the encoder writes around strings and keys: `"`, or `\"`
 * while pyDumpsLiteral writes a document straight into the JSON string
 * literal that holds it (the v2 envelope's `oslo.message`). Set only for
 * the length of one synchronous encoding, and restored after it.
 */
let Q = '"';

/**
 * json.encoder.py_encode_basestring_ascii: every UTF-16 code unit outside
 * 0x20–0x7E becomes `\uXXXX` (lowercase), so astral characters come out as
 * surrogate pairs and lone surrogates pass through escaped, as in Python.
 */
function quote(s: string): string {
  if (PLAIN_STRING.test(s)) return Q + s + Q;
  const quoted = quoteAscii(s);
  // One level deeper the quoted text is ASCII without control characters: only `\` and `"` need escaping again.
  return Q === '"' ? quoted : quoted.replace(BACKSLASH_OR_QUOTE, '\\$&');
}

const BACKSLASH_OR_QUOTE = /[\\"]/g;

function quoteAscii(s: string): string {
  // For ASCII text JSON.stringify escapes exactly as Python does (`\"`, `\\`, the five
  // short forms, `\u00XX` lowercase) and natively: the win on long strings.
  // Its call costs more than it saves on short ones.
  if (s.length >= 64 && !NON_ASCII.test(s)) return JSON.stringify(s);
  let out = '"';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    if (i > last) out += s.slice(last, i);
    if (c < 0x80) out += ASCII_ESCAPES[c];
    else out += (c < 0x100 ? '\\u00' : c < 0x1000 ? '\\u0' : '\\u') + c.toString(16);
    last = i + 1;
  }
  if (last < s.length) out += s.slice(last);
  return out + '"';
}

/**
 * Dict keys come back with every message (`method`, `args`, `_msg_id`, the
 * context's): their quoted forms are kept, per quote mark, instead of testing
 * and concatenating each again. Bounded: a cloud's key set is small, a
 * hostile one is cut off.
 */
const quotedKeys = new Map<string, string>();
const quotedKeysNested = new Map<string, string>();
const QUOTED_KEYS_MAX = 4096;

function quoteKey(key: string): string {
  const cache = Q === '"' ? quotedKeys : quotedKeysNested;
  let q = cache.get(key);
  if (q === undefined) {
    q = quote(key);
    if (cache.size >= QUOTED_KEYS_MAX) cache.clear();
    cache.set(key, q);
  }
  return q;
}

/** Python `int.__str__` of an integral JS number (`-0` → `0`, `1e21` → all 22 digits). */
function intText(n: number): string {
  // Beyond 2^53 String() writes the shortest round-trip digits padded with zeros
  // (4413416855968535040 → "4413416855968535000") and, from 1e21 on, exponent
  // notation; Python prints the exact integer value, and so does BigInt().
  return n <= Number.MAX_SAFE_INTEGER && n >= -Number.MAX_SAFE_INTEGER ? String(n) : BigInt(n).toString();
}

/**
 * Python `float.__repr__` (Objects/floatobject.c float_repr, 'r' mode): the
 * shortest digits that round-trip — the same digits ECMAScript Number::toString
 * picks — written in fixed notation when the decimal exponent is in
 * [-4, 16), with `.0` added if there is no fraction, else as `d.ddde+XX`
 * with a sign and at least two exponent digits.
 */
function floatRepr(x: number): string {
  if (x !== x) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const a = x < 0 ? -x : x;
  if (a >= 1e-4 && a < 1e16) {
    const s = String(x);
    return s.includes('.') ? s : `${s}.0`;
  }
  const s = String(a);
  let digits: string;
  let exp: number;
  const e = s.indexOf('e');
  if (e >= 0) {
    // "1.5e+300", "5e-324", "1e-7": the mantissa already has Python's shape.
    digits = s.slice(0, e).replace('.', '');
    exp = Number(s.slice(e + 1));
  } else if (a >= 1) {
    // [1e16, 1e21): integral, written out in full by String(); trailing zeros are not significant.
    digits = s.replace(/0+$/, '');
    exp = s.length - 1;
  } else {
    // [1e-7, 1e-4): "0.0000123"
    const frac = s.slice(2);
    const zeros = frac.search(/[1-9]/);
    digits = frac.slice(zeros);
    exp = -(zeros + 1);
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const absExp = exp < 0 ? -exp : exp;
  return `${x < 0 ? '-' : ''}${mantissa}e${exp < 0 ? '-' : '+'}${absExp < 10 ? '0' : ''}${absExp}`;
}

function encodeNumber(n: number): string {
  return Number.isInteger(n) ? intText(n) : floatRepr(n);
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * oslo_serialization jsonutils.to_primitive: datetime →
 * strftime(timeutils.PERFECT_TIME_FORMAT) = "%Y-%m-%dT%H:%M:%S.%f". A JS Date
 * is an instant; it is written in UTC. glibc's %Y does not zero-pad years
 * below 1000 ("5-01-02T..."), and Python datetimes only hold years 1–9999.
 */
function encodeDate(d: Date): string {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new EncodeFailure('cannot serialize an invalid Date');
  const year = d.getUTCFullYear();
  if (year < 1 || year > 9999) throw new EncodeFailure(`cannot serialize a Date in year ${year} (Python datetime holds years 1-9999)`);
  const micros = String(d.getUTCMilliseconds() * 1000).padStart(6, '0');
  return (
    `${Q}${year}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${micros}${Q}`
  );
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** to_primitive: bytes → value.decode('utf-8') (strict: invalid UTF-8 raises in Python too; a BOM is kept). */
function encodeBytes(bytes: Uint8Array): string {
  try {
    return quote(utf8Strict.decode(bytes));
  } catch {
    throw new EncodeFailure('cannot serialize bytes that are not valid UTF-8');
  }
}

/**
 * Dict keys as Lib/json/encoder.py `_iterencode_dict` converts them: str as is,
 * float → repr, True/False/None → "true"/"false"/"null", int → str.
 */
function mapKeyText(key: unknown): string {
  switch (typeof key) {
    case 'string':
      return key;
    case 'number':
      return encodeNumber(key);
    case 'bigint':
      return key.toString();
    case 'boolean':
      return key ? 'true' : 'false';
    default:
      if (key === null) return 'null';
      if (key instanceof PyFloat) return floatRepr(key.value);
      throw new EncodeFailure(`Map keys must be str, int, float, bool or None, not ${describe(key)}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? `${/^[AEIOU]/i.test(name) ? 'an' : 'a'} ${name}` : 'an object';
  }
  return `a ${typeof value}`;
}

function isPlainObject(proto: unknown): boolean {
  // Object.getPrototypeOf(proto) === null also accepts plain objects from another realm (vm contexts).
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/** Returns undefined for values that are left out of an object (undefined), like JSON.stringify. */
function encodeValue(value: unknown, key: string, stack: object[]): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return encodeNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return value === null ? 'null' : encodeObject(value, key, stack, false);
    case 'bigint':
      return value.toString();
    case 'undefined':
      return undefined;
    default:
      // function, symbol: Python has no counterpart, and dropping them silently would hide a bug.
      throw new EncodeFailure(`cannot serialize ${describe(value)}`);
  }
}

function encodeObject(value: object, key: string, stack: object[], afterToJSON: boolean): string | undefined {
  if (Array.isArray(value)) return encodeList(value, stack);
  const proto: unknown = Object.getPrototypeOf(value);
  if (isPlainObject(proto)) {
    if (!afterToJSON && typeof (value as { toJSON?: unknown }).toJSON === 'function') return encodeToJSON(value, key, stack);
    return encodeDict(value as Record<string, unknown>, stack);
  }
  if (value instanceof PyFloat) return floatRepr(value.value);
  if (value instanceof Date) return encodeDate(value);
  if (value instanceof Map) return encodeMap(value, stack);
  if (value instanceof Set) return encodeList(value, stack);
  if (value instanceof Uint8Array) return encodeBytes(value);
  if (!afterToJSON && typeof (value as { toJSON?: unknown }).toJSON === 'function') return encodeToJSON(value, key, stack);
  // Boxed primitives, unwrapped as JSON.stringify does.
  if (value instanceof Number) return encodeNumber(value.valueOf());
  if (value instanceof String) return quote(value.valueOf());
  if (value instanceof Boolean) return value.valueOf() ? 'true' : 'false';
  if (value instanceof BigInt) return value.valueOf().toString();
  // Python's json.dumps raises "Object of type X is not JSON serializable" here too.
  throw new EncodeFailure(`cannot serialize ${describe(value)}`);
}

function encodeToJSON(value: object, key: string, stack: object[]): string | undefined {
  const result: unknown = (value as { toJSON: (key: string) => unknown }).toJSON(key);
  // JSON.stringify calls toJSON once per value: an object returned by it is encoded as it is.
  if (typeof result === 'object' && result !== null) return encodeObject(result, key, stack, true);
  return encodeValue(result, key, stack);
}

function enter(value: object, stack: object[]): void {
  // Python keeps a `markers` dict of the containers being encoded; a shared (non-cyclic) reference is fine.
  if (stack.includes(value)) throw new EncodeFailure('circular reference');
  stack.push(value);
}

function encodeList(items: Iterable<unknown>, stack: object[]): string {
  enter(items, stack);
  let out = '[';
  let i = 0;
  try {
    for (const item of items) {
      if (i > 0) out += ', ';
      out += encodeValue(item, String(i), stack) ?? 'null';
      i++;
    }
  } catch (err) {
    if (err instanceof EncodeFailure) err.path.push(i);
    throw err;
  }
  stack.pop();
  return out + ']';
}

function encodeDict(obj: Record<string, unknown>, stack: object[]): string {
  enter(obj, stack);
  let out = '{';
  let first = true;
  let key = '';
  const keys = Object.keys(obj);
  try {
    for (let i = 0; i < keys.length; i++) {
      key = keys[i];
      const encoded = encodeValue(obj[key], key, stack);
      if (encoded === undefined) continue;
      out += (first ? '' : ', ') + quoteKey(key) + ': ' + encoded;
      first = false;
    }
  } catch (err) {
    if (err instanceof EncodeFailure) err.path.push(key);
    throw err;
  }
  stack.pop();
  return out + '}';
}

function encodeMap(map: Map<unknown, unknown>, stack: object[]): string {
  enter(map, stack);
  let out = '{';
  let first = true;
  for (const [k, v] of map) {
    const text = mapKeyText(k);
    let encoded: string | undefined;
    try {
      encoded = encodeValue(v, text, stack);
    } catch (err) {
      if (err instanceof EncodeFailure) err.path.push(text);
      throw err;
    }
    if (encoded === undefined) continue;
    out += (first ? '' : ', ') + quote(text) + ': ' + encoded;
    first = false;
  }
  stack.pop();
  return out + '}';
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `args.x[2].y`; keys that are not identifiers are bracketed: `args["a.b"]`. */
function formatPath(segments: Array<string | number>): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(top level)' : out;
}

/**
 * Byte-identical to Python 3.11 `json.dumps(obj)` (default settings) of the
 * Python value `value` stands for; also applies oslo jsonutils.to_primitive's
 * conversions: Date → "%Y-%m-%dT%H:%M:%S.%f" (UTC), Set → list,
 * Uint8Array/Buffer → UTF-8 string. Objects with `toJSON()` are encoded as
 * its result. `undefined` members are left out of objects and become `null`
 * in lists.
 *
 * @throws SerializationError for cycles, functions, symbols, class instances
 *   without `toJSON`, invalid Dates and non-UTF-8 bytes, naming the path
 *   (`args.x.y`).
 */
export function pyDumps(value: unknown): string {
  return dumps(value, '"');
}

/**
 * `pyDumps(pyDumps(value))` in one pass: the JSON string literal holding the
 * JSON text of `value`, as common.serialize_msg puts a message inside the v2
 * envelope. Writing the escaped form directly saves encoding the message and
 * then escaping every quote of it again.
 *
 * @throws SerializationError as pyDumps
 */
export function pyDumpsLiteral(value: unknown): string {
  return `"${dumps(value, '\\"')}"`;
}

function dumps(value: unknown, quoteMark: string): string {
  const stack: object[] = [];
  const outerQ = Q;
  Q = quoteMark;
  let out: string | undefined;
  try {
    out = encodeValue(value, '', stack);
  } catch (err) {
    if (err instanceof EncodeFailure) {
      throw new SerializationError(`${err.reason} at ${formatPath(err.path.reverse())}`);
    }
    if (err instanceof RangeError && stack.length > 0 && /call stack/i.test(err.message)) {
      // Python raises RecursionError for the same reason.
      throw new SerializationError(`value nested too deeply (${stack.length} levels)`, { cause: err });
    }
    throw err;
  } finally {
    // a toJSON() that calls pyDumps itself gets its own quote mark and gives the outer one back
    Q = outerQ;
  }
  if (out === undefined) throw new SerializationError('cannot serialize undefined at (top level)');
  return out;
}

// ---------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------

export interface PyLoadsOptions {
  /**
   * `'number'` (default): every float is a JS number.
   * `'preserve'`: integral float literals (`1.0`, `-0.0`, `1e+16`) become
   * `PyFloat`, so `pyDumps(pyLoads(text, {floats: 'preserve'}))` reproduces
   * Python's bytes.
   */
  floats?: 'number' | 'preserve';
  /**
   * `'object'` (default): JSON objects become plain objects, as JSON.parse.
   * `'map'`: they become `Map<string, unknown>`, which keeps Python's key order
   * even for integer-like keys (see the module comment).
   */
  objects?: 'object' | 'map';
}

/** A float literal somewhere (or a string that looks like one): `preserve` needs the full parser. */
const MAYBE_FLOAT = /\d[.eE]/;

/**
 * Python's `json.loads` as a JS value: standard JSON plus bare `NaN`,
 * `Infinity`, `-Infinity`; integers beyond ±(2^53−1) as exact `bigint`s;
 * everything else as JSON.parse gives it (`__proto__` becomes an own property).
 * A Buffer is decoded as UTF-8 (a leading BOM is skipped, as json.loads does
 * for bytes).
 *
 * @throws MalformedMessage with Python's wording and position
 *   (`Expecting ',' delimiter: line 1 column 10 (char 9)`; positions count
 *   UTF-16 code units).
 */
export function pyLoads(text: string | Uint8Array, options?: PyLoadsOptions): unknown {
  const s = typeof text === 'string' ? text : jsonText(text);
  const preserve = options?.floats === 'preserve';
  if (options?.objects !== 'map' && !(preserve && MAYBE_FLOAT.test(s))) {
    let value: unknown;
    try {
      value = JSON.parse(s);
    } catch {
      // NaN/Infinity, or malformed input: the full parser decides and names the position.
      return new Parser(s, preserve, false).document();
    }
    // JSON.parse rounds an int literal beyond 2^53 to a double of at least 2^53 (Infinity past 1e308),
    // so only such a number can hide lost digits. Checking the result costs less than scanning the text.
    try {
      if (!mayHaveLostDigits(value)) return value;
    } catch (err) {
      // Nesting deeper than the stack: the full parser reports it as Python's RecursionError would be.
      if (!(err instanceof RangeError)) throw err;
    }
    return new Parser(s, preserve, false).document();
  }
  return new Parser(s, preserve, options?.objects === 'map').document();
}

const TWO_POW_53 = 2 ** 53;

/** True when a number in a JSON.parse result is at or beyond ±2^53 (or infinite). */
function mayHaveLostDigits(value: unknown): boolean {
  if (typeof value === 'number') return value >= TWO_POW_53 || value <= -TWO_POW_53;
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (mayHaveLostDigits(value[i])) return true;
    return false;
  }
  const obj = value as Record<string, unknown>;
  for (const key in obj) if (mayHaveLostDigits(obj[key])) return true;
  return false;
}

/** A JSON body's bytes as text, as pyLoads reads them (UTF-8, a BOM dropped). @throws MalformedMessage when not UTF-8 */
export function jsonText(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Python writes bodies with ensure_ascii, so nearly every body is ASCII: latin1 decodes it exactly and cheaper.
  if (isAscii(buf)) return buf.toString('latin1');
  if (!isUtf8(buf)) throw new MalformedMessage('Malformed JSON: body is not valid UTF-8');
  const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
  return buf.toString('utf8', bom ? 3 : 0);
}

/** Characters that need the careful string scanner (escapes, or control characters json rejects). */
const STRING_SPECIAL = /[\\\x00-\x1f]/;

const WS_SPACE = 0x20;
const WS_TAB = 0x09;
const WS_LF = 0x0a;
const WS_CR = 0x0d;

/**
 * Recursive-descent JSON parser with Python's extensions (Lib/json/scanner.py
 * py_make_scanner, Lib/json/decoder.py) and Python's error messages.
 */
class Parser {
  private pos = 0;

  constructor(
    private readonly s: string,
    private readonly preserve: boolean,
    private readonly maps: boolean,
  ) {}

  document(): unknown {
    if (this.s.charCodeAt(0) === 0xfeff) this.fail('Unexpected UTF-8 BOM (decode using utf-8-sig)', 0);
    let value: unknown;
    try {
      this.skipWs();
      value = this.value();
    } catch (err) {
      if (err instanceof RangeError) {
        // Python raises RecursionError for the same input.
        throw new MalformedMessage(`Malformed JSON: nested too deeply near char ${this.pos}`, { cause: err });
      }
      throw err;
    }
    this.skipWs();
    if (this.pos < this.s.length) this.fail('Extra data', this.pos);
    return value;
  }

  private skipWs(): void {
    const s = this.s;
    let p = this.pos;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === WS_SPACE || c === WS_LF || c === WS_CR || c === WS_TAB) p++;
      else break;
    }
    this.pos = p;
  }

  private value(): unknown {
    const s = this.s;
    const p = this.pos;
    switch (s.charCodeAt(p)) {
      case 0x22: // "
        this.pos = p + 1;
        return this.string(p);
      case 0x7b: // {
        this.pos = p + 1;
        return this.maps ? this.map() : this.object();
      case 0x5b: // [
        this.pos = p + 1;
        return this.array();
      case 0x6e: // n
        if (s.startsWith('null', p)) {
          this.pos = p + 4;
          return null;
        }
        break;
      case 0x74: // t
        if (s.startsWith('true', p)) {
          this.pos = p + 4;
          return true;
        }
        break;
      case 0x66: // f
        if (s.startsWith('false', p)) {
          this.pos = p + 5;
          return false;
        }
        break;
      case 0x4e: // N
        if (s.startsWith('NaN', p)) {
          this.pos = p + 3;
          return NaN;
        }
        break;
      case 0x49: // I
        if (s.startsWith('Infinity', p)) {
          this.pos = p + 8;
          return Infinity;
        }
        break;
      case 0x2d: // -
        if (s.startsWith('-Infinity', p)) {
          this.pos = p + 9;
          return -Infinity;
        }
        return this.number(p);
      default: {
        const c = s.charCodeAt(p);
        if (c >= 0x30 && c <= 0x39) return this.number(p);
      }
    }
    return this.fail('Expecting value', p);
  }

  /** NUMBER_RE = r'(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?' */
  private number(start: number): unknown {
    const s = this.s;
    let p = start;
    if (s.charCodeAt(p) === 0x2d) p++;
    const intStart = p;
    let c = s.charCodeAt(p);
    if (c === 0x30) p++;
    else if (c >= 0x31 && c <= 0x39) {
      do c = s.charCodeAt(++p);
      while (c >= 0x30 && c <= 0x39);
    } else {
      return this.fail('Expecting value', start);
    }
    const intDigits = p - intStart;
    let isFloat = false;
    if (s.charCodeAt(p) === 0x2e && isDigit(s.charCodeAt(p + 1))) {
      isFloat = true;
      p += 2;
      while (isDigit(s.charCodeAt(p))) p++;
    }
    c = s.charCodeAt(p);
    if (c === 0x65 || c === 0x45) {
      let q = p + 1;
      const sign = s.charCodeAt(q);
      if (sign === 0x2b || sign === 0x2d) q++;
      if (isDigit(s.charCodeAt(q))) {
        isFloat = true;
        p = q + 1;
        while (isDigit(s.charCodeAt(p))) p++;
      }
    }
    this.pos = p;
    const literal = s.slice(start, p);
    const n = Number(literal);
    if (isFloat) return this.preserve && Number.isInteger(n) ? new PyFloat(n) : n;
    if (intDigits < 16 || Number.isSafeInteger(n)) return n;
    return BigInt(literal);
  }

  /** `quoteAt` is the position of the opening quote; this.pos is just after it. */
  private string(quoteAt: number): string {
    const s = this.s;
    const from = this.pos;
    let close = s.indexOf('"', from);
    // A quote preceded by an odd number of backslashes is escaped (the opening quote stops the count).
    while (close >= 0 && s.charCodeAt(close - 1) === 0x5c) {
      let k = close - 2;
      while (s.charCodeAt(k) === 0x5c) k--;
      if ((close - k) % 2 === 1) break;
      close = s.indexOf('"', close + 1);
    }
    if (close >= 0) {
      const raw = s.slice(from, close);
      if (!STRING_SPECIAL.test(raw)) {
        this.pos = close + 1;
        return raw;
      }
      try {
        // JSON.parse validates and decodes escapes (surrogate pairs included) natively.
        const decoded = JSON.parse(s.slice(quoteAt, close + 1)) as string;
        this.pos = close + 1;
        return decoded;
      } catch {
        // Fall through to name the first offending character.
      }
    }
    return this.badString(quoteAt);
  }

  /** py_scanstring's checks, in its order, to report the first problem in a string that failed to decode. */
  private badString(quoteAt: number): never {
    const s = this.s;
    let p = quoteAt + 1;
    for (;;) {
      const c = s.charCodeAt(p);
      if (Number.isNaN(c)) return this.fail('Unterminated string starting at', quoteAt);
      // Not reached for input JSON.parse rejected; kept so the loop always ends.
      if (c === 0x22) return this.fail('Invalid string starting at', quoteAt);
      if (c < 0x20) return this.fail('Invalid control character at', p);
      if (c !== 0x5c) {
        p++;
        continue;
      }
      const e = s.charCodeAt(p + 1);
      if (Number.isNaN(e)) return this.fail('Unterminated string starting at', quoteAt);
      if (e === 0x75) {
        if (!/^[0-9a-fA-F]{4}$/.test(s.slice(p + 2, p + 6))) return this.fail('Invalid \\uXXXX escape', p + 1);
        p += 6;
      } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        p += 2;
      } else {
        return this.fail('Invalid \\escape', p);
      }
    }
  }

  private object(): Record<string, unknown> {
    const obj: Record<string, unknown> = {};
    const s = this.s;
    this.skipWs();
    if (s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return obj;
    }
    for (;;) {
      const key = this.key();
      const value = this.value();
      if (key === '__proto__') {
        // A plain assignment would replace the prototype; JSON.parse defines an own property.
        Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
      } else {
        obj[key] = value;
      }
      if (this.endOfMember()) return obj;
    }
  }

  private map(): Map<string, unknown> {
    const map = new Map<string, unknown>();
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return map;
    }
    for (;;) {
      const key = this.key();
      map.set(key, this.value());
      if (this.endOfMember()) return map;
    }
  }

  /** Reads `"key" :` and the whitespace before the value. */
  private key(): string {
    const s = this.s;
    const p = this.pos;
    if (s.charCodeAt(p) !== 0x22) this.fail('Expecting property name enclosed in double quotes', p);
    this.pos = p + 1;
    const key = this.string(p);
    this.skipWs();
    if (s.charCodeAt(this.pos) !== 0x3a) this.fail("Expecting ':' delimiter", this.pos);
    this.pos++;
    this.skipWs();
    return key;
  }

  /** After a member: `,` (then the next key) or `}`. True at the end of the object. */
  private endOfMember(): boolean {
    const s = this.s;
    this.skipWs();
    const c = s.charCodeAt(this.pos);
    if (c === 0x7d) {
      this.pos++;
      return true;
    }
    if (c !== 0x2c) this.fail("Expecting ',' delimiter", this.pos);
    this.pos++;
    this.skipWs();
    return false;
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    const s = this.s;
    this.skipWs();
    if (s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.skipWs();
      const c = s.charCodeAt(this.pos);
      if (c === 0x5d) {
        this.pos++;
        return out;
      }
      if (c !== 0x2c) this.fail("Expecting ',' delimiter", this.pos);
      this.pos++;
      this.skipWs();
    }
  }

  /** json.JSONDecodeError's text: "<msg>: line L column C (char P)". */
  private fail(msg: string, at: number): never {
    const before = this.s.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    throw new MalformedMessage(`Malformed JSON: ${msg}: line ${line} column ${column} (char ${at})`);
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
