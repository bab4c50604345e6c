/**
 * A fleet of named transports (TRANSPORT_URLS=name=url,…; TRANSPORT_URL alone is one named `default`):
 * one Transport + one Tap per broker, the reads merged over them, and the history writer fed every member's
 * stamped messages and calls (each row stored with its transport's name).
 *
 * Every message and call leaving a member is stamped with `transport: <name>`; with more than one
 * member a message's id becomes `<name>:<tap id>` (each tap numbers its own messages). "All" merges:
 * messages by time, calls by the tap's order, rates summed bucket by bucket, known targets united;
 * broker views stay per transport. A selection (`?transport=`, a socket payload's `transport`) is a
 * member's name, or `all` / nothing for the whole fleet; an unknown name throws UnknownTransportError.
 */
import type { Transport } from './messaging/index.ts';
import { redactText } from './tap/index.ts';
import { ALL_TRANSPORTS, selectedTransport, transportUp, type TransportEntry, type TransportsList } from '../lib/api-contracts.ts';
import { UnknownTransportError, type Dashboard, type FleetFace, type TapFace } from './dashboard.ts';
import type { BrokerHealthSummary } from '../lib/broker-contracts.ts';
import type {
  CallRecord,
  CallState,
  DecodedMessage,
  KnownTargets,
  LatencyHistogram,
  RateSeries,
  RateSnapshot,
  TapEvent,
  TapSnapshot,
  TapStatus,
  TopMethod,
} from '../lib/tap-contracts.ts';

export interface FleetMember {
  name: string;
  transport: Transport;
  /** the member's own tap (null: TAP_MODE=off) */
  tap: TapFace | null;
}

/** One member's tap, every message and call stamped with its transport (and `<name>:` ids in a fleet of several). */
export class StampedTap implements TapFace {
  constructor(
    readonly name: string,
    readonly inner: TapFace,
    /** prefix message ids with `<name>:` (a fleet of several) */
    private readonly prefixIds: boolean,
  ) {}

  message(m: DecodedMessage): DecodedMessage {
    return { ...m, transport: this.name, id: this.prefixIds ? `${this.name}:${m.id}` : m.id };
  }
  callOf(c: CallRecord): CallRecord {
    return { ...c, transport: this.name };
  }
  /** the member's own id of a fleet id (null: another member's) */
  ownId(id: string): string | null {
    if (!this.prefixIds) return id;
    return id.startsWith(`${this.name}:`) ? id.slice(this.name.length + 1) : null;
  }

  status(): TapStatus {
    return this.inner.status();
  }
  snapshot(nowMs: number, rates?: { windowMs?: number; limit?: number; top?: number }): TapSnapshot {
    return this.inner.snapshot(nowMs, rates);
  }
  recent(options: { filter?: string | ((m: DecodedMessage) => boolean); limit?: number; afterId?: string }): DecodedMessage[] {
    const { filter, afterId } = options;
    // the filter sees the stamped message (so `transport` and ids read as the fleet shows them)
    const predicate = typeof filter === 'function' ? (m: DecodedMessage) => filter(this.message(m)) : filter;
    const own = afterId !== undefined ? (this.ownId(afterId) ?? undefined) : undefined;
    return this.inner.recent({ ...options, filter: predicate, afterId: own }).map((m) => this.message(m));
  }
  calls(query: { state?: CallState; limit?: number }): CallRecord[] {
    return this.inner.calls(query).map((c) => this.callOf(c));
  }
  call(msgId: string): CallRecord | null {
    const c = this.inner.call(msgId);
    return c ? this.callOf(c) : null;
  }
  latency(): LatencyHistogram {
    return this.inner.latency();
  }
  knownTargets(limit?: number): KnownTargets {
    return this.inner.knownTargets(limit);
  }
  brokerView() {
    return this.inner.brokerView();
  }
  get enableFirehose() {
    return this.inner.enableFirehose?.bind(this.inner);
  }
  get fanoutHistory() {
    const f = this.inner.fanoutHistory?.bind(this.inner);
    return f ? async (q: Parameters<NonNullable<TapFace['fanoutHistory']>>[0]) => {
      const h = await f(q);
      return { ...h, entries: h.entries.map((e) => ({ ...e, message: this.message(e.message) })) };
    } : undefined;
  }
  get brokerHealth() {
    return this.inner.brokerHealth?.bind(this.inner);
  }
  get brokerHealthSummary() {
    return this.inner.brokerHealthSummary?.bind(this.inner);
  }
  /** the last event stamped: the inner tap hands the same event to each listener in turn, so it is stamped once */
  private lastIn: TapEvent | null = null;
  private lastOut: TapEvent | null = null;

  private stamp(e: TapEvent): TapEvent {
    if (e !== this.lastIn) {
      this.lastIn = e;
      this.lastOut =
        e.type === 'tap:message' ? { type: 'tap:message', message: this.message(e.message) } : e.type === 'tap:call' ? { type: 'tap:call', call: this.callOf(e.call) } : e;
    }
    return this.lastOut as TapEvent;
  }

  on(listener: (event: TapEvent) => void): () => void {
    // each listener stays its own subscription, so the inner tap keeps isolating a listener that throws
    return this.inner.on((e) => listener(this.stamp(e)));
  }
}

// ---- merging -------------------------------------------------------------------------

const sumInto = (into: number[], add: readonly number[]) => {
  for (let i = 0; i < add.length; i++) into[i] = (into[i] ?? 0) + add[i];
  return into;
};

/** Series of one dimension from several taps: the same key summed, busiest first, at most `limit` (0 = none). */
export function mergeSeries(lists: readonly RateSeries[][], limit: number | undefined): RateSeries[] {
  const byKey = new Map<string, RateSeries>();
  for (const list of lists) {
    for (const s of list) {
      const have = byKey.get(s.key);
      if (!have) byKey.set(s.key, { ...s, buckets: [...s.buckets] });
      else byKey.set(s.key, { ...have, total: have.total + s.total, buckets: sumInto(have.buckets, s.buckets) });
    }
  }
  const out = [...byKey.values()].sort((a, b) => b.total - a.total || a.key.localeCompare(b.key));
  return limit === undefined ? out : out.slice(0, limit);
}

/** Rates of several taps taken at the same instant with the same window: summed bucket by bucket. */
export function mergeRates(list: readonly RateSnapshot[], limit?: number, top?: number): RateSnapshot {
  if (list.length === 1) return list[0];
  const [first] = list;
  const byKind = {} as RateSnapshot['byKind'];
  const totalsByKind = {} as RateSnapshot['totalsByKind'];
  const total: number[] = new Array<number>(first.total.length).fill(0);
  for (const r of list) {
    sumInto(total, r.total);
    for (const [k, v] of Object.entries(r.byKind) as [keyof RateSnapshot['byKind'], number[]][]) byKind[k] = sumInto(byKind[k] ?? new Array<number>(v.length).fill(0), v);
    for (const [k, v] of Object.entries(r.totalsByKind) as [keyof RateSnapshot['totalsByKind'], number][]) totalsByKind[k] = (totalsByKind[k] ?? 0) + v;
  }
  const tops = new Map<string, TopMethod>();
  for (const r of list) {
    for (const t of r.topMethods) {
      const have = tops.get(t.key);
      tops.set(t.key, have ? { ...have, count: have.count + t.count, perSecond: have.perSecond + t.perSecond } : { ...t });
    }
  }
  const series = (dim: keyof RateSnapshot['series']) => mergeSeries(list.map((r) => r.series[dim]), limit);
  return {
    nowMs: first.nowMs,
    bucketMs: first.bucketMs,
    windowMs: first.windowMs,
    startMs: first.startMs,
    total,
    byKind,
    totalsByKind,
    series: { exchange: series('exchange'), topic: series('topic'), server: series('server'), method: series('method') },
    topMethods: [...tops.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key)).slice(0, top ?? 10),
  };
}

const STATE_RANK: Record<TapStatus['state'], number> = { running: 0, starting: 1, recovering: 2, stopped: 3, error: 4 };

/** Tap statuses of several members as one: the worst state, counters summed, exchanges and queues united. */
export function mergeStatus(entries: readonly { name: string; status: TapStatus }[]): TapStatus {
  if (entries.length === 1) return entries[0].status;
  const worst = [...entries].sort((a, b) => STATE_RANK[b.status.state] - STATE_RANK[a.status.state])[0];
  const first = entries[0].status;
  const counters = { ...first.counters };
  for (const { status } of entries.slice(1)) for (const k of Object.keys(counters) as (keyof typeof counters)[]) counters[k] += status.counters[k];
  const unite = (pick: (s: TapStatus) => string[]) => [...new Set(entries.flatMap((e) => pick(e.status)))];
  const errors = entries.filter((e) => e.status.error).map((e) => `${e.name}: ${e.status.error}`);
  const hints = entries.filter((e) => e.status.hint).map((e) => `${e.name}: ${e.status.hint}`);
  const modes = new Set(entries.map((e) => e.status.mode));
  const rec = entries.map((e) => e.status.recovery).filter((r) => r !== undefined);
  // the firehose as the least-covered member sees it: off anywhere is off, unknown anywhere (and off nowhere) unknown
  const fhOf = (on: boolean | null) => (on === false ? 2 : on === null ? 1 : 0);
  const fhWorst = [...entries].sort((a, b) => fhOf(b.status.firehose.on) - fhOf(a.status.firehose.on))[0].status.firehose;
  const inspectors = new Set(entries.map((e) => e.status.inspector));
  return {
    ...first,
    mode: modes.size === 1 ? first.mode : entries.some((e) => e.status.mode === 'bindings') ? 'bindings' : first.mode,
    state: worst.status.state,
    error: errors.length > 0 ? errors.join('; ') : null,
    hint: hints.length > 0 ? hints.join('; ') : null,
    vhost: entries.map((e) => `${e.name}:${e.status.vhost}`).join(', '),
    canSeeReplies: entries.every((e) => e.status.canSeeReplies),
    firehose: { on: fhWorst.on, detectedBy: fhWorst.detectedBy, canEnable: false },
    inspector: inspectors.size === 1 ? first.inspector : inspectors.has('passive') ? 'passive' : inspectors.has('memory') ? 'memory' : first.inspector,
    tappedExchanges: unite((s) => s.tappedExchanges),
    fanoutExchanges: unite((s) => s.fanoutExchanges),
    tapQueues: unite((s) => s.tapQueues),
    counters,
    // the fullest tap queue of the fleet (its hint, named by transport, is in `hint`)
    backlog: entries.reduce<TapStatus['backlog']>((b, e) => {
      const x = e.status.backlog;
      return x && x.cap > 0 && (!b || x.messages / x.cap > b.messages / b.cap) ? x : b;
    }, null),
    startedAt: Math.min(...entries.map((e) => e.status.startedAt ?? Number.POSITIVE_INFINITY)) === Number.POSITIVE_INFINITY ? null : Math.min(...entries.map((e) => e.status.startedAt ?? Number.POSITIVE_INFINITY)),
    recovery:
      rec.length === 0
        ? undefined
        : {
            reconnects: rec.reduce((n, r) => n + r.reconnects, 0),
            rebuilds: rec.reduce((n, r) => n + r.rebuilds, 0),
            skipped: rec.reduce((n, r) => n + r.skipped, 0),
            awaiting: [...new Set(rec.flatMap((r) => r.awaiting))].slice(0, 20),
            lastOutageMs: rec.reduce<number | null>((m, r) => (r.lastOutageMs === null ? m : Math.max(m ?? 0, r.lastOutageMs)), null),
            retry: (() => {
              const named = entries.flatMap((e) => (e.status.recovery?.retry ? [{ ...e.status.recovery.retry, error: `${e.name}: ${e.status.recovery.retry.error}` }] : []));
              return lastFailure(named, null);
            })(),
          },
  };
}

/**
 * Broker health summaries of several members as one, the worst of each part and which transport it is:
 * the stalest read time, alarms, nodes and warnings summed, the layout furthest from its recipe (named by transport),
 * firehose coverage summed with each transport's own line, every member's version and deprecated features named by
 * transport. A member not read yet (null) shows in the firehose line; all unread: null.
 */
export function mergeBrokerSummaries(entries: readonly { name: string; summary: BrokerHealthSummary | null }[]): BrokerHealthSummary | null {
  if (entries.length === 1) return entries[0].summary;
  const read = entries.filter((e): e is { name: string; summary: BrokerHealthSummary } => e.summary !== null);
  if (read.length === 0) return null;
  const badness = (l: NonNullable<BrokerHealthSummary['layout']>) => (l.complete ? 0 : 1_000_000) + l.drift;
  const layouts = read.filter((e) => e.summary.layout !== null).sort((a, b) => badness(b.summary.layout!) - badness(a.summary.layout!));
  const worstLayout = layouts[0];
  const sameLayout = layouts.every((e) => e.summary.layout!.name === worstLayout?.summary.layout!.name && badness(e.summary.layout!) === 0);
  const fh = entries.map((e) => ({ name: e.name, f: e.summary?.firehose ?? null }));
  const known = fh.filter((x): x is { name: string; f: NonNullable<BrokerHealthSummary['firehose']> } => x.f !== null);
  const versions = read.map((e) => ({ name: e.name, v: e.summary.version }));
  const distinct = new Set(versions.map((x) => x.v));
  const nodes = read.map((e) => e.summary.nodes).filter((n): n is number => n !== null);
  return {
    at: Math.min(...read.map((e) => e.summary.at)),
    layout: !worstLayout
      ? null
      : sameLayout
        ? worstLayout.summary.layout
        : { ...worstLayout.summary.layout!, label: `${worstLayout.name}: ${worstLayout.summary.layout!.label}` },
    firehose:
      known.length === 0
        ? null
        : {
            on: known.reduce((n, x) => n + x.f.on, 0),
            known: known.reduce((n, x) => n + x.f.known, 0),
            total: known.reduce((n, x) => n + x.f.total, 0),
            // the least-covered member's share (null when any is unknown)
            weighted: known.length === entries.length && known.every((x) => x.f.weighted !== null) ? Math.min(...known.map((x) => x.f.weighted!)) : null,
            summary: fh.map((x) => `${x.name}: ${x.f ? x.f.summary : 'not read yet'}`).join('; '),
          },
    version: distinct.size === 1 ? versions[0].v : versions.map((x) => `${x.name} ${x.v ?? 'unknown'}`).join(', '),
    nodes: nodes.length === 0 ? null : nodes.reduce((n, x) => n + x, 0),
    alarms: read.reduce((n, e) => n + e.summary.alarms, 0),
    deprecatedFeaturesUsed: read.flatMap((e) => e.summary.deprecatedFeaturesUsed.map((f) => `${e.name}: ${f}`)),
    warnings: read.reduce((n, e) => n + e.summary.warnings, 0),
  };
}

/** Calls of several taps in the tap's own order: stuck and in-flight oldest first, done newest first. */
export function mergeCalls(lists: readonly CallRecord[][], state: CallState | undefined, limit: number | undefined): CallRecord[] {
  const all = lists.flat();
  if (state === 'done') all.sort((a, b) => b.updatedAt - a.updatedAt);
  else all.sort((a, b) => a.publishedAt - b.publishedAt);
  return limit === undefined ? all : all.slice(0, limit);
}

/** Messages of several taps, oldest first, the newest `limit`. */
export function mergeMessages(lists: readonly DecodedMessage[][], limit: number | undefined): DecodedMessage[] {
  const all = lists.flat().sort((a, b) => a.ts - b.ts);
  return limit === undefined ? all : all.slice(Math.max(0, all.length - limit));
}

/** Several stamped taps read as one (the whole fleet). */
export class MergedTap implements TapFace {
  constructor(readonly members: readonly StampedTap[]) {}

  status(): TapStatus {
    return mergeStatus(this.members.map((m) => ({ name: m.name, status: m.status() })));
  }
  snapshot(nowMs: number, rates?: { windowMs?: number; limit?: number; top?: number }): TapSnapshot {
    const snaps = this.members.map((m) => ({ name: m.name, snap: m.snapshot(nowMs, rates) }));
    const byCause = {} as TapSnapshot['calls']['byCause'];
    for (const { snap } of snaps) for (const [k, v] of Object.entries(snap.calls.byCause) as [keyof typeof byCause, number][]) byCause[k] = (byCause[k] ?? 0) + v;
    return {
      nowMs,
      status: mergeStatus(snaps.map((s) => ({ name: s.name, status: s.snap.status }))),
      rates: mergeRates(
        snaps.map((s) => s.snap.rates),
        rates?.limit,
        rates?.top,
      ),
      calls: {
        inflight: snaps.reduce((n, s) => n + s.snap.calls.inflight, 0),
        stuck: snaps.reduce((n, s) => n + s.snap.calls.stuck, 0),
        done: snaps.reduce((n, s) => n + s.snap.calls.done, 0),
        byCause,
      },
    };
  }
  recent(options: { filter?: string | ((m: DecodedMessage) => boolean); limit?: number; afterId?: string }): DecodedMessage[] {
    const { afterId } = options;
    const owner = afterId !== undefined ? this.members.find((m) => m.ownId(afterId) !== null) : undefined;
    const afterTs = owner && afterId !== undefined ? owner.recent({ limit: 100_000 }).find((m) => m.id === afterId)?.ts : undefined;
    const lists = this.members.map((m) => {
      if (afterId === undefined) return m.recent(options);
      if (m === owner) return m.recent(options);
      const list = m.recent({ ...options, afterId: undefined, limit: undefined });
      return afterTs === undefined ? list : list.filter((x) => x.ts > afterTs);
    });
    return mergeMessages(lists, options.limit);
  }
  calls(query: { state?: CallState; limit?: number }): CallRecord[] {
    return mergeCalls(
      this.members.map((m) => m.calls(query)),
      query.state,
      query.limit,
    );
  }
  call(msgId: string): CallRecord | null {
    for (const m of this.members) {
      const c = m.call(msgId);
      if (c) return c;
    }
    return null;
  }
  latency(): LatencyHistogram {
    const [first, ...rest] = this.members.map((m) => m.latency());
    return { ...first, series: [first, ...rest].flatMap((h) => h.series) };
  }
  knownTargets(limit = 200): KnownTargets {
    const all = this.members.map((m) => m.knownTargets(limit));
    const uniq = <T>(list: T[], key: (x: T) => string) => [...new Map(list.map((x) => [key(x), x])).values()].slice(0, limit);
    return {
      exchanges: uniq(all.flatMap((k) => k.exchanges), (x) => x),
      topics: uniq(all.flatMap((k) => k.topics), (x) => x),
      notificationTopics: uniq(all.flatMap((k) => k.notificationTopics), (x) => x),
      servers: uniq(all.flatMap((k) => k.servers), (x) => `${x.topic}|${x.server}`),
      methods: uniq(all.flatMap((k) => k.methods), (x) => `${x.topic ?? ''}|${x.method}`),
    };
  }
  /** the default member's broker (brokerSnapshot of the whole fleet lists each member's) */
  brokerView() {
    return this.members[0].brokerView();
  }
  get brokerHealth() {
    return this.members[0].brokerHealth;
  }
  /** every member's summary as one: the worst of each part, named by transport (mergeBrokerSummaries) */
  brokerHealthSummary(): BrokerHealthSummary | null {
    return mergeBrokerSummaries(this.members.map((m) => ({ name: m.name, summary: m.brokerHealthSummary?.() ?? null })));
  }
  on(listener: (event: TapEvent) => void): () => void {
    const offs = this.members.map((m) => m.on(listener));
    return () => offs.forEach((off) => off());
  }
}

// ---- the fleet -----------------------------------------------------------------------

type Retry = { error: string; attempt: number; nextAt: number };

/** Of the links' and the tap's planned attempts, the one that comes next (null: none planned). */
export function lastFailure(links: readonly (Retry | null | undefined)[], tap: Retry | null | undefined): Retry | null {
  const all = [...links, tap].filter((r): r is Retry => r !== null && r !== undefined);
  return all.length === 0 ? null : all.reduce((a, b) => (b.nextAt < a.nextAt ? b : a));
}

export class Fleet implements FleetFace {
  readonly members: readonly (FleetMember & { stamped: StampedTap | null })[];
  readonly defaultName: string;
  private readonly views = new Map<string, Dashboard>();
  private readonly merged: TapFace | null;

  constructor(members: readonly FleetMember[]) {
    if (members.length === 0) throw new Error('a fleet has at least one transport');
    const several = members.length > 1;
    this.members = members.map((m) => ({ ...m, stamped: m.tap ? new StampedTap(m.name, m.tap, several) : null }));
    this.defaultName = members[0].name;
    const taps = this.members.map((m) => m.stamped).filter((t): t is StampedTap => t !== null);
    this.merged = taps.length === 0 ? null : taps.length === 1 ? taps[0] : new MergedTap(taps);
  }

  names(): string[] {
    return this.members.map((m) => m.name);
  }

  member(name: string) {
    return this.members.find((m) => m.name === name);
  }

  /** The selected member's name (null: the whole fleet); throws UnknownTransportError. */
  resolve(selector: string | null | undefined): string | null {
    const name = selectedTransport(selector);
    if (name === null) return null;
    if (!this.member(name)) throw new UnknownTransportError(name, this.names());
    return name;
  }

  /** The whole fleet's tap (null: no member taps). */
  tap(): TapFace | null {
    return this.merged;
  }

  /** The dashboard for a selection: the member's transport and stamped tap, or the default transport and the merged tap. */
  select(base: Dashboard, selector: string | null | undefined): Dashboard {
    const name = this.resolve(selector) ?? ALL_TRANSPORTS;
    const hit = this.views.get(name);
    if (hit) return hit;
    const m = name === ALL_TRANSPORTS ? null : this.member(name)!;
    const view: Dashboard = {
      ...base,
      transport: m ? m.transport : this.members[0].transport,
      tap: m ? m.stamped : this.merged,
      selection: name,
    };
    this.views.set(name, view);
    return view;
  }

  /** Every member's state and, while one is down, why and when it tries again (`nowMs`: the server clock, `at`). */
  transports(nowMs: number = Date.now()): TransportsList {
    return {
      transports: this.members.map((m): TransportEntry => {
        const t = m.transport.status();
        const tap = m.tap ? m.tap.status() : null;
        const down = !transportUp(t.state) || (tap !== null && tap.state === 'recovering');
        const retry = down ? lastFailure(t.links.map((l) => l.retry), tap?.recovery?.retry) : null;
        // no attempt running or planned (a send link that reconnects on its next use): the tap's last error, else the link's state
        const link = t.links.find((l) => !transportUp(l.state));
        const fallback = tap?.error ?? (link && !transportUp(t.state) ? `connection ${link.name} is ${link.state}` : null);
        return {
          name: m.name,
          url: t.url,
          driver: t.driver,
          state: t.state,
          reason: retry ? redactText(retry.error) : down && fallback ? redactText(fallback) : null,
          attempt: retry?.attempt ?? null,
          nextRetryAt: retry?.nextAt ?? null,
          tap,
        };
      }),
      default: this.defaultName,
      at: nowMs,
    };
  }
}
