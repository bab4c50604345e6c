/**
 * The history store's tables and migrations, one set for SQLite and
 * PostgreSQL (Kysely's Migrator). Times are ms since the epoch (bigint).
 *
 * On PostgreSQL `messages` and `calls` are range-partitioned by day on their
 * time column (partitions are created ahead by the store, retention drops
 * whole partitions); SQLite has plain tables and deletes by time in batches.
 * Every row carries its `transport` (the broker it was seen on; "default"
 * for a single broker) so one database can hold a fleet.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export interface MessagesTable {
  /** `<run>.<tap id>`: unique across restarts and instances */
  id: string;
  ts: number;
  transport: string;
  kind: string;
  msg_id: string | null;
  request_id: string | null;
  global_request_id: string | null;
  method: string | null;
  exchange: string;
  topic: string | null;
  server: string | null;
  /** the publishing / consuming client's connection name, when known */
  process: string | null;
  /** the redacted, bounded DecodedMessage as JSON */
  body: string;
  size: number;
}

export interface CallsTable {
  transport: string;
  msg_id: string;
  published_at: number;
  updated_at: number;
  state: string;
  outcome: string | null;
  cause: string | null;
  method: string;
  exchange: string;
  topic: string | null;
  server: string | null;
  request_id: string | null;
  global_request_id: string | null;
  reply_q: string | null;
  caller_process: string | null;
  server_process: string | null;
  latency_ms: number | null;
  heartbeats: number;
  /** the CallRecord as JSON */
  body: string;
  size: number;
}

export interface StuckAcksTable {
  key: string;
  acked_at: number;
  acked_by: string | null;
}

export interface HistoryDb {
  messages: MessagesTable;
  calls: CallsTable;
  stuck_acks: StuckAcksTable;
}

export type Backend = 'sqlite' | 'postgres';

function initial(backend: Backend): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (backend === 'postgres') {
        await sql`CREATE TABLE messages (
          id text NOT NULL, ts bigint NOT NULL, transport text NOT NULL DEFAULT 'default', kind text NOT NULL,
          msg_id text, request_id text, global_request_id text, method text, exchange text NOT NULL,
          topic text, server text, process text, body text NOT NULL, size integer NOT NULL,
          PRIMARY KEY (id, ts)
        ) PARTITION BY RANGE (ts)`.execute(db);
        await sql`CREATE TABLE calls (
          transport text NOT NULL DEFAULT 'default', msg_id text NOT NULL, published_at bigint NOT NULL,
          updated_at bigint NOT NULL, state text NOT NULL, outcome text, cause text, method text NOT NULL,
          exchange text NOT NULL, topic text, server text, request_id text, global_request_id text, reply_q text,
          caller_process text, server_process text, latency_ms double precision, heartbeats integer NOT NULL,
          body text NOT NULL, size integer NOT NULL,
          PRIMARY KEY (transport, msg_id, published_at)
        ) PARTITION BY RANGE (published_at)`.execute(db);
        // rows outside every day partition (clock jumps) land here; retention deletes from it by time
        await sql`CREATE TABLE messages_default PARTITION OF messages DEFAULT`.execute(db);
        await sql`CREATE TABLE calls_default PARTITION OF calls DEFAULT`.execute(db);
      } else {
        await sql`CREATE TABLE messages (
          id text PRIMARY KEY, ts integer NOT NULL, transport text NOT NULL DEFAULT 'default', kind text NOT NULL,
          msg_id text, request_id text, global_request_id text, method text, exchange text NOT NULL,
          topic text, server text, process text, body text NOT NULL, size integer NOT NULL
        )`.execute(db);
        await sql`CREATE TABLE calls (
          transport text NOT NULL DEFAULT 'default', msg_id text NOT NULL, published_at integer NOT NULL,
          updated_at integer NOT NULL, state text NOT NULL, outcome text, cause text, method text NOT NULL,
          exchange text NOT NULL, topic text, server text, request_id text, global_request_id text, reply_q text,
          caller_process text, server_process text, latency_ms real, heartbeats integer NOT NULL,
          body text NOT NULL, size integer NOT NULL,
          PRIMARY KEY (transport, msg_id)
        )`.execute(db);
      }
      for (const [table, col] of [
        ['messages', 'msg_id'],
        ['messages', 'request_id'],
        ['messages', 'global_request_id'],
        ['messages', 'ts'],
        ['calls', 'msg_id'],
        ['calls', 'request_id'],
        ['calls', 'global_request_id'],
        ['calls', 'published_at'],
        ['calls', 'reply_q'],
      ] as const) {
        await sql`CREATE INDEX ${sql.id(`${table}_${col}_idx`)} ON ${sql.table(table)} (${sql.ref(col)})`.execute(db);
      }
      await sql`CREATE INDEX calls_stuck_idx ON calls (cause, published_at)`.execute(db);
      await sql`CREATE TABLE stuck_acks (key text PRIMARY KEY, acked_at bigint NOT NULL, acked_by text)`.execute(db);
    },
  };
}

/**
 * Ids that most rows lack (replies carry no request_id, few calls a global one, healthy calls no cause) are indexed
 * only where present: every stored row paid for an index entry of its NULLs. `col = x` (and `cause IS NOT NULL`)
 * still use these indexes on both backends.
 */
const partialIndexes: Migration = {
  async up(db: Kysely<unknown>) {
    for (const [table, col] of [
      ['messages', 'msg_id'],
      ['messages', 'request_id'],
      ['messages', 'global_request_id'],
      ['calls', 'request_id'],
      ['calls', 'global_request_id'],
    ] as const) {
      const name = `${table}_${col}_idx`;
      await sql`DROP INDEX IF EXISTS ${sql.id(name)}`.execute(db);
      await sql`CREATE INDEX ${sql.id(name)} ON ${sql.table(table)} (${sql.ref(col)}) WHERE ${sql.ref(col)} IS NOT NULL`.execute(db);
    }
    await sql`DROP INDEX IF EXISTS calls_stuck_idx`.execute(db);
    await sql`CREATE INDEX calls_stuck_idx ON calls (cause, published_at) WHERE cause IS NOT NULL`.execute(db);
  },
};

export function migrations(backend: Backend): MigrationProvider {
  return {
    async getMigrations() {
      return { '2026-11-30-001-history': initial(backend), '2026-11-30-002-partial-id-indexes': partialIndexes };
    },
  };
}
