'use client';
import { useQuery } from '@tanstack/react-query';
import type { BrokerHealthReport } from '@/lib/broker-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';
import { useTransportChoice, withTransport } from './use-transport';

/**
 * Layout, broker health and firehose coverage of one broker: polled (the server reads the broker at
 * most every 15 s). `transport` names it when the page shows one of several under All; otherwise the
 * chosen transport (the server asks for a name when there are several).
 */
export function useBrokerHealth(intervalMs = 15_000, transport?: string | null) {
  const { choice: chosen } = useTransportChoice();
  const choice = transport ?? chosen;
  return useQuery({
    queryKey: [...queryKeys.brokerHealth(), choice ?? 'all'],
    queryFn: () => apiGet<BrokerHealthReport>(withTransport('/api/broker/health', choice)),
    refetchInterval: intervalMs,
    staleTime: intervalMs,
  });
}
