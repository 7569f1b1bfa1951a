import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createMetrics } from './metrics.ts';

test('every metric the host registers is documented in docs/METRICS.md', async () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'METRICS.md'), 'utf8');
  const metrics = createMetrics();
  const ours = (await metrics.registry.getMetricsAsJSON())
    .map((m) => m.name)
    // prom-client's default process/runtime metrics are documented as a group, not one by one.
    .filter((name) => !/^zen_watcher_(process_|nodejs_)/.test(name));
  assert.ok(ours.length > 30, `found ${ours.length} metrics`);
  const undocumented = ours.filter((name) => !doc.includes(`\`${name}\``));
  assert.deepEqual(undocumented, [], 'add these to docs/METRICS.md');
});
