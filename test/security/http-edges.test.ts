/**
 * HTTP edges (#14 item 7) against a real standalone host: Content-Encoding (gzip, deflate, br decoded within the
 * body limit counted on the decoded size; a zip bomb is a 413; mislabelled or unknown encodings refused), error
 * bodies that do not echo large input or name secret file paths, and JSON 405s on the fixed routes.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { MAX_ERROR_REASON_CHARS } from '../../core/http/server.ts';
import { normalizeDraft } from '../../core/pipeline/normalize.ts';
import {
  cleanup,
  post,
  startTestHost,
  type TestHost,
  tempDir,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';

const SECRET = 'edges-hmac-1b2c';

describe('HTTP edges', () => {
  let h: TestHost;
  let dirs: string[];
  let missingSecret: string;
  before(async () => {
    const secrets = tempDir('zw-secrets-');
    writeFileSync(join(secrets, 'hmac'), `${SECRET}\n`);
    missingSecret = join(secrets, 'not-there-7f3e', 'token');
    const configDir = writeConfigDir({
      'plain.yaml': webhookIngester(
        'plain',
        '/in/plain',
        '  webhook: { path: /in/plain, maxBodyBytes: 65536 }\n',
      ).replace('  webhook: { path: /in/plain }\n', ''),
      'signed.yaml': webhookIngester('signed', '/in/signed').replace(
        '{ path: /in/signed }',
        `{ path: /in/signed, auth: { type: hmac, secretFile: ${join(secrets, 'hmac')} } }`,
      ),
      'nosecret.yaml': webhookIngester('nosecret', '/in/nosecret').replace(
        '{ path: /in/nosecret }',
        `{ path: /in/nosecret, auth: { type: bearer, secretFile: ${missingSecret} } }`,
      ),
    });
    h = await startTestHost({ configDir });
    dirs = [secrets, configDir, h.dataDir];
  });
  after(async () => {
    await h.stop();
    cleanup(...dirs);
  });

  const json = (encoding: string) => ({ 'content-type': 'application/json', 'content-encoding': encoding });

  for (const [encoding, encode] of [
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const) {
    test(`Content-Encoding: ${encoding} is decoded and stored`, async () => {
      const body = JSON.stringify({ severity: 'low', title: `encoded ${encoding}` });
      const r = await post(`${h.url}/in/plain`, encode(Buffer.from(body)), json(encoding));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.created, 1);
    });
  }

  test('a zip bomb is a 413: the decoded size counts against the limit', async () => {
    // 64 MB of JSON in about 64 KB of gzip; the route's limit is 64 KiB.
    const bomb = gzipSync(Buffer.from(`{"severity":"low","title":"${'a'.repeat(64 * 1024 * 1024)}"}`), { level: 9 });
    assert.ok(bomb.length < 65_536);
    const r = await post(`${h.url}/in/plain`, bomb, json('gzip'));
    assert.equal(r.status, 413, r.text);
    assert.equal(r.json?.error, 'ZW_ERR_BODY_TOO_LARGE');
    assert.match(String(r.json?.reason), /decoded body/);
  });

  test('plain JSON labelled gzip is a 400, and the body is not echoed', async () => {
    const r = await post(`${h.url}/in/plain`, '{"severity":"low","title":"not gzip"}', json('gzip'));
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json?.field, 'headers.content-encoding');
    assert.doesNotMatch(r.text, /not gzip/);
  });

  test('an encoding we do not decode is a 415 naming the header', async () => {
    for (const enc of ['compress', 'zstd', 'gzip, br']) {
      const r = await post(`${h.url}/in/plain`, '{}', json(enc));
      assert.equal(r.status, 415, `${enc}: ${r.text}`);
      assert.equal(r.json?.error, 'ZW_ERR_UNSUPPORTED_MEDIA_TYPE');
      assert.equal(r.json?.field, 'headers.content-encoding');
    }
    assert.equal((await post(`${h.url}/in/plain`, '{"severity":"low","title":"id"}', json('identity'))).status, 200);
  });

  test('HMAC is checked over the decoded body', async () => {
    const body = JSON.stringify({ severity: 'low', title: 'signed and gzipped' });
    const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    const r = await post(`${h.url}/in/signed`, gzipSync(Buffer.from(body)), {
      ...json('gzip'),
      'x-signature-256': sig,
    });
    assert.equal(r.status, 200, r.text);
  });

  test('a 60 KB bad severity is not echoed back whole', async () => {
    const severity = 's'.repeat(60_000);
    const r = await post(`${h.url}/in/plain`, JSON.stringify({ severity, title: 'x' }));
    assert.equal(r.status, 422, r.text.slice(0, 200));
    assert.equal(r.json?.field, 'severity');
    assert.ok(String(r.json?.reason).length <= MAX_ERROR_REASON_CHARS);
    assert.ok(r.text.length < 2 * MAX_ERROR_REASON_CHARS, `error body of ${r.text.length} bytes`);
  });

  test('a draft with a 900 KB severity from any plugin is dropped with a short reason (logged, not echoed whole)', () => {
    const res = normalizeDraft({ severity: 'x'.repeat(900_000), title: 't' }, { maxDetailsBytes: 16_384, now: 0 });
    assert.equal(res.ok, false);
    assert.ok(!res.ok && res.reason.length < 100, `reason of ${res.ok ? 0 : res.reason.length} characters`);
  });

  test('the 503 for a missing secret file does not name its path', async () => {
    const r = await post(`${h.url}/in/nosecret`, '{"severity":"low","title":"x"}', {
      'content-type': 'application/json',
      authorization: 'Bearer whatever',
    });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json?.error, 'ZW_ERR_NOT_READY');
    assert.ok(r.headers.get('retry-after'));
    assert.doesNotMatch(r.text, /not-there-7f3e|\/tmp|ENOENT/);
  });

  test('405 on /healthz, /readyz and /metrics is JSON with Allow, like every other error', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      for (const method of ['POST', 'DELETE', 'PUT']) {
        const res = await fetch(`${h.url}${path}`, { method });
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.match(String(res.headers.get('content-type')), /application\/json/, `${method} ${path}`);
        assert.match(String(res.headers.get('allow')), /GET/);
        const body = (await res.json()) as { error?: string };
        assert.equal(body.error, 'ZW_ERR_METHOD_NOT_ALLOWED');
      }
    }
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
  });
});
