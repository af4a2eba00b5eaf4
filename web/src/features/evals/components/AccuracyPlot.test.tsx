import { render } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { AccuracyPlot } from './AccuracyPlot';
import { SUMMARY, UNSCORED } from './fixtures';
import { scales, plotPoints } from './plot';

function plot(simulated = true, modes = SUMMARY.modes) {
  return render(<AccuracyPlot modes={modes} simulated={simulated} />).container as HTMLElement;
}

describe('AccuracyPlot', () => {
  it('is an image named by its title and described by its figures', () => {
    const svg = plot().querySelector('svg')!;
    expect(svg.getAttribute('role')).toBe('img');
    const [titleId, descId] = svg.getAttribute('aria-labelledby')!.split(' ');
    const title = svg.querySelector('title')!;
    const desc = svg.querySelector('desc')!;
    expect(title.id).toBe(titleId);
    expect(desc.id).toBe(descId);
    expect(title.textContent).toBe('Accuracy against mean tokens per question (simulated agents)');
    expect(desc.textContent).toContain('Simulated agents.');
    expect(desc.textContent).toContain('debate: 95.0% accuracy (95% CI 85.0% to 100.0%) at 2,589 tokens per question');
    expect(desc.textContent).toContain('single: 70.0% accuracy (95% CI 50.0% to 90.0%) at 173 tokens per question');
  });

  it('labels both axes and does not call real agents simulated', () => {
    const root = plot(false);
    const labels = [...root.querySelectorAll('.axis-label')].map((t) => t.textContent);
    expect(labels).toEqual(['Mean tokens per question', 'Accuracy (95% CI)']);
    expect(root.querySelector('title')!.textContent).toBe('Accuracy against mean tokens per question');
    expect(root.querySelector('desc')!.textContent).not.toContain('imulated');
    const ticks = [...root.querySelectorAll('.tick')].map((t) => t.textContent);
    expect(ticks).toContain('3,000');
    expect(ticks).toContain('50%');
    expect(ticks).toContain('100%');
  });

  it('draws each mode at its accuracy and tokens with its interval as a bar', () => {
    const root = plot();
    const s = scales(plotPoints(SUMMARY.modes));
    const debate = root.querySelector('[data-mode="debate"]')!;
    const circle = debate.querySelector('circle')!;
    expect(Number(circle.getAttribute('cx'))).toBeCloseTo(s.x(2589.1));
    expect(Number(circle.getAttribute('cy'))).toBeCloseTo(s.y(0.95));
    const bar = debate.querySelector('line.ci')!;
    expect(Number(bar.getAttribute('y1'))).toBeCloseTo(s.y(0.85));
    expect(Number(bar.getAttribute('y2'))).toBeCloseTo(s.y(1));
    expect(debate.querySelector('text')!.textContent).toBe('debate');
    // sc and vote have the same figures: set side by side, not one hidden under the other.
    const sc = Number(root.querySelector('[data-mode="sc"] circle')!.getAttribute('cx'));
    const vote = Number(root.querySelector('[data-mode="vote"] circle')!.getAttribute('cx'));
    expect(vote - sc).toBeGreaterThanOrEqual(8);
    // ... and labelled on either side of the pair, so neither label covers the other.
    const scLabel = root.querySelector('[data-mode="sc"] text')!;
    const voteLabel = root.querySelector('[data-mode="vote"] text')!;
    expect(scLabel.getAttribute('text-anchor')).toBe('end');
    expect(Number(scLabel.getAttribute('x'))).toBeLessThan(sc);
    expect(voteLabel.getAttribute('text-anchor')).toBe('start');
    expect(Number(voteLabel.getAttribute('x'))).toBeGreaterThan(vote);
  });

  it('says so when nothing is scored yet', () => {
    const root = plot(true, { single: UNSCORED });
    expect(root.querySelector('svg')).toBeNull();
    expect(root.textContent).toContain('Nothing to plot yet');
  });
});
