/**
 * socket.io events between the browser and the realtime gateway, named
 * `domain:verb`. Every event from the browser is validated with these
 * schemas; every subscribe is acknowledged with a snapshot
 * (`{ok:true,data}`) or an error (`{ok:false,error}`), and deltas follow as
 * batched pushes.
 *
 * SOCKET_FEEDS ties each subscribe event to its payload, snapshot and push
 * schemas, so the browser's useSocketFeed and the gateway share one typing.
 */
import { z } from 'zod';
import { apiErrorSchema, callsSnapshotSchema, statusSnapshotSchema, transportSelectorSchema } from './api-contracts.ts';
import { decodedMessageSchema, rateDimensionSchema, rateSnapshotSchema } from './tap-contracts.ts';

/** Browser → server. */
export const CLIENT_EVENTS = {
  statusSubscribe: 'status:subscribe',
  statusUnsubscribe: 'status:unsubscribe',
  trafficSubscribe: 'traffic:subscribe',
  trafficUnsubscribe: 'traffic:unsubscribe',
  callsSubscribe: 'calls:subscribe',
  callsUnsubscribe: 'calls:unsubscribe',
  ratesSubscribe: 'rates:subscribe',
  ratesUnsubscribe: 'rates:unsubscribe',
} as const;

/** Server → browser. */
export const SERVER_EVENTS = {
  statusUpdate: 'status:update',
  trafficBatch: 'traffic:batch',
  callsUpdate: 'calls:update',
  ratesUpdate: 'rates:update',
} as const;

export const emptyPayloadSchema = z.union([z.object({}).strict(), z.undefined(), z.null()]);

/**
 * status:subscribe and calls:subscribe: `{transport?}` — a transport's name, or `all` / absent for the
 * whole fleet (an unknown name is refused in the ack: `unknown transport 'x' (known: a, b)`).
 */
export const fleetPayloadSchema = z.union([z.object({ transport: transportSelectorSchema }).strict(), z.undefined(), z.null()]);
export type FleetPayload = z.infer<typeof fleetPayloadSchema>;

/** The transport a subscribe payload selects: its name, or null for the whole fleet. */
export function payloadTransport(p: { transport?: string } | null | undefined): string | null {
  const v = (p?.transport ?? '').trim();
  return v === '' || v === 'all' ? null : v;
}

export const TRAFFIC_SNAPSHOT_MAX = 1000;

export const trafficSubscribeSchema = z
  .object({
    /** live-stream filter grammar: `kind:call topic:compute method:get_* "free text"` */
    filter: z.string().max(1000, { message: 'the filter is longer than 1000 characters' }).default(''),
    /** how many recent messages the snapshot carries */
    limit: z.number().int().min(0).max(TRAFFIC_SNAPSHOT_MAX).default(200),
    /** a transport's name, or `all` / absent for the whole fleet */
    transport: transportSelectorSchema,
  })
  .strict();
export type TrafficSubscribe = z.infer<typeof trafficSubscribeSchema>;

export const trafficSnapshotSchema = z.object({
  filter: z.string(),
  /** the subscription's transport selection (a name, or `all`) */
  transport: z.string().optional(),
  messages: z.array(decodedMessageSchema),
});
export type TrafficSnapshot = z.infer<typeof trafficSnapshotSchema>;

export const trafficBatchSchema = z.object({
  /** the subscription's filter, so a late batch for an old filter can be ignored */
  filter: z.string(),
  /** the subscription's transport selection (a name, or `all`), for the same reason */
  transport: z.string().optional(),
  /** oldest first */
  messages: z.array(decodedMessageSchema),
  /** matching messages left out of this batch to keep it bounded */
  skipped: z.number(),
  at: z.number(),
});
export type TrafficBatch = z.infer<typeof trafficBatchSchema>;

export const statusUpdateSchema = statusSnapshotSchema;
export const callsUpdateSchema = callsSnapshotSchema;

/** Upper bound of messages in one traffic batch; beyond it the batch reports `skipped`. */
export const TRAFFIC_BATCH_MAX = 250;

/** Chart windows the rates feed offers. */
export const RATE_WINDOWS_MS = [60_000, 300_000, 900_000, 3_600_000] as const;

export const ratesSubscribeSchema = z
  .object({
    /** only series whose key contains this text (case-insensitive) */
    focus: z.string().max(200, { message: 'the focus is longer than 200 characters' }).default(''),
    windowMs: z
      .number()
      .refine((v) => (RATE_WINDOWS_MS as readonly number[]).includes(v), { message: `windowMs is one of ${RATE_WINDOWS_MS.join(', ')}` })
      .default(60_000),
    /** the only dimension whose series are sent (the chart draws one) */
    dimension: rateDimensionSchema.default('topic'),
    /** a transport's name, or `all` / absent for the whole fleet (rates summed over it) */
    transport: transportSelectorSchema,
  })
  .strict();
export type RatesSubscribe = z.infer<typeof ratesSubscribeSchema>;

export const ratesUpdateSchema = z.object({
  /** the subscription's transport selection (a name, or `all`) */
  transport: z.string().optional(),
  focus: z.string(),
  windowMs: z.number(),
  dimension: rateDimensionSchema,
  rates: rateSnapshotSchema,
});
export type RatesUpdate = z.infer<typeof ratesUpdateSchema>;

/** A chart's subscription key: charts with the same window, dimension and focus share one feed. */
export function ratesKey(r: RatesSubscribe): string {
  return `${r.transport ?? 'all'}|${r.windowMs}|${r.dimension}|${r.focus}`;
}

/** `{}` leaves every chart feed of the socket; a subscribe payload leaves that one chart's. */
export const ratesUnsubscribeSchema = z.union([emptyPayloadSchema, ratesSubscribeSchema]);
export type RatesUnsubscribe = z.infer<typeof ratesUnsubscribeSchema>;

/** Every subscribe is acknowledged with this. */
export const socketAckSchema = <T extends z.ZodType>(data: T) =>
  z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), data }), z.object({ ok: z.literal(false), error: apiErrorSchema })]);
export type SocketAck<T> = { ok: true; data: T } | { ok: false; error: z.infer<typeof apiErrorSchema> };

/**
 * Every feed, by its subscribe event: the unsubscribe event, what the browser sends (`payload`), the
 * snapshot the ack carries, and the pushes that follow (`events`). `keyed` feeds take the subscribe
 * payload again on unsubscribe, so one socket may hold several of them (charts).
 */
export const SOCKET_FEEDS = {
  [CLIENT_EVENTS.statusSubscribe]: {
    unsubscribe: CLIENT_EVENTS.statusUnsubscribe,
    payload: fleetPayloadSchema,
    snapshot: statusSnapshotSchema,
    events: { [SERVER_EVENTS.statusUpdate]: statusUpdateSchema },
    keyed: false,
  },
  [CLIENT_EVENTS.trafficSubscribe]: {
    unsubscribe: CLIENT_EVENTS.trafficUnsubscribe,
    payload: trafficSubscribeSchema,
    snapshot: trafficSnapshotSchema,
    events: { [SERVER_EVENTS.trafficBatch]: trafficBatchSchema },
    keyed: false,
  },
  [CLIENT_EVENTS.callsSubscribe]: {
    unsubscribe: CLIENT_EVENTS.callsUnsubscribe,
    payload: fleetPayloadSchema,
    snapshot: callsSnapshotSchema,
    events: { [SERVER_EVENTS.callsUpdate]: callsUpdateSchema },
    keyed: false,
  },
  [CLIENT_EVENTS.ratesSubscribe]: {
    unsubscribe: CLIENT_EVENTS.ratesUnsubscribe,
    payload: ratesSubscribeSchema,
    snapshot: ratesUpdateSchema.nullable(),
    events: { [SERVER_EVENTS.ratesUpdate]: ratesUpdateSchema },
    keyed: true,
  },
} as const;

type Feeds = typeof SOCKET_FEEDS;
/** A feed, named by its subscribe event. */
export type FeedName = keyof Feeds;
/** What the browser sends to subscribe (defaults may be left out). */
export type FeedPayload<F extends FeedName> = z.input<Feeds[F]['payload']>;
/** The snapshot a subscribe's ack carries. */
export type FeedSnapshot<F extends FeedName> = z.output<Feeds[F]['snapshot']>;
/** The feed's pushes, event name → payload. */
export type FeedEvents<F extends FeedName> = { [E in keyof Feeds[F]['events']]: Feeds[F]['events'][E] extends z.ZodType ? z.output<Feeds[F]['events'][E]> : never };
