/**
 * History store settings: where it is (a SQLite file or PostgreSQL), how long
 * and how much it keeps. Read from the environment by server/config.ts and the
 * CLI; a bad value throws an Error naming the variable.
 */
import { resolve } from 'node:path';

export const DEFAULT_RETENTION = '7d';
export const DEFAULT_MAX_BYTES = 2e9;
/** per-message budget in the store (values cut like the tap's ring, server/tap/message-size.ts) */
export const DEFAULT_STORED_MESSAGE_BYTES = 64 * 1024;
export const DEFAULT_QUEUE_CAPACITY = 50_000;
/** estimated bytes the writer's queue may hold besides its count (a flood of large messages stays bounded) */
export const DEFAULT_QUEUE_BYTES = 32 * 1024 * 1024;
export const DEFAULT_SQLITE_PATH = 'data/osloscope-history.sqlite';

export interface StoreTarget {
  backend: 'sqlite' | 'postgres';
  /** sqlite: the file path (or ':memory:'); postgres: the connection string */
  url: string;
}

export interface HistoryOptions {
  enabled: boolean;
  target: StoreTarget;
  retentionMs: number;
  retention: string;
  maxBytes: number;
  messageBytes: number;
  queueCapacity: number;
  /** estimated bytes of what waits for the store at most */
  queueBytes: number;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `90m`, `36h`, `7d`, `2w` → ms. */
export function parseDuration(text: string, name = 'HISTORY_RETENTION'): number {
  const m = /^\s*([1-9][0-9]{0,5})\s*([smhdw])\s*$/.exec(text);
  if (!m) throw new Error(`${name}=${JSON.stringify(text)} is not a duration: use a number and s, m, h, d or w (e.g. 7d, 36h)`);
  return Number(m[1]) * UNITS[m[2]];
}

/** `500MB`, `2GB`, `1073741824` → bytes. */
export function parseBytes(text: string, name = 'HISTORY_MAX_BYTES'): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(B|KB|KIB|MB|MIB|GB|GIB|TB|TIB)?\s*$/i.exec(text);
  if (!m) throw new Error(`${name}=${JSON.stringify(text)} is not a size: use bytes or a number with KB, MB, GB (e.g. 2GB)`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const mult: Record<string, number> = { B: 1, KB: 1e3, KIB: 1024, MB: 1e6, MIB: 1024 ** 2, GB: 1e9, GIB: 1024 ** 3, TB: 1e12, TIB: 1024 ** 4 };
  const n = Math.floor(Number(m[1]) * mult[unit]);
  if (n < 1024 * 1024) throw new Error(`${name}=${JSON.stringify(text)} is under 1 MiB`);
  return n;
}

/** DATABASE_URL=postgres://… selects PostgreSQL; else HISTORY_DATABASE (a file path, default under ./data/). */
export function storeTarget(env: Record<string, string | undefined>, cwd = process.cwd()): StoreTarget {
  const url = env.DATABASE_URL?.trim();
  if (url) {
    if (!/^postgres(ql)?:\/\//i.test(url)) throw new Error('DATABASE_URL must be a postgres://… or postgresql://… URL (leave it unset for the SQLite file)');
    return { backend: 'postgres', url };
  }
  const file = env.HISTORY_DATABASE?.trim() || DEFAULT_SQLITE_PATH;
  return { backend: 'sqlite', url: file === ':memory:' ? file : resolve(cwd, file) };
}

export function historyOptions(env: Record<string, string | undefined>, cwd = process.cwd()): HistoryOptions {
  const enabledText = (env.HISTORY ?? 'on').trim().toLowerCase();
  if (!['on', 'off', '1', '0', 'true', 'false'].includes(enabledText)) throw new Error(`HISTORY=${JSON.stringify(env.HISTORY)}: use on or off`);
  const retention = env.HISTORY_RETENTION?.trim() || DEFAULT_RETENTION;
  const queue = env.HISTORY_QUEUE?.trim();
  const queueCapacity = queue ? Number(queue) : DEFAULT_QUEUE_CAPACITY;
  if (!Number.isInteger(queueCapacity) || queueCapacity < 100 || queueCapacity > 10_000_000) throw new Error('HISTORY_QUEUE must be a whole number from 100 to 10000000');
  return {
    enabled: ['on', '1', 'true'].includes(enabledText),
    target: storeTarget(env, cwd),
    retention,
    retentionMs: parseDuration(retention),
    maxBytes: env.HISTORY_MAX_BYTES?.trim() ? parseBytes(env.HISTORY_MAX_BYTES) : DEFAULT_MAX_BYTES,
    messageBytes: DEFAULT_STORED_MESSAGE_BYTES,
    queueCapacity,
    queueBytes: env.HISTORY_QUEUE_BYTES?.trim() ? parseBytes(env.HISTORY_QUEUE_BYTES, 'HISTORY_QUEUE_BYTES') : DEFAULT_QUEUE_BYTES,
  };
}

/** Where the store is, for status and logs: never a password. */
export function describeTarget(t: StoreTarget): string {
  if (t.backend === 'sqlite') return t.url;
  try {
    const u = new URL(t.url);
    return `postgres://${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
