/** `/`: start a debate (task, context, panel, mode, rounds, rule, budget) with an
 * estimate before it starts; recent debates below. */
import { useMemo, useState } from 'preact/hooks';
import { Link, useLocation } from 'wouter-preact';
import { ApiError, describeError } from '@/api/client';
import { useAgents, useMaintenance } from '@/api/shared';
import type { AgentInfo, ConsensusRule, CreateDebateRequest } from '@/api/types';
import { Badge, Button, Card, Empty, ErrorNote, Spinner, statusTone } from '@/components/ui';
import { useCreateDebate, useDebateList } from '@/features/debates';
import { agentLabel, plural, tokens, usd, when } from '@/lib/format';
import { estimate, type Mode } from './estimate';

const MODES: { value: Mode; label: string; hint: string }[] = [
  { value: 'auto', label: 'Auto', hint: 'Answer independently; debate only if they disagree.' },
  { value: 'debate', label: 'Debate', hint: 'Propose, critique, revise, vote.' },
  { value: 'vote', label: 'Vote', hint: 'Independent answers, then a vote.' },
  { value: 'single', label: 'Single', hint: 'One agent answers.' },
];
function ruleOf(value: string): ConsensusRule {
  return RULES.find((r) => r === value) ?? 'majority';
}

const RULES: readonly ConsensusRule[] = ['majority', 'supermajority', 'unanimous', 'weighted', 'judge'];

function priceOf(agent: AgentInfo): { input: number; output: number } | null {
  if (agent.provider === 'demo' || agent.provider === 'sim') return { input: 0, output: 0 };
  const price = agent.price as { input_per_mtok?: number; output_per_mtok?: number } | undefined;
  if (price && typeof price.input_per_mtok === 'number' && typeof price.output_per_mtok === 'number') {
    return { input: price.input_per_mtok, output: price.output_per_mtok };
  }
  return null;
}

function Recent() {
  const list = useDebateList({ q: '', status: '', limit: 5, offset: 0 });
  return (
    <Card title="Recent debates" actions={<Link href="/debates">All debates →</Link>}>
      {list.isError ? <ErrorNote error={list.error} /> : null}
      {list.data ? (
        list.data.debates.length ? (
          <ul class="recent">
            {list.data.debates.map((d) => (
              <li key={d.id}>
                <Link href={`/debates/${d.id}`}>{d.task}</Link>{' '}
                <Badge tone={statusTone(d.status)}>{d.status}</Badge> <span class="muted small">{when(d.created_at)}</span>
              </li>
            ))}
          </ul>
        ) : (
          <Empty>No debates yet: your first one will show here.</Empty>
        )
      ) : (
        <Spinner />
      )}
    </Card>
  );
}

export function NewDebatePage() {
  const [, navigate] = useLocation();
  const agents = useAgents();
  const maintenance = useMaintenance();
  const create = useCreateDebate();
  const [task, setTask] = useState('');
  const [context, setContext] = useState('');
  const [picked, setPicked] = useState<string[] | null>(null);
  const [extra, setExtra] = useState('');
  const [mode, setMode] = useState<Mode>('auto');
  const [rounds, setRounds] = useState(3);
  const [rule, setRule] = useState<ConsensusRule>('majority');
  const [judge, setJudge] = useState('');
  const [budgetUsd, setBudgetUsd] = useState('');
  const [budgetTokens, setBudgetTokens] = useState('');

  const available = agents.data?.agents ?? [];
  // Default panel: the operator's default agents.
  const panel = picked ?? available.filter((a) => a.source === 'default_agents').map((a) => a.name);
  const extraSpecs = extra.split(',').map((s) => s.trim()).filter(Boolean);
  const specs = [
    ...panel.map((name) => available.find((a) => a.name === name)?.spec ?? name),
    ...extraSpecs,
  ];
  const panelAgents = [...panel.map((name) => available.find((a) => a.name === name)), ...extraSpecs.map(() => undefined)];
  const figures = useMemo(
    () =>
      estimate({
        mode,
        panel: specs.length,
        rounds,
        judge: rule === 'judge',
        taskChars: task.length,
        contextChars: context.length,
        prices: panelAgents.map((a) => (a ? priceOf(a) : null)),
      }),
    [mode, specs.length, rounds, rule, task.length, context.length, panelAgents.map((a) => a?.name).join()],
  );
  const down = maintenance.data?.enabled === true;
  const invalid = task.trim() === '' || specs.length === 0 || (rule === 'judge' && !judge);

  const submit = (event: Event) => {
    event.preventDefault();
    if (invalid || down) return;
    const protocol: Record<string, unknown> = {};
    if (budgetUsd) protocol.max_cost_usd = Number(budgetUsd);
    if (budgetTokens) protocol.max_tokens = Number(budgetTokens);
    const request: CreateDebateRequest = {
      task: task.trim(),
      agents: specs,
      mode,
      rounds,
      consensus: rule,
      ...(rule === 'judge' ? { judge } : {}),
      ...(context.trim() ? { context: context.trim() } : {}),
      ...(Object.keys(protocol).length ? { protocol } : {}),
    };
    create.mutate(request, { onSuccess: (created) => navigate(`/debates/${created.id}`) });
  };

  const toggle = (name: string) => {
    const next = panel.includes(name) ? panel.filter((n) => n !== name) : [...panel, name];
    setPicked(next);
  };

  return (
    <div class="home">
      <header class="page-head">
        <h1>New debate</h1>
        <p class="muted">A panel of agents answers, critiques and votes; you get the decision, who dissented, and what it cost.</p>
      </header>
      <form class="card form" onSubmit={submit} aria-describedby={down ? 'maintenance-note' : undefined}>
        <label class="field">
          <span>Task</span>
          <textarea required rows={3} value={task} onInput={(e) => setTask(e.currentTarget.value)} placeholder="Should a five-person startup run PostgreSQL or SQLite?" name="task" />
        </label>
        <label class="field">
          <span>
            Context <span class="muted">(optional)</span>
          </span>
          <textarea rows={2} value={context} onInput={(e) => setContext(e.currentTarget.value)} placeholder="Background the agents should know" name="context" />
        </label>
        <fieldset class="field">
          <legend>Panel</legend>
          {agents.isPending ? <Spinner label="Loading agents" /> : null}
          {agents.isError ? <ErrorNote error={agents.error} title="Could not load the agents" /> : null}
          <ul class="agent-picks">
            {available.map((agent) => (
              <li key={agent.name}>
                <label class="check">
                  <input type="checkbox" checked={panel.includes(agent.name)} onChange={() => toggle(agent.name)} />
                  <span>{agentLabel(agent.name)}</span>
                  <Badge tone={statusTone(agent.status)} title={agent.detail}>
                    {agent.status}
                  </Badge>
                  <span class="muted small">{agent.provider}</span>
                </label>
              </li>
            ))}
          </ul>
          <label class="field">
            <span>
              More agents <span class="muted">(specs, comma-separated, e.g. demo:contrarian, openai:gpt-4o)</span>
            </span>
            <input value={extra} onInput={(e) => setExtra(e.currentTarget.value)} name="extra-agents" />
          </label>
        </fieldset>
        <div class="grid-3">
          <label class="field">
            <span>Mode</span>
            <select value={mode} onChange={(e) => setMode(e.currentTarget.value as Mode)} name="mode">
              {MODES.map((m) => (
                <option key={m.value} value={m.value}>
                  {m.label}
                </option>
              ))}
            </select>
            <small class="muted">{MODES.find((m) => m.value === mode)?.hint}</small>
          </label>
          <label class="field">
            <span>Rounds (at most)</span>
            <input type="number" min={1} max={10} value={rounds} onInput={(e) => setRounds(Math.max(1, Math.min(10, Number(e.currentTarget.value) || 1)))} name="rounds" />
          </label>
          <label class="field">
            <span>Consensus rule</span>
            <select value={rule} onChange={(e) => setRule(ruleOf(e.currentTarget.value))} name="consensus">
              {RULES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          {rule === 'judge' ? (
            <label class="field">
              <span>Judge</span>
              <select value={judge} onChange={(e) => setJudge(e.currentTarget.value)} required name="judge">
                <option value="">choose a panel member</option>
                {panel.map((name) => (
                  <option key={name} value={name}>
                    {agentLabel(name)}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          <label class="field">
            <span>
              Budget, USD <span class="muted">(optional)</span>
            </span>
            <input type="number" min={0} step="0.01" value={budgetUsd} onInput={(e) => setBudgetUsd(e.currentTarget.value)} name="budget-usd" />
          </label>
          <label class="field">
            <span>
              Budget, tokens <span class="muted">(optional)</span>
            </span>
            <input type="number" min={0} step="1000" value={budgetTokens} onInput={(e) => setBudgetTokens(e.currentTarget.value)} name="budget-tokens" />
          </label>
        </div>
        <div class="estimate" data-testid="estimate" aria-live="polite">
          <strong>Estimate:</strong>{' '}
          {figures.minCalls === figures.maxCalls ? plural(figures.maxCalls, 'agent call') : `${figures.minCalls}–${figures.maxCalls} agent calls`}, ≈{' '}
          {tokens(figures.minTokens)}–{tokens(figures.maxTokens)} tokens,{' '}
          {figures.maxUsd === null ? (
            <span>cost unknown (the server publishes no price for some of these models)</span>
          ) : (
            <span>
              {usd(figures.minUsd, true)}–{usd(figures.maxUsd)}
            </span>
          )}
          {budgetUsd ? <span class="muted"> · stops at ${budgetUsd}</span> : null}
        </div>
        {down ? (
          <p class="note note-warn" id="maintenance-note" data-testid="maintenance-note">
            <strong>Maintenance:</strong> {maintenance.data?.message || 'new debates are paused.'}
          </p>
        ) : null}
        {create.isError ? (
          <p class="note note-bad" role="alert">
            {create.error instanceof ApiError && create.error.status === 503 ? 'Not started: ' : ''}
            {describeError(create.error)}
          </p>
        ) : null}
        <div class="row">
          <Button type="submit" variant="primary" disabled={invalid || down || create.isPending} data-testid="start">
            {create.isPending ? 'Starting…' : 'Start debate'}
          </Button>
          {specs.length === 0 ? <span class="muted">Pick at least one agent.</span> : <span class="muted">{plural(specs.length, 'agent')} on the panel</span>}
        </div>
      </form>
      <Recent />
    </div>
  );
}
