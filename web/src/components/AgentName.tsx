/** An agent's name with its colour dot (the same colour in lanes, tables and charts). */
import { agentHue, agentLabel } from '@/lib/format';

export function AgentName({ name }: { name: string }) {
  return (
    <span class="agent-name">
      <span class="agent-dot" aria-hidden="true" style={{ background: `hsl(${agentHue(name)} 65% 50%)` }} />
      {agentLabel(name)}
    </span>
  );
}
