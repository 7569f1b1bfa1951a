/**
 * The read API refuses what it cannot answer exactly (standalone, over HTTP): malformed percent-encoding in a path
 * (400, not a 500 with an error log), parameters a route does not document (400 naming them, per route), numbers and
 * times that are not plain decimal integers or real RFC 3339 date-times; HEAD on the live stream answers its headers
 * without holding a stream slot; a finding seen once has firstSeen = lastSeen = its event time.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { cleanup, post, REPO, startTestHost, type TestHost, tempDir } from '../support/host.ts';
import { demoObservations } from '../support/observations.ts';
import { waitFor } from '../support/wait.ts';

const standaloneConfig = join(REPO, 'config/standalone');

describe('read API: strict paths, parameters, numbers and times (standalone)', () => {
  let th: TestHost;
  const dataDir = tempDir('zw-read-strict-');
  const logs: { level: string; msg: string }[] = [];
  const api = async (path: string, init?: RequestInit) => {
    const r = await fetch(`${th.url}/api/v1/${path}`, init);
    const text = await r.text();
    return { status: r.status, headers: r.headers, text, body: text ? JSON.parse(text) : undefined };
  };
  const refused = async (path: string, re: RegExp) => {
    const r = await api(path);
    assert.equal(r.status, 400, `${path}: ${r.text.slice(0, 300)}`);
    assert.equal(r.body.error, 'ZW_ERR_BAD_QUERY', path);
    assert.match(r.body.reason, re, path);
  };
  const streams = async () =>
    Number(/^zen_watcher_read_streams (\d+)$/m.exec(await (await fetch(`${th.url}/metrics`)).text())?.[1]);

  before(async () => {
    const store = new SqliteStore(dataDir);
    for (const o of demoObservations()) store.writeSync(o);
    await store.close();
    const out = new PassThrough();
    let buf = '';
    out.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        logs.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    th = await startTestHost({ configDir: standaloneConfig, dataDir, log: createLogger({ destination: out }) });
  });
  after(async () => {
    await th?.stop();
    cleanup(dataDir);
  });

  test('a malformed percent-encoding in a path is a 400 naming the segment, never a 500', async () => {
    const before = logs.length;
    for (const [path, segment] of [
      ['observations/default/%ZZ', 'name'],
      ['observations/%E0%A4%A/x', 'namespace'],
      ['resources/%E0/Pod/x', 'namespace'],
      ['resources/shop/%C3/x', 'kind'],
      ['resources/shop/Pod/%', 'name'],
    ] as const)
      await refused(path, new RegExp(`path segment '${segment}'`));
    assert.deepEqual(
      logs.slice(before).filter((l) => l.level === 'error'),
      [],
    );
    // Well-formed encodings still decode.
    assert.equal((await api('observations/shop/no%20such')).status, 404);
  });

  test('HEAD on the live stream answers its headers at once and holds no stream slot', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${th.url}/api/v1/stream`, { method: 'HEAD', signal: AbortSignal.timeout(2000) });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    }
    assert.equal(await streams(), 0);
    // A HEAD is checked like a GET (a bad filter is refused).
    const bad = await fetch(`${th.url}/api/v1/stream?bogus=1`, { method: 'HEAD' });
    assert.equal(bad.status, 400);
    const ac = new AbortController();
    const get = await fetch(`${th.url}/api/v1/stream`, { signal: ac.signal });
    assert.equal(get.status, 200);
    assert.equal(await streams(), 1);
    ac.abort();
    await waitFor('the stream closed', async () => (await streams()) === 0);
  });

  test('each route accepts exactly the parameters it documents', async () => {
    const resource = 'resources/shop/Deployment/payments';
    for (const [path, param] of [
      [`${resource}?severity=critical`, 'severity'],
      [`${resource}?limit=1`, 'limit'],
      ['summary?sort=-severity', 'sort'],
      ['summary?cursor=zzz', 'cursor'],
      ['summary?limit=3', 'limit'],
      ['observations?hours=3', 'hours'],
      ['stream?limit=3', 'limit'],
      ['stream?hours=3', 'hours'],
      ['stream?sort=-severity', 'sort'],
      ['whoami?foo=1', 'foo'],
      ['observations/shop/x?foo=bar', 'foo'],
    ] as const)
      await refused(path, new RegExp(`unknown query parameter '${param}'`));
    // What each documents is still accepted.
    assert.equal((await api(`${resource}`)).status, 200);
    assert.equal((await api('whoami')).status, 200);
    assert.equal((await api('summary?hours=3&severity=critical&since=24h&q=x')).status, 200);
    assert.equal((await api('observations?sort=-severity&limit=3&severity=critical&phase=Active')).status, 200);
  });

  test('limit and hours are plain decimal integers within their range', async () => {
    for (const v of ['0x10', '0b11', '0o7', '1e2', '%20%205', '5%20', '5.0', '+5', '-1', '0', '501', '05x', '１'])
      await refused(`observations?limit=${v}`, /'limit' must be an integer in \[1, 500\]/);
    for (const v of ['0x10', '1e1', '2.0', '%203', '0', '337'])
      await refused(`summary?hours=${v}`, /'hours' must be an integer in \[1, 336\]/);
    assert.equal((await api('observations?limit=3')).body.items.length, 3);
    assert.equal((await api('observations?limit=007')).body.items.length, 7);
    assert.equal((await api('summary?hours=336')).body.hourly.length, 336);
  });

  test('since and until are RFC 3339 date-times that exist, or a duration back from now', async () => {
    for (const v of [
      '2026-02-30T00:00:00Z',
      '2026-04-31T10:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-12-01T00:00:00',
      '2026-12-01',
      '2026-13-01T00:00:00Z',
      '2026-12-01T24:00:00Z',
      '2026-12-01T10:60:00Z',
      '2026-12-01T10:00:00+25:00',
      '2026-12-01T10:00:00Zjunk',
      '2026-12-01 10:00:00Z',
    ])
      for (const p of ['since', 'until'])
        await refused(`observations?${p}=${encodeURIComponent(v)}`, new RegExp(`'${p}' must be an RFC 3339`));
    for (const v of ['2024-02-29T00:00:00Z', '2026-12-01T10:00:00.5+02:00', '2026-12-01t10:00:00z', '30m', '7d'])
      assert.equal((await api(`observations?since=${encodeURIComponent(v)}`)).status, 200, v);
  });

  test('a finding seen once: firstSeen = lastSeen = its event time, and hourly.new counts it then', async () => {
    const hour = 3_600_000;
    const at = new Date(Math.floor(Date.now() / hour) * hour - 2 * hour + 60_000);
    const title = `old event ${Date.now()}`;
    assert.equal(
      (await post(`${th.url}/ingest/webhook`, JSON.stringify({ severity: 'low', title, timestamp: at.toISOString() })))
        .status,
      200,
    );
    const item = await waitFor('the finding is listed', async () => {
      const l = await api(`observations?q=${encodeURIComponent(title)}`);
      return l.body.items[0] as { namespace: string; name: string } | undefined;
    });
    const d = (await api(`observations/${item.namespace}/${item.name}`)).body;
    const iso = at.toISOString();
    assert.deepEqual([d.item.detectedAt, d.item.firstSeen, d.item.lastSeen], [iso, iso, iso]);
    assert.deepEqual([d.occurrences.firstSeen, d.occurrences.lastSeen], [iso, iso]);
    const s = (await api(`summary?hours=3&q=${encodeURIComponent(title)}`)).body;
    assert.deepEqual(
      s.hourly.map((h: { new: number }) => h.new),
      [1, 0, 0],
    );
  });
});
