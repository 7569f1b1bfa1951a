/**
 * The in-memory dedup layer: a bounded map of finding key → first-seen time, oldest evicted first (a Map keeps
 * insertion order, so eviction is O(1)). It only saves work: the authority across replicas and restarts is the
 * deterministic Observation name in the sink.
 */
import { ZwError } from '../api/errors.ts';
export class DedupCache {
  /** key → first sighting (ms) and, once written, where the finding's Observation is (`namespace/name`). */
  readonly #entries = new Map<string, { at: number; target?: string }>();
  readonly #maxEntries: number;
  #evictions = 0;
  /**
   * One live iterator over the keys, kept from one eviction to the next. A new `keys()` iterator starts at the
   * table's beginning and steps over every entry deleted since the last rehash, so at capacity each eviction got
   * slower (13 → 178 µs per new key within 200,000 keys at the default 100,000 entries). A kept iterator resumes
   * where the last eviction stopped; everything before it was evicted (or deleted and set again, which puts the key
   * after it), so its next key is still the oldest.
   */
  #order: MapIterator<string> | undefined;

  #oldest(): string {
    let next = this.#order?.next();
    if (!next || next.done) {
      this.#order = this.#entries.keys();
      next = this.#order.next();
    }
    return next.value as string;
  }

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'maxEntries must be a positive integer');
    this.#maxEntries = maxEntries;
  }

  /**
   * True when `key` was first seen less than `windowMs` ago (windowMs 0 = no expiry). Otherwise records `now` as
   * the key's first sighting and returns false. The window is fixed from the first sighting.
   */
  seen(key: string, now: number, windowMs: number): boolean {
    const first = this.#entries.get(key)?.at;
    // An older event than the first sighting (out of order) is left to the store, which knows its bucket.
    if (first !== undefined && (windowMs === 0 || (now >= first && now - first < windowMs))) return true;
    if (first !== undefined) this.#entries.delete(key);
    this.#entries.set(key, { at: now });
    if (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#oldest());
      this.#evictions++;
    }
    return false;
  }

  /** Remember a key without asking (e.g. the store said it already exists). */
  remember(key: string, at: number): void {
    if (!this.#entries.has(key)) this.seen(key, at, 0);
  }

  /** Where the key's Observation is stored (recorded once its write succeeded), for occurrence counts. */
  setTarget(key: string, target: string): void {
    const e = this.#entries.get(key);
    if (e) e.target = target;
  }

  target(key: string): string | undefined {
    return this.#entries.get(key)?.target;
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  get evictions(): number {
    return this.#evictions;
  }
}
