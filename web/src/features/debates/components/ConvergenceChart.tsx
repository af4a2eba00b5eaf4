/** Per-round convergence as a small SVG line chart, with the threshold the protocol stops
 * at; the same figures as a table for screen readers. */
import { Card } from '@/components/ui';
import { percent } from '@/lib/format';
import type { ConvergencePoint } from '../live/fold';

export function ConvergenceChart({ points, threshold }: { points: ConvergencePoint[]; threshold: number | null }) {
  if (points.length === 0) return null;
  const width = 280;
  const height = 120;
  const pad = 24;
  const n = Math.max(points.length, 2);
  const x = (i: number) => pad + (i * (width - pad * 2)) / (n - 1);
  const y = (v: number) => height - pad - v * (height - pad * 2);
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(p.similarity).toFixed(1)}`).join(' ');
  const summary = points.map((p) => `round ${p.round}: ${percent(p.similarity)}${p.converged ? ' (converged)' : ''}`).join('; ');
  return (
    <Card title="Convergence" id="convergence">
      <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Convergence per round: ${summary}`}>
        <line class="axis" x1={pad} y1={y(0)} x2={width - pad} y2={y(0)} />
        <line class="axis" x1={pad} y1={y(1)} x2={width - pad} y2={y(1)} />
        {threshold !== null ? <line class="threshold" x1={pad} y1={y(threshold)} x2={width - pad} y2={y(threshold)} /> : null}
        <text class="tick" x={2} y={y(1) + 4}>
          100%
        </text>
        <text class="tick" x={8} y={y(0) + 4}>
          0%
        </text>
        <path class="line" d={path} />
        {points.map((p, i) => (
          <g key={p.seq}>
            <circle class={p.converged ? 'dot converged' : 'dot'} cx={x(i)} cy={y(p.similarity)} r={4} />
            <text class="tick" x={x(i) - 4} y={height - 6}>
              {p.round}
            </text>
          </g>
        ))}
      </svg>
      <table class="sr-only">
        <caption>Convergence per round</caption>
        <tbody>
          {points.map((p) => (
            <tr key={p.seq}>
              <th scope="row">Round {p.round}</th>
              <td>{percent(p.similarity)}</td>
              <td>{p.converged ? 'converged' : p.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {threshold !== null ? <p class="muted small">Dashed line: the {percent(threshold)} threshold at which the debate stops early.</p> : null}
    </Card>
  );
}
