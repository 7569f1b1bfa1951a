/**
 * Time for the elector, injected so tests can drive it (client-go: "clock is a wrapper around time to allow for
 * less flaky testing"). `now()` is milliseconds since the epoch that never go backwards: a wall-clock step (NTP,
 * an operator) must not stretch or shrink a lease as seen by this replica.
 */
import { defaultClock } from '../kube/informer.ts';

export interface Clock {
  /** Milliseconds since the epoch, monotonic. */
  now(): number;
  /** Resolves after `ms`, or early (never rejects) once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * performance.timeOrigin + performance.now(): epoch-based like Date.now(), but monotonic. The same clock the kube
 * informers use (one abortable sleep in core).
 */
export const systemClock: Clock = defaultClock;
