/**
 * The informer (core/kube/informer.ts) against a real kube-apiserver (test/controlplane/harness.ts;
 * ZEN_TEST_KUBECONFIG targets an existing cluster instead), on ConfigMaps (core group) and on a throwaway CRD.
 * Failures are real: a TCP proxy between the informer and the API server resets connections, swallows traffic
 * (stall) or holds requests; a real 410 comes from re-creating a CRD, whose new watch cache starts after the
 * informer's resourceVersion. Each test uses its own namespace (namespaces never finish deleting here).
 *
 * Without a control plane (no Go toolchain, build failure) the suite is skipped with the reason, except in CI
 * (CI=true), where that is a failure. ZEN_TEST_LOG=1 prints the informers' logs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { InformerEvents, InformerOptions } from '../../core/api/plugin.ts';
import { PLUGIN_INFORMER_PAGE_SIZE, pluginInformerTiming, pluginTransform } from '../../core/host/plugin-informer.ts';
import { createPluginKube } from '../../core/host/plugin-kube.ts';
import {
  checkReachable,
  createInformer,
  DISCOVERY_CACHE_MS,
  hasResource,
  type InformerMetrics,
  type InformerTiming,
  KubeConnection,
  type KubeLog,
  KubeUnreachableError,
  loadKubeConfig,
  type RestartReason,
  resourcePath,
  watchOnce,
} from '../../core/kube/index.ts';
import { kubeRequestCounts } from '../../core/kube/request.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { createMetrics } from '../../core/telemetry/metrics.ts';
import type { ControlPlane } from '../controlplane/harness.ts';

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
const verbose = process.env.ZEN_TEST_LOG === '1';
after(async () => cp?.stop());

function kubeConfig(server?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cp!.kubeconfigPath);
  if (server === undefined) return kc;
  const ctx = kc.getContextObject(kc.getCurrentContext());
  kc.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.name === ctx?.cluster ? { ...c, server } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return kc;
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<number> {
  const start = now();
  while (!cond()) {
    if (now() - start > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
  return now() - start;
}

// ------------------------------------------------------------------ recording

interface Obj {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: object };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}

interface Seen {
  ev: 'add' | 'update' | 'delete';
  name: string;
  old?: string;
}

function recorder() {
  const seen: Seen[] = [];
  const synced: string[][] = [];
  const name = (o: Obj) => o.metadata?.name ?? '?';
  const events: InformerEvents<Obj> = {
    add: (o) => void seen.push({ ev: 'add', name: name(o) }),
    update: (o, old) => void seen.push({ ev: 'update', name: name(o), old: old?.metadata?.resourceVersion ?? '' }),
    delete: (o) => void seen.push({ ev: 'delete', name: name(o) }),
    synced: (objs) => void synced.push(objs.map(name).sort()),
  };
  const has = (ev: Seen['ev'], n: string) => seen.some((s) => s.ev === ev && s.name === n);
  const count = (ev: Seen['ev'], n: string) => seen.filter((s) => s.ev === ev && s.name === n).length;
  return { seen, synced, events, has, count };
}

function metricsRecorder() {
  const restarts: Partial<Record<RestartReason, number>> = {};
  const diffs: number[] = [];
  const callbackErrors: string[] = [];
  const m: InformerMetrics = {
    restarts: (_gvr, reason = 'error') => {
      restarts[reason] = (restarts[reason] ?? 0) + 1;
    },
    relistDiff: (_gvr, n) => void diffs.push(n),
    callbackError: (_gvr, ev) => void callbackErrors.push(ev),
  };
  const total = () => Object.values(restarts).reduce((a, b) => a + (b ?? 0), 0);
  return { m, restarts, diffs, callbackErrors, total, diffSum: () => diffs.reduce((a, b) => a + b, 0) };
}

function testLog(lines: string[]): KubeLog {
  const put = (level: string) => (o: object, m: string) => {
    const line = `${level} ${m} ${JSON.stringify(o)}`;
    lines.push(line);
    if (verbose) process.stderr.write(`${line}\n`);
  };
  return { debug: put('debug'), info: put('info'), warn: put('warn'), error: put('error') };
}

interface Running {
  ctl: AbortController;
  done: Promise<void>;
  metrics: ReturnType<typeof metricsRecorder>;
  logs: string[];
}

let running: Running[] = [];
let proxies: Proxy[] = [];

function start(
  opts: Omit<InformerOptions, 'signal'>,
  events: InformerEvents<Obj>,
  extra: { timing?: InformerTiming; kc?: KubeConfig } = {},
): Running {
  const ctl = new AbortController();
  const metrics = metricsRecorder();
  const logs: string[] = [];
  const done = createInformer<Obj>(extra.kc ?? kubeConfig(), { ...opts, signal: ctl.signal }, events, {
    log: testLog(logs),
    metrics: metrics.m,
    timing: { backoff: { initialMs: 200, maxMs: 2_000 }, ...extra.timing },
  });
  const r = { ctl, done, metrics, logs };
  running.push(r);
  return r;
}

afterEach(async () => {
  for (const r of running) r.ctl.abort();
  await Promise.all(running.map((r) => r.done));
  running = [];
  for (const p of proxies) await p.close();
  proxies = [];
});

// ------------------------------------------------------------------ cluster helpers

const core = () => kubeConfig().makeApiClient(CoreV1Api);

async function namespace(): Promise<string> {
  const name = `zen-inf-${randomBytes(4).toString('hex')}`;
  await core().createNamespace({ body: { metadata: { name } } });
  return name;
}

async function createCm(ns: string, name: string, labels?: Record<string, string>): Promise<V1ConfigMap> {
  return core().createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name, ...(labels ? { labels } : {}) }, data: { v: '1' } },
  });
}

async function patchCm(ns: string, name: string, v: string): Promise<V1ConfigMap> {
  // A full replace keeps the test independent of patch content types.
  const cm = await core().readNamespacedConfigMap({ name, namespace: ns });
  return core().replaceNamespacedConfigMap({ name, namespace: ns, body: { ...cm, data: { v } } });
}

const deleteCm = (ns: string, name: string) => core().deleteNamespacedConfigMap({ name, namespace: ns });

const CONFIGMAPS = { group: '', version: 'v1', resource: 'configmaps' } as const;

/** Creates a namespaced CRD `widgets.<group>` (any fields kept) and waits until its watch cache serves watches. */
async function widgetCrd(group: string): Promise<void> {
  const ext = kubeConfig().makeApiClient(ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({
    body: {
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
          },
        ],
      },
    },
  });
  await waitUntil(async () => {
    const crd = await ext.readCustomResourceDefinition({ name: `widgets.${group}` });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
  }, `CRD widgets.${group} Established`);
}

async function deleteCrd(group: string): Promise<void> {
  const ext = kubeConfig().makeApiClient(ApiextensionsV1Api);
  await ext.deleteCustomResourceDefinition({ name: `widgets.${group}` });
  await waitUntil(
    () =>
      ext.readCustomResourceDefinition({ name: `widgets.${group}` }).then(
        () => false,
        (err: { code?: number }) => err.code === 404,
      ),
    `CRD widgets.${group} gone`,
  );
}

async function waitUntil(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const start = now();
  while (!(await cond().catch(() => false))) {
    if (now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function createWidget(group: string, ns: string, name: string, spec: object): Promise<Obj> {
  const conn = new KubeConnection(kubeConfig());
  try {
    return await conn.json<Obj>({
      method: 'POST',
      path: resourcePath({ group, version: 'v1', resource: 'widgets', namespace: ns }),
      body: { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name }, spec },
    });
  } finally {
    await conn.close();
  }
}

async function widgetRequest(group: string, ns: string, name: string, method: 'GET' | 'PUT' | 'DELETE', body?: object) {
  const conn = new KubeConnection(kubeConfig());
  try {
    return await conn.json<Obj>({
      method,
      path: resourcePath({ group, version: 'v1', resource: 'widgets', namespace: ns, name }),
      ...(body ? { body } : {}),
    });
  } finally {
    await conn.close();
  }
}

// ------------------------------------------------------------------ a TCP proxy the test controls

type ProxyMode = 'pass' | 'reset' | 'blackhole' | 'hold';

interface Proxy {
  server: string;
  set(mode: ProxyMode): void;
  close(): Promise<void>;
}

/**
 * Forwards TCP to the API server (TLS passes through untouched; the certificate is valid for 127.0.0.1).
 * reset: destroys every connection and refuses new ones. blackhole: every connection, old and new, goes silent in
 * both directions (no FIN, no RST), as behind a dead NAT; on `pass` they are destroyed. hold: requests (client →
 * server bytes) are buffered until `pass`; responses still flow.
 */
async function tcpProxy(target: string): Promise<Proxy> {
  const url = new URL(target);
  let mode: ProxyMode = 'pass';
  interface Pair {
    client: Socket;
    upstream: Socket;
    held: Buffer[];
    dead: boolean;
  }
  const pairs = new Set<Pair>();
  const server: Server = createServer((client) => {
    if (mode === 'reset') {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(Number(url.port), url.hostname);
    const pair: Pair = { client, upstream, held: [], dead: mode === 'blackhole' };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d: Buffer) => {
      if (pair.dead) return;
      if (mode === 'hold') pair.held.push(d);
      else upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!pair.dead) client.write(d);
    });
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const proxy: Proxy = {
    server: `https://127.0.0.1:${port}`,
    set(next: ProxyMode) {
      mode = next;
      for (const p of [...pairs]) {
        if (next === 'reset' || (next === 'pass' && p.dead)) {
          pairs.delete(p);
          p.client.destroy();
          p.upstream.destroy();
        } else if (next === 'blackhole') {
          p.dead = true;
        } else if (next === 'pass') {
          for (const d of p.held.splice(0)) p.upstream.write(d);
        }
      }
    },
    async close() {
      proxy.set('reset');
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return proxy;
}

async function proxied(): Promise<{ proxy: Proxy; kc: KubeConfig }> {
  const proxy = await tcpProxy(cp!.server);
  proxies.push(proxy);
  return { proxy, kc: kubeConfig(proxy.server) };
}

// ------------------------------------------------------------------ tests

describe('informer on a real kube-apiserver', { skip }, () => {
  test('ConfigMaps: the initial list delivers existing objects and synced; then add, update, delete', async () => {
    const ns = await namespace();
    await createCm(ns, 'a');
    await createCm(ns, 'b');
    const rec = recorder();
    const inf = start({ ...CONFIGMAPS, namespace: ns }, rec.events);
    await waitFor(() => rec.synced.length === 1, 'first synced');
    assert.deepEqual(rec.synced[0], ['a', 'b']);
    assert.deepEqual(rec.seen.map((s) => `${s.ev}:${s.name}`).sort(), ['add:a', 'add:b']);

    await createCm(ns, 'c');
    await waitFor(() => rec.has('add', 'c'), 'add c');
    const before = (await core().readNamespacedConfigMap({ name: 'a', namespace: ns })).metadata?.resourceVersion;
    await patchCm(ns, 'a', '2');
    await waitFor(() => rec.has('update', 'a'), 'update a');
    assert.equal(rec.seen.find((s) => s.ev === 'update')?.old, before, 'update carries the old object');
    await deleteCm(ns, 'b');
    await waitFor(() => rec.has('delete', 'b'), 'delete b');

    assert.equal(rec.synced.length, 1, 'no relist while the watch is healthy');
    assert.equal(inf.metrics.total(), 0, 'no restarts');
    assert.deepEqual(
      rec.seen.map((s) => `${s.ev}:${s.name}`),
      ['add:a', 'add:b', 'add:c', 'update:a', 'delete:b'],
      'each change exactly once, in order',
    );
  });

  test('transform: list pages and watch events are reshaped before the store and the callbacks see them', async () => {
    const ns = await namespace();
    await createCm(ns, 'a');
    const seen: Obj[] = [];
    const synced: Obj[][] = [];
    const ctl = new AbortController();
    const done = createInformer<Obj>(
      kubeConfig(),
      { ...CONFIGMAPS, namespace: ns, signal: ctl.signal },
      { add: (o) => void seen.push(o), update: (o) => void seen.push(o), synced: (all) => void synced.push(all) },
      {
        log: testLog([]),
        // Keep identity only, as the resolver's Observation cache does.
        transform: (o) => {
          const m = (o as Obj).metadata ?? {};
          return { metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion } };
        },
      },
    );
    running.push({ ctl, done, metrics: metricsRecorder(), logs: [] });
    await waitFor(() => synced.length === 1, 'first synced');
    await createCm(ns, 'b');
    await patchCm(ns, 'a', '2');
    await waitFor(() => seen.length === 3, 'add a (list), add b (watch), update a (watch)');
    assert.deepEqual(
      seen.map((o) => o.metadata?.name),
      ['a', 'b', 'a'],
    );
    for (const o of [...seen, ...synced.flat()]) {
      assert.deepEqual(Object.keys(o), ['metadata'], 'no data, kind or apiVersion kept');
      assert.ok(o.metadata?.resourceVersion && o.metadata.uid, 'identity kept');
    }
  });

  test('plugin kube.get (API 1.2.0): the object, undefined on 404, outside WATCH_NAMESPACE refused; counted per verb', async () => {
    const ns = await namespace();
    await createCm(ns, 'one');
    const deps = { kc: kubeConfig(), log: createLogger({ level: 'silent' }), metrics: createMetrics() };
    const kube = createPluginKube({ ...deps, watched: [] });
    const gets = kubeRequestCounts.get('GET') ?? 0;
    const got = await kube.get({ ...CONFIGMAPS, namespace: ns, name: 'one' });
    assert.equal((got?.metadata as { name?: string } | undefined)?.name, 'one');
    assert.equal(await kube.get({ ...CONFIGMAPS, namespace: ns, name: 'nope' }), undefined, '404: undefined');
    assert.ok((kubeRequestCounts.get('GET') ?? 0) >= gets + 2, 'both reads counted as GET');
    const text = await deps.metrics.registry.metrics();
    assert.match(text, /^zen_watcher_kube_requests_total\{verb="GET"\} \d+$/m);
    const restricted = createPluginKube({ ...deps, watched: ['elsewhere'] });
    await assert.rejects(restricted.get({ ...CONFIGMAPS, namespace: ns, name: 'one' }), /outside WATCH_NAMESPACE/);
    await assert.rejects(kube.get({ ...CONFIGMAPS, namespace: ns, name: '' }), /name is empty/);
  });

  test('plugin transform (API 1.2.0): the host keeps identity, pages by bytes; a throwing transform drops the object', async () => {
    const ns = await namespace();
    for (let i = 0; i < 130; i++) await createCm(ns, `cm-${i}`);
    await createCm(ns, 'bad');
    const seen: Obj[] = [];
    const deleted: string[] = [];
    const synced: Obj[][] = [];
    const transformErrors: string[] = [];
    const metrics = metricsRecorder();
    metrics.m.transformError = (gvr) => void transformErrors.push(gvr);
    const lines: string[] = [];
    const ctl = new AbortController();
    const options: InformerOptions = {
      ...CONFIGMAPS,
      namespace: ns,
      signal: ctl.signal,
      // What a plugin keeps: its own mapping, no metadata at all; and it cannot read `bad` while data.v is '1'.
      transform: (o) => {
        const c = o as V1ConfigMap;
        if (c.metadata?.name === 'bad' && c.data?.v === '1') throw new Error('cannot read bad');
        return { v: c.data?.v };
      },
    };
    const done = createInformer<Obj>(
      kubeConfig(),
      options,
      {
        add: (o) => void seen.push(o),
        update: (o) => void seen.push(o),
        delete: (o) => void deleted.push(String(o.metadata?.name)),
        synced: (all) => void synced.push(all),
      },
      {
        log: testLog(lines),
        metrics: metrics.m,
        transform: pluginTransform(options)!,
        // The plugin informers' paging, with a budget small enough for ConfigMaps of ~300 bytes: pages of ~10.
        timing: { ...pluginInformerTiming, pageBytes: 3000 },
      },
    );
    running.push({ ctl, done, metrics, logs: lines });
    await waitFor(() => synced.length === 1, 'first synced');
    assert.equal(PLUGIN_INFORMER_PAGE_SIZE, 500);
    const listedLine = lines.find((l) => l.includes('informer: listed'));
    const pages = Number(/"pages":(\d+)/.exec(listedLine ?? '')?.[1]);
    assert.ok(
      pages >= 8 && pages <= 22,
      `5 first, then about 10 per page by bytes (the list envelope counts too): ${listedLine}`,
    );
    assert.equal(synced[0]!.length, 130, 'two pages listed; `bad` dropped');
    assert.deepEqual(transformErrors, ['core/v1/configmaps'], 'the drop is counted');
    assert.ok(
      lines.some((l) => l.includes('transform failed') && l.includes(`${ns}/bad`)),
      'and logged by name',
    );
    for (const o of synced[0]!) {
      assert.deepEqual(Object.keys(o).sort(), ['metadata', 'v'], 'only what the plugin kept, plus identity');
      assert.deepEqual(Object.keys(o.metadata!).sort(), ['name', 'namespace', 'resourceVersion', 'uid']);
    }
    // Readable now: it arrives; unreadable again: it is gone for the callbacks.
    await patchCm(ns, 'bad', '2');
    await waitFor(() => seen.some((o) => o.metadata?.name === 'bad'), 'bad arrives once readable');
    await patchCm(ns, 'bad', '1');
    await waitFor(() => deleted.includes('bad'), 'bad is deleted for the callbacks once unreadable again');
    assert.equal(transformErrors.length, 2);
    assert.throws(
      () => pluginTransform({ ...options, transform: 'x' as never }),
      /options.transform must be a function/,
    );
  });

  test('namespace, labelSelector and fieldSelector are honoured', async () => {
    const ns = await namespace();
    const other = await namespace();
    await createCm(ns, 'plain');
    await createCm(ns, 'tagged', { app: 'zen' });
    await createCm(other, 'elsewhere', { app: 'zen' });
    const all = recorder();
    const labelled = recorder();
    const allNs = recorder();
    const byName = recorder();
    start({ ...CONFIGMAPS, namespace: ns }, all.events);
    start({ ...CONFIGMAPS, namespace: ns, labelSelector: 'app=zen' }, labelled.events);
    start({ ...CONFIGMAPS, labelSelector: 'app=zen' }, allNs.events);
    start({ ...CONFIGMAPS, namespace: ns, fieldSelector: 'metadata.name=plain' }, byName.events);
    await waitFor(() => [all, labelled, allNs, byName].every((r) => r.synced.length === 1), 'all synced');
    assert.deepEqual(all.synced[0], ['plain', 'tagged']);
    assert.deepEqual(labelled.synced[0], ['tagged']);
    assert.ok(allNs.synced[0]?.includes('tagged') && allNs.synced[0]?.includes('elsewhere'), 'all namespaces');
    assert.ok(!allNs.synced[0]?.includes('plain'));
    assert.deepEqual(byName.synced[0], ['plain']);

    await createCm(ns, 'late-plain');
    await createCm(ns, 'late-tagged', { app: 'zen' });
    await createCm(other, 'late-elsewhere');
    await waitFor(() => all.has('add', 'late-tagged') && labelled.has('add', 'late-tagged'), 'late adds');
    await waitFor(() => allNs.has('add', 'late-tagged'), 'late add, all namespaces');
    await sleep(300);
    assert.ok(all.has('add', 'late-plain'));
    assert.ok(!all.has('add', 'late-elsewhere'), 'other namespace not delivered');
    assert.ok(!labelled.has('add', 'late-plain'), 'unlabelled not delivered');
    assert.ok(!allNs.has('add', 'late-plain') && !allNs.has('add', 'late-elsewhere'));
    assert.ok(!byName.has('add', 'late-plain') && !byName.has('add', 'late-tagged'), 'field selector');
  });

  test('a CRD created by the test: list, synced, add, update, delete', async () => {
    const group = `w${randomBytes(3).toString('hex')}.test.zen.io`;
    await widgetCrd(group);
    const ns = await namespace();
    await createWidget(group, ns, 'w1', { size: 1 });
    const rec = recorder();
    const kinds: string[] = [];
    start(
      { group, version: 'v1', resource: 'widgets', namespace: ns },
      {
        ...rec.events,
        add: (o) => {
          kinds.push(`${(o as { apiVersion?: string }).apiVersion}/${(o as { kind?: string }).kind}`);
          return rec.events.add?.(o);
        },
      },
    );
    // The new CRD's watch cache may answer 429 "storage is (re)initializing" for a moment: the informer retries.
    await waitFor(() => rec.synced.length >= 1, 'synced');
    assert.deepEqual(rec.synced.at(-1), ['w1']);
    await createWidget(group, ns, 'w2', { size: 2 });
    await waitFor(() => rec.has('add', 'w2'), 'add w2');
    const current = await widgetRequest(group, ns, 'w1', 'GET');
    const w1 = await widgetRequest(group, ns, 'w1', 'PUT', { ...current, spec: { size: 10 } });
    assert.equal(w1.spec?.size, 10);
    await waitFor(() => rec.has('update', 'w1'), 'update w1');
    await widgetRequest(group, ns, 'w2', 'DELETE');
    await waitFor(() => rec.has('delete', 'w2'), 'delete w2');
    assert.deepEqual(kinds, [`${group}/v1/Widget`, `${group}/v1/Widget`], 'listed and watched objects look alike');
  });

  test('connections reset: the informer relists and delivers what it missed (relist diff > 0)', async () => {
    const ns = await namespace();
    for (const n of ['keep', 'gone', 'changed']) await createCm(ns, n);
    const { proxy, kc } = await proxied();
    const rec = recorder();
    const inf = start({ ...CONFIGMAPS, namespace: ns }, rec.events, { kc });
    await waitFor(() => rec.synced.length === 1, 'first synced');

    proxy.set('reset');
    await waitFor(() => (inf.metrics.restarts.error ?? 0) >= 1, 'watch failure noticed');
    await createCm(ns, 'new');
    await deleteCm(ns, 'gone');
    await patchCm(ns, 'changed', '2');
    await sleep(500);
    assert.equal(rec.seen.length, 3, 'nothing delivered while cut off');

    const restoredAt = now();
    proxy.set('pass');
    await waitFor(() => rec.synced.length === 2, 'relist after recovery');
    const latency = now() - restoredAt;
    assert.ok(rec.has('add', 'new') && rec.has('delete', 'gone') && rec.has('update', 'changed'));
    assert.deepEqual(rec.synced[1], ['changed', 'keep', 'new']);
    assert.equal(inf.metrics.diffSum(), 3, 'relist differences: 1 add + 1 delete + 1 update');
    assert.equal(rec.count('add', 'keep'), 1, 'unchanged objects are not re-delivered');

    // Watching again after the relist: a later change arrives through the watch.
    await createCm(ns, 'after');
    await waitFor(() => rec.has('add', 'after'), 'add after recovery');
    console.log(
      `# recovery: restore → relist synced ${latency.toFixed(0)} ms; restarts ${JSON.stringify(inf.metrics.restarts)}`,
    );
  });

  test('stall detection: a silent connection is abandoned after stallTimeoutMs and the informer relists', async () => {
    const ns = await namespace();
    await createCm(ns, 'a');
    const { proxy, kc } = await proxied();
    const rec = recorder();
    const stallTimeoutMs = 1_500;
    const inf = start({ ...CONFIGMAPS, namespace: ns }, rec.events, {
      kc,
      timing: { stallTimeoutMs, requestTimeoutMs: 1_500 },
    });
    await waitFor(() => rec.synced.length === 1, 'first synced');
    // The server's events for these changes are swallowed by the proxy: the watch hears nothing at all.
    proxy.set('blackhole');
    const cutAt = now();
    await createCm(ns, 'during');
    await deleteCm(ns, 'a');
    await waitFor(() => (inf.metrics.restarts.stalled ?? 0) >= 1, 'stall noticed', 10_000);
    const detectMs = now() - cutAt;
    // The timer counts from the last byte received (just before the cut), so detection lands near stallTimeoutMs.
    assert.ok(detectMs <= stallTimeoutMs + 1_000, `detected in ${detectMs} ms`);
    assert.ok(!rec.has('add', 'during'), 'nothing came through the silent connection');
    proxy.set('pass');
    await waitFor(() => rec.synced.length >= 2, 'relist');
    assert.ok(rec.has('add', 'during') && rec.has('delete', 'a'));
    assert.ok(inf.metrics.diffSum() >= 2);
    console.log(`# stall detected ${detectMs.toFixed(0)} ms after the cut (stallTimeoutMs ${stallTimeoutMs})`);
  });

  test('server-side watch end: watches again from the last resourceVersion without a relist', async () => {
    const ns = await namespace();
    const rec = recorder();
    const inf = start({ ...CONFIGMAPS, namespace: ns }, rec.events, {
      timing: { watchTimeoutSeconds: 1, healthyAfterMs: 500 },
    });
    await waitFor(() => rec.synced.length === 1, 'synced');
    await waitFor(() => (inf.metrics.restarts.closed ?? 0) >= 2, 'two server-side closes', 10_000);
    await createCm(ns, 'x');
    await waitFor(() => rec.has('add', 'x'), 'add x');
    await waitFor(() => (inf.metrics.restarts.closed ?? 0) >= 3, 'another close');
    await patchCm(ns, 'x', '2');
    await waitFor(() => rec.has('update', 'x'), 'update x');
    assert.equal(rec.synced.length, 1, 'no relist');
    assert.deepEqual(inf.metrics.diffs, []);
    assert.equal(inf.metrics.total(), inf.metrics.restarts.closed, 'only server-side closes');
  });

  test('a real 410 Gone: watchOnce classifies it, and the informer relists on it', async () => {
    // A CRD's watch cache starts at its creation; any older resourceVersion is "too old" for it.
    const ns = await namespace();
    const older = (await createCm(ns, 'marker')).metadata?.resourceVersion ?? '';
    const group = `g${randomBytes(3).toString('hex')}.test.zen.io`;
    await widgetCrd(group);
    const path = resourcePath({ group, version: 'v1', resource: 'widgets', namespace: ns });
    const conn = new KubeConnection(kubeConfig());
    let end = '';
    await waitUntil(async () => {
      const w = await watchOnce({
        conn,
        path,
        resourceVersion: older,
        timeoutSeconds: 5,
        stallTimeoutMs: 5_000,
        signal: AbortSignal.timeout(5_000),
        onEvent: () => {},
      });
      end = w.end.kind;
      return end !== 'error'; // 404 / 429 while the CRD's storage comes up
    }, 'the CRD serves watches');
    await conn.close();
    assert.equal(end, 'gone');

    // Through the informer: the watch ends when the CRD is deleted (a clean close, so the informer keeps its
    // resourceVersion); the proxy holds its next watch request until the CRD exists again, with a new cache.
    await createWidget(group, ns, 'before', {});
    const { proxy, kc } = await proxied();
    const rec = recorder();
    const inf = start({ group, version: 'v1', resource: 'widgets', namespace: ns }, rec.events, {
      kc,
      timing: { healthyAfterMs: 0 },
    });
    await waitFor(() => rec.synced.length >= 1, 'synced');
    // A just-created CRD can still answer a watch with 404 for a moment (the informer then relists): wait until
    // its watch has stayed up for a second.
    for (let n = -1; n !== inf.metrics.total(); await sleep(1_000)) n = inf.metrics.total();
    const synced = rec.synced.length;
    const closed = inf.metrics.restarts.closed ?? 0;
    proxy.set('hold');
    await deleteCrd(group);
    await waitFor(() => (inf.metrics.restarts.closed ?? 0) > closed, 'watch closed by the CRD deletion');
    await widgetCrd(group);
    await createWidget(group, ns, 'after', {});
    await waitUntil(async () => {
      const c = new KubeConnection(kubeConfig());
      const w = await watchOnce({
        conn: c,
        path,
        resourceVersion: older,
        timeoutSeconds: 5,
        stallTimeoutMs: 5_000,
        signal: AbortSignal.timeout(5_000),
        onEvent: () => {},
      });
      await c.close();
      return w.end.kind === 'gone';
    }, 'the new CRD serves watches');
    proxy.set('pass');
    await waitFor(() => rec.synced.length === synced + 1, 'relist after 410');
    assert.ok((inf.metrics.restarts.gone ?? 0) >= 1, `restarts: ${JSON.stringify(inf.metrics.restarts)}`);
    assert.ok(rec.has('delete', 'before') && rec.has('add', 'after'), 'the relist delivers the difference');
    assert.deepEqual(rec.synced.at(-1), ['after']);
  });

  test('errors in callbacks are logged and counted; the informer goes on', async () => {
    const ns = await namespace();
    await createCm(ns, 'a');
    const rec = recorder();
    const inf = start(
      { ...CONFIGMAPS, namespace: ns },
      {
        ...rec.events,
        add: (o) => {
          rec.events.add?.(o);
          if (o.metadata?.name === 'a') throw new Error('boom (sync)');
        },
        update: async () => {
          throw new Error('boom (async)');
        },
        synced: () => {
          throw new Error('boom (synced)');
        },
      },
    );
    await waitFor(() => rec.has('add', 'a'), 'add a');
    await patchCm(ns, 'a', '2');
    await createCm(ns, 'b');
    await waitFor(() => rec.has('add', 'b'), 'add b after the failures');
    assert.deepEqual(inf.metrics.callbackErrors.sort(), ['add', 'synced', 'update']);
    assert.equal(inf.metrics.total(), 0, 'callback errors do not restart the watch');
    assert.ok(inf.logs.some((l) => l.includes('boom (async)')));
  });

  test('stops promptly on abort: the in-flight watch is aborted and no callback runs afterwards', async () => {
    const ns = await namespace();
    const rec = recorder();
    const inf = start({ ...CONFIGMAPS, namespace: ns }, rec.events);
    await waitFor(() => rec.synced.length === 1, 'synced');
    await sleep(200); // the watch is open and idle
    const t0 = now();
    inf.ctl.abort();
    await inf.done;
    const stopMs = now() - t0;
    assert.ok(stopMs < 500, `stopped in ${stopMs} ms`);
    const n = rec.seen.length;
    await createCm(ns, 'late');
    await sleep(500);
    assert.equal(rec.seen.length, n, 'no callback after abort');

    // Abort while a callback is running: createInformer resolves without waiting for it, and nothing follows.
    await createCm(ns, 'x1');
    await createCm(ns, 'x2');
    const rec2 = recorder();
    let release = (): void => {};
    const inf2 = start(
      { ...CONFIGMAPS, namespace: ns },
      {
        ...rec2.events,
        add: (o) => {
          rec2.events.add?.(o);
          return new Promise<void>((r) => {
            release = r;
          });
        },
      },
    );
    await waitFor(() => rec2.seen.length === 1, 'first add running');
    const t1 = now();
    inf2.ctl.abort();
    await inf2.done;
    assert.ok(now() - t1 < 500, 'resolves without waiting for the stuck callback');
    release();
    await sleep(200);
    assert.equal(rec2.seen.length, 1, 'no further callbacks');
    assert.equal(rec2.synced.length, 0);
    console.log(`# stop: abort → resolved ${stopMs.toFixed(1)} ms with an idle watch open`);
  });
});

describe('kube client on a real kube-apiserver', { skip }, () => {
  test('checkReachable: the server version; a bad token is a clear error', async () => {
    const kc = loadKubeConfig({ kubeconfigPath: cp!.kubeconfigPath });
    const v = await checkReachable(kc, 5_000);
    assert.match(v.gitVersion, /^v\d+\.\d+/);
    const bad = kubeConfig();
    bad.loadFromOptions({
      clusters: bad.clusters,
      users: bad.users.map((u) => ({ ...u, token: 'wrong-token' })),
      contexts: bad.contexts,
      currentContext: bad.currentContext,
    });
    await assert.rejects(checkReachable(bad, 5_000), (err: unknown) => {
      assert.ok(err instanceof KubeUnreachableError);
      assert.equal(err.apiStatus, 401);
      assert.match(err.message, /rejected our credentials/);
      assert.ok(err.message.includes(cp!.server || err.server));
      return true;
    });
  });

  test('hasResource: discovery, cached at most DISCOVERY_CACHE_MS', async () => {
    const kc = kubeConfig();
    assert.equal(await hasResource(kc, '', 'v1', 'configmaps'), true);
    assert.equal(await hasResource(kc, '', 'v1', 'nothings'), false);
    assert.equal(await hasResource(kc, 'coordination.k8s.io', 'v1', 'leases'), true);
    const group = `d${randomBytes(3).toString('hex')}.test.zen.io`;
    assert.equal(await hasResource(kc, group, 'v1', 'widgets'), false, 'group not served: false, not an error');
    await widgetCrd(group);
    assert.equal(await hasResource(kc, group, 'v1', 'widgets'), false, 'cached answer (< 10 s old)');
    // The API server serves a new group's discovery document shortly after the CRD is Established (its discovery
    // controller adds it asynchronously): each try is a later "now", so every one is past the cache.
    let served = false;
    for (let i = 1; i <= 50 && !served; i++) {
      served = await hasResource(kc, group, 'v1', 'widgets', () => Date.now() + i * (DISCOVERY_CACHE_MS + 1_000));
      if (!served) await sleep(200);
    }
    assert.equal(served, true, 're-checked once the cache is stale (within 10 s of Established)');
    assert.equal(await hasResource(kubeConfig(), group, 'v1', 'widgets'), true, 'cache is per KubeConfig');
  });
});
