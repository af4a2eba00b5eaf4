/** The evals feature's server state: the past runs of `aragora eval` and one run. */
import { keepPreviousData, useQuery } from '@tanstack/preact-query';
import { api } from '@/api/client';
import type { EvalRun, EvalRunList } from '@/api/types';

export const evalKeys = {
  list: (limit: number, offset: number) => ['evals', 'list', limit, offset] as const,
  one: (name: string) => ['evals', 'one', name] as const,
};

/** A partial run may still be going: it is read again every few seconds. */
const PARTIAL_REFRESH_MS = 5000;

export function useEvalRuns(limit: number, offset: number) {
  return useQuery({
    queryKey: evalKeys.list(limit, offset),
    queryFn: ({ signal }) => api<EvalRunList>('/api/v1/evals', { signal, query: { limit, offset } }),
    placeholderData: keepPreviousData,
    refetchInterval: (query) => (query.state.data?.runs.some((r) => r.status === 'partial') ? PARTIAL_REFRESH_MS : false),
  });
}

export function useEvalRun(name: string) {
  return useQuery({
    queryKey: evalKeys.one(name),
    queryFn: ({ signal }) => api<EvalRun>(`/api/v1/evals/${encodeURIComponent(name)}`, { signal }),
    refetchInterval: (query) => (query.state.data?.status === 'partial' ? PARTIAL_REFRESH_MS : false),
  });
}
