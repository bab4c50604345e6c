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
          if (q.kind !== 'topic' || !q.topic || topics.size >= MAX_TOPIC_SERIES) continue;
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

export function renderMetrics(s: MetricsSources): string {
  const d = s.dashboard;
  const now = d.clock();
  const t = d.transport.status();
  const parts: string[] = [];

  const own = s.fire.metrics;
  parts.push(own.start.render(), own.end.render(), own.exceptions.render());

  const tap = d.tap;
  const latency = tap?.latency() ?? null;
  if (latency && latency.series.length > 0) {
    parts.push(
      renderHistogramFamily(
        RPC_CLIENT_PROCESSING_SECONDS,
        'Duration of RPC processing (observed on the wire: request publish to final reply publish).',
        latency.buckets,
        mergeHistogramSeries(latency.series.map((x) => ({ labels: x.labels, counts: x.counts, sum: x.sum, count: x.count }))),
      ),
    );
  } else {
    parts.push(own.seconds.render());
  }

  parts.push(renderGauge('osloscope_transport_up', 'Whether the dashboard transport is connected (1) or not (0).', [{ labels: { driver: t.driver }, value: t.state === 'connected' || t.state === 'idle' ? 1 : 0 }]));
  parts.push(
    renderGauge('osloscope_pool_connections', "osloscope's send connection pool (rpc_conn_pool_size).", [
      { labels: { state: 'in_use' }, value: t.pool.inUse },
      { labels: { state: 'idle' }, value: t.pool.idle },
      { labels: { state: 'max' }, value: t.pool.max },
    ]),
  );
  parts.push(renderGauge('osloscope_pool_waiters', 'Callers blocked waiting for a send connection.', [{ value: t.pool.waiters }]));
  parts.push(renderGauge('osloscope_reply_waiters', "Calls fired by osloscope waiting for their reply (the ReplyWaiter's pending map).", [{ value: t.replyWaiter?.pending ?? 0 }]));
  parts.push(
    renderCounter('osloscope_messages_rejected_total', "Bodies the dashboard's consumers rejected: undecodable, or inflating beyond MAX_MESSAGE_BYTES.", [
      { labels: { reason: 'malformed' }, value: t.rejected.malformed },
      { labels: { reason: 'oversized' }, value: t.rejected.oversized },
    ]),
  );
  parts.push(renderCounter('osloscope_late_replies_total', 'Replies to osloscope calls that came after the caller gave up.', [{ value: t.replyWaiter?.late ?? 0 }]));
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

  if (tap) {
    const snap = tap.snapshot(now, { windowMs: 60_000, limit: 1, top: 1 });
    const st = snap.status;
    parts.push(renderGauge('osloscope_tap_up', 'Whether the tap is running (1) or not (0).', [{ value: st.state === 'running' ? 1 : 0 }]));
    parts.push(
      renderGauge('osloscope_tap_info', 'The tap mode in use and the one asked for (always 1).', [
        { labels: { mode: st.mode, requested_mode: st.requestedMode, inspector: st.inspector }, value: 1 },
      ]),
    );
    parts.push(renderGauge('osloscope_tap_sees_replies', 'Whether the tap can see replies (firehose mode).', [{ value: st.canSeeReplies ? 1 : 0 }]));
    const c = st.counters;
    parts.push(renderCounter('osloscope_tap_received_total', 'Deliveries the tap took from its own queues.', [{ value: c.received }]));
    parts.push(renderCounter('osloscope_tap_decoded_total', 'Messages the tap decoded.', [{ value: c.decoded }]));
    parts.push(renderCounter('osloscope_tap_undecodable_total', 'Messages whose body could not be decoded.', [{ value: c.undecodable }]));
    parts.push(renderCounter('osloscope_tap_dropped_total', 'Deliveries the tap could not keep.', [{ value: c.dropped }]));
    parts.push(
      renderCounter('osloscope_tap_evicted_total', 'Entries evicted from the bounded traffic model.', [
        { labels: { what: 'messages' }, value: c.evictedMessages },
        { labels: { what: 'calls' }, value: c.evictedCalls },
        { labels: { what: 'rate_keys' }, value: c.evictedRateKeys },
      ]),
    );
    parts.push(renderCounter('osloscope_tap_reconnects_total', 'Times the tap came back after losing its broker connection.', [{ value: st.recovery?.reconnects ?? 0 }]));
    parts.push(
      renderGauge('osloscope_calls', 'Calls tracked by the tap, by state.', [
        { labels: { state: 'inflight' }, value: snap.calls.inflight },
        { labels: { state: 'stuck' }, value: snap.calls.stuck },
        { labels: { state: 'done' }, value: snap.calls.done },
      ]),
    );
    parts.push(
      renderGauge(
        'osloscope_stuck_calls',
        'Stuck calls by cause.',
        Object.entries(snap.calls.byCause).map(([cause, value]) => ({ labels: { cause }, value: value ?? 0 })),
      ),
    );
    const fh = tap.brokerHealthSummary?.()?.firehose ?? null;
    if (fh && fh.total > 0) {
      parts.push(renderGauge('osloscope_firehose_nodes', 'Broker nodes of the vhost (management API).', [{ value: fh.total }]));
      parts.push(renderGauge('osloscope_firehose_nodes_tracing', 'Broker nodes with tracing (the firehose) on for the vhost.', [{ value: fh.on }]));
      parts.push(renderGauge('osloscope_firehose_coverage_ratio', 'Share of the nodes whose traffic the firehose shows (1 = all).', [{ value: fh.on / fh.total }]));
    }
    const topics = consumersPerTopic(tap, now);
    parts.push(
      renderGauge(
        'osloscope_topic_consumers',
        "Consumers on each RPC topic queue (<topic>, shared by the topic's servers), read from the broker every 30 s.",
        [...topics.entries()].map(([topic, value]) => ({ labels: { topic }, value })),
      ),
    );
  }
  return parts.join('');
}
