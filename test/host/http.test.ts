/**
 * The webhook HTTP contract, against a real host (in-process, real koa server, real sqlite store): every error
 * status with its JSON shape, health/readiness/metrics.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Observation } from '../../core/api/index.ts';
import { reservedFor } from '../../core/config/validate.ts';
import { koaOnly } from '../../core/http/server.ts';
import type { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import type { ObservationSink } from '../../core/sinks/types.ts';
import { cleanup, post, startTestHost, type TestHost, webhookIngester, writeConfigDir } from '../support/host.ts';

const json = { 'content-type': 'application/json' };

describe('webhook HTTP contract', () => {
  let h: TestHost;
  let configDir: string;
  before(async () => {
    configDir = writeConfigDir({
      'a.yaml': webhookIngester(
        'hooks',
        '/ingest/hooks',
        '  webhook: { path: /ingest/hooks, maxBodyBytes: 200 }\n',
      ).replace('  webhook: { path: /ingest/hooks }\n', ''),
      'b.yaml': webhookIngester('limited', '/ingest/limited', '  rateLimit: { requestsPerSecond: 0.1, burst: 1 }\n'),
      'c.yaml': webhookIngester('put-only', '/ingest/put', '').replace(
        '{ path: /ingest/put }',
        '{ path: /ingest/put, methods: [PUT] }',
      ),
    });
    h = await startTestHost({ configDir });
  });
  after(async () => {
    await h.stop();
    cleanup(configDir, h.dataDir);
  });

  test('2xx for a valid event; the Observation carries the posted fields', async () => {
    const r = await post(`${h.url}/ingest/hooks`, '{"severity":"high","title":"t","message":"m"}');
    assert.equal(r.status, 200);
    assert.equal(r.json?.created, 1);
  });
  test('400 for malformed JSON and for an empty body', async () => {
    const r = await post(`${h.url}/ingest/hooks`, '{"severity":');
    assert.equal(r.status, 400);
    assert.equal(r.json?.error, 'ZW_ERR_BAD_JSON');
    assert.match(String(r.json?.reason), /malformed JSON/);
    assert.equal((await post(`${h.url}/ingest/hooks`, '')).status, 400);
  });
  test('404 for a path no Ingester serves', async () => {
    const r = await post(`${h.url}/ingest/nothing`, '{}');
    assert.equal(r.status, 404);
    assert.equal(r.json?.error, 'ZW_ERR_NOT_FOUND');
  });
  test('405 with Allow for a method the Ingester does not accept', async () => {
    const r = await fetch(`${h.url}/ingest/hooks`);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    const p = await post(`${h.url}/ingest/put`, '{"severity":"low","title":"x"}');
    assert.equal(p.status, 405);
    const put = await fetch(`${h.url}/ingest/put`, {
      method: 'PUT',
      body: '{"severity":"low","title":"x"}',
      headers: json,
    });
    assert.equal(put.status, 200);
  });
  test('413 when Content-Length is over the Ingester limit', async () => {
    const r = await post(`${h.url}/ingest/hooks`, JSON.stringify({ severity: 'low', title: 'x'.repeat(300) }));
    assert.equal(r.status, 413);
    assert.equal(r.json?.error, 'ZW_ERR_BODY_TOO_LARGE');
  });
  test('413 while reading a chunked body: answered before the client finishes sending', async () => {
    const url = new URL(`${h.url}/ingest/hooks`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { ...json, 'transfer-encoding': 'chunked' },
        },
        (res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          req.destroy();
        },
      );
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      req.write('{"title":"');
      // Keep sending past the limit and never end the request: only a limit enforced while reading answers.
      const timer = setInterval(() => req.write('x'.repeat(100)), 10);
      req.on('close', () => clearInterval(timer));
    });
    assert.equal(status, 413);
  });
  test('415 for a non-JSON content type; no Content-Type is accepted as JSON', async () => {
    const r = await post(`${h.url}/ingest/hooks`, 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 415);
    assert.equal(r.json?.field, 'headers.content-type');
    const res = await fetch(`${h.url}/ingest/hooks`, {
      method: 'POST',
      body: new Blob(['{"severity":"low","title":"no-ct"}']),
    });
    assert.equal(res.status, 200);
  });
  test('bytes that are not UTF-8 are a 400 naming the offset, not replaced; a declared ISO-8859-1 body is decoded as such', async () => {
    // "Ren\xe9" and "Ren\xe8": decoded as UTF-8 with replacement, both became "Ren\ufffd", one finding.
    const latin1 = (c: number) =>
      Buffer.concat([Buffer.from('{"severity":"high","title":"user Ren'), Buffer.from([c]), Buffer.from('"}')]);
    const bad = await post(`${h.url}/ingest/hooks`, latin1(0xe9));
    assert.equal(bad.status, 400);
    assert.equal(bad.json?.error, 'ZW_ERR_BAD_JSON');
    assert.match(String(bad.json?.reason), /not valid UTF-8 \(at byte 36\)/);
    const declared = { 'content-type': 'application/json; charset=ISO-8859-1' };
    const e = await post(`${h.url}/ingest/hooks`, latin1(0xe9), declared);
    const è = await post(`${h.url}/ingest/hooks`, latin1(0xe8), declared);
    assert.deepEqual([e.status, e.json?.created, è.status, è.json?.created], [200, 1, 200, 1]);
    const stored = (h.host.sink as SqliteStore).list({ limit: 1000 }).map((o) => o.spec.title);
    assert.ok(stored.includes('user René') && stored.includes('user Renè'), stored.join(', '));
  });
  test('415 for a charset other than UTF-8 or ISO-8859-1; a UTF-8 byte order mark is ignored', async () => {
    const r = await post(`${h.url}/ingest/hooks`, '{"severity":"low","title":"x"}', {
      'content-type': 'application/json; charset="utf-16"',
    });
    assert.equal(r.status, 415);
    assert.equal(r.json?.field, 'headers.content-type');
    assert.match(String(r.json?.reason), /charset 'utf-16'/);
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"severity":"low","title":"bom"}')]);
    assert.equal(
      (await post(`${h.url}/ingest/hooks`, bom, { 'content-type': 'application/json; charset=utf-8' })).status,
      200,
    );
  });
  test('422 for valid JSON of the wrong shape, naming the field', async () => {
    const r = await post(`${h.url}/ingest/hooks`, '{"severity":"high"}');
    assert.equal(r.status, 422);
    assert.equal(r.json?.error, 'ZW_ERR_PAYLOAD_INVALID');
    assert.equal(r.json?.field, 'title');
    const r2 = await post(
      `${h.url}/ingest/hooks`,
      '[{"severity":"high","title":"ok"},{"severity":"urgent","title":"x"}]',
    );
    assert.equal(r2.status, 422);
    assert.equal(r2.json?.field, '[1].severity');
  });
  test('429 with Retry-After once the source rate limit is spent', async () => {
    const first = await post(`${h.url}/ingest/limited`, '{"severity":"low","title":"a"}');
    assert.equal(first.status, 200);
    const second = await post(`${h.url}/ingest/limited`, '{"severity":"low","title":"b"}');
    assert.equal(second.status, 429);
    assert.equal(second.json?.error, 'ZW_ERR_RATE_LIMITED');
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
  });
  test('/healthz, /readyz and /metrics', async () => {
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
    const ready = await fetch(`${h.url}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /zen_watcher_webhook_requests_total\{endpoint="hooks",status="413"\} 2/);
    assert.match(metrics, /zen_watcher_webhook_requests_total\{endpoint="unknown",status="404"\} 1/);
    assert.match(metrics, /zen_watcher_process_resident_memory_bytes/);
  });
});

describe('backpressure', () => {
  test('503 with Retry-After when the write queue is full; the admitted event is still written', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const written: Observation[] = [];
    const slowSink: ObservationSink = {
      kind: 'sqlite',
      async write(obs) {
        await gate;
        written.push(obs);
        return 'created';
      },
      ready: () => true,
      close: async () => {},
    };
    const configDir = writeConfigDir({ 'a.yaml': webhookIngester('slow', '/ingest/slow') });
    const h = await startTestHost({
      configDir,
      sink: slowSink,
      env: { ZEN_MAX_QUEUE: '1', ZEN_WEBHOOK_ACK_WAIT_MS: '50' },
    });
    try {
      const first = await post(`${h.url}/ingest/slow`, '{"severity":"low","title":"a"}');
      // Admitted into the bounded queue; not acknowledged while its write is held (ZW_ERR_WRITE_PENDING, ADR 0005).
      assert.equal(first.status, 503, first.text);
      assert.equal(first.json?.error, 'ZW_ERR_WRITE_PENDING');
      const second = await post(`${h.url}/ingest/slow`, '{"severity":"low","title":"b"}');
      assert.equal(second.status, 503);
      assert.equal(second.json?.error, 'ZW_ERR_QUEUE_FULL');
      assert.equal(second.headers.get('retry-after'), '1');
      release();
      await h.stop(); // graceful stop drains the queue
      assert.deepEqual(
        written.map((o) => o.spec.title),
        ['a'],
      );
    } finally {
      release();
      cleanup(configDir, h.dataDir);
    }
  });
});

test('the Ingester validation reserves exactly the paths the listener keeps for itself', () => {
  const paths = ['/', '/healthz', '/readyz', '/metrics', '/ui', '/ui/', '/ui/app.js', '/api/', '/api/v1/observations'];
  const webhooks = ['/ingest/webhook', '/healthz2', '/uix', '/apis/x', '/metrics/x', '/readyz/'];
  for (const p of [...paths, ...webhooks])
    assert.equal(
      reservedFor(p) !== undefined,
      koaOnly(p),
      `${p}: validate.ts reservedFor and server.ts koaOnly disagree`,
    );
  assert.ok(paths.every((p) => koaOnly(p)) && webhooks.every((p) => !koaOnly(p)));
});
