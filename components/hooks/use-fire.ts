'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ApiError, FireRecord, RpcRequest, RpcSuccess } from '@/lib/api-contracts';
import { queryKeys } from '@/lib/query-keys';
import { apiGet, apiPostRaw } from '../api-client';

export type FireAnswer = { ok: true; data: RpcSuccess } | { ok: false; error: ApiError; status: number };

/** POST /api/rpc; a remote exception or timeout is an answer to show, not a thrown error. */
export function useFire() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (req: RpcRequest): Promise<FireAnswer> => {
      const { status, body } = await apiPostRaw<RpcSuccess>('/api/rpc', req);
      return body.ok ? { ok: true, data: body.data } : { ok: false, error: body.error, status };
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: queryKeys.fireHistory() }),
  });
}

export function useFireHistory() {
  return useQuery({
    queryKey: queryKeys.fireHistory(),
    queryFn: () => apiGet<FireRecord[]>('/api/rpc/history'),
  });
}
