'use client';
import { Fragment, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { CallRecord } from '@/lib/tap-contracts';
import { callAgeMs, formatDuration, histogramRows, isStale, methodLatencies, timelineRows, timeoutFraction } from '@/lib/series';
import { useQuery } from '@tanstack/react-query';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';
import { useCalls } from '../hooks/use-calls';
import { useNow } from '../hooks/use-now';
import { useRealtime } from '../realtime-provider';
import { Card, Empty } from '../ui/card';
import { Badge } from '../ui/badge';
import { CAUSE_EXPLANATIONS, CAUSE_LABELS, clockTime } from '../ui/format';
import { StaleNote } from '../overview/overview-page';

export function CallsPage() {
  const calls = useCalls();
  const now = useNow(500);
  const { connection } = useRealtime();
  const d = calls.data;
  const stale = now > 0 && (connection.state !== 'connected' || isStale(calls.dataUpdatedAt || null, now, 3500));
  const serverNow = d && calls.dataUpdatedAt ? now + (d.at - calls.dataUpdatedAt) : now;

  return (
    <div className="page calls" data-testid="calls-page">
      {d && !d.canSeeReplies && (
        <div className="callout callout-warn">
          Bindings mode: replies are invisible, so a call stays &quot;in flight&quot; until its timeout and stuck causes are weaker (see each call&apos;s note). Turn on the
          firehose for exact answers.
        </div>
      )}
      <Card title={`Stuck calls${d ? ` (${d.stuck.length})` : ''}`} stale={stale} testId="stuck-calls">
        {stale && <StaleNote updatedAt={calls.dataUpdatedAt} now={now} />}
        {!d ? <Empty>Loading…</Empty> : d.stuck.length === 0 ? <Empty>No stuck call. A call is stuck when it has no final reply after its timeout.</Empty> : <CallTable calls={d.stuck} now={serverNow} stuck />}
      </Card>
      <Card title={`In flight${d ? ` (${d.inflight.length})` : ''}`} stale={stale} testId="inflight-calls">
        {!d ? <Empty>Loading…</Empty> : d.inflight.length === 0 ? <Empty>No call is waiting for its reply.</Empty> : <CallTable calls={d.inflight} now={serverNow} />}
      </Card>
      <div className="grid-2">
        <LatencyCard calls={calls.data ?? null} stale={stale} />
        <Card title="Recently finished" stale={stale} testId="done-calls">
          {!d || d.done.length === 0 ? <Empty>No finished call yet{d && !d.canSeeReplies ? ' (replies are invisible in bindings mode)' : ''}.</Empty> : <CallTable calls={d.done.slice(0, 30)} now={serverNow} compact />}
        </Card>
      </div>
    </div>
  );
}

function CallTable({ calls, now, stuck, compact }: { calls: CallRecord[]; now: number; stuck?: boolean; compact?: boolean }) {
  const [open, setOpen] = useState<string | null>(null);
  const sorted = useMemo(() => [...calls].sort((a, b) => a.publishedAt - b.publishedAt), [calls]);
  return (
    <div className="table-scroll">
      <table className={`table calls-table${compact ? ' compact-cells' : ''}`} data-testid={stuck ? 'stuck-table' : compact ? 'done-table' : 'inflight-table'}>
        <thead>
          <tr>
            <th>Method</th>
            <th>Target</th>
            <th>Caller</th>
            <th className="num">{compact ? 'Took' : 'Age'}</th>
            {!compact && <th>Timeout</th>}
            <th>{stuck ? 'Cause' : compact ? 'Outcome' : 'Heartbeats'}</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((c) => (
            <Fragment key={c.msgId}>
              <tr className={`clickable${open === c.msgId ? ' selected' : ''}`} onClick={() => setOpen(open === c.msgId ? null : c.msgId)} data-testid="call-row" data-method={c.method} data-cause={c.cause ?? ''} data-msg-id={c.msgId}>
                <td className="mono">{c.method}</td>
                <td className="mono ellipsis" title={`exchange ${c.target.exchange}`}>
                  {c.target.exchange}:{c.target.routingKey}
                </td>
                <td className="ellipsis" title={c.caller.connectionName ?? c.caller.replyQ ?? ''}>
                  {c.caller.process ?? (c.caller.queueManager ? `${c.caller.queueManager.process}@${c.caller.queueManager.host}` : null) ?? c.caller.replyQ ?? 'unknown'}
                </td>
                <td className="num nowrap">{formatDuration(callAgeMs(c, now))}</td>
                {!compact && (
                  <td>
                    <TimeoutBar fraction={timeoutFraction(c, now)} label={`${formatDuration(c.timeoutMs)}${c.timeoutSource === 'default' ? ' (assumed)' : ''}`} />
                  </td>
                )}
                <td>
                  {stuck && c.cause ? (
                    <span data-testid="call-cause">
                      <Badge tone="bad" title={CAUSE_EXPLANATIONS[c.cause]}>
                        {CAUSE_LABELS[c.cause] ?? c.cause}
                      </Badge>
                      {!c.causeCertain && <span className="muted small"> (or {c.indistinguishable.filter((x) => x !== c.cause).map((x) => CAUSE_LABELS[x] ?? x).join(' / ')})</span>}
                    </span>
                  ) : compact ? (
                    <Badge tone={c.outcome === 'failure' ? 'bad' : c.outcome === 'result' ? 'ok' : 'muted'}>{c.failure ? c.failure.class : (c.outcome ?? '—')}</Badge>
                  ) : (
                    <span className="small" data-testid="call-heartbeats" title={c.callMonitorTimeout === null ? '' : `call_monitor_timeout ${c.callMonitorTimeout} s: the caller gives up after ${c.callMonitorTimeout} s without a heartbeat`}>
                      {c.callMonitorTimeout === null ? 'not requested' : `${c.heartbeats} received · monitor ${c.callMonitorTimeout} s`}
                    </span>
                  )}
                </td>
              </tr>
              {open === c.msgId && (
                <tr className="detail-row">
                  <td colSpan={compact ? 5 : 6}>
                    <CallDetail call={c} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TimeoutBar({ fraction, label }: { fraction: number; label: string }) {
  const pct = Math.min(100, Math.max(0, fraction * 100));
  return (
    <div className="timeout-bar" title={`${Math.round(fraction * 100)} % of the timeout used`}>
      <div className={`timeout-fill${fraction >= 1 ? ' over' : fraction > 0.7 ? ' near' : ''}`} style={{ width: `${pct}%` }} />
      <span>{label}</span>
    </div>
  );
}

function CallDetail({ call }: { call: CallRecord }) {
  // finished calls arrive without their timeline; fetch the full record when opened
  const full = useQuery({
    queryKey: queryKeys.call(call.msgId),
    queryFn: () => apiGet<CallRecord>(`/api/calls?msgId=${call.msgId}`),
    enabled: call.timeline.length === 0,
    staleTime: 60_000,
  });
  const c = call.timeline.length === 0 && full.data ? full.data : call;
  const rows = timelineRows(c);
  const span = Math.max(1, ...rows.map((r) => r.offsetMs), c.timeoutMs);
  return (
    <div className="call-detail" data-testid="call-detail">
      {c.cause && (
        <p data-testid="call-cause-detail">
          <strong>{CAUSE_LABELS[c.cause]}:</strong> {c.causeDetail ?? CAUSE_EXPLANATIONS[c.cause]}
        </p>
      )}
      <dl className="kv">
        <dt>msg_id</dt>
        <dd className="mono">{c.msgId}</dd>
        <dt>target</dt>
        <dd className="mono">
          exchange={c.target.exchange} topic={c.target.topic ?? '—'} server={c.target.server ?? '—'}
          {c.target.namespace ? ` namespace=${c.target.namespace}` : ''}
          {c.target.version ? ` version=${c.target.version}` : ''}
        </dd>
        <dt>caller</dt>
        <dd className="mono">
          {c.caller.connectionName ?? c.caller.process ?? '—'} (reply queue {c.caller.replyQ ?? '—'}
          {c.caller.queueManager ? `: service ${c.caller.queueManager.process} on ${c.caller.queueManager.host}, slot ${c.caller.queueManager.n}` : ''})
        </dd>
        {c.callMonitorTimeout !== null && (
          <>
            <dt>call monitor</dt>
            <dd data-testid="call-monitor">
              _timeout {c.callMonitorTimeout} s: the caller gives up after {c.callMonitorTimeout} s without a heartbeat, whatever its {c.timeoutMs / 1000} s
              timeout; {c.heartbeats} heartbeat{c.heartbeats === 1 ? '' : 's'}
              {c.lastHeartbeatAt !== null ? `, the last at ${clockTime(c.lastHeartbeatAt)}` : ''}
              {c.monitorDeadline !== null ? `; next one due by ${clockTime(c.monitorDeadline)}` : ' (heartbeats are only visible through the firehose)'}
            </dd>
          </>
        )}
        {c.serverProcess && (
          <>
            <dt>server process</dt>
            <dd className="mono">{c.serverProcess}</dd>
          </>
        )}
        {c.requestId && (
          <>
            <dt>request_id</dt>
            <dd className="mono">{c.requestId}</dd>
          </>
        )}
        {c.failure && (
          <>
            <dt>failure</dt>
            <dd>
              {c.failure.class}: {c.failure.message}
            </dd>
          </>
        )}
      </dl>
      <h3>Timeline</h3>
      <ol className="timeline" data-testid="call-timeline">
        {rows.map((r, i) => (
          <li key={i}>
            <span className="tl-offset mono">+{formatDuration(r.offsetMs)}</span>
            <span className="tl-track">
              <span className="tl-mark" style={{ left: `${(r.offsetMs / span) * 100}%` }} />
            </span>
            <span className="tl-event">{r.event.replace(/_/g, ' ')}</span>
            <span className="tl-detail muted">{r.detail}</span>
          </li>
        ))}
      </ol>
      <p className="muted small">published {clockTime(c.publishedAt)} · deadline {clockTime(c.deadline)}</p>
    </div>
  );
}

function LatencyCard({ calls, stale }: { calls: ReturnType<typeof useCalls>['data'] | null; stale: boolean }) {
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
        <Empty>{calls && !calls.canSeeReplies ? 'Latencies need replies, which bindings mode cannot see.' : 'No completed call measured yet.'}</Empty>
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
