/**
 * The falco plugin on its own fixtures (test/fixtures/, authored for this package on Falco's format): config,
 * error cases, JSON Lines and arrays, resources, details bounds, and the fingerprint / dedup behaviour.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isZwError, type ObservationDraft, type ZwError } from 'zen-watcher/plugin-api';
import type { TestPlugin } from 'zen-watcher/testkit';
import {
  eventTypeOf,
  fingerprintOf,
  fingerprintOfAuditRequest,
  mapBody,
  parseAlert,
  parseK8sUri,
  parseTime,
} from '../map.ts';
import { DEFAULT_CONFIG, INGESTER_NS, inOrder, load, own } from './helpers.ts';

let kit: TestPlugin;
before(async () => {
  kit = await load();
});
after(() => kit.close());

/** A minimal valid alert; override fields per test. */
function alert(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hostname: 'node-1',
    output: '10:00:00.000000000: Warning Something happened (k8s_ns=team k8s_pod=app-0)',
    output_fields: { 'k8s.ns.name': 'team', 'k8s.pod.name': 'app-0', 'proc.name': 'sh' },
    priority: 'Warning',
    rule: 'Something happened',
    source: 'syscall',
    tags: ['container'],
    time: '2025-03-14T10:00:00.000000000Z',
    ...over,
  };
}

async function rejects(body: unknown, field: string, input: Parameters<TestPlugin['webhookDrafts']>[1] = {}) {
  let err: unknown;
  try {
    await kit.webhookDrafts(body, input);
  } catch (e) {
    err = e;
  }
  assert.ok(isZwError(err), `expected a ZwError, got ${String(err)}`);
  const zw = err as ZwError;
  assert.equal(zw.status, 422, zw.message);
  assert.equal(zw.code, 'ZW_ERR_PAYLOAD_INVALID');
  assert.equal(zw.field, field, zw.message);
  return zw;
}

const fp = (d: ObservationDraft | undefined) => d?.fingerprint;
const fieldsOf = (d: ObservationDraft | undefined) => (d?.details?.outputFields ?? {}) as Record<string, unknown>;

describe('own fixtures', () => {
  test('Falcosidekick webhook payload: critical, Pod resource, container details, uuid kept', async () => {
    const { body } = own('falcosidekick-critical-shell-in-pod.json');
    const [d, ...rest] = await kit.webhookDrafts(body);
    assert.equal(rest.length, 0);
    assert.equal(d!.severity, 'critical');
    assert.equal(d!.title, 'Terminal shell in container');
    assert.equal(d!.category, 'security');
    assert.equal(d!.eventType, 'runtime_alert');
    assert.deepEqual(d!.resource, { apiVersion: 'v1', kind: 'Pod', name: 'api-7f9c6b5d8-x2x9q', namespace: 'shop' });
    assert.deepEqual(d!.details?.container, {
      id: '3c1d9e0f7a2b',
      name: 'api',
      image: 'registry.example.test/shop/api:2.4.1',
    });
    assert.equal(d!.details?.uuid, '5b0a37a9-3f37-4e2c-9a43-0f3c3e1f2d11');
    assert.deepEqual(d!.details?.tags, ['T1059', 'container', 'maturity_stable', 'mitre_execution', 'shell']);
    assert.equal((d!.detectedAt as Date).toISOString(), '2025-03-14T08:12:03.120Z');
    assert.match(d!.message!, /A shell was spawned/);
    // The Go encoder's \u003e is just '>' after parsing.
    assert.equal(fieldsOf(d)['proc.cmdline'], 'bash -c id > /tmp/x');
  });

  test('the same alert straight from Falco http_output and through Falcosidekick is one Observation', async () => {
    const direct = own('falco-http-output-critical-shell-in-pod.json').body;
    const viaSidekick = own('falcosidekick-critical-shell-in-pod.json').body;
    const [a] = await kit.webhookDrafts(direct);
    const [b] = await kit.webhookDrafts(viaSidekick);
    assert.equal(fp(a), fp(b));
    assert.equal(a!.details?.uuid, undefined);
    const k = await load();
    try {
      const first = await k.webhook(direct);
      const second = await k.webhook(viaSidekick);
      assert.equal(first.result.created, 1);
      assert.equal(second.result.created, 0);
      assert.equal(second.result.duplicates, 1);
      assert.equal(k.observations().length, 1);
    } finally {
      await k.close();
    }
  });

  test('internal alerts (even Critical ones) are dropped by default, kept as operations with dropInternal: false', async () => {
    for (const file of ['internal-critical-syscall-event-drop.json', 'falcosidekick-test-rule.json']) {
      const { body } = own(file);
      assert.deepEqual(await kit.webhookDrafts(body), [], file);
      assert.deepEqual(await kit.webhookDrafts(body, { config: { dropInternal: true } }), [], file);
      const [d] = await kit.webhookDrafts(body, { config: { dropInternal: false } });
      assert.equal(d!.category, 'operations', file);
      assert.equal(d!.eventType, 'falco_internal', file);
    }
    const [drop] = await kit.webhookDrafts(own('internal-critical-syscall-event-drop.json').body, {
      config: { dropInternal: false },
    });
    assert.equal(drop!.severity, 'critical');
    assert.equal(drop!.title, 'Falco internal: syscall event drop');
  });

  test('all eight Falco priorities map to severities (case-insensitive, `info` accepted)', async () => {
    const { body, jsonLines } = own('alerts-all-priorities.jsonl');
    assert.equal(jsonLines, true);
    const drafts = await kit.webhookDrafts(body, { jsonLines });
    assert.deepEqual(
      drafts.map((d) => d.severity),
      ['critical', 'critical', 'critical', 'high', 'medium', 'low', 'info', 'info'],
    );
    assert.deepEqual(
      drafts.map((d) => d.details?.priority),
      ['Emergency', 'Alert', 'CRITICAL', 'error', 'WARNING', 'Notice', 'info', 'Debug'],
    );
    const { result, observations } = await kit.webhook(body, { jsonLines, namespace: INGESTER_NS });
    assert.equal(result.created, 8);
    const got = inOrder(result.names, observations);
    assert.deepEqual(
      got.map((o) => o.spec.severity),
      ['critical', 'critical', 'critical', 'high', 'medium', 'low', 'info', 'info'],
    );
    assert.ok(got.every((o) => o.namespace === 'prod'));
  });

  test('a JSON array of k8s_audit alerts: resources from ka.target.* and ka.uri', async () => {
    const { body, jsonLines } = own('alerts-array-k8saudit.json');
    assert.equal(jsonLines, false);
    assert.ok(Array.isArray(body));
    const drafts = await kit.webhookDrafts(body);
    assert.deepEqual(
      drafts.map((d) => d.resource),
      [
        { apiVersion: 'v1', kind: 'Secret', name: 'db-password', namespace: 'payments' },
        // create: no name yet; namespace from ka.target.namespace, apiVersion from the uri (query ignored).
        { apiVersion: 'v1', kind: 'Pod', namespace: 'ci' },
        // a custom resource: apiVersion and namespace from the uri, no guessed kind.
        { apiVersion: 'example.test/v1beta1', name: 'widgets-a', namespace: 'team-a' },
      ],
    );
    assert.deepEqual(
      drafts.map((d) => [d.severity, d.eventType]),
      [
        ['medium', 'k8s_audit_alert'],
        ['critical', 'k8s_audit_alert'],
        ['medium', 'k8s_audit_alert'],
      ],
    );
    // A non-scalar output field is kept as bounded JSON text.
    assert.equal(fieldsOf(drafts[1])['ka.req.pod.containers.image'], '["busybox"]');
  });

  test('host process with null / <NA> Kubernetes fields: no resource, nulls kept in details', async () => {
    const [d] = await kit.webhookDrafts(own('alert-host-null-fields.json').body);
    assert.equal(d!.resource, undefined);
    const fields = d!.details?.outputFields as Record<string, unknown>;
    assert.equal(fields['k8s.ns.name'], null);
    assert.equal(fields['container.image.repository'], null);
    assert.deepEqual(d!.details?.container, { id: 'host', name: 'host' });
    const { observations } = await kit.webhook(own('alert-host-null-fields.json').body, { namespace: INGESTER_NS });
    assert.equal(observations[0]?.namespace, INGESTER_NS);
  });

  test('output fields named "__proto__" and "constructor" are kept as fields (null too), stored intact', async () => {
    const text = JSON.stringify(own('falcosidekick-critical-shell-in-pod.json').body);
    for (const proto of ['"p"', 'null']) {
      // As JSON.parse makes it from the wire: "__proto__" is an own key of output_fields.
      const body = JSON.parse(
        text.replace('"output_fields":{', `"output_fields":{"__proto__":${proto},"constructor":"ctor",`),
      ) as Record<string, unknown>;
      const check = (fields: Record<string, unknown>, where: string) => {
        assert.equal(Object.getPrototypeOf(fields), Object.prototype, `${where}: the prototype is untouched`);
        assert.ok(Object.hasOwn(fields, '__proto__'), `${where}: "__proto__" is a field`);
        assert.equal(JSON.stringify(Object.getOwnPropertyDescriptor(fields, '__proto__')?.value), proto, where);
        assert.equal(fields.constructor, 'ctor', where);
      };
      const [d] = await kit.webhookDrafts(body);
      check(fieldsOf(d), 'draft');
      assert.equal(d!.details?.outputFieldsOmitted, 1, 'only evt.time (> 2^53) is omitted');
      // More fields than maxOutputFields (the other way of choosing them): "__proto__" sorts before "constructor".
      const [cut] = await kit.webhookDrafts(body, { config: { maxOutputFields: 15 } });
      check({ ...fieldsOf(cut), constructor: 'ctor' }, 'maxOutputFields');
      assert.equal(Object.hasOwn(fieldsOf(cut), 'constructor'), false);
      assert.equal(cut!.details?.outputFieldsOmitted, 2);
      const k = await load();
      try {
        const { observations } = await k.webhook(body);
        check(observations[0]!.spec.details?.outputFields as Record<string, unknown>, 'stored');
      } finally {
        await k.close();
      }
    }
  });

  test('JSON Lines with a bad second line: the whole request is refused naming [1].priority; nothing written', async () => {
    const k = await load();
    try {
      const { body, jsonLines } = own('alerts-bad-second-line.jsonl');
      let err: unknown;
      try {
        await k.webhook(body, { jsonLines });
      } catch (e) {
        err = e;
      }
      assert.ok(isZwError(err));
      assert.equal((err as ZwError).status, 422);
      assert.equal((err as ZwError).field, '[1].priority');
      assert.match((err as ZwError).message, /JSON Lines document 2/);
      assert.match((err as ZwError).message, /"Verbose"/);
      assert.equal(k.observations().length, 0);
    } finally {
      await k.close();
    }
  });
});

describe('config', () => {
  test('schema defaults are applied by the host', () => {
    const ing = kit.ingester({ name: 'defaults' });
    assert.deepEqual({ ...ing.view.config }, { ...DEFAULT_CONFIG });
    const some = kit.ingester({ name: 'some', config: { minPriority: 'error' } });
    assert.deepEqual({ ...some.view.config }, { ...DEFAULT_CONFIG, minPriority: 'error' });
  });

  test('bad config is refused with the field path', () => {
    const doc = (config: Record<string, unknown>) => ({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 'f', namespace: 'default' },
      spec: { source: 'falco', ingester: 'webhook', webhook: { path: '/ingest/falco' }, config },
    });
    const paths = (config: Record<string, unknown>) => {
      const r = kit.validateIngester(doc(config));
      return r.ok ? [] : r.errors.map((e) => e.path);
    };
    assert.deepEqual(paths({ minPriority: 'Warning', dropInternal: false }), []);
    assert.deepEqual(paths({ minPriority: 'verbose' }), ['spec.config.minPriority']);
    assert.deepEqual(paths({ dropInternal: 'yes' }), ['spec.config.dropInternal']);
    assert.deepEqual(paths({ maxOutputFields: -1 }), ['spec.config.maxOutputFields']);
    assert.deepEqual(paths({ maxValueLength: 1.5 }), ['spec.config.maxValueLength']);
    assert.deepEqual(paths({ maxAlerts: 0 }), ['spec.config.maxAlerts']);
    assert.deepEqual(paths({ severity: 'high' }), ['spec.config.severity']);
  });

  test('minPriority keeps the alert at or above it (Falco order), in any case', async () => {
    const { body, jsonLines } = own('alerts-all-priorities.jsonl');
    const count = async (minPriority: string) =>
      (await kit.webhookDrafts(body, { jsonLines, config: { minPriority } })).length;
    assert.equal(await count('emergency'), 1);
    assert.equal(await count('Alert'), 2);
    assert.equal(await count('CRITICAL'), 3);
    assert.equal(await count('error'), 4);
    assert.equal(await count('Warning'), 5);
    assert.equal(await count('notice'), 6);
    assert.equal(await count('INFO'), 7);
    assert.equal(await count('informational'), 7);
    assert.equal(await count('debug'), 8);
  });

  test('maxOutputFields keeps Kubernetes/container fields first and counts the rest', async () => {
    const body = own('falcosidekick-critical-shell-in-pod.json').body;
    const [d] = await kit.webhookDrafts(body, { config: { maxOutputFields: 3 } });
    // Kept by priority (Kubernetes and container fields first), written in key order.
    assert.deepEqual(Object.keys(d!.details?.outputFields as object), ['container.id', 'k8s.ns.name', 'k8s.pod.name']);
    const [all] = await kit.webhookDrafts(body, { config: { maxOutputFields: 32 } });
    const keys = Object.keys(all!.details?.outputFields as object);
    assert.equal(keys.length, 14);
    assert.deepEqual(keys, [...keys].sort(), 'details.outputFields is written in key order');
    // 15 fields: 3 kept, evt.time (> 2^53) and 11 over the limit omitted.
    assert.equal(d!.details?.outputFieldsOmitted, 12);
    const [none] = await kit.webhookDrafts(body, { config: { maxOutputFields: 0 } });
    assert.equal(none!.details?.outputFields, undefined);
    assert.equal(none!.details?.outputFieldsOmitted, 15);
  });

  test('maxValueLength cuts long strings (with an ellipsis) in output fields and tags', async () => {
    const long = 'x'.repeat(600);
    const [d] = await kit.webhookDrafts(alert({ output_fields: { 'proc.cmdline': long }, tags: [long] }), {
      config: { maxValueLength: 16 },
    });
    const v = fieldsOf(d)['proc.cmdline'] as string;
    assert.equal(v.length, 16);
    assert.ok(v.endsWith('…'));
    assert.equal(((d!.details?.tags ?? []) as string[])[0]?.length, 16);
    // The fingerprint uses the full value: cutting for display does not merge distinct alerts.
    const [e] = await kit.webhookDrafts(alert({ output_fields: { 'proc.cmdline': `${long}y` }, tags: [long] }), {
      config: { maxValueLength: 16 },
    });
    assert.notEqual(fp(d), fp(e));
  });

  test('maxAlerts bounds a batch', async () => {
    await rejects([alert(), alert(), alert()], '(body)', { config: { maxAlerts: 2 } });
    assert.equal((await kit.webhookDrafts([alert(), alert()], { config: { maxAlerts: 2 } })).length, 2);
  });

  test('host filters see details.rule (spec.filters.excludeRules)', async () => {
    const { result } = await kit.webhook(alert({ rule: 'Noisy rule', time: '2025-03-14T10:00:09Z' }), {
      name: 'excl',
      spec: { filters: { excludeRules: ['noisy rule'] } },
    });
    assert.equal(result.filtered, 1);
    assert.equal(result.created, 0);
  });
});

describe('payload errors (422 with the field)', () => {
  test('not an alert at all', async () => {
    for (const body of ['text', 42, null, true]) await rejects(body, '(body)');
  });
  test('a non-object item in an array names its index', async () => {
    await rejects([alert(), 'nope'], '[1]');
    await rejects([alert(), [alert()]], '[1]');
    await rejects([alert(), null], '[1]');
  });
  test('rule', async () => {
    const { rule: _r, ...noRule } = alert();
    await rejects(noRule, 'rule');
    await rejects(alert({ rule: '  ' }), 'rule');
    await rejects(alert({ rule: 7 }), 'rule');
  });
  test('priority: unknown, missing or not a string', async () => {
    const zw = await rejects(alert({ priority: 'Verbose' }), 'priority');
    assert.match(zw.message, /Emergency, Alert, Critical, Error, Warning, Notice, Informational or Debug/);
    // Falcosidekick turns an unknown priority into "".
    await rejects(alert({ priority: '' }), 'priority');
    const { priority: _p, ...noPriority } = alert();
    await rejects(noPriority, 'priority');
    await rejects(alert({ priority: 4 }), 'priority');
    await rejects([alert(), alert(), alert({ priority: 'high' })], '[2].priority');
  });
  test('time: missing, not RFC 3339, or a number', async () => {
    const { time: _t, ...noTime } = alert();
    await rejects(noTime, 'time');
    await rejects(alert({ time: '2025-13-01T00:00:00Z' }), 'time');
    await rejects(alert({ time: '14/03/2025 10:00' }), 'time');
    await rejects(alert({ time: 1741946400000000000 }), 'time');
  });
  test('wrongly typed optional fields', async () => {
    await rejects(alert({ output_fields: 'k8s.ns.name=x' }), 'output_fields');
    await rejects(alert({ output_fields: [] }), 'output_fields');
    await rejects(alert({ tags: 'k8s' }), 'tags');
    await rejects(alert({ tags: ['k8s', 3] }), 'tags[1]');
    await rejects(alert({ hostname: 5 }), 'hostname');
    await rejects(alert({ source: {} }), 'source');
    await rejects(alert({ output: ['x'] }), 'output');
    await rejects(alert({ uuid: 1 }), 'uuid');
    await rejects([alert(), alert({ tags: [null] })], '[1].tags[0]');
  });
  test('absent optional fields are fine (older Falco, json_include_*_property: false)', async () => {
    const [d] = await kit.webhookDrafts({ rule: 'R', priority: 'notice', time: '2020-01-01T00:00:00Z' });
    assert.equal(d!.severity, 'low');
    assert.equal(d!.message, undefined);
    assert.equal(d!.resource, undefined);
    assert.deepEqual(d!.details, { rule: 'R', priority: 'notice', time: '2020-01-01T00:00:00Z' });
    const [n] = await kit.webhookDrafts(alert({ output_fields: null, tags: null, hostname: null }));
    assert.equal(n!.resource, undefined);
  });
});

describe('JSON Lines and arrays', () => {
  test('the same alerts as one object, a JSON array, and JSON Lines give the same drafts', async () => {
    const a = alert();
    const b = alert({ rule: 'Other', time: '2025-03-14T10:00:01Z' });
    const single = [...(await kit.webhookDrafts(a)), ...(await kit.webhookDrafts(b))];
    const array = await kit.webhookDrafts([a, b]);
    const lines = await kit.webhookDrafts([a, b], { jsonLines: true, contentType: 'application/x-ndjson' });
    assert.deepEqual(array, single);
    assert.deepEqual(lines, single);
  });
  test('an empty array is accepted and produces nothing', async () => {
    assert.deepEqual(await kit.webhookDrafts([]), []);
  });
  test('skipped alerts in a batch do not block the others', async () => {
    const drafts = await kit.webhookDrafts(
      [alert({ priority: 'Debug' }), alert({ source: 'internal', rule: 'Falco internal: x' }), alert()],
      { config: { minPriority: 'notice' } },
    );
    assert.equal(drafts.length, 1);
    assert.equal(drafts[0]!.severity, 'medium');
  });
});

describe('fingerprint and dedup', () => {
  const fpOf = async (body: unknown) => fp((await kit.webhookDrafts(body))[0]);

  test('k8s_audit with ka.auditid: one Observation per (request, rule), whichever audit stages Falco fired on', async () => {
    // The real OVH attach/exec alert, as a rule that also outputs %ka.auditid would give it, at two stages of one exec.
    const exec = (time: string, over: Record<string, unknown> = {}) =>
      alert({
        hostname: 'my-pool-1-node-921b61',
        output: `${time.slice(11, 19)}: Notice Attach/Exec to pod (user=kubernetes-admin pod=nginx ns=hello-app action=exec)`,
        output_fields: {
          'evt.time': 1739179786302906000,
          'ka.auditid': '6d1e3b0c-2f3b-4a51-9c1e-0d6a1f1c2b3a',
          'ka.target.name': 'nginx-676b6c5bbc-4xc6t',
          'ka.target.namespace': 'hello-app',
          'ka.target.resource': 'pods',
          'ka.target.subresource': 'exec',
          'ka.uri': '/api/v1/namespaces/hello-app/pods/nginx-676b6c5bbc-4xc6t/exec?command=cat',
          'ka.user.name': 'kubernetes-admin',
          'ka.verb': 'create',
          'ka.response.code': '101',
        },
        priority: 'Notice',
        rule: 'Attach/Exec Pod',
        source: 'k8s_audit',
        tags: ['k8s'],
        time,
        ...over,
      });
    const started = exec('2025-02-10T09:29:46.302906000Z');
    const complete = exec('2025-02-10T09:31:02.000000000Z');
    (complete.output_fields as Record<string, unknown>)['evt.time'] = 1739179862000000000;
    // Identity forever (deduplication.window 0s, as the README advises for k8s_audit): an exec session's stages can
    // be minutes apart, and a window's event-time buckets would split them.
    const forever = { spec: { deduplication: { window: '0s' } } };
    const k = await load();
    try {
      const r = await k.webhook([started, complete], forever);
      assert.equal(r.result.created, 1, 'two stages of one request');
      assert.equal(r.result.duplicates, 1);
      // Another Falco replica received the other stage: still the same request.
      const elsewhere = await k.webhook(exec('2025-02-10T09:31:02.5Z', { hostname: 'other-node' }), forever);
      assert.equal(elsewhere.result.duplicates, 1);
      // Another rule on the same request is its own Observation.
      const vuln = await k.webhook(
        exec('2025-02-10T09:29:46.302906000Z', { rule: 'K8s Vulnerable Kubectl Copy' }),
        forever,
      );
      assert.equal(vuln.result.created, 1);
      // The same client-chosen auditID on another request (other URI, user or verb) is another Observation.
      const other = exec('2025-02-10T09:40:00Z');
      (other.output_fields as Record<string, unknown>)['ka.uri'] = '/api/v1/namespaces/hello-app/pods/other/exec';
      assert.equal((await k.webhook(other, forever)).result.created, 1);
    } finally {
      await k.close();
    }
    // Without ka.auditid the alert time stays part of the identity (1.0.0 behaviour).
    const noID = (a: Record<string, unknown>) => {
      const f = { ...(a.output_fields as Record<string, unknown>) };
      delete f['ka.auditid'];
      return { ...a, output_fields: f };
    };
    assert.notEqual(await fpOf(noID(started)), await fpOf(noID(complete)));
    assert.equal(fingerprintOfAuditRequest(parseAlert(noID(started), '')), undefined);
    // Only k8s_audit alerts: a syscall alert with a field named ka.auditid is identified as before.
    assert.equal(fingerprintOfAuditRequest(parseAlert({ ...started, source: 'syscall' }, '')), undefined);
  });

  test('two identical alerts are one Observation', async () => {
    const k = await load();
    try {
      const first = await k.webhook(alert());
      const again = await k.webhook(alert());
      assert.equal(first.result.created, 1);
      assert.equal(again.result.duplicates, 1);
      const both = await k.webhook([alert({ time: '2025-03-14T11:00:00Z' }), alert({ time: '2025-03-14T11:00:00Z' })]);
      assert.equal(both.result.created, 1);
      assert.equal(both.result.duplicates, 1);
    } finally {
      await k.close();
    }
  });

  test('Falcosidekick uuid, key order, evt.time, Go time spelling do not change the identity', async () => {
    const base = await fpOf(alert());
    assert.equal(await fpOf(alert({ uuid: '11111111-1111-4111-8111-111111111111' })), base);
    assert.equal(await fpOf(alert({ uuid: '22222222-2222-4222-8222-222222222222' })), base);
    assert.equal(await fpOf(Object.fromEntries(Object.entries(alert()).reverse())), base);
    assert.equal(await fpOf(alert({ time: '2025-03-14T10:00:00Z' })), base);
    assert.equal(await fpOf(alert({ time: '2025-03-14T11:00:00.000+01:00' })), base);
    const withEvtTime = alert();
    (withEvtTime.output_fields as Record<string, unknown>)['evt.time'] = 1741946400000000000;
    assert.equal(await fpOf(withEvtTime), base);
    // Falcosidekick fills a missing source with "syscall".
    const { source: _s, ...noSource } = alert();
    assert.equal(await fpOf(noSource), base);
    // The priority spelling is not identity.
    assert.equal(await fpOf(alert({ priority: 'WARNING' })), base);
  });

  test('rule, time (to the ns), hostname, source and output fields are identity', async () => {
    const base = await fpOf(alert());
    const variants = [
      alert({ rule: 'Other rule' }),
      alert({ time: '2025-03-14T10:00:00.000000001Z' }),
      alert({ hostname: 'node-2' }),
      alert({ source: 'k8s_audit' }),
      alert({ output_fields: { 'k8s.ns.name': 'team', 'k8s.pod.name': 'app-1', 'proc.name': 'sh' } }),
      alert({ output_fields: { 'k8s.ns.name': 'team', 'k8s.pod.name': 'app-0', 'proc.name': 'sh', 'fd.name': '/x' } }),
    ];
    const fps = new Set([base]);
    for (const v of variants) fps.add(await fpOf(v));
    assert.equal(fps.size, variants.length + 1);
  });
});

describe('pure helpers', () => {
  test('parseTime normalizes to the nanosecond', () => {
    assert.equal(parseTime('2025-02-10T09:15:40.698757000Z')?.instant, '1739178940.698757000');
    assert.equal(parseTime('2025-02-10T09:15:40.698757Z')?.instant, '1739178940.698757000');
    assert.equal(parseTime('2016-08-04T16:17:57.881781397+0000')?.instant, '1470327477.881781397');
    assert.equal(parseTime('2016-08-04T18:17:57.881781397+02:00')?.instant, '1470327477.881781397');
    assert.equal(parseTime('0001-01-01T00:00:00Z')?.date.toISOString(), '0001-01-01T00:00:00.000Z');
    assert.equal(parseTime('2024-02-29T00:00:00Z')?.instant, '1709164800.000000000');
    const badTimes = [
      '',
      'now',
      '2025-02-10',
      '2025-02-10T25:00:00Z',
      '2025-02-30T00:00:00Z',
      '2025-02-10T09:15:40',
      5,
      null,
    ];
    for (const bad of badTimes) {
      assert.equal(parseTime(bad), undefined, String(bad));
    }
  });
  test('parseK8sUri', () => {
    assert.deepEqual(parseK8sUri('/api/v1/namespaces/default/events/e1'), {
      apiVersion: 'v1',
      namespace: 'default',
      resource: 'events',
      name: 'e1',
    });
    assert.deepEqual(parseK8sUri('/api/v1/namespaces/kube-system'), {
      apiVersion: 'v1',
      resource: 'namespaces',
      name: 'kube-system',
    });
    assert.deepEqual(parseK8sUri('/apis/apps/v1/namespaces/x/deployments/y/scale?dryRun=All'), {
      apiVersion: 'apps/v1',
      namespace: 'x',
      resource: 'deployments',
      name: 'y',
    });
    assert.equal(parseK8sUri('/healthz'), undefined);
    assert.equal(parseK8sUri(undefined), undefined);
  });
  test('eventType by Falco source', () => {
    const et = (source?: string, rule = 'r') =>
      eventTypeOf(
        parseAlert({ rule, priority: 'Notice', time: '2025-01-01T00:00:00Z', ...(source ? { source } : {}) }, ''),
      );
    assert.equal(et('syscall'), 'runtime_alert');
    assert.equal(et(undefined), 'runtime_alert');
    assert.equal(et('k8s_audit'), 'k8s_audit_alert');
    assert.equal(et('aws_cloudtrail'), 'aws_cloudtrail_alert');
    assert.equal(et('Okta'), 'okta_alert');
    assert.equal(et('internal'), 'falco_internal');
    assert.equal(et(undefined, 'Falco internal: syscall event drop'), 'falco_internal');
    assert.equal(et('---'), 'runtime_alert');
  });
  test('mapBody reports skipped counts', () => {
    const r = mapBody([alert({ priority: 'debug' }), alert({ source: 'internal' }), alert()], {
      ...DEFAULT_CONFIG,
      minPriority: 'notice',
    });
    assert.equal(r.drafts.length, 1);
    assert.deepEqual(r.skipped, { internal: 1, belowMinPriority: 1 });
  });
  test('an audit target resource named like an Object.prototype key is not a known kind', () => {
    for (const resource of ['constructor', '__proto__', 'toString']) {
      const r = mapBody(
        [
          alert({
            source: 'k8s_audit',
            output_fields: { 'ka.target.resource': resource, 'ka.target.name': 'x', 'ka.target.namespace': 'ns' },
          }),
        ],
        DEFAULT_CONFIG,
      );
      const ref = r.drafts[0]?.resource;
      assert.deepEqual(ref, { name: 'x', namespace: 'ns' }, resource);
    }
  });
  test('fingerprints are prefixed and hex', () => {
    const f = fingerprintOf(parseAlert(alert(), ''));
    assert.match(f, /^falco:[0-9a-f]{64}$/);
  });
});
