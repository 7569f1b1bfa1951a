/**
 * A Clock for tests (core/leader/clock.ts): time moves only when the test says so.
 * - advance(ms) wakes sleepers in time order, letting the code each one resumes run (and sleep again) before
 *   the next wakes, exactly as if that much time had passed.
 * - jump(ms) moves time WITHOUT waking anyone: a paused process (SIGSTOP, long GC, frozen VM) that has not yet
 *   noticed how late it is.
 */
import type { Clock } from '../../core/leader/clock.ts';

interface Sleeper {
  at: number;
  seq: number;
  wake: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, ms),
        seq: this.#seq++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Number of pending sleepers (for assertions that nothing is left waiting). */
  get pending(): number {
    return this.#sleepers.length;
  }

  /** Moves time forward by `ms`, waking each sleeper due by then in time order and letting its code run. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    while (true) {
      const next = this.#sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = Math.max(this.#now, next.at);
      next.wake();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /** advance() in steps of `step` ms up to `ms`, stopping early once `until()` holds. Returns whether it held. */
  async advanceUntil(until: () => boolean, ms: number, step = 10): Promise<boolean> {
    for (let t = 0; t < ms && !until(); t += step) await this.advance(step);
    return until();
  }

  /** Moves time forward without waking anyone (a pause the process has not noticed yet). */
  jump(ms: number): void {
    this.#now += ms;
  }
}

/** Lets every pending promise continuation (and what it schedules) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
