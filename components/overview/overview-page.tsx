'use client';
import Link from 'next/link';
import { useEffect, useMemo, useState } from 'react';
import { isStale, kindRows, rateRows, recentRate, formatDuration, callAgeMs } from '@/lib/series';
import { repliesUnobservable, tapNotConnected } from '@/lib/tap-view';
import type { RateDimension } from '@/lib/tap-contracts';
import { useStatus } from '../hooks/use-status';
import { useRates } from '../hooks/use-rates';
import { useNow } from '../hooks/use-now';
import { useRealtime } from '../realtime-provider';
import { Card, Empty, Stat } from '../ui/card';
import { Badge } from '../ui/badge';
import { rate } from '../ui/format';
import { methodHref, pingHref } from '../ui/links';
import { RateChart } from './rate-chart';
import { TapVisibility } from './tap-visibility';
import { FleetHealthCard } from './fleet-health';

const WINDOWS = [
  { label: '1 min', ms: 60_000 },
  { label: '5 min', ms: 300_000 },
  { label: '15 min', ms: 900_000 },
  { label: '1 h', ms: 3_600_000 },
];

/** `value`, once it has not changed for `ms`. */
function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function OverviewPage() {
  const status = useStatus();
  const { connection } = useRealtime();
  const now = useNow(500);
  const [dimension, setDimension] = useState<RateDimension>('topic');
  const [windowMs, setWindowMs] = useState(60_000);
  const [focus, setFocus] = useState('');
  const focusApplied = useDebounced(focus.trim(), 250);
  const rates = useRates(dimension, focusApplied, windowMs);
  const s = status.data;
  const stale = now > 0 && (connection.state !== 'connected' || isStale(status.dataUpdatedAt || null, now, 3500));
  // the server's clock: snapshots carry `at`; shift our clock by the offset seen at receipt
  const serverNow = s && status.dataUpdatedAt ? now + (s.at - status.dataUpdatedAt) : now;

  const r = rates.data;
  const chartStale = now > 0 && (connection.state !== 'connected' || isStale(rates.dataUpdatedAt || null, now, windowMs > 60_000 ? 6000 : 3500));
  const chart = useMemo(() => rateRows(r, { dimension, nowMs: serverNow, windowMs, top: 6 }), [r, dimension, serverNow, windowMs]);
  const kinds = useMemo(() => kindRows(r, serverNow, windowMs), [r, serverNow, windowMs]);
  const kindKeys = r ? Object.keys(r.byKind).filter((k) => (r.totalsByKind[k as keyof typeof r.totalsByKind] ?? 0) > 0) : [];
  const total = recentRate(s?.rates, serverNow, 10);
  const pool = s?.pool;
  const rw = s?.replyWaiter;
  const inflight = s?.oldestInflight ?? [];
  // bindings mode: replies are invisible, so a call is only known to be sent; say that, without alarm
  // (a tap that has not reached its broker is not in bindings mode: the banner says why it sees nothing)
  const blind = repliesUnobservable(s?.tap);
  const waiting = tapNotConnected(s?.tap);

  if (status.isError && !s) {
    return <Empty>Cannot load the status: {(status.error as Error).message}</Empty>;
  }

  return (
    <div className="page overview" data-testid="overview-page">
      <div className="stats-row">
        <Stat label="Messages / s" value={<span data-testid="total-rate">{s?.rates ? rate(total) : '—'}</span>} sub="last 10 s, all kinds" />
        <Stat
          label={blind ? 'Calls sent' : 'Calls in flight'}
          testId="inflight-stat"
          value={<span data-testid="inflight-count">{s ? s.calls.inflight : '—'}</span>}
          sub={blind ? <span data-testid="inflight-blind">sent, reply not observable</span> : <Link href="/calls">see Calls</Link>}
        />
        <Stat
          label="Stuck calls"
          tone={s && s.calls.stuck > 0 && !blind ? 'bad' : undefined}
          value={<span data-testid="stuck-count">{s ? s.calls.stuck : '—'}</span>}
          sub={blind ? 'undecidable without replies (firehose)' : 'no final reply after their timeout'}
        />
        <Stat
          label="osloscope send pool"
          tone={pool && pool.waiters > 0 ? 'warn' : undefined}
          value={<span data-testid="pool-usage">{pool ? `${pool.inUse} / ${pool.max}` : '—'}</span>}
          sub={pool ? `in use · ${pool.idle} idle · ${pool.waiters} waiting` : ''}
        />
        <Stat
          label="Reply waiters"
          value={<span data-testid="reply-waiters">{rw ? rw.pending : 0}</span>}
          sub={rw ? `${rw.replies} replies · ${rw.timeouts} timeouts · ${rw.late} late` : 'no call fired yet'}
        />
        <Stat
          label="Tap"
          tone={s?.tap ? (s.tap.canSeeReplies ? 'ok' : 'warn') : 'muted'}
          value={<span data-testid="tap-mode">{s?.tap ? s.tap.mode : s ? 'off' : '—'}</span>}
          sub={<span data-testid="tap-sub">{s?.tap ? (s.tap.canSeeReplies ? 'sees requests and replies' : waiting ? `not tapping yet (${s.tap.state}): no broker` : 'cannot see replies') : ''}</span>}
        />
      </div>

      <FleetHealthCard serverNow={serverNow} />

      <div className="grid-main">
        <Card
          title="Traffic rate"
          stale={chartStale}
          testId="rate-card"
          actions={
            <>
              <select value={dimension} onChange={(e) => setDimension(e.target.value as RateDimension)} data-testid="rate-dimension" aria-label="Group by">
                <option value="topic">per topic</option>
                <option value="exchange">per exchange</option>
                <option value="server">per server</option>
                <option value="method">per method</option>
              </select>
              <select value={windowMs} onChange={(e) => setWindowMs(Number(e.target.value))} aria-label="Window">
                {WINDOWS.map((w) => (
                  <option key={w.ms} value={w.ms}>
                    {w.label}
                  </option>
                ))}
              </select>
              <input className="input-small" placeholder="only keys containing…" value={focus} onChange={(e) => setFocus(e.target.value)} data-testid="rate-focus" aria-label="Only series containing" />
            </>
          }
        >
          {chartStale && <StaleNote updatedAt={rates.dataUpdatedAt} now={now} />}
          {chart.keys.length === 0 ? (
            <div className="chart-empty" data-testid="rate-chart" data-keys="" data-updated-at={rates.dataUpdatedAt}>
              {s && !s.tap ? 'The tap is off (TAP_MODE=off): no traffic is observed.' : focusApplied ? `No ${dimension} containing “${focusApplied}” in this window.` : 'No traffic in this window yet.'}
            </div>
          ) : (
            <RateChart rows={chart.rows} keys={chart.keys} testId="rate-chart" updatedAt={rates.dataUpdatedAt} />
          )}
        </Card>

        <Card title="By kind" stale={chartStale} testId="kind-card">
          {kindKeys.length === 0 ? <Empty>Nothing yet.</Empty> : <RateChart rows={kinds} keys={kindKeys} height={200} testId="kind-chart" />}
          {r && (
            <table className="table compact">
              <tbody>
                {kindKeys.map((k) => (
                  <tr key={k}>
                    <td>{k}</td>
                    <td className="num">{r.totalsByKind[k as keyof typeof r.totalsByKind]}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
      </div>

      <div className="grid-3">
        <Card title="Top methods" stale={stale} testId="top-methods">
          {!s?.rates || s.rates.topMethods.length === 0 ? (
            <Empty>No RPC methods seen yet.</Empty>
          ) : (
            <div className="table-wide" tabIndex={0} role="region" aria-label="Top methods">
              <table className="table compact sticky-first fit" data-testid="top-methods-table">
                <colgroup>
                  <col />
                  <col className="c-topic" />
                  <col className="c-count" />
                  <col className="c-count" />
                </colgroup>
                <thead>
                  <tr>
                    <th scope="col">Method</th>
                    <th scope="col">Topic</th>
                    <th scope="col" className="num">
                      Msgs
                    </th>
                    <th scope="col" className="num">
                      / s
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {s.rates.topMethods.slice(0, 10).map((m) => (
                    <tr key={m.key}>
                      <td className="mono ellipsis" title={m.method}>
                        <Link href={methodHref(m.topic, m.method)} data-testid="top-method-link">
                          {m.method}
                        </Link>
                      </td>
                      <td className="ellipsis" title={m.topic ?? undefined}>
                        {m.topic ?? '—'}
                      </td>
                      <td className="num">{m.count}</td>
                      <td className="num">{rate(m.perSecond)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>

        <Card
          title={blind ? 'Calls sent (reply not observable)' : 'Calls in flight'}
          stale={stale}
          testId="overview-inflight"
          actions={<Link href="/calls">all calls →</Link>}
        >
          {inflight.length === 0 ? (
            <Empty>{blind ? 'No call sent recently.' : 'No call is waiting for its reply.'}</Empty>
          ) : (
            <div className="table-wide" tabIndex={0} role="region" aria-label={blind ? 'Calls sent' : 'Calls in flight'}>
            <table className="table compact sticky-first fit" data-testid="overview-inflight-table">
              <colgroup>
                <col />
                <col className="c-share" />
                <col className="c-age" />
              </colgroup>
              <thead>
                <tr>
                  <th scope="col">Method</th>
                  <th scope="col">Target</th>
                  <th scope="col" className="num">
                    {blind ? 'Sent' : 'Age'}
                  </th>
                </tr>
              </thead>
              <tbody>
                {[...inflight]
                  .sort((a, b) => a.publishedAt - b.publishedAt)
                  .slice(0, 8)
                  .map((c) => (
                    <tr key={c.msgId}>
                      <td className="mono ellipsis" title={c.method}>
                        {c.method}
                      </td>
                      <td className="ellipsis" title={c.target.routingKey}>
                        {c.target.topic && c.target.server ? (
                          <Link href={pingHref(c.target.topic, c.target.server, c.target.exchange)} title={`Ping ${c.target.server} from the Console`} data-testid="inflight-ping-link">
                            {c.target.routingKey}
                          </Link>
                        ) : (
                          c.target.routingKey
                        )}
                      </td>
                      <td className="num">{blind ? `${formatDuration(callAgeMs(c, serverNow))} ago` : formatDuration(callAgeMs(c, serverNow))}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
            </div>
          )}
        </Card>

        <TapVisibility tap={s?.tap ?? null} stale={stale} />
      </div>

      <Card title="osloscope's own connections" stale={stale} testId="pool-card">
        {pool ? (
          <div className="pool">
            <PoolBar inUse={pool.inUse} idle={pool.idle} max={pool.max} />
            <div className="pool-legend">
              <span>
                <Badge tone="accent">{pool.inUse}</Badge> in use
              </span>
              <span>
                <Badge tone="muted">{pool.idle}</Badge> idle
              </span>
              <span>
                <Badge tone={pool.waiters > 0 ? 'warn' : 'muted'}>{pool.waiters}</Badge> callers waiting for a connection
              </span>
              <span>rpc_conn_pool_size {pool.max}</span>
              <span>
                {pool.totalCreated} created · {pool.totalExpired} expired · {pool.totalDiscarded} discarded
              </span>
              {rw && (
                <span>
                  reply queue <code>{rw.replyQueue}</code>: {rw.pending} pending
                </span>
              )}
            </div>
          </div>
        ) : (
          <Empty>Loading…</Empty>
        )}
      </Card>
    </div>
  );
}

export function StaleNote({ updatedAt, now }: { updatedAt: number; now: number }) {
  const age = updatedAt ? Math.round((now - updatedAt) / 1000) : null;
  return (
    <div className="stale-note" data-testid="stale-note">
      Stale — {age === null ? 'no update received yet' : `last update ${age} s ago`}
    </div>
  );
}

function PoolBar({ inUse, idle, max }: { inUse: number; idle: number; max: number }) {
  const pct = (n: number) => `${Math.min(100, (n / Math.max(1, max)) * 100)}%`;
  return (
    <div className="poolbar" title={`${inUse} in use, ${idle} idle of ${max}`}>
      <div className="poolbar-use" style={{ width: pct(inUse) }} />
      <div className="poolbar-idle" style={{ width: pct(idle) }} />
    </div>
  );
}
