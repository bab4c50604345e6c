'use client';
import { useQuery } from '@tanstack/react-query';
import type { StatusSnapshot } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';

/**
 * The status snapshot (transport, tap, rates, pool, reply waiters). Fetched
 * once over HTTP, then kept current by `status:update` pushes, which the
 * realtime provider writes into this query.
 */
export function useStatus() {
  return useQuery({
    queryKey: queryKeys.status(),
    queryFn: () => apiGet<StatusSnapshot>('/api/status'),
    staleTime: Number.POSITIVE_INFINITY,
  });
}
