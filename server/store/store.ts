/**
 * The history store: decoded messages and call records that outlive the tap's
 * memory and the process. One set of Kysely queries over SQLite
 * (better-sqlite3, a file, no setup) or PostgreSQL (pg, DATABASE_URL).
 *
 * Writes come in batches from the HistoryWriter (server/store/writer.ts), never
 * from the tap's path. Everything stored has been redacted by the tap
 * (server/tap/redact.ts) and cut to a per-message budget.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Expression, type SqlBool, type ExpressionBuilder } from 'kysely';
import pg from 'pg';
import { globalRequestIdOf, type CallRecord, type DecodedMessage, type StuckCause } from '../../lib/tap-contracts.ts';
import { DEFAULT_TRANSPORT, stuckGroupKey, type StuckGroup, type StuckGroupsQuery } from '../../lib/history-contracts.ts';
import { migrations, type Backend, type CallsTable, type HistoryDb, type MessagesTable } from './schema.ts';

type CallsRow = CallsTable;
import { describeTarget, type StoreTarget } from './options.ts';

const DAY_MS = 86_400_000;
/** day partitions created ahead of today (PostgreSQL) */
const PARTITIONS_AHEAD = 2;
const DELETE_BATCH = 5000;
const INDEXED_KINDS = new Set<CallQuery['kind']>(['msg_id', 'request_id', 'global_request_id']);

/** A store that cannot be reached or read: the CLI maps it to exit 5, the API to 503. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export interface StoredMessage {
  message: DecodedMessage;
  transport: string;
  /** client connection name of the publisher / consumer, when the tap knew it */
  process: string | null;
}

export interface CallQuery {
  kind: 'msg_id' | 'request_id' | 'global_request_id' | 'method' | 'host' | 'text';
  value: string;
  from?: number;
  to?: number;
  limit: number;
  /**
   * only rows stored under this transport (rows stored before transports were named are `default`'s). No index
   * holds the column: the condition narrows rows an id index or a time step has found already, inside the query,
   * so `limit` counts only this transport's rows (every index more costs every write).
   */
  transport?: string;
  /** searches no index answers (method, host, text) scan newest first in steps of this many rows (default SCAN_CHUNK) */
  scanChunk?: number;
  /** ... and answer with what they found (truncated) after this long (default SCAN_BUDGET_MS) */
  scanBudgetMs?: number;
}

/** rows a search that no index answers reads in its first step, newest first; later steps aim at SCAN_STEP_MS each */
export const SCAN_CHUNK = 10_000;
/** wall time one scan step aims at: SQLite reads on the event loop, which stands still that long at most (about) */
const SCAN_STEP_MS = 50;
/**
 * Wall time such a search may scan before it answers with what it found, marked truncated: a free-text search over
 * millions of rows never holds the server (SQLite reads on the event loop; it yields between steps).
 */
export const SCAN_BUDGET_MS = 3000;

export interface StoreCounts {
  messages: number;
  calls: number;
  bytes: number;
  oldestTs: number | null;
}

/** `s` as a literal inside a LIKE pattern written with `ESCAPE '\\'`. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function clip(s: string | null | undefined, n = 500): string | null {
  return s == null ? null : s.length > n ? s.slice(0, n) : s;
}

/** `rows` as a JSON array whose `body` (already JSON text) is written raw, not as a string. */
function rawBodies(rows: readonly { body: string }[]): string {
  const parts: string[] = [];
  for (const r of rows) {
    const head = JSON.stringify({ ...r, body: undefined });
    parts.push(head.length > 2 ? `${head.slice(0, -1)},"body":${r.body}}` : `{"body":${r.body}}`);
  }
  return `[${parts.join(',')}]`;
}

function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

function partitionName(table: 'messages' | 'calls', dayMs: number): string {
  return `${table}_p${new Date(dayMs).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

export class HistoryStore {
  readonly backend: Backend;
  readonly location: string;
  private partitionsUpTo = 0;

  private constructor(
    readonly db: Kysely<HistoryDb>,
    target: StoreTarget,
    private readonly sqlite: SQLite.Database | null,
  ) {
    this.backend = target.backend;
    this.location = describeTarget(target);
  }

  /** Open (creating the file or tables when missing) and migrate. Throws StoreUnavailableError. */
  static async open(target: StoreTarget, options: { create?: boolean } = {}): Promise<HistoryStore> {
    let store: HistoryStore;
    try {
      if (target.backend === 'sqlite') {
        if (target.url !== ':memory:') {
          if (options.create === false) {
            const { existsSync } = await import('node:fs');
            if (!existsSync(target.url)) throw new Error(`no history file at ${target.url}`);
          } else mkdirSync(dirname(target.url), { recursive: true });
        }
        const database = new SQLite(target.url);
        database.pragma('journal_mode = WAL');
        database.pragma('synchronous = NORMAL');
        database.pragma('busy_timeout = 5000');
        // freed pages go back to the file system after retention deletes (set before the first table)
        database.pragma('auto_vacuum = INCREMENTAL');
        store = new HistoryStore(new Kysely<HistoryDb>({ dialect: new SqliteDialect({ database }) }), target, database);
      } else {
        const pool = new pg.Pool({
          connectionString: target.url,
          max: 4,
          connectionTimeoutMillis: 5000,
          // bigint columns are ms timestamps and counts: numbers, not strings
          types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
        });
        pool.on('error', () => undefined);
        // history rows, not ledgers: a commit does not wait for its WAL flush (a PostgreSQL crash may lose the last
        // fraction of a second of writes, never consistency); the writer's batches stop waiting on the disk
        pool.on('connect', (client) => void client.query('SET synchronous_commit = off').catch(() => undefined));
        store = new HistoryStore(new Kysely<HistoryDb>({ dialect: new PostgresDialect({ pool }) }), target, null);
      }
    } catch (err) {
      throw new StoreUnavailableError(`cannot open the history store at ${describeTarget(target)}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const migrator = new Migrator({ db: store.db as Kysely<unknown>, provider: migrations(target.backend) });
      const r = await migrator.migrateToLatest();
      if (r.error) throw r.error;
      await store.ensurePartitions(Date.now());
    } catch (err) {
      await store.close().catch(() => undefined);
      throw new StoreUnavailableError(`cannot prepare the history store at ${describeTarget(target)}: ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** PostgreSQL: day partitions from today to PARTITIONS_AHEAD days ahead (idempotent, cheap when done). */
  async ensurePartitions(nowMs: number, fromMs = nowMs): Promise<void> {
    if (this.backend !== 'postgres') return;
    const last = dayStart(nowMs) + PARTITIONS_AHEAD * DAY_MS;
    if (last <= this.partitionsUpTo && fromMs >= nowMs) return;
    for (let d = dayStart(fromMs); d <= last; d += DAY_MS) {
      for (const table of ['messages', 'calls'] as const) {
        const name = partitionName(table, d);
        const exists = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_class WHERE relname = ${name}`.execute(this.db);
        if (exists.rows[0].n > 0) continue;
        try {
          await sql`CREATE TABLE ${sql.table(name)} PARTITION OF ${sql.table(table)} FOR VALUES FROM (${sql.lit(d)}) TO (${sql.lit(d + DAY_MS)})`.execute(this.db);
        } catch (err) {
          // another instance made it first, or the default partition already holds rows of that day: those stay there
          if (!/already exists|would be violated|updated partition constraint/i.test((err as Error).message)) throw err;
        }
      }
    }
    this.partitionsUpTo = Math.max(this.partitionsUpTo, last);
  }

  // ---- writes --------------------------------------------------------------

  /** One transaction: messages inserted (ids are unique), calls upserted (the newest change wins). */
  async write(messages: readonly StoredMessage[], calls: readonly { call: CallRecord; transport: string }[]): Promise<void> {
    if (messages.length === 0 && calls.length === 0) return;
    const now = Date.now();
    if (this.backend === 'postgres' && now + DAY_MS > this.partitionsUpTo) await this.ensurePartitions(now);
    const msgRows: MessagesTable[] = messages.map(({ message: m, transport, process }) => {
      const body = JSON.stringify(m);
      return {
        id: m.id,
        ts: m.ts,
        transport,
        kind: m.kind,
        msg_id: m.msgId,
        request_id: clip(m.requestId, 200),
        global_request_id: globalRequestIdOf(m),
        method: clip(m.method),
        exchange: clip(m.exchange) ?? '',
        topic: clip(m.topic),
        server: clip(m.server),
        process: clip(process),
        body,
        size: body.length,
      };
    });
    // the newest change of each call in this batch
    const latest = new Map<string, { call: CallRecord; transport: string }>();
    for (const c of calls) latest.set(`${c.transport}\u0000${c.call.msgId}`, c);
    const callRows = [...latest.values()].map(({ call: c, transport }) => {
      const body = JSON.stringify(c);
      return {
        transport,
        msg_id: c.msgId,
        published_at: c.publishedAt,
        updated_at: c.updatedAt,
        state: c.state,
        outcome: c.outcome,
        cause: c.cause,
        method: clip(c.method) ?? '',
        exchange: clip(c.target.exchange) ?? '',
        topic: clip(c.target.topic),
        server: clip(c.target.server),
        request_id: clip(c.requestId, 200),
        global_request_id: clip(c.globalRequestId ?? null, 200),
        reply_q: clip(c.caller.replyQ),
        caller_process: clip(c.caller.process),
        server_process: clip(c.serverProcess),
        latency_ms: c.latencyMs,
        heartbeats: c.heartbeats,
        body,
        size: body.length,
      };
    });
    if (this.sqlite) {
      this.writeSqlite(msgRows, callRows);
      return;
    }
    // PostgreSQL: each batch as one JSON parameter expanded by json_populate_recordset (building a multi-row VALUES
    // query with thousands of parameters cost more CPU than the database spent writing). The body goes in as raw JSON,
    // not as a JSON string holding JSON: a json value read into a text column keeps its exact text, and neither side
    // escapes and unescapes every quote of it. Calls in key order (two batches in flight never lock in opposite order);
    // an older change of a call never overwrites a newer one (batches may commit out of order).
    callRows.sort((a, b) => (a.transport < b.transport ? -1 : a.transport > b.transport ? 1 : a.msg_id < b.msg_id ? -1 : a.msg_id > b.msg_id ? 1 : 0));
    await this.db.transaction().execute(async (trx) => {
      if (msgRows.length > 0) {
        await sql`INSERT INTO messages SELECT * FROM json_populate_recordset(NULL::messages, ${rawBodies(msgRows)}::json) ON CONFLICT (id, ts) DO NOTHING`.execute(trx);
      }
      if (callRows.length > 0) {
        await sql`INSERT INTO calls SELECT * FROM json_populate_recordset(NULL::calls, ${rawBodies(callRows)}::json)
          ON CONFLICT (transport, msg_id, published_at) DO UPDATE SET updated_at = excluded.updated_at, state = excluded.state,
            outcome = excluded.outcome, cause = excluded.cause, request_id = coalesce(excluded.request_id, calls.request_id),
            global_request_id = coalesce(excluded.global_request_id, calls.global_request_id),
            caller_process = coalesce(excluded.caller_process, calls.caller_process),
            server_process = coalesce(excluded.server_process, calls.server_process),
            latency_ms = excluded.latency_ms, heartbeats = excluded.heartbeats, body = excluded.body, size = excluded.size
          WHERE excluded.updated_at >= calls.updated_at`.execute(trx);
      }
    });
  }

  private sqliteWrite: ((m: MessagesTable[], c: CallsRow[]) => void) | null = null;

  /**
   * SQLite: the same statements as the Kysely path, prepared once and run in one transaction (better-sqlite3 is
   * synchronous; building a 7000-parameter query per 500 rows cost more than the writes).
   */
  private writeSqlite(msgRows: MessagesTable[], callRows: CallsRow[]): void {
    const d = this.sqlite as SQLite.Database;
    if (!this.sqliteWrite) {
      const insMsg = d.prepare(
        `INSERT INTO messages (id, ts, transport, kind, msg_id, request_id, global_request_id, method, exchange, topic, server, process, body, size)
         VALUES (@id, @ts, @transport, @kind, @msg_id, @request_id, @global_request_id, @method, @exchange, @topic, @server, @process, @body, @size)
         ON CONFLICT (id) DO NOTHING`,
      );
      const upCall = d.prepare(
        `INSERT INTO calls (transport, msg_id, published_at, updated_at, state, outcome, cause, method, exchange, topic, server, request_id,
           global_request_id, reply_q, caller_process, server_process, latency_ms, heartbeats, body, size)
         VALUES (@transport, @msg_id, @published_at, @updated_at, @state, @outcome, @cause, @method, @exchange, @topic, @server, @request_id,
           @global_request_id, @reply_q, @caller_process, @server_process, @latency_ms, @heartbeats, @body, @size)
         ON CONFLICT (transport, msg_id) DO UPDATE SET updated_at = excluded.updated_at, state = excluded.state, outcome = excluded.outcome,
           cause = excluded.cause, request_id = coalesce(excluded.request_id, calls.request_id),
           global_request_id = coalesce(excluded.global_request_id, calls.global_request_id),
           caller_process = coalesce(excluded.caller_process, calls.caller_process), server_process = coalesce(excluded.server_process, calls.server_process),
           latency_ms = excluded.latency_ms, heartbeats = excluded.heartbeats, body = excluded.body, size = excluded.size
         WHERE excluded.updated_at >= calls.updated_at`,
      );
      this.sqliteWrite = d.transaction((m: MessagesTable[], c: CallsRow[]) => {
        for (const r of m) insMsg.run(r);
        for (const r of c) upCall.run(r);
      });
    }
    this.sqliteWrite(msgRows, callRows);
  }

  /**
   * Late caller resolution: calls made through `replyQ` before the caller's connection name was known get it now
   * (a reply queue belongs to one process: reply_<uuid> per process, a queue-manager name per process life).
   */
  async fillCaller(replyQ: string, process: string, sinceMs: number): Promise<number> {
    const r = await this.db
      .updateTable('calls')
      .set({ caller_process: process })
      .where('reply_q', '=', replyQ)
      .where('caller_process', 'is', null)
      .where('published_at', '>=', sinceMs)
      .executeTakeFirst();
    return Number(r.numUpdatedRows ?? 0);
  }

  // ---- reads ---------------------------------------------------------------

  async message(id: string): Promise<DecodedMessage | null> {
    const row = await this.db.selectFrom('messages').select('body').where('id', '=', id).executeTakeFirst();
    return row ? (JSON.parse(row.body) as DecodedMessage) : null;
  }

  /** Every stored message of these calls (request, heartbeats, reply, redeliveries), oldest first. */
  async messagesOfCalls(msgIds: readonly string[], limit = 500): Promise<DecodedMessage[]> {
    if (msgIds.length === 0) return [];
    const rows = await this.db.selectFrom('messages').select('body').where('msg_id', 'in', [...msgIds]).orderBy('ts', 'asc').limit(limit).execute();
    return rows.map((r) => JSON.parse(r.body) as DecodedMessage);
  }

  async call(msgId: string): Promise<CallRecord | null> {
    const row = await this.db.selectFrom('calls').select(['body', 'caller_process', 'global_request_id']).where('msg_id', '=', msgId).orderBy('updated_at', 'desc').executeTakeFirst();
    return row ? this.callOf(row) : null;
  }

  private callOf(row: { body: string; caller_process: string | null; global_request_id?: string | null }): CallRecord {
    const c = JSON.parse(row.body) as CallRecord;
    // filled late (fillCaller) or from the request message
    if (!c.caller.process && row.caller_process) c.caller = { ...c.caller, process: row.caller_process };
    if (row.global_request_id && !c.globalRequestId) c.globalRequestId = row.global_request_id;
    return c;
  }

  private callWhere(eb: ExpressionBuilder<HistoryDb, 'calls'>, q: CallQuery): Expression<SqlBool> {
    const v = q.value;
    const like = `%${likeEscape(v)}%`;
    const prefix = `${likeEscape(v)}:%`;
    switch (q.kind) {
      case 'msg_id':
        return eb('msg_id', '=', v);
      case 'request_id':
      case 'global_request_id':
        return eb.or([eb('request_id', '=', v), eb('global_request_id', '=', v)]);
      case 'method':
        return eb.or([eb('method', '=', v), eb('topic', '=', v), eb('server', '=', v)]);
      case 'host':
        return eb.or([
          eb('server', '=', v),
          eb('caller_process', '=', v),
          eb('server_process', '=', v),
          sql<SqlBool>`caller_process LIKE ${prefix} ESCAPE '\\'`,
          sql<SqlBool>`server_process LIKE ${prefix} ESCAPE '\\'`,
          sql<SqlBool>`server LIKE ${`${likeEscape(v)}.%`} ESCAPE '\\'`,
        ]);
      case 'text':
        return eb.or(
          (['method', 'topic', 'server', 'caller_process', 'server_process', 'request_id', 'global_request_id', 'reply_q'] as const).map(
            (col) => sql<SqlBool>`${sql.ref(col)} LIKE ${like} ESCAPE '\\'`,
          ),
        );
    }
  }

  /** Calls matching a parsed query, newest first, at most `limit` (+1 to tell truncation). */
  async findCalls(q: CallQuery): Promise<{ calls: CallRecord[]; truncated: boolean }> {
    const r = await this.scanNewestFirst('calls', 'published_at', q, (lo, hiExcl, n) => {
      let b = this.db.selectFrom('calls').select(['body', 'caller_process', 'global_request_id']).where((eb) => this.callWhere(eb, q));
      if (q.transport !== undefined) b = b.where('transport', '=', q.transport);
      if (q.from !== undefined) b = b.where('published_at', '>=', q.from);
      if (q.to !== undefined) b = b.where('published_at', '<=', q.to);
      if (lo !== undefined) b = b.where('published_at', '>=', lo);
      if (hiExcl !== undefined) b = b.where('published_at', '<', hiExcl);
      return b.orderBy('published_at', 'desc').limit(n).execute();
    });
    return { calls: r.rows.map((x) => this.callOf(x)), truncated: r.truncated };
  }

  /**
   * Run `page(lo, hiExcl, n)` (rows with time in [lo, hiExcl), newest first, at most n) over the table newest first:
   * in one go when an index answers the query, else one step of rows after another (sized to take ~SCAN_STEP_MS) until `limit` rows are
   * found, the rows run out, or the scan budget is spent (then truncated). The same rows in the same order as one query.
   */
  private async scanNewestFirst<R>(
    table: 'messages' | 'calls',
    col: 'ts' | 'published_at',
    q: CallQuery,
    page: (lo: number | undefined, hiExcl: number | undefined, n: number) => Promise<R[]>,
  ): Promise<{ rows: R[]; truncated: boolean }> {
    if (INDEXED_KINDS.has(q.kind)) {
      const rows = await page(undefined, undefined, q.limit + 1);
      return { rows: rows.slice(0, q.limit), truncated: rows.length > q.limit };
    }
    let chunk = q.scanChunk ?? SCAN_CHUNK;
    const deadline = Date.now() + (q.scanBudgetMs ?? SCAN_BUDGET_MS);
    const out: R[] = [];
    let hiExcl: number | undefined;
    for (;;) {
      const stepStart = Date.now();
      // the time of the chunk-th newest row left: this step reads the rows from it on (ties included)
      const edge = await sql<{ t: number }>`SELECT ${sql.ref(col)} AS t FROM ${sql.table(table)}
        WHERE ${sql.ref(col)} >= ${q.from ?? Number.MIN_SAFE_INTEGER} AND ${sql.ref(col)} <= ${q.to ?? Number.MAX_SAFE_INTEGER}
          AND ${sql.ref(col)} < ${hiExcl ?? Number.MAX_SAFE_INTEGER}
        ORDER BY ${sql.ref(col)} DESC LIMIT 1 OFFSET ${chunk}`.execute(this.db);
      const lo = edge.rows.length > 0 ? Number(edge.rows[0].t) : undefined;
      out.push(...(await page(lo, hiExcl, q.limit + 1 - out.length)));
      // the next step as large as this machine reads in SCAN_STEP_MS now (a fixed step when the caller set one)
      // (at most twice the last: a step that found its pages cached says little about the next)
      if (q.scanChunk === undefined) chunk = Math.max(1000, Math.min(2 * chunk, 500_000, Math.round((chunk * SCAN_STEP_MS) / Math.max(1, Date.now() - stepStart))));
      if (out.length > q.limit) return { rows: out.slice(0, q.limit), truncated: true };
      if (lo === undefined) return { rows: out, truncated: false };
      if (Date.now() >= deadline) return { rows: out, truncated: true };
      hiExcl = lo;
      if (this.sqlite) await new Promise((r) => setImmediate(r));
    }
  }

  /** Messages matching a parsed query (msg_id / request ids / method / host / text), newest first. */
  async findMessages(q: CallQuery): Promise<{ messages: DecodedMessage[]; truncated: boolean }> {
    const v = q.value;
    const r = await this.scanNewestFirst('messages', 'ts', q, (lo, hiExcl, n) => {
      let b = this.db.selectFrom('messages').select('body');
      b = b.where((eb) => {
        switch (q.kind) {
          case 'msg_id':
            return eb('msg_id', '=', v);
          case 'request_id':
          case 'global_request_id':
            return eb.or([eb('request_id', '=', v), eb('global_request_id', '=', v)]);
          case 'method':
            return eb.or([eb('method', '=', v), eb('topic', '=', v), eb('server', '=', v)]);
          case 'host':
            return eb.or([eb('server', '=', v), sql<SqlBool>`process LIKE ${`${likeEscape(v)}:%`} ESCAPE '\\'`, eb('process', '=', v)]);
          case 'text':
            return eb.or(
              (['method', 'topic', 'server', 'process', 'request_id', 'global_request_id', 'exchange'] as const).map(
                (col) => sql<SqlBool>`${sql.ref(col)} LIKE ${`%${likeEscape(v)}%`} ESCAPE '\\'`,
              ),
            );
        }
      });
      if (q.transport !== undefined) b = b.where('transport', '=', q.transport);
      if (q.from !== undefined) b = b.where('ts', '>=', q.from);
      if (q.to !== undefined) b = b.where('ts', '<=', q.to);
      if (lo !== undefined) b = b.where('ts', '>=', lo);
      if (hiExcl !== undefined) b = b.where('ts', '<', hiExcl);
      return b.orderBy('ts', 'desc').limit(n).execute();
    });
    return { messages: r.rows.map((x) => JSON.parse(x.body) as DecodedMessage), truncated: r.truncated };
  }

  /** Calls sharing a request_id / global_request_id with these ids, newest first. */
  async relatedCalls(ids: readonly string[], limit = 100): Promise<CallRecord[]> {
    const list = ids.filter((x) => x.length > 0);
    if (list.length === 0) return [];
    const rows = await this.db
      .selectFrom('calls')
      .select(['body', 'caller_process', 'global_request_id'])
      .where((eb) => eb.or([eb('request_id', 'in', list), eb('global_request_id', 'in', list)]))
      .orderBy('published_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => this.callOf(r));
  }

  // ---- stuck-call groups -----------------------------------------------------

  /** Stuck-call groups, newest first; `transport`: only that transport's (in the query, before `limit`). */
  async stuckGroups(q: StuckGroupsQuery & { fromMs?: number; transport?: string }): Promise<{ groups: StuckGroup[]; totalCalls: number; truncated: boolean }> {
    const limit = q.limit ?? 100;
    const fromMs = q.fromMs ?? 0;
    const onTransport = q.transport === undefined ? sql`` : sql` AND transport = ${q.transport}`;
    const rows = await sql<{
      transport: string;
      exchange: string;
      topic: string | null;
      server: string | null;
      method: string;
      cause: string;
      n: number;
      first_seen: number;
      last_seen: number;
      acked_at: number | null;
      acked_by: string | null;
      new_since_ack: number;
    }>`
      SELECT g.*, a.acked_at, a.acked_by,
        (SELECT count(*) FROM calls c2 WHERE c2.cause = g.cause AND c2.transport = g.transport AND c2.exchange = g.exchange
           AND coalesce(c2.topic, '') = coalesce(g.topic, '') AND coalesce(c2.server, '') = coalesce(g.server, '')
           AND c2.method = g.method AND a.acked_at IS NOT NULL AND c2.published_at > a.acked_at) AS new_since_ack
      FROM (
        SELECT transport, exchange, topic, server, method, cause, count(*) AS n,
          min(published_at) AS first_seen, max(published_at) AS last_seen,
          transport || '|' || exchange || '|' || coalesce(topic, '') || '|' || coalesce(server, '') || '|' || method || '|' || cause AS key
        FROM calls WHERE cause IS NOT NULL AND published_at >= ${fromMs}${onTransport}
        GROUP BY transport, exchange, topic, server, method, cause
      ) g LEFT JOIN stuck_acks a ON a.key = g.key
      ORDER BY g.last_seen DESC`.execute(this.db);
    const needle = q.q?.toLowerCase() ?? '';
    let groups: StuckGroup[] = rows.rows.map((r) => {
      const ackedAt = r.acked_at === null ? null : Number(r.acked_at);
      const newSinceAck = Number(r.new_since_ack);
      const g: StuckGroup = {
        key: '',
        transport: r.transport,
        target: { exchange: r.exchange, topic: r.topic, server: r.server },
        method: r.method,
        cause: r.cause as StuckCause,
        count: Number(r.n),
        firstSeen: Number(r.first_seen),
        lastSeen: Number(r.last_seen),
        sampleMsgIds: [],
        callerProcesses: [],
        acked: ackedAt !== null && newSinceAck === 0,
        ackedAt,
        ackedBy: r.acked_by,
        newSinceAck,
      };
      g.key = stuckGroupKey(g);
      return g;
    });
    if (needle) {
      groups = groups.filter((g) => [g.key, g.method, g.target.topic ?? '', g.target.server ?? ''].some((s) => s.toLowerCase().includes(needle)));
    }
    if (q.acked === 'yes') groups = groups.filter((g) => g.acked);
    if (q.acked === 'no') groups = groups.filter((g) => !g.acked);
    const totalCalls = groups.reduce((n, g) => n + g.count, 0);
    const truncated = groups.length > limit;
    groups = groups.slice(0, limit);
    for (const g of groups) {
      const samples = await this.db
        .selectFrom('calls')
        .select(['msg_id', 'caller_process'])
        .where('cause', '=', g.cause)
        .where('transport', '=', g.transport)
        .where('exchange', '=', g.target.exchange)
        .where('method', '=', g.method)
        .where(sql<SqlBool>`coalesce(topic, '') = ${g.target.topic ?? ''}`)
        .where(sql<SqlBool>`coalesce(server, '') = ${g.target.server ?? ''}`)
        .where('published_at', '>=', fromMs)
        .orderBy('published_at', 'desc')
        .limit(50)
        .execute();
      g.sampleMsgIds = samples.slice(0, 5).map((s) => s.msg_id);
      g.callerProcesses = [...new Set(samples.map((s) => s.caller_process).filter((p): p is string => !!p))].slice(0, 5);
    }
    return { groups, totalCalls, truncated };
  }

  async ack(key: string, by: string | null, acked: boolean, nowMs = Date.now()): Promise<void> {
    if (!acked) {
      await this.db.deleteFrom('stuck_acks').where('key', '=', key).execute();
      return;
    }
    await this.db
      .insertInto('stuck_acks')
      .values({ key, acked_at: nowMs, acked_by: by })
      .onConflict((oc) => oc.column('key').doUpdateSet({ acked_at: nowMs, acked_by: by }))
      .execute();
  }

  // ---- status and retention ---------------------------------------------------

  async counts(): Promise<StoreCounts> {
    if (this.backend === 'sqlite') {
      // rowid span: exact while nothing was deleted in the middle, and O(1) on millions of rows
      const span = async (table: 'messages' | 'calls') => {
        const r = await sql<{ lo: number | null; hi: number | null }>`SELECT min(rowid) AS lo, max(rowid) AS hi FROM ${sql.table(table)}`.execute(this.db);
        const { lo, hi } = r.rows[0];
        return lo === null || hi === null ? 0 : hi - lo + 1;
      };
      const page = this.sqlite?.pragma('page_size', { simple: true }) as number;
      const pages = this.sqlite?.pragma('page_count', { simple: true }) as number;
      const free = this.sqlite?.pragma('freelist_count', { simple: true }) as number;
      return { messages: await span('messages'), calls: await span('calls'), bytes: (pages - free) * page, oldestTs: await this.oldest() };
    }
    const r = await sql<{ table: string; n: number; bytes: number }>`
      SELECT parent.relname AS table, coalesce(sum(greatest(child.reltuples, 0)), 0)::bigint AS n,
        coalesce(sum(pg_total_relation_size(child.oid)), 0)::bigint AS bytes
      FROM pg_inherits i JOIN pg_class parent ON parent.oid = i.inhparent JOIN pg_class child ON child.oid = i.inhrelid
      WHERE parent.relname IN ('messages', 'calls') AND parent.relnamespace = to_regnamespace(current_schema())
      GROUP BY parent.relname`.execute(this.db);
    const by = new Map(r.rows.map((x) => [x.table, x]));
    // reltuples is an estimate kept by ANALYZE (unset on young tables): exact counts while they are small
    const exact = async (table: 'messages' | 'calls') => {
      const est = Number(by.get(table)?.n ?? 0);
      if (est >= 100_000) return est;
      const c = await sql<{ n: number }>`SELECT count(*)::bigint AS n FROM ${sql.table(table)}`.execute(this.db);
      return Number(c.rows[0].n);
    };
    return {
      messages: await exact('messages'),
      calls: await exact('calls'),
      bytes: Number(by.get('messages')?.bytes ?? 0) + Number(by.get('calls')?.bytes ?? 0),
      oldestTs: await this.oldest(),
    };
  }

  private async oldest(): Promise<number | null> {
    const m = await this.db.selectFrom('messages').select('ts').orderBy('ts', 'asc').limit(1).executeTakeFirst();
    const c = await this.db.selectFrom('calls').select('published_at').orderBy('published_at', 'asc').limit(1).executeTakeFirst();
    const xs = [m?.ts, c?.published_at].filter((x): x is number => x !== undefined && x !== null).map(Number);
    return xs.length ? Math.min(...xs) : null;
  }

  /**
   * Drop what is older than `maxAgeMs`, then the oldest until the store is under `maxBytes`.
   * PostgreSQL drops whole day partitions; SQLite deletes in batches of 5000 rows and gives pages back.
   */
  async retain(nowMs: number, maxAgeMs: number, maxBytes: number): Promise<{ deleted: number; droppedPartitions: string[] }> {
    const cutoff = nowMs - maxAgeMs;
    let deleted = 0;
    const dropped: string[] = [];
    if (this.backend === 'postgres') {
      await this.ensurePartitions(nowMs);
      const parts = await this.partitions();
      for (const p of parts) {
        if (p.upper <= cutoff) {
          await sql`DROP TABLE IF EXISTS ${sql.table(p.name)}`.execute(this.db);
          dropped.push(p.name);
        }
      }
      // over the byte budget: oldest day first, never today's
      for (const p of (await this.partitions()).filter((x) => x.upper <= dayStart(nowMs))) {
        if ((await this.counts()).bytes <= maxBytes) break;
        await sql`DROP TABLE IF EXISTS ${sql.table(p.name)}`.execute(this.db);
        dropped.push(p.name);
      }
      deleted += await this.deleteOlder(cutoff);
      return { deleted, droppedPartitions: dropped };
    }
    deleted += await this.deleteOlder(cutoff);
    // over the byte budget: delete the oldest rows a batch at a time
    for (let i = 0; i < 1000; i++) {
      const c = await this.counts();
      if (c.bytes <= maxBytes || c.oldestTs === null) break;
      const n = await this.deleteOldestBatch();
      deleted += n;
      if (n === 0) break;
    }
    if (deleted > 0) this.sqlite?.pragma('incremental_vacuum');
    return { deleted, droppedPartitions: dropped };
  }

  private async partitions(): Promise<{ name: string; table: string; upper: number }[]> {
    const r = await sql<{ name: string; parent: string; bound: string }>`
      SELECT child.relname AS name, parent.relname AS parent, pg_get_expr(child.relpartbound, child.oid) AS bound
      FROM pg_inherits i JOIN pg_class parent ON parent.oid = i.inhparent JOIN pg_class child ON child.oid = i.inhrelid
      WHERE parent.relname IN ('messages', 'calls') AND parent.relnamespace = to_regnamespace(current_schema())`.execute(this.db);
    const out: { name: string; table: string; upper: number }[] = [];
    for (const row of r.rows) {
      const m = /TO \('?(-?\d+)'?\)/.exec(row.bound);
      if (m) out.push({ name: row.name, table: row.parent, upper: Number(m[1]) });
    }
    return out.sort((a, b) => a.upper - b.upper);
  }

  private async deleteOlder(cutoff: number): Promise<number> {
    let n = 0;
    for (const [table, col] of [
      ['messages', 'ts'],
      ['calls', 'published_at'],
    ] as const) {
      for (let i = 0; i < 10_000; i++) {
        const r =
          this.backend === 'sqlite'
            ? await sql`DELETE FROM ${sql.table(table)} WHERE rowid IN (SELECT rowid FROM ${sql.table(table)} WHERE ${sql.ref(col)} < ${cutoff} LIMIT ${DELETE_BATCH})`.execute(this.db)
            : await sql`DELETE FROM ${sql.table(table)} WHERE ctid IN (SELECT ctid FROM ${sql.table(table)} WHERE ${sql.ref(col)} < ${cutoff} LIMIT ${DELETE_BATCH})`.execute(this.db);
        const k = Number(r.numAffectedRows ?? 0);
        n += k;
        if (k < DELETE_BATCH) break;
      }
    }
    return n;
  }

  private async deleteOldestBatch(): Promise<number> {
    const r1 = await sql`DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages ORDER BY ts ASC LIMIT ${DELETE_BATCH})`.execute(this.db);
    const oldest = await this.db.selectFrom('messages').select('ts').orderBy('ts', 'asc').limit(1).executeTakeFirst();
    const r2 = oldest
      ? await sql`DELETE FROM calls WHERE published_at < ${oldest.ts}`.execute(this.db)
      : await sql`DELETE FROM calls WHERE rowid IN (SELECT rowid FROM calls ORDER BY published_at ASC LIMIT ${DELETE_BATCH})`.execute(this.db);
    return Number(r1.numAffectedRows ?? 0) + Number(r2.numAffectedRows ?? 0);
  }
}

export { DEFAULT_TRANSPORT };
