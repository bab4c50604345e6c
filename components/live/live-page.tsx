'use client';
import { withBase } from '../api-client';
import { useCallback, useMemo, useState } from 'react';
import type { DecodedMessage } from '@/lib/tap-contracts';
import { isStale } from '@/lib/series';
import { useLiveMessages, LIVE_KEEP } from '../hooks/use-live-messages';
import { useSession } from '../hooks/use-session';
import { useNow } from '../hooks/use-now';
import { useRealtime } from '../realtime-provider';
import { useStatus } from '../hooks/use-status';
import { Card, Empty } from '../ui/card';
import { KindBadge } from '../ui/badge';
import { bytes, clockTime } from '../ui/format';
import { EMPTY_FILTER, FilterBar, toQuery, type FilterFields } from './filter-bar';
import { FanoutHistoryPanel } from './fanout-history';
import { MessageDrawer } from './message-drawer';

export function LivePage() {
  const [fields, setFields] = useState<FilterFields>(EMPTY_FILTER);
  const [paused, setPaused] = useState(false);
  const [selected, setSelected] = useState<DecodedMessage | null>(null);
  const [view, setView] = useState<'live' | 'history'>('live');
  const query = toQuery(fields);
  const live = useLiveMessages(query, paused);
  const session = useSession();
  const status = useStatus();
  const { connection } = useRealtime();
  const now = useNow(1000);
  const stale = now > 0 && (connection.state !== 'connected' || isStale(status.dataUpdatedAt || null, now, 3500));
  // the open drawer stays: the message it shows does not change with the filter
  const onFilter = useCallback((f: FilterFields) => setFields(f), []);
  // a plain link (the browser downloads it): the base path is ours to add (BASE_PATH)
  const exportHref = useMemo(() => withBase(`/api/messages?format=ndjson&limit=10000${query ? `&filter=${encodeURIComponent(query)}` : ''}`), [query]);
  const tap = status.data?.tap;

  return (
    <div className={`page live${selected ? ' with-drawer' : ''}`} data-testid="live-page">
      <div className="segmented" role="radiogroup" aria-label="View">
        <label className={view === 'live' ? 'active' : ''} data-testid="view-live">
          <input type="radio" name="live-view" checked={view === 'live'} onChange={() => setView('live')} />
          Live stream
        </label>
        <label className={view === 'history' ? 'active' : ''} data-testid="view-history">
          <input type="radio" name="live-view" checked={view === 'history'} onChange={() => setView('history')} />
          Fanout history
        </label>
        <span className="muted small">{view === 'history' ? 'broadcasts kept in <topic>_fanout streams, from before osloscope started' : ''}</span>
      </div>
      {view === 'history' && (
        <Card title="Fanout history">
          <FanoutHistoryPanel onSelect={setSelected} selectedId={selected?.id ?? null} />
        </Card>
      )}
      {view === 'live' && (
        <Card
          title="Live stream"
          stale={stale}
          actions={
            <>
              <span className="muted small" data-testid="live-count">
                {live.messages.length} shown{live.messages.length >= LIVE_KEEP ? ` (newest ${LIVE_KEEP})` : ''}
              </span>
              {paused ? (
                <button
                  type="button"
                  className="btn btn-primary btn-small"
                  data-testid="resume"
                  onClick={() => {
                    live.resume();
                    setPaused(false);
                  }}
                >
                  Resume{live.heldCount > 0 ? ` (${live.heldCount} new)` : ''}
                </button>
              ) : (
                <button type="button" className="btn btn-small" data-testid="pause" onClick={() => setPaused(true)}>
                  Pause
                </button>
              )}
              <a className="btn btn-small" href={exportHref} download="osloscope-messages.ndjson" data-testid="export-ndjson">
                Export NDJSON
              </a>
            </>
          }
        >
          <FilterBar value={fields} onChange={onFilter} error={live.error?.message ?? null} />
          {tap && !tap.canSeeReplies && <div className="note">Bindings mode: replies are not visible in this stream (see Overview for how to turn on the firehose).</div>}
          {!tap && status.data && <div className="note">The tap is off (TAP_MODE=off): nothing is observed.</div>}
          {live.skipped > 0 && (
            <div className="note" data-testid="live-skipped">
              {live.skipped} matching messages arrived too fast to stream and were left out; narrow the filter to see them all (the export has everything the tap kept).
            </div>
          )}
          {live.messages.length === 0 ? (
            <Empty>{query ? 'No message matches this filter yet.' : 'Waiting for traffic…'}</Empty>
          ) : (
            <div className="table-scroll">
              <table className="table messages" data-testid="message-table">
                <colgroup>
                  <col className="c-time" />
                  <col className="c-kind" />
                  <col className="c-exchange" />
                  <col />
                  <col className="c-server" />
                  <col />
                  {!selected && <col className="c-req" />}
                  {!selected && <col className="c-size" />}
                </colgroup>
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Kind</th>
                    <th>Exchange</th>
                    <th>Topic / routing key</th>
                    <th>Server</th>
                    <th>Method / event</th>
                    {!selected && <th>request_id</th>}
                    {!selected && <th className="num">Size</th>}
                  </tr>
                </thead>
                <tbody>
                  {live.messages.map((m) => (
                    <tr
                      key={m.id}
                      className={`${selected?.id === m.id ? 'selected' : ''}${m.error ? ' row-bad' : ''}${m.failure ? ' row-warn' : ''}`}
                      onClick={() => setSelected(m)}
                      data-testid="message-row"
                      data-kind={m.kind}
                      data-method={m.method ?? ''}
                      data-topic={m.topic ?? ''}
                    >
                      <td className="mono nowrap">{clockTime(m.ts)}</td>
                      <td>
                        <KindBadge kind={m.kind} />
                      </td>
                      <td className="ellipsis">{m.exchange || <span className="muted">(default)</span>}</td>
                      <td className="ellipsis mono">{m.routingKey || (m.topic ? `${m.topic} (fanout)` : '')}</td>
                      <td className="ellipsis">{m.server ?? ''}</td>
                      <td className="ellipsis mono">
                        {m.method ?? m.eventType ?? (m.kind === 'reply' ? (m.failure ? `✗ ${m.failure.class}` : 'result') : '')}
                      </td>
                      {!selected && <td className="ellipsis mono small">{m.requestId ?? ''}</td>}
                      {!selected && (
                        <td className="num" title={m.truncatedBytes !== undefined ? `truncated, ${m.truncatedBytes} bytes` : undefined}>
                          {bytes(m.bytes)}
                          {m.truncatedBytes !== undefined ? ' ✂' : ''}
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      )}
      {selected && <MessageDrawer message={selected} onClose={() => setSelected(null)} canFire={session.data?.canFire ?? false} />}
    </div>
  );
}
