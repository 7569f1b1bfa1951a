/**
 * Every file of the real Falco corpus (shared/fixtures/real/falco, or $ZEN_REAL_FIXTURES/falco; never copied
 * into the repo) through the real pipeline via the test kit: count, names, severities, resources and event types
 * of the Observations, and none where none should be (Falco internal alerts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { ResourceRef } from 'zen-watcher/plugin-api';
import { listFiles, requireRealFixtures } from '../../../test/support/fixtures.ts';
import { INGESTER_NS, inOrder, load, PLUGIN_DIR, payload } from './helpers.ts';

interface Want {
  name: string;
  severity: string;
  title: string;
  eventType: string;
  category?: string;
  resource?: ResourceRef;
  /** Observation namespace: the resource's, else the Ingester's. */
  namespace?: string;
}

const runtime = (name: string, severity: string, title: string, resource?: ResourceRef): Want => ({
  name,
  severity,
  title,
  eventType: 'runtime_alert',
  ...(resource ? { resource } : {}),
});
const audit = (name: string, severity: string, title: string, resource: ResourceRef): Want => ({
  name,
  severity,
  title,
  eventType: 'k8s_audit_alert',
  resource,
});
const pod = (namespace: string, name: string): ResourceRef => ({ apiVersion: 'v1', kind: 'Pod', name, namespace });

/**
 * The expected result of each payload file with the default config (minPriority debug, dropInternal true).
 * Names are golden: `falco-` + 16 hex of sha256(sha256(fingerprint) + window bucket of NOW). A change here means
 * the alert identity changed — existing Observations would no longer dedupe with new deliveries.
 */
const EXPECTED: Record<string, Want[]> = {
  'alert-critical-terminal-shell-docs.json': [
    runtime('falco-ec20c485d266adf5', 'critical', 'Terminal shell in container', pod('default', 'kubecon')),
  ],
  'alert-error-falcosidekick-readme-test-payload.json': [
    runtime('falco-0a0eb4f0ca478c7b', 'high', 'Write below binary dir'),
  ],
  // Falco's own metrics snapshot (source internal): dropped by default.
  'alert-informational-internal-metrics-snapshot-docs.json': [],
  'alert-notice-k8saudit-attach-exec-ovh-blog.json': [
    audit('falco-ae335459379c7cdf', 'low', 'Attach/Exec Pod', pod('hello-app', 'nginx-676b6c5bbc-4xc6t')),
  ],
  'alert-warning-read-sensitive-file-collector-readme.json': [
    // container.id "host": a host process, no Kubernetes object.
    runtime('falco-924398651c05dc3c', 'medium', 'Read sensitive file untrusted'),
  ],
  'alerts-informational-notice-k8saudit-eks-blog.jsonl': [
    audit('falco-c851d5fa2d768378', 'info', 'K8s Serviceaccount Created', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      name: 'default',
      namespace: 'default',
    }),
    audit('falco-c22f0701e68bc9f1', 'low', 'Attach/Exec Pod', pod('default', 'kubecon')),
  ],
  // Older Falco: no source, no tags, no hostname.
  'alerts-notice-legacy-no-source-no-tags-openfaas-blog.jsonl': [
    runtime('falco-6420d55cdde45346', 'low', 'Terminal shell in container', pod('default', 'alpine')),
    runtime(
      'falco-4e552447ec5f0214',
      'low',
      'Contact K8S API Server From Container',
      pod('openfaas-fn', 'falco-pod-delete-7dc9f5fbb8-gbfk7'),
    ),
  ],
  'alerts-warning-k8saudit-disallowed-user-ovh-blog.jsonl': [
    // Cluster-scoped; apiVersion from ka.uri.
    audit('falco-99e65e7f08b3a2f5', 'medium', 'Disallowed K8s User', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'VolumeAttachment',
      name: 'csi-6afb06dce281b86b7bab718b5d966dc261b2b1554941ae449519a128cb2e3fb3',
    }),
    // The rule output has no ka.target.namespace: namespace and apiVersion come from ka.uri.
    audit('falco-be008d2f8955e613', 'medium', 'Disallowed K8s User', {
      apiVersion: 'v1',
      kind: 'Event',
      name: 'my-pool-1.18051c0a88716868',
      namespace: 'default',
    }),
    // A custom resource: no kind is guessed, apiVersion from ka.uri.
    audit('falco-c4f07f1725f5398a', 'medium', 'Disallowed K8s User', {
      apiVersion: 'kube.cloud.ovh.com/v1alpha1',
      name: 'my-pool-1',
    }),
  ],
  // Falco's 2016 regression-test output: 8 distinct opens (distinct times), no Kubernetes identity.
  'alerts-warning-legacy-test-open-from-cat.jsonl': [
    'falco-0c53979804fd347c',
    'falco-de5e0ca6e7bd8fea',
    'falco-db1ebeaf216d712b',
    'falco-95f3370d61fb981b',
    'falco-a2d5848ef7f2f51a',
    'falco-b19db9a403e35fb8',
    'falco-9b4c65fe73486981',
    'falco-78d93e2664b1558b',
  ].map((name) => runtime(name, 'medium', 'open_from_cat')),
};

/** Files of the corpus that are not payloads. */
const NOT_PAYLOADS = new Set(['falco-http-output-config-docker-compose.yml']);

describe('real Falco corpus', () => {
  test('every file of the corpus is classified (payload with expectations, or config)', (t) => {
    const dir = requireRealFixtures(t, 'falco');
    if (!dir) return;
    const files = readdirSync(dir).sort();
    assert.ok(files.length >= 10, `expected the whole corpus, found ${files.length} files`);
    for (const f of files) {
      assert.ok(f in EXPECTED || NOT_PAYLOADS.has(f), `corpus file ${f} has no expectation in this test`);
    }
    for (const f of Object.keys(EXPECTED)) assert.ok(files.includes(f), `expected corpus file ${f} is missing`);
  });

  for (const [file, wants] of Object.entries(EXPECTED)) {
    test(`${file} → ${wants.length} Observation(s)`, async (t) => {
      const dir = requireRealFixtures(t, 'falco');
      if (!dir) return;
      const { body, jsonLines } = payload(join(dir, file));
      assert.equal(jsonLines, file.endsWith('.jsonl'), 'JSON Lines files are several documents');
      const kit = await load();
      try {
        const { result, observations } = await kit.webhook(body, { namespace: INGESTER_NS, jsonLines });
        assert.equal(result.created, wants.length, 'created');
        assert.equal(result.duplicates + result.filtered + result.dropped, 0, 'nothing lost in the pipeline');
        assert.equal(observations.length, wants.length);
        const got = inOrder(result.names, observations);
        assert.equal(new Set(result.names).size, wants.length, 'names are distinct');
        for (const [i, want] of wants.entries()) {
          const o = got[i]!;
          const at = `${file}[${i}]`;
          assert.equal(o.name, want.name, `${at} name`);
          assert.equal(o.spec.source, 'falco', at);
          assert.equal(o.spec.severity, want.severity, `${at} severity`);
          assert.equal(o.spec.category, want.category ?? 'security', `${at} category`);
          assert.equal(o.spec.eventType, want.eventType, `${at} eventType`);
          assert.equal(o.spec.title, want.title, `${at} title`);
          assert.deepEqual(o.spec.resource, want.resource, `${at} resource`);
          assert.equal(o.namespace, want.namespace ?? want.resource?.namespace ?? INGESTER_NS, `${at} namespace`);
          assert.equal(o.spec.details?.rule, want.title, `${at} details.rule`);
          assert.equal(o.labels.severity, want.severity);
        }
      } finally {
        await kit.close();
      }
    });
  }

  test('names are deterministic: a second host (fresh store, same clock) derives the same names', async (t) => {
    const dir = requireRealFixtures(t, 'falco');
    if (!dir) return;
    const run = async () => {
      const kit = await load();
      try {
        const names: string[] = [];
        for (const file of Object.keys(EXPECTED)) {
          const { body, jsonLines } = payload(join(dir, file));
          names.push(...(await kit.webhook(body, { jsonLines })).result.names);
        }
        return names;
      } finally {
        await kit.close();
      }
    };
    const a = await run();
    assert.equal(a.length, Object.values(EXPECTED).flat().length);
    assert.deepEqual(await run(), a);
  });

  test('time comes from `time` (ns string), never from the rounded evt.time integer', async (t) => {
    const dir = requireRealFixtures(t, 'falco');
    if (!dir) return;
    const kit = await load();
    try {
      const { body } = payload(join(dir, 'alert-critical-terminal-shell-docs.json'));
      const [d] = await kit.webhookDrafts(body);
      // evt.time 1685022245478445995 parses to ...446000 — the draft uses the string instead.
      assert.equal((d!.detectedAt as Date).toISOString(), '2023-05-25T13:44:05.478Z');
      assert.equal(d!.details?.time, '2023-05-25T13:44:05.478445995Z');
      const fields = d!.details?.outputFields as Record<string, unknown>;
      assert.equal(fields['evt.time'], undefined, 'imprecise nanosecond integers are not copied');
      assert.equal(d!.details?.outputFieldsOmitted, 1);
      assert.equal(fields['k8s.pod.name'], 'kubecon');
      assert.deepEqual(d!.details?.container, {
        id: 'ee97d9c4186f',
        image: 'docker.io/library/alpine',
      });
    } finally {
      await kit.close();
    }
  });

  test('the internal metrics snapshot is kept only with dropInternal: false, as an operations finding', async (t) => {
    const dir = requireRealFixtures(t, 'falco');
    if (!dir) return;
    const kit = await load();
    try {
      const { body } = payload(join(dir, 'alert-informational-internal-metrics-snapshot-docs.json'));
      const { observations } = await kit.webhook(body, { config: { dropInternal: false } });
      assert.equal(observations.length, 1);
      const o = observations[0]!;
      assert.equal(o.spec.severity, 'info');
      assert.equal(o.spec.category, 'operations');
      assert.equal(o.spec.eventType, 'falco_internal');
      assert.equal(o.spec.title, 'Falco internal: metrics snapshot');
      assert.equal(o.spec.resource, undefined);
      const fields = o.spec.details?.outputFields as Record<string, unknown>;
      assert.equal(fields['falco.version'], '0.41.0');
      // evt.time, falco.host_boot_ts, falco.reload_ts, falco.start_ts are > 2^53.
      assert.equal(o.spec.details?.outputFieldsOmitted, 4);
    } finally {
      await kit.close();
    }
  });

  test('k8s_audit alerts keep the bracketed field keys and the response code string', async (t) => {
    const dir = requireRealFixtures(t, 'falco');
    if (!dir) return;
    const kit = await load();
    try {
      const { body } = payload(join(dir, 'alert-notice-k8saudit-attach-exec-ovh-blog.json'));
      const [d] = await kit.webhookDrafts(body);
      const fields = d!.details?.outputFields as Record<string, unknown>;
      assert.equal(fields['ka.uri.param[command]'], 'cat');
      assert.equal(fields['ka.target.subresource'], 'exec');
      assert.deepEqual(d!.details?.tags, ['k8s']);
      assert.equal(d!.details?.hostname, 'my-pool-1-node-921b61');
      assert.equal(d!.details?.source, 'k8s_audit');
      assert.equal(d!.message, (body as { output: string }).output);
    } finally {
      await kit.close();
    }
  });

  test('minPriority over the whole corpus keeps exactly the alerts at or above it', async (t) => {
    const dir = requireRealFixtures(t, 'falco');
    if (!dir) return;
    const kit = await load();
    try {
      const count = async (minPriority: string) => {
        let n = 0;
        for (const file of Object.keys(EXPECTED)) {
          const { body, jsonLines } = payload(join(dir, file));
          n += (await kit.webhookDrafts(body, { jsonLines, config: { minPriority } })).length;
        }
        return n;
      };
      // Corpus (non-internal): 1 Critical, 1 Error, 12 Warning, 4 Notice, 1 Informational.
      assert.equal(await count('debug'), 19);
      assert.equal(await count('Informational'), 19);
      assert.equal(await count('NOTICE'), 18);
      assert.equal(await count('warning'), 14);
      assert.equal(await count('error'), 2);
      assert.equal(await count('critical'), 1);
      assert.equal(await count('alert'), 0);
    } finally {
      await kit.close();
    }
  });

  test("the README's Falco http_output snippet matches upstream's docker-compose http_output.yml", async (t) => {
    const dir = requireRealFixtures(t, 'falco');
    if (!dir) return;
    const upstream = parseYaml(readFileSync(join(dir, 'falco-http-output-config-docker-compose.yml'), 'utf8')) as {
      json_output: boolean;
      json_include_output_property: boolean;
      http_output: { enabled: boolean; url: string };
    };
    const readme = readFileSync(join(PLUGIN_DIR, 'README.md'), 'utf8');
    const block = /<!-- falco\.yaml -->\s*```yaml\n([\s\S]*?)```/.exec(readme);
    assert.ok(block, 'README has a falco.yaml block marked <!-- falco.yaml -->');
    const ours = parseYaml(block[1]!) as typeof upstream;
    // Same keys and switches as upstream; only the URL points at zen-watcher instead of Falcosidekick.
    for (const key of Object.keys(upstream) as (keyof typeof upstream)[]) assert.ok(key in ours, `README sets ${key}`);
    assert.equal(ours.json_output, true);
    assert.equal(upstream.json_output, true);
    assert.equal(ours.json_include_output_property, upstream.json_include_output_property);
    assert.equal(ours.http_output.enabled, upstream.http_output.enabled);
    assert.deepEqual(Object.keys(ours.http_output).sort(), Object.keys(upstream.http_output).sort());
    assert.match(ours.http_output.url, /^https?:\/\/[^/]+\/ingest\/falco$/);
  });
});

test('listFiles sees the same payload files as the expectation table', (t) => {
  const dir = requireRealFixtures(t, 'falco');
  if (!dir) return;
  const payloads = listFiles(dir, /\.jsonl?$/).map((f) => basename(f));
  assert.deepEqual(payloads, Object.keys(EXPECTED).sort());
});
