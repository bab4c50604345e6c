/**
 * Handing a message from the Live page to the Console form ("replay as call /
 * cast"): the form state travels through sessionStorage, the URL only says
 * which message it replays.
 */
import { REDACTED, type DecodedMessage } from '@/lib/tap-contracts';
import type { RpcType } from '@/lib/api-contracts';
import type { RpcFormState } from '@/lib/rpc-form';

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
