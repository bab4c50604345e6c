'use client';
import { useMemo, useState } from 'react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { CallRecord } from '@/lib/tap-contracts';
import { callAgeMs, formatDuration, histogramRows, isStale, methodLatencies, timeoutFraction } from '@/lib/series';
import { useCalls } from '../hooks/use-calls';
import { useNow } from '../hooks/use-now';
import { useStatus } from '../hooks/use-status';
import { repliesUnobservable } from '@/lib/tap-view';
import { useRealtime } from '../realtime-provider';
import { Card, Empty } from '../ui/card';
import { Badge } from '../ui/badge';
import { CAUSE_LABELS } from '../ui/format';
import { StaleNote } from '../overview/overview-page';
import { rowKeys } from '../ui/drawer';
import { callerLabel } from './call-labels';
import { StuckGroupsCard } from './stuck-groups';
import { useFleet } from '../hooks/use-transport';

export function CallsPage() {
  const calls = useCalls();
  const now = useNow(500);
  const { connection } = useRealtime();
  const d = calls.data;
  const stale = now > 0 && (connection.state !== 'connected' || isStale(calls.dataUpdatedAt || null, now, 3500));
  const serverNow = d && calls.dataUpdatedAt ? now + (d.at - calls.dataUpdatedAt) : now;
  // bindings mode's words only for a tap in bindings mode: a tap that has not reached its broker is not (the banner says why)
  const status = useStatus();
  const bindings = repliesUnobservable(status.data?.tap);

  return (
    <div className="page calls" data-testid="calls-page">
      {bindings && (
        <div className="note" data-testid="calls-bindings-note">
          Bindings mode: osloscope sees requests but not replies, so a call it cannot follow is shown as &quot;sent, reply not observable&quot; — not a fault. Stuck causes are
          weaker (see each call&apos;s note); the firehose gives exact answers.
        </div>
      )}
      <StuckGroupsCard stuck={d?.stuck ?? null} stale={stale} staleNote={stale ? <StaleNote updatedAt={calls.dataUpdatedAt} now={now} /> : null} />
      <Card title={`${bindings ? 'Sent, reply not observable' : 'In flight'}${d ? ` (${d.inflight.length})` : ''}`} stale={stale} testId="inflight-calls">
        {!d ? (
          <Empty>Loading…</Empty>
        ) : d.inflight.length === 0 ? (
          <Empty>{bindings ? 'No call sent within its timeout.' : 'No call is waiting for its reply.'}</Empty>
        ) : (
          <CallTable calls={d.inflight} now={serverNow} bindings={bindings} />
        )}
      </Card>
      <div className="grid-2 calls-grid">
        <LatencyCard calls={calls.data ?? null} stale={stale} bindings={bindings} />
        <Card title="Recently finished" stale={stale} testId="done-calls">
          {!d || d.done.length === 0 ? (
            <Empty>No finished call yet{bindings ? ' (replies are not observable in bindings mode)' : ''}.</Empty>
          ) : (
            <CallTable calls={d.done.slice(0, 30)} now={serverNow} compact bindings={bindings} />
          )}
        </Card>
      </div>
    </div>
  );
}

/** Calls, newest first; a row opens the call's page (Enter or click), so the URL can be shared. */
function CallTable({ calls, now, compact, bindings }: { calls: CallRecord[]; now: number; compact?: boolean; bindings: boolean }) {
  const router = useRouter();
  const fleet = useFleet();
  // the whole fleet of several: each row says which transport the call was seen on
  const showTransport = fleet.several && !fleet.choice;
  const sorted = useMemo(() => [...calls].sort((a, b) => b.publishedAt - a.publishedAt), [calls]);
  const open = (c: CallRecord) => router.push(`/calls/${encodeURIComponent(c.msgId)}`);
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={compact ? 'Recently finished calls' : 'Calls in flight'}>
      <table className={`table calls-table sticky-first${compact ? ' compact-cells' : ''}`} data-testid={compact ? 'done-table' : 'inflight-table'}>
        <thead>
          <tr>
            <th>Method</th>
            {showTransport && <th>Transport</th>}
            <th>Target</th>
            <th>Caller</th>
            <th className="num">{compact ? 'Took' : 'Age'}</th>
            {!compact && <th>Timeout</th>}
            <th>{compact ? 'Outcome' : bindings ? 'Reply' : 'Heartbeats'}</th>
          </tr>
        </thead>
        <tbody onKeyDown={rowKeys((i) => open(sorted[i]))}>
          {sorted.map((c) => (
            <tr key={c.msgId} tabIndex={0} className="clickable" onClick={() => open(c)} data-testid="call-row" data-method={c.method} data-cause={c.cause ?? ''} data-msg-id={c.msgId} data-outcome={c.outcome ?? ''} data-transport={c.transport ?? ''}>
              <td className="mono">
                <Link href={`/calls/${encodeURIComponent(c.msgId)}`} tabIndex={-1} onClick={(e) => e.stopPropagation()}>
                  {c.method}
                </Link>
              </td>
              {showTransport && (
                <td className="transport-tag" data-testid="call-transport">
                  {c.transport ?? ''}
                </td>
              )}
              <td className="mono ellipsis" title={`exchange ${c.target.exchange}`}>
                {c.target.exchange}:{c.target.routingKey}
              </td>
              <td className="ellipsis" title={c.caller.connectionName ?? c.caller.replyQ ?? ''}>
                {callerLabel(c)}
              </td>
              <td className="num nowrap">{compact && c.latencyMs !== null ? formatDuration(c.latencyMs) : formatDuration(callAgeMs(c, now))}</td>
              {!compact && (
                <td>
                  <TimeoutBar fraction={timeoutFraction(c, now)} label={`${formatDuration(c.timeoutMs)}${c.timeoutSource === 'default' ? ' (assumed)' : ''}`} neutral={bindings} />
                </td>
              )}
              <td>
                {compact ? (
                  c.outcome === 'unobserved' ? (
                    <span className="muted small" data-testid="call-outcome">
                      sent, reply not observable
                    </span>
                  ) : (
                    <Badge tone={c.outcome === 'failure' ? 'bad' : c.outcome === 'result' ? 'ok' : 'muted'} testId="call-outcome">
                      {c.failure ? c.failure.class : c.cause ? (CAUSE_LABELS[c.cause] ?? c.cause) : (c.outcome ?? '—')}
                    </Badge>
                  )
                ) : bindings ? (
                  <span className="muted small">sent, reply not observable</span>
                ) : (
                  <span className="small" data-testid="call-heartbeats" title={c.callMonitorTimeout === null ? '' : `call_monitor_timeout ${c.callMonitorTimeout} s: the caller gives up after ${c.callMonitorTimeout} s without a heartbeat`}>
                    {c.callMonitorTimeout === null ? 'not requested' : `${c.heartbeats} received · monitor ${c.callMonitorTimeout} s`}
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** How much of its timeout a call has used; neutral (no alarm colour) when the reply cannot be observed. */
function TimeoutBar({ fraction, label, neutral }: { fraction: number; label: string; neutral?: boolean }) {
  const pct = Math.min(100, Math.max(0, fraction * 100));
  return (
    <div className="timeout-bar" title={`${Math.round(fraction * 100)} % of the timeout used`}>
      <div className={`timeout-fill${neutral ? ' neutral' : fraction >= 1 ? ' over' : fraction > 0.7 ? ' near' : ''}`} style={{ width: `${pct}%` }} />
      <span>{label}</span>
    </div>
  );
}

function LatencyCard({ calls, stale, bindings }: { calls: ReturnType<typeof useCalls>['data'] | null; stale: boolean; bindings: boolean }) {
  const [method, setMethod] = useState<string | null>(null);
  const h = calls?.histogram ?? null;
  const methods = useMemo(() => methodLatencies(h), [h]);
  const rows = useMemo(() => histogramRows(h, method), [h, method]);
  return (
    <Card
      title="Latency by method"
      stale={stale}
      testId="latency-card"
      actions={
        <select value={method ?? ''} onChange={(e) => setMethod(e.target.value || null)} aria-label="Method" data-testid="latency-method">
          <option value="">all methods</option>
          {methods.map((m) => (
            <option key={m.key} value={m.key}>
              {m.key}
            </option>
          ))}
        </select>
      }
    >
      {!h || methods.length === 0 ? (
        <Empty>{bindings ? 'Latencies need replies, which bindings mode cannot see.' : 'No completed call measured yet.'}</Empty>
      ) : (
        <>
          <div className="chart" data-testid="latency-histogram">
            <ResponsiveContainer width="100%" height={200}>
              <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
                <CartesianGrid stroke="var(--grid)" strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="bucket" stroke="var(--muted)" fontSize={10} interval={1} />
                <YAxis stroke="var(--muted)" fontSize={11} allowDecimals={false} />
                <Tooltip contentStyle={{ background: 'var(--panel-2)', border: '1px solid var(--border)', fontSize: 12 }} />
                <Bar dataKey="count" fill="#5b9cff" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
          <table className="table compact">
            <thead>
              <tr>
                <th>Topic : method</th>
                <th className="num">Calls</th>
                <th className="num">Mean</th>
                <th className="num">p50</th>
                <th className="num">p95</th>
              </tr>
            </thead>
            <tbody>
              {methods.slice(0, 12).map((m) => (
                <tr key={m.key} className={`clickable${method === m.key ? ' selected' : ''}`} onClick={() => setMethod(method === m.key ? null : m.key)}>
                  <td className="mono">{m.key}</td>
                  <td className="num">{m.count}</td>
                  <td className="num">{formatDuration(m.meanMs)}</td>
                  <td className="num">{m.p50Ms === null ? '—' : formatDuration(m.p50Ms)}</td>
                  <td className="num">{m.p95Ms === null ? '—' : formatDuration(m.p95Ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Card>
  );
}
