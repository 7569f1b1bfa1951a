/**
 * Durable delivery state, behind one interface for both modes: the standalone store (sqlite-outbox.ts) and the
 * cluster (kube-state.ts). The lane (lane.ts) asks for the oldest undelivered items of one destination, records
 * that a send is under way, and records the outcome; a restart reads the same state back, so nothing delivered is
 * sent again and nothing undelivered is lost. Only a send whose outcome is unknown (the process died, or the send
 * timed out) is repeated, with the same idempotency key.
 */
import { createHash } from 'node:crypto';
import type { DeliveredObservation, DeliveryEvent } from '../api/index.ts';
import type { Route } from './routes.ts';

export interface PendingItem {
  /** The state's own handle for this item (sequence number, or namespace/name + state version). */
  readonly ref: string;
  readonly key: string;
  readonly event: DeliveryEvent;
  readonly observation: DeliveredObservation;
  /** Its previous send's outcome is unknown (a crash or failover mid-send): this send may be a duplicate. */
  readonly resend: boolean;
  /** When it became due (ms): the Observation's creation, or its resolution. */
  readonly dueAt: number;
}

/** One destination as the state sees it. */
export interface StateTarget {
  /** namespace/name of the Destination. */
  readonly key: string;
  readonly routes: readonly Route[];
}

export interface Backlog {
  count: number;
  /** ms since epoch of the oldest undelivered item; undefined when empty. */
  oldestAt: number | undefined;
}

export interface DeliveryState {
  /** Up to `limit` undelivered matching items, oldest first. */
  next(target: StateTarget, limit: number): Promise<PendingItem[]>;
  /** Durably note that these items are being sent (a crash before settle() makes them resends). */
  sending(target: StateTarget, items: readonly PendingItem[]): Promise<void>;
  /** Durably note that these items are settled: delivered, or given up (rejected, expired). */
  settle(target: StateTarget, items: readonly PendingItem[]): Promise<void>;
  /** How many matching items are undelivered, and since when. */
  backlog(target: StateTarget): Promise<Backlog>;
  /** Give up the oldest undelivered items beyond `max`; returns how many. */
  trim(target: StateTarget, max: number): Promise<number>;
  /** A delivery term begins (the leader's): load what the state needs; next() and backlog() wait for it. */
  begin?(signal: AbortSignal): Promise<void>;
  /** Start keeping state for these destinations now (Observations written from here on are theirs). */
  track?(targets: readonly string[]): Promise<void>;
  /** Drop what no live destination still needs (bounded storage). */
  prune?(liveTargets: readonly string[]): Promise<void>;
  close?(): Promise<void>;
}

/**
 * The idempotency key of one (destination, Observation, event, version): hex, 32 characters. `version` tells a
 * re-opened finding's second firing from its first (e.g. the time it became Active again).
 */
export function idempotencyKey(
  destination: string,
  namespace: string,
  name: string,
  event: string,
  version = '',
): string {
  return createHash('sha256')
    .update(`${destination}\n${namespace}/${name}\n${event}\n${version}`)
    .digest('hex')
    .slice(0, 32);
}
