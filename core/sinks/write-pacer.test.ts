import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveWritePacer } from './write-pacer.ts';

test('the window halves once per round of 429s, never below 1, and widens again while full', () => {
  const t = 0;
  const p = new AdaptiveWritePacer({ ceilingQps: 1_000_000, burst: 1_000_000, initialWindow: 8, now: () => t });
  const round = () => {
    const tickets = [];
    for (let tk = p.tryAcquire(); tk; tk = p.tryAcquire()) tickets.push(tk);
    return tickets;
  };
  let tickets = round();
  assert.equal(tickets.length, 8, 'the window bounds concurrent requests');
  for (const tk of tickets) p.done(tk, 'throttled');
  assert.equal(p.window, 4, 'eight 429s of requests sent in the same round halve once');
  assert.equal(p.throttled, 8);
  for (let i = 0; i < 5; i++) {
    tickets = round();
    for (const tk of tickets) p.done(tk, 'throttled');
  }
  assert.equal(p.window, 1, 'never below one request at a time');
  let admitted = 0;
  while (p.window < 8) {
    const [tk] = round();
    p.done(tk!, 'admitted');
    admitted++;
  }
  assert.ok(admitted > 7, `additive increase (${admitted} admitted writes to get back to 8)`);
  const [a] = round();
  p.done(a!, 'failed');
  assert.equal(p.window, 8, 'a request without an answer says nothing about the server');
});

test('the rate ceiling holds whatever the window, and acquire waits for room', async () => {
  let t = 0;
  const p = new AdaptiveWritePacer({ ceilingQps: 100, burst: 10, initialWindow: 64, now: () => t });
  for (let i = 0; i < 10; i++) assert.ok(p.tryAcquire(), 'the burst is there at once');
  assert.equal(p.tryAcquire(), undefined);
  assert.equal(p.waitMs(), 10, 'one token per 10 ms at 100/s');
  t = 1000;
  const q = new AdaptiveWritePacer({ ceilingQps: 1000, burst: 1000, initialWindow: 1 });
  const first = await q.acquire();
  let second = false;
  const pending = q.acquire().then((tk) => {
    second = true;
    return tk;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(second, false, 'the second request waits while the first is in flight');
  q.done(first, 'admitted');
  q.done(await pending, 'admitted');
  assert.equal(q.delayed, 1);
  assert.throws(() => new AdaptiveWritePacer({ ceilingQps: 0, burst: 1 }), /ceilingQps > 0/);
});
