/**
 * The leader runtime against a recording fake of the plugin API (what the test kit cannot drive): Ingester
 * changes while leading, the end of a term, per-namespace partitions under WATCH_NAMESPACE, discovery failures,
 * retries of failed reconciles (by the host's leaderWork runner, on this fake), and calls saved when nothing changed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import plugin from '../index.ts';
import { fake, leading, reconcileSizes, report, settle, term, view } from './fake-api.ts';
import { clone } from './helpers.ts';

describe('hooks (index.ts)', () => {
  test('onBecomeLeader starts every trivy Ingester; the end of the term stops all informers', async () => {
    const f = fake();
    f.views.push(view('a'), view('b', { reportKinds: ['VulnerabilityReport', 'ConfigAuditReport'] }));
    await plugin.register(f.api);
    const t = term();
    await f.taps.leader!(t.term);
    await settle();
    assert.deepEqual(
      f.open().map((i) => i.options.resource),
      ['vulnerabilityreports', 'vulnerabilityreports', 'configauditreports'],
    );
    t.end();
    await settle();
    assert.equal(f.open().length, 0);
  });

  test('onIngesterChanged while leading: added starts, updated restarts with the new config, removed stops', async () => {
    const f = fake();
    await plugin.register(f.api);
    const t = term();
    await f.taps.leader!(t.term);
    await settle();
    assert.equal(f.open().length, 0);

    const v1 = view('x');
    await f.taps.changed!({ type: 'added', ingester: v1 });
    await settle();
    assert.deepEqual(
      f.open().map((i) => i.options.resource),
      ['vulnerabilityreports'],
    );
    const first = f.open()[0]!;

    const v2 = view('x', { reportKinds: ['ExposedSecretReport'] }, { generation: 2, informer: { namespace: 'shop' } });
    await f.taps.changed!({ type: 'updated', ingester: v2, previous: v1 });
    await settle();
    assert.ok(first.options.signal.aborted, 'the old informer stopped');
    assert.deepEqual(
      f.open().map((i) => [i.options.resource, i.options.namespace]),
      [['exposedsecretreports', 'shop']],
    );

    await f.taps.changed!({ type: 'removed', ingester: v2 });
    await settle();
    assert.equal(f.open().length, 0);
    t.end();
  });

  test('onIngesterChanged when not leading is ignored; standalone (no kube) is a warning, not an error', async () => {
    const f = fake();
    await plugin.register(f.api);
    await f.taps.changed!({ type: 'added', ingester: view('x') });
    await settle();
    assert.equal(f.informers.length, 0);

    const g = fake({ kube: false });
    g.views.push(view('x'));
    await plugin.register(g.api);
    await g.taps.leader!(term().term);
    assert.match(g.warnings.join('\n'), /standalone/);
  });
});

describe('TrivyController', () => {
  test('WATCH_NAMESPACE: one informer per namespace; each synced is complete for its namespace only', async () => {
    const { f, t } = await leading(
      [view('w', { reportKinds: ['VulnerabilityReport', 'ClusterVulnerabilityReport'] })],
      {
        prepare: (f) => f.served.add('clustervulnerabilityreports'),
        controller: { watchNamespaces: ['a', 'b'] },
      },
    );
    const [ia, ib] = f.open('vulnerabilityreports');
    assert.deepEqual(
      f.open().map((i) => i.options.namespace),
      ['a', 'b'],
      'cluster-scoped kinds are skipped under WATCH_NAMESPACE',
    );
    assert.match(f.warnings.join('\n'), /ClusterVulnerabilityReport is cluster-scoped/);

    const ra = report('ra', 'a', ['CVE-1']);
    const rb = report('rb', 'b', ['CVE-2']);
    await ia!.events.add!(ra);
    await ia!.events.synced!([ra]);
    assert.deepEqual(
      f.calls.filter((x) => x.type === 'scopes'),
      [],
      'namespace b has not listed yet',
    );
    await ib!.events.add!(rb);
    await ib!.events.synced!([rb]);
    assert.deepEqual(
      f.calls.filter((x) => x.type === 'scopes'),
      [
        {
          type: 'scopes',
          ingester: 'w',
          live: ['VulnerabilityReport/replicaset/a/ra/', 'VulnerabilityReport/replicaset/b/rb/'],
        },
      ],
    );
    // A relist of namespace a alone (without ra) touches a's scope only.
    f.calls.length = 0;
    await ia!.events.synced!([]);
    assert.deepEqual(f.calls, [
      { type: 'reconcile', ingester: 'w', scope: 'VulnerabilityReport/replicaset/a/ra/', fingerprints: [] },
      { type: 'scopes', ingester: 'w', live: ['VulnerabilityReport/replicaset/b/rb/'] },
    ]);
    t.end();
  });

  test('no API call when a report changes without changing its findings', async () => {
    const { f, t } = await leading([view('w')]);
    const [i] = f.open();
    const r = report('r', 'n', ['CVE-1', 'CVE-2']);
    await i!.events.add!(r);
    await i!.events.synced!([r]);
    assert.deepEqual(
      f.calls.map((x) => x.type),
      ['reconcile', 'scopes'],
    );
    f.calls.length = 0;
    const annotated = clone(r);
    annotated.metadata!.annotations = { touched: 'yes' };
    (annotated.report!.vulnerabilities as Record<string, unknown>[]).reverse();
    await i!.events.update!(annotated, r);
    assert.deepEqual(f.calls, [], 'same findings (in another order): nothing to reconcile');
    await i!.events.delete!(annotated);
    await i!.events.add!(annotated);
    assert.deepEqual(
      reconcileSizes(f.calls),
      [0, 2],
      'delete → [], re-create → the set again (the host absorbs it in its grace period)',
    );
    t.end();
  });

  test('the informer keeps no drafts; over the draft budget the reconcile reads the report again', async () => {
    const { f, t } = await leading([view('w')], { controller: { draftBudget: 0 } });
    const [i] = f.open();
    const r = report('r', 'n', ['CVE-1', 'CVE-2']);
    const slim = i!.options.transform!(clone(r)) as Record<string | symbol, unknown>;
    const kept = Object.getOwnPropertySymbols(slim).map((k) => slim[k] as Record<string, unknown>);
    assert.equal(kept.length, 1);
    assert.equal(kept[0]!.drafts, undefined, 'no drafts in what the informer stores');
    assert.equal(typeof kept[0]!.sig, 'string');
    assert.ok(JSON.stringify([slim, kept]).length < 1024, 'under 1 KB kept per report');

    f.objects.set('vulnerabilityreports|n/r', r);
    await i!.events.add!(slim);
    await i!.events.synced!([slim]);
    assert.equal(f.gets.n, 1, 'read once, for its reconcile');
    assert.deepEqual(reconcileSizes(f.calls), [2, -1]);
    f.calls.length = 0;
    await i!.events.synced!([i!.options.transform!(clone(r))]);
    assert.equal(f.gets.n, 1, 'an unchanged relist reads nothing');
    assert.deepEqual(
      f.calls.filter((x) => x.type === 'reconcile'),
      [],
      'and reconciles nothing (reconcileScopes only, after every relist)',
    );
    f.calls.length = 0;

    // A read that fails: the scope is not reconciled without the report's findings, but again a bit later.
    const r2 = report('r', 'n', ['CVE-1', 'CVE-2', 'CVE-3']);
    f.objects.set('vulnerabilityreports|n/r', r2);
    f.getFails.n = 1;
    await i!.events.update!(i!.options.transform!(clone(r2)), slim);
    assert.deepEqual(f.calls, [], 'no reconcile with a report that could not be read');
    for (let k = 0; k < 100 && f.calls.length === 0; k++) await sleep(50);
    assert.equal(f.gets.n, 3, 'the failed read, then the retry');
    assert.deepEqual(reconcileSizes(f.calls), [3]);
    t.end();
  });

  test('within the draft budget the drafts mapped by the transform are used, not read again', async () => {
    const { f, t } = await leading([view('w')]);
    const [i] = f.open();
    const r = report('r', 'n', ['CVE-1', 'CVE-2']);
    await i!.events.add!(i!.options.transform!(clone(r)));
    assert.equal(f.gets.n, 0);
    assert.deepEqual(reconcileSizes(f.calls), [2]);
    t.end();
  });

  for (const [what, fault] of [
    ['a failed reconcile is retried with backoff until it succeeds', 'reconcileFails'],
    ['a reconcile whose writes were dropped is not done: it is retried until nothing is dropped', 'reconcileDrops'],
  ] as const) {
    test(what, async () => {
      const { f, t } = await leading([view('w')], { fake: { retryInitialMs: 5, retryMaxMs: 20 } });
      f[fault].n = 2;
      await f.open()[0]!.events.add!(report('r', 'n', ['CVE-1']));
      for (let i = 0; i < 50 && f.calls.length < 3; i++) await sleep(5);
      assert.equal(f.calls.length, 3, 'two failed reconciles, then a complete one');
      await sleep(50);
      assert.equal(f.calls.length, 3, 'nothing more once it succeeded');
      t.end();
    });
  }

  test('discovery failure: the kind is checked again later; reconcileScopes waits for it', async () => {
    const { f, t } = await leading([view('w', { reportKinds: ['VulnerabilityReport', 'ConfigAuditReport'] })], {
      prepare: (f) => {
        f.discoveryFails.n = 1;
      },
      controller: { crdRecheckMs: 20 },
    });
    const first = f.open();
    assert.equal(first.length, 1, 'one kind watched, the other unknown');
    await first[0]!.events.synced!([]);
    assert.deepEqual(f.calls, [], 'no reconcileScopes while a kind is unknown');
    for (let i = 0; i < 40 && f.open().length < 2; i++) await sleep(5);
    assert.equal(f.open().length, 2, 'the recheck found the CRD and started watching');
    const second = f.open().find((i) => i !== first[0])!;
    await second.events.synced!([]);
    assert.deepEqual(f.calls, [{ type: 'scopes', ingester: 'w', live: [] }]);
    t.end();
  });

  test('a CRD that is not served: warned once, then a later install is picked up', async () => {
    const { f, t } = await leading([view('w', { reportKinds: ['ConfigAuditReport'] })], {
      prepare: (f) => f.served.delete('configauditreports'),
      controller: { crdRecheckMs: 10 },
    });
    assert.equal(f.open().length, 0);
    assert.deepEqual(f.calls, [{ type: 'scopes', ingester: 'w', live: [] }], 'nothing to watch: nothing is live');
    await sleep(50);
    assert.equal(f.warnings.filter((w) => /not served/.test(w)).length, 1, 'warned once despite rechecks');
    f.served.add('configauditreports');
    for (let i = 0; i < 40 && f.open().length < 1; i++) await sleep(5);
    assert.equal(f.open().length, 1);
    t.end();
    await settle();
    assert.equal(f.open().length, 0);
  });

  test('callbacks never throw, whatever the objects; an informer that fails to start is logged', async () => {
    const { f, t } = await leading([view('w')], {
      prepare: (f) => {
        const kube = f.api.kube!;
        const original = kube.informer.bind(kube);
        let failOnce = true;
        (kube as { informer: typeof kube.informer }).informer = (o, e) => {
          if (failOnce) {
            failOnce = false;
            return Promise.reject(new Error("namespace 'x' is outside WATCH_NAMESPACE"));
          }
          return original(o, e);
        };
      },
    });
    assert.match(f.warnings.join('\n'), /informer stopped/);
    await f.taps.changed!({ type: 'updated', ingester: view('w'), previous: view('w') });
    await settle();
    const ev = f.open()[0]!.events;
    for (const junk of [null, 1, 'x', [], {}, { metadata: 5 }, { metadata: { name: 'a' }, report: [] }]) {
      await ev.add!(junk);
      await ev.update!(junk, undefined);
      await ev.delete!(junk);
    }
    await ev.synced!(null as unknown as unknown[]);
    await ev.synced!([null, { metadata: { name: 'r', namespace: 'n' }, report: { vulnerabilities: 'x' } }]);
    t.end();
  });
});
