import { render } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { ComparisonTable } from './ComparisonTable';
import { ModeTable } from './ModeTable';
import { SUMMARY, UNSCORED } from './fixtures';

function cells(row: Element): string[] {
  return [...row.children].map((cell) => cell.textContent ?? '');
}

describe('ModeTable', () => {
  it('shows accuracy with its interval and the mean cost of a question, per mode', () => {
    const root = render(<ModeTable modes={{ ...SUMMARY.modes, auto: UNSCORED }} questions={20} caption="Per mode" />).container;
    expect(root.querySelector('caption')!.textContent).toBe('Per mode');
    const headers = [...root.querySelectorAll('thead th')].map((th) => th.textContent);
    expect(headers).toEqual(['Mode', 'Accuracy', '95% CI', 'Tokens', 'Cost', 'Calls', 'Wall', 'Scored']);
    expect(cells(root.querySelector('[data-mode="debate"]')!)).toEqual(['debate', '95.0%', '[85.0%, 100.0%]', '2,589', '$0', '10.3', '5 ms', '20 / 20']);
    expect(cells(root.querySelector('[data-mode="auto"]')!)).toEqual(['auto', '—', '—', '—', '—', '—', '—', '0 / 20']);
    expect(root.querySelector('[data-mode="debate"] th')!.getAttribute('scope')).toBe('row');
  });

  it('counts the failed debates among the scored ones', () => {
    const failed = { ...SUMMARY.modes.single!, failed: 2 };
    const root = render(<ModeTable modes={{ single: failed }} questions={null} caption="x" />).container;
    expect(cells(root.querySelector('[data-mode="single"]')!).at(-1)).toBe('20 (2 failed)');
  });
});

describe('ComparisonTable', () => {
  it('shows each pair with its difference, interval, discordant questions and p-value', () => {
    const root = render(<ComparisonTable comparisons={SUMMARY.comparisons} />).container;
    expect(root.querySelector('caption')!.textContent).toContain("McNemar's exact test");
    const rows = [...root.querySelectorAll('tbody tr')].map(cells);
    expect(rows).toEqual([
      ['single − debate', '−25.0 pp', '[−45.0 pp, −5.0 pp]', '0', '5', '20', '0.0625'],
      ['vote − debate', '−20.0 pp', '[−40.0 pp, ±0.0 pp]', '0', '4', '20', '< 0.0001'],
    ]);
  });

  it('says why there is nothing to compare', () => {
    expect(render(<ComparisonTable comparisons={[]} />).container.textContent).toContain('No comparison');
  });
});
