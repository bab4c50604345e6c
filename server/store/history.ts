/**
 * What the history endpoints and `osloscope why` answer: the store merged with
 * the tap's memory (the newest items may not be flushed yet). Either part may
 * be missing: no tap (the CLI), no store (HISTORY=off).
 */
import { globalRequestIdOf, type CallRecord, type DecodedMessage } from '../../lib/tap-contracts.ts';
import {
  SEARCH_DEFAULT_LIMIT,
  stuckGroupKey,
  type CallStory,
  type HistoryStatus,
  type SearchQuery,
  type SearchResult,
  type StuckGroup,
  type StuckGroups,
  type StuckGroupsQuery,
} from '../../lib/history-contracts.ts';
import { parseSearchQuery } from '../../lib/history-query.ts';
import { DEFAULT_TRANSPORT, type CallQuery, type HistoryStore } from './store.ts';
import type { HistoryWriter } from './writer.ts';

/** The part of the tap the history reads (server/tap/tap.ts). */
export interface TapMemory {
  recent(options?: { limit?: number }): DecodedMessage[];
  calls(query?: { state?: 'inflight' | 'stuck' | 'done'; limit?: number }): CallRecord[];
  call(msgId: string): CallRecord | null;
}

const MEMORY_SCAN = 5000;

function callMatches(c: CallRecord, q: CallQuery): boolean {
  const v = q.value;
  if (q.from !== undefined && c.publishedAt < q.from) return false;
  if (q.to !== undefined && c.publishedAt > q.to) return false;
  if (q.transport !== undefined && (c.transport ?? DEFAULT_TRANSPORT) !== q.transport) return false;
  const g = c.globalRequestId ?? null;
  switch (q.kind) {
    case 'msg_id':
      return c.msgId === v;
    case 'request_id':
    case 'global_request_id':
      return c.requestId === v || g === v;
    case 'method':
      return c.method === v || c.target.topic === v || c.target.server === v;
    case 'host': {
      const procs = [c.caller.process, c.serverProcess].filter((p): p is string => !!p);
      return c.target.server === v || c.target.server?.startsWith(`${v}.`) === true || procs.some((p) => p === v || p.startsWith(`${v}:`));
    }
    case 'text':
      return [c.method, c.target.topic, c.target.server, c.caller.process, c.serverProcess, c.requestId, g, c.caller.replyQ].some((s) => !!s && s.includes(v));
  }
}

function messageMatches(m: DecodedMessage, q: CallQuery): boolean {
  const v = q.value;
  if (q.from !== undefined && m.ts < q.from) return false;
  if (q.to !== undefined && m.ts > q.to) return false;
  if (q.transport !== undefined && (m.transport ?? DEFAULT_TRANSPORT) !== q.transport) return false;
  const g = globalRequestIdOf(m);
  const proc = m.trace?.connectionName ?? null;
  switch (q.kind) {
    case 'msg_id':
      return m.msgId === v;
    case 'request_id':
    case 'global_request_id':
      return m.requestId === v || g === v;
    case 'method':
      return m.method === v || m.topic === v || m.server === v;
    case 'host':
      return m.server === v || proc === v || proc?.startsWith(`${v}:`) === true;
    case 'text':
      return [m.method, m.topic, m.server, proc, m.requestId, g, m.exchange].some((s) => !!s && s.includes(v));
  }
}

function mergeBy<T>(key: (x: T) => string, newer: (a: T, b: T) => T, ...lists: T[][]): T[] {
  const out = new Map<string, T>();
  for (const list of lists) {
    for (const x of list) {
      const k = key(x);
      const have = out.get(k);
      out.set(k, have ? newer(have, x) : x);
    }
  }
  return [...out.values()];
}

const newerCall = (a: CallRecord, b: CallRecord) => (b.updatedAt >= a.updatedAt ? b : a);

export class History {
  constructor(
    readonly store: HistoryStore | null,
    private readonly writer: HistoryWriter | null,
    private readonly tap: TapMemory | null,
  ) {}

  /** A memory message with the id it is (or will be) stored under, so both copies merge. */
  private memMessage(m: DecodedMessage): DecodedMessage {
    return this.writer ? { ...m, id: this.writer.storedId(m.id) } : m;
  }

  private async flushed(): Promise<void> {
    // recent changes into the store first (bounded: a slow store does not hold the answer long)
    if (this.writer) await Promise.race([this.writer.flush().catch(() => undefined), new Promise((r) => setTimeout(r, 1500).unref())]);
  }

  /** `transport`: only what was seen on it (the store's queries and the tap's memory alike), before `limit`. */
  async search(q: SearchQuery, transport: string | null = null): Promise<SearchResult> {
    const parsed = parseSearchQuery(q.q);
    const limit = q.limit ?? SEARCH_DEFAULT_LIMIT;
    const cq: CallQuery = { kind: parsed.kind, value: parsed.value, limit, from: q.from ? Date.parse(q.from) : undefined, to: q.to ? Date.parse(q.to) : undefined, transport: transport ?? undefined };
    await this.flushed();
    let calls: CallRecord[] = [];
    let messages: DecodedMessage[] = [];
    let truncated = false;
    if (this.store) {
      const [c, m] = await Promise.all([this.store.findCalls(cq), this.store.findMessages(cq)]);
      calls = c.calls;
      messages = m.messages;
      truncated = c.truncated || m.truncated;
    }
    if (this.tap) {
      const memCalls = [...this.tap.calls({ state: 'inflight', limit: MEMORY_SCAN }), ...this.tap.calls({ state: 'stuck', limit: MEMORY_SCAN }), ...this.tap.calls({ state: 'done', limit: MEMORY_SCAN })].filter((c) =>
        callMatches(c, cq),
      );
      calls = mergeBy((c) => c.msgId, newerCall, calls, memCalls);
      const memMsgs = this.tap.recent({ limit: MEMORY_SCAN }).filter((m) => messageMatches(m, cq)).map((m) => this.memMessage(m));
      messages = mergeBy((m) => m.id, (_a, b) => b, messages, memMsgs);
    }
    // a request id names the calls; show their replies and heartbeats too
    if ((parsed.kind === 'request_id' || parsed.kind === 'global_request_id') && calls.length > 0) {
      const more = await this.messagesOf(calls.slice(0, 20).map((c) => c.msgId));
      messages = mergeBy((m) => m.id, (_a, b) => b, messages, more);
      if (calls.some((c) => c.requestId === parsed.value)) parsed.kind = 'request_id';
      else parsed.kind = 'global_request_id';
    }
    calls.sort((a, b) => b.publishedAt - a.publishedAt);
    messages.sort((a, b) => b.ts - a.ts);
    if (calls.length > limit || messages.length > limit) truncated = true;
    return { query: parsed, calls: calls.slice(0, limit), messages: messages.slice(0, limit), truncated };
  }

  private async messagesOf(msgIds: string[]): Promise<DecodedMessage[]> {
    const stored = this.store ? await this.store.messagesOfCalls(msgIds) : [];
    const want = new Set(msgIds);
    const mem = this.tap ? this.tap.recent({ limit: MEMORY_SCAN }).filter((m) => m.msgId !== null && want.has(m.msgId)).map((m) => this.memMessage(m)) : [];
    return mergeBy((m) => m.id, (_a, b) => b, stored, mem).sort((a, b) => a.ts - b.ts);
  }

  /** null when the call is neither stored nor in memory. */
  async callStory(msgId: string): Promise<CallStory | null> {
    await this.flushed();
    const stored = this.store ? await this.store.call(msgId) : null;
    const mem = this.tap?.call(msgId) ?? null;
    const call = stored && mem ? newerCall(stored, mem) : (stored ?? mem);
    if (!call) return null;
    const g = call.globalRequestId ?? (stored as { globalRequestId?: string | null } | null)?.globalRequestId ?? null;
    if (g && !call.globalRequestId) call.globalRequestId = g;
    const messages = await this.messagesOf([msgId]);
    const ids = [call.requestId, g].filter((x): x is string => !!x);
    let related: CallRecord[] = [];
    if (ids.length > 0) {
      const fromStore = this.store ? await this.store.relatedCalls(ids) : [];
      const fromMem = this.tap
        ? [...this.tap.calls({ state: 'inflight', limit: MEMORY_SCAN }), ...this.tap.calls({ state: 'stuck', limit: MEMORY_SCAN }), ...this.tap.calls({ state: 'done', limit: MEMORY_SCAN })].filter(
            (c) => (c.requestId !== null && ids.includes(c.requestId)) || ids.includes(c.globalRequestId ?? '\u0000'),
          )
        : [];
      related = mergeBy((c) => c.msgId, newerCall, fromStore, fromMem)
        .filter((c) => c.msgId !== msgId)
        .sort((a, b) => b.publishedAt - a.publishedAt)
        .slice(0, 100);
    }
    return { call, messages, related };
  }

  /** A message by its stored id (`<run>.<n>`) or by the tap's id of this run. */
  async message(id: string): Promise<DecodedMessage | null> {
    if (this.tap) {
      const tapId = this.writer && id.startsWith(`${this.writer.runId}.`) ? id.slice(this.writer.runId.length + 1) : id;
      const m = this.tap.recent({ limit: 100_000 }).find((x) => x.id === tapId);
      if (m) return this.memMessage(m);
    }
    if (!this.store) return null;
    await this.flushed();
    return (await this.store.message(id)) ?? (this.writer && /^\d+$/.test(id) ? await this.store.message(this.writer.storedId(id)) : null);
  }

  async status(): Promise<HistoryStatus> {
    if (this.writer) return this.writer.status();
    return {
      enabled: false,
      backend: null,
      location: null,
      state: 'off',
      messages: 0,
      calls: 0,
      bytes: 0,
      oldestTs: null,
      retention: { ageMs: 0, age: 'off', maxBytes: 0, lastRunAt: null },
      queueDepth: 0,
      queueCapacity: 0,
      queueBytes: 0,
      queueBytesCapacity: 0,
      written: 0,
      dropped: 0,
      lastError: null,
      lastErrorAt: null,
      lastFlushAt: null,
    };
  }

  /** For /api/health: never waits on the store. */
  summary(): { backend: 'sqlite' | 'postgres'; state: 'ok' | 'error'; queueDepth: number; dropped: number; lastError: string | null } | null {
    return this.writer ? this.writer.summary() : null;
  }

  /** `transport`: only that transport's groups (in the store's query, before `limit`). */
  async stuckGroups(q: StuckGroupsQuery, transport: string | null = null): Promise<StuckGroups> {
    await this.flushed();
    const fromMs = q.from ? Date.parse(q.from) : undefined;
    if (this.store) return this.store.stuckGroups({ ...q, fromMs, transport: transport ?? undefined });
    // no store: group what the tap holds (acknowledgements need the store)
    const groups = new Map<string, StuckGroup>();
    const calls = this.tap ? [...this.tap.calls({ state: 'stuck', limit: MEMORY_SCAN }), ...this.tap.calls({ state: 'done', limit: MEMORY_SCAN })].filter((c) => c.cause !== null) : [];
    for (const c of calls.sort((a, b) => b.publishedAt - a.publishedAt)) {
      if (fromMs !== undefined && c.publishedAt < fromMs) continue;
      if (transport !== null && (c.transport ?? DEFAULT_TRANSPORT) !== transport) continue;
      const base = { transport: c.transport ?? DEFAULT_TRANSPORT, target: { exchange: c.target.exchange, topic: c.target.topic, server: c.target.server }, method: c.method, cause: c.cause as NonNullable<CallRecord['cause']> };
      const key = stuckGroupKey(base);
      let g = groups.get(key);
      if (!g) {
        g = { key, ...base, count: 0, firstSeen: c.publishedAt, lastSeen: c.publishedAt, sampleMsgIds: [], callerProcesses: [], acked: false, ackedAt: null, ackedBy: null, newSinceAck: 0 };
        groups.set(key, g);
      }
      g.count++;
      g.firstSeen = Math.min(g.firstSeen, c.publishedAt);
      if (g.sampleMsgIds.length < 5) g.sampleMsgIds.push(c.msgId);
      if (c.caller.process && !g.callerProcesses.includes(c.caller.process) && g.callerProcesses.length < 5) g.callerProcesses.push(c.caller.process);
    }
    let list = [...groups.values()];
    const needle = q.q?.toLowerCase();
    if (needle) list = list.filter((g) => g.key.toLowerCase().includes(needle));
    if (q.acked === 'yes') list = [];
    const limit = q.limit ?? 100;
    return { groups: list.slice(0, limit), totalCalls: list.reduce((n, g) => n + g.count, 0), truncated: list.length > limit };
  }

  async ack(key: string, by: string | null, acked: boolean): Promise<StuckGroup | null> {
    if (!this.store) return null;
    await this.store.ack(key, by, acked);
    const g = await this.store.stuckGroups({ limit: 1000 });
    return g.groups.find((x) => x.key === key) ?? null;
  }
}
