/**
 * BrokerInspector: what the tap asks the broker besides AMQP — is tracing
 * on, which exchanges, queues, consumers and connections exist. One small
 * interface, three implementations:
 *
 * - ManagementInspector: the RabbitMQ management HTTP API (rabbitmq_management
 *   plugin). Note its queue/consumer numbers come from the stats database,
 *   refreshed every collect_statistics_interval (5 s by default), so they lag.
 * - MemoryInspector: the in-process MemoryBroker's list* views (embedded demo).
 * - PassiveInspector: no API at all; passive queue.declare on the queue names
 *   the tap has seen in traffic (topic, topic.server, notification and reply
 *   queues). Knows no connections and cannot tell whether tracing is on.
 */
import type { Logger, MemoryBroker, Transport } from '../messaging/index.ts';

export interface InspectedExchange {
  name: string;
  type: string;
  internal: boolean;
}

export interface InspectedQueue {
  name: string;
  /**
   * ready + unacknowledged; null when the broker did not report it: the management API leaves the counts out
   * with statistics disabled (`management.disable_stats` with `management_agent.disable_metrics_collector`),
   * for a queue listed before its first statistics, and for a stream's messages (3.13+)
   */
  messages: number | null;
  /** null when the broker did not report it (as `messages`) */
  consumers: number | null;
  exclusive: boolean;
  /** `x-queue-type` as the broker reports it (`classic`, `quorum`, `stream`); absent/null when unknown */
  type?: string | null;
  durable?: boolean | null;
  /** declare arguments (`x-expires`, `x-max-age`, ...) */
  arguments?: Record<string, unknown> | null;
  /** management `idle_since` in ms; null while the queue is busy or when unknown */
  idleSince?: number | null;
  /** messages per second published to / delivered from the queue (management message_stats); null when the broker keeps no rates */
  rates?: { in: number; out: number } | null;
}

/** One row of `GET /api/queues/<vhost>?columns=MANAGEMENT_QUEUE_COLUMNS`; any field may be left out. */
export interface ManagementQueueRow {
  name: string;
  messages?: number;
  consumers?: number;
  exclusive?: boolean;
  type?: string;
  durable?: boolean;
  arguments?: Record<string, unknown>;
  idle_since?: string;
  message_stats?: { publish_details?: { rate?: number }; deliver_get_details?: { rate?: number } };
}

export const MANAGEMENT_QUEUE_COLUMNS =
  'name,messages,consumers,exclusive,type,durable,arguments,idle_since,message_stats.publish_details.rate,message_stats.deliver_get_details.rate';

/** A management API queue row as osloscope reads it: a count left out is null, never 0. */
export function inspectedQueue(q: ManagementQueueRow): InspectedQueue {
  return {
    name: q.name,
    // with statistics disabled every queue would otherwise look empty and without consumers
    messages: typeof q.messages === 'number' ? q.messages : null,
    consumers: typeof q.consumers === 'number' ? q.consumers : null,
    exclusive: q.exclusive === true,
    type: typeof q.type === 'string' ? q.type : null,
    durable: typeof q.durable === 'boolean' ? q.durable : null,
    arguments: q.arguments && typeof q.arguments === 'object' ? q.arguments : null,
    idleSince: parseIdleSince(q.idle_since),
    rates: q.message_stats ? { in: q.message_stats.publish_details?.rate ?? 0, out: q.message_stats.deliver_get_details?.rate ?? 0 } : null,
  };
}

/** The management API's `idle_since`: `2026-11-30T07:40:12.123+00:00` (4.x) or `2026-11-30 7:40:12` (3.x, UTC). */
export function parseIdleSince(v: unknown): number | null {
  if (typeof v !== 'string' || v === '') return null;
  let t = v.trim();
  const old = /^(\d{4}-\d{2}-\d{2}) (\d{1,2}):(\d{2}):(\d{2})$/.exec(t);
  if (old) t = `${old[1]}T${old[2].padStart(2, '0')}:${old[3]}:${old[4]}Z`;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
}

export interface InspectedConsumer {
  queue: string;
  /** the broker's connection name `<peer> -> <server>` (firehose `connection` header) */
  connection: string | null;
  /** the client-provided connection_name, when known */
  connectionName: string | null;
}

export interface InspectedConnection {
  /** the broker's connection name `<peer> -> <server>` */
  name: string;
  /** client-provided connection_name (`<prog>:<pid>:<uuid>` for oslo and osloscope) */
  connectionName: string | null;
}

export type InspectorSource = 'management' | 'memory' | 'passive';

export interface BrokerInspector {
  readonly source: InspectorSource;
  /** the virtual host inspected */
  readonly vhost: string;
  /** Tracing (firehose) on for the vhost; null when this inspector cannot tell. */
  tracing(): Promise<boolean | null>;
  /** Whether enableTracing() is allowed (management: the user is an administrator). */
  canEnableTracing(): Promise<boolean>;
  /** `rabbitmqctl trace_on -p <vhost>`. */
  enableTracing(): Promise<void>;
  /** null = cannot list */
  exchanges(): Promise<InspectedExchange[] | null>;
  queues(): Promise<InspectedQueue[] | null>;
  consumers(): Promise<InspectedConsumer[] | null>;
  connections(): Promise<InspectedConnection[] | null>;
  /** Credential-free description for status and logs. */
  describe(): string;
  /** Messages the broker dropped from a queue (x-max-length drop-head), when it counts them (memory broker). */
  droppedFrom?(queue: string): number;
  /** Messages waiting in one queue (null: no such queue), when this inspector can read it without the caller's link. */
  queueDepth?(queue: string): Promise<number | null>;
}

export class InspectorError extends Error {
  override name = 'InspectorError';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * No answer (a timeout, a refused connection) or a 5xx: a loaded broker may answer the same request a moment later.
 * A 4xx is an answer.
 */
export function isTransient(err: unknown): boolean {
  return err instanceof InspectorError && (err.status === undefined || err.status >= 500);
}

/** The request was aborted by its own timeout: something listens there, too slowly (a loaded broker). */
function timedOut(err: unknown): boolean {
  return err instanceof InspectorError && (err.cause as { name?: unknown } | undefined)?.name === 'TimeoutError';
}

/**
 * `fn` again while `again(err)` says its failure got no answer, at most `attempts` tries in all, waiting
 * `delayMs` × the try's number between them; `onRetry` hears each failure that is tried again.
 */
export async function askAgain<T>(
  fn: () => Promise<T>,
  o: { attempts: number; delayMs: number; again?: (err: unknown) => boolean; onRetry?: (err: unknown, attempt: number) => void },
): Promise<T> {
  const again = o.again ?? isTransient;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= o.attempts || !again(err)) throw err;
      o.onRetry?.(err, attempt);
      await new Promise((r) => setTimeout(r, o.delayMs * attempt));
    }
  }
}

/** Tries of the management API's first read at start when it times out (explicit URL: any lack of answer). */
export const MANAGEMENT_CHECK_ATTEMPTS = 3;

// ---------------------------------------------------------------------------
// Management API
// ---------------------------------------------------------------------------

export interface ManagementOptions {
  /** `http://user:pass@host:15672` (credentials in the URL, as operators write RABBITMQ_MANAGEMENT_URL) */
  url: string;
  vhost: string;
  /** per request (default 5 s) */
  timeoutMs?: number;
  /** credentials when the URL has none */
  username?: string;
  password?: string;
}

/** Management answers larger than this are refused rather than parsed (a vhost with ~100k queues). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** rabbit_mgmt_util's maximum page size. */
const PAGE_SIZE = 500;

export class ManagementInspector implements BrokerInspector {
  readonly source = 'management' as const;
  readonly vhost: string;
  private readonly base: string;
  private readonly auth: string;
  private readonly timeoutMs: number;
  private readonly label: string;

  constructor(options: ManagementOptions) {
    const u = new URL(options.url);
    const user = u.username ? decodeURIComponent(u.username) : (options.username ?? 'guest');
    const pass = u.password ? decodeURIComponent(u.password) : (options.password ?? 'guest');
    this.auth = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    const path = u.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
    this.base = `${u.protocol}//${u.host}${path}/api`;
    this.label = `${u.protocol}//${u.host}${path}`;
    this.vhost = options.vhost;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  describe(): string {
    return `management API ${this.label}`;
  }

  private get vh(): string {
    return encodeURIComponent(this.vhost);
  }

  /** `http://host:port[/prefix]` without credentials: the listener this inspector talks to. */
  get endpoint(): string {
    return this.label;
  }

  /** The same credentials and vhost against another node's management listener (`http://host:port`). */
  withEndpoint(endpoint: string): ManagementInspector {
    const copy = Object.create(ManagementInspector.prototype) as ManagementInspector;
    const u = new URL(endpoint);
    const path = u.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
    Object.assign(copy, this, { base: `${u.protocol}//${u.host}${path}/api`, label: `${u.protocol}//${u.host}${path}` });
    return copy;
  }

  async request<T>(path: string, init: { method?: string; body?: unknown; maxBytes?: number } = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          authorization: this.auth,
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new InspectorError(`${this.describe()} unreachable: ${(err as Error).message}`, undefined, { cause: err });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new InspectorError(`${this.describe()} ${init.method ?? 'GET'} ${path.split('?')[0]}: HTTP ${res.status} ${text.slice(0, 200)}`, res.status);
    }
    if (res.status === 204) return undefined as T;
    const max = init.maxBytes ?? MAX_RESPONSE_BYTES;
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && length > max) {
      await res.body?.cancel().catch(() => undefined);
      throw new InspectorError(`${this.describe()} GET ${path.split('?')[0]}: answer of ${length} bytes is over the ${max}-byte limit`);
    }
    const text = await res.text();
    if (text.length > max) throw new InspectorError(`${this.describe()} GET ${path.split('?')[0]}: answer over the ${max}-byte limit`);
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch (err) {
      throw new InspectorError(`${this.describe()} GET ${path.split('?')[0]}: not JSON`, res.status, { cause: err });
    }
  }

  /**
   * A paginated list (`page`, `page_size` ≤ 500: the management API's own
   * maximum, rabbit_mgmt_util:pagination). Stops at `maxItems`; `truncated`
   * says so. Brokers without pagination for a route answer a plain array.
   */
  async paged<T>(path: string, maxItems = 10_000): Promise<{ items: T[]; truncated: boolean }> {
    const items: T[] = [];
    const sep = path.includes('?') ? '&' : '?';
    for (let page = 1; page <= Math.ceil(maxItems / PAGE_SIZE) + 1; page++) {
      const r = await this.request<{ items?: T[]; page_count?: number } | T[]>(`${path}${sep}page=${page}&page_size=${PAGE_SIZE}`);
      if (Array.isArray(r)) return { items: r.slice(0, maxItems), truncated: r.length > maxItems };
      items.push(...(r.items ?? []));
      if (items.length >= maxItems) return { items: items.slice(0, maxItems), truncated: page < (r.page_count ?? page) || items.length > maxItems };
      if (page >= (r.page_count ?? 1)) break;
    }
    return { items, truncated: false };
  }

  /**
   * This vhost as `GET /api/vhosts` lists it. The list, not `/api/vhosts/<name>`:
   * the single-vhost route is administrator-only (rabbit_mgmt_wm_vhost:is_authorized/2,
   * "Not administrator user" on 3.10.8 and 4.3.6) while the list answers monitoring users
   * too, with the same `tracing`, from the node that serves the request.
   */
  async vhostInfo(): Promise<{ name: string; tracing?: boolean; default_queue_type?: string } | null> {
    const list = await this.request<{ name: string; tracing?: boolean; default_queue_type?: string }[]>('/vhosts?disable_stats=true&columns=name,tracing,default_queue_type', {
      maxBytes: 16 * 1024 * 1024,
    });
    return (Array.isArray(list) ? list : []).find((v) => v.name === this.vhost) ?? null;
  }

  /** Reachable, the credentials work and the vhost exists. */
  async check(): Promise<void> {
    const v = await this.vhostInfo();
    if (!v) throw new InspectorError(`${this.describe()}: no vhost ${this.vhost} (or no permission on it)`, 404);
  }

  /**
   * Whether this management API belongs to the broker that serves AMQP on
   * `port`: one of the cluster's `amqp` listeners (`GET /api/overview`)
   * has that port. A management URL guessed from the AMQP host (`:15672`)
   * can lead to another broker on the same host, whose answers (tracing
   * off, other queues) would be about the wrong broker.
   */
  async servesAmqpPort(port: number): Promise<{ ok: boolean; ports: number[]; node: string | null }> {
    const o = await this.request<{ node?: string; listeners?: { protocol?: string; port?: number }[] }>('/overview?columns=node,listeners');
    const ports = (o.listeners ?? []).filter((l) => typeof l.protocol === 'string' && l.protocol.startsWith('amqp') && typeof l.port === 'number').map((l) => l.port as number);
    // no listener list at all (a proxy that strips it): cannot tell, do not refuse
    return { ok: ports.length === 0 || ports.includes(port), ports, node: o.node ?? null };
  }

  async tracing(): Promise<boolean | null> {
    const v = await this.vhostInfo();
    return typeof v?.tracing === 'boolean' ? v.tracing : null;
  }

  async canEnableTracing(): Promise<boolean> {
    return (await this.administrator()) === true;
  }

  /**
   * Whether the user has the administrator tag (`GET /api/whoami`); null when the API did not answer (a timeout on
   * a loaded broker), which says nothing about the user: only an answer, or a 401/403, is a refusal.
   */
  async administrator(): Promise<boolean | null> {
    try {
      const me = await this.request<{ tags?: string[] | string }>('/whoami');
      const tags = Array.isArray(me.tags) ? me.tags : String(me.tags ?? '').split(',');
      return tags.map((t) => t.trim()).includes('administrator');
    } catch (err) {
      return err instanceof InspectorError && (err.status === 401 || err.status === 403) ? false : null;
    }
  }

  async enableTracing(): Promise<void> {
    // PUT /api/vhosts/<name> rewrites description and tags too: send the current ones back.
    const v = await this.request<{ description?: string; tags?: string[] | string; metadata?: { description?: string; tags?: string[] } }>(
      `/vhosts/${this.vh}`,
    );
    const description = v.description ?? v.metadata?.description;
    const tagList = v.tags ?? v.metadata?.tags;
    const tags = Array.isArray(tagList) ? tagList.join(',') : tagList;
    await this.request(`/vhosts/${this.vh}`, {
      method: 'PUT',
      body: { tracing: true, ...(description ? { description } : {}), ...(tags ? { tags } : {}) },
    });
  }

  async queueDepth(queue: string): Promise<number | null> {
    try {
      const q = await this.request<{ messages?: number }>(`/queues/${this.vh}/${encodeURIComponent(queue)}?columns=messages`);
      return q.messages ?? 0;
    } catch (err) {
      if (err instanceof InspectorError && err.status === 404) return null;
      throw err;
    }
  }

  async exchanges(): Promise<InspectedExchange[]> {
    const list = await this.request<{ name: string; type: string; internal?: boolean }[]>(`/exchanges/${this.vh}?columns=name,type,internal`);
    return list.map((x) => ({ name: x.name, type: x.type, internal: x.internal === true }));
  }

  async queues(): Promise<InspectedQueue[]> {
    const list = await this.request<ManagementQueueRow[]>(`/queues/${this.vh}?columns=${MANAGEMENT_QUEUE_COLUMNS}`);
    return list.map(inspectedQueue);
  }

  async consumers(): Promise<InspectedConsumer[]> {
    const list = await this.request<{ queue?: { name?: string }; channel_details?: { connection_name?: string } }[]>(`/consumers/${this.vh}`);
    return list
      .filter((c) => typeof c.queue?.name === 'string')
      .map((c) => ({ queue: c.queue?.name as string, connection: c.channel_details?.connection_name ?? null, connectionName: null }));
  }

  async connections(): Promise<InspectedConnection[]> {
    const list = await this.request<{ name: string; client_properties?: { connection_name?: string } }[]>(
      `/vhosts/${this.vh}/connections?columns=name,client_properties`,
    );
    return list.map((c) => ({ name: c.name, connectionName: c.client_properties?.connection_name ?? null }));
  }

  /** DELETE /api/connections/<name> (tests use it to simulate a broker-side kill). */
  async closeConnection(name: string, reason = 'osloscope'): Promise<void> {
    await fetch(`${this.base}/connections/${encodeURIComponent(name)}`, {
      method: 'DELETE',
      headers: { authorization: this.auth, 'x-reason': reason },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }
}

// ---------------------------------------------------------------------------
// Memory broker
// ---------------------------------------------------------------------------

export class MemoryInspector implements BrokerInspector {
  readonly source = 'memory' as const;
  readonly vhost: string;

  constructor(private readonly broker: MemoryBroker) {
    this.vhost = broker.vhost;
  }

  describe(): string {
    return `memory broker ${this.broker.vhost}`;
  }

  async tracing(): Promise<boolean> {
    return this.broker.isTracing;
  }

  async canEnableTracing(): Promise<boolean> {
    return true;
  }

  async enableTracing(): Promise<void> {
    this.broker.setTracing(true);
  }

  async exchanges(): Promise<InspectedExchange[]> {
    return this.broker.listExchanges().map((x) => ({ name: x.name, type: x.type, internal: x.internal }));
  }

  async queues(): Promise<InspectedQueue[]> {
    return this.broker.listQueues().map((q) => ({
      name: q.name,
      messages: q.messages,
      consumers: q.consumers,
      exclusive: q.exclusive,
      type: typeof q.arguments['x-queue-type'] === 'string' ? (q.arguments['x-queue-type'] as string) : 'classic',
      durable: q.durable,
      arguments: q.arguments,
      idleSince: null,
    }));
  }

  async consumers(): Promise<InspectedConsumer[]> {
    const address = new Map(this.broker.listConnections().map((c) => [c.name, c.address]));
    return this.broker.listConsumers().map((c) => ({
      queue: c.queue,
      connection: address.get(c.connectionName) ?? null,
      connectionName: c.connectionName,
    }));
  }

  async connections(): Promise<InspectedConnection[]> {
    return this.broker.listConnections().map((c) => ({ name: c.address, connectionName: c.name }));
  }

  async queueDepth(queue: string): Promise<number | null> {
    return this.broker.listQueues().find((q) => q.name === queue)?.messages ?? null;
  }

  /** Messages the broker dropped from a queue (x-max-length drop-head) — the tap's own loss counter. */
  droppedFrom(queue: string): number {
    return this.broker.listQueues().find((q) => q.name === queue)?.messagesDropped ?? 0;
  }
}

// ---------------------------------------------------------------------------
// Passive declares
// ---------------------------------------------------------------------------

export interface PassiveQueueCheck {
  (queue: string): Promise<{ messageCount: number; consumerCount: number } | null>;
}

/** Queues whose counts the management API left out that one broker view asks of the broker itself, at most. */
export const UNREPORTED_CHECKS = 500;
/** …this many at a time (one passive declare each) */
const UNREPORTED_CHECKS_AT_ONCE = 16;

/**
 * The counts the management API left out (statistics disabled), asked of the broker itself: a passive
 * queue.declare answers each queue's messages and consumers exactly. At most `max` queues, reply and fanout
 * queues first (whether they are orphans is what the Broker page tells), then RPC servers' queues; never an
 * exclusive queue (another connection's: the broker refuses it and closes the channel). A stream's count stays
 * unknown: its declare-ok counts no messages. A queue that could not be checked keeps its unknown counts.
 */
export async function withPassiveCounts(queues: InspectedQueue[], check: PassiveQueueCheck, kindOf: (name: string) => string, max = UNREPORTED_CHECKS): Promise<InspectedQueue[]> {
  const rank: Record<string, number> = { reply: 0, fanout: 1, server: 2, topic: 3, notification: 4 };
  const isStream = (q: InspectedQueue) => q.type === 'stream' || q.arguments?.['x-queue-type'] === 'stream';
  const wanted: { q: InspectedQueue; i: number; r: number }[] = [];
  queues.forEach((q, i) => {
    // a stream's messages are left out with statistics on too (3.13+), and a declare cannot tell them
    // only these are ranked: a broker with statistics on has none or a few, and the view lists every queue
    if ((q.consumers === null || (q.messages === null && !isStream(q))) && !q.exclusive) wanted.push({ q, i, r: rank[kindOf(q.name)] ?? 5 });
  });
  wanted.sort((a, b) => a.r - b.r || a.i - b.i).splice(max);
  if (wanted.length === 0) return queues;
  const out = queues.slice();
  for (let k = 0; k < wanted.length; k += UNREPORTED_CHECKS_AT_ONCE) {
    await Promise.all(
      wanted.slice(k, k + UNREPORTED_CHECKS_AT_ONCE).map(async ({ q, i }) => {
        const r = await check(q.name).catch(() => null);
        if (!r) return;
        out[i] = { ...q, consumers: q.consumers ?? r.consumerCount, messages: q.messages ?? (isStream(q) ? null : r.messageCount) };
      }),
    );
  }
  return out;
}

export class PassiveInspector implements BrokerInspector {
  readonly source = 'passive' as const;

  constructor(
    readonly vhost: string,
    /** passive queue.declare; null when the queue does not exist */
    private readonly check: PassiveQueueCheck,
    /** queue names worth checking (seen in traffic) */
    private readonly knownQueues: () => string[],
    private readonly maxChecks = 500,
  ) {}

  describe(): string {
    return 'passive declares (no management API)';
  }

  async tracing(): Promise<null> {
    return null;
  }

  async canEnableTracing(): Promise<boolean> {
    return false;
  }

  async enableTracing(): Promise<void> {
    throw new InspectorError('Turning the firehose on needs the management API (or run: rabbitmqctl trace_on -p <vhost>)');
  }

  async exchanges(): Promise<null> {
    return null;
  }

  async queues(): Promise<InspectedQueue[]> {
    const out: InspectedQueue[] = [];
    for (const name of this.knownQueues().slice(0, this.maxChecks)) {
      const r = await this.check(name).catch(() => null);
      if (r) out.push({ name, messages: r.messageCount, consumers: r.consumerCount, exclusive: false });
    }
    return out;
  }

  async consumers(): Promise<null> {
    return null;
  }

  async connections(): Promise<null> {
    return null;
  }
}

// ---------------------------------------------------------------------------
// Transport → inspector
// ---------------------------------------------------------------------------

/** The virtual host a transport connects to. */
export function vhostOf(transport: Transport): string {
  if (transport.memoryBroker) return transport.memoryBroker.vhost;
  return transport.url.amqpEndpoints()[0]?.vhost ?? '/';
}

export interface InspectorForOptions {
  /**
   * RABBITMQ_MANAGEMENT_URL. undefined: try `http://<amqp host>:15672` (then AMQP port + 10000) with the
   * transport's credentials; null: never use the management API.
   */
  managementUrl?: string | null;
  /** passive queue.declare on the caller's own connection, for the PassiveInspector fallback */
  checkQueue: PassiveQueueCheck;
  /** queue names worth checking passively (seen in traffic) */
  knownQueues: () => string[];
  log: Logger;
}

/**
 * The inspector that answers for a transport's broker: the memory broker's own views, else the management
 * API (explicit URL, or a guess that proves to serve this broker), else passive declares. The one place that
 * knows which driver a transport runs on, so the tap never branches on it.
 */
export async function inspectorFor(transport: Transport, options: InspectorForOptions): Promise<BrokerInspector> {
  const vhost = vhostOf(transport);
  if (transport.memoryBroker) return new MemoryInspector(transport.memoryBroker);
  const { managementUrl: url, log } = options;
  if (url !== null) {
    const eps = transport.url.amqpEndpoints();
    const ep = eps[0];
    // Guesses: RabbitMQ's default management port on the AMQP host, then AMQP port + 10000
    // (5672 → 15672, 5674 → 15674: how side-by-side brokers are usually laid out). A guess
    // only counts when that management API lists one of our AMQP ports among its listeners:
    // another broker on the same host answers for its own vhost, tracing state included.
    const candidates: { url: string; explicit: boolean }[] = url
      ? [{ url, explicit: true }]
      : ep
        ? [...new Set([15672, ep.port + 10000])].map((p) => ({ url: `http://${ep.label.replace(/:\d+$/, '')}:${p}`, explicit: false }))
        : [];
    for (const c of candidates) {
      const m = new ManagementInspector({ url: c.url, vhost, username: ep?.username, password: ep?.password, timeoutMs: c.explicit ? 5000 : 2000 });
      try {
        // A read that timed out on a loaded broker used to leave the tap on passive declares for its whole life (auto
        // mode then probed, and a slow probe said bindings with tracing on): ask again. A guess is asked again only
        // when something answered too slowly; a refused connection means nothing listens there.
        await askAgain(() => m.check(), {
          attempts: MANAGEMENT_CHECK_ATTEMPTS,
          delayMs: 250,
          again: c.explicit ? isTransient : timedOut,
          onRetry: (err, attempt) => log.info({ management: m.describe(), attempt, err: (err as Error).message }, 'management API did not answer; asking again'),
        });
        const same = await m.servesAmqpPort(ep?.port ?? 5672).catch(() => ({ ok: true, ports: [] as number[], node: null }));
        const ours = same.ok || eps.some((e) => same.ports.includes(e.port));
        if (!ours && !c.explicit) {
          log.info({ management: m.describe(), amqpPorts: same.ports }, 'management API on the AMQP host belongs to another broker; not using it');
          continue;
        }
        if (!ours) {
          log.warn(
            { management: m.describe(), amqpPorts: same.ports, port: ep?.port },
            'RABBITMQ_MANAGEMENT_URL lists no AMQP listener on the port osloscope connects to: is it the same broker? (port forwarding can explain it)',
          );
        }
        return m;
      } catch (err) {
        if (c.explicit) log.warn({ err: (err as Error).message }, 'management API unusable; falling back to passive declares');
      }
    }
  }
  return new PassiveInspector(vhost, options.checkQueue, options.knownQueues);
}
