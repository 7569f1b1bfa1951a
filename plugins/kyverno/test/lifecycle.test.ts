/**
 * The plugin against a hand-made PluginApi (no kit): what it logs and counts when a CRD is missing and when it
 * appears, how Ingester changes restart the watches during a term, that followers do nothing, and that discovery
 * errors are retried.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  InformerEvents,
  InformerOptions,
  IngesterChange,
  IngesterView,
  LeaderTerm,
  PluginApi,
  PluginLogger,
} from 'zen-watcher/plugin-api';
import { fakeLeaderWork } from 'zen-watcher/testkit';
import plugin from '../index.ts';
import { configOf } from './helpers.ts';

interface Line {
  level: string;
  msg: string;
  meta: object;
}

function fakeApi(opts: {
  served: Set<string>;
  ingesters: IngesterView[];
  failDiscovery?: () => boolean;
  /** Reconciles that report `dropped: 1` (writes that failed for good in the host). */
  drops?: { n: number };
  /** `api.kube.watchNamespaces` (the host's WATCH_NAMESPACE). */
  watchNamespaces?: string[];
  /** `api.kube.get` calls that fail (connection refused). */
  getFails?: { n: number };
}) {
  const taps = new Map<string, (arg: unknown) => Promise<unknown>>();
  const lines: Line[] = [];
  const gauges = new Map<string, number>();
  const counters = new Map<string, number>();
  const informers: { options: InformerOptions; events: InformerEvents<unknown> }[] = [];
  const reconciles: { scope: string; n: number }[] = [];
  const sweeps: string[][] = [];
  const objects = new Map<string, Record<string, unknown>>();
  const gets = { n: 0 };
  const logger = (base: object): PluginLogger => {
    const at =
      (level: string) =>
      (msg: string, meta: object = {}) =>
        void lines.push({ level, msg, meta: { ...base, ...meta } });
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (m) => logger({ ...base, ...m }),
    };
  };
  const key = (name: string, labels: Record<string, string> = {}) =>
    `${name}{${Object.entries(labels)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}}`;
  const tappable = (name: string) => ({
    tapPromise: (fn: (arg: unknown) => Promise<unknown>) => void taps.set(name, fn),
  });
  const api: PluginApi = {
    // Plugin API 1.2.0: the host's own per-Ingester runner, on this fake's hooks.
    leaderWork: (work) => fakeLeaderWork(api, { retryInitialMs: 60_000 })(work),
    name: 'kyverno',
    version: '1.0.0',
    hostApiVersion: '1.0.0',
    hooks: {
      onStart: tappable('onStart'),
      onBecomeLeader: tappable('onBecomeLeader'),
      onLoseLeadership: tappable('onLoseLeadership'),
      onWebhook: { for: () => tappable('onWebhook') },
      onIngesterChanged: tappable('onIngesterChanged'),
      onObservation: tappable('onObservation'),
      onStop: tappable('onStop'),
    } as unknown as PluginApi['hooks'],
    log: logger({}),
    metrics: {
      counter: (name) => ({
        inc: (labels, n = 1) => void counters.set(key(name, labels), (counters.get(key(name, labels)) ?? 0) + n),
      }),
      gauge: (name) => ({ set: (v, labels) => void gauges.set(key(name, labels), v) }),
    },
    kube: {
      informer: async <T>(options: InformerOptions, events: InformerEvents<T>) => {
        informers.push({ options, events: events as InformerEvents<unknown> });
        await new Promise<void>((r) => options.signal.addEventListener('abort', () => r(), { once: true }));
      },
      hasResource: async (_g, _v, resource) => {
        if (opts.failDiscovery?.()) throw new Error('Discovery: connection refused');
        return opts.served.has(resource);
      },
      get: async ({ resource, namespace, name }) => {
        gets.n++;
        if (opts.getFails && opts.getFails.n > 0) {
          opts.getFails.n--;
          throw new Error('connect ECONNREFUSED');
        }
        return objects.get(`${resource}|${namespace ?? ''}/${name}`);
      },
      watchNamespaces: opts.watchNamespaces ?? [],
    },
    ingesters: () => opts.ingesters,
    emit: async () => ({ created: 0, duplicates: 0, filtered: 0, dropped: 0 }),
    reconcile: async (_i, scope, drafts) => {
      reconciles.push({ scope, n: drafts.length });
      let dropped = 0;
      if (opts.drops && opts.drops.n > 0) {
        opts.drops.n--;
        dropped = 1;
      }
      return { created: 0, duplicates: 0, filtered: 0, dropped, missing: 0, resolved: 0, reactivated: 0 };
    },
    reconcileScopes: async (_i, live) => void sweeps.push([...live]),
    payloadError: () => {
      throw new Error('not used');
    },
    severityOf: () => undefined,
  };
  const call = (hook: string, arg: unknown) => taps.get(hook)!(arg);
  const open = () => informers.filter((i) => !i.options.signal.aborted);
  return { api, call, lines, gauges, counters, informers, open, reconciles, sweeps, objects, gets };
}

const view = (config: Record<string, unknown> = {}, name = 'kyverno'): IngesterView => ({
  namespace: 'zen-system',
  name,
  source: 'kyverno',
  handler: 'kyverno',
  ingester: 'informer',
  config: configOf({ discoveryIntervalSeconds: 1, ...config }), // as the host hands it over
  generation: 1,
});

const controllers: AbortController[] = [];
afterEach(() => {
  for (const c of controllers.splice(0)) c.abort();
});
function term(): LeaderTerm {
  const c = new AbortController();
  controllers.push(c);
  return { signal: c.signal, identity: 'test', startedAt: Date.now() };
}

async function until(what: string, ok: () => boolean, ms = 4_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('lifecycle with a hand-made plugin API', () => {
  test("the informer keeps no drafts: within the budget the transform's are used, over it the report is read again", async () => {
    const f = fakeApi({ served: new Set(['policyreports']), ingesters: [view({ reportKinds: ['PolicyReport'] })] });
    await plugin.register(f.api);
    await f.call('onBecomeLeader', term());
    await until('the watch', () => f.open().length === 1);
    const [polr] = f.open();
    const report = (name: string, fails: number) => ({
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: { name, namespace: 'ns', resourceVersion: '1' },
      scope: { apiVersion: 'v1', kind: 'Pod', name, namespace: 'ns' },
      results: Array.from({ length: fails }, (_, i) => ({ policy: `p${i}`, rule: 'r', result: 'fail' })),
    });
    const small = polr!.options.transform!(report('small', 3)) as Record<string | symbol, unknown>;
    const kept = Object.getOwnPropertySymbols(small).map((k) => small[k] as Record<string, unknown>);
    assert.equal(kept[0]!.drafts, undefined, 'no drafts in what the informer stores');
    await polr!.events.add!(small);
    assert.deepEqual(f.reconciles.at(-1), { scope: 'target:["v1","Pod","ns","small"]', n: 3 });
    assert.equal(f.gets.n, 0, 'the drafts the transform mapped were used');

    // Over the budget of drafts waiting for their reconcile: only the signature is kept; the report is read again.
    const big = report('big', 5_001);
    f.objects.set('policyreports|ns/big', big);
    await polr!.events.add!(polr!.options.transform!(big));
    assert.equal(f.gets.n, 1);
    assert.equal(f.reconciles.at(-1)!.n, 5_001);
  });

  test('a report that cannot be read again is not reconciled without its findings: counted, logged, retried', async () => {
    const getFails = { n: 1 };
    const f = fakeApi({
      served: new Set(['policyreports']),
      ingesters: [view({ reportKinds: ['PolicyReport'] })],
      getFails,
    });
    await plugin.register(f.api);
    await f.call('onBecomeLeader', term());
    await until('the watch', () => f.open().length === 1);
    const [polr] = f.open();
    const big = {
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: { name: 'big', namespace: 'ns', resourceVersion: '1' },
      scope: { apiVersion: 'v1', kind: 'Pod', name: 'big', namespace: 'ns' },
      results: Array.from({ length: 5_001 }, (_, i) => ({ policy: `p${i}`, rule: 'r', result: 'fail' })),
    };
    f.objects.set('policyreports|ns/big', big);
    await polr!.events.add!(polr!.options.transform!(big)); // over the draft budget: read again, which fails
    assert.equal(f.gets.n, 1);
    assert.equal(f.reconciles.length, 0, 'not reconciled without the report’s findings');
    assert.equal(f.counters.get('kyverno_errors_total{reason=read_failed,source=kyverno}'), 1);
    assert.ok(f.lines.some((l) => l.level === 'warn' && l.msg.startsWith('read failed')));
    await until('the retry (1 s later)', () => f.reconciles.length === 1);
    assert.equal(f.gets.n, 2);
    assert.equal(f.reconciles[0]!.n, 5_001);
  });

  test('a missing CRD is logged once and reported as kyverno_crd_available 0; when it appears: 1, logged, watched', async () => {
    const served = new Set(['policyreports', 'clusterpolicyreports']);
    const f = fakeApi({ served, ingesters: [view()] });
    await plugin.register(f.api);
    await f.call('onBecomeLeader', term());
    await until('discovery', () => f.gauges.size === 4);
    assert.equal(f.gauges.get('kyverno_crd_available{resource=policyreports.wgpolicyk8s.io}'), 1);
    assert.equal(f.gauges.get('kyverno_crd_available{resource=clusterpolicyreports.wgpolicyk8s.io}'), 1);
    assert.equal(f.gauges.get('kyverno_crd_available{resource=reports.openreports.io}'), 0);
    assert.equal(f.gauges.get('kyverno_crd_available{resource=clusterreports.openreports.io}'), 0);
    const warns = f.lines.filter((l) => l.level === 'warn');
    assert.deepEqual(warns.map((l) => (l.meta as { resource?: string }).resource).sort(), [
      'clusterreports.openreports.io',
      'reports.openreports.io',
    ]);
    assert.match(warns[0]!.msg, /is not served: .*checking again every 1s/);
    assert.deepEqual(
      f
        .open()
        .map((i) => i.options.resource)
        .sort(),
      ['clusterpolicyreports', 'policyreports'],
    );
    // Still missing after another poll: not logged again.
    await sleep(1_200);
    assert.equal(f.lines.filter((l) => l.level === 'warn').length, 2);

    served.add('reports');
    await until('reports watched', () => f.open().some((i) => i.options.resource === 'reports'));
    assert.equal(f.gauges.get('kyverno_crd_available{resource=reports.openreports.io}'), 1);
    assert.ok(f.lines.some((l) => l.level === 'info' && /reports\.openreports\.io .* is served now/.test(l.msg)));
  });

  test('the orphan sweep waits for discovery and for every watch to list, with the live scopes of all kinds', async () => {
    const f = fakeApi({ served: new Set(['policyreports', 'clusterreports']), ingesters: [view()] });
    await plugin.register(f.api);
    await f.call('onBecomeLeader', term());
    await until('two watches', () => f.open().length === 2);
    const [polr, creps] = ['policyreports', 'clusterreports'].map(
      (r) => f.open().find((i) => i.options.resource === r)!,
    );
    await polr!.events.synced?.([
      {
        metadata: { name: 'a', namespace: 'ns' },
        scope: { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'ns' },
      },
    ]);
    assert.equal(f.sweeps.length, 0, 'clusterreports has not listed yet');
    await creps!.events.synced?.([
      { metadata: { name: 'b' }, scope: { apiVersion: 'v1', kind: 'Namespace', name: 'ns' } },
    ]);
    assert.equal(f.sweeps.length, 1);
    assert.equal(f.sweeps[0]!.length, 2);
    assert.ok(f.sweeps[0]!.every((s) => s.startsWith('target:')));
    // Every later complete relist sweeps again.
    await polr!.events.synced?.([]);
    assert.equal(f.sweeps.length, 2);
    assert.equal(f.sweeps[1]!.length, 1);
  });

  test('a report whose findings were dropped is reconciled again on its next delivery, even unchanged', async () => {
    const drops = { n: 1 };
    const f = fakeApi({ served: new Set(['policyreports']), ingesters: [view()], drops });
    await plugin.register(f.api);
    await f.call('onBecomeLeader', term());
    await until('the watch', () => f.open().length === 1);
    const polr = f.open()[0]!;
    const report = {
      metadata: { name: 'a', namespace: 'ns', resourceVersion: '7' },
      scope: { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'ns' },
      results: [{ policy: 'p', rule: 'r', result: 'fail', severity: 'high', message: 'm' }],
    };
    await polr.events.add?.(report);
    assert.equal(f.reconciles.length, 1);
    // The drop is logged; the host's retry (not due yet in this test) would reconcile it again too.
    assert.ok(
      f.lines.some((l) => l.level === 'warn' && /the host retries it/.test(l.msg)),
      JSON.stringify(f.lines.map((l) => l.msg)),
    );
    await polr.events.update?.(report, report);
    assert.equal(f.reconciles.length, 2, 'the same version again: reconciled, because the first was not written');
    await polr.events.update?.(report, report);
    assert.equal(f.reconciles.length, 2, 'once written, the same version is not reconciled again');
  });

  test('no report CRD at all: one sweep with no live scope (their reports are gone)', async () => {
    const f = fakeApi({ served: new Set(), ingesters: [view()] });
    await plugin.register(f.api);
    await f.call('onBecomeLeader', term());
    await until('sweep', () => f.sweeps.length === 1);
    assert.deepEqual(f.sweeps[0], []);
    await sleep(1_200);
    assert.equal(f.sweeps.length, 1, 'not repeated on every poll');
  });

  test('discovery errors are logged, counted and retried; no sweep while a kind is unknown', async () => {
    let failing = true;
    const f = fakeApi({ served: new Set(['policyreports']), ingesters: [view()], failDiscovery: () => failing });
    await plugin.register(f.api);
    await f.call('onBecomeLeader', term());
    await until(
      'errors',
      () => (f.counters.get('kyverno_errors_total{reason=discovery_failed,source=kyverno}') ?? 0) >= 4,
    );
    assert.equal(f.open().length, 0);
    assert.equal(f.sweeps.length, 0);
    failing = false;
    await until('recovered', () => f.open().length === 1);
  });

  test('Ingester changes during a term restart its watches; removal stops them; followers ignore changes', async () => {
    const all = new Set(['policyreports', 'clusterpolicyreports', 'reports', 'clusterreports']);
    const v1 = view({ reportKinds: ['PolicyReport'] });
    const f = fakeApi({ served: all, ingesters: [v1] });
    await plugin.register(f.api);
    const change = (c: IngesterChange) => f.call('onIngesterChanged', c);

    await change({ type: 'added', ingester: view({}, 'other') });
    await sleep(50);
    assert.equal(f.informers.length, 0, 'a follower starts nothing');

    const t = term();
    await f.call('onBecomeLeader', t);
    await until('one watch', () => f.open().length === 1);
    const first = f.open()[0]!;

    const v2 = { ...view({ reportKinds: ['Report', 'ClusterReport'] }), generation: 2 };
    await change({ type: 'updated', ingester: v2, previous: v1 });
    await until('restarted', () => f.open().length === 2);
    assert.ok(first.options.signal.aborted, 'the old watch stopped');
    assert.deepEqual(
      f
        .open()
        .map((i) => i.options.resource)
        .sort(),
      ['clusterreports', 'reports'],
    );

    await change({ type: 'added', ingester: view({ reportKinds: ['ClusterPolicyReport'] }, 'second') });
    await until('second Ingester', () => f.open().length === 3);
    await change({ type: 'removed', ingester: v2 });
    assert.deepEqual(
      f.open().map((i) => i.options.resource),
      ['clusterpolicyreports'],
    );
    // Not a kyverno informer Ingester: ignored.
    await change({ type: 'added', ingester: { ...view({}, 'web'), handler: 'webhook', ingester: 'webhook' } });
    await sleep(50);
    assert.equal(f.open().length, 1);

    controllers.at(-1)!.abort(); // the term ends (the host aborts its signal when leadership is lost)
    assert.equal(f.open().length, 0, 'every watch stops with leadership');
    await change({ type: 'added', ingester: view({}, 'third') });
    await sleep(50);
    assert.equal(f.open().length, 0);
  });

  test('WATCH_NAMESPACE set: cluster-scoped kinds are left out (logged); namespaced ones are watched', async () => {
    const f = fakeApi({
      served: new Set(['policyreports', 'clusterpolicyreports', 'reports', 'clusterreports']),
      ingesters: [view()],
      watchNamespaces: ['shop', 'payments'],
    });
    await plugin.register(f.api);
    await f.call('onBecomeLeader', term());
    await until('watches', () => f.open().length === 2);
    assert.deepEqual(
      f
        .open()
        .map((i) => i.options.resource)
        .sort(),
      ['policyreports', 'reports'],
    );
    assert.ok(
      f.lines.some((l) => l.level === 'warn' && /ClusterPolicyReport and ClusterReport not watched/.test(l.msg)),
    );
  });

  test('events after the term ended do nothing', async () => {
    const f = fakeApi({ served: new Set(['policyreports']), ingesters: [view()] });
    await plugin.register(f.api);
    const t = term();
    await f.call('onBecomeLeader', t);
    await until('watch', () => f.open().length === 1);
    const inf = f.open()[0]!;
    controllers.at(-1)!.abort();
    await inf.events.add?.({ metadata: { name: 'x', namespace: 'n' }, results: [{ policy: 'p', result: 'fail' }] });
    assert.equal(f.reconciles.length, 0);
  });
});
