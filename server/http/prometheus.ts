/**
 * GET /metrics: Prometheus text. oslo.metrics names where they exist
 * (oslo_metrics/metrics/oslo_messaging.py):
 *
 * - oslo_messaging_rpc_client_invocation_{start,end}_total and
 *   _exception_total: the RPCs osloscope itself fired (Console / API);
 * - oslo_messaging_rpc_client_processing_seconds: call latency as the tap
 *   sees it on the wire (request publish → reply publish); osloscope's own
 *   measurements when the tap is off.
 *
 * Both keep oslo.metrics' labels except `process` (metrics.ts: a process id
 * label starts new series at every restart). Everything else is osloscope's
 * own, prefixed `osloscope_`, named by Prometheus' rules: counters end in
 * `_total`, units are base units. `promtool check metrics` passes on it
 * (test/integration/deploy-promtool.test.ts); deploy/prometheus/osloscope-rules.yml alerts on it.
 */
import { RPC_CLIENT_PROCESSING_SECONDS } from '../../lib/tap-contracts.ts';
import { DEFAULT_TRANSPORT_NAME, transportUp } from '../../lib/api-contracts.ts';
import type { Dashboard, TapFace } from '../dashboard.ts';
import type { FireService } from './fire.ts';
import { mergeHistogramSeries, renderCounter, renderGauge, renderHistogramFamily } from './metrics.ts';

/** Consumers per topic queue, read from the broker view in the background at most this often. */
const TOPIC_CONSUMERS_EVERY_MS = 30_000;
/** topics exported at most (one series each) */
const MAX_TOPIC_SERIES = 1000;

interface TopicConsumers {
  at: number;
  pending: boolean;
  topics: Map<string, number>;
}
const topicConsumers = new WeakMap<TapFace, TopicConsumers>();

/**
 * Consumers on each `<topic>` queue as last read: a scrape never waits for the broker; it starts a read
 * when the last one is older than TOPIC_CONSUMERS_EVERY_MS and shows the previous one meanwhile.
 */
function consumersPerTopic(tap: TapFace, now: number): Map<string, number> {
  let c = topicConsumers.get(tap);
  if (!c) {
    c = { at: 0, pending: false, topics: new Map() };
    topicConsumers.set(tap, c);
  }
  const entry = c;
  if (!entry.pending && now - entry.at >= TOPIC_CONSUMERS_EVERY_MS) {
    entry.pending = true;
    entry.at = now;
    tap
      .brokerView()
      .then((view) => {
        const topics = new Map<string, number>();
        for (const q of view.queues) {
          // a count the broker did not report (statistics disabled) is no series rather than 0
          if (q.kind !== 'topic' || !q.topic || q.consumers === null || topics.size >= MAX_TOPIC_SERIES) continue;
          topics.set(q.topic, (topics.get(q.topic) ?? 0) + q.consumers);
        }
        // an unreadable list keeps the last good one rather than reporting every topic at 0
        if (view.queues.length > 0 || !view.error) entry.topics = topics;
      })
      .catch(() => undefined)
      .finally(() => {
        entry.pending = false;
      });
  }
  return entry.topics;
}

export interface MetricsSources {
  dashboard: Dashboard;
  fire: FireService;
  /** connected viewers */
  viewers: () => number;
  /** realtime gateway push counters */
  pushes: () => { statusPushes: number; callsPushes: number; ratesPushes: number; trafficBatches: number; trafficMessages: number };
}

/** The transports a scrape covers: the selected one, or every one of the fleet (`default` alone without a fleet). */
function scrapedMembers(d: Dashboard): { name: string; transport: Dashboard['transport']; tap: TapFace | null }[] {
  if (!d.fleet) return [{ name: DEFAULT_TRANSPORT_NAME, transport: d.transport, tap: d.tap }];
  const names = d.selection && d.selection !== 'all' ? [d.selection] : d.fleet.names();
  return names.map((name) => {
    const m = d.fleet!.member(name)!;
    return { name, transport: m.transport, tap: m.stamped };
  });
}

/** Every osloscope_ family carries a `transport` label (the fleet's names; `default` for TRANSPORT_URL). */
export function renderMetrics(s: MetricsSources): string {
  const d = s.dashboard;
  const now = d.clock();
  const members = scrapedMembers(d).map((m) => ({ ...m, t: m.transport.status() }));
  const parts: string[] = [];
  const each = <T>(f: (m: (typeof members)[number]) => T[]): T[] => members.flatMap(f);

  const own = s.fire.metrics;
  parts.push(own.start.render(), own.end.render(), own.exceptions.render());

  const latency = each((m) => {
    const h = m.tap?.latency();
    return h ? h.series.map((x) => ({ buckets: h.buckets, labels: { ...x.labels, transport: m.name }, counts: x.counts, sum: x.sum, count: x.count })) : [];
  });
  if (latency.length > 0) {
    parts.push(
      renderHistogramFamily(
        RPC_CLIENT_PROCESSING_SECONDS,
        'Duration of RPC processing (observed on the wire: request publish to final reply publish).',
        latency[0].buckets,
        mergeHistogramSeries(latency.map((x) => ({ labels: x.labels, counts: x.counts, sum: x.sum, count: x.count }))),
      ),
    );
  } else {
    parts.push(own.seconds.render());
  }

  parts.push(renderGauge('osloscope_transport_up', 'Whether the dashboard transport is connected (1) or not (0).', each((m) => [{ labels: { transport: m.name, driver: m.t.driver }, value: transportUp(m.t.state) ? 1 : 0 }])));
  parts.push(
    renderGauge(
      'osloscope_pool_connections',
      "osloscope's send connection pool (rpc_conn_pool_size).",
      each((m) => [
        { labels: { transport: m.name, state: 'in_use' }, value: m.t.pool.inUse },
        { labels: { transport: m.name, state: 'idle' }, value: m.t.pool.idle },
        { labels: { transport: m.name, state: 'max' }, value: m.t.pool.max },
      ]),
    ),
  );
  parts.push(renderGauge('osloscope_pool_waiters', 'Callers blocked waiting for a send connection.', each((m) => [{ labels: { transport: m.name }, value: m.t.pool.waiters }])));
  parts.push(renderGauge('osloscope_reply_waiters', "Calls fired by osloscope waiting for their reply (the ReplyWaiter's pending map).", each((m) => [{ labels: { transport: m.name }, value: m.t.replyWaiter?.pending ?? 0 }])));
  parts.push(
    renderCounter(
      'osloscope_messages_rejected_total',
      "Bodies the dashboard's consumers rejected: undecodable, or inflating beyond MAX_MESSAGE_BYTES.",
      each((m) => [
        { labels: { transport: m.name, reason: 'malformed' }, value: m.t.rejected.malformed },
        { labels: { transport: m.name, reason: 'oversized' }, value: m.t.rejected.oversized },
      ]),
    ),
  );
  parts.push(renderCounter('osloscope_late_replies_total', 'Replies to osloscope calls that came after the caller gave up.', each((m) => [{ labels: { transport: m.name }, value: m.t.replyWaiter?.late ?? 0 }])));
  parts.push(renderGauge('osloscope_viewers', 'Connected dashboard viewers (socket.io clients).', [{ value: s.viewers() }]));
  const p = s.pushes();
  parts.push(
    renderCounter('osloscope_realtime_pushes_total', 'Batched socket pushes by kind (each one broadcast to all subscribed viewers).', [
      { labels: { kind: 'status' }, value: p.statusPushes },
      { labels: { kind: 'calls' }, value: p.callsPushes },
      { labels: { kind: 'rates' }, value: p.ratesPushes },
      { labels: { kind: 'traffic' }, value: p.trafficBatches },
    ]),
  );

  const tapped = members
    .filter((m): m is (typeof members)[number] & { tap: TapFace } => m.tap !== null)
    .map((m) => ({ ...m, snap: m.tap.snapshot(now, { windowMs: 60_000, limit: 1, top: 1 }) }));
  if (tapped.length > 0) {
    const g = <T>(f: (m: (typeof tapped)[number]) => T[]): T[] => tapped.flatMap(f);
    const one = (f: (m: (typeof tapped)[number]) => number) => g((m) => [{ labels: { transport: m.name }, value: f(m) }]);
    parts.push(renderGauge('osloscope_tap_up', 'Whether the tap is running (1) or not (0).', one((m) => (m.snap.status.state === 'running' ? 1 : 0))));
    parts.push(
      renderGauge(
        'osloscope_tap_info',
        'The tap mode in use and the one asked for (always 1).',
        g((m) => [{ labels: { transport: m.name, mode: m.snap.status.mode, requested_mode: m.snap.status.requestedMode, inspector: m.snap.status.inspector }, value: 1 }]),
      ),
    );
    parts.push(renderGauge('osloscope_tap_sees_replies', 'Whether the tap can see replies (firehose mode).', one((m) => (m.snap.status.canSeeReplies ? 1 : 0))));
    parts.push(renderCounter('osloscope_tap_received_total', 'Deliveries the tap took from its own queues.', one((m) => m.snap.status.counters.received)));
    parts.push(renderCounter('osloscope_tap_decoded_total', 'Messages the tap decoded.', one((m) => m.snap.status.counters.decoded)));
    parts.push(renderCounter('osloscope_tap_undecodable_total', 'Messages whose body could not be decoded.', one((m) => m.snap.status.counters.undecodable)));
    parts.push(renderCounter('osloscope_tap_dropped_total', 'Deliveries the tap could not keep.', one((m) => m.snap.status.counters.dropped)));
    parts.push(
      renderCounter(
        'osloscope_tap_evicted_total',
        'Entries evicted from the bounded traffic model.',
        g((m) => [
          { labels: { transport: m.name, what: 'messages' }, value: m.snap.status.counters.evictedMessages },
          { labels: { transport: m.name, what: 'calls' }, value: m.snap.status.counters.evictedCalls },
          { labels: { transport: m.name, what: 'rate_keys' }, value: m.snap.status.counters.evictedRateKeys },
        ]),
      ),
    );
    parts.push(
      renderGauge(
        'osloscope_tap_backlog_messages',
        "Deliveries waiting in the tap's fullest queue on the broker; past osloscope_tap_backlog_cap_messages the broker drops the oldest.",
        g((m) => (m.snap.status.backlog ? [{ labels: { transport: m.name }, value: m.snap.status.backlog.messages }] : [])),
      ),
    );
    parts.push(
      renderGauge(
        'osloscope_tap_backlog_cap_messages',
        "The cap (x-max-length, drop-head) of the tap's queues.",
        g((m) => (m.snap.status.backlog ? [{ labels: { transport: m.name }, value: m.snap.status.backlog.cap }] : [])),
      ),
    );
    parts.push(renderCounter('osloscope_tap_reconnects_total', 'Times the tap came back after losing its broker connection.', one((m) => m.snap.status.recovery?.reconnects ?? 0)));
    parts.push(
      renderGauge(
        'osloscope_calls',
        'Calls tracked by the tap, by state.',
        g((m) => [
          { labels: { transport: m.name, state: 'inflight' }, value: m.snap.calls.inflight },
          { labels: { transport: m.name, state: 'stuck' }, value: m.snap.calls.stuck },
          { labels: { transport: m.name, state: 'done' }, value: m.snap.calls.done },
        ]),
      ),
    );
    parts.push(
      renderGauge(
        'osloscope_stuck_calls',
        'Stuck calls by cause.',
        g((m) => Object.entries(m.snap.calls.byCause).map(([cause, value]) => ({ labels: { transport: m.name, cause }, value: value ?? 0 }))),
      ),
    );
    const fh = tapped.map((m) => ({ name: m.name, fh: m.tap.brokerHealthSummary?.()?.firehose ?? null })).filter((x) => x.fh !== null && x.fh.total > 0) as { name: string; fh: { total: number; on: number } }[];
    if (fh.length > 0) {
      parts.push(renderGauge('osloscope_firehose_nodes', 'Broker nodes of the vhost (management API).', fh.map((x) => ({ labels: { transport: x.name }, value: x.fh.total }))));
      parts.push(renderGauge('osloscope_firehose_nodes_tracing', 'Broker nodes with tracing (the firehose) on for the vhost.', fh.map((x) => ({ labels: { transport: x.name }, value: x.fh.on }))));
      parts.push(renderGauge('osloscope_firehose_coverage_ratio', 'Share of the nodes whose traffic the firehose shows (1 = all).', fh.map((x) => ({ labels: { transport: x.name }, value: x.fh.on / x.fh.total }))));
    }
    parts.push(
      renderGauge(
        'osloscope_topic_consumers',
        "Consumers on each RPC topic queue (<topic>, shared by the topic's servers), read from the broker every 30 s.",
        g((m) => [...consumersPerTopic(m.tap, now).entries()].map(([topic, value]) => ({ labels: { transport: m.name, topic }, value }))),
      ),
    );
  }
  return parts.join('');
}
