/**
 * The in-memory dedup layer: a bounded map of finding key → first-seen time (and, once written, where the finding's
 * Observation is), oldest evicted first. It only saves work: the authority across replicas and restarts is the
 * deterministic Observation name in the sink.
 *
 * Kept in typed arrays, outside V8's heap (ADR 0032). As a Map of strings and small objects it held ~210 B of live
 * heap per entry (21 MB at the default 100,000 entries), five objects each, churned at the ingest rate: every new
 * finding promoted its entry into the old generation and evicted an old one, so the cache was what brought the
 * major GCs that set ingest's tail latency (issue #18). Here an entry is ~60 bytes of array slots that the GC never
 * visits, and a new finding allocates nothing that outlives its request.
 *
 * An entry's identity is its key's scope (everything before the last `/`, interned) plus 128 bits of its digest:
 * the pipeline's keys end in a sha256 in hex (`namespace/source/<64 hex>`), whose first 128 bits are used as they
 * are; any other key is digested with sha256 first. Two findings of one scope that agree in 128 bits of sha256 are
 * out of reach (the Observation name that the sink checks carries only 64 of them).
 */
import { hash } from 'node:crypto';
import { ZwError } from '../api/errors.ts';

/** Interned scopes, target namespaces and target name prefixes, each table at most this many (then: the slow way). */
const MAX_INTERNED = 4096;
const NONE = -1;
/** #tNs: no target recorded; the target is in #oddTargets (not `namespace/prefix-<16 hex>`, or tables full). */
const NO_TARGET = 0;
const ODD_TARGET = -1;

export class DedupCache {
  readonly #maxEntries: number;
  #evictions = 0;
  #size = 0;

  // Entries, by id. Ids are reused through a free list; arrays grow by doubling up to maxEntries + 1 (seen() holds
  // one entry more for a moment before it evicts).
  #capacity = 0;
  /** 4 words per entry: 128 bits of the key's digest. */
  #digest = new Uint32Array(0);
  /** The key's scope id (0: the whole key was digested). */
  #scope = new Int32Array(0);
  /** First sighting, ms. */
  #at = new Float64Array(0);
  /** Target: namespace id + 1 (NO_TARGET, ODD_TARGET), name prefix id, and the name's 16 hex as 2 words. */
  #tNs = new Int32Array(0);
  #tPrefix = new Int32Array(0);
  #tHex = new Uint32Array(0);
  /** Insertion order (oldest at #head), doubly linked; #next also links the free list. */
  #prev = new Int32Array(0);
  #next = new Int32Array(0);
  #head = NONE;
  #tail = NONE;
  #free = NONE;
  #used = 0;

  /** Open addressing with linear probing: entry id + 1 per slot, 0 = empty; at most half full. */
  #slots = new Int32Array(0);
  #mask = 0;

  readonly #scopes = new Interner();
  readonly #names = new Interner();
  readonly #oddTargets = new Map<number, string>();
  /** The last key's scope, to skip the interning lookup (a source's keys share it). */
  #lastScope = '';
  #lastScopeId = 0;
  /** The last target's namespace and name prefix, likewise. */
  #lastNs = '';
  #lastNsId = 0;
  #lastPrefix = '';
  #lastPrefixId = 0;

  // The digest of the key being looked at (#digestOf): fields, so a lookup allocates nothing.
  #q0 = 0;
  #q1 = 0;
  #q2 = 0;
  #q3 = 0;
  #qs = 0;

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'maxEntries must be a positive integer');
    this.#maxEntries = maxEntries;
    this.#grow(Math.min(maxEntries + 1, 1024));
  }

  /**
   * True when `key` was first seen less than `windowMs` ago (windowMs 0 = no expiry). Otherwise records `now` as
   * the key's first sighting and returns false. The window is fixed from the first sighting.
   */
  seen(key: string, now: number, windowMs: number): boolean {
    let id = this.#find(key);
    if (id !== NONE) {
      const first = this.#at[id]!;
      // An older event than the first sighting (out of order) is left to the store, which knows its bucket.
      if (windowMs === 0 || (now >= first && now - first < windowMs)) return true;
      this.#delete(id);
    }
    id = this.#insert(now);
    if (this.#size > this.#maxEntries) {
      this.#delete(this.#head);
      this.#evictions++;
    }
    return false;
  }

  /** Remember a key without asking (e.g. the store said it already exists). */
  remember(key: string, at: number): void {
    if (this.#find(key) === NONE) this.seen(key, at, 0);
  }

  /** Where the key's Observation is stored (recorded once its write succeeded), for occurrence counts. */
  setTarget(key: string, target: string): void {
    const id = this.#find(key);
    if (id === NONE) return;
    this.#oddTargets.delete(id);
    // `namespace/prefix-<16 hex>` (what observationName makes) packs into the arrays; anything else is kept as is.
    const dash = target.length - 17;
    const slash = target.indexOf('/');
    if (slash > 0 && dash > slash + 1 && target.charCodeAt(dash) === 45) {
      const hi = hexWord(target, dash + 1);
      const lo = hexWord(target, dash + 9);
      let ns: number;
      let prefix: number;
      if (
        slash === this.#lastNs.length &&
        dash - slash - 1 === this.#lastPrefix.length &&
        target.startsWith(this.#lastNs) &&
        target.startsWith(this.#lastPrefix, slash + 1)
      ) {
        ns = this.#lastNsId;
        prefix = this.#lastPrefixId;
      } else {
        ns = this.#names.id(target.slice(0, slash));
        prefix = ns === NONE ? NONE : this.#names.id(target.slice(slash + 1, dash));
        if (prefix !== NONE) {
          this.#lastNs = this.#names.name(ns);
          this.#lastNsId = ns;
          this.#lastPrefix = this.#names.name(prefix);
          this.#lastPrefixId = prefix;
        }
      }
      if (hi >= 0 && lo >= 0 && prefix !== NONE) {
        this.#tNs[id] = ns + 1;
        this.#tPrefix[id] = prefix;
        this.#tHex[2 * id] = hi;
        this.#tHex[2 * id + 1] = lo;
        return;
      }
    }
    this.#tNs[id] = ODD_TARGET;
    this.#oddTargets.set(id, target);
  }

  target(key: string): string | undefined {
    const id = this.#find(key);
    if (id === NONE) return undefined;
    const ns = this.#tNs[id]!;
    if (ns === NO_TARGET) return undefined;
    if (ns === ODD_TARGET) return this.#oddTargets.get(id);
    return `${this.#names.name(ns - 1)}/${this.#names.name(this.#tPrefix[id]!)}-${hex8(this.#tHex[2 * id]!)}${hex8(this.#tHex[2 * id + 1]!)}`;
  }

  forget(key: string): void {
    const id = this.#find(key);
    if (id !== NONE) this.#delete(id);
  }

  get size(): number {
    return this.#size;
  }

  get evictions(): number {
    return this.#evictions;
  }

  /** Sets #q0..#q3 and #qs to the key's identity (see the top) and returns its entry id, or NONE. */
  #find(key: string): number {
    this.#digestOf(key);
    const slots = this.#slots;
    const mask = this.#mask;
    const d = this.#digest;
    for (let i = this.#home(this.#q0, this.#qs); ; i = (i + 1) & mask) {
      const e = slots[i]!;
      if (e === 0) return NONE;
      const id = e - 1;
      const w = 4 * id;
      if (d[w] === this.#q0 && d[w + 1] === this.#q1 && d[w + 2] === this.#q2 && d[w + 3] === this.#q3) {
        if (this.#scope[id] === this.#qs) return id;
      }
    }
  }

  #digestOf(key: string): void {
    // The pipeline's keys end in `/` + 64 hex: read at fixed offsets from the end, validated as they are parsed.
    const slash = key.length - 65;
    if (slash >= 0 && key.charCodeAt(slash) === 47) {
      let scope: number;
      if (slash === this.#lastScope.length && key.startsWith(this.#lastScope)) scope = this.#lastScopeId;
      else {
        const name = key.slice(0, slash);
        scope = this.#scopes.id(name) + 1; // NONE (table full) becomes 0: digest the whole key below
        if (scope > 0) {
          this.#lastScope = name;
          this.#lastScopeId = scope;
        }
      }
      if (scope > 0) {
        const q0 = hexWord(key, slash + 1);
        const q1 = hexWord(key, slash + 9);
        const q2 = hexWord(key, slash + 17);
        const q3 = hexWord(key, slash + 25);
        if (q0 >= 0 && q1 >= 0 && q2 >= 0 && q3 >= 0 && isHex(key, slash + 33, 32)) {
          this.#qs = scope;
          this.#q0 = q0;
          this.#q1 = q1;
          this.#q2 = q2;
          this.#q3 = q3;
          return;
        }
      }
    }
    const h = hash('sha256', key, 'hex');
    this.#qs = 0;
    this.#q0 = hexWord(h, 0);
    this.#q1 = hexWord(h, 8);
    this.#q2 = hexWord(h, 16);
    this.#q3 = hexWord(h, 24);
  }

  #home(q0: number, scope: number): number {
    return (Math.imul(q0 ^ scope, 0x9e3779b1) >>> 0) & this.#mask;
  }

  /** A new entry for the key last given to #find, at the tail of the order. */
  #insert(at: number): number {
    if (this.#free === NONE && this.#used === this.#capacity) this.#grow(this.#capacity * 2);
    let id: number;
    if (this.#free !== NONE) {
      id = this.#free;
      this.#free = this.#next[id]!;
    } else id = this.#used++;
    const w = 4 * id;
    this.#digest[w] = this.#q0;
    this.#digest[w + 1] = this.#q1;
    this.#digest[w + 2] = this.#q2;
    this.#digest[w + 3] = this.#q3;
    this.#scope[id] = this.#qs;
    this.#at[id] = at;
    this.#tNs[id] = NO_TARGET;
    this.#prev[id] = this.#tail;
    this.#next[id] = NONE;
    if (this.#tail === NONE) this.#head = id;
    else this.#next[this.#tail] = id;
    this.#tail = id;
    let i = this.#home(this.#q0, this.#qs);
    while (this.#slots[i] !== 0) i = (i + 1) & this.#mask;
    this.#slots[i] = id + 1;
    this.#size++;
    return id;
  }

  #delete(id: number): void {
    // Out of the index: linear probing's backward shift, so no tombstones build up as entries come and go.
    const slots = this.#slots;
    const mask = this.#mask;
    let i = this.#home(this.#digest[4 * id]!, this.#scope[id]!);
    while (slots[i] !== id + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const other = slots[j]! - 1;
      const home = this.#home(this.#digest[4 * other]!, this.#scope[other]!);
      // The entry at j may move to the hole at i when its home is not cyclically within (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        slots[i] = slots[j]!;
        i = j;
      }
    }
    slots[i] = 0;
    // Out of the order.
    const p = this.#prev[id]!;
    const n = this.#next[id]!;
    if (p === NONE) this.#head = n;
    else this.#next[p] = n;
    if (n === NONE) this.#tail = p;
    else this.#prev[n] = p;
    if (this.#tNs[id] === ODD_TARGET) this.#oddTargets.delete(id);
    this.#next[id] = this.#free;
    this.#free = id;
    this.#size--;
  }

  #grow(want: number): void {
    const capacity = Math.min(Math.max(want, 1), this.#maxEntries + 1);
    const copy = <T extends Uint32Array | Int32Array | Float64Array>(old: T, make: (n: number) => T, per = 1): T => {
      const a = make(capacity * per);
      a.set(old);
      return a;
    };
    this.#digest = copy(this.#digest, (n) => new Uint32Array(n), 4);
    this.#scope = copy(this.#scope, (n) => new Int32Array(n));
    this.#at = copy(this.#at, (n) => new Float64Array(n));
    this.#tNs = copy(this.#tNs, (n) => new Int32Array(n));
    this.#tPrefix = copy(this.#tPrefix, (n) => new Int32Array(n));
    this.#tHex = copy(this.#tHex, (n) => new Uint32Array(n), 2);
    this.#prev = copy(this.#prev, (n) => new Int32Array(n));
    this.#next = copy(this.#next, (n) => new Int32Array(n));
    this.#capacity = capacity;
    // The index: a power of two at least twice the entries, rebuilt from the live ones.
    let slots = 2;
    while (slots < 2 * capacity) slots *= 2;
    if (slots === this.#slots.length) return;
    this.#slots = new Int32Array(slots);
    this.#mask = slots - 1;
    for (let id = this.#head; id !== NONE; id = this.#next[id]!) {
      let i = this.#home(this.#digest[4 * id]!, this.#scope[id]!);
      while (this.#slots[i] !== 0) i = (i + 1) & this.#mask;
      this.#slots[i] = id + 1;
    }
  }
}

/** Strings to small ids and back, at most MAX_INTERNED of them (then id() answers NONE). */
class Interner {
  readonly #ids = new Map<string, number>();
  readonly #names: string[] = [];

  id(name: string): number {
    const known = this.#ids.get(name);
    if (known !== undefined) return known;
    if (this.#names.length >= MAX_INTERNED) return NONE;
    this.#ids.set(name, this.#names.length);
    this.#names.push(name);
    return this.#names.length - 1;
  }

  name(id: number): string {
    return this.#names[id]!;
  }
}

/** Character code → its value as a lowercase hex digit, -1 for any other character below 128. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_DIGIT[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_DIGIT[97 + i] = 10 + i;

// Branch-free over the digits (a table lookup each, failures OR-ed into one sign bit): half the time of comparing
// each character's range, and these run twice per finding.

/** `s[from, from + n)` is lowercase hex. */
function isHex(s: string, from: number, n: number): boolean {
  let bad = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i);
    bad |= c < 128 ? HEX_DIGIT[c]! : -1;
  }
  return bad >= 0;
}

/** The 32-bit word written as 8 lowercase hex digits at `s[from]`, or -1 when they are not. */
function hexWord(s: string, from: number): number {
  let v = 0;
  let bad = 0;
  for (let i = from; i < from + 8; i++) {
    const c = s.charCodeAt(i);
    const d = c < 128 ? HEX_DIGIT[c]! : -1;
    bad |= d;
    v = (v << 4) | (d & 15);
  }
  return bad < 0 ? -1 : v >>> 0;
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, '0');
}
