/**
 * socket.io events between the browser and the realtime gateway, named
 * `domain:verb`. Every event from the browser is validated with these
 * schemas; every subscribe is acknowledged with a snapshot
 * (`{ok:true,data}`) or an error (`{ok:false,error}`), and deltas follow as
 * batched pushes.
 */
import { z } from 'zod';
import { callsSnapshotSchema, statusSnapshotSchema } from './api-contracts.ts';
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

export const TRAFFIC_SNAPSHOT_MAX = 1000;

export const trafficSubscribeSchema = z
  .object({
    /** live-stream filter grammar: `kind:call topic:compute method:get_* "free text"` */
    filter: z.string().max(1000, { message: 'the filter is longer than 1000 characters' }).default(''),
    /** how many recent messages the snapshot carries */
    limit: z.number().int().min(0).max(TRAFFIC_SNAPSHOT_MAX).default(200),
  })
  .strict();
export type TrafficSubscribe = z.infer<typeof trafficSubscribeSchema>;

export const trafficSnapshotSchema = z.object({
  filter: z.string(),
  messages: z.array(decodedMessageSchema),
});
export type TrafficSnapshot = z.infer<typeof trafficSnapshotSchema>;

export const trafficBatchSchema = z.object({
  /** the subscription's filter, so a late batch for an old filter can be ignored */
  filter: z.string(),
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
  })
  .strict();
export type RatesSubscribe = z.infer<typeof ratesSubscribeSchema>;

export const ratesUpdateSchema = z.object({
  focus: z.string(),
  windowMs: z.number(),
  dimension: rateDimensionSchema,
  rates: rateSnapshotSchema,
});
export type RatesUpdate = z.infer<typeof ratesUpdateSchema>;
