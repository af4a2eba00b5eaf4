/**
 * What a debate will take before it starts: the range of agent calls the protocol can
 * make, and tokens and cost from that. Calls follow the engine's planner: proposals
 * from every panel member; in `debate` (and `auto` when the answers disagree) a critique
 * and a revision per member per round; a vote per member unless the vote is derived
 * from the answers (vote and single mode, or a single option); one judge call for the
 * judge rule.
 */
export type Mode = 'auto' | 'debate' | 'vote' | 'single';

export interface EstimateInput {
  mode: Mode;
  panel: number;
  rounds: number;
  judge: boolean;
  taskChars: number;
  contextChars: number;
  /** USD per million input and output tokens per agent; `null` when not known. */
  prices: ({ input: number; output: number } | null)[];
}

export interface Estimate {
  minCalls: number;
  maxCalls: number;
  minTokens: number;
  maxTokens: number;
  /** `null` when any agent's price is unknown. */
  minUsd: number | null;
  maxUsd: number | null;
}

/** Rough per-call figures: the prompt's fixed part, and a reply. */
const PROMPT_TOKENS = 250;
const REPLY_TOKENS = 300;

export function estimate(input: EstimateInput): Estimate {
  const n = Math.max(0, input.panel);
  const rounds = Math.max(1, input.rounds);
  const judge = input.judge ? 1 : 0;
  let minCalls: number;
  let maxCalls: number;
  switch (input.mode) {
    case 'single':
      minCalls = n > 0 ? 1 : 0;
      maxCalls = n; // the next member answers when one fails or abstains
      break;
    case 'vote':
      minCalls = n + judge;
      maxCalls = n + judge;
      break;
    case 'debate':
      minCalls = n + 2 * n + judge; // one round, agreed, vote derived
      maxCalls = n + rounds * 2 * n + n + judge;
      break;
    default: // auto: stop after the answers when they agree, else debate
      minCalls = n;
      maxCalls = n + rounds * 2 * n + n + judge;
  }
  const base = PROMPT_TOKENS + Math.ceil((input.taskChars + input.contextChars) / 4);
  // Critiques and revisions read the others' answers: the prompt grows with the panel.
  const perCallMin = base + REPLY_TOKENS;
  const perCallMax = base + REPLY_TOKENS + n * REPLY_TOKENS;
  const minTokens = minCalls * perCallMin;
  const maxTokens = maxCalls * perCallMax;
  const known = input.prices.length > 0 && input.prices.every((p) => p !== null);
  let avg: { input: number; output: number } | null = null;
  if (known) {
    const count = input.prices.length;
    avg = { input: 0, output: 0 };
    for (const price of input.prices) {
      avg.input += price!.input / count;
      avg.output += price!.output / count;
    }
  }
  const usdOf = (calls: number, perCall: number) =>
    avg ? (calls * ((perCall - REPLY_TOKENS) * avg.input + REPLY_TOKENS * avg.output)) / 1_000_000 : null;
  return {
    minCalls,
    maxCalls,
    minTokens,
    maxTokens,
    minUsd: usdOf(minCalls, perCallMin),
    maxUsd: usdOf(maxCalls, perCallMax),
  };
}
