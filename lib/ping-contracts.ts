/**
 * Ping a topic's fleet (POST /api/ping, `osloscope ping`): oslo's
 * `oslo_rpc_server_ping` to every server of a topic. The server side is
 * server/tap/ping.ts.
 */
import { z } from 'zod';
import { transportNameSchema } from './api-contracts.ts';

/** Bounds of the per-server timeout, seconds. */
export const MIN_PING_TIMEOUT_S = 0.1;
export const MAX_PING_TIMEOUT_S = 120;
export const DEFAULT_PING_TIMEOUT_S = 5;
/** Servers pinged at most per request (a topic with more is cut, and says so). */
export const MAX_PING_SERVERS = 500;

const name = (what: string) =>
  z
    .string({ message: `${what} is required` })
    .trim()
    .min(1, { message: `${what} is required` })
    .max(255, { message: `${what} is longer than 255 characters` });

export const pingRequestSchema = z.object({
  topic: name('a topic'),
  /** the named transport whose servers are pinged: required when the fleet has more than one (400 otherwise) */
  transport: z.preprocess((v) => (v === '' || v === null ? undefined : v), transportNameSchema.optional()),
  /** ping only these servers (none: every server found) */
  servers: z.array(name('a server')).max(MAX_PING_SERVERS, { message: `at most ${MAX_PING_SERVERS} servers` }).optional(),
  exchange: z.preprocess((v) => (v === '' ? undefined : v), name('the exchange').optional()),
  /** seconds to wait for each server */
  timeout: z
    .number({ message: 'the timeout is a number of seconds' })
    .min(MIN_PING_TIMEOUT_S, { message: `the timeout is at least ${MIN_PING_TIMEOUT_S} s` })
    .max(MAX_PING_TIMEOUT_S, { message: `the timeout is at most ${MAX_PING_TIMEOUT_S} s` })
    .optional(),
});
export type PingRequest = z.infer<typeof pingRequestSchema>;

export const pingSourceSchema = z.enum(['queue', 'traffic', 'given']);
export type PingSource = z.infer<typeof pingSourceSchema>;

/**
 * pong — answered "pong"; error — answered with a remote error (NoSuchMethod when rpc_ping_enabled is off: alive);
 * timeout — no reply in time; no_queue — no `<topic>.<server>` queue took the call; failed — could not send.
 */
export const pingStatusSchema = z.enum(['pong', 'error', 'timeout', 'no_queue', 'failed']);
export type PingStatus = z.infer<typeof pingStatusSchema>;

export const pingServerResultSchema = z.object({
  server: z.string(),
  /** where the server was found */
  sources: z.array(pingSourceSchema),
  /**
   * consumers on `<topic>.<server>` once the call settled (a passive queue.declare: exact, where the management
   * API's count lags by its stats interval); as the broker listed it when that could not be asked; null when neither
   */
  consumers: z.number().nullable(),
  status: pingStatusSchema,
  /** pong or a remote error: the server consumed the call and replied */
  answered: z.boolean(),
  /** publish → reply, ms (null when nothing came back) */
  latencyMs: z.number().nullable(),
  message: z.string().nullable(),
});
export type PingServerResult = z.infer<typeof pingServerResultSchema>;

export const fleetPingSchema = z.object({
  topic: z.string(),
  exchange: z.string().nullable(),
  at: z.number(),
  timeoutSeconds: z.number(),
  discovery: z.object({
    /** where the queue list came from: management API, memory broker, queues named by traffic (passive), or none */
    queueSource: z.enum(['management', 'memory', 'passive', 'none']),
    queues: z.number(),
    observed: z.number(),
    given: z.number(),
    /** why the list may be incomplete */
    note: z.string().nullable(),
    truncated: z.boolean(),
  }),
  servers: z.array(pingServerResultSchema),
  answered: z.number(),
  missing: z.number(),
});
export type FleetPing = z.infer<typeof fleetPingSchema>;
