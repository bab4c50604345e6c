'use client';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import type { DecodedMessage } from '@/lib/tap-contracts';
import type { RpcType } from '@/lib/api-contracts';
import { KindBadge } from '../ui/badge';
import { CopyButton, JsonView, safeStringify } from '../ui/json-view';
import { bytes, clockTime } from '../ui/format';
import { prefillFromMessage, replayHref, storePrefill } from '../console/prefill';
import { useFleet, withTransport } from '../hooks/use-transport';

const REPLAYABLE = new Set(['call', 'cast', 'fanout']);

/**
 * One decoded message: as the Live page's drawer (onClose set) or as the
 * `/messages/<id>` page (asPage).
 */
export function MessageDrawer({ message: m, onClose, canFire, asPage }: { message: DecodedMessage; onClose?: () => void; canFire: boolean; asPage?: boolean }) {
  const router = useRouter();
  const fleet = useFleet();
  const replay = (as: RpcType) => {
    const prefill = prefillFromMessage(m, as);
    // the form travels in the URL (a replay link works in any browser); sessionStorage as well, for bodies too long for a URL
    storePrefill(prefill);
    // in a fleet the replay goes to the transport the message was seen on
    router.push(withTransport(replayHref(prefill), fleet.several ? m.transport : null));
  };
  const body = bodyOf(m);
  const Root = asPage ? 'article' : 'aside';
  const callLink = m.msgId && (m.kind === 'call' || m.kind === 'reply' || m.kind === 'heartbeat') ? `/calls/${encodeURIComponent(m.msgId)}` : null;
  return (
    <Root className={asPage ? 'message-page card' : 'drawer'} data-testid={asPage ? 'message-page' : 'message-drawer'} data-message-id={m.id} aria-label="Message detail">
      <header className="drawer-head">
        <div>
          <KindBadge kind={m.kind} /> <strong className="mono">{m.method ?? m.eventType ?? m.routingKey}</strong>
          <div className="muted small">
            {clockTime(m.ts)} · {m.exchange || '(default exchange)'} → {m.routingKey} · {bytes(m.bytes)}
            {m.compression ? ` · ${m.compression}` : ''}
            {m.enveloped ? ' · envelope 2.0' : ' · v1 body'}
            {m.truncatedBytes !== undefined && (
              <span data-testid="message-truncated" title="Stored cut to the per-message budget: long values end with their full size">
                {` · truncated, ${m.truncatedBytes} bytes`}
              </span>
            )}
          </div>
        </div>
        {onClose && (
          <button type="button" className="btn btn-small" onClick={onClose} data-testid="drawer-close" aria-label="Close (Esc)">
            ✕
          </button>
        )}
      </header>
      <div className="drawer-actions">
        <CopyButton text={safeStringify(m)} label="Copy as JSON" testId="copy-json" />
        {!asPage && (
          <Link className="btn btn-small" href={`/messages/${encodeURIComponent(m.id)}`} data-testid="message-permalink">
            Permalink
          </Link>
        )}
        {callLink && (
          <Link className="btn btn-small" href={callLink} data-testid="message-call-link">
            {m.kind === 'call' ? 'The call and its reply' : 'The call this answers'}
          </Link>
        )}
        {REPLAYABLE.has(m.kind) && m.method && m.topic && (
          <>
            <button type="button" className="btn btn-small" disabled={!canFire || m.truncatedBytes !== undefined} title={m.truncatedBytes !== undefined ? 'Only part of this message was kept; it cannot be replayed' : canFire ? 'Open in the Console, prefilled' : 'Your role cannot fire messages'} onClick={() => replay('call')} data-testid="replay-call">
              Replay as call
            </button>
            <button type="button" className="btn btn-small" disabled={!canFire || m.truncatedBytes !== undefined} title={m.truncatedBytes !== undefined ? 'Only part of this message was kept; it cannot be replayed' : canFire ? 'Open in the Console, prefilled' : 'Your role cannot fire messages'} onClick={() => replay(m.kind === 'fanout' ? 'fanout' : 'cast')} data-testid="replay-cast">
              Replay as {m.kind === 'fanout' ? 'fanout' : 'cast'}
            </button>
          </>
        )}
      </div>
      <div className="drawer-body" tabIndex={asPage ? undefined : 0} aria-label={asPage ? undefined : 'Message content'}>
        <dl className="kv">
          {fleet.several && m.transport && <Row k="transport" v={m.transport} />}
          <Row k="target" v={[m.topic && `topic=${m.topic}`, m.server && `server=${m.server}`, m.namespace && `namespace=${m.namespace}`, m.version && `version=${m.version}`].filter(Boolean).join(', ') || '—'} />
          {m.msgId && <Row k="_msg_id" v={m.msgId} />}
          {m.replyQ && <Row k="_reply_q" v={m.replyQ} />}
          {m.uniqueId && <Row k="_unique_id" v={m.uniqueId} />}
          {m.requestId && <Row k="request_id" v={m.requestId} />}
          {m.timeoutMs !== null && <Row k="timeout (expiration)" v={`${m.timeoutMs / 1000} s`} />}
          {m.callMonitorTimeout !== null && <Row k="call_monitor_timeout" v={`${m.callMonitorTimeout} s`} />}
          {m.publisherId && <Row k="publisher_id" v={m.publisherId} />}
          {m.priority && <Row k="priority" v={m.priority} />}
          {m.ending !== null && <Row k="ending" v={String(m.ending)} />}
        </dl>
        {m.error && (
          <div className="callout callout-bad">
            Undecodable body: {m.error}
            {m.raw && <pre className="raw">{m.raw}</pre>}
          </div>
        )}
        {m.failure && (
          <section>
            <h3>Remote failure</h3>
            <p>
              <strong>{m.failure.class}</strong> <span className="muted">({m.failure.module})</span>: {m.failure.message}
            </p>
            <pre className="traceback">{m.failure.tb.join('')}</pre>
          </section>
        )}
        <section>
          <h3>{body.title}</h3>
          <JsonView value={body.value} testId="drawer-body" maxHeight={320} />
        </section>
        <section>
          <h3>Context</h3>
          <JsonView value={m.context} testId="drawer-context" maxHeight={240} />
        </section>
        <section>
          <h3>Properties</h3>
          <JsonView value={{ ...m.properties, headers: undefined }} maxHeight={200} />
        </section>
        {m.broker && <BrokerMetadata m={m} />}
        <section>
          <h3>Headers and trace</h3>
          <JsonView value={{ headers: m.properties.headers ?? {}, trace: m.trace }} testId="drawer-trace" maxHeight={260} />
        </section>
      </div>
    </Root>
  );
}

/** What RabbitMQ added to the message (never part of what the publisher sent). */
function BrokerMetadata({ m }: { m: DecodedMessage }) {
  const b = m.broker;
  if (!b) return null;
  return (
    <section data-testid="drawer-broker">
      <h3>Added by the broker</h3>
      <dl className="kv">
        {b.streamOffset !== null && <Row k="stream offset (x-stream-offset)" v={String(b.streamOffset)} />}
        {b.deliveryCount !== null && <Row k="redeliveries (x-delivery-count)" v={String(b.deliveryCount)} />}
        {b.acquiredCount !== null && <Row k="handed out (x-acquired-count)" v={String(b.acquiredCount)} />}
        {b.timestampMs !== null && <Row k="received by the broker (timestamp_in_ms)" v={new Date(b.timestampMs).toISOString()} />}
        {b.timestamp !== null && <Row k="timestamp property (interceptor)" v={new Date(b.timestamp * 1000).toISOString()} />}
        {b.routedBy !== null && <Row k="routed by (x-routed-by)" v={b.routedBy} />}
      </dl>
      {b.death && b.death.length > 0 && (
        <table className="table compact" data-testid="drawer-x-death">
          <thead>
            <tr>
              <th>dead-lettered from</th>
              <th>reason</th>
              <th className="num">count</th>
              <th>when</th>
            </tr>
          </thead>
          <tbody>
            {b.death.map((d, i) => (
              <tr key={i}>
                <td className="mono">{d.queue ?? '?'}</td>
                <td>{d.reason ?? '?'}</td>
                <td className="num">{d.count ?? ''}</td>
                <td className="mono small">{d.time !== null ? new Date(d.time).toISOString() : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Row({ k, v }: { k: string; v: string }) {
  return (
    <>
      <dt>{k}</dt>
      <dd className="mono">{v}</dd>
    </>
  );
}

function bodyOf(m: DecodedMessage): { title: string; value: unknown } {
  switch (m.kind) {
    case 'call':
    case 'cast':
    case 'fanout':
      return { title: 'Arguments', value: m.args ?? {} };
    case 'reply':
    case 'heartbeat':
      return { title: 'Result', value: m.result };
    case 'notification':
      return { title: 'Payload', value: m.payload };
    default:
      return { title: 'Body', value: m.args ?? m.payload ?? m.result ?? null };
  }
}
