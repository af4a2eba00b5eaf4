/** `/leaderboard`: ELO, wins, losses and debates per agent. */
import { useQuery } from '@tanstack/preact-query';
import { api } from '@/api/client';
import type { Leaderboard } from '@/api/types';
import { Empty, ErrorNote, Spinner } from '@/components/ui';
import { AgentName } from '@/components/AgentName';

export function LeaderboardPage() {
  const board = useQuery({
    queryKey: ['leaderboard'],
    queryFn: ({ signal }) => api<Leaderboard>('/api/v1/leaderboard', { signal, query: { limit: 100 } }),
  });
  return (
    <div>
      <header class="page-head">
        <h1>Leaderboard</h1>
        <p class="muted">ELO from finished debates: an agent whose final position matched the decision beats one whose did not; no decision is a draw.</p>
      </header>
      {board.isPending ? <Spinner /> : null}
      {board.isError ? <ErrorNote error={board.error} /> : null}
      {board.data ? (
        board.data.rankings.length === 0 ? (
          <Empty>No rankings yet: they appear after the first finished debate.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="table" data-testid="leaderboard">
              <caption class="sr-only">Agents by ELO</caption>
              <thead>
                <tr>
                  <th scope="col" class="num">#</th>
                  <th scope="col">Agent</th>
                  <th scope="col" class="num">ELO</th>
                  <th scope="col" class="num">Wins</th>
                  <th scope="col" class="num">Losses</th>
                  <th scope="col" class="num hide-narrow">Draws</th>
                  <th scope="col" class="num">Debates</th>
                </tr>
              </thead>
              <tbody>
                {board.data.rankings.map((row, index) => (
                  <tr key={row.agent}>
                    <td class="num">{row.rank ?? index + 1}</td>
                    <td>
                      <AgentName name={row.agent} />
                    </td>
                    <td class="num">{Math.round(row.elo)}</td>
                    <td class="num">{row.wins}</td>
                    <td class="num">{row.losses}</td>
                    <td class="num hide-narrow">{row.draws ?? 0}</td>
                    <td class="num">{row.debates}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
    </div>
  );
}
