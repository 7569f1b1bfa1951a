import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAjv } from '../config/validate.ts';
import { inNamespaces, namespacesInScope, PLUGIN_CONFIG_SCHEMA_ID, severityAtLeast, severityRank } from './config.ts';

test('minSeverity: ranked critical > ... > info in any case; a name that is no severity keeps everything', () => {
  assert.deepEqual(['critical', 'high', 'medium', 'low', 'info'].map(severityRank), [5, 4, 3, 2, 1]);
  assert.ok(severityAtLeast('high', 'HIGH'));
  assert.ok(severityAtLeast('critical', 'medium'));
  assert.ok(!severityAtLeast('low', 'medium'));
  assert.ok(severityAtLeast('info', 'unknown'));
});

test('namespaces: [] = all; the Ingester namespace narrows it, or nothing when they do not overlap', () => {
  assert.deepEqual(namespacesInScope([]), []);
  assert.deepEqual(namespacesInScope(['a', 'b']), ['a', 'b']);
  assert.deepEqual(namespacesInScope([], 'a'), ['a']);
  assert.deepEqual(namespacesInScope(['a', 'b'], 'b'), ['b']);
  assert.equal(namespacesInScope(['a'], 'c'), 'none');
  assert.ok(inNamespaces([], 'x'));
  assert.ok(inNamespaces(['x'], 'x'));
  assert.ok(!inNamespaces(['x'], 'y'));
});

test("the host's ajv resolves the shared fragments by $ref, with the plugin's default beside it", () => {
  const validate = createAjv().compile({
    type: 'object',
    additionalProperties: false,
    properties: {
      namespaces: { $ref: `${PLUGIN_CONFIG_SCHEMA_ID}#/$defs/namespaces`, default: [] },
      minSeverity: { $ref: `${PLUGIN_CONFIG_SCHEMA_ID}#/$defs/minSeverity`, default: 'info' },
    },
  });
  const config: Record<string, unknown> = {};
  assert.ok(validate(config));
  assert.deepEqual(config, { namespaces: [], minSeverity: 'info' });
  assert.ok(validate({ namespaces: ['team-a'], minSeverity: 'HIGH' }));
  assert.ok(!validate({ namespaces: ['Team_A'] }));
  assert.ok(!validate({ minSeverity: 'severe' }));
});
