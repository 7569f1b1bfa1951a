/**
 * The trivy plugin end to end: two zen-watcher processes in kubernetes mode on the real control plane
 * (kube-apiserver + etcd), the REAL Trivy Operator CRDs and the REAL report fixtures (read in place from the
 * shared corpus, never copied). Asserts the Observations appear exactly once, that a re-scan adds exactly the new
 * findings, that an update (one CVE fixed, one new) gives one new and one Resolved Observation (status.phase), that
 * Trivy's delete + re-create changes nothing, and that after a leader handover the new leader resolves a deleted
 * report's findings and writes nothing twice.
 *
 * Skipped with the reason when the control plane or the real corpus is missing (a failure under CI=true).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeApi } from '../../core/kube/api.ts';
import { expectedName, type Report, readReports, vulnFingerprint } from '../../plugins/trivy/test/helpers.ts';
import { REAL_EXPECTED } from '../../plugins/trivy/test/real-expected.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { listFiles, realFixturesDir } from '../support/fixtures.ts';
import { type HostProcess, startHostProcess, tempDir } from '../support/host.ts';
import { waitForWith } from '../support/wait.ts';

const trivyDir = (() => {
  const dir = realFixturesDir();
  const sub = dir ? join(dir, 'trivy') : undefined;
  return sub && existsSync(sub) ? sub : undefined;
})();
if (!trivyDir && process.env.CI === 'true') {
  throw new Error('real fixture corpus (trivy) not found; set ZEN_REAL_FIXTURES — required under CI=true');
}
const { cp, skip: cpSkip } = trivyDir ? await controlPlaneOrSkip() : { cp: undefined, skip: undefined };
after(async () => cp?.stop());
const skip = trivyDir
  ? cpSkip
  : 'real Trivy fixture corpus not found (../shared/fixtures/real/trivy); set ZEN_REAL_FIXTURES';

const NS = 'zen-system';
const AQUA = { group: 'aquasecurity.github.io', version: 'v1alpha1' };
const VR = { ...AQUA, plural: 'vulnerabilityreports' };
const CAR = { ...AQUA, plural: 'configauditreports' };
const ESR = { ...AQUA, plural: 'exposedsecretreports' };
const CRD = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };

interface Obs {
  metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> };
  spec: { title: string; severity: string; resource?: Record<string, string>; details?: Record<string, unknown> };
  status?: { phase?: string; reason?: string };
}

let api: KubeApi;
const procs: HostProcess[] = [];

const waitFor = waitForWith({ timeoutMs: 30_000, everyMs: 200 });

const fixture = (file: string): Report => {
  const [r] = readReports(join(trivyDir!, file));
  if (!r) throw new Error(`no report in ${file}`);
  return r;
};

/** What `kubectl create` needs: no server-set metadata, no status. */
function forCreate(r: Report): Report {
  const c = structuredClone(r);
  const { status: _s, ...rest } = c as Report & { status?: unknown };
  const meta = { ...(rest.metadata ?? {}) } as Record<string, unknown>;
  for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'managedFields', 'generation', 'selfLink'])
    delete meta[k];
  return { ...rest, metadata: meta } as Report;
}

/**
 * Today's VulnerabilityReport CRD requires report.os, report.updateTimestamp and per vulnerability publishedDate /
 * lastModifiedDate; the older real reports lack them and the API server would refuse them. Add them, empty, and
 * change nothing else (the unit tests feed the reports unchanged).
 */
function conformVulnerabilityReport(r: Report): Report {
  const c = forCreate(r);
  c.report ??= {};
  const rep = c.report;
  rep.os ??= {};
  rep.updateTimestamp ??= '2024-01-01T00:00:00Z';
  for (const v of (rep.vulnerabilities as Record<string, unknown>[] | undefined) ?? []) {
    v.publishedDate ??= '';
    v.lastModifiedDate ??= '';
    v.title ??= '';
  }
  return c;
}

async function observations(): Promise<Obs[]> {
  return (await api.list<Obs>({ ...OBS, labelSelector: 'source=trivy' })).items;
}

const phase = (o: Obs) => o.status?.phase ?? 'Active';

function replica(name: string) {
  return startHostProcess(
    {
      ZEN_MODE: 'kubernetes',
      KUBECONFIG: cp!.kubeconfigPath,
      POD_NAMESPACE: NS,
      POD_NAME: name,
      ZEN_LEADER_ELECTION_ID: 'trivy-e2e',
      ZEN_LEASE_DURATION_SECONDS: '4',
      ZEN_RENEW_DEADLINE_SECONDS: '3',
      ZEN_RETRY_PERIOD_SECONDS: '1',
      ZEN_RESOLVE_AFTER_SECONDS: '1',
      ZEN_DATA_DIR: tempDir('zw-unused-'),
    },
    60_000,
  ).then((p) => {
    procs.push(p);
    return p;
  });
}

async function isLeader(p: HostProcess): Promise<boolean> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return false;
  try {
    const text = await (await fetch(`${p.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    return /^zen_watcher_leader\{[^}]*\} 1$/m.test(text);
  } catch {
    return false;
  }
}

async function createdBy(p: HostProcess): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const m = /^zen_watcher_observations_created_total\{[^}]*source="trivy"[^}]*\} (\d+)/m.exec(text);
  return Number(m?.[1] ?? 0);
}

const expectedNames = (file: string) =>
  REAL_EXPECTED[file]!.flatMap((e) => e.findings.map((f) => expectedName(f.fingerprint)));

const NGINX_VR = 'vulnerabilityreport-docs-replicaset-nginx-2-critical.yaml';
const COREDNS_1 = 'vulnerabilityreport-replicaset-coredns-1-vuln-envtest-current.yaml';
const COREDNS_27 = 'vulnerabilityreport-replicaset-coredns-27-vulns.yaml';
const ZIPKIN = 'vulnerabilityreportlist-legacy-imgvuln-labels-zipkin.yaml';
const NGINX_CAR = 'configauditreport-docs-replicaset-nginx.yaml';
const APP_ESR = 'exposedsecretreport-docs-replicaset-app.yaml';

describe('trivy plugin on a real API server (two replicas)', { skip }, () => {
  let a: HostProcess;
  let b: HostProcess;

  before(async () => {
    api = adminKubeApi(cp!);
    await ensureNamespaces(api, NS, 'default', 'kube-system');
    // The real Trivy Operator CRDs, server-side applied; wait until Established and served.
    const crds = listFiles(trivyDir!, /^crd-.*\.ya?ml$/);
    assert.equal(crds.length, 3, crds.map((f) => basename(f)).join(', '));
    for (const file of crds) {
      const crd = readReports(file)[0] as { metadata: { name: string } };
      await api.patch({
        ...CRD,
        name: crd.metadata.name,
        body: crd,
        type: 'apply',
        fieldManager: 'trivy-e2e',
        force: true,
      });
      await waitFor(`${crd.metadata.name} Established`, async () => {
        const o = (await api.get({ ...CRD, name: crd.metadata.name })) as {
          status?: { conditions?: { type: string; status: string }[] };
        };
        return o.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      });
    }
    for (const r of [VR, CAR, ESR]) await waitFor(`${r.plural} served`, async () => !!(await api.list(r)));

    a = await replica('trivy-a');
    b = await replica('trivy-b');
    await api.create({
      ...ING,
      namespace: NS,
      body: {
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Ingester',
        metadata: { name: 'trivy', namespace: NS },
        spec: {
          source: 'trivy',
          ingester: 'informer',
          config: { reportKinds: ['VulnerabilityReport', 'ConfigAuditReport', 'ExposedSecretReport'] },
        },
      },
    });
    await waitFor('Ready=True on the trivy Ingester', async () => {
      const o = (await api.get({ ...ING, namespace: NS, name: 'trivy' })) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    await waitFor('a leader', async () => (await isLeader(a)) || (await isLeader(b)));
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await api?.close();
  });

  test('the real reports become their Observations, exactly once', async () => {
    await api.create({ ...VR, namespace: 'default', body: conformVulnerabilityReport(fixture(NGINX_VR)) });
    await api.create({ ...VR, namespace: 'kube-system', body: conformVulnerabilityReport(fixture(COREDNS_1)) });
    await api.create({ ...VR, namespace: 'default', body: conformVulnerabilityReport(fixture(ZIPKIN)) });
    await api.create({ ...CAR, namespace: 'default', body: forCreate(fixture(NGINX_CAR)) });
    await api.create({ ...ESR, namespace: 'default', body: forCreate(fixture(APP_ESR)) });

    const want = [NGINX_VR, COREDNS_1, ZIPKIN, NGINX_CAR, APP_ESR].flatMap(expectedNames).sort();
    assert.equal(want.length, 2 + 1 + 14 + 2 + 2);
    const got = await waitFor('21 Observations', async () => {
      const list = await observations();
      return list.length >= want.length ? list : undefined;
    });
    await sleep(2000); // anything written twice or extra would show up now
    const settled = await observations();
    assert.deepEqual(settled.map((o) => o.metadata.name).sort(), want, 'exactly the expected Observations');
    assert.equal(got.length, want.length);
    assert.ok(settled.every((o) => phase(o) === 'Active'));
    const nginx = settled.find((o) => o.metadata.name === expectedNames(NGINX_VR)[0])!;
    assert.equal(nginx.metadata.namespace, 'default');
    assert.equal(nginx.spec.severity, 'critical');
    assert.equal(nginx.spec.title, 'CVE-2019-20367 in libbsd0 0.9.1-2 (nginx)');
    assert.deepEqual(nginx.spec.resource, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: 'nginx-6d4cf56db6',
      namespace: 'default',
    });
    const coredns = settled.find((o) => o.metadata.name === expectedNames(COREDNS_1)[0])!;
    assert.equal(coredns.metadata.namespace, 'kube-system');
    // Only the leader wrote them; the follower wrote nothing.
    const counts = await Promise.all(
      [a, b].map(async (p) => ({ leader: await isLeader(p), created: await createdBy(p) })),
    );
    assert.equal(
      counts.reduce((n, c) => n + c.created, 0),
      want.length,
      JSON.stringify(counts),
    );
    for (const c of counts) if (!c.leader) assert.equal(c.created, 0, 'a follower wrote nothing');
  });

  test('a re-scan (coredns: 1 finding → the real 27-finding report) adds exactly the 26 new ones', async () => {
    const before = await observations();
    const next = conformVulnerabilityReport(fixture(COREDNS_27));
    await api.patch({
      ...VR,
      namespace: 'kube-system',
      name: 'replicaset-coredns-558bd4d5db-coredns',
      body: { report: next.report },
    });
    const want = new Set(expectedNames(COREDNS_27));
    await waitFor('the 26 new coredns Observations', async () => {
      const list = await observations();
      return list.filter((o) => want.has(o.metadata.name)).length === 27 ? list : undefined;
    });
    await sleep(6500); // past the grace period (1 s) and a resolve tick (every 5 s)
    const after = await observations();
    assert.equal(after.length, before.length + 26);
    assert.ok(
      after.every((o) => phase(o) === 'Active'),
      'nothing resolved',
    );
  });

  test('an update with one CVE fixed and one new: exactly one new Observation and one Resolved', async () => {
    const before = await observations();
    const current = (await api.get({
      ...VR,
      namespace: 'default',
      name: 'replicaset-nginx-6d4cf56db6-nginx',
    })) as Report;
    const vulns = (current.report!.vulnerabilities as Record<string, unknown>[]).filter(
      (v) => v.vulnerabilityID !== 'CVE-2019-20367',
    );
    vulns.push({
      vulnerabilityID: 'CVE-2023-4911',
      resource: 'libc6',
      installedVersion: '2.28-10',
      fixedVersion: '2.28-10+deb10u2',
      severity: 'HIGH',
      score: 7.8,
      title: 'glibc: buffer overflow in ld.so leading to privilege escalation',
      primaryLink: 'https://avd.aquasec.com/nvd/cve-2023-4911',
      links: [],
      target: 'library/nginx:1.16',
      publishedDate: '2023-10-03T18:15:00Z',
      lastModifiedDate: '2024-01-21T01:49:00Z',
    });
    await api.patch({
      ...VR,
      namespace: 'default',
      name: 'replicaset-nginx-6d4cf56db6-nginx',
      body: { report: { vulnerabilities: vulns } },
    });
    const fixedName = expectedNames(NGINX_VR)[0]!;
    const newName = expectedName(
      vulnFingerprint('replicaset/default/nginx-6d4cf56db6', 'nginx', 'CVE-2023-4911', 'libc6', '2.28-10'),
    );
    const after = await waitFor('the fixed CVE Resolved and the new one written', async () => {
      const list = await observations();
      const fixed = list.find((o) => o.metadata.name === fixedName);
      return fixed && phase(fixed) === 'Resolved' && list.some((o) => o.metadata.name === newName) ? list : undefined;
    });
    await sleep(1500);
    const final = await observations();
    const added = final.filter((o) => !before.some((x) => x.metadata.name === o.metadata.name));
    assert.deepEqual(
      added.map((o) => o.metadata.name),
      [newName],
      'exactly one new Observation',
    );
    assert.equal(added[0]!.spec.severity, 'high');
    assert.deepEqual(
      final.filter((o) => phase(o) === 'Resolved').map((o) => o.metadata.name),
      [fixedName],
    );
    assert.equal(
      after.find((o) => o.metadata.name === fixedName)!.status?.reason,
      'the source no longer reports this finding',
    );
  });

  test('a CVE re-scored (HIGH →) MEDIUM → CRITICAL updates its one Observation in place', async () => {
    const ref = { ...VR, namespace: 'default', name: 'replicaset-nginx-6d4cf56db6-nginx' };
    // CVE-2023-4911 (libc6), added as HIGH by the previous test.
    const rescore = async (severity: string, score: number) => {
      const current = (await api.get(ref)) as Report;
      const vulns = current.report!.vulnerabilities as Record<string, unknown>[];
      assert.ok(vulns.some((v) => v.vulnerabilityID === 'CVE-2023-4911'));
      await api.patch({
        ...ref,
        body: {
          report: {
            vulnerabilities: vulns.map((v) => (v.vulnerabilityID === 'CVE-2023-4911' ? { ...v, severity, score } : v)),
          },
        },
      });
    };
    const name = expectedName(
      vulnFingerprint('replicaset/default/nginx-6d4cf56db6', 'nginx', 'CVE-2023-4911', 'libc6', '2.28-10'),
    );
    const severityOf = async (want: string) =>
      waitFor(`the Observation re-scored ${want} in place`, async () => {
        const o = (await observations()).find((x) => x.metadata.name === name);
        return o?.spec.severity === want ? o : undefined;
      });
    await rescore('MEDIUM', 5.5);
    await severityOf('medium');
    const before = await observations();
    await rescore('CRITICAL', 9.8);
    const now = await severityOf('critical');
    assert.equal(now.metadata.labels?.severity, 'critical', 'the severity label follows');
    assert.equal(phase(now), 'Active');
    await sleep(1500);
    const after = await observations();
    assert.equal(after.length, before.length, 'no second Observation');
    assert.deepEqual(
      after.filter((o) => o.metadata.name !== name).map((o) => o.metadata.resourceVersion),
      before.filter((o) => o.metadata.name !== name).map((o) => o.metadata.resourceVersion),
      'nothing else written',
    );
    const updated = after.find((o) => o.metadata.name === name)!;
    assert.equal(updated.metadata.resourceVersion, now.metadata.resourceVersion, 'one update, no flapping');
  });

  test("Trivy's delete + re-create of a report (new uid, same findings) changes nothing", async () => {
    const before = await observations();
    const zipkinNames = new Set(expectedNames(ZIPKIN));
    const old = (await api.get({ ...VR, namespace: 'default', name: 'pod-zipkin-6b59cc5ddb-bp9h8-zipkin' })) as Report;
    await api.delete({ ...VR, namespace: 'default', name: 'pod-zipkin-6b59cc5ddb-bp9h8-zipkin' });
    const created = (await api.create({ ...VR, namespace: 'default', body: forCreate(old) })) as Report;
    assert.notEqual(created.metadata?.uid, old.metadata?.uid, 'a new object');
    await sleep(7000); // past the grace period and at least one resolve tick
    const after = await observations();
    assert.deepEqual(
      after.map((o) => [o.metadata.name, phase(o), o.metadata.resourceVersion]).sort(),
      before.map((o) => [o.metadata.name, phase(o), o.metadata.resourceVersion]).sort(),
      'no Observation written, resolved or touched',
    );
    assert.equal(after.filter((o) => zipkinNames.has(o.metadata.name)).length, 14);
  });

  test('leader handover: the new leader writes nothing twice and resolves a report deleted after the handover', async () => {
    const before = await observations();
    const leader = (await isLeader(a)) ? a : b;
    const other = leader === a ? b : a;
    assert.equal(await leader.stop('SIGTERM'), 0);
    await waitFor('the other replica to lead', () => isLeader(other), 15_000, 100);
    await sleep(3000); // its informers list everything and reconcile
    const unchanged = await observations();
    assert.deepEqual(
      unchanged.map((o) => [o.metadata.name, phase(o)]).sort(),
      before.map((o) => [o.metadata.name, phase(o)]).sort(),
    );
    assert.equal(await createdBy(other), 0, 'the new leader found every finding already written');

    await api.delete({ ...ESR, namespace: 'default', name: 'replicaset-app-67b77f5965-app' });
    const secretNames = new Set(expectedNames(APP_ESR));
    await waitFor('the deleted report’s findings Resolved', async () => {
      const list = await observations();
      return list.filter((o) => secretNames.has(o.metadata.name) && phase(o) === 'Resolved').length === 2;
    });
    const final = await observations();
    assert.equal(final.length, before.length);
    assert.equal(final.filter((o) => phase(o) === 'Resolved').length, 1 + 2);
  });
});
