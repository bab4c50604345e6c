'use client';
import { useMemo, useState } from 'react';
import type { BrokerQueue } from '@/lib/tap-contracts';
import { useBroker } from '../hooks/use-broker';
import { useBrokerHealth } from '../hooks/use-broker-health';
import { LayoutHealthPanel } from './layout-health-panel';
import { useNow } from '../hooks/use-now';
import { Card, Empty } from '../ui/card';
import { Badge } from '../ui/badge';
import { ago } from '../ui/format';
import { isStale } from '@/lib/series';

const KINDS = ['topic', 'server', 'fanout', 'notification', 'reply', 'other'] as const;

export function BrokerPage() {
  const broker = useBroker(5000);
  const brokerHealth = useBrokerHealth(15_000);
  const now = useNow(1000);
  const [kind, setKind] = useState<string>('');
  const [text, setText] = useState('');
  const [problemsOnly, setProblemsOnly] = useState(false);
  const snap = broker.data;
  const view = snap?.view ?? null;
  const stale = now > 0 && isStale(broker.dataUpdatedAt || null, now, 12_000);

  const queues = useMemo(() => {
    const t = text.trim().toLowerCase();
    return (view?.queues ?? [])
      .filter((q) => (kind ? q.kind === kind : q.kind !== 'reply'))
      .filter((q) => (t ? q.name.toLowerCase().includes(t) : true))
      .filter((q) => (problemsOnly ? isProblem(q) : true))
      .sort((a, b) => Number(isProblem(b)) - Number(isProblem(a)) || b.depth - a.depth || a.name.localeCompare(b.name));
  }, [view, kind, text, problemsOnly]);

  if (broker.isError && !snap) return <Empty>Cannot load the broker view: {(broker.error as Error).message}</Empty>;

  return (
    <div className="page broker" data-testid="broker-page">
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
            <input className="input-small" placeholder="name contains…" value={text} onChange={(e) => setText(e.target.value)} aria-label="Queue name" />
            <label className="small">
              <input type="checkbox" checked={problemsOnly} onChange={(e) => setProblemsOnly(e.target.checked)} /> problems only
            </label>
          </>
        }
      >
        {!view ? (
          <Empty>{snap?.error ?? 'Loading…'}</Empty>
        ) : queues.length === 0 ? (
          <Empty>No queue matches.</Empty>
        ) : (
          <div className="table-scroll">
            <table className="table" data-testid="queue-table">
              <thead>
                <tr>
                  <th>Queue</th>
                  <th>Kind</th>
                  <th>Topic</th>
                  <th>Server</th>
                  <th className="num">Depth</th>
                  <th className="num">Consumers</th>
                  <th>Consuming processes</th>
                </tr>
              </thead>
              <tbody>
                {queues.map((q) => (
                  <tr key={q.name} className={isProblem(q) ? 'row-bad' : ''} data-testid="queue-row" data-queue={q.name} data-health={q.health} title={q.note ?? undefined}>
                    <td className="mono ellipsis">
                      {q.name}
                      {q.queueType && q.queueType !== 'classic' && <span className="muted small"> {q.queueType}</span>}
                    </td>
                    <td>{q.kind}</td>
                    <td>{q.topic ?? ''}</td>
                    <td>{q.server ?? ''}</td>
                    <td className="num" title={q.depthIs === 'retention' ? 'a stream keeps messages until x-max-age: retention, not a backlog' : undefined}>
                      {q.depth}
                      {q.depthIs === 'retention' && <span className="muted small"> kept</span>}
                    </td>
                    <td className="num">
                      {q.consumers === 0 ? (
                        <Badge tone={q.health === 'warn' ? 'bad' : q.kind === 'fanout' || q.kind === 'reply' ? 'muted' : q.kind === 'notification' ? 'warn' : 'bad'} title={q.note ?? undefined}>
                          0
                        </Badge>
                      ) : (
                        q.consumers
                      )}
                    </td>
                    <td className="ellipsis small">{q.consumerProcesses.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>

      <div className="grid-2">
        <Card title="Reply queues without consumers" stale={stale} testId="orphan-replies">
          {!view || view.replyQueuesWithoutConsumers.length === 0 ? (
            <Empty>None: every reply queue has its caller listening.</Empty>
          ) : (
            <>
              <p className="muted small">
                A caller went away (or lost its connection). oslo never deletes its reply queue: an empty one is normal until its x-expires
                removes it; one holding replies, never expiring, or outliving its x-expires is flagged.
              </p>
              <table className="table compact">
                <thead>
                  <tr>
                    <th>Reply queue</th>
                    <th className="num">Depth</th>
                    <th>Status</th>
                  </tr>
                </thead>
                <tbody>
                  {view.replyQueuesWithoutConsumers.map((r) => (
                    <tr key={r.name} className={r.health === 'warn' ? 'row-bad' : ''} data-testid="orphan-reply" data-health={r.health}>
                      <td className="mono">{r.name}</td>
                      <td className="num">{r.depth}</td>
                      <td className="small">
                        <Badge tone={r.health === 'warn' ? 'bad' : r.health === 'expiring' ? 'muted' : 'ok'}>{r.health === 'expiring' ? 'expiring' : r.health}</Badge> {r.note ?? ''}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
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
    </div>
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
  return q.depthIs === 'backlog' && q.depth > 100;
}
