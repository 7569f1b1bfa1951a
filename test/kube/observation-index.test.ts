/**
 * The resolver's Observation index (core/host/kube-index.ts) on a real kube-apiserver: with a term's cache it
 * answers from a watch (no LIST per call), follows creates, status changes and deletes, applies its own status
 * patches at once, and falls back to a direct LIST when no term holds a cache. Both paths must return the same.
 *
 * Without a control plane the suite is skipped with the reason, except in CI (CI=true), where that is a failure.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { IngesterConfig } from '../../core/config/validate.ts';
import { kubeObservationIndex } from '../../core/host/kube-index.ts';
import { SCOPE_LABEL, scopeLabel } from '../../core/host/observation-index.ts';
import { createKubeApi, type KubeApi } from '../../core/kube/index.ts';
import { controlPlaneOrSkip } from '../support/control-plane.ts';
import { waitFor } from '../support/wait.ts';

const { cp, skip } = await controlPlaneOrSkip();
const NS = `zen-index-${randomBytes(4).toString('hex')}`;
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const ING = { name: 'trivy', namespace: NS } as IngesterConfig;
const OTHER = { name: 'other', namespace: NS } as IngesterConfig;
let api: KubeApi;
let kc: KubeConfig;
after(async () => {
  await api?.close();
  await cp?.stop();
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function observation(name: string, ingester: IngesterConfig, scope: string) {
  return {
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Observation',
    metadata: {
      name,
      namespace: NS,
      labels: {
        'zen.kube-zen.io/ingester': ingester.name,
        'zen.kube-zen.io/ingester-namespace': ingester.namespace,
        [SCOPE_LABEL]: scopeLabel(scope),
      },
    },
    spec: {
      source: 'trivy',
      category: 'security',
      severity: 'high',
      eventType: 'vulnerability',
      title: name,
      fingerprint: createHash('sha256').update(name).digest('hex'),
      detectedAt: new Date().toISOString(),
    },
  };
}

/** The API the index gets, counting LIST calls on Observations. */
function counting(inner: KubeApi): KubeApi & { lists: number } {
  const c = {
    lists: 0,
    ...inner,
    list: (p: Parameters<KubeApi['list']>[0]) => {
      c.lists++;
      return inner.list(p);
    },
  };
  return c as KubeApi & { lists: number };
}

const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();
const sorted = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => a.name.localeCompare(b.name));

describe('Observation index: a watch-fed cache per leader term', { skip }, () => {
  before(async () => {
    kc = new KubeConfig();
    kc.loadFromFile(cp!.kubeconfigPath);
    api = createKubeApi(kc);
    await api.create({ group: '', version: 'v1', plural: 'namespaces', body: { metadata: { name: NS } } });
    for (const [n, ing, scope] of [
      ['a1', ING, 'report-a'],
      ['a2', ING, 'report-a'],
      ['b1', ING, 'report-b'],
      ['o1', OTHER, 'report-a'],
    ] as const) {
      await api.create({ ...OBS, namespace: NS, body: observation(n, ing, scope) });
    }
    // An Observation without a scope label (a webhook finding) is not the resolver's business.
    const plain = observation('w1', ING, 'x');
    delete (plain.metadata.labels as Record<string, string>)[SCOPE_LABEL];
    await api.create({ ...OBS, namespace: NS, body: plain });
  });

  test('cached and direct reads agree; the cache does not LIST per call and follows the cluster', async () => {
    const counted = counting(api);
    const index = kubeObservationIndex(counted, [NS], () => true, { kubeConfig: kc, log: silent });
    const direct = kubeObservationIndex(api, [NS], () => true);

    // No term: a direct LIST each time.
    assert.deepEqual(names(await index.list(ING, scopeLabel('report-a'))), ['a1', 'a2']);
    assert.equal(counted.lists, 1);
    assert.equal(index.cached(), undefined);

    const term = new AbortController();
    index.cacheFor(term.signal);
    try {
      assert.deepEqual(names(await index.list(ING, scopeLabel('report-a'))), ['a1', 'a2']);
      assert.deepEqual(names(await index.list(ING)), ['a1', 'a2', 'b1']);
      assert.deepEqual(names(await index.list(OTHER)), ['o1']);
      assert.deepEqual(names(await index.list(ING, scopeLabel('nothing'))), []);
      for (const [ing, scope] of [
        [ING, scopeLabel('report-a')],
        [ING, undefined],
        [OTHER, undefined],
      ] as const) {
        assert.deepEqual(sorted(await index.list(ing, scope)), sorted(await direct.list(ing, scope)), 'cache = direct');
      }
      assert.equal(counted.lists, 1, 'no LIST from the index while a term holds the cache');
      assert.equal(index.cached(), 4, 'only Observations with a scope label are cached');

      // Written by the resolver's own reconcile: visible at once (read-your-writes), then confirmed by the watch.
      await api.create({ ...OBS, namespace: NS, body: observation('a3', ING, 'report-a') });
      index.noteStored(ING, scopeLabel('report-a'), [{ namespace: NS, name: 'a3' }]);
      assert.deepEqual(names(await index.list(ING, scopeLabel('report-a'))), ['a1', 'a2', 'a3']);
      // Created by someone else, seen through the watch.
      await api.create({ ...OBS, namespace: NS, body: observation('a4', ING, 'report-a') });
      await waitFor(
        'a4 in the cache',
        async () => (await index.list(ING, scopeLabel('report-a'))).length === 4,
        10_000,
      );
      await api.delete({ ...OBS, namespace: NS, name: 'a4' });
      await waitFor('a4 gone from the cache', async () => (await index.list(ING, scopeLabel('report-a'))).length === 3);

      // Our own status patch is visible at once, before the watch delivers it.
      const [a1] = (await index.list(ING, scopeLabel('report-a'))).filter((o) => o.name === 'a1');
      await index.setPhase(a1!, 'Resolved', 'test');
      const after1 = await index.list(ING, scopeLabel('report-a'));
      assert.equal(after1.find((o) => o.name === 'a1')?.phase, 'Resolved');
      const stored = await api.get<{ status?: { phase?: string } }>({ ...OBS, namespace: NS, name: 'a1' });
      assert.equal(stored.status?.phase, 'Resolved', 'the patch reached the API server');

      // Someone else's status change and a deletion, through the watch.
      await api.patch({
        ...OBS,
        namespace: NS,
        name: 'b1',
        subresource: 'status',
        body: { status: { phase: 'Resolved', reason: 'by hand' } },
      });
      await api.delete({ ...OBS, namespace: NS, name: 'a2' });
      await waitFor('b1 resolved and a2 gone in the cache', async () => {
        const all = await index.list(ING);
        return all.find((o) => o.name === 'b1')?.phase === 'Resolved' && !all.some((o) => o.name === 'a2');
      });
      assert.deepEqual(sorted(await index.list(ING)), sorted(await direct.list(ING)), 'cache = direct after changes');
      assert.equal(counted.lists, 1);
    } finally {
      term.abort();
    }

    // The term ended: the cache is dropped and reads LIST again.
    assert.equal(index.cached(), undefined);
    assert.deepEqual(names(await index.list(ING)), ['a1', 'a3', 'b1']);
    assert.equal(counted.lists, 2);
  });

  test('a replica that is not leader writes no status, cached or not', async () => {
    const index = kubeObservationIndex(api, [NS], () => false, { kubeConfig: kc, log: silent });
    const term = new AbortController();
    index.cacheFor(term.signal);
    try {
      const [a3] = (await index.list(ING)).filter((o) => o.name === 'a3');
      assert.ok(a3);
      await index.setPhase(a3, 'Resolved', 'must not be written');
      const stored = await api.get<{ status?: { phase?: string } }>({ ...OBS, namespace: NS, name: 'a3' });
      assert.notEqual(stored.status?.phase, 'Resolved');
      assert.equal((await index.list(ING)).find((o) => o.name === 'a3')?.phase, 'Active');
    } finally {
      term.abort();
    }
  });
});
