/**
 * The plugin in the test kit (real loader, hooks, pipeline and resolver; fake informers driven by the test):
 * informer options, leadership, CRDs not served, and the add/resolve semantics across report updates, deletion,
 * re-creation and relists.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { requireRealFixtures } from '../../../test/support/fixtures.ts';
import {
  ALL_KINDS,
  active,
  clone,
  expectedName,
  INGESTER_NS,
  type Kit,
  load,
  names,
  own,
  ownOne,
  type Report,
  readReports,
  recreated,
  resolved,
  vulnerabilities,
  vulnFingerprint,
} from './helpers.ts';

const GRACE = 60_000;
const VR = 'vulnerabilityreports';
const web = () => ownOne('vulnerabilityreport-shop-web.yaml');
const WEB_KEY = 'replicaset/shop/web-5f7d8c9b4d';
const webName = (id: string, pkg: string, ver: string) => expectedName(vulnFingerprint(WEB_KEY, 'app', id, pkg, ver));
const CVE_0286 = webName('CVE-2023-0286', 'libssl3', '3.0.8-1');
const CVE_2511 = webName('CVE-2024-2511', 'libssl3', '3.0.8-1');
const CVE_3374 = webName('CVE-2011-3374', 'apt', '2.6.1');

async function leading(
  opts: {
    grace?: number;
    config?: Record<string, unknown>;
    spec?: Record<string, unknown>;
    watchNamespaces?: string[];
  } = {},
) {
  const k = await load(opts.grace ?? GRACE, opts.watchNamespaces);
  k.kit.ingester({
    namespace: INGESTER_NS,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.spec ? { spec: opts.spec } : {}),
  });
  await k.kit.startLeading();
  return k;
}

async function afterGrace({ kit, clock }: Kit): Promise<number> {
  clock.t += GRACE + 1_000;
  return kit.tick();
}

async function using(k: Kit, fn: (k: Kit) => Promise<void>): Promise<void> {
  try {
    await fn(k);
  } finally {
    await k.kit.close();
  }
}

describe('informers', () => {
  test('one informer per enabled kind, with the Ingester namespace, labelSelector and fieldSelector', async () => {
    const k = await leading({
      config: { reportKinds: ALL_KINDS },
      spec: { informer: { namespace: 'shop', labelSelector: 'team=payments', fieldSelector: 'metadata.name!=x' } },
    });
    await using(k, async ({ kit }) => {
      const opened = kit.informers().map((i) => i.options);
      assert.deepEqual(
        opened.map((o) => o.resource).sort(),
        ['configauditreports', 'exposedsecretreports', 'vulnerabilityreports'],
        'cluster-scoped kinds are skipped when the watch is namespace-restricted',
      );
      for (const { transform, ...o } of opened) {
        assert.equal(typeof transform, 'function', 'the informer keeps mapped findings, not reports (API 1.2.0)');
        assert.deepEqual(
          { ...o, resource: '' },
          {
            group: 'aquasecurity.github.io',
            version: 'v1alpha1',
            resource: '',
            namespace: 'shop',
            labelSelector: 'team=payments',
            fieldSelector: 'metadata.name!=x',
          },
        );
      }
    });
  });

  test('without a namespace every kind is watched cluster-wide; the default is VulnerabilityReports only', async () => {
    await using(await leading({ config: { reportKinds: ALL_KINDS } }), async ({ kit }) => {
      assert.equal(kit.informers().length, 5);
      assert.ok(kit.informers().every((i) => i.options.namespace === undefined));
    });
    await using(await leading(), async ({ kit }) => {
      assert.deepEqual(
        kit.informers().map((i) => i.options.resource),
        [VR],
      );
    });
  });

  test("the host's namespace restriction (api.kube.watchNamespaces): one informer per namespace, no cluster kinds", async () => {
    await using(
      await leading({ config: { reportKinds: ALL_KINDS }, watchNamespaces: ['shop', 'pay'] }),
      async ({ kit }) => {
        const opened = kit.informers().map((i) => `${i.options.resource}@${i.options.namespace}`);
        assert.deepEqual(opened.sort(), [
          'configauditreports@pay',
          'configauditreports@shop',
          'exposedsecretreports@pay',
          'exposedsecretreports@shop',
          'vulnerabilityreports@pay',
          'vulnerabilityreports@shop',
        ]);
      },
    );
  });

  test('informers run only while leading: stopLeading closes them, a new term opens them again', async () => {
    await using(await leading(), async ({ kit }) => {
      assert.equal(kit.informers().length, 1);
      await kit.stopLeading();
      assert.equal(kit.informers().length, 0);
      await kit.startLeading();
      assert.equal(kit.informers().length, 1);
    });
  });

  test('kinds whose CRD is not served are skipped, not fatal; the others work', async () => {
    const k = await load(GRACE);
    await using(k, async ({ kit }) => {
      kit.serve([VR]);
      kit.ingester({ namespace: INGESTER_NS, config: { reportKinds: ALL_KINDS } });
      await kit.startLeading();
      assert.deepEqual(
        kit.informers().map((i) => i.options.resource),
        [VR],
      );
      await kit.add(VR, web());
      assert.equal(kit.observations().length, 3);
    });
  });
});

describe('findings over the life of a report', () => {
  test('add: one Observation per finding, in the workload namespace', async () => {
    await using(await leading(), async ({ kit }) => {
      await kit.add(VR, web());
      const obs = kit.observations();
      assert.deepEqual(names(obs), [CVE_0286, CVE_2511, CVE_3374].sort());
      assert.ok(obs.every((o) => o.namespace === 'shop' && o.phase === 'Active'));
    });
  });

  test('Trivy re-creates the report (delete, then a new uid with the same findings): nothing new, nothing resolved', async () => {
    const k = await leading();
    await using(k, async ({ kit, clock }) => {
      await kit.add(VR, web());
      const before = names(kit.observations());
      await kit.remove(VR, web());
      clock.t += 5_000;
      await kit.add(VR, recreated(web()));
      assert.equal(await afterGrace(k), 0);
      // Re-created again, this time seen only as an update (the watch missed the delete).
      await kit.update(VR, recreated(web(), 3), recreated(web()));
      assert.equal(await afterGrace(k), 0);
      assert.deepEqual(names(kit.observations()), before);
      assert.equal(resolved(kit.observations()).length, 0);
      // …and after a relist.
      await kit.relist(VR, [recreated(web(), 4)]);
      assert.equal(await afterGrace(k), 0);
      assert.equal(active(kit.observations()).length, 3);
    });
  });

  test('update: one CVE fixed, one new → exactly one new Observation and one resolved', async () => {
    const k = await leading();
    await using(k, async ({ kit }) => {
      await kit.add(VR, web());
      const next = clone(web());
      const list = vulnerabilities(next);
      list.splice(2, 1); // CVE-2011-3374 (apt) fixed
      list.push({
        vulnerabilityID: 'CVE-2024-6119',
        resource: 'libssl3',
        installedVersion: '3.0.8-1',
        fixedVersion: '3.0.14-1~deb12u2',
        severity: 'MEDIUM',
        title: 'openssl: Possible denial of service in X.509 name checks',
      });
      await kit.update(VR, next, web());
      const added = kit.observations().filter((o) => o.name === webName('CVE-2024-6119', 'libssl3', '3.0.8-1'));
      assert.equal(added.length, 1);
      assert.equal(added[0]!.spec.severity, 'medium');
      assert.equal(kit.observations().length, 4);
      assert.equal(resolved(kit.observations()).length, 0, 'the fixed one waits for the grace period');
      assert.equal(await afterGrace(k), 1);
      assert.deepEqual(names(resolved(kit.observations())), [CVE_3374]);
      assert.equal(active(kit.observations()).length, 3);
      // The fix is reverted (image rolled back): the same Observation is Active again, no new one.
      await kit.update(VR, web(), next);
      assert.equal(kit.observations().length, 4);
      assert.equal(kit.observations().find((o) => o.name === CVE_3374)?.phase, 'Active', 'reactivated');
      assert.equal(await afterGrace(k), 1, 'CVE-2024-6119 is gone again');
      assert.deepEqual(names(active(kit.observations())), [CVE_0286, CVE_2511, CVE_3374].sort());
    });
  });

  test('report deleted for good, then tick after the grace period → its findings are resolved', async () => {
    const k = await leading();
    await using(k, async ({ kit, clock }) => {
      await kit.add(VR, web());
      await kit.add(VR, ownOne('vulnerabilityreport-empty.yaml'));
      await kit.remove(VR, web());
      assert.equal(await kit.tick(), 0, 'within the grace period');
      assert.equal(active(kit.observations()).length, 3);
      clock.t += GRACE + 1;
      assert.equal(await kit.tick(), 3);
      assert.equal(resolved(kit.observations()).length, 3);
    });
  });

  test('a relist that no longer contains a report resolves its findings (same term)', async () => {
    const k = await leading();
    await using(k, async ({ kit }) => {
      await kit.add(VR, web());
      await kit.relist(VR, [ownOne('vulnerabilityreport-empty.yaml')]);
      assert.equal(await afterGrace(k), 3);
      assert.equal(resolved(kit.observations()).length, 3);
    });
  });

  test('a new leader resolves findings whose report vanished while nobody watched (reconcileScopes)', async () => {
    const k = await leading();
    await using(k, async ({ kit }) => {
      await kit.add(VR, web());
      await kit.stopLeading();
      await kit.startLeading();
      await kit.relist(VR, []);
      assert.equal(await afterGrace(k), 3);
      assert.equal(resolved(kit.observations()).length, 3);
    });
  });

  test("one kind's relist never resolves another kind's findings", async () => {
    const k = await leading({ config: { reportKinds: ['VulnerabilityReport', 'ClusterConfigAuditReport'] } });
    await using(k, async ({ kit }) => {
      const car = ownOne('clusterconfigauditreport-clusterrole.yaml');
      await kit.add(VR, web());
      await kit.add('clusterconfigauditreports', car);
      assert.equal(kit.observations().length, 4);
      await kit.stopLeading();
      await kit.startLeading();
      await kit.relist(VR, [web()]);
      assert.equal(await afterGrace(k), 0, 'ClusterConfigAuditReports have not been listed yet');
      await kit.relist('clusterconfigauditreports', [car]);
      assert.equal(await afterGrace(k), 0);
      assert.equal(active(kit.observations()).length, 4);
      await kit.relist('clusterconfigauditreports', []);
      assert.equal(await afterGrace(k), 1);
      assert.equal(kit.observations().find((o) => o.phase === 'Resolved')?.spec.details?.checkID, 'KSV046');
    });
  });

  test('a kind whose CRD went away: its findings are resolved once the other kinds have listed', async () => {
    const k = await leading({ config: { reportKinds: ['VulnerabilityReport', 'ClusterConfigAuditReport'] } });
    await using(k, async ({ kit }) => {
      await kit.add('clusterconfigauditreports', ownOne('clusterconfigauditreport-clusterrole.yaml'));
      await kit.stopLeading();
      kit.serve([VR]);
      await kit.startLeading();
      await kit.relist(VR, []);
      assert.equal(await afterGrace(k), 1);
    });
  });

  test('an unreadable version of a report resolves nothing (update or relist)', async () => {
    const k = await leading();
    await using(k, async ({ kit }) => {
      await kit.add(VR, web());
      const broken = clone(web());
      broken.report = 'garbage' as unknown as Record<string, unknown>;
      await kit.update(VR, broken, web());
      await kit.relist(VR, [broken]);
      assert.equal(await afterGrace(k), 0);
      assert.equal(active(kit.observations()).length, 3);
    });
  });

  test('two reports for one workload and container (e.g. re-named report): the union counts', async () => {
    const k = await leading();
    await using(k, async ({ kit }) => {
      const [labelsOnly, nameHash] = own('vulnerabilityreports-identities.yaml') as [Report, Report];
      await kit.add(VR, labelsOnly);
      await kit.add(VR, nameHash);
      assert.equal(kit.observations().length, 1);
      await kit.remove(VR, nameHash);
      assert.equal(await afterGrace(k), 0, 'the other report still has the finding');
      await kit.remove(VR, labelsOnly);
      assert.equal(await afterGrace(k), 1);
    });
  });

  test('config: minSeverity / ignoreUnfixed / namespaces decide what is a finding', async () => {
    await using(await leading({ config: { minSeverity: 'high' } }), async ({ kit }) => {
      await kit.add(VR, web());
      assert.deepEqual(names(kit.observations()), [CVE_0286, CVE_2511].sort());
    });
    await using(await leading({ config: { ignoreUnfixed: true } }), async ({ kit }) => {
      await kit.add(VR, web());
      assert.deepEqual(names(kit.observations()), [CVE_0286]);
    });
    await using(await leading({ config: { namespaces: ['payments'] } }), async ({ kit }) => {
      await kit.add(VR, web());
      assert.equal(kit.observations().length, 0, 'shop is not in the allow list');
    });
  });

  test('host filters (spec.filters) apply on top: filtered drafts are simply not findings', async () => {
    await using(await leading({ spec: { filters: { minSeverity: 'critical' } } }), async ({ kit }) => {
      await kit.add(VR, web());
      assert.deepEqual(names(kit.observations()), [CVE_0286]);
    });
  });
});

describe('real reports over time', () => {
  test('coredns: the 1-finding report re-scanned into the 27-finding one → 26 new, nothing resolved', async (t) => {
    const dir = requireRealFixtures(t, 'trivy');
    if (!dir) return;
    const [one] = readReports(join(dir, 'vulnerabilityreport-replicaset-coredns-1-vuln-envtest-current.yaml'));
    const [many] = readReports(join(dir, 'vulnerabilityreport-replicaset-coredns-27-vulns.yaml'));
    const k = await leading();
    await using(k, async ({ kit }) => {
      await kit.add(VR, one!);
      const first = names(kit.observations());
      assert.equal(first.length, 1);
      await kit.update(VR, many!, one!);
      assert.equal(kit.observations().length, 27);
      assert.ok(first.every((n) => kit.observations().some((o) => o.name === n)));
      assert.equal(await afterGrace(k), 0);
      // …and back: 26 resolved, the shared finding stays.
      await kit.update(VR, one!, many!);
      assert.equal(await afterGrace(k), 26);
      assert.deepEqual(names(active(kit.observations())), first);
    });
  });

  test('nginx docs report deleted and re-created with a new uid: no churn', async (t) => {
    const dir = requireRealFixtures(t, 'trivy');
    if (!dir) return;
    const [nginx] = readReports(join(dir, 'vulnerabilityreport-docs-replicaset-nginx-2-critical.yaml'));
    const k = await leading();
    await using(k, async ({ kit }) => {
      await kit.add(VR, nginx!);
      await kit.remove(VR, nginx!);
      await kit.add(VR, recreated(nginx!));
      assert.equal(await afterGrace(k), 0);
      assert.equal(kit.observations().length, 2);
      assert.equal(active(kit.observations()).length, 2);
    });
  });
});
