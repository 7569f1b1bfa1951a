/**
 * The read index's free-text search (`q`), laid out for a scan: the entries' lower-cased text (Entry.folded) joined
 * by '\0' into one string per chunk of 1024 slots, with each entry's offset, slot and message id in typed arrays
 * beside it. A search is `indexOf` over those strings and a pass over the message ids: it reads no entry object
 * (the entries of 100,000 Observations are spread over the heap, and following each one to its text string cost
 * most of a search).
 *
 * An entry holds a slot while it is filed (Entry.slot, -1 otherwise); a chunk is rebuilt on the first search after
 * one of its slots changed. The result is exactly `folded.includes(q) || message matches` for every entry (a q
 * without '\0' lies within one entry's text; the caller takes queries holding '\0' or '\n' elsewhere).
 */

import type { Entry } from './index.ts';

const BITS = 10;
const CHUNK = 1 << BITS;

interface Chunk {
  readonly base: number;
  readonly entries: (Entry | undefined)[];
  /** The present entries' folded text joined by '\0'; undefined when a slot changed since. */
  text: string | undefined;
  /** Per present entry, in slot order: where its text starts, its slot, its message id. */
  starts: Int32Array;
  slots: Int32Array;
  mids: Int32Array;
  n: number;
}

function build(c: Chunk): string {
  const parts: string[] = [];
  let n = 0;
  let at = 0;
  for (let i = 0; i < CHUNK; i++) {
    const e = c.entries[i];
    if (!e) continue;
    c.starts[n] = at;
    c.slots[n] = c.base + i;
    c.mids[n] = e.mid;
    parts.push(e.folded);
    at += e.folded.length + 1;
    n++;
  }
  c.n = n;
  c.text = parts.join('\0');
  return c.text;
}

export class TextIndex {
  readonly #chunks: Chunk[] = [];
  readonly #free: number[] = [];
  #bound = 0;

  /** Files an entry (its message id already set). */
  add(e: Entry): void {
    const slot = this.#free.pop() ?? this.#bound++;
    e.slot = slot;
    let c = this.#chunks[slot >> BITS];
    if (!c) {
      c = {
        base: slot - (slot & (CHUNK - 1)),
        entries: [],
        text: undefined,
        starts: new Int32Array(CHUNK),
        slots: new Int32Array(CHUNK),
        mids: new Int32Array(CHUNK),
        n: 0,
      };
      this.#chunks[slot >> BITS] = c;
    }
    c.entries[slot & (CHUNK - 1)] = e;
    c.text = undefined;
  }

  remove(e: Entry): void {
    if (e.slot < 0) return;
    const c = this.#chunks[e.slot >> BITS]!;
    c.entries[e.slot & (CHUNK - 1)] = undefined;
    c.text = undefined;
    this.#free.push(e.slot);
    e.slot = -1;
  }

  /**
   * Which slots' entries match q (folded, holding neither '\0' nor '\n'): their folded text contains q, or their
   * message does (messageHits, by message id). Indexed by Entry.slot.
   */
  search(q: string, messageHits: Uint8Array): Uint8Array {
    const hits = new Uint8Array(this.#bound);
    for (const c of this.#chunks) {
      const text = c.text ?? build(c);
      const { starts, slots, mids, n } = c;
      for (let k = 0; k < n; k++) {
        const m = mids[k]!;
        if (m >= 0 && messageHits[m] === 1) hits[slots[k]!] = 1;
      }
      let from = 0;
      for (;;) {
        const at = text.indexOf(q, from);
        if (at < 0) break;
        let lo = 0;
        let hi = n - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >>> 1;
          if (starts[mid]! <= at) lo = mid;
          else hi = mid - 1;
        }
        hits[slots[lo]!] = 1;
        // The rest of this entry's text can only match again.
        if (lo + 1 >= n) break;
        from = starts[lo + 1]!;
      }
    }
    return hits;
  }
}
