'use client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { queryKeys } from '@/lib/query-keys';
import { CLIENT_EVENTS, SERVER_EVENTS, type RatesUpdate } from '@/lib/socket-contracts';
import type { RateDimension, RateSnapshot } from '@/lib/tap-contracts';
import { apiGet } from '../api-client';
import { useSocketFeed } from '../realtime-provider';
import { useTransportChoice, withTransport } from './use-transport';

/**
 * Rates for a chart window, optionally narrowed to series containing `focus`
 * (done on the server, so a quiet topic shows among thousands). Pushed every
 * tick for one minute, every few ticks for longer windows.
 */
export function useRates(dimension: RateDimension, focus: string, windowMs: number) {
  const queryClient = useQueryClient();
  const { choice } = useTransportChoice();
  const key = [...queryKeys.rates(dimension, focus, windowMs), choice ?? 'all'] as const;
  const set = (u: RatesUpdate | null) => {
    if (u && u.focus === focus && u.windowMs === windowMs && u.dimension === dimension && (u.transport === undefined || u.transport === (choice ?? 'all'))) queryClient.setQueryData(key, u.rates);
  };
  useSocketFeed({
    subscribe: CLIENT_EVENTS.ratesSubscribe,
    payload: choice ? { focus, windowMs, dimension, transport: choice } : { focus, windowMs, dimension },
    events: { [SERVER_EVENTS.ratesUpdate]: set },
    onSnapshot: set,
  });
  return useQuery({
    queryKey: key,
    queryFn: () => apiGet<RateSnapshot>(withTransport(`/api/rates?windowMs=${windowMs}&dimension=${dimension}${focus ? `&focus=${encodeURIComponent(focus)}` : ''}`, choice)),
    staleTime: Number.POSITIVE_INFINITY,
  });
}
