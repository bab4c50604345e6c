/**
 * Throw-away history databases for tests and the benchmark: a SQLite file in a
 * temp directory, or a PostgreSQL database created on TEST_DATABASE_URL's
 * server (default postgres://postgres@127.0.0.1:5432/postgres) and dropped after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { StoreTarget } from './options.ts';

export const TEST_PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A SQLite history file in a fresh temp directory: a test's server never writes the working copy's data/. */
export function tempHistoryDatabase(): string {
  return join(mkdtempSync(join(tmpdir(), 'osloscope-history-')), 'history.sqlite');
}

export interface TestDb {
  target: StoreTarget;
  drop(): Promise<void>;
}

/** null when no PostgreSQL answers (tests skip loudly locally, fail under CI). */
export async function postgresAvailable(): Promise<boolean> {
  const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function createTestDb(backend: 'sqlite' | 'postgres'): Promise<TestDb> {
  if (backend === 'sqlite') {
    const url = tempHistoryDatabase();
    return { target: { backend, url }, drop: async () => rmSync(dirname(url), { recursive: true, force: true }) };
  }
  const name = `osloscope_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(TEST_PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    target: { backend, url: u.toString() },
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
