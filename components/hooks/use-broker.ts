'use client';
import { useQuery } from '@tanstack/react-query';
import type { BrokerSnapshot } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';
import { useTransportChoice, withTransport } from './use-transport';

/** The broker view: polled (the management API is too heavy to push per tick). */
export function useBroker(intervalMs = 5000) {
  const { choice } = useTransportChoice();
  return useQuery({
    queryKey: [...queryKeys.broker(), choice ?? 'all'],
    queryFn: () => apiGet<BrokerSnapshot>(withTransport('/api/broker', choice)),
    refetchInterval: intervalMs,
    staleTime: intervalMs,
  });
}
