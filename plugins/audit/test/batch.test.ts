/**
 * Webhook batches as the API server sends them (FORMATS.md §4.1, §5): EventList bodies built from the real single
 * events (items without kind/apiVersion), a full 400-event batch with mixed stages and one broken item, retries of
 * the same batch, and the repo's own fixtures (bad items, JSON Lines, bodies that are not audit data at all).
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { test } from 'node:test';
import { isZwError } from 'zen-watcher/plugin-api';
import { listFiles, requireRealFixtures } from '../../../test/support/fixtures.ts';
import { mapBody } from '../map.ts';
import {
  asItem,
  configOf,
  DEFAULT_CONFIG,
  eventList,
  eventsIn,
  expectedName,
  fingerprintOf,
  INGESTER_NS,
  inOrder,
  load,
  own,
  SPEC,
  summary,
} from './helpers.ts';
import { REAL_EXPECTED } from './real-expected.ts';

type Event = Record<string, unknown>;

interface Base {
  event: Event;
  /** The rule the base event matches in its own stage, if any (from the per-fixture expectations). */
  rule: string | undefined;
}

function realBases(dir: string): Base[] {
  return listFiles(dir, /\.jsonl?$/).flatMap((file) => {
    const expected = REAL_EXPECTED[basename(file)]!;
    return eventsIn(file).map((event) => ({
      event,
      rule: expected.find((e) => e.auditID === event.auditID)?.rule,
    }));
  });
}

/**
 * One API request as the audit backend reports it: RequestReceived (no response yet), then ResponseStarted for
 * long-running requests, then ResponseComplete — all sharing one auditID. The rules decide at ResponseStarted and at
 * ResponseComplete, and both stages of one request are the same Observation (same fingerprint).
 */
function stagesOf(base: Base, auditID: string): Array<{ item: Event; rule: string | undefined }> {
  const original = base.event.stage as string;
  const copy = (stage: string, rule: string | undefined) => {
    const item = asItem(base.event);
    item.auditID = auditID;
    item.stage = stage;
    if (stage === 'RequestReceived') {
      delete item.responseStatus;
      delete item.responseObject;
      item.stageTimestamp = item.requestReceivedTimestamp;
    }
    return { item, rule };
  };
  const out = [copy('RequestReceived', undefined)];
  if (original === 'ResponseStarted') out.push(copy('ResponseStarted', base.rule));
  out.push(copy('ResponseComplete', base.rule));
  return out;
}

const BROKEN_AT = 217;

interface Expected {
  auditID: string;
  stage: string;
  rule: string;
  fingerprint: string;
}

function bigBatch(dir: string): { body: Event; expected: Expected[] } {
  const bases = realBases(dir);
  const items: Event[] = [];
  const expected: Expected[] = [];
  for (let k = 0; items.length < 399; k++) {
    const base = bases[k % bases.length]!;
    for (const { item, rule } of stagesOf(base, `${base.event.auditID as string}-r${k}`)) {
      if (items.length === 399) break;
      items.push(item);
      if (rule) {
        const fingerprint = fingerprintOf(item);
        expected.push({ auditID: item.auditID as string, stage: item.stage as string, rule, fingerprint });
      }
    }
  }
  // One broken item: objectRef of the wrong type.
  const broken = asItem(bases[0]!.event);
  broken.auditID = 'broken-item';
  broken.objectRef = 'clusterrolebindings/some-reader-binding';
  items.splice(BROKEN_AT, 0, broken);
  return { body: eventList(items), expected };
}

test('a 400-event EventList with mixed stages and one broken item', async (t) => {
  const dir = requireRealFixtures(t, 'audit');
  if (!dir) return;
  const { body, expected } = bigBatch(dir);
  const requests = [...new Set(expected.map((e) => e.fingerprint))];
  const items = body.items as Event[];
  assert.equal(items.length, 400);
  assert.ok(items.every((i) => !('kind' in i) && !('apiVersion' in i)));
  const stages = new Map<string, number>();
  for (const i of items) stages.set(i.stage as string, (stages.get(i.stage as string) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(stages), { RequestReceived: 193, ResponseStarted: 14, ResponseComplete: 193 });
  // 14 real events cycled, 29 items per cycle (14 RequestReceived, 1 ResponseStarted, 14 ResponseComplete), 12 of
  // which match (11 requests: the exec matches at ResponseStarted and at ResponseComplete): 13 full cycles (377 items,
  // 156 matches) + 22 items of the 14th (8 matches) = 164 matching events of 150 requests.
  assert.equal(expected.length, 164);
  assert.equal(requests.length, 150);

  await t.test('pure mapping: exact counts', () => {
    const r = mapBody(body, DEFAULT_CONFIG);
    assert.equal(r.refuse, undefined);
    assert.deepEqual(r.invalid, [
      {
        field: `items[${BROKEN_AT}].objectRef`,
        reason: 'wrong_type',
        message: 'objectRef must be an object',
      },
    ]);
    assert.equal(r.stats.events, 400);
    assert.equal(r.stats.invalid, 1);
    assert.equal(r.stats.stageSkipped, 193, 'every RequestReceived item');
    assert.equal(r.stats.matched, 164);
    // ResponseComplete copies of the token Secret, the OpenShift get and the v1alpha1 get: 14 each.
    assert.equal(r.stats.unmatched, 42);
    assert.equal(r.stats.excluded, 0);
    assert.deepEqual(r.stats.byRule, {
      'cluster-admin-binding': 14,
      'pod-exec': 28,
      'secret-change': 28,
      'privileged-pod': 14,
      'configmap-change': 80,
    });
    assert.deepEqual(
      r.drafts.map((d) => d.fingerprint),
      expected.map((e) => e.fingerprint),
    );
  });

  await t.test('through the pipeline: 150 Observations (one per request), then a retry is all duplicates', async () => {
    const kit = await load();
    try {
      const first = await kit.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
      assert.equal(first.result.created, 150);
      assert.equal(first.result.duplicates, 14, 'the ResponseComplete event of each exec');
      assert.equal(first.result.dropped, 0);
      assert.deepEqual(
        first.result.names,
        requests.map((f) => expectedName(f)),
      );
      const severities = new Map<string, number>();
      for (const o of first.observations) severities.set(o.spec.severity, (severities.get(o.spec.severity) ?? 0) + 1);
      assert.deepEqual(Object.fromEntries(severities), { critical: 14, medium: 42, high: 14, low: 80 });

      const retry = await kit.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
      assert.equal(retry.result.created, 0);
      assert.equal(retry.result.duplicates, 164);
      assert.deepEqual(retry.result.names, [], 'nothing new is written');
      assert.equal(kit.observations().length, 150);
    } finally {
      await kit.close();
    }
  });
});

test('EventList from the real events (FORMATS.md §5): items without kind/apiVersion', async (t) => {
  const dir = requireRealFixtures(t, 'audit');
  if (!dir) return;
  const kit = await load();
  try {
    for (const file of listFiles(dir, /\.jsonl?$/)) {
      const expected = REAL_EXPECTED[basename(file)]!;
      const body = eventList(eventsIn(file).map(asItem));
      const { result, observations } = await kit.webhook(body, {
        namespace: INGESTER_NS,
        name: `list-${expected.length}-${basename(file).length}`,
        spec: SPEC,
      });
      assert.equal(result.created, expected.length, basename(file));
      assert.deepEqual(
        inOrder(result.names, observations).map((o) => [o.spec.details?.rule, o.spec.severity, o.spec.resource]),
        expected.map((e) => [e.rule, e.severity, e.resource]),
        basename(file),
      );
    }
  } finally {
    await kit.close();
  }
});

test('retries: the same EventList twice → the second time all duplicates; names are the same on every replica', async () => {
  const { body } = own('eventlist-v1-webhook-batch.json');
  const a = await load();
  const b = await load(); // another replica: its own memory, same deterministic names
  try {
    const first = await a.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
    assert.equal(first.result.created, 9);
    assert.equal(first.result.duplicates, 1, 'the exec is one request: ResponseStarted and ResponseComplete');
    const retry = await a.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
    assert.equal(retry.result.created, 0);
    assert.equal(retry.result.duplicates, 10);
    const elsewhere = await b.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
    assert.deepEqual(elsewhere.result.names, first.result.names);
  } finally {
    await a.close();
    await b.close();
  }
});

test('retries after the last backoff (~80 s later) are duplicates with deduplication.window 0s', async () => {
  const { body } = own('eventlist-v1-webhook-batch.json');
  let now = Date.parse('2025-05-30T08:00:30Z');
  const kit = await load({ now: () => now });
  try {
    const first = await kit.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
    assert.equal(first.result.created, 9);
    // client-go retry: 10 s initial backoff × 1.5, 5 attempts, each with a 30 s timeout: the last can come minutes later.
    now += 4 * 60_000;
    const late = await kit.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
    assert.equal(late.result.created, 0);
    assert.equal(late.result.duplicates, 10);
  } finally {
    await kit.close();
  }
});

test('own fixture: a webhook EventList covering every built-in rule', async () => {
  const { body } = own('eventlist-v1-webhook-batch.json');
  const r = mapBody(body, DEFAULT_CONFIG);
  assert.deepEqual(r.stats, {
    events: 16,
    invalid: 0,
    stageSkipped: 1, // RequestReceived
    excluded: 0,
    unmatched: 5, // kube-root-ca.crt by the controller, /healthz, pod at Metadata level, 404 patch, Panic (500) delete
    matched: 10, // the exec twice: ResponseStarted and ResponseComplete (one Observation)
    byRule: {
      'secret-change': 1,
      'authz-denied': 1,
      impersonation: 1,
      'pod-exec': 2,
      'rbac-change': 2,
      delete: 2,
      'privileged-pod': 1,
    },
    undecided: { 'cluster-admin-binding/no_request_object': 1, 'privileged-pod/no_request_object': 1 },
  });
  const kit = await load();
  try {
    const { result, observations } = await kit.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
    assert.equal(result.created, 9);
    const got = inOrder(result.names, observations);
    assert.deepEqual(got.map(summary), [
      {
        rule: 'secret-change',
        severity: 'medium',
        eventType: 'audit_secret_change',
        resource: { apiVersion: 'v1', kind: 'Secret', name: 'db-creds', namespace: 'payments' },
        namespace: 'payments',
      },
      {
        rule: 'authz-denied',
        severity: 'medium',
        eventType: 'audit_authz_denied',
        resource: { apiVersion: 'v1', kind: 'Secret', name: 'bootstrap-token-abcdef', namespace: 'kube-system' },
        namespace: 'kube-system',
      },
      {
        rule: 'impersonation',
        severity: 'medium',
        eventType: 'audit_impersonation',
        resource: { apiVersion: 'v1', kind: 'Pod', namespace: 'dev' },
        namespace: 'dev',
      },
      {
        rule: 'pod-exec',
        severity: 'medium',
        eventType: 'audit_pod_exec',
        resource: { apiVersion: 'v1', kind: 'Pod', name: 'web-5d4f7b9c8-x2x7k', namespace: 'shop' },
        namespace: 'shop',
      },
      {
        rule: 'rbac-change',
        severity: 'medium',
        eventType: 'audit_rbac_change',
        resource: {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          name: 'bob-edit',
          namespace: 'dev',
        },
        namespace: 'dev',
      },
      {
        rule: 'rbac-change',
        severity: 'medium',
        eventType: 'audit_rbac_change',
        resource: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'mallory-admin' },
        namespace: INGESTER_NS,
      },
      {
        rule: 'delete',
        severity: 'low',
        eventType: 'audit_delete',
        resource: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' },
        namespace: 'shop',
      },
      {
        rule: 'privileged-pod',
        severity: 'high',
        eventType: 'audit_privileged_pod',
        resource: { apiVersion: 'v1', kind: 'Pod', name: 'nsenter-0', namespace: 'payments' },
        namespace: 'payments',
      },
      {
        rule: 'delete',
        severity: 'low',
        eventType: 'audit_delete',
        resource: { apiVersion: 'example.com/v1', kind: 'Widget', name: 'w1', namespace: 'shop' },
        namespace: 'shop',
      },
    ]);
    const [, denied, imp, exec, , adminBinding, , pod] = got;
    assert.equal(
      denied!.spec.title,
      'Request denied: get secrets kube-system/bootstrap-token-abcdef by system:serviceaccount:dev:default',
    );
    assert.deepEqual(denied!.spec.details?.responseStatus, {
      code: 403,
      status: 'Failure',
      reason: 'Forbidden',
      message:
        'secrets "bootstrap-token-abcdef" is forbidden: User "system:serviceaccount:dev:default" cannot get resource "secrets" in API group "" in the namespace "kube-system"',
    });
    assert.deepEqual((denied!.spec.details!.user as { extra?: unknown }).extra, {
      'authentication.kubernetes.io/pod-name': ['debug-7c9d8'],
      'authentication.kubernetes.io/pod-uid': ['0f6c2a6e-8d3b-4e0c-9a55-1b2c3d4e5f60'],
    });
    assert.equal(
      imp!.spec.title,
      'Request with impersonation: list pods dev/* by admin@example.com as bob@example.com',
    );
    assert.deepEqual(imp!.spec.details?.impersonatedUser, { username: 'bob@example.com', groups: ['dev-team'] });
    assert.equal(exec!.spec.details?.verb, 'get', 'websocket exec is a get');
    assert.deepEqual(adminBinding!.spec.details?.undecidedRules, ['cluster-admin-binding']);
    assert.deepEqual(pod!.spec.details?.podSecurity, ['hostNetwork', 'hostPID']);
    assert.match(pod!.spec.message!, /pod: hostNetwork, hostPID\.$/);
    assert.equal(pod!.spec.detectedAt, '2025-05-30T08:00:10.011Z');
  } finally {
    await kit.close();
  }
});

test('own fixture: bad items are counted and skipped, the rest of the batch is processed', async () => {
  const { body } = own('eventlist-v1-bad-items.json');
  const r = mapBody(body, DEFAULT_CONFIG);
  assert.equal(r.refuse, undefined);
  assert.deepEqual(
    r.invalid.map((i) => [i.field, i.reason]),
    [
      ['items[1]', 'not_object'],
      ['items[2].auditID', 'wrong_type'],
      ['items[3].kind', 'wrong_kind'],
      ['items[4]', 'not_object'],
      ['items[5].objectRef', 'wrong_type'],
    ],
  );
  assert.equal(r.stats.events, 7);
  assert.equal(r.stats.invalid, 5);
  assert.deepEqual(
    r.drafts.map((d) => d.details?.rule),
    ['secret-change', 'configmap-change'],
  );
  const kit = await load();
  try {
    const { result } = await kit.webhook(body, { namespace: INGESTER_NS, spec: SPEC });
    assert.equal(result.created, 2);
  } finally {
    await kit.close();
  }
});

test('own fixture: JSON Lines from the log backend (kind/apiVersion on every line)', async () => {
  const { body, jsonLines } = own('events-v1-log-backend.jsonl');
  assert.equal(jsonLines, true);
  const kit = await load();
  try {
    const { result, observations } = await kit.webhook(body, { jsonLines, namespace: INGESTER_NS, spec: SPEC });
    assert.equal(
      result.created,
      1,
      'deletecollection only: ephemeral containers and token requests match no built-in rule',
    );
    assert.deepEqual(summary(observations[0]!), {
      rule: 'delete',
      severity: 'low',
      eventType: 'audit_delete',
      resource: { apiVersion: 'v1', kind: 'Pod', namespace: 'tmp' },
      namespace: 'tmp',
    });
    assert.equal(observations[0]!.spec.title, 'Resource deleted: deletecollection pods tmp/* by frank@example.com');
    // A custom rule for `kubectl debug` (ephemeral containers), next to the built-in ones.
    const custom = await kit.webhook(body, {
      jsonLines,
      name: 'with-debug-rule',
      namespace: INGESTER_NS,
      spec: SPEC,
      config: {
        includeDefaultRules: true,
        rules: [
          {
            name: 'debug-container',
            severity: 'high',
            title: 'Ephemeral debug container added',
            match: { resources: ['pods/ephemeralcontainers'], verbs: ['update', 'patch'], succeeded: true },
          },
        ],
      },
    });
    assert.deepEqual(
      custom.observations.map((o) => o.spec.details?.rule),
      ['debug-container'],
    );
    // The deletecollection Observation exists already: same source and fingerprint ⇒ same name, whichever Ingester.
    assert.equal(custom.result.duplicates, 1);
  } finally {
    await kit.close();
  }
});

test('a line that is bad in JSON Lines is reported with its line number', () => {
  const { body } = own('events-v1-log-backend.jsonl');
  const lines = [...(body as unknown[]), { kind: 'Event', apiVersion: 'audit.k8s.io/v1', stage: 'ResponseComplete' }];
  const r = mapBody(lines, DEFAULT_CONFIG, { jsonLines: true });
  assert.deepEqual(r.invalid, [
    { field: '[3].auditID', reason: 'missing_field', message: 'auditID is required (line 4)' },
  ]);
  assert.equal(r.drafts.length, 1);
});

test('bodies that are not audit data are refused with 422 and the field at fault', async () => {
  const kit = await load();
  const cases: Array<[string, unknown, string]> = [
    ['a string', 'hello', '(body)'],
    ['a number', 42, '(body)'],
    ['null', null, '(body)'],
    ['another kind', { kind: 'PodList', apiVersion: 'v1', items: [] }, 'kind'],
    ['EventList with items not an array', { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: {} }, 'items'],
    ['EventList of another API', { kind: 'EventList', apiVersion: 'events.k8s.io/v1', items: [] }, 'apiVersion'],
    ['a Falco alert', own('not-audit-falco-alert.json').body, 'auditID'],
    ['a single bad Event', { kind: 'Event', auditID: 'x', stage: 'ResponseComplete', verb: 3 }, 'verb'],
    ['a list of nothing but junk', [1, 'two', null], '[0]'],
    ['an EventList of junk', eventList([[], 'x']), 'items[0]'],
  ];
  try {
    for (const [what, body, field] of cases) {
      await assert.rejects(
        kit.webhookDrafts(body),
        (err: unknown) => {
          assert.ok(isZwError(err), what);
          assert.equal(err.code, 'ZW_ERR_PAYLOAD_INVALID', what);
          assert.equal(err.status, 422, what);
          assert.equal(err.field, field, what);
          return true;
        },
        what,
      );
    }
  } finally {
    await kit.close();
  }
});

test('empty and odd-but-valid bodies are accepted with nothing to do', async () => {
  const kit = await load();
  try {
    for (const body of [[], eventList([]), { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: null }]) {
      assert.deepEqual(await kit.webhookDrafts(body), []);
    }
    // A JSON array holding whole EventLists (one stored webhook body per line).
    const { body } = own('eventlist-v1-webhook-batch.json');
    const drafts = await kit.webhookDrafts([body, body]);
    assert.equal(drafts.length, 20);
  } finally {
    await kit.close();
  }
});

test('maxEvents bounds one request', async () => {
  const kit = await load();
  try {
    const items = Array.from({ length: 5 }, (_, i) => ({ auditID: `a${i}`, stage: 'ResponseComplete', verb: 'get' }));
    await assert.rejects(kit.webhookDrafts(eventList(items), { config: { maxEvents: 4 } }), (err: unknown) => {
      assert.ok(isZwError(err));
      assert.equal(err.status, 422);
      assert.equal(err.field, 'items');
      return true;
    });
    assert.deepEqual(await kit.webhookDrafts(eventList(items), { config: { maxEvents: 5 } }), []);
  } finally {
    await kit.close();
  }
});

test('own fixture: a truncated event (audit.k8s.io/truncated) leaves body rules undecided', () => {
  const r = mapBody(own('event-v1-truncated-pod.json').body, DEFAULT_CONFIG);
  assert.equal(r.drafts.length, 0);
  assert.equal(r.stats.unmatched, 1);
  assert.deepEqual(r.stats.undecided, { 'privileged-pod/request_truncated': 1 });
});

test('stages: an exec gives one Observation whichever of its stages the policy keeps', async () => {
  const { body } = own('eventlist-v1-webhook-batch.json');
  const items = (body as { items: Event[] }).items;
  const started = items.find((i) => i.stage === 'ResponseStarted')!;
  const stage = (s: string, extra: Event = {}) => ({ ...structuredClone(started), stage: s, ...extra });
  const kept: Array<[string, Event[]]> = [
    ['ResponseStarted only', [stage('ResponseStarted')]],
    ['ResponseComplete only (policy omits ResponseStarted)', [stage('ResponseComplete')]],
    [
      'RequestReceived + ResponseComplete',
      [stage('RequestReceived', { responseStatus: undefined }), stage('ResponseComplete')],
    ],
    ['ResponseStarted + ResponseComplete', [stage('ResponseStarted'), stage('ResponseComplete')]],
    [
      'all four, Panic last',
      [stage('RequestReceived'), stage('ResponseStarted'), stage('Panic', { responseStatus: { code: 500 } })],
    ],
    ['ResponseComplete before ResponseStarted (batches race)', [stage('ResponseComplete'), stage('ResponseStarted')]],
  ];
  for (const [what, events] of kept) {
    const kit = await load();
    try {
      const { result, observations } = await kit.webhook(eventList(events), { namespace: INGESTER_NS, spec: SPEC });
      assert.equal(result.created, 1, what);
      assert.equal(observations[0]!.spec.details?.rule, 'pod-exec', what);
      // The same request sent again in a later batch (the API server's retry): a duplicate.
      const again = await kit.webhook(eventList(events), { namespace: INGESTER_NS, spec: SPEC });
      assert.equal(again.result.created, 0, what);
    } finally {
      await kit.close();
    }
  }
});

test('request identity: a client-chosen Audit-ID shared by two requests gives two Observations', async () => {
  const { body } = own('eventlist-v1-webhook-batch.json');
  const items = (body as { items: Event[] }).items.filter((i) => i.stage === 'ResponseComplete');
  // The secret create and the exec, given the same auditID (the API server takes it from the Audit-ID header).
  const same = items.slice(0, 4).map((i) => ({ ...structuredClone(i), auditID: 'chosen-by-client' }));
  const kit = await load();
  try {
    const { result } = await kit.webhook(eventList(same), { namespace: INGESTER_NS, spec: SPEC });
    assert.equal(result.created, mapBody(eventList(same), DEFAULT_CONFIG).drafts.length);
    assert.ok(result.created >= 3, `${result.created} Observations`);
    assert.equal(result.duplicates, 0);
    // Only the request fields the API server sets once per request differ: the receive time alone is enough.
    const twin = { ...structuredClone(same[0]!), requestReceivedTimestamp: '2025-05-30T09:00:00.000001Z' };
    const second = await kit.webhook(eventList([twin]), { namespace: INGESTER_NS, spec: SPEC });
    assert.equal(second.result.created, 1);
  } finally {
    await kit.close();
  }
});

test('matchPolicy all: one Observation per (request, rule), whichever stages arrive', () => {
  const { body } = own('eventlist-v1-webhook-batch.json');
  const started = (body as { items: Event[] }).items.find((i) => i.stage === 'ResponseStarted')!;
  const complete = { ...structuredClone(started), stage: 'ResponseComplete' };
  const config = {
    matchPolicy: 'all',
    includeDefaultRules: true,
    rules: [{ name: 'carol', severity: 'info', match: { users: ['carol@*'] } }],
  };
  const r = mapBody(eventList([started, complete]), configOf(config));
  const fingerprints = new Set(r.drafts.map((d) => d.fingerprint));
  assert.deepEqual([...new Set(r.drafts.map((d) => d.details?.rule))], ['carol', 'pod-exec']);
  assert.equal(fingerprints.size, 2, 'two rules, one request: two Observations, not four');
});
