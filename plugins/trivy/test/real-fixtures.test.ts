/**
 * Conformance over the real Trivy corpus (../shared/fixtures/real/trivy or ZEN_REAL_FIXTURES; skipped with the
 * reason when absent, a failure under CI=true). Every report fixture (not the CRDs) goes through the test kit
 * (the plugin's informer callbacks + the real pipeline and resolver); the exact Observations are asserted — count,
 * deterministic names, severities, resources, titles — and none where none should be.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { listFiles, requireRealFixtures } from '../../../test/support/fixtures.ts';
import { reportKind } from '../kinds.ts';
import { mapReport } from '../map.ts';
import {
  ALL_KINDS,
  active,
  byName,
  configOf,
  expectedName,
  INGESTER_NS,
  load,
  type Report,
  readReports,
  resourceOf,
  vulnerabilities,
} from './helpers.ts';
import { GOLDEN_NAMES, REAL_EXPECTED } from './real-expected.ts';

const SCOPE_LABEL = 'zen.kube-zen.io/scope';
const scopeLabel = (scope: string) => createHash('sha256').update(scope).digest('hex').slice(0, 16);

function reportFiles(dir: string): string[] {
  return listFiles(dir, /\.ya?ml$/).filter((f) => !basename(f).startsWith('crd-'));
}

test('real Trivy fixtures: exact Observations per report (every kind enabled)', async (t) => {
  const dir = requireRealFixtures(t, 'trivy');
  if (!dir) return;
  const files = reportFiles(dir);
  assert.deepEqual(
    files.map((f) => basename(f)).sort(),
    Object.keys(REAL_EXPECTED).sort(),
    'every real report fixture has an expectation (and every expectation a fixture)',
  );
  for (const file of files) {
    const name = basename(file);
    await t.test(name, async () => {
      const expected = REAL_EXPECTED[name]!;
      const reports = readReports(file);
      assert.equal(reports.length, expected.length, 'reports in the file');
      const { kit } = await load();
      try {
        kit.ingester({ namespace: INGESTER_NS, config: { reportKinds: ALL_KINDS } });
        await kit.startLeading();
        for (const r of reports) await kit.add(resourceOf(r), r);
        const obs = kit.observations();
        const want = expected.flatMap((e, i) => e.findings.map((f) => ({ f, e, r: reports[i]! })));
        assert.equal(obs.length, want.length, 'one Observation per finding, nothing else');
        const got = byName(obs);
        for (const { f, e, r } of want) {
          const o = got.get(expectedName(f.fingerprint));
          assert.ok(o, `an Observation for ${f.title}`);
          assert.equal(o.spec.severity, f.severity, f.title);
          assert.equal(o.spec.title, f.title);
          assert.deepEqual(o.spec.resource, e.resource, f.title);
          assert.equal(o.namespace, e.namespace);
          assert.equal(o.spec.source, 'trivy');
          assert.equal(o.spec.category, 'security');
          assert.equal(o.phase, 'Active');
          assert.equal(o.labels[SCOPE_LABEL], scopeLabel(e.scope), 'scope = kind + workload + container');
          assert.equal(o.spec.eventType, reportKind(e.kind)!.eventType);
          const d = o.spec.details!;
          assert.deepEqual(d.report, {
            kind: e.kind,
            name: r.metadata?.name,
            ...(r.metadata?.namespace ? { namespace: r.metadata.namespace } : {}),
          });
          assert.equal(d.workloadIdentity, e.identity);
          assert.ok(o.spec.message && o.spec.message.length <= 2048, 'a bounded message');
          assert.ok(JSON.stringify(d).length < 16_384, 'details stay under the host bound');
          assert.equal(d._truncated, undefined);
        }
        const golden = GOLDEN_NAMES[name];
        if (golden) assert.ok(got.has(golden), `golden name ${golden}`);
        // Per-severity counts agree with the reports' own summaries where those describe the listed findings.
        for (const [i, r] of reports.entries()) {
          const s = r.report?.summary as Record<string, number> | undefined;
          const list = vulnerabilities(r);
          if (!s || list.length !== Object.values(s).reduce((a, b) => a + b, 0)) continue;
          const count = (sev: string) => expected[i]!.findings.filter((f) => f.severity === sev).length;
          assert.equal(count('critical'), s.criticalCount ?? 0);
          assert.equal(count('high'), s.highCount ?? 0);
          assert.equal(count('medium'), s.mediumCount ?? 0);
          assert.equal(count('low'), s.lowCount ?? 0);
          assert.equal(count('info'), s.unknownCount ?? 0);
        }
        // The same reports again (a relist, as after a watch restart): nothing new, nothing resolved.
        for (const r of reports) await kit.relist(resourceOf(r), [r]);
        assert.equal(kit.observations().length, want.length);
        assert.equal(active(kit.observations()).length, want.length);
      } finally {
        await kit.close();
      }
    });
  }
});

test('real Trivy fixtures: mapping details (lenient parsing, bounded details)', async (t) => {
  const dir = requireRealFixtures(t, 'trivy');
  if (!dir) return;
  const one = (file: string) => readReports(join(dir, file))[0]!;
  const cfg = configOf({ reportKinds: ALL_KINDS });

  await t.test('nginx docs: fixedVersion "" and title "" are findings; image and score in details', () => {
    const out = mapReport(
      one('vulnerabilityreport-docs-replicaset-nginx-2-critical.yaml'),
      reportKind('VulnerabilityReport')!,
      cfg,
    );
    assert.equal(out.kind, 'mapped');
    if (out.kind !== 'mapped') return;
    const [a, b] = out.drafts;
    assert.equal(a!.message, 'CVE-2019-20367 affects libbsd0 0.9.1-2. Fixed in 0.9.1-2+deb10u1.');
    assert.deepEqual(
      {
        fixedVersion: a!.details!.fixedVersion,
        score: a!.details!.score,
        image: a!.details!.image,
        container: a!.details!.container,
        primaryLink: a!.details!.primaryLink,
        scanner: a!.details!.scanner,
      },
      {
        fixedVersion: '0.9.1-2+deb10u1',
        score: 9.1,
        image: 'index.docker.io/library/nginx:1.16',
        container: 'nginx',
        primaryLink: 'https://avd.aquasec.com/nvd/cve-2019-20367',
        scanner: { name: 'Trivy', vendor: 'Aqua Security', version: '0.72.0' },
      },
    );
    assert.equal(b!.details!.fixedVersion, '');
    assert.equal(b!.message, 'libwebp: out-of-bounds read in WebPMuxCreateInternal\n\nNo fixed version is available.');
    assert.equal(a!.detectedAt, undefined, 'no updateTimestamp/creationTimestamp: the host stamps it');
  });

  await t.test('coredns 27: GHSA entries without title or score; detectedAt from updateTimestamp', () => {
    const out = mapReport(
      one('vulnerabilityreport-replicaset-coredns-27-vulns.yaml'),
      reportKind('VulnerabilityReport')!,
      cfg,
    );
    assert.equal(out.kind, 'mapped');
    if (out.kind !== 'mapped') return;
    const ghsa = out.drafts.find((d) => d.details?.vulnerabilityID === 'GHSA-c3h9-896r-86jm')!;
    assert.equal(ghsa.severity, 'info');
    assert.equal(ghsa.details!.score, undefined);
    assert.equal(ghsa.details!.trivySeverity, 'UNKNOWN');
    assert.match(
      ghsa.message!,
      /^GHSA-c3h9-896r-86jm affects github\.com\/gogo\/protobuf v1\.3\.1\. Fixed in 1\.3\.2\.$/,
    );
    assert.ok(out.drafts.every((d) => d.detectedAt === '2022-12-08T15:50:37.000Z'));
    assert.equal(out.drafts[0]!.details!.image, 'k8s.gcr.io/coredns/coredns:v1.8.0');
  });

  await t.test('cluster report: comma-separated fixedVersion kept as is; publishedDate "" left out', () => {
    const out = mapReport(
      one('clustervulnerabilityreport-docs-k8s-cluster.yaml'),
      reportKind('ClusterVulnerabilityReport')!,
      cfg,
    );
    assert.equal(out.kind, 'mapped');
    if (out.kind !== 'mapped') return;
    const d = out.drafts.find((x) => x.details?.vulnerabilityID === 'CVE-2022-23648')!.details!;
    assert.equal(d.fixedVersion, '1.4.13, 1.5.10, 1.6.1');
    assert.equal(d.publishedDate, '2022-03-03T14:15:00.000Z');
    const g = out.drafts.find((x) => x.details?.vulnerabilityID === 'GHSA-5j5w-g665-5m35')!.details!;
    assert.equal(g.publishedDate, undefined);
    assert.equal(out.drafts[0]!.resource?.namespace, undefined, 'cluster-scoped: no namespace');
  });

  await t.test('exposed secrets: only the redacted match is copied', () => {
    const out = mapReport(one('exposedsecretreport-docs-replicaset-app.yaml'), reportKind('ExposedSecretReport')!, cfg);
    assert.equal(out.kind, 'mapped');
    if (out.kind !== 'mapped') return;
    assert.deepEqual(
      out.drafts.map((d) => d.details!.match),
      ['publishable_key: *****', 'secret_key: *****'],
    );
    assert.equal(
      out.drafts[0]!.message,
      'Rule stripe-access-token (Stripe) matched in /app/config/secret.yaml: publishable_key: *****',
    );
  });
});

test('real Trivy fixtures: the default config watches VulnerabilityReports only', async (t) => {
  const dir = requireRealFixtures(t, 'trivy');
  if (!dir) return;
  const { kit } = await load();
  try {
    kit.ingester({ namespace: INGESTER_NS });
    await kit.startLeading();
    assert.deepEqual(
      kit.informers().map((i) => i.options.resource),
      ['vulnerabilityreports'],
    );
    assert.deepEqual(configOf().reportKinds, ['VulnerabilityReport']);
    let expected = 0;
    for (const file of reportFiles(dir)) {
      for (const r of readReports(file)) {
        if (r.kind !== 'VulnerabilityReport') continue;
        await kit.add('vulnerabilityreports', r);
      }
      const e = REAL_EXPECTED[basename(file)]!;
      if (e[0]?.kind === 'VulnerabilityReport') expected += e.reduce((n, x) => n + x.findings.length, 0);
    }
    // coredns 1 and coredns 27 are the same report (same scope): the 27-finding scan contains the 1-finding one.
    const coredns1 = 1;
    assert.equal(kit.observations().length, expected - coredns1);
    assert.equal(expected - coredns1, 2 + 27 + 14);
  } finally {
    await kit.close();
  }
});

test('real Trivy fixtures: minSeverity, ignoreUnfixed and namespaces', async (t) => {
  const dir = requireRealFixtures(t, 'trivy');
  if (!dir) return;
  const all = reportFiles(dir).flatMap((f) => readReports(f));
  const count = (config: Record<string, unknown>, pick: (r: Report) => boolean = () => true) =>
    all
      .filter(pick)
      .map((r) => mapReport(r, reportKind(r.kind!)!, configOf({ reportKinds: ALL_KINDS, ...config })))
      .reduce((n, o) => n + (o.kind === 'mapped' ? o.drafts.length : 0), 0);
  const coredns27 = (r: Report) => vulnerabilities(r).length === 27;

  await t.test('minSeverity on the 27-finding coredns scan (12 HIGH, 6 MEDIUM, 9 UNKNOWN)', () => {
    assert.equal(count({}, coredns27), 27);
    assert.equal(count({ minSeverity: 'info' }, coredns27), 27);
    assert.equal(count({ minSeverity: 'UNKNOWN' }, coredns27), 27);
    assert.equal(count({ minSeverity: 'low' }, coredns27), 18);
    assert.equal(count({ minSeverity: 'MEDIUM' }, coredns27), 18);
    assert.equal(count({ minSeverity: 'high' }, coredns27), 12);
    assert.equal(count({ minSeverity: 'critical' }, coredns27), 0);
  });

  await t.test('minSeverity across the whole corpus', () => {
    // 15 cluster + 2 + 13 config audit + 2 secrets + 2 + 1 + 27 + 14 vulns.
    assert.equal(count({}), 76);
    assert.equal(count({ minSeverity: 'critical' }), 2 + 1); // nginx 2 CRITICAL vulns, privilegeEscalationAllowed
    assert.equal(count({ minSeverity: 'high' }), 4 + 1 + 1 + 2 + 2 + 1 + 12 + 7);
  });

  await t.test('ignoreUnfixed: only the nginx libwebp6 finding has no fixedVersion', () => {
    assert.equal(count({ ignoreUnfixed: true }), 75);
    const nginx = all.find((r) => r.metadata?.name === 'replicaset-nginx-6d4cf56db6-nginx')!;
    const out = mapReport(nginx, reportKind('VulnerabilityReport')!, configOf({ ignoreUnfixed: true }));
    assert.equal(out.kind, 'mapped');
    if (out.kind !== 'mapped') return;
    assert.deepEqual(
      out.drafts.map((d) => d.details!.vulnerabilityID),
      ['CVE-2019-20367'],
    );
    assert.deepEqual(out.skipped, { unfixed: 1 });
  });

  await t.test('namespaces: an allow list of namespaced reports; the cluster report is not affected', () => {
    assert.equal(count({ namespaces: ['kube-system'] }), 1 + 27 + 15);
    assert.equal(count({ namespaces: ['default'] }), 2 + 13 + 2 + 2 + 14 + 15);
    assert.equal(count({ namespaces: ['nowhere'] }), 15);
    const nginx = all.find((r) => r.metadata?.name === 'replicaset-nginx-6d4cf56db6-nginx')!;
    assert.deepEqual(mapReport(nginx, reportKind('VulnerabilityReport')!, configOf({ namespaces: ['x'] })), {
      kind: 'ignored',
      key: 'default/replicaset-nginx-6d4cf56db6-nginx',
      reason: 'namespace_not_allowed',
    });
  });
});
