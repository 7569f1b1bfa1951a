/**
 * Property-based tests (fast-check): random bodies and mutated events never crash the plugin. The answer is always
 * drafts the pipeline accepts, or a 422 naming a field; and a broken item never changes what the rest of its batch
 * gives. Seeds are fixed (ZEN_FC_SEED overrides) so a failure reproduces.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type ObservationDraft, SEVERITIES } from 'zen-watcher/plugin-api';
import { DEFAULT_RULES } from '../default-rules.ts';
import { mapBody } from '../map.ts';
import {
  asItem,
  configOf,
  DEFAULT_CONFIG,
  eventList,
  eventsIn,
  INGESTER_NS,
  load,
  OWN_FIXTURES,
  SPEC,
} from './helpers.ts';

const SEED = Number(process.env.ZEN_FC_SEED ?? 20250530);
const VALID_EVENTS = [
  ...eventsIn(`${OWN_FIXTURES}/eventlist-v1-webhook-batch.json`),
  ...eventsIn(`${OWN_FIXTURES}/events-v1-log-backend.jsonl`),
].map(asItem);

function assertDraftShape(d: ObservationDraft): void {
  assert.ok((SEVERITIES as readonly string[]).includes(d.severity));
  assert.equal(typeof d.title, 'string');
  assert.ok(d.title.length > 0 && d.title.length <= 256);
  assert.ok(d.category === 'security' || d.category === 'compliance');
  assert.match(d.eventType!, /^audit_[a-z0-9_]+$/);
  assert.equal(typeof d.fingerprint, 'string');
  assert.ok(d.fingerprint!.length > 0);
  if (d.detectedAt !== undefined) assert.ok(!Number.isNaN(Date.parse(String(d.detectedAt))));
  if (d.resource) for (const v of Object.values(d.resource)) assert.equal(typeof v, 'string');
  assert.ok(Buffer.byteLength(JSON.stringify(d.details)) < 16_384);
}

/** The plugin's answer to a body: drafts, or a refusal with a field. Anything thrown is a failure. */
function check(body: unknown, config?: Record<string, unknown>): void {
  const r = mapBody(body, config ? configOf(config) : DEFAULT_CONFIG);
  if (r.refuse) {
    assert.equal(typeof r.refuse.field, 'string');
    assert.ok(r.refuse.field.length > 0);
    assert.equal(r.drafts.length, 0);
    return;
  }
  for (const d of r.drafts) assertDraftShape(d);
  const s = r.stats;
  assert.equal(s.invalid + s.stageSkipped + s.excluded + s.unmatched + s.matched, s.events);
}

const PATHS = [
  [],
  ['objectRef'],
  ['user'],
  ['responseStatus'],
  ['annotations'],
  ['requestObject'],
  ['requestObject', 'spec'],
  ['impersonatedUser'],
] as const;

/** Mutations of one event: delete a field, replace a field by any JSON value, or add a junk field, at some depth. */
const mutation = fc.record({
  path: fc.constantFrom(...PATHS),
  op: fc.constantFrom('delete', 'replace', 'add'),
  key: fc.oneof(
    fc.constantFrom(
      'auditID',
      'stage',
      'verb',
      'kind',
      'apiVersion',
      'user',
      'username',
      'groups',
      'objectRef',
      'resource',
      'subresource',
      'namespace',
      'name',
      'apiGroup',
      'code',
      'annotations',
      'authorization.k8s.io/decision',
      'audit.k8s.io/truncated',
      'requestObject',
      'containers',
      'hostPID',
      'stageTimestamp',
      'impersonatedUser',
      'sourceIPs',
      '__proto__',
      'constructor',
    ),
    fc.string(),
  ),
  value: fc.jsonValue({ maxDepth: 3 }),
});

type Mutation = { path: readonly string[]; op: string; key: string; value: unknown };

function mutate(event: Record<string, unknown>, muts: readonly Mutation[]): Record<string, unknown> {
  const copy = structuredClone(event);
  for (const m of muts) {
    let target: unknown = copy;
    for (const p of m.path) target = (target as Record<string, unknown> | undefined)?.[p];
    if (typeof target !== 'object' || target === null || Array.isArray(target)) continue;
    const t = target as Record<string, unknown>;
    if (m.op === 'delete') delete t[m.key];
    else Object.defineProperty(t, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
  }
  return copy;
}

test('property: any JSON body gives drafts or a 422 with a field, never a crash', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), (body) => check(body)),
    { seed: SEED, numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 20 }), (items) => check(eventList(items))),
    { seed: SEED, numRuns: 500 },
  );
});

test('property: mutated real-shaped events never crash, with the built-in rules and with matchPolicy all', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...VALID_EVENTS),
      fc.array(mutation, { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      (event, muts, all) => {
        const body = mutate(event, muts);
        check(body, all ? { matchPolicy: 'all' } : undefined);
        check(eventList([body]), all ? { matchPolicy: 'all' } : undefined);
      },
    ),
    { seed: SEED, numRuns: 3000 },
  );
});

test('property: one broken item never changes what the rest of the batch gives', () => {
  const clean = mapBody(eventList(VALID_EVENTS), DEFAULT_CONFIG);
  const expected = clean.drafts.map((d) => d.fingerprint);
  fc.assert(
    fc.property(
      fc.nat({ max: VALID_EVENTS.length }),
      fc.oneof(
        fc.jsonValue({ maxDepth: 3 }),
        fc.constantFrom<unknown>(
          null,
          42,
          'x',
          [],
          { kind: 'Pod' },
          { auditID: 1, stage: 'ResponseComplete', verb: 'get' },
        ),
      ),
      (at, junk) => {
        const items: unknown[] = [...VALID_EVENTS];
        items.splice(at, 0, junk);
        const r = mapBody(eventList(items), DEFAULT_CONFIG);
        assert.equal(r.refuse, undefined);
        const got = r.drafts.map((d) => d.fingerprint);
        // The junk may itself be a usable event (fast-check can build one); the valid ones come out unchanged.
        assert.deepEqual(
          got.filter((f) => expected.includes(f)),
          expected,
        );
        assert.ok(r.stats.invalid <= 1);
      },
    ),
    { seed: SEED, numRuns: 1000 },
  );
});

test('property: random rule configs accepted by the schema never crash and only give their own rules', async () => {
  const kit = await load();
  try {
    const strings = fc.array(
      fc.constantFrom(
        '*',
        '',
        'get',
        'create',
        'pods',
        'pods/exec',
        '*/exec',
        'secrets',
        'shop',
        'sh*',
        'system:*',
        'alice*',
      ),
      {
        minLength: 1,
        maxLength: 3,
      },
    );
    const matcher = fc.record(
      {
        verbs: strings,
        apiGroups: strings,
        resources: strings,
        namespaces: strings,
        users: strings,
        groups: strings,
        decision: fc.constantFrom('allow', 'forbid'),
        codes: fc.array(fc.integer({ min: 100, max: 599 }), { minLength: 1, maxLength: 3 }),
        succeeded: fc.boolean(),
        impersonated: fc.boolean(),
        podSecurity: fc.uniqueArray(fc.constantFrom('privileged', 'hostNetwork', 'hostPID', 'hostIPC', 'hostPath'), {
          minLength: 1,
        }),
        requestObject: fc.dictionary(fc.constantFrom('roleRef.name', 'spec.hostPID', 'metadata.name'), strings, {
          maxKeys: 2,
        }),
      },
      { requiredKeys: [] },
    );
    const rule = fc.record(
      {
        name: fc.constantFrom('a', 'b-c', 'rule-1'),
        severity: fc.constantFrom(...SEVERITIES),
        stages: fc.uniqueArray(fc.constantFrom('RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'), {
          minLength: 1,
        }),
        match: fc.oneof(matcher, fc.array(matcher, { minLength: 1, maxLength: 3 })),
        exclude: fc.array(matcher, { maxLength: 2 }),
      },
      { requiredKeys: ['name', 'severity', 'match'] },
    );
    const config = fc.record(
      {
        rules: fc.array(rule, { maxLength: 4 }),
        includeDefaultRules: fc.boolean(),
        matchPolicy: fc.constantFrom('first', 'all'),
        exclude: fc.array(matcher, { maxLength: 2 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(config, (cfg) => {
        const res = kit.validateIngester({
          apiVersion: 'zen.kube-zen.io/v1alpha1',
          kind: 'Ingester',
          metadata: { name: 'p', namespace: INGESTER_NS },
          spec: { source: 'audit', ingester: 'webhook', webhook: { path: '/p' }, config: cfg },
        });
        assert.ok(res.ok, JSON.stringify(res));
        // The test helper's config is the host's: validated, the same defaults applied.
        const config = configOf(cfg);
        assert.deepEqual(config, res.ingester.view.config);
        const r = mapBody(eventList(VALID_EVENTS), config);
        assert.equal(r.refuse, undefined);
        const allowed = new Set([
          ...(cfg.rules ?? []).map((x) => x.name),
          ...(!cfg.rules || cfg.includeDefaultRules ? DEFAULT_RULES.map((x) => x.name) : []),
        ]);
        for (const d of r.drafts) {
          assertDraftShape(d);
          assert.ok(allowed.has(d.details?.rule as string));
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  } finally {
    await kit.close();
  }
});

test('property: drafts from mutated events all pass the real pipeline (none dropped as invalid)', async () => {
  const kit = await load();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...VALID_EVENTS), fc.array(mutation, { maxLength: 3 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async (pairs) => {
          const body = eventList(pairs.map(([e, m]) => mutate(e, m)));
          const r = mapBody(body, configOf({ matchPolicy: 'all' }));
          if (r.refuse) return;
          const { result } = await kit.process(r.drafts, { namespace: INGESTER_NS, spec: SPEC });
          assert.equal(result.dropped, 0);
          assert.equal(result.created + result.duplicates, r.drafts.length);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  } finally {
    await kit.close();
  }
});
