/**
 * Kubernetes Events through the shipped sample Ingester (kit: real loader, pipeline, resolver): Warning → medium,
 * title from reason, message, resource from involvedObject, and one Observation per involved object and reason,
 * so repeated events (count++, or a new Event object about the same thing) are duplicates. resolve: false keeps
 * the Observation when the Event expires. Also: the same filter as a match rule instead of a field selector.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { TestPlugin } from 'zen-watcher/testkit';
import { EVENTS, event, load, sampleSpec } from './helpers.ts';

const SAMPLE = sampleSpec('zen_v1alpha1_ingester_informer_events.yaml');

let kit: TestPlugin;
afterEach(() => kit?.close());

async function withSample(spec: Record<string, unknown> = SAMPLE) {
  kit = await load();
  kit.ingester({ name: 'kubernetes-events', namespace: 'zen-system', source: 'kubernetes-events', spec });
  await kit.startLeading();
  return kit;
}

describe('Kubernetes Events (sample Ingester)', () => {
  test('the informer watches v1/events with the field selector type=Warning, cluster-wide', async () => {
    await withSample();
    assert.deepEqual(kit.informers()[0]!.options, { ...EVENTS, fieldSelector: 'type=Warning' });
  });

  test('a Warning event: severity medium, title = reason, message, resource = involvedObject', async () => {
    await withSample();
    await kit.add('events', event({ name: 'web.17d9', lastTimestamp: '2025-06-01T12:03:00Z' }));
    const [o, ...more] = kit.observations();
    assert.equal(more.length, 0);
    assert.equal(o!.spec.source, 'kubernetes-events');
    assert.equal(o!.spec.severity, 'medium');
    assert.equal(o!.spec.title, 'BackOff');
    assert.match(o!.spec.message!, /^Back-off restarting failed container web/);
    assert.equal(o!.spec.category, 'operations');
    assert.equal(o!.spec.eventType, 'kubernetes_event');
    assert.deepEqual(o!.spec.resource, { apiVersion: 'v1', kind: 'Pod', name: 'web-7d4b9c-x2x9k', namespace: 'shop' });
    assert.equal(o!.namespace, 'shop', 'Observations live next to the involved object');
    assert.equal(o!.spec.detectedAt, '2025-06-01T12:03:00.000Z');
    assert.deepEqual(o!.spec.details, {
      reason: 'BackOff',
      type: 'Warning',
      count: 1,
      firstTimestamp: '2025-06-01T12:00:00Z',
      lastTimestamp: '2025-06-01T12:03:00Z',
      component: 'kubelet',
      host: 'node-1',
      fieldPath: 'spec.containers{web}',
    });
  });

  test('repeats are one Observation: count++ updates, and new Event objects about the same object and reason', async () => {
    await withSample();
    await kit.add('events', event({ name: 'web.17d9' }));
    await kit.update('events', event({ name: 'web.17d9', count: 2, lastTimestamp: '2025-06-01T12:05:00Z' }));
    await kit.update(
      'events',
      event({ name: 'web.17d9', count: 9, lastTimestamp: '2025-06-01T12:30:00Z', message: 'Back-off 5m0s restarting' }),
    );
    await kit.add('events', event({ name: 'web.18aa', count: 1, lastTimestamp: '2025-06-01T13:10:00Z' }));
    assert.equal(kit.observations().length, 1);
    // Another reason, or another Pod (a new uid), is another finding.
    await kit.add('events', event({ name: 'web.19bb', reason: 'Unhealthy', message: 'Readiness probe failed' }));
    await kit.add('events', event({ name: 'web2.1', pod: 'web-7d4b9c-zzzzz' }));
    assert.deepEqual(
      kit
        .observations()
        .map((o) => o.spec.title)
        .sort(),
      ['BackOff', 'BackOff', 'Unhealthy'],
    );
  });

  test('resolve: false — an expired (deleted) Event leaves its Observation Active', async () => {
    await withSample();
    await kit.add('events', event({ name: 'web.17d9' }));
    await kit.remove('events', event({ name: 'web.17d9' }));
    await kit.relist('events', []);
    assert.deepEqual(
      kit.observations().map((o) => o.phase),
      ['Active'],
    );
  });

  test('Normal events, if delivered (no field selector), map to info through severityMap', async () => {
    const { fieldSelector: _f, ...informer } = SAMPLE.informer as Record<string, unknown>;
    await withSample({ ...SAMPLE, informer });
    await kit.add('events', event({ name: 'n.1', type: 'Normal', reason: 'Pulled', message: 'Successfully pulled' }));
    assert.deepEqual(
      kit.observations().map((o) => [o.spec.title, o.spec.severity]),
      [['Pulled', 'info']],
    );
  });

  test('the same filter as a match rule: only Warning events become Observations', async () => {
    const { fieldSelector: _f, ...informer } = SAMPLE.informer as Record<string, unknown>;
    const config = { ...(SAMPLE.config as Record<string, unknown>), match: [{ path: 'type', values: ['Warning'] }] };
    await withSample({ ...SAMPLE, informer, config });
    await kit.add('events', event({ name: 'n.1', type: 'Normal', reason: 'Pulled' }));
    await kit.add(
      'events',
      event({ name: 'w.1', type: 'Warning', reason: 'FailedMount', message: 'MountVolume.SetUp failed' }),
    );
    assert.deepEqual(
      kit.observations().map((o) => o.spec.title),
      ['FailedMount'],
    );
  });

  test('with resolve: true (the default), an Event deleted resolves its Observation', async () => {
    const config = { ...(SAMPLE.config as Record<string, unknown>) };
    delete config.resolve;
    await withSample({ ...SAMPLE, config });
    await kit.add('events', event({ name: 'web.17d9' }));
    await kit.remove('events', event({ name: 'web.17d9' }));
    assert.deepEqual(
      kit.observations().map((o) => o.phase),
      ['Resolved'],
    );
  });
});
