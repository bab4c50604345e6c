/**
 * What the realtime gateway and the HTTP API read from: the dashboard's
 * transport, the tap (structurally typed, so tests can hand in a fake), and
 * the snapshots both serve (`status`, `calls`, `broker`).
 */
import type { Transport } from './messaging/index.ts';
import { DEFAULT_TRANSPORT_NAME, selectedTransport, type BrokerSnapshot, type CallsSnapshot, type StatusSnapshot, type TransportsList } from '../lib/api-contracts.ts';
import type { BrokerHealthReport, BrokerHealthSummary } from '../lib/broker-contracts.ts';
import { downsampleRates } from '../lib/series.ts';
import { redactText } from './tap/index.ts';
import type { RatesUpdate } from '../lib/socket-contracts.ts';
import type {
  BrokerView,
  CallRecord,
  CallState,
  DecodedMessage,
  FanoutHistory,
  FanoutHistoryQuery,
  LatencyHistogram,
  KnownTargets,
  RateDimension,
  RateSeries,
  TapEvent,
  TapSnapshot,
  TapStatus,
} from '../lib/tap-contracts.ts';

/** The part of the tap (server/tap) the dashboard uses. */
export interface TapFace {
  status(): TapStatus;
  snapshot(nowMs: number, rates?: { windowMs?: number; limit?: number; top?: number }): TapSnapshot;
  /** oldest first; throws on a bad filter */
  recent(options: { filter?: string | ((m: DecodedMessage) => boolean); limit?: number; afterId?: string }): DecodedMessage[];
  calls(query: { state?: CallState; limit?: number }): CallRecord[];
  call(msgId: string): CallRecord | null;
  latency(): LatencyHistogram;
  /** exchanges, topics, servers and methods the traffic named lately (the Console's suggestions) */
  knownTargets(limit?: number): KnownTargets;
  brokerView(): Promise<BrokerView>;
  enableFirehose?(): Promise<TapStatus>;
  /** broadcasts kept in a `<topic>_fanout` stream; rejects with `{status, code, message}` (server/tap/fanout-history.ts) */
  fanoutHistory?(query: FanoutHistoryQuery): Promise<FanoutHistory>;
  /** layout, broker health and firehose coverage (server/tap/broker-report.ts), read at most every 15 s */
  brokerHealth?(force?: boolean): Promise<BrokerHealthReport>;
  /** the last broker health read, summarised; never waits */
  brokerHealthSummary?(): BrokerHealthSummary | null;
  on(listener: (event: TapEvent) => void): () => void;
}

/** The live-stream filter grammar (the tap's): a predicate, or an Error whose message says what is wrong. */
export type FilterParser = (text: string) => { ok: true; predicate: (m: DecodedMessage) => boolean } | { ok: false; error: string };

export interface DashboardInfo {
  embedded: boolean;
  demoFleet: boolean;
  controlExchange: string;
  readOnly: boolean;
  rpcConnPoolSize: number;
}

/** A `?transport=` / socket `transport` naming no transport of the fleet (HTTP 404, a refused subscribe). */
export class UnknownTransportError extends Error {
  override readonly name = 'UnknownTransportError';
  constructor(
    readonly transport: string,
    readonly known: readonly string[],
  ) {
    super(`unknown transport '${transport.slice(0, 64)}' (known: ${known.join(', ')})`);
  }
}

/** The named transports (server/fleet.ts): a dashboard per selection, and the list GET /api/transports serves. */
export interface FleetFace {
  readonly defaultName: string;
  names(): string[];
  /** the selected member's name, null for the whole fleet; throws UnknownTransportError */
  resolve(selector: string | null | undefined): string | null;
  /** the dashboard of a selection (a name, or all / nothing for the whole fleet); throws UnknownTransportError */
  select(base: Dashboard, selector: string | null | undefined): Dashboard;
  /** `nowMs`: the server clock the list carries (`at`) */
  transports(nowMs?: number): TransportsList;
  member(name: string): { name: string; transport: Transport; tap: TapFace | null; stamped: TapFace | null } | undefined;
}

export interface Dashboard {
  /** the selected transport; for the whole fleet, the default one */
  transport: Transport;
  /** the selected transport's tap; for the whole fleet, every tap merged */
  tap: TapFace | null;
  /** the named transports; absent: one transport named `default` (tests, embedded plumbing) */
  fleet?: FleetFace;
  /** what this dashboard shows: a transport's name, or `all` (absent: the whole of a one-transport server) */
  selection?: string;
  parseFilter: FilterParser;
  info: DashboardInfo;
  /** connected socket.io clients */
  viewers(): number;
  clock(): number;
}

/**
 * The dashboard of a selection (`?transport=`, a subscribe payload's `transport`): a transport's name,
 * or `all` / nothing for the whole fleet. Without a fleet the one transport is `default`.
 * Throws UnknownTransportError.
 */
export function selectDashboard(d: Dashboard, selector: string | null | undefined): Dashboard {
  if (d.fleet) return d.fleet.select(d, selector);
  const name = selectedTransport(selector);
  if (name !== null && name !== DEFAULT_TRANSPORT_NAME) throw new UnknownTransportError(name, [DEFAULT_TRANSPORT_NAME]);
  return d;
}

/** The names of the transports (one `default` without a fleet). */
export function transportNames(d: Dashboard): string[] {
  return d.fleet ? d.fleet.names() : [DEFAULT_TRANSPORT_NAME];
}

/** GET /api/transports. */
export function transportsList(d: Dashboard): TransportsList {
  if (d.fleet) return d.fleet.transports(d.clock());
  const t = d.transport.status();
  const retry = t.links.map((l) => l.retry).find((r) => r !== null && r !== undefined) ?? null;
  return {
    transports: [
      {
        name: DEFAULT_TRANSPORT_NAME,
        url: t.url,
        driver: t.driver,
        state: t.state,
        reason: retry ? redactText(retry.error) : null,
        attempt: retry?.attempt ?? null,
        nextRetryAt: retry?.nextAt ?? null,
        tap: d.tap?.status() ?? null,
      },
    ],
    default: DEFAULT_TRANSPORT_NAME,
    at: d.clock(),
  };
}

/** Rates in every status tick: one minute of totals, by kind and top methods; charts get series from the rates feed. */
export const STATUS_RATE_WINDOW_MS = 60_000;
export const STATUS_RATE_SERIES = 0;
export const CALLS_LIMIT = 200;
/** in-flight calls the Overview lists */
export const OVERVIEW_INFLIGHT = 8;

function oldest(calls: CallRecord[], n: number): CallRecord[] {
  return [...calls].sort((a, b) => a.publishedAt - b.publishedAt).slice(0, n);
}
export const DONE_LIMIT = 20;

export function statusSnapshot(d: Dashboard, nowMs = d.clock()): StatusSnapshot {
  const t = d.transport.status();
  let tap: TapSnapshot | null = null;
  if (d.tap) tap = d.tap.snapshot(nowMs, { windowMs: STATUS_RATE_WINDOW_MS, limit: STATUS_RATE_SERIES, top: 10 });
  const fleet = d.fleet && d.fleet.names().length > 1 ? d.fleet : null;
  return {
    at: nowMs,
    selection: d.selection ?? 'all',
    transports: fleet
      ? fleet.names().map((name) => {
          const m = fleet.member(name)!;
          return { name, state: m.transport.status().state, tap: m.tap?.status().state ?? null };
        })
      : undefined,
    transport: {
      driver: t.driver,
      url: t.url,
      state: t.state,
      embedded: d.info.embedded,
      demoFleet: d.info.demoFleet,
      controlExchange: d.info.controlExchange,
      links: t.links.map((l) => ({
        name: l.name,
        purpose: l.purpose,
        state: l.state,
        reconnects: l.reconnects,
        // a connection error may quote the URL it tried: through the one redaction path
        retry: l.retry ? { error: redactText(l.retry.error), attempt: l.retry.attempt, nextAt: l.retry.nextAt } : null,
      })),
    },
    pool: t.pool,
    replyWaiter: t.replyWaiter,
    tap: tap?.status ?? null,
    rates: tap?.rates ?? null,
    calls: tap ? { inflight: tap.calls.inflight, stuck: tap.calls.stuck, done: tap.calls.done } : { inflight: 0, stuck: 0, done: 0 },
    oldestInflight: d.tap && tap && tap.calls.inflight > 0 ? oldest(d.tap.calls({ state: 'inflight', limit: CALLS_LIMIT }), OVERVIEW_INFLIGHT).map(withoutTimeline) : [],
    readOnly: d.info.readOnly,
    viewers: d.viewers(),
  };
}

export function callsSnapshot(d: Dashboard, nowMs = d.clock()): CallsSnapshot {
  if (!d.tap) return { at: nowMs, selection: d.selection ?? 'all', inflight: [], stuck: [], done: [], histogram: null, canSeeReplies: false };
  return {
    at: nowMs,
    selection: d.selection ?? 'all',
    inflight: d.tap.calls({ state: 'inflight', limit: CALLS_LIMIT }),
    stuck: d.tap.calls({ state: 'stuck', limit: CALLS_LIMIT }),
    done: d.tap.calls({ state: 'done', limit: DONE_LIMIT }).map(withoutTimeline),
    histogram: d.tap.latency(),
    canSeeReplies: d.tap.status().canSeeReplies,
  };
}

/** One broker inspection serves every viewer for this long (the management API is slow and shared). */
export const BROKER_CACHE_MS = 2000;
const brokerCache = new WeakMap<Dashboard, { at: number; snapshot: Promise<BrokerSnapshot> }>();
/** The last inspection that finished, for answers that must not wait for a slow management API. */
const lastBroker = new WeakMap<Dashboard, BrokerSnapshot>();

/** The broker view, inspected at most once per BROKER_CACHE_MS however many viewers ask. */
export function brokerSnapshot(d: Dashboard): Promise<BrokerSnapshot> {
  const now = d.clock();
  const hit = brokerCache.get(d);
  if (hit && now - hit.at < BROKER_CACHE_MS) return hit.snapshot;
  const snapshot = inspectBroker(d);
  brokerCache.set(d, { at: now, snapshot });
  snapshot.then((s) => lastBroker.set(d, s)).catch(() => undefined);
  return snapshot;
}

/** How long the Console's suggestions wait for a broker inspection before they answer with the last one. */
export const TARGETS_BROKER_WAIT_MS = 1000;

/** A fresh inspection if it comes within `waitMs`, else the last one that finished (null: none yet, or it failed). */
async function recentBrokerSnapshot(d: Dashboard, waitMs: number): Promise<BrokerSnapshot | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), waitMs);
    timer.unref();
  });
  try {
    return (await Promise.race([brokerSnapshot(d), late])) ?? lastBroker.get(d) ?? null;
  } catch {
    return lastBroker.get(d) ?? null;
  } finally {
    clearTimeout(timer);
  }
}

async function inspectBroker(d: Dashboard): Promise<BrokerSnapshot> {
  const fleet = d.fleet && d.fleet.names().length > 1 ? d.fleet : null;
  if (fleet && (d.selection === undefined || d.selection === 'all')) {
    // the whole fleet: each transport's broker, the default one's as `view`
    const names = fleet.names();
    const each = await Promise.all(names.map((name) => brokerSnapshot(fleet.select(d, name))));
    return { ...each[0], transport: names[0], transports: each.map((b, i) => ({ name: names[i], view: b.view, error: b.error })) };
  }
  return { ...(await inspectOne(d)), transport: d.selection && d.selection !== 'all' ? d.selection : (d.fleet?.defaultName ?? DEFAULT_TRANSPORT_NAME) };
}

async function inspectOne(d: Dashboard): Promise<Omit<BrokerSnapshot, 'transport' | 'transports'>> {
  const at = d.clock();
  if (!d.tap) return { at, view: null, error: 'The tap is off (TAP_MODE=off), so the broker is not inspected.', poolSize: d.info.rpcConnPoolSize };
  try {
    return { at, view: await d.tap.brokerView(), error: null, poolSize: d.info.rpcConnPoolSize };
  } catch (err) {
    return { at, view: null, error: `The broker could not be inspected: ${(err as Error).message}`, poolSize: d.info.rpcConnPoolSize };
  }
}

/**
 * The Console's suggestions (`GET /api/targets`): what the traffic named lately, calls' and casts' topics apart
 * from notification topics, then the topics and servers whose queues an RPC server consumes now (the cached
 * broker view), so a topic quiet since osloscope started is offered too. A broker that cannot be inspected
 * leaves the traffic's list; one slower than TARGETS_BROKER_WAIT_MS gives its last inspection (the Console's
 * suggestions do not wait for a loaded management API). Null without a tap.
 */
export async function knownTargets(d: Dashboard, limit = 200, waitMs = TARGETS_BROKER_WAIT_MS): Promise<KnownTargets | null> {
  if (!d.tap) return null;
  const snap = await recentBrokerSnapshot(d, waitMs);
  // the traffic's list after the wait: what it named meanwhile is in it
  const t = d.tap.knownTargets(limit);
  const views = snap === null ? [] : (snap.transports?.map((x) => x.view) ?? [snap.view]);
  const topics = new Set(t.topics);
  const servers = new Set(t.servers.map((x) => `${x.topic}\n${x.server}`));
  for (const view of views) {
    for (const q of view?.queues ?? []) {
      // a topic queue (`<topic>`, `<topic>.<server>`) that is consumed: an RPC server listens there (docs/wire.md#queue-names)
      if (q.consumers === 0 || q.topic === null) continue;
      if (q.kind === 'topic' && topics.size < limit && !topics.has(q.topic)) {
        topics.add(q.topic);
        t.topics.push(q.topic);
      } else if (q.kind === 'server' && q.server !== null && servers.size < limit && !servers.has(`${q.topic}\n${q.server}`)) {
        servers.add(`${q.topic}\n${q.server}`);
        t.servers.push({ topic: q.topic, server: q.server });
      }
    }
  }
  t.notificationTopics = t.notificationTopics.filter((n) => !topics.has(n));
  return t;
}

/** Series per dimension a chart gets. */
export const CHART_SERIES = 12;
/** Points per series on the wire; longer windows are downsampled. */
export const CHART_POINTS = 300;

/**
 * Rates for a chart: the top series of every dimension, or with `focus` only
 * those whose key contains it (so a quiet topic can be watched among busy
 * ones), downsampled to at most CHART_POINTS buckets.
 */
export function ratesUpdate(d: Dashboard, focus: string, windowMs: number, dimension: RateDimension | null = null, nowMs = d.clock()): RatesUpdate | null {
  if (!d.tap) return null;
  const needle = focus.trim().toLowerCase();
  const snap = d.tap.snapshot(nowMs, { windowMs, limit: needle ? 5000 : CHART_SERIES, top: 10 }).rates;
  const keep = (dim: RateDimension, list: RateSeries[]) =>
    dimension !== null && dim !== dimension ? [] : needle ? list.filter((x) => x.key.toLowerCase().includes(needle)).slice(0, CHART_SERIES) : list;
  snap.series = {
    exchange: keep('exchange', snap.series.exchange),
    topic: keep('topic', snap.series.topic),
    server: keep('server', snap.series.server),
    method: keep('method', snap.series.method),
  };
  return { transport: d.selection ?? 'all', focus, windowMs, dimension: dimension ?? 'topic', rates: downsampleRates(snap, Math.ceil(snap.windowMs / snap.bucketMs / CHART_POINTS)) };
}

/** A call record as pushed in lists of finished calls: without its timeline (fetched when opened). */
export function withoutTimeline(c: CallRecord): CallRecord {
  return { ...c, timeline: [] };
}
