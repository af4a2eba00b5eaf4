/** The layout of the accuracy-against-tokens plot: the same axes as the PNG the CLI
 * writes (`aragora/eval/plot.py`): tokens from 0 to a round number past the largest mean,
 * accuracy from the tenth below the lowest interval to the tenth above the highest. */
import type { EvalModeSummary } from '@/api/types';

export interface PlotPoint {
  mode: string;
  accuracy: number;
  low: number;
  high: number;
  tokens: number;
}

/** The colours of the CLI's plot (Okabe–Ito), so both figures read alike. */
export const MODE_COLOURS: Record<string, string> = {
  single: '#787878',
  sc: '#0072b2',
  vote: '#009e73',
  debate: '#d55e00',
  auto: '#cc79a7',
};
export const OTHER_COLOUR = '#555555';

/** The modes with something to plot (no scored question: no point), in summary order. */
export function plotPoints(modes: Record<string, EvalModeSummary>): PlotPoint[] {
  const found: PlotPoint[] = [];
  for (const [mode, row] of Object.entries(modes)) {
    const { accuracy, ci_low: low, ci_high: high, tokens_mean: tokens } = row;
    if (accuracy === null || low === null || high === null || tokens === null) continue;
    found.push({ mode, accuracy, low, high, tokens });
  }
  return found;
}

/** The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k) at least `value`. */
export function nice(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const FRAME: Frame = { width: 640, height: 400, left: 64, right: 616, top: 20, bottom: 340 };

export interface Scales {
  xMax: number;
  yLow: number;
  yHigh: number;
  x: (tokens: number) => number;
  y: (accuracy: number) => number;
  xTicks: number[];
  yTicks: number[];
}

export function scales(points: PlotPoint[], frame: Frame = FRAME): Scales {
  const xMax = nice(Math.max(...points.map((p) => p.tokens), 1) * 1.1);
  let yLow = Math.floor(Math.min(...points.map((p) => p.low), 1) * 10) / 10;
  let yHigh = Math.min(1, Math.ceil(Math.max(...points.map((p) => p.high), 0) * 10) / 10);
  if (yHigh - yLow < 0.1) {
    // One value (all right, or all wrong): a tenth of the scale.
    yLow = Math.max(0, yHigh - 0.1);
    yHigh = yLow + 0.1;
  }
  const x = (tokens: number) => frame.left + ((frame.right - frame.left) * tokens) / xMax;
  const y = (accuracy: number) => frame.bottom - ((frame.bottom - frame.top) * (accuracy - yLow)) / (yHigh - yLow);
  const steps = [0, 1, 2, 3, 4, 5];
  return {
    xMax,
    yLow,
    yHigh,
    x,
    y,
    xTicks: steps.map((i) => (xMax * i) / 5),
    yTicks: steps.map((i) => yLow + ((yHigh - yLow) * i) / 5),
  };
}
