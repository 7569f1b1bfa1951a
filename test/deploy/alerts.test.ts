/**
 * The shipped alert rules (config/prometheus/alerts.yaml): every zen_watcher_* series an expression reads exists in
 * the host's registry, every label it selects or groups by is one of that metric's labels, and each rule is well
 * formed. PromQL itself is not evaluated (no Prometheus here); a renamed metric or label fails this test.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Histogram } from 'prom-client';
import { parse } from 'yaml';
import { createMetrics } from '../../core/telemetry/metrics.ts';
import { REPO } from '../support/host.ts';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string };
}

const doc = parse(readFileSync(join(REPO, 'config/prometheus/alerts.yaml'), 'utf8')) as {
  kind: string;
  spec: { groups: { name: string; rules: Rule[] }[] };
};
const rules = doc.spec.groups.flatMap((g) => g.rules);

/** name → label names, histogram series (_bucket/_count/_sum) included. */
function registered(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of createMetrics().registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = m as unknown as { name: string; labelNames?: string[] };
    const histogram = m instanceof Histogram;
    const labels = new Set<string>([...labelNames, ...(histogram ? ['le'] : [])]);
    out.set(name, labels);
    if (histogram) for (const s of ['_bucket', '_count', '_sum']) out.set(`${name}${s}`, labels);
  }
  return out;
}

test('alert rules: a PrometheusRule with named, described, severity-labelled rules', () => {
  assert.equal(doc.kind, 'PrometheusRule');
  assert.ok(rules.length >= 10, `${rules.length} rules`);
  const names = rules.map((r) => r.alert);
  assert.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const r of rules) {
    assert.match(r.alert, /^ZenWatcher[A-Za-z]+$/, r.alert);
    assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
    assert.ok(r.annotations?.summary, `${r.alert}: summary`);
    if (r.for) assert.match(r.for, /^\d+[smh]$/, `${r.alert}: for`);
  }
});

test('alert rules: every metric and label they use exists in the host registry', async () => {
  const known = registered();
  for (const r of rules) {
    const used = [...r.expr.matchAll(/\b(zen_watcher_[a-z_]+)(\{[^}]*\})?/g)];
    assert.ok(used.length > 0, `${r.alert} reads a zen_watcher metric`);
    for (const [, name, selector] of used) {
      const labels = known.get(name!);
      assert.ok(labels, `${r.alert}: ${name} is not a zen_watcher metric`);
      for (const [, label] of (selector ?? '').matchAll(/([a-z_]+)\s*(=~|!=|!~|=)/g)) {
        assert.ok(labels.has(label!), `${r.alert}: ${name} has no label ${label}`);
      }
    }
    // Labels in `by (...)` must belong to at least one metric the expression reads.
    const readLabels = new Set(used.flatMap(([, name]) => [...(known.get(name!) ?? [])]));
    for (const [, list] of r.expr.matchAll(/\bby \(([^)]*)\)/g)) {
      for (const label of list!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        assert.ok(readLabels.has(label), `${r.alert}: groups by ${label}, which none of its metrics has`);
      }
    }
  }
});

test('alert rules: delivery to Destinations is watched (a stuck backlog, drops past the bound, rejections)', () => {
  const byName = new Map(rules.map((r) => [r.alert, r]));
  for (const [alert, metric] of [
    ['ZenWatcherDestinationBacklogStuck', 'zen_watcher_destination_oldest_undelivered_age_seconds'],
    ['ZenWatcherDestinationDropping', 'zen_watcher_destination_dropped_total'],
    ['ZenWatcherDestinationRejecting', 'zen_watcher_destination_failed_total'],
  ] as const) {
    const r = byName.get(alert);
    assert.ok(r, `${alert} is shipped in config/prometheus/alerts.yaml`);
    assert.match(r.expr, new RegExp(`\\b${metric}\\b`), `${alert} reads ${metric}`);
    assert.match(r.expr, /by \(destination/, `${alert} fires per destination`);
  }
});
