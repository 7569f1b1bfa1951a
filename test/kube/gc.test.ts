/**
 * Observation TTL GC (core/gc) against a real kube-apiserver (test/controlplane/harness.ts; ZEN_TEST_KUBECONFIG
 * targets an existing cluster instead), through core/kube's KubeApi. Uses the real Observation CRD from
 * config/crd/bases when it is there and loads, else a minimal one (same group/version/plural, any fields kept).
 * Each test works in its own namespace. Interference (a re-created object, an object deleted by someone else,
 * leadership lost mid-run) is done for real, by wrapping the API the collector gets.
 *
 * Without a control plane the suite is skipped with the reason, except in CI (CI=true), where that is a failure.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, afterEach, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { type GcApi, type GcLog, type GcResult, OBSERVATIONS, runGc, startGcLoop } from '../../core/gc/index.ts';
import { createKubeApi, type KubeApi, KubeConnection, type KubeObject, statusOf } from '../../core/kube/index.ts';
import type { ControlPlane } from '../controlplane/harness.ts';

const CRD_FILE = 'config/crd/bases/zen.kube-zen.io_observations.yaml';

async function controlPlane(): Promise<{ cp?: ControlPlane; skip?: string }> {
  try {
    const { startControlPlane } = await import('../controlplane/harness.ts');
    return { cp: await startControlPlane() };
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return { skip: `no test control plane (${(err as Error).message}); set ZEN_TEST_KUBECONFIG or install Go` };
  }
}

const { cp, skip } = await controlPlane();
let api: KubeApi;
let crdSource = '';
after(async () => {
  await api?.close();
  await cp?.stop();
});

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cp!.kubeconfigPath);
  return kc;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The real CRD if present and accepted by the server; the minimal one otherwise. Waits until it serves. */
async function installObservationCrd(): Promise<string> {
  const conn = new KubeConnection(kubeConfig());
  const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  const minimal = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'observations.zen.kube-zen.io' },
    spec: {
      group: 'zen.kube-zen.io',
      scope: 'Namespaced',
      names: { plural: 'observations', singular: 'observation', kind: 'Observation', listKind: 'ObservationList' },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          },
        },
      ],
    },
  };
  let source = 'inline minimal CRD';
  try {
    let body: unknown = minimal;
    if (existsSync(CRD_FILE)) {
      try {
        body = parseYaml(readFileSync(CRD_FILE, 'utf8'));
        source = CRD_FILE;
      } catch {
        body = minimal;
      }
    }
    try {
      await conn.json({ method: 'POST', path, body });
    } catch (err) {
      if (statusOf(err) === 409) {
        source = 'already installed';
      } else if (body !== minimal) {
        source = `inline minimal CRD (${CRD_FILE} was refused: ${(err as Error).message.slice(0, 120)})`;
        await conn.json({ method: 'POST', path, body: minimal });
      } else throw err;
    }
    // Established, and the new resource's storage answers (it may say 429 "initializing" for a moment).
    for (const start = Date.now(); ; await sleep(100)) {
      if (Date.now() - start > 20_000) throw new Error('the Observation CRD did not start serving');
      try {
        await conn.json({ path: '/apis/zen.kube-zen.io/v1alpha1/observations', query: { limit: 1 } });
        break;
      } catch {}
    }
  } finally {
    await conn.close();
  }
  return source;
}

before(async () => {
  if (skip) return;
  crdSource = await installObservationCrd();
  api = createKubeApi(kubeConfig());
});

async function namespace(): Promise<string> {
  const name = `zen-gc-${randomBytes(4).toString('hex')}`;
  await api.create({ group: '', version: 'v1', plural: 'namespaces', body: { metadata: { name } } });
  return name;
}

async function createObs(namespace: string, name: string, ttl?: number): Promise<KubeObject> {
  return api.create({
    ...OBSERVATIONS,
    namespace,
    body: {
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Observation',
      metadata: { name, labels: { source: 'gc-test' } },
      spec: {
        source: 'gc-test',
        category: 'security',
        severity: 'low',
        eventType: 'gc_test',
        title: `gc test ${name}`,
        fingerprint: createHash('sha256').update(`${namespace}/${name}/${Math.random()}`).digest('hex'),
        detectedAt: new Date().toISOString(),
        ...(ttl !== undefined ? { ttlSecondsAfterCreation: ttl } : {}),
      },
    },
  });
}

async function names(namespace: string): Promise<string[]> {
  const list = await api.list({ ...OBSERVATIONS, namespace });
  return list.items.map((o) => o.metadata?.name ?? '').sort();
}

const logs: string[] = [];
const log: GcLog = {
  debug: (o, m) => void logs.push(`debug ${m} ${JSON.stringify(o)}`),
  info: (o, m) => void logs.push(`info ${m} ${JSON.stringify(o)}`),
  warn: (o, m) => void logs.push(`warn ${m} ${JSON.stringify(o)}`),
};

/** The collector's API with counted calls and optional interference before a delete goes out. */
function wrapped(beforeDelete?: (p: { namespace?: string; name: string }, n: number) => Promise<void>) {
  const calls = { list: 0, delete: 0 };
  const w: GcApi = {
    list: (p) => {
      calls.list++;
      return api.list(p);
    },
    delete: async (p) => {
      calls.delete++;
      await beforeDelete?.(p, calls.delete);
      return api.delete(p);
    },
  };
  return { api: w, calls };
}

const base = (over: Partial<Parameters<typeof runGc>[0]>) => ({
  api: api as GcApi,
  namespaces: [] as string[],
  defaultTtlSeconds: 3_600,
  deleteQps: 1_000,
  canAct: () => true,
  signal: AbortSignal.timeout(60_000),
  log,
  ...over,
});

afterEach(() => {
  logs.length = 0;
});

describe('Observation GC on a real kube-apiserver', { skip }, () => {
  test('deletes only expired Observations (per-object TTL, default TTL, injected now)', async (t) => {
    t.diagnostic(`CRD: ${crdSource}`);
    const ns = await namespace();
    await createObs(ns, 'ttl-1', 1);
    await createObs(ns, 'ttl-2', 2);
    await createObs(ns, 'ttl-hour', 3_600);
    await createObs(ns, 'default-ttl');
    await sleep(2_100); // creationTimestamp has 1 s resolution: 2.1 s after the creates both short TTLs are over

    const r1 = await runGc(base({ namespaces: [ns] }));
    assert.deepEqual(pick(r1), { scanned: 4, expired: 2, deleted: 2, alreadyGone: 0, skipped: 0, errors: 0 });
    assert.equal(r1.stopped, 'done');
    assert.deepEqual(await names(ns), ['default-ttl', 'ttl-hour']);

    const r2 = await runGc(base({ namespaces: [ns], defaultTtlSeconds: 1 }));
    assert.equal(r2.deleted, 1, 'the default TTL applies to Observations without their own');
    assert.deepEqual(await names(ns), ['ttl-hour']);

    const r3 = await runGc(base({ namespaces: [ns], now: () => Date.now() + 3_601_000 }));
    assert.equal(r3.deleted, 1, 'an hour later (injected now) the last one expires');
    assert.deepEqual(await names(ns), []);
  });

  test('a TTL extended (patched) before the run is respected', async () => {
    const ns = await namespace();
    await createObs(ns, 'extended', 1);
    await createObs(ns, 'not-extended', 1);
    await sleep(1_100);
    await api.patch({
      ...OBSERVATIONS,
      namespace: ns,
      name: 'extended',
      body: { spec: { ttlSecondsAfterCreation: 600 } },
    });
    const r = await runGc(base({ namespaces: [ns] }));
    assert.equal(r.deleted, 1);
    assert.deepEqual(await names(ns), ['extended']);
  });

  test('lists in pages (limit + continue) across several namespaces and cluster-wide', async () => {
    const a = await namespace();
    const b = await namespace();
    for (let i = 0; i < 23; i++) await createObs(a, `a-${i}`, 1);
    for (let i = 0; i < 4; i++) await createObs(b, `b-${i}`, 1);
    await createObs(b, 'b-keep', 3_600);
    await sleep(1_100);
    const w = wrapped();
    const r = await runGc(base({ api: w.api, namespaces: [a, b], pageSize: 10 }));
    assert.deepEqual(pick(r), { scanned: 28, expired: 27, deleted: 27, alreadyGone: 0, skipped: 0, errors: 0 });
    assert.equal(w.calls.list, 3 + 1, '23 items in pages of 10 = 3 lists, plus 1 for the second namespace');
    assert.deepEqual(await names(a), []);
    assert.deepEqual(await names(b), ['b-keep']);

    await createObs(a, 'cluster-wide', 1);
    await sleep(1_100);
    const all = await runGc(base({ namespaces: 'all', pageSize: 5 }));
    assert.ok(all.deleted >= 1 && all.scanned >= 2, JSON.stringify(all));
    assert.deepEqual(await names(a), []);
    assert.deepEqual(await names(b), ['b-keep']);
  });

  test('canAct() is checked before every delete: the run stops the moment it turns false', async () => {
    const ns = await namespace();
    for (let i = 0; i < 10; i++) await createObs(ns, `o-${i}`, 1);
    await sleep(1_100);
    let checks = 0;
    const w = wrapped();
    const r = await runGc(base({ api: w.api, namespaces: [ns], canAct: () => ++checks <= 3 }));
    assert.equal(r.stopped, 'leadership');
    assert.equal(r.deleted, 3);
    assert.equal(w.calls.delete, 3, 'no delete request after canAct() said false');
    assert.equal(checks, 4);
    assert.equal((await names(ns)).length, 7);
    assert.ok(logs.some((l) => l.includes('not leader')));
  });

  test('the signal stops a run at once (no delete after the abort)', async () => {
    const ns = await namespace();
    for (let i = 0; i < 6; i++) await createObs(ns, `o-${i}`, 1);
    await sleep(1_100);
    const ctl = new AbortController();
    const w = wrapped(async (_p, n) => {
      if (n === 2) ctl.abort();
    });
    const r = await runGc(base({ api: w.api, namespaces: [ns], signal: ctl.signal }));
    assert.equal(r.stopped, 'aborted');
    assert.equal(r.deleted, 1, 'the second delete was aborted in flight');
    assert.equal(w.calls.delete, 2);
    assert.equal((await names(ns)).length, 5);
  });

  test('uid precondition: an Observation re-created under the same name between list and delete is kept', async () => {
    const ns = await namespace();
    const old = await createObs(ns, 'same-name', 1);
    await createObs(ns, 'other', 1);
    await sleep(1_100);
    let newUid = '';
    const w = wrapped(async (p) => {
      if (p.name !== 'same-name') return;
      // Someone deletes it and a replica writes the same finding again (deterministic name) right now.
      await api.delete({ ...OBSERVATIONS, namespace: ns, name: 'same-name' });
      newUid = (await createObs(ns, 'same-name', 1)).metadata?.uid ?? '';
    });
    const r = await runGc(base({ api: w.api, namespaces: [ns] }));
    assert.deepEqual(pick(r), { scanned: 2, expired: 2, deleted: 1, alreadyGone: 0, skipped: 1, errors: 0 });
    const now = await api.get({ ...OBSERVATIONS, namespace: ns, name: 'same-name' });
    assert.notEqual(now.metadata?.uid, old.metadata?.uid);
    assert.equal(now.metadata?.uid, newUid, 'the new object survived');
    assert.deepEqual(await names(ns), ['same-name']);
  });

  test('404 on delete counts as already gone, not as an error', async () => {
    const ns = await namespace();
    await createObs(ns, 'vanishing', 1);
    await sleep(1_100);
    const w = wrapped(async (p) => {
      await api.delete({ ...OBSERVATIONS, namespace: ns, name: p.name });
    });
    const r = await runGc(base({ api: w.api, namespaces: [ns] }));
    assert.deepEqual(pick(r), { scanned: 1, expired: 1, deleted: 0, alreadyGone: 1, skipped: 0, errors: 0 });
  });

  test('deletes are rate limited (deleteQps)', async () => {
    const ns = await namespace();
    for (let i = 0; i < 12; i++) await createObs(ns, `o-${i}`, 1);
    await sleep(1_100);
    const t0 = performance.now();
    const r = await runGc(base({ namespaces: [ns], deleteQps: 5 }));
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(r.deleted, 12);
    // burst 5, then 7 more at 5/s: at least 1.4 s.
    assert.ok(seconds >= 1.3, `took ${seconds.toFixed(2)} s`);
    console.log(`# 12 deletes at deleteQps=5 took ${seconds.toFixed(2)} s`);
  });

  test('startGcLoop runs periodically while canAct(), skips while not, and stops on abort', async () => {
    const ns = await namespace();
    const ctl = new AbortController();
    let leader = false;
    const runs: GcResult[] = [];
    const w = wrapped();
    const loop = startGcLoop({
      ...base({ api: w.api, namespaces: [ns], signal: ctl.signal, canAct: () => leader }),
      intervalMs: 200,
      metrics: { run: (r) => void runs.push(r) },
    });
    await sleep(500);
    assert.equal(w.calls.list, 0, 'no run while not leader');
    leader = true;
    await createObs(ns, 'looped', 1);
    for (const start = Date.now(); (await names(ns)).length > 0; await sleep(100)) {
      assert.ok(Date.now() - start < 10_000, 'the loop deleted the expired Observation');
    }
    assert.ok(runs.some((r) => r.deleted === 1));
    const t0 = performance.now();
    ctl.abort();
    await loop;
    assert.ok(performance.now() - t0 < 500, 'the loop stops promptly');
  });
});

function pick(r: GcResult) {
  const { scanned, expired, deleted, alreadyGone, skipped, errors } = r;
  return { scanned, expired, deleted, alreadyGone, skipped, errors };
}
