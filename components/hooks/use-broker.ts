'use client';
import { useQuery } from '@tanstack/react-query';
import type { BrokerSnapshot } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';

/** The broker view: polled (the management API is too heavy to push per tick). */
export function useBroker(intervalMs = 5000) {
  return useQuery({
    queryKey: queryKeys.broker(),
    queryFn: () => apiGet<BrokerSnapshot>('/api/broker'),
    refetchInterval: intervalMs,
    staleTime: intervalMs,
  });
}
