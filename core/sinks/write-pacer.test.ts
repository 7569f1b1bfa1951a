import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveWritePacer } from './write-pacer.ts';

test('the pacer starts at its ceiling, halves on a 429 (once per interval), holds for Retry-After and recovers', () => {
  let t = 0;
  const p = new AdaptiveWritePacer({ ceilingQps: 100, burst: 10, increaseQps: 10, now: () => t });
  assert.equal(p.rate, 100);
  for (let i = 0; i < 10; i++) assert.ok(p.take(), 'the burst is there at once');
  assert.equal(p.take(), false);
  assert.equal(p.waitMs(), 10, 'one token per 10 ms at 100/s');
  p.throttledBy(1);
  p.throttledBy(1);
  assert.equal(p.rate, 50, 'two 429s within the interval halve once');
  assert.equal(p.throttled, 2);
  assert.equal(p.waitMs(), 1000, 'no request during the Retry-After');
  t = 1000;
  p.throttledBy();
  assert.equal(p.rate, 25, 'a 429 after the interval halves again');
  t = 1100;
  let admitted = 0;
  while (p.rate < 100 && admitted < 10_000) {
    p.admitted();
    admitted++;
  }
  assert.equal(p.rate, 100, 'admitted writes bring the rate back to the ceiling, not above');
  assert.ok(admitted > 50, `additive increase, not a jump (${admitted} writes)`);
});

test('the rate never falls below the floor, and bad options are refused', () => {
  let t = 0;
  const p = new AdaptiveWritePacer({ ceilingQps: 8, burst: 1, floorQps: 2, now: () => t });
  for (let i = 0; i < 10; i++) {
    t += 2000;
    p.throttledBy();
  }
  assert.equal(p.rate, 2);
  assert.throws(() => new AdaptiveWritePacer({ ceilingQps: 0, burst: 1 }), /ceilingQps > 0/);
});
