/**
 * Property-based: the Ingester validator never throws and every error names a path, for random documents and for
 * mutations of a valid one. Seed printed; rerun a failure with ZEN_FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createAjv, IngesterValidator } from './validate.ts';

const ajv = createAjv();
const validateConfig = ajv.compile({
  type: 'object',
  additionalProperties: false,
  properties: { n: { type: 'integer', default: 1 } },
});
const handlers = new Map([
  [
    'tool',
    {
      handler: 'tool',
      plugin: 'tool',
      pluginVersion: '1.0.0',
      ingesterTypes: ['webhook', 'informer'] as const,
      validateConfig,
    },
  ],
]);
const validator = new IngesterValidator({ ajv, handlers: (h) => handlers.get(h), knownHandlers: () => ['tool'] });

const valid = {
  apiVersion: 'zen.kube-zen.io/v1alpha1',
  kind: 'Ingester',
  metadata: { name: 'x', namespace: 'ns' },
  spec: {
    source: 'tool',
    ingester: 'webhook',
    webhook: { path: '/x', auth: { type: 'bearer', secretFile: '/t' } },
    filters: { minSeverity: 'high', excludeKinds: ['Pod'] },
    deduplication: { window: '60s' },
    ttl: { default: '1d' },
    rateLimit: { requestsPerSecond: 5 },
    config: { n: 2 },
  },
};

/** Replace the value at a random path of `base` with a random JSON value. */
const mutated = fc
  .tuple(
    fc.array(
      fc.constantFrom(
        'metadata',
        'spec',
        'webhook',
        'auth',
        'filters',
        'deduplication',
        'ttl',
        'rateLimit',
        'config',
        'name',
        'path',
        'type',
        'n',
        'window',
        'minSeverity',
      ),
      { maxLength: 4 },
    ),
    fc.jsonValue({ maxDepth: 3 }),
  )
  .map(([path, value]) => {
    const doc = structuredClone(valid) as Record<string, unknown>;
    let cur: Record<string, unknown> = doc;
    for (const [i, seg] of path.entries()) {
      if (i === path.length - 1 || typeof cur[seg] !== 'object' || cur[seg] === null) {
        cur[seg] = value;
        break;
      }
      cur = cur[seg] as Record<string, unknown>;
    }
    return doc;
  });

test('validator: never throws; errors always carry a path and a message', () => {
  const seed = Number(process.env.ZEN_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  process.stdout.write(`# validator fuzz seed ${seed}\n`);
  fc.assert(
    fc.property(fc.oneof(mutated, fc.jsonValue({ maxDepth: 4 }), fc.anything()), (doc) => {
      const r = validator.validate(doc);
      if (!r.ok) {
        assert.ok(r.errors.length > 0, 'a rejection always says why');
        for (const e of r.errors) {
          assert.equal(typeof e.path, 'string');
          assert.ok(e.path.length > 0);
          assert.equal(typeof e.message, 'string');
        }
      }
    }),
    { numRuns: 2000, seed },
  );
  assert.ok(validator.validate(valid).ok, 'the base document is valid');
});
