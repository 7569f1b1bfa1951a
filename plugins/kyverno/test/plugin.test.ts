/**
 * The informer source through the test kit (real pipeline and resolver, fake informers): which watches open, the
 * mapping of the plugin's own fixtures, resolution (fail → pass, report deleted, relist, new leader), no churn
 * when a report is re-created, both API groups about one resource, CRDs that appear later, and the config.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { KitObservation, TestPlugin } from 'zen-watcher/testkit';
import { clone, type Doc, INGESTER_NS, leading, load, own } from './helpers.ts';

let kit: TestPlugin | undefined;
afterEach(async () => {
  await kit?.close();
  kit = undefined;
});

const web = () => clone(own('polr-deployment-web.yaml')[0]!);
const webReport = () => clone(own('report-deployment-web.yaml')[0]!);
const legacy = () => clone(own('polr-namespace-legacy.yaml')[0]!);
const nsReport = () => clone(own('creport-namespace-shop.yaml')[0]!);
const results = (d: Doc) => d.results as Doc[];
const byPolicy = (obs: KitObservation[], policy: string) => obs.filter((o) => o.spec.details?.policy === policy);
const phases = (obs: KitObservation[]) =>
  Object.fromEntries(obs.map((o) => [`${o.spec.details?.policy}@${o.spec.resource?.name}`, o.phase]));
const ALL = ['policyreports', 'clusterpolicyreports', 'reports', 'clusterreports'];

describe('watches', () => {
  test('nothing before the term; one informer per report kind while leading; all closed when it ends', async () => {
    kit = await load();
    kit.ingester({ name: 'kyverno', namespace: INGESTER_NS });
    assert.equal(kit.informers().length, 0, 'followers watch nothing');
    const term = await kit.startLeading();
    await kit.settle();
    assert.deepEqual(
      kit
        .informers()
        .map((i) => `${i.options.group}/${i.options.version}/${i.options.resource}`)
        .sort(),
      [
        'openreports.io/v1alpha1/clusterreports',
        'openreports.io/v1alpha1/reports',
        'wgpolicyk8s.io/v1alpha2/clusterpolicyreports',
        'wgpolicyk8s.io/v1alpha2/policyreports',
      ],
    );
    for (const i of kit.informers()) {
      assert.equal(i.options.namespace, undefined, 'every namespace');
      assert.equal(i.signal.aborted, false);
    }
    await kit.stopLeading();
    assert.ok(term.signal.aborted);
    assert.equal(kit.informers().length, 0, 'the informers stop with the term');
  });

  test('namespaces: one watch per namespace for PolicyReport and Report; cluster reports unaffected', async () => {
    kit = await leading({ namespaces: ['shop', 'payments'] });
    const ns = (r: string) =>
      kit!
        .informers(r)
        .map((i) => i.options.namespace ?? '*')
        .sort();
    assert.deepEqual(ns('policyreports'), ['payments', 'shop']);
    assert.deepEqual(ns('reports'), ['payments', 'shop']);
    assert.deepEqual(ns('clusterpolicyreports'), ['*']);
    assert.deepEqual(ns('clusterreports'), ['*']);
    const other = web();
    (other.metadata as Doc).namespace = 'elsewhere';
    (other.scope as Doc).namespace = 'elsewhere';
    await kit.add('policyreports', other);
    assert.equal(kit.observations().length, 0, 'a report outside the namespaces is not seen');
    await kit.add('policyreports', web());
    assert.equal(kit.observations().length, 3);
  });

  test('informer.namespace narrows the namespaced watches and leaves out cluster reports; labelSelector is passed on', async () => {
    kit = await leading(
      {},
      { spec: { informer: { namespace: 'shop', labelSelector: 'app.kubernetes.io/managed-by=kyverno' } } },
    );
    assert.deepEqual(
      kit
        .informers()
        .map((i) => `${i.options.resource}@${i.options.namespace}`)
        .sort(),
      ['policyreports@shop', 'reports@shop'],
    );
    for (const i of kit.informers()) assert.equal(i.options.labelSelector, 'app.kubernetes.io/managed-by=kyverno');
    await kit.add('policyreports', web());
    assert.equal(kit.observations().length, 3);
  });

  test('reportKinds and informer.gvr choose the kinds', async () => {
    kit = await leading({ reportKinds: ['Report', 'ClusterReport'] });
    assert.deepEqual(
      kit
        .informers()
        .map((i) => i.options.resource)
        .sort(),
      ['clusterreports', 'reports'],
    );
    await kit.close();
    kit = await leading(
      {},
      {
        spec: { informer: { gvr: { group: 'wgpolicyk8s.io', version: 'v1alpha2', resource: 'clusterpolicyreports' } } },
      },
    );
    assert.deepEqual(
      kit.informers().map((i) => i.options.resource),
      ['clusterpolicyreports'],
    );
    await kit.close();
    // A gvr that is not a policy report: nothing is watched (and it is logged/counted), the plugin keeps running.
    kit = await leading({}, { spec: { informer: { gvr: { group: 'apps', version: 'v1', resource: 'deployments' } } } });
    assert.equal(kit.informers().length, 0);
  });
});

describe('mapping', () => {
  test('a per-resource report: one Observation per fail/warn result, on the scope resource, with details', async () => {
    kit = await leading();
    await kit.add('policyreports', web());
    const obs = kit.observations();
    assert.equal(obs.length, 3, 'fail, fail, warn; the pass result is not a finding');
    const sev = Object.fromEntries(obs.map((o) => [o.spec.details?.policy, o.spec.severity]));
    assert.deepEqual(sev, {
      'require-requests-limits': 'medium',
      'disallow-privileged-containers': 'high',
      'disallow-latest-tag': 'medium', // warn without severity → severityByResult.warn
    });
    const cat = Object.fromEntries(obs.map((o) => [o.spec.details?.policy, o.spec.category]));
    assert.deepEqual(cat, {
      'require-requests-limits': 'compliance',
      'disallow-privileged-containers': 'security',
      'disallow-latest-tag': 'compliance',
    });
    const o = byPolicy(obs, 'disallow-privileged-containers')[0]!;
    assert.equal(o.namespace, 'shop');
    assert.deepEqual(o.spec.resource, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' });
    // `<policy>/<rule>: <message>`, cut to 200 characters.
    assert.equal(
      o.spec.title,
      'disallow-privileged-containers/privileged-containers: validation error: Privileged mode is disallowed. rule privileged-containers failed at path /spec/template/spec/containers/0/securityContext/privi…',
    );
    assert.equal(o.spec.title.length, 200);
    assert.match(o.spec.message ?? '', /securityContext\/privileged\/$/, 'the whole message');
    assert.equal(o.spec.eventType, 'policy_violation');
    assert.equal(o.spec.detectedAt, '2025-05-01T10:00:00.000Z');
    assert.deepEqual(o.spec.details, {
      policy: 'disallow-privileged-containers',
      rule: 'privileged-containers',
      result: 'fail',
      source: 'kyverno',
      scored: true,
      category: 'Pod Security Standards (Baseline)',
      severitySource: 'result',
      timestamp: '2025-05-01T10:00:00.000Z',
      properties: { process: 'background scan' },
      report: {
        apiVersion: 'wgpolicyk8s.io/v1alpha2',
        kind: 'PolicyReport',
        namespace: 'shop',
        name: '6f1c2a9e-0b7d-4e35-9a41-3c5d7e9f1b20',
      },
      resourceUid: '6f1c2a9e-0b7d-4e35-9a41-3c5d7e9f1b20',
    });
    assert.equal(byPolicy(obs, 'disallow-latest-tag')[0]!.spec.details?.scored, false);
  });

  test('results[].resources: one Observation per listed resource', async () => {
    kit = await leading();
    await kit.add('policyreports', legacy());
    const obs = kit.observations();
    assert.deepEqual(obs.map((o) => `${o.spec.details?.policy}@${o.spec.resource?.name}:${o.spec.severity}`).sort(), [
      'require-probes@web-7d9f8b6c5-abcde:high',
      'require-probes@web-7d9f8b6c5-fghij:high',
      'restrict-image-registries@web-7d9f8b6c5-abcde:medium',
    ]);
    assert.equal(
      obs.find((o) => o.spec.resource?.name === 'web-7d9f8b6c5-fghij')?.spec.details?.resourceUid,
      '22222222-2222-4222-8222-222222222222',
    );
  });

  test('a cluster report about a Namespace (openreports ClusterReport)', async () => {
    kit = await leading();
    await kit.add('clusterreports', nsReport());
    const [o] = kit.observations();
    assert.equal(kit.observations().length, 1);
    assert.deepEqual(o!.spec.resource, { apiVersion: 'v1', kind: 'Namespace', name: 'shop' });
    assert.equal(o!.namespace, INGESTER_NS, 'cluster-scoped target: the Ingester namespace');
    assert.equal(o!.spec.severity, 'low');
    assert.equal(o!.spec.category, 'security', 'Multi-Tenancy');
    assert.equal(o!.spec.details?.report && (o!.spec.details.report as Doc).kind, 'ClusterReport');
  });

  test('no scope: the owner is the target; no owner either: the report itself, with its selector', async () => {
    kit = await leading();
    const owned = web();
    delete owned.scope;
    await kit.add('policyreports', owned);
    assert.ok(
      kit.observations().every((o) => o.spec.resource?.kind === 'Deployment' && o.spec.resource.namespace === 'shop'),
    );
    await kit.close();
    kit = await leading();
    const bare = web();
    delete bare.scope;
    delete (bare.metadata as Doc).ownerReferences;
    bare.scopeSelector = { matchLabels: { app: 'web' } };
    await kit.add('policyreports', bare);
    for (const o of kit.observations()) {
      assert.deepEqual(o.spec.resource, {
        apiVersion: 'wgpolicyk8s.io/v1alpha2',
        kind: 'PolicyReport',
        name: '6f1c2a9e-0b7d-4e35-9a41-3c5d7e9f1b20',
        namespace: 'shop',
      });
      assert.deepEqual(o.spec.details?.selector, { matchLabels: { app: 'web' } });
    }
  });

  test('ValidatingAdmissionPolicy results (no rule) of two bindings are two findings', async () => {
    kit = await leading();
    const r = web();
    r.results = ['binding-a', 'binding-b'].map((binding) => ({
      policy: 'check-replicas',
      result: 'fail',
      source: 'ValidatingAdmissionPolicy',
      message: 'failed expression: object.spec.replicas <= 5',
      properties: { binding },
    }));
    await kit.add('policyreports', r);
    assert.equal(kit.observations().length, 2);
    assert.ok(
      kit.observations().every((o) => o.spec.title === 'check-replicas: failed expression: object.spec.replicas <= 5'),
    );
  });

  test('titles are one bounded line; a float timestamp (yq) and odd values are tolerated', async () => {
    kit = await leading();
    const r = web();
    r.results = [
      {
        policy: 'p'.repeat(300),
        rule: 'r',
        result: 'FAIL',
        severity: 'CRITICAL',
        message: `\n\n  first   line  \nsecond line ${'x'.repeat(500)}`,
        timestamp: { seconds: 1.666094801e9, nanos: 0 },
        properties: { n: 5 as unknown as string, nested: { a: 1 } as unknown as string },
      },
    ];
    await kit.add('policyreports', r);
    const [o] = kit.observations();
    assert.ok(o);
    assert.ok(o.spec.title.length <= 200, o.spec.title);
    assert.ok(o.spec.title.endsWith(': first line'), o.spec.title);
    assert.ok(!o.spec.title.includes('\n'));
    assert.equal(o.spec.severity, 'critical');
    assert.equal(o.spec.details?.result, 'fail');
    assert.equal(o.spec.detectedAt, '2022-10-18T12:06:41.000Z');
    assert.deepEqual(o.spec.details?.properties, { n: '5', nested: '{"a":1}' });
    assert.match(o.spec.message ?? '', /second line/);
  });

  test('config: results, severityByResult, minSeverity', async () => {
    kit = await leading({
      results: ['fail', 'warn', 'error', 'pass'],
      severityByResult: { warn: 'low', pass: 'info' },
    });
    await kit.add('policyreports', web());
    assert.equal(kit.observations().length, 4, 'pass results too');
    assert.equal(byPolicy(kit.observations(), 'disallow-latest-tag')[0]!.spec.severity, 'low');
    assert.equal(byPolicy(kit.observations(), 'require-labels')[0]!.spec.severity, 'medium', 'result severity wins');
    await kit.close();
    kit = await leading({ results: ['fail'], minSeverity: 'high' });
    await kit.add('policyreports', web());
    await kit.add('policyreports', legacy());
    assert.deepEqual(
      kit
        .observations()
        .map((o) => `${o.spec.details?.policy}:${o.spec.severity}`)
        .sort(),
      ['disallow-privileged-containers:high', 'require-probes:high', 'require-probes:high'],
    );
  });
});

describe('resolution', () => {
  test('fail → pass on update resolves exactly that finding; back to fail reactivates it', async () => {
    kit = await leading();
    const r = web();
    await kit.add('policyreports', r);
    const before = kit.observations();
    assert.equal(before.length, 3);
    const next = web();
    results(next)[1]!.result = 'pass';
    (next.metadata as Doc).resourceVersion = '1002';
    await kit.update('policyreports', next, r);
    const after = kit.observations();
    assert.equal(after.length, 3, 'no new Observation');
    assert.deepEqual(phases(after), {
      'require-requests-limits@web': 'Active',
      'disallow-privileged-containers@web': 'Resolved',
      'disallow-latest-tag@web': 'Active',
    });
    const again = web();
    (again.metadata as Doc).resourceVersion = '1003';
    await kit.update('policyreports', again, next);
    assert.ok(
      kit.observations().every((o) => o.phase === 'Active'),
      'reactivated, same name',
    );
    assert.deepEqual(
      kit
        .observations()
        .map((o) => o.name)
        .sort(),
      before.map((o) => o.name).sort(),
    );
  });

  test('one resource drops out of a multi-resource report: only its finding resolves', async () => {
    kit = await leading();
    await kit.add('policyreports', legacy());
    const next = legacy();
    (results(next)[0]!.resources as Doc[]).splice(1, 1);
    (next.metadata as Doc).resourceVersion = '3002';
    await kit.update('policyreports', next);
    assert.deepEqual(phases(kit.observations()), {
      'require-probes@web-7d9f8b6c5-abcde': 'Active',
      'require-probes@web-7d9f8b6c5-fghij': 'Resolved',
      'restrict-image-registries@web-7d9f8b6c5-abcde': 'Active',
    });
  });

  test('report re-creation does not churn: deleted and re-created (new uid, even a new resource uid)', async () => {
    let now = Date.parse('2025-06-01T12:00:00Z');
    kit = await load({ resolveGraceMs: 60_000, now: () => now });
    kit.ingester({ name: 'kyverno', namespace: INGESTER_NS });
    await kit.startLeading();
    await kit.settle();
    await kit.add('policyreports', web());
    const names = kit
      .observations()
      .map((o) => o.name)
      .sort();
    assert.equal(names.length, 3);

    // Kyverno deletes and re-creates the report (e.g. the Deployment was re-created: new uid → new report name).
    await kit.remove('policyreports', web());
    now += 10_000;
    const recreated = web();
    const uid = '0f0f0f0f-1e1e-4d4d-8c8c-7b7b7b7b7b7b';
    Object.assign(recreated.metadata as Doc, {
      name: uid,
      uid: 'ffffffff-0000-4000-8000-000000000000',
      resourceVersion: '5000',
    });
    (recreated.scope as Doc).uid = uid;
    (((recreated.metadata as Doc).ownerReferences as Doc[])[0] as Doc).uid = uid;
    await kit.add('policyreports', recreated);
    now += 120_000;
    assert.equal(await kit.tick(), 0, 'nothing resolves after the grace period');
    assert.deepEqual(
      kit
        .observations()
        .map((o) => o.name)
        .sort(),
      names,
      'same Observations, none new',
    );
    assert.ok(kit.observations().every((o) => o.phase === 'Active'));

    // Deleted for good: resolved once the grace period has passed.
    await kit.remove('policyreports', recreated);
    assert.equal(await kit.tick(), 0, 'not before the grace period');
    now += 61_000;
    assert.equal(await kit.tick(), 3);
    assert.ok(kit.observations().every((o) => o.phase === 'Resolved'));
  });

  test('the same resource in both API groups: the union is reported; deleting one keeps what the other reports', async () => {
    kit = await leading();
    await kit.add('policyreports', web());
    await kit.add('reports', webReport());
    assert.deepEqual(phases(kit.observations()), {
      'require-requests-limits@web': 'Active',
      'disallow-privileged-containers@web': 'Active', // in both: one Observation
      'disallow-latest-tag@web': 'Active',
      'require-ro-rootfs@web': 'Active',
    });
    await kit.remove('policyreports', web());
    assert.deepEqual(phases(kit.observations()), {
      'require-requests-limits@web': 'Resolved',
      'disallow-privileged-containers@web': 'Active',
      'disallow-latest-tag@web': 'Resolved',
      'require-ro-rootfs@web': 'Active',
    });
  });

  test('relist: a report missing from the list resolves; the others are untouched', async () => {
    kit = await leading();
    await kit.add('policyreports', web());
    await kit.add('policyreports', legacy());
    await kit.add('clusterreports', nsReport());
    assert.equal(kit.observations().length, 7);
    await kit.relist('policyreports', [legacy()]);
    const obs = kit.observations();
    assert.equal(obs.filter((o) => o.phase === 'Resolved').length, 3);
    assert.ok(obs.filter((o) => o.spec.resource?.name === 'web').every((o) => o.phase === 'Resolved'));
    assert.ok(obs.filter((o) => o.spec.resource?.name !== 'web').every((o) => o.phase === 'Active'));
  });

  test('a new leader resolves findings whose report vanished while nobody watched (reconcileScopes)', async () => {
    kit = await leading();
    // Delivered straight to the informers: a new term's informer starts empty, so it will have no delete to
    // deliver for a report that vanished in between (the kit's relist would otherwise remember it).
    for (const i of kit.informers('policyreports')) await i.events.add?.(web());
    await kit.add('clusterreports', nsReport());
    await kit.stopLeading();
    await kit.startLeading();
    await kit.settle();
    // The new term lists: the PolicyReport is gone, the ClusterReport is still there.
    await kit.relist('policyreports', []);
    await kit.relist('clusterpolicyreports', []);
    await kit.relist('reports', []);
    assert.ok(
      kit.observations().every((o) => o.phase === 'Active'),
      'no sweep before every watch has listed',
    );
    await kit.relist('clusterreports', [nsReport()]);
    assert.deepEqual(phases(kit.observations()), {
      'require-requests-limits@web': 'Resolved',
      'disallow-privileged-containers@web': 'Resolved',
      'disallow-latest-tag@web': 'Resolved',
      'require-network-policy@shop': 'Active',
    });
  });
});

describe('CRD discovery', () => {
  test('a missing CRD is not watched; it is picked up when it appears (polled every discoveryIntervalSeconds)', async () => {
    kit = await leading({ discoveryIntervalSeconds: 1 }, { serve: ['policyreports', 'clusterpolicyreports'] });
    assert.deepEqual(
      kit
        .informers()
        .map((i) => i.options.resource)
        .sort(),
      ['clusterpolicyreports', 'policyreports'],
    );
    await kit.add('policyreports', web());
    assert.equal(kit.observations().length, 3);
    assert.equal(kit.informers('reports').length, 0, 'no informer for reports');

    kit.serve('all'); // openreports CRDs installed
    const deadline = Date.now() + 5_000;
    while (kit.informers().length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      kit
        .informers()
        .map((i) => i.options.resource)
        .sort(),
      [...ALL].sort(),
    );
    await kit.add('reports', webReport());
    assert.equal(kit.observations().length, 4, 'findings from the new kind flow');
    assert.equal(kit.informers('policyreports').length, 1, 'running watches are not opened twice');
  });

  test('no CRD at all: nothing watched, and the plugin keeps polling until the term ends', async () => {
    kit = await leading({ discoveryIntervalSeconds: 1 }, { serve: [] });
    assert.equal(kit.informers().length, 0);
    await kit.stopLeading();
    kit.serve('all');
    await new Promise((r) => setTimeout(r, 1_300));
    assert.equal(kit.informers().length, 0, 'the poll stopped with the term');
  });
});

describe('robustness', () => {
  test('garbage events never reject and do not disturb the good ones', async () => {
    kit = await leading();
    // (The kit, like the informer, delivers objects; null and other values are covered by the property test.)
    for (const junk of [
      42,
      'x',
      [],
      {},
      { metadata: 5 },
      { results: 'nope' },
      { results: [null, 1, { result: 'fail' }] },
    ]) {
      await kit.add('policyreports', junk as Doc);
      await kit.update('clusterpolicyreports', junk as Doc);
      await kit.remove('reports', junk as Doc);
    }
    await kit.relist('clusterreports', [7, {}, []] as unknown as Doc[]);
    await kit.add('policyreports', web());
    assert.equal(kit.observations().length, 3);
  });
});
