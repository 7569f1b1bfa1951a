/**
 * The plugin's own wiring (index.ts) with a recording fake of the plugin API: metrics counted per result/reason,
 * each kind of problem logged once per Ingester, 422 for bodies without a usable event. Also the manifest.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type IngesterView,
  isZwError,
  type PluginApi,
  payloadError,
  type WebhookRequest,
  type WebhookResult,
} from 'zen-watcher/plugin-api';
import plugin, { PLUGIN_NAME } from '../index.ts';
import { configOf, eventList, load, own, PLUGIN_DIR } from './helpers.ts';

interface Recorder {
  tap: (req: WebhookRequest) => Promise<WebhookResult>;
  counts: Map<string, number>;
  logs: Array<{ level: string; msg: string; meta?: object }>;
}

async function register(): Promise<Recorder> {
  const counts = new Map<string, number>();
  const logs: Recorder['logs'] = [];
  let tap: Recorder['tap'] | undefined;
  const log = {
    debug: (msg: string, meta?: object) => logs.push({ level: 'debug', msg, ...(meta ? { meta } : {}) }),
    info: (msg: string, meta?: object) => logs.push({ level: 'info', msg, ...(meta ? { meta } : {}) }),
    warn: (msg: string, meta?: object) => logs.push({ level: 'warn', msg, ...(meta ? { meta } : {}) }),
    error: (msg: string, meta?: object) => logs.push({ level: 'error', msg, ...(meta ? { meta } : {}) }),
    child: () => log,
  };
  const api = {
    name: PLUGIN_NAME,
    version: '1.0.0',
    hostApiVersion: '1.0.0',
    hooks: {
      onWebhook: {
        for: (handler: string) => {
          assert.equal(handler, 'audit');
          return {
            tapPromise: (fn: Recorder['tap']) => {
              tap = fn;
            },
          };
        },
      },
    },
    log,
    metrics: {
      counter: (name: string) => ({
        inc: (labels: Record<string, string> = {}, n = 1) => {
          const key = `${name}${JSON.stringify(labels)}`;
          counts.set(key, (counts.get(key) ?? 0) + n);
        },
      }),
      gauge: () => ({ set: () => {} }),
    },
    kube: undefined,
    ingesters: () => [],
    emit: () => Promise.reject(new Error('not used')),
    payloadError,
    severityOf: () => undefined,
  } as unknown as PluginApi;
  await plugin.register(api);
  assert.ok(tap, 'the plugin taps onWebhook for audit');
  return { tap, counts, logs };
}

function request(body: unknown, config: Record<string, unknown> = {}, name = 'k8s-audit'): WebhookRequest {
  const ingester: IngesterView = {
    namespace: 'zen-system',
    name,
    source: 'audit',
    handler: 'audit',
    ingester: 'webhook',
    config: configOf(config), // as the host hands it over: validated, schema defaults applied
    webhook: { path: '/ingest/k8s-audit' },
    generation: 1,
  };
  return {
    ingester,
    body,
    rawBody: Buffer.from(JSON.stringify(body) ?? ''),
    headers: {},
    contentType: 'application/json',
    jsonLines: false,
    signal: new AbortController().signal,
  };
}

test('manifest: name, version, source, body limit; the package loads through the real loader', async () => {
  const pkg = JSON.parse(readFileSync(join(PLUGIN_DIR, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(pkg.name, '@zen-watcher/audit');
  assert.equal(pkg.version, '1.1.1');
  assert.equal(plugin.version, undefined, 'the version is kept in package.json only');
  assert.deepEqual(pkg.zenWatcher, {
    hostApi: '^1.0.0',
    entry: 'index.ts',
    sources: ['audit'],
    configSchema: 'schema.json',
    ingesterTypes: ['webhook'],
    maxBodyBytes: 12 * 1024 * 1024,
  });
  const changelog = readFileSync(join(PLUGIN_DIR, 'CHANGELOG.md'), 'utf8');
  assert.match(changelog, /## 1\.0\.0/);
  const kit = await load();
  try {
    assert.equal(kit.record.status, 'loaded');
    assert.equal(kit.record.name, 'audit');
    assert.equal(kit.record.version, '1.1.1');
  } finally {
    await kit.close();
  }
});

test('metrics: events counted by result, bad items by reason, undecided rules by rule', async () => {
  const r = await register();
  const drafts = await r.tap(request(own('eventlist-v1-bad-items.json').body));
  assert.equal(drafts?.length, 2);
  await r.tap(request(own('eventlist-v1-webhook-batch.json').body));
  assert.deepEqual(Object.fromEntries(r.counts), {
    'audit_events_total{"source":"audit","result":"matched"}': 2 + 10,
    'audit_events_total{"source":"audit","result":"invalid"}': 5,
    'audit_invalid_events_total{"source":"audit","reason":"not_object"}': 2,
    'audit_invalid_events_total{"source":"audit","reason":"wrong_type"}': 2,
    'audit_invalid_events_total{"source":"audit","reason":"wrong_kind"}': 1,
    'audit_events_total{"source":"audit","result":"unmatched"}': 5,
    'audit_events_total{"source":"audit","result":"stage_skipped"}': 1,
    'audit_rule_undecided_total{"source":"audit","rule":"cluster-admin-binding","why":"no_request_object"}': 1,
    'audit_rule_undecided_total{"source":"audit","rule":"privileged-pod","why":"no_request_object"}': 1,
  });
});

test('logging: one warning per kind of problem and Ingester, later ones at debug; no payload in logs', async () => {
  const r = await register();
  const body = own('eventlist-v1-bad-items.json').body;
  for (let i = 0; i < 3; i++) await r.tap(request(body));
  await r.tap(request(body, {}, 'other-ingester'));
  const warns = r.logs.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 2, 'once for each Ingester');
  assert.deepEqual(warns[0]!.meta, {
    ingester: 'zen-system/k8s-audit',
    skipped: 5,
    of: 7,
    field: 'items[1]',
    reason: 'not_object',
    why: 'an audit event must be a JSON object',
  });
  assert.equal(r.logs.filter((l) => l.level === 'debug').length, 2);
  assert.doesNotMatch(JSON.stringify(r.logs), /db-creds|alice/, 'no event content in logs');
  // Config problems the schema cannot see are logged once too.
  const dup = {
    rules: [
      { name: 'x', severity: 'low', match: {} },
      { name: 'x', severity: 'high', match: {} },
    ],
  };
  await r.tap(request(eventList([]), dup));
  await r.tap(request(eventList([]), dup));
  assert.equal(r.logs.filter((l) => l.level === 'warn' && /duplicate rule name 'x'/.test(l.msg)).length, 1);
});

test('a body without any usable event is a 422 naming the field; counted before refusing', async () => {
  const r = await register();
  await assert.rejects(r.tap(request({ kind: 'Event', stage: 'ResponseComplete', verb: 'get' })), (err: unknown) => {
    assert.ok(isZwError(err));
    assert.equal(err.status, 422);
    assert.equal(err.field, 'auditID');
    return true;
  });
  await assert.rejects(r.tap(request({ kind: 'ConfigMap' })), (err: unknown) => isZwError(err) && err.field === 'kind');
  assert.equal(r.counts.get('audit_invalid_events_total{"source":"audit","reason":"missing_field"}'), 1);
});
