'use client';
import { useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { queryKeys } from '@/lib/query-keys';
import { FANOUT_HISTORY_MAX_LIMIT, parseStreamStart, type DecodedMessage, type FanoutHistory, type FanoutHistoryEntry } from '@/lib/tap-contracts';
import { ApiRequestError, apiGet } from '../api-client';
import { useBroker } from '../hooks/use-broker';
import { Empty } from '../ui/card';
import { bytes, shortTime } from '../ui/format';
import { useFleet } from '../hooks/use-transport';

const PRESETS = [
  { value: '5m', label: '5 min' },
  { value: '15m', label: '15 min' },
  { value: '30m', label: '30 min' },
  { value: '1h', label: '1 h' },
  { value: 'first', label: 'all kept' },
] as const;

interface Request {
  topic: string;
  since: string;
  limit: number;
  filter: string;
  run: number;
}

/** "07:41:20" (broker timestamp), "≈ 07:41:20" (probed to a few seconds), "07:41:20–07:43:50", or "before 07:43:50". */
export function entryTime(e: FanoutHistoryEntry): string {
  if (e.publishedAt !== null) return shortTime(e.publishedAt);
  if (e.after !== null && e.before !== null) {
    return e.before - e.after <= 5000 ? `≈ ${shortTime(Math.round((e.after + e.before) / 2))}` : `${shortTime(e.after)}–${shortTime(e.before)}`;
  }
  if (e.before !== null) return `before ${shortTime(e.before)}`;
  return '—';
}

function argsPreview(m: DecodedMessage): string {
  try {
    const text = JSON.stringify(m.args ?? m.payload ?? null);
    return text.length > 120 ? `${text.slice(0, 117)}…` : text;
  } catch {
    return '';
  }
}

/**
 * Broadcasts before osloscope started: a `<topic>_fanout` stream (kolla's
 * rabbit_stream_fanout) read back from a chosen point, through
 * GET /api/fanout-history. Rows open in the Live page's drawer.
 */
export function FanoutHistoryPanel({ onSelect, selectedId }: { onSelect: (m: DecodedMessage) => void; selectedId: string | null }) {
  const broker = useBroker(15_000);
  const streamTopics = useMemo(
    () =>
      (broker.data?.view?.queues ?? [])
        .filter((q) => q.kind === 'fanout' && q.queueType === 'stream' && q.topic)
        .map((q) => q.topic as string)
        .sort(),
    [broker.data],
  );
  const [topic, setTopic] = useState('');
  const [since, setSince] = useState('30m');
  const [custom, setCustom] = useState('');
  const [limit, setLimit] = useState(500);
  const [filter, setFilter] = useState('');
  const [request, setRequest] = useState<Request | null>(null);
  const chosenTopic = topic || streamTopics[0] || '';
  const effectiveSince = since === 'custom' ? custom.trim() : since;
  const sinceError = since === 'custom' && effectiveSince ? (() => {
    const r = parseStreamStart(effectiveSince);
    return r instanceof Error ? r.message : null;
  })() : null;

  // a stream lives on one broker: with several transports, the chosen one's
  const fleet = useFleet();
  const needsTransport = fleet.several && !fleet.choice;
  const history = useQuery({
    queryKey: [...(request ? queryKeys.fanoutHistory(request.topic, request.since, request.limit, request.filter, request.run) : queryKeys.fanoutHistory('', '', 0, '', 0)), fleet.choice ?? 'all'],
    queryFn: () => {
      const r = request as Request;
      const qs = new URLSearchParams({ topic: r.topic, since: r.since, limit: String(r.limit) });
      if (fleet.choice) qs.set('transport', fleet.choice);
      if (r.filter.trim()) qs.set('filter', r.filter.trim());
      return apiGet<FanoutHistory>(`/api/fanout-history?${qs.toString()}`);
    },
    enabled: request !== null && !needsTransport,
    staleTime: Infinity,
    retry: false,
  });

  const load = () => {
    if (!chosenTopic || !effectiveSince || sinceError || needsTransport) return;
    setRequest({ topic: chosenTopic, since: effectiveSince, limit, filter, run: (request?.run ?? 0) + 1 });
  };
  const error = history.error instanceof ApiRequestError ? history.error.error.message : history.error ? String(history.error) : null;
  const data = history.data;

  return (
    <div data-testid="fanout-history">
      {needsTransport && (
        <p className="note" data-testid="history-needs-transport">
          A fanout stream lives on one broker: choose a transport in the header to read its history.
        </p>
      )}
      <p className="muted small">
        With <span className="mono">rabbit_stream_fanout</span> (kolla 2025.1 and later) every broadcast of a topic is kept in one
        stream, <span className="mono">&lt;topic&gt;_fanout</span>, for its <span className="mono">x-max-age</span> (30 minutes by default).
        osloscope reads it back without taking anything from the services, so you can see the fanouts sent before it started.
      </p>
      <form
        className="filter-bar"
        onSubmit={(e) => {
          e.preventDefault();
          load();
        }}
      >
        <label className="filter-field">
          <span>topic</span>
          <input
            list="fanout-history-topics"
            value={topic}
            placeholder={streamTopics[0] ?? 'compute'}
            data-testid="history-topic"
            onChange={(e) => setTopic(e.target.value.trim())}
          />
          <datalist id="fanout-history-topics">
            {streamTopics.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label className="filter-field">
          <span>since</span>
          <select value={since} data-testid="history-since" onChange={(e) => setSince(e.target.value)}>
            {PRESETS.map((p) => (
              <option key={p.value} value={p.value}>
                {p.value === 'first' ? p.label : `last ${p.label}`}
              </option>
            ))}
            <option value="custom">offset / time…</option>
          </select>
        </label>
        {since === 'custom' && (
          <label className="filter-field">
            <span>offset, time or interval</span>
            <input value={custom} placeholder="2026-11-30T07:00:00Z, 1234, 2h" data-testid="history-since-custom" onChange={(e) => setCustom(e.target.value)} />
          </label>
        )}
        <label className="filter-field">
          <span>at most</span>
          <input
            type="number"
            min={1}
            max={FANOUT_HISTORY_MAX_LIMIT}
            value={limit}
            data-testid="history-limit"
            onChange={(e) => setLimit(Math.max(1, Math.min(FANOUT_HISTORY_MAX_LIMIT, Number(e.target.value) || 1)))}
          />
        </label>
        <label className="filter-field grow">
          <span>filter</span>
          <input value={filter} placeholder="method:refresh_* request_id:req-…" data-testid="history-filter" onChange={(e) => setFilter(e.target.value)} />
        </label>
        <button type="submit" className="btn btn-primary btn-small" disabled={!chosenTopic || !effectiveSince || sinceError !== null || needsTransport || history.isFetching} data-testid="history-load">
          {history.isFetching ? 'Reading…' : 'Read the stream'}
        </button>
      </form>
      {sinceError && <div className="callout callout-bad">{sinceError}</div>}
      {!chosenTopic && broker.data && (
        <div className="note" data-testid="history-no-streams">
          No <span className="mono">&lt;topic&gt;_fanout</span> stream on this vhost: its services do not use rabbit_stream_fanout, so broadcasts
          are not kept. Type a topic to check one anyway.
        </div>
      )}
      {error && (
        <div className="callout callout-warn" data-testid="history-error">
          {error}
        </div>
      )}
      {data && (
        <>
          <div className="muted small" data-testid="history-summary">
            {data.entries.length} broadcast{data.entries.length === 1 ? '' : 's'} of <span className="mono">{data.topic}</span>
            {data.read !== data.entries.length ? ` (${data.read} read, the filter kept ${data.entries.length})` : ''} from{' '}
            <span className="mono">{data.queue}</span>
            {data.firstOffset !== null ? `, offsets ${data.firstOffset}–${data.lastOffset}` : ''}, {bytes(data.bytes)}
            {data.retention ? `; the stream keeps ${data.retention}` : ''}; read in {data.finishedAt - data.startedAt} ms.
            {data.entries.some((e) => e.publishedAt === null) && ' A stream keeps offsets, not publish times: times were found by probing it by timestamp (≈ a few seconds).'}
          </div>
          {data.note && (
            <div className="note" data-testid="history-note">
              {data.note}
            </div>
          )}
          {data.entries.length === 0 ? (
            <Empty>No broadcast in this window.</Empty>
          ) : (
            <div className="table-scroll">
              <table className="table messages" data-testid="history-table">
                <colgroup>
                  <col style={{ width: '150px' }} />
                  <col style={{ width: '70px' }} />
                  <col style={{ width: '22%' }} />
                  <col />
                  <col style={{ width: '18%' }} />
                  <col style={{ width: '70px' }} />
                </colgroup>
                <thead>
                  <tr>
                    <th>Published</th>
                    <th className="num">Offset</th>
                    <th>Method</th>
                    <th>Arguments</th>
                    <th>request_id</th>
                    <th className="num">Size</th>
                  </tr>
                </thead>
                <tbody>
                  {[...data.entries].reverse().map((e) => (
                    <tr
                      key={e.message.id}
                      className={`${selectedId === e.message.id ? 'selected' : ''}${e.message.error ? ' row-bad' : ''}`}
                      onClick={() => onSelect(e.message)}
                      data-testid="history-row"
                      data-method={e.message.method ?? ''}
                    >
                      <td
                        className="mono nowrap"
                        title={
                          e.publishedAt !== null
                            ? 'broker timestamp (timestamp_in_ms)'
                            : e.after !== null && e.before !== null
                              ? `published between ${new Date(e.after).toISOString()} and ${new Date(e.before).toISOString()} (found by probing the stream by time)`
                              : 'found by probing the stream by time'
                        }
                      >
                        {entryTime(e)}
                      </td>
                      <td className="num mono">{e.offset ?? '—'}</td>
                      <td className="ellipsis mono">{e.message.method ?? e.message.kind}</td>
                      <td className="ellipsis mono small">{argsPreview(e.message)}</td>
                      <td className="ellipsis mono small">{e.message.requestId ?? ''}</td>
                      <td className="num">{bytes(e.message.bytes)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </div>
  );
}
