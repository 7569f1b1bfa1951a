/**
 * Deadlines of per-request work (a tap's deadline, the ack wait, a request's timeout) without a Node timer per
 * request (issue #18). Work of one kind always waits the same time, so its deadlines come in the order they were
 * set: one list per delay, oldest first, and one (unref'd) Node timer per list, armed for the oldest deadline. A
 * deadline is a list entry: setting one is a link at the tail, cancelling one an unlink. Node's own timers work the
 * same way inside (a list per duration), but each setTimeout also makes a Timeout object with an async resource,
 * and clearTimeout unlinks and re-arms: at thousands of requests per second, three of them per request were a
 * visible share of the main thread's time and garbage.
 *
 * A deadline fires no earlier than a setTimeout of the same delay would: the list's timer is armed for its oldest
 * live entry; a timer that wakes for a cancelled entry re-arms for the next one.
 */

/** A deadline that was set: cancel() before it fires; a no-op after. */
export interface Deadline {
  cancel(): void;
}

class Entry implements Deadline {
  at: number;
  fn: ((arg: unknown) => void) | undefined;
  arg: unknown;
  prev: Entry | undefined = undefined;
  next: Entry | undefined = undefined;
  readonly list: DelayList;
  constructor(list: DelayList, at: number, fn: (arg: unknown) => void, arg: unknown) {
    this.list = list;
    this.at = at;
    this.fn = fn;
    this.arg = arg;
  }
  cancel(): void {
    if (this.fn === undefined) return;
    this.fn = undefined;
    this.arg = undefined;
    this.list.unlink(this);
  }
}

class DelayList {
  readonly ms: number;
  head: Entry | undefined;
  tail: Entry | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (performance.now() time). */
  #armedFor = 0;

  constructor(ms: number) {
    this.ms = ms;
  }

  add(fn: (arg: unknown) => void, arg: unknown): Entry {
    const at = performance.now() + this.ms;
    const e = new Entry(this, at, fn, arg);
    if (this.tail) {
      this.tail.next = e;
      e.prev = this.tail;
      this.tail = e;
    } else {
      this.head = this.tail = e;
    }
    // Armed for an older entry (which fires no later than this one): the wake-up re-arms for this one if needed.
    if (this.#timer === undefined) this.#arm(this.head!.at, this.head!.at - at + this.ms);
    return e;
  }

  unlink(e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = undefined;
  }

  #arm(at: number, ms: number): void {
    this.#armedFor = at;
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(ms)));
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    // libuv's clock is in whole ms and cached per loop turn: a timer may wake a fraction of a ms before the
    // performance.now() instant it was armed for; what it was armed for has come.
    const now = Math.max(performance.now(), this.#armedFor);
    try {
      for (let e = this.head; e !== undefined && e.at <= now; e = this.head) {
        const { fn, arg } = e;
        this.unlink(e);
        e.fn = undefined;
        e.arg = undefined;
        fn!(arg);
      }
    } finally {
      // Even if a callback threw (it reaches the process's handlers as a timer's would), the rest still fire.
      const head = this.head;
      if (head !== undefined && this.#timer === undefined) this.#arm(head.at, head.at - performance.now());
    }
  };
}

const lists = new Map<number, DelayList>();

/**
 * Calls `fn(arg)` after `ms` unless cancelled first. Like an unref'd setTimeout: it does not keep the process alive
 * by itself (requests in flight hold their sockets, which do).
 */
export function deadline<A>(ms: number, fn: (arg: A) => void, arg: A): Deadline {
  let list = lists.get(ms);
  if (list === undefined) {
    list = new DelayList(ms);
    lists.set(ms, list);
  }
  return list.add(fn as (arg: unknown) => void, arg);
}
