/**
 * Per-namespace watches of the owned units (ADR 0025, core/shard/namespaces.ts) against a real kube-apiserver whose
 * audit log (webhook backend, test/controlplane/harness.ts) records every LIST and WATCH of ConfigMaps with its
 * namespace and user agent: a cluster-wide plugin informer opened inside sharded work must LIST and WATCH only the
 * namespaces whose unit its epoch owns — never cluster-wide — and follow namespaces created and deleted during
 * the run; past the cap it falls back to the cluster-wide watch with the ownership filter (counted).
 *
 * The test control plane runs no namespace controller: a deleted namespace is finalized here by hand (what the
 * controller does once the namespace is empty).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { InformerOptions, PluginKube } from '../../core/api/plugin.ts';
import { createPluginKube } from '../../core/host/plugin-kube.ts';
import { KubeConnection } from '../../core/kube/request.ts';
import { type ShardEpoch, shardWork, workFor } from '../../core/shard/context.ts';
import { slotOf } from '../../core/shard/slots.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { createMetrics } from '../../core/telemetry/metrics.ts';
import type { ControlPlane } from '../controlplane/harness.ts';

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources: [{ group: "", resources: ["configmaps", "namespaces"] }]
    verbs: [list, watch]
  - level: None
`;

interface AuditEvent {
  verb: string;
  userAgent?: string;
  stage: string;
  objectRef?: { resource?: string; namespace?: string };
  requestURI: string;
  requestReceivedTimestamp: string;
}

const SLOTS = 4;
const INGESTER = 'zen-system/trivy-a';
const CONFIGMAPS = { group: '', version: 'v1', resource: 'configmaps' };

let cp: ControlPlane | undefined;
let skip: string | undefined;
let sink: Server | undefined;
const audit: AuditEvent[] = [];

before(async () => {
  sink = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      try {
        audit.push(...((JSON.parse(body) as { items?: AuditEvent[] }).items ?? []));
      } catch {}
      res.end('{}');
    });
  });
  await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/audit`;
  if (process.env.ZEN_TEST_KUBECONFIG) {
    skip = 'needs an audit policy on the API server: not possible with ZEN_TEST_KUBECONFIG';
    return;
  }
  try {
    const { startControlPlane } = await import('../controlplane/harness.ts');
    cp = await startControlPlane({ audit: { policy: POLICY, webhookUrl: url } });
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    skip = `no test control plane (${(err as Error).message})`;
  }
});
after(async () => {
  await cp?.stop();
  await new Promise((r) => sink?.close(r));
});

const kc = (): KubeConfig => {
  const k = new KubeConfig();
  k.loadFromFile(cp!.kubeconfigPath);
  return k;
};

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The plugin-facing Kubernetes layer of one replica, with its own metrics and a stop signal the test aborts. */
function pluginKube(extra: { namespaceWatches?: number } = {}) {
  const metrics = createMetrics();
  const stop = new AbortController();
  const kube = createPluginKube({
    kc: kc(),
    log: createLogger({ level: process.env.ZEN_TEST_LOG === '1' ? 'debug' : 'silent' }),
    metrics,
    watched: [],
    ...extra,
    signal: stop.signal,
  });
  return { metrics, stop, kube };
}

function epochOf(owned: number[]): { epoch: ShardEpoch; end(): void } {
  const ctl = new AbortController();
  const epoch: ShardEpoch = Object.freeze({
    slots: SLOTS,
    owned: new Set(owned),
    signal: ctl.signal,
    identity: 'replica-test',
    startedAt: Date.now(),
    canAct: () => !ctl.signal.aborted,
  });
  return { epoch, end: () => ctl.abort() };
}

const owns = (owned: number[], ns: string) => owned.includes(slotOf(INGESTER, ns, SLOTS));

/** A namespace name (with prefix) whose unit is (or is not) in `owned`. */
function nameIn(prefix: string, owned: number[], want: boolean): string {
  for (;;) {
    const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
    if (owns(owned, ns) === want) return ns;
  }
}

/** ConfigMap LISTs and WATCHes our informers sent since `from` (wall ms; ResponseComplete / ResponseStarted). */
function informerRequests(from: number): { verb: string; namespace: string | undefined }[] {
  return audit
    .filter(
      (e) =>
        Date.parse(e.requestReceivedTimestamp) >= from &&
        e.objectRef?.resource === 'configmaps' &&
        (e.verb === 'list' || e.verb === 'watch') &&
        e.userAgent?.startsWith('zen-watcher/informer') &&
        e.stage === (e.verb === 'list' ? 'ResponseComplete' : 'ResponseStarted'),
    )
    .map((e) => ({ verb: e.verb, namespace: e.objectRef?.namespace }));
}

interface Seen {
  added: string[];
  deleted: string[];
  synced: string[][];
}

function open(kube: PluginKube, epoch: ShardEpoch, signal: AbortSignal): { seen: Seen; done: Promise<void> } {
  const seen: Seen = { added: [], deleted: [], synced: [] };
  const key = (o: unknown) => {
    const m = (o as { metadata: { namespace: string; name: string } }).metadata;
    return `${m.namespace}/${m.name}`;
  };
  const options: InformerOptions = { ...CONFIGMAPS, labelSelector: 'zw-test=shard', signal };
  const done = shardWork.run(workFor(epoch, INGESTER), () =>
    kube.informer(options, {
      add: (o) => void seen.added.push(key(o)),
      delete: (o) => void seen.deleted.push(key(o)),
      synced: (objs) => void seen.synced.push(objs.map(key).sort()),
    }),
  );
  return { seen, done };
}

async function gauge(metrics: ReturnType<typeof createMetrics>): Promise<number> {
  const v = await metrics.shardNamespaceWatches.get();
  return v.values.reduce((a, x) => a + x.value, 0);
}

describe('sharded informers watch only the owned namespaces (real API server, audit log)', { timeout: 180_000 }, () => {
  const owned = [0, 1];
  let core: CoreV1Api;
  const mine: string[] = [];
  const others: string[] = [];

  const created = new Set<string>();
  const createNs = async (ns: string) => {
    created.add(ns);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'cm', labels: { 'zw-test': 'shard' } }, data: { a: '1' } },
    });
  };

  before(async () => {
    if (skip) return;
    core = kc().makeApiClient(CoreV1Api);
    for (let i = 0; i < 3; i++) mine.push(nameIn('own', owned, true));
    for (let i = 0; i < 3; i++) others.push(nameIn('other', owned, false));
    for (const ns of [...mine, ...others]) await createNs(ns);
  });

  test('LIST and WATCH only in owned namespaces; namespaces created and deleted during the run follow', async (t) => {
    if (skip) return t.skip(skip);
    const { metrics, stop, kube } = pluginKube();
    const from = Date.now();
    const { epoch, end } = epochOf(owned);
    const run = open(kube, epoch, epoch.signal);
    t.after(() => {
      end();
      stop.abort();
    });
    await waitFor('synced', () => run.seen.synced.length > 0);
    assert.deepEqual(
      run.seen.synced[0],
      mine.map((ns) => `${ns}/cm`).sort(),
      'synced carries every object of the owned namespaces, none of the others',
    );
    // Every namespace the cluster has whose unit is owned (ours and the control plane's own) has one watch.
    const all = (await core.listNamespace()).items.map((n) => n.metadata!.name!);
    const ownedAll = all.filter((ns) => owns(owned, ns));
    await waitFor('the watches in the audit log', () => {
      const got = new Set(
        informerRequests(from)
          .filter((r) => r.verb === 'watch')
          .map((r) => r.namespace),
      );
      return ownedAll.every((ns) => got.has(ns));
    });
    let reqs = informerRequests(from);
    assert.ok(reqs.length > 0);
    for (const r of reqs) {
      assert.ok(r.namespace, `a ${r.verb} without a namespace (cluster-wide) was sent`);
      assert.ok(owns(owned, r.namespace), `a ${r.verb} in ${r.namespace}, whose unit another replica owns`);
    }
    assert.deepEqual(
      [...new Set(reqs.filter((r) => r.verb === 'list').map((r) => r.namespace))].sort(),
      [...ownedAll].sort(),
      'one LIST per owned namespace, no other',
    );
    assert.equal(await gauge(metrics), ownedAll.length, 'zen_watcher_shard_namespace_watches');

    // A namespace created now: only an owned one gets a watch (and its objects arrive); the other costs nothing.
    const mark = Date.now();
    const fresh = nameIn('own', owned, true);
    const foreign = nameIn('other', owned, false);
    await createNs(fresh);
    await createNs(foreign);
    await waitFor('the new namespace’s object', () => run.seen.added.includes(`${fresh}/cm`));
    assert.equal(await gauge(metrics), ownedAll.length + 1);
    await sleep(500); // the audit batch of anything sent for `foreign` would be here by now (100 ms batches)
    reqs = informerRequests(mark);
    assert.deepEqual(
      [...new Set(reqs.map((r) => r.namespace))],
      [fresh],
      'only the new owned namespace was listed/watched',
    );
    assert.ok(!run.seen.added.some((k) => k.startsWith(`${foreign}/`)));

    // Deleted (and finalized, as the namespace controller does): its watch stops, what it held is delivered deleted.
    await core.deleteNamespace({ name: fresh });
    created.delete(fresh);
    const conn = new KubeConnection(kc());
    await conn.json({
      method: 'PUT',
      path: `/api/v1/namespaces/${fresh}/finalize`,
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: fresh }, spec: { finalizers: [] } },
    });
    await conn.close();
    await waitFor('the deleted namespace’s watch to stop', async () => (await gauge(metrics)) === ownedAll.length);
    assert.ok(run.seen.deleted.includes(`${fresh}/cm`), 'its object is delivered as deleted');

    end();
    await run.done;
    assert.equal(await gauge(metrics), 0, 'every namespace watch stopped with the run');
    stop.abort();
  });

  test('a moved slot: the next epoch lists only the namespaces of its own slots', async (t) => {
    if (skip) return t.skip(skip);
    const { stop, kube } = pluginKube();
    const all = (await core.listNamespace()).items.map((n) => n.metadata!.name!);
    const first = epochOf([0]);
    const second = epochOf([2]);
    t.after(() => {
      first.end();
      second.end();
      stop.abort();
    });
    let run = open(kube, first.epoch, first.epoch.signal);
    await waitFor('synced', () => run.seen.synced.length > 0);
    first.end();
    await run.done;
    // Slot 0 moved away, slot 2 came in.
    const from = Date.now();
    run = open(kube, second.epoch, second.epoch.signal);
    await waitFor('synced', () => run.seen.synced.length > 0);
    const want = all.filter((ns) => owns([2], ns)).sort();
    await waitFor('the lists in the audit log', () => {
      const got = new Set(
        informerRequests(from)
          .filter((r) => r.verb === 'list')
          .map((r) => r.namespace),
      );
      return want.every((ns) => got.has(ns));
    });
    const lists = informerRequests(from).filter((r) => r.verb === 'list');
    assert.deepEqual([...new Set(lists.map((r) => r.namespace!))].sort(), want);
    assert.deepEqual(
      run.seen.synced[0],
      [...created]
        .filter((ns) => owns([2], ns))
        .map((ns) => `${ns}/cm`)
        .sort(),
    );
    second.end();
    await run.done;
    stop.abort();
  });

  test('past ZEN_SHARD_NAMESPACE_WATCHES: one cluster-wide watch with the ownership filter, counted', async (t) => {
    if (skip) return t.skip(skip);
    const { metrics, stop, kube } = pluginKube({ namespaceWatches: 1 });
    const from = Date.now();
    const { epoch, end } = epochOf(owned);
    const run = open(kube, epoch, epoch.signal);
    t.after(() => {
      end();
      stop.abort();
    });
    await waitFor('synced', () => run.seen.synced.length > 0);
    assert.deepEqual(
      run.seen.synced[0],
      // (the ConfigMap of the namespace finalized above is still stored: no namespace controller deleted it)
      (await core.listConfigMapForAllNamespaces({ labelSelector: 'zw-test=shard' })).items
        .map((c) => c.metadata!.namespace!)
        .filter((ns) => owns(owned, ns))
        .map((ns) => `${ns}/cm`)
        .sort(),
      'still only the owned objects',
    );
    await waitFor('the cluster-wide list', () => informerRequests(from).some((r) => r.verb === 'list'));
    assert.ok(
      informerRequests(from).every((r) => r.namespace === undefined),
      'cluster-wide requests only',
    );
    const text = await metrics.registry.metrics();
    assert.match(text, /^zen_watcher_shard_informer_fallbacks_total\{gvr="core\/v1\/configmaps",reason="cap"\} 1$/m);
    end();
    await run.done;
    stop.abort();
  });
});
