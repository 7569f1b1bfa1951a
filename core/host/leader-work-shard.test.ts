// api.leaderWork on a sharded replica (ADR 0020): runs follow the shard hub's epochs instead of the leader term,
// and everything a run does carries its shard context (what core/host/plugin-kube.ts, the write guard and the
// resolver read).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IngesterRun, IngesterView, PluginApi, PluginLogger, ReconcileResult } from '../api/index.ts';
import { type ShardWork, shardWork } from '../shard/context.ts';
import { ShardHub, type ShardSource } from '../shard/hub.ts';
import { slotOf } from '../shard/slots.ts';
import { registerLeaderWork } from './leader-work.ts';

const view = (name: string): IngesterView =>
  ({ namespace: 'zen', name, source: 'trivy', handler: 'trivy', ingester: 'informer', config: {} }) as IngesterView;

const ok: ReconcileResult = {
  created: 0,
  duplicates: 0,
  filtered: 0,
  dropped: 0,
  missing: 0,
  resolved: 0,
  reactivated: 0,
};

class Slots implements ShardSource {
  readonly slots = 4;
  readonly identity = 'replica-1';
  readonly held = new Set<number>();
  owned = () => [...this.held].sort();
  canAct = (slot: number) => this.held.has(slot);
}

function harness() {
  const tapped: string[] = [];
  const tappable = (name: string) => ({ tapPromise: () => void tapped.push(name) });
  const log: PluginLogger = { debug() {}, info() {}, warn() {}, error() {}, child: () => log };
  const seen: { what: string; ctx: ShardWork | undefined }[] = [];
  const api = {
    hooks: {
      onBecomeLeader: tappable('onBecomeLeader'),
      onIngesterChanged: tappable('onIngesterChanged'),
      onStop: tappable('onStop'),
    } as unknown as PluginApi['hooks'],
    ingesters: () => [view('a'), view('b')],
    reconcile: async () => {
      seen.push({ what: 'reconcile', ctx: shardWork.getStore() });
      return ok;
    },
    reconcileScopes: async () => {
      seen.push({ what: 'reconcileScopes', ctx: shardWork.getStore() });
    },
    kube: { hasResource: async () => true, informer: async () => {}, watchNamespaces: [] },
  } as unknown as PluginApi;
  const source = new Slots();
  const hub = new ShardHub(4, { debounceMs: 10, maxWaitMs: 50 });
  hub.attach(source);
  const runs: { ingester: IngesterView; run: IngesterRun; ctx: ShardWork | undefined }[] = [];
  const units = new Map<string, number>();
  registerLeaderWork(
    'trivy',
    ['trivy'],
    api,
    log,
    { runs() {}, retry() {}, startError() {}, units: (i, n) => void units.set(i, n) },
    {
      start(ingester, run) {
        runs.push({ ingester, run, ctx: shardWork.getStore() });
      },
    },
    {},
    hub,
  );
  return {
    tapped,
    seen,
    runs,
    units,
    hub,
    acquire: (...slots: number[]) => {
      for (const s of slots) {
        source.held.add(s);
        hub.acquired(s);
      }
    },
    release: (slot: number) => {
      source.held.delete(slot);
      hub.released(slot);
    },
    active: () => runs.filter((r) => !r.run.signal.aborted).map((r) => r.ingester.name),
  };
}

describe('api.leaderWork on a sharded replica', () => {
  test('runs start with the first epoch (not on onBecomeLeader) and stop when it ends', async () => {
    const h = harness();
    assert.ok(!h.tapped.includes('onBecomeLeader'), 'the leader term does not start sharded work');
    assert.equal(h.runs.length, 0, 'no slot, no work');
    h.acquire(0, 1);
    await sleep(40);
    assert.deepEqual(h.active().sort(), ['a', 'b']);
    h.release(1);
    assert.deepEqual(h.active(), [], 'a released slot stops the runs at once, before its Lease goes');
    await sleep(40);
    assert.deepEqual(h.active().sort(), ['a', 'b'], 'the slots left get new runs');
    assert.equal(h.runs.length, 4);
    h.hub.close();
    assert.deepEqual(h.active(), []);
  });

  test('start and the run’s calls carry the shard context: its Ingester and the units of the held slots', async () => {
    const h = harness();
    h.acquire(2);
    await sleep(40);
    const a = h.runs.find((r) => r.ingester.name === 'a')!;
    assert.ok(a.ctx, 'start runs inside shardWork');
    assert.equal(a.ctx.ingester, 'zen/a');
    for (let i = 0; i < 30; i++) {
      assert.equal(a.ctx.owns(`ns-${i}`), slotOf('zen/a', `ns-${i}`, 4) === 2, `ns-${i}`);
    }
    await a.run.reconcile('scope-1', []);
    await a.run.reconcileScopes(['scope-1']);
    assert.deepEqual(
      h.seen.map((s) => `${s.what}:${s.ctx?.ingester}`),
      ['reconcile:zen/a', 'reconcileScopes:zen/a'],
    );
    assert.equal(h.seen[0]!.ctx?.epoch.canAct(), true, 'the guard is the epoch’s: its slots held');
    a.ctx.kept('ns-1');
    a.ctx.kept('ns-1');
    a.ctx.kept('');
    assert.equal(h.units.get('zen/a'), 2, 'units counted once each');
    h.release(2);
    assert.equal(h.seen[0]!.ctx?.epoch.canAct(), false, 'and fails once a slot of the epoch is gone');
    assert.equal(h.units.get('zen/a'), 0, 'a stopped run holds no units');
    h.hub.close();
  });
});
