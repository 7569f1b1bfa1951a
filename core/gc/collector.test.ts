/** Pure parts of the GC. The collector itself is tested against a real API server in test/kube/gc.test.ts. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { expiresAt } from './collector.ts';
import { RateLimiter } from './rate-limiter.ts';

describe('expiresAt', () => {
  const created = '2026-01-01T00:00:00Z';
  const t = Date.parse(created);
  const cases: [string, object, number | undefined][] = [
    ['own TTL', { metadata: { creationTimestamp: created }, spec: { ttlSecondsAfterCreation: 60 } }, t + 60_000],
    ['default TTL', { metadata: { creationTimestamp: created }, spec: {} }, t + 3_600_000],
    ['a Date works too', { metadata: { creationTimestamp: new Date(t) } }, t + 3_600_000],
    [
      'a non-number TTL falls back',
      { metadata: { creationTimestamp: created }, spec: { ttlSecondsAfterCreation: '5' } },
      t + 3_600_000,
    ],
    [
      'a negative TTL falls back',
      { metadata: { creationTimestamp: created }, spec: { ttlSecondsAfterCreation: -1 } },
      t + 3_600_000,
    ],
    ['no timestamp', { metadata: {} }, undefined],
    ['garbage timestamp', { metadata: { creationTimestamp: 'yesterday' } }, undefined],
  ];
  for (const [name, obj, want] of cases) {
    test(name, () => assert.equal(expiresAt(obj, 3_600), want));
  }
});

describe('RateLimiter', () => {
  test('burst of qps, then one token per 1/qps seconds; abort returns at once', async () => {
    let now = 0;
    const slept: number[] = [];
    const rl = new RateLimiter(4, {
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });
    const signal = new AbortController().signal;
    for (let i = 0; i < 4; i++) await rl.take(signal);
    assert.deepEqual(slept, [], 'burst');
    await rl.take(signal);
    await rl.take(signal);
    assert.deepEqual(slept, [250, 250]);
    const ctl = new AbortController();
    ctl.abort();
    await rl.take(ctl.signal);
    assert.equal(slept.length, 2);
    assert.throws(() => new RateLimiter(0), { code: 'ZW_ERR_INVALID_ARGUMENT' });
  });
});
