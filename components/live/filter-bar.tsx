'use client';
import { useEffect, useState } from 'react';
import { MESSAGE_KINDS, type DecodedMessage, type KnownTargets } from '@/lib/tap-contracts';

export interface FilterFields {
  kind: string;
  exchange: string;
  topic: string;
  server: string;
  method: string;
  requestId: string;
  text: string;
}

export const EMPTY_FILTER: FilterFields = { kind: '', exchange: '', topic: '', server: '', method: '', requestId: '', text: '' };

/** URL parameter of each field: a Live link carries its filter (`/live?topic=compute&filter=msg_id:7c3f…`). */
const URL_PARAMS: [keyof FilterFields, string][] = [
  ['kind', 'kind'],
  ['exchange', 'exchange'],
  ['topic', 'topic'],
  ['server', 'server'],
  ['method', 'method'],
  ['requestId', 'request_id'],
  ['text', 'filter'],
];

/** The filter a URL carries (unknown parameters are ignored; each value is bounded like the grammar). */
export function filterFromParams(params: URLSearchParams): FilterFields {
  const f = { ...EMPTY_FILTER };
  for (const [key, name] of URL_PARAMS) f[key] = (params.get(name) ?? '').slice(0, 1000);
  return f;
}

/** Write the filter into URL parameters (empty fields left out), keeping the other parameters. */
export function filterToParams(f: FilterFields, base: URLSearchParams = new URLSearchParams()): URLSearchParams {
  const out = new URLSearchParams(base);
  for (const [key, name] of URL_PARAMS) {
    const v = f[key].trim();
    if (v) out.set(name, v);
    else out.delete(name);
  }
  return out;
}

function quote(v: string): string {
  const clean = v.replace(/"/g, '').trim();
  return /[\s,]/.test(clean) && !clean.includes(',') ? `"${clean}"` : clean;
}

/**
 * The structured fields as the tap's filter grammar
 * (`kind:call topic:compute method:get_* request_id:req-1 free text`).
 */
export function toQuery(f: FilterFields): string {
  const parts: string[] = [];
  const add = (field: string, v: string) => {
    const t = v.trim();
    if (t) parts.push(`${field}:${quote(t)}`);
  };
  add('kind', f.kind);
  add('exchange', f.exchange);
  add('topic', f.topic);
  add('server', f.server);
  add('method', f.method);
  add('request_id', f.requestId);
  if (f.text.trim()) parts.push(f.text.trim());
  return parts.join(' ');
}

/** The example in each field's placeholder. */
export type FilterHints = Pick<FilterFields, 'exchange' | 'topic' | 'server' | 'method'>;

/** Generic examples, for a transport whose traffic named nothing yet (oslo's default control exchange). */
export const GENERIC_HINTS: FilterHints = { exchange: 'openstack', topic: 'a topic', server: 'host*', method: 'get_*' };
/** Longer names are cut: a placeholder is an example, not a value to read in full. */
const HINT_CHARS = 40;
/** Live messages looked at for examples when the suggestions have none (the newest first). */
const HINT_MESSAGES = 50;

const cut = (v: string) => (v.length > HINT_CHARS ? `${v.slice(0, HINT_CHARS - 1)}…` : v);

/**
 * Examples for the filter fields from what this transport's traffic named: the tap's recent targets
 * (`GET /api/targets`, refreshed on its own timer), else the newest messages on the page; a field nothing
 * named keeps its generic example. No request of its own, and bounded: a look at HINT_MESSAGES messages at most.
 */
export function filterHints(known: KnownTargets | null, messages: readonly DecodedMessage[]): FilterHints {
  const out = { ...GENERIC_HINTS };
  // an exchange, topic, server and method that go together: the first server's topic, that topic's method
  const server = known?.servers[0];
  const topic = server?.topic ?? known?.topics[0] ?? known?.notificationTopics[0];
  const method = known?.methods.find((m) => m.topic === topic) ?? known?.methods[0];
  const exchange = known?.exchanges[0];
  if (exchange) out.exchange = cut(exchange);
  if (topic) out.topic = cut(topic);
  if (server) out.server = cut(server.server);
  if (method) out.method = cut(method.method);
  const missing = (k: keyof FilterHints) => out[k] === GENERIC_HINTS[k];
  for (let i = 0; i < messages.length && i < HINT_MESSAGES && (['exchange', 'topic', 'server', 'method'] as const).some(missing); i++) {
    const m = messages[i];
    if (missing('exchange') && m.exchange && (m.kind === 'call' || m.kind === 'cast')) out.exchange = cut(m.exchange);
    if (missing('topic') && m.topic) out.topic = cut(m.topic);
    if (missing('server') && m.server) out.server = cut(m.server);
    if (missing('method') && m.method) out.method = cut(m.method);
  }
  return out;
}

export function FilterBar({ value, onChange, error, hints = GENERIC_HINTS }: { value: FilterFields; onChange: (f: FilterFields) => void; error: string | null; hints?: FilterHints }) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  // apply typed filters after a short pause, selects at once
  useEffect(() => {
    const t = setTimeout(() => {
      if (JSON.stringify(draft) !== JSON.stringify(value)) onChange(draft);
    }, 400);
    return () => clearTimeout(t);
  }, [draft, value, onChange]);
  const field = (key: keyof FilterFields, label: string, placeholder: string) => (
    <label className="filter-field">
      <span>{label}</span>
      <input value={draft[key]} placeholder={placeholder} data-testid={`filter-${key}`} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
    </label>
  );
  return (
    <div className="filter-bar" data-testid="filter-bar">
      <label className="filter-field">
        <span>Kind</span>
        <select
          value={draft.kind}
          data-testid="filter-kind"
          onChange={(e) => {
            const next = { ...draft, kind: e.target.value };
            setDraft(next);
            onChange(next);
          }}
        >
          <option value="">any</option>
          {MESSAGE_KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
          <option value="call,cast,fanout">requests</option>
        </select>
      </label>
      {field('exchange', 'Exchange', hints.exchange)}
      {field('topic', 'Topic', hints.topic)}
      {field('server', 'Server', hints.server)}
      {field('method', 'Method', hints.method)}
      {field('requestId', 'request_id', 'req-…')}
      <label className="filter-field grow">
        <span>Text / query</span>
        <input value={draft.text} placeholder='free text, or terms like msg_id:7c3f… global_request_id:req-… -kind:reply' data-testid="filter-text" onChange={(e) => setDraft({ ...draft, text: e.target.value })} />
      </label>
      <div className="filter-query">
        <code data-testid="filter-query">{toQuery(value) || '(everything)'}</code>
        {error && (
          <span className="text-bad" data-testid="filter-error">
            {error}
          </span>
        )}
      </div>
    </div>
  );
}
