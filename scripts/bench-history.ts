/**
 * History store benchmark (BENCHMARKS.md "History store"):
 *  1. ingest: 200 000 decoded messages (~1.3 KB oslo calls and their replies, call records for each call) fed to the
 *     HistoryWriter at the tap benchmark's rate (RATE msgs/s, default 9200: what the tap decoded off the broker), then
 *     as fast as possible: drops, drain time, sustained rows/s, bytes stored per message;
 *  2. lookups: LOOKUP_ROWS (default 10 000 000) messages generated inside the database (generate_series on
 *     PostgreSQL, a recursive CTE on SQLite), then p50/p95/p99 of msg_id and request_id lookups.
 *
 *   node --import tsx scripts/bench-history.ts [sqlite|postgres] [--skip-lookups]
 * Uses throw-away databases (server/store/test-db.ts). Prints Markdown rows.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import type { CallRecord, DecodedMessage } from '../lib/tap-contracts.ts';
import { HistoryStore } from '../server/store/store.ts';
import { HistoryWriter } from '../server/store/writer.ts';
import { createTestDb } from '../server/store/test-db.ts';
import { decodedMessage } from '../server/tap/test-support.ts';

const backend = (process.argv[2] ?? 'sqlite') as 'sqlite' | 'postgres';
const skipLookups = process.argv.includes('--skip-lookups');
const N = Number(process.env.INGEST_MESSAGES ?? 200_000);
const RATE = Number(process.env.RATE ?? 9200);
const LOOKUP_ROWS = Number(process.env.LOOKUP_ROWS ?? 10_000_000);
const quiet = { warn: (o: object, m: string) => console.error(m, o), info: () => undefined };

const hex = (i: number) => i.toString(16).padStart(32, '0');
function message(i: number, t: number): DecodedMessage {
  const call = i % 2 === 0;
  const n = Math.floor(i / 2);
  return decodedMessage({
    id: String(i),
    ts: t,
    kind: call ? 'call' : 'reply',
    msgId: hex(n),
    method: call ? 'build_and_run_instance' : null,
    topic: call ? 'compute' : null,
    server: call ? `compute-${n % 50}` : null,
    requestId: call ? `req-${hex(n).slice(0, 8)}-0000-4000-8000-${hex(n).slice(20)}` : null,
    context: call ? { request_id: `req-${n}`, user_id: 'u'.repeat(32), project_id: 'p'.repeat(32), roles: ['member', 'reader'], global_request_id: null } : {},
    args: call ? { instance: { uuid: hex(n), flavor: { name: 'm1.small', vcpus: 1, ram: 2048 }, metadata: 'x'.repeat(700) } } : null,
    result: call ? null : { ok: true },
    bytes: call ? 1290 : 180,
  });
}
function callRecord(n: number, t: number): CallRecord {
  return {
    msgId: hex(n),
    method: 'build_and_run_instance',
    target: { exchange: 'nova', topic: 'compute', server: `compute-${n % 50}`, namespace: null, version: '6.0', routingKey: `compute.compute-${n % 50}` },
    caller: { replyQ: 'reply_0123', process: 'nova-conductor:42', connectionName: null, queueManager: null },
    serverProcess: 'nova-compute:7',
    requestId: null,
    publishedAt: t,
    timeoutMs: 60_000,
    timeoutSource: 'expiration',
    deadline: t + 60_000,
    callMonitorTimeout: null,
    monitorDeadline: null,
    state: 'done',
    outcome: 'result',
    cause: null,
    causeDetail: null,
    causeCertain: true,
    indistinguishable: [],
    heartbeats: 0,
    lastHeartbeatAt: null,
    failure: null,
    timeline: [
      { ts: t, event: 'published', detail: 'to nova' },
      { ts: t + 1, event: 'reply_published', detail: 'reply' },
    ],
    latencyMs: 1,
    updatedAt: t + 1,
  };
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' / ');
const cpuPerMsg = (u: NodeJS.CpuUsage, n: number) => ((u.user + u.system) / n).toFixed(1);

/**
 * CPU µs of the PostgreSQL backends serving this database (local server only: /proc; 0 on SQLite). Sampled every
 * 250 ms, each backend's highest reading kept: pool connections that close when idle keep what they used.
 */
const backendTicks = new Map<number, number>();
async function sampleBackends(store: HistoryStore): Promise<void> {
  const r = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`.execute(store.db);
  for (const { pid } of r.rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      backendTicks.set(pid, Math.max(backendTicks.get(pid) ?? 0, Number(f[11]) + Number(f[12])));
    } catch {
      // gone, or not on this machine
    }
  }
}
async function dbCpu(store: HistoryStore): Promise<number> {
  if (backend !== 'postgres') return 0;
  await sampleBackends(store);
  let ticks = 0;
  for (const t of backendTicks.values()) ticks += t;
  return ticks * (1e6 / 100);
}
function watchBackends(store: HistoryStore): () => void {
  if (backend !== 'postgres') return () => undefined;
  const t = setInterval(() => void sampleBackends(store).catch(() => undefined), 250);
  return () => clearInterval(t);
}
const dbNote = (us: number, n: number) => (backend === 'postgres' ? ` + PostgreSQL backends ${(us / n).toFixed(1)} µs` : '');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function ingest(): Promise<void> {
  const db = await createTestDb(backend);
  const store = await HistoryStore.open(db.target);
  const writer = new HistoryWriter(store, { queueCapacity: 50_000, messageBytes: 64 * 1024, retentionMs: 7 * 86_400_000, retention: '7d', maxBytes: 1e12 }, quiet, 'default', 'bench');
  const listeners: ((e: never) => void)[] = [];
  writer.attach({ on: (l) => (listeners.push(l as never), () => undefined) });
  const emit = listeners[0] as (e: { type: string; message?: DecodedMessage; call?: CallRecord }) => void;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const db0 = await dbCpu(store);
  const unwatch = watchBackends(store);
  // what the tap would feel: the longest the event loop stood still while the writer wrote
  const stall = monitorEventLoopDelay({ resolution: 5 });
  stall.enable();
  const base = Date.now();
  let i = 0;
  // paced at RATE: every 10 ms, the messages due by then (what the tap hands its listeners)
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(N, Math.floor(((performance.now() - t0) / 1000) * RATE));
      for (; i < due; i++) {
        emit({ type: 'tap:message', message: message(i, base + i) });
        if (i % 2 === 1) emit({ type: 'tap:call', call: callRecord(Math.floor(i / 2), base + i) });
      }
      if (i >= N) {
        clearInterval(tick);
        resolve();
      }
    }, 10);
  });
  const fed = performance.now();
  await writer.flush();
  const done = performance.now();
  const cpuPaced = process.cpuUsage(cpu0);
  const dbPaced = (await dbCpu(store)) - db0;
  stall.disable();
  const st = await writer.status();
  const counts = await store.counts();
  console.log(
    `| ${backend} ingest at ${RATE} msgs/s | ${N} messages + ${N / 2} call records fed in ${((fed - t0) / 1000).toFixed(1)} s, drained ${((done - fed) / 1000).toFixed(2)} s after the last; dropped ${st.dropped} of ${N * 1.5} items; written ${st.written} items, ${Math.round(st.written / ((done - t0) / 1000))} items/s overall; process CPU ${cpuPerMsg(cpuPaced, N)} µs per message (incl. building the test messages)${dbNote(dbPaced, N)}; event loop stalled p99 ${(stall.percentile(99) / 1e6).toFixed(0)} / max ${(stall.max / 1e6).toFixed(0)} ms; load ${load()} | ${Math.round(counts.bytes / Math.max(1, counts.messages))} B stored per message (incl. its call row share and indexes) |`,
  );
  // as fast as the store takes it: one more 200k straight into the writer's batches
  const t1 = performance.now();
  const cpu1 = process.cpuUsage();
  const db1 = await dbCpu(store);
  for (let k = 0; k < N; k += 2000) {
    const batch: DecodedMessage[] = [];
    for (let j = k; j < Math.min(N, k + 2000); j++) batch.push({ ...message(j, base + N + j), id: `fast.${j}` });
    await store.write(
      batch.map((m) => ({ message: m, transport: 'default', process: null })),
      [],
    );
  }
  const t2 = performance.now();
  const cpuFast = process.cpuUsage(cpu1);
  const dbFast = (await dbCpu(store)) - db1;
  console.log(`| ${backend} max write rate | ${Math.round(N / ((t2 - t1) / 1000))} msgs/s (batches of 2000 in one transaction each); process CPU ${cpuPerMsg(cpuFast, N)} µs per message${dbNote(dbFast, N)}; load ${load()} | |`);
  unwatch();
  await writer.stop();
  await store.close();
  await db.drop();
}

async function lookups(): Promise<void> {
  // KEEP_DB=path (SQLite): load once into that file and keep it; a later run with the same path only queries
  const keep = backend === 'sqlite' ? process.env.KEEP_DB : undefined;
  const reuse = keep !== undefined && existsSync(keep);
  const db = keep ? { target: { backend: 'sqlite' as const, url: keep }, drop: async () => undefined } : await createTestDb(backend);
  const store = await HistoryStore.open(db.target);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const base = Date.now() - 3_600_000;
  const body = `'{"kind":"call","method":"build_and_run_instance","args":{"pad":"${'x'.repeat(300)}"}}'`;
  if (reuse) {
    // already loaded
  } else if (backend === 'postgres') {
    // one day partition holds them all (ts within the last hour)
    await sql
      .raw(
        `INSERT INTO messages (id, ts, transport, kind, msg_id, request_id, global_request_id, method, exchange, topic, server, process, body, size)
         SELECT 'g.' || g, ${base} + g / 3000, 'default', 'call', md5(g::text), 'req-' || md5((g / 2)::text), NULL,
           CASE WHEN g % 1000000 = 777 THEN 'rare_method' ELSE 'build_and_run_instance' END, 'nova', 'compute', 'compute-' || (g % 50), NULL, ${body}, 330
         FROM generate_series(1, ${LOOKUP_ROWS}) g`,
      )
      .execute(store.db);
    await sql.raw('ANALYZE messages').execute(store.db);
  } else {
    // rows in id order first, then the same indexes as the migration built in one sorted pass each (inserting 10M
    // random msg_ids into live b-trees took over 15 minutes and a 4 GB WAL); chunks of 1M keep the WAL bounded
    const idx = (await sql<{ name: string; sql: string }>`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL`.execute(store.db)).rows;
    for (const i of idx) await sql.raw(`DROP INDEX ${i.name}`).execute(store.db);
    await sql.raw('PRAGMA cache_size = -512000').execute(store.db);
    for (let lo = 1; lo <= LOOKUP_ROWS; lo += 1_000_000) {
      const hi = Math.min(LOOKUP_ROWS, lo + 999_999);
      await sql
        .raw(
          `WITH RECURSIVE g(n) AS (SELECT ${lo} UNION ALL SELECT n + 1 FROM g WHERE n < ${hi})
           INSERT INTO messages (id, ts, transport, kind, msg_id, request_id, global_request_id, method, exchange, topic, server, process, body, size)
           SELECT 'g.' || n, ${base} + n / 3000, 'default', 'call', printf('%032x', n * 2654435761 % 4294967296) || printf('%08x', n), 'req-' || printf('%032x', n / 2), NULL,
             CASE WHEN n % 1000000 = 777 THEN 'rare_method' ELSE 'build_and_run_instance' END, 'nova', 'compute', 'compute-' || (n % 50), NULL, ${body}, 330 FROM g`,
        )
        .execute(store.db);
      await sql.raw('PRAGMA wal_checkpoint(TRUNCATE)').execute(store.db);
      console.error(`loaded ${hi} rows, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    for (const i of idx) {
      await sql.raw(i.sql).execute(store.db);
      console.error(`index ${i.name}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    await sql.raw('ANALYZE').execute(store.db);
    await sql.raw('PRAGMA wal_checkpoint(TRUNCATE)').execute(store.db);
  }
  const loaded = performance.now();
  const counts = await store.counts();
  const ids: string[] = [];
  const reqs: string[] = [];
  for (let k = 0; k < 200; k++) {
    const n = 1 + Math.floor(Math.random() * LOOKUP_ROWS);
    if (backend === 'postgres') {
      const r = await sql<{ m: string; q: string }>`SELECT md5(${String(n)}) AS m, 'req-' || md5(${String(Math.floor(n / 2))}) AS q`.execute(store.db);
      ids.push(r.rows[0].m);
      reqs.push(r.rows[0].q);
    } else {
      const r = await sql<{ m: string; q: string }>`SELECT msg_id AS m, request_id AS q FROM messages WHERE id = ${`g.${n}`}`.execute(store.db);
      ids.push(r.rows[0].m);
      reqs.push(r.rows[0].q);
    }
  }
  const time = async (f: (x: string) => Promise<unknown>, xs: string[]) => {
    const out: number[] = [];
    for (const x of xs) {
      const t = performance.now();
      await f(x);
      out.push(performance.now() - t);
    }
    return out;
  };
  const byMsg = await time((x) => store.findMessages({ kind: 'msg_id', value: x, limit: 100 }), ids);
  const byReq = await time((x) => store.findMessages({ kind: 'request_id', value: x, limit: 100 }), reqs);
  const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} / p95 ${pct(xs, 95).toFixed(1)} / p99 ${pct(xs, 99).toFixed(1)} ms`;
  const loadCpu = process.cpuUsage(cpu0);
  const file = backend === 'sqlite' ? statSync(db.target.url).size : counts.bytes;
  console.log(
    `| ${backend} ${counts.messages} stored messages (${reuse ? 'loaded earlier' : `generated in ${((loaded - t0) / 1000).toFixed(0)} s, process CPU ${(loadCpu.user + loadCpu.system) / 1e6 | 0} s`}, ${(file / 1e9).toFixed(2)} GB, ${Math.round(file / Math.max(1, counts.messages))} B per message; load ${load()}) | msg_id lookup ${f(byMsg)}; request_id lookup ${f(byReq)} (200 random ids each, through HistoryStore.findMessages) | p95 < 100 ms |`,
  );
  // searches that no index answers: free text and a method; each bounded by the store's scan budget
  const searches: [string, Parameters<HistoryStore['findMessages']>[0]][] = [
    ['text "compute-7" (many matches)', { kind: 'text', value: 'compute-7', limit: 100 }],
    ['text "no-such-thing" (no match: the whole table)', { kind: 'text', value: 'no-such-thing', limit: 100 }],
    ['method rare_method (10 rows)', { kind: 'method', value: 'rare_method', limit: 100 }],
    ['method build_and_run_instance', { kind: 'method', value: 'build_and_run_instance', limit: 100 }],
  ];
  for (const [label, q] of searches) {
    const xs: number[] = [];
    let r = { messages: [] as unknown[], truncated: false };
    // the longest the event loop stood still meanwhile (SQLite reads on it): what the tap and the web server feel
    const stall = monitorEventLoopDelay({ resolution: 5 });
    stall.enable();
    for (let k = 0; k < 3; k++) {
      const t = performance.now();
      r = await store.findMessages(q);
      xs.push(performance.now() - t);
    }
    stall.disable();
    console.log(
      `| ${backend} ${counts.messages} stored: search ${label} | ${xs.map((x) => x.toFixed(0)).join(' / ')} ms (3 runs); ${r.messages.length} found, truncated ${r.truncated}; event loop stalled at most ${(stall.max / 1e6).toFixed(0)} ms | |`,
    );
  }
  await store.close();
  await db.drop();
}

await ingest();
if (!skipLookups) await lookups();
process.exit(0);
