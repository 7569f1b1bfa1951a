/** Durations as the Ingester writes them: `<int>(ms|s|m|h|d)`, e.g. `60s`, `7d`. `0` alone means zero. */
import { ZwError } from '../api/errors.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDurationMs(text: string): number {
  if (text === '0') return 0;
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  if (!m)
    throw new ZwError(
      'ZW_ERR_INVALID_ARGUMENT',
      `invalid duration '${text}': expected <integer><ms|s|m|h|d>, e.g. 60s`,
    );
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}
