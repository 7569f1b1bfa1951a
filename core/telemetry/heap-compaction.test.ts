/**
 * ADR 0034: one memory-reducing collection after start-up. Run in child processes, with and without --expose-gc, so
 * V8's real `gc()` runs (or is absent); a performance observer in the child counts the major collections it saw.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const MODULE = new URL('./heap-compaction.ts', import.meta.url).href;

/** A child that schedules the compaction with `delay` ms, cancels it when `cancel`, and prints its log and GCs. */
function child(flags: string[], delay: number, cancel = false) {
  const script = `
    import { PerformanceObserver, constants } from 'node:perf_hooks';
    import { compactHeapAfterStart } from ${JSON.stringify(MODULE)};
    const lines = [];
    const log = {
      info: (o, msg) => lines.push({ level: 'info', msg, ...o }),
      debug: (o, msg) => lines.push({ level: 'debug', msg, ...o }),
    };
    let majors = 0;
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
    });
    obs.observe({ entryTypes: ['gc'] });
    const cancel = compactHeapAfterStart(log, ${delay});
    if (${cancel}) cancel();
    setTimeout(() => {
      obs.disconnect();
      process.stdout.write(JSON.stringify({ lines, majors }));
    }, ${delay} + 300);
    setTimeout(() => {}, ${delay} + 400); // keeps the child up: the compaction's own timer is unref'd
  `;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { lines: Record<string, unknown>[]; majors: number };
}

test('with --expose-gc: one full collection after the delay, logged with RSS before and after', () => {
  const { lines, majors } = child(['--expose-gc'], 50);
  const done = lines.filter((l) => l.msg === 'start-up garbage collected');
  assert.equal(done.length, 1, JSON.stringify(lines));
  const [l] = done;
  assert.equal(l!.level, 'info');
  for (const k of ['rssMbBefore', 'rssMbAfter', 'ms']) assert.equal(typeof l![k], 'number', k);
  assert.ok((l!.rssMbBefore as number) > 0 && (l!.rssMbAfter as number) > 0);
  // V8's last-resort collection is several full GCs; the observer must have seen at least one.
  assert.ok(majors >= 1, `major collections seen: ${majors}`);
});

test('cancelled before the delay: no collection, nothing logged', () => {
  const { lines, majors } = child(['--expose-gc'], 50, true);
  assert.deepEqual(lines, []);
  assert.equal(majors, 0);
});

test('without --expose-gc: skipped, said at debug, no collection', () => {
  const { lines, majors } = child([], 50);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [['debug', 'start-up heap compaction skipped: node runs without --expose-gc']],
  );
  assert.equal(majors, 0);
});
