/**
 * The live-stream search grammar: a fixed, safe language parsed into a
 * predicate over DecodedMessage. Nothing the user types is ever evaluated.
 *
 *   kind:call topic:compute method:get_* request_id:req-1 "free text" -server:host2
 *
 * - `field:value` terms; `value` may be quoted ("a b") and may use `*` (any
 *   run of characters) and `?` (one character) wildcards; commas give
 *   alternatives (`kind:call,cast`). Matching is case-insensitive and whole
 *   value (`method:get` does not match `get_instance`; `method:get*` does).
 * - prefix matching: a value ending in `…` or `...` (how logs and narrow
 *   columns shorten ids) matches as a prefix, and the id fields (`msg_id`,
 *   `request_id`, `global_request_id`) match by prefix from 4 characters on
 *   (`msg_id:7c3f` finds `7c3f9a…`).
 * - a call and its reply are one conversation: `request_id:` and
 *   `global_request_id:` also find the replies and heartbeats of the calls
 *   they match (a reply carries no context; the call is looked up by its
 *   `_msg_id` through `FilterContext.callOf`), and `msg_id:` finds both.
 * - a leading `-` negates a term.
 * - anything else is free text, matched as a case-insensitive substring of
 *   the message's method, topic, server, exchange, routing key, event type,
 *   publisher, ids, args, payload, result, failure and context.
 * - all terms must hold (AND).
 */
import { MESSAGE_KINDS, type DecodedMessage } from '../../lib/tap-contracts.ts';

export const MAX_FILTER_LENGTH = 1000;
export const MAX_FILTER_TERMS = 32;

export class FilterSyntaxError extends Error {
  override name = 'FilterSyntaxError';
}

type Getter = (m: DecodedMessage) => string | null | undefined;

const FIELDS: Record<string, Getter> = {
  kind: (m) => m.kind,
  exchange: (m) => m.exchange,
  topic: (m) => m.topic,
  server: (m) => m.server,
  method: (m) => m.method,
  namespace: (m) => m.namespace,
  version: (m) => m.version,
  request_id: (m) => m.requestId,
  global_request_id: (m) => (typeof m.context.global_request_id === 'string' ? m.context.global_request_id : null),
  msg_id: (m) => m.msgId,
  reply_q: (m) => m.replyQ,
  routing_key: (m) => m.routingKey,
  event_type: (m) => m.eventType,
  publisher: (m) => m.publisherId,
  priority: (m) => m.priority,
  // `has:failure` style checks are expressed as fields too
  failure: (m) => m.failure?.class ?? null,
  user: (m) => (typeof m.context.user_id === 'string' ? m.context.user_id : typeof m.context.user === 'string' ? m.context.user : null),
  project: (m) =>
    typeof m.context.project_id === 'string' ? m.context.project_id : typeof m.context.project === 'string' ? m.context.project : null,
  trace: (m) => m.trace?.event ?? null,
};

const ALIASES: Record<string, string> = {
  type: 'kind',
  req: 'request_id',
  requestid: 'request_id',
  'request-id': 'request_id',
  global_req: 'global_request_id',
  globalrequestid: 'global_request_id',
  'global-request-id': 'global_request_id',
  greq: 'global_request_id',
  msgid: 'msg_id',
  'msg-id': 'msg_id',
  rk: 'routing_key',
  event: 'event_type',
  publisher_id: 'publisher',
  ns: 'namespace',
  user_id: 'user',
  project_id: 'project',
};

export const FILTER_FIELDS = Object.keys(FIELDS);

/** Fields holding ids: matched by prefix (logs and narrow columns shorten them). */
const ID_FIELDS = new Set(['msg_id', 'request_id', 'global_request_id']);
/** The shortest id prefix that matches: shorter values stay whole-value, so `msg_id:a` does not match half the stream. */
export const MIN_ID_PREFIX = 4;

/** The request ids of the call a reply answers, for filters on replies (which carry no context). */
export interface CallIds {
  requestId: string | null;
  globalRequestId?: string | null;
}

export interface FilterContext {
  /** the call with this `_msg_id`, when the tap still knows it */
  callOf?: (msgId: string) => CallIds | null;
}

export interface FilterTerm {
  field: string | null;
  values: string[];
  negated: boolean;
}

export interface ParsedFilter {
  terms: FilterTerm[];
  predicate: (m: DecodedMessage) => boolean;
}

interface Token {
  text: string;
  /** the token began with a quote: always free text ("error: x" searches for that text) */
  quoted: boolean;
}

/** Split into tokens: whitespace separates, double quotes group, `\"` escapes a quote inside quotes. */
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let cur = '';
  let inQuotes = false;
  let had = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '\\' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') inQuotes = false;
      else cur += c;
    } else if (c === '"') {
      if (!had) quoted = true;
      inQuotes = true;
      had = true;
    } else if (/\s/.test(c)) {
      if (had) out.push({ text: cur, quoted });
      cur = '';
      had = false;
      quoted = false;
    } else {
      cur += c;
      had = true;
    }
  }
  if (inQuotes) throw new FilterSyntaxError('Unterminated quote');
  if (had) out.push({ text: cur, quoted });
  return out;
}

/**
 * Glob match (`*` any run, `?` one character), case-insensitive, whole
 * value. The classic two-pointer algorithm with one backtrack point: at most
 * O(pattern × text) steps, so no input can make it blow up the way a
 * backtracking RegExp of `*a*a*a…` can.
 */
export function globMatch(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    const c = p.charCodeAt(pi);
    if (pi < p.length && (c === 63 /* ? */ || c === t.charCodeAt(ti))) {
      pi++;
      ti++;
    } else if (pi < p.length && c === 42 /* * */) {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else return false;
  }
  while (pi < p.length && p.charCodeAt(pi) === 42) pi++;
  return pi === p.length;
}

/** `abc…` / `abc...` → `abc` (a shortened value), else null. */
function shortened(raw: string): string | null {
  if (raw.length > 1 && raw.endsWith('…')) return raw.slice(0, -1);
  if (raw.length > 3 && raw.endsWith('...')) return raw.slice(0, -3);
  return null;
}

function valueMatcher(values: string[], prefixIds = false): (v: string | null | undefined) => boolean {
  const matchers = values.map((raw) => {
    const cut = shortened(raw);
    if (cut !== null) {
      const lower = cut.toLowerCase();
      return (v: string) => v.toLowerCase().startsWith(lower);
    }
    if (raw.includes('*') || raw.includes('?')) return (v: string) => globMatch(raw, v);
    const lower = raw.toLowerCase();
    if (prefixIds && lower.length >= MIN_ID_PREFIX) return (v: string) => v.toLowerCase().startsWith(lower);
    return (v: string) => v.toLowerCase() === lower;
  });
  return (v) => {
    if (v === null || v === undefined) return values.some((x) => x === '' || x === 'null' || x === 'none');
    return matchers.some((f) => f(v));
  };
}

/** Text searched by free-text terms; built once per message (messages are immutable once decoded). */
const searchText = new WeakMap<DecodedMessage, string>();

function textOf(m: DecodedMessage): string {
  let t = searchText.get(m);
  if (t === undefined) {
    const parts: unknown[] = [
      m.kind,
      m.method,
      m.topic,
      m.server,
      m.exchange,
      m.routingKey,
      m.eventType,
      m.publisherId,
      m.priority,
      m.msgId,
      m.replyQ,
      m.requestId,
      m.error,
    ];
    let text = parts.filter((p) => p !== null && p !== undefined).join(' ');
    for (const v of [m.args, m.payload, m.result, m.failure, m.context, m.raw]) {
      if (v !== null && v !== undefined) text += ` ${typeof v === 'string' ? v : safeJson(v)}`;
    }
    t = text.toLowerCase();
    searchText.set(m, t);
  }
  return t;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}

/** Parse a filter; throws FilterSyntaxError with a message fit for the user. An empty filter matches everything. */
export function parseFilter(text: string, context: FilterContext = {}): ParsedFilter {
  if (text.length > MAX_FILTER_LENGTH) throw new FilterSyntaxError(`Filter is longer than ${MAX_FILTER_LENGTH} characters`);
  const tokens = tokenize(text);
  if (tokens.length > MAX_FILTER_TERMS) throw new FilterSyntaxError(`Filter has more than ${MAX_FILTER_TERMS} terms`);
  const terms: FilterTerm[] = [];
  const checks: ((m: DecodedMessage) => boolean)[] = [];
  for (const token of tokens) {
    let t = token.text;
    let negated = false;
    if (!token.quoted && t.startsWith('-') && t.length > 1) {
      negated = true;
      t = t.slice(1);
    }
    if (t === '') continue;
    const colon = token.quoted ? -1 : t.indexOf(':');
    const name = colon > 0 ? t.slice(0, colon).toLowerCase() : '';
    const field = colon > 0 ? (ALIASES[name] ?? name) : null;
    let check: (m: DecodedMessage) => boolean;
    if (field !== null && Object.hasOwn(FIELDS, field)) {
      const values = t.slice(colon + 1).split(',');
      if (field === 'kind') {
        for (const v of values) {
          if (!v.includes('*') && !v.includes('?') && !(MESSAGE_KINDS as readonly string[]).includes(v.toLowerCase())) {
            throw new FilterSyntaxError(`Unknown kind '${v}' (kinds: ${MESSAGE_KINDS.join(', ')})`);
          }
        }
      }
      const get = FIELDS[field];
      const match = valueMatcher(values, ID_FIELDS.has(field));
      const callOf = context.callOf;
      if ((field === 'request_id' || field === 'global_request_id') && callOf) {
        // a reply or heartbeat matches through the call it answers
        check = (m) => {
          if (match(get(m))) return true;
          if ((m.kind !== 'reply' && m.kind !== 'heartbeat') || !m.msgId) return false;
          const ids = callOf(m.msgId);
          if (!ids) return false;
          return match(field === 'request_id' ? ids.requestId : (ids.globalRequestId ?? null));
        };
      } else check = (m) => match(get(m));
      terms.push({ field, values, negated });
    } else if (field !== null && /^[a-z_-]+$/.test(name) && !t.includes('://')) {
      throw new FilterSyntaxError(`Unknown field '${name}' (fields: ${FILTER_FIELDS.join(', ')})`);
    } else {
      const needle = t.toLowerCase();
      check = (m) => textOf(m).includes(needle);
      terms.push({ field: null, values: [t], negated });
    }
    checks.push(negated ? (m) => !check(m) : check);
  }
  const predicate =
    checks.length === 0
      ? () => true
      : (m: DecodedMessage) => {
          for (const c of checks) if (!c(m)) return false;
          return true;
        };
  return { terms, predicate };
}

/** parseFilter as a result value, for callers that answer `{ok:false,error}`. */
export function tryParseFilter(text: string, context: FilterContext = {}): { ok: true; filter: ParsedFilter } | { ok: false; error: string } {
  try {
    return { ok: true, filter: parseFilter(text, context) };
  } catch (err) {
    if (err instanceof FilterSyntaxError) return { ok: false, error: err.message };
    throw err;
  }
}
