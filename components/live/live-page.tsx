'use client';
import { withBase } from '../api-client';
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { usePathname, useRouter, useSearchParams } from 'next/navigation';
import type { DecodedMessage } from '@/lib/tap-contracts';
import { isStale } from '@/lib/series';
import { useLiveMessages, LIVE_KEEP } from '../hooks/use-live-messages';
import { useSession } from '../hooks/use-session';
import { useNow } from '../hooks/use-now';
import { useRealtime } from '../realtime-provider';
import { useStatus } from '../hooks/use-status';
import { repliesUnobservable } from '@/lib/tap-view';
import { Card, Empty } from '../ui/card';
import { FilterBar, filterFromParams, filterHints, filterToParams, toQuery, type FilterFields } from './filter-bar';
import { useKnownTargets } from '../hooks/use-targets';
import { useMessage } from '../search/history-hooks';
import { FanoutHistoryPanel } from './fanout-history';
import { MessageDrawer } from './message-drawer';
import { LiveRows } from './live-rows';
import { useFleet, withTransport } from '../hooks/use-transport';

const LiveFilterBar = memo(FilterBar);
/** how long after the last scroll event the table counts as still */
const SCROLL_IDLE_MS = 400;

/**
 * The live stream. Its filter, the open message (`m`) and the view live in
 * the URL: a reload or a pasted link shows the same thing.
 */
export function LivePage() {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const paramText = params.toString();
  const fields = useMemo(() => filterFromParams(new URLSearchParams(paramText)), [paramText]);
  const selectedId = params.get('m');
  const view: 'live' | 'history' = params.get('view') === 'history' ? 'history' : 'live';
  const [paused, setPaused] = useState(false);
  // the message last opened from a row: the drawer keeps showing it after it scrolls out of the list
  const [opened, setOpened] = useState<DecodedMessage | null>(null);
  const query = toQuery(fields);
  // while the table is being scrolled, pushes wait aside as when paused and are merged in once the
  // scrolling stops: the rows under the pointer do not move, and frames go to the scrolling
  const [scrolling, setScrolling] = useState(false);
  const scrollIdle = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onScroll = useCallback(() => {
    if (scrollIdle.current === null) setScrolling(true);
    else clearTimeout(scrollIdle.current);
    scrollIdle.current = setTimeout(() => {
      scrollIdle.current = null;
      setScrolling(false);
    }, SCROLL_IDLE_MS);
  }, []);
  useEffect(() => () => void (scrollIdle.current !== null && clearTimeout(scrollIdle.current)), []);
  const live = useLiveMessages(query, paused || scrolling);
  const { resume } = live;
  useEffect(() => {
    if (!scrolling && !paused) resume();
    // only when a scroll ends: the Resume button merges what Pause held
  }, [scrolling]);
  const inList = selectedId ? (live.messages.find((m) => m.id === selectedId) ?? (opened?.id === selectedId ? opened : null)) : null;
  // a reloaded or pasted link: read the message back from the store / the tap's memory; a tap id
  // (`12`, reused after a restart) is also looked up to put the stored id (`<run>.12`) in the URL
  const tapId = selectedId !== null && /^\d+$/.test(selectedId);
  const fetched = useMessage(selectedId && (!inList || tapId) ? selectedId : null);
  const selected = inList ?? (selectedId ? (fetched.data ?? null) : null);
  const session = useSession();
  const status = useStatus();
  const { connection } = useRealtime();
  const now = useNow(1000);
  const stale = now > 0 && (connection.state !== 'connected' || isStale(status.dataUpdatedAt || null, now, 3500));
  const fleet = useFleet();
  // the whole fleet of several: each row says which transport it came from
  const showTransport = fleet.several && !fleet.choice;
  // the filter's examples name this transport's traffic (the tap's recent targets, polled on their own timer)
  const known = useKnownTargets();
  const freshHints = useMemo(() => filterHints(known, live.messages), [known, live.messages]);
  // the same hints as an unchanged object: the (memoised) filter bar does not re-render with every push
  const hintsKey = JSON.stringify(freshHints);
  const hints = useMemo(() => freshHints, [hintsKey]);

  const go = useCallback(
    (next: URLSearchParams, push: boolean) => {
      const qs = next.toString();
      const url = `${pathname}${qs ? `?${qs}` : ''}`;
      if (push) router.push(url, { scroll: false });
      else router.replace(url, { scroll: false });
    },
    [pathname, router],
  );
  // the open drawer stays: the message it shows does not change with the filter
  const onFilter = useCallback((f: FilterFields) => go(filterToParams(f, new URLSearchParams(paramText)), false), [go, paramText]);
  const open = useCallback(
    (m: DecodedMessage) => {
      setOpened(m);
      const next = new URLSearchParams(paramText);
      next.set('m', m.id);
      go(next, true);
    },
    [go, paramText],
  );
  const close = useCallback(() => {
    const next = new URLSearchParams(paramText);
    next.delete('m');
    go(next, false);
  }, [go, paramText]);
  const setView = (v: 'live' | 'history') => {
    const next = new URLSearchParams(paramText);
    if (v === 'history') next.set('view', 'history');
    else next.delete('view');
    go(next, false);
  };
  const storedId = tapId && fetched.data && fetched.data.id !== selectedId ? fetched.data.id : null;
  useEffect(() => {
    if (!storedId) return;
    const next = new URLSearchParams(paramText);
    next.set('m', storedId);
    // the browser's own replaceState (Next syncs its search params with it): unlike router.replace it
    // cannot overrun a navigation that has just started, such as a replay into the Console
    window.history.replaceState(window.history.state, '', withBase(`${pathname}?${next.toString()}`));
  }, [storedId, paramText, pathname]);
  const tableRef = useRef<HTMLTableSectionElement>(null);
  useEffect(() => {
    if (!selectedId) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      close();
      // back to the row that was open, for the next arrow key
      const row = tableRef.current?.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(selectedId)}"]`);
      row?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [selectedId, close]);
  // a plain link (the browser downloads it): the base path is ours to add (BASE_PATH)
  const exportHref = useMemo(() => withBase(withTransport(`/api/messages?format=ndjson&limit=10000${query ? `&filter=${encodeURIComponent(query)}` : ''}`, fleet.choice)), [query, fleet.choice]);
  const tap = status.data?.tap;

  return (
    <div className={`page live${selectedId ? ' with-drawer' : ''}`} data-testid="live-page">
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
          <FanoutHistoryPanel onSelect={open} selectedId={selectedId} />
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
          <LiveFilterBar value={fields} onChange={onFilter} error={live.error?.message ?? null} hints={hints} />
          {repliesUnobservable(tap) && (
            <div className="note" data-testid="live-bindings-note">
              Bindings mode: calls and casts are seen as they are sent; replies are not observable here (the firehose shows them, see Overview).
            </div>
          )}
          {!tap && status.data && <div className="note">The tap is off (TAP_MODE=off): nothing is observed.</div>}
          {live.skipped > 0 && (
            <div className="note" data-testid="live-skipped">
              {live.skipped} matching messages arrived too fast to stream and were left out; narrow the filter to see them all (the export has everything the tap kept).
            </div>
          )}
          {live.messages.length === 0 ? (
            <Empty>{query ? 'No message matches this filter yet.' : 'Waiting for traffic…'}</Empty>
          ) : (
            <div className="table-scroll live-scroll" tabIndex={0} role="region" aria-label="Live messages" onScroll={onScroll}>
              <table className="table messages sticky-first" data-testid="message-table">
                <colgroup>
                  <col className="c-time" />
                  {showTransport && <col className="c-kind" />}
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
                    {showTransport && <th>Transport</th>}
                    <th>Kind</th>
                    <th>Exchange</th>
                    <th>Topic / routing key</th>
                    <th>Server</th>
                    <th>Method / event</th>
                    {!selected && <th>request_id</th>}
                    {!selected && <th className="num">Size</th>}
                  </tr>
                </thead>
                <LiveRows messages={live.messages} selectedId={selectedId} showTransport={showTransport} narrow={!!selected} onOpen={open} bodyRef={tableRef} />
              </table>
            </div>
          )}
        </Card>
      )}
      {selected && <MessageDrawer message={selected} onClose={close} canFire={session.data?.canFire ?? false} />}
      {selectedId && !selected && (
        <aside className="drawer" data-testid="message-drawer-missing" aria-label="Message detail">
          <header className="drawer-head">
            <span>Message {selectedId}</span>
            <button type="button" className="btn btn-small" onClick={close} data-testid="drawer-close" aria-label="Close (Esc)">
              ✕
            </button>
          </header>
          <div className="drawer-body">
            {fetched.isPending ? <p className="muted">Loading…</p> : <p className="callout callout-warn">Message {selectedId} is no longer kept (neither in memory nor in the history store).</p>}
          </div>
        </aside>
      )}
    </div>
  );
}
