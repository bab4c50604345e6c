'use client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { CallsSnapshot } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { CLIENT_EVENTS, SERVER_EVENTS } from '@/lib/socket-contracts';
import { apiGet } from '../api-client';
import { useSocketFeed } from '../realtime-provider';

/** In-flight, stuck and recently finished calls plus latency histograms, pushed every tick. */
export function useCalls() {
  const queryClient = useQueryClient();
  const set = (snap: CallsSnapshot) => queryClient.setQueryData(queryKeys.calls(), snap);
  useSocketFeed({
    subscribe: CLIENT_EVENTS.callsSubscribe,
    payload: {},
    events: { [SERVER_EVENTS.callsUpdate]: set },
    onSnapshot: set,
  });
  return useQuery({
    queryKey: queryKeys.calls(),
    queryFn: () => apiGet<CallsSnapshot>('/api/calls/snapshot'),
    staleTime: Number.POSITIVE_INFINITY,
  });
}
