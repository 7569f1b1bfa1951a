/**
 * Deeply nested JSON (#14 item 3): a body nested past MAX_JSON_DEPTH is refused with 422 naming the path, for the
 * generic webhook (details) and for Falco (output_fields), instead of overflowing the stack (500) in details
 * bounding, fingerprinting or the store. Against a real standalone host.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { MAX_JSON_DEPTH, tooDeepPath } from '../../core/pipeline/json-depth.ts';
import { normalizeDraft } from '../../core/pipeline/normalize.ts';
import { cleanup, post, startTestHost, type TestHost, webhookIngester, writeConfigDir } from '../support/host.ts';

/** `{"a":{"a":...1}}` with `levels` objects. */
const nested = (levels: number) => `${'{"a":'.repeat(levels - 1)}{"a":1}${'}'.repeat(levels - 1)}`;

describe('deeply nested JSON', () => {
  let h: TestHost;
  let configDir: string;
  before(async () => {
    configDir = writeConfigDir({
      'generic.yaml': webhookIngester(
        'generic',
        '/in/generic',
        '  webhook: { path: /in/generic, maxBodyBytes: 1048576 }\n',
      ).replace('  webhook: { path: /in/generic }\n', ''),
      'falco.yaml': `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: falco, namespace: default }
spec:
  source: falco
  ingester: webhook
  webhook: { path: /in/falco, maxBodyBytes: 1048576 }
  config: { minPriority: debug }
`,
    });
    h = await startTestHost({ configDir });
  });
  after(async () => {
    await h.stop();
    cleanup(configDir, h.dataDir);
  });

  for (const levels of [4_000, 3_000, 100_000]) {
    test(`generic webhook: details nested ${levels} levels → 422 naming details, nothing stored`, async () => {
      const r = await post(`${h.url}/in/generic`, `{"severity":"high","title":"deep","details":${nested(levels)}}`);
      assert.equal(r.status, 422, r.text);
      assert.equal(r.json?.error, 'ZW_ERR_PAYLOAD_INVALID');
      assert.match(String(r.json?.field), /^details\.a\.a/);
      // The reported path is shortened, not 4,000 segments long.
      assert.ok(String(r.json?.field).length < 200);
      assert.ok(r.text.length < 1000);
    });
  }

  test('Falco: output_fields nested 4,000 levels → 422 naming output_fields', async () => {
    const alert = JSON.parse(
      readFileSync(
        new URL('../../plugins/falco/test/fixtures/falco-http-output-critical-shell-in-pod.json', import.meta.url),
        'utf8',
      ),
    ) as Record<string, unknown>;
    const body = JSON.stringify({ ...alert, output_fields: { 'x.deep': '@@' } }).replace('"@@"', nested(4_000));
    const r = await post(`${h.url}/in/falco`, body);
    assert.equal(r.status, 422, r.text);
    assert.match(String(r.json?.field), /^output_fields\.x\.deep\.a/);
  });

  test(`a body exactly ${MAX_JSON_DEPTH} levels deep is stored; one more level is refused`, async () => {
    // The body itself is level 1, details level 2.
    const ok = await post(
      `${h.url}/in/generic`,
      `{"severity":"high","title":"at-limit","details":${nested(MAX_JSON_DEPTH - 1)}}`,
    );
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json?.created, 1);
    const over = await post(
      `${h.url}/in/generic`,
      `{"severity":"high","title":"over-limit","details":${nested(MAX_JSON_DEPTH)}}`,
    );
    assert.equal(over.status, 422, over.text);
  });

  test('JSON Lines: the deep line is named', async () => {
    const r = await post(
      `${h.url}/in/generic`,
      `{"severity":"low","title":"one"}\n{"severity":"low","title":"two","details":${nested(5_000)}}\n`,
      { 'content-type': 'application/x-ndjson' },
    );
    assert.equal(r.status, 422, r.text);
    assert.match(String(r.json?.field), /^line 2\.details\.a/);
  });

  test('drafts from any source: deep details are an invalid draft, not a stack overflow', () => {
    const details = JSON.parse(nested(10_000)) as Record<string, unknown>;
    const res = normalizeDraft({ severity: 'high', title: 't', details }, { maxDetailsBytes: 16_384, now: 0 });
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.field, /^details\.a\.a/);
  });

  test('tooDeepPath: arrays, long keys, and values within the limit', () => {
    assert.equal(tooDeepPath({ a: [{ b: 1 }] }, 3), undefined);
    assert.equal(tooDeepPath({ a: [{ b: {} }] }, 3), 'a[0].b');
    assert.equal(tooDeepPath(JSON.parse(`[${'['.repeat(50)}${']'.repeat(50)}]`), 10), '[0][0][0][0][0][0][0][0]…');
    const long = 'k'.repeat(10_000);
    assert.ok(String(tooDeepPath({ [long]: { x: {} } }, 2)).length < 100);
    assert.equal(tooDeepPath('plain', 1), undefined);
  });
});
