/**
 * The HTTP API of the custom server (`/api/*` and `/metrics`). Pages talk to
 * it over HTTP; Next.js never sees these paths.
 *
 * Replies are `{ok:true,data}` / `{ok:false,error:{code,message,...}}`;
 * POST /api/rpc also carries `result` (the product's HTTP contract).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  callsQuerySchema,
  describeFieldErrors,
  fieldErrors,
  loginRequestSchema,
  messagesQuerySchema,
  rpcRequestSchema,
  selectedTransport,
  transportSelectorSchema,
  transportUp,
  ALL_TRANSPORTS,
  DEFAULT_TRANSPORT_NAME,
  type Health,
  type SessionInfo,
} from '../../lib/api-contracts.ts';
import type { BrokerHealthReport, BrokerHealthSummary } from '../../lib/broker-contracts.ts';
import type { Logger } from '../messaging/index.ts';
import { checkSameOrigin, permits, type Action } from '../auth/access.ts';
import type { Principal, Sessions } from '../auth/session.ts';
import { fanoutHistoryQuerySchema, rateDimensionSchema } from '../../lib/tap-contracts.ts';
import { brokerSnapshot, callsSnapshot, knownTargets, ratesUpdate, selectDashboard, statusSnapshot, transportNames, transportsList, UnknownTransportError, type Dashboard } from '../dashboard.ts';
import type { FireService } from './fire.ts';
import { HistoryApi } from './history-api.ts';
import type { History } from '../store/history.ts';
import { pingRequestSchema } from '../../lib/ping-contracts.ts';
import { DEFAULT_PING_TIMEOUT_S, discoverServers, pingFleet } from '../tap/ping.ts';
import { renderMetrics, type MetricsSources } from './prometheus.ts';
import { HttpError, readJson, sendData, sendError, sendJson, sendLines, sendText } from './respond.ts';

export interface ApiOptions {
  dashboard: Dashboard;
  sessions: Sessions;
  fire: FireService;
  log: Logger;
  allowedOrigins: readonly string[];
  readOnly: boolean;
  version: string;
  startedAt: number;
  /** bearer token that may scrape /metrics without a session */
  metricsToken: string | null;
  metrics: Omit<MetricsSources, 'dashboard' | 'fire'>;
  /** the history store and search (server/store); null: the endpoints answer from memory only */
  history?: History | null;
  /** called after a firehose change, to note it in the audit log */
  onFirehoseEnabled?: (who: Principal) => void;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  principal: Principal | null;
}

type Handler = (ctx: Ctx) => Promise<void> | void;

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** what the caller must be allowed to do; null = public */
  needs: Action | null;
  handler: Handler;
}

export class Api {
  private readonly routes: Route[];

  constructor(private readonly o: ApiOptions) {
    const r = (method: Route['method'], path: string, needs: Action | null, handler: Handler): Route => ({ method, path, needs, handler });
    this.routes = [
      r('GET', '/api/health', null, (c) => this.health(c)),
      r('GET', '/api/session', null, (c) => this.session(c)),
      r('POST', '/api/session', null, (c) => this.login(c)),
      r('DELETE', '/api/session', null, (c) => this.logout(c)),
      r('GET', '/api/transports', 'watch', (c) => sendData(c.res, transportsList(this.o.dashboard))),
      r('GET', '/api/status', 'watch', (c) => sendData(c.res, statusSnapshot(this.view(c)))),
      r('GET', '/api/rates', 'watch', (c) => this.rates(c)),
      r('GET', '/api/targets', 'watch', async (c) => {
        const d = this.view(c);
        this.requireTap(d);
        sendData(c.res, await knownTargets(d, 200));
      }),
      r('GET', '/api/messages', 'watch', (c) => this.messages(c)),
      r('GET', '/api/calls', 'watch', (c) => this.calls(c)),
      r('GET', '/api/calls/snapshot', 'watch', (c) => sendData(c.res, callsSnapshot(this.view(c)))),
      r('GET', '/api/broker', 'watch', async (c) => sendData(c.res, await brokerSnapshot(this.view(c)))),
      r('GET', '/api/broker/health', 'watch', (c) => this.brokerHealth(c)),
      r('POST', '/api/rpc', 'fire', (c) => this.rpc(c)),
      r('GET', '/api/rpc/history', 'watch', (c) => sendData(c.res, this.o.fire.history())),
      r('POST', '/api/tap/firehose', 'fire', (c) => this.enableFirehose(c)),
      r('POST', '/api/ping', 'fire', (c) => this.ping(c)),
      r('GET', '/api/fanout-history', 'watch', (c) => this.fanoutHistory(c)),
      r('GET', '/metrics', 'watch', (c) => this.metrics(c)),
      r('GET', '/api/search', 'watch', (c) => this.historyApi().search(c.res, c.url, this.selected(c))),
      r('GET', '/api/history', 'watch', (c) => this.historyApi().status(c.res)),
      r('GET', '/api/stuck-groups', 'watch', (c) => this.historyApi().stuckGroups(c.res, c.url, this.selected(c))),
      r('POST', '/api/stuck-groups/ack', 'watch', (c) => this.historyApi().ack(c.req, c.res, c.principal)),
      // /api/calls/<msgId> and /api/messages/<id>: matched by prefix in handle()
      r('GET', '/api/calls/:msgId', 'watch', (c) => this.historyApi().call(c.res, decodeURIComponent(c.url.pathname.slice('/api/calls/'.length)), this.selected(c))),
      r('GET', '/api/messages/:id', 'watch', (c) => this.historyApi().message(c.res, decodeURIComponent(c.url.pathname.slice('/api/messages/'.length)), this.selected(c))),
    ];
  }

  /** True when the path belongs to the API (answered here, never by Next). */
  owns(pathname: string): boolean {
    return pathname === '/api' || pathname.startsWith('/api/') || pathname === '/metrics';
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    try {
      let matches = this.routes.filter((r) => r.path === url.pathname);
      if (matches.length === 0) matches = this.routes.filter((r) => r.path.endsWith('/:msgId') || r.path.endsWith('/:id')).filter((r) => url.pathname.startsWith(r.path.slice(0, r.path.lastIndexOf('/') + 1)) && !url.pathname.slice(r.path.lastIndexOf('/') + 1).includes('/') && url.pathname.length > r.path.lastIndexOf('/') + 1);
      if (matches.length === 0) {
        throw new HttpError(404, 'not_found', `No API endpoint ${url.pathname}. Endpoints: ${[...new Set(this.routes.map((r) => `${r.method} ${r.path}`))].join(', ')}`);
      }
      const route = matches.find((r) => r.method === method || (method === 'HEAD' && r.method === 'GET'));
      if (!route) {
        res.setHeader('allow', matches.map((r) => r.method).join(', '));
        throw new HttpError(405, 'method_not_allowed', `${method} is not supported on ${url.pathname}; use ${matches.map((r) => r.method).join(' or ')}`);
      }
      if (route.method !== 'GET') {
        const origin = checkSameOrigin(req, this.o.allowedOrigins);
        if (!origin.ok) throw new HttpError(origin.status, origin.code, origin.message);
      }
      let principal = await this.o.sessions.principal(req);
      if (route.path === '/metrics' && !principal && this.metricsTokenOk(req)) principal = { name: 'metrics', role: 'viewer' };
      if (route.needs) {
        const decision = permits(principal, route.needs, this.o.readOnly);
        if (!decision.ok) throw new HttpError(decision.status, decision.code, decision.message);
      }
      await route.handler({ req, res, url, principal });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendError(res, err.status, err.code, err.message, err.extra);
        return;
      }
      this.o.log.error({ err: (err as Error).message, path: url.pathname }, 'API request failed');
      sendError(res, 500, 'internal', 'Internal error (see the server log)');
    }
  }

  private historyApiInstance: HistoryApi | null = null;

  private historyApi(): HistoryApi {
    if (!this.o.history) throw new HttpError(503, 'unavailable', 'The history is not set up in this server');
    this.historyApiInstance ??= new HistoryApi(this.o.history);
    return this.historyApiInstance;
  }

  /**
   * The dashboard of `?transport=` (a name, or all / none for the whole fleet); an unknown name is a
   * 404 naming the known ones.
   */
  /** The request's view when it names one transport (or there is only one); a 400 naming them otherwise. */
  private oneTransport(c: Ctx, what: string): Dashboard {
    const view = this.view(c);
    if (view.fleet && view.fleet.names().length > 1 && (view.selection === undefined || view.selection === ALL_TRANSPORTS)) {
      throw new HttpError(400, 'validation_failed', `transport: name the transport ${what} (one of ${view.fleet.names().join(', ')})`, { fields: { transport: 'required with several transports' } });
    }
    return view;
  }

  private view(c: Ctx): Dashboard {
    const raw = c.url.searchParams.get('transport');
    if (raw !== null) {
      const checked = transportSelectorSchema.safeParse(raw);
      if (!checked.success) throw new HttpError(400, 'validation_failed', `transport: ${checked.error.issues[0]?.message ?? 'bad value'}`, { fields: { transport: checked.error.issues[0]?.message ?? 'bad value' } });
    }
    try {
      return selectDashboard(this.o.dashboard, raw);
    } catch (err) {
      if (err instanceof UnknownTransportError) throw new HttpError(404, 'not_found', err.message);
      throw err;
    }
  }

  /** `?transport=` checked: the selected transport's name, or null for the whole fleet. */
  private selected(c: Ctx): string | null {
    this.view(c);
    return selectedTransport(c.url.searchParams.get('transport'));
  }

  /**
   * A Console action's transport: required when the fleet has more than one (400), checked (404).
   * Returns the dashboard of that transport.
   */
  private actionView(transport: string | undefined): Dashboard {
    const names = transportNames(this.o.dashboard);
    if (transport === undefined) {
      if (names.length > 1) throw new HttpError(400, 'validation_failed', `transport: name the transport to use (one of ${names.join(', ')})`, { fields: { transport: `one of ${names.join(', ')}` } });
      return selectDashboard(this.o.dashboard, names[0] === DEFAULT_TRANSPORT_NAME && !this.o.dashboard.fleet ? null : names[0]);
    }
    try {
      return selectDashboard(this.o.dashboard, transport);
    } catch (err) {
      if (err instanceof UnknownTransportError) throw new HttpError(404, 'not_found', err.message);
      throw err;
    }
  }

  private metricsTokenOk(req: IncomingMessage): boolean {
    const token = this.o.metricsToken;
    const auth = req.headers.authorization ?? '';
    return token !== null && auth === `Bearer ${token}`;
  }

  // ---- handlers ------------------------------------------------------------------

  private async health(c: Ctx): Promise<void> {
    const d = this.o.dashboard;
    const t = d.transport.status();
    const tap = (d.fleet ? d.fleet.member(d.fleet.defaultName)?.tap : d.tap)?.status() ?? null;
    const principal = await this.o.sessions.principal(c.req);
    // every named transport: the server is degraded when any of them is
    const each = transportsList(d).transports.map((x) => {
      const ok = transportUp(x.state) && (!x.tap || x.tap.state === 'running');
      return { name: x.name, driver: x.driver, url: principal ? x.url : `${x.driver}://`, state: x.state, tap: x.tap ? { mode: x.tap.mode, state: x.tap.state } : null, status: ok ? ('ok' as const) : ('degraded' as const) };
    });
    const healthy = each.every((x) => x.status === 'ok');
    const data: Health = {
      status: healthy ? 'ok' : 'degraded',
      transport: { driver: t.driver, url: principal ? t.url : `${t.driver}://`, state: t.state, rejected: t.rejected },
      tap: tap ? { mode: tap.mode, requestedMode: tap.requestedMode, state: tap.state, canSeeReplies: tap.canSeeReplies } : null,
      transports: each,
      broker: this.brokerSummary(principal !== null || !this.o.sessions.enabled),
      history: this.o.history?.summary() ?? null,
      uptimeSeconds: Math.round((Date.now() - this.o.startedAt) / 1000),
      version: this.o.version,
    };
    sendData(c.res, data);
  }

  /**
   * The last broker read, summarised (never waits on the management API).
   * Strangers (access control on, no session) get the layout's name and
   * counts only: no version, no deprecated feature names.
   */
  private brokerSummary(detailed: boolean): Health['broker'] {
    let s: BrokerHealthSummary | null = null;
    try {
      s = this.o.dashboard.tap?.brokerHealthSummary?.() ?? null;
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'broker health summary failed');
    }
    if (!s || detailed) return s;
    return { ...s, version: null, deprecatedFeaturesUsed: [], layout: s.layout ? { ...s.layout, label: s.layout.name } : null };
  }

  /** GET /api/broker/health[?refresh=1]: layout, health and firehose coverage. */
  private async brokerHealth(c: Ctx): Promise<void> {
    // one broker's report: under All with several transports the caller must say which (the summary in /api/health covers all)
    const tap = this.requireTap(this.oneTransport(c, 'whose broker to report'));
    if (!tap.brokerHealth) throw new HttpError(501, 'tap_unavailable', 'This tap cannot read broker health');
    const report: BrokerHealthReport = await tap.brokerHealth(c.url.searchParams.get('refresh') === '1');
    sendData(c.res, report);
  }

  private sessionInfo(p: Principal | null): SessionInfo {
    return {
      user: p?.name ?? null,
      role: p?.role ?? null,
      authEnabled: this.o.sessions.enabled,
      readOnly: this.o.readOnly,
      canFire: permits(p, 'fire', this.o.readOnly).ok,
    };
  }

  private async session(c: Ctx): Promise<void> {
    const p = await this.o.sessions.principal(c.req);
    if (!p) throw new HttpError(401, 'unauthenticated', 'Not logged in');
    sendData(c.res, this.sessionInfo(p));
  }

  private async login(c: Ctx): Promise<void> {
    if (!this.o.sessions.enabled) {
      sendData(c.res, this.sessionInfo(await this.o.sessions.principal(c.req)));
      return;
    }
    // limits per account, address and pair (server/auth/login-limiter.ts), reserved before the password is checked
    const remote = this.o.sessions.clientAddress(c.req);
    const body = parseBody(loginRequestSchema, await readJson(c.req));
    const out = await this.o.sessions.login(c.req, c.res, body.username, body.password);
    if (!out.ok && out.reason === 'rate_limited') {
      c.res.setHeader('retry-after', String(out.retryAfterSeconds));
      this.o.log.warn({ user: this.o.sessions.loggableName(body.username), remote, scope: out.scope }, 'login throttled');
      throw new HttpError(429, 'rate_limited', `Too many failed logins; try again in ${out.retryAfterSeconds} s`);
    }
    if (!out.ok) {
      this.o.log.warn({ user: this.o.sessions.loggableName(body.username), remote }, 'failed login');
      throw new HttpError(401, 'bad_credentials', 'Wrong user name or password');
    }
    const p = out.principal;
    this.o.log.info({ user: p.name, role: p.role, remote }, 'login');
    sendData(c.res, this.sessionInfo(p));
  }

  private async logout(c: Ctx): Promise<void> {
    await this.o.sessions.logout(c.req, c.res);
    sendData(c.res, { loggedOut: true });
  }

  private rates(c: Ctx): void {
    const q = parseQuery(
      z.object({
        windowMs: z.coerce.number({ message: 'windowMs is a number of milliseconds' }).int().min(60_000, { message: 'windowMs is at least 60000' }).max(3_600_000, { message: 'windowMs is at most 3600000' }).optional(),
        focus: z.string().max(200).optional(),
        dimension: rateDimensionSchema.optional(),
        transport: transportSelectorSchema,
      }),
      c.url,
    );
    const d = this.view(c);
    this.requireTap(d);
    sendData(c.res, ratesUpdate(d, q.focus ?? '', q.windowMs ?? 60_000, q.dimension ?? null)?.rates);
  }

  private async messages(c: Ctx): Promise<void> {
    const q = parseQuery(messagesQuerySchema, c.url);
    const tap = this.requireTap(this.view(c));
    const filter = (q.filter ?? '').trim();
    const parsed = this.o.dashboard.parseFilter(filter);
    if (!parsed.ok) throw new HttpError(400, 'validation_failed', `Bad filter: ${parsed.error}`, { fields: { filter: parsed.error } });
    const messages = tap.recent({ filter: parsed.predicate, limit: q.limit ?? (q.format === 'ndjson' ? 10_000 : 200) });
    if (q.format === 'ndjson') {
      // One line at a time: the export may hold thousands of messages (each within the tap's per-message budget).
      const lines = (function* () {
        for (const m of messages) yield JSON.stringify(m);
      })();
      await sendLines(c.res, 200, 'application/x-ndjson; charset=utf-8', lines, {
        'content-disposition': `attachment; filename="osloscope-messages-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson"`,
      });
      return;
    }
    sendData(c.res, { filter, messages });
  }

  private calls(c: Ctx): void {
    const q = parseQuery(callsQuerySchema, c.url);
    const tap = this.requireTap(this.view(c));
    if (q.msgId) {
      const call = tap.call(q.msgId);
      if (!call) throw new HttpError(404, 'not_found', `No call with _msg_id ${q.msgId} is known (finished calls are kept for a while only)`);
      sendData(c.res, call);
      return;
    }
    sendData(c.res, tap.calls({ state: q.state, limit: 1000 }));
  }

  private async rpc(c: Ctx): Promise<void> {
    const body = await readJson(c.req);
    const parsed = rpcRequestSchema.safeParse(body);
    if (!parsed.success) {
      const fields = fieldErrors(parsed.error);
      throw new HttpError(400, 'validation_failed', describeFieldErrors(fields), { fields });
    }
    const who = c.principal as Principal;
    const view = this.actionView(parsed.data.transport);
    const transport = this.o.dashboard.fleet ? (view.selection ?? this.o.dashboard.fleet.defaultName) : undefined;
    const out = await this.o.fire.fire({ ...parsed.data, transport }, who, this.o.sessions.clientAddress(c.req));
    if (out.ok) sendJson(c.res, 200, { ok: true, result: out.data.result, data: out.data });
    else sendJson(c.res, out.status, { ok: false, error: out.error });
  }

  /** POST /api/ping: oslo_rpc_server_ping to every server of a topic (server/tap/ping.ts). */
  private async ping(c: Ctx): Promise<void> {
    const parsed = pingRequestSchema.safeParse(await readJson(c.req));
    if (!parsed.success) {
      const fields = fieldErrors(parsed.error);
      throw new HttpError(400, 'validation_failed', describeFieldErrors(fields), { fields });
    }
    const { topic, servers: only, exchange, timeout } = parsed.data;
    const view = this.actionView(parsed.data.transport);
    const tap = view.tap;
    // the broker's <topic>.<server> queues (management API, memory broker, or the queues traffic named) and traffic seen
    let queues: { name: string; consumers: number | null }[] | null = null;
    let queueSource: 'management' | 'memory' | 'passive' | 'none' = 'none';
    let note: string | null = tap ? null : 'no tap: only the servers given are pinged';
    const observed = new Set<string>();
    if (tap && !(only && only.length > 0)) {
      try {
        const view = await tap.brokerView();
        queues = view.queues;
        queueSource = view.source;
        if (view.error) note = `the broker's queue list is incomplete: ${view.error}`;
      } catch (err) {
        note = `the broker's queues could not be listed: ${(err as Error).message}`;
      }
      for (const m of tap.recent({ filter: (x) => x.topic === topic && x.server !== null && (x.kind === 'call' || x.kind === 'cast'), limit: 10_000 })) {
        if (m.server) observed.add(m.server);
      }
    }
    const candidates = discoverServers({ topic, queues, observed, only });
    const who = c.principal as Principal;
    this.o.log.info({ user: who.name, topic, servers: candidates.length }, 'fleet ping');
    const result = await pingFleet(view.transport, {
      topic,
      exchange: exchange ?? null,
      candidates,
      timeoutSeconds: timeout ?? DEFAULT_PING_TIMEOUT_S,
      discovery: {
        queueSource,
        queues: candidates.filter((x) => x.sources.includes('queue')).length,
        observed: candidates.filter((x) => x.sources.includes('traffic')).length,
        given: only?.length ?? 0,
        note,
      },
      clock: this.o.dashboard.clock,
    });
    sendData(c.res, result);
  }

  private async enableFirehose(c: Ctx): Promise<void> {
    const body = c.url.searchParams.get('transport') ?? undefined;
    const tap = this.requireTap(this.actionView(body));
    if (!tap.enableFirehose) throw new HttpError(501, 'tap_unavailable', 'This tap cannot switch to the firehose');
    const status = tap.status();
    if (!status.firehose.canEnable) {
      throw new HttpError(403, 'forbidden', `osloscope cannot turn tracing on here; run: rabbitmqctl trace_on -p ${status.vhost}`);
    }
    const next = await tap.enableFirehose();
    this.o.onFirehoseEnabled?.(c.principal as Principal);
    sendData(c.res, next);
  }

  /** Broadcasts read back from a `<topic>_fanout` stream (GET /api/fanout-history?topic=T&since=30m&limit=500&filter=...). */
  private async fanoutHistory(c: Ctx): Promise<void> {
    const q = parseQuery(fanoutHistoryQuerySchema, c.url);
    const view = this.oneTransport(c, 'whose stream to read');
    const tap = this.requireTap(view);
    if (!tap.fanoutHistory) throw new HttpError(501, 'tap_unavailable', 'This tap cannot read fanout history');
    try {
      sendData(c.res, await tap.fanoutHistory(q));
    } catch (err) {
      // the tap's FanoutHistoryError carries the HTTP status and a reason meant for the user
      const e = err as { name?: string; status?: unknown; code?: unknown; message?: string };
      if (e?.name === 'FanoutHistoryError' && typeof e.status === 'number' && typeof e.code === 'string') throw new HttpError(e.status, e.code, e.message ?? 'fanout history failed');
      throw err;
    }
  }

  private metrics(c: Ctx): void {
    sendText(c.res, 200, 'text/plain; version=0.0.4; charset=utf-8', renderMetrics({ ...this.o.metrics, dashboard: this.view(c), fire: this.o.fire }));
  }

  private requireTap(d: Dashboard = this.o.dashboard) {
    const tap = d.tap;
    if (!tap) throw new HttpError(503, 'tap_unavailable', 'The tap is off (TAP_MODE=off): no traffic is observed');
    return tap;
  }
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const fields = fieldErrors(parsed.error);
    throw new HttpError(400, 'validation_failed', describeFieldErrors(fields), { fields });
  }
  return parsed.data;
}

/** Query-string parameters through a zod object; unknown parameters are refused by name. */
function parseQuery<S extends z.ZodObject>(schema: S, url: URL): z.infer<S> {
  const raw: Record<string, string> = {};
  // ?transport= is every read's (checked by view()), whether or not the endpoint's own schema names it
  for (const [k, v] of url.searchParams) if (k !== 'transport' || 'transport' in schema.shape) raw[k] = v;
  const parsed = schema.strict().safeParse(raw);
  if (!parsed.success) {
    const fields = fieldErrors(parsed.error);
    throw new HttpError(400, 'validation_failed', describeFieldErrors(fields), { fields });
  }
  return parsed.data as z.infer<S>;
}
