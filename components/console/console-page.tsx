'use client';
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { useSearchParams } from 'next/navigation';
import { EMPTY_RPC_FORM, validateRpcForm, type RpcFormField, type RpcFormState } from '@/lib/rpc-form';
import { topicWarning } from '@/lib/rpc-targets';
import type { FireRecord } from '@/lib/api-contracts';
import { REDACTED } from '@/lib/tap-contracts';
import { useFire, useFireHistory, type FireAnswer } from '../hooks/use-fire';
import { useSession } from '../hooks/use-session';
import { useStatus } from '../hooks/use-status';
import { useKnownTargets } from '../hooks/use-targets';
import { Card, Empty } from '../ui/card';
import { Badge } from '../ui/badge';
import { JsonView } from '../ui/json-view';
import { clockTime } from '../ui/format';
import { formatDuration } from '@/lib/series';
import { paramsLackBody, prefillFromMessage, prefillFromParams, takePrefill, type FormPrefill } from './prefill';
import { apiGet } from '../api-client';
import type { RpcType } from '@/lib/api-contracts';
import type { DecodedMessage } from '@/lib/tap-contracts';
import { TimeoutCause } from './timeout-cause';
import { FleetPingCard } from './fleet-ping';
import { useFleet } from '../hooks/use-transport';

export function ConsolePage() {
  const params = useSearchParams();
  const [form, setForm] = useState<RpcFormState>(EMPTY_RPC_FORM);
  const [touched, setTouched] = useState<Partial<Record<RpcFormField, boolean>>>({});
  const [submitted, setSubmitted] = useState(false);
  const [dropped, setDropped] = useState<string[]>([]);
  const [answer, setAnswer] = useState<FireAnswer | null>(null);
  const [replayError, setReplayError] = useState<string | null>(null);
  const fire = useFire();
  const session = useSession();
  const status = useStatus();
  const controlExchange = status.data?.transport.controlExchange ?? 'openstack';
  const canFire = session.data?.canFire ?? false;
  // a fleet of several: the transport to fire on, the page's choice unless changed here (required)
  const fleet = useFleet();
  const [transport, setTransport] = useState(fleet.choice ?? '');
  useEffect(() => setTransport(fleet.choice ?? ''), [fleet.choice]);
  const transportError = fleet.several && !transport ? 'Choose the transport (broker) to fire on' : undefined;
  const firedOn = fleet.several ? transport || undefined : undefined;
  const known = useKnownTargets(fleet.several ? transport || null : undefined);
  // suggestions from observed traffic: servers and methods of the topic typed so far, when there are some
  const ofTopic = <T extends { topic: string | null }>(list: T[]) => (form.topic ? list.filter((x) => x.topic === form.topic) : list);
  const suggestedServers = [...new Set(ofTopic(known.servers).map((s) => s.server))];
  const suggestedMethods = [...new Set(ofTopic(known.methods).map((m) => m.method))];
  const demo = status.data?.transport.demoFleet ?? false;
  // a notification topic (or a reply queue, a fanout name) has no RPC server: warned about, and fired only when pressed again
  const warning = topicWarning(form.topic, known);
  const [warnedTopic, setWarnedTopic] = useState<string | null>(null);
  const confirmed = warning !== null && warnedTopic === form.topic;

  useEffect(() => {
    const replayOf = params.get('replay');
    if (!replayOf) {
      // a prefilled target without a message to replay (Broker and Overview link a server to its ping)
      const fromUrl = prefillFromParams(new URLSearchParams(params.toString()));
      if (fromUrl) {
        const { droppedKeys: _dropped, ...rest } = fromUrl;
        setForm({ ...EMPTY_RPC_FORM, ...rest });
      }
      return;
    }
    const apply = (p: FormPrefill) => {
      const { droppedKeys, ...rest } = p;
      setForm({ ...EMPTY_RPC_FORM, ...rest });
      setDropped(droppedKeys);
      setAnswer(null);
      setSubmitted(false);
    };
    // this browser's hand-over first (it holds bodies too long for a URL), then the URL, then the stored message
    const stored = takePrefill();
    if (stored && stored.replayOf === replayOf) return apply(stored);
    const fromUrl = prefillFromParams(new URLSearchParams(params.toString()));
    if (fromUrl && !paramsLackBody(new URLSearchParams(params.toString()))) return apply(fromUrl);
    let cancelled = false;
    apiGet<DecodedMessage>(`/api/messages/${encodeURIComponent(replayOf)}`)
      .then((m) => {
        if (cancelled) return;
        const as = params.get('type') === 'cast' || params.get('type') === 'fanout' ? (params.get('type') as RpcType) : 'call';
        apply(prefillFromMessage(m, as));
      })
      .catch((err: Error) => {
        if (cancelled) return;
        if (fromUrl) apply(fromUrl);
        setReplayError(`Message ${replayOf} could not be read back (${err.message}); fill in its arguments by hand.`);
      });
    return () => {
      cancelled = true;
    };
  }, [params]);

  const validation = useMemo(() => validateRpcForm(form), [form]);
  const errors = validation.ok ? {} : validation.errors;
  const shown = (f: RpcFormField) => (submitted || touched[f] ? errors[f] : undefined);
  const set = (f: keyof RpcFormState, v: string) => setForm((s) => ({ ...s, [f]: v }));
  const touch = (f: RpcFormField) => setTouched((t) => ({ ...t, [f]: true }));

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (!validation.ok || transportError || !canFire || fire.isPending) return;
    if (warning && !confirmed) {
      setWarnedTopic(form.topic);
      return;
    }
    setAnswer(null);
    const a = await fire.mutateAsync(firedOn ? { ...validation.request, transport: firedOn } : validation.request);
    setAnswer(a);
  };

  const isCall = form.type === 'call';
  return (
    <div className="page console" data-testid="console-page">
      <Card title="Fire a message" testId="fire-card">
        {!canFire && session.data && (
          <div className="callout callout-warn" data-testid="cannot-fire">
            {session.data.readOnly ? 'osloscope runs read-only (READ_ONLY=1): firing is disabled.' : `Your role (${session.data.role}) can watch but not fire messages.`}
          </div>
        )}
        {form.replayOf && (
          <div className="note" data-testid="replay-note">
            Replaying message {form.replayOf}.{dropped.length > 0 && ` Redacted context keys left out: ${dropped.join(', ')}.`}
          </div>
        )}
        {replayError && (
          <div className="callout callout-warn" data-testid="replay-error">
            {replayError}
          </div>
        )}
        <form onSubmit={submit} noValidate data-testid="fire-form">
          <div className="segmented" role="radiogroup" aria-label="Type">
            {(['call', 'cast', 'fanout'] as const).map((t) => (
              <label key={t} className={form.type === t ? 'active' : ''} data-testid={`type-${t}`}>
                <input type="radio" name="type" value={t} checked={form.type === t} onChange={() => set('type', t)} />
                {t}
              </label>
            ))}
            <span className="muted small">
              {form.type === 'call' ? 'waits for the result' : form.type === 'cast' ? 'one server of the topic, no reply' : 'every server of the topic, no reply'}
            </span>
          </div>
          <div className="form-grid">
            {fleet.several && (
              <Field label="Transport" required error={submitted ? transportError : undefined} hint={transport ? fleet.transports.find((t) => t.name === transport)?.url : 'the broker it is sent on'}>
                <select value={transport} onChange={(e) => setTransport(e.target.value)} data-testid="field-transport">
                  <option value="">choose…</option>
                  {fleet.transports.map((t) => (
                    <option key={t.name} value={t.name}>
                      {t.name} ({t.state})
                    </option>
                  ))}
                  {transport && !fleet.transports.some((t) => t.name === transport) && <option value={transport}>{transport} (unknown)</option>}
                </select>
              </Field>
            )}
            <Field label="Exchange" error={shown('exchange')} hint={`default: ${controlExchange}`}>
              <input value={form.exchange} placeholder={controlExchange} list="console-exchanges" onChange={(e) => set('exchange', e.target.value)} onBlur={() => touch('exchange')} data-testid="field-exchange" disabled={form.type === 'fanout'} />
            </Field>
            <Field label="Topic" required error={shown('topic')}>
              <input value={form.topic} placeholder={known.topics[0] ?? (demo ? 'compute' : 'a topic, e.g. conductor')} list="console-topics" onChange={(e) => set('topic', e.target.value)} onBlur={() => touch('topic')} data-testid="field-topic" />
            </Field>
            <Field label="Server" error={shown('server')} hint={form.type === 'fanout' ? 'a fanout reaches every server' : 'empty: any server of the topic'}>
              <input value={form.type === 'fanout' ? '' : form.server} placeholder={suggestedServers[0] ?? (demo ? 'compute-01' : '(any server of the topic)')} list="console-servers" onChange={(e) => set('server', e.target.value)} onBlur={() => touch('server')} data-testid="field-server" disabled={form.type === 'fanout'} />
            </Field>
            <Field label="Namespace" error={shown('namespace')}>
              <input value={form.namespace} placeholder="(none)" onChange={(e) => set('namespace', e.target.value)} onBlur={() => touch('namespace')} data-testid="field-namespace" />
            </Field>
            <Field label="Version" error={shown('version')}>
              <input value={form.version} placeholder="1.0" onChange={(e) => set('version', e.target.value)} onBlur={() => touch('version')} data-testid="field-version" />
            </Field>
            <Field label="Method" required error={shown('method')}>
              <input value={form.method} placeholder={suggestedMethods[0] ?? (demo ? 'get_host_uptime' : 'a method of the topic')} list="console-methods" onChange={(e) => set('method', e.target.value)} onBlur={() => touch('method')} data-testid="field-method" />
            </Field>
            <Field label="Timeout (s)" error={shown('timeout')} hint={isCall ? `default: rpc_response_timeout` : 'calls only'}>
              <input value={isCall ? form.timeout : ''} inputMode="decimal" placeholder="60" onChange={(e) => set('timeout', e.target.value)} onBlur={() => touch('timeout')} data-testid="field-timeout" disabled={!isCall} />
            </Field>
            <Field label="call_monitor_timeout (s)" error={shown('callMonitorTimeout')} hint={isCall ? 'heartbeats from the server' : 'calls only'}>
              <input value={isCall ? form.callMonitorTimeout : ''} inputMode="decimal" placeholder="(off)" onChange={(e) => set('callMonitorTimeout', e.target.value)} onBlur={() => touch('callMonitorTimeout')} data-testid="field-call-monitor-timeout" disabled={!isCall} />
            </Field>
          </div>
          <div className="form-grid-2">
            <Field label="args (JSON object)" error={shown('args')}>
              <textarea value={form.args} rows={7} spellCheck={false} onChange={(e) => set('args', e.target.value)} onBlur={() => touch('args')} data-testid="field-args" />
            </Field>
            <Field label="context (JSON object)" error={shown('context')} hint="sent as _context_* keys; never logged">
              <textarea value={form.context} rows={7} spellCheck={false} placeholder='{"request_id": "req-…", "user_id": "…"}' onChange={(e) => set('context', e.target.value)} onBlur={() => touch('context')} data-testid="field-context" />
            </Field>
          </div>
          {warning && (
            <div className="callout callout-warn" role="alert" data-testid="topic-warning" data-reason={warning.reason}>
              <strong>No RPC server behind this topic.</strong> {warning.text}
              {confirmed ? ' Nothing was sent: press the button again to fire anyway.' : ''}
            </div>
          )}
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={!canFire || fire.isPending} data-testid="fire-submit">
              {fire.isPending ? (isCall ? 'Waiting for the reply…' : 'Sending…') : `Fire ${form.type}${confirmed ? ' anyway' : ''}`}
            </button>
            <button
              type="button"
              className="btn"
              onClick={() => {
                setForm(EMPTY_RPC_FORM);
                setTouched({});
                setSubmitted(false);
                setDropped([]);
              }}
            >
              Clear
            </button>
            {submitted && (!validation.ok || transportError) && (
              <span className="text-bad" data-testid="form-invalid">
                Fix the highlighted fields; nothing was sent.
              </span>
            )}
          </div>
          <datalist id="console-exchanges" data-testid="suggest-exchanges">
            {known.exchanges.map((x) => (
              <option key={x} value={x} />
            ))}
          </datalist>
          <datalist id="console-topics" data-testid="suggest-topics">
            {known.topics.map((x) => (
              <option key={x} value={x} />
            ))}
          </datalist>
          <datalist id="console-servers" data-testid="suggest-servers">
            {suggestedServers.map((x) => (
              <option key={x} value={x} />
            ))}
          </datalist>
          <datalist id="console-methods" data-testid="suggest-methods">
            {suggestedMethods.map((x) => (
              <option key={x} value={x} />
            ))}
          </datalist>
        </form>
      </Card>

      <Card title="Result" testId="result-card">
        {fire.isPending && <div className="muted">{isCall ? 'Waiting for the reply…' : 'Sending…'}</div>}
        {!fire.isPending && !answer && <Empty>Fire a message to see its result here.</Empty>}
        {answer && <ResultPanel answer={answer} />}
      </Card>

      <FleetPingCard topic={form.topic} exchange={form.type === 'fanout' ? '' : form.exchange} canFire={canFire} transport={firedOn} />

      <History
        onLoad={(r) => {
          setForm(formFromRecord(r));
          if (fleet.several && r.transport) setTransport(r.transport);
        }}
      />
    </div>
  );
}

function Field({ label, error, hint, required, children }: { label: string; error?: string; hint?: string; required?: boolean; children: ReactNode }) {
  return (
    <label className={`field${error ? ' has-error' : ''}`}>
      <span className="field-label">
        {label}
        {required && <span className="req"> *</span>}
      </span>
      {children}
      {error ? (
        <span className="field-error" role="alert" data-testid="field-error">
          {error}
        </span>
      ) : (
        hint && <span className="field-hint">{hint}</span>
      )}
    </label>
  );
}

export function ResultPanel({ answer }: { answer: FireAnswer }) {
  if (answer.ok) {
    const d = answer.data;
    return (
      <div data-testid="result-ok" data-outcome="ok">
        <p>
          <Badge tone="ok">{d.type === 'call' ? 'result' : 'sent'}</Badge> in <strong data-testid="result-elapsed">{formatDuration(d.elapsedMs)}</strong> · {d.exchange} → {d.routingKey}
          {d.msgId && (
            <>
              {' '}
              · msg_id <code>{d.msgId}</code>
            </>
          )}
        </p>
        {d.type === 'call' ? <JsonView value={d.result} testId="result-value" maxHeight={360} /> : <p className="muted">A {d.type} gets no reply; the broker confirmed the publish.</p>}
      </div>
    );
  }
  const e = answer.error;
  return (
    <div data-testid="result-error" data-outcome={e.code}>
      <p>
        <Badge tone="bad">{e.code === 'remote_error' ? 'remote exception' : e.code}</Badge>
        {e.elapsedMs !== undefined && <> after {formatDuration(e.elapsedMs)}</>}
        {e.msgId && (
          <>
            {' '}
            · msg_id <code>{e.msgId}</code>
          </>
        )}
      </p>
      {e.class ? (
        <p className="error-title" data-testid="remote-class">
          <strong>{e.class}</strong>
          {e.module && <span className="muted"> ({e.module})</span>}
        </p>
      ) : null}
      <p data-testid="error-message">{e.message}</p>
      {e.code === 'timeout' && e.msgId && <TimeoutCause msgId={e.msgId} />}
      {e.fields && (
        <ul>
          {Object.entries(e.fields).map(([k, v]) => (
            <li key={k}>
              <code>{k}</code>: {v}
            </li>
          ))}
        </ul>
      )}
      {e.traceback && e.traceback.length > 0 && (
        <>
          <h3>Remote traceback</h3>
          <pre className="traceback" data-testid="remote-traceback">
            {e.traceback.join('')}
          </pre>
        </>
      )}
    </div>
  );
}

function History({ onLoad }: { onLoad: (r: FireRecord) => void }) {
  const history = useFireHistory();
  const rows = history.data ?? [];
  const several = useFleet().several;
  return (
    <Card title="History" testId="fire-history" className="span-all">
      {rows.length === 0 ? (
        <Empty>No message fired yet.</Empty>
      ) : (
        <div className="table-scroll short">
          <table className="table compact">
            <thead>
              <tr>
                <th>Time</th>
                <th>User</th>
                <th>Type</th>
                {several && <th>Transport</th>}
                <th>Target</th>
                <th>Method</th>
                <th>Outcome</th>
                <th className="num">Took</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-testid="history-row" data-outcome={r.outcome}>
                  <td className="mono nowrap">{clockTime(r.at)}</td>
                  <td>{r.user}</td>
                  <td>
                    {r.type}
                    {r.replayOf && <span className="muted"> (replay)</span>}
                  </td>
                  {several && <td className="transport-tag">{r.transport ?? ''}</td>}
                  <td className="mono">
                    {r.target.exchange}:{r.target.topic}
                    {r.target.server ? `.${r.target.server}` : ''}
                  </td>
                  <td className="mono">{r.method}</td>
                  <td>
                    <Badge tone={r.outcome === 'ok' ? 'ok' : r.outcome === 'timeout' ? 'warn' : 'bad'}>{r.outcome === 'ok' ? 'ok' : (r.error?.class ?? r.outcome)}</Badge>
                  </td>
                  <td className="num">{formatDuration(r.elapsedMs)}</td>
                  <td>
                    <button type="button" className="btn btn-small" onClick={() => onLoad(r)}>
                      Load
                    </button>
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

function withoutRedacted(v: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries((v as Record<string, unknown>) ?? {})) if (x !== REDACTED) out[k] = x;
  return out;
}

function formFromRecord(r: FireRecord): RpcFormState {
  const t = r.target;
  const ctxt = withoutRedacted(r.context);
  return {
    type: r.type,
    exchange: r.type === 'fanout' ? '' : t.exchange,
    topic: t.topic,
    server: t.server ?? '',
    namespace: t.namespace ?? '',
    version: t.version ?? '',
    method: r.method,
    args: JSON.stringify(r.args ?? {}, null, 2),
    context: Object.keys(ctxt).length > 0 ? JSON.stringify(ctxt, null, 2) : '',
    timeout: r.timeout === null ? '' : String(r.timeout),
    callMonitorTimeout: r.callMonitorTimeout === null ? '' : String(r.callMonitorTimeout),
    replayOf: '',
  };
}
