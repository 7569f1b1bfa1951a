/** Exponential backoff with jitter (pure; `random` is injected). initial × 2^n, capped at max, ± jitter. */
import { ZwError } from '../api/errors.ts';
export interface BackoffOptions {
  /** Default 500 ms. */
  initialMs?: number;
  /** Default 30 000 ms. */
  maxMs?: number;
  /** Fraction of the delay drawn at random either way, 0..1. Default 0.2 (so 400..600 ms for the first). */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly jitter: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 500;
    this.maxMs = opts.maxMs ?? 30_000;
    this.jitter = opts.jitter ?? 0.2;
    this.#random = opts.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs)) {
      throw new ZwError(
        'ZW_ERR_INVALID_ARGUMENT',
        `backoff: need 0 < initialMs <= maxMs, got ${this.initialMs}, ${this.maxMs}`,
      );
    }
    if (!(this.jitter >= 0 && this.jitter <= 1))
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', `backoff: jitter must be in [0, 1]`);
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    const spread = base * this.jitter * (this.#random() * 2 - 1);
    return Math.max(0, Math.min(this.maxMs, Math.round(base + spread)));
  }

  reset(): void {
    this.#failures = 0;
  }
}
