/**
 * React Query keys, made in one place so pages, socket pushes and
 * invalidations agree on them.
 */
export const queryKeys = {
  all: ['osloscope'] as const,
  session: () => [...queryKeys.all, 'session'] as const,
  status: () => [...queryKeys.all, 'status'] as const,
  calls: () => [...queryKeys.all, 'calls'] as const,
  rates: (dimension: string, focus: string, windowMs: number) => [...queryKeys.all, 'rates', dimension, focus, windowMs] as const,
  call: (msgId: string) => [...queryKeys.all, 'call', msgId] as const,
  messages: (filter: string) => [...queryKeys.all, 'messages', filter] as const,
  broker: () => [...queryKeys.all, 'broker'] as const,
  targets: () => [...queryKeys.all, 'targets'] as const,
  brokerHealth: () => [...queryKeys.all, 'broker', 'health'] as const,
  fireHistory: () => [...queryKeys.all, 'fire-history'] as const,
  fanoutHistory: (topic: string, since: string, limit: number, filter: string, run: number) =>
    [...queryKeys.all, 'fanout-history', topic, since, limit, filter, run] as const,
};
