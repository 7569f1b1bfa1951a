// DraftStash and RetryBackoff (plugin API 1.3.0): the draft bookkeeping trivy and kyverno share.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DraftStash, RetryBackoff } from './index.ts';

const d = (n: number) => Array.from({ length: n }, (_, i) => ({ title: `finding ${i}` }));

describe('DraftStash', () => {
  test('holds drafts per key within the budget; take returns them only under the same signature', () => {
    const s = new DraftStash<{ title: string }>({ budget: 5 });
    assert.equal(s.put('a', 'sig-a', d(3)), true);
    assert.equal(s.put('b', 'sig-b', d(3)), false, 'over the budget: not held (read again later)');
    assert.equal(s.drafts, 3);
    assert.equal(s.put('b', 'sig-b', d(2)), true);
    assert.equal(s.drafts, 5);
    assert.equal(s.take('a', 'other'), undefined, 'mapped under another signature: read again');
    assert.equal(s.take('a', 'sig-a'), undefined, 'and it is gone either way');
    assert.equal(s.drafts, 2);
    assert.deepEqual(s.take('b', 'sig-b'), d(2));
    assert.equal(s.drafts, 0);
  });

  test('put replaces what the key held (the budget counts the new drafts only); drop frees it', () => {
    const s = new DraftStash<{ title: string }>({ budget: 4 });
    s.put('a', 'v1', d(4));
    assert.equal(s.put('a', 'v2', d(3)), true, 'the old drafts of the key no longer count');
    assert.equal(s.drafts, 3);
    assert.equal(s.take('a', 'v1'), undefined);
    s.put('a', 'v3', d(1));
    s.drop('a');
    s.drop('a');
    assert.equal(s.drafts, 0);
    assert.equal(new DraftStash({ budget: 0 }).put('x', 's', []), true, 'no drafts fit any budget');
    assert.equal(new DraftStash({ budget: 0 }).put('x', 's', d(1) as never), false, 'budget 0 holds none');
  });

  test('empties itself when the run ends and holds nothing after; a bad budget is refused', () => {
    const ctl = new AbortController();
    const s = new DraftStash<{ title: string }>({ budget: 10, signal: ctl.signal });
    s.put('a', 's', d(2));
    ctl.abort();
    assert.equal(s.drafts, 0);
    assert.equal(s.put('b', 's', d(1)), false);
    assert.equal(s.take('a', 's'), undefined);
    assert.throws(() => new DraftStash({ budget: -1 }), /budget must be a number ≥ 0/);
    assert.throws(() => new DraftStash({ budget: Number.NaN }), /budget must be a number ≥ 0/);
  });
});

describe('RetryBackoff', () => {
  test('retries a key once per later(); cancel returns the armed delay and the next failure doubles it', async () => {
    const ctl = new AbortController();
    const calls: string[] = [];
    const r = new RetryBackoff({ signal: ctl.signal, retry: (k) => calls.push(k), initialMs: 5, maxMs: 20 });
    r.later('s1');
    r.later('s1'); // armed already: nothing more
    assert.equal(r.size, 1);
    for (let i = 0; i < 100 && calls.length === 0; i++) await sleep(5);
    assert.deepEqual(calls, ['s1'], 'called once');
    // The attempt the retry started: its entry tells the delay it had, and a failure doubles it, up to maxMs.
    let last = r.cancel('s1');
    assert.equal(last, 5);
    assert.equal(r.size, 0);
    const delays = [last];
    for (let i = 0; i < 3; i++) {
      r.later('s1', last);
      last = r.cancel('s1');
      delays.push(last);
    }
    assert.deepEqual(delays, [5, 10, 20, 20]);
    assert.equal(r.cancel('never'), 0);
    ctl.abort();
  });

  test('a cancelled retry does not run; the run ending cancels every armed retry and arms none', async () => {
    const ctl = new AbortController();
    const calls: string[] = [];
    const r = new RetryBackoff({ signal: ctl.signal, retry: (k) => calls.push(k), initialMs: 1, maxMs: 1 });
    r.later('a');
    r.cancel('a');
    r.later('b');
    ctl.abort();
    assert.equal(r.size, 0);
    r.later('c');
    assert.equal(r.size, 0);
    await sleep(20);
    assert.deepEqual(calls, []);
    assert.throws(
      () => new RetryBackoff({ signal: ctl.signal, retry() {}, initialMs: 0 }),
      /needs 0 < initialMs ≤ maxMs/,
    );
    assert.throws(
      () => new RetryBackoff({ signal: ctl.signal, retry() {}, initialMs: 10, maxMs: 5 }),
      /needs 0 < initialMs ≤ maxMs/,
    );
  });
});
