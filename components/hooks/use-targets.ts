'use client';
import { useQuery } from '@tanstack/react-query';
import type { KnownTargets } from '@/lib/tap-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';
import { useTransportChoice, withTransport } from './use-transport';

const NONE: KnownTargets = { exchanges: [], topics: [], notificationTopics: [], servers: [], methods: [] };

/**
 * What the traffic named lately (exchanges, topics, servers, methods), for the Console's suggestions.
 * Of one transport (null: the whole fleet). Refreshed every 15 s; without a tap (or on an error) there is simply nothing to suggest.
 */
export function useKnownTargets(transport?: string | null): KnownTargets {
  const chosen = useTransportChoice().choice;
  // the Console's own transport field, else the page's choice
  const choice = transport === undefined ? chosen : transport;
  const q = useQuery({
    queryKey: [...queryKeys.targets(), choice ?? 'all'],
    queryFn: () => apiGet<KnownTargets>(withTransport('/api/targets', choice)),
    refetchInterval: 15_000,
    retry: false,
  });
  return q.data ?? NONE;
}
