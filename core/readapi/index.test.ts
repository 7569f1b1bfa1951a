import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { makeObservation } from '../../test/support/observations.ts';
import type { Severity } from '../api/types.ts';
import {
  byResource,
  type Entry,
  type Filter,
  matcher,
  ReadIndex,
  SEE_ALL,
  SORT_KEYS,
  type SortKey,
  toEntry,
  type Visibility,
} from './index.ts';
import { ownerChain, resourceKey } from './owners.ts';

const SEVS: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

function entry(i: number, o: { sev?: Severity; ns?: string; src?: string; at?: number; title?: string } = {}): Entry {
  const obs = makeObservation({
    source: o.src ?? ['trivy', 'falco', 'kyverno'][i % 3]!,
    severity: o.sev ?? SEVS[i % 5]!,
    title: o.title ?? `finding ${i}`,
    namespace: o.ns ?? ['a', 'b', 'c'][i % 3]!,
    resource: { kind: 'Pod', name: `app-${i % 4}-5c4f8d9b7-x2x9q` },
    // Deliberate ties in time: the tie-break must keep the order total.
    detectedAt: new Date(o.at ?? 1_700_000_000_000 + (i % 7) * 1000),
  });
  return toEntry(obs, 1_700_000_000_000)!;
}

/** Every page, following cursors. */
function walk(ix: ReadIndex, f: Filter, sort: SortKey, limit: number, vis = SEE_ALL): Entry[] {
  const out: Entry[] = [];
  let cursor: string | undefined;
  let totals = new Set<number>();
  do {
    const p = ix.list(f, vis, { sort, limit, ...(cursor ? { cursor } : {}) });
    assert.ok(p.items.length <= limit);
    totals.add(p.total);
    out.push(...p.items);
    cursor = p.next;
  } while (cursor);
  assert.equal(totals.size, 1, 'the total is the same on every page');
  totals = new Set();
  return out;
}

function expected(all: Entry[], f: Filter, sort: SortKey, vis = SEE_ALL): string[] {
  const m = matcher(f, vis);
  const cmp = (a: Entry, b: Entry) =>
    (sort.endsWith('severity') ? a.rank - b.rank : 0) || a.detectedAt - b.detectedAt || (a.key < b.key ? -1 : 1);
  const sorted = all.filter(m).sort(cmp);
  if (sort.startsWith('-')) sorted.reverse();
  return sorted.map((e) => e.key);
}

/** The summary by the obvious string-keyed scan (Maps: no key can become a prototype), for the property test. */
function referenceSummary(all: Entry[], f: Filter, vis: Visibility, now: number, hours: number) {
  const firstHour = Math.floor(now / 3_600_000) * 3_600_000 - (hours - 1) * 3_600_000;
  const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const obj = (m: Map<string, number>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
  const sevSrc = new Map<string, Map<string, number>>();
  const bySeverity = new Map<string, number>();
  const bySource = new Map<string, number>();
  const byNamespace = new Map<string, number>();
  const hourly = Array.from({ length: hours }, (_, h) => ({
    hour: firstHour + h * 3_600_000,
    new: 0,
    resolved: 0,
    bySeverity: new Map<string, number>(),
    bySource: new Map<string, number>(),
  }));
  const tops = new Map<string, { kind: string; namespace: string; name: string; count: number; rank: number }>();
  let total = 0;
  let resolved = 0;
  for (const e of all.filter(matcher(f, vis))) {
    total++;
    if (e.phase === 'Resolved') resolved++;
    if (!sevSrc.has(e.severity)) sevSrc.set(e.severity, new Map());
    inc(sevSrc.get(e.severity)!, e.source);
    inc(bySeverity, e.severity);
    inc(bySource, e.source);
    inc(byNamespace, e.namespace);
    if (e.resource?.name && e.phase === 'Active') {
      const top = ownerChain(resourceKey(e)).at(-1)!;
      const k = JSON.stringify([top.kind, top.namespace, top.name]);
      const t = tops.get(k) ?? { ...top, count: 0, rank: 0 };
      t.count++;
      t.rank = Math.max(t.rank, e.rank);
      tops.set(k, t);
    }
    const h = hourly[Math.floor((e.firstSeen - firstHour) / 3_600_000)];
    if (h && e.firstSeen >= firstHour) {
      h.new++;
      inc(h.bySeverity, e.severity);
      inc(h.bySource, e.source);
    }
    const r =
      e.resolvedAt !== undefined && e.resolvedAt >= firstHour
        ? hourly[Math.floor((e.resolvedAt - firstHour) / 3_600_000)]
        : undefined;
    if (r) r.resolved++;
  }
  return {
    total,
    active: total - resolved,
    resolved,
    bySeveritySource: Object.fromEntries([...sevSrc].map(([k, m]) => [k, obj(m)])),
    bySeverity: obj(bySeverity),
    bySource: obj(bySource),
    byNamespace: obj(byNamespace),
    topResources: [...tops.values()]
      .sort((a, b) => b.rank - a.rank || b.count - a.count || byResource(a, b))
      .slice(0, 10)
      .map(({ rank, ...t }) => ({ ...t, worst: SEVS[5 - rank] ?? 'info' })),
    hourly: hourly.map((h) => ({ ...h, bySeverity: obj(h.bySeverity), bySource: obj(h.bySource) })),
  };
}

describe('ReadIndex', () => {
  test('paging with cursors returns every match once, in the sort order, for every sort and page size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 120 }),
        fc.constantFrom(...SORT_KEYS),
        fc.integer({ min: 1, max: 25 }),
        fc.record({ severity: fc.option(fc.constantFrom(...SEVS)), ns: fc.option(fc.constantFrom('a', 'b')) }),
        (n, sort, limit, pick) => {
          const ix = new ReadIndex();
          const all = Array.from({ length: n }, (_, i) => entry(i));
          for (const e of all) ix.upsert(e);
          const f: Filter = {
            ...(pick.severity ? { severity: [pick.severity] } : {}),
            ...(pick.ns ? { namespace: [pick.ns] } : {}),
          };
          assert.deepEqual(
            walk(ix, f, sort, limit).map((e) => e.key),
            expected(all, f, sort),
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  test('a cursor stays valid while items are added and removed around it', () => {
    const ix = new ReadIndex();
    for (let i = 0; i < 40; i++) ix.upsert(entry(i, { at: 1_000_000 + i * 1000 }));
    const p1 = ix.list({}, SEE_ALL, { limit: 10 });
    // Newer items and a deleted earlier item do not shift the next page.
    ix.upsert(entry(100, { at: 9_000_000 }));
    ix.delete(p1.items[0]!.key);
    const p2 = ix.list({}, SEE_ALL, { limit: 10, cursor: p1.next! });
    assert.equal(p2.items[0]!.detectedAt, p1.items[9]!.detectedAt - 1000);
    // An updated item moves; it is not listed twice.
    const moved = p2.items[0]!;
    ix.upsert({ ...moved, detectedAt: 10_000_000 });
    assert.equal(ix.list({}, SEE_ALL, { limit: 100 }).items.filter((e) => e.key === moved.key).length, 1);
    assert.equal(ix.size, 40);
  });

  test('a malformed cursor is refused', () => {
    const ix = new ReadIndex();
    assert.throws(() => ix.list({}, SEE_ALL, { limit: 1, cursor: 'nonsense' }), /cursor/);
    assert.throws(
      () => ix.list({}, SEE_ALL, { limit: 1, cursor: Buffer.from('[1,"x"]').toString('base64url') }),
      /cursor/,
    );
  });

  test('visibility: a caller sees only its namespaces, in lists, counts, summaries and the resource view', () => {
    const ix = new ReadIndex();
    for (let i = 0; i < 30; i++) ix.upsert(entry(i));
    const vis = { all: false as const, namespaces: new Set(['a']) };
    const page = ix.list({}, vis, { limit: 100 });
    assert.equal(page.total, 10);
    assert.ok(page.items.every((e) => e.namespace === 'a'));
    const s = ix.summary({}, vis);
    assert.equal(s.total, 10);
    assert.deepEqual(Object.keys(s.byNamespace), ['a']);
    assert.equal(ix.resource({ kind: 'Deployment', namespace: 'b', name: 'app-1' }, vis).entries.length, 0);
    assert.ok(ix.resource({ kind: 'Deployment', namespace: 'a', name: 'app-0' }, vis).entries.length > 0);
    assert.equal(ix.list({}, { all: false, namespaces: new Set() }, { limit: 10 }).total, 0);
  });

  test('free text, time range and phase filters', () => {
    const ix = new ReadIndex();
    ix.upsert(entry(1, { title: 'CVE-2024-1234 in OpenSSL', at: 5000 }));
    ix.upsert(entry(2, { title: 'Terminal shell', at: 6000 }));
    ix.upsert({ ...entry(3, { at: 7000 }), phase: 'Resolved', resolvedAt: 8000 });
    assert.equal(ix.list({ q: 'openssl' }, SEE_ALL, { limit: 10 }).total, 1);
    assert.equal(ix.list({ q: 'app-1-5c4f8d9b7' }, SEE_ALL, { limit: 10 }).total, 1, 'resource names are searched');
    assert.equal(ix.list({ since: 6000 }, SEE_ALL, { limit: 10 }).total, 2);
    assert.equal(ix.list({ since: 5000, until: 6000 }, SEE_ALL, { limit: 10 }).total, 1);
    assert.equal(ix.list({ phase: 'Resolved' }, SEE_ALL, { limit: 10 }).total, 1);
  });

  test('summary: severity × source, namespaces, hourly new and resolved, top resources by their owner', () => {
    const ix = new ReadIndex();
    const now = Date.UTC(2026, 0, 1, 12, 30);
    ix.upsert(entry(0, { sev: 'critical', src: 'trivy', ns: 'a', at: now - 3_600_000 }));
    ix.upsert(entry(4, { sev: 'critical', src: 'falco', ns: 'a', at: now - 60_000 }));
    ix.upsert({
      ...entry(8, { sev: 'low', src: 'trivy', at: now - 60_000 }),
      phase: 'Resolved',
      resolvedAt: now - 1000,
    });
    // first-seen comes from the annotation (= detectedAt in makeObservation)
    const s = ix.summary({}, SEE_ALL, { now, hours: 3 });
    assert.equal(s.total, 3);
    assert.deepEqual(s.bySeveritySource, { critical: { trivy: 1, falco: 1 }, low: { trivy: 1 } });
    assert.deepEqual(
      s.hourly.map((h) => [h.new, h.resolved]),
      [
        [0, 0],
        [1, 0],
        [2, 1],
      ],
    );
    assert.deepEqual(s.topResources[0], {
      kind: 'Deployment',
      namespace: 'a',
      name: 'app-0',
      count: 2,
      worst: 'critical',
    });
  });

  test('summary equals the obvious scan, after any upserts and deletes, for any filter and visibility', () => {
    const NOW = 1_700_000_000_000;
    const HOUR = 3_600_000;
    const kinds = [
      { kind: 'Pod', name: (a: number) => `app-${a}-5c4f8d9b7-x2x9q` },
      { kind: 'ReplicaSet', name: (a: number) => `app-${a}-5c4f8d9b7` },
      { kind: 'Deployment', name: (a: number) => `app-${a}` },
      { kind: 'Pod', name: (a: number) => `job-${a}-29123456-abcde` },
      { kind: 'StatefulSet', name: (a: number) => `db-${a}` },
      { kind: '', name: () => '' },
    ];
    const op = fc.record({
      id: fc.integer({ min: 0, max: 40 }),
      del: fc.boolean(),
      sev: fc.constantFrom<string>(...SEVS, 'bogus'),
      src: fc.constantFrom('trivy', 'falco', 'kyverno', 'audit'),
      ns: fc.constantFrom('a', 'b', 'c'),
      kind: fc.integer({ min: 0, max: kinds.length - 1 }),
      app: fc.integer({ min: 0, max: 3 }),
      seenAgo: fc.integer({ min: -2 * HOUR, max: 30 * HOUR }),
      resolvedAgo: fc.option(fc.integer({ min: -HOUR, max: 30 * HOUR })),
    });
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 80 }),
        fc.record({
          severity: fc.option(fc.constantFrom(...SEVS)),
          ns: fc.option(fc.constantFrom('a', 'b')),
          phase: fc.option(fc.constantFrom<'Active' | 'Resolved'>('Active', 'Resolved')),
        }),
        fc.option(fc.subarray(['a', 'b', 'c'])),
        fc.integer({ min: 1, max: 30 }),
        (ops, pick, visible, hours) => {
          const ix = new ReadIndex();
          const live = new Map<string, Entry>();
          for (const o of ops) {
            const key = `${o.ns}/obs-${o.id}`;
            if (o.del) {
              ix.delete(key);
              live.delete(key);
              continue;
            }
            const k = kinds[o.kind]!;
            const seen = NOW - o.seenAgo;
            const doc = {
              metadata: { namespace: o.ns, name: `obs-${o.id}` },
              spec: {
                source: o.src,
                severity: o.sev,
                title: `t${o.id}`,
                detectedAt: new Date(seen).toISOString(),
                ...(k.kind ? { resource: { kind: k.kind, name: k.name(o.app) } } : {}),
              },
              ...(o.resolvedAgo !== null
                ? { status: { phase: 'Resolved', resolvedAt: new Date(NOW - o.resolvedAgo).toISOString() } }
                : {}),
            };
            const e = toEntry(doc, seen)!;
            ix.upsert(e);
            live.set(key, e);
          }
          const f: Filter = {
            ...(pick.severity ? { severity: [pick.severity] } : {}),
            ...(pick.ns ? { namespace: [pick.ns] } : {}),
            ...(pick.phase ? { phase: pick.phase } : {}),
          };
          assert.deepEqual(
            [...ix.namespaces()].sort(),
            [...new Set([...live.values()].map((e) => e.namespace))].sort(),
            'namespaces() names those of the Observations held',
          );
          const vis: Visibility = visible ? { all: false, namespaces: new Set(visible) } : SEE_ALL;
          const got = ix.summary(f, vis, { now: NOW, hours });
          const sorted = (o: Record<string, number>) =>
            Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
          assert.deepStrictEqual(
            {
              ...got,
              bySeveritySource: Object.fromEntries(
                Object.entries(got.bySeveritySource).map(([k, m]) => [k, sorted(m)]),
              ),
              bySeverity: sorted(got.bySeverity),
              bySource: sorted(got.bySource),
              byNamespace: sorted(got.byNamespace),
              hourly: got.hourly.map((h) => ({ ...h, bySeverity: sorted(h.bySeverity), bySource: sorted(h.bySource) })),
            },
            referenceSummary([...live.values()], f, vis, NOW, hours),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test('free-text search equals the obvious scan of each lower-cased text, with filters, pages, updates and deletes', () => {
    // Characters whose lower-casing is odd (final sigma, dotted I), separators, and keys like __proto__.
    const ch = fc.constantFrom('a', 'A', 'b', 'Σ', 'σ', 'ς', 'İ', 'i', 'I', '\n', ' ', '-', '\0', '_', 'é', 'É');
    const str = (max: number) => fc.array(ch, { maxLength: max }).map((xs) => xs.join(''));
    const name = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'toString', 'x'),
      str(4).filter((s) => s !== ''),
    );
    const op = fc.record({
      ns: fc.constantFrom('a', 'b', '__proto__'),
      name,
      del: fc.boolean(),
      title: str(6),
      // Shared messages (the index keeps one per distinct message), no message, or a random one.
      message: fc.option(fc.oneof(fc.constantFrom('Shared ΣΑΣ message', 'OpenSSL flaw', ''), str(8)), {
        nil: undefined,
      }),
      kind: fc.option(fc.constantFrom('Pod', 'Deployment', 'İngress'), { nil: undefined }),
      rname: fc.option(str(5), { nil: undefined }),
      eventType: fc.option(fc.constantFrom('vulnerability', 'Policy_Σ'), { nil: undefined }),
      sev: fc.constantFrom(...SEVS),
      at: fc.integer({ min: 0, max: 5 }),
    });
    type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;
    // The rule as the read API documents it: the '\n'-joined fields, lower-cased whole.
    const plain = (o: Op) =>
      [o.title, o.message ?? '', o.kind ?? '', o.rname ?? '', o.ns, o.name, o.eventType ?? ''].join('\n').toLowerCase();
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 60 }),
        fc.array(fc.oneof(str(3), fc.constantFrom('  Σ ', 'shared σας', 'openssl', '\n', 'a\nb', '__proto__')), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.option(fc.constantFrom(...SEVS), { nil: undefined }),
        fc.constantFrom(...SORT_KEYS),
        fc.integer({ min: 1, max: 7 }),
        (ops, queries, severity, sort, limit) => {
          const ix = new ReadIndex();
          const live = new Map<string, { op: Op; e: Entry }>();
          for (const o of ops) {
            const key = `${o.ns}/${o.name}`;
            if (o.del) {
              ix.delete(key);
              live.delete(key);
              continue;
            }
            const e = toEntry(
              {
                metadata: { namespace: o.ns, name: o.name },
                spec: {
                  source: 'trivy',
                  severity: o.sev,
                  title: o.title,
                  ...(o.message !== undefined ? { message: o.message } : {}),
                  ...(o.kind !== undefined || o.rname !== undefined
                    ? { resource: { ...(o.kind ? { kind: o.kind } : {}), ...(o.rname ? { name: o.rname } : {}) } }
                    : {}),
                  ...(o.eventType !== undefined ? { eventType: o.eventType } : {}),
                  detectedAt: new Date(1_700_000_000_000 + o.at * 1000).toISOString(),
                },
              },
              1_700_000_000_000,
            )!;
            ix.upsert(e);
            live.set(key, { op: o, e });
          }
          for (const q of queries) {
            const want = q.trim().toLowerCase();
            const f: Filter = { q, ...(severity ? { severity: [severity] } : {}) };
            const hits = [...live.values()].filter(
              ({ op: o }) => (!severity || o.sev === severity) && (!want || plain(o).includes(want)),
            );
            const keys = hits.map(({ e }) => e.key);
            const page = walk(ix, f, sort, limit).map((e) => e.key);
            assert.deepEqual(
              page,
              expected(
                keys.map((k) => live.get(k)!.e),
                {},
                sort,
              ),
            );
            assert.equal(ix.summary(f, SEE_ALL).total, hits.length);
            // The matcher of the live stream (one entry at a time, no index) agrees too.
            const m = matcher(f, SEE_ALL);
            for (const { op: o, e } of live.values())
              assert.equal(m(e), (!severity || o.sev === severity) && (!want || plain(o).includes(want)), q);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('free-text search across many chunks of the text index, after deletes and updates', () => {
    const ix = new ReadIndex();
    const all = new Map<string, Entry>();
    const put = (e: Entry) => {
      ix.upsert(e);
      all.set(e.key, e);
    };
    for (let i = 0; i < 2600; i++) put(entry(i, { title: `finding ${i} in Shop-${i % 13}` }));
    for (let i = 0; i < 2600; i += 7) {
      const e = entry(i);
      ix.delete(e.key);
      all.delete(e.key);
    }
    for (let i = 1; i < 2600; i += 11) put(entry(i, { title: `UPDATED ${i}` }));
    for (let i = 5000; i < 5300; i++) put(entry(i, { title: `late ${i}` }));
    for (const q of ['shop-3', 'updated 1', 'finding 25', 'late 52', 'app-2', ' FINDING ', 'zzz', 'c/f']) {
      const m = matcher({ q }, SEE_ALL);
      const want = [...all.values()].filter(m).length;
      assert.equal(ix.list({ q }, SEE_ALL, { limit: 5 }).total, want, q);
      assert.equal(ix.summary({ q }, SEE_ALL).total, want, q);
      assert.deepEqual(
        walk(ix, { q, severity: ['high'] }, '-severity', 50).map((e) => e.key),
        expected([...all.values()], { q, severity: ['high'] }, '-severity'),
      );
    }
  });

  test('occurrences: the same fingerprint in several dedup windows', () => {
    const ix = new ReadIndex();
    const a = entry(1, { at: 1000 });
    ix.upsert(a);
    ix.upsert({ ...a, key: 'a/other', name: 'other', detectedAt: 9000, firstSeen: 9000, lastSeen: 9000 });
    assert.deepEqual(ix.occurrences(a), { count: 2, firstSeen: a.firstSeen, lastSeen: 9000, observations: 2 });
  });

  test('occurrences: status.count, firstSeen and lastSeen of repeated findings (ADR 0017)', () => {
    const obs = makeObservation({
      source: 'falco',
      severity: 'high',
      title: 'shell',
      namespace: 'shop',
      detectedAt: new Date(5000),
    });
    const once = toEntry(obs, 6000)!;
    assert.deepEqual([once.count, once.firstSeen, once.lastSeen], [1, 5000, 5000]);
    const repeated = toEntry(
      {
        ...obs,
        status: { count: 41, firstSeen: new Date(4000).toISOString(), lastSeen: new Date(90_000).toISOString() },
      },
      6000,
    )!;
    assert.deepEqual([repeated.count, repeated.firstSeen, repeated.lastSeen], [41, 4000, 90_000]);
    for (const bad of [0, -3, 2.5, '7' as unknown as number])
      assert.equal(toEntry({ ...obs, status: { count: bad } }, 6000)!.count, 1, String(bad));
    const ix = new ReadIndex();
    ix.upsert(repeated);
    // The same finding in a later dedup window, repeated twice there.
    ix.upsert({
      ...repeated,
      key: `${obs.namespace}/later`,
      name: 'later',
      count: 2,
      firstSeen: 100_000,
      lastSeen: 120_000,
    });
    assert.deepEqual(ix.occurrences(repeated), { count: 43, firstSeen: 4000, lastSeen: 120_000, observations: 2 });
    // A relist that only changed the count is a change (the stream and the UI see it).
    const events: number[] = [];
    ix.subscribe((ev) => ev.type === 'upsert' && events.push(ev.entry.count));
    ix.replaceAll([{ ...repeated, count: 42 }, ix.get(obs.namespace, 'later')!]);
    assert.deepEqual(events, [42]);
  });

  test('firstSeen is an event time, as lastSeen is: a finding written long after its event (seen once) has firstSeen = lastSeen = detectedAt', () => {
    const hour = 3_600_000;
    const obs = makeObservation({
      source: 'falco',
      severity: 'high',
      title: 'late',
      namespace: 'shop',
      detectedAt: new Date(10 * hour),
    });
    // Written (first-seen annotation, creation) two hours after the event.
    const written = new Date(12 * hour).toISOString();
    const late = { ...obs, annotations: { 'zen.kube-zen.io/first-seen': written } };
    const once = toEntry(late, 12 * hour)!;
    assert.deepEqual([once.detectedAt, once.firstSeen, once.lastSeen], [10 * hour, 10 * hour, 10 * hour]);
    const kube = toEntry({
      metadata: { name: obs.name, namespace: obs.namespace, creationTimestamp: written, annotations: late.annotations },
      spec: obs.spec,
    })!;
    assert.deepEqual([kube.firstSeen, kube.lastSeen], [10 * hour, 10 * hour]);
    // Repeated: status.firstSeen/lastSeen (event times), whatever the write time.
    const repeated = toEntry(
      {
        ...late,
        status: { count: 2, firstSeen: new Date(9 * hour).toISOString(), lastSeen: new Date(11 * hour).toISOString() },
      },
      12 * hour,
    )!;
    assert.deepEqual([repeated.firstSeen, repeated.lastSeen], [9 * hour, 11 * hour]);
    // Never firstSeen after lastSeen, even with a status that says so.
    const odd = toEntry({ ...late, status: { firstSeen: new Date(11 * hour).toISOString() } }, 12 * hour)!;
    assert.ok(odd.firstSeen <= odd.lastSeen);
    // hourly.new counts it in the hour of its event, like a repeated finding.
    const ix = new ReadIndex();
    ix.upsert(once);
    const s = ix.summary({}, SEE_ALL, { now: 13 * hour, hours: 4 });
    assert.deepEqual(
      s.hourly.map((h) => h.new),
      [1, 0, 0, 0],
    );
  });

  test('replaceAll (a relist) deletes what is gone and announces only changes', () => {
    const ix = new ReadIndex();
    for (let i = 0; i < 5; i++) ix.upsert(entry(i));
    const events: string[] = [];
    ix.subscribe((e) => events.push(`${e.type}:${e.entry.key}`));
    ix.replaceAll([entry(0), entry(1), { ...entry(2), phase: 'Resolved' }]);
    assert.equal(ix.size, 3);
    assert.deepEqual(
      events.sort(),
      [`delete:${entry(3).key}`, `delete:${entry(4).key}`, `upsert:${entry(2).key}`].sort(),
    );
  });
});

describe('ownerChain', () => {
  test('Pod → ReplicaSet → Deployment, ReplicaSet → Deployment, Job → CronJob, others alone', () => {
    const ns = 'shop';
    assert.deepEqual(
      ownerChain({ kind: 'Pod', namespace: ns, name: 'payments-7d9f8b6c5-x2x9q' }).map((r) => `${r.kind}/${r.name}`),
      ['Pod/payments-7d9f8b6c5-x2x9q', 'ReplicaSet/payments-7d9f8b6c5', 'Deployment/payments'],
    );
    assert.deepEqual(
      ownerChain({ kind: 'ReplicaSet', namespace: ns, name: 'my-api-server-5c4f8d9b7' }).map((r) => r.name),
      ['my-api-server-5c4f8d9b7', 'my-api-server'],
    );
    assert.deepEqual(
      ownerChain({ kind: 'Pod', namespace: ns, name: 'backup-28391040-x7kq2' }).map((r) => `${r.kind}/${r.name}`),
      ['Pod/backup-28391040-x7kq2', 'Job/backup-28391040', 'CronJob/backup'],
    );
    // A StatefulSet's Pod and names with vowels in the "hash" stay alone.
    assert.equal(ownerChain({ kind: 'Pod', namespace: ns, name: 'postgres-0' }).length, 1);
    assert.equal(ownerChain({ kind: 'ReplicaSet', namespace: ns, name: 'my-release' }).length, 1);
  });
});
