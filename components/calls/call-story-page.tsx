'use client';
import Link from 'next/link';
import type { CallRecord, DecodedMessage } from '@/lib/tap-contracts';
import { formatDuration, timelineRows } from '@/lib/series';
import { Card, Empty } from '../ui/card';
import { Badge, KindBadge } from '../ui/badge';
import { JsonView } from '../ui/json-view';
import { CAUSE_LABELS, clockTime } from '../ui/format';
import { useCallStory } from '../search/history-hooks';
import { causeAdvice } from './cause-advice';
import { callerLabel, StateBadge } from './call-labels';
import { useFleet } from '../hooks/use-transport';

/** `/calls/<msgId>`: everything known about one call, from the store and the tap's memory. */
export function CallStoryPage({ msgId }: { msgId: string }) {
  const story = useCallStory(msgId);
  if (story.isPending) {
    return (
      <div className="page call-story" data-testid="call-page" data-loading="true">
        <h1 className="page-title">Call {msgId}</h1>
        <Empty>Loading…</Empty>
      </div>
    );
  }
  if (!story.data) {
    const err = story.error as { status?: number; message?: string } | null;
    return (
      <div className="page call-story" data-testid="call-page" data-found="false">
        <h1 className="page-title">Call {msgId}</h1>
        <div className="callout callout-warn" data-testid="call-not-found">
          {err?.status === 404
            ? `No call with msg_id ${msgId} is known: neither the tap's memory nor the history store holds it (it may be older than the retention, or was never seen by this osloscope).`
            : `The call could not be loaded: ${err?.message ?? 'unknown error'}`}
        </div>
        <p>
          <Link href={`/search?q=${encodeURIComponent(msgId)}`}>Search for {msgId}</Link>
        </p>
      </div>
    );
  }
  const { call: c, messages, related } = story.data;
  return <CallStory call={c} messages={messages} related={related} />;
}

function CallStory({ call: c, messages, related }: { call: CallRecord; messages: DecodedMessage[]; related: CallRecord[] }) {
  const fleet = useFleet();
  const advice = causeAdvice(c);
  const request = messages.find((m) => m.kind === 'call' && m.msgId === c.msgId) ?? null;
  const replies = messages.filter((m) => m.kind === 'reply');
  const reply = replies.length > 0 ? replies[replies.length - 1] : null;
  const heartbeats = messages.filter((m) => m.kind === 'heartbeat');
  const globalRequestId = typeof request?.context.global_request_id === 'string' ? request.context.global_request_id : (c.globalRequestId ?? null);
  const rows = timelineRows(c);
  const unobservable = c.outcome === 'unobserved' || (!c.cause && c.state !== 'done' && c.causeCertain === false);
  return (
    <div className="page call-story" data-testid="call-page" data-found="true" data-state={c.state} data-cause={c.cause ?? ''} data-msg-id={c.msgId}>
      <header className="story-head">
        <h1 className="page-title">
          <span className="mono">{c.method}</span> <span className="muted">→ {c.target.topic ?? c.target.routingKey}{c.target.server ? `.${c.target.server}` : ''}</span>
        </h1>
        <div className="story-badges">
          <StateBadge call={c} />
          <span className="muted small mono">msg_id {c.msgId}</span>
        </div>
      </header>

      {advice && c.cause && (
        <section className={`callout ${c.causeCertain ? 'callout-bad' : 'callout-warn'}`} data-testid="call-cause-words" aria-label="Cause">
          <p>
            <strong data-testid="call-cause-label">{CAUSE_LABELS[c.cause] ?? c.cause}</strong>
            {!c.causeCertain && c.indistinguishable.length > 1 && (
              <span className="muted"> (or {c.indistinguishable.filter((x) => x !== c.cause).map((x) => CAUSE_LABELS[x] ?? x).join(' / ')}: the tap cannot tell them apart without the firehose)</span>
            )}
            : {advice.what}
          </p>
          {c.causeDetail && <p className="small">{c.causeDetail}</p>}
          <p className="small">What to check next:</p>
          <ul className="small" data-testid="call-next-steps">
            {advice.next.map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
        </section>
      )}
      {!c.cause && c.outcome === 'failure' && c.failure && (
        <section className="callout callout-warn" data-testid="call-failure">
          The server answered with an exception: <strong>{c.failure.class}</strong> ({c.failure.module}): {c.failure.message}
        </section>
      )}
      {unobservable && !c.cause && (
        <section className="note" data-testid="call-unobservable">
          Sent, reply not observable: in bindings mode replies travel where the tap cannot see them, so the outcome is unknown (not a fault).
        </section>
      )}

      <div className="grid-2">
        <Card title="Who and where" testId="call-summary">
          <dl className="kv">
            {fleet.several && c.transport && (
              <>
                <dt>transport</dt>
                <dd className="mono" data-testid="call-transport">
                  {c.transport}
                </dd>
              </>
            )}
            <dt>target</dt>
            <dd className="mono" data-testid="call-target">
              exchange={c.target.exchange} topic={c.target.topic ?? '—'} server={c.target.server ?? '(any)'}
              {c.target.namespace ? ` namespace=${c.target.namespace}` : ''}
              {c.target.version ? ` version=${c.target.version}` : ''}
            </dd>
            <dt>caller</dt>
            <dd className="mono" data-testid="call-caller">
              {callerLabel(c)}
              {c.caller.connectionName && c.caller.connectionName !== c.caller.process ? ` (${c.caller.connectionName})` : ''}
            </dd>
            <dt>reply queue</dt>
            <dd className="mono">{c.caller.replyQ ?? '—'}</dd>
            <dt>server process</dt>
            <dd className="mono" data-testid="call-server-process">
              {c.serverProcess ?? (c.state === 'done' || c.cause ? 'not seen (no delivery observed)' : 'not delivered yet')}
            </dd>
            <dt>request_id</dt>
            <dd className="mono">{c.requestId ? <Link href={`/live?request_id=${encodeURIComponent(c.requestId)}`}>{c.requestId}</Link> : '—'}</dd>
            <dt>global_request_id</dt>
            <dd className="mono">{globalRequestId ?? '—'}</dd>
            <dt>published</dt>
            <dd>{new Date(c.publishedAt).toISOString()}</dd>
            <dt>timeout</dt>
            <dd>
              {formatDuration(c.timeoutMs)}
              {c.timeoutSource === 'default' ? ' (assumed: rpc_response_timeout)' : ' (expiration)'}
              {c.callMonitorTimeout !== null ? ` · call monitor ${c.callMonitorTimeout} s, ${c.heartbeats} heartbeat${c.heartbeats === 1 ? '' : 's'}` : ''}
            </dd>
            <dt>latency</dt>
            <dd>{c.latencyMs !== null ? formatDuration(c.latencyMs) : '—'}</dd>
          </dl>
        </Card>
        <Card title="Timeline" testId="call-timeline-card">
          {rows.length === 0 ? (
            <Empty>No step recorded.</Empty>
          ) : (
            <ol className="timeline story-timeline" data-testid="call-timeline">
              {rows.map((r, i) => (
                <li key={i} data-event={r.event}>
                  <span className="tl-offset mono">+{formatDuration(r.offsetMs)}</span>
                  <span className="tl-event">{r.event.replace(/_/g, ' ')}</span>
                  <span className="tl-detail">{r.detail}</span>
                </li>
              ))}
            </ol>
          )}
          <p className="muted small">
            published {clockTime(c.publishedAt)} · deadline {clockTime(c.deadline)}
          </p>
        </Card>
      </div>

      <div className="grid-2">
        <Card title="Request" testId="call-request">
          {request ? (
            <>
              <p className="small">
                <Link href={`/messages/${encodeURIComponent(request.id)}`} data-testid="call-request-link">
                  message {request.id}
                </Link>{' '}
                · {clockTime(request.ts)}
              </p>
              <JsonView value={request.args ?? {}} testId="call-request-body" maxHeight={320} />
            </>
          ) : (
            <Empty>The request message is no longer kept.</Empty>
          )}
        </Card>
        <Card title="Reply" testId="call-reply">
          {reply ? (
            <>
              <p className="small">
                <Link href={`/messages/${encodeURIComponent(reply.id)}`} data-testid="call-reply-link">
                  message {reply.id}
                </Link>{' '}
                · {clockTime(reply.ts)}
                {heartbeats.length > 0 ? ` · after ${heartbeats.length} heartbeat${heartbeats.length === 1 ? '' : 's'}` : ''}
              </p>
              {reply.failure ? (
                <>
                  <p>
                    <strong>{reply.failure.class}</strong> <span className="muted">({reply.failure.module})</span>: {reply.failure.message}
                  </p>
                  <pre className="traceback" tabIndex={0} aria-label="Remote traceback">
                    {reply.failure.tb.join('')}
                  </pre>
                </>
              ) : (
                <JsonView value={reply.result} testId="call-reply-body" maxHeight={320} />
              )}
            </>
          ) : (
            <Empty>{c.outcome === 'unobserved' ? 'Sent, reply not observable (bindings mode).' : 'No reply seen.'}</Empty>
          )}
        </Card>
      </div>

      <Card title={`Messages of this call (${messages.length})`} testId="call-messages">
        {messages.length === 0 ? (
          <Empty>None kept.</Empty>
        ) : (
          <ul className="plain-list">
            {messages.map((m) => (
              <li key={m.id}>
                <KindBadge kind={m.kind} /> <Link href={`/messages/${encodeURIComponent(m.id)}`}>{clockTime(m.ts)}</Link>{' '}
                <span className="muted small mono">
                  {m.exchange || '(default)'} → {m.routingKey}
                  {m.trace ? ` · ${m.trace.event}${m.trace.queue ? ` from ${m.trace.queue}` : ''}${m.trace.routedQueues ? ` to ${m.trace.routedQueues.join(', ') || 'no queue'}` : ''}` : ''}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Card>

      <Card title={`Other calls of the same request (${related.length})`} testId="call-related">
        {related.length === 0 ? (
          <Empty>{c.requestId || globalRequestId ? 'No other call carries this request_id or global_request_id.' : 'This call carries no request_id.'}</Empty>
        ) : (
          <ul className="plain-list">
            {related.map((r) => (
              <li key={r.msgId} data-testid="related-call">
                <Link href={`/calls/${encodeURIComponent(r.msgId)}`} className="mono">
                  {r.method}
                </Link>{' '}
                <span className="muted small">
                  → {r.target.topic ?? r.target.routingKey}
                  {r.target.server ? `.${r.target.server}` : ''} · {clockTime(r.publishedAt)}
                </span>{' '}
                <StateBadge call={r} />
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}
