import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../test/support/fake-clock.ts';
import { FakeLeaseStore, FakeLock, type LockOp } from '../../test/support/fake-lock.ts';
import type { LeaderElector, LeaderElectorConfig, LeaderTermInfo } from './config.ts';
import { createLeaderElector } from './elector.ts';
import type { LeaderRecord } from './lock.ts';
import type { LeaderMetrics } from './metrics.ts';

const T = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

type Ev =
  | { type: 'started'; at: number; term: LeaderTermInfo }
  | { type: 'aborted'; at: number }
  | { type: 'stopped'; at: number; reason: string; termAborted: boolean }
  | { type: 'newLeader'; at: number; identity: string };

interface Env {
  clock: FakeClock;
  store: FakeLeaseStore;
}

interface Replica {
  id: string;
  lock: FakeLock;
  elector: LeaderElector;
  ctl: AbortController;
  done: Promise<void> | undefined;
  events: Ev[];
  metrics: Record<keyof LeaderMetrics, number>;
  failovers: { seconds: number; previous: string }[];
}

function env(record?: LeaderRecord): Env {
  const clock = new FakeClock();
  const store = new FakeLeaseStore();
  if (record) store.record = { ...record };
  return { clock, store };
}

function replica(
  e: Env,
  id: string,
  over: Partial<LeaderElectorConfig> & { allow?: readonly LockOp[]; stopDelayMs?: number } = {},
): Replica {
  const lock = new FakeLock(e.store, id, { clock: e.clock, ...(over.allow ? { allow: over.allow } : {}) });
  const events: Ev[] = [];
  const metrics = { leaderOn: 0, leaderOff: 0, transition: 0, renewLatency: 0, slowPath: 0, failover: 0 };
  const failovers: { seconds: number; previous: string }[] = [];
  let current: LeaderTermInfo | undefined;
  const elector = createLeaderElector({
    ...T,
    lock,
    clock: e.clock,
    random: () => 0,
    metrics: {
      leaderOn: () => metrics.leaderOn++,
      leaderOff: () => metrics.leaderOff++,
      transition: () => metrics.transition++,
      renewLatency: () => metrics.renewLatency++,
      slowPath: () => metrics.slowPath++,
      failover: (_l, seconds, previous) => {
        metrics.failover++;
        failovers.push({ seconds, previous });
      },
    },
    callbacks: {
      onStartedLeading(term) {
        current = term;
        events.push({ type: 'started', at: e.clock.now(), term });
        term.signal.addEventListener('abort', () => events.push({ type: 'aborted', at: e.clock.now() }));
      },
      async onStoppedLeading(reason) {
        events.push({ type: 'stopped', at: e.clock.now(), reason, termAborted: current?.signal.aborted === true });
        if (over.stopDelayMs) await e.clock.sleep(over.stopDelayMs);
      },
      onNewLeader: (identity) => events.push({ type: 'newLeader', at: e.clock.now(), identity }),
    },
    ...over,
  });
  return { id, lock, elector, ctl: new AbortController(), done: undefined, events, metrics, failovers };
}

function start(r: Replica): Replica {
  r.done = r.elector.run(r.ctl.signal);
  return r;
}

/** Aborts run()'s signal and lets fake time pass (a hung lock call ends at its deadline) until run() settles. */
async function stop(e: Env, r: Replica): Promise<void> {
  r.ctl.abort();
  let settled = false;
  const done = r.done!.finally(() => {
    settled = true;
  });
  await e.clock.advance(0);
  for (let i = 0; i < 1_000 && !settled; i++) await e.clock.advance(100);
  await done;
}

const first = <K extends Ev['type']>(r: Replica, type: K) =>
  r.events.find((ev): ev is Extract<Ev, { type: K }> => ev.type === type);
const all = <K extends Ev['type']>(r: Replica, type: K) =>
  r.events.filter((ev): ev is Extract<Ev, { type: K }> => ev.type === type);

const foreign = (holder: string, over: Partial<LeaderRecord> = {}): LeaderRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: Date.UTC(2025, 11, 31),
  renewTime: Date.UTC(2025, 11, 31),
  leaderTransitions: 5,
  ...over,
});

describe('tryAcquireOrRenew: acquiring', () => {
  const cases: {
    name: string;
    record?: LeaderRecord;
    allow?: readonly LockOp[];
    /** Time to advance after the first attempt. */
    wait: number;
    leads: boolean;
    transitions?: number;
    calls: Partial<Record<LockOp, number>>;
    transitionMetric?: number;
  }[] = [
    {
      name: 'absent lease: create it',
      wait: 0,
      leads: true,
      transitions: 0,
      calls: { get: 1, create: 1, update: 0 },
      transitionMetric: 0,
    },
    {
      name: 'released lease (holder empty): take it at once, transitions + 1',
      record: foreign('', { leaseDurationSeconds: 1 }),
      wait: 0,
      leads: true,
      transitions: 6,
      calls: { get: 1, create: 0, update: 1 },
      transitionMetric: 1,
    },
    {
      name: 'valid foreign lease: do not acquire, only read',
      record: foreign('b'),
      allow: ['get'],
      wait: 14_000,
      leads: false,
      calls: { get: 8, create: 0, update: 0 },
    },
    {
      name: 'foreign renewTime an hour old: still valid, we trust only our clock',
      record: foreign('b', { renewTime: Date.UTC(2025, 11, 31, 23) }),
      allow: ['get'],
      wait: 0,
      leads: false,
      calls: { get: 1 },
    },
    {
      name: 'foreign lease unchanged for leaseDuration: expired, take it, transitions + 1',
      record: foreign('b'),
      wait: 16_000,
      leads: true,
      transitions: 6,
      calls: { get: 9, create: 0, update: 1 },
      transitionMetric: 1,
    },
    {
      name: 'our own identity in the lease (restart with the same name): renew it, transitions kept',
      record: foreign('a'),
      wait: 0,
      leads: true,
      transitions: 5,
      calls: { get: 1, update: 1 },
      transitionMetric: 0,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const e = env(c.record);
      const a = start(replica(e, 'a', c.allow ? { allow: c.allow } : {}));
      await e.clock.advance(0);
      await e.clock.advance(c.wait);
      assert.equal(a.elector.isLeader(), c.leads);
      assert.equal(e.store.record?.holderIdentity, c.leads ? 'a' : c.record?.holderIdentity);
      if (c.transitions !== undefined) assert.equal(e.store.record?.leaderTransitions, c.transitions);
      for (const [op, n] of Object.entries(c.calls)) assert.equal(a.lock.count(op as LockOp), n, `${op} calls`);
      if (c.transitionMetric !== undefined) assert.equal(a.metrics.transition, c.transitionMetric);
      assert.deepEqual(a.lock.unexpected, []);
      await stop(e, a);
    });
  }

  test('a foreign lease that keeps changing is never taken', async () => {
    const e = env(foreign('b'));
    const a = start(replica(e, 'a', { allow: ['get'] }));
    for (let i = 0; i < 30; i++) {
      // b renews every 2 s
      e.store.record = { ...foreign('b'), renewTime: e.clock.now() };
      e.store.version++;
      await e.clock.advance(2_000);
    }
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.elector.leaderIdentity(), 'b');
    assert.deepEqual(a.lock.unexpected, []);
    assert.deepEqual(
      all(a, 'newLeader').map((x) => x.identity),
      ['b'],
    );
    await stop(e, a);
  });

  test('the expiry clock starts when WE saw the record change, not at its renewTime', async () => {
    const e = env(foreign('b'));
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    const seen = e.clock.now();
    await e.clock.advanceUntil(() => a.elector.isLeader(), 60_000, 100);
    const took = first(a, 'started')!.at;
    assert.ok(took >= seen + T.leaseDurationMs, `took at +${took - seen} ms`);
    assert.ok(took <= seen + T.leaseDurationMs + T.retryPeriodMs, `took at +${took - seen} ms`);
    await stop(e, a);
  });
});

describe('renewing', () => {
  test('fast path: the leader only updates, keeping acquireTime and transitions', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    const acquired = e.store.record!;
    const before = a.lock.count();
    await e.clock.advance(3 * T.retryPeriodMs);
    assert.equal(a.lock.count() - before, 3);
    assert.equal(a.lock.count('get'), 1);
    assert.equal(e.store.record?.acquireTime, acquired.acquireTime);
    assert.equal(e.store.record?.leaderTransitions, acquired.leaderTransitions);
    assert.equal(e.store.record?.renewTime, e.clock.now());
    assert.equal(a.elector.lastRenewAt(), e.clock.now());
    assert.equal(a.metrics.renewLatency, 3);
    assert.equal(a.metrics.slowPath, 0);
    await stop(e, a);
  });

  test('slow path: a conflict on the optimistic update falls back to get + update', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    e.store.version++; // someone touched the Lease (same content)
    await e.clock.advance(T.retryPeriodMs);
    assert.deepEqual(
      a.lock.calls.slice(-3).map((c) => `${c.op}:${c.outcome}`),
      ['update:conflict', 'get:ok', 'update:ok'],
    );
    assert.equal(a.metrics.slowPath, 1);
    assert.equal(a.elector.isLeader(), true);
    await stop(e, a);
  });

  test('transient failures shorter than renewDeadline keep the term', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    a.lock.failing = true;
    await e.clock.advance(T.renewDeadlineMs - T.retryPeriodMs - 1);
    a.lock.failing = false;
    await e.clock.advance(T.retryPeriodMs * 3);
    assert.equal(all(a, 'started').length, 1);
    assert.equal(first(a, 'aborted'), undefined);
    assert.equal(a.elector.isLeader(), true);
    await stop(e, a);
  });
});

describe('slow writes (a busy process, a slow API server; issue #13 slot flapping)', () => {
  test('an acquisition that answers late is renewed at once and the term survives; lastRenew = when the write was sent', async () => {
    // Every lock call takes 4 s: the acquisition's read ends at +4 s, its write at +8 s. Counted from the attempt's
    // start and renewed a full retry period after the acquisition answered (+10 s), the term ended at its first
    // renewal (deadline +10 s).
    const e = env(foreign('', { leaseDurationSeconds: 1 }));
    const a = replica(e, 'a');
    a.lock.latencyMs = 4_000;
    const t0 = e.clock.now();
    start(a);
    await e.clock.advanceUntil(() => a.elector.isLeader(), 20_000, 100);
    assert.equal(first(a, 'started')!.at, t0 + 8_000, 'acquired when the write answered');
    assert.equal(a.elector.lastRenewAt(), t0 + 4_000, 'lastRenew: when the write was sent, not the attempt start');
    await e.clock.advance(60_000);
    assert.equal(all(a, 'started').length, 1, 'one term');
    assert.equal(first(a, 'aborted'), undefined, 'never lost');
    assert.ok(a.elector.canActAsLeader());
    // Renewals follow each other back to back (each write 4 s, retry 2 s), every one well within the deadline.
    const writes = e.store.writes.map((w) => w.at);
    for (let i = 1; i < writes.length; i++) assert.ok(writes[i]! - writes[i - 1]! <= 4_000, 'no gap beyond one write');
    await stop(e, a);
  });

  test('fast writes still renew every retry period (from the last renewal), not more often', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    const a0 = e.store.writes.length;
    a.lock.latencyMs = 500;
    await e.clock.advance(20_000);
    const writes = e.store.writes.slice(a0).map((w) => w.at);
    // sent every 2 s (lastRenew + retry), answered 500 ms later
    assert.ok(writes.length >= 9 && writes.length <= 10, `${writes.length} renewals in 20 s`);
    for (let i = 1; i < writes.length; i++) assert.equal(writes[i]! - writes[i - 1]!, T.retryPeriodMs);
    await stop(e, a);
  });
});

describe('losing leadership', () => {
  const cases = [
    { name: 'renewals fail (API errors)', cut: (r: Replica) => (r.lock.failing = true) },
    { name: 'renewals hang (no answer at all)', cut: (r: Replica) => (r.lock.latencyMs = 3_600_000) },
  ];
  for (const c of cases) {
    test(`${c.name}: term signal aborts first, before the lease can expire; then onStoppedLeading`, async () => {
      const e = env();
      const a = start(replica(e, 'a'));
      await e.clock.advance(0);
      const b = start(replica(e, 'b'));
      await e.clock.advance(T.retryPeriodMs * 2);
      assert.equal(a.elector.isLeader(), true);
      c.cut(a);
      const lastRenew = a.elector.lastRenewAt()!;
      await e.clock.advanceUntil(() => b.elector.isLeader(), 60_000, 100);

      const aborted = first(a, 'aborted')!;
      const stopped = first(a, 'stopped')!;
      const bStarted = first(b, 'started')!;
      assert.ok(aborted, 'term signal aborted');
      assert.equal(aborted.at, lastRenew + T.renewDeadlineMs, 'aborted exactly at lastRenew + renewDeadline');
      assert.ok(aborted.at < lastRenew + T.leaseDurationMs, 'aborted before the lease would expire');
      assert.ok(a.events.indexOf(aborted) < a.events.indexOf(stopped), 'abort before onStoppedLeading');
      assert.equal(stopped.termAborted, true, 'onStoppedLeading sees an aborted signal');
      assert.equal(stopped.reason, 'renew deadline exceeded');
      assert.ok(bStarted.at >= lastRenew + T.leaseDurationMs, 'b waited a full leaseDuration');
      assert.ok(aborted.at < bStarted.at, 'a stopped before b started');
      assert.equal(a.elector.isLeader(), false);
      assert.equal(a.metrics.leaderOff, 1);
      await stop(e, a);
      await stop(e, b);
    });
  }

  test('pause: canActAsLeader turns false once lastRenew is older than renewDeadline, before the loop notices', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    assert.equal(a.elector.canActAsLeader(), true);
    const lastRenew = a.elector.lastRenewAt()!;
    e.clock.jump(T.renewDeadlineMs - 1);
    assert.equal(a.elector.canActAsLeader(), true, 'still fresh 1 ms before the deadline');
    e.clock.jump(1); // the process was frozen; no timer has run
    assert.equal(a.elector.isLeader(), true, 'the loop has not noticed');
    assert.equal(a.elector.canActAsLeader(), false, 'but leader-only writes are refused');
    assert.equal(a.elector.lastRenewAt(), lastRenew);
    // The process resumes: the loop notices, ends the term, and (the Lease being still ours) starts a new one.
    await e.clock.advance(0);
    assert.equal(first(a, 'stopped')?.reason, 'renew deadline exceeded');
    assert.equal(all(a, 'started').length, 2);
    assert.equal(a.elector.canActAsLeader(), true);
    assert.equal(e.store.record?.leaderTransitions, 0, 'same holder: no transition');
    await stop(e, a);
  });

  test('healthy() fails once the Lease names us but we have not renewed for leaseDuration + tolerance', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    const b = start(replica(e, 'b'));
    await e.clock.advance(0);
    assert.deepEqual(a.elector.healthy(), { ok: true });
    a.lock.failing = true;
    await e.clock.advance(T.leaseDurationMs + 1_000);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.elector.healthy(5_000).ok, true, 'within tolerance');
    const h = a.elector.healthy();
    assert.equal(h.ok, false);
    assert.match(h.reason ?? '', /failed to renew leadership on lease test\/fake-lease/);
    assert.deepEqual(b.elector.healthy(), { ok: true }, 'a follower is healthy');
    await stop(e, a);
    await stop(e, b);
  });
});

describe('stopping', () => {
  test('release on stop: abort, onStoppedLeading, then holder "" and 1 s; a follower takes over at once', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    const b = start(replica(e, 'b'));
    await e.clock.advance(T.retryPeriodMs * 3);
    await stop(e, a);
    const rel = e.store.writes.at(-1)!;
    assert.equal(rel.identity, 'a');
    assert.equal(rel.record.holderIdentity, '');
    assert.equal(rel.record.leaseDurationSeconds, 1);
    assert.equal(rel.record.leaderTransitions, 0);
    const kinds = a.events.map((x) => x.type);
    assert.deepEqual(kinds.slice(-2), ['aborted', 'stopped']);
    assert.equal(first(a, 'stopped')?.reason, 'stopped');
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.elector.leaderIdentity(), undefined);
    const released = e.clock.now();
    await e.clock.advanceUntil(() => b.elector.isLeader(), T.leaseDurationMs, 10);
    assert.ok(first(b, 'started')!.at - released <= T.retryPeriodMs, 'within one retry period');
    assert.equal(e.store.record?.leaderTransitions, 1);
    assert.equal(b.metrics.transition, 1);
    await stop(e, b);
    assert.equal(e.store.record?.holderIdentity, '');
  });

  test('releaseOnCancel false: no write after stop', async () => {
    const e = env();
    const a = start(replica(e, 'a', { releaseOnCancel: false }));
    await e.clock.advance(0);
    const writes = e.store.writes.length;
    await stop(e, a);
    assert.equal(e.store.writes.length, writes);
    assert.equal(e.store.record?.holderIdentity, 'a');
    assert.equal(first(a, 'stopped')?.reason, 'stopped');
  });

  const conflicts = [
    { name: 'release after a conflict, Lease still ours: re-read and release', holder: 'a', released: true },
    { name: 'release after a conflict, Lease now someone else’s: leave it', holder: 'c', released: false },
  ];
  for (const c of conflicts) {
    test(c.name, async () => {
      const e = env();
      const a = start(replica(e, 'a'));
      await e.clock.advance(0);
      e.store.record = { ...e.store.record!, holderIdentity: c.holder };
      e.store.version++;
      await stop(e, a);
      assert.deepEqual(
        a.lock.calls.slice(c.released ? -3 : -2).map((x) => `${x.op}:${x.outcome}`),
        c.released ? ['update:conflict', 'get:ok', 'update:ok'] : ['update:conflict', 'get:ok'],
      );
      assert.equal(e.store.record?.holderIdentity, c.released ? '' : 'c');
    });
  }

  test('stop after a lost term while the Lease still names us: release it', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    a.lock.failing = true;
    await e.clock.advance(T.renewDeadlineMs + T.retryPeriodMs);
    assert.equal(first(a, 'stopped')?.reason, 'renew deadline exceeded');
    assert.equal(a.elector.isLeader(), false);
    a.lock.failing = false;
    await stop(e, a);
    assert.equal(e.store.record?.holderIdentity, '');
    assert.equal(all(a, 'stopped').length, 1, 'onStoppedLeading once per term');
  });

  test('a replica that never led: no onStoppedLeading, no write', async () => {
    const e = env(foreign('b'));
    const a = start(replica(e, 'a', { allow: ['get'] }));
    await e.clock.advance(T.retryPeriodMs);
    await stop(e, a);
    assert.equal(first(a, 'stopped'), undefined);
    assert.equal(e.store.writes.length, 0);
    assert.deepEqual(a.lock.unexpected, []);
  });

  test('a term that does not end within renewDeadline: run() rejects ZW_ERR_LEADER_STOP_DEADLINE, no release', async () => {
    const e = env();
    const a = start(replica(e, 'a', { stopDelayMs: T.renewDeadlineMs + 1 }));
    await e.clock.advance(0);
    a.ctl.abort();
    const rejected = assert.rejects(a.done!, { code: 'ZW_ERR_LEADER_STOP_DEADLINE' });
    await e.clock.advance(T.renewDeadlineMs);
    await rejected;
    assert.equal(e.store.record?.holderIdentity, 'a', 'not released: leader work may still be running');
  });

  test('run() twice at once is refused', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    await assert.rejects(a.elector.run(new AbortController().signal), /already running/);
    await stop(e, a);
  });
});

describe('two replicas', () => {
  test('never two leaders; leadership moves on stop; transitions count each change of holder', async () => {
    const e = env();
    const rs = ['a', 'b', 'c'].map((id) => start(replica(e, id)));
    let max = 0;
    for (let i = 0; i < 200; i++) {
      await e.clock.advance(100);
      max = Math.max(max, rs.filter((r) => r.elector.isLeader()).length);
    }
    assert.equal(max, 1);
    const holders: string[] = [];
    for (let round = 0; round < 2; round++) {
      const leader = rs.find((r) => r.elector.isLeader())!;
      holders.push(leader.id);
      await stop(e, leader);
      for (let i = 0; i < 100; i++) {
        await e.clock.advance(100);
        max = Math.max(max, rs.filter((r) => r.elector.isLeader()).length);
      }
    }
    assert.equal(max, 1);
    assert.equal(new Set(holders).size, 2);
    assert.equal(e.store.record?.leaderTransitions, 2);
    for (const r of rs) await stop(e, r);
  });
});

describe('config validation names the field', () => {
  const lock = new FakeLock(new FakeLeaseStore(), 'a', { clock: new FakeClock() });
  const cb = { onStartedLeading() {}, onStoppedLeading() {} };
  const cases: { name: string; over: Partial<LeaderElectorConfig>; field: string }[] = [
    { name: 'lease <= renew', over: { leaseDurationMs: 10_000 }, field: 'leaseDurationMs' },
    { name: 'renew <= 1.2 × retry', over: { renewDeadlineMs: 2_400 }, field: 'renewDeadlineMs' },
    { name: 'retry not positive', over: { retryPeriodMs: 0 }, field: 'retryPeriodMs' },
    { name: 'lease not a number', over: { leaseDurationMs: Number.NaN }, field: 'leaseDurationMs' },
    {
      name: 'lease under 1 s',
      over: { leaseDurationMs: 900, renewDeadlineMs: 800, retryPeriodMs: 100 },
      field: 'leaseDurationMs',
    },
    {
      name: 'empty identity',
      over: { lock: new FakeLock(new FakeLeaseStore(), '', { clock: new FakeClock() }) },
      field: 'lock.identity',
    },
    {
      name: 'missing onStoppedLeading',
      over: { callbacks: { onStartedLeading() {} } as unknown as LeaderElectorConfig['callbacks'] },
      field: 'callbacks.onStoppedLeading',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => createLeaderElector({ ...T, lock, callbacks: cb, ...c.over }),
        (err: Error & { code?: string; field?: string }) => {
          assert.equal(err.code, 'ZW_ERR_LEADER_CONFIG');
          assert.equal(err.field, c.field);
          assert.ok(err.message.includes(c.field), err.message);
          return true;
        },
      );
    });
  }
  test('defaults (15 s / 10 s / 2 s) are valid', () => {
    assert.doesNotThrow(() => createLeaderElector({ lock, callbacks: cb }));
  });
});

test('nudge(): a follower told the Lease was released takes it at once, not after its retry wait', async () => {
  const e = env();
  const a = start(replica(e, 'a'));
  await e.clock.advance(0);
  await e.clock.advance(0);
  assert.ok(first(a, 'started'), 'a leads');
  const b = start(replica(e, 'b'));
  await e.clock.advance(100); // b tried once, saw a valid lease, and now waits a full retry period
  await stop(e, a); // a releases the Lease
  const releasedAt = e.clock.now();
  assert.equal(first(b, 'started'), undefined, 'b is still waiting');
  b.elector.nudge();
  for (let i = 0; i < 5; i++) await e.clock.advance(0);
  const bStarted = first(b, 'started');
  assert.ok(bStarted, 'b leads after the nudge');
  assert.ok(bStarted.at - releasedAt < T.retryPeriodMs, `took ${bStarted.at - releasedAt} ms of fake time`);
  await stop(e, b);
});

test('inside onStartedLeading the elector already reports leadership (leader-only work may write at once)', async () => {
  const e = env();
  let seen: { isLeader: boolean; canAct: boolean } | undefined;
  const r = replica(e, 'a', {
    callbacks: {
      onStartedLeading: () => {
        seen = { isLeader: r.elector.isLeader(), canAct: r.elector.canActAsLeader() };
      },
      onStoppedLeading: () => {},
    },
  });
  start(r);
  for (let i = 0; i < 5; i++) await e.clock.advance(0);
  assert.deepEqual(seen, { isLeader: true, canAct: true });
  await stop(e, r);
});

describe('observe(): Lease records from a watch', () => {
  test('a crashed holder is replaced at observedAt + leaseDuration, not after the jittered poll', async () => {
    const e = env(foreign('b'));
    // Worst-case jitter: every poll waits 2.2 × retryPeriod.
    const a = start(replica(e, 'a', { random: () => 1 }));
    await e.clock.advance(0);
    let lastSeen = 0;
    // b renews every 2 s for 20 s; a's watch delivers each renewal as it happens.
    for (let i = 0; i < 10; i++) {
      await e.clock.advance(2_000);
      e.store.record = { ...foreign('b'), renewTime: e.clock.now() };
      e.store.version++;
      a.elector.observe(e.store.record, JSON.stringify(e.store.record));
      lastSeen = e.clock.now();
    }
    // b crashes right after that renewal.
    await e.clock.advanceUntil(() => a.elector.isLeader(), 60_000, 1);
    const took = first(a, 'started')!.at - lastSeen;
    assert.ok(took >= T.leaseDurationMs, `took over ${took} ms after the last renewal: before expiry`);
    assert.ok(took <= T.leaseDurationMs + 50, `took over ${took} ms after the last renewal (poll alone: up to +4.4 s)`);
    // The failover metric: the gap from the last renewal seen to the takeover, as an expiry.
    assert.equal(a.failovers.length, 1);
    assert.equal(a.failovers[0]!.previous, 'expired');
    assert.ok(Math.abs(a.failovers[0]!.seconds * 1000 - took) <= 1, `metric ${a.failovers[0]!.seconds} s`);
    await stop(e, a);
  });

  test('a read that answers after the expiry it was sent before takes the lease, not a retry period later', async () => {
    // Every lock call takes 500 ms. The first read (answered at t0 + 500) is a's observation, so the lease expires at
    // t0 + 15 500. a polls every 2 s + 500 ms: its attempt sent at t0 + 15 000 reads until t0 + 15 500. Judged at its
    // start the lease was still valid and the next attempt came a jittered retry period later (took at t0 + 18 500).
    const e = env(foreign('b'));
    const a = replica(e, 'a');
    a.lock.latencyMs = 500;
    const t0 = e.clock.now();
    start(a);
    await e.clock.advanceUntil(() => a.elector.isLeader(), 60_000, 100);
    const expiry = t0 + 500 + T.leaseDurationMs;
    const took = first(a, 'started')!.at;
    assert.ok(took >= expiry, 'not before the expiry');
    assert.ok(took <= expiry + 2 * 500, `taken ${took - expiry} ms after the expiry: within that read and one write`);
    await stop(e, a);
  });

  test('without observations the poll alone can take lease + 2.2 × retry (the gap observe() closes)', async () => {
    const e = env(foreign('b'));
    const a = start(replica(e, 'a', { random: () => 1 }));
    await e.clock.advance(0);
    let lastWrite = 0;
    for (let i = 0; i < 10; i++) {
      await e.clock.advance(2_000);
      e.store.record = { ...foreign('b'), renewTime: e.clock.now() };
      e.store.version++;
      lastWrite = e.clock.now();
    }
    await e.clock.advanceUntil(() => a.elector.isLeader(), 60_000, 1);
    const took = first(a, 'started')!.at - lastWrite;
    assert.ok(took > T.leaseDurationMs + 1_000, `took over ${took} ms after the last write`);
    await stop(e, a);
  });

  test('a released record seen by the watch is taken at once', async () => {
    const e = env(foreign('b'));
    const a = start(replica(e, 'a'));
    await e.clock.advance(100);
    e.store.record = { ...foreign('b'), holderIdentity: '', leaseDurationSeconds: 1, renewTime: e.clock.now() };
    e.store.version++;
    const releasedAt = e.clock.now();
    a.elector.observe(e.store.record, JSON.stringify(e.store.record));
    for (let i = 0; i < 5; i++) await e.clock.advance(0);
    const started = first(a, 'started');
    assert.ok(started, 'a leads after the release was observed');
    assert.ok(started.at - releasedAt < 100, `took ${started.at - releasedAt} ms`);
    assert.deepEqual(
      a.failovers.map((f) => f.previous),
      ['released'],
    );
    assert.ok(a.failovers[0]!.seconds < 0.1);
    await stop(e, a);
  });

  test('an older record from a lagging watch never moves the expiry back', async () => {
    const e = env(foreign('b', { renewTime: 1_000 }));
    const a = start(replica(e, 'a'));
    await e.clock.advance(0);
    // The poll saw renewTime 1 000; a lagging watch now delivers an older record of the same holder.
    a.elector.observe(foreign('b', { renewTime: 500 }), 'old');
    await e.clock.advanceUntil(() => a.elector.isLeader(), 60_000, 100);
    assert.equal(a.elector.leaderIdentity(), 'a');
    assert.equal(a.events.filter((x) => x.type === 'newLeader' && x.identity === 'b').length, 1);
    await stop(e, a);
  });

  test('ignored while leading: the leader keeps renewing on its fast path', async () => {
    const e = env();
    const a = start(replica(e, 'a'));
    for (let i = 0; i < 5; i++) await e.clock.advance(0);
    assert.ok(a.elector.isLeader());
    a.elector.observe(foreign('b', { renewTime: e.clock.now() }), 'foreign');
    await e.clock.advance(T.retryPeriodMs * 3);
    assert.ok(a.elector.isLeader(), 'still leads');
    assert.equal(a.metrics.slowPath, 0, 'no slow-path renewal caused by the observation');
    await stop(e, a);
  });
});
