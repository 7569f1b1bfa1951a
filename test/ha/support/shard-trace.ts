/**
 * The shard trace (`ZEN_SHARD_TRACE_FILE`, one JSON line per slot acquire / release, ADR 0020) turned into per-slot
 * hold intervals, and the checks the sharding fault suite asserts on: no slot held by two replicas at once, every
 * informer Observation written by a replica that held its unit's slot at the time, and the takeover / handover
 * times after each fault.
 *
 * As for leader terms (leader-log.ts): a process killed with SIGKILL records nothing more, so its holds end at the
 * kill; a SIGSTOPped process does nothing while stopped, so its holds end at the SIGSTOP — provided it writes nothing
 * once continued before it records the loss (checked by the placement of its Observations, which must lie inside a
 * hold that ended at the SIGSTOP).
 */
import { faultIn, overlapping, type ProcessFault, pairs, readJsonLines } from './holds.ts';

export interface SlotEvent {
  event: 'acquire' | 'release';
  slot: number;
  identity: string;
  /** Wall ms: acquire = the slot's term started (before any of its work); release = its work had stopped. */
  t: number;
  reason?: 'rebalance' | 'shutdown' | 'lost' | string;
  pid?: number;
}

export interface SlotHold {
  slot: number;
  identity: string;
  from: number;
  /** When the slot's work really ended: recorded release, or the SIGKILL / SIGSTOP time. */
  to: number;
  recordedRelease?: number;
  reason?: string;
  endedBy: 'release' | 'kill' | 'sigstop' | 'open';
}

export function readTrace(file: string): SlotEvent[] {
  return readJsonLines<SlotEvent>(file);
}

/** Per (slot, identity): acquire → release intervals, closed at a kill / SIGSTOP of that identity inside them. */
export function slotHolds(events: SlotEvent[], faults: ProcessFault[], now = Date.now()): SlotHold[] {
  const out: SlotHold[] = [];
  const held = pairs(
    events,
    (e) => `${e.slot}|${e.identity}`,
    (e) => e.event === 'acquire',
    'first',
  );
  for (const { start: a, end: r } of held) {
    const f = faultIn(faults, a.identity, a.t, r ? r.t : now);
    const endedBy = f ? (f.kind === 'kill' ? 'kill' : 'sigstop') : r ? 'release' : 'open';
    out.push({
      slot: a.slot,
      identity: a.identity,
      from: a.t,
      to: f ? f.at : r ? r.t : Number.POSITIVE_INFINITY,
      ...(r ? { recordedRelease: r.t } : {}),
      ...(r?.reason ? { reason: r.reason } : {}),
      endedBy,
    });
  }
  return out.sort((a, b) => a.from - b.from);
}

/** Pairs of holds of one slot by different identities that overlap in time (must be none). */
export function slotOverlaps(holds: SlotHold[]): [SlotHold, SlotHold][] {
  const bySlot = new Map<number, SlotHold[]>();
  for (const h of holds) bySlot.set(h.slot, [...(bySlot.get(h.slot) ?? []), h]);
  return [...bySlot.values()].flatMap((list) => overlapping(list));
}

/** Whether `identity` held `slot` at time `at`. */
export function heldAt(holds: SlotHold[], slot: number, identity: string, at: number): boolean {
  return holds.some((h) => h.slot === slot && h.identity === identity && at >= h.from && at <= h.to);
}

/** The slots `identity` held at time `at`. */
export function slotsHeldAt(holds: SlotHold[], identity: string, at: number): number[] {
  return holds.filter((h) => h.identity === identity && at >= h.from && at <= h.to).map((h) => h.slot);
}

/** For each of `slots`: ms from `since` until another identity than `from` acquired it (undefined: not yet). */
export function takeovers(
  events: SlotEvent[],
  slots: number[],
  from: string,
  since: number,
): { slot: number; ms: number | undefined; by?: string }[] {
  return slots.map((slot) => {
    const next = events
      .filter((e) => e.event === 'acquire' && e.slot === slot && e.identity !== from && e.t >= since)
      .sort((a, b) => a.t - b.t)[0];
    return next ? { slot, ms: next.t - since, by: next.identity } : { slot, ms: undefined };
  });
}

/** Graceful handovers: each release of `identity` with `reason`, to the next acquire of that slot (ms). */
export function handovers(events: SlotEvent[], identity: string, reasons: string[], since: number): number[] {
  const out: number[] = [];
  for (const r of events) {
    if (r.event !== 'release' || r.identity !== identity || r.t < since || !reasons.includes(r.reason ?? '')) continue;
    const next = events
      .filter((e) => e.event === 'acquire' && e.slot === r.slot && e.t >= r.t && e.identity !== identity)
      .sort((a, b) => a.t - b.t)[0];
    if (next) out.push(next.t - r.t);
  }
  return out;
}
