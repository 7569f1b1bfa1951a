/**
 * Readiness and the read index at start (ADR 0033). In kubernetes mode a deduplicated Ingester with a window asks
 * the read index, for every new finding, whether the previous dedup bucket already holds it (ADR 0027). A replica
 * whose index is still making its first list of the cluster's Observations answers that question with a GET per
 * finding instead, while the API server serves the list too: a burst to a replica started next to ~20,000
 * Observations took 11–13 s instead of 5–7 (docs/BENCHMARKS.md, issue #18 seventh round).
 *
 * So the index starts with such an Ingester, and at start `/readyz` waits for its first list, as a client-go
 * controller waits for its caches: the Service sends webhooks to the replicas that are ready meanwhile. The wait is
 * bounded (ZEN_READY_INDEX_WAIT_SECONDS): past it the replica is ready anyway and asks the API until the list ends,
 * which is correct, only slower. It applies once, at start: a replica that was ready never leaves the Service for
 * its index (an Ingester added later, or a relist, only starts or refreshes it).
 */

import type { CompiledIngester } from '../pipeline/pipeline.ts';
import type { Logger } from '../telemetry/logger.ts';

/** True when this Ingester's writes ask about the previous dedup bucket (pipeline #toObservation). */
export function asksPreviousBucket(ci: CompiledIngester): boolean {
  return ci.dedupEnabled && ci.windowMs > 0;
}

export interface IndexReadiness {
  /** Why the replica is not ready yet because of the index, or undefined. */
  waiting(): string | undefined;
}

/** `waitMs` 0 or `needed` false: never waits. */
export function indexReadiness(o: {
  needed: boolean;
  waitMs: number;
  synced: () => boolean;
  size: () => number;
  log: Logger;
  now?: () => number;
}): IndexReadiness {
  const now = o.now ?? (() => performance.now());
  const since = now();
  let done = !o.needed || o.waitMs <= 0;
  return {
    waiting() {
      if (done) return undefined;
      const waited = now() - since;
      if (o.synced()) {
        done = true;
        o.log.info(
          { observations: o.size(), seconds: Math.round(waited) / 1000 },
          'read index synced: ready for deduplicated webhooks',
        );
        return undefined;
      }
      if (waited >= o.waitMs) {
        done = true;
        o.log.warn(
          { listed: o.size(), waitSeconds: o.waitMs / 1000 },
          'read index not synced within ZEN_READY_INDEX_WAIT_SECONDS: ready anyway; until it is, the previous dedup bucket of each new finding is read from the API',
        );
        return undefined;
      }
      return `read index: listing the cluster's Observations (${o.size()} so far; ready once synced, at most ${o.waitMs / 1000} s after start, ZEN_READY_INDEX_WAIT_SECONDS)`;
    },
  };
}
