import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HotCounter, HotGauge, HotHistogram } from './hot.ts';
import { Counter, Gauge, Histogram, Registry } from './prom.ts';

// Label values a sender or a plugin could make us use, `__proto__` and friends included.
const value = fc.oneof(fc.constantFrom('a', 'b', '__proto__', 'constructor', 'toString', '', '200'), fc.string());

type Op =
  | { kind: 'inc'; labels: Record<string, string>; n: number | undefined }
  | { kind: 'observe'; labels: Record<string, string>; v: number }
  | { kind: 'set'; v: number }
  | { kind: 'scrape' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('inc' as const),
    labels: fc.record({ endpoint: value, status: value }),
    n: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant('observe' as const),
    labels: fc.record({ endpoint: value }),
    v: fc.oneof(fc.double({ min: 0, max: 20, noNaN: true }), fc.constantFrom(0.0005, 0.001, 0.25, 5, 1e9)),
  }),
  fc.record({ kind: fc.constant('set' as const), v: fc.integer({ min: -5, max: 1e6 }) }),
  fc.constant({ kind: 'scrape' as const }),
);

function build(hot: boolean) {
  const registry = new Registry();
  const C = hot ? HotCounter : Counter;
  const G = hot ? HotGauge : Gauge;
  const H = hot ? HotHistogram : Histogram;
  return {
    registry,
    counter: new C({ name: 'c_total', help: 'c', labelNames: ['endpoint', 'status'], registers: [registry] }),
    plain: new C({ name: 'p_total', help: 'p', registers: [registry] }),
    gauge: new G({ name: 'g', help: 'g', registers: [registry] }),
    histogram: new H({
      name: 'h_seconds',
      help: 'h',
      labelNames: ['endpoint'],
      buckets: [0.0005, 0.001, 0.25, 5],
      registers: [registry],
    }),
    unlabelled: new H({ name: 'u_seconds', help: 'u', buckets: [0.001, 1], registers: [registry] }),
  };
}

test('hot metrics scrape exactly as prom-client metrics given the same updates', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const ref = build(false);
      const hot = build(true);
      for (const o of ops) {
        for (const m of [ref, hot]) {
          if (o.kind === 'inc') {
            m.counter.inc(o.labels, o.n);
            m.plain.inc(o.n);
          } else if (o.kind === 'observe') {
            m.histogram.observe(o.labels, o.v);
            m.unlabelled.observe(o.v);
          } else if (o.kind === 'set') m.gauge.set(o.v);
        }
        if (o.kind === 'scrape') assert.equal(await hot.registry.metrics(), await ref.registry.metrics());
      }
      assert.equal(await hot.registry.metrics(), await ref.registry.metrics());
      assert.deepEqual(await hot.histogram.get(), await ref.histogram.get());
    }),
  );
});

test('hot metrics refuse what prom-client refuses', () => {
  const { counter, histogram, gauge } = build(true);
  assert.throws(() => counter.inc({ endpoint: 'a', status: '1', nope: 'x' } as never), /label/i);
  assert.throws(() => counter.inc({ endpoint: 'a', status: '1' }, -1), /decrease/);
  assert.throws(() => histogram.observe({ endpoint: 'a' }, Number.NaN), /not a valid number/);
  assert.throws(() => gauge.set('x' as never), /not a valid number/);
});

test('startTimer observes into the labelled cell; reset empties it', async () => {
  const { histogram, registry } = build(true);
  const end = histogram.startTimer({ endpoint: 'x' });
  end();
  assert.match(await registry.metrics(), /h_seconds_count\{endpoint="x"\} 1/);
  histogram.reset();
  assert.doesNotMatch(await registry.metrics(), /endpoint="x"/);
});

test('a labelled HotGauge is prom-client’s own Gauge', async () => {
  const registry = new Registry();
  const g = new HotGauge({ name: 'lg', help: 'lg', labelNames: ['k'], registers: [registry] });
  g.set({ k: 'a' }, 3);
  g.inc({ k: 'a' }, 2);
  assert.match(await registry.metrics(), /lg\{k="a"\} 5/);
});
