'use client';
import { useCallback, useMemo, useRef, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiError } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { CLIENT_EVENTS, SERVER_EVENTS, type TrafficBatch } from '@/lib/socket-contracts';
import type { DecodedMessage } from '@/lib/tap-contracts';
import { useSocketFeed } from '../realtime-provider';
import { useTransportChoice } from './use-transport';

export const LIVE_KEEP = 500;

/**
 * The live stream for one filter, newest first, capped at LIVE_KEEP. While
 * paused, pushed messages wait aside (counted) and the list stays still;
 * resuming merges them in.
 */
export function useLiveMessages(filter: string, paused: boolean) {
  const queryClient = useQueryClient();
  const { choice } = useTransportChoice();
  const key = useMemo(() => [...queryKeys.messages(filter), choice ?? 'all'] as const, [filter, choice]);
  const held = useRef<DecodedMessage[]>([]);
  const [heldCount, setHeldCount] = useState(0);
  const [error, setError] = useState<ApiError | null>(null);
  const [skipped, setSkipped] = useState(0);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  const prepend = useCallback(
    (newestFirst: DecodedMessage[]) => {
      queryClient.setQueryData<DecodedMessage[]>(key, (old = []) => [...newestFirst, ...old].slice(0, LIVE_KEEP));
    },
    [queryClient, key],
  );

  useSocketFeed({
    subscribe: CLIENT_EVENTS.trafficSubscribe,
    payload: choice ? { filter, limit: 200, transport: choice } : { filter, limit: 200 },
    events: {
      [SERVER_EVENTS.trafficBatch]: (batch: TrafficBatch) => {
        if (batch.filter !== filter) return;
        if (batch.transport !== undefined && batch.transport !== (choice ?? 'all')) return;
        if (batch.skipped > 0) setSkipped((n) => n + batch.skipped);
        const newestFirst = [...batch.messages].reverse();
        if (pausedRef.current) {
          held.current = [...newestFirst, ...held.current].slice(0, LIVE_KEEP);
          setHeldCount((n) => n + batch.messages.length);
        } else prepend(newestFirst);
      },
    },
    onSnapshot: (snap) => {
      setError(null);
      setSkipped(0);
      held.current = [];
      setHeldCount(0);
      queryClient.setQueryData<DecodedMessage[]>(key, [...snap.messages].reverse().slice(0, LIVE_KEEP));
    },
    onError: setError,
  });

  const resume = useCallback(() => {
    if (held.current.length > 0) prepend(held.current);
    held.current = [];
    setHeldCount(0);
  }, [prepend]);

  const query = useQuery<DecodedMessage[]>({
    queryKey: key,
    queryFn: () => queryClient.getQueryData<DecodedMessage[]>(key) ?? [],
    staleTime: Number.POSITIVE_INFINITY,
    initialData: [],
  });

  return { messages: query.data ?? [], updatedAt: query.dataUpdatedAt, heldCount, resume, error, skipped };
}
