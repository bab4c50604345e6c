/**
 * The firehose on clusters: tracing is per node. `rabbitmqctl trace_on -p V`
 * and `PUT /api/vhosts/V {"tracing":true}` both call rabbit_trace:start/1 on
 * the node that runs them, which keeps the vhost list in that node's
 * application env (`rabbit.trace_vhosts`, rabbit_trace:update_config/1); and
 * `GET /api/vhosts/V` answers `tracing` from rabbit_trace:enabled/1 on the
 * node that serves the request (rabbit_vhost:i/2). A publish is traced by the
 * node of the publishing channel, a delivery by the node of the consuming
 * channel, so a cluster with tracing on one node shows only the traffic of
 * the connections on that node. The state is lost when a node restarts.
 *
 * FirehoseControl asks every node through its own management listener (from
 * the `http`/`https` listeners `GET /api/overview` lists for the cluster),
 * weighs coverage by the vhost's connections per node, turns tracing on for
 * every node when asked (administrator tag needed), re-enables nodes that
 * lost it after a restart, and turns off again what it turned on: after
 * FIREHOSE_AUTO_OFF seconds and when osloscope stops cleanly.
 */
import type { FirehoseCoverage, FirehoseNode } from '../../lib/broker-contracts.ts';
import { silentLogger, type Logger } from '../messaging/index.ts';
import { askAgain, InspectorError, isTransient, type ManagementInspector } from './inspector.ts';

interface Listener {
  node?: string;
  protocol?: string;
  ip_address?: string;
  port?: number;
}

interface NodeAnswer {
  tracing: boolean | null;
  error: string | null;
  /** no answer (timeout, 5xx): asking again may tell */
  transient: boolean;
}

interface NodeEndpoint {
  node: string;
  /** null: the node has no management listener we can reach */
  endpoint: string | null;
  running: boolean;
}

export interface FirehoseControlOptions {
  inspector: ManagementInspector;
  vhost: string;
  clock?: () => number;
  log?: Logger;
  /** nodes asked at most (default 32) */
  maxNodes?: number;
  /** turn tracing that osloscope turned on off after this long; 0 = only when osloscope stops */
  autoOffMs?: number;
  /** tries of a management read or write that got no answer (a timeout, a 5xx) while turning tracing on or off (default 3) */
  attempts?: number;
  /** pause before the next try, times the tries so far (default 250 ms) */
  retryDelayMs?: number;
}


const WILDCARD = new Set(['::', '0.0.0.0', '::0', '0:0:0:0:0:0:0:0']);

function sameListenerHost(ip: string): boolean {
  return WILDCARD.has(ip) || ip === '127.0.0.1' || ip === '::1' || ip === 'localhost';
}

/** `tracing on 2 of 3 nodes (67% of connections)` */
export function coverageSummary(c: Pick<FirehoseCoverage, 'on' | 'known' | 'total' | 'weighted'>): string {
  const unknown = c.total - c.known;
  const tail = unknown > 0 ? `; ${unknown} node${unknown === 1 ? '' : 's'} did not answer` : '';
  if (c.total === 0) return 'tracing state unknown';
  if (c.total === 1 && c.known === 1) return c.on === 1 ? 'tracing on' : 'tracing off';
  const weight = c.weighted === null || c.on === 0 || c.on === c.known ? '' : ` (${Math.round(c.weighted * 100)}% of connections)`;
  if (c.known > 0 && c.on === c.known && unknown === 0) return `tracing on all ${c.total} nodes`;
  if (c.on === 0 && unknown === 0) return `tracing off on all ${c.total} nodes`;
  return `tracing on ${c.on} of ${c.total} nodes${weight}${tail}`;
}

/** Coverage from per-node answers; weighted by the vhost's connections per node when every node's count is known. */
export function computeCoverage(vhost: string, at: number, nodes: FirehoseNode[], autoOffAt: number | null): FirehoseCoverage {
  const known = nodes.filter((n) => n.tracing !== null).length;
  const on = nodes.filter((n) => n.tracing === true).length;
  const total = nodes.length;
  let weighted: number | null = null;
  const conns = nodes.map((n) => n.connections);
  if (conns.every((c) => c !== null)) {
    const all = (conns as number[]).reduce((a, b) => a + b, 0);
    const covered = nodes.filter((n) => n.tracing === true).reduce((a, n) => a + (n.connections ?? 0), 0);
    // no connection on any node: nothing to weigh by
    weighted = all === 0 ? null : covered / all;
  }
  const c = { on, known, total, weighted };
  return { at, vhost, nodes, ...c, summary: coverageSummary(c), autoOffAt };
}

export class FirehoseControl {
  private readonly inspector: ManagementInspector;
  readonly vhost: string;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly maxNodes: number;
  private readonly autoOffMs: number;
  /** node → endpoint where osloscope turned tracing on */
  private readonly enabledByUs = new Map<string, string>();
  /**
   * node → endpoint of a PUT tracing:true that got no answer: the node may have applied it. The next read settles it
   * (on: osloscope's, to turn off again; off: it did not land), and disable() turns off those still unsettled.
   */
  private readonly maybeByUs = new Map<string, string>();
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  /** osloscope was asked to keep tracing on (FIREHOSE_ENABLE / --enable-firehose / the dashboard) until autoOffAt */
  private wanted = false;
  private autoOffAt: number | null = null;
  private autoOffTimer: NodeJS.Timeout | null = null;
  private last: FirehoseCoverage | null = null;
  /** check, enable and disable run one at a time: a re-enable must never land after an auto-off */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: FirehoseControlOptions) {
    this.inspector = options.inspector;
    this.vhost = options.vhost;
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? silentLogger;
    this.maxNodes = options.maxNodes ?? 32;
    this.autoOffMs = Math.max(0, options.autoOffMs ?? 0);
    this.attempts = Math.min(10, Math.max(1, options.attempts ?? 3));
    this.retryDelayMs = Math.max(0, options.retryDelayMs ?? 250);
  }

  /** `fn` again while it gets no answer, at most `attempts` times in all. */
  private retrying<T>(fn: () => Promise<T>, attempts = this.attempts): Promise<T> {
    return askAgain(fn, { attempts, delayMs: this.retryDelayMs });
  }


  /** The last coverage read (null before the first check). */
  get coverage(): FirehoseCoverage | null {
    return this.last;
  }

  get autoOffScheduledAt(): number | null {
    return this.autoOffAt;
  }

  private get vh(): string {
    return encodeURIComponent(this.vhost);
  }

  /** Every node of the cluster with its management listener. */
  async nodes(): Promise<NodeEndpoint[]> {
    const base = new URL(this.inspector.endpoint);
    const [overview, nodeList] = await Promise.all([
      this.inspector.request<{ node?: string; listeners?: Listener[] }>('/overview?columns=node,listeners'),
      this.inspector.request<{ name: string; running?: boolean }[]>('/nodes?columns=name,running').catch(() => null),
    ]);
    const names = new Set<string>();
    const running = new Map<string, boolean>();
    for (const n of nodeList ?? []) {
      names.add(n.name);
      running.set(n.name, n.running !== false);
    }
    if (overview.node) names.add(overview.node);
    const endpoints = new Map<string, string>();
    // the node that answered is reachable at the configured URL (path prefix, TLS and proxy included)
    if (overview.node) endpoints.set(overview.node, this.inspector.endpoint);
    for (const l of overview.listeners ?? []) {
      if (!l.node || (l.protocol !== 'http' && l.protocol !== 'https') || typeof l.port !== 'number') continue;
      names.add(l.node);
      if (endpoints.has(l.node)) continue;
      const ip = l.ip_address ?? '';
      const host = sameListenerHost(ip) ? base.hostname : ip.includes(':') ? `[${ip}]` : ip;
      const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      endpoints.set(l.node, `${l.protocol}://${hostPart}:${l.port}${base.pathname.replace(/\/+$/, '')}`);
    }
    return [...names]
      .sort()
      .slice(0, this.maxNodes)
      .map((node) => ({ node, endpoint: endpoints.get(node) ?? null, running: running.get(node) ?? true }));
  }

  /** Ask one node, through its own listener, whether tracing is on for the vhost (null: could not ask). */
  private async nodeTracing(n: NodeEndpoint): Promise<NodeAnswer> {
    if (!n.running) return { tracing: null, error: 'node not running', transient: false };
    if (!n.endpoint) return { tracing: null, error: 'no management listener on this node', transient: false };
    const m = this.inspector.withEndpoint(n.endpoint);
    try {
      const [who, v] = await Promise.all([m.request<{ node?: string }>('/overview?columns=node'), m.vhostInfo()]);
      // a listener address that leads to another node (NAT, a load balancer) cannot speak for this one
      if (who.node && who.node !== n.node) return { tracing: null, error: `${n.endpoint} answers as ${who.node}`, transient: false };
      if (!v) return { tracing: null, error: `no vhost ${this.vhost} listed`, transient: false };
      return typeof v.tracing === 'boolean' ? { tracing: v.tracing, error: null, transient: false } : { tracing: null, error: 'no tracing field in the vhost', transient: false };
    } catch (err) {
      return { tracing: null, error: (err as Error).message, transient: isTransient(err) };
    }
  }

  /** nodeTracing(), asked again while the node's API gives no answer (at most `attempts` times). */
  private async nodeTracingRetrying(n: NodeEndpoint): Promise<NodeAnswer> {
    let a = await this.nodeTracing(n);
    for (let i = 1; a.tracing === null && a.transient && i < this.attempts; i++) {
      await new Promise((r) => setTimeout(r, this.retryDelayMs * i));
      a = await this.nodeTracing(n);
    }
    return a;
  }

  private async connectionsPerNode(): Promise<Map<string, number> | null> {
    try {
      const list = await this.inspector.request<{ node?: string }[]>(`/vhosts/${this.vh}/connections?columns=node`, { maxBytes: 16 * 1024 * 1024 });
      const m = new Map<string, number>();
      for (const c of list) if (c.node) m.set(c.node, (m.get(c.node) ?? 0) + 1);
      return m;
    } catch {
      return null;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Read every node's tracing state. When osloscope was asked to keep tracing on, turn it on again where a restart lost it. */
  check(): Promise<FirehoseCoverage> {
    return this.exclusive(() => this.checkNow());
  }

  /**
   * `justOn`: nodes this enable() has just seen on or turned on. A node whose re-read gets no answer is on for those
   * (a PUT that succeeded took effect on the node before it answered), not unknown: the tap must not stay in
   * bindings mode only because the read after a successful enable timed out.
   */
  private async checkNow(justOn?: ReadonlySet<string>): Promise<FirehoseCoverage> {
    const nodes = await this.nodes();
    const [answers, conns] = await Promise.all([Promise.all(nodes.map((n) => this.nodeTracing(n))), this.connectionsPerNode()]);
    const out: FirehoseNode[] = nodes.map((n, i) => {
      const a = answers[i];
      const tracing = a.tracing === null && a.transient && justOn?.has(n.node) ? true : a.tracing;
      return {
        node: n.node,
        tracing,
        connections: conns ? (conns.get(n.node) ?? 0) : null,
        endpoint: n.endpoint,
        error: tracing === a.tracing ? a.error : null,
        enabledByOsloscope: false,
      };
    });
    this.settleMaybe(out);
    if (this.wanted && out.some((n) => n.tracing === false)) {
      for (const n of out) {
        if (n.tracing !== false || !n.endpoint) continue;
        const endpoint = n.endpoint;
        try {
          await this.retrying(() => this.put(endpoint, true));
          this.log.info({ node: n.node, vhost: this.vhost }, 'tracing was off on a node (restarted?): turned it on again');
          this.enabledByUs.set(n.node, endpoint);
          this.maybeByUs.delete(n.node);
          n.tracing = true;
        } catch (err) {
          if (isTransient(err)) this.maybeByUs.set(n.node, endpoint);
          n.error = (err as Error).message;
        }
      }
    }
    for (const n of out) n.enabledByOsloscope = this.enabledByUs.has(n.node);
    this.last = computeCoverage(this.vhost, this.clock(), out, this.autoOffAt);
    return this.last;
  }

  /** A PUT that got no answer, settled by a read: on means it landed (osloscope's to turn off), off that it did not. */
  private settleMaybe(nodes: Pick<FirehoseNode, 'node' | 'tracing'>[]): void {
    for (const n of nodes) {
      const endpoint = this.maybeByUs.get(n.node);
      if (endpoint === undefined || n.tracing === null) continue;
      this.maybeByUs.delete(n.node);
      if (n.tracing) this.enabledByUs.set(n.node, endpoint);
    }
  }

  /** Whether the user may turn tracing on (administrator tag: rabbit_mgmt_wm_vhost:is_authorized/2). */
  canEnable(): Promise<boolean> {
    return this.inspector.canEnableTracing();
  }

  /**
   * Turn tracing on for the vhost on every node that has it off, and keep it
   * on (re-enabling after node restarts) until the auto-off time or stop().
   *
   * A read or PUT that gets no answer (a loaded broker) is tried again a few times. Whatever is still not done
   * when it returns or throws for want of an answer, the next check() does: osloscope was asked to turn tracing
   * on, and the auto-off and stop() undo it. Only a refusal (not administrator, 401/403) gives up.
   */
  enable(): Promise<FirehoseCoverage> {
    return this.exclusive(() => this.enableNow());
  }

  private async enableNow(): Promise<FirehoseCoverage> {
    // Only a user the API says is no administrator is refused here. A /whoami that did not answer (a loaded broker)
    // used to count as a refusal, so FIREHOSE_ENABLE never turned tracing on and said the tag was missing; now the
    // PUTs below go ahead, and a user who may not gets their 401/403, named per node.
    if ((await this.inspector.administrator()) === false) {
      throw new InspectorError(
        `Cannot turn tracing on through ${this.inspector.describe()}: the user needs the administrator tag (PUT /api/vhosts/<vhost> is admin-only). Run on each node: rabbitmqctl -n rabbit@<node> trace_on -p ${this.vhost}`,
        403,
      );
    }
    const wasWanted = this.wanted;
    this.wanted = true;
    this.scheduleAutoOff();
    let nodes: NodeEndpoint[];
    try {
      nodes = await this.retrying(() => this.nodes());
    } catch (err) {
      throw new InspectorError(`Tracing is not on yet: ${(err as Error).message}. osloscope tries again at its next check.`, (err as InspectorError).status, { cause: err });
    }
    const errors: string[] = [];
    const on = new Set<string>();
    const states = new Map<string, boolean | null>();
    for (const n of nodes) {
      if (!n.endpoint || !n.running) {
        errors.push(`${n.node}: ${n.endpoint ? 'not running' : 'no management listener'}`);
        continue;
      }
      const state = await this.nodeTracingRetrying(n);
      states.set(n.node, state.tracing);
      this.settleMaybe([{ node: n.node, tracing: state.tracing }]);
      if (state.tracing === true) {
        on.add(n.node);
        continue;
      }
      if (state.tracing === null) {
        errors.push(`${n.node}: ${state.error ?? 'no answer'}`);
        continue;
      }
      const endpoint = n.endpoint;
      try {
        // PUT tracing:true again after no answer is harmless: the node may have applied the first
        await this.retrying(() => this.put(endpoint, true));
        this.enabledByUs.set(n.node, endpoint);
        this.maybeByUs.delete(n.node);
        on.add(n.node);
        states.set(n.node, true);
        this.log.info({ node: n.node, vhost: this.vhost }, 'tracing turned on');
      } catch (err) {
        const e = err as InspectorError;
        if (e.status === 401 || e.status === 403) {
          // refused: not wanted after all, unless an earlier enable wanted it (or this one turned on other nodes)
          this.wanted = wasWanted || this.enabledByUs.size > 0;
          if (!this.wanted) this.cancelAutoOff();
          throw new InspectorError(`RabbitMQ refused to turn tracing on at ${n.node} (HTTP ${e.status}): the management user needs the administrator tag.`, e.status, { cause: err });
        }
        if (isTransient(err)) this.maybeByUs.set(n.node, endpoint);
        errors.push(`${n.node}: ${e.message}`);
      }
    }
    let c: FirehoseCoverage;
    try {
      c = await this.checkNow(on);
    } catch {
      // the re-read got no answer: what this enable saw and did is the coverage
      const out: FirehoseNode[] = nodes.map((n) => ({
        node: n.node,
        tracing: states.get(n.node) ?? null,
        connections: null,
        endpoint: n.endpoint,
        error: states.get(n.node) === undefined || states.get(n.node) === null ? 'no answer' : null,
        enabledByOsloscope: this.enabledByUs.has(n.node),
      }));
      this.last = computeCoverage(this.vhost, this.clock(), out, this.autoOffAt);
      c = this.last;
    }
    if (errors.length > 0) this.log.warn({ vhost: this.vhost, errors }, `tracing could not be turned on everywhere: ${c.summary}`);
    return c;
  }

  private scheduleAutoOff(): void {
    if (this.autoOffMs <= 0 || this.autoOffTimer) return;
    this.autoOffAt = this.clock() + this.autoOffMs;
    this.autoOffTimer = setTimeout(() => {
      this.autoOffTimer = null;
      void this.disable('auto-off').catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'firehose auto-off failed'));
    }, this.autoOffMs);
    this.autoOffTimer.unref();
    if (this.last) this.last = { ...this.last, autoOffAt: this.autoOffAt };
  }

  private cancelAutoOff(): void {
    this.autoOffAt = null;
    if (this.autoOffTimer) clearTimeout(this.autoOffTimer);
    this.autoOffTimer = null;
  }

  /**
   * Turn tracing off on the nodes where osloscope turned it on (never where
   * the operator had it on before). Returns the nodes turned off.
   */
  disable(reason: 'auto-off' | 'stop' | 'request'): Promise<string[]> {
    // no re-enable from here on, even by a check already queued
    this.wanted = false;
    return this.exclusive(() => this.disableNow(reason));
  }

  private async disableNow(reason: 'auto-off' | 'stop' | 'request'): Promise<string[]> {
    this.wanted = false;
    this.cancelAutoOff();
    const done: string[] = [];
    // a PUT tracing:true that got no answer may have landed: off again too (the operator did not ask for it)
    for (const [node, endpoint] of new Map([...this.maybeByUs, ...this.enabledByUs])) {
      try {
        // two tries: a stop must not wait long behind a broker that does not answer
        await this.retrying(() => this.put(endpoint, false), Math.min(2, this.attempts));
        this.enabledByUs.delete(node);
        this.maybeByUs.delete(node);
        if (!done.includes(node)) done.push(node);
      } catch (err) {
        this.log.warn({ node, vhost: this.vhost, err: (err as Error).message }, 'could not turn tracing off');
      }
    }
    if (done.length > 0) this.log.info({ nodes: done, vhost: this.vhost, reason }, 'tracing turned off');
    if (this.last) {
      const nodes = this.last.nodes.map((n) => (done.includes(n.node) ? { ...n, tracing: false, enabledByOsloscope: false } : n));
      this.last = computeCoverage(this.vhost, this.clock(), nodes, null);
    }
    return done;
  }

  /** Nodes where osloscope turned tracing on and has not turned it off yet. */
  get ownNodes(): string[] {
    return [...this.enabledByUs.keys()];
  }

  /**
   * PUT /api/vhosts/<vhost> replaces description, tags and default queue
   * type too (rabbit_mgmt_wm_vhost:accept_content): send the current ones back.
   */
  private async put(endpoint: string, tracing: boolean): Promise<void> {
    const m = this.inspector.withEndpoint(endpoint);
    const list = await m.request<{ name: string; description?: string; tags?: string[] | string; default_queue_type?: string; metadata?: { description?: string; tags?: string[] } }[]>(
      '/vhosts?disable_stats=true&columns=name,description,tags,default_queue_type,metadata',
      { maxBytes: 16 * 1024 * 1024 },
    );
    const v = (Array.isArray(list) ? list : []).find((x) => x.name === this.vhost);
    if (!v) throw new InspectorError(`${m.describe()}: no vhost ${this.vhost}`, 404);
    const description = v.description ?? v.metadata?.description;
    const tagList = v.tags ?? v.metadata?.tags;
    const tags = Array.isArray(tagList) ? tagList.join(',') : tagList;
    const dqt = v.default_queue_type && v.default_queue_type !== 'undefined' ? v.default_queue_type : undefined;
    await m.request(`/vhosts/${this.vh}`, {
      method: 'PUT',
      body: { tracing, ...(description ? { description } : {}), ...(tags ? { tags } : {}), ...(dqt ? { default_queue_type: dqt } : {}) },
    });
  }
}
