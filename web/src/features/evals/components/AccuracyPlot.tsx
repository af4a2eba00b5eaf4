/** Accuracy against mean tokens per question, one point per mode with its 95 % interval
 * as a bar: inline SVG drawn from the summary (no image to fetch), titled and described
 * for screen readers; the mode table beside it holds the same figures. */
import { useId } from 'preact/hooks';
import type { EvalModeSummary } from '@/api/types';
import { accuracy } from './numbers';
import { FRAME, MODE_COLOURS, OTHER_COLOUR, plotPoints, scales } from './plot';

const NUDGE = 8; // modes at the same place (sc and vote often are) are set side by side
const LINE = 14;

export function AccuracyPlot({ modes, simulated }: { modes: Record<string, EvalModeSummary>; simulated: boolean }) {
  const id = useId();
  const points = plotPoints(modes);
  if (points.length === 0) return <p class="empty">Nothing to plot yet: no mode has a scored question.</p>;
  const { x, y, xTicks, yTicks } = scales(points);
  const { width, height, left, right, top, bottom } = FRAME;
  const placed: [number, number][] = [];
  const marks = points.map((point) => {
    let px = x(point.tokens);
    const py = y(point.accuracy);
    let nudged = 0;
    while (placed.some(([qx, qy]) => Math.abs(px - qx) < NUDGE && Math.abs(py - qy) < NUDGE)) {
      px += NUDGE;
      nudged += 1;
    }
    placed.push([px, py]);
    return { point, px, py, nudged };
  });
  // Labels beside their points: a point others were set beside is labelled on its left, the
  // others on the right, one a line, so no label covers another.
  const labels = marks.map(({ px, py, nudged }) => {
    const crowded = nudged === 0 && marks.some((m) => m.nudged > 0 && Math.abs(m.py - py) < NUDGE && m.px > px && m.px - px <= NUDGE * m.nudged);
    if (crowded) return { lx: px - 9, ly: py + 4, anchor: 'end' };
    return { lx: px + 9, ly: nudged === 0 ? py - 8 : py + 4 + (nudged - 1) * LINE, anchor: 'start' };
  });
  const description =
    `${simulated ? 'Simulated agents. ' : ''}One point per mode: ` +
    points
      .map((p) => `${p.mode}: ${accuracy(p.accuracy)} accuracy (95% CI ${accuracy(p.low)} to ${accuracy(p.high)}) at ${Math.round(p.tokens).toLocaleString('en-US')} tokens per question`)
      .join('; ') +
    '.';
  return (
    <figure class="eval-plot">
      <svg class="chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${id}-title ${id}-desc`} data-testid="accuracy-plot">
        <title id={`${id}-title`}>Accuracy against mean tokens per question{simulated ? ' (simulated agents)' : ''}</title>
        <desc id={`${id}-desc`}>{description}</desc>
        <g aria-hidden="true">
          {xTicks.map((t) => (
            <g key={`x${t}`}>
              <line class="grid" x1={x(t)} y1={top} x2={x(t)} y2={bottom} />
              <text class="tick" x={x(t)} y={bottom + 18} text-anchor="middle">
                {Math.round(t).toLocaleString('en-US')}
              </text>
            </g>
          ))}
          {yTicks.map((a) => (
            <g key={`y${a}`}>
              <line class="grid" x1={left} y1={y(a)} x2={right} y2={y(a)} />
              <text class="tick" x={left - 6} y={y(a) + 4} text-anchor="end">
                {`${Math.round(a * 100)}%`}
              </text>
            </g>
          ))}
          <line class="axis" x1={left} y1={bottom} x2={right} y2={bottom} />
          <line class="axis" x1={left} y1={top} x2={left} y2={bottom} />
          <text class="axis-label" x={(left + right) / 2} y={height - 14} text-anchor="middle">
            Mean tokens per question
          </text>
          <text class="axis-label" x={-(top + bottom) / 2} y={16} transform="rotate(-90)" text-anchor="middle">
            Accuracy (95% CI)
          </text>
          {marks.map(({ point, px, py }, index) => {
            const { lx, ly, anchor } = labels[index]!;
            const colour = MODE_COLOURS[point.mode] ?? OTHER_COLOUR;
            return (
              <g key={point.mode} class="plot-point" data-mode={point.mode} stroke={colour} fill={colour}>
                <line class="ci" x1={px} y1={y(point.low)} x2={px} y2={y(point.high)} />
                <line class="ci" x1={px - 5} y1={y(point.low)} x2={px + 5} y2={y(point.low)} />
                <line class="ci" x1={px - 5} y1={y(point.high)} x2={px + 5} y2={y(point.high)} />
                <circle cx={px} cy={py} r={5} />
                <text class="point-label" x={lx} y={ly} text-anchor={anchor} stroke="none">
                  {point.mode}
                </text>
              </g>
            );
          })}
        </g>
      </svg>
      <figcaption class="muted small">
        Each point is a mode: its accuracy over the scored questions against the tokens it spent per question; the bar is the 95% bootstrap confidence interval.
      </figcaption>
    </figure>
  );
}
