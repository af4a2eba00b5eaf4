import { describe, expect, it } from 'vitest';
import { DebateModel, type MessageItem } from './fold';
import { event, opening } from './testing';

function messages(model: DebateModel): MessageItem[] {
  return model.groups.value.flatMap((g) => g.items.value).filter((i): i is MessageItem => i.kind === 'message');
}

describe('DebateModel (the fold)', () => {
  it('groups messages by round and phase, in order', () => {
    const model = new DebateModel();
    model.applyAll(opening());
    expect(model.meta.value?.agents).toEqual(['a', 'b', 'c']);
    expect(model.groups.value.map((g) => g.key)).toEqual(['1:propose']);
    expect(messages(model).map((m) => [m.seq, m.agent, m.answer])).toEqual([
      [4, 'a', 'SQLite'],
      [5, 'b', 'PostgreSQL'],
    ]);
  });

  it('applies every seq once, however often it is replayed', () => {
    const model = new DebateModel();
    const events = opening();
    expect(model.applyAll(events)).toBe(5);
    expect(model.applyAll(events)).toBe(0);
    expect(model.applyAll([...events.slice(2), event(6, 'propose', { agent: 'c', phase: 'propose', answer: 'SQLite' }, { round: 1, agent: 'c' })])).toBe(1);
    expect(messages(model).map((m) => m.seq)).toEqual([4, 5, 6]);
    expect(model.lastSeq).toBe(6);
  });

  it('streams tokens into the lane without touching the transcript', () => {
    const model = new DebateModel();
    model.applyAll(opening().slice(0, 3));
    const group = model.groups.value[0]!;
    const items = group.items.value;
    const groups = model.groups.value;
    model.apply(event(null, 'token', { delta: 'ANSWER: Post', phase: 'propose' }, { agent: 'c', round: 1 }));
    model.apply(event(null, 'token', { delta: 'greSQL', phase: 'propose' }, { agent: 'c', round: 1 }));
    expect(model.stream(group, 'c').value).toBe('ANSWER: PostgreSQL');
    // Same arrays: nothing that renders the transcript was notified.
    expect(group.items.value).toBe(items);
    expect(model.groups.value).toBe(groups);
    // The finished answer replaces the streamed text.
    model.apply(event(4, 'propose', { agent: 'c', phase: 'propose', answer: 'PostgreSQL', content: 'ANSWER: PostgreSQL' }, { agent: 'c', round: 1 }));
    expect(model.stream(group, 'c').value).toBe('');
    expect(messages(model)).toHaveLength(1);
  });

  it('sums each call\'s usage per agent and keeps "estimated"', () => {
    const model = new DebateModel();
    model.applyAll(opening());
    expect(model.costs.value.a).toMatchObject({ tokens: 120, calls: 1, usd: 0.001, estimated: false });
    expect(model.costs.value.b).toMatchObject({ tokens: 130, estimated: true });
  });

  it('records what a revision changed, and abstentions', () => {
    const model = new DebateModel();
    model.applyAll([
      ...opening(),
      event(6, 'phase_change', { phase: 'revise', round: 1 }, { round: 1 }),
      event(7, 'revision', { agent: 'a', phase: 'revise', answer: 'PostgreSQL', changed: true }, { agent: 'a', round: 1 }),
      event(8, 'revision', { agent: 'b', phase: 'revise', answer: '', abstained: 'answer is the prompt placeholder', offered: '<your answer>' }, { agent: 'b', round: 1 }),
      event(9, 'warning', { code: 'invalid_answer', message: 'b gave no valid answer', phase: 'revise', agent: 'b' }, { round: 1 }),
    ]);
    const [revised, abstained] = messages(model).slice(2);
    expect(revised).toMatchObject({ previousAnswer: 'SQLite', answer: 'PostgreSQL', changed: true });
    expect(abstained).toMatchObject({ abstained: 'answer is the prompt placeholder', offered: '<your answer>' });
    expect(model.notices.value).toMatchObject([{ code: 'invalid_answer', agent: 'b', round: 1 }]);
    const revise = model.groups.value.find((g) => g.phase === 'revise')!;
    expect(revise.items.value.map((i) => i.kind)).toEqual(['message', 'message', 'notice']);
  });

  it('keeps critiques with their targets and the targets\' answers at that time', () => {
    const model = new DebateModel();
    model.applyAll([
      ...opening(),
      event(6, 'phase_change', { phase: 'critique', round: 1 }, { round: 1 }),
      event(7, 'critique', { agent: 'a', phase: 'critique', targets: ['b'], target_agent: 'b', score: 0.4, content: 'weak' }, { agent: 'a', round: 1 }),
    ]);
    const group = model.groups.value.find((g) => g.phase === 'critique')!;
    expect(group.items.value[0]).toMatchObject({ targets: ['b'], score: 0.4 });
    expect(model.answersAt(group)).toMatchObject({ a: 'SQLite', b: 'PostgreSQL' });
  });

  it('ends with the verdict, and never shows a consensus that was not reached', () => {
    const model = new DebateModel();
    model.applyAll([
      ...opening(),
      event(6, 'consensus', { rule: 'majority', outcome: 'tie', reached: false, final_answer: null, tie: true, reason: 'a 1-1 tie', valid_answers: 2, panel: 3, quorum: 2 }),
      event(7, 'debate_end', { status: 'completed', result: { status: 'completed', outcome: 'tie', final_answer: null } }),
    ]);
    expect(model.consensus.value).toMatchObject({ reached: false, outcome: 'tie', reason: 'a 1-1 tie' });
    expect(model.status.value).toBe('completed');
  });

  it('ends a debate whose log holds no end on the unlogged debate_end the server sends', () => {
    const model = new DebateModel();
    const said: string[] = [];
    model.announce = (text) => said.push(text);
    expect(model.apply(event(null, 'debate_end', { result: { status: 'cancelled', error: 'cancelled', consensus_reached: false } }))).toBe(false);
    expect(model.status.value).toBe('cancelled');
    expect(model.lastSeq).toBe(0);
    expect(said).toEqual(['Debate ended without a decision (cancelled)']);
  });
});
