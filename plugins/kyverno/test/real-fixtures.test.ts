/**
 * Every report of the real policy-report corpus (shared/fixtures/real/kyverno, or $ZEN_REAL_FIXTURES/kyverno; never
 * copied into the repo) through the plugin's informer handlers and the real pipeline and resolver via the test kit:
 * count, names, severities, categories, titles and resources of the Observations, and none where none should be
 * (pass and skip results). The CRD files of the corpus are checked against the plugin's resource table.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { ResourceRef } from 'zen-watcher/plugin-api';
import { listFiles, readText, requireRealFixtures } from '../../../test/support/fixtures.ts';
import { REPORT_KINDS } from '../kinds.ts';
import { INGESTER_NS, leading, reportsIn, resourceOf } from './helpers.ts';

interface Want {
  name: string;
  severity: string;
  title: string;
  resource: ResourceRef;
  category?: string;
  /** Observation namespace: the resource's, else the Ingester's. */
  namespace?: string;
  policy: string;
  rule?: string;
  result: string;
}

const CIS_TITLES = {
  anon: 'api-server:anonymous-auth: ensure that --anonymous-auth argument is set to false',
  basic: 'api-server:basic-auth-file: ensure that --basic-auth-file argument is not set',
  token: 'api-server:token-auth-file: ensure that --token-auth-file argument is not set',
};

/**
 * The expected Observations of each report file with the default config (results fail/warn/error; severity from the
 * result, else properties.severity, else fail→high, warn→medium, error→medium). Names are golden:
 * `kyverno-` + 16 hex of sha256(fingerprint), fingerprint = policy + rule + target apiVersion/kind/namespace/name.
 * A change here means the finding identity changed — existing Observations would no longer match.
 */
const EXPECTED: Record<string, { reports: number; observations: Want[] }> = {
  // Namespace-scoped reports (ClusterPolicyReport) with pass and skip only.
  'clusterpolicyreports-e2e-pass-skip.yaml': { reports: 2, observations: [] },
  // openreports List: one fail, no severity → high; no metadata.namespace, target from scope.
  'openreports-reportlist-docs-fail.yaml': {
    reports: 1,
    observations: [
      {
        name: 'kyverno-f717153f38d5c88d',
        severity: 'high',
        title:
          "default/require-app-label/check-app-label: validation error: Pods must have an 'app' label. rule check-app-label failed at path /metadata/labels/app/",
        resource: { apiVersion: 'v1', kind: 'Pod', name: 'example-deployment-c94dc9f47-dfq6l', namespace: 'default' },
        policy: 'default/require-app-label',
        rule: 'check-app-label',
        result: 'fail',
      },
    ],
  },
  // kube-bench adapter sample: no scope, no resources, no owner → the report itself is the resource.
  'openreports-sample-cis-k8s-report.yaml': {
    reports: 1,
    observations: [
      ['kyverno-4fa2dc315902e14d', 'medium', CIS_TITLES.anon, 'api-server:anonymous-auth', 'warn'] as const,
      ['kyverno-74637930fbb8e2d1', 'high', CIS_TITLES.basic, 'api-server:basic-auth-file', 'fail'] as const,
      ['kyverno-0326dd633380ccb7', 'medium', CIS_TITLES.token, 'api-server:token-auth-file', 'warn'] as const,
    ].map(([name, severity, title, policy, result]) => ({
      name,
      severity,
      title,
      policy,
      result,
      resource: { apiVersion: 'openreports.io/v1alpha1', kind: 'Report', name: 'sample-cis-bench-api-server' },
    })),
  },
  // Per-resource report (name = Pod uid): pass + fail; severity medium from the result; PSS category → security.
  'policyreport-docs-pod-pass-fail.yaml': {
    reports: 1,
    observations: [
      {
        name: 'kyverno-fba8753ce7b441b9',
        severity: 'medium',
        category: 'security',
        title:
          'disallow-host-namespaces/host-namespaces: validation error: Sharing the host namespaces is disallowed. The fields spec.hostNetwork, spec.hostIPC, and spec.hostPID must be unset or set to `false`. rul…',
        resource: {
          apiVersion: 'v1',
          kind: 'Pod',
          name: 'kube-apiserver-kind-control-plane',
          namespace: 'kube-system',
        },
        policy: 'disallow-host-namespaces',
        rule: 'host-namespaces',
        result: 'fail',
      },
    ],
  },
  // GeneratingPolicy error without a message.
  'policyreport-e2e-error.yaml': {
    reports: 1,
    observations: [
      {
        name: 'kyverno-954a14ef9bef1dc1',
        severity: 'medium',
        title: 'error-generating-resource/error-generating-resource: error',
        resource: { apiVersion: 'v1', kind: 'ConfigMap', name: 'error-generating-resource', namespace: 'default' },
        policy: 'error-generating-resource',
        rule: 'error-generating-resource',
        result: 'error',
      },
    ],
  },
  // warn (scored: "false" policy); partial object without any namespace → Ingester namespace.
  'policyreport-e2e-warn.yaml': {
    reports: 1,
    observations: [
      {
        name: 'kyverno-9a7954cd48aae467',
        severity: 'medium',
        title:
          'require-multiple-replicas/require-multiple-replicas: validation error: rule require-multiple-replicas failed at path /spec/replicas/',
        resource: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'nginx-test' },
        policy: 'require-multiple-replicas',
        rule: 'require-multiple-replicas',
        result: 'warn',
      },
    ],
  },
  // ValidatingAdmissionPolicy: no rule; one fail (deployment-3), one pass (deployment-4).
  'policyreportlist-docs-vap-fail-pass.yaml': {
    reports: 2,
    observations: [
      {
        name: 'kyverno-039eccc5e4d10896',
        severity: 'high',
        title: 'check-deployment-replicas: failed expression: object.spec.replicas <= 5',
        resource: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'deployment-3', namespace: 'staging-ns' },
        policy: 'check-deployment-replicas',
        result: 'fail',
      },
    ],
  },
  // MutatingPolicy: fail (dev-deploy-2) and skip (dev-deploy-1).
  'policyreports-e2e-fail-skip.yaml': {
    reports: 2,
    observations: [
      {
        name: 'kyverno-47ccdffceead3e0b',
        severity: 'high',
        title: 'test-mpol-applyconfiguration: mutation is not applied',
        resource: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'dev-deploy-2', namespace: 'applyconfiguration' },
        policy: 'test-mpol-applyconfiguration',
        result: 'fail',
      },
    ],
  },
  // WG kube-bench sample: warn, fail, warn; the report itself is the resource.
  'wgpolicy-sample-cis-k8s-pass-fail-warn.yaml': {
    reports: 1,
    observations: [
      ['kyverno-8d037744c2d23243', 'medium', CIS_TITLES.anon, 'api-server:anonymous-auth', 'warn'] as const,
      ['kyverno-f524bc0b667c7a4f', 'high', CIS_TITLES.basic, 'api-server:basic-auth-file', 'fail'] as const,
      ['kyverno-5291f4f25db67fdd', 'medium', CIS_TITLES.token, 'api-server:token-auth-file', 'warn'] as const,
    ].map(([name, severity, title, policy, result]) => ({
      name,
      severity,
      title,
      policy,
      result,
      resource: { apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'PolicyReport', name: 'sample-cis-bench-api-server' },
    })),
  },
  // OpenShift compliance operator: fail with severity medium; warn without severity → medium. Multi-line messages:
  // the title takes the first line.
  'wgpolicy-sample-compliance-operator-severity.yaml': {
    reports: 1,
    observations: [
      {
        name: 'kyverno-cd773bd668d8515f',
        severity: 'medium',
        title:
          'xccdf_org.ssgproject.content_rule_audit_rules_etc_group_open: Record Events that Modify User/Group Information via open syscall - /etc/group',
        policy: 'xccdf_org.ssgproject.content_rule_audit_rules_etc_group_open',
        result: 'fail',
      },
      {
        name: 'kyverno-b02214a1c79f0e47',
        severity: 'medium',
        title: "xccdf_org.ssgproject.content_rule_sshd_limit_user_access: Limit Users' SSH Access",
        policy: 'xccdf_org.ssgproject.content_rule_sshd_limit_user_access',
        result: 'warn',
      },
    ].map((w) => ({
      ...w,
      resource: {
        apiVersion: 'wgpolicyk8s.io/v1alpha2',
        kind: 'PolicyReport',
        name: 'sample-fedramp-compliance-operator',
      },
    })),
  },
  // Falco-derived: severity inside properties (low / medium); the PolicyReport lists resources, the
  // ClusterPolicyReport has no target (the report itself).
  'wgpolicy-sample-falco-polr-and-cpolr.yaml': {
    reports: 2,
    observations: [
      {
        name: 'kyverno-f30b8600f3fe578c',
        severity: 'low',
        title: 'Change thread namespace: Falco alert created due to the Change thread namespace rule',
        resource: { apiVersion: 'v1', kind: 'Pod', name: 'a-pod', namespace: 'my-namespace' },
        policy: 'Change thread namespace',
        result: 'fail',
      },
      {
        name: 'kyverno-5e2ff6f6cd3f0b4c',
        severity: 'medium',
        title: 'audit: audit rule violation from the kubernetes api server',
        resource: { apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'ClusterPolicyReport', name: 'falco-alerts-policy' },
        policy: 'audit',
        result: 'fail',
      },
    ],
  },
  // v1beta1 sample (unreleased shape), pass only.
  'wgpolicy-sample-v1beta1-kyverno.yaml': { reports: 1, observations: [] },
};

const CRD_FILES = new Set([
  'crd-policyreports.wgpolicyk8s.io.yaml',
  'crd-clusterpolicyreports.wgpolicyk8s.io.yaml',
  'crd-reports.openreports.io.yaml',
  'crd-clusterreports.openreports.io.yaml',
]);

describe('real policy-report corpus', () => {
  test('every file of the corpus is classified (report file with expectations, or CRD)', (t) => {
    const dir = requireRealFixtures(t, 'kyverno');
    if (!dir) return;
    const files = readdirSync(dir).sort();
    assert.ok(files.length >= 16, `expected the whole corpus, found ${files.length} files`);
    for (const f of files) assert.ok(f in EXPECTED || CRD_FILES.has(f), `corpus file ${f} has no expectation`);
    for (const f of [...Object.keys(EXPECTED), ...CRD_FILES]) assert.ok(files.includes(f), `${f} is missing`);
    assert.equal(Object.values(EXPECTED).flatMap((e) => e.observations).length, 16);
  });

  test('the CRDs define exactly the group, version, plural, kind and scope the plugin watches', (t) => {
    const dir = requireRealFixtures(t, 'kyverno');
    if (!dir) return;
    const crds = [...CRD_FILES].map(
      (f) =>
        parseYaml(readText(join(dir, f))) as {
          spec: {
            group: string;
            scope: string;
            names: { plural: string; kind: string };
            versions: { name: string; served: boolean }[];
          };
        },
    );
    for (const k of REPORT_KINDS) {
      const crd = crds.find((c) => c.spec.names.kind === k.kind && c.spec.group === k.group);
      assert.ok(crd, `a CRD for ${k.kind}`);
      assert.equal(crd.spec.names.plural, k.resource);
      assert.equal(crd.spec.scope, k.namespaced ? 'Namespaced' : 'Cluster');
      assert.ok(crd.spec.versions.some((v) => v.name === k.version && v.served));
    }
  });

  for (const [file, want] of Object.entries(EXPECTED)) {
    test(`${file}: ${want.reports} report(s) → ${want.observations.length} Observation(s)`, async (t) => {
      const dir = requireRealFixtures(t, 'kyverno');
      if (!dir) return;
      const reports = reportsIn(join(dir, file));
      assert.equal(reports.length, want.reports, 'reports in the file (List items / documents)');
      const kit = await leading();
      try {
        for (const r of reports) await kit.add(resourceOf(r), r);
        const got = kit.observations();
        assert.deepEqual(got.map((o) => o.name).sort(), want.observations.map((w) => w.name).sort(), 'names');
        for (const w of want.observations) {
          const o = got.find((x) => x.name === w.name)!;
          const at = `${file} ${w.name}`;
          assert.equal(o.phase, 'Active', at);
          assert.equal(o.spec.source, 'kyverno', at);
          assert.equal(o.spec.severity, w.severity, `${at} severity`);
          assert.equal(o.spec.category, w.category ?? 'compliance', `${at} category`);
          assert.equal(o.spec.eventType, 'policy_violation', at);
          assert.equal(o.spec.title, w.title, `${at} title`);
          assert.deepEqual(o.spec.resource, w.resource, `${at} resource`);
          assert.equal(o.namespace, w.namespace ?? w.resource.namespace ?? INGESTER_NS, `${at} namespace`);
          assert.equal(o.spec.details?.policy, w.policy, `${at} details.policy`);
          assert.equal(o.spec.details?.rule, w.rule, `${at} details.rule`);
          assert.equal(o.spec.details?.result, w.result, `${at} details.result`);
          assert.equal(o.labels.severity, w.severity);
        }

        // A relist of the same reports changes nothing; deleting them resolves every finding (grace 0 in the kit).
        for (const r of reports)
          await kit.relist(
            resourceOf(r),
            reports.filter((x) => x.kind === r.kind),
          );
        assert.equal(kit.observations().length, want.observations.length, 'relist creates nothing');
        assert.ok(
          kit.observations().every((o) => o.phase === 'Active'),
          'relist resolves nothing',
        );
        for (const r of reports) await kit.remove(resourceOf(r), r);
        assert.ok(
          kit.observations().every((o) => o.phase === 'Resolved'),
          'deleted reports resolve their findings',
        );
      } finally {
        await kit.close();
      }
    });
  }

  test('every result value and every severity source of the corpus', async (t) => {
    const dir = requireRealFixtures(t, 'kyverno');
    if (!dir) return;
    const kit = await leading({ results: ['pass', 'fail', 'warn', 'error', 'skip'] });
    try {
      let results = 0;
      for (const file of Object.keys(EXPECTED)) {
        for (const r of reportsIn(join(dir, file))) {
          results += (r.results as unknown[]).length;
          await kit.add(resourceOf(r), r);
        }
      }
      const obs = kit.observations();
      // Each listed result of the corpus targets one resource (or its report); none repeats a policy+rule+target.
      assert.equal(obs.length, results);
      const count = (k: string) => obs.filter((o) => o.spec.details?.result === k).length;
      assert.deepEqual(
        { pass: count('pass'), fail: count('fail'), warn: count('warn'), error: count('error'), skip: count('skip') },
        { pass: 4, fail: 9, warn: 6, error: 1, skip: 2 },
      );
      const bySource = (s: string) => obs.filter((o) => o.spec.details?.severitySource === s).length;
      assert.equal(bySource('result'), 4, 'severity field: docs pod (2), compliance operator, v1beta1');
      assert.equal(bySource('properties'), 2, 'properties.severity: the Falco sample');
      assert.equal(bySource('result-mapping'), 16);
      const pass = obs.filter((o) => o.spec.details?.result === 'pass');
      assert.ok(pass.every((o) => o.spec.severity === 'info' || o.spec.details?.severitySource !== 'result-mapping'));
    } finally {
      await kit.close();
    }
  });

  test('names are deterministic: a second host (fresh store) derives the same names', async (t) => {
    const dir = requireRealFixtures(t, 'kyverno');
    if (!dir) return;
    const run = async () => {
      const kit = await leading();
      try {
        for (const file of Object.keys(EXPECTED))
          for (const r of reportsIn(join(dir, file))) await kit.add(resourceOf(r), r);
        return kit
          .observations()
          .map((o) => o.name)
          .sort();
      } finally {
        await kit.close();
      }
    };
    const a = await run();
    assert.equal(a.length, 16);
    assert.deepEqual(await run(), a);
  });

  test('listFiles sees the same report files as the expectation table', (t) => {
    const dir = requireRealFixtures(t, 'kyverno');
    if (!dir) return;
    const reports = listFiles(dir, /^(?!crd-).*\.ya?ml$/).map((f) => f.slice(dir.length + 1));
    assert.deepEqual(reports, Object.keys(EXPECTED).sort());
  });
});
