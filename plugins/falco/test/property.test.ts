/**
 * Property-based: random bodies and mutated Falco alerts never crash the plugin — the result is drafts that the
 * host's pipeline accepts (nothing dropped as an invalid draft), or a typed ZwError with status 400/422.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { isZwError } from 'zen-watcher/plugin-api';
import type { TestPlugin } from 'zen-watcher/testkit';
import { load } from './helpers.ts';

let kit: TestPlugin;
before(async () => {
  kit = await load();
});
after(() => kit.close());

const PRIORITY_NAMES = [
  'Emergency',
  'Alert',
  'Critical',
  'Error',
  'Warning',
  'Notice',
  'Informational',
  'Debug',
  'info',
];

const priority = fc.oneof(
  fc.constantFrom(...PRIORITY_NAMES),
  fc.constantFrom(...PRIORITY_NAMES).map((p) => p.toUpperCase()),
  fc.constantFrom(...PRIORITY_NAMES).map((p) => p.toLowerCase()),
  fc.string(),
);
const time = fc.oneof(
  fc
    .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc
    .tuple(
      fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }),
      fc.integer({ min: 0, max: 999_999_999 }),
    )
    .map(([d, ns]) => `${d.toISOString().slice(0, 19)}.${String(ns).padStart(9, '0')}Z`),
  fc.string(),
);
const fieldValue = fc.oneof(
  fc.string({ maxLength: 600 }),
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: 0n, max: 2n ** 63n }).map((n) => Number(n)),
  fc.boolean(),
  fc.constant(null),
  fc.constant('<NA>'),
  fc.anything({ maxDepth: 2 }),
);
const fieldKey = fc.oneof(
  fc.constantFrom(
    'k8s.ns.name',
    'k8s.pod.name',
    'container.id',
    'container.name',
    'container.image.repository',
    'container.image.tag',
    'ka.target.name',
    'ka.target.namespace',
    'ka.target.resource',
    'ka.uri',
    'evt.time',
    'proc.aname[2]',
  ),
  fc.string({ maxLength: 300 }),
);
const outputFields = fc.dictionary(fieldKey, fieldValue, { maxKeys: 50 });

/** An alert shaped like Falco's, each field possibly absent or replaced by something random. */
const alert = fc.record(
  {
    rule: fc.oneof(fc.string({ minLength: 1, maxLength: 300 }), fc.anything()),
    priority: fc.oneof(priority, fc.anything()),
    time: fc.oneof(time, fc.anything()),
    output: fc.oneof(fc.string({ maxLength: 5000 }), fc.anything()),
    output_fields: fc.oneof(outputFields, fc.anything()),
    source: fc.oneof(fc.constantFrom('syscall', 'k8s_audit', 'internal', 'aws_cloudtrail'), fc.string(), fc.anything()),
    hostname: fc.oneof(fc.string(), fc.anything()),
    tags: fc.oneof(fc.array(fc.string(), { maxLength: 100 }), fc.anything()),
    uuid: fc.oneof(fc.uuid(), fc.anything()),
  },
  { requiredKeys: [] },
);

/** Mostly-valid alerts: only the values vary, the types are right. */
const validAlert = fc.record(
  {
    rule: fc.string({ minLength: 1, maxLength: 300 }).filter((s) => s.trim() !== ''),
    priority: fc.constantFrom(...PRIORITY_NAMES),
    time: time.filter((t) => /^\d{4}-\d{2}-\d{2}T/.test(t)),
    output: fc.string({ maxLength: 5000 }),
    output_fields: outputFields,
    source: fc.constantFrom('syscall', 'k8s_audit', 'internal', 'aws_cloudtrail', 'x y'),
    hostname: fc.string(),
    tags: fc.array(fc.string({ maxLength: 400 }), { maxLength: 100 }),
    uuid: fc.uuid(),
  },
  { requiredKeys: ['rule', 'priority', 'time'] },
);

const config = fc.record(
  {
    minPriority: fc.constantFrom('debug', 'notice', 'Critical', 'INFO'),
    dropInternal: fc.boolean(),
    maxOutputFields: fc.integer({ min: 0, max: 256 }),
    maxValueLength: fc.integer({ min: 16, max: 4096 }),
  },
  { requiredKeys: [] },
);

async function outcome(body: unknown, input: Parameters<TestPlugin['webhookDrafts']>[1]) {
  try {
    const drafts = await kit.webhookDrafts(body, input);
    assert.ok(Array.isArray(drafts));
    return { drafts };
  } catch (err) {
    assert.ok(isZwError(err), `not a ZwError: ${String(err)}`);
    assert.ok(err.status === 400 || err.status === 422, `status ${err.status}: ${err.message}`);
    assert.equal(typeof err.field, 'string');
    return { error: err };
  }
}

describe('property: never crashes', () => {
  test('any JSON value as the body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.boolean(), async (body, jsonLines) => {
        await outcome(body, { jsonLines: jsonLines && Array.isArray(body) });
      }),
      { numRuns: 300 },
    );
  });

  test('mutated alerts, alone, in arrays and as JSON Lines', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(alert, fc.array(fc.oneof(alert, fc.anything()), { maxLength: 8 })),
        config,
        async (body, cfg) => {
          await outcome(body, { jsonLines: Array.isArray(body), config: cfg });
        },
      ),
      { numRuns: 400 },
    );
  });

  test('valid alerts always give drafts the pipeline accepts, with a stable fingerprint', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(validAlert, { minLength: 1, maxLength: 5 }), config, async (alerts, cfg) => {
        const r = await outcome(alerts, { config: cfg });
        assert.ok(r.drafts, `valid alerts refused: ${r.error?.message} (${r.error?.field})`);
        const again = await kit.webhookDrafts(
          alerts.map((a) => Object.fromEntries(Object.entries(a).reverse())),
          { config: cfg },
        );
        assert.deepEqual(
          again.map((d) => d.fingerprint),
          r.drafts.map((d) => d.fingerprint),
        );
        const { result } = await kit.process(r.drafts, { config: cfg });
        assert.equal(result.dropped, 0, 'a draft was dropped by the host as invalid');
      }),
      { numRuns: 200 },
    );
  });
});
