import { describe, expect, it } from 'vitest';
import { FRAME, nice, plotPoints, scales } from './plot';
import { SUMMARY, UNSCORED } from './fixtures';

describe('the plot layout', () => {
  it('plots every scored mode and skips one with nothing scored', () => {
    const points = plotPoints({ ...SUMMARY.modes, auto: UNSCORED });
    expect(points.map((p) => p.mode)).toEqual(['single', 'sc', 'vote', 'debate']);
    expect(points[3]).toEqual({ mode: 'debate', accuracy: 0.95, low: 0.85, high: 1, tokens: 2589.1 });
  });

  it('rounds the axes as the CLI plot does', () => {
    expect([nice(0), nice(1), nice(1.2), nice(2848.01), nice(9000), nice(11)]).toEqual([1, 1, 1.5, 3000, 10000, 15]);
    const s = scales(plotPoints(SUMMARY.modes));
    expect(s.xMax).toBe(3000); // 2589.1 tokens * 1.1, rounded up
    expect(s.yLow).toBe(0.5);
    expect(s.yHigh).toBe(1);
    expect(s.x(0)).toBe(FRAME.left);
    expect(s.x(3000)).toBe(FRAME.right);
    expect(s.y(0.5)).toBe(FRAME.bottom);
    expect(s.y(1)).toBe(FRAME.top);
    expect(s.y(0.75)).toBeCloseTo((FRAME.top + FRAME.bottom) / 2);
    expect(s.xTicks).toEqual([0, 600, 1200, 1800, 2400, 3000]);
    expect(s.yTicks[0]).toBe(0.5);
    expect(s.yTicks[5]).toBe(1);
  });

  it('keeps a tenth of the scale when every interval is one value', () => {
    const all = { ...UNSCORED, accuracy: 1, ci_low: 1, ci_high: 1, tokens_mean: 100, n_scored: 5, correct: 5 };
    const s = scales(plotPoints({ single: all }));
    expect(s.yHigh - s.yLow).toBeCloseTo(0.1);
    expect(s.yHigh).toBeCloseTo(1);
    expect(Number.isFinite(s.y(1))).toBe(true);
  });
});
