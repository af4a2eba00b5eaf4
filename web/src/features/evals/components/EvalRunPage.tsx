/** `/evals/:name`: one run: its settings, the per-mode table, the accuracy-against-tokens
 * plot and the paired comparisons. */
import { Link } from 'wouter-preact';
import type { EvalRun } from '@/api/types';
import { Card, ErrorNote, Spinner } from '@/components/ui';
import { when } from '@/lib/format';
import { useEvalRun } from '../api/queries';
import { AccuracyPlot } from './AccuracyPlot';
import { ComparisonTable } from './ComparisonTable';
import { AgentSpecs, RunStatus, SimulatedBadge } from './labels';
import { ModeTable } from './ModeTable';

function Settings({ run }: { run: EvalRun }) {
  const settings = run.settings;
  if (!settings) return null;
  const budget = settings.budget_tokens !== null ? `${settings.budget_tokens.toLocaleString('en-US')} tokens` : settings.match ? `matched to ${settings.match}` : null;
  return (
    <dl class="facts" data-testid="eval-settings">
      <div>
        <dt>Suite</dt>
        <dd>{settings.suite}</dd>
      </div>
      <div>
        <dt>Questions</dt>
        <dd>{run.questions ?? settings.n ?? '—'}</dd>
      </div>
      <div>
        <dt>Seed</dt>
        <dd>{settings.seed}</dd>
      </div>
      <div>
        <dt>Agents</dt>
        <dd>
          <AgentSpecs agents={settings.agents} />
        </dd>
      </div>
      <div>
        <dt>Modes</dt>
        <dd>{settings.modes.join(', ')}</dd>
      </div>
      {settings.rounds !== null ? (
        <div>
          <dt>Rounds</dt>
          <dd>{settings.rounds}</dd>
        </div>
      ) : null}
      {settings.modes.includes('sc') ? (
        <div>
          <dt>sc samples</dt>
          <dd>
            {settings.sc_samples ?? 'not chosen yet'}
            {budget ? ` (budget: ${budget})` : ''}
          </dd>
        </div>
      ) : null}
      <div>
        <dt>Updated</dt>
        <dd>{when(run.updated_at)}</dd>
      </div>
    </dl>
  );
}

function Notes({ run }: { run: EvalRun }) {
  return (
    <>
      {run.simulated ? (
        <div class="note note-info" data-testid="simulated-note">
          <strong>Simulated agents.</strong> Agents named <code>sim:…</code> answer right with a set probability; no model was asked. Such a run checks the aggregation maths, it does not measure a model.
        </div>
      ) : null}
      {run.status === 'partial' ? (
        <div class="note note-warn" role="status" data-testid="partial-note">
          <strong>Partial run.</strong> Some debates are missing (the run was interrupted, or is still running): the figures cover the questions scored so far. Running the same <code>aragora eval</code> command again resumes it.
        </div>
      ) : null}
      {run.status === 'unreadable' ? (
        <div class="note note-bad" role="alert" data-testid="unreadable-note">
          <strong>This run cannot be read:</strong> {run.reason}
        </div>
      ) : null}
    </>
  );
}

export function EvalRunPage({ name }: { name: string }) {
  const run = useEvalRun(name);
  return (
    <div>
      <header class="page-head">
        <p class="crumbs">
          <Link href="/evals">Evaluations</Link> /
        </p>
        <h1 class="row wrap">
          <span class="task-cell">{name}</span>
          {run.data ? <RunStatus status={run.data.status} /> : null}
          {run.data?.simulated ? <SimulatedBadge /> : null}
        </h1>
      </header>
      {run.isPending ? <Spinner /> : null}
      {run.isError ? <ErrorNote error={run.error} title="Could not load this run" /> : null}
      {run.data ? (
        <>
          <Notes run={run.data} />
          <Card title="Settings" id="eval-settings">
            <Settings run={run.data} />
          </Card>
          {run.data.summary ? (
            <>
              <Card title="Accuracy per mode" id="eval-modes">
                <p class="muted small">Accuracy over the scored questions (a failed debate counts as wrong) with its 95% bootstrap confidence interval; tokens, cost, agent calls and wall time are means per question.</p>
                <ModeTable
                  modes={run.data.summary.modes}
                  questions={run.data.questions}
                  caption="Per mode: accuracy over the scored questions with its 95% bootstrap confidence interval, and the mean tokens, cost, agent calls and wall time per question"
                />
              </Card>
              <Card title="Accuracy against tokens" id="eval-plot">
                <AccuracyPlot modes={run.data.summary.modes} simulated={run.data.simulated} />
              </Card>
              <Card title="Paired comparisons" id="eval-comparisons">
                <ComparisonTable comparisons={run.data.summary.comparisons} />
              </Card>
            </>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
