/** The leader's resolution loop: resolves findings whose grace period passed, until the term ends (DESIGN §8). */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../telemetry/logger.ts';
import type { Resolver } from './resolver.ts';

/** On the leader: resolve findings whose grace period has passed, until the term ends. */
export async function resolveLoop(
  resolver: Resolver,
  signal: AbortSignal,
  log: Logger,
  tickMs: number,
  pending: (n: number) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const n = await resolver.tick(signal);
      if (n > 0) log.info({ resolved: n }, 'resolved findings no longer reported');
    } catch (err) {
      if (!signal.aborted) log.warn({ err: (err as Error).message }, 'resolving findings failed; retrying');
    }
    pending(resolver.pending);
    await sleep(tickMs, undefined, { signal }).catch(() => {});
  }
  pending(0); // the missing-since clocks live in the term: a follower holds none
}
