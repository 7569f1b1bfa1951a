/**
 * Polling until a condition holds, for tests and scripts that wait on real processes and a real API server.
 * `fn` returns the value to wait for, or `undefined` / `false` to keep waiting; errors it throws count as "not
 * yet" and the last one is quoted if time runs out.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitDefaults {
  /** Default 20 000. */
  timeoutMs?: number;
  /** Default 100. */
  everyMs?: number;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 100,
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

/** `waitFor` with other defaults, for a file whose waits are all slower (e.g. 30 s against a busy API server). */
export function waitForWith(defaults: WaitDefaults): typeof waitFor {
  return (what, fn, timeoutMs = defaults.timeoutMs ?? 20_000, everyMs = defaults.everyMs ?? 100) =>
    waitFor(what, fn, timeoutMs, everyMs);
}
