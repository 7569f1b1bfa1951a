/** A token bucket: `rate` tokens per second up to `burst`. Time is passed in, so tests need no timers. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly rate: number;
  readonly burst: number;

  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  #refill(now: number) {
    if (now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
      this.#last = now;
    }
  }

  /** Take n tokens if available. */
  tryTake(now: number, n = 1): boolean {
    this.#refill(now);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Take n tokens even if that leaves a debt (already-accepted work must not be dropped). */
  forceTake(now: number, n = 1): void {
    this.#refill(now);
    this.#tokens -= n;
  }

  /** Milliseconds until n tokens are available (0 = now). */
  waitMs(now: number, n = 1): number {
    this.#refill(now);
    return this.#tokens >= n ? 0 : Math.ceil(((n - this.#tokens) / this.rate) * 1000);
  }
}
