'use client';
import Link from 'next/link';
import { useCallback, useMemo, useState } from 'react';
import type { BrokerQueue } from '@/lib/tap-contracts';
import { useBroker } from '../hooks/use-broker';
import { useBrokerHealth } from '../hooks/use-broker-health';
import { LayoutHealthPanel } from './layout-health-panel';
import { useNow } from '../hooks/use-now';
import { Card, Empty } from '../ui/card';
import { Badge } from '../ui/badge';
import { Drawer, rowKeys } from '../ui/drawer';
import { ago, rate } from '../ui/format';
import { liveHref, pingHref, queueFilter, stuckCallsHref } from '../ui/links';
import { isStale } from '@/lib/series';
import { useFleet } from '../hooks/use-transport';

const KINDS = ['topic', 'server', 'fanout', 'notification', 'reply', 'other'] as const;
/** Longest name filter accepted (a regular expression runs over every queue name). */
export const MAX_NAME_FILTER = 200;

type SortKey = 'name' | 'kind' | 'topic' | 'server' | 'depth' | 'in' | 'out' | 'consumers';
const COLUMNS: { key: SortKey; label: string; num?: boolean }[] = [
  { key: 'name', label: 'Queue' },
  { key: 'kind', label: 'Kind' },
  { key: 'topic', label: 'Topic' },
  { key: 'server', label: 'Server' },
  { key: 'depth', label: 'Depth', num: true },
  { key: 'in', label: 'In / s', num: true },
  { key: 'out', label: 'Out / s', num: true },
  { key: 'consumers', label: 'Consumers', num: true },
];

function sortValue(q: BrokerQueue, key: SortKey): string | number {
  switch (key) {
    // a count the broker did not report sorts below every reported one
    case 'depth':
      return q.depth ?? -1;
    case 'consumers':
      return q.consumers ?? -1;
    case 'in':
      return q.rates?.in ?? -1;
    case 'out':
      return q.rates?.out ?? -1;
    default:
      return q[key] ?? '';
  }
}

/** The name filter as a case-insensitive regular expression, or the reason it is not one. */
export function nameMatcher(text: string): { ok: true; test: (name: string) => boolean } | { ok: false; error: string } {
  const t = text.trim();
  if (!t) return { ok: true, test: () => true };
  if (t.length > MAX_NAME_FILTER) return { ok: false, error: `at most ${MAX_NAME_FILTER} characters` };
  try {
    const re = new RegExp(t, 'i');
    return { ok: true, test: (name) => re.test(name) };
  } catch (err) {
    return { ok: false, error: `not a regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}` };
  }
}

export function BrokerPage() {
  const broker = useBroker(5000);
  const now = useNow(1000);
  const [kind, setKind] = useState<string>('');
  const [text, setText] = useState('');
  const [problemsOnly, setProblemsOnly] = useState(false);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const snap = broker.data;
  // the whole fleet of several: one transport's broker at a time, picked here
  const fleet = useFleet();
  const perTransport = fleet.several && !fleet.choice ? (snap?.transports ?? null) : null;
  const [which, setWhich] = useState<string | null>(null);
  const shownEntry = perTransport ? (perTransport.find((t) => t.name === which) ?? perTransport[0] ?? null) : null;
  const view = perTransport ? (shownEntry?.view ?? null) : (snap?.view ?? null);
  // the health panel reports the broker shown, not the first of the fleet
  const brokerHealth = useBrokerHealth(15_000, shownEntry?.name ?? null);
  const stale = now > 0 && isStale(broker.dataUpdatedAt || null, now, 12_000);
  const matcher = useMemo(() => nameMatcher(text), [text]);

  const queues = useMemo(() => {
    const test = matcher.ok ? matcher.test : () => true;
    const list = (view?.queues ?? [])
      .filter((q) => (kind ? q.kind === kind : q.kind !== 'reply'))
      .filter((q) => test(q.name))
      .filter((q) => (problemsOnly ? isProblem(q) : true));
    if (!sort) return list.sort((a, b) => Number(isProblem(b)) - Number(isProblem(a)) || (b.depth ?? -1) - (a.depth ?? -1) || a.name.localeCompare(b.name));
    const dir = sort.desc ? -1 : 1;
    return list.sort((a, b) => {
      const x = sortValue(a, sort.key);
      const y = sortValue(b, sort.key);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return dir * c || a.name.localeCompare(b.name);
    });
  }, [view, kind, matcher, problemsOnly, sort]);
  const selected = open ? ((view?.queues ?? []).find((q) => q.name === open) ?? null) : null;
  const close = useCallback(() => setOpen(null), []);
  const onRowKeys = useMemo(() => rowKeys((i) => setOpen(queues[i]?.name ?? null)), [queues]);

  if (broker.isError && !snap) return <Empty>Cannot load the broker view: {(broker.error as Error).message}</Empty>;

  return (
    <div className="page broker" data-testid="broker-page">
      {perTransport && perTransport.length > 0 && (
        <div className="segmented" role="radiogroup" aria-label="Broker of transport">
          {perTransport.map((t) => (
            <label key={t.name} className={shownEntry?.name === t.name ? 'active' : ''} data-testid="broker-transport">
              <input type="radio" name="broker-transport" checked={shownEntry?.name === t.name} onChange={() => setWhich(t.name)} />
              {t.name}
            </label>
          ))}
          <span className="muted small">the header&apos;s selector narrows every page to one transport</span>
        </div>
      )}
      {shownEntry?.error && <div className="callout callout-warn">{shownEntry.error}</div>}
      <p className="muted small">
        {view ? (
          <>
            Source: <Badge tone={view.source === 'management' ? 'ok' : view.source === 'memory' ? 'info' : 'warn'}>{view.source}</Badge> · vhost {view.vhost || '/'} · read {ago(view.at, now || view.at)}
            {!view.complete && ' · partial view'}
            {view.source === 'passive' && ' — set RABBITMQ_MANAGEMENT_URL for consumers, connections and every queue'}
          </>
        ) : snap?.error ? (
          <span className="text-bad">{snap.error}</span>
        ) : (
          'Loading…'
        )}
      </p>
      {view?.error && <div className="callout callout-warn">{view.error}</div>}

      <LayoutHealthPanel
        report={brokerHealth.data}
        error={brokerHealth.isError ? (brokerHealth.error as Error).message : null}
        now={now}
        stale={now > 0 && isStale(brokerHealth.dataUpdatedAt || null, now, 45_000)}
      />

      <Card
        title={`Queues (${queues.length})`}
        stale={stale}
        testId="queues-card"
        actions={
          <>
            <select value={kind} onChange={(e) => setKind(e.target.value)} aria-label="Queue kind" data-testid="queue-kind">
              <option value="">RPC and notification queues</option>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
            <input
              className={`input-small${matcher.ok ? '' : ' has-error'}`}
              placeholder="name (regex)…"
              value={text}
              maxLength={MAX_NAME_FILTER + 50}
              onChange={(e) => setText(e.target.value)}
              aria-label="Queue name (regular expression)"
              aria-invalid={!matcher.ok}
              aria-describedby={matcher.ok ? undefined : 'queue-filter-error'}
              data-testid="queue-filter"
            />
            <label className="small">
              <input type="checkbox" checked={problemsOnly} onChange={(e) => setProblemsOnly(e.target.checked)} /> problems only
            </label>
          </>
        }
      >
        {!matcher.ok && (
          <p className="filter-error" id="queue-filter-error" role="alert" data-testid="queue-filter-error">
            Name filter {matcher.error}; showing every queue.
          </p>
        )}
        {!view ? (
          <Empty>{snap?.error ?? 'Loading…'}</Empty>
        ) : queues.length === 0 ? (
          <Empty>No queue matches.</Empty>
        ) : (
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Queues">
            <table className="table sticky-first" data-testid="queue-table">
              <thead>
                <tr>
                  {COLUMNS.map((c) => {
                    const active = sort?.key === c.key;
                    return (
                      <th key={c.key} scope="col" className={c.num ? 'num' : undefined} aria-sort={active ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
                        <button
                          type="button"
                          className="sort"
                          data-testid={`sort-${c.key}`}
                          onClick={() => setSort((s) => (s?.key === c.key ? (s.desc === !!c.num ? { key: c.key, desc: !s.desc } : null) : { key: c.key, desc: !!c.num }))}
                        >
                          {c.label}
                          {active ? (sort.desc ? ' ▼' : ' ▲') : ''}
                        </button>
                      </th>
                    );
                  })}
                  <th scope="col">Consuming processes</th>
                  <th scope="col">Go to</th>
                </tr>
              </thead>
              <tbody onKeyDown={onRowKeys}>
                {queues.map((q) => (
                  <tr
                    key={q.name}
                    tabIndex={0}
                    className={`clickable${isProblem(q) ? ' row-bad' : q.health === 'expiring' ? ' row-expiring' : ''}${open === q.name ? ' selected' : ''}`}
                    data-testid="queue-row"
                    data-queue={q.name}
                    data-health={q.health}
                    title={q.note ?? undefined}
                    onClick={(e) => {
                      if (!(e.target as HTMLElement).closest('a')) setOpen(q.name);
                    }}
                  >
                    <td className="mono ellipsis">
                      {q.name}
                      {q.queueType && q.queueType !== 'classic' && <span className="muted small"> {q.queueType}</span>}
                    </td>
                    <td>{q.kind}</td>
                    <td>{q.topic ?? '—'}</td>
                    <td>{q.server ?? '—'}</td>
                    <td className="num" title={q.depthIs === 'retention' ? 'a stream keeps messages until x-max-age: retention, not a backlog' : undefined}>
                      <Count n={q.depth} />
                      {q.depthIs === 'retention' && <span className="muted small"> kept</span>}
                    </td>
                    <td className="num" data-testid="queue-rate-in">
                      {q.rates ? rate(q.rates.in) : '—'}
                    </td>
                    <td className="num" data-testid="queue-rate-out">
                      {q.rates ? rate(q.rates.out) : '—'}
                    </td>
                    <td className="num">
                      {q.consumers === 0 ? (
                        q.health === 'expiring' ? (
                          <Badge tone="muted" title={q.note ?? undefined} testId="queue-expiring">
                            0 · expiring
                          </Badge>
                        ) : (
                          <Badge tone={q.health === 'warn' ? 'bad' : q.kind === 'fanout' || q.kind === 'reply' ? 'muted' : q.kind === 'notification' ? 'warn' : 'bad'} title={q.note ?? undefined}>
                            0
                          </Badge>
                        )
                      ) : (
                        <Count n={q.consumers} />
                      )}
                    </td>
                    <td className="ellipsis small">{q.consumerProcesses.join(', ')}</td>
                    <td>
                      <QueueLinks q={q} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>

      <div className="grid-2">
        <Card
          title={`Reply queues without consumers${view ? ` (${view.replyQueuesWithoutConsumers.filter((r) => r.health === 'warn').length} to look at, ${view.replyQueuesWithoutConsumers.filter((r) => r.health === 'expiring').length} expiring)` : ''}`}
          stale={stale}
          testId="orphan-replies"
        >
          {!view || view.replyQueuesWithoutConsumers.length === 0 ? (
            <Empty>None: every reply queue has its caller listening.</Empty>
          ) : (
            <>
              <p className="muted small">
                A caller went away (or lost its connection). oslo never deletes its reply queue: an empty one is normal until its x-expires
                removes it; one holding replies, never expiring, or outliving its x-expires is flagged.
              </p>
              <div className="table-scroll short" tabIndex={0} role="region" aria-label="Reply queues without consumers">
              <table className="table compact sticky-first">
                <thead>
                  <tr>
                    <th scope="col">Reply queue</th>
                    <th scope="col" className="num">Depth</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {view.replyQueuesWithoutConsumers.map((r) => (
                    <tr key={r.name} className={r.health === 'warn' ? 'row-bad' : r.health === 'expiring' ? 'row-expiring' : ''} data-testid="orphan-reply" data-health={r.health} data-queue={r.name}>
                      <td className="mono">{r.name}</td>
                      <td className="num">
                        <Count n={r.depth} />
                      </td>
                      <td className="small">
                        <Badge tone={r.health === 'warn' ? 'bad' : r.health === 'expiring' ? 'muted' : 'ok'}>{r.health === 'expiring' ? 'expiring' : r.health}</Badge> {r.note ?? ''}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              </div>
            </>
          )}
        </Card>

        <Card title="Connections per process" stale={stale} testId="connections-card">
          {!view || view.connections.processes.length === 0 ? (
            <Empty>{view?.source === 'passive' ? 'Connections need the management API (RABBITMQ_MANAGEMENT_URL).' : 'No named connection.'}</Empty>
          ) : (
            <table className="table compact" data-testid="connections-table">
              <thead>
                <tr>
                  <th>Process</th>
                  <th className="num">Conns</th>
                  <th className="num">Listen</th>
                  <th>Send vs rpc_conn_pool_size ({view.connections.poolSize})</th>
                </tr>
              </thead>
              <tbody>
                {view.connections.processes.map((p) => (
                  <tr key={p.process} className={p.overPoolLimit ? 'row-bad' : ''}>
                    <td className="mono">{p.process}</td>
                    <td className="num">{p.connections}</td>
                    <td className="num">{p.listen}</td>
                    <td>
                      <div className="timeout-bar" title={`${p.send} send connections of ${view.connections.poolSize}`}>
                        <div className={`timeout-fill${p.overPoolLimit ? ' over' : p.send / view.connections.poolSize > 0.7 ? ' near' : ''}`} style={{ width: `${Math.min(100, (p.send / Math.max(1, view.connections.poolSize)) * 100)}%` }} />
                        <span>
                          {p.send} / {view.connections.poolSize}
                        </span>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {view && view.connections.unnamed > 0 && <p className="muted small">{view.connections.unnamed} connection(s) without an oslo connection name.</p>}
        </Card>
      </div>
      {selected && <QueueDrawer q={selected} now={now} onClose={close} />}
    </div>
  );
}

function QueueLinks({ q }: { q: BrokerQueue }) {
  return (
    <span className="row-links">
      <Link href={liveHref(queueFilter(q))} data-testid="queue-live-link" aria-label={`Live traffic of ${q.name}`}>
        live
      </Link>
      {q.kind !== 'notification' && (
        <Link href={stuckCallsHref(q.name)} data-testid="queue-stuck-link" aria-label={`Stuck calls on ${q.name}`}>
          stuck
        </Link>
      )}
      {q.kind === 'server' && q.topic && q.server && (
        <Link href={pingHref(q.topic, q.server)} data-testid="queue-ping-link" aria-label={`Ping ${q.server}`}>
          ping
        </Link>
      )}
    </span>
  );
}

function QueueDrawer({ q, now, onClose }: { q: BrokerQueue; now: number; onClose: () => void }) {
  return (
    <Drawer title={<span className="mono">{q.name}</span>} onClose={onClose} testId="queue-drawer" actions={<QueueLinks q={q} />}>
      <dl className="kv">
        <dt>Kind</dt>
        <dd>{q.kind}</dd>
        <dt>Topic</dt>
        <dd>{q.topic ?? '—'}</dd>
        <dt>Server</dt>
        <dd>{q.server ?? '—'}</dd>
        <dt>Type</dt>
        <dd>{q.queueType ?? 'unknown'}</dd>
        <dt>Depth</dt>
        <dd>
          <Count n={q.depth} /> {q.depthIs === 'retention' ? '(retained by the stream)' : ''}
        </dd>
        <dt>Rates</dt>
        <dd>{q.rates ? `${rate(q.rates.in)} in · ${rate(q.rates.out)} out per second` : 'not reported by the broker'}</dd>
        <dt>Consumers</dt>
        <dd>
          <Count n={q.consumers} />
        </dd>
        <dt>Processes</dt>
        <dd>{q.consumerProcesses.join(', ') || '—'}</dd>
        <dt>x-expires</dt>
        <dd>{q.expiresMs === null ? 'never' : `${Math.round(q.expiresMs / 1000)} s idle`}</dd>
        <dt>Idle since</dt>
        <dd>{q.idleSince === null ? 'busy or unknown' : ago(q.idleSince, now || q.idleSince)}</dd>
        <dt>Health</dt>
        <dd>
          <Badge tone={q.health === 'warn' ? 'bad' : q.health === 'expiring' ? 'muted' : 'ok'}>{q.health}</Badge> {q.note ?? ''}
        </dd>
      </dl>
    </Drawer>
  );
}

/**
 * A queue of an RPC server that nobody consumes, or a backlog building up. Fanout queues without a
 * consumer are orphans oslo leaves to their x-expires (queue manager, stream fanout): only their
 * `health` says when one is a problem; a stream's depth is what it retains, not a backlog.
 */
function isProblem(q: BrokerQueue): boolean {
  if (q.health === 'warn') return true;
  if ((q.kind === 'topic' || q.kind === 'server') && q.consumers === 0) return true;
  return q.depthIs === 'backlog' && q.depth !== null && q.depth > 100;
}

/** A queue's count, or a dash when the broker did not report it (statistics disabled). */
function Count({ n }: { n: number | null }) {
  return n === null ? (
    <span className="muted" title="not reported by the management API (statistics disabled)" data-testid="count-unreported">
      —
    </span>
  ) : (
    <>{n}</>
  );
}
