/**
 * One tap session's connection to its broker and what keeps it alive.
 *
 * The connection is a ResilientLink: after a broker-side kill it reconnects quickly and replays the
 * session's declares, bindings and consumers (onRecovered() then hands what the replay skipped to the
 * exchange binder). When the replay is refused outright (406, 403) the link stays down, and
 * maybeRebuild() (from the tap's tick) rebuilds the session from scratch after `rebuildAfterMs`: a fresh
 * link, the mode decided again, everything declared again. Reconfigurations run one at a time (serial()).
 *
 * The life-cycle state (starting, running, recovering, error, stopped) and the recovery counters shown in
 * the tap's status live here.
 */
import type { TapStatus } from '../../lib/tap-contracts.ts';
import type { Logger, ResilientLink, Transport } from '../messaging/index.ts';
import { randomBytes } from 'node:crypto';

export interface LinkCycleOptions {
  transport: Transport;
  /** a link that stays down this long after a failed recovery is rebuilt from scratch */
  rebuildAfterMs: number;
  /** a fresh link is open: forget the old one's queues and bindings */
  onFresh: () => void;
  /** the fresh link is connected: choose the mode and declare everything */
  onConnected: () => Promise<void>;
  /** the link reconnected and replayed (what it skipped is in `link.lastSkipped`) */
  onRecovered: (link: ResilientLink) => void;
  /** the link is going: a probe still waiting has its answer */
  onTeardown: () => void;
  emitStatus: () => void;
  stopped: () => boolean;
  clock: () => number;
  log: Logger;
}

export class LinkCycle {
  state: TapStatus['state'] = 'stopped';
  error: string | null = null;
  private current: ResilientLink | null = null;
  private generation = 0;
  private sessionId = randomBytes(4).toString('hex');
  private serialChain: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  private downSince: number | null = null;
  /** the last rebuild failed: try again after rebuildAfterMs whatever the (closed) link says */
  private rebuildPending = false;
  private readonly counters = { reconnects: 0, rebuilds: 0, skipped: 0, lastOutageMs: null as number | null };
  /** rebuilds that failed since the tap last ran */
  private failedRebuilds = 0;

  constructor(private readonly o: LinkCycleOptions) {}

  get link(): ResilientLink | null {
    return this.current;
  }

  /** This link's id (new with every rebuild), part of the session's queue names and log lines. */
  get id(): string {
    return this.sessionId;
  }

  /** reconnects, rebuilds, replay skips, the last outage and (while recovering) the next attempt, for the status */
  get recovery(): { reconnects: number; rebuilds: number; skipped: number; lastOutageMs: number | null; retry: { error: string; attempt: number; nextAt: number } | null } {
    return { ...this.counters, retry: this.retry };
  }

  /**
   * While recovering: why the last attempt failed, how many have failed and when the next starts. The link's own
   * reconnect loop while it runs (a broker that is unreachable); else the rebuild the tap's tick starts after
   * `rebuildAfterMs` (a vhost that is gone, refused credentials: the link gave up).
   */
  get retry(): { error: string; attempt: number; nextAt: number } | null {
    if (this.state !== 'recovering') return null;
    const link = this.current;
    if (link?.retry && link.retrying) return link.retry;
    if (!this.error) return null;
    return { error: this.error, attempt: this.failedRebuilds + 1, nextAt: (this.downSince ?? this.o.clock()) + this.o.rebuildAfterMs };
  }

  /** Run tap reconfigurations one at a time. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serialChain.then(fn, fn);
    this.serialChain = run.catch(() => undefined);
    return run;
  }

  /** Follow the link's connection state in the transport's events (until stop()). */
  watch(): void {
    this.unsubscribe = this.o.transport.events.on((e) => {
      if (e.type === 'connection:state' && this.current && e.connection === this.current.connectionName) this.onLinkState(e.state, e.error);
    });
  }

  /** Open a fresh link (`retry` connection attempts, null = until it works), decide the mode, declare everything. */
  async attach(retry: number | null): Promise<void> {
    const generation = ++this.generation;
    this.sessionId = randomBytes(4).toString('hex');
    this.o.onFresh();
    const link = this.o.transport.createLink('listen');
    this.current = link;
    await link.connect(retry);
    if (generation !== this.generation) return;
    await this.o.onConnected();
    this.downSince = null;
  }

  /** Close the link; exclusive queues (and their bindings) go with the connection. */
  async teardown(): Promise<void> {
    const link = this.current;
    this.current = null;
    this.generation++;
    this.o.onTeardown();
    if (link) await link.close().catch(() => undefined);
  }

  /** Stop following the link's state. */
  unwatch(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Close the link at once, outside the queue (a connect loop still waiting for the broker ends), then tear down in turn. */
  async close(): Promise<void> {
    const link = this.current;
    this.generation++;
    await link?.close().catch(() => undefined);
    await this.serial(() => this.teardown());
  }

  private onLinkState(state: string, error?: string): void {
    if (state === 'connected') {
      if (this.state === 'recovering') {
        this.state = 'running';
        this.error = null;
        this.counters.reconnects++;
        if (this.downSince !== null) this.counters.lastOutageMs = this.o.clock() - this.downSince;
        this.downSince = null;
        this.failedRebuilds = 0;
        const link = this.current;
        if (link) {
          this.counters.skipped += link.lastSkipped.length;
          this.o.log.info({ tap: this.sessionId, outageMs: this.counters.lastOutageMs }, 'tap connection recovered');
          this.o.onRecovered(link);
        }
        this.o.emitStatus();
      }
    } else if (state === 'disconnected' && this.state === 'running') {
      this.state = 'recovering';
      this.error = error ?? null;
      this.downSince = this.o.clock();
      this.o.emitStatus();
    } else if (state === 'disconnected' && this.state === 'recovering' && error) {
      this.error = error;
    }
  }

  /** A link whose recovery was refused (replay 406) stays 'disconnected': rebuild from scratch. */
  async maybeRebuild(): Promise<void> {
    if (this.o.stopped() || this.state !== 'recovering') return;
    const now = this.o.clock();
    if (!this.rebuildPending) {
      const link = this.current;
      const st = link?.currentState;
      // `connecting` counts as progress only while a connect loop really runs (never a stuck state)
      if (st === 'connected' || (st === 'connecting' && link?.retrying)) {
        this.downSince ??= now;
        return;
      }
    }
    if (this.downSince === null) this.downSince = now;
    if (now - this.downSince < this.o.rebuildAfterMs) return;
    this.downSince = now;
    this.o.log.warn({ tap: this.sessionId, err: this.error }, 'tap connection did not recover; rebuilding');
    await this.serial(async () => {
      if (this.o.stopped()) return;
      await this.teardown();
      try {
        await this.attach(0);
        this.rebuildPending = false;
        this.failedRebuilds = 0;
        this.counters.rebuilds++;
        this.state = 'running';
        this.error = null;
        this.o.emitStatus();
      } catch (err) {
        this.error = (err as Error).message;
        // connected but refused our declares: still not tapping
        this.state = 'recovering';
        this.rebuildPending = true;
        this.failedRebuilds++;
        this.downSince = this.o.clock();
        await this.current?.close().catch(() => undefined);
      }
    });
  }
}
