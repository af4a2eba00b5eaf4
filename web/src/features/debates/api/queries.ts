/** The debates feature's server state: list, document, create, cancel. */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/preact-query';
import { api } from '@/api/client';
import { TERMINAL, type CreateDebateRequest, type CreatedDebate, type DebateDoc, type DebateList, type DebateStatus } from '@/api/types';

export const debateKeys = {
  all: ['debates'] as const,
  list: (params: ListParams) => ['debates', 'list', params] as const,
  one: (id: string) => ['debates', 'one', id] as const,
};

export interface ListParams {
  q: string;
  status: DebateStatus | '';
  limit: number;
  offset: number;
}

export function useDebateList(params: ListParams, refetchInterval: number | false = 5000) {
  return useQuery({
    queryKey: debateKeys.list(params),
    queryFn: ({ signal }) =>
      api<DebateList>('/api/v1/debates', {
        signal,
        query: { q: params.q.trim(), status: params.status, limit: params.limit, offset: params.offset },
      }),
    placeholderData: keepPreviousData,
    refetchInterval,
  });
}

/** Finished, and nothing more will be added to the document. */
function settled(doc: DebateDoc | undefined): boolean {
  if (!doc || !TERMINAL.includes(doc.status)) return false;
  if (doc.status !== 'completed') return true;
  return Boolean(doc.receipt) || ageSeconds(doc.completed_at) > 30;
}

function ageSeconds(iso: string | null | undefined): number {
  return iso ? (Date.now() - new Date(iso).getTime()) / 1000 : Infinity;
}

export function useDebate(id: string) {
  return useQuery({
    queryKey: debateKeys.one(id),
    queryFn: ({ signal }) => api<DebateDoc>(`/api/v1/debates/${encodeURIComponent(id)}`, { signal }),
    // A finished debate never changes, once its receipt is issued (just after the end).
    staleTime: (query) => (settled(query.state.data) ? Infinity : 0),
    refetchInterval: (query) => {
      const data = query.state.data;
      return data && TERMINAL.includes(data.status) && !settled(data) ? 1000 : false;
    },
  });
}

export function useCreateDebate() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (request: CreateDebateRequest) =>
      api<CreatedDebate>('/api/v1/debates', { method: 'POST', body: request }),
    onSuccess: () => client.invalidateQueries({ queryKey: debateKeys.all }),
  });
}

export function useCancelDebate(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api<unknown>(`/api/v1/debates/${encodeURIComponent(id)}/cancel`, { method: 'POST', body: {} }),
    onSettled: () => client.invalidateQueries({ queryKey: debateKeys.one(id) }),
  });
}
