/**
 * Issue #18 item 2 on the real control plane: the Kubernetes sink's default pacing lets a burst through without
 * client-side waits (it is not the old fixed 50 writes/s), and the API server's priority-and-fairness 429s slow it
 * down. The 429s come from a PriorityLevelConfiguration with one concurrency share and `Reject` as its limit
 * response, which a FlowSchema assigns to a dedicated user; every write still ends up created (429 is retried).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { Observation } from '../../core/api/index.ts';
import { readEnv } from '../../core/config/env.ts';
import { createKubeApi, type KubeApi } from '../../core/kube/api.ts';
import { KubeObservationSink } from '../../core/sinks/kube-sink.ts';
import type { ControlPlane } from '../controlplane/harness.ts';
import { REPO } from '../support/host.ts';
import { waitFor } from '../support/wait.ts';

const TOKEN = 'pacing-writer-token-0123456789';
const USER = 'pacing-writer';
let cp: ControlPlane | undefined;
let skip: string | undefined;
try {
  const { startControlPlane } = await import('../controlplane/harness.ts');
  cp = await startControlPlane({
    crdDir: join(REPO, 'config/crd/bases'),
    extraTokens: [`${TOKEN},${USER},${USER}-uid,"zen-pacing"`],
  });
} catch (err) {
  if (process.env.CI === 'true') throw err;
  skip = `no test control plane (${(err as Error).message}); set ZEN_TEST_KUBECONFIG or install Go`;
}
after(async () => cp?.stop());

const NS = 'zen-pacing';
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const FC = { group: 'flowcontrol.apiserver.k8s.io', version: 'v1' };

const obs = (name: string): Observation => ({
  name,
  namespace: NS,
  labels: { 'zen.kube-zen.io/source': 'pacing' },
  annotations: {},
  spec: {
    source: 'pacing',
    category: 'security',
    severity: 'high',
    eventType: 'e',
    title: name,
    fingerprint: 'f'.repeat(64),
    detectedAt: new Date().toISOString(),
    ttlSecondsAfterCreation: 3600,
  },
});

/** The test user's kubeconfig (not system:masters, which priority and fairness exempts). */
function writerConfig(c: ControlPlane): KubeConfig {
  const admin = new KubeConfig();
  admin.loadFromFile(c.kubeconfigPath);
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: 'c' }],
    users: [{ name: USER, token: TOKEN }],
    contexts: [{ name: 'x', cluster: 'c', user: USER }],
    currentContext: 'x',
  });
  return kc;
}

const count = async (api: KubeApi, prefix: string) =>
  (await api.list<{ metadata: { name: string } }>({ ...OBS, namespace: NS })).items.filter((o) =>
    o.metadata.name.startsWith(prefix),
  ).length;

describe('kubernetes sink: write pacing follows the API server', { skip }, () => {
  let api: KubeApi;
  let adminKc: KubeConfig;

  before(async () => {
    adminKc = new KubeConfig();
    adminKc.loadFromFile(cp!.kubeconfigPath);
    api = createKubeApi(adminKc);
    await api.create({
      group: '',
      version: 'v1',
      plural: 'namespaces',
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    });
    await api.create({
      group: 'rbac.authorization.k8s.io',
      version: 'v1',
      plural: 'clusterrolebindings',
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'zen-pacing-writer' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: USER }],
      },
    });
  });

  test('the default pacing sends a 300-write burst without a fixed client-side rate, and widens while no 429 comes', async () => {
    const env = readEnv({});
    assert.ok(env.kubeWriteQps > 50, `the default ceiling is ${env.kubeWriteQps}/s`);
    const sink = new KubeObservationSink({ kubeConfig: adminKc, qps: env.kubeWriteQps, burst: env.kubeWriteBurst });
    try {
      const n = 300;
      const results = await Promise.all(Array.from({ length: n }, (_, i) => sink.write(obs(`burst-${i}`))));
      assert.ok(results.every((r) => r === 'created'));
      assert.equal(await count(api, 'burst-'), n);
      assert.equal(sink.pacer.throttled, 0);
      // No 429: the concurrency window was the only limit and widened while the burst kept it full (a fixed 50/s
      // bucket with burst 100, the old default, made 200 of these 300 writes wait for up to 4 s instead).
      assert.ok(sink.pacer.window > 16, `the window widened to ${sink.pacer.window}`);
    } finally {
      await sink.close();
    }
  });

  test('priority and fairness 429s narrow the window, and every write is still created', async () => {
    // One concurrency share, Reject when it is busy: most of a concurrent burst gets 429 at once.
    await api.create({
      ...FC,
      plural: 'prioritylevelconfigurations',
      body: {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'PriorityLevelConfiguration',
        metadata: { name: 'zen-pacing' },
        spec: {
          type: 'Limited',
          limited: { nominalConcurrencyShares: 1, lendablePercent: 0, limitResponse: { type: 'Reject' } },
        },
      },
    });
    await api.create({
      ...FC,
      plural: 'flowschemas',
      body: {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'FlowSchema',
        metadata: { name: 'zen-pacing' },
        spec: {
          priorityLevelConfiguration: { name: 'zen-pacing' },
          matchingPrecedence: 100,
          distinguisherMethod: { type: 'ByUser' },
          rules: [
            {
              subjects: [{ kind: 'User', user: { name: USER } }],
              resourceRules: [
                { verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true },
              ],
            },
          ],
        },
      },
    });
    const writer = writerConfig(cp!);
    // The API server's flow-control controller picks the objects up asynchronously: wait until a burst is refused.
    let round = 0;
    let sink: KubeObservationSink | undefined;
    try {
      await waitFor(
        'a burst refused by the priority level',
        async () => {
          await sink?.close();
          sink = new KubeObservationSink({ kubeConfig: writer, qps: 1000, burst: 200 });
          const s = sink;
          const prefix = `apf-${round++}-`;
          const n = 150;
          const results = await Promise.all(Array.from({ length: n }, (_, i) => s.write(obs(`${prefix}${i}`))));
          assert.ok(results.every((r) => r === 'created'));
          assert.equal(await count(api, prefix), n, 'every write was created in the end');
          return s.pacer.throttled > 0;
        },
        60_000,
      );
      assert.ok(sink!.pacer.throttled > 0);
      // The narrowest window, not the window now: after the 429s the rest of the burst widens it again, and on a
      // slow machine it was back at 17 by the end.
      assert.ok(sink!.pacer.narrowest < 16, `the window narrowed to ${sink!.pacer.narrowest}`);
    } finally {
      await sink?.close();
    }
  });
});
