/**
 * The parts of Python 3.11's `urllib.parse` that oslo.messaging's transport URL goes through
 * (`urlsplit`, `parse_qs`, `unquote`, `quote`, `quote_plus`), ported so that osloscope reads and
 * writes a URL exactly as oslo does. transport-url.ts is the one user; the golden test
 * (test/interop/transport-url-golden.test.ts) holds both to the Python library.
 */
import { ConfigError } from './errors.ts';

// ---------------------------------------------------------------------------
// urllib.parse.urlsplit (Python 3.11), only the parts oslo uses

const C0_OR_SPACE = /^[\x00-\x20]+/;
const SCHEME_CHARS = /^[A-Za-z][A-Za-z0-9+.-]*$/;

export interface SplitURL {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
}

export function urlsplit(input: string): SplitURL {
  // WHATWG-style clean-up urlsplit does first: leading C0/space, then tab/CR/LF anywhere.
  let url = input.replace(C0_OR_SPACE, '').replace(/[\t\r\n]/g, '');
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon > 0 && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  let netloc = '';
  if (url.startsWith('//')) {
    let end = url.length;
    for (const c of '/?#') {
      const at = url.indexOf(c, 2);
      if (at >= 0) end = Math.min(end, at);
    }
    netloc = url.slice(2, end);
    url = url.slice(end);
  }
  const hash = url.indexOf('#');
  if (hash >= 0) url = url.slice(0, hash);
  let query = '';
  const q = url.indexOf('?');
  if (q >= 0) {
    query = url.slice(q + 1);
    url = url.slice(0, q);
  }
  checkNetlocNormalization(netloc);
  return { scheme, netloc, path: url, query };
}

/** urllib.parse._checknetloc: refuse characters that NFKC-normalize into URL delimiters. */
function checkNetlocNormalization(netloc: string): void {
  if (netloc === '' || /^[\x00-\x7f]*$/.test(netloc)) return;
  const n = netloc.replace(/[@:#?]/g, '');
  const normalized = n.normalize('NFKC');
  if (n === normalized) return;
  if (/[/?#@:]/.test(normalized)) {
    throw new ConfigError('The transport URL netloc contains characters that are invalid under NFKC normalization', 'host');
  }
}

// ---------------------------------------------------------------------------
// urllib.parse.parse_qs / unquote / quote (Python 3.11)

/** `parse_qs(query)` with oslo's join of repeated keys: '&' separates, blank values are dropped, '+' is a space. */
export function parseQs(query: string): Record<string, string> {
  const values = new Map<string, string[]>();
  for (const field of query.split('&')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const rawValue = field.slice(eq + 1);
    if (rawValue === '') continue;
    const name = pyUnquote(field.slice(0, eq).replaceAll('+', ' '));
    const value = pyUnquote(rawValue.replaceAll('+', ' '));
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
  }
  // fromEntries defines own properties, so a key such as `__proto__` stays a plain (unknown) key.
  return Object.fromEntries([...values].map(([name, list]) => [name, list.join(',')]));
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * `urllib.parse.unquote`: %XX sequences inside each ASCII run become bytes
 * decoded as UTF-8 with U+FFFD for bad sequences; a '%' not followed by two
 * hex digits stays as is; non-ASCII text is kept untouched.
 */
export function pyUnquote(text: string): string {
  if (!text.includes('%')) return text;
  let out = '';
  for (const [run] of text.matchAll(/[\x00-\x7f]+|[^\x00-\x7f]+/g)) {
    if (run.charCodeAt(0) > 0x7f) {
      out += run;
      continue;
    }
    const bytes: number[] = [];
    for (let i = 0; i < run.length; i++) {
      const hex = run.slice(i + 1, i + 3);
      if (run[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else {
        bytes.push(run.charCodeAt(i));
      }
    }
    out += utf8Decoder.decode(new Uint8Array(bytes));
  }
  return out;
}

/** `urllib.parse.quote(text, safe)`: UTF-8 bytes, letters, digits and `_.-~` kept, the rest %XX (upper case). */
export function pyQuote(text: string, safe = '/'): string {
  let out = '';
  for (const byte of utf8Encoder.encode(text)) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.\-~]/.test(ch) || (byte < 0x80 && safe.includes(ch))) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `urllib.parse.quote_plus(text)` (safe ''), as `urlencode` uses it. */
export function pyQuotePlus(text: string): string {
  return pyQuote(text, ' ').replaceAll(' ', '+');
}
