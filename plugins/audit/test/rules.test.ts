/** Rule semantics, config resolution, the config schema, and the objectRef → resource mapping. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MatcherConfig, resolveConfig } from '../config.ts';
import { DEFAULT_RULES } from '../default-rules.ts';
import { type AuditEvent, parseEvent } from '../event.ts';
import { kindOf } from '../kinds.ts';
import { mapBody, resourceOf } from '../map.ts';
import { compileMatcher, compileRules, evaluate, globToRegExp, podFeatures, podSpecOf } from '../rules.ts';
import { configOf, DEFAULT_CONFIG, INGESTER_NS, load } from './helpers.ts';

function ev(over: Record<string, unknown> = {}): AuditEvent {
  return parseEvent({
    auditID: 'a-1',
    stage: 'ResponseComplete',
    verb: 'create',
    user: { username: 'alice', groups: ['dev', 'system:authenticated'] },
    objectRef: { resource: 'secrets', namespace: 'shop', name: 'db', apiVersion: 'v1' },
    responseStatus: { code: 201 },
    annotations: { 'authorization.k8s.io/decision': 'allow' },
    ...over,
  });
}

const matches = (m: MatcherConfig, e: AuditEvent) => compileMatcher(m)(e).kind;

test('matchers: every set field must hold, any entry of a list may', () => {
  const e = ev();
  assert.equal(matches({}, e), 'match', 'an empty matcher matches everything');
  assert.equal(matches({ verbs: ['create', 'update'] }, e), 'match');
  assert.equal(matches({ verbs: ['create'], namespaces: ['prod'] }, e), 'no');
  assert.equal(matches({ verbs: ['*'] }, e), 'match');
  assert.equal(matches({ users: ['ali*'] }, e), 'match');
  assert.equal(matches({ users: ['al'] }, e), 'no', 'globs are anchored');
  assert.equal(matches({ groups: ['system:*'] }, e), 'match');
  assert.equal(matches({ names: ['d?'] }, e), 'no', 'only * is special');
  assert.equal(matches({ decision: 'allow' }, e), 'match');
  assert.equal(matches({ decision: 'forbid' }, e), 'no');
  assert.equal(matches({ codes: [200, 201] }, e), 'match');
  assert.equal(matches({ succeeded: true }, e), 'match');
  assert.equal(matches({ succeeded: false }, e), 'no');
  assert.equal(matches({ succeeded: true }, ev({ responseStatus: undefined })), 'no', 'no response: never succeeded');
  assert.equal(matches({ impersonated: false }, e), 'match');
  assert.equal(matches({ impersonated: true }, ev({ impersonatedUser: { username: 'bob' } })), 'match');
  assert.equal(matches({ userAgents: ['kubectl/*'] }, ev({ userAgent: 'kubectl/v1.31.2 (linux/amd64)' })), 'match');
  assert.equal(matches({ userAgents: ['kubectl/*'] }, e), 'no', 'no userAgent');
});

test('matchers: apiGroups, namespaces and resources follow the audit policy conventions', () => {
  const core = ev();
  const rbac = ev({
    objectRef: { resource: 'clusterroles', name: 'x', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
  });
  const v1alpha1 = ev({ objectRef: { resource: 'rolebindings', apiVersion: 'rbac.authorization.k8s.io/v1beta1' } });
  const exec = ev({
    objectRef: { resource: 'pods', subresource: 'exec', namespace: 'shop', name: 'p', apiVersion: 'v1' },
  });
  const nonResource = ev({ objectRef: undefined, requestURI: '/healthz', verb: 'get' });
  assert.equal(matches({ apiGroups: [''] }, core), 'match', "'' is the core group");
  assert.equal(matches({ apiGroups: [''] }, rbac), 'no');
  assert.equal(matches({ apiGroups: ['rbac.authorization.k8s.io'] }, rbac), 'match');
  assert.equal(matches({ apiGroups: ['rbac.authorization.k8s.io'] }, v1alpha1), 'match', 'group from group/version');
  assert.equal(matches({ apiGroups: ['*'] }, nonResource), 'no', 'non-resource requests have no group');
  assert.equal(matches({ namespaces: [''] }, rbac), 'match', "'' = cluster-scoped");
  assert.equal(matches({ namespaces: [''] }, core), 'no');
  assert.equal(matches({ namespaces: ['sh*'] }, core), 'match');
  assert.equal(matches({ namespaces: ['*'] }, nonResource), 'no');
  assert.equal(matches({ resources: ['pods'] }, exec), 'no', 'pods does not cover its subresources');
  assert.equal(matches({ resources: ['pods/exec'] }, exec), 'match');
  assert.equal(matches({ resources: ['pods/*'] }, exec), 'match');
  assert.equal(matches({ resources: ['pods/*'] }, ev({ objectRef: { resource: 'pods', apiVersion: 'v1' } })), 'match');
  assert.equal(matches({ resources: ['secrets/*'] }, exec), 'no');
  assert.equal(matches({ resources: ['*/exec'] }, exec), 'match');
  assert.equal(matches({ resources: ['*/exec'] }, core), 'no');
  assert.equal(matches({ resources: ['*'] }, exec), 'match');
  assert.equal(matches({ resources: ['*'] }, nonResource), 'no');
  assert.equal(matches({ verbs: ['get'] }, nonResource), 'match');
});

test('matchers: podSecurity and requestObject read the request body, and say undecided without one', () => {
  const pod = (spec: Record<string, unknown>) => ({ kind: 'Pod', apiVersion: 'v1', spec });
  const base = { objectRef: { resource: 'pods', namespace: 'x', apiVersion: 'v1' } };
  const m: MatcherConfig = { podSecurity: ['privileged', 'hostPID'] };
  const privileged = ev({
    ...base,
    requestObject: pod({
      containers: [{ name: 'a' }],
      initContainers: [{ name: 'i', securityContext: { privileged: true } }],
    }),
  });
  assert.deepEqual(compileMatcher(m)(privileged), { kind: 'match', features: ['privileged'] });
  assert.equal(matches(m, ev({ ...base, requestObject: pod({ containers: [{ name: 'a' }] }) })), 'no');
  assert.equal(
    matches(m, ev({ ...base, requestObject: pod({ containers: [], hostNetwork: true }) })),
    'no',
    'not asked for',
  );
  assert.deepEqual(compileMatcher(m)(ev(base)), { kind: 'unknown', why: 'no_request_object' });
  assert.deepEqual(compileMatcher(m)(ev({ ...base, requestObject: [{ op: 'add', path: '/spec' }] })), {
    kind: 'unknown',
    why: 'no_request_object',
  });
  assert.deepEqual(compileMatcher(m)(ev({ ...base, requestObject: { metadata: { labels: {} } } })), {
    kind: 'unknown',
    why: 'no_pod_spec',
  });
  assert.deepEqual(
    compileMatcher(m)(
      ev({
        ...base,
        requestObject: pod({ containers: [], hostPID: true }),
        annotations: { 'audit.k8s.io/truncated': 'true' },
      }),
    ),
    { kind: 'unknown', why: 'request_truncated' },
  );
  const crb = (name: unknown) =>
    ev({
      objectRef: { resource: 'clusterrolebindings', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
      requestObject: { roleRef: { name }, subjects: [{ name: 'eve' }] },
    });
  const admin: MatcherConfig = { requestObject: { 'roleRef.name': ['cluster-admin', 'admin'] } };
  assert.equal(matches(admin, crb('cluster-admin')), 'match');
  assert.equal(matches(admin, crb('view')), 'no');
  assert.equal(matches(admin, crb({ nested: true })), 'no', 'only scalars compare');
  assert.equal(matches({ requestObject: { 'subjects.0.name': ['e*'] } }, crb('x')), 'match', 'array index segments');
  assert.equal(
    matches({ requestObject: { 'subjects.0.name': ['e*'] }, verbs: ['delete'] }, crb('x')),
    'no',
    'cheap checks first',
  );
});

test('pod specs are found in Pods, workload templates and CronJob job templates', () => {
  const spec = { containers: [{ name: 'a' }], hostIPC: true, volumes: [{ name: 'h', hostPath: { path: '/' } }] };
  for (const obj of [
    { kind: 'Pod', spec },
    { kind: 'Deployment', spec: { template: { spec } } },
    { kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec } } } } },
  ]) {
    assert.deepEqual(podFeatures(podSpecOf(obj)!), ['hostIPC', 'hostPath'], obj.kind);
  }
  assert.equal(podSpecOf({ kind: 'ConfigMap', data: {} }), undefined);
  assert.equal(podSpecOf('x'), undefined);
});

test('globs: * is the only wildcard, the rest is literal', () => {
  assert.ok(
    globToRegExp('system:serviceaccount:kube-system:*').test('system:serviceaccount:kube-system:job-controller'),
  );
  assert.ok(!globToRegExp('a.b').test('axb'));
  assert.ok(globToRegExp('*').test(''));
  assert.ok(globToRegExp('(x)+[y]').test('(x)+[y]'));
});

test('rules: first match wins by default, exclusions let later rules apply, all gives one per rule', () => {
  const config = resolveConfig(
    configOf({
      rules: [
        { name: 'secrets', severity: 'high', match: { resources: ['secrets'] }, exclude: [{ users: ['alice'] }] },
        { name: 'writes', severity: 'low', match: { verbs: ['create'] } },
        { name: 'shop', severity: 'info', match: { namespaces: ['shop'] } },
      ],
    }),
  );
  const first = compileRules(config);
  assert.deepEqual(
    evaluate(first, ev()).hits.map((h) => h.rule.name),
    ['writes'],
    'alice is excluded from secrets',
  );
  assert.deepEqual(
    evaluate(first, ev({ user: { username: 'bob' } })).hits.map((h) => h.rule.name),
    ['secrets'],
  );
  const all = compileRules({ ...config, matchPolicy: 'all' });
  assert.deepEqual(
    evaluate(all, ev({ user: { username: 'bob' } })).hits.map((h) => h.rule.name),
    ['secrets', 'writes', 'shop'],
  );
  const globallyExcluded = compileRules({ ...config, exclude: [{ namespaces: ['shop'] }] });
  assert.equal(evaluate(globallyExcluded, ev()).outcome, 'excluded');
  assert.equal(evaluate(first, ev({ stage: 'RequestReceived' })).outcome, 'stage_skipped');
  assert.equal(
    evaluate(first, ev({ namespace: 'x', verb: 'get', objectRef: { resource: 'pods' } })).outcome,
    'unmatched',
  );
});

test('rules: per-rule stages override config.stages', () => {
  const set = compileRules(
    resolveConfig(
      configOf({
        stages: ['ResponseComplete'],
        rules: [
          { name: 'early', severity: 'low', stages: ['RequestReceived'], match: {} },
          { name: 'late', severity: 'low', match: {} },
        ],
      }),
    ),
  );
  assert.deepEqual([...set.stages].sort(), ['RequestReceived', 'ResponseComplete']);
  assert.deepEqual(
    evaluate(set, ev({ stage: 'RequestReceived', responseStatus: undefined })).hits.map((h) => h.rule.name),
    ['early'],
  );
  assert.deepEqual(
    evaluate(set, ev()).hits.map((h) => h.rule.name),
    ['late'],
  );
  assert.equal(evaluate(set, ev({ stage: 'Panic' })).outcome, 'stage_skipped');
});

test('config: built-in rules when rules is unset; custom rules replace them unless includeDefaultRules', () => {
  const names = (c?: Record<string, unknown>) => resolveConfig(configOf(c)).rules.map((r) => r.name);
  const builtIn = DEFAULT_RULES.map((r) => r.name);
  assert.deepEqual(builtIn, [
    'authz-denied',
    'privileged-pod',
    'cluster-admin-binding',
    'pod-exec',
    'impersonation',
    'rbac-change',
    'secret-change',
    'configmap-change',
    'delete',
  ]);
  assert.deepEqual(names(undefined), builtIn);
  assert.deepEqual(names({}), builtIn);
  const mine = { name: 'mine', severity: 'low' as const, match: {} };
  assert.deepEqual(names({ rules: [mine] }), ['mine']);
  assert.deepEqual(names({ rules: [mine], includeDefaultRules: true }), ['mine', ...builtIn]);
  assert.deepEqual(names({ rules: [] }), [], 'an empty list turns every rule off');
  assert.deepEqual(names({ disableRules: ['delete', 'configmap-change'] }), builtIn.slice(0, -2));
  const override = { name: 'delete', severity: 'info' as const, match: { verbs: ['delete'] } };
  const r = resolveConfig(configOf({ rules: [override], includeDefaultRules: true }));
  assert.deepEqual(
    r.rules.map((x) => x.name),
    ['delete', ...builtIn.filter((n) => n !== 'delete')],
  );
  assert.equal(r.rules[0]!.severity, 'info');
  assert.deepEqual(r.warnings, [], 'replacing a built-in rule is not a mistake');
  assert.deepEqual(resolveConfig(configOf({ rules: [mine, mine], disableRules: ['nope'] })).warnings, [
    "disableRules: no rule named 'nope'",
    "rules: duplicate rule name 'mine'; only the first is used",
  ]);
  assert.deepEqual(resolveConfig(DEFAULT_CONFIG), {
    stages: ['ResponseStarted', 'ResponseComplete', 'Panic'],
    rules: [...DEFAULT_RULES],
    exclude: [],
    matchPolicy: 'first',
    category: 'security',
    maxEvents: 10_000,
    warnings: [],
  });
});

test('config schema (ajv strict, via the Ingester validator): good configs pass, mistakes name the field', async () => {
  const kit = await load();
  const doc = (config: unknown) => ({
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Ingester',
    metadata: { name: 'k8s-audit', namespace: INGESTER_NS },
    spec: { source: 'audit', ingester: 'webhook', webhook: { path: '/ingest/k8s-audit' }, config },
  });
  try {
    const ok = kit.validateIngester(doc({}));
    assert.ok(ok.ok);
    assert.deepEqual(ok.ingester.view.config, {
      stages: ['ResponseStarted', 'ResponseComplete', 'Panic'],
      includeDefaultRules: false,
      disableRules: [],
      exclude: [],
      matchPolicy: 'first',
      category: 'security',
      maxEvents: 10_000,
    });
    assert.ok(kit.validateIngester(doc({ rules: [...DEFAULT_RULES] })).ok, 'the built-in rules are valid config');
    const bad: Array<[unknown, string]> = [
      [{ stages: ['Done'] }, 'spec.config.stages[0]'],
      [{ rules: [{ name: 'Bad Name', severity: 'high', match: {} }] }, 'spec.config.rules[0].name'],
      [{ rules: [{ name: 'x', severity: 'urgent', match: {} }] }, 'spec.config.rules[0].severity'],
      [{ rules: [{ name: 'x', severity: 'low' }] }, 'spec.config.rules[0].match'],
      [{ rules: [{ name: 'x', severity: 'low', match: { verb: ['get'] } }] }, 'spec.config.rules[0].match.verb'],
      [
        { rules: [{ name: 'x', severity: 'low', match: { podSecurity: ['root'] } }] },
        'spec.config.rules[0].match.podSecurity[0]',
      ],
      [{ rules: [{ name: 'x', severity: 'low', match: { codes: [99] } }] }, 'spec.config.rules[0].match.codes[0]'],
      [{ exclude: [{ decision: 'deny' }] }, 'spec.config.exclude[0].decision'],
      [{ matchPolicy: 'any' }, 'spec.config.matchPolicy'],
      [{ maxEvents: 0 }, 'spec.config.maxEvents'],
      [{ unknown: true }, 'spec.config.unknown'],
    ];
    for (const [config, path] of bad) {
      const res = kit.validateIngester(doc(config));
      assert.equal(res.ok, false, JSON.stringify(config));
      if (!res.ok) {
        assert.ok(
          res.errors.some((e) => e.path === path),
          `${JSON.stringify(config)} → ${JSON.stringify(res.errors)}`,
        );
      }
    }
  } finally {
    await kit.close();
  }
});

test('resource mapping: apiVersion from apiGroup/apiVersion, kind from the table or the object, name for generateName', () => {
  assert.deepEqual(resourceOf(ev()), { apiVersion: 'v1', kind: 'Secret', name: 'db', namespace: 'shop' });
  assert.deepEqual(
    resourceOf(
      ev({
        objectRef: { resource: 'clusterroles', name: 'x', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1' },
      }),
    ),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'x' },
  );
  assert.deepEqual(
    resourceOf(
      ev({
        objectRef: {
          resource: 'rolebindings',
          name: 'r',
          namespace: 'n',
          apiVersion: 'rbac.authorization.k8s.io/v1beta1',
        },
      }),
    ),
    { apiVersion: 'rbac.authorization.k8s.io/v1beta1', kind: 'RoleBinding', name: 'r', namespace: 'n' },
    'v1alpha1 objectRef: group/version in apiVersion',
  );
  // A custom resource: the kind from the response object when its apiVersion agrees, else left out.
  const cr = { resource: 'widgets', name: 'w', namespace: 'n', apiGroup: 'example.com', apiVersion: 'v1' };
  assert.deepEqual(
    resourceOf(ev({ objectRef: cr, responseObject: { kind: 'Widget', apiVersion: 'example.com/v1' } })),
    {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      name: 'w',
      namespace: 'n',
    },
  );
  assert.deepEqual(resourceOf(ev({ objectRef: cr, responseObject: { kind: 'Status', apiVersion: 'v1' } })), {
    apiVersion: 'example.com/v1',
    name: 'w',
    namespace: 'n',
  });
  assert.deepEqual(resourceOf(ev({ objectRef: cr, responseObject: { kind: 'Widget', apiVersion: 'other.io/v1' } })), {
    apiVersion: 'example.com/v1',
    name: 'w',
    namespace: 'n',
  });
  assert.equal(
    kindOf('apps', 'deployments', 'scale', 'apps/v1', [{ kind: 'Scale', apiVersion: 'autoscaling/v1' }]),
    'Deployment',
  );
  assert.equal(
    kindOf('example.com', 'widgets', 'status', 'example.com/v1', [{ kind: 'Widget', apiVersion: 'example.com/v1' }]),
    undefined,
  );
  // generateName: the name comes from the created object.
  const generated = ev({
    objectRef: { resource: 'pods', namespace: 'n', apiVersion: 'v1' },
    responseObject: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'web-abcde', generateName: 'web-' } },
  });
  assert.deepEqual(resourceOf(generated), { apiVersion: 'v1', kind: 'Pod', name: 'web-abcde', namespace: 'n' });
  assert.equal(resourceOf(ev({ objectRef: undefined })), undefined);
});

test('details are bounded: the worst case fits the host budget whole', () => {
  const long = (c: string, n = 5000) => c.repeat(n);
  const user = {
    username: long('u'),
    uid: long('i'),
    groups: Array.from({ length: 100 }, (_, i) => `${i}${long('g', 300)}`),
    extra: Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`${i}${long('k', 300)}`, [long('v', 300), 'x', 'y', 'z', 'w']]),
    ),
  };
  const annotations = Object.fromEntries(
    Array.from({ length: 50 }, (_, i) => [`${i}${long('k', 300)}`, long('v', 2000)]),
  );
  const r = mapBody(
    {
      auditID: 'big',
      stage: 'ResponseComplete',
      verb: 'delete',
      user,
      impersonatedUser: user,
      sourceIPs: Array.from({ length: 100 }, () => long('1', 100)),
      userAgent: long('a'),
      objectRef: Object.fromEntries(
        ['resource', 'subresource', 'namespace', 'name', 'uid', 'apiGroup', 'apiVersion'].map((k) => [k, long(k[0]!)]),
      ),
      responseStatus: { code: 200, status: long('s'), reason: long('r'), message: long('m') },
      requestURI: `/api/v1/x?${long('q', 10_000)}`,
      annotations,
    },
    configOf({ rules: [{ name: 'all', severity: 'low', match: {} }] }),
  );
  const d = r.drafts[0]!.details!;
  assert.ok(Buffer.byteLength(JSON.stringify(d)) < 16_384, `${Buffer.byteLength(JSON.stringify(d))} bytes`);
  const annotationsKept = Object.keys(d.annotations as object).length;
  assert.ok(annotationsKept >= 1 && annotationsKept <= 32);
  assert.equal(d.annotationsDropped, 50 - annotationsKept);
  assert.ok(Object.values(d.annotations as Record<string, string>).every((v) => v.length <= 512));
  assert.ok((d.requestURI as string).length <= 1024);
  assert.ok((d.user as { groupsDropped: number }).groupsDropped > 0);
  assert.ok(r.drafts[0]!.title.length <= 256);
  assert.ok(r.drafts[0]!.message!.length <= 2048);
});

test('privileged-pod: server-side apply creates (patch 201) and privileged ephemeral containers', () => {
  const set = compileRules(resolveConfig(DEFAULT_CONFIG));
  const pod = (spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec });
  const rule = (e: AuditEvent) => evaluate(set, e).hits.map((h) => h.rule.name);
  const podRef = { resource: 'pods', namespace: 'shop', name: 'p', apiVersion: 'v1' };
  const hostNet = pod({ hostNetwork: true, containers: [{ name: 'c', image: 'x' }] });
  const applied = { verb: 'patch', objectRef: podRef, requestObject: hostNet };
  assert.deepEqual(rule(ev({ ...applied, responseStatus: { code: 201 } })), ['privileged-pod'], 'apply that created');
  assert.deepEqual(rule(ev({ ...applied, responseStatus: { code: 200 } })), [], 're-apply of an existing pod');
  const debug = {
    verb: 'patch',
    objectRef: { ...podRef, subresource: 'ephemeralcontainers' },
    responseStatus: { code: 200 },
  };
  const eph = (securityContext: unknown) => ({
    spec: { ephemeralContainers: [{ name: 'dbg', image: 'x', securityContext }] },
  });
  assert.deepEqual(rule(ev({ ...debug, requestObject: eph({ privileged: true }) })), ['privileged-pod']);
  assert.deepEqual(rule(ev({ ...debug, requestObject: eph({}) })), []);
  // At level Metadata: undecided (counted), not silently unmatched.
  assert.deepEqual(evaluate(set, ev(debug)).undecided, [{ rule: 'privileged-pod', why: 'no_request_object' }]);
});
