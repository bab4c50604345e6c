/**
 * oslo.config's value types (`oslo_config/types.py`: Boolean, Integer, Float, String with choices,
 * List), ported so that text from a transport URL query, a config file or the environment becomes
 * the same value, or the same ValueError text, as in a Python service. options.ts applies them per
 * option definition.
 */
import { ConfigError } from './errors.ts';

// Converters, one per oslo.config type. Each throws a ConfigError carrying oslo's ValueError text;
// callers add the option name.

// Python's str.isspace() set, which str.strip(), int() and float() trim.
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_DIGITS = '[0-9](?:_?[0-9])*';
const PY_INT_RE = new RegExp(`^${PY_SPACE}*([+-]?${PY_DIGITS})${PY_SPACE}*$`);
const PY_FLOAT_RE = new RegExp(
  `^${PY_SPACE}*([+-]?(?:(?:${PY_DIGITS}(?:\\.(?:${PY_DIGITS})?)?|\\.${PY_DIGITS})(?:[eE][+-]?${PY_DIGITS})?|inf|infinity|nan))${PY_SPACE}*$`,
  'i',
);
const PY_BLANK_RE = new RegExp(`^${PY_SPACE}*$`);

export interface NumberBounds {
  min?: number;
  max?: number;
}

/** `types.Boolean`: true/false, yes/no, on/off, 1/0, case-insensitive, nothing else (no trimming). */
export function toBoolean(text: string): boolean {
  const s = text.toLowerCase();
  if (s === 'true' || s === '1' || s === 'on' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'off' || s === 'no') return false;
  throw new ConfigError(`Unexpected boolean value ${pyRepr(text)}`);
}

/**
 * `types.Integer`: Python `int(text)` (surrounding whitespace, a sign and
 * `_` between digits allowed), then the bounds. oslo turns a blank value into
 * None, which every integer option of the core then trips over; it is refused
 * here instead. Integers beyond 2^53 are refused rather than rounded.
 */
export function toInteger(text: string, bounds: NumberBounds = {}): number {
  if (PY_BLANK_RE.test(text)) throw new ConfigError('Should be an integer, got a blank value');
  const m = PY_INT_RE.exec(text);
  if (!m) throw new ConfigError(`invalid literal for int() with base 10: ${pyRepr(text)}`);
  const value = Number(m[1].replaceAll('_', ''));
  if (!Number.isSafeInteger(value)) throw new ConfigError(`Integer ${m[1]} is out of range`);
  return checkBounds(value, bounds);
}

/**
 * `types.Float`: Python `float(text)` (also inf/infinity/nan), then the
 * bounds. NaN passes oslo's bound checks by accident of IEEE comparison and
 * would then poison every delay computed from it, so it is refused.
 */
export function toFloat(text: string, bounds: NumberBounds = {}): number {
  if (PY_BLANK_RE.test(text)) throw new ConfigError('Should be a number, got a blank value');
  const m = PY_FLOAT_RE.exec(text);
  if (!m) throw new ConfigError(`could not convert string to float: ${pyRepr(text)}`);
  const literal = m[1].replaceAll('_', '').toLowerCase();
  const unsigned = literal.replace(/^[+-]/, '');
  if (unsigned === 'nan') throw new ConfigError('Should be a number, got nan');
  const negative = literal.startsWith('-');
  const value =
    unsigned === 'inf' || unsigned === 'infinity' ? (negative ? -Infinity : Infinity) : Number(literal);
  return checkBounds(value, bounds);
}

/** `types.String(choices)`: the text as is; with choices it must be one of them exactly (case-sensitive). */
export function toStr<T extends string = string>(text: string, choices?: readonly T[]): T {
  if (choices === undefined || (choices as readonly string[]).includes(text)) return text as T;
  throw new ConfigError(`Valid values are [${choices.join(', ')}], but found ${pyRepr(text)}`);
}

/**
 * `types.List(String())` (ListOpt): strip, drop one trailing comma run, split
 * on ',', strip each item; blank text is the empty list.
 */
export function toList(text: string): string[] {
  const s = pyStrip(text).replace(/,+$/, '');
  if (s === '') return [];
  return s.split(',').map((item) => pyStrip(item));
}

/** Python str.strip() with no argument. */
export function pyStrip(text: string): string {
  return text.replace(PY_STRIP_RE, '');
}
const PY_STRIP_RE = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');

/** `types.Number` bounds, inclusive. */
export function checkBounds(value: number, bounds: NumberBounds): number {
  // oslo_config/types.py Number.__call__ ('%g' formatting of the bound)
  if (bounds.min !== undefined && value < bounds.min) throw new ConfigError(`Should be greater than or equal to ${bounds.min}`);
  if (bounds.max !== undefined && value > bounds.max) throw new ConfigError(`Should be less than or equal to ${bounds.max}`);
  return value;
}

/** Python repr() of a str, for error texts that match oslo's. */
function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}
