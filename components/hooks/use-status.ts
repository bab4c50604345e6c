'use client';
import { useQuery } from '@tanstack/react-query';
import type { StatusSnapshot } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';
import { useTransportChoice, withTransport } from './use-transport';

/** The status query's key for a transport (null: the whole fleet). */
export function statusKey(choice: string | null) {
  return [...queryKeys.status(), choice ?? 'all'] as const;
}

/**
 * The status snapshot (transport, tap, rates, pool, reply waiters) of the chosen transport. Fetched
 * once over HTTP, then kept current by `status:update` pushes, which the realtime provider writes
 * into this query.
 */
export function useStatus() {
  const { choice } = useTransportChoice();
  return useQuery({
    queryKey: statusKey(choice),
    queryFn: () => apiGet<StatusSnapshot>(withTransport('/api/status', choice)),
    staleTime: Number.POSITIVE_INFINITY,
  });
}
