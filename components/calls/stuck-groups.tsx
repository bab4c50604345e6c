'use client';
import Link from 'next/link';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { usePathname, useRouter, useSearchParams } from 'next/navigation';
import { DEFAULT_TRANSPORT, stuckGroupKey, type StuckGroup } from '@/lib/history-contracts';
import type { CallRecord } from '@/lib/tap-contracts';
import { Card, Empty } from '../ui/card';
import { Badge } from '../ui/badge';
import { CAUSE_EXPLANATIONS, CAUSE_LABELS, ago } from '../ui/format';
import { useNow } from '../hooks/use-now';
import { useSession } from '../hooks/use-session';
import { useAckGroup, useStuckGroups } from '../search/history-hooks';
import { rowKeys } from '../ui/drawer';
import { useFleet } from '../hooks/use-transport';

/** Stuck calls of the tap's memory grouped like the server does, for when the history endpoints cannot answer. */
export function groupStuck(calls: CallRecord[]): StuckGroup[] {
  const groups = new Map<string, StuckGroup>();
  for (const c of calls) {
    if (!c.cause) continue;
    const base = { transport: c.transport ?? DEFAULT_TRANSPORT, target: { exchange: c.target.exchange, topic: c.target.topic, server: c.target.server }, method: c.method, cause: c.cause };
    const key = stuckGroupKey(base);
    let g = groups.get(key);
    if (!g) {
      g = { ...base, key, count: 0, firstSeen: c.publishedAt, lastSeen: c.publishedAt, sampleMsgIds: [], callerProcesses: [], acked: false, ackedAt: null, ackedBy: null, newSinceAck: 0 };
      groups.set(key, g);
    }
    g.count++;
    g.firstSeen = Math.min(g.firstSeen, c.publishedAt);
    g.lastSeen = Math.max(g.lastSeen, c.publishedAt);
    g.sampleMsgIds.push(c.msgId);
    const p = c.caller.process ?? (c.caller.queueManager ? `${c.caller.queueManager.process}@${c.caller.queueManager.host}` : null);
    if (p && !g.callerProcesses.includes(p) && g.callerProcesses.length < 5) g.callerProcesses.push(p);
  }
  const byTime = new Map(calls.map((c) => [c.msgId, c.publishedAt]));
  for (const g of groups.values()) g.sampleMsgIds = g.sampleMsgIds.sort((a, b) => (byTime.get(b) ?? 0) - (byTime.get(a) ?? 0)).slice(0, 5);
  return [...groups.values()].sort((a, b) => b.lastSeen - a.lastSeen);
}

/** `topic.server` or `topic`: the queue a group's calls were sent to. */
function queueName(g: StuckGroup): string {
  const t = g.target.topic ?? '';
  return g.target.server ? `${t}.${g.target.server}` : t;
}

function matches(g: StuckGroup, q: string, queue: string): boolean {
  if (queue && queueName(g) !== queue && g.target.topic !== queue) return false;
  if (!q) return true;
  const needle = q.toLowerCase();
  return [g.key, g.method, g.target.topic ?? '', g.target.server ?? '', g.cause, CAUSE_LABELS[g.cause] ?? '', ...g.callerProcesses].some((v) => v.toLowerCase().includes(needle));
}

/**
 * Stuck calls grouped by target and cause, newest first, with counts:
 * searchable (`q`), filtered to a queue (`queue`, from the Broker page) and
 * acknowledgeable; all three in the URL.
 */
export function StuckGroupsCard({ stuck, stale, staleNote }: { stuck: CallRecord[] | null; stale: boolean; staleNote: ReactNode }) {
  const fleet = useFleet();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const q = params.get('q') ?? '';
  const queue = params.get('queue') ?? '';
  const ackedParam = params.get('acked');
  const acked: 'all' | 'yes' | 'no' = ackedParam === 'yes' || ackedParam === 'all' ? ackedParam : 'no';
  const [draft, setDraft] = useState(q);
  useEffect(() => setDraft(q), [q]);
  const setParam = (name: string, value: string) => {
    const next = new URLSearchParams(params.toString());
    if (value) next.set(name, value);
    else next.delete(name);
    const qs = next.toString();
    router.replace(`${pathname}${qs ? `?${qs}` : ''}`, { scroll: false });
  };
  useEffect(() => {
    const t = setTimeout(() => {
      if (draft !== q) setParam('q', draft.trim().slice(0, 200));
    }, 300);
    return () => clearTimeout(t);
    // setParam is rebuilt every render from the URL; the debounce restarts only when the text changes
  }, [draft, q]);

  const server = useStuckGroups(q, acked);
  const fallback = useMemo(() => (stuck ? groupStuck(stuck) : null), [stuck]);
  // the store's groups when it answers; the tap's memory otherwise (no acknowledgements then)
  const fromServer = server.data ? server.data.groups : null;
  const groups = (fromServer ?? (acked === 'yes' ? [] : fallback) ?? []).filter((g) => matches(g, fromServer ? '' : q, queue));
  const totalCalls = groups.reduce((n, g) => n + g.count, 0);
  const session = useSession();
  const canAck = session.data ? session.data.role === 'operator' || !session.data.authEnabled : false;
  const ack = useAckGroup();
  const now = useNow(1000);
  const open = (g: StuckGroup) => {
    if (g.sampleMsgIds[0]) router.push(`/calls/${encodeURIComponent(g.sampleMsgIds[0])}`);
  };

  // the whole fleet of several: each group says which transport its calls were seen on
  const showTransport = fleet.several && !fleet.choice;
  return (
    <Card
      title={`Stuck calls${groups.length > 0 ? ` (${totalCalls} in ${groups.length} group${groups.length === 1 ? '' : 's'})` : ''}`}
      stale={stale}
      testId="stuck-calls"
      actions={
        <>
          <input type="search" className="input-small" value={draft} placeholder="search target, method, cause, caller" aria-label="Search stuck calls" onChange={(e) => setDraft(e.target.value)} data-testid="stuck-search" maxLength={200} />
          <select value={acked} onChange={(e) => setParam('acked', e.target.value === 'no' ? '' : e.target.value)} aria-label="Acknowledged groups" data-testid="stuck-acked" disabled={!fromServer}>
            <option value="no">open</option>
            <option value="yes">acknowledged</option>
            <option value="all">all</option>
          </select>
        </>
      }
    >
      {staleNote}
      {queue && (
        <p className="small" data-testid="stuck-queue-filter">
          Calls sent to queue <code>{queue}</code> · <button type="button" className="btn btn-small" onClick={() => setParam('queue', '')}>show all</button>
        </p>
      )}
      {!fromServer && server.error && stuck && (
        <p className="muted small" data-testid="stuck-memory-only">
          From the tap&apos;s memory only (history unavailable: {(server.error as Error).message}); acknowledging needs the history store.
        </p>
      )}
      {ack.error && <p className="text-bad small">{(ack.error as Error).message}</p>}
      {!fromServer && !stuck ? (
        <Empty>Loading…</Empty>
      ) : groups.length === 0 ? (
        <Empty>{q || queue ? 'No stuck call matches.' : acked === 'yes' ? 'No acknowledged group.' : 'No stuck call. A call is stuck when it has no final reply after its timeout.'}</Empty>
      ) : (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Stuck call groups">
          <table className="table sticky-first stuck-groups" data-testid="stuck-table">
            <thead>
              <tr>
                {showTransport && <th>Transport</th>}
                <th>Target</th>
                <th>Method</th>
                <th>Cause</th>
                <th className="num">Calls</th>
                <th>Last seen</th>
                <th>Callers</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody onKeyDown={rowKeys((i) => open(groups[i]))}>
              {groups.map((g) => (
                <tr
                  key={g.key}
                  tabIndex={0}
                  className={`clickable${g.acked ? ' row-acked' : ''}`}
                  onClick={() => open(g)}
                  data-testid="stuck-group"
                  data-key={g.key}
                  data-method={g.method}
                  data-cause={g.cause}
                  data-count={g.count}
                  data-acked={g.acked ? 'true' : 'false'}
                  data-msg-id={g.sampleMsgIds[0] ?? ''}
                >
                  {showTransport && <td className="transport-tag">{g.transport}</td>}
                  <td className="mono" title={`exchange ${g.target.exchange}`}>
                    {g.target.exchange}:{queueName(g)}
                  </td>
                  <td className="mono">{g.method}</td>
                  <td data-testid="call-cause">
                    <Badge tone={g.acked ? 'muted' : 'bad'} title={CAUSE_EXPLANATIONS[g.cause]}>
                      {CAUSE_LABELS[g.cause] ?? g.cause}
                    </Badge>
                  </td>
                  <td className="num" data-testid="stuck-count">
                    {g.count}
                    {g.acked || g.newSinceAck === 0 ? '' : ` (${g.newSinceAck} new)`}
                  </td>
                  <td className="nowrap" title={new Date(g.lastSeen).toISOString()}>
                    {now ? ago(g.lastSeen, now) : ''}
                  </td>
                  <td className="ellipsis">{g.callerProcesses.join(', ') || <span className="muted">unknown</span>}</td>
                  <td className="nowrap" onClick={(e) => e.stopPropagation()}>
                    <span className="row-links">
                      {g.sampleMsgIds.slice(0, 3).map((id, i) => (
                        <Link key={id} href={`/calls/${encodeURIComponent(id)}`} data-testid="stuck-sample" aria-label={`${i === 0 ? 'newest' : `call ${i + 1}`} of ${g.method} to ${queueName(g)}`}>
                          {i === 0 ? 'newest' : `#${i + 1}`}
                        </Link>
                      ))}
                      {fromServer && canAck && (
                        <button type="button" className="btn btn-small" disabled={ack.isPending} onClick={() => ack.mutate({ key: g.key, acked: !g.acked })} data-testid="stuck-ack">
                          {g.acked ? 'Re-open' : 'Acknowledge'}
                        </button>
                      )}
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
