/** The evals feature: past `aragora eval` runs, their tables and plot. */
export { EvalsPage } from './components/EvalsPage';
export { EvalRunPage } from './components/EvalRunPage';
