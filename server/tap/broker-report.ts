/**
 * One place that reads the broker's layout, health and firehose coverage
 * for the Broker page and /api/health, at most once per `ttlMs` however many
 * viewers ask (the management API is shared with the operators' own tools),
 * each read bounded (pages of 500, 10 000 queues, 5 s per request).
 *
 * Sources, best first: the management API; the in-process memory broker;
 * passive declares of the names the tap has seen in traffic (existence only:
 * queue types and exchange durability stay unknown, but stream fanout
 * (`<t>_fanout` is a queue) and queue-manager names still show).
 */
import type { BrokerHealthReport, BrokerHealthSummary, LayoutReport } from '../../lib/broker-contracts.ts';
import { silentLogger, type Logger, type MemoryBroker } from '../messaging/index.ts';
import { readHealth, readManagementExchanges, readManagementQueues, toLayoutQueues, unavailableHealth, type QueueRead } from './broker-health.ts';
import type { FirehoseControl } from './firehose.ts';
import { ManagementInspector, type BrokerInspector } from './inspector.ts';
import { detectLayout, type LayoutExchange, type LayoutQueue } from './layout.ts';

export interface BrokerReporterOptions {
  inspector: BrokerInspector;
  vhost: string;
  controlExchanges: readonly string[];
  /** topics seen in traffic */
  topics: () => Iterable<string>;
  /** passive mode: queue names seen in traffic */
  knownQueues?: () => Iterable<string>;
  /** passive queue.declare: true = exists */
  queueExists?: (name: string) => Promise<boolean | null>;
  /** passive exchange.declare: true = exists */
  exchangeExists?: (name: string) => Promise<boolean | null>;
  memoryBroker?: MemoryBroker | null;
  firehose?: FirehoseControl | null;
  clock?: () => number;
  log?: Logger;
  /** default 15 s */
  ttlMs?: number;
  /** passive checks per report (default 300) */
  maxPassiveChecks?: number;
}

export class BrokerReporter {
  private readonly o: BrokerReporterOptions;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly ttlMs: number;
  private cached: { at: number; report: Promise<BrokerHealthReport> } | null = null;
  private lastDone: BrokerHealthReport | null = null;

  constructor(options: BrokerReporterOptions) {
    this.o = options;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? silentLogger;
    this.ttlMs = options.ttlMs ?? 15_000;
  }

  /** The full report, read at most once per ttl. */
  report(force = false): Promise<BrokerHealthReport> {
    const now = this.clock();
    // a forced read still waits 2 s after the last one: many viewers pressing refresh are one read
    if (this.cached && now - this.cached.at < (force ? Math.min(2000, this.ttlMs) : this.ttlMs)) return this.cached.report;
    const report = this.read().then((r) => {
      this.lastDone = r;
      return r;
    });
    this.cached = { at: now, report };
    report.catch(() => {
      if (this.cached?.report === report) this.cached = null;
    });
    return report;
  }

  /** The last finished report, summarised (never waits; starts a refresh when stale). */
  summary(): BrokerHealthSummary | null {
    if (!this.cached || this.clock() - this.cached.at >= this.ttlMs) void this.report().catch(() => undefined);
    const r = this.lastDone;
    return r ? summarize(r) : null;
  }

  private async read(): Promise<BrokerHealthReport> {
    const at = this.clock();
    const i = this.o.inspector;
    const firehose = this.o.firehose ? await this.o.firehose.check().catch((err: unknown) => {
      this.log.debug({ err: (err as Error).message }, 'firehose coverage check failed');
      return this.o.firehose?.coverage ?? null;
    }) : null;
    if (i instanceof ManagementInspector) {
      let queues: QueueRead | null = null;
      let exchanges: LayoutExchange[] | null = null;
      let dqt: string | null = null;
      const errors: string[] = [];
      let truncated = false;
      try {
        queues = await readManagementQueues(i);
        truncated ||= queues.truncated;
      } catch (err) {
        errors.push((err as Error).message);
      }
      try {
        const x = await readManagementExchanges(i);
        exchanges = x.exchanges;
        truncated ||= x.truncated;
      } catch (err) {
        errors.push((err as Error).message);
      }
      try {
        dqt = (await i.vhostInfo())?.default_queue_type ?? null;
      } catch {
        // an older broker or a user without vhost rights: no default queue type
      }
      const layout = detectLayout({
        vhost: this.o.vhost,
        at,
        source: 'management',
        queues: queues ? toLayoutQueues(queues.queues) : null,
        exchanges,
        controlExchanges: this.o.controlExchanges,
        topics: this.o.topics(),
        defaultQueueType: dqt,
        complete: !truncated,
        error: errors.length > 0 ? errors.join('; ') : null,
      });
      const health = await readHealth(i, at, queues).catch((err: unknown) => unavailableHealth(this.o.vhost, at, 'management', (err as Error).message));
      return { at, layout, health, firehose };
    }
    if (this.o.memoryBroker) {
      const b = this.o.memoryBroker;
      const layout = detectLayout({
        vhost: this.o.vhost,
        at,
        source: 'memory',
        queues: b.listQueues().map((q) => ({ name: q.name, type: null, durable: q.durable, exclusive: q.exclusive, arguments: q.arguments })),
        exchanges: b.listExchanges().map((x) => ({ name: x.name, type: x.type, durable: x.durable })),
        controlExchanges: this.o.controlExchanges,
        topics: this.o.topics(),
      });
      return { at, layout, health: null, firehose };
    }
    return { at, layout: await this.passiveLayout(at), health: unavailableHealth(this.o.vhost, at, 'passive', 'Broker health needs the management API (RABBITMQ_MANAGEMENT_URL).'), firehose };
  }

  /** Existence checks only, on names seen in traffic: `<t>_fanout` queues (stream fanout), `<t>_fanout` exchanges, reply and topic queues. */
  private async passiveLayout(at: number): Promise<LayoutReport> {
    const exists = this.o.queueExists;
    const xExists = this.o.exchangeExists;
    const max = this.o.maxPassiveChecks ?? 300;
    const queues: LayoutQueue[] = [];
    const exchanges: LayoutExchange[] = [];
    let checks = 0;
    const topics = [...this.o.topics()];
    const names = new Set<string>(this.o.knownQueues?.() ?? []);
    for (const t of topics) names.add(`${t}_fanout`);
    if (exists) {
      for (const n of names) {
        if (checks++ >= max) break;
        if ((await exists(n)) === true) queues.push({ name: n, type: null, durable: null, exclusive: false });
      }
    }
    if (xExists) {
      for (const x of [...this.o.controlExchanges, ...topics.map((t) => `${t}_fanout`)]) {
        if (checks++ >= max) break;
        if ((await xExists(x)) === true) exchanges.push({ name: x, type: x.endsWith('_fanout') ? 'fanout' : 'topic', durable: null });
      }
    }
    return detectLayout({
      vhost: this.o.vhost,
      at,
      source: 'passive',
      queues,
      exchanges,
      controlExchanges: this.o.controlExchanges,
      topics,
      // existence only: types and durability are unknown, and names never seen in traffic are missed
      complete: false,
    });
  }
}

export function summarize(r: BrokerHealthReport): BrokerHealthSummary {
  return {
    at: r.at,
    layout: r.layout ? { name: r.layout.name, label: r.layout.label, drift: r.layout.drift.length, complete: r.layout.complete } : null,
    firehose: r.firehose ? { on: r.firehose.on, known: r.firehose.known, total: r.firehose.total, weighted: r.firehose.weighted, summary: r.firehose.summary } : null,
    version: r.health?.version ?? null,
    nodes: r.health && r.health.nodes.length > 0 ? r.health.nodes.length : null,
    alarms: r.health?.alarms.length ?? 0,
    deprecatedFeaturesUsed: r.health?.deprecatedFeatures.used.map((f) => f.name) ?? [],
    warnings: (r.health?.warnings.filter((w) => w.level !== 'info').length ?? 0) + (r.layout?.drift.length ?? 0),
  };
}
