/**
 * HTTP payloads between the browser (or any automation) and osloscope's
 * custom server. zod only: imported by the server, the CLI and the browser.
 *
 * Envelope: `{ok:true, data}` or `{ok:false, error:{code, message, ...}}`.
 * POST /api/rpc also carries `result` beside `data` (the product's HTTP
 * contract: `{ok:true, result}`).
 */
import { z } from 'zod';
import { brokerHealthSummarySchema } from './broker-contracts.ts';
import {
  brokerViewSchema,
  callRecordSchema,
  decodedMessageSchema,
  latencyHistogramSchema,
  rateSnapshotSchema,
  tapStatusSchema,
} from './tap-contracts.ts';

// ---------------------------------------------------------------------------
// Envelope

export const errorCodeSchema = z.enum([
  'bad_json',
  'validation_failed',
  'unsupported_media_type',
  'payload_too_large',
  'not_found',
  'method_not_allowed',
  'unauthenticated',
  'bad_credentials',
  'rate_limited',
  'forbidden',
  'read_only',
  'cross_origin',
  'bad_host',
  'remote_error',
  'timeout',
  'unavailable',
  'undeliverable',
  /** the broker refused the operation (AMQP 403/404/405/406/530/541): its reply text is the message */
  'refused',
  'invalid_target',
  'tap_unavailable',
  'internal',
]);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

export const apiErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  /** field path (`target.topic`) → problem, for validation failures */
  fields: z.record(z.string(), z.string()).optional(),
  /** remote exceptions (code remote_error): the Python class, module and oslo traceback */
  class: z.string().optional(),
  module: z.string().optional(),
  traceback: z.array(z.string()).optional(),
  msgId: z.string().optional(),
  elapsedMs: z.number().optional(),
});
export type ApiError = z.infer<typeof apiErrorSchema>;

export const apiFailureSchema = z.object({ ok: z.literal(false), error: apiErrorSchema });
export type ApiFailure = z.infer<typeof apiFailureSchema>;

export function apiSuccessSchema<T extends z.ZodType>(data: T) {
  return z.object({ ok: z.literal(true), data });
}

export type ApiResponse<T> = { ok: true; data: T } | ApiFailure;

// ---------------------------------------------------------------------------
// A fleet of transports (TRANSPORT_URLS=name=url,...; server/fleet.ts)

/** A transport's name: TRANSPORT_URLS `name=url` (TRANSPORT_URL alone is one transport named `default`). */
export const TRANSPORT_NAME_RE = /^[a-z0-9_-]{1,32}$/;
/** The name of the only transport TRANSPORT_URL (or the embedded broker) gives. */
export const DEFAULT_TRANSPORT_NAME = 'default';

/** Is a transport usable: connected, or idle (it opened nothing yet). */
export function transportUp(state: string): boolean {
  return state === 'connected' || state === 'idle';
}
/** `?transport=all` (or none): the whole fleet. Never a transport's name. */
export const ALL_TRANSPORTS = 'all';
/** Most transports one osloscope taps (TRANSPORT_URLS). */
export const MAX_TRANSPORTS = 32;

export const transportNameSchema = z
  .string({ message: 'transport is a name' })
  .trim()
  .regex(TRANSPORT_NAME_RE, { message: 'transport is a name of 1-32 characters a-z 0-9 _ -' })
  .refine((v) => v !== ALL_TRANSPORTS, { message: `"${ALL_TRANSPORTS}" is not a transport name` });

/**
 * `?transport=` of every read endpoint and the `transport` of socket subscriptions: a transport's name,
 * or `all` (the default) for the whole fleet. An unknown name is answered 404
 * `unknown transport 'x' (known: a, b)`.
 */
export const transportSelectorSchema = z
  .string({ message: 'transport is a name or all' })
  .trim()
  .regex(/^([a-z0-9_-]{1,32})$/, { message: 'transport is a name of 1-32 characters a-z 0-9 _ -, or all' })
  .optional();
export type TransportSelector = z.infer<typeof transportSelectorSchema>;

/** The selector as a name, or null for the whole fleet. */
export function selectedTransport(selector: string | null | undefined): string | null {
  const v = (selector ?? '').trim();
  return v === '' || v === ALL_TRANSPORTS ? null : v;
}

export const transportEntrySchema = z.object({
  name: z.string(),
  /** credential-free (passwords redacted) */
  url: z.string(),
  driver: z.enum(['rabbit', 'memory']),
  /** the transport's state (idle, connected, degraded, disconnected, closed) */
  state: z.enum(['idle', 'connected', 'degraded', 'disconnected', 'closed']),
  /** while not connected (or its tap is recovering): why the last attempt failed, from the links' or the tap's last failure (redacted) */
  reason: z.string().nullable(),
  /** while reconnecting: attempts failed so far (1-based), of the link's reconnect loop or the tap's rebuilds */
  attempt: z.number().nullable(),
  /** while reconnecting: when the next attempt starts (ms since the epoch) */
  nextRetryAt: z.number().nullable(),
  /** the transport's tap (null: TAP_MODE=off) */
  tap: tapStatusSchema.nullable(),
});
export type TransportEntry = z.infer<typeof transportEntrySchema>;

/** GET /api/transports: every named transport, in configuration order, and the one fired at by default. */
export const transportsListSchema = z.object({
  transports: z.array(transportEntrySchema),
  /** the transport Console actions use when they name none (the only one, or the first of TRANSPORT_URLS) */
  default: z.string(),
  /** the server's clock when this was read (ms since the epoch): `nextRetryAt - at` is the wait (optional for older servers) */
  at: z.number().optional(),
});
export type TransportsList = z.infer<typeof transportsListSchema>;

// ---------------------------------------------------------------------------
// Firing RPCs

export const RPC_TYPES = ['call', 'cast', 'fanout'] as const;
export const rpcTypeSchema = z.enum(RPC_TYPES);
export type RpcType = z.infer<typeof rpcTypeSchema>;

const NAME = /^[A-Za-z0-9_.:@-]+$/;
/** A blank or null form value means "not given". */
const blankToUndefined = (v: unknown) => (v === null || (typeof v === 'string' && v.trim() === '') ? undefined : v);

const optionalText = (re: RegExp, what: string, max = 255) =>
  z.preprocess(
    blankToUndefined,
    z
      .string({ message: `${what} must be text` })
      .trim()
      .max(max, { message: `${what} is longer than ${max} characters` })
      .regex(re, { message: `${what} may contain only letters, digits and _ . : @ -` })
      .optional(),
  );

export const rpcTargetSchema = z.object({
  exchange: optionalText(NAME, 'the exchange'),
  topic: z
    .string({ message: 'a topic is required' })
    .trim()
    .min(1, { message: 'a topic is required' })
    .max(255, { message: 'the topic is longer than 255 characters' })
    .regex(NAME, { message: 'the topic may contain only letters, digits and _ . : @ -' }),
  server: optionalText(NAME, 'the server'),
  namespace: optionalText(/^[A-Za-z0-9_.-]+$/, 'the namespace'),
  version: z.preprocess(
    blankToUndefined,
    z
      .string({ message: 'the version must be text such as "1.0"' })
      .trim()
      .regex(/^\d+\.\d+(\.\d+)?$/, { message: 'a version looks like 1.0 or 5.23' })
      .optional(),
  ),
});
export type RpcTarget = z.infer<typeof rpcTargetSchema>;

const jsonObject = (what: string) =>
  z.record(z.string(), z.unknown(), { message: `${what} must be a JSON object ({...})` });

export const rpcRequestSchema = z
  .object({
    type: rpcTypeSchema.default('call'),
    target: rpcTargetSchema,
    method: z
      .string({ message: 'a method is required' })
      .trim()
      .min(1, { message: 'a method is required' })
      .max(255, { message: 'the method name is longer than 255 characters' })
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'a method is a Python identifier (letters, digits, _)' }),
    args: jsonObject('args').default({}),
    context: z.preprocess(blankToUndefined, jsonObject('context').optional()),
    /** seconds (call only); default rpc_response_timeout */
    timeout: z.preprocess(blankToUndefined, z.number({ message: 'the timeout is a number of seconds' }).positive({ message: 'the timeout must be above 0' }).max(3600, { message: 'the timeout is at most 3600 s' }).optional()),
    /** seconds (call only): heartbeats from the server every int(t)/2 s */
    callMonitorTimeout: z.preprocess(
      blankToUndefined,
      z
      .number({ message: 'call_monitor_timeout is a number of seconds' })
      .positive({ message: 'call_monitor_timeout must be above 0' })
      .max(3600, { message: 'call_monitor_timeout is at most 3600 s' })
      .optional(),
    ),
    /** the tap message id this fire replays (recorded in the audit log) */
    replayOf: z.preprocess(blankToUndefined, z.string().max(100).optional()),
    /** the named transport to fire on: required when the fleet has more than one (400 otherwise) */
    transport: z.preprocess(blankToUndefined, transportNameSchema.optional()),
  })
  .strict()
  .superRefine((req, ctx) => {
    if (req.type === 'fanout' && req.target.server) {
      ctx.addIssue({ code: 'custom', path: ['target', 'server'], message: 'a fanout goes to every server of the topic: leave the server empty' });
    }
    if (req.type !== 'call' && req.timeout !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['timeout'], message: `a ${req.type} waits for no reply: the timeout applies to calls only` });
    }
    if (req.type !== 'call' && req.callMonitorTimeout !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['callMonitorTimeout'], message: `a ${req.type} waits for no reply: call_monitor_timeout applies to calls only` });
    }
    if (req.timeout !== undefined && req.callMonitorTimeout !== undefined && req.callMonitorTimeout > req.timeout) {
      ctx.addIssue({ code: 'custom', path: ['callMonitorTimeout'], message: 'call_monitor_timeout above the timeout never fires' });
    }
  });
export type RpcRequest = z.infer<typeof rpcRequestSchema>;
export type RpcRequestInput = z.input<typeof rpcRequestSchema>;

/** `path.to.field` → message, one per field (the first problem wins). */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
    if (!(key in out)) out[key] = issue.message;
  }
  return out;
}

/** One human line for all field errors: `target.topic: a topic is required; method: ...`. */
export function describeFieldErrors(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => (k === '(body)' ? v : `${k}: ${v}`))
    .join('; ');
}

export const rpcOutcomeSchema = z.enum(['ok', 'remote_error', 'timeout', 'error']);
export type RpcOutcome = z.infer<typeof rpcOutcomeSchema>;

/** What POST /api/rpc answers in `data` on success. */
export const rpcSuccessSchema = z.object({
  type: rpcTypeSchema,
  /** call result (null for casts and fanouts) */
  result: z.unknown(),
  msgId: z.string().nullable(),
  exchange: z.string(),
  routingKey: z.string(),
  elapsedMs: z.number(),
  fireId: z.string(),
});
export type RpcSuccess = z.infer<typeof rpcSuccessSchema>;

/** A fired message as the Console's history shows it (args and context redacted). */
export const fireRecordSchema = z.object({
  id: z.string(),
  at: z.number(),
  user: z.string(),
  type: rpcTypeSchema,
  target: z.object({
    exchange: z.string(),
    topic: z.string(),
    server: z.string().nullable(),
    namespace: z.string().nullable(),
    version: z.string().nullable(),
  }),
  method: z.string(),
  args: z.unknown(),
  context: z.unknown(),
  timeout: z.number().nullable(),
  callMonitorTimeout: z.number().nullable(),
  replayOf: z.string().nullable(),
  outcome: rpcOutcomeSchema,
  msgId: z.string().nullable(),
  elapsedMs: z.number(),
  result: z.unknown().optional(),
  error: apiErrorSchema.nullable(),
  /** the named transport it was fired on */
  transport: z.string().optional(),
});
export type FireRecord = z.infer<typeof fireRecordSchema>;

// ---------------------------------------------------------------------------
// Session

export const roleSchema = z.enum(['viewer', 'operator']);

export const sessionInfoSchema = z.object({
  user: z.string().nullable(),
  role: roleSchema.nullable(),
  authEnabled: z.boolean(),
  readOnly: z.boolean(),
  /** may this user fire and replay messages right now */
  canFire: z.boolean(),
});
export type SessionInfo = z.infer<typeof sessionInfoSchema>;

export const loginRequestSchema = z
  .object({
    username: z.string({ message: 'a user name is required' }).min(1, { message: 'a user name is required' }).max(64),
    password: z.string({ message: 'a password is required' }).min(1, { message: 'a password is required' }).max(1024),
  })
  .strict();

// ---------------------------------------------------------------------------
// Status (health, Overview)

export const poolStatsSchema = z.object({
  created: z.number(),
  idle: z.number(),
  inUse: z.number(),
  waiters: z.number(),
  max: z.number(),
  totalCreated: z.number(),
  totalExpired: z.number(),
  totalDiscarded: z.number(),
});

export const replyWaiterStatsSchema = z.object({
  replyQueue: z.string(),
  pending: z.number(),
  replies: z.number(),
  heartbeats: z.number(),
  late: z.number(),
  duplicates: z.number(),
  unknown: z.number(),
  malformed: z.number(),
  timeouts: z.number(),
  connectionLosses: z.number(),
});

export const transportStateSchema = z.enum(['idle', 'connected', 'degraded', 'disconnected', 'closed']);

export const transportInfoSchema = z.object({
  driver: z.enum(['rabbit', 'memory']),
  /** credential-free */
  url: z.string(),
  state: transportStateSchema,
  embedded: z.boolean(),
  demoFleet: z.boolean(),
  controlExchange: z.string(),
  links: z.array(
    z.object({
      name: z.string(),
      purpose: z.enum(['send', 'listen']),
      state: z.string(),
      reconnects: z.number(),
      /** while reconnecting: why the last attempt failed (redacted), the next attempt (1-based) and when it starts (ms since the epoch) */
      retry: z.object({ error: z.string(), attempt: z.number(), nextAt: z.number() }).nullable().optional(),
    }),
  ),
});
export type TransportInfo = z.infer<typeof transportInfoSchema>;

export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  transport: z.object({
    driver: z.enum(['rabbit', 'memory']),
    url: z.string(),
    state: transportStateSchema,
    /** bodies the dashboard's consumers rejected since start: undecodable, or inflating beyond MAX_MESSAGE_BYTES */
    rejected: z.object({ malformed: z.number(), oversized: z.number() }).optional(),
  }),
  tap: z.object({ mode: z.string(), requestedMode: z.string(), state: z.string(), canSeeReplies: z.boolean() }).nullable(),
  /**
   * Every named transport (the fleet, in configuration order); `status` is degraded when any of them is.
   * `transport` and `tap` above describe the default transport (the first).
   */
  transports: z
    .array(
      z.object({
        name: z.string(),
        driver: z.enum(['rabbit', 'memory']),
        /** credential-free; the driver only for strangers when access control is on */
        url: z.string(),
        state: transportStateSchema,
        tap: z.object({ mode: z.string(), state: z.string() }).nullable(),
        status: z.enum(['ok', 'degraded']),
      }),
    )
    .optional(),
  /**
   * Layout, firehose coverage and broker health, from the last broker read
   * (GET /api/broker/health has the details); null before the first read or without a tap.
   */
  broker: brokerHealthSummarySchema.nullable().optional(),
  /** the history store's writer (GET /api/history has the details); null when HISTORY=off */
  history: z
    .object({ backend: z.enum(['sqlite', 'postgres']), state: z.enum(['ok', 'error']), queueDepth: z.number(), dropped: z.number(), lastError: z.string().nullable() })
    .nullable()
    .optional(),
  uptimeSeconds: z.number(),
  version: z.string(),
});
export type Health = z.infer<typeof healthSchema>;

/** Pushed every status tick (socket `status:update`) and served at GET /api/status. */
export const statusSnapshotSchema = z.object({
  at: z.number(),
  /**
   * The transport shown: for one named transport, that one; for the whole fleet of several, the
   * first, with `transports` listing each (name, state) and tap/rates/calls summed over all.
   */
  transport: transportInfoSchema,
  /** the selection this snapshot is for: a transport's name, or `all` */
  selection: z.string().optional(),
  /** the fleet's transports (name, state, tap state) */
  transports: z.array(z.object({ name: z.string(), state: transportStateSchema, tap: z.string().nullable() })).optional(),
  pool: poolStatsSchema,
  replyWaiter: replyWaiterStatsSchema.nullable(),
  tap: tapStatusSchema.nullable(),
  rates: rateSnapshotSchema.nullable(),
  calls: z.object({ inflight: z.number(), stuck: z.number(), done: z.number() }),
  /** the longest-waiting calls in flight (at most 8, without timelines) */
  oldestInflight: z.array(callRecordSchema),
  readOnly: z.boolean(),
  viewers: z.number(),
});
export type StatusSnapshot = z.infer<typeof statusSnapshotSchema>;

export const callsSnapshotSchema = z.object({
  at: z.number(),
  /** the selection this snapshot is for: a transport's name, or `all` */
  selection: z.string().optional(),
  inflight: z.array(callRecordSchema),
  stuck: z.array(callRecordSchema),
  /** finished calls, without their timelines (GET /api/calls?msgId= has them) */
  done: z.array(callRecordSchema),
  histogram: latencyHistogramSchema.nullable(),
  canSeeReplies: z.boolean(),
});
export type CallsSnapshot = z.infer<typeof callsSnapshotSchema>;

export const messagesPageSchema = z.object({
  messages: z.array(decodedMessageSchema),
  filter: z.string(),
});

export const brokerSnapshotSchema = z.object({
  at: z.number(),
  /** for one transport: its broker; for the whole fleet: the default transport's (see `transports`) */
  view: brokerViewSchema.nullable(),
  error: z.string().nullable(),
  poolSize: z.number(),
  /** the transport `view` belongs to */
  transport: z.string().optional(),
  /** the whole fleet (no ?transport=, or all): each transport's broker view */
  transports: z.array(z.object({ name: z.string(), view: brokerViewSchema.nullable(), error: z.string().nullable() })).optional(),
});
export type BrokerSnapshot = z.infer<typeof brokerSnapshotSchema>;

/** GET /api/messages and /api/calls query strings. */
export const messagesQuerySchema = z.object({
  transport: transportSelectorSchema,
  filter: z.string().max(1000).optional(),
  limit: z.coerce.number({ message: 'limit is a whole number' }).int({ message: 'limit is a whole number' }).min(1, { message: 'limit is at least 1' }).max(10_000, { message: 'limit is at most 10000' }).optional(),
  format: z.enum(['json', 'ndjson'], { message: 'format is json or ndjson' }).optional(),
});

export const callsQuerySchema = z.object({
  transport: transportSelectorSchema,
  state: z.enum(['inflight', 'stuck', 'done'], { message: 'state is inflight, stuck or done' }).optional(),
  /** one call (its full record, timeline included) */
  msgId: z.string().regex(/^[0-9a-f]{32}$/, { message: 'msgId is a 32-character hex _msg_id' }).optional(),
});
