/**
 * Turns slot ownership into epochs of informer work (ADR 0020): an epoch is a stretch of time with a fixed set of
 * owned slots. `api.leaderWork` runs of a sharded replica start at the start of an epoch and stop at its end, as
 * they do with a leader term on an unsharded replica — the hub is the sharded replica's "term".
 *
 * - A slot released or lost ends the current epoch AT ONCE (before the coordinator releases the slot's Lease): its
 *   work stops first, so the next holder never overlaps with it.
 * - A slot acquired ends the epoch a moment later (`debounceMs`, default 200 ms, so slots taken together start one
 *   epoch, not one each; up to `maxWaitMs`, 1 s, while more slots are being taken, and `imminentWaitMs`, 3 s, while
 *   one of them is about to be — a takeover of a crashed owner's slots, whose Leases expire within a retry period of
 *   each other); the next epoch starts with the new set. Work on slots kept is restarted: it relists
 *   (level-triggered and idempotent, like a new leader).
 * - No slot, no epoch.
 */
import { ZwError } from '../api/errors.ts';
import type { ShardEpoch } from './context.ts';

export interface ShardSource {
  readonly slots: number;
  readonly identity: string;
  owned(): number[];
  canAct(slot: number): boolean;
  /** Slots this replica is about to hold (wanted, elector running, not held yet): worth waiting a moment for. */
  settling?(): boolean;
  /**
   * One of those is expected within about a retry period (its Lease free, still ours, or about to expire): worth
   * waiting a little longer for (up to `imminentWaitMs`), so a takeover of several slots starts one epoch after
   * the last of them rather than a relist that competes with the takeover of the others.
   */
  imminent?(): boolean;
}

export type EpochListener = (epoch: ShardEpoch) => void;

export class ShardHub {
  readonly slots: number;
  #source: ShardSource | undefined;
  #current: { ctl: AbortController; epoch: ShardEpoch } | undefined;
  readonly #listeners: EpochListener[] = [];
  #timer: NodeJS.Timeout | undefined;
  #firstPendingAt: number | undefined;
  #closed = false;
  readonly #debounceMs: number;
  readonly #maxWaitMs: number;
  readonly #imminentWaitMs: number;
  readonly #onChange: (owned: number) => void;

  constructor(
    slots: number,
    opts: { debounceMs?: number; maxWaitMs?: number; imminentWaitMs?: number; onChange?: (owned: number) => void } = {},
  ) {
    this.slots = slots;
    this.#debounceMs = opts.debounceMs ?? 200;
    this.#maxWaitMs = opts.maxWaitMs ?? 1000;
    this.#imminentWaitMs = Math.max(this.#maxWaitMs, opts.imminentWaitMs ?? 3000);
    this.#onChange = opts.onChange ?? (() => {});
  }

  /** Sharded work is on (more than one slot). */
  get enabled(): boolean {
    return this.slots > 1;
  }

  attach(source: ShardSource): void {
    this.#source = source;
  }

  /** Called at every epoch start (in registration order). Listeners must stop their work when `epoch.signal` aborts. */
  onEpoch(fn: EpochListener): void {
    this.#listeners.push(fn);
    const cur = this.#current;
    if (cur && !cur.ctl.signal.aborted) fn(cur.epoch);
  }

  current(): ShardEpoch | undefined {
    const cur = this.#current;
    return cur && !cur.ctl.signal.aborted ? cur.epoch : undefined;
  }

  /** SlotListener.acquired */
  acquired(_slot: number): void {
    this.#schedule();
  }

  /** SlotListener.released: the epoch using the slot ends now; the remaining slots get a new epoch soon. */
  released(slot: number): void {
    const cur = this.#current;
    if (cur?.epoch.owned.has(slot)) this.#end(`shard slot ${slot} released`);
    this.#schedule();
  }

  /** Ends the current epoch and starts no other. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#end('stopping');
  }

  #end(why: string): void {
    const cur = this.#current;
    this.#current = undefined;
    if (cur && !cur.ctl.signal.aborted) cur.ctl.abort(new ZwError('ZW_ERR_ABORTED', `shard epoch ended: ${why}`));
  }

  #schedule(): void {
    if (this.#closed) return;
    const t = Date.now();
    this.#firstPendingAt ??= t;
    clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#firstPendingAt + this.#maxWaitMs - t));
    this.#timer = setTimeout(() => this.#next(), wait);
    this.#timer.unref?.();
  }

  #next(): void {
    if (this.#closed || !this.#source) return;
    const source = this.#source;
    // Slots still being taken (start-up, a rebalance, a takeover): one epoch for all of them, within maxWaitMs, or
    // imminentWaitMs while one of them is about to be taken.
    const waited = Date.now() - (this.#firstPendingAt ?? 0);
    const cap = source.imminent?.() ? this.#imminentWaitMs : source.settling?.() ? this.#maxWaitMs : 0;
    if (waited < cap) {
      this.#timer = setTimeout(() => this.#next(), Math.min(this.#debounceMs, cap - waited));
      this.#timer.unref?.();
      return;
    }
    this.#firstPendingAt = undefined;
    const owned = new Set(source.owned());
    const cur = this.#current;
    if (cur && !cur.ctl.signal.aborted && sameSet(cur.epoch.owned, owned)) return;
    this.#end('owned slots changed');
    this.#onChange(owned.size);
    if (owned.size === 0) return;
    const ctl = new AbortController();
    const epoch: ShardEpoch = Object.freeze({
      slots: this.slots,
      owned,
      signal: ctl.signal,
      identity: source.identity,
      startedAt: Date.now(),
      canAct: () => {
        if (ctl.signal.aborted) return false;
        for (const s of owned) if (!source.canAct(s)) return false;
        return true;
      },
    });
    this.#current = { ctl, epoch };
    for (const fn of this.#listeners) {
      try {
        fn(epoch);
      } catch {
        // a listener's own failure; the others still start
      }
    }
  }
}

function sameSet(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
