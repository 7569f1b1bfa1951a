import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Backoff } from './backoff.ts';

describe('Backoff', () => {
  test('doubles from initialMs up to maxMs, and reset() starts over', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0 });
    const seq = Array.from({ length: 9 }, () => b.next());
    assert.deepEqual(seq, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    assert.equal(b.failures, 9);
    b.reset();
    assert.equal(b.next(), 500);
  });

  test('jitter spreads each delay by ±jitter and never exceeds maxMs', () => {
    const lo = new Backoff({ initialMs: 1_000, maxMs: 1_500, jitter: 0.2, random: () => 0 });
    const hi = new Backoff({ initialMs: 1_000, maxMs: 1_500, jitter: 0.2, random: () => 0.999_999 });
    assert.equal(lo.next(), 800);
    assert.equal(hi.next(), 1_200);
    assert.equal(hi.next(), 1_500, 'capped');
    assert.equal(lo.next(), 1_200, '1 500 − 20 %');
  });

  test('rejects nonsense', () => {
    assert.throws(() => new Backoff({ initialMs: 0 }), { code: 'ZW_ERR_INVALID_ARGUMENT' });
    assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), { code: 'ZW_ERR_INVALID_ARGUMENT' });
    assert.throws(() => new Backoff({ jitter: 2 }), { code: 'ZW_ERR_INVALID_ARGUMENT' });
  });
});
