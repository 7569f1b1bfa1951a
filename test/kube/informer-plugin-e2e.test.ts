/**
 * The generic informer plugin end to end: a real zen-watcher process in kubernetes mode on the real control plane
 * (test/controlplane; ZEN_TEST_KUBECONFIG targets an existing cluster instead), with the shipped sample Ingesters.
 *
 * - kube-bench: a ConfigMap holding a kube-bench JSON report → one Observation per FAIL/WARN check; the report
 *   updated so one FAIL becomes PASS → exactly that Observation Resolved (ZEN_RESOLVE_AFTER_SECONDS=1); the
 *   ConfigMap deleted → the rest Resolved.
 * - Kubernetes Events: a Warning Event → an Observation about the involved object; the Event repeated (count++,
 *   and a new Event object for the same Pod and reason) → still one; a Normal Event → none (field selector).
 *
 * Without a control plane (no Go toolchain, build failure) the suite is skipped with the reason, except in CI.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import type { KubeApi } from '../../core/kube/api.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { type HostProcess, REPO, startHostProcess, tempDir } from '../support/host.ts';
import { waitForWith } from '../support/wait.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-system';
const BENCH_NS = 'kube-bench-e2e';
const APP_NS = 'shop-e2e';
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const CM = { group: '', version: 'v1', plural: 'configmaps' };
const EV = { group: '', version: 'v1', plural: 'events' };

interface Obs {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: {
    source: string;
    severity: string;
    category: string;
    eventType: string;
    title: string;
    message?: string;
    resource?: Record<string, string>;
    details?: Record<string, unknown>;
  };
  status?: { phase?: string };
}

let api: KubeApi;
let proc: HostProcess | undefined;

const waitFor = waitForWith({ timeoutMs: 30_000, everyMs: 200 });

function sample(file: string): { metadata: Record<string, unknown>; spec: Record<string, unknown> } {
  return parseYaml(readFileSync(join(REPO, 'config/samples', file), 'utf8'));
}

const reportFixture = JSON.parse(
  readFileSync(join(REPO, 'plugins/informer/test/fixtures/kube-bench-results.json'), 'utf8'),
) as { Controls: { tests: { results: { test_number: string; status: string }[] }[] }[] };

function report(statuses: Record<string, string> = {}): string {
  const doc = structuredClone(reportFixture);
  for (const c of doc.Controls)
    for (const t of c.tests) for (const r of t.results) r.status = statuses[r.test_number] ?? r.status;
  return JSON.stringify(doc);
}

const observations = async (ingester: string, namespace?: string) =>
  (
    await api.list<Obs>({
      ...OBS,
      ...(namespace ? { namespace } : {}),
      labelSelector: `zen.kube-zen.io/ingester=${ingester}`,
    })
  ).items;

const phaseOf = (o: Obs) => o.status?.phase ?? 'Active';

function warningEvent(name: string, o: { reason: string; type?: string; count?: number; at?: string }) {
  const at = o.at ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: APP_NS },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'web-0', namespace: APP_NS, uid: 'e2e-pod-uid-web-0' },
    reason: o.reason,
    message: `${o.reason}: something about web-0`,
    type: o.type ?? 'Warning',
    source: { component: 'e2e-test' },
    firstTimestamp: at,
    lastTimestamp: at,
    count: o.count ?? 1,
  };
}

describe('informer plugin on a real control plane', { skip }, () => {
  before(async () => {
    api = adminKubeApi(cp!);
    await ensureNamespaces(api, NS, BENCH_NS, APP_NS);
    proc = await startHostProcess(
      {
        ZEN_MODE: 'kubernetes',
        KUBECONFIG: cp!.kubeconfigPath,
        POD_NAMESPACE: NS,
        POD_NAME: 'informer-e2e',
        ZEN_LEADER_ELECTION_ID: 'informer-e2e',
        ZEN_LEASE_DURATION_SECONDS: '4',
        ZEN_RENEW_DEADLINE_SECONDS: '3',
        ZEN_RETRY_PERIOD_SECONDS: '1',
        ZEN_RESOLVE_AFTER_SECONDS: '1',
        ZEN_DATA_DIR: tempDir('zw-unused-'),
      },
      60_000,
    );
  });
  after(async () => {
    await proc?.stop('SIGKILL');
    await api?.close();
  });

  test('kube-bench report in a ConfigMap: FAIL/WARN checks → Observations; a check that passes → Resolved', async () => {
    const s = sample('zen_v1alpha1_ingester_informer_kube_bench.yaml');
    const spec = { ...s.spec, informer: { ...(s.spec.informer as object), namespace: BENCH_NS } };
    await api.create({
      ...ING,
      namespace: NS,
      body: {
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Ingester',
        metadata: { name: 'kube-bench', namespace: NS },
        spec,
      },
    });
    const cm = (data: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-bench-node-1', namespace: BENCH_NS, labels: { app: 'kube-bench' } },
      data: { 'results.json': data },
    });
    // Not selected (no app=kube-bench label): never read.
    await api.create({
      ...CM,
      namespace: BENCH_NS,
      body: { ...cm(report({ '4.2.1': 'FAIL' })), metadata: { name: 'unrelated', namespace: BENCH_NS } },
    });
    await api.create({ ...CM, namespace: BENCH_NS, body: cm(report()) });

    const first = await waitFor('3 kube-bench Observations', async () => {
      const list = await observations('kube-bench', NS);
      return list.length === 3 ? list : undefined;
    });
    const byTest = new Map(first.map((o) => [String(o.spec.details?.testNumber), o]));
    assert.deepEqual([...byTest.keys()].sort(), ['1.1.12', '1.2.1', '1.2.16']);
    const etcd = byTest.get('1.1.12')!;
    assert.equal(etcd.spec.source, 'kube-bench');
    assert.equal(etcd.spec.severity, 'high');
    assert.equal(etcd.spec.category, 'compliance');
    assert.equal(etcd.spec.eventType, 'cis_benchmark_finding');
    assert.equal(etcd.spec.title, 'Ensure that the etcd data directory ownership is set to etcd:etcd (Automated)');
    assert.deepEqual(etcd.spec.resource, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'kube-bench-node-1',
      namespace: BENCH_NS,
    });
    assert.equal(etcd.spec.details?.section, '1.1');
    assert.equal(byTest.get('1.2.1')!.spec.severity, 'medium');
    assert.equal(etcd.metadata.labels?.severity, 'high');

    // One FAIL becomes PASS: exactly that Observation is Resolved, the others stay Active, nothing new appears.
    await api.patch({
      ...CM,
      namespace: BENCH_NS,
      name: 'kube-bench-node-1',
      body: { data: { 'results.json': report({ '1.2.16': 'PASS' }) } },
    });
    const after1 = await waitFor('1.2.16 Resolved', async () => {
      const list = await observations('kube-bench', NS);
      const o = list.find((x) => x.spec.details?.testNumber === '1.2.16');
      return o && phaseOf(o) === 'Resolved' ? list : undefined;
    });
    assert.equal(after1.length, 3);
    assert.deepEqual(
      after1
        .filter((o) => phaseOf(o) === 'Active')
        .map((o) => o.spec.details?.testNumber)
        .sort(),
      ['1.1.12', '1.2.1'],
    );

    // The ConfigMap deleted: the rest is Resolved.
    await api.delete({ ...CM, namespace: BENCH_NS, name: 'kube-bench-node-1' });
    await waitFor('every kube-bench Observation Resolved', async () => {
      const list = await observations('kube-bench', NS);
      return list.length === 3 && list.every((o) => phaseOf(o) === 'Resolved');
    });
  });

  test('Kubernetes Events: a Warning Event → an Observation; repeats are one; Normal Events are not read', async () => {
    const s = sample('zen_v1alpha1_ingester_informer_events.yaml');
    await api.create({
      ...ING,
      namespace: NS,
      body: {
        apiVersion: 'zen.kube-zen.io/v1alpha1',
        kind: 'Ingester',
        metadata: { name: 'kubernetes-events', namespace: NS },
        spec: s.spec,
      },
    });
    await api.create({ ...EV, namespace: APP_NS, body: warningEvent('web-0.backoff.1', { reason: 'BackOff' }) });
    const [o] = await waitFor('the BackOff Observation', async () => {
      const list = await observations('kubernetes-events', APP_NS);
      return list.length === 1 ? list : undefined;
    });
    assert.equal(o!.metadata.namespace, APP_NS);
    assert.equal(o!.spec.source, 'kubernetes-events');
    assert.equal(o!.spec.severity, 'medium');
    assert.equal(o!.spec.title, 'BackOff');
    assert.equal(o!.spec.message, 'BackOff: something about web-0');
    assert.equal(o!.spec.category, 'operations');
    assert.deepEqual(o!.spec.resource, { apiVersion: 'v1', kind: 'Pod', name: 'web-0', namespace: APP_NS });

    // Repeats: count++ on the same Event, and a new Event object about the same Pod and reason.
    await api.patch({ ...EV, namespace: APP_NS, name: 'web-0.backoff.1', body: { count: 5 } });
    await api.create({ ...EV, namespace: APP_NS, body: warningEvent('web-0.backoff.2', { reason: 'BackOff' }) });
    // A Normal Event (filtered by the API server), then a barrier: once the barrier's Observation exists, every
    // earlier Event has been handled.
    await api.create({
      ...EV,
      namespace: APP_NS,
      body: warningEvent('web-0.pulled', { reason: 'Pulled', type: 'Normal' }),
    });
    await api.create({ ...EV, namespace: APP_NS, body: warningEvent('web-0.unhealthy', { reason: 'Unhealthy' }) });
    const list = await waitFor('the Unhealthy Observation', async () => {
      const l = await observations('kubernetes-events', APP_NS);
      return l.some((x) => x.spec.title === 'Unhealthy') ? l : undefined;
    });
    assert.deepEqual(list.map((x) => x.spec.title).sort(), ['BackOff', 'Unhealthy']);

    // resolve: false — the Event deleted (expired) leaves its Observation Active.
    await api.delete({ ...EV, namespace: APP_NS, name: 'web-0.backoff.1' });
    await api.delete({ ...EV, namespace: APP_NS, name: 'web-0.backoff.2' });
    await sleep(2500);
    const stillActive = await observations('kubernetes-events', APP_NS);
    assert.ok(stillActive.every((x) => phaseOf(x) === 'Active'));
  });
});
