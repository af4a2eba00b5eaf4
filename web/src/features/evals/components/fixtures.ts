/** A summary as `aragora eval --json` printed it for three simulated 0.7 agents (arith,
 * 20 questions), for the components' tests. */
import type { EvalModeSummary, EvalSummary } from '@/api/types';

function mode(accuracy: number, low: number, high: number, tokens: number, calls: number): EvalModeSummary {
  return { accuracy, ci_low: low, ci_high: high, tokens_mean: tokens, cost_usd_mean: 0, calls_mean: calls, wall_mean_s: 0.0046, n_scored: 20, correct: Math.round(accuracy * 20), failed: 0 };
}

export const SUMMARY: EvalSummary = {
  suite: 'arith',
  n: 20,
  seed: 0,
  agents: ['sim:0.7', 'sim:0.7', 'sim:0.7'],
  rounds: null,
  sc_samples: 3,
  modes: {
    single: mode(0.7, 0.5, 0.9, 172.5, 1),
    sc: mode(0.75, 0.55, 0.9, 517.6, 3),
    vote: mode(0.75, 0.55, 0.9, 517.6, 3),
    debate: mode(0.95, 0.85, 1, 2589.1, 10.35),
  },
  comparisons: [
    { a: 'single', b: 'debate', n: 20, accuracy_a: 0.7, accuracy_b: 0.95, diff: -0.25, diff_ci_low: -0.45, diff_ci_high: -0.05, only_a_correct: 0, only_b_correct: 5, test: 'mcnemar_exact', p_value: 0.0625 },
    { a: 'vote', b: 'debate', n: 20, accuracy_a: 0.75, accuracy_b: 0.95, diff: -0.2, diff_ci_low: -0.4, diff_ci_high: 0, only_a_correct: 0, only_b_correct: 4, test: 'mcnemar_exact', p_value: 0.000012 },
  ],
};

export const UNSCORED: EvalModeSummary = {
  accuracy: null,
  ci_low: null,
  ci_high: null,
  tokens_mean: null,
  cost_usd_mean: null,
  calls_mean: null,
  wall_mean_s: null,
  n_scored: 0,
  correct: 0,
  failed: 0,
};
