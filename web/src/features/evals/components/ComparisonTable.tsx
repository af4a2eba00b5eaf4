/** Paired comparisons of modes on the questions both scored: the accuracy difference with
 * its 95 % paired-bootstrap interval, the discordant questions, McNemar's exact p. */
import type { EvalComparison } from '@/api/types';
import { points, pValue } from './numbers';

export function ComparisonTable({ comparisons }: { comparisons: EvalComparison[] }) {
  if (comparisons.length === 0) return <p class="empty">No comparison: the run has one mode, or no question scored in two.</p>;
  return (
    <>
      <p class="muted small">Each pair of modes on the questions both scored: the difference of their accuracies in percentage points with its 95% paired-bootstrap interval, the questions only one of them got right, and McNemar's exact p-value.</p>
      <div class="table-wrap">
        <table class="table eval-table" data-testid="comparison-table">
          <caption class="sr-only">Paired comparisons of modes (McNemar's exact test; 95% paired-bootstrap CI of the difference)</caption>
          <thead>
            <tr>
              <th scope="col">A − B</th>
              <th scope="col" class="num">Difference</th>
              <th scope="col" class="num">95% CI</th>
              <th scope="col" class="num">Only A right</th>
              <th scope="col" class="num">Only B right</th>
              <th scope="col" class="num">Questions</th>
              <th scope="col" class="num">p</th>
            </tr>
          </thead>
          <tbody>
            {comparisons.map((c) => (
              <tr key={`${c.a}-${c.b}`}>
                <th scope="row">
                  {c.a} − {c.b}
                </th>
                <td class="num">{points(c.diff)}</td>
                <td class="num">
                  [{points(c.diff_ci_low)}, {points(c.diff_ci_high)}]
                </td>
                <td class="num">{c.only_a_correct}</td>
                <td class="num">{c.only_b_correct}</td>
                <td class="num">{c.n}</td>
                <td class="num">{pValue(c.p_value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
