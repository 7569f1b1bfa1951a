/**
 * Replay protection for HMAC webhooks signed over `<timestamp>.<body>`. A signature is *claimed* while its request
 * runs (a concurrent copy is refused), *accepted* — recorded as used until its timestamp leaves the tolerance
 * window — only when the request was answered 2xx, and *released* otherwise, so a sender's honest retry after a
 * 4xx/5xx is not taken for a replay.
 *
 * Where used signatures live is a UsedSignatures store: in memory (per process; Kubernetes mode, where a replay
 * on another replica or after a restart lands on the same deterministic Observation name and is a duplicate, see
 * docs/adr/0012-webhook-replay-protection.md), or on disk next to the standalone store (core/sinks/used-signatures.ts),
 * so protection survives a restart. Keys are hashes of (Ingester, signature): no signature is stored as sent.
 */
import { createHash } from 'node:crypto';

export interface UsedSignatures {
  /** True when `key` was accepted and its record has not expired at `now` (ms). */
  has(key: string, now: number): boolean;
  /** Records `key` as used until `expiresAt` (ms). */
  add(key: string, expiresAt: number, now: number): void;
  close?(): void;
}

/** Bounded in-memory store: expired entries go first; past `max` the oldest go (a replay then fails on time only). */
export class MemoryUsedSignatures implements UsedSignatures {
  readonly #seen = new Map<string, number>();
  readonly #max: number;
  constructor(max = 100_000) {
    this.#max = max;
  }
  has(key: string, now: number): boolean {
    const exp = this.#seen.get(key);
    return exp !== undefined && exp > now;
  }
  add(key: string, expiresAt: number, now: number): void {
    for (const [k, exp] of this.#seen) {
      if (exp > now && this.#seen.size < this.#max) break;
      this.#seen.delete(k);
    }
    this.#seen.set(key, expiresAt);
  }
}

/** Opens the real store on first use: no file for hosts without timestamped HMAC, and an open error is a 503. */
export function lazyUsedSignatures(open: () => UsedSignatures): UsedSignatures {
  let store: UsedSignatures | undefined;
  const get = () => {
    store ??= open();
    return store;
  };
  return {
    has: (key, now) => get().has(key, now),
    add: (key, expiresAt, now) => get().add(key, expiresAt, now),
    close: () => store?.close?.(),
  };
}

export interface ReplayClaim {
  /** The request succeeded (2xx): the signature is used from now on. */
  accept(): void;
  /** The request failed: the same signed request may be sent again. */
  release(): void;
}

export class ReplayGuard {
  readonly #store: UsedSignatures;
  readonly #inflight = new Set<string>();
  readonly #onError: (err: unknown) => void;
  /** `onError`: recording a used signature failed (e.g. a full disk); the request has already succeeded. */
  constructor(store: UsedSignatures = new MemoryUsedSignatures(), onError: (err: unknown) => void = () => {}) {
    this.#store = store;
    this.#onError = onError;
  }

  /** undefined when the signature is used or a request with it is still running (a replay); else a claim. */
  claim(scope: string, signature: string, expiresAt: number, now: number): ReplayClaim | undefined {
    const key = createHash('sha256').update(`${scope}\n${signature}`).digest('hex');
    // A store that cannot be read refuses (the caller answers 503): accepting could let a replay through.
    if (this.#inflight.has(key) || this.#store.has(key, now)) return undefined;
    this.#inflight.add(key);
    let done = false;
    return {
      accept: () => {
        if (done) return;
        done = true;
        this.#inflight.delete(key);
        try {
          this.#store.add(key, expiresAt, Date.now());
        } catch (err) {
          this.#onError(err);
        }
      },
      release: () => {
        if (done) return;
        done = true;
        this.#inflight.delete(key);
      },
    };
  }

  close(): void {
    this.#store.close?.();
  }
}
