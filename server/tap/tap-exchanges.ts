/**
 * Bindings mode's reach, for one tap session: which exchanges its bindings queue is bound to, and how it
 * finds more.
 *
 * - discover(): every configured control exchange that exists, every topic exchange the inspector lists
 *   (not amq.*, when discovery is on) and every `<topic>_fanout` exchange; never creates an exchange
 *   (a passive check first, also when listed: binding to a missing exchange would close the channel).
 * - noticeTopic(): traffic for topic T seen, so its `T_fanout` exchange (declared by every RPC server of T)
 *   is tried too, at most once a minute per topic.
 * - forgetVanished(): after a reconnect the link's replay skipped bindings whose exchange vanished meanwhile
 *   (non-durable ones go with a broker restart, a peer's auto-delete `<topic>_fanout` with its last binding);
 *   they are no longer bound, and are looked for every REBIND_MS (for REBIND_FOR_MS) until they are back.
 */
import type { TapEvent, TapMode } from '../../lib/tap-contracts.ts';
import type { Logger, ResilientLink } from '../messaging/index.ts';
import type { BrokerInspector } from './inspector.ts';

/** How often exchanges lost in a recovery are checked for (passive declares) until they are back. */
export const REBIND_MS = 250;
/** …for at most this long; exchange discovery picks up later ones. */
export const REBIND_FOR_MS = 300_000;
/** a topic's `_fanout` exchange is tried at most this often */
const FANOUT_RECHECK_MS = 60_000;
const MAX_FANOUT_CHECKED = 10_000;
/** exchanges re-bound per REBIND_MS round */
const REBIND_BATCH = 50;

export interface ExchangeBinderOptions {
  /** control exchanges to bind when they exist */
  exchanges: readonly string[];
  /** also bind every topic exchange the inspector lists */
  discoverExchanges: boolean;
  inspector: () => BrokerInspector | null;
  link: () => ResilientLink | null;
  mode: () => TapMode;
  /** the bindings queue (null outside bindings mode) */
  queue: () => string | null;
  /** runs reconfigurations one at a time with the rest of the tap's */
  serial: <T>(fn: () => Promise<T>) => Promise<T>;
  emit: (event: TapEvent) => void;
  /** every exchange lost in a recovery is bound again (status changed) */
  onRebound: () => void;
  clock: () => number;
  log: Logger;
  /** for log lines: the tap session's id */
  id: () => string;
}

export class ExchangeBinder {
  private readonly bound = new Set<string>();
  private readonly fanouts = new Set<string>();
  /** topic → when `<topic>_fanout` was last passively checked */
  private readonly fanoutChecked = new Map<string, number>();
  /** exchanges a recovery could not re-bind (vanished) → since when; re-bound when they are back */
  private readonly awaiting = new Map<string, number>();
  private rebindTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: ExchangeBinderOptions) {}

  /** Every exchange the bindings queue is bound to, `_fanout` ones included. */
  get boundExchanges(): ReadonlySet<string> {
    return this.bound;
  }

  get fanoutExchanges(): ReadonlySet<string> {
    return this.fanouts;
  }

  /** Exchanges lost in the last recovery and not back yet (at most `limit`). */
  awaitingExchanges(limit = 20): string[] {
    return [...this.awaiting.keys()].slice(0, limit);
  }

  /** A fresh link or a bindings queue gone: nothing is bound any more. */
  reset(): void {
    this.bound.clear();
    this.fanouts.clear();
    this.fanoutChecked.clear();
  }

  /** The bindings queue was deleted (firehose mode): its bindings went with it. */
  dropBindings(): void {
    this.bound.clear();
    this.fanouts.clear();
  }

  stop(): void {
    this.stopped = true;
    if (this.rebindTimer) clearInterval(this.rebindTimer);
    this.rebindTimer = undefined;
    this.awaiting.clear();
  }

  /** Bind to every control exchange and `<topic>_fanout` exchange that exists. Never creates exchanges. */
  async discover(): Promise<void> {
    if (this.o.mode() !== 'bindings' || !this.o.queue() || !this.o.link()) return;
    const candidates = new Set<string>(this.o.exchanges);
    const fanouts = new Set<string>();
    let listed = false;
    const inspector = this.o.inspector();
    if (inspector && inspector.source !== 'passive') {
      try {
        const xs = await inspector.exchanges();
        if (xs) {
          listed = true;
          const names = new Set(xs.map((x) => x.name));
          for (const c of [...candidates]) if (!names.has(c)) candidates.delete(c);
          for (const x of xs) {
            if (x.name === '' || x.name.startsWith('amq.') || x.internal) continue;
            if (x.type === 'fanout' && x.name.endsWith('_fanout')) fanouts.add(x.name);
            else if (x.type === 'topic' && this.o.discoverExchanges) candidates.add(x.name);
          }
        }
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'exchange discovery failed');
      }
    }
    for (const x of candidates) await this.bind(x, listed);
    for (const x of fanouts) await this.bind(x, listed);
  }

  /** Bind the bindings queue to `exchange` with `#` if it exists; true when it is bound. */
  async bind(exchange: string, listed: boolean): Promise<boolean> {
    const link = this.o.link();
    const q = this.o.queue();
    if (this.bound.has(exchange) || !q || !link) return this.bound.has(exchange);
    try {
      // passive first, also when the API listed it: binding to a missing exchange would close our channel
      await link.checkExchange(exchange);
    } catch (err) {
      if (!listed) this.o.log.debug({ exchange, err: (err as Error).message }, 'exchange not there (yet)');
      return false;
    }
    if (this.o.link() !== link || this.o.queue() !== q) return false;
    await link.bindQueue(q, exchange, '#');
    this.bound.add(exchange);
    this.awaiting.delete(exchange);
    if (exchange.endsWith('_fanout')) this.fanouts.add(exchange);
    this.o.emit({ type: 'tap:exchange', exchange, action: 'bound' });
    return true;
  }

  /** Traffic for topic T seen: its `T_fanout` exchange (declared by every RPC server of T) can be tapped too. */
  noticeTopic(topic: string): void {
    if (this.o.mode() !== 'bindings') return;
    const x = `${topic}_fanout`;
    if (this.bound.has(x)) return;
    const now = this.o.clock();
    const last = this.fanoutChecked.get(topic);
    if (last !== undefined && now - last < FANOUT_RECHECK_MS) return;
    if (this.fanoutChecked.size > MAX_FANOUT_CHECKED) this.fanoutChecked.clear();
    this.fanoutChecked.set(topic, now);
    void this.o.serial(() => this.bind(x, false)).catch((err: unknown) => {
      this.o.log.debug({ exchange: x, err: (err as Error).message }, 'fanout bind failed');
    });
  }

  /**
   * The replay skipped bindings whose exchange vanished: the tap is not bound to them any more.
   * Forget them as bound and look for them every REBIND_MS until they are back.
   */
  forgetVanished(skipped: ResilientLink['lastSkipped']): void {
    const now = this.o.clock();
    const queue = this.o.queue();
    for (const skip of skipped) {
      if (skip.kind !== 'binding' || skip.missingKind !== 'exchange' || !skip.exchange) continue;
      if (skip.queue !== queue) continue;
      this.bound.delete(skip.exchange);
      this.fanouts.delete(skip.exchange);
      this.awaiting.set(skip.exchange, now);
      this.o.emit({ type: 'tap:exchange', exchange: skip.exchange, action: 'unbound' });
    }
    if (this.awaiting.size > 0) {
      this.o.log.info({ tap: this.o.id(), exchanges: this.awaitingExchanges() }, 'exchanges vanished while the tap was away; re-binding when they are back');
      this.startRebind();
    }
  }

  private startRebind(): void {
    if (this.rebindTimer || this.stopped) return;
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      if (this.stopped || this.awaiting.size === 0) {
        clearInterval(t);
        if (this.rebindTimer === t) this.rebindTimer = undefined;
        return;
      }
      running = true;
      this.o
        .serial(() => this.rebindAwaiting())
        .catch((err: unknown) => this.o.log.debug({ err: (err as Error).message }, 're-bind failed'))
        .finally(() => {
          running = false;
        });
    }, REBIND_MS);
    t.unref();
    this.rebindTimer = t;
  }

  private async rebindAwaiting(): Promise<void> {
    const link = this.o.link();
    if (!link?.isConnected || this.o.mode() !== 'bindings' || !this.o.queue()) return;
    const now = this.o.clock();
    for (const [x, since] of [...this.awaiting].slice(0, REBIND_BATCH)) {
      if (this.bound.has(x) || now - since > REBIND_FOR_MS || (await this.bind(x, true))) this.awaiting.delete(x);
    }
    if (this.awaiting.size === 0) this.o.onRebound();
  }
}
