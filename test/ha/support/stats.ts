import { waitForWith } from '../../support/wait.ts';

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** "n=5 min 812 p50 903 max 1204 ms" */
export function summary(values: number[], unit = 'ms'): string {
  if (values.length === 0) return 'n=0';
  const r = (v: number) => Math.round(v);
  return `n=${values.length} min ${r(Math.min(...values))} p50 ${r(quantile(values, 0.5))} p95 ${r(quantile(values, 0.95))} max ${r(Math.max(...values))} ${unit}`;
}

/** Polls every 50 ms (the HA suite samples fast-moving state). */
export const waitFor = waitForWith({ everyMs: 50 });
