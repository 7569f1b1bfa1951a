/**
 * Adaptive pacing of the Kubernetes sink's writes (issue #18 item 2). A token bucket whose rate follows the API
 * server's own priority-and-fairness signal — an HTTP 429 (Retry-After) — by AIMD, below a configured ceiling:
 *
 * - it starts at the ceiling (ZEN_KUBE_WRITE_QPS), so a burst is served as fast as the API server admits it;
 * - a 429 halves the rate (never below `floorQps`), at most once per `decreaseIntervalMs`, so the 429s of one
 *   overload episode count once; for the Retry-After the server asked, no new request starts (the requests that got
 *   the 429 wait that long anyway, and sending others into a saturated priority level only earns more 429s);
 * - every admitted write raises the rate by `increaseQps / rate`, i.e. about `increaseQps` per second of writes at
 *   that rate, back up to the ceiling.
 *
 * Time is passed in (`now`), so the arithmetic is testable without timers.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WritePacerOptions {
  /** The most writes per second this replica ever sends (ZEN_KUBE_WRITE_QPS). */
  ceilingQps: number;
  /** Bucket size (ZEN_KUBE_WRITE_BURST). */
  burst: number;
  /** The least the rate falls to under 429s (default 1, or the ceiling if lower). */
  floorQps?: number;
  /** Rate gained per second of admitted writes (default 10 % of the ceiling, at least 1). */
  increaseQps?: number;
  /** At most one halving per this interval (default 1000 ms). */
  decreaseIntervalMs?: number;
  now?: () => number;
}

export class AdaptiveWritePacer {
  readonly ceiling: number;
  readonly burst: number;
  readonly #floor: number;
  readonly #increase: number;
  readonly #decreaseInterval: number;
  readonly #now: () => number;
  #rate: number;
  #tokens: number;
  #last: number;
  #lastDecrease = Number.NEGATIVE_INFINITY;
  /** No new request before this time (the server's Retry-After). */
  #holdUntil = 0;
  #throttled = 0;

  constructor(o: WritePacerOptions) {
    if (!(o.ceilingQps > 0) || !(o.burst >= 1)) throw new Error('write pacer: ceilingQps > 0 and burst >= 1 needed');
    this.ceiling = o.ceilingQps;
    this.burst = o.burst;
    this.#floor = Math.min(o.floorQps ?? 1, this.ceiling);
    this.#increase = o.increaseQps ?? Math.max(1, this.ceiling * 0.1);
    this.#decreaseInterval = o.decreaseIntervalMs ?? 1000;
    this.#now = o.now ?? Date.now;
    this.#rate = this.ceiling;
    this.#tokens = this.burst;
    this.#last = this.#now();
  }

  /** The current rate (writes per second). */
  get rate(): number {
    return this.#rate;
  }

  /** 429 answers seen so far. */
  get throttled(): number {
    return this.#throttled;
  }

  #refill(now: number) {
    if (now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
      this.#last = now;
    }
  }

  /** Milliseconds until a request may start (0: take a token now with `take`). */
  waitMs(now = this.#now()): number {
    if (now < this.#holdUntil) return this.#holdUntil - now;
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#rate) * 1000);
  }

  /** Take a token if one is there. */
  take(now = this.#now()): boolean {
    if (this.waitMs(now) > 0) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Wait for a token and take it. */
  async acquire(): Promise<void> {
    for (;;) {
      const wait = this.waitMs();
      if (wait === 0 && this.take()) return;
      await sleep(Math.max(wait, 1));
    }
  }

  /** The API server admitted a request (any answer but 429): additive increase. */
  admitted(): void {
    if (this.#rate < this.ceiling) {
      this.#refill(this.#now());
      this.#rate = Math.min(this.ceiling, this.#rate + this.#increase / this.#rate);
    }
  }

  /** The API server answered 429 (priority and fairness, or --max-requests-inflight): multiplicative decrease. */
  throttledBy(retryAfterSeconds?: number): void {
    const now = this.#now();
    this.#throttled++;
    if (retryAfterSeconds !== undefined && retryAfterSeconds > 0) {
      this.#holdUntil = Math.max(this.#holdUntil, now + Math.min(retryAfterSeconds, 30) * 1000);
    }
    if (now - this.#lastDecrease < this.#decreaseInterval) return;
    this.#lastDecrease = now;
    this.#refill(now);
    this.#rate = Math.max(this.#floor, this.#rate / 2);
    // The bucket's saved-up burst was sized for the old rate: drop it, so the decrease takes effect at once.
    this.#tokens = Math.min(this.#tokens, 1);
  }
}
