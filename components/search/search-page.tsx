'use client';
import Link from 'next/link';
import { useEffect, useState } from 'react';
import { useRouter, useSearchParams } from 'next/navigation';
import { useQuery } from '@tanstack/react-query';
import type { HistoryStatus, ParsedQuery, SearchResult } from '@/lib/history-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';
import { Card, Empty } from '../ui/card';
import { KindBadge } from '../ui/badge';
import { clockTime } from '../ui/format';
import { StateBadge, callerLabel } from '../calls/call-labels';
import { useSearch } from './history-hooks';
import { useFleet } from '../hooks/use-transport';

/** `2026-11-30T03:12` (a datetime-local value, read as UTC) → ISO; '' stays ''. */
export function utcInputToIso(v: string): string {
  if (!v) return '';
  const t = Date.parse(`${v}Z`);
  return Number.isFinite(t) ? new Date(t).toISOString() : '';
}

/** ISO → the datetime-local value in UTC (`2026-11-30T03:12`). */
export function isoToUtcInput(v: string): string {
  const t = Date.parse(v);
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 16) : '';
}

function describeQuery(p: ParsedQuery): string {
  const what: Record<ParsedQuery['kind'], string> = {
    msg_id: 'msg_id',
    request_id: 'request_id',
    global_request_id: 'global_request_id',
    method: 'method',
    host: 'host or process',
    text: 'text',
  };
  return `${what[p.kind]} ${p.value}${p.from ? ` (read out of an ${p.from})` : ''}${p.replyQ ? `, reply queue ${p.replyQ}` : ''}`;
}

/** `/search?q=&from=&to=`: one call opens at once, several are listed, none says why. */
export function SearchPage() {
  const params = useSearchParams();
  const router = useRouter();
  const q = params.get('q') ?? '';
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  const [draft, setDraft] = useState({ q, from: isoToUtcInput(from), to: isoToUtcInput(to) });
  useEffect(() => setDraft({ q, from: isoToUtcInput(from), to: isoToUtcInput(to) }), [q, from, to]);
  const search = useSearch(q, from, to);
  const history = useQuery<HistoryStatus>({ queryKey: [...queryKeys.all, 'history', 'status'], queryFn: () => apiGet<HistoryStatus>('/api/history'), staleTime: 30_000, retry: false });
  const d = search.data;

  // a single call: its page is the answer (replace, so Back returns to where the search started)
  useEffect(() => {
    if (!d) return;
    if (d.calls.length === 1) router.replace(`/calls/${encodeURIComponent(d.calls[0].msgId)}`);
    else if (d.calls.length === 0 && d.messages.length === 1) router.replace(`/messages/${encodeURIComponent(d.messages[0].id)}`);
  }, [d, router]);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (draft.q.trim()) p.set('q', draft.q.trim().slice(0, 4000));
    const f = utcInputToIso(draft.from);
    const t = utcInputToIso(draft.to);
    if (f) p.set('from', f);
    if (t) p.set('to', t);
    router.push(`/search?${p.toString()}`);
  };
  const range =
    from || to
      ? `${from ? new Date(from).toISOString() : 'the oldest kept'} → ${to ? new Date(to).toISOString() : 'now'}`
      : `everything kept${history.data?.oldestTs ? ` (since ${new Date(history.data.oldestTs).toISOString()}, retention ${history.data.retention.age})` : history.data && !history.data.enabled ? ' (the history store is off: the tap’s memory only)' : ''}`;
  const err = search.error as { message?: string } | null;

  return (
    <div className="page search" data-testid="search-page">
      <h1 className="page-title">Search</h1>
      <Card testId="search-form-card">
        <form className="search-form" onSubmit={submit} data-testid="search-form">
          <label className="filter-field grow">
            <span>Log line, msg_id, request id, method or host</span>
            <input value={draft.q} maxLength={4000} onChange={(e) => setDraft({ ...draft, q: e.target.value })} data-testid="search-q" />
          </label>
          <label className="filter-field">
            <span>From (UTC)</span>
            <input type="datetime-local" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} data-testid="search-from" />
          </label>
          <label className="filter-field">
            <span>To (UTC)</span>
            <input type="datetime-local" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} data-testid="search-to" />
          </label>
          <button type="submit" className="btn btn-primary" data-testid="search-submit">
            Search
          </button>
        </form>
      </Card>
      {!q ? (
        <Empty>Paste what you have: a log line such as “Timed out waiting for a reply to message ID …”, a msg_id, a req-… id, a method or a host.</Empty>
      ) : search.isPending ? (
        <Empty>Searching…</Empty>
      ) : err ? (
        <div className="callout callout-bad" data-testid="search-error">
          {err.message}
        </div>
      ) : d ? (
        <Results result={d} range={range} />
      ) : null}
    </div>
  );
}

function Results({ result: d, range }: { result: SearchResult; range: string }) {
  const fleet = useFleet();
  // the whole fleet of several: each row says which transport it was seen on
  const showTransport = fleet.several && !fleet.choice;
  if (d.calls.length === 0 && d.messages.length === 0) {
    return (
      <div className="callout callout-warn" data-testid="search-empty">
        <p>
          Nothing found for <strong data-testid="search-parsed">{describeQuery(d.query)}</strong>.
        </p>
        <p className="small" data-testid="search-range">
          Searched: {range}.
        </p>
        <p className="small">
          {d.query.kind === 'text'
            ? 'No msg_id, request id, method or host was recognised in the text: paste the whole log line, or just the id.'
            : 'The call may be older than what is kept, or on a broker this osloscope does not watch.'}
        </p>
      </div>
    );
  }
  return (
    <>
      <p className="small muted" data-testid="search-summary">
        {describeQuery(d.query)} · searched {range}
        {fleet.several && fleet.choice ? ` on transport ${fleet.choice}` : ''} · {d.calls.length} call{d.calls.length === 1 ? '' : 's'}, {d.messages.length} message{d.messages.length === 1 ? '' : 's'}
        {d.truncated ? ' (more matched: narrow the time range)' : ''}
      </p>
      {d.calls.length > 0 && (
        <Card title={`Calls (${d.calls.length})`} testId="search-calls">
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Calls found">
            <table className="table sticky-first">
              <thead>
                <tr>
                  <th>Method</th>
                  {showTransport && <th>Transport</th>}
                  <th>Target</th>
                  <th>Caller</th>
                  <th>Published</th>
                  <th>State</th>
                </tr>
              </thead>
              <tbody>
                {d.calls.map((c) => (
                  <tr key={c.msgId} data-testid="search-call" data-msg-id={c.msgId} data-transport={c.transport ?? ''}>
                    <td className="mono">
                      <Link href={`/calls/${encodeURIComponent(c.msgId)}`}>{c.method}</Link>
                    </td>
                    {showTransport && <td className="transport-tag">{c.transport ?? ''}</td>}
                    <td className="mono">
                      {c.target.exchange}:{c.target.routingKey}
                    </td>
                    <td>{callerLabel(c)}</td>
                    <td className="mono nowrap">{new Date(c.publishedAt).toISOString()}</td>
                    <td>
                      <StateBadge call={c} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      )}
      {d.messages.length > 0 && (
        <Card title={`Messages (${d.messages.length})`} testId="search-messages">
          <ul className="plain-list">
            {d.messages.map((m) => (
              <li key={m.id} data-testid="search-message" data-transport={m.transport ?? ''}>
                {showTransport && m.transport ? <span className="badge transport-tag">{m.transport}</span> : null} <KindBadge kind={m.kind} /> <Link href={`/messages/${encodeURIComponent(m.id)}`}>{clockTime(m.ts)}</Link>{' '}
                <span className="mono small">{m.method ?? m.eventType ?? m.routingKey}</span> <span className="muted small">{m.msgId ?? m.requestId ?? ''}</span>
              </li>
            ))}
          </ul>
        </Card>
      )}
    </>
  );
}
