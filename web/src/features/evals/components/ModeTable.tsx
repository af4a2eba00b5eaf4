/** Per mode: accuracy with its 95 % interval, and what a question cost on average. */
import type { EvalModeSummary } from '@/api/types';
import { seconds, usd } from '@/lib/format';
import { accuracy, interval } from './numbers';

export function ModeTable({ modes, questions, caption }: { modes: Record<string, EvalModeSummary>; questions: number | null; caption: string }) {
  return (
    <div class="table-wrap">
      <table class="table eval-table" data-testid="mode-table">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Mode</th>
            <th scope="col" class="num">Accuracy</th>
            <th scope="col" class="num">95% CI</th>
            <th scope="col" class="num">Tokens</th>
            <th scope="col" class="num">Cost</th>
            <th scope="col" class="num">Calls</th>
            <th scope="col" class="num">Wall</th>
            <th scope="col" class="num">Scored</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(modes).map(([mode, row]) => (
            <tr key={mode} data-mode={mode}>
              <th scope="row">{mode}</th>
              <td class="num">{accuracy(row.accuracy)}</td>
              <td class="num">{interval(row)}</td>
              <td class="num">{row.tokens_mean === null ? '—' : Math.round(row.tokens_mean).toLocaleString('en-US')}</td>
              <td class="num">{usd(row.cost_usd_mean)}</td>
              <td class="num">{row.calls_mean === null ? '—' : row.calls_mean.toFixed(1)}</td>
              <td class="num">{seconds(row.wall_mean_s)}</td>
              <td class="num">
                {row.n_scored.toLocaleString('en-US')}
                {questions !== null ? ` / ${questions.toLocaleString('en-US')}` : ''}
                {row.failed ? <span class="muted"> ({row.failed} failed)</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
