/** Small helpers for the HA suites' measurements. */
import { setTimeout as sleep } from 'node:timers/promises';

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

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}
