'use client';
import { useState } from 'react';
import type { TapStatus } from '@/lib/tap-contracts';
import { apiPost, ApiRequestError } from '../api-client';
import { useSession } from '../hooks/use-session';
import { Card } from '../ui/card';
import { Badge } from '../ui/badge';
import { useTransportChoice, withTransport } from '../hooks/use-transport';

/** What the tap can and cannot see, said plainly, with how to see more. */
export function TapVisibility({ tap, stale }: { tap: TapStatus | null; stale: boolean }) {
  if (!tap) {
    return (
      <Card title="What osloscope sees" stale={stale} testId="tap-visibility">
        <p>
          The tap is <strong>off</strong> (TAP_MODE=off): no traffic is observed. Firing messages from the Console still works.
        </p>
      </Card>
    );
  }
  const vhost = tap.vhost || '/';
  return (
    <Card title="What osloscope sees" stale={stale} testId="tap-visibility">
      <p>
        Mode <Badge tone={tap.mode === 'firehose' ? 'ok' : tap.mode === 'bindings' ? 'warn' : 'muted'}>{tap.mode}</Badge>{' '}
        {tap.requestedMode === 'auto' && <span className="muted">(chosen automatically)</span>} · state <Badge tone={tap.state === 'running' ? 'ok' : tap.state === 'error' ? 'bad' : 'warn'}>{tap.state}</Badge>
      </p>
      {tap.mode === 'firehose' && (
        <p data-testid="tap-sees-replies">Sees every publish and delivery on vhost {vhost}: calls, casts, fanouts, notifications and replies, so calls are followed to their reply and stuck calls get a precise cause.</p>
      )}
      {tap.mode === 'bindings' && (
        <div className="callout callout-warn" data-testid="tap-no-replies">
          <p>
            <strong>Replies are invisible in bindings mode.</strong> osloscope sees calls, casts, fanouts and notifications through its own queues bound to the
            exchanges, but oslo sends replies through the default exchange, which cannot be bound. Calls therefore never show their reply here, latencies are
            unknown, and stuck-call causes are weaker.
          </p>
          <p>
            To see replies, turn on RabbitMQ&apos;s firehose for the vhost and use firehose mode:
            <br />
            <code>rabbitmqctl trace_on -p {vhost}</code>
            <br />
            then restart osloscope with <code>TAP_MODE=firehose</code> (or <code>auto</code>, which picks the firehose when tracing is on). The firehose costs
            the broker some throughput; <code>rabbitmqctl trace_off -p {vhost}</code> turns it off again.
          </p>
          {/* tracing is per node: on a cluster with tracing on some nodes only, or a refused FIREHOSE_ENABLE, say so */}
          {tap.hint && /^(Firehose:|Could not turn)/.test(tap.hint) && <p data-testid="tap-firehose-coverage">{tap.hint.split(' Bindings mode:')[0]}</p>}
          {tap.firehose.canEnable && <EnableFirehose />}
        </div>
      )}
      {tap.error && <p className="text-bad">Tap error: {tap.error}</p>}
      {tap.hint && tap.mode !== 'bindings' && <p className="muted">{tap.hint}</p>}
      <p className="muted small">
        {tap.mode === 'firehose' ? `Tracing vhost ${vhost}` : `Tapping ${tap.tappedExchanges.length} exchange${tap.tappedExchanges.length === 1 ? '' : 's'} and ${tap.fanoutExchanges.length} fanout exchange${tap.fanoutExchanges.length === 1 ? '' : 's'}`} · {tap.counters.received} received · {tap.counters.undecodable} undecodable · {tap.counters.dropped} dropped
      </p>
    </Card>
  );
}

function EnableFirehose() {
  const session = useSession();
  // the chosen transport's tap (the server asks which one when there are several and none is chosen)
  const { choice } = useTransportChoice();
  const [state, setState] = useState<'idle' | 'busy' | 'done' | string>('idle');
  if (!session.data?.canFire) return null;
  return (
    <p>
      <button
        type="button"
        className="btn btn-small"
        data-testid="enable-firehose"
        disabled={state === 'busy' || state === 'done'}
        onClick={async () => {
          setState('busy');
          try {
            await apiPost(withTransport('/api/tap/firehose', choice), {});
            setState('done');
          } catch (err) {
            setState(err instanceof ApiRequestError ? err.message : 'failed');
          }
        }}
      >
        Turn the firehose on now
      </button>{' '}
      {state !== 'idle' && state !== 'busy' && state !== 'done' && <span className="text-bad">{state}</span>}
      {state === 'done' && <span className="muted">Tracing is on; the tap switched to firehose mode.</span>}
    </p>
  );
}
