/**
 * The history store's HTTP contract: search, a call's whole story, one
 * message, store status and stuck-call groups. zod only (lib/ imports nothing
 * from Node): read by the server, the CLI and the browser.
 *
 * Every endpoint answers from the store AND the tap's memory (the newest items
 * may not be flushed yet); duplicates are merged by msgId (calls) and id
 * (messages), the newer copy wins. Envelope and errors as in api-contracts.ts:
 * `{ok:true, data}` / `{ok:false, error:{code, message}}`; a bad query is 400
 * `validation_failed`, an unknown id 404 `not_found`, a store that cannot be
 * read 503 `unavailable` (the tap's memory still answers where it can).
 *
 *   GET  /api/search?q=TEXT&from=ISO&to=ISO&limit=N   → SearchResult
 *   GET  /api/calls/<msgId>                           → CallStory
 *   GET  /api/messages/<id>                           → DecodedMessage
 *   GET  /api/history                                 → HistoryStatus
 *   GET  /api/stuck-groups?q=&acked=&limit=           → StuckGroups
 *   POST /api/stuck-groups/ack {key, acked?}          → StuckGroup (operator role)
 *
 * Each GET takes `&transport=<name>` (a fleet of brokers, TRANSPORT_URLS): only what that transport saw;
 * absent or `all`, every transport. Every call and message carries its `transport` (rows stored before
 * transports were named read as `default`); an unknown name is 404 `unknown transport 'x' (known: a, b)`.
 */
import { z } from 'zod';
import { callRecordSchema, decodedMessageSchema, stuckCauseSchema } from './tap-contracts.ts';
import { transportSelectorSchema } from './api-contracts.ts';

/** The transport (broker) a stored row came from: TRANSPORT_URLS names each; TRANSPORT_URL alone is "default". */
export const DEFAULT_TRANSPORT = 'default';

// ---------------------------------------------------------------------------
// Search

export const SEARCH_MAX_LIMIT = 500;
export const SEARCH_DEFAULT_LIMIT = 100;
export const SEARCH_MAX_QUERY = 4000;

/**
 * What a pasted text was understood as.
 * msg_id — a 32-hex oslo msg_id (alone, or out of a log line: see `from`);
 * request_id / global_request_id — `req-<uuid>` (both fields are searched; `kind` says which one matched first);
 * method — an RPC method name (identifier);
 * host — a host, server or process name (`compute-1`, `nova-compute:1234`): matches target server, caller/server process;
 * text — anything else: matched as a substring of method, topic, server, process and request ids.
 */
export const searchKindSchema = z.enum(['msg_id', 'request_id', 'global_request_id', 'method', 'host', 'text']);
export type SearchKind = z.infer<typeof searchKindSchema>;

export const parsedQuerySchema = z.object({
  kind: searchKindSchema,
  value: z.string(),
  /**
   * Which oslo log text it was read out of, when it was one:
   * 'oslo timeout log line' (`Timed out waiting for a reply to message ID X`),
   * 'oslo timeout tuple (14.7+)' (`('Timed out waiting for a reply %(reply_q)s to message ID %(msg_id)s.', {...})`),
   * 'oslo expecting reply' (`Expecting reply to msg X in queue Y`),
   * 'oslo no calling threads' (`No calling threads waiting for msg_id : X`),
   * 'oslo drop reply' (`... doesn't exist, drop reply to X`),
   * 'oslo request id in log line' (a `[req-… req-…]` log prefix).
   */
  from: z.string().optional(),
  /** the reply queue named by the log line, when it named one */
  replyQ: z.string().optional(),
});
export type ParsedQuery = z.infer<typeof parsedQuerySchema>;

const isoTime = (what: string) =>
  z
    .string()
    .max(64)
    .refine((v) => Number.isFinite(Date.parse(v)), { message: `${what} is an ISO 8601 time such as 2026-11-30T03:12:00Z` })
    .optional();

/** GET /api/search query (all strings on the wire). */
export const searchQuerySchema = z
  .object({
    q: z
      .string({ message: 'q is required: paste a log line, msg_id, request id, method or host' })
      .trim()
      .min(1, { message: 'q is required: paste a log line, msg_id, request id, method or host' })
      .max(SEARCH_MAX_QUERY, { message: `q is at most ${SEARCH_MAX_QUERY} characters` }),
    from: isoTime('from'),
    to: isoTime('to'),
    limit: z.coerce
      .number({ message: 'limit is a number' })
      .int({ message: 'limit is a whole number' })
      .min(1, { message: 'limit is at least 1' })
      .max(SEARCH_MAX_LIMIT, { message: `limit is at most ${SEARCH_MAX_LIMIT}` })
      .optional(),
    /** only what was seen on this named transport; absent or `all`: every transport */
    transport: transportSelectorSchema,
  })
  .refine((v) => !v.from || !v.to || Date.parse(v.from) <= Date.parse(v.to), { message: 'from is after to', path: ['from'] });
export type SearchQuery = z.infer<typeof searchQuerySchema>;

export const searchResultSchema = z.object({
  query: parsedQuerySchema,
  /** newest first (publishedAt) */
  calls: z.array(callRecordSchema),
  /** newest first (ts); for msg_id / request ids: every message of the matching calls (request, heartbeats, reply) */
  messages: z.array(decodedMessageSchema),
  /** more matched than `limit` (calls or messages) */
  truncated: z.boolean(),
});
export type SearchResult = z.infer<typeof searchResultSchema>;

// ---------------------------------------------------------------------------
// A call's story

export const callStorySchema = z.object({
  call: callRecordSchema,
  /** the request, heartbeats, reply (and redeliveries / retries), oldest first */
  messages: z.array(decodedMessageSchema),
  /** other calls with the same request_id or global_request_id (this call excluded), newest first, at most 100 */
  related: z.array(callRecordSchema),
});
export type CallStory = z.infer<typeof callStorySchema>;

// ---------------------------------------------------------------------------
// Store status

export const historyStatusSchema = z.object({
  /** false when HISTORY=off: nothing is stored, endpoints answer from memory only */
  enabled: z.boolean(),
  backend: z.enum(['sqlite', 'postgres']).nullable(),
  /** the file path (sqlite) or `postgres://user@host:port/db` (never a password) */
  location: z.string().nullable(),
  state: z.enum(['ok', 'error', 'off']),
  messages: z.number(),
  calls: z.number(),
  /** bytes the stored rows take (sqlite: file pages in use; postgres: relation sizes) */
  bytes: z.number(),
  /** oldest stored message or call, ms since the epoch; null when empty */
  oldestTs: z.number().nullable(),
  retention: z.object({
    /** HISTORY_RETENTION in ms, and as configured (`7d`) */
    ageMs: z.number(),
    age: z.string(),
    /** HISTORY_MAX_BYTES */
    maxBytes: z.number(),
    /** last retention pass, ms; null before the first */
    lastRunAt: z.number().nullable(),
  }),
  /** items waiting to be written, and the queue's bound */
  queueDepth: z.number(),
  queueCapacity: z.number(),
  /** estimated bytes waiting, and the most allowed (HISTORY_QUEUE_BYTES) */
  queueBytes: z.number(),
  queueBytesCapacity: z.number(),
  /** items written since start */
  written: z.number(),
  /** items dropped since start because the queue was full (the store fell behind) */
  dropped: z.number(),
  lastError: z.string().nullable(),
  lastErrorAt: z.number().nullable(),
  lastFlushAt: z.number().nullable(),
});
export type HistoryStatus = z.infer<typeof historyStatusSchema>;

// ---------------------------------------------------------------------------
// Stuck-call groups

/**
 * Stuck calls grouped by target and cause: one group per (transport, exchange, topic, server, method, cause).
 * `key` is those six joined with '|' (server '' when the call was not server-directed); treat it as opaque.
 *
 * Acknowledging a group records `ackedAt` (stored, survives restarts): calls of the group up to then are
 * acknowledged. A stuck call seen after `ackedAt` re-opens it: `acked` turns false again and `newSinceAck`
 * counts those calls, so an acknowledged group that comes back shows up again.
 */
export const stuckGroupSchema = z.object({
  key: z.string(),
  transport: z.string(),
  target: z.object({ exchange: z.string(), topic: z.string().nullable(), server: z.string().nullable() }),
  method: z.string(),
  cause: stuckCauseSchema,
  /** stuck calls in the group (store + memory) */
  count: z.number(),
  firstSeen: z.number(),
  /** newest stuck call's publish time; groups are sorted by it, newest first */
  lastSeen: z.number(),
  /** up to 5 msgIds of the newest calls, newest first (link to /calls/<msgId>) */
  sampleMsgIds: z.array(z.string()),
  /** caller processes seen in the group (up to 5) */
  callerProcesses: z.array(z.string()),
  acked: z.boolean(),
  ackedAt: z.number().nullable(),
  ackedBy: z.string().nullable(),
  /** stuck calls seen after ackedAt (0 when never acked: see count) */
  newSinceAck: z.number(),
});
export type StuckGroup = z.infer<typeof stuckGroupSchema>;

/** GET /api/stuck-groups query: q filters by substring of key/method/topic/server/caller; acked: which groups. */
export const stuckGroupsQuerySchema = z.object({
  /** only groups of this named transport; absent or `all`: every transport */
  transport: transportSelectorSchema,
  q: z.string().trim().max(200, { message: 'q is at most 200 characters' }).optional(),
  acked: z.enum(['all', 'yes', 'no'], { message: 'acked is all, yes or no' }).optional(),
  /** only groups with a stuck call since this time (ISO); default: the whole retention */
  from: isoTime('from'),
  limit: z.coerce
    .number({ message: 'limit is a number' })
    .int({ message: 'limit is a whole number' })
    .min(1, { message: 'limit is at least 1' })
    .max(1000, { message: 'limit is at most 1000' })
    .optional(),
});
export type StuckGroupsQuery = z.infer<typeof stuckGroupsQuerySchema>;

export const stuckGroupsSchema = z.object({
  /** newest lastSeen first */
  groups: z.array(stuckGroupSchema),
  /** all stuck calls over all groups matched */
  totalCalls: z.number(),
  truncated: z.boolean(),
});
export type StuckGroups = z.infer<typeof stuckGroupsSchema>;

/** POST /api/stuck-groups/ack body: `acked:false` takes an acknowledgement back. Operator role. */
export const stuckGroupAckRequestSchema = z.object({
  key: z.string({ message: 'key is required' }).min(1, { message: 'key is required' }).max(1000, { message: 'key is at most 1000 characters' }),
  acked: z.boolean().default(true),
});
export type StuckGroupAckRequest = z.infer<typeof stuckGroupAckRequestSchema>;

/** The key of a stuck-call group. */
export function stuckGroupKey(g: { transport: string; target: { exchange: string; topic: string | null; server: string | null }; method: string; cause: string }): string {
  return [g.transport, g.target.exchange, g.target.topic ?? '', g.target.server ?? '', g.method, g.cause].join('|');
}
