/** The pure mapping (map.ts, identity.ts, config.ts) on the plugin's own fixtures and hand-made edge cases. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { severityOf } from '../config.ts';
import { identityOf } from '../identity.ts';
import { reportKind } from '../kinds.ts';
import { imageOf, type MapOutcome, mapReport } from '../map.ts';
import { clone, configOf, own, ownOne, type Report, vulnFingerprint } from './helpers.ts';

const VULN = reportKind('VulnerabilityReport')!;
const CVR = reportKind('ClusterVulnerabilityReport')!;
const CAR = reportKind('ConfigAuditReport')!;
const CCAR = reportKind('ClusterConfigAuditReport')!;
const cfg = configOf;

function mapped(out: MapOutcome) {
  assert.equal(out.kind, 'mapped', JSON.stringify(out));
  if (out.kind !== 'mapped') throw new Error('unreachable');
  return out;
}

describe('severity', () => {
  test('Trivy severities map to Observation severities, any case; unknown or missing is info', () => {
    const cases: [unknown, string, boolean][] = [
      ['CRITICAL', 'critical', true],
      ['HIGH', 'high', true],
      ['MEDIUM', 'medium', true],
      ['LOW', 'low', true],
      ['UNKNOWN', 'info', true],
      ['high', 'high', true],
      [' Medium ', 'medium', true],
      ['NONE', 'info', true],
      ['SEVERE', 'info', false],
      [undefined, 'info', false],
      [7, 'info', false],
      ['constructor', 'info', false],
      ['__proto__', 'info', false],
    ];
    for (const [v, s, known] of cases) assert.deepEqual(severityOf(v), { severity: s, known }, String(v));
  });
});

describe('config', () => {
  test("the schema's defaults, as the host applies them; what the host refuses never reaches the plugin", () => {
    assert.deepEqual(configOf(), {
      reportKinds: ['VulnerabilityReport'],
      minSeverity: 'info',
      ignoreUnfixed: false,
      namespaces: [],
      maxFindingsPerReport: 1000,
    });
    for (const bad of [
      { reportKinds: ['Nope'] },
      { reportKinds: [] },
      { minSeverity: 'SEVERE' },
      { ignoreUnfixed: 'yes' },
      { namespaces: ['a', ''] },
      { maxFindingsPerReport: 0 },
    ])
      assert.throws(() => configOf(bad), /spec\.config/, JSON.stringify(bad));
    // Trivy's UNKNOWN and any case are accepted: the shared minSeverity plus Trivy's name for info.
    assert.equal(severityOf(configOf({ minSeverity: 'UNKNOWN' }).minSeverity).severity, 'info');
    assert.equal(severityOf(configOf({ minSeverity: 'HIGH' }).minSeverity).severity, 'high');
  });
});

describe('identity', () => {
  const reports = own('vulnerabilityreports-identities.yaml');
  const ids = reports.map((r) => identityOf(r.metadata, VULN));

  test('ownerReference, labels, name-hash and legacy labels name the same workload and container', () => {
    assert.deepEqual(
      ids.slice(0, 4).map((i) => [i?.workload.key, i?.container, i?.workload.source]),
      [
        ['replicaset/shop/web-5f7d8c9b4d', 'app', 'labels'],
        ['replicaset/shop/web-5f7d8c9b4d', 'app', 'name-hash'],
        ['replicaset/shop/web-5f7d8c9b4d', 'app', 'legacy-labels'],
        ['replicaset/shop/web-5f7d8c9b4d', 'app', 'ownerReference'],
      ],
    );
    // So the finding has one fingerprint whichever the report carries.
    const fps = reports.slice(0, 4).map((r) => mapped(mapReport(r, VULN, cfg())).drafts[0]!.fingerprint);
    assert.deepEqual(
      new Set(fps),
      new Set([vulnFingerprint('replicaset/shop/web-5f7d8c9b4d', 'app', 'CVE-2023-0286', 'libssl3', '3.0.8-1')]),
    );
    // apiVersion from the ownerReference, or from the built-in table for label identities.
    assert.ok(ids.slice(0, 4).every((i) => i?.workload.apiVersion === 'apps/v1'));
  });

  test('no ownerReference and no labels: keyed on the report itself', () => {
    const i = ids[4]!;
    assert.deepEqual(i.workload, {
      kind: 'VulnerabilityReport',
      name: 'hand-made-report',
      namespace: 'shop',
      apiVersion: 'aquasecurity.github.io/v1alpha1',
      source: 'report',
      key: 'vulnerabilityreport/shop/hand-made-report',
    });
    assert.equal(i.container, '');
  });

  test('the controller ownerReference wins over other ownerReferences; a lone non-controller one is used', () => {
    const meta = (refs: unknown) => ({ name: 'x', namespace: 'n', ownerReferences: refs });
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs1' };
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', name: 'cm1' };
    assert.equal(identityOf(meta([cm, { ...rs, controller: true }]), VULN)?.workload.name, 'rs1');
    assert.equal(identityOf(meta([cm]), VULN)?.workload.name, 'cm1');
    assert.equal(identityOf(meta([cm, rs]), VULN)?.workload.source, 'report', 'two candidates, none controller');
    assert.equal(identityOf(meta([{ kind: 'Pod' }, null, 'x']), VULN)?.workload.source, 'report');
  });

  test('cluster-scoped kinds have no namespace; no name at all is no identity', () => {
    const cluster = identityOf(
      {
        name: 'c',
        namespace: 'ignored',
        labels: { 'trivy-operator.resource.kind': 'Node', 'trivy-operator.resource.name': 'n1' },
      },
      CVR,
    );
    assert.equal(cluster?.workload.key, 'node//n1');
    assert.equal(identityOf({}, VULN), undefined);
    assert.equal(identityOf(null, VULN), undefined);
  });

  test('config audit reports have no container even when scoped checks name one', () => {
    const i = identityOf(
      { name: 'replicaset-a-b', namespace: 'n', labels: { 'trivy-operator.container.name': 'c' } },
      CAR,
    );
    assert.equal(i?.container, '');
  });
});

describe('mapReport', () => {
  const web = ownOne('vulnerabilityreport-shop-web.yaml');

  test('one draft per vulnerability: title, message, resource, details, fingerprint', () => {
    const out = mapped(mapReport(web, VULN, cfg()));
    assert.equal(out.scope, 'VulnerabilityReport/replicaset/shop/web-5f7d8c9b4d/app');
    assert.equal(out.key, 'shop/replicaset-web-5f7d8c9b4d-app');
    assert.equal(out.findings, 3);
    const [a] = out.drafts;
    assert.deepEqual(a, {
      category: 'security',
      eventType: 'vulnerability',
      resource: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5f7d8c9b4d', namespace: 'shop' },
      detectedAt: '2025-05-30T08:00:00.000Z',
      severity: 'critical',
      title: 'CVE-2023-0286 in libssl3 3.0.8-1 (app)',
      message:
        'openssl: X.400 address type confusion in X.509 GeneralName\n\nThere is a type confusion vulnerability relating to X.400 address processing inside an X.509 GeneralName.\n\nFixed in 3.0.8-1+deb12u1.',
      details: {
        vulnerabilityID: 'CVE-2023-0286',
        package: 'libssl3',
        installedVersion: '3.0.8-1',
        fixedVersion: '3.0.8-1+deb12u1',
        trivySeverity: 'CRITICAL',
        score: 7.4,
        primaryLink: 'https://avd.aquasec.com/nvd/cve-2023-0286',
        container: 'app',
        image:
          'registry.example.com/shop/web:2.4.1@sha256:3b5f0c8a2d1e4f6a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a',
        report: { kind: 'VulnerabilityReport', name: 'replicaset-web-5f7d8c9b4d-app', namespace: 'shop' },
        scanner: { name: 'Trivy', vendor: 'Aqua Security', version: '0.52.0' },
        workloadIdentity: 'ownerReference',
        publishedDate: '2023-02-08T20:15:00.000Z',
        lastModifiedDate: '2024-02-04T09:15:00.000Z',
      },
      fingerprint: vulnFingerprint('replicaset/shop/web-5f7d8c9b4d', 'app', 'CVE-2023-0286', 'libssl3', '3.0.8-1'),
    });
    assert.deepEqual(
      out.drafts.map((d) => d.severity),
      ['critical', 'high', 'low'],
    );
  });

  test('the fingerprint ignores the report uid, its name, scan time, fixedVersion, score, severity and title', () => {
    const base = mapped(mapReport(web, VULN, cfg())).drafts.map((d) => d.fingerprint);
    const c = clone(web);
    c.metadata = {
      ...c.metadata,
      uid: 'another',
      name: 'replicaset-web-5f7d8c9b4d-app',
      creationTimestamp: '2030-01-01T00:00:00Z',
    };
    const v = (c.report!.vulnerabilities as Record<string, unknown>[])[0]!;
    Object.assign(v, { fixedVersion: '9', score: 1, severity: 'LOW', title: 'changed' });
    c.report!.updateTimestamp = '2030-01-01T00:00:00Z';
    assert.deepEqual(
      mapped(mapReport(c, VULN, cfg())).drafts.map((d) => d.fingerprint),
      base,
    );
    // …but a new installed version is a new finding.
    v.installedVersion = '3.0.9-1';
    assert.notEqual(mapped(mapReport(c, VULN, cfg())).drafts[0]!.fingerprint, base[0]);
  });

  test('minSeverity, ignoreUnfixed, and skip counts', () => {
    assert.deepEqual(mapped(mapReport(web, VULN, cfg({ minSeverity: 'high' }))).skipped, { below_min_severity: 1 });
    const unfixed = mapped(mapReport(web, VULN, cfg({ ignoreUnfixed: true })));
    assert.deepEqual(unfixed.skipped, { unfixed: 2 });
    assert.deepEqual(
      unfixed.drafts.map((d) => d.details!.vulnerabilityID),
      ['CVE-2023-0286'],
    );
  });

  test('maxFindingsPerReport keeps the most severe, in report order within a severity', () => {
    const out = mapped(mapReport(web, VULN, cfg({ maxFindingsPerReport: 2 })));
    assert.deepEqual(
      out.drafts.map((d) => d.severity),
      ['critical', 'high'],
    );
    assert.deepEqual(out.skipped, { over_limit: 1 });
  });

  test('a finding listed twice (same ID, package, version) is one draft; findings without an ID are skipped', () => {
    const c = clone(web);
    const list = c.report!.vulnerabilities as unknown[];
    list.push(clone(list[0]), { resource: 'x', severity: 'HIGH' }, 'not an object', null);
    const out = mapped(mapReport(c, VULN, cfg()));
    assert.equal(out.drafts.length, 3);
    assert.deepEqual(out.skipped, { duplicate_in_report: 1, no_id: 3 });
  });

  test('empty report: mapped, no drafts (its scope still counts as live)', () => {
    const out = mapped(mapReport(ownOne('vulnerabilityreport-empty.yaml'), VULN, cfg()));
    assert.equal(out.drafts.length, 0);
    assert.equal(out.scope, 'VulnerabilityReport/statefulset/shop/db/postgres');
    const noList = clone(ownOne('vulnerabilityreport-empty.yaml'));
    delete noList.report!.vulnerabilities;
    assert.equal(mapped(mapReport(noList, VULN, cfg())).drafts.length, 0);
  });

  test('unreadable reports are reported as such, never thrown', () => {
    assert.deepEqual(mapReport('x', VULN, cfg()), { kind: 'unusable', key: undefined, reason: 'not_an_object' });
    assert.deepEqual(mapReport({ metadata: {} }, VULN, cfg()), {
      kind: 'unusable',
      key: undefined,
      reason: 'no_identity',
    });
    const noReport: Report = { metadata: { name: 'a', namespace: 'n' } };
    assert.deepEqual(mapReport(noReport, VULN, cfg()), { kind: 'unusable', key: 'n/a', reason: 'no_report_section' });
    const badList: Report = { metadata: { name: 'a', namespace: 'n' }, report: { vulnerabilities: { a: 1 } } };
    assert.deepEqual(mapReport(badList, VULN, cfg()), { kind: 'unusable', key: 'n/a', reason: 'findings_not_a_list' });
  });

  test('cluster config audit: failed checks only, ClusterRole resource, no namespace', () => {
    const out = mapped(mapReport(ownOne('clusterconfigauditreport-clusterrole.yaml'), CCAR, cfg()));
    assert.equal(out.drafts.length, 1);
    assert.deepEqual(out.skipped, { passed_check: 1 });
    const d = out.drafts[0]!;
    assert.equal(d.title, 'KSV046: Manage all resources (ClusterRole ops-admin)');
    assert.equal(d.eventType, 'misconfiguration');
    assert.deepEqual(d.resource, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      name: 'ops-admin',
    });
    assert.equal(
      d.message,
      "Full control of the cluster resources, and therefore also root on all nodes where workloads can run.\n\nClusterRole 'ops-admin' shouldn't manage all resources\n\nRemediation: Remove '*' from 'rules.resources'.",
    );
    assert.equal(out.scope, 'ClusterConfigAuditReport/clusterrole//ops-admin/');
  });

  test('long texts are bounded', () => {
    const c = clone(web);
    const v = (c.report!.vulnerabilities as Record<string, unknown>[])[0]!;
    v.title = 't'.repeat(5000);
    v.description = 'd'.repeat(5000);
    v.fixedVersion = '1, '.repeat(1000);
    const d = mapped(mapReport(c, VULN, cfg())).drafts[0]!;
    assert.ok(d.message!.length <= 2048);
    assert.ok((d.details!.fixedVersion as string).length <= 512);
    assert.ok(JSON.stringify(d.details).length < 4096);
  });

  test('image: registry/repository:tag@digest, parts optional', () => {
    assert.equal(imageOf({ artifact: { repository: 'r' } }), 'r');
    assert.equal(
      imageOf({ artifact: { repository: 'r', digest: 'sha256:x' }, registry: { server: 's' } }),
      's/r@sha256:x',
    );
    assert.equal(imageOf({ artifact: { tag: 't' } }), undefined);
    assert.equal(imageOf({ artifact: 'x', registry: 3 }), undefined);
  });

  test('a Date (what a YAML 1.1 parser makes of an unquoted timestamp) is accepted as detectedAt', () => {
    const c = clone(web);
    c.report!.updateTimestamp = new Date('2025-05-31T00:00:00Z');
    assert.equal(mapped(mapReport(c, VULN, cfg())).drafts[0]!.detectedAt, '2025-05-31T00:00:00.000Z');
    c.report!.updateTimestamp = 'yesterday';
    c.metadata!.creationTimestamp = undefined;
    assert.equal(mapped(mapReport(c, VULN, cfg())).drafts[0]!.detectedAt, undefined);
  });
});
