/**
 * The debate page's model: a fold over the debate's events, as the server folds them
 * into the debate document. Applying an event whose `seq` was already applied does
 * nothing, so a replay after a reconnect can never duplicate a message.
 *
 * The model is made of signals at the grain the page updates: a token delta touches one
 * lane's text signal only; a finished answer appends to its phase's item list only; the
 * transcript as a whole is never rebuilt per event.
 */
import { batch, signal, type Signal } from '@preact/signals';
import type { AgentCost, DebateStatus, Usage, WireEvent } from '@/api/types';

export type MessageType = 'propose' | 'critique' | 'revision' | 'synthesis' | 'agent_message';
const MESSAGE_TYPES = new Set<string>(['propose', 'critique', 'revision', 'synthesis', 'agent_message']);
const NOTICE_TYPES = new Set<string>(['warning', 'error', 'agent_error', 'agent_fallback']);

export interface MessageItem {
  kind: 'message';
  seq: number;
  type: MessageType;
  agent: string;
  round: number | null;
  content: string;
  answer: string | null;
  confidence: number | null;
  reasoning: string | null;
  targets: string[];
  score: number | null;
  /** For a revision: the agent's answer before it, and whether it changed. */
  previousAnswer: string | null;
  changed: boolean | null;
  abstained: string | null;
  offered: string | null;
  truncated: boolean;
  usage: Usage | null;
  durationSeconds: number | null;
  timestamp: string;
}

export interface VoteItem {
  kind: 'vote';
  seq: number;
  agent: string;
  round: number | null;
  choice: string;
  confidence: number | null;
  reasoning: string;
  derived: boolean;
}

export interface NoticeItem {
  kind: 'notice';
  seq: number;
  type: string;
  agent: string | null;
  round: number | null;
  code: string;
  message: string;
  severity: 'info' | 'warning' | 'error';
}

export interface ConvergencePoint {
  seq: number;
  round: number;
  similarity: number;
  converged: boolean;
  status: string;
  distinctAnswers: number | null;
  perAgent: Record<string, number>;
}

export type Item = MessageItem | VoteItem | NoticeItem | ({ kind: 'convergence' } & ConvergencePoint);

export interface Group {
  key: string;
  round: number | null;
  phase: string;
  items: Signal<Item[]>;
  /** Streaming text per agent for the answer being written in this phase. */
  streams: Map<string, Signal<string>>;
  /** Each agent's answer when the phase began (what a critique in it was about). */
  answers: Record<string, string | null>;
}

export interface Consensus {
  rule: string;
  outcome: string | null;
  reached: boolean;
  finalAnswer: string | null;
  confidence: number | null;
  tie: boolean;
  judge: string | null;
  tally: Record<string, number>;
  validAnswers: number | null;
  panel: number | null;
  quorum: number | null;
  reason: string | null;
}

export interface Meta {
  task: string;
  context: string;
  mode: string;
  protocol: Record<string, unknown>;
  agents: string[];
  judge: string | null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The human text of a notice event. */
export function noticeText(type: string, data: Record<string, unknown>): string {
  if (type === 'agent_fallback') {
    const from = [str(data.from_provider), str(data.from_model)].filter(Boolean).join(':');
    const to = [str(data.to_provider), str(data.to_model)].filter(Boolean).join(':');
    const reason = str(data.reason);
    return `fell back from ${from || 'its provider'} to ${to || 'another'}${reason ? ` (${reason})` : ''}`;
  }
  if (type === 'agent_error') {
    const kind = str(data.kind);
    return `${kind === 'timeout' ? 'timed out' : 'failed'}: ${str(data.error) ?? kind ?? 'error'}`;
  }
  return str(data.message) ?? str(data.error) ?? str(data.reason) ?? str(data.code) ?? type;
}

export class DebateModel {
  readonly status = signal<DebateStatus>('queued');
  readonly meta = signal<Meta | null>(null);
  readonly groups = signal<Group[]>([]);
  readonly costs = signal<Record<string, AgentCost>>({});
  readonly convergence = signal<ConvergencePoint[]>([]);
  readonly consensus = signal<Consensus | null>(null);
  readonly end = signal<Record<string, unknown> | null>(null);
  readonly notices = signal<NoticeItem[]>([]);
  readonly phase = signal<string | null>(null);
  readonly round = signal<number | null>(null);
  /** Highest `seq` applied; events arrive contiguously from 1. */
  lastSeq = 0;
  readonly seq = signal(0);

  private readonly byKey = new Map<string, Group>();
  private readonly answers = new Map<string, string | null>();
  private current: Group | null = null;
  /** Called with a sentence to announce politely (finished answers, phases, verdict). */
  announce: (text: string) => void = () => undefined;

  /** Apply stored events (in `seq` order); returns how many were new. */
  applyAll(events: readonly WireEvent[]): number {
    let applied = 0;
    batch(() => {
      for (const event of events) if (this.apply(event)) applied += 1;
    });
    return applied;
  }

  /** Apply one frame; `false` when it was already applied (or is not part of the log). */
  apply(event: WireEvent): boolean {
    if (event.type === 'token') {
      this.token(event);
      return false;
    }
    if (event.seq === null || event.seq === undefined) {
      // The end of a debate whose log holds none (cancelled while queued, or ended while its
      // worker was stuck): not part of the log, but the debate is over.
      if (event.type === 'debate_end') batch(() => this.fold(event));
      return false;
    }
    if (event.seq <= this.lastSeq) return false;
    this.lastSeq = event.seq;
    batch(() => {
      this.seq.value = event.seq!;
      this.fold(event);
    });
    return true;
  }

  /** Forget the partial text of answers being streamed (after a reconnect the deltas
   * sent meanwhile are gone; the finished answers will come from the log). */
  clearStreams(): void {
    for (const group of this.groups.peek()) for (const stream of group.streams.values()) stream.value = '';
  }

  group(round: number | null, phase: string): Group {
    const key = `${round ?? '-'}:${phase}`;
    let group = this.byKey.get(key);
    if (!group) {
      group = { key, round, phase, items: signal<Item[]>([]), streams: new Map(), answers: Object.fromEntries(this.answers) };
      this.byKey.set(key, group);
      this.groups.value = [...this.groups.peek(), group];
    }
    return group;
  }

  answersAt(group: Group): Record<string, string | null> {
    return group.answers;
  }

  stream(group: Group, agent: string): Signal<string> {
    let stream = group.streams.get(agent);
    if (!stream) {
      stream = signal('');
      group.streams.set(agent, stream);
    }
    return stream;
  }

  private token(event: WireEvent): void {
    const agent = event.agent;
    const delta = str(event.data.delta);
    if (!agent || !delta) return;
    const phase = str(event.data.phase) ?? this.phase.peek() ?? 'propose';
    const round = event.round ?? this.round.peek();
    const stream = this.stream(this.group(round, phase), agent);
    stream.value += delta;
  }

  private push(group: Group, item: Item): void {
    group.items.value = [...group.items.peek(), item];
  }

  private addUsage(agent: string, usage: Usage | null): void {
    if (!usage) return;
    const costs = { ...this.costs.peek() };
    const previous = costs[agent] ?? { input_tokens: 0, output_tokens: 0, tokens: 0, usd: 0, calls: 0 };
    const input = usage.input_tokens ?? 0;
    const output = usage.output_tokens ?? 0;
    costs[agent] = {
      input_tokens: previous.input_tokens + input,
      output_tokens: previous.output_tokens + output,
      tokens: previous.tokens + input + output,
      usd: previous.usd + (usage.cost_usd ?? 0),
      calls: previous.calls + 1,
      estimated: Boolean(previous.estimated || usage.estimated),
    };
    this.costs.value = costs;
  }

  private fold(event: WireEvent): void {
    const data = event.data ?? {};
    const round = event.round ?? num(data.round_number) ?? num(data.round);
    switch (event.type) {
      case 'debate_start': {
        const agents = Array.isArray(data.agents)
          ? (data.agents as Record<string, unknown>[]).map((a) => str(a.name) ?? String(a))
          : [];
        this.meta.value = {
          task: str(data.task) ?? '',
          context: str(data.context) ?? '',
          mode: str(data.mode) ?? '',
          protocol: (data.protocol as Record<string, unknown>) ?? {},
          agents,
          judge: str(data.judge),
        };
        this.status.value = 'running';
        return;
      }
      case 'round_start':
        this.round.value = round;
        return;
      case 'phase_change': {
        const phase = str(data.phase) ?? 'phase';
        this.phase.value = phase;
        this.round.value = round;
        this.current = this.group(round, phase);
        this.announce(`${phaseTitle(phase)}${round ? `, round ${round}` : ''}`);
        return;
      }
      case 'vote': {
        const group = this.group(round, str(data.phase) ?? 'vote');
        const agent = event.agent ?? str(data.agent) ?? '?';
        this.push(group, {
          kind: 'vote',
          seq: event.seq!,
          agent,
          round,
          choice: str(data.choice) ?? '',
          confidence: num(data.confidence),
          reasoning: str(data.reasoning) ?? '',
          derived: data.derived === true,
        });
        this.addUsage(agent, (data.usage as Usage) ?? null);
        return;
      }
      case 'convergence': {
        const point: ConvergencePoint = {
          seq: event.seq!,
          round: round ?? this.convergence.peek().length + 1,
          similarity: num(data.similarity) ?? 0,
          converged: data.converged === true,
          status: str(data.status) ?? '',
          distinctAnswers: num(data.distinct_answers),
          perAgent: (data.per_agent as Record<string, number>) ?? {},
        };
        this.convergence.value = [...this.convergence.peek(), point];
        const group = this.current ?? this.group(round, 'revise');
        this.push(group, { kind: 'convergence', ...point });
        return;
      }
      case 'consensus': {
        this.consensus.value = {
          rule: str(data.rule) ?? '',
          outcome: str(data.outcome),
          reached: data.reached === true,
          finalAnswer: str(data.final_answer),
          confidence: num(data.confidence),
          tie: data.tie === true,
          judge: str(data.judge),
          tally: (data.tally as Record<string, number>) ?? {},
          validAnswers: num(data.valid_answers),
          panel: num(data.panel),
          quorum: num(data.quorum),
          reason: str(data.reason),
        };
        return;
      }
      case 'debate_end': {
        const result = (data.result as Record<string, unknown>) ?? {};
        this.end.value = result;
        this.status.value = ((str(data.status) ?? str(result.status)) as DebateStatus) ?? 'completed';
        for (const group of this.groups.peek()) for (const stream of group.streams.values()) stream.value = '';
        const answer = str(result.final_answer);
        this.announce(
          answer ? `Debate finished: ${answer}` : `Debate ended without a decision (${str(result.outcome) ?? this.status.peek()})`,
        );
        return;
      }
      default:
        break;
    }
    if (MESSAGE_TYPES.has(event.type)) {
      const agent = event.agent ?? str(data.agent) ?? '?';
      const phase = str(data.phase) ?? event.type;
      const group = this.group(round, phase);
      const answer = str(data.answer);
      const previous = this.answers.has(agent) ? this.answers.get(agent)! : null;
      if (event.type === 'propose' || event.type === 'revision') this.answers.set(agent, answer);
      const targets = Array.isArray(data.targets)
        ? (data.targets as unknown[]).map(String)
        : str(data.target_agent)
          ? [str(data.target_agent)!]
          : [];
      const abstained = str(data.abstained);
      this.push(group, {
        kind: 'message',
        seq: event.seq!,
        type: event.type as MessageType,
        agent,
        round,
        content: str(data.content) ?? '',
        answer,
        confidence: num(data.confidence),
        reasoning: str(data.reasoning),
        targets,
        score: num(data.score),
        previousAnswer: event.type === 'revision' ? previous : null,
        changed: typeof data.changed === 'boolean' ? data.changed : null,
        abstained,
        offered: str(data.offered),
        truncated: data.truncated === true,
        usage: (data.usage as Usage) ?? null,
        durationSeconds: num(data.duration_seconds),
        timestamp: event.timestamp,
      });
      const stream = group.streams.get(agent);
      if (stream) stream.value = '';
      this.addUsage(agent, (data.usage as Usage) ?? null);
      this.announce(
        abstained
          ? `${agent} abstained: ${abstained}`
          : `${agent} ${verb(event.type)}${answer ? `: ${answer}` : ''}`,
      );
      return;
    }
    if (NOTICE_TYPES.has(event.type)) {
      const code = str(data.code) ?? event.type;
      const notice: NoticeItem = {
        kind: 'notice',
        seq: event.seq!,
        type: event.type,
        agent: event.agent ?? str(data.agent),
        round,
        code,
        message: noticeText(event.type, data),
        severity: event.type === 'error' || event.type === 'agent_error' ? 'error' : code === 'agent_fallback' ? 'info' : 'warning',
      };
      this.notices.value = [...this.notices.peek(), notice];
      const phase = str(data.phase);
      const group = phase ? this.group(round, phase) : (this.current ?? this.group(round, 'setup'));
      this.push(group, notice);
    }
  }
}

function verb(type: string): string {
  switch (type) {
    case 'propose':
      return 'proposed';
    case 'critique':
      return 'critiqued';
    case 'revision':
      return 'revised';
    case 'synthesis':
      return 'synthesised';
    default:
      return 'said';
  }
}

export function phaseTitle(phase: string): string {
  const titles: Record<string, string> = {
    propose: 'Proposals',
    critique: 'Critiques',
    revise: 'Revisions',
    vote: 'Votes',
    judge: 'Judge',
    synthesis: 'Synthesis',
    setup: 'Setup',
  };
  return titles[phase] ?? phase.charAt(0).toUpperCase() + phase.slice(1);
}
