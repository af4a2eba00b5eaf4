/** The run's status and its agents, labelled honestly: simulated agents say so. */
import type { EvalRun } from '@/api/types';
import { Badge, type Tone } from '@/components/ui';
import { isSimulated } from './numbers';

const TONES: Record<EvalRun['status'], Tone> = { complete: 'good', partial: 'warn', unreadable: 'bad' };
const TITLES: Record<EvalRun['status'], string> = {
  complete: 'Every mode scored every question',
  partial: 'Debates are missing: the run was interrupted or is still running',
  unreadable: 'The run directory cannot be read',
};

export function RunStatus({ status }: { status: EvalRun['status'] }) {
  return (
    <Badge tone={TONES[status]} title={TITLES[status]}>
      {status}
    </Badge>
  );
}

export function SimulatedBadge() {
  return (
    <Badge tone="info" title="Simulated agents (sim:…) with a set accuracy: no model answered">
      simulated
    </Badge>
  );
}

/** The panel's specs, each simulated one marked. */
export function AgentSpecs({ agents }: { agents: string[] }) {
  return (
    <ul class="inline-list">
      {agents.map((spec, index) => (
        <li key={`${index}-${spec}`}>
          <code>{spec}</code>
          {isSimulated(spec) ? (
            <>
              {' '}
              <SimulatedBadge />
            </>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
