/** `/evals`: past runs of `aragora eval`, most recently written first. */
import { Link, useLocation, useSearch } from 'wouter-preact';
import type { EvalRun } from '@/api/types';
import { Empty, ErrorNote, Pager, Spinner } from '@/components/ui';
import { plural, when } from '@/lib/format';
import { useEvalRuns } from '../api/queries';
import { RunStatus, SimulatedBadge } from './labels';
import { accuracy } from './numbers';

const LIMIT = 20;

function ModeAccuracies({ run }: { run: EvalRun }) {
  if (!run.summary) return <span class="muted">{run.reason}</span>;
  return (
    <ul class="inline-list">
      {Object.entries(run.summary.modes).map(([mode, row]) => (
        <li key={mode}>
          {mode} <strong>{accuracy(row.accuracy)}</strong>
        </li>
      ))}
    </ul>
  );
}

export function EvalsPage() {
  const search = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const offset = Math.max(0, Number(search.get('offset') ?? 0) || 0);
  const list = useEvalRuns(LIMIT, offset);
  return (
    <div>
      <header class="page-head">
        <h1>Evaluations</h1>
        <p class="muted">
          Runs of <code>aragora eval</code> found in the server's data directory (<code>ARAGORA_DATA_DIR/evals</code>): accuracy, tokens and cost per mode on a suite of questions with known answers.
        </p>
      </header>
      {list.isError ? <ErrorNote error={list.error} title="Could not load the evaluation runs" /> : null}
      {list.data ? (
        list.data.runs.length === 0 ? (
          <Empty>
            No evaluation runs yet. Run one with <code>aragora eval --suite arith --agents sim:0.7,sim:0.7,sim:0.7 --n 50</code> on this server's machine.
          </Empty>
        ) : (
          <>
            <div class="table-wrap">
              <table class="table" data-testid="eval-runs">
                <caption class="sr-only">Evaluation runs, most recently written first</caption>
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">Status</th>
                    <th scope="col">Suite</th>
                    <th scope="col">Accuracy per mode</th>
                    <th scope="col" class="num hide-narrow">Questions</th>
                    <th scope="col" class="hide-narrow">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.runs.map((run) => (
                    <tr key={run.name} data-run={run.name}>
                      <td class="task-cell">
                        <Link href={`/evals/${encodeURIComponent(run.name)}`}>{run.name}</Link>
                      </td>
                      <td>
                        <span class="row wrap">
                          <RunStatus status={run.status} />
                          {run.simulated ? <SimulatedBadge /> : null}
                        </span>
                      </td>
                      <td>{run.settings?.suite ?? '—'}</td>
                      <td>
                        <ModeAccuracies run={run} />
                      </td>
                      <td class="num hide-narrow">{run.questions ?? '—'}</td>
                      <td class="hide-narrow">{when(run.updated_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p class="muted small">{plural(list.data.total, 'run')}</p>
            {list.data.total > LIMIT ? (
              <Pager offset={offset} limit={LIMIT} total={list.data.total} onChange={(next) => navigate(next ? `/evals?offset=${next}` : '/evals', { replace: true })} />
            ) : null}
          </>
        )
      ) : list.isPending ? (
        <Spinner />
      ) : null}
    </div>
  );
}
