/**
 * Conformance over the real audit corpus (../shared/fixtures/real/audit or ZEN_REAL_FIXTURES; skipped with the reason
 * when absent, a failure under CI=true). Every .json/.jsonl fixture goes through the test kit (plugin tap + the real
 * pipeline) with the built-in rules; the exact Observations are asserted, and none where none should be.
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { test } from 'node:test';
import { listFiles, readText, requireRealFixtures } from '../../../test/support/fixtures.ts';
import { mapBody } from '../map.ts';
import {
  configOf,
  DEFAULT_CONFIG,
  eventList,
  eventsIn,
  expectedName,
  fingerprintOf,
  INGESTER_NS,
  inOrder,
  load,
  payload,
  SPEC,
  summary,
} from './helpers.ts';
import { REAL_EVENT_COUNTS, REAL_EXPECTED } from './real-expected.ts';

test('real audit fixtures: exact Observations with the built-in rules', async (t) => {
  const dir = requireRealFixtures(t, 'audit');
  if (!dir) return;
  const files = listFiles(dir, /\.jsonl?$/);
  assert.deepEqual(
    files.map((f) => basename(f)).sort(),
    Object.keys(REAL_EXPECTED).sort(),
    'every real fixture has an expectation (and every expectation a fixture)',
  );
  const kit = await load();
  try {
    for (const file of files) {
      const name = basename(file);
      await t.test(name, async () => {
        const { body, jsonLines } = payload(file);
        const expected = REAL_EXPECTED[name]!;
        const { result, observations } = await kit.webhook(body, {
          jsonLines,
          namespace: INGESTER_NS,
          name: `real-${ingesterNameFor(name)}`,
          spec: SPEC,
        });
        assert.equal(result.dropped, 0, 'no draft is refused by the pipeline');
        assert.equal(result.filtered, 0);
        assert.equal(result.created, expected.length);
        assert.equal(observations.length, expected.length);
        const got = inOrder(result.names, observations);
        const events = eventsIn(file);
        got.forEach((o, i) => {
          const e = expected[i]!;
          const event = events.find((ev) => ev.auditID === e.auditID && ev.stage === e.stage)!;
          assert.equal(o.name, expectedName(fingerprintOf(event)), "deterministic name from the request's identity");
          assert.deepEqual(summary(o), {
            rule: e.rule,
            severity: e.severity,
            eventType: `audit_${e.rule.replace(/-/g, '_')}`,
            resource: e.resource,
            namespace: e.resource.namespace ?? INGESTER_NS,
          });
          assert.equal(o.spec.title, e.title);
          assert.equal(o.spec.source, 'audit');
          assert.equal(o.spec.category, 'security');
          assert.equal(o.spec.detectedAt, e.detectedAt);
          const d = o.spec.details!;
          assert.equal(d.auditID, e.auditID);
          assert.equal(d.stage, e.stage);
          assert.equal(typeof d.verb, 'string');
          assert.ok((d.user as { username?: string }).username, 'details.user.username');
          assert.ok(Array.isArray(d.sourceIPs));
          assert.equal(typeof (d.responseStatus as { code?: number }).code, 'number');
          assert.equal(typeof d.requestURI, 'string');
        });
        // Request/response bodies are never copied: ConfigMap data, Secret data, tokens stay out of Observations.
        const text = JSON.stringify(observations);
        assert.doesNotMatch(text, /MY-KEY|aws_secret_access_key|requestObject|responseObject/);
        // Every event is a usable event: nothing counted as invalid.
        const r = mapBody(body, DEFAULT_CONFIG, { jsonLines });
        assert.equal(r.stats.events, REAL_EVENT_COUNTS[name]);
        assert.equal(r.stats.invalid, 0);
        assert.equal(r.refuse, undefined);
      });
    }
  } finally {
    await kit.close();
  }
});

/** A short Ingester name per fixture (one Ingester each, so the in-memory dedup of one cannot hide another). */
function ingesterNameFor(name: string): string {
  return name
    .replace(/\.jsonl?$/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/-+$/, '');
}

test('real audit fixtures: the same events as webhook EventList items (no kind/apiVersion) give the same Observations', async (t) => {
  const dir = requireRealFixtures(t, 'audit');
  if (!dir) return;
  const kit = await load();
  try {
    const files = listFiles(dir, /\.jsonl?$/);
    const items = files
      .flatMap((f) => eventsIn(f))
      .map((e) => {
        const { kind: _k, apiVersion: _a, ...rest } = e;
        return rest;
      });
    assert.equal(items.length, 14);
    const { result, observations } = await kit.webhook(eventList(items), { namespace: INGESTER_NS, spec: SPEC });
    const expected = files.flatMap((f) => REAL_EXPECTED[basename(f)]!);
    assert.equal(result.created, expected.length);
    assert.equal(result.created, 11);
    assert.deepEqual(
      inOrder(result.names, observations).map((o) => [o.spec.details?.rule, o.spec.details?.auditID]),
      expected.map((e) => [e.rule, e.auditID]),
    );
  } finally {
    await kit.close();
  }
});

test('real audit fixtures: configuration changes what they give', async (t) => {
  const dir = requireRealFixtures(t, 'audit');
  if (!dir) return;
  const file = (n: string) => `${dir}/${n}`;
  const drafts = (n: string, config: Record<string, unknown>) => {
    const { body, jsonLines } = payload(file(n));
    return mapBody(body, configOf(config), { jsonLines });
  };
  await t.test('pod-exec off: the exec event gives nothing', () => {
    const r = drafts('event-exec-pod-responsestarted-101.json', { disableRules: ['pod-exec'] });
    assert.equal(r.drafts.length, 0);
    assert.equal(r.stats.unmatched, 1, 'looked at, matched by no remaining rule');
  });
  await t.test('a custom rule without stages decides at ResponseStarted too (the default stages)', () => {
    const r = drafts('event-exec-pod-responsestarted-101.json', {
      rules: [{ name: 'exec', severity: 'high', match: { resources: ['pods/exec'] } }],
    });
    assert.deepEqual(
      r.drafts.map((d) => [d.details?.rule, d.details?.stage]),
      [['exec', 'ResponseStarted']],
    );
  });
  await t.test(
    'stages: [ResponseComplete] chosen explicitly: the exec (ResponseStarted) event is skipped by stage',
    () => {
      const r = drafts('event-exec-pod-responsestarted-101.json', {
        stages: ['ResponseComplete'],
        rules: [{ name: 'exec', severity: 'high', match: { resources: ['pods/exec'] } }],
      });
      assert.equal(r.drafts.length, 0);
      assert.equal(r.stats.stageSkipped, 1);
    },
  );
  await t.test('token Secret by the controller appears once the built-in exclusion is replaced', () => {
    const r = drafts('event-v1-create-serviceaccount-token-secret-by-controller.json', {
      rules: [{ name: 'secret-change', severity: 'info', match: { resources: ['secrets'], verbs: ['create'] } }],
      includeDefaultRules: true,
    });
    assert.equal(r.drafts.length, 1);
    assert.equal(r.drafts[0]!.severity, 'info');
    assert.equal(r.drafts[0]!.details?.rule, 'secret-change');
  });
  await t.test('matchPolicy all: the cluster-admin binding is also an RBAC change', () => {
    const r = drafts('event-create-clusterrolebinding-cluster-admin-requestresponse.json', { matchPolicy: 'all' });
    assert.deepEqual(
      r.drafts.map((d) => [d.details?.rule, d.severity]),
      [
        ['cluster-admin-binding', 'critical'],
        ['rbac-change', 'medium'],
      ],
    );
    assert.notEqual(r.drafts[0]!.fingerprint, r.drafts[1]!.fingerprint);
  });
  await t.test('the privileged pod at Metadata level (no requestObject) is undecided, not matched', () => {
    const event = JSON.parse(readText(file('event-v1beta1-create-privileged-pod-requestresponse.json'))) as Record<
      string,
      unknown
    >;
    delete event.requestObject;
    delete event.responseObject;
    event.level = 'Metadata';
    const r = mapBody(event, DEFAULT_CONFIG);
    assert.equal(r.drafts.length, 0);
    assert.deepEqual(r.stats.undecided, { 'privileged-pod/no_request_object': 1 });
  });
});
