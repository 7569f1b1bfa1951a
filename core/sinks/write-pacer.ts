/**
 * Adaptive pacing of the Kubernetes sink's writes (issue #18 item 2). Two limits, both checked before a request
 * is sent:
 *
 * - a rate ceiling: a token bucket at ZEN_KUBE_WRITE_QPS (burst ZEN_KUBE_WRITE_BURST), the most this replica
 *   ever sends, whatever the API server says;
 * - a concurrency window that follows the API server's own priority-and-fairness signal, an HTTP 429, by AIMD.
 *   API priority and fairness hands out seats (concurrent requests), so the window is what adapts: it starts at
 *   `initialWindow`, a 429 halves it (never below 1), and only once per round trip: a 429 for a request that was
 *   sent before the last decrease counts no more (one overload episode is one decrease, like TCP's congestion
 *   window); each admitted request while the window was full widens it by 1/window, i.e. by one per window's
 *   worth of writes, up to `maxWindow`.
 *
 * A burst is therefore sent as fast as the API server admits it (no fixed client-side QPS), and a busy priority
 * level slows it down to what the level serves. The request that got the 429 itself waits for its Retry-After.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ZwError } from '../api/index.ts';

export interface WritePacerOptions {
  /** The most writes per second this replica ever sends (ZEN_KUBE_WRITE_QPS). */
  ceilingQps: number;
  /** Bucket size (ZEN_KUBE_WRITE_BURST). */
  burst: number;
  /** Concurrent requests at the start (default 16). */
  initialWindow?: number;
  /** Most concurrent requests (default 256). */
  maxWindow?: number;
  now?: () => number;
}

/** One request's permission to be sent; give it back with `done`. */
export interface WriteTicket {
  readonly epoch: number;
}

export class AdaptiveWritePacer {
  readonly ceiling: number;
  readonly burst: number;
  readonly maxWindow: number;
  readonly #now: () => number;
  #window: number;
  #inFlight = 0;
  #epoch = 0;
  #tokens: number;
  #last: number;
  #throttled = 0;
  #delayed = 0;
  #narrowest: number;
  #waiters: (() => void)[] = [];

  constructor(o: WritePacerOptions) {
    if (!(o.ceilingQps > 0) || !(o.burst >= 1))
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'write pacer: ceilingQps > 0 and burst >= 1 needed');
    this.ceiling = o.ceilingQps;
    this.burst = o.burst;
    this.maxWindow = Math.max(1, o.maxWindow ?? 256);
    this.#window = Math.min(this.maxWindow, Math.max(1, o.initialWindow ?? 16));
    this.#narrowest = this.#window;
    this.#now = o.now ?? Date.now;
    this.#tokens = this.burst;
    this.#last = this.#now();
  }

  /** Concurrent requests allowed now. */
  get window(): number {
    return Math.floor(this.#window);
  }

  /** The smallest window so far: the window widens again after a 429, so its value now says little of a burst. */
  get narrowest(): number {
    return Math.floor(this.#narrowest);
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** 429 answers seen so far. */
  get throttled(): number {
    return this.#throttled;
  }

  /** Requests that had to wait (for a token or for room in the window) before they were sent. */
  get delayed(): number {
    return this.#delayed;
  }

  #refill(now: number) {
    if (now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.ceiling);
      this.#last = now;
    }
  }

  /** Milliseconds until the rate ceiling gives a token (0: now). */
  waitMs(now = this.#now()): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.ceiling) * 1000);
  }

  /** A ticket if both the window and the rate allow a request now. */
  tryAcquire(now = this.#now()): WriteTicket | undefined {
    if (this.#inFlight >= this.window || this.waitMs(now) > 0) return undefined;
    this.#tokens -= 1;
    this.#inFlight++;
    return { epoch: this.#epoch };
  }

  /** Wait for room in the window and a token. */
  async acquire(): Promise<WriteTicket> {
    for (let waited = false; ; waited = true) {
      const t = this.tryAcquire();
      if (t) {
        if (waited) this.#delayed++;
        return t;
      }
      if (this.#inFlight >= this.window) await new Promise<void>((r) => this.#waiters.push(r));
      else await sleep(Math.max(this.waitMs(), 1));
    }
  }

  /**
   * The request's answer: `admitted` (any HTTP answer but 429), `throttled` (429), or `failed` (no answer: says
   * nothing about the server's load).
   */
  done(ticket: WriteTicket, outcome: 'admitted' | 'throttled' | 'failed'): void {
    const wasFull = this.#inFlight >= this.window;
    this.#inFlight--;
    if (outcome === 'admitted' && wasFull && this.#window < this.maxWindow) {
      this.#window = Math.min(this.maxWindow, this.#window + 1 / this.#window);
    } else if (outcome === 'throttled') {
      this.#throttled++;
      if (ticket.epoch === this.#epoch) {
        this.#epoch++;
        this.#window = Math.max(1, this.#window / 2);
        this.#narrowest = Math.min(this.#narrowest, this.#window);
      }
    }
    // Wake as many waiters as there is room for, oldest first; each re-checks the window and the rate.
    for (let room = this.window - this.#inFlight; room > 0 && this.#waiters.length > 0; room--) {
      this.#waiters.shift()?.();
    }
  }
}
