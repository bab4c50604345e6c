/**
 * `osloscope why TEXT`: the story of the call(s) a pasted log line, msg_id or
 * request id names, read from the history store the server (or `osloscope
 * record`) writes — no dashboard needed.
 *
 * exit 0 something matched, 1 nothing did, 2 usage, 5 store unreachable.
 */
import { parseArgs } from 'node:util';
import { SEARCH_MAX_QUERY } from '../../lib/history-contracts.ts';
import { parseSearchQuery } from '../../lib/history-query.ts';
import type { CallRecord } from '../../lib/tap-contracts.ts';
import { redactText, redactUrlPasswords } from '../../server/tap/redact.ts';
import { History } from '../../server/store/history.ts';
import { HistoryStore, StoreUnavailableError } from '../../server/store/store.ts';
import { describeTarget, storeTarget, type StoreTarget } from '../../server/store/options.ts';
import { writeError, type Io } from './common.ts';

const WHY_EXIT = { ok: 0, nothing: 1, usage: 2, unreachable: 5 } as const;

const USAGE = `usage: osloscope why TEXT [--json] [--database URL|PATH] [--from ISO] [--to ISO] [--limit N]

Finds the call(s) TEXT names in the history store and tells their story: target, caller
and server processes, outcome or stuck cause, and the timeline. TEXT is what you have:
a log line (Timed out waiting for a reply to message ID …, Expecting reply to msg …,
No calling threads waiting for msg_id : …, … doesn't exist, drop reply to …), a msg_id,
a request id (req-…) or global request id, a method or a host.

The store is $DATABASE_URL (postgres://…) or $HISTORY_DATABASE (a SQLite file,
default ./data/osloscope-history.sqlite); --database names either.

exit codes: 0 a call matched, 1 nothing matched, 2 usage, 5 the store cannot be read`;

const CAUSE_WORDS: Record<string, string> = {
  unroutable: 'the request was routed to no queue: no server ever listened on that topic/server',
  no_consumer: 'the request reached a queue nobody consumes: the service is down or never started',
  expired_in_queue: 'the request waited in a consumed queue until it expired: the servers are too busy or stuck',
  no_reply: 'a server took the request and never answered in time',
  reply_queue_gone: "the reply was sent but the caller's reply queue was gone or unconsumed",
  late_reply: 'the reply came after the caller had given up (timeout)',
  late_reply_across_restart: "the caller restarted while waiting: the new process dropped the old call's reply",
};

export interface WhyCall {
  msgId: string;
  state: CallRecord['state'];
  cause: CallRecord['cause'];
  method: string;
  target: { exchange: string; topic: string | null; server: string | null };
  caller: { process: string | null; replyQ: string | null; connectionName: string | null };
  serverProcess: string | null;
  outcome: CallRecord['outcome'];
  causeDetail: string | null;
  requestId: string | null;
  publishedAt: string;
  latencyMs: number | null;
  timeline: { ts: string; event: string; detail: string }[];
}

export function whyOf(c: CallRecord): WhyCall {
  return {
    msgId: c.msgId,
    state: c.state,
    cause: c.cause,
    method: c.method,
    target: { exchange: c.target.exchange, topic: c.target.topic, server: c.target.server },
    caller: { process: c.caller.process, replyQ: c.caller.replyQ, connectionName: c.caller.connectionName },
    serverProcess: c.serverProcess,
    outcome: c.outcome,
    causeDetail: c.causeDetail === null ? null : redactText(c.causeDetail),
    requestId: c.requestId,
    publishedAt: new Date(c.publishedAt).toISOString(),
    latencyMs: c.latencyMs,
    timeline: c.timeline.map((t) => ({ ts: new Date(t.ts).toISOString(), event: t.event, detail: redactText(t.detail) })),
  };
}

function story(c: CallRecord): string {
  const w = whyOf(c);
  const target = [w.target.exchange, w.target.topic, w.target.server].filter(Boolean).join(' / ');
  const lines = [
    `call ${w.msgId}: ${w.method}() on ${target}`,
    `  published ${w.publishedAt} by ${w.caller.process ?? 'an unknown caller'}${w.caller.replyQ ? ` (reply queue ${w.caller.replyQ})` : ''}${w.requestId ? `, request ${w.requestId}` : ''}`,
  ];
  if (w.serverProcess) lines.push(`  delivered to ${w.serverProcess}`);
  if (w.cause) lines.push(`  ${w.state === 'done' ? 'answered late' : 'STUCK'}: ${w.cause} — ${CAUSE_WORDS[w.cause] ?? ''}`, ...(w.causeDetail ? [`    ${w.causeDetail}`] : []));
  else if (w.state === 'done') lines.push(`  answered: ${w.outcome ?? 'reply seen'}${w.latencyMs !== null ? ` in ${Math.round(w.latencyMs)} ms` : ''}`);
  else lines.push('  still in flight when last seen');
  lines.push('  timeline:');
  for (const t of w.timeline) lines.push(`    ${t.ts}  ${t.event.padEnd(16)} ${t.detail}`);
  return lines.join('\n');
}

export async function runWhyCommand(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, database: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    return writeError(io, WHY_EXIT.usage, `osloscope why: ${(err as Error).message} (see osloscope why --help)`);
  }
  const o = parsed.values;
  const jio = { ...io, json: io.json || o.json === true };
  if (o.help) {
    io.stdout.write(`${USAGE}\n`);
    return WHY_EXIT.ok;
  }
  const text = parsed.positionals.join(' ').trim();
  if (!text) {
    writeError(jio, WHY_EXIT.usage, 'osloscope why: give the text to look for (a log line, msg_id or request id)');
    if (!jio.json) io.stderr.write(`${USAGE}\n`);
    return WHY_EXIT.usage;
  }
  if (text.length > SEARCH_MAX_QUERY) return writeError(jio, WHY_EXIT.usage, `osloscope why: the text is over ${SEARCH_MAX_QUERY} characters`);
  const time = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    if (!Number.isFinite(Date.parse(v))) throw new Error(`--${name} is an ISO 8601 time such as 2026-11-30T03:12:00Z`);
    return new Date(Date.parse(v)).toISOString();
  };
  let from: string | undefined;
  let to: string | undefined;
  let limit = 20;
  try {
    from = time(o.from, 'from');
    to = time(o.to, 'to');
    if (o.limit !== undefined) {
      limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Error('--limit is a whole number from 1 to 500');
    }
  } catch (err) {
    return writeError(jio, WHY_EXIT.usage, `osloscope why: ${(err as Error).message}`);
  }
  let target: StoreTarget;
  try {
    const db = o.database?.trim();
    target = db ? (/^postgres(ql)?:\/\//i.test(db) ? { backend: 'postgres', url: db } : storeTarget({ HISTORY_DATABASE: db })) : storeTarget(io.env);
  } catch (err) {
    return writeError(jio, WHY_EXIT.usage, `osloscope why: ${(err as Error).message}`);
  }
  let store: HistoryStore;
  try {
    // a missing SQLite file is "nothing was ever recorded here", not a new empty store
    store = await HistoryStore.open(target, { create: false });
  } catch (err) {
    const msg = err instanceof StoreUnavailableError ? err.message : String(err);
    return writeError(jio, WHY_EXIT.unreachable, `osloscope why: ${redactUrlPasswords(msg)} (${describeTarget(target)})`);
  }
  try {
    const history = new History(store, null, null);
    const query = parseSearchQuery(text);
    const r = await history.search({ q: text, from, to, limit });
    if (r.calls.length === 0) {
      const what = `${query.kind.replace('_', ' ')} ${query.value}${query.from ? ` (read from an ${query.from})` : ''}`;
      if (jio.json) io.stdout.write(`${JSON.stringify({ query: r.query, calls: [] })}\n`);
      else io.stderr.write(`no call found for ${what} in ${store.location}${r.messages.length ? ` (${r.messages.length} message(s) matched, none of them a call's)` : ''}\n`);
      return WHY_EXIT.nothing;
    }
    if (jio.json) {
      for (const c of r.calls) io.stdout.write(`${JSON.stringify(whyOf(c))}\n`);
    } else {
      io.stdout.write(`${r.calls.length} call(s) for ${r.query.kind.replace('_', ' ')} ${r.query.value}${r.query.from ? ` (from an ${r.query.from})` : ''}${r.truncated ? ', more not shown (--limit)' : ''}:\n\n`);
      io.stdout.write(`${r.calls.map(story).join('\n\n')}\n`);
    }
    return WHY_EXIT.ok;
  } catch (err) {
    return writeError(jio, WHY_EXIT.unreachable, `osloscope why: the history store cannot be read: ${redactUrlPasswords((err as Error).message)}`);
  } finally {
    await store.close().catch(() => undefined);
  }
}
