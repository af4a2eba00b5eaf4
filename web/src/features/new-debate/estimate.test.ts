import { describe, expect, it } from 'vitest';
import { estimate } from './estimate';

const base = { rounds: 3, judge: false, taskChars: 40, contextChars: 0, prices: [] as ({ input: number; output: number } | null)[] };

describe('estimate', () => {
  it('counts the calls each mode can make', () => {
    expect(estimate({ ...base, mode: 'single', panel: 3 })).toMatchObject({ minCalls: 1, maxCalls: 3 });
    expect(estimate({ ...base, mode: 'vote', panel: 3 })).toMatchObject({ minCalls: 3, maxCalls: 3 });
    // debate: proposals, then per round a critique and a revision each, then votes
    expect(estimate({ ...base, mode: 'debate', panel: 3 })).toMatchObject({ minCalls: 9, maxCalls: 3 + 3 * 6 + 3 });
    expect(estimate({ ...base, mode: 'auto', panel: 3 })).toMatchObject({ minCalls: 3, maxCalls: 24 });
    expect(estimate({ ...base, mode: 'vote', panel: 3, judge: true })).toMatchObject({ minCalls: 4, maxCalls: 4 });
  });

  it('prices only when every agent has a price', () => {
    const free = estimate({ ...base, mode: 'vote', panel: 2, prices: [{ input: 0, output: 0 }, { input: 0, output: 0 }] });
    expect(free.maxUsd).toBe(0);
    const unknown = estimate({ ...base, mode: 'vote', panel: 2, prices: [{ input: 1, output: 2 }, null] });
    expect(unknown.maxUsd).toBeNull();
    const paid = estimate({ ...base, mode: 'vote', panel: 2, prices: [{ input: 3, output: 15 }, { input: 3, output: 15 }] });
    expect(paid.minUsd).toBeGreaterThan(0);
    expect(paid.maxUsd!).toBeGreaterThanOrEqual(paid.minUsd!);
  });
});
