'use client';
import { useQuery } from '@tanstack/react-query';
import type { SessionInfo } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet } from '../api-client';

export function useSession() {
  return useQuery({
    queryKey: queryKeys.session(),
    queryFn: () => apiGet<SessionInfo>('/api/session'),
    staleTime: 60_000,
  });
}
