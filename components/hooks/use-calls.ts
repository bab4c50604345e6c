'use client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { CallsSnapshot } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { CLIENT_EVENTS, SERVER_EVENTS } from '@/lib/socket-contracts';
import { apiGet } from '../api-client';
import { useSocketFeed } from '../realtime-provider';
import { useTransportChoice, withTransport } from './use-transport';

/** In-flight, stuck and recently finished calls of the chosen transport plus latency histograms, pushed every tick. */
export function useCalls() {
  const queryClient = useQueryClient();
  const { choice } = useTransportChoice();
  const key = [...queryKeys.calls(), choice ?? 'all'] as const;
  const set = (snap: CallsSnapshot) => {
    // a push for the selection before the last change is dropped
    if (snap.selection !== undefined && snap.selection !== (choice ?? 'all')) return;
    queryClient.setQueryData(key, snap);
  };
  useSocketFeed({
    subscribe: CLIENT_EVENTS.callsSubscribe,
    payload: choice ? { transport: choice } : {},
    events: { [SERVER_EVENTS.callsUpdate]: set },
    onSnapshot: set,
  });
  return useQuery({
    queryKey: key,
    queryFn: () => apiGet<CallsSnapshot>(withTransport('/api/calls/snapshot', choice)),
    staleTime: Number.POSITIVE_INFINITY,
  });
}
