'use client';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
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
 * resuming merges them in. Pushes that arrive within one animation frame
 * (a backlog of socket events after a busy moment) are applied together:
 * the table is rebuilt at most once per frame, and not at all while the
 * tab is hidden (the newest LIVE_KEEP wait for the next frame).
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
  // pushed, newest first, waiting for the next animation frame
  const pending = useRef<DecodedMessage[]>([]);
  const frame = useRef<number | null>(null);

  const prepend = useCallback(
    (newestFirst: DecodedMessage[]) => {
      queryClient.setQueryData<DecodedMessage[]>(key, (old = []) => [...newestFirst, ...old].slice(0, LIVE_KEEP));
    },
    [queryClient, key],
  );
  const prependRef = useRef(prepend);
  prependRef.current = prepend;
  const dropPending = useCallback(() => {
    if (frame.current !== null) cancelAnimationFrame(frame.current);
    frame.current = null;
    pending.current = [];
  }, []);
  useEffect(() => dropPending, [dropPending, key]);
  const later = useCallback((newestFirst: DecodedMessage[]) => {
    pending.current = pending.current.length === 0 ? newestFirst : [...newestFirst, ...pending.current].slice(0, LIVE_KEEP);
    frame.current ??= requestAnimationFrame(() => {
      frame.current = null;
      const ready = pending.current;
      pending.current = [];
      if (ready.length === 0) return;
      // paused since they arrived: the list stays as it was when Pause was pressed
      if (pausedRef.current) {
        held.current = [...ready, ...held.current].slice(0, LIVE_KEEP);
        setHeldCount((n) => n + ready.length);
      } else prependRef.current(ready);
    });
  }, []);

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
        } else later(newestFirst);
      },
    },
    onSnapshot: (snap) => {
      setError(null);
      setSkipped(0);
      held.current = [];
      setHeldCount(0);
      dropPending();
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
