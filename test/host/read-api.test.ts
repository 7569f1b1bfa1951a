/**
 * The read API in standalone mode, over HTTP against a real host and store: answers, errors, access (loopback,
 * Host header, bearer tokens from another address), the index surviving a restart (loaded from the store), TTL
 * expiry, and the live stream.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import { cleanup, post, REPO, startTestHost, type TestHost, tempDir, writeConfigDir } from '../support/host.ts';
import { demoObservations, makeObservation } from '../support/observations.ts';

const standaloneConfig = join(REPO, 'config/standalone');

async function getJson(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers });
  return {
    status: r.status,
    headers: r.headers,
    body: (await r.json()) as Record<string, unknown> & { reason?: string },
  };
}

/** A GET with a chosen Host header (fetch does not allow setting it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('read API (standalone)', () => {
  let th: TestHost;
  const dataDir = tempDir('zw-read-');
  before(async () => {
    const store = new SqliteStore(dataDir);
    for (const o of demoObservations()) store.writeSync(o);
    // Expired (TTL 7 days, first seen 8 days ago): never listed.
    store.writeSync(
      makeObservation({
        source: 'trivy',
        severity: 'critical',
        title: 'expired finding',
        namespace: 'shop',
        detectedAt: new Date(Date.now() - 8 * 86_400_000),
      }),
    );
    await store.close();
    th = await startTestHost({ configDir: standaloneConfig, dataDir });
  });
  after(async () => {
    await th?.stop();
    cleanup(dataDir);
  });

  test('list: filters, sort, cursor pages, totals', async () => {
    const all = await getJson(`${th.url}/api/v1/observations?limit=500`);
    assert.equal(all.status, 200);
    const items = all.body.items as { name: string; severity: string; detectedAt: string; title: string }[];
    assert.equal(all.body.total, items.length);
    assert.ok(!items.some((i) => i.title === 'expired finding'), 'expired by TTL');
    const times = items.map((i) => Date.parse(i.detectedAt));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      'newest first by default',
    );

    const names: string[] = [];
    let next: string | undefined;
    do {
      const p = await getJson(`${th.url}/api/v1/observations?limit=7${next ? `&cursor=${next}` : ''}`);
      names.push(...(p.body.items as { name: string }[]).map((i) => i.name));
      next = p.body.next as string | undefined;
    } while (next);
    assert.deepEqual(
      names,
      items.map((i) => i.name),
      'cursor pages = one big page',
    );

    const f = await getJson(`${th.url}/api/v1/observations?severity=critical,high&source=trivy&namespace=shop`);
    const fi = f.body.items as { severity: string; source: string; namespace: string }[];
    assert.ok(fi.length > 0);
    assert.ok(
      fi.every((i) => ['critical', 'high'].includes(i.severity) && i.source === 'trivy' && i.namespace === 'shop'),
    );
    const bySev = await getJson(`${th.url}/api/v1/observations?sort=-severity&limit=3`);
    assert.deepEqual(
      (bySev.body.items as { severity: string }[]).map((i) => i.severity),
      ['critical', 'critical', 'critical'],
    );
    const q = await getJson(`${th.url}/api/v1/observations?q=CVE-2024-45337`);
    assert.equal(q.body.total, 1);
  });

  test('category, resource kind and resource name filters answer what the full list holds', async () => {
    type It = { name: string; category: string; resource?: { kind?: string; name?: string } };
    const all = (await getJson(`${th.url}/api/v1/observations?limit=500`)).body.items as It[];
    const names = async (qs: string) =>
      ((await getJson(`${th.url}/api/v1/observations?limit=500&${qs}`)).body.items as It[]).map((i) => i.name).sort();
    const expect = (f: (i: It) => boolean) =>
      all
        .filter(f)
        .map((i) => i.name)
        .sort();
    const categories = [...new Set(all.map((i) => i.category))];
    assert.ok(categories.length >= 2, `demo categories: ${categories}`);
    for (const c of categories)
      assert.deepEqual(
        await names(`category=${c}`),
        expect((i) => i.category === c),
        c,
      );
    const rs = expect((i) => i.resource?.kind === 'ReplicaSet');
    assert.ok(rs.length > 0);
    assert.deepEqual(await names('kind=replicaset'), rs, 'kind is case-insensitive');
    assert.deepEqual(
      await names('kind=ReplicaSet,Pod'),
      expect((i) => ['ReplicaSet', 'Pod'].includes(i.resource?.kind ?? '')),
    );
    assert.deepEqual(
      await names('resource=payments-7d9f8b6c5'),
      expect((i) => i.resource?.name === 'payments-7d9f8b6c5'),
    );
    assert.deepEqual(await names('resource=payments-7d9f8b6c5&kind=Pod'), [], 'filters combine with AND');
  });

  test('detail, summary and the per-resource view', async () => {
    const q = await getJson(`${th.url}/api/v1/observations?q=CVE-2024-45337`);
    const item = (q.body.items as { namespace: string; name: string }[])[0]!;
    const d = await getJson(`${th.url}/api/v1/observations/${item.namespace}/${item.name}`);
    assert.equal(d.status, 200);
    assert.deepEqual(
      (d.body.observation as { spec: { details: { fixedVersion: string } } }).spec.details.fixedVersion,
      '0.31.0',
    );
    assert.deepEqual(d.body.owners, [{ kind: 'Deployment', namespace: 'shop', name: 'payments' }]);
    assert.equal((d.body.occurrences as { count: number }).count, 1);
    assert.equal((await getJson(`${th.url}/api/v1/observations/shop/nope`)).status, 404);

    const s = await getJson(`${th.url}/api/v1/summary`);
    const list = await getJson(`${th.url}/api/v1/observations?limit=1`);
    assert.equal(s.body.total, list.body.total);
    assert.equal((s.body.hourly as unknown[]).length, 24);

    const r = await getJson(`${th.url}/api/v1/resources/shop/Deployment/payments`);
    assert.deepEqual(r.body.bySource, { falco: 1, trivy: 1, kyverno: 1 });
  });

  test('bad queries and methods are refused with a reason', async () => {
    for (const [qs, re] of [
      ['bogus=1', /unknown query parameter 'bogus'/],
      ['severity=urgent', /'severity' must be one of/],
      ['limit=0', /'limit' must be an integer/],
      ['limit=501', /'limit' must be an integer/],
      ['cursor=xyz', /cursor/],
      ['since=yesterday', /'since' must be an RFC 3339 time/],
      ['sort=name', /'sort' must be one of/],
      ['phase=Open', /'phase' must be Active or Resolved/],
    ] as const) {
      const r = await getJson(`${th.url}/api/v1/observations?${qs}`);
      assert.equal(r.status, 400, qs);
      assert.equal(r.body.error, 'ZW_ERR_BAD_QUERY');
      assert.match(r.body.reason!, re);
    }
    const p = await post(`${th.url}/api/v1/observations`, '{}');
    assert.equal(p.status, 405);
    const u = await post(`${th.url}/ui/`, '{}');
    assert.equal(u.status, 405);
    assert.equal(u.json?.error, 'ZW_ERR_METHOD_NOT_ALLOWED');
    assert.equal((await fetch(`${th.url}/ui/nothing.js`)).status, 404);
    const html = await fetch(`${th.url}/ui/`);
    assert.match(html.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await html.text(), /<script type="module" src="assets\/app.js">/);
    assert.equal((await getJson(`${th.url}/api/v1/nothing`)).status, 404);
    // Webhooks and probes still work next to the read API.
    assert.equal((await fetch(`${th.url}/readyz`)).status, 200);
  });

  test('a web page cannot reach it by DNS rebinding: a foreign Host header is refused', async () => {
    const r = await getWithHost(`${th.url}/api/v1/summary`, 'attacker.example:8080');
    assert.equal(r.status, 403);
    assert.match(r.body, /Host header must name the loopback/);
    assert.equal((await getWithHost(`${th.url}/api/v1/summary`, 'localhost:8080')).status, 200);
  });

  test('the live stream sends an Observation written after it opened', async () => {
    const ac = new AbortController();
    const res = await fetch(`${th.url}/api/v1/stream?severity=critical`, { signal: ac.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const title = `streamed ${Date.now()}`;
    await post(`${th.url}/ingest/webhook`, JSON.stringify({ severity: 'low', title: `${title} (filtered out)` }));
    await post(`${th.url}/ingest/webhook`, JSON.stringify({ severity: 'critical', title }));
    let text = '';
    while (!text.includes(title)) text += (await reader.read()).value ?? '';
    ac.abort();
    assert.match(text, /event: upsert\ndata: \{/);
    assert.doesNotMatch(text, /filtered out/);
  });

  test('the index is the store after a restart', async () => {
    const before = await getJson(`${th.url}/api/v1/observations?limit=1`);
    await th.stop();
    th = await startTestHost({ configDir: standaloneConfig, dataDir });
    const after = await getJson(`${th.url}/api/v1/observations?limit=1`);
    assert.equal(after.body.total, before.body.total);
  });
});

const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

describe('read API from outside the loopback', { skip: external ? undefined : 'no non-loopback IPv4 address' }, () => {
  test('refused without ZEN_READ_TOKEN_FILE; with it, a bearer token is required and enough', async () => {
    const dataDir = tempDir('zw-read-ext-');
    let th = await startTestHost({ configDir: standaloneConfig, dataDir, env: { ZEN_LISTEN_HOST: '0.0.0.0' } });
    const url = `http://${external}:${th.host.port}`;
    try {
      const r = await getJson(`${url}/api/v1/summary`);
      assert.equal(r.status, 403);
      assert.match(r.body.reason!, /loopback callers only; set ZEN_READ_TOKEN_FILE/);
      await th.stop();
      const tokens = writeConfigDir({ tokens: 'old-token\nnew-token\n' });
      th = await startTestHost({
        configDir: standaloneConfig,
        dataDir,
        env: { ZEN_LISTEN_HOST: '0.0.0.0', ZEN_READ_TOKEN_FILE: join(tokens, 'tokens') },
      });
      const url2 = `http://${external}:${th.host.port}`;
      const none = await getJson(`${url2}/api/v1/summary`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      assert.equal((await getJson(`${url2}/api/v1/summary`, { authorization: 'Bearer wrong' })).status, 401);
      assert.equal((await getJson(`${url2}/api/v1/summary`, { authorization: 'Bearer new-token' })).status, 200);
      assert.equal((await getJson(`${url2}/api/v1/summary`, { authorization: 'Bearer old-token' })).status, 200);
      // The UI's files are public (they hold no data); the data behind them is not.
      assert.equal((await fetch(`${url2}/ui/`)).status, 200);
    } finally {
      await th.stop();
      cleanup(dataDir);
    }
  });
});
