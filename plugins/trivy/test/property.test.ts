/**
 * Property-based: random values and randomly mutated Trivy reports (own fixtures, and the real corpus when present)
 * never throw out of the mapping or out of the informer callbacks, and whatever drafts come out are accepted by the
 * host's pipeline (nothing dropped as an invalid draft) with unique fingerprints.
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { listFiles, realFixturesDir } from '../../../test/support/fixtures.ts';
import { TrivyController } from '../controller.ts';
import { REPORT_KINDS, reportKind } from '../kinds.ts';
import { mapReport } from '../map.ts';
import { fake, settle, term, view } from './fake-api.ts';
import { ALL_KINDS, clone, configOf, INGESTER_NS, type Kit, load, own, type Report, readReports } from './helpers.ts';

const SEVERITIES = new Set(['critical', 'high', 'medium', 'low', 'info']);

/** Seeds: own fixtures plus every real report (when the corpus is there). */
function seeds(): Report[] {
  const out = [
    ...own('vulnerabilityreport-shop-web.yaml'),
    ...own('vulnerabilityreports-identities.yaml'),
    ...own('clusterconfigauditreport-clusterrole.yaml'),
    ...own('vulnerabilityreport-empty.yaml'),
  ];
  const real = realFixturesDir();
  if (real) {
    for (const f of listFiles(`${real}/trivy`, /\.ya?ml$/))
      if (!basename(f).startsWith('crd-')) out.push(...readReports(f));
  }
  return out;
}

type Path = (string | number)[];

function paths(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (out.length > 2000) return out;
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) paths(x, [...prefix, i], out);
  } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

interface Mutation {
  at: number;
  op: 'delete' | 'replace' | 'stringify' | 'duplicate';
  value: unknown;
}

/** Applies mutations at pseudo-randomly chosen paths (by index into the current list of paths). */
function mutate(seed: Report, mutations: Mutation[]): unknown {
  let root: unknown = clone(seed);
  for (const m of mutations) {
    const all = paths(root);
    const path = all[m.at % all.length]!;
    if (path.length === 0) {
      root = m.op === 'delete' ? undefined : m.value;
      continue;
    }
    let parent = root as Record<string | number, unknown>;
    for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
    const last = path.at(-1)!;
    if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else if (m.op === 'replace') parent[last] = m.value;
    else if (m.op === 'stringify') parent[last] = JSON.stringify(parent[last]) ?? 'undefined';
    else if (Array.isArray(parent)) parent.push(clone(parent[last]));
    else parent[`${String(last)}-copy`] = parent[last];
  }
  return root;
}

const value = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.string({ maxLength: 3000 }),
  fc.constantFrom('CRITICAL', 'HIGH', 'UNKNOWN', 'NONE', '', ' ', 'high', null, true, 0, -1, Number.NaN),
  fc.date({ noInvalidDate: false }),
);
const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('delete', 'replace', 'stringify', 'duplicate'),
  value,
});
const config = fc.record(
  {
    reportKinds: fc.subarray(ALL_KINDS, { minLength: 1 }),
    minSeverity: fc.constantFrom('critical', 'high', 'medium', 'low', 'info', 'UNKNOWN'),
    ignoreUnfixed: fc.boolean(),
    namespaces: fc.subarray(['default', 'kube-system', 'shop']),
    maxFindingsPerReport: fc.integer({ min: 1, max: 50 }),
  },
  { requiredKeys: [] },
);

const SEEDS = seeds();
const seedArb = fc.nat({ max: SEEDS.length - 1 }).map((i) => SEEDS[i]!);
const kindArb = fc.constantFrom(...REPORT_KINDS);

let k: Kit;
before(async () => {
  k = await load();
  k.kit.ingester({ namespace: INGESTER_NS, name: 'property' });
});
after(() => k.kit.close());

describe('property: mapReport', () => {
  test('never throws on arbitrary values; results are well-formed', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4 }), kindArb, config, (obj, kind, c) => {
        const out = mapReport(obj, kind, configOf(c));
        assert.ok(['mapped', 'ignored', 'unusable'].includes(out.kind));
      }),
      { numRuns: 500 },
    );
  });

  test('mutated reports: never throws; drafts are valid for the host pipeline, with unique fingerprints', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, fc.array(mutation, { maxLength: 6 }), config, async (seed, muts, c) => {
        const obj = mutate(seed, muts);
        const kind = reportKind(String(seed.kind)) ?? REPORT_KINDS[0]!;
        const out = mapReport(obj, kind, configOf(c));
        if (out.kind !== 'mapped') return;
        const fps = out.drafts.map((d) => d.fingerprint);
        assert.equal(new Set(fps).size, fps.length, 'unique fingerprints within a report');
        for (const d of out.drafts) {
          assert.ok(SEVERITIES.has(d.severity), d.severity);
          assert.equal(typeof d.title, 'string');
          assert.ok(d.title.trim().length > 0);
          assert.ok(typeof d.fingerprint === 'string' && d.fingerprint.length > 0);
        }
        assert.ok(out.drafts.length <= configOf(c).maxFindingsPerReport);
        const { result } = await k.kit.process(out.drafts, { namespace: INGESTER_NS, name: 'property' });
        assert.equal(result.dropped, 0, 'no draft refused by the pipeline');
      }),
      { numRuns: 300 },
    );
  });
});

describe('property: informer callbacks', () => {
  test('add/update/delete/synced with mutated reports never throw and never hit the error path', async () => {
    const f = fake();
    f.served.add('clustervulnerabilityreports');
    f.served.add('clusterconfigauditreports');
    f.views.push(view('p', { reportKinds: ALL_KINDS }));
    const c = new TrivyController(f.api);
    const t = term();
    c.register();
    await f.taps.leader!(t.term);
    await settle();
    const informers = f.open();
    assert.equal(informers.length, 5);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(seedArb, fc.array(mutation, { maxLength: 4 }), fc.nat()), { minLength: 1, maxLength: 5 }),
        fc.constantFrom('add', 'update', 'delete', 'synced'),
        async (items, event) => {
          const objs = items.map(([s, m]) => mutate(s, m));
          for (const [i, obj] of objs.entries()) {
            const inf = informers[items[i]![2] % informers.length]!;
            if (event === 'add') await inf.events.add!(obj);
            else if (event === 'update') await inf.events.update!(obj, undefined);
            else if (event === 'delete') await inf.events.delete!(obj);
            else await inf.events.synced!(objs);
          }
        },
      ),
      { numRuns: 200 },
    );
    assert.deepEqual(
      f.warnings.filter((w) => /unexpected error/.test(w)),
      [],
    );
    t.end();
  });
});
