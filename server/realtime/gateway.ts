/**
 * The socket.io gateway: turns the tap's events into batched pushes.
 *
 * - Never one socket event per AMQP message: decoded messages are collected
 *   and flushed every `batchMs` (250 ms by default) as one `traffic:batch` per
 *   distinct filter; status every `statusMs`, calls every `callsMs`.
 * - Each push is computed and encoded once per tick and broadcast to a room,
 *   so the cost grows with ticks and filters, not with viewers.
 * - Subscribing answers with a snapshot in the ack, then deltas follow.
 * - Every event from the browser is validated with the zod schemas in lib/;
 *   the handshake is checked against the session and the origin.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { Logger } from '../messaging/index.ts';
import { callsSnapshot, ratesUpdate, selectDashboard, statusSnapshot, transportNames, UnknownTransportError, type Dashboard } from '../dashboard.ts';
import { ALL_TRANSPORTS, DEFAULT_TRANSPORT_NAME } from '../../lib/api-contracts.ts';
import {
  CLIENT_EVENTS,
  SERVER_EVENTS,
  TRAFFIC_BATCH_MAX,
  emptyPayloadSchema,
  fleetPayloadSchema,
  payloadTransport,
  ratesKey,
  ratesSubscribeSchema,
  ratesUnsubscribeSchema,
  type RatesSubscribe,
  trafficSubscribeSchema,
  type TrafficBatch,
} from '../../lib/socket-contracts.ts';
import type { DecodedMessage, RateDimension } from '../../lib/tap-contracts.ts';
import type { Principal } from '../auth/session.ts';

export interface GatewayOptions {
  dashboard: Dashboard;
  log: Logger;
  /** who is behind a handshake, or null (unauthenticated) */
  authenticate: (req: IncomingMessage) => Promise<Principal | null>;
  /** origin / host checks of the handshake; a string is the reason for refusing */
  checkRequest: (req: IncomingMessage) => string | null;
  batchMs?: number;
  statusMs?: number;
  callsMs?: number;
  /** how often every socket's session is checked again (a logout, an expired cookie or a removed user ends its sockets) */
  authMs?: number;
  /** pending messages kept between flushes; beyond it the oldest are skipped (counted) */
  maxPending?: number;
  /** socket.io's path: `${BASE_PATH}/socket.io` */
  path?: string;
  /** runs `fn` every `ms` until the returned stop is called (default setInterval, unref'd); tests drive it by hand */
  every?: Every;
}

/** A repeating timer: the gateway's one clock. */
export type Every = (ms: number, fn: () => void) => () => void;

const realEvery: Every = (ms, fn) => {
  const t = setInterval(fn, ms);
  t.unref();
  return () => clearInterval(t);
};

/** Chart subscriptions one browser tab may hold at once (one per chart on screen). */
export const MAX_RATES_PER_SOCKET = 8;

interface SocketData {
  principal: Principal;
  trafficRoom?: string;
  /** the traffic subscription's key: `<selection>|<filter>` */
  filter?: string;
  /** the status and calls rooms joined (one selection each) */
  statusRoom?: string;
  callsRoom?: string;
  /** the socket's chart subscriptions: key → how many of its charts use it */
  rates?: Map<string, number>;
}

type Ack = (reply: unknown) => void;

const STATUS_ROOM = 'status';
const CALLS_ROOM = 'calls';
const TRAFFIC_PREFIX = 'traffic:';
const RATES_PREFIX = 'rates:';
/** Windows above one minute change slowly: pushed every LONG_WINDOW_EVERY status ticks. */
const LONG_WINDOW_EVERY = 4;

interface RatesSubscription {
  /** a transport's name, or all */
  transport: string;
  focus: string;
  windowMs: number;
  dimension: RateDimension;
  sockets: number;
}

interface TrafficSubscription {
  filter: string;
  /** a transport's name, or all */
  transport: string;
  predicate: (m: DecodedMessage) => boolean;
  sockets: number;
}

export class RealtimeGateway {
  readonly io: Server;
  private readonly d: Dashboard;
  private readonly log: Logger;
  private readonly batchMs: number;
  private readonly statusMs: number;
  private readonly callsMs: number;
  private readonly maxPending: number;
  private readonly stops: (() => void)[] = [];
  private readonly filters = new Map<string, TrafficSubscription>();
  private readonly rates = new Map<string, RatesSubscription>();
  private ratesTick = 0;
  private pending: DecodedMessage[] = [];
  private skipped = 0;
  private offTap: (() => void) | null = null;
  /** pushes made, by kind (for tests and the performance script) */
  readonly stats = { statusPushes: 0, callsPushes: 0, ratesPushes: 0, trafficBatches: 0, trafficMessages: 0, rejectedEvents: 0 };

  constructor(http: HttpServer, private readonly o: GatewayOptions) {
    this.d = o.dashboard;
    this.log = o.log;
    this.batchMs = o.batchMs ?? 250;
    this.statusMs = o.statusMs ?? 500;
    this.callsMs = o.callsMs ?? 1000;
    this.maxPending = o.maxPending ?? 5000;
    this.io = new Server(http, {
      path: o.path ?? '/socket.io',
      serveClient: false,
      // same-origin only; the handshake check below enforces it for websockets too
      cors: undefined,
      allowRequest: (req, cb) => {
        const refused = o.checkRequest(req);
        cb(refused, refused === null);
      },
      maxHttpBufferSize: 64 * 1024,
      pingInterval: 10_000,
      pingTimeout: 8_000,
    });
    this.io.use(async (socket, next) => {
      try {
        const principal = await o.authenticate(socket.request);
        if (!principal) return next(new Error('unauthenticated'));
        (socket.data as SocketData).principal = principal;
        next();
      } catch {
        next(new Error('unauthenticated'));
      }
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
  }

  start(): void {
    if (this.d.tap) {
      this.offTap = this.d.tap.on((e) => {
        if (e.type === 'tap:message') this.onMessage(e.message);
      });
    }
    const every = this.o.every ?? realEvery;
    this.stops.push(every(this.batchMs, () => this.flushTraffic()));
    this.stops.push(
      every(this.statusMs, () => {
        this.pushStatus();
        this.pushRates();
      }),
    );
    this.stops.push(every(this.callsMs, () => this.pushCalls()));
    this.stops.push(every(this.o.authMs ?? 5_000, () => void this.revalidate()));
  }

  /**
   * Ask again who is behind every open socket. A session that was logged out
   * (revoked on the server), has expired or whose user is gone loses its
   * sockets at once; a changed role takes effect. The handshake alone would
   * let a socket opened before logout stream until it disconnects.
   */
  async revalidate(): Promise<void> {
    for (const socket of this.io.sockets.sockets.values()) {
      let principal: Principal | null = null;
      try {
        principal = await this.o.authenticate(socket.request);
      } catch {
        principal = null;
      }
      if (!socket.connected) continue;
      if (!principal) {
        this.log.info({ user: (socket.data as SocketData).principal?.name, id: socket.id }, 'session ended: viewer disconnected');
        socket.disconnect(true);
      } else {
        (socket.data as SocketData).principal = principal;
      }
    }
  }

  get viewers(): number {
    return this.io.engine?.clientsCount ?? 0;
  }

  /** Stop pushing and drop every socket (the composition root closes the HTTP server). */
  close(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.offTap?.();
    this.offTap = null;
    // Close the transports without a socket.io "server disconnect": browsers
    // see a lost connection and reconnect by themselves when we are back.
    this.io.engine?.close();
  }

  // ---- per socket ------------------------------------------------------------

  private onConnection(socket: Socket): void {
    const data = socket.data as SocketData;
    this.log.debug({ user: data.principal.name, id: socket.id }, 'viewer connected');

    // status and calls: one room per selection (`status` = the whole fleet, `status:<name>` one transport)
    this.handle(socket, CLIENT_EVENTS.statusSubscribe, fleetPayloadSchema, async (req) => {
      const { name, view } = this.selection(req?.transport);
      const room = roomOf(STATUS_ROOM, name);
      if (data.statusRoom && data.statusRoom !== room) await socket.leave(data.statusRoom);
      data.statusRoom = room;
      await socket.join(room);
      return statusSnapshot(view);
    });
    this.handle(socket, CLIENT_EVENTS.statusUnsubscribe, emptyPayloadSchema, async () => {
      if (data.statusRoom) await socket.leave(data.statusRoom);
      data.statusRoom = undefined;
      return null;
    });
    this.handle(socket, CLIENT_EVENTS.callsSubscribe, fleetPayloadSchema, async (req) => {
      const { name, view } = this.selection(req?.transport);
      const room = roomOf(CALLS_ROOM, name);
      if (data.callsRoom && data.callsRoom !== room) await socket.leave(data.callsRoom);
      data.callsRoom = room;
      await socket.join(room);
      return callsSnapshot(view);
    });
    this.handle(socket, CLIENT_EVENTS.callsUnsubscribe, emptyPayloadSchema, async () => {
      if (data.callsRoom) await socket.leave(data.callsRoom);
      data.callsRoom = undefined;
      return null;
    });
    this.handle(socket, CLIENT_EVENTS.trafficSubscribe, trafficSubscribeSchema, async (req) => {
      const filter = req.filter.trim();
      const { name, view } = this.selection(req.transport);
      const parsed = this.d.parseFilter(filter);
      if (!parsed.ok) throw new ClientError('validation_failed', `Bad filter: ${parsed.error}`);
      await this.leaveTraffic(socket);
      const key = `${name}|${filter}`;
      const room = TRAFFIC_PREFIX + key;
      let sub = this.filters.get(key);
      if (!sub) {
        sub = { filter, transport: name, predicate: parsed.predicate, sockets: 0 };
        this.filters.set(key, sub);
      }
      sub.sockets++;
      data.trafficRoom = room;
      data.filter = key;
      await socket.join(room);
      const messages = view.tap && req.limit > 0 ? view.tap.recent({ filter: parsed.predicate, limit: req.limit }) : [];
      return { filter, transport: name, messages };
    });
    // Rates subscriptions are keyed by (window, dimension, focus): two charts with other windows
    // on one page each get their feed; two charts with the same one share it.
    this.handle(socket, CLIENT_EVENTS.ratesSubscribe, ratesSubscribeSchema, async (req) => {
      const { name, view } = this.selection(req.transport);
      const key = ratesKey({ ...req, transport: name });
      const mine = (data.rates ??= new Map());
      const uses = mine.get(key) ?? 0;
      if (uses === 0) {
        if (mine.size >= MAX_RATES_PER_SOCKET) throw new ClientError('validation_failed', `At most ${MAX_RATES_PER_SOCKET} charts per connection`);
        let sub = this.rates.get(key);
        if (!sub) {
          sub = { transport: name, focus: req.focus, windowMs: req.windowMs, dimension: req.dimension, sockets: 0 };
          this.rates.set(key, sub);
        }
        sub.sockets++;
        await socket.join(RATES_PREFIX + key);
      }
      mine.set(key, uses + 1);
      return ratesUpdate(view, req.focus, req.windowMs, req.dimension);
    });
    this.handle(socket, CLIENT_EVENTS.ratesUnsubscribe, ratesUnsubscribeSchema, async (req) => {
      // `{}` (every chart) or one chart's subscribe payload
      if (req && Object.keys(req).length > 0) {
        const r = req as RatesSubscribe;
        await this.leaveRates(socket, ratesKey({ ...r, transport: payloadTransport(r) ?? ALL_TRANSPORTS }));
      }
      else await this.leaveAllRates(socket);
      return null;
    });
    this.handle(socket, CLIENT_EVENTS.trafficUnsubscribe, emptyPayloadSchema, async () => {
      await this.leaveTraffic(socket);
      return null;
    });
    socket.on('disconnect', () => {
      void this.leaveTraffic(socket);
      void this.leaveAllRates(socket);
    });
  }

  /** A subscribe payload's transport: its name (or all) and dashboard; an unknown name refuses the subscribe. */
  private selection(transport: string | undefined): { name: string; view: Dashboard } {
    try {
      const view = selectDashboard(this.d, transport);
      return { name: payloadTransport({ transport }) ?? ALL_TRANSPORTS, view };
    } catch (err) {
      if (err instanceof UnknownTransportError) throw new ClientError('not_found', err.message);
      throw err;
    }
  }

  /** One chart of this socket stops using `key`; the last one leaves its room. */
  private async leaveRates(socket: Socket, key: string): Promise<void> {
    const mine = (socket.data as SocketData).rates;
    const uses = mine?.get(key);
    if (!mine || uses === undefined) return;
    if (uses > 1) {
      mine.set(key, uses - 1);
      return;
    }
    mine.delete(key);
    const sub = this.rates.get(key);
    if (sub && --sub.sockets <= 0) this.rates.delete(key);
    await socket.leave(RATES_PREFIX + key);
  }

  private async leaveAllRates(socket: Socket): Promise<void> {
    const mine = (socket.data as SocketData).rates;
    if (!mine) return;
    for (const key of [...mine.keys()]) {
      mine.set(key, 1);
      await this.leaveRates(socket, key);
    }
  }

  private async leaveTraffic(socket: Socket): Promise<void> {
    const data = socket.data as SocketData;
    if (data.filter === undefined || !data.trafficRoom) return;
    const sub = this.filters.get(data.filter);
    if (sub && --sub.sockets <= 0) this.filters.delete(data.filter);
    await socket.leave(data.trafficRoom);
    data.filter = undefined;
    data.trafficRoom = undefined;
    if (this.filters.size === 0) {
      this.pending = [];
      this.skipped = 0;
    }
  }

  /** Register a validated, acknowledged event handler; failures become `{ok:false,error}` acks. */
  private handle<S extends z.ZodType>(socket: Socket, event: string, schema: S, fn: (payload: z.infer<S>) => Promise<unknown>): void {
    socket.on(event, async (payload: unknown, ack?: Ack) => {
      // socket.io passes the ack as the last argument; a client may omit the payload
      if (typeof payload === 'function' && ack === undefined) {
        ack = payload as Ack;
        payload = undefined;
      }
      const reply = typeof ack === 'function' ? ack : () => undefined;
      const parsed = schema.safeParse(payload);
      if (!parsed.success) {
        this.stats.rejectedEvents++;
        reply({ ok: false, error: { code: 'validation_failed', message: `${event}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}` } });
        return;
      }
      try {
        reply({ ok: true, data: await fn(parsed.data) });
      } catch (err) {
        if (err instanceof ClientError) reply({ ok: false, error: { code: err.code, message: err.message } });
        else {
          this.log.error({ err: (err as Error).message, event }, 'socket handler failed');
          reply({ ok: false, error: { code: 'internal', message: 'Internal error (see the server log)' } });
        }
      }
    });
  }

  // ---- pushes ------------------------------------------------------------------

  private onMessage(m: DecodedMessage): void {
    if (this.filters.size === 0) return;
    this.pending.push(m);
    if (this.pending.length > this.maxPending) {
      const drop = this.pending.length - this.maxPending;
      this.pending.splice(0, drop);
      this.skipped += drop;
    }
  }

  /** One `traffic:batch` per distinct filter with matching messages, encoded once per room. */
  flushTraffic(): void {
    if (this.pending.length === 0 && this.skipped === 0) return;
    const batch = this.pending;
    const skippedBefore = this.skipped;
    this.pending = [];
    this.skipped = 0;
    const at = this.d.clock();
    for (const [key, sub] of this.filters) {
      const only = sub.transport === ALL_TRANSPORTS ? null : sub.transport;
      let matched = batch.filter((m) => (only === null || (m.transport ?? DEFAULT_TRANSPORT_NAME) === only) && safeMatch(sub.predicate, m));
      let skipped = skippedBefore;
      if (matched.length > TRAFFIC_BATCH_MAX) {
        skipped += matched.length - TRAFFIC_BATCH_MAX;
        matched = matched.slice(-TRAFFIC_BATCH_MAX);
      }
      if (matched.length === 0 && skipped === 0) continue;
      const payload: TrafficBatch = { filter: sub.filter, transport: sub.transport, messages: matched, skipped, at };
      this.io.to(TRAFFIC_PREFIX + key).emit(SERVER_EVENTS.trafficBatch, payload);
      this.stats.trafficBatches++;
      this.stats.trafficMessages += matched.length;
    }
  }

  /** The selections a push goes to: the whole fleet, then each transport. */
  private selections(): string[] {
    return [ALL_TRANSPORTS, ...transportNames(this.d)];
  }

  pushStatus(): void {
    for (const name of this.selections()) {
      const room = roomOf(STATUS_ROOM, name);
      if (!this.hasMembers(room)) continue;
      try {
        this.io.to(room).emit(SERVER_EVENTS.statusUpdate, statusSnapshot(selectDashboard(this.d, name)));
        this.stats.statusPushes++;
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'status push failed');
      }
    }
  }

  /** One computed update per distinct (window, focus), broadcast to its room. */
  pushRates(): void {
    if (this.rates.size === 0 || !this.d.tap) return;
    this.ratesTick++;
    const now = this.d.clock();
    for (const [key, sub] of this.rates) {
      if (sub.windowMs > 60_000 && this.ratesTick % LONG_WINDOW_EVERY !== 0) continue;
      try {
        const update = ratesUpdate(selectDashboard(this.d, sub.transport), sub.focus, sub.windowMs, sub.dimension, now);
        if (!update) continue;
        this.io.to(RATES_PREFIX + key).emit(SERVER_EVENTS.ratesUpdate, update);
        this.stats.ratesPushes++;
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'rates push failed');
      }
    }
  }

  pushCalls(): void {
    for (const name of this.selections()) {
      const room = roomOf(CALLS_ROOM, name);
      if (!this.hasMembers(room)) continue;
      try {
        this.io.to(room).emit(SERVER_EVENTS.callsUpdate, callsSnapshot(selectDashboard(this.d, name)));
        this.stats.callsPushes++;
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'calls push failed');
      }
    }
  }

  private hasMembers(room: string): boolean {
    return (this.io.sockets.adapter.rooms.get(room)?.size ?? 0) > 0;
  }
}

class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** `status` for the whole fleet, `status:<name>` for one transport. */
function roomOf(base: string, selection: string): string {
  return selection === ALL_TRANSPORTS ? base : `${base}:${selection}`;
}

function safeMatch(pred: (m: DecodedMessage) => boolean, m: DecodedMessage): boolean {
  try {
    return pred(m);
  } catch {
    return false;
  }
}
