'use client';
import { useQuery } from '@tanstack/react-query';
import type { BrokerHealthReport } from '@/lib/broker-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';

/** Layout, broker health and firehose coverage: polled (the server reads the broker at most every 15 s). */
export function useBrokerHealth(intervalMs = 15_000) {
  return useQuery({
    queryKey: queryKeys.brokerHealth(),
    queryFn: () => apiGet<BrokerHealthReport>('/api/broker/health'),
    refetchInterval: intervalMs,
    staleTime: intervalMs,
  });
}
