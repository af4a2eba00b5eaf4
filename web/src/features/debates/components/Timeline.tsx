/**
 * The debate as it happened: one section per phase of each round; inside, one lane per
 * agent. A lane shows the agent's finished message, or the text it is streaming now,
 * bound straight to that lane's signal, so a token updates one text node and re-renders
 * nothing else.
 */
import type { Signal } from '@preact/signals';
import { memo } from 'preact/compat';
import { agentLabel, percent } from '@/lib/format';
import { Badge } from '@/components/ui';
import { phaseTitle, type DebateModel, type Group, type Item, type MessageItem, type NoticeItem, type VoteItem } from '../live/fold';
import { AgentName, MessageCard } from './MessageCard';

function StreamingLane({ agent, stream, active }: { agent: string; stream: Signal<string>; active: boolean }) {
  return (
    <article class={`message message-streaming${active ? ' is-active' : ''}`} data-agent={agent} aria-busy={active}>
      <header class="message-head">
        <AgentName name={agent} />
        {active ? <span class="typing" aria-hidden="true" /> : null}
      </header>
      <p class="stream-text">{stream}</p>
      {active ? <span class="sr-only">{agentLabel(agent)} is writing</span> : null}
    </article>
  );
}

function Notice({ item }: { item: NoticeItem }) {
  return (
    <div class={`note note-${item.severity === 'error' ? 'bad' : item.severity === 'info' ? 'info' : 'warn'} notice`} id={`seq-${item.seq}`} data-seq={item.seq} data-code={item.code}>
      <Badge tone={item.severity === 'error' ? 'bad' : item.severity === 'info' ? 'info' : 'warn'}>{item.code}</Badge>{' '}
      {item.agent ? (
        <>
          <AgentName name={item.agent} />:{' '}
        </>
      ) : null}
      {item.message}
    </div>
  );
}

function Votes({ votes }: { votes: VoteItem[] }) {
  return (
    <div class="table-wrap">
      <table class="table">
        <caption class="sr-only">Votes</caption>
        <thead>
          <tr>
            <th scope="col">Agent</th>
            <th scope="col">Vote</th>
            <th scope="col">Confidence</th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {votes.map((vote) => (
            <tr key={vote.seq} id={`seq-${vote.seq}`} data-seq={vote.seq}>
              <td>
                <AgentName name={vote.agent} />
              </td>
              <td>
                <strong>{vote.choice}</strong>
              </td>
              <td>{percent(vote.confidence)}</td>
              <td class="small">{vote.reasoning}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const PhaseSection = memo(function PhaseSection({ group, model, agents, active }: {
  group: Group;
  model: DebateModel;
  agents: string[];
  active: boolean;
}) {
  const items: Item[] = group.items.value;
  const messages = new Map<string, MessageItem>();
  const votes: VoteItem[] = [];
  const others: Item[] = [];
  for (const item of items) {
    if (item.kind === 'message') messages.set(item.agent, item);
    else if (item.kind === 'vote') votes.push(item);
    else others.push(item);
  }
  const answers = model.answersAt(group);
  const isMessagePhase = group.phase !== 'vote' && group.phase !== 'setup';
  const lanes = isMessagePhase
    ? [...new Set([...agents, ...messages.keys(), ...group.streams.keys()])].filter(
        (agent) => messages.has(agent) || active || (group.streams.get(agent)?.peek() ?? '') !== '',
      )
    : [];
  const title = `${group.round ? `Round ${group.round} · ` : ''}${phaseTitle(group.phase)}`;
  return (
    <section class="phase" aria-label={title} data-phase={group.phase} data-round={group.round ?? ''}>
      <h3 class="phase-title">
        {title} {active ? <Badge tone="info">now</Badge> : null}
      </h3>
      {lanes.length > 0 ? (
        <div class="lanes">
          {lanes.map((agent) => {
            const message = messages.get(agent);
            return message ? (
              <MessageCard key={`m${message.seq}`} item={message} answersByAgent={answers} />
            ) : (
              <StreamingLane key={`s${agent}`} agent={agent} stream={model.stream(group, agent)} active={active} />
            );
          })}
        </div>
      ) : null}
      {votes.length > 0 ? <Votes votes={votes} /> : null}
      {others.map((item) =>
        item.kind === 'notice' ? (
          <Notice key={item.seq} item={item} />
        ) : item.kind === 'convergence' ? (
          <p key={item.seq} class="convergence-line" id={`seq-${item.seq}`} data-seq={item.seq}>
            Convergence after round {item.round}: {percent(item.similarity)} similar
            {item.distinctAnswers !== null ? `, ${item.distinctAnswers} distinct answer${item.distinctAnswers === 1 ? '' : 's'}` : ''} —{' '}
            {item.converged ? 'converged' : item.status || 'not converged'}
          </p>
        ) : null,
      )}
    </section>
  );
});

export function Timeline({ model }: { model: DebateModel }) {
  const groups = model.groups.value;
  const agents = model.meta.value?.agents ?? [];
  const running = model.status.value === 'running';
  const last = groups[groups.length - 1];
  if (groups.length === 0) {
    return <p class="empty">{model.status.value === 'queued' ? 'Waiting in the queue…' : 'Waiting for the first event…'}</p>;
  }
  return (
    <div class="timeline" data-testid="timeline">
      {groups.map((group) => (
        <PhaseSection key={group.key} group={group} model={model} agents={agents} active={running && group === last} />
      ))}
    </div>
  );
}
