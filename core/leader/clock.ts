/**
 * Time for the elector, injected so tests can drive it (client-go: "clock is a wrapper around time to allow for
 * less flaky testing"). `now()` is milliseconds since the epoch that never go backwards: a wall-clock step (NTP,
 * an operator) must not stretch or shrink a lease as seen by this replica.
 */
export interface Clock {
  /** Milliseconds since the epoch, monotonic. */
  now(): number;
  /** Resolves after `ms`, or early (never rejects) once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** performance.timeOrigin + performance.now(): epoch-based like Date.now(), but monotonic. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
});
