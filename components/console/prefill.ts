/**
 * Handing a message from the Live page to the Console form ("replay as call /
 * cast"): the form state travels in the URL (`/console?replay=<id>&type=…`),
 * so a replay link opened in another browser fills the same form; bodies too
 * long for a URL travel through sessionStorage instead and, in a fresh
 * browser, are read back from the stored message (`/api/messages/<id>`).
 */
import { REDACTED, type DecodedMessage } from '@/lib/tap-contracts';
import type { RpcType } from '@/lib/api-contracts';
import { EMPTY_RPC_FORM, type RpcFormState } from '@/lib/rpc-form';

export interface FormPrefill extends RpcFormState {
  /** context keys dropped because the tap had redacted them */
  droppedKeys: string[];
}

const KEY = 'osloscope.console.prefill';

/** A form prefill from a decoded RPC request; redacted context values are left out. */
export function prefillFromMessage(m: DecodedMessage, as: RpcType): FormPrefill {
  const context: Record<string, unknown> = {};
  const droppedKeys: string[] = [];
  for (const [k, v] of Object.entries(m.context ?? {})) {
    if (v === REDACTED) droppedKeys.push(k);
    else context[k] = v;
  }
  const isFanoutExchange = m.exchange.endsWith('_fanout');
  return {
    type: as,
    exchange: isFanoutExchange ? '' : m.exchange,
    topic: m.topic ?? '',
    server: as === 'fanout' ? '' : (m.server ?? ''),
    namespace: m.namespace ?? '',
    version: m.version ?? '',
    method: m.method ?? '',
    args: JSON.stringify(m.args ?? {}, null, 2),
    context: Object.keys(context).length > 0 ? JSON.stringify(context, null, 2) : '',
    timeout: as === 'call' && m.timeoutMs ? String(m.timeoutMs / 1000) : '',
    callMonitorTimeout: as === 'call' && m.callMonitorTimeout ? String(m.callMonitorTimeout) : '',
    replayOf: m.id,
    droppedKeys,
  };
}

/** Form fields and their URL parameter names. */
const PARAMS: [keyof RpcFormState, string][] = [
  ['type', 'type'],
  ['exchange', 'exchange'],
  ['topic', 'topic'],
  ['server', 'server'],
  ['namespace', 'namespace'],
  ['version', 'version'],
  ['method', 'method'],
  ['args', 'args'],
  ['context', 'context'],
  ['timeout', 'timeout'],
  ['callMonitorTimeout', 'call_monitor_timeout'],
];

/** Longest args + context text carried in a replay URL; longer bodies are fetched by message id. */
export const MAX_URL_BODY = 6000;

/** `/console?replay=<id>&type=…&args=…`: the whole form, when it fits. */
export function replayHref(p: FormPrefill): string {
  const q = new URLSearchParams();
  q.set('replay', p.replayOf);
  const fits = p.args.length + p.context.length <= MAX_URL_BODY;
  for (const [field, name] of PARAMS) {
    if (!fits && (field === 'args' || field === 'context')) continue;
    const v = p[field];
    if (v) q.set(name, v);
  }
  if (p.droppedKeys.length > 0) q.set('dropped', p.droppedKeys.join(','));
  return `/console?${q.toString()}`;
}

/** The form a replay URL carries; null when the URL names no form (only `replay=<id>`, or nothing). */
export function prefillFromParams(params: URLSearchParams): FormPrefill | null {
  const replayOf = params.get('replay') ?? '';
  if (!params.get('topic') && !params.get('method')) return null;
  const type = params.get('type');
  const state: FormPrefill = {
    ...EMPTY_RPC_FORM,
    type: type === 'cast' || type === 'fanout' ? type : 'call',
    replayOf,
    droppedKeys: (params.get('dropped') ?? '').split(',').filter(Boolean).slice(0, 100),
  };
  for (const [field, name] of PARAMS) {
    if (field === 'type') continue;
    const v = params.get(name);
    if (v !== null) (state as unknown as Record<string, string>)[field] = v.slice(0, 1_000_000);
  }
  return state;
}

/** true when the URL carries the form but not its body (too long for a URL): the body comes from the message. */
export function paramsLackBody(params: URLSearchParams): boolean {
  return params.get('replay') !== null && params.get('args') === null;
}

export function storePrefill(p: FormPrefill): void {
  sessionStorage.setItem(KEY, JSON.stringify(p));
}

export function takePrefill(): FormPrefill | null {
  const text = sessionStorage.getItem(KEY);
  if (!text) return null;
  sessionStorage.removeItem(KEY);
  try {
    return JSON.parse(text) as FormPrefill;
  } catch {
    return null;
  }
}
