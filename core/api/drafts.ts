/**
 * For informer plugins whose informers keep only a signature of each report (`InformerOptions.transform`, 1.2.0)
 * and build its drafts again when its scope is reconciled (plugin API 1.3.0). Trivy and Kyverno used to write both
 * themselves:
 *
 * - `DraftStash`: the drafts the transform just mapped, held until the reconcile that uses them, within a budget
 *   (a list of thousands of reports must not hold them all); what is over the budget, or was mapped under another
 *   signature than the one reconciled, is read again (`api.kube.get`) instead.
 * - `RetryBackoff`: a key (a scope) whose reconcile could not run — its report could not be read again — is tried
 *   again after a delay that doubles per failure (1 s to 60 s by default) until an attempt succeeds.
 *
 * Both empty themselves when the run's `signal` aborts. Pure bookkeeping: no API calls, no logging, no metrics.
 */
import { ZwError } from './errors.ts';
import type { ObservationDraft } from './types.ts';

export interface DraftStashOptions {
  /** Drafts held at most, over all keys. 0 holds none (every reconcile reads again). */
  budget: number;
  /** The run's signal: once it aborts, everything held is dropped and nothing more is kept. */
  signal?: AbortSignal;
}

/** Drafts by key (a report), each with the signature it was mapped under, within a budget of drafts. */
export class DraftStash<T = ObservationDraft> {
  readonly #budget: number;
  readonly #signal: AbortSignal | undefined;
  readonly #held = new Map<string, { sig: string; drafts: readonly T[] }>();
  #drafts = 0;

  constructor(options: DraftStashOptions) {
    if (!Number.isFinite(options.budget) || options.budget < 0)
      throw new ZwError(
        'ZW_ERR_INVALID_ARGUMENT',
        `DraftStash: budget must be a number ≥ 0, got ${String(options.budget)}`,
      );
    this.#budget = options.budget;
    this.#signal = options.signal;
    this.#signal?.addEventListener('abort', () => this.clear(), { once: true });
  }

  /**
   * Holds `drafts` for `key` (replacing what it held). False when they are not held: over the budget, or the
   * signal aborted — the reconcile then reads the report again.
   */
  put(key: string, sig: string, drafts: readonly T[]): boolean {
    this.drop(key);
    if (this.#signal?.aborted || this.#drafts + drafts.length > this.#budget) return false;
    this.#held.set(key, { sig, drafts });
    this.#drafts += drafts.length;
    return true;
  }

  /** Removes what `key` holds; its drafts if they were mapped under `sig`, else undefined (read them again). */
  take(key: string, sig: string): readonly T[] | undefined {
    const held = this.#held.get(key);
    if (!held) return undefined;
    this.drop(key);
    return held.sig === sig ? held.drafts : undefined;
  }

  /** Removes what `key` holds (its report went away, or did not change and needs no reconcile). */
  drop(key: string): void {
    const held = this.#held.get(key);
    if (!held) return;
    this.#held.delete(key);
    this.#drafts -= held.drafts.length;
  }

  clear(): void {
    this.#held.clear();
    this.#drafts = 0;
  }

  /** Drafts held now. */
  get drafts(): number {
    return this.#drafts;
  }
}

export interface RetryBackoffOptions {
  /** Called for a key once its delay passed (not after the signal aborted). */
  retry: (key: string) => void;
  /** The run's signal: once it aborts, every armed retry is cancelled and none is armed any more. */
  signal: AbortSignal;
  /** Default 1 000. */
  initialMs?: number;
  /** Default 60 000. */
  maxMs?: number;
}

/** Retries by key with a delay doubling per failure; an attempt starting for a key cancels its armed retry. */
export class RetryBackoff {
  readonly #retry: (key: string) => void;
  readonly #signal: AbortSignal;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #armed = new Map<string, { timer: ReturnType<typeof setTimeout>; delayMs: number }>();

  constructor(options: RetryBackoffOptions) {
    this.#retry = options.retry;
    this.#signal = options.signal;
    this.#initialMs = options.initialMs ?? 1_000;
    this.#maxMs = options.maxMs ?? 60_000;
    if (!(this.#initialMs > 0) || !(this.#maxMs >= this.#initialMs))
      throw new ZwError(
        'ZW_ERR_INVALID_ARGUMENT',
        `RetryBackoff: needs 0 < initialMs ≤ maxMs (got ${this.#initialMs}, ${this.#maxMs})`,
      );
    this.#signal.addEventListener(
      'abort',
      () => {
        for (const a of this.#armed.values()) clearTimeout(a.timer);
        this.#armed.clear();
      },
      { once: true },
    );
  }

  /**
   * An attempt for `key` starts now: its armed retry (if any) is cancelled. Returns that retry's delay (0 if none),
   * to pass to `later` should this attempt fail too.
   */
  cancel(key: string): number {
    const a = this.#armed.get(key);
    if (!a) return 0;
    clearTimeout(a.timer);
    this.#armed.delete(key);
    return a.delayMs;
  }

  /**
   * The attempt for `key` failed: retry it after `previousMs` × 2 (the initial delay when 0), at most `maxMs`. Does
   * nothing when a retry of `key` is armed already or the signal aborted.
   */
  later(key: string, previousMs = 0): void {
    if (this.#signal.aborted || this.#armed.has(key)) return;
    const delayMs = Math.min(this.#maxMs, previousMs > 0 ? previousMs * 2 : this.#initialMs);
    // The entry stays until the key's next attempt (`cancel`), which doubles the delay if it fails again.
    const timer = setTimeout(() => {
      if (!this.#signal.aborted) this.#retry(key);
    }, delayMs);
    timer.unref?.();
    this.#armed.set(key, { timer, delayMs });
  }

  /** Keys with a retry armed. */
  get size(): number {
    return this.#armed.size;
  }
}
