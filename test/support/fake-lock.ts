/**
 * An in-memory LeaderLock (core/leader/lock.ts) for elector tests. Several FakeLocks sharing one FakeLeaseStore
 * are several replicas contending for one Lease. Each lock records every call, can be told to fail (or to be
 * slow, on the fake clock), and enforces optimistic concurrency like the API server: update() fails with 409 if
 * anyone wrote since this lock last read or wrote. A call of a kind the test did not allow fails the test.
 */
import type { Clock } from '../../core/leader/clock.ts';
import { type LeaderLock, LeaderLockError, type LeaderRecord } from '../../core/leader/lock.ts';

export type LockOp = 'get' | 'create' | 'update';

export interface LockCall {
  op: LockOp;
  identity: string;
  at: number;
  record?: LeaderRecord;
  outcome: 'ok' | 'not-found' | 'conflict' | 'exists' | 'injected' | 'aborted';
}

/** The one Lease object all replicas share. */
export class FakeLeaseStore {
  record: LeaderRecord | undefined;
  version = 0;
  /** Every write that succeeded, in order. */
  readonly writes: { identity: string; at: number; record: LeaderRecord }[] = [];
}

export interface FakeLockOptions {
  clock: Clock;
  /** Lock calls take this long (fake clock), and honour the signal meanwhile. Default 0. */
  latencyMs?: number;
  /** Ops this lock may call; any other fails the test (recorded in `unexpected`). Default: all. */
  allow?: readonly LockOp[];
}

export class FakeLock implements LeaderLock {
  readonly identity: string;
  readonly store: FakeLeaseStore;
  readonly calls: LockCall[] = [];
  readonly unexpected: string[] = [];
  latencyMs: number;
  /** While true every call fails (a cut network). */
  failing = false;
  /** The next N calls of an op fail (then it works again). */
  readonly failNext: Partial<Record<LockOp, number>> = {};
  #clock: Clock;
  #allow: ReadonlySet<LockOp>;
  #seenVersion: number | undefined;

  constructor(store: FakeLeaseStore, identity: string, opts: FakeLockOptions) {
    this.store = store;
    this.identity = identity;
    this.#clock = opts.clock;
    this.latencyMs = opts.latencyMs ?? 0;
    this.#allow = new Set(opts.allow ?? ['get', 'create', 'update']);
  }

  describe(): string {
    return 'test/fake-lease';
  }

  count(op?: LockOp): number {
    return op ? this.calls.filter((c) => c.op === op).length : this.calls.length;
  }

  async get(signal: AbortSignal): Promise<{ record: LeaderRecord; raw: string } | undefined> {
    await this.#enter('get', signal);
    const r = this.store.record;
    if (!r) {
      this.#log('get', 'not-found');
      return undefined;
    }
    this.#seenVersion = this.store.version;
    this.#log('get', 'ok');
    return { record: { ...r }, raw: JSON.stringify(r) };
  }

  async create(record: LeaderRecord, signal: AbortSignal): Promise<void> {
    await this.#enter('create', signal, record);
    if (this.store.record) {
      this.#log('create', 'exists', record);
      throw new LeaderLockError('fake: lease already exists', { status: 409 });
    }
    this.#write(record);
    this.#log('create', 'ok', record);
  }

  async update(record: LeaderRecord, signal: AbortSignal): Promise<void> {
    await this.#enter('update', signal, record);
    if (this.#seenVersion === undefined || this.#seenVersion !== this.store.version || !this.store.record) {
      this.#log('update', 'conflict', record);
      throw new LeaderLockError('fake: conflict', { status: 409 });
    }
    this.#write(record);
    this.#log('update', 'ok', record);
  }

  #write(record: LeaderRecord): void {
    this.store.record = { ...record };
    this.store.version++;
    this.#seenVersion = this.store.version;
    this.store.writes.push({ identity: this.identity, at: this.#clock.now(), record: { ...record } });
  }

  async #enter(op: LockOp, signal: AbortSignal, record?: LeaderRecord): Promise<void> {
    if (!this.#allow.has(op)) this.unexpected.push(`${this.identity}: unexpected ${op}`);
    if (this.latencyMs > 0) await this.#clock.sleep(this.latencyMs, signal);
    if (signal.aborted) {
      this.#log(op, 'aborted', record);
      throw new LeaderLockError(`fake: ${op} aborted`, { cause: signal.reason });
    }
    const n = this.failNext[op] ?? 0;
    if (this.failing || n > 0) {
      if (n > 0) this.failNext[op] = n - 1;
      this.#log(op, 'injected', record);
      throw new LeaderLockError(`fake: injected ${op} failure`);
    }
  }

  #log(op: LockOp, outcome: LockCall['outcome'], record?: LeaderRecord): void {
    this.calls.push({
      op,
      identity: this.identity,
      at: this.#clock.now(),
      outcome,
      ...(record ? { record: { ...record } } : {}),
    });
  }
}
