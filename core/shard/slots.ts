/**
 * The pure part of sharding (ADR 0020): which slot a unit of informer work belongs to, and which live member owns
 * which slot. Every replica computes both from the same inputs (the unit, the member set as seen in the member
 * Leases), so nothing here is coordinated: the slot Leases (core/shard/coordinator.ts) are what makes ownership
 * exclusive; this only says which replica should try to hold which slot.
 *
 * - unit: (Ingester `namespace/name`, the namespace of the report, or '' for a cluster-scoped report).
 * - slot: sha256(`<ingester key>|<namespace>`), first 4 bytes as a big-endian uint32, mod S. Stable across
 *   versions, processes and languages (a test or a script can compute it too).
 * - assignment: bounded-load rendezvous hashing. Every (slot, member) pair gets a score; pairs are taken in
 *   descending score order, each slot going to the first member that still has room, where room is floor(S/M) for
 *   every member plus one for the S mod M members with the highest `capacity` score. Every member ends up with
 *   floor(S/M) or ceil(S/M) slots, and a member joining or leaving moves about S/M slots, not all of them.
 */
import { createHash } from 'node:crypto';
import { ZwError } from '../api/errors.ts';

/** Default number of shard slots (`ZEN_SHARD_SLOTS`). */
export const DEFAULT_SHARD_SLOTS = 16;
/** Upper bound: every slot is one Lease renewed every retry period by its owner. */
export const MAX_SHARD_SLOTS = 256;

/** The namespace of a cluster-scoped unit. */
export const CLUSTER_UNIT = '';

const u32 = (text: string): number => createHash('sha256').update(text).digest().readUInt32BE(0);

/** The slot of unit (ingester `namespace/name`, report namespace or '' when cluster-scoped), for S slots. */
export function slotOf(ingesterKey: string, namespace: string | undefined, slots: number): number {
  checkSlots(slots);
  return u32(`${ingesterKey}|${namespace ?? CLUSTER_UNIT}`) % slots;
}

export function checkSlots(slots: number): void {
  if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SHARD_SLOTS) {
    throw new ZwError('ZW_ERR_INVALID_ARGUMENT', `shard slots must be an integer from 1 to ${MAX_SHARD_SLOTS}`);
  }
}

/**
 * slot → owning member, for the given live members (duplicates ignored; order does not matter). Empty when there
 * are no members.
 */
export function assignSlots(members: Iterable<string>, slots: number): Map<number, string> {
  checkSlots(slots);
  const ids = [...new Set(members)].filter((m) => m !== '').sort();
  const out = new Map<number, string>();
  if (ids.length === 0) return out;
  const base = Math.floor(slots / ids.length);
  const extra = slots % ids.length;
  const room = new Map<string, number>(ids.map((id) => [id, base]));
  const byCapacityScore = [...ids].sort((a, b) => u32(`capacity|${b}`) - u32(`capacity|${a}`) || (a < b ? -1 : 1));
  for (const id of byCapacityScore.slice(0, extra)) room.set(id, base + 1);
  const pairs: { slot: number; id: string; score: number }[] = [];
  for (let slot = 0; slot < slots; slot++) {
    for (const id of ids) pairs.push({ slot, id, score: u32(`slot|${slot}|${id}`) });
  }
  pairs.sort((a, b) => b.score - a.score || a.slot - b.slot || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const p of pairs) {
    if (out.has(p.slot)) continue;
    const left = room.get(p.id)!;
    if (left === 0) continue;
    out.set(p.slot, p.id);
    room.set(p.id, left - 1);
    if (out.size === slots) break;
  }
  return out;
}

/** The slots `member` should hold, ascending. */
export function slotsFor(member: string, members: Iterable<string>, slots: number): number[] {
  const mine: number[] = [];
  for (const [slot, id] of assignSlots(members, slots)) if (id === member) mine.push(slot);
  return mine.sort((a, b) => a - b);
}

/** Lease name of slot `i`. */
export const slotLeaseName = (electionId: string, slot: number): string => `${electionId}-shard-${slot}`;

/** Lease name of a member (identities need not be valid object names, so they are hashed). */
export const memberLeaseName = (electionId: string, identity: string): string =>
  `${electionId}-member-${createHash('sha256').update(identity).digest('hex').slice(0, 10)}`;
