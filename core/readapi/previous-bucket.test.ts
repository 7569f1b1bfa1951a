import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Observation } from '../api/index.ts';
import type { ObservationSink } from '../sinks/types.ts';
import { ReadIndex, toEntry } from './index.ts';
import { withIndexedPreviousBucket } from './previous-bucket.ts';

function obs(name: string, namespace = 'ns', detectedAt = '2026-12-06T10:00:00Z'): Observation {
  return {
    name,
    namespace,
    labels: {},
    annotations: {},
    spec: {
      source: 'webhook',
      category: 'security',
      severity: 'high',
      eventType: 'e',
      title: 't',
      fingerprint: 'f'.repeat(64),
      detectedAt,
      ttlSecondsAfterCreation: 3600,
    },
  } as Observation;
}

function recordingSink() {
  const calls: { name: string; previous: unknown }[] = [];
  const sink = {
    kind: 'kubernetes',
    ready: () => true,
    async write(o: Observation, previous?: { name: string; notBefore: number }) {
      calls.push({ name: o.name, previous });
      return 'created' as const;
    },
    async close() {},
  } as unknown as ObservationSink;
  return { sink, calls };
}

const at = Date.parse('2026-12-06T10:00:00Z');

test('while the index is not synced, the sink reads the previous bucket itself', async () => {
  const index = new ReadIndex();
  const { sink, calls } = recordingSink();
  const lookups: string[] = [];
  const s = withIndexedPreviousBucket(sink, index, [], {
    fromIndex: (o) => lookups.push(`index:${o}`),
    fromApi: () => lookups.push('api'),
  });
  const previous = { name: 'webhook-prev', notBefore: at - 60_000 };
  assert.equal(await s.write(obs('webhook-new'), previous), 'created');
  assert.deepEqual(calls, [{ name: 'webhook-new', previous }]);
  assert.deepEqual(lookups, ['api']);
});

test('an index built on first use is started by the first previous-bucket question, not by writes without one', async () => {
  const index = new ReadIndex();
  const { sink, calls } = recordingSink();
  let started = 0;
  const s = withIndexedPreviousBucket(sink, index, [], undefined, () => void started++);
  await s.write(obs('informer-finding'), undefined);
  assert.equal(started, 0, 'a write without a previous bucket (informer sources) leaves the index unstarted');
  const previous = { name: 'webhook-prev', notBefore: at - 60_000 };
  assert.equal(await s.write(obs('webhook-new'), previous), 'created');
  assert.equal(started, 1, 'the first webhook finding starts it');
  assert.deepEqual(calls[1], { name: 'webhook-new', previous }, 'and is still checked by the sink meanwhile');
});

test('a synced index answers the previous bucket: recent → duplicate without a write, absent → create without a read', async () => {
  const index = new ReadIndex();
  index.upsert(toEntry(obs('webhook-prev', 'ns', '2026-12-06T09:59:50Z'), at - 10_000)!);
  index.upsert(toEntry(obs('webhook-old', 'ns', '2026-12-06T09:58:00Z'), at - 120_000)!);
  index.markSynced();
  const { sink, calls } = recordingSink();
  const lookups: string[] = [];
  const s = withIndexedPreviousBucket(sink, index, [], {
    fromIndex: (o) => lookups.push(`index:${o}`),
    fromApi: () => lookups.push('api'),
  });
  const stored: string[] = [];
  const onStored = (x: { namespace: string; name: string }) => stored.push(`${x.namespace}/${x.name}`);

  // Recorded 10 s ago, inside the 60 s window: a duplicate of that Observation, and nothing is sent.
  const dup = await s.write(obs('webhook-new'), { name: 'webhook-prev', notBefore: at - 60_000 }, { onStored });
  assert.equal(dup, 'duplicate');
  assert.deepEqual(stored, ['ns/webhook-prev']);
  assert.equal(calls.length, 0);

  // Recorded 2 minutes ago, outside the window: a new Observation, created without reading the previous bucket.
  assert.equal(await s.write(obs('webhook-new2'), { name: 'webhook-old', notBefore: at - 60_000 }), 'created');
  // Never recorded: the same.
  assert.equal(await s.write(obs('webhook-new3'), { name: 'webhook-none', notBefore: at - 60_000 }), 'created');
  assert.deepEqual(calls, [
    { name: 'webhook-new2', previous: undefined },
    { name: 'webhook-new3', previous: undefined },
  ]);
  assert.deepEqual(lookups, ['index:duplicate', 'index:absent', 'index:absent']);
});

test('a namespace the index does not watch is checked by the sink', async () => {
  const index = new ReadIndex();
  index.markSynced();
  const { sink, calls } = recordingSink();
  const s = withIndexedPreviousBucket(sink, index, ['watched']);
  const previous = { name: 'webhook-prev', notBefore: at - 60_000 };
  await s.write(obs('webhook-new', 'elsewhere'), previous);
  assert.deepEqual(calls, [{ name: 'webhook-new', previous }]);
  // Members other than write pass through.
  assert.equal(s.ready(), true);
});
