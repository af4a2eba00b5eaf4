/** How the eval views write their figures (one decimal where the report has more). */
import type { EvalModeSummary } from '@/api/types';

/** 0.7843 -> "78.4%"; null -> "—". */
export function accuracy(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return `${(value * 100).toFixed(1)}%`;
}

/** The 95 % interval of a mode, "[55.0%, 90.0%]"; "—" when nothing is scored. */
export function interval(row: Pick<EvalModeSummary, 'ci_low' | 'ci_high'>): string {
  if (row.ci_low === null || row.ci_high === null) return '—';
  return `[${accuracy(row.ci_low)}, ${accuracy(row.ci_high)}]`;
}

/** A difference of accuracies in percentage points, signed: +20.0 pp. */
export function points(value: number): string {
  const text = (value * 100).toFixed(1);
  return `${value > 0 ? '+' : value < 0 ? '−' : '±'}${text.replace('-', '')} pp`;
}

/** A p-value as the Markdown report writes it. */
export function pValue(value: number): string {
  return value < 1e-4 ? '< 0.0001' : value.toFixed(4);
}

/** Whether an agent spec is a simulated agent (`sim:ACCURACY...`). */
export function isSimulated(spec: string): boolean {
  return spec.trim().startsWith('sim:');
}
