'use client';
import { useQuery } from '@tanstack/react-query';
import type { BrokerHealthReport } from '@/lib/broker-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';
import { useTransportChoice, withTransport } from './use-transport';

/** Layout, broker health and firehose coverage: polled (the server reads the broker at most every 15 s). */
export function useBrokerHealth(intervalMs = 15_000) {
  const { choice } = useTransportChoice();
  return useQuery({
    queryKey: [...queryKeys.brokerHealth(), choice ?? 'all'],
    queryFn: () => apiGet<BrokerHealthReport>(withTransport('/api/broker/health', choice)),
    refetchInterval: intervalMs,
    staleTime: intervalMs,
  });
}
