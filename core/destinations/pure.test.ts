/**
 * The pure decisions of delivery: which event an Observation is due for (kubernetes state), routing filters, the
 * routes as SQL (standalone), backoff bounds, idempotency keys.
 */
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { dueEvent } from './kube-state.ts';
import { backoffMs } from './lane.ts';
import { type Route, routeMatches, routesByDestination } from './routes.ts';
import { routeSql } from './sqlite-outbox.ts';
import { idempotencyKey } from './state.ts';

describe('dueEvent: the event an Observation is due for, from its phase and the last delivered version', () => {
  const cases: [string, string | undefined, string | undefined, string | undefined, string | undefined][] = [
    // [what, phase, resolvedAt, delivered, due version]
    ['new and active', undefined, undefined, undefined, 'F'],
    ['active, firing delivered', 'Active', undefined, 'F', undefined],
    ['resolved, firing delivered', 'Resolved', 't1', 'F', 'R/t1'],
    ['resolved, resolution delivered', 'Resolved', 't1', 'R/t1', undefined],
    ['re-opened after t1', 'Active', undefined, 'R/t1', 'F/t1'],
    ['re-opened, firing delivered', 'Active', undefined, 'F/t1', undefined],
    ['resolved again at t2', 'Resolved', 't2', 'F/t1', 'R/t2'],
    ['resolved before any delivery', 'Resolved', 't1', undefined, 'R/t1'],
  ];
  for (const [what, phase, resolvedAt, delivered, want] of cases) {
    test(what, () => assert.equal(dueEvent(phase, resolvedAt, delivered)?.version, want));
  }
});

describe('routes', () => {
  const obs = (over: { severity?: string; source?: string; namespace?: string; category?: string } = {}) => ({
    labels: { 'zen.kube-zen.io/ingester': 'ing', 'zen.kube-zen.io/ingester-namespace': 'zen' },
    namespace: over.namespace ?? 'shop',
    spec: {
      source: over.source ?? 'falco',
      severity: (over.severity ?? 'high') as 'high',
      category: (over.category ?? 'security') as 'security',
    } as never,
  });
  const route: Route = { ingester: 'zen/ing', minSeverity: 'high', sources: ['falco'], namespaces: ['shop'] };

  test('every filter must pass; only the Ingester that wrote it routes it', () => {
    assert.ok(routeMatches(route, obs()));
    assert.ok(routeMatches(route, obs({ severity: 'critical' })));
    assert.ok(!routeMatches(route, obs({ severity: 'medium' })));
    assert.ok(!routeMatches(route, obs({ source: 'trivy' })));
    assert.ok(!routeMatches(route, obs({ namespace: 'other' })));
    assert.ok(!routeMatches({ ingester: 'zen/other' }, obs()));
    assert.ok(!routeMatches({ ...route, categories: ['cost'] }, obs()));
  });

  test('the SQL form selects exactly what routeMatches selects', () => {
    const db = new DatabaseSync(':memory:');
    db.exec(
      'CREATE TABLE zw_outbox (seq INTEGER PRIMARY KEY, namespace, name, ingester, source, severity, category, at)',
    );
    const rows: [string, string, string, string, string][] = [];
    for (const severity of ['critical', 'high', 'medium', 'low', 'info'])
      for (const source of ['falco', 'trivy'])
        for (const namespace of ['shop', 'other'])
          for (const ingester of ['zen/ing', 'zen/other'])
            rows.push([namespace, ingester, source, severity, 'security']);
    const insert = db.prepare('INSERT INTO zw_outbox VALUES (?, ?, ?, ?, ?, ?, ?, 0)');
    rows.forEach((r, i) => {
      insert.run(i + 1, r[0], `n${i}`, r[1], r[2], r[3], r[4]);
    });
    const routes: Route[] = [route, { ingester: 'zen/other', minSeverity: 'critical' }];
    const where = routeSql(routes);
    const got = (
      db.prepare(`SELECT seq FROM zw_outbox o WHERE ${where.sql} ORDER BY seq`).all(...where.args) as { seq: number }[]
    ).map((r) => r.seq);
    const want = rows
      .map((r, i) => ({ r, seq: i + 1 }))
      .filter(({ r }) =>
        routes.some((rt) =>
          routeMatches(rt, {
            labels: { 'zen.kube-zen.io/ingester': r[1].split('/')[1]!, 'zen.kube-zen.io/ingester-namespace': 'zen' },
            namespace: r[0],
            spec: { source: r[2], severity: r[3], category: r[4] } as never,
          }),
        ),
      )
      .map((x) => x.seq);
    assert.deepEqual(got, want);
    assert.ok(want.length > 0 && want.length < rows.length);
    assert.equal(routeSql([]).sql, '0', 'no routes: nothing matches');
  });

  test('routesByDestination: uses of type destination, namespace defaulting to the Ingester', () => {
    const ing = (ns: string, name: string, destinations: unknown[]) =>
      ({ key: `${ns}/${name}`, namespace: ns, spec: { destinations } }) as never;
    const m = routesByDestination([
      ing('zen', 'a', [{ type: 'crd' }, { type: 'destination', name: 'am', minSeverity: 'high' }]),
      ing('zen', 'b', [{ type: 'destination', name: 'am', namespace: 'mon' }]),
    ]);
    assert.deepEqual([...m.keys()].sort(), ['mon/am', 'zen/am']);
    assert.deepEqual(m.get('zen/am'), [{ ingester: 'zen/a', minSeverity: 'high' }]);
  });
});

test('backoff doubles from min to max with ±20 % jitter, and honours Retry-After', () => {
  assert.equal(
    backoffMs(1, 1000, 60_000, 0, () => 0.5),
    1000,
  );
  assert.equal(
    backoffMs(3, 1000, 60_000, 0, () => 0.5),
    4000,
  );
  assert.equal(
    backoffMs(30, 1000, 60_000, 0, () => 1),
    60_000,
    'never above max',
  );
  assert.equal(
    backoffMs(1, 1000, 60_000, 0, () => 0),
    800,
  );
  assert.equal(
    backoffMs(1, 1000, 60_000, 30_000, () => 0.5),
    30_000,
  );
});

test('idempotency keys: stable per (destination, Observation, event, version), different otherwise', () => {
  const k = idempotencyKey('zen/am', 'shop', 'falco-1', 'firing');
  assert.match(k, /^[0-9a-f]{32}$/);
  assert.equal(k, idempotencyKey('zen/am', 'shop', 'falco-1', 'firing'));
  assert.notEqual(k, idempotencyKey('zen/slack', 'shop', 'falco-1', 'firing'));
  assert.notEqual(k, idempotencyKey('zen/am', 'shop', 'falco-1', 'resolved'));
  assert.notEqual(k, idempotencyKey('zen/am', 'shop', 'falco-1', 'firing', 'F/t1'));
});
