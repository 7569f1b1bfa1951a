import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  contentToApply,
  mergeOccurrences,
  OccurrenceCoalescer,
  type OccurrenceDelta,
  type ReportedContent,
} from './occurrences.ts';

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

/** Applies deltas in order to a stored state the way both sinks do (status merge; null removes). */
function applyAll(deltas: OccurrenceDelta[]) {
  let cur: { spec: { detectedAt: string }; status: Record<string, unknown> } = {
    spec: { detectedAt: '2026-01-01T00:00:00.000Z' },
    status: {},
  };
  for (const d of deltas) {
    const status: Record<string, unknown> = { ...cur.status, ...mergeOccurrences(cur, d) };
    for (const [k, v] of Object.entries(status)) if (v === null) delete status[k];
    cur = { ...cur, status };
  }
  return cur.status;
}

test('phase from event times: resolved, late retry, re-opened; the same result in every order', () => {
  const t = (m: number) => Date.parse('2026-01-01T00:00:00Z') + m * 60_000;
  const repeat = (m: number): OccurrenceDelta => ({
    namespace: 'n',
    name: 'x',
    count: 1,
    firstSeen: t(m),
    lastSeen: t(m),
  });
  const resolve = (m: number): OccurrenceDelta => ({ ...repeat(m), count: 0, resolvedAt: t(m) });
  // Fired at 0, resolved at 10, a retry of the firing at 0 (late), fired again at 20.
  assert.equal(applyAll([repeat(0), resolve(10)]).phase, 'Resolved');
  assert.equal(applyAll([repeat(0), resolve(10), repeat(0)]).phase, 'Resolved', 'a late retry does not re-open');
  const reopened = applyAll([repeat(0), resolve(10), repeat(20)]);
  assert.deepEqual([reopened.phase, reopened.resolvedAt, reopened.count], ['Active', undefined, 3]);
  // A resolution older than the latest sighting leaves it Active, in whichever order the two arrive.
  const all = [repeat(5), resolve(10), repeat(20), repeat(3)];
  const orders = [all, [...all].reverse(), [all[2]!, all[0]!, all[3]!, all[1]!], [all[1]!, all[3]!, all[0]!, all[2]!]];
  const results = orders.map((o) => {
    const s = applyAll(o);
    return [s.phase ?? 'Active', s.count, s.lastSeen];
  });
  for (const r of results) assert.deepEqual(r, ['Active', 4, new Date(t(20)).toISOString()]);
  // Resolution last by event time wins in every order.
  const ended = [repeat(5), resolve(30), repeat(20)];
  for (const o of [ended, [...ended].reverse(), [ended[1]!, ended[0]!, ended[2]!]])
    assert.equal(applyAll(o).phase, 'Resolved');
});

test('contentToApply: a later report by event time, the larger hash at the same time, never the same hash', () => {
  const c = (hash: string, at: string): ReportedContent => ({
    hash,
    at: Date.parse(at),
    severity: 'high',
    category: 'security',
    eventType: 'e',
    title: 't',
  });
  const stored = {
    metadata: { annotations: { 'zen.kube-zen.io/content-hash': 'bbbb' } },
    spec: { detectedAt: '2026-01-01T00:00:10.000Z' },
  };
  assert.equal(contentToApply(stored, c('bbbb', '2026-01-01T00:05:00Z')), undefined, 'same content');
  assert.equal(contentToApply(stored, c('cccc', '2026-01-01T00:00:05Z')), undefined, 'older report');
  assert.ok(contentToApply(stored, c('cccc', '2026-01-01T00:00:20Z')), 'newer report');
  assert.ok(contentToApply(stored, c('cccc', '2026-01-01T00:00:10Z')), 'same time, larger hash');
  assert.equal(contentToApply(stored, c('aaaa', '2026-01-01T00:00:10Z')), undefined, 'same time, smaller hash');
  const written = {
    metadata: {
      annotations: { 'zen.kube-zen.io/content-hash': 'cccc', 'zen.kube-zen.io/content-at': '2026-01-01T00:01:00.000Z' },
    },
    spec: { detectedAt: '2026-01-01T00:00:10.000Z' },
  };
  assert.equal(contentToApply(written, c('dddd', '2026-01-01T00:00:30Z')), undefined, 'older than the content shown');
});
