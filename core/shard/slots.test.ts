import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  assignSlots,
  checkSlots,
  DEFAULT_SHARD_SLOTS,
  memberLeaseName,
  slotLeaseName,
  slotOf,
  slotsFor,
} from './slots.ts';

const members = (n: number, tag = 'pod') => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

describe('slotOf: the unit → slot hash', () => {
  test('is sha256 of "ingester|namespace", first 4 bytes big-endian, mod S (stable, reproducible elsewhere)', () => {
    const want = createHash('sha256').update('security/trivy|team-a').digest().readUInt32BE(0) % 16;
    assert.equal(slotOf('security/trivy', 'team-a', 16), want);
    assert.equal(slotOf('security/trivy', 'team-a', 16), slotOf('security/trivy', 'team-a', 16));
  });

  test('cluster-scoped units are namespace "" (undefined is the same unit)', () => {
    assert.equal(slotOf('security/trivy', undefined, 16), slotOf('security/trivy', '', 16));
  });

  test('spreads namespaces evenly over the slots', () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[slotOf('security/trivy', `ns-${i}`, 16)]++;
    for (const c of counts) assert.ok(c > 60 && c < 140, `slot count ${c} far from 100: ${counts}`);
  });

  test('the same namespace of two Ingesters is two units, usually in different slots', () => {
    let differ = 0;
    for (let i = 0; i < 100; i++) if (slotOf('a/trivy', `ns-${i}`, 16) !== slotOf('b/kyverno', `ns-${i}`, 16)) differ++;
    assert.ok(differ > 80, `only ${differ} of 100 differ`);
  });

  test('bad slot counts are refused with a clear error', () => {
    for (const bad of [0, -1, 1.5, 257, Number.NaN]) {
      assert.throws(() => checkSlots(bad), /shard slots must be an integer from 1 to 256/);
      assert.throws(() => slotOf('a/b', 'c', bad), /shard slots/);
    }
  });
});

describe('assignSlots: bounded-load rendezvous hashing', () => {
  test('every slot has exactly one owner and every member floor(S/M) or ceil(S/M) slots', () => {
    for (const S of [1, 2, 7, 16, 32, 256]) {
      for (let M = 1; M <= 9; M++) {
        const a = assignSlots(members(M), S);
        assert.equal(a.size, S);
        const per = new Map<string, number>();
        for (const id of a.values()) per.set(id, (per.get(id) ?? 0) + 1);
        for (const id of members(M)) {
          const n = per.get(id) ?? 0;
          assert.ok(
            n === Math.floor(S / M) || n === Math.ceil(S / M),
            `S=${S} M=${M}: ${id} has ${n} (want ${Math.floor(S / M)} or ${Math.ceil(S / M)})`,
          );
        }
      }
    }
  });

  test('does not depend on the order members are seen in, and ignores duplicates and empty identities', () => {
    const a = assignSlots(['c', 'a', 'b'], 16);
    const b = assignSlots(['b', 'a', 'c', 'a', ''], 16);
    assert.deepEqual([...a].sort(), [...b].sort());
  });

  test('one member owns everything; no member owns nothing', () => {
    assert.deepEqual(
      slotsFor('only', ['only'], DEFAULT_SHARD_SLOTS),
      Array.from({ length: 16 }, (_, i) => i),
    );
    assert.equal(assignSlots([], 16).size, 0);
  });

  test('a member joining moves about S/(M+1) slots, most of them to itself, not a reshuffle', () => {
    for (let M = 1; M <= 8; M++) {
      let total = 0;
      const trials = 50;
      for (let trial = 0; trial < trials; trial++) {
        const before = members(M, `t${trial}`);
        const joined = `t${trial}-new`;
        const x = assignSlots(before, 16);
        const y = assignSlots([...before, joined], 16);
        let moved = 0;
        let toNew = 0;
        for (let s = 0; s < 16; s++) {
          if (x.get(s) === y.get(s)) continue;
          moved++;
          if (y.get(s) === joined) toNew++;
        }
        assert.ok(moved <= 8, `M=${M} trial ${trial}: ${moved} of 16 slots moved`);
        assert.ok(toNew >= Math.floor(16 / (M + 1)), `M=${M}: the new member got ${toNew}`);
        total += moved;
      }
      const ideal = Math.ceil(16 / (M + 1));
      assert.ok(total / trials <= ideal + 2, `M=${M}: ${total / trials} slots moved on average (ideal ${ideal})`);
    }
  });

  test('a member leaving moves only its own slots plus a few to even out', () => {
    for (let M = 2; M <= 8; M++) {
      const all = members(M, 'leave');
      const gone = all[M - 1]!;
      const x = assignSlots(all, 16);
      const y = assignSlots(all.slice(0, -1), 16);
      let movedOthers = 0;
      for (let s = 0; s < 16; s++) if (x.get(s) !== gone && x.get(s) !== y.get(s)) movedOthers++;
      assert.ok(movedOthers <= 4, `M=${M}: ${movedOthers} slots of staying members moved`);
    }
  });
});

describe('Lease names', () => {
  test('slot and member Leases are named from the election id; identities are hashed into valid names', () => {
    assert.equal(slotLeaseName('zen-watcher-leader-election', 3), 'zen-watcher-leader-election-shard-3');
    const m = memberLeaseName('zen-watcher-leader-election', 'host_Name_1234');
    assert.match(m, /^zen-watcher-leader-election-member-[0-9a-f]{10}$/);
    assert.notEqual(m, memberLeaseName('zen-watcher-leader-election', 'host_Name_1235'));
  });
});
