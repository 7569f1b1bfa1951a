/** map.ts on its own, with reports written for this package in kube-bench's --json format (test/fixtures/). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ZwError } from 'zen-watcher/plugin-api';
import { configFromSchema } from 'zen-watcher/testkit';
import { type KubeBenchConfig, mapReport, nodeOf } from '../map.ts';
import schema from '../schema.json' with { type: 'json' };
import { fixture } from './helpers.ts';

/** spec.config as the host hands it over: validated against schema.json, defaults applied. */
const config = (over: Partial<KubeBenchConfig> = {}): KubeBenchConfig =>
  configFromSchema<KubeBenchConfig>(schema, over);

function refused(body: unknown, field: string, cfg = config()) {
  assert.throws(
    () => mapReport(body, cfg),
    (err: unknown) => err instanceof ZwError && err.field === field,
  );
}

describe('kube-bench reports', () => {
  test('a current report: FAIL and WARN checks become drafts, about the node', () => {
    const r = mapReport(fixture('report-node.json'), config(), 'worker-1');
    assert.deepEqual(r.checks, { FAIL: 2, WARN: 1, INFO: 1, PASS: 1 });
    assert.deepEqual(r.reported, { FAIL: 2, WARN: 1, INFO: 0, PASS: 0 });
    assert.deepEqual(
      r.drafts.map((d) => [d.title.slice(0, 5), d.severity, d.eventType]),
      [
        ['4.1.5', 'high', 'cis_benchmark_fail'],
        ['4.1.3', 'medium', 'cis_benchmark_warn'],
        ['4.2.1', 'high', 'cis_benchmark_fail'],
      ],
    );
    const [d] = r.drafts;
    assert.equal(
      d?.title,
      '4.1.5 Ensure that the --kubeconfig kubelet.conf file permissions are set to 600 or more restrictive (Automated)',
    );
    assert.equal(d?.category, 'compliance');
    assert.deepEqual(d?.resource, { apiVersion: 'v1', kind: 'Node', name: 'worker-1' });
    assert.match(d?.message ?? '', /chmod 600 \/etc\/kubernetes\/kubelet\.conf/);
    assert.deepEqual(d?.details, {
      benchmark: 'cis-1.8',
      detectedVersion: '1.28',
      nodeType: 'node',
      section: '4.1',
      sectionDesc: 'Worker Node Configuration Files',
      testNumber: '4.1.5',
      status: 'FAIL',
      scored: true,
      actualValue: 'permissions=644',
      expectedResult: 'permissions has permissions 644, expected 600 or more restrictive',
    });
    assert.equal(d?.fingerprint, 'kube-bench/worker-1/cis-1.8/4.1.5/FAIL');
  });

  test('an older report (array of controls), and the same checks as JSON Lines', () => {
    const legacy = fixture('report-legacy-array.json');
    const r = mapReport(legacy, config(), 'master-1');
    assert.deepEqual(
      r.drafts.map((d) => d.fingerprint),
      ['kube-bench/master-1/cis-1.6/1.2.1/FAIL'],
    );
    const lines = mapReport([fixture('report-node.json'), ...(legacy as unknown[])], config());
    assert.equal(lines.drafts.length, 4);
    assert.equal(lines.drafts[0]?.resource, undefined, 'no node header: no Node resource');
    assert.equal(lines.drafts[0]?.fingerprint, 'kube-bench/-/cis-1.8/4.1.5/FAIL');
  });

  test('config: statuses, severities and scoredOnly', () => {
    const body = fixture('report-node.json');
    assert.equal(mapReport(body, config({ statuses: ['FAIL'] })).drafts.length, 2);
    assert.equal(mapReport(body, config({ scoredOnly: true })).drafts.length, 2, 'the manual WARN is left out');
    const all = mapReport(body, config({ statuses: ['FAIL', 'WARN', 'INFO', 'PASS'] }));
    assert.equal(all.drafts.length, 5);
    const critical = mapReport(body, config({ severities: { ...config().severities, FAIL: 'critical' } }));
    assert.equal(critical.drafts[0]?.severity, 'critical');
  });

  test('a malformed report is refused whole, naming the field', () => {
    refused('kube-bench output', '(body)');
    refused({ Controls: {} }, 'Controls');
    refused({ Controls: [{ id: '1', tests: [{ section: '1.1' }] }] }, 'Controls[0].tests[0].results');
    const bad = fixture('report-node.json') as { Controls: { tests: { results: { status: string }[] }[] }[] };
    bad.Controls[0]!.tests[1]!.results[0]!.status = 'BROKEN';
    refused(bad, 'Controls[0].tests[1].results[0].status');
    refused([{ tests: [{ results: [{ status: 'FAIL' }] }] }], '[0].tests[0].results[0].test_number');
    refused(fixture('report-node.json'), '(body)', config({ maxResults: 4 }));
  });

  test('the node header', () => {
    assert.equal(nodeOf({ 'x-node-name': 'worker-1' }, 'x-node-name'), 'worker-1');
    assert.equal(nodeOf({}, 'x-node-name'), undefined);
    assert.throws(() => nodeOf({ 'x-node-name': 'Not A Node' }, 'x-node-name'), ZwError);
  });
});
