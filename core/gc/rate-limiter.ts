/**
 * A token bucket for deletes: `qps` tokens per second, burst max(1, qps). `take()` waits for a token (or until the
 * signal aborts). Time is injected for tests.
 */
import { ZwError } from '../api/errors.ts';
import { defaultClock } from '../kube/index.ts';

export class RateLimiter {
  readonly qps: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #tokens: number;
  #last: number;

  constructor(
    qps: number,
    opts: { now?: () => number; sleep?: (ms: number, signal: AbortSignal) => Promise<void> } = {},
  ) {
    if (!(qps > 0) || !Number.isFinite(qps))
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', `rate limiter: qps must be > 0, got ${qps}`);
    this.qps = qps;
    this.burst = Math.max(1, qps);
    this.#now = opts.now ?? (() => performance.now());
    this.#sleep = opts.sleep ?? defaultClock.sleep;
    this.#tokens = this.burst;
    this.#last = this.#now();
  }

  /** Resolves once a token is taken, or at once (without a token) when `signal` aborts. */
  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      const now = this.#now();
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
      this.#last = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await this.#sleep(Math.ceil(((1 - this.#tokens) / this.qps) * 1000), signal);
    }
  }
}
