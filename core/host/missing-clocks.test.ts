// The resolver's missing-since clocks (missing-clocks.ts; ADR 0009, 0022, 0020), on an index kept in memory with
// the same decisions the Kubernetes index fences its writes with (fenced-status.ts). On the real API server:
// test/kube/shard-epoch-resolution.test.ts, test/kube/fencing.test.ts, test/ha/resolution-clock.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ShardEpoch, type ShardWork, shardWork } from '../shard/context.ts';
import { decisions, type ObservationState, type StatusDecision } from './fenced-status.ts';
import { MissingClocks } from './missing-clocks.ts';
import type { IndexedObservation, ObservationIndex } from './observation-index.ts';

/** Observations by name, with a resourceVersion per write; writes refused while `canAct()` says no. */
function memoryIndex(canAct: () => boolean) {
  const store = new Map<string, { rv: number; phase: 'Active' | 'Resolved'; missingSince?: number }>();
  const writes: string[] = [];
  const view = (name: string): IndexedObservation => {
    const s = store.get(name)!;
    return {
      name,
      namespace: 'ns',
      phase: s.phase,
      scope: 'scope',
      resourceNamespace: 'app',
      resourceVersion: String(s.rv),
      ...(s.missingSince !== undefined ? { missingSince: s.missingSince } : {}),
    };
  };
  const write = (o: IndexedObservation, decide: StatusDecision, what: string) => {
    if (!canAct()) return { outcome: 'fenced' as const };
    const s = store.get(o.name);
    if (!s) return { outcome: 'gone' as const };
    const cur: ObservationState = {
      metadata: { name: o.name, namespace: 'ns', resourceVersion: String(s.rv) },
      status: {
        phase: s.phase,
        ...(s.missingSince !== undefined ? { missingSince: new Date(s.missingSince).toISOString() } : {}),
      },
    };
    const patch = decide(cur) as { phase?: 'Active' | 'Resolved'; missingSince?: string | null } | undefined;
    if (!patch) return { outcome: 'unchanged' as const };
    if (patch.phase) s.phase = patch.phase;
    if (patch.missingSince === null) delete s.missingSince;
    else if (patch.missingSince) s.missingSince = Date.parse(patch.missingSince);
    s.rv++;
    writes.push(`${what} ${o.name}`);
    return { outcome: 'written' as const };
  };
  const index: ObservationIndex = {
    list: async () => [...store.keys()].map(view),
    setPhase: async (o, phase, reason) => write(o, decisions.phase(phase, reason, o, Date.now), phase).outcome,
    setMissing: async (o, since) => {
      const r = write(o, decisions.missing(since), since === undefined ? 'clock-stop' : 'clock');
      return r.outcome === 'written' || r.outcome === 'unchanged' ? view(o.name) : undefined;
    },
  };
  return { store, writes, index, view, add: (name: string) => store.set(name, { rv: 1, phase: 'Active' }) };
}

/** A shard epoch and a run's work context in it (what leader-work.ts creates per run). */
function epoch(): { work: ShardWork; end: () => void } {
  const ctl = new AbortController();
  const e: ShardEpoch = {
    slots: 1,
    owned: new Set([0]),
    signal: ctl.signal,
    identity: 'r1',
    startedAt: Date.now(),
    canAct: () => !ctl.signal.aborted,
  };
  return { work: { epoch: e, ingester: 'zen/trivy', owns: () => true, kept() {} }, end: () => ctl.abort() };
}

const GRACE = 10_000;

function setup() {
  let t = 1_000_000;
  const canAct = () => shardWork.getStore()?.epoch.canAct() ?? true;
  const mem = memoryIndex(canAct);
  const clocks = new MissingClocks({ index: mem.index, graceMs: GRACE, now: () => t, canAct });
  return { mem, clocks, advance: (ms: number) => (t += ms), now: () => t };
}

describe('missing-since clocks', () => {
  test('a clock starts when a finding is missed, is persisted at the next tick, resolves after the grace period', async () => {
    const { mem, clocks, advance, now } = setup();
    mem.add('a');
    mem.add('b');
    const started = now();
    assert.deepEqual(await clocks.settle([mem.view('a'), mem.view('b')], new Set(['ns/b'])), {
      missing: 1,
      resolved: 0,
      reactivated: 0,
    });
    assert.deepEqual(mem.writes, [], 'nothing written at once (a report re-created at once writes nothing)');
    assert.equal(await clocks.tick(), 0);
    assert.deepEqual(mem.writes, ['clock a']);
    assert.equal(mem.store.get('a')!.missingSince, started);
    advance(GRACE);
    assert.equal(await clocks.tick(), 1);
    assert.equal(mem.store.get('a')!.phase, 'Resolved');
    assert.equal(mem.store.get('a')!.missingSince, undefined, 'resolving removes the clock');
    assert.equal(clocks.pending, 0);
  });

  test('reported again: the clock stops (persisted one removed); a Resolved finding is reactivated', async () => {
    const { mem, clocks, advance } = setup();
    mem.add('a');
    await clocks.settle([mem.view('a')], new Set());
    await clocks.tick();
    assert.deepEqual(await clocks.settle([mem.view('a')], new Set(['ns/a'])), {
      missing: 0,
      resolved: 0,
      reactivated: 0,
    });
    assert.equal(mem.store.get('a')!.missingSince, undefined);
    assert.equal(clocks.pending, 0);
    advance(GRACE);
    assert.equal(await clocks.tick(), 0, 'no clock left to run out');
    mem.store.get('a')!.phase = 'Resolved';
    assert.equal((await clocks.settle([mem.view('a')], new Set(['ns/a']))).reactivated, 1);
    assert.equal(mem.store.get('a')!.phase, 'Active');
  });

  test('a clock persisted earlier (another leader or owner) keeps running: resolved at its deadline, in settle', async () => {
    const { mem, clocks, now } = setup();
    mem.add('a');
    mem.store.get('a')!.missingSince = now() - GRACE;
    assert.equal((await clocks.settle([mem.view('a')], new Set())).resolved, 1);
    assert.equal(mem.store.get('a')!.phase, 'Resolved');
  });

  test('sharded: a clock whose epoch ended is dropped by the tick without a write', async () => {
    const { mem, clocks, advance } = setup();
    mem.add('a');
    const e1 = epoch();
    await shardWork.run(e1.work, () => clocks.settle([mem.view('a')], new Set()));
    e1.end();
    advance(GRACE);
    assert.equal(await clocks.tick(), 0);
    assert.equal(clocks.pending, 0);
    assert.deepEqual(mem.writes, [], 'the ended epoch may no longer act');
  });

  test('sharded: found missing again by the next epoch before a tick, it resolves in that epoch (#13 defect 2)', async () => {
    const { mem, clocks, advance, now } = setup();
    mem.add('a');
    const e1 = epoch();
    const since = now();
    await shardWork.run(e1.work, () => clocks.settle([mem.view('a')], new Set()));
    await clocks.tick(); // persisted in epoch 1
    advance(1_000);
    e1.end();
    const e2 = epoch(); // the same owner's next epoch relists, inside the grace period
    const r = await shardWork.run(e2.work, () => clocks.settle([mem.view('a')], new Set()));
    assert.deepEqual(r, { missing: 1, resolved: 0, reactivated: 0 });
    assert.equal(await clocks.tick(), 0, 'still inside the grace period');
    assert.equal(clocks.pending, 1, 'the clock lives on in epoch 2');
    advance(GRACE - 1_000);
    assert.equal(await clocks.tick(), 1, 'resolved at the persisted deadline');
    assert.equal(mem.store.get('a')!.phase, 'Resolved');
    assert.equal(now() - since, GRACE);
    e2.end();
  });

  test('sharded: a run restarted within the same epoch takes the clock over; a fenced resolution keeps it', async () => {
    const { mem, clocks, advance } = setup();
    mem.add('a');
    const e1 = epoch();
    await shardWork.run(e1.work, () => clocks.settle([mem.view('a')], new Set()));
    const restarted: ShardWork = { ...e1.work };
    await shardWork.run(restarted, () => clocks.settle([mem.view('a')], new Set()));
    await clocks.tick();
    assert.deepEqual(mem.writes, ['clock a']);
    advance(GRACE);
    // The guard says no for a moment (a slot not renewed in time): nothing written, the clock kept.
    let allow = false;
    const guarded = { ...restarted, epoch: { ...restarted.epoch, canAct: () => allow } };
    await shardWork.run(guarded, () => clocks.settle([mem.view('a')], new Set()));
    assert.equal(await clocks.tick(), 0);
    assert.equal(clocks.pending, 1);
    allow = true;
    assert.equal(await clocks.tick(), 1);
    e1.end();
  });
});
