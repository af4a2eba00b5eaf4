/**
 * The verdict, honestly: green only when the consensus rule was met; a plurality, a tie,
 * a lost quorum or a cancellation says so and why. Dissent names who and their view;
 * position changes show who moved from what.
 */
import type { DebateDoc, Dissent, Position } from '@/api/types';
import { Badge, Card, Meter } from '@/components/ui';
import { agentLabel, percent } from '@/lib/format';
import type { Consensus } from '../live/fold';
import { AgentName } from './MessageCard';

const OUTCOME_TEXT: Record<string, string> = {
  consensus: 'Consensus',
  plurality: 'No consensus — plurality only',
  tie: 'Tie — no decision',
  no_quorum: 'No decision — too few valid answers',
  quorum_lost: 'No decision — quorum lost',
  cancelled: 'Cancelled',
};

export function outcomeOf(doc: DebateDoc | undefined, consensus: Consensus | null, end: Record<string, unknown> | null): string | null {
  return (doc?.outcome as string | undefined) ?? (end?.outcome as string | undefined) ?? consensus?.outcome ?? null;
}

function dissentView(d: Dissent): string {
  return String(d.reasons ?? d.view ?? d.reasoning ?? '');
}

export function Verdict({ doc, consensus, end }: { doc: DebateDoc | undefined; consensus: Consensus | null; end: Record<string, unknown> | null }) {
  const finished = Boolean(end) || (doc && ['completed', 'failed', 'cancelled'].includes(doc.status));
  if (!finished && !consensus) return null;
  const outcome = outcomeOf(doc, consensus, end) ?? (doc?.status === 'cancelled' ? 'cancelled' : null);
  const reached = (doc?.consensus_reached ?? (end?.consensus_reached as boolean | undefined) ?? consensus?.reached) === true;
  const answer = doc?.final_answer ?? (end?.final_answer as string | null | undefined) ?? consensus?.finalAnswer ?? null;
  const confidence = doc?.confidence ?? (end?.confidence as number | null | undefined) ?? consensus?.confidence ?? null;
  const rule = doc?.consensus_rule ?? consensus?.rule ?? (end?.rule as string | undefined) ?? '';
  const judge = doc?.judge ?? consensus?.judge ?? null;
  const reason = doc?.outcome_reason ?? (end?.outcome_reason as string | null | undefined) ?? consensus?.reason ?? null;
  const quorum = doc?.quorum ?? (end?.quorum as DebateDoc['quorum']) ?? null;
  const dissent = (doc?.dissent ?? (end?.dissent as Dissent[] | undefined) ?? []) as Dissent[];
  const positions = (doc?.positions ?? (end?.positions as Position[] | undefined) ?? []) as Position[];
  const moved = positions.filter((p) => p.changed_mind);
  const error = doc?.error ?? (end?.error as string | null | undefined) ?? null;
  const tone = reached ? 'good' : outcome === 'plurality' ? 'warn' : 'bad';
  return (
    <Card title="Verdict" class={`verdict verdict-${tone}`} id="verdict">
      <p class="verdict-outcome" data-testid="verdict-outcome" data-outcome={outcome ?? ''}>
        <Badge tone={tone}>{OUTCOME_TEXT[outcome ?? ''] ?? outcome ?? doc?.status ?? 'ended'}</Badge>
      </p>
      {answer ? (
        <p class="verdict-answer" data-testid="final-answer">
          {answer}
        </p>
      ) : (
        <p class="verdict-answer none">No answer</p>
      )}
      {reason ? <p class="note note-warn">{reason}</p> : null}
      {error && typeof error === 'string' && error !== reason ? <p class="note note-bad">{error}</p> : null}
      <dl class="facts">
        {confidence !== null && confidence !== undefined ? (
          <div>
            <dt>Confidence</dt>
            <dd>
              <Meter value={confidence} label="Confidence" /> {percent(confidence)}
              <span class="muted small"> of the whole panel</span>
            </dd>
          </div>
        ) : null}
        <div>
          <dt>Rule</dt>
          <dd>
            {rule || '—'}
            {judge ? ` (judge: ${agentLabel(judge)})` : ''}
          </dd>
        </div>
        {quorum ? (
          <div>
            <dt>Quorum</dt>
            <dd>
              {quorum.valid_answers} valid of {quorum.panel}; {quorum.needed} needed
            </dd>
          </div>
        ) : null}
      </dl>
      <h3>Dissent</h3>
      {dissent.length === 0 ? (
        <p class="muted">{reached ? 'Nobody dissented.' : 'No recorded dissent.'}</p>
      ) : (
        <ul class="dissent" data-testid="dissent">
          {dissent.map((d) => (
            <li key={d.agent}>
              <AgentName name={d.agent} /> held <strong>{String(d.final_position ?? d.position ?? '—')}</strong>
              {dissentView(d) ? <p class="small">{dissentView(d)}</p> : null}
            </li>
          ))}
        </ul>
      )}
      {positions.length > 0 ? (
        <>
          <h3>Position changes</h3>
          {moved.length === 0 ? (
            <p class="muted">Nobody changed position.</p>
          ) : (
            <ul class="positions">
              {moved.map((p) => (
                <li key={p.agent}>
                  <AgentName name={p.agent} />: <del>{p.initial_position ?? '—'}</del> → <strong>{p.final_position ?? '—'}</strong>
                  {p.changed_in_rounds.length ? <span class="muted small"> (round {p.changed_in_rounds.join(', ')})</span> : null}
                </li>
              ))}
            </ul>
          )}
        </>
      ) : null}
    </Card>
  );
}
