/** What the debate cost, per agent, while it runs (summed from each call's usage) and
 * as the server recorded it once it ends. Estimated figures are marked "≈". */
import type { AgentCost, Cost } from '@/api/types';
import { Card } from '@/components/ui';
import { tokens, usd } from '@/lib/format';
import { AgentName } from './MessageCard';

export function CostMeter({ live, recorded, agents }: { live: Record<string, AgentCost>; recorded: Cost | null | undefined; agents: string[] }) {
  const perAgent = recorded?.per_agent && Object.keys(recorded.per_agent).length ? recorded.per_agent : live;
  const names = [...new Set([...agents, ...Object.keys(perAgent)])];
  const totalTokens = recorded?.tokens ?? Object.values(live).reduce((sum, c) => sum + c.tokens, 0);
  const totalUsd = recorded?.usd ?? Object.values(live).reduce((sum, c) => sum + c.usd, 0);
  const estimated = recorded?.estimated ?? Object.values(live).some((c) => c.estimated);
  const max = Math.max(1, ...Object.values(perAgent).map((c) => c.tokens));
  return (
    <Card title="Cost" id="cost">
      <p class="cost-total" data-testid="cost-total">
        <strong>{usd(totalUsd, estimated)}</strong> · {tokens(totalTokens, estimated)} tokens
        {recorded ? null : <span class="muted small"> (so far)</span>}
      </p>
      <table class="table compact">
        <caption class="sr-only">Cost per agent</caption>
        <thead>
          <tr>
            <th scope="col">Agent</th>
            <th scope="col">Calls</th>
            <th scope="col">Tokens</th>
            <th scope="col">USD</th>
          </tr>
        </thead>
        <tbody>
          {names.map((name) => {
            const cost = perAgent[name];
            return (
              <tr key={name}>
                <td>
                  <AgentName name={name} />
                  <span class="bar" aria-hidden="true" style={{ width: `${((cost?.tokens ?? 0) / max) * 100}%` }} />
                </td>
                <td>{cost?.calls ?? 0}</td>
                <td>{tokens(cost?.tokens ?? 0, cost?.estimated)}</td>
                <td>{usd(cost?.usd ?? 0, cost?.estimated)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {estimated ? <p class="muted small">≈ estimated: a provider reported no usage, so Aragora counted the text.</p> : null}
    </Card>
  );
}
