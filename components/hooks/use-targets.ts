'use client';
import { useQuery } from '@tanstack/react-query';
import type { KnownTargets } from '@/lib/tap-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';

const NONE: KnownTargets = { exchanges: [], topics: [], servers: [], methods: [] };

/**
 * What the traffic named lately (exchanges, topics, servers, methods), for the Console's suggestions.
 * Refreshed every 15 s; without a tap (or on an error) there is simply nothing to suggest.
 */
export function useKnownTargets(): KnownTargets {
  const q = useQuery({
    queryKey: queryKeys.targets(),
    queryFn: () => apiGet<KnownTargets>('/api/targets'),
    refetchInterval: 15_000,
    retry: false,
  });
  return q.data ?? NONE;
}
