/**
 * The Console form as plain strings, and its translation into a validated
 * RpcRequest with one message per form field. The same schema checks the
 * request again on the server.
 */
import { fieldErrors, rpcRequestSchema, type RpcRequest, type RpcType } from './api-contracts.ts';

export interface RpcFormState {
  type: RpcType;
  exchange: string;
  topic: string;
  server: string;
  namespace: string;
  version: string;
  method: string;
  /** JSON text */
  args: string;
  /** JSON text, may be blank */
  context: string;
  /** seconds as text, may be blank */
  timeout: string;
  callMonitorTimeout: string;
  replayOf: string;
}

export const EMPTY_RPC_FORM: RpcFormState = {
  type: 'call',
  exchange: '',
  topic: '',
  server: '',
  namespace: '',
  version: '',
  method: '',
  args: '{}',
  context: '',
  timeout: '',
  callMonitorTimeout: '',
  replayOf: '',
};

export type RpcFormField = keyof Omit<RpcFormState, 'replayOf'>;

/** zod path → form field */
const PATH_TO_FIELD: Record<string, RpcFormField> = {
  type: 'type',
  'target.exchange': 'exchange',
  'target.topic': 'topic',
  'target.server': 'server',
  'target.namespace': 'namespace',
  'target.version': 'version',
  target: 'topic',
  method: 'method',
  args: 'args',
  context: 'context',
  timeout: 'timeout',
  callMonitorTimeout: 'callMonitorTimeout',
};

export type RpcFormResult = { ok: true; request: RpcRequest } | { ok: false; errors: Partial<Record<RpcFormField, string>> };

function parseJsonField(text: string, what: string, required: boolean): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text.trim() === '') return required ? { ok: true, value: {} } : { ok: true, value: undefined };
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: `${what} must be a JSON object ({...}), not ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}` };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: `${what} is not valid JSON: ${(err as Error).message}` };
  }
}

function parseSeconds(text: string, what: string): { ok: true; value: number | undefined } | { ok: false; error: string } {
  const t = text.trim();
  if (t === '') return { ok: true, value: undefined };
  if (!/^\d+(\.\d+)?$/.test(t)) return { ok: false, error: `${what} is a number of seconds, e.g. 30 or 2.5` };
  return { ok: true, value: Number(t) };
}

/** Validate the form; nothing may be sent unless this returns ok. */
export function validateRpcForm(f: RpcFormState): RpcFormResult {
  const errors: Partial<Record<RpcFormField, string>> = {};
  const args = parseJsonField(f.args, 'args', true);
  if (!args.ok) errors.args = args.error;
  const context = parseJsonField(f.context, 'context', false);
  if (!context.ok) errors.context = context.error;
  const isCall = f.type === 'call';
  const timeout = isCall ? parseSeconds(f.timeout, 'the timeout') : { ok: true as const, value: undefined };
  if (!timeout.ok) errors.timeout = timeout.error;
  const cmt = isCall ? parseSeconds(f.callMonitorTimeout, 'call_monitor_timeout') : { ok: true as const, value: undefined };
  if (!cmt.ok) errors.callMonitorTimeout = cmt.error;

  const candidate = {
    type: f.type,
    target: {
      exchange: f.exchange,
      topic: f.topic,
      server: f.type === 'fanout' ? '' : f.server,
      namespace: f.namespace,
      version: f.version,
    },
    method: f.method,
    args: args.ok ? args.value : {},
    ...(context.ok && context.value !== undefined ? { context: context.value } : {}),
    ...(timeout.ok && timeout.value !== undefined ? { timeout: timeout.value } : {}),
    ...(cmt.ok && cmt.value !== undefined ? { callMonitorTimeout: cmt.value } : {}),
    ...(f.replayOf ? { replayOf: f.replayOf } : {}),
  };
  const parsed = rpcRequestSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const [path, message] of Object.entries(fieldErrors(parsed.error))) {
      const field = PATH_TO_FIELD[path] ?? PATH_TO_FIELD[path.split('.')[0]];
      if (field && !(field in errors)) errors[field] = message;
    }
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  if (!parsed.success) return { ok: false, errors: { method: 'the request is not valid' } };
  return { ok: true, request: parsed.data };
}
