import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ShardEpoch } from './context.ts';
import { workFor } from './context.ts';
import { ShardHub, type ShardSource } from './hub.ts';
import { slotOf } from './slots.ts';

/** Slot ownership as the coordinator would report it (the hub's input). */
class Slots implements ShardSource {
  readonly slots = 4;
  readonly identity = 'me';
  readonly held = new Set<number>();
  readonly stale = new Set<number>();
  /** Assigned, being taken: true = its Lease is about to be free (imminent), false = held by a live other. */
  readonly taking = new Map<number, boolean>();
  owned = () => [...this.held].sort();
  canAct = (slot: number) => this.held.has(slot) && !this.stale.has(slot);
  settling = () => this.taking.size > 0;
  imminent = () => [...this.taking.values()].some((x) => x);
}

function setup() {
  const source = new Slots();
  const hub = new ShardHub(4, { debounceMs: 20, maxWaitMs: 100, imminentWaitMs: 1_000 });
  hub.attach(source);
  const epochs: ShardEpoch[] = [];
  hub.onEpoch((e) => epochs.push(e));
  const acquire = (slot: number) => {
    source.held.add(slot);
    hub.acquired(slot);
  };
  const release = (slot: number) => {
    source.held.delete(slot);
    hub.released(slot);
  };
  return { source, hub, epochs, acquire, release };
}

describe('ShardHub: slot ownership → epochs of informer work', () => {
  test('slots acquired together start one epoch, after the debounce', async () => {
    const { hub, epochs, acquire } = setup();
    for (const s of [0, 1, 2, 3]) acquire(s);
    assert.equal(epochs.length, 0, 'not at once');
    await sleep(60);
    assert.equal(epochs.length, 1);
    assert.deepEqual([...epochs[0]!.owned].sort(), [0, 1, 2, 3]);
    assert.equal(epochs[0]!.canAct(), true);
    hub.close();
    assert.equal(epochs[0]!.signal.aborted, true);
  });

  test('a release ends the epoch synchronously (its work stops before the Lease goes); the rest get a new one', async () => {
    const { hub, epochs, acquire, release } = setup();
    acquire(0);
    acquire(1);
    await sleep(60);
    const first = epochs[0]!;
    release(1);
    assert.equal(first.signal.aborted, true, 'ended inside released()');
    assert.equal(first.canAct(), false);
    await sleep(60);
    assert.equal(epochs.length, 2);
    assert.deepEqual([...epochs[1]!.owned], [0]);
    hub.close();
  });

  test('the guard fails while any slot of the epoch is not renewed in time; no slot, no epoch', async () => {
    const { source, hub, epochs, acquire, release } = setup();
    acquire(2);
    acquire(3);
    await sleep(60);
    source.stale.add(3);
    assert.equal(epochs[0]!.canAct(), false);
    source.stale.delete(3);
    assert.equal(epochs[0]!.canAct(), true);
    release(2);
    release(3);
    await sleep(60);
    assert.equal(epochs.length, 1, 'no epoch without slots');
    assert.equal(hub.current(), undefined);
    hub.close();
  });

  test('a slot being taken delays the next epoch up to maxWait; one about to be taken up to imminentWait', async () => {
    const { source, hub, epochs, acquire } = setup();
    // Held by a live other (a handover not answered yet): the taken slot starts without it after maxWait.
    source.taking.set(1, false);
    acquire(0);
    await sleep(300);
    assert.equal(epochs.length, 1);
    assert.deepEqual([...epochs[0]!.owned], [0]);
    // A takeover: slot 3's Lease expires soon. Slot 2 taken now waits for it, past maxWait, and both start one epoch.
    source.taking.set(3, true);
    acquire(2);
    await sleep(300);
    assert.equal(epochs.length, 1, 'no epoch while slot 3 is about to be taken');
    source.taking.delete(3);
    acquire(3);
    await sleep(100);
    assert.equal(epochs.length, 2);
    assert.deepEqual([...epochs[1]!.owned].sort(), [0, 2, 3]);
    // imminentWait bounds it: a slot that stays "about to be taken" does not hold the others back for good.
    source.taking.set(3, true);
    hub.released(3);
    source.held.delete(3);
    await sleep(1_300);
    assert.equal(epochs.length, 3);
    assert.deepEqual([...epochs[2]!.owned].sort(), [0, 2]);
    hub.close();
  });

  test('a run context owns exactly the units whose slot the epoch holds', async () => {
    const { hub, epochs, acquire } = setup();
    acquire(1);
    await sleep(60);
    const work = workFor(epochs[0]!, 'sec/trivy');
    for (let i = 0; i < 40; i++) {
      const ns = `ns-${i}`;
      assert.equal(work.owns(ns), slotOf('sec/trivy', ns, 4) === 1, ns);
    }
    assert.equal(work.owns(undefined), slotOf('sec/trivy', '', 4) === 1);
    hub.close();
  });
});
