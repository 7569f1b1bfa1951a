/**
 * Overload on loopback at several times the sustainable rate: the host answers 429/503 instead of buffering,
 * its memory stays bounded, it does not crash, and afterwards every event that got a 2xx is in the store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cleanup,
  post,
  rssOf,
  runCli,
  startHostProcess,
  tempDir,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';

test('overload: 429/503 with Retry-After, bounded RSS, no crash, every 2xx event stored', async (t) => {
  const configDir = writeConfigDir({
    // The source accepts 200 Observations/s (burst 100): far below what the client below offers.
    'a.yaml': webhookIngester('flood', '/in/flood', '  rateLimit: { requestsPerSecond: 200, burst: 100 }\n'),
  });
  const dataDir = tempDir('zw-overload-');
  const p = await startHostProcess({
    ZEN_CONFIG_DIR: configDir,
    ZEN_DATA_DIR: dataDir,
    ZEN_CLIENT_RATE_LIMIT_RPS: '2000',
    ZEN_CLIENT_RATE_LIMIT_BURST: '500',
    ZEN_MAX_QUEUE: '64',
  });
  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  let maxRss = 0;
  try {
    const total = 6000;
    const concurrency = 64;
    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const title = `ev-${i}`;
        const r = await post(`${p.url}/in/flood`, JSON.stringify({ severity: 'low', title, message: 'x'.repeat(200) }));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 200 && r.status < 300) accepted.push(title);
        else {
          assert.ok([429, 503].includes(r.status), `unexpected ${r.status}: ${r.text}`);
          assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After on every refusal');
        }
        if (i % 200 === 0) maxRss = Math.max(maxRss, rssOf(p.pid));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(
      `${total} requests in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s offered); statuses ${JSON.stringify(Object.fromEntries(statuses))}; max RSS ${Math.round(maxRss / 2 ** 20)} MiB`,
    );
    assert.ok((statuses.get(429) ?? 0) + (statuses.get(503) ?? 0) > 0, 'overload was refused, not buffered');
    assert.ok(accepted.length > 0);
    assert.ok(maxRss < 400 * 2 ** 20, `RSS ${maxRss}`);
    assert.equal((await fetch(`${p.url}/healthz`)).status, 200, 'still alive');
  } finally {
    assert.equal(await p.stop(), 0, 'graceful exit after the overload');
  }
  const list = await runCli(['observations', 'list', '--source', 'flood', '--limit', '100000', '-o', 'json'], {
    ZEN_DATA_DIR: dataDir,
  });
  const stored = new Set((JSON.parse(list.stdout) as { spec: { title: string } }[]).map((o) => o.spec.title));
  const lost = accepted.filter((title) => !stored.has(title));
  assert.deepEqual(lost, [], `${lost.length} acknowledged events are missing`);
  cleanup(configDir, dataDir);
});
