'use client';
import { useEffect, useState } from 'react';
import { MESSAGE_KINDS } from '@/lib/tap-contracts';

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

export function FilterBar({ value, onChange, error }: { value: FilterFields; onChange: (f: FilterFields) => void; error: string | null }) {
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
      {field('exchange', 'Exchange', 'nova')}
      {field('topic', 'Topic', 'compute')}
      {field('server', 'Server', 'host*')}
      {field('method', 'Method', 'get_*')}
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
