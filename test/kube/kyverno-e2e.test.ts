/**
 * The kyverno plugin end to end: two zen-watcher processes in kubernetes mode on the real control plane (a real
 * kube-apiserver + etcd, test/controlplane), the real policy-report CRDs and the real reports of the corpus
 * (shared/fixtures/real/kyverno, or $ZEN_REAL_FIXTURES/kyverno; read from there, never copied).
 *
 *   1. wgpolicyk8s.io CRDs applied before zen-watcher starts; the openreports.io ones are missing (reported 0);
 *   2. every wgpolicyk8s.io v1alpha2 report of the corpus is created → its findings appear, exactly once, written by
 *      the leader only;
 *   3. the openreports.io CRDs are applied while zen-watcher runs → picked up, their reports' findings appear;
 *   4. one result of a report goes fail → pass → exactly that Observation is Resolved (ZEN_RESOLVE_AFTER_SECONDS=1).
 *
 * Skipped with the reason when the corpus or the control plane is missing, except under CI=true (a failure).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import type { KubeApi } from '../../core/kube/api.ts';
import { REPORT_KINDS, type ReportKind } from '../../plugins/kyverno/kinds.ts';
import { mapReport } from '../../plugins/kyverno/map.ts';
import { configOf, reportsIn } from '../../plugins/kyverno/test/helpers.ts';
import type { ControlPlane } from '../controlplane/harness.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { realFixturesDir } from '../support/fixtures.ts';
import { cleanup, type HostProcess, startHostProcess, tempDir } from '../support/host.ts';
import { waitForWith } from '../support/wait.ts';

const corpus = realFixturesDir();
const CORPUS = corpus && existsSync(join(corpus, 'kyverno')) ? join(corpus, 'kyverno') : undefined;
if (!CORPUS && process.env.CI === 'true') {
  throw new Error('real fixture corpus (kyverno) not found; set ZEN_REAL_FIXTURES — required under CI=true');
}
const corpusSkip = CORPUS
  ? undefined
  : 'real fixture corpus not found (../shared/fixtures/real/kyverno); set ZEN_REAL_FIXTURES';
const { cp, skip: cpSkip }: { cp?: ControlPlane; skip?: string } = CORPUS ? await controlPlaneOrSkip() : {};
after(async () => cp?.stop());
const skip = corpusSkip ?? cpSkip;

const NS = 'zen-system';
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const CRD = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
const WG_CRDS = ['crd-policyreports.wgpolicyk8s.io.yaml', 'crd-clusterpolicyreports.wgpolicyk8s.io.yaml'];
const OPENREPORTS_CRDS = ['crd-reports.openreports.io.yaml', 'crd-clusterreports.openreports.io.yaml'];

type Doc = Record<string, unknown> & { metadata?: Record<string, unknown> };
interface Obs {
  metadata: { name: string; namespace: string };
  spec: {
    title: string;
    severity: string;
    resource?: Record<string, string>;
    details?: { policy?: string; result?: string; report?: { name?: string } };
  };
  status?: { phase?: string };
}

let api: KubeApi;
const procs: HostProcess[] = [];
const dirs: string[] = [];

const waitFor = waitForWith({ timeoutMs: 30_000, everyMs: 200 });

async function applyCrd(file: string): Promise<void> {
  const body = parseYaml(readFileSync(join(CORPUS!, file), 'utf8')) as { metadata: { name: string } };
  await api.create({ ...CRD, body });
  await waitFor(`CRD ${body.metadata.name} Established`, async () => {
    const crd = (await api.get({ ...CRD, name: body.metadata.name })) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
}

/**
 * A corpus report as a creatable object: server-set fields stripped, ownerReferences without a uid (partial e2e
 * assertions) dropped, a name when the fixture has none, namespace `default` for namespaced reports without one.
 * Undefined for API versions the CRDs don't serve (the unreleased wgpolicyk8s.io/v1beta1 sample).
 */
function creatable(doc: Doc, file: string, i: number): { kind: ReportKind; body: Doc } | undefined {
  const kind = REPORT_KINDS.find((k) => k.kind === doc.kind && k.apiVersion === doc.apiVersion);
  if (!kind) return undefined;
  const meta: Record<string, unknown> = { ...(doc.metadata ?? {}) };
  for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields', 'selfLink'])
    delete meta[f];
  const owners = ((meta.ownerReferences as { uid?: string }[] | undefined) ?? []).filter((o) => o.uid);
  if (owners.length) meta.ownerReferences = owners;
  else delete meta.ownerReferences;
  meta.name ??= `e2e-${basename(file, '.yaml')}-${i}`;
  if (kind.namespaced) meta.namespace ??= 'default';
  else delete meta.namespace;
  return { kind, body: { ...doc, metadata: meta } };
}

function reportsOf(files: string[]) {
  return files.flatMap((f) =>
    reportsIn(join(CORPUS!, f)).flatMap((d, i) => {
      const c = creatable(d, f, i);
      return c ? [c] : [];
    }),
  );
}

async function createReports(reports: { kind: ReportKind; body: Doc }[]): Promise<void> {
  for (const { kind, body } of reports) {
    const ns = body.metadata?.namespace as string | undefined;
    if (ns) await ensureNamespaces(api, ns);
    await api.create({
      group: kind.group,
      version: kind.version,
      plural: kind.resource,
      ...(ns ? { namespace: ns } : {}),
      body,
    });
  }
}

const sorted = (r: object | undefined) => JSON.stringify(Object.fromEntries(Object.entries(r ?? {}).sort()));
/** What the Observations must be: `policy|result|resource|severity|title`, from the plugin's mapping. */
function expected(reports: { kind: ReportKind; body: Doc }[]): string[] {
  const cfg = configOf();
  return reports
    .flatMap(({ kind, body }) => mapReport(body, kind, cfg)?.drafts ?? [])
    .map((d) => [d.details?.policy, d.details?.result, sorted(d.resource), d.severity, d.title].join('|'))
    .sort();
}
const keyOf = (o: Obs) =>
  [o.spec.details?.policy, o.spec.details?.result, sorted(o.spec.resource), o.spec.severity, o.spec.title].join('|');

async function observations(): Promise<Obs[]> {
  return (await api.list<Obs>({ ...OBS, labelSelector: 'source=kyverno' })).items;
}

async function metrics(p: HostProcess): Promise<string> {
  return (await fetch(`${p.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
}
const isLeader = async (p: HostProcess) => /^zen_watcher_leader\{[^}]*\} 1$/m.test(await metrics(p));
const crdGauge = (text: string, resource: string) => {
  const line = text
    .split('\n')
    .find((l) => l.startsWith('zen_watcher_plugin_kyverno_crd_available{') && l.includes(`resource="${resource}"`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};
const created = (text: string) =>
  Number(/^zen_watcher_observations_created_total\{[^}]*source="kyverno"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);

describe('kyverno plugin on a real control plane, two replicas', { skip }, () => {
  let leader: HostProcess;
  let follower: HostProcess;
  let wgReports: { kind: ReportKind; body: Doc }[];
  let orReports: { kind: ReportKind; body: Doc }[];

  before(async () => {
    api = adminKubeApi(cp!);
    await ensureNamespaces(api, NS);
    for (const f of WG_CRDS) await applyCrd(f);
    const files = readdirSync(CORPUS!).filter((f) => !f.startsWith('crd-'));
    wgReports = reportsOf(files).filter((r) => r.kind.group === 'wgpolicyk8s.io');
    orReports = reportsOf(files).filter((r) => r.kind.group === 'openreports.io');
    const dataDir = tempDir('zw-unused-');
    dirs.push(dataDir);
    const replica = (name: string) =>
      startHostProcess(
        {
          ZEN_MODE: 'kubernetes',
          KUBECONFIG: cp!.kubeconfigPath,
          POD_NAMESPACE: NS,
          POD_NAME: name,
          ZEN_LEADER_ELECTION_ID: 'kyverno-e2e',
          // The leader alone runs the plugin here, so "written by the leader only" is checkable; the same plugin
          // sharded across replicas: test/ha/autoshard.test.ts (trivy), test/kube/trivy-e2e.test.ts (default slots).
          ZEN_SHARD_SLOTS: '1',
          ZEN_LEASE_DURATION_SECONDS: '4',
          ZEN_RENEW_DEADLINE_SECONDS: '3',
          ZEN_RETRY_PERIOD_SECONDS: '1',
          ZEN_RESOLVE_AFTER_SECONDS: '1',
          ZEN_DATA_DIR: dataDir,
        },
        60_000,
      ).then((p) => {
        procs.push(p);
        return p;
      });
    const reps = [await replica('kyverno-a'), await replica('kyverno-b')];
    leader = await waitFor('a leader', async () => {
      const flags = await Promise.all(reps.map(isLeader));
      assert.ok(flags.filter(Boolean).length <= 1, 'two leaders');
      return reps[flags.indexOf(true)];
    });
    follower = reps.find((r) => r !== leader)!;
    await api.create({
      ...ING,
      namespace: NS,
      body: {
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Ingester',
        metadata: { name: 'kyverno', namespace: NS },
        spec: { source: 'kyverno', ingester: 'informer', config: { discoveryIntervalSeconds: 1 } },
      },
    });
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await api?.close();
    cleanup(...dirs);
  });

  test('discovery: wgpolicyk8s.io served (1), openreports.io missing (0), on the leader only', async () => {
    const text = await waitFor('the leader ran discovery', async () => {
      const t = await metrics(leader);
      return crdGauge(t, 'clusterreports.openreports.io') !== undefined ? t : undefined;
    });
    assert.equal(crdGauge(text, 'policyreports.wgpolicyk8s.io'), 1);
    assert.equal(crdGauge(text, 'clusterpolicyreports.wgpolicyk8s.io'), 1);
    assert.equal(crdGauge(text, 'reports.openreports.io'), 0);
    assert.equal(crdGauge(text, 'clusterreports.openreports.io'), 0);
    assert.equal(
      crdGauge(await metrics(follower), 'policyreports.wgpolicyk8s.io'),
      undefined,
      'followers watch nothing',
    );
  });

  test('every wgpolicyk8s.io v1alpha2 report of the corpus: its findings appear exactly once', async () => {
    assert.equal(wgReports.length, 13, 'reports in the corpus (the v1beta1 sample is not servable)');
    await createReports(wgReports);
    const want = expected(wgReports);
    assert.equal(want.length, 12);
    const got = await waitFor('the Observations of the wgpolicyk8s.io reports', async () => {
      const obs = await observations();
      return obs.length >= want.length ? obs : undefined;
    });
    await sleep(1500); // nothing more arrives
    const final = await observations();
    assert.equal(final.length, got.length);
    assert.deepEqual(final.map(keyOf).sort(), want);
    assert.equal(new Set(final.map((o) => o.metadata.name)).size, want.length, 'one Observation per finding');
    assert.ok(final.every((o) => (o.status?.phase ?? 'Active') === 'Active'));
    const [l, f] = [await metrics(leader), await metrics(follower)];
    assert.equal(created(l), want.length, 'the leader wrote each once');
    assert.equal(created(f), 0, 'the follower wrote nothing');
  });

  test('openreports.io CRDs applied after zen-watcher started are picked up', async () => {
    for (const f of OPENREPORTS_CRDS) await applyCrd(f);
    await waitFor('reports.openreports.io watched', async () => {
      const t = await metrics(leader);
      return crdGauge(t, 'reports.openreports.io') === 1 && crdGauge(t, 'clusterreports.openreports.io') === 1;
    });
    assert.equal(orReports.length, 2);
    await createReports(orReports);
    const want = expected([...wgReports, ...orReports]);
    assert.equal(want.length, 16);
    await waitFor('the Observations of the openreports.io reports', async () => {
      const obs = await observations();
      return obs.length >= want.length;
    });
    await sleep(1500);
    const final = await observations();
    assert.deepEqual(final.map(keyOf).sort(), want);
    assert.equal(created(await metrics(leader)) + created(await metrics(follower)), 16);
  });

  test('one result fail → pass: exactly that Observation is Resolved', async () => {
    const target = wgReports.find((r) => r.body.metadata?.name === '0b2d730e-cbc3-4eab-8f3b-ad106ea5d559')!;
    assert.ok(target, 'the ValidatingAdmissionPolicy report of deployment-3');
    const results = structuredClone(target.body.results as { result: string }[]);
    assert.equal(results[0]!.result, 'fail');
    results[0]!.result = 'pass';
    await api.patch({
      group: 'wgpolicyk8s.io',
      version: 'v1alpha2',
      plural: 'policyreports',
      namespace: 'staging-ns',
      name: '0b2d730e-cbc3-4eab-8f3b-ad106ea5d559',
      body: { results, summary: { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 } },
    });
    const isTarget = (o: Obs) =>
      o.spec.details?.policy === 'check-deployment-replicas' && o.spec.resource?.name === 'deployment-3';
    await waitFor(
      'the deployment-3 finding Resolved',
      async () => (await observations()).find(isTarget)?.status?.phase === 'Resolved',
      30_000,
    );
    await sleep(2000); // a resolve tick later: nothing else resolved
    const obs = await observations();
    assert.equal(obs.length, 16, 'no Observation created or deleted');
    assert.deepEqual(
      obs
        .filter((o) => o.status?.phase === 'Resolved')
        .map((o) => `${o.spec.details?.policy}@${o.spec.resource?.name}`),
      ['check-deployment-replicas@deployment-3'],
    );
  });
});
