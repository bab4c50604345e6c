'use client';
/**
 * React Query hooks over the history endpoints (lib/history-contracts.ts):
 * search, a call's story, one message, stuck-call groups. They answer from
 * the store and the tap's memory, so a call hours old still opens.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { CallStory, SearchResult, StuckGroup, StuckGroups } from '@/lib/history-contracts';
import type { DecodedMessage } from '@/lib/tap-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet, apiPost } from '../api-client';
import { useTransportChoice } from '../hooks/use-transport';

const keys = {
  story: (msgId: string) => [...queryKeys.all, 'history', 'call', msgId] as const,
  message: (id: string) => [...queryKeys.all, 'history', 'message', id] as const,
  search: (q: string, from: string, to: string, t: string | null) => [...queryKeys.all, 'history', 'search', q, from, to, t ?? 'all'] as const,
  stuckGroups: (q: string, acked: string, t: string | null) => [...queryKeys.all, 'history', 'stuck-groups', q, acked, t ?? 'all'] as const,
};

/** The whole story of one call; refreshed while the call is still open, so its cause shows as soon as the tap knows it. */
export function useCallStory(msgId: string | null, live = true) {
  return useQuery<CallStory>({
    queryKey: keys.story(msgId ?? ''),
    queryFn: () => apiGet<CallStory>(`/api/calls/${encodeURIComponent(msgId ?? '')}`),
    enabled: !!msgId,
    retry: (n, err) => n < 2 && (err as { status?: number }).status !== 404 && (err as { status?: number }).status !== 400,
    refetchInterval: (q) => {
      if (!live) return false;
      const d = q.state.data;
      // an open call changes every second; a finished one only gains a late reply now and then
      if (!d) return q.state.error ? 3000 : false;
      return d.call.state === 'done' && d.messages.some((m) => m.kind === 'reply') ? false : d.call.state === 'done' ? 5000 : 1000;
    },
  });
}

export function useMessage(id: string | null) {
  return useQuery<DecodedMessage>({
    queryKey: keys.message(id ?? ''),
    queryFn: () => apiGet<DecodedMessage>(`/api/messages/${encodeURIComponent(id ?? '')}`),
    enabled: !!id,
    retry: (n, err) => n < 2 && (err as { status?: number }).status !== 404 && (err as { status?: number }).status !== 400,
    staleTime: 60_000,
  });
}

export function searchPath(q: string, from: string, to: string, limit?: number, transport?: string | null): string {
  const p = new URLSearchParams({ q });
  if (transport) p.set('transport', transport);
  if (from) p.set('from', from);
  if (to) p.set('to', to);
  if (limit) p.set('limit', String(limit));
  return `/api/search?${p.toString()}`;
}

export function useSearch(q: string, from: string, to: string) {
  const { choice } = useTransportChoice();
  return useQuery<SearchResult>({
    queryKey: keys.search(q, from, to, choice),
    queryFn: () => apiGet<SearchResult>(searchPath(q, from, to, undefined, choice)),
    enabled: q.trim().length > 0,
    retry: false,
    staleTime: 5_000,
  });
}

export function useStuckGroups(q: string, acked: 'all' | 'yes' | 'no') {
  const { choice } = useTransportChoice();
  return useQuery<StuckGroups>({
    queryKey: keys.stuckGroups(q, acked, choice),
    queryFn: () => {
      const p = new URLSearchParams({ acked, limit: '200' });
      if (choice) p.set('transport', choice);
      if (q.trim()) p.set('q', q.trim());
      return apiGet<StuckGroups>(`/api/stuck-groups?${p.toString()}`);
    },
    refetchInterval: 3000,
    retry: false,
  });
}

export function useAckGroup() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (v: { key: string; acked: boolean }) => apiPost<StuckGroup>('/api/stuck-groups/ack', v),
    onSuccess: () => client.invalidateQueries({ queryKey: [...queryKeys.all, 'history', 'stuck-groups'] }),
  });
}
