/** Queries several features share: health, the maintenance notice and the agents. */
import { useQuery } from '@tanstack/preact-query';
import { api } from './client';
import type { AgentInfo, Health, Maintenance } from './types';

export const sharedKeys = {
  health: ['health'] as const,
  maintenance: ['maintenance'] as const,
  agents: ['agents'] as const,
};

export function useHealth(refetchInterval: number | false = 15_000) {
  return useQuery({
    queryKey: sharedKeys.health,
    queryFn: ({ signal }) => api<Health>('/api/v1/health', { signal, quietAuth: true }),
    refetchInterval,
  });
}

/** The maintenance notice anyone may read (the message new debates are refused with). */
export function useMaintenance() {
  return useQuery({
    queryKey: sharedKeys.maintenance,
    queryFn: ({ signal }) => api<Maintenance>('/api/v1/maintenance', { signal }),
    refetchInterval: 10_000,
  });
}

export function useAgents() {
  return useQuery({
    queryKey: sharedKeys.agents,
    queryFn: ({ signal }) => api<{ agents: AgentInfo[]; total: number }>('/api/v1/agents', { signal }),
    staleTime: 10_000,
  });
}
