import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeOccurrences, OccurrenceCoalescer, type OccurrenceDelta } from './occurrences.ts';

function coalescer(apply: (d: OccurrenceDelta) => Promise<'applied' | 'gone'>, maxKeys = 10) {
  const events: string[] = [];
  const c = new OccurrenceCoalescer({
    apply,
    intervalMs: 3_600_000, // flushed by hand
    maxKeys,
    events: {
      flushed: (outcome, n) => events.push(`${outcome}:${n}`),
      lost: (reason, n) => events.push(`lost-${reason}:${n}`),
      pending: () => {},
    },
  });
  return { c, events };
}

test('repeats of one Observation become one delta with the earliest and latest time', async () => {
  const applied: OccurrenceDelta[] = [];
  const { c } = coalescer(async (d) => {
    applied.push({ ...d });
    return 'applied';
  });
  for (const at of [5, 3, 9, 4]) c.note('ns', 'a', at);
  c.note('ns', 'b', 1);
  await c.flush();
  assert.deepEqual(
    applied.sort((x, y) => x.name.localeCompare(y.name)),
    [
      { namespace: 'ns', name: 'a', count: 4, firstSeen: 3, lastSeen: 9 },
      { namespace: 'ns', name: 'b', count: 1, firstSeen: 1, lastSeen: 1 },
    ],
  );
  await c.flush();
  assert.equal(applied.length, 2, 'nothing pending, nothing written');
  await c.close();
});

test('a failed write keeps its delta, merged with what came meanwhile; gone is counted as lost', async () => {
  let fail = true;
  const applied: OccurrenceDelta[] = [];
  const { c, events } = coalescer(async (d) => {
    if (d.name === 'gone') return 'gone';
    if (fail) throw new Error('503');
    applied.push({ ...d });
    return 'applied';
  });
  c.note('ns', 'a', 10);
  c.note('ns', 'a', 11);
  c.note('ns', 'gone', 1);
  await c.flush();
  assert.equal(c.pendingKeys, 1);
  c.note('ns', 'a', 20);
  fail = false;
  await c.flush();
  assert.deepEqual(applied, [{ namespace: 'ns', name: 'a', count: 3, firstSeen: 10, lastSeen: 20 }]);
  assert.deepEqual(events.sort(), ['applied:3', 'error:2', 'gone:1', 'lost-gone:1'].sort());
  await c.close();
});

test('more Observations than maxKeys pending: the extra repeats are counted as lost, not kept', async () => {
  const { c, events } = coalescer(async () => 'applied', 2);
  c.note('ns', 'a', 1);
  c.note('ns', 'b', 1);
  c.note('ns', 'c', 1);
  c.note('ns', 'a', 2);
  assert.deepEqual(events, ['lost-overflow:1']);
  await c.close();
  assert.deepEqual(events.sort(), ['applied:1', 'applied:2', 'lost-overflow:1'].sort());
});

test('close() writes what is pending; a repeat after close is lost (shutdown)', async () => {
  let writes = 0;
  const { c, events } = coalescer(async () => {
    writes++;
    return 'applied';
  });
  c.note('ns', 'a', 1);
  await c.close();
  assert.equal(writes, 1);
  c.note('ns', 'a', 2);
  assert.deepEqual(events, ['applied:1', 'lost-shutdown:1']);
});

test('mergeOccurrences: an absent count is one occurrence; absent times start at spec.detectedAt', () => {
  const t = (s: string) => Date.parse(s);
  assert.deepEqual(
    mergeOccurrences(
      { spec: { detectedAt: '2026-01-01T00:00:10.000Z' } },
      {
        namespace: 'n',
        name: 'x',
        count: 4,
        firstSeen: t('2026-01-01T00:00:05Z'),
        lastSeen: t('2026-01-01T00:01:00Z'),
      },
    ),
    { count: 5, firstSeen: '2026-01-01T00:00:05.000Z', lastSeen: '2026-01-01T00:01:00.000Z' },
  );
  assert.deepEqual(
    mergeOccurrences(
      {
        spec: { detectedAt: '2026-01-01T00:00:10.000Z' },
        status: { count: 7, firstSeen: '2026-01-01T00:00:01.000Z', lastSeen: '2026-01-01T00:05:00.000Z' },
      },
      {
        namespace: 'n',
        name: 'x',
        count: 2,
        firstSeen: t('2026-01-01T00:00:05Z'),
        lastSeen: t('2026-01-01T00:01:00Z'),
      },
    ),
    { count: 9, firstSeen: '2026-01-01T00:00:01.000Z', lastSeen: '2026-01-01T00:05:00.000Z' },
  );
});
