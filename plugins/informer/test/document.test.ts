/**
 * kube-bench through the real loader, pipeline and resolver (test kit), with the shipped sample Ingester: a
 * ConfigMap holding a kube-bench JSON report becomes one Observation per FAIL/WARN check; a check that passes later
 * is Resolved (and comes back Active if it fails again); deleting the ConfigMap resolves the rest; a new leader
 * resolves findings whose ConfigMap vanished while nobody watched; a malformed report resolves nothing.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { TestPlugin } from 'zen-watcher/testkit';
import { configMap, fixture, load, sampleSpec } from './helpers.ts';

const SAMPLE = sampleSpec('zen_v1alpha1_ingester_informer_kube_bench.yaml');
const REPORT = JSON.parse(fixture('kube-bench-results.json')) as {
  Controls: { tests: { results: { test_number: string; status: string }[] }[] }[];
};

function report(statuses: Record<string, string> = {}): string {
  const doc = structuredClone(REPORT);
  for (const c of doc.Controls)
    for (const t of c.tests) for (const r of t.results) r.status = statuses[r.test_number] ?? r.status;
  return JSON.stringify(doc);
}

const cm = (data: string, name = 'kube-bench-node-1') => configMap(name, 'kube-bench', { 'results.json': data });

let kit: TestPlugin;
beforeEach(async () => {
  kit = await load();
  kit.ingester({ name: 'kube-bench', namespace: 'zen-system', source: 'kube-bench', spec: SAMPLE });
  await kit.startLeading();
});
afterEach(() => kit.close());

const active = () =>
  kit
    .observations()
    .filter((o) => o.phase === 'Active')
    .map((o) => o.spec.details?.testNumber)
    .sort();
const resolved = () =>
  kit
    .observations()
    .filter((o) => o.phase === 'Resolved')
    .map((o) => o.spec.details?.testNumber)
    .sort();

describe('kube-bench report in a ConfigMap (sample Ingester)', () => {
  test('the informer watches what the Ingester names', () => {
    const [inf, ...more] = kit.informers();
    assert.equal(more.length, 0);
    assert.deepEqual(inf!.options, {
      group: '',
      version: 'v1',
      resource: 'configmaps',
      namespace: 'kube-bench',
      labelSelector: 'app=kube-bench',
    });
  });

  test('one Observation per FAIL/WARN check, mapped as configured', async () => {
    await kit.add('configmaps', cm(report()));
    const obs = kit.observations().sort((a, b) => a.spec.title.localeCompare(b.spec.title));
    assert.deepEqual(active(), ['1.1.12', '1.2.1', '1.2.16']);
    const etcd = obs.find((o) => o.spec.details?.testNumber === '1.1.12')!;
    assert.equal(etcd.namespace, 'zen-system', 'destinations[0].namespace');
    assert.equal(etcd.spec.source, 'kube-bench');
    assert.equal(etcd.spec.severity, 'high');
    assert.equal(etcd.spec.category, 'compliance');
    assert.equal(etcd.spec.eventType, 'cis_benchmark_finding');
    assert.equal(etcd.spec.title, 'Ensure that the etcd data directory ownership is set to etcd:etcd (Automated)');
    assert.match(etcd.spec.message!, /chown etcd:etcd \/var\/lib\/etcd/);
    assert.deepEqual(etcd.spec.resource, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'kube-bench-node-1',
      namespace: 'kube-bench',
    });
    assert.deepEqual(etcd.spec.details, {
      testNumber: '1.1.12',
      status: 'FAIL',
      scored: true,
      actualValue: 'root:root',
      expectedResult: "'etcd:etcd' is present",
      section: '1.1',
      sectionDesc: 'Control Plane Node Configuration Files',
      benchmark: 'cis-1.9',
      nodeType: 'master',
    });
    const warn = obs.find((o) => o.spec.details?.testNumber === '1.2.1')!;
    assert.equal(warn.spec.severity, 'medium');
    assert.equal(etcd.labels.severity, 'high');
  });

  test('the same report again (a re-run of kube-bench, a relist) writes nothing new', async () => {
    await kit.add('configmaps', cm(report()));
    const names = kit.observations().map((o) => o.name);
    await kit.update('configmaps', cm(report()));
    assert.deepEqual(
      kit.observations().map((o) => o.name),
      names,
    );
  });

  test('a check that passes is Resolved, the others stay Active; failing again sets it Active', async () => {
    await kit.add('configmaps', cm(report()));
    const before = kit.observations().find((o) => o.spec.details?.testNumber === '1.2.16')!.name;
    await kit.update('configmaps', cm(report({ '1.2.16': 'PASS' })));
    assert.deepEqual(active(), ['1.1.12', '1.2.1']);
    assert.deepEqual(resolved(), ['1.2.16']);
    await kit.update('configmaps', cm(report({ '1.2.16': 'FAIL' })));
    assert.deepEqual(active(), ['1.1.12', '1.2.1', '1.2.16']);
    assert.equal(kit.observations().length, 3, 'the same Observation, not a new one');
    assert.equal(kit.observations().find((o) => o.spec.details?.testNumber === '1.2.16')!.name, before);
  });

  test('a new failing check appears as a new Observation', async () => {
    await kit.add('configmaps', cm(report()));
    await kit.update('configmaps', cm(report({ '4.2.1': 'FAIL' })));
    assert.deepEqual(active(), ['1.1.12', '1.2.1', '1.2.16', '4.2.1']);
  });

  test('deleting the ConfigMap resolves all its findings', async () => {
    await kit.add('configmaps', cm(report()));
    await kit.remove('configmaps', cm(report()));
    assert.deepEqual(active(), []);
    assert.deepEqual(resolved(), ['1.1.12', '1.2.1', '1.2.16']);
  });

  test('two nodes, two ConfigMaps: the same failing check is two Observations, resolved separately', async () => {
    await kit.add('configmaps', cm(report(), 'kube-bench-node-1'));
    await kit.add('configmaps', cm(report(), 'kube-bench-node-2'));
    assert.equal(kit.observations().length, 6);
    await kit.remove('configmaps', cm(report(), 'kube-bench-node-2'));
    assert.equal(kit.observations().filter((o) => o.phase === 'Active').length, 3);
    assert.ok(
      kit
        .observations()
        .filter((o) => o.phase === 'Active')
        .every((o) => o.spec.resource?.name === 'kube-bench-node-1'),
    );
  });

  test('a malformed report (truncated JSON, missing key, wrong shape) is skipped: nothing is resolved', async () => {
    await kit.add('configmaps', cm(report()));
    await kit.update('configmaps', cm(report().slice(0, 100)));
    await kit.update('configmaps', configMap('kube-bench-node-1', 'kube-bench', { other: '{}' }));
    await kit.update('configmaps', cm('{"Controls": {"not": "an array"}}'));
    assert.deepEqual(active(), ['1.1.12', '1.2.1', '1.2.16']);
    assert.deepEqual(resolved(), []);
  });

  test('a report without failures (all PASS) resolves everything', async () => {
    await kit.add('configmaps', cm(report()));
    await kit.update('configmaps', cm(report({ '1.1.12': 'PASS', '1.2.1': 'PASS', '1.2.16': 'PASS' })));
    assert.deepEqual(active(), []);
  });

  test('a new leader resolves the findings of a ConfigMap that vanished while nobody watched', async () => {
    await kit.add('configmaps', cm(report(), 'kube-bench-node-1'));
    await kit.add('configmaps', cm(report(), 'kube-bench-node-2'));
    await kit.stopLeading();
    assert.equal(kit.informers().length, 0, 'the informer stops with the term');
    await kit.startLeading();
    // The new term lists: node-2 is gone; node-1 is still there.
    await kit.add('configmaps', cm(report(), 'kube-bench-node-1'));
    await kit.relist('configmaps', [cm(report(), 'kube-bench-node-1')]);
    const byNode = (phase: string) =>
      kit
        .observations()
        .filter((o) => o.phase === phase)
        .map((o) => o.spec.resource?.name);
    assert.deepEqual([...new Set(byNode('Active'))], ['kube-bench-node-1']);
    assert.deepEqual([...new Set(byNode('Resolved'))], ['kube-bench-node-2']);
  });
});

describe('grace period', () => {
  test('a finding gone from the report resolves only after the grace period (ZEN_RESOLVE_AFTER_SECONDS)', async () => {
    let now = Date.parse('2025-06-01T12:00:00Z');
    const k = await (await import('zen-watcher/testkit')).loadTestPlugin((await import('./helpers.ts')).PLUGIN_DIR, {
      now: () => now,
      resolveGraceMs: 60_000,
    });
    try {
      k.ingester({ name: 'kube-bench', namespace: 'zen-system', source: 'kube-bench', spec: SAMPLE });
      await k.startLeading();
      await k.add('configmaps', cm(report()));
      await k.update('configmaps', cm(report({ '1.2.16': 'PASS' })));
      assert.equal(k.observations().filter((o) => o.phase === 'Resolved').length, 0);
      now += 61_000;
      assert.equal(await k.tick(), 1);
      assert.equal(k.observations().filter((o) => o.phase === 'Resolved').length, 1);
    } finally {
      await k.close();
    }
  });
});
