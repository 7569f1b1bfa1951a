import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createAjv, IngesterValidator } from '../config/validate.ts';
import { SqliteStore } from '../sinks/sqlite-store.ts';
import type { ObservationSink } from '../sinks/types.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { DedupCache } from './dedup.ts';
import { compileFilter } from './filter.ts';
import { canonicalJson, observationName, sha256Hex } from './fingerprint.ts';
import { boundDetails, normalizeDraft, normalizeSeverity, sanitizeEventType } from './normalize.ts';
import { contentHash, Pipeline } from './pipeline.ts';
import { TokenBucket } from './token-bucket.ts';

describe('normalize', () => {
  for (const [input, want] of [
    ['CRITICAL', 'critical'],
    ['Emergency', 'critical'],
    ['error', 'high'],
    ['Warning', 'medium'],
    ['notice', 'low'],
    ['informational', 'info'],
    ['UNKNOWN', 'info'],
    ['nonsense', undefined],
    [42, undefined],
    // Keys of Object.prototype are not severities (a payload can carry any string).
    ['__proto__', undefined],
    ['constructor', undefined],
    ['toString', undefined],
  ] as const) {
    test(`severity ${String(input)} → ${want}`, () => assert.equal(normalizeSeverity(input), want));
  }
  test('eventType is sanitized to ^[a-z0-9_]+$', () => {
    assert.equal(sanitizeEventType('Terminal-Shell in Container!'), 'terminal_shell_in_container');
    assert.equal(sanitizeEventType(''), 'custom_event');
    assert.equal(sanitizeEventType('---'), 'custom_event');
  });
  test('a draft without title is invalid and names the field', () => {
    const r = normalizeDraft({ severity: 'high', title: '' }, { maxDetailsBytes: 1000, now: 0 });
    assert.deepEqual(r.ok ? undefined : r.field, 'title');
  });
  test('unknown category and bad detectedAt are rejected with their fields', () => {
    const a = normalizeDraft({ severity: 'high', title: 't', category: 'fun' }, { maxDetailsBytes: 1000, now: 0 });
    assert.equal(a.ok ? undefined : a.field, 'category');
    const b = normalizeDraft(
      { severity: 'high', title: 't', detectedAt: 'yesterday' },
      { maxDetailsBytes: 1000, now: 0 },
    );
    assert.equal(b.ok ? undefined : b.field, 'detectedAt');
  });
  test('details larger than the budget are truncated with a marker', () => {
    const big = { a: 'x'.repeat(500), b: 'y'.repeat(500), c: 1 };
    const out = boundDetails(big, 700);
    assert.equal(out.a, big.a);
    assert.equal(out.b, undefined);
    assert.equal(out.c, 1);
    assert.deepEqual((out._truncated as { omittedFields: string[] }).omittedFields, ['b']);
    assert.ok(Buffer.byteLength(JSON.stringify(out)) <= 800);
  });
  test('bounding keeps an own "__proto__" key as a key (null too), not as the prototype', () => {
    for (const proto of ['{"x":1}', 'null']) {
      const details = JSON.parse(`{"__proto__":${proto},"constructor":"c","big":"${'y'.repeat(900)}"}`);
      const out = boundDetails(details, 200);
      assert.equal(Object.getPrototypeOf(out), Object.prototype);
      assert.ok(Object.hasOwn(out, '__proto__'));
      assert.equal(JSON.stringify(Object.getOwnPropertyDescriptor(out, '__proto__')?.value), proto);
      assert.equal(out.constructor, 'c');
      assert.deepEqual((out._truncated as { omittedFields: string[] }).omittedFields, ['big']);
    }
  });
});

describe('fingerprint and names', () => {
  test('canonical JSON ignores key order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }),
      canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
  });
  test('canonical JSON is JSON with keys sorted at every level (property; the hot-path sort must not change it)', () => {
    // The definition: keys in Array.prototype.sort order at every level (written out: an object literal would put
    // integer-like keys first).
    const sorted = (v: unknown): string =>
      Array.isArray(v)
        ? `[${v.map(sorted).join(',')}]`
        : v && typeof v === 'object'
          ? `{${Object.keys(v)
              .sort()
              .map((k) => `${JSON.stringify(k)}:${sorted((v as Record<string, unknown>)[k])}`)
              .join(',')}}`
          : JSON.stringify(v);
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        assert.equal(canonicalJson(v), sorted(v));
      }),
      { numRuns: 500 },
    );
    // Many keys (the path past insertion sort) and keys that differ in case, digits and non-ASCII.
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${(i * 37) % 60}`, i]));
    const mixed = { ...many, B: 1, a: 2, é: 3, '10': 4, '9': 5, nested: { z: 1, '2': [{ y: 1, x: 2 }] } };
    assert.equal(canonicalJson(mixed), sorted(mixed));
    assert.equal(canonicalJson({ b: 1, '10': 2, a: 3, '9': 4 }), '{"10":2,"9":4,"a":3,"b":1}');
  });
  test('the content hash is the first 16 hex of sha256 of the canonical JSON of the reported content (property)', () => {
    const content = fc.record(
      {
        severity: fc.constantFrom('critical', 'high', 'medium', 'low', 'info'),
        category: fc.string(),
        eventType: fc.string(),
        title: fc.string(),
        message: fc.string(),
        details: fc.dictionary(fc.string(), fc.jsonValue()),
      },
      { requiredKeys: ['severity', 'category', 'eventType', 'title'] },
    );
    fc.assert(
      fc.property(content, (d) => {
        const basis = canonicalJson({ ...d, message: d.message ?? null, details: d.details ?? null });
        assert.equal(contentHash(d), createHash('sha256').update(basis).digest('hex').slice(0, 16));
      }),
      { numRuns: 300 },
    );
  });
  test('names are <source>-<16 hex>, deterministic, and differ per bucket', () => {
    const n = observationName('falco', 'fp');
    assert.match(n, /^falco-[0-9a-f]{16}$/);
    assert.equal(n, observationName('falco', 'fp'));
    assert.notEqual(observationName('falco', 'fp', 1), observationName('falco', 'fp', 2));
  });
});

describe('filter', () => {
  const d = (over: object = {}) => ({
    severity: 'medium' as const,
    category: 'security' as const,
    eventType: 'vulnerability',
    title: 't',
    detectedAt: '2026-01-01T00:00:00Z',
    labels: {},
    annotations: {},
    resource: { kind: 'Pod', namespace: 'prod', name: 'p' },
    details: { rule: 'Shell' },
    ...over,
  });
  const cases: [string, object, object, string | undefined][] = [
    ['no filters keeps', {}, {}, undefined],
    ['disabled keeps', { enabled: false, minSeverity: 'critical' }, {}, undefined],
    ['minSeverity drops lower', { minSeverity: 'high' }, {}, 'min_severity'],
    ['minSeverity keeps equal', { minSeverity: 'medium' }, {}, undefined],
    ['includeSeverity wins over minSeverity', { includeSeverity: ['medium'], minSeverity: 'critical' }, {}, undefined],
    ['includeSeverity drops others', { includeSeverity: ['critical'] }, {}, 'include_severity'],
    ['excludeNamespaces', { excludeNamespaces: ['PROD'] }, {}, 'exclude_namespace'],
    ['includeNamespaces drops others', { includeNamespaces: ['dev'] }, {}, 'include_namespace'],
    [
      'includeNamespaces drops cluster-scoped',
      { includeNamespaces: ['prod'] },
      { resource: { kind: 'Node', name: 'n' } },
      'include_namespace',
    ],
    ['excludeKinds', { excludeKinds: ['pod'] }, {}, 'exclude_kind'],
    ['ignoreKinds is an alias', { ignoreKinds: ['Pod'] }, {}, 'exclude_kind'],
    ['includeKinds', { includeKinds: ['Deployment'] }, {}, 'include_kind'],
    ['excludeCategories', { excludeCategories: ['security'] }, {}, 'exclude_category'],
    ['includeCategories', { includeCategories: ['compliance'] }, {}, 'include_category'],
    ['excludeEventTypes', { excludeEventTypes: ['Vulnerability'] }, {}, 'exclude_event_type'],
    ['includeEventTypes', { includeEventTypes: ['audit'] }, {}, 'include_event_type'],
    ['excludeRules', { excludeRules: ['shell'] }, {}, 'exclude_rule'],
  ];
  for (const [name, spec, over, want] of cases) {
    test(name, () => assert.equal(compileFilter(spec)(d(over)), want));
  }
});

describe('dedup cache', () => {
  test('window is fixed from the first sighting', () => {
    const c = new DedupCache(10);
    assert.equal(c.seen('k', 0, 1000), false);
    assert.equal(c.seen('k', 999, 1000), true);
    assert.equal(c.seen('k', 1000, 1000), false);
  });
  test('window 0 never expires; memory is bounded by maxEntries', () => {
    const c = new DedupCache(3);
    for (const k of ['a', 'b', 'c', 'd']) c.seen(k, 0, 0);
    assert.equal(c.size, 3);
    assert.equal(c.evictions, 1);
    assert.equal(c.seen('a', 10, 0), false, 'the oldest entry was evicted');
    assert.equal(c.seen('d', 10, 0), true);
  });
  test('evicts the oldest entry first, as a fresh scan from the start would (property, random operations)', () => {
    // The definition: a Map in insertion order, the oldest key found by a new keys() iterator at every eviction.
    class Reference {
      readonly m = new Map<string, number>();
      evictions = 0;
      readonly max: number;
      constructor(max: number) {
        this.max = max;
      }
      seen(key: string, now: number, windowMs: number): boolean {
        const first = this.m.get(key);
        if (first !== undefined && (windowMs === 0 || (now >= first && now - first < windowMs))) return true;
        if (first !== undefined) this.m.delete(key);
        this.m.set(key, now);
        if (this.m.size > this.max) {
          this.m.delete(this.m.keys().next().value as string);
          this.evictions++;
        }
        return false;
      }
    }
    const op = fc.oneof(
      fc.record({ kind: fc.constant('seen' as const), key: fc.integer({ min: 0, max: 30 }), at: fc.nat(50) }),
      fc.record({ kind: fc.constant('forget' as const), key: fc.integer({ min: 0, max: 30 }), at: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 300 }), (max, ops) => {
        const c = new DedupCache(max);
        const r = new Reference(max);
        for (const o of ops) {
          const key = `k${o.key}`;
          if (o.kind === 'forget') {
            c.forget(key);
            r.m.delete(key);
          } else assert.equal(c.seen(key, o.at, 10), r.seen(key, o.at, 10));
          assert.equal(c.size, r.m.size);
          assert.equal(c.evictions, r.evictions);
        }
        for (const key of r.m.keys()) assert.equal(c.seen(key, r.m.get(key)!, 0), true, key);
      }),
      { numRuns: 500 },
    );
  });
  test('keeps targets and order as a Map would, for pipeline keys and any other key (property, random operations)', () => {
    // The definition: a Map in insertion order of key → {first sighting, target}, as the cache was before ADR 0032.
    const hex = (n: number, len: number) => sha256Hex(String(n)).slice(0, len);
    // The same digest under two scopes is two keys.
    const keyOf = (k: number) =>
      k % 5 === 0 ? `plain-${k}` : `${k % 2 ? 'other/src' : 'default/falco'}/${hex(k >> 2, 64)}`;
    const targetOf = (k: number, t: number) =>
      t % 4 === 0 ? `odd target ${t}` : `${t % 2 ? 'default' : `ns-${t}`}/falco-${hex(k * 31 + t, 16)}`;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('seen' as const), key: fc.nat(40), v: fc.nat(50) }),
      fc.record({ kind: fc.constant('forget' as const), key: fc.nat(40), v: fc.constant(0) }),
      fc.record({ kind: fc.constant('remember' as const), key: fc.nat(40), v: fc.nat(50) }),
      fc.record({ kind: fc.constant('setTarget' as const), key: fc.nat(40), v: fc.nat(20) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 300 }), (max, ops) => {
        const c = new DedupCache(max);
        const m = new Map<string, { at: number; target?: string }>();
        let evictions = 0;
        const seen = (key: string, now: number, windowMs: number) => {
          const first = m.get(key)?.at;
          if (first !== undefined && (windowMs === 0 || (now >= first && now - first < windowMs))) return true;
          if (first !== undefined) m.delete(key);
          m.set(key, { at: now });
          if (m.size > max) {
            m.delete(m.keys().next().value as string);
            evictions++;
          }
          return false;
        };
        for (const o of ops) {
          const key = keyOf(o.key);
          if (o.kind === 'forget') {
            c.forget(key);
            m.delete(key);
          } else if (o.kind === 'remember') {
            c.remember(key, o.v);
            if (!m.has(key)) seen(key, o.v, 0);
          } else if (o.kind === 'setTarget') {
            const t = targetOf(o.key, o.v);
            c.setTarget(key, t);
            const e = m.get(key);
            if (e) e.target = t;
          } else assert.equal(c.seen(key, o.v, 10), seen(key, o.v, 10));
          assert.equal(c.size, m.size);
          assert.equal(c.evictions, evictions);
          assert.equal(c.target(key), m.get(key)?.target);
        }
        for (const [key, e] of m) {
          assert.equal(c.target(key), e.target, key);
          assert.equal(c.seen(key, e.at, 0), true, key);
        }
      }),
      { numRuns: 500 },
    );
  });
  test('grows and shrinks through many entries with the answers of a Map (index growth, deletes that shift)', () => {
    const c = new DedupCache(5000);
    const m = new Map<string, number>();
    let x = 7;
    const rand = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x;
    };
    for (let i = 0; i < 40_000; i++) {
      const k = `default/falco/${sha256Hex(String(rand() % 9000))}`;
      if (rand() % 4 === 0) {
        c.forget(k);
        m.delete(k);
        continue;
      }
      const want = m.has(k);
      if (!want) {
        m.set(k, 0);
        if (m.size > 5000) m.delete(m.keys().next().value as string);
      }
      assert.equal(c.seen(k, 0, 0), want, `op ${i}`);
      assert.equal(c.size, m.size);
    }
    for (const k of m.keys()) assert.equal(c.seen(k, 0, 0), true);
  });
  test("a pipeline key's identity is its scope and the first 128 bits of its sha256, each of the four words", () => {
    const c = new DedupCache(100);
    const base = '0123456789abcdef'.repeat(4);
    assert.equal(c.seen(`ns/src/${base}`, 0, 0), false);
    for (let w = 0; w < 4; w++) {
      const other = `${base.slice(0, 8 * w)}ffffffff${base.slice(8 * w + 8)}`;
      assert.equal(c.seen(`ns/src/${other}`, 0, 0), false, `word ${w}`);
    }
    // Bits past the 128th are not looked at (see dedup.ts: agreeing in 128 bits of sha256 is out of reach).
    assert.equal(c.seen(`ns/src/${base.slice(0, 32)}${'0'.repeat(32)}`, 0, 0), true);
    assert.equal(c.size, 5);
  });
  test('an unbounded variety of scopes and target namespaces is held (interning tables are bounded)', () => {
    const c = new DedupCache(20_000);
    for (let i = 0; i < 10_000; i++) {
      const key = `ns-${i}/src/${sha256Hex(String(i))}`;
      assert.equal(c.seen(key, 0, 0), false);
      c.setTarget(key, `target-ns-${i}/src-${sha256Hex(`t${i}`).slice(0, 16)}`);
    }
    for (let i = 0; i < 10_000; i++) {
      const key = `ns-${i}/src/${sha256Hex(String(i))}`;
      assert.equal(c.seen(key, 0, 0), true, key);
      assert.equal(c.target(key), `target-ns-${i}/src-${sha256Hex(`t${i}`).slice(0, 16)}`);
    }
  });
  test('at capacity a new key costs the same after many evictions (no scan over evicted entries)', () => {
    const c = new DedupCache(1000);
    for (let k = 0; k < 50_000; k++) c.seen(`k${k}`, 0, 0);
    assert.equal(c.size, 1000);
    assert.equal(c.evictions, 49_000);
    assert.equal(c.seen('k48999', 0, 0), false, 'evicted');
    assert.equal(c.seen('k49999', 0, 0), true, 'kept');
  });
});

describe('token bucket', () => {
  test('refills at rate, caps at burst, and can go into debt', () => {
    const b = new TokenBucket(2, 2, 0);
    assert.equal(b.tryTake(0), true);
    assert.equal(b.tryTake(0), true);
    assert.equal(b.tryTake(0), false);
    assert.equal(b.waitMs(0), 500);
    assert.equal(b.tryTake(500), true);
    b.forceTake(500, 3);
    assert.equal(b.waitMs(500), 2000);
    assert.equal(b.tryTake(10_000, 2), true);
    assert.equal(b.tryTake(10_000), false);
  });
});

describe('pipeline', () => {
  const handlers = new Map([
    [
      'webhook',
      {
        handler: 'webhook',
        plugin: 'webhook',
        pluginVersion: '1.0.0',
        ingesterTypes: ['webhook', 'informer'] as const,
      },
    ],
  ]);
  const validator = new IngesterValidator({
    ajv: createAjv(),
    handlers: (h) => handlers.get(h),
    knownHandlers: () => ['webhook'],
  });
  const ingester = (spec: object = {}, type: 'webhook' | 'informer' = 'webhook') => {
    const r = validator.validate({
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: 'i', namespace: 'ns' },
      spec: {
        source: 'tool',
        plugin: 'webhook',
        ingester: type,
        ...(type === 'webhook' ? { webhook: { path: '/x' } } : {}),
        ...spec,
      },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.ingester;
  };
  const make = (
    opts: {
      now?: () => number;
      sink?: ObservationSink;
      ownNamespaces?: string[];
      dropLog?: (source: string, reason: string, detail?: object) => void;
    } = {},
  ) => {
    const metrics = createMetrics();
    const store = new SqliteStore(':memory:');
    const p = new Pipeline({
      sink: opts.sink ?? store,
      metrics,
      dropLog: opts.dropLog ?? (() => {}),
      maxDetailsBytes: 4096,
      defaultTtlSeconds: 3600,
      dedupMaxEntries: 1000,
      maxQueue: 100,
      webhookWindowMs: 60_000,
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.ownNamespaces ? { ownNamespaces: opts.ownNamespaces } : {}),
    });
    return { p, store, metrics };
  };

  test('writes, dedups in memory, and counts each drop by reason', async () => {
    const { p, store, metrics } = make();
    const ci = p.compile(ingester({ filters: { minSeverity: 'medium' } }));
    const r = await p.process(
      ci,
      [
        { severity: 'high', title: 'a', resource: { namespace: 'app', kind: 'Pod', name: 'p' } },
        { severity: 'high', title: 'a', resource: { namespace: 'app', kind: 'Pod', name: 'p' } },
        { severity: 'low', title: 'b' },
        { severity: 'bogus', title: 'c' },
      ],
      'webhook',
    );
    assert.deepEqual(
      { ...r, names: r.names.length, stored: r.stored.length },
      { created: 1, duplicates: 1, filtered: 1, dropped: 1, names: 1, stored: 1, refused: 0, resolved: 0 },
    );
    const [obs] = store.list();
    assert.equal(obs?.namespace, 'app', 'Observation lives in the resource namespace');
    assert.equal(obs?.labels.severity, 'high');
    assert.equal(obs?.spec.ttlSecondsAfterCreation, 3600);
    const text = await metrics.registry.metrics();
    assert.match(text, /zen_watcher_observations_filtered_total\{source="tool",reason="min_severity"\} 1/);
    assert.match(text, /zen_watcher_observations_dropped_total\{source="tool",reason="invalid_draft"\} 1/);
    assert.match(text, /zen_watcher_observations_deduped_total\{source="tool",layer="memory"\} 1/);
  });

  test('sharded (ownNamespaces): a resource outside the owned namespaces is written to the Ingester namespace', async () => {
    const { p, store } = make({ ownNamespaces: ['ns', 'app'] });
    const ci = p.compile(ingester());
    const at = (namespace: string, title: string) => ({ severity: 'high', title, resource: { namespace, name: 'p' } });
    await p.process(ci, [at('app', 'owned'), at('other', 'foreign'), { severity: 'high', title: 'none' }], 'webhook');
    const where = Object.fromEntries(store.list().map((o) => [o.spec.title, o.namespace]));
    assert.deepEqual(where, { owned: 'app', foreign: 'ns', none: 'ns' });
    // An explicit destination is the user's choice and is kept.
    const dest = p.compile(ingester({ destinations: [{ type: 'crd', namespace: 'elsewhere' }] }));
    await p.process(dest, [at('other', 'dest')], 'webhook');
    assert.equal(store.list().find((o) => o.spec.title === 'dest')?.namespace, 'elsewhere');
  });

  test('a fresh pipeline (restart) finds the duplicate in the store', async () => {
    const store = new SqliteStore(':memory:');
    const a = make({ sink: store });
    const b = make({ sink: store });
    const draft = { severity: 'high', title: 'same' };
    await a.p.process(a.p.compile(ingester()), [draft], 'webhook');
    const r = await b.p.process(b.p.compile(ingester()), [draft], 'webhook');
    assert.equal(r.duplicates, 1);
    assert.equal(store.count(), 1);
    assert.match(await b.metrics.registry.metrics(), /deduped_total\{source="tool",layer="store"\} 1/);
  });

  test('window slides across a bucket edge, and a repeat after the window is new', async () => {
    let now = 59_000; // 1 s before the 60 s bucket edge
    const store = new SqliteStore(':memory:');
    const draft = { severity: 'high', title: 'edge' };
    const run = async () => {
      const x = make({ sink: store, now: () => now });
      return x.p.process(x.p.compile(ingester()), [draft], 'webhook');
    };
    assert.equal((await run()).created, 1);
    now = 61_000; // next bucket, 2 s later: still within the window
    assert.equal((await run()).duplicates, 1);
    now = 59_000 + 60_001; // past the window
    assert.equal((await run()).created, 1);
  });

  test('windows run on the event time: a retry received in the next bucket is the same Observation', async () => {
    const store = new SqliteStore(':memory:');
    const detectedAt = new Date(59_500).toISOString(); // the event happened 0.5 s before the 60 s bucket edge
    const draft = { severity: 'high', title: 'retried', detectedAt };
    let now = 59_600;
    const replica = () => make({ sink: store, now: () => now });
    const x = replica();
    const first = await x.p.process(x.p.compile(ingester()), [draft], 'webhook');
    now = 61_000; // the retry reaches another replica in the next bucket
    const y = replica();
    const retry = await y.p.process(y.p.compile(ingester()), [draft], 'webhook');
    assert.deepEqual(retry.names, first.names, 'same name on both replicas');
    assert.equal(retry.duplicates, 1);
    assert.equal(store.count(), 1);
    // The same finding reported again with a later event time, past the window: a new Observation.
    now = 125_000;
    const z = replica();
    const later = await z.p.process(
      z.p.compile(ingester()),
      [{ ...draft, detectedAt: new Date(120_000).toISOString() }],
      'webhook',
    );
    assert.equal(later.created, 1);
    // And within the window of the first (by event time), though received much later: a duplicate.
    const w = replica();
    const near = await w.p.process(
      w.p.compile(ingester()),
      [{ ...draft, detectedAt: new Date(100_000).toISOString() }],
      'webhook',
    );
    assert.equal(near.duplicates, 1);
    assert.equal(store.count(), 2);
  });

  test('key strategy identifies findings by the chosen fields only', async () => {
    const { p } = make();
    const ci = p.compile(ingester({ deduplication: { strategy: 'key', fields: ['resource.name'] } }));
    const r = await p.process(
      ci,
      [
        { severity: 'high', title: 'a', resource: { name: 'x' } },
        { severity: 'low', title: 'b', resource: { name: 'x' } },
        { severity: 'low', title: 'b', resource: { name: 'y' } },
      ],
      'webhook',
    );
    assert.equal(r.created, 2);
    assert.equal(r.duplicates, 1);
  });

  test('dedup disabled writes every draft; ttl clamps apply', async () => {
    const { p, store } = make();
    const ci = p.compile(ingester({ deduplication: { enabled: false }, ttl: { default: '2h', min: '2h', max: '3h' } }));
    await p.process(
      ci,
      [
        { severity: 'high', title: 'a', ttlSeconds: 60 },
        { severity: 'high', title: 'a', ttlSeconds: 99_999 },
      ],
      'webhook',
    );
    const ttls = store
      .list()
      .map((o) => o.spec.ttlSecondsAfterCreation)
      .sort((a, b) => a - b);
    assert.deepEqual(ttls, [7200, 10800]);
  });

  test('rate limit: admit refuses with Retry-After once the bucket is empty', async () => {
    let now = 0;
    const { p } = make({ now: () => now });
    const ci = p.compile(ingester({ rateLimit: { requestsPerSecond: 1, burst: 2 } }));
    assert.equal(p.admit(ci), undefined);
    await p.process(
      ci,
      [
        { severity: 'high', title: 'a' },
        { severity: 'high', title: 'b' },
        { severity: 'high', title: 'c' },
      ],
      'webhook',
    );
    const refused = p.admit(ci);
    assert.equal(refused?.status, 429);
    assert.equal(refused?.retryAfterSeconds, 2);
    now = 2000;
    assert.equal(p.admit(ci), undefined);
  });

  test('informer window defaults to 0: identity never expires', async () => {
    let now = 0;
    const { p } = make({ now: () => now });
    const ci = p.compile(ingester({}, 'informer'));
    assert.equal(ci.windowMs, 0);
    await p.process(ci, [{ severity: 'high', title: 'a', fingerprint: 'f1' }], 'informer');
    now = 10 * 86_400_000;
    const r = await p.process(ci, [{ severity: 'high', title: 'a', fingerprint: 'f1' }], 'informer');
    assert.equal(r.duplicates, 1);
  });

  test('a draft that cannot be read or written as JSON is one invalid draft; the rest of the batch is written', async () => {
    const drops: [string, string, object | undefined][] = [];
    const { p, store, metrics } = make({ dropLog: (source, reason, detail) => drops.push([source, reason, detail]) });
    const ci = p.compile(ingester());
    const unreadable = [
      { severity: 'high', title: 'bigint', details: { n: 10n } },
      {
        severity: 'high',
        title: 'toJSON',
        details: {
          toJSON() {
            throw new Error('no JSON for you');
          },
        },
      },
      {
        severity: 'high',
        get title(): string {
          throw new Error('getter');
        },
      },
      {
        severity: 'high',
        title: 'deep getter',
        details: {
          get a(): string {
            throw new Error('nested getter');
          },
        },
      },
    ];
    const batch = [{ severity: 'high', title: 'good' }, ...unreadable, { severity: 'high', title: 'after' }];
    const first = await p.process(ci, batch as never, 'webhook');
    assert.deepEqual([first.created, first.dropped, first.duplicates], [2, 4, 0]);
    // A retry of the same batch: the good ones are duplicates, the others dropped again; nothing throws.
    const again = await p.process(ci, batch as never, 'webhook');
    assert.deepEqual([again.created, again.dropped, again.duplicates], [0, 4, 2]);
    assert.deepEqual(
      store
        .list()
        .map((o) => o.spec.title)
        .sort(),
      ['after', 'good'],
    );
    assert.match(
      await metrics.registry.metrics(),
      /zen_watcher_observations_dropped_total\{source="tool",reason="invalid_draft"\} 8/,
    );
    assert.ok(drops.every(([source, reason]) => source === 'tool' && reason === 'invalid_draft'));
    const why = drops.slice(0, 4).map(([, , d]) => d as { field: string; why: string });
    assert.deepEqual(
      why.map((w) => w.field),
      ['details', 'details', '', ''],
    );
    assert.match(why[0]!.why, /^details cannot be written as JSON \(TypeError: .*BigInt/);
    assert.match(why[1]!.why, /no JSON for you/);
    assert.match(why[2]!.why, /^reading the draft threw \(Error: getter\)$/);
    // The resolver's preview goes through the same normalization: undefined, not a throw.
    assert.equal(await p.preview(ci, unreadable[2] as never), undefined);
  });

  describe('content cut by normalization is still identity: the fingerprint hashes what was sent', () => {
    // make() bounds details to 4096 bytes; titles are cut at 256 characters, messages at 4096.
    const big = 'x'.repeat(5000);
    const cases: [string, (tail: string) => Record<string, unknown>][] = [
      [
        'details beyond the byte budget',
        (tail) => ({ severity: 'high', title: 't', details: { a: 1, big: big + tail } }),
      ],
      ['a title beyond 256 characters', (tail) => ({ severity: 'high', title: `${'t'.repeat(300)}${tail}` })],
      ['a message beyond 4096 characters', (tail) => ({ severity: 'high', title: 't', message: big + tail })],
    ];
    for (const [what, draft] of cases) {
      test(what, async () => {
        const { p, store } = make();
        const ci = p.compile(ingester());
        const r = await p.process(ci, [draft('TAIL1'), draft('TAIL2'), draft('TAIL1')] as never, 'webhook');
        assert.deepEqual([r.created, r.duplicates], [2, 1], 'different events are two, equal ones one');
        const stored = store.list();
        assert.equal(stored.length, 2);
        // Stored cut as before, and nothing of what was sent is stored besides.
        for (const o of stored) {
          assert.ok(o.spec.title.length <= 256);
          assert.ok((o.spec.message ?? '').length <= 4096);
          assert.ok(JSON.stringify(o.spec.details ?? {}).length <= 4096 + 200);
          assert.ok(!JSON.stringify(o).includes('TAIL'), 'the cut tail is not stored');
          assert.deepEqual(Object.keys(o.spec).includes('sent'), false);
        }
        assert.equal(new Set(stored.map((o) => o.spec.fingerprint)).size, 2);
      });
    }
    test('the key strategy reads a field from what was sent too', async () => {
      const { p } = make();
      const ci = p.compile(ingester({ deduplication: { strategy: 'key', fields: ['details.big'] } }));
      const d = (tail: string) => ({ severity: 'high', title: 't', details: { big: big + tail } });
      const r = await p.process(ci, [d('one'), d('two'), d('one')] as never, 'webhook');
      assert.deepEqual([r.created, r.duplicates], [2, 1]);
    });
    test('nothing cut: the basis is the normalized content, as before (names unchanged)', async () => {
      const { p } = make();
      const ci = p.compile(ingester());
      const draft = { severity: 'HIGH', title: '  t  ', message: 'm', details: { a: 1 } };
      const basis = canonicalJson({
        severity: 'high',
        category: 'security',
        eventType: 'custom_event',
        title: 't',
        message: 'm',
        resource: undefined,
        details: { a: 1 },
      });
      const seen = await p.preview(ci, draft as never);
      assert.equal(seen?.obs.spec.fingerprint, sha256Hex(basis));
      const norm = normalizeDraft(draft, { maxDetailsBytes: 4096, now: 0 });
      assert.ok(norm.ok && norm.draft.sent === undefined);
    });
  });
});

test('a resend while the first write is pending is acknowledged only once that write is safe; if it failed, the resend is written', async () => {
  const handlers = new Map([
    ['webhook', { handler: 'webhook', plugin: 'webhook', pluginVersion: '1.0.0', ingesterTypes: ['webhook'] as const }],
  ]);
  const validator = new IngesterValidator({
    ajv: createAjv(),
    handlers: (h) => handlers.get(h),
    knownHandlers: () => ['webhook'],
  });
  const r = validator.validate({
    apiVersion: 'zen.kube-zen.io/v1alpha1',
    kind: 'Ingester',
    metadata: { name: 'i' },
    spec: { source: 'tool', plugin: 'webhook', ingester: 'webhook', webhook: { path: '/x' } },
  });
  if (!r.ok) throw new Error('invalid');
  const gates: ((ok: boolean) => void)[] = [];
  let writes = 0;
  const sink: ObservationSink = {
    kind: 'sqlite',
    write: () =>
      new Promise((resolve, reject) => {
        writes++;
        gates.push((ok) => (ok ? resolve('created') : reject(new Error('API down'))));
      }),
    ready: () => true,
    close: async () => {},
  };
  const p = new Pipeline({
    sink,
    metrics: createMetrics(),
    dropLog: () => {},
    maxDetailsBytes: 4096,
    defaultTtlSeconds: 60,
    dedupMaxEntries: 100,
    maxQueue: 100,
    webhookWindowMs: 60_000,
  });
  const ci = p.compile(r.ingester);
  const draft = { severity: 'high', title: 'same' };
  const first = p.process(ci, [draft], 'webhook');
  await new Promise((res) => setImmediate(res));
  let secondDone = false;
  const second = p.process(ci, [draft], 'webhook').then((x) => {
    secondDone = true;
    return x;
  });
  await new Promise((res) => setImmediate(res));
  assert.equal(secondDone, false, 'the resend waits for the pending write');
  gates[0]!(false); // the first write fails for good
  const failed = await first;
  assert.equal(failed.refused, 1, 'a webhook write that failed is refused (answered 503), not dropped');
  assert.equal(failed.dropped, 0);
  await new Promise((res) => setImmediate(res));
  assert.equal(writes, 2, 'the resend is written instead');
  gates[1]!(true);
  assert.equal((await second).created, 1);
});
