'use client';
/**
 * The Console's fleet ping: oslo_rpc_server_ping to every server of a topic
 * (POST /api/ping), who answered, in how long, and who did not.
 */
import { useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import type { ApiError } from '@/lib/api-contracts';
import { DEFAULT_PING_TIMEOUT_S, type FleetPing, type PingStatus } from '@/lib/ping-contracts';
import { apiPostRaw } from '../api-client';
import { Card, Empty } from '../ui/card';
import { Badge, type Tone } from '../ui/badge';

type PingAnswer = { ok: true; data: FleetPing } | { ok: false; error: ApiError };

const TONE: Record<PingStatus, Tone> = { pong: 'ok', error: 'warn', timeout: 'bad', no_queue: 'bad', failed: 'bad' };
const LABEL: Record<PingStatus, string> = { pong: 'pong', error: 'answered (error)', timeout: 'no reply', no_queue: 'no queue', failed: 'not sent' };

export function FleetPingCard({ topic, exchange, canFire, transport }: { topic: string; exchange: string; canFire: boolean; transport?: string }) {
  const [timeout, setTimeoutText] = useState(String(DEFAULT_PING_TIMEOUT_S));
  const ping = useMutation({
    mutationFn: async (): Promise<PingAnswer> => {
      const seconds = Number(timeout);
      const { body } = await apiPostRaw<FleetPing>('/api/ping', { topic: topic.trim(), exchange: exchange.trim() || undefined, timeout: Number.isFinite(seconds) ? seconds : undefined, transport });
      return body.ok ? { ok: true, data: body.data } : { ok: false, error: body.error };
    },
  });
  const answer = ping.data;
  const noTopic = topic.trim() === '';
  return (
    <Card title="Ping the topic's fleet" testId="fleet-ping" className="span-all">
      <div className="form-actions">
        <label className="field inline">
          <span className="field-label">timeout (s)</span>
          <input value={timeout} inputMode="decimal" size={5} onChange={(e) => setTimeoutText(e.target.value)} data-testid="ping-timeout" />
        </label>
        <button type="button" className="btn" disabled={!canFire || noTopic || ping.isPending} onClick={() => ping.mutate()} data-testid="ping-fleet">
          {ping.isPending ? 'Pinging…' : noTopic ? 'Ping every server (enter a topic above)' : `Ping every server of ${topic.trim()}`}
        </button>
        <span className="muted small">oslo_rpc_server_ping to each &lt;topic&gt;.&lt;server&gt; queue; services answer it with rpc_ping_enabled = true</span>
      </div>
      {!answer && !ping.isPending && <Empty>Servers are found from the broker&apos;s queues and the traffic seen.</Empty>}
      {answer && !answer.ok && (
        <div className="callout callout-warn" data-testid="ping-error">
          {answer.error.message}
        </div>
      )}
      {answer?.ok && <PingResult r={answer.data} />}
    </Card>
  );
}

function PingResult({ r }: { r: FleetPing }) {
  return (
    <div data-testid="ping-result" data-missing={r.missing}>
      <p>
        <Badge tone={r.missing === 0 && r.servers.length > 0 ? 'ok' : 'bad'} testId="ping-summary">
          {r.answered} of {r.servers.length} answered
        </Badge>{' '}
        <span className="muted small">
          topic {r.topic} · timeout {r.timeoutSeconds} s · queues from {r.discovery.queueSource}
        </span>
      </p>
      {r.discovery.note && <p className="muted small">{r.discovery.note}</p>}
      {r.servers.length === 0 ? (
        <Empty>No server of this topic was found.</Empty>
      ) : (
        <div className="table-scroll short" tabIndex={0} role="region" aria-label="Ping results">
          <table className="table compact">
            <thead>
              <tr>
                <th scope="col">Server</th>
                <th scope="col">Answer</th>
                <th scope="col">Latency</th>
                <th scope="col">Consumers</th>
                <th scope="col">Found in</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {r.servers.map((s) => (
                <tr key={s.server} data-testid="ping-row" data-server={s.server} data-status={s.status}>
                  <td className="mono">{s.server}</td>
                  <td>
                    <Badge tone={TONE[s.status]}>{LABEL[s.status]}</Badge>
                  </td>
                  <td className="num">{s.latencyMs === null ? '—' : `${s.latencyMs} ms`}</td>
                  <td className="num">{s.consumers ?? '—'}</td>
                  <td>{s.sources.join(', ')}</td>
                  <td className="muted small">{s.message ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
