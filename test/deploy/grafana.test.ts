/**
 * The shipped Grafana dashboard (config/grafana/zen-watcher.json, the same file in the Helm chart): every query reads
 * zen_watcher_* series that exist in the host's registry, with labels those metrics have (as the alert rules' test
 * does), the panels cover what operators need, and the chart renders it as a ConfigMap with the sidecar label.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Histogram } from 'prom-client';
import { createMetrics } from '../../core/telemetry/metrics.ts';
import { REPO } from '../support/host.ts';
import { byKind, helmTemplate, toolsOrSkip } from './support.ts';

const FILE = join(REPO, 'config/grafana/zen-watcher.json');
const text = readFileSync(FILE, 'utf8');
interface Panel {
  type: string;
  title: string;
  targets?: { expr: string; refId: string }[];
  datasource?: { uid: string };
}
const dashboard = JSON.parse(text) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
/** Labels Prometheus adds to every scraped series (not in our registry). */
const TARGET_LABELS = new Set(['job', 'instance', 'pod', 'namespace']);

function registered(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of createMetrics().registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = m as unknown as { name: string; labelNames?: string[] };
    const histogram = m instanceof Histogram;
    const labels = new Set<string>([...labelNames, ...(histogram ? ['le'] : []), ...TARGET_LABELS]);
    out.set(name, labels);
    if (histogram) for (const s of ['_bucket', '_count', '_sum']) out.set(`${name}${s}`, labels);
  }
  return out;
}

describe('Grafana dashboard', () => {
  test('every query uses metrics and labels that exist', () => {
    const known = registered();
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    for (const q of queries) {
      const used = [...q.expr.matchAll(/\b(zen_watcher_[a-z_]+)(\{[^}]*\})?/g)];
      assert.ok(used.length > 0, `${q.panel}: reads a zen_watcher metric`);
      for (const [, name, selector] of used) {
        const labels = known.get(name!);
        assert.ok(labels, `${q.panel}: ${name} is not a zen_watcher metric`);
        for (const [, label] of (selector ?? '').matchAll(/([a-z_]+)\s*(=~|!=|!~|=)/g))
          assert.ok(labels.has(label!), `${q.panel}: ${name} has no label ${label}`);
      }
      const readLabels = new Set(used.flatMap(([, name]) => [...(known.get(name!) ?? [])]));
      for (const [, list] of q.expr.matchAll(/\bby \(([^)]*)\)/g))
        for (const label of list!
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean))
          assert.ok(readLabels.has(label), `${q.panel}: groups by ${label}, which none of its metrics has`);
      // Balanced parentheses: a cheap syntax check without a PromQL parser.
      let depth = 0;
      for (const c of q.expr) {
        depth += c === '(' ? 1 : c === ')' ? -1 : 0;
        assert.ok(depth >= 0, `${q.panel}: unbalanced ')' in ${q.expr}`);
      }
      assert.equal(depth, 0, `${q.panel}: unbalanced '(' in ${q.expr}`);
    }
  });

  test('covers intake per source, drops by reason, write latency, leadership, informer sync, resolution backlog', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const m of [
      'zen_watcher_observations_created_total',
      'zen_watcher_observations_dropped_total',
      'zen_watcher_observation_write_duration_seconds_bucket',
      'zen_watcher_leader',
      'zen_watcher_leader_transitions_total',
      'zen_watcher_leader_failover_seconds_bucket',
      'zen_watcher_informer_synced',
      'zen_watcher_resolve_pending',
      'zen_watcher_read_request_duration_seconds_bucket',
    ])
      assert.match(all, new RegExp(`\\b${m}\\b`), m);
    assert.deepEqual(
      dashboard.templating.list.map((v) => v.name),
      ['datasource', 'job'],
    );
    for (const p of dashboard.panels.filter((x) => x.type !== 'row'))
      assert.equal(p.datasource?.uid, '$' + '{datasource}', `${p.title}: uses the datasource variable`);
  });

  test('the chart ships the same file', () => {
    assert.equal(readFileSync(join(REPO, 'config/helm/zen-watcher/dashboards/zen-watcher.json'), 'utf8'), text);
  });
});

const { tools, skip } = await toolsOrSkip();
test('helm: a ConfigMap with the sidecar label and the dashboard; off when disabled', { skip }, async () => {
  const objs = await helmTemplate(tools!.helm);
  const cm = byKind(objs, 'ConfigMap').find((o) => o.metadata.name === 'zen-watcher-dashboard');
  assert.ok(cm, 'dashboard ConfigMap');
  assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
  const data = (cm as unknown as { data: Record<string, string> }).data;
  assert.deepEqual(JSON.parse(data['zen-watcher.json']!), dashboard);
  const off = await helmTemplate(tools!.helm, { set: ['grafanaDashboard.enabled=false'] });
  assert.ok(!byKind(off, 'ConfigMap').some((o) => o.metadata.name === 'zen-watcher-dashboard'));
});
