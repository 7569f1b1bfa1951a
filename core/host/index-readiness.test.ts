import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../telemetry/logger.ts';
import { indexReadiness } from './index-readiness.ts';

function setup(o: { needed?: boolean; waitMs?: number }) {
  let t = 0;
  let synced = false;
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({
    level: 'info',
    destination: {
      write: (s: string) => lines.push(JSON.parse(s) as { level: string; msg: string }),
    } as unknown as NodeJS.WritableStream,
  });
  const r = indexReadiness({
    needed: o.needed ?? true,
    waitMs: o.waitMs ?? 30_000,
    synced: () => synced,
    size: () => 42,
    log,
    now: () => t,
  });
  return {
    r,
    lines,
    advance: (ms: number) => (t += ms),
    sync: () => (synced = true),
    unsync: () => (synced = false),
  };
}

test('waits until the index is synced, then never again', () => {
  const s = setup({});
  assert.match(s.r.waiting() ?? '', /^read index: listing the cluster's Observations \(42 so far; .*at most 30 s/);
  s.advance(5000);
  assert.ok(s.r.waiting());
  s.sync();
  assert.equal(s.r.waiting(), undefined);
  s.unsync(); // a relist later does not take the replica out of the Service
  assert.equal(s.r.waiting(), undefined);
  assert.deepEqual(
    s.lines.map((l) => l.msg),
    ['read index synced: ready for deduplicated webhooks'],
  );
});

test('the wait is bounded: past it the replica is ready anyway, said once', () => {
  const s = setup({ waitMs: 10_000 });
  s.advance(9_999);
  assert.ok(s.r.waiting());
  s.advance(1);
  assert.equal(s.r.waiting(), undefined);
  assert.equal(s.r.waiting(), undefined);
  assert.equal(s.lines.length, 1);
  assert.match(s.lines[0]!.msg, /not synced within ZEN_READY_INDEX_WAIT_SECONDS: ready anyway/);
});

test('no wait when the index is not needed or the bound is 0', () => {
  assert.equal(setup({ needed: false }).r.waiting(), undefined);
  assert.equal(setup({ waitMs: 0 }).r.waiting(), undefined);
});
