'use client';
import type { BrokerHealth, BrokerHealthReport, FirehoseCoverage, LayoutReport } from '@/lib/broker-contracts';
import { Card, Empty } from '../ui/card';
import { Badge, type Tone } from '../ui/badge';
import { ago } from '../ui/format';

const LAYOUT_TONE: Record<LayoutReport['name'], Tone> = {
  'oslo-defaults': 'info',
  kolla: 'ok',
  'kolla-2024.1': 'ok',
  'openstack-helm': 'warn',
  mixed: 'bad',
  custom: 'info',
  empty: 'muted',
  unknown: 'muted',
};

const LEVEL_CLASS: Record<string, string> = { bad: 'callout callout-bad', warn: 'callout callout-warn', info: 'callout' };

/** What the services declared in the vhost, per-node tracing and RabbitMQ health (GET /api/broker/health). */
export function LayoutHealthPanel({ report, error, now, stale }: { report: BrokerHealthReport | undefined; error: string | null; now: number; stale: boolean }) {
  if (!report) return <Empty>{error ? `Cannot read the broker's layout and health: ${error}` : 'Reading the layout and broker health…'}</Empty>;
  return (
    <div className="grid-2" data-testid="layout-health">
      <LayoutCard layout={report.layout} now={now} stale={stale} />
      <div>
        <FirehoseCard coverage={report.firehose} stale={stale} />
        <HealthCard health={report.health} stale={stale} />
      </div>
    </div>
  );
}

function LayoutCard({ layout, now, stale }: { layout: LayoutReport | null; now: number; stale: boolean }) {
  return (
    <Card title="Queue layout" stale={stale} testId="layout-card">
      {!layout ? (
        <Empty>No layout read yet.</Empty>
      ) : (
        <>
          <p>
            <Badge tone={LAYOUT_TONE[layout.name]} testId="layout-name">
              {layout.label}
            </Badge>{' '}
            <span className="muted small">
              from {layout.source} · read {ago(layout.at, now || layout.at)}
              {!layout.complete && ' · partial'}
              {layout.defaultQueueType && ` · vhost default queue type ${layout.defaultQueueType}`}
            </span>
          </p>
          {layout.error && <div className="callout callout-warn">{layout.error}</div>}
          {layout.drift.map((d) => (
            <div key={d.code} className={d.code === 'quorum-expected-classic-found' || d.code === 'default-queue-type' ? 'callout' : 'callout callout-warn'} data-testid="layout-drift" data-code={d.code}>
              {d.message}
            </div>
          ))}
          <ul className="small" data-testid="layout-evidence">
            {layout.evidence
              .filter((e) => !layout.drift.some((d) => d.message === e))
              .map((e) => (
                <li key={e}>{e}</li>
              ))}
          </ul>
          {layout.topics.length > 0 && (
            <div className="table-scroll">
              <table className="table compact" data-testid="layout-topics">
                <thead>
                  <tr>
                    <th>Topic</th>
                    <th>Options</th>
                    <th>Topic queue</th>
                    <th>Server queues</th>
                    <th>Fanout</th>
                    <th>Fanout exchange</th>
                  </tr>
                </thead>
                <tbody>
                  {layout.topics.slice(0, 50).map((t) => (
                    <tr key={t.topic} data-topic={t.topic}>
                      <td className="mono">{t.topic}</td>
                      <td>{t.letters || 'defaults'}</td>
                      <td>{t.topicType ?? ''}</td>
                      <td>{t.serverTypes.join(', ')}</td>
                      <td>{t.fanout ?? ''}</td>
                      <td>{t.fanoutExchangeDurable === null ? '' : t.fanoutExchangeDurable ? 'durable' : 'transient'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <p className="muted small">Q rabbit_quorum_queue · D amqp_durable_queues · T rabbit_transient_quorum_queue · S rabbit_stream_fanout · M use_queue_manager</p>
        </>
      )}
    </Card>
  );
}

function FirehoseCard({ coverage, stale }: { coverage: FirehoseCoverage | null; stale: boolean }) {
  return (
    <Card title="Firehose per node" stale={stale} testId="firehose-card">
      {!coverage ? (
        <Empty>Per-node tracing needs the management API (RABBITMQ_MANAGEMENT_URL).</Empty>
      ) : (
        <>
          <p>
            <Badge tone={coverage.on === 0 ? 'muted' : coverage.on === coverage.total ? 'ok' : 'warn'} testId="firehose-coverage">
              {coverage.summary}
            </Badge>
            {coverage.autoOffAt && <span className="muted small"> · osloscope turns its tracing off at {new Date(coverage.autoOffAt).toLocaleTimeString()}</span>}
          </p>
          <table className="table compact" data-testid="firehose-nodes">
            <thead>
              <tr>
                <th>Node</th>
                <th>Tracing</th>
                <th className="num">Connections</th>
                <th>Note</th>
              </tr>
            </thead>
            <tbody>
              {coverage.nodes.map((n) => (
                <tr key={n.node} data-node={n.node}>
                  <td className="mono">{n.node}</td>
                  <td>{n.tracing === null ? <Badge tone="muted">unknown</Badge> : n.tracing ? <Badge tone="ok">on</Badge> : <Badge tone="muted">off</Badge>}</td>
                  <td className="num">{n.connections ?? ''}</td>
                  <td className="small muted">{n.error ?? (n.enabledByOsloscope ? 'turned on by osloscope' : '')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Card>
  );
}

function HealthCard({ health, stale }: { health: BrokerHealth | null; stale: boolean }) {
  return (
    <Card title="Broker health" stale={stale} testId="health-card">
      {!health ? (
        <Empty>Broker health needs the management API (RABBITMQ_MANAGEMENT_URL).</Empty>
      ) : (
        <>
          {health.error && <div className="callout callout-warn">{health.error}</div>}
          <dl className="kv">
            <dt>RabbitMQ</dt>
            <dd data-testid="health-version">{health.version ?? 'unknown'}</dd>
            {health.clusterName && (
              <>
                <dt>Cluster</dt>
                <dd>{health.clusterName}</dd>
              </>
            )}
            <dt>Quorum queues</dt>
            <dd>
              {health.quorum.queues}
              {health.quorum.leaders.length > 0 && ` · leaders ${health.quorum.leaders.map((l) => `${l.node} ${l.count}`).join(', ')}`}
            </dd>
            <dt>Default delivery limit</dt>
            <dd>{health.quorum.defaultDeliveryLimit === null ? 'none (before 4.0)' : health.quorum.defaultDeliveryLimit}</dd>
            <dt>Deprecated features used</dt>
            <dd data-testid="health-deprecated">{!health.deprecatedFeatures.supported ? 'not reported (before 3.13)' : health.deprecatedFeatures.used.length === 0 ? 'none' : health.deprecatedFeatures.used.map((f) => f.name).join(', ')}</dd>
          </dl>
          {health.warnings.length === 0 ? (
            <p className="muted small" data-testid="health-ok">
              No alarm, no node down, no quorum queue without its members.
            </p>
          ) : (
            health.warnings.map((w) => (
              <div key={w.code} className={LEVEL_CLASS[w.level]} data-testid="health-warning" data-code={w.code}>
                {w.message}
                {w.subjects.length > 0 && <div className="mono small">{w.subjects.slice(0, 8).join(', ')}{w.subjects.length > 8 ? ' …' : ''}</div>}
              </div>
            ))
          )}
          {health.nodes.length > 0 && (
            <table className="table compact" data-testid="health-nodes">
              <thead>
                <tr>
                  <th>Node</th>
                  <th>Version</th>
                  <th>State</th>
                  <th>Alarms</th>
                </tr>
              </thead>
              <tbody>
                {health.nodes.map((n) => (
                  <tr key={n.name} className={!n.running || n.memAlarm || n.diskAlarm ? 'row-bad' : ''}>
                    <td className="mono">{n.name}</td>
                    <td>{n.version ?? ''}</td>
                    <td>{n.running ? 'running' : 'down'}</td>
                    <td>{[n.memAlarm && 'memory', n.diskAlarm && 'disk'].filter(Boolean).join(', ') || 'none'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Card>
  );
}
