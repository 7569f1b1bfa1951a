/** What every benchmark part gets: the report, durations (full or --quick), and shared counters. */
import type { Report } from './report.ts';

export interface BenchContext {
  report: Report;
  quick: boolean;
  /** Full-run value, or the --quick one. */
  pick<T>(full: T, quick: T): T;
  /** A fresh range of distinct-alert numbers, so no two runs send the same alert. */
  nextOffset(): number;
}

export function createContext(report: Report, quick: boolean): BenchContext {
  let offset = 0;
  return {
    report,
    quick,
    pick: (full, q) => (quick ? q : full),
    nextOffset: () => (offset += 10_000_000),
  };
}

/** The element with the median value of `key` (the lower middle for an even count). */
export function median<T>(items: readonly T[], key: (t: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
