/**
 * HMAC replay protection (#14 item 4), standalone mode against real hosts: a signature is used up only by a 2xx
 * answer (an honest retry after a 422 or a 500 is processed, not refused as a replay), and used signatures are
 * kept on disk, so a request captured before a restart is still refused after it. Kubernetes mode:
 * test/kube/replay.test.ts.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAuthenticator } from '../../core/http/auth.ts';
import { lazyUsedSignatures, ReplayGuard } from '../../core/http/replay.ts';
import { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import { SqliteUsedSignatures } from '../../core/sinks/used-signatures.ts';
import { cleanup, post, startTestHost, type TestHost, tempDir, writeConfigDir } from '../support/host.ts';

const SECRET = 'replay-secret-7c1d';

/** A plugin that fails with a plain error (500) the first `failFirst` times it sees a title. */
const FLAKY = `import { definePlugin } from 'zen-watcher/plugin-api';
const calls = new Map();
export default definePlugin({
  name: 'zen-plugin-flaky',
  version: '1.0.0',
  register(api) {
    api.hooks.onWebhook.for('flaky').tapPromise(async (req) => {
      const n = (calls.get(req.body.title) ?? 0) + 1;
      calls.set(req.body.title, n);
      if (n <= (req.body.failFirst ?? 0)) throw new Error('transient failure ' + n);
      if (typeof req.body.severity !== 'string') throw api.payloadError('severity must be a string', 'severity');
      return [{ severity: req.body.severity, title: req.body.title }];
    });
  },
});
`;

const ingester = (name: string, plugin: string, secretFile: string) => `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: ${name}, namespace: default }
spec:
  source: ${name}
  plugin: ${plugin}
  ingester: webhook
  webhook:
    path: /in/${name}
    auth: { type: hmac, secretFile: ${secretFile}, hmac: { timestampHeader: X-Timestamp, toleranceSeconds: 300 } }
`;

function signed(body: string, ts = Math.floor(Date.now() / 1000)) {
  const sig = createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
  return { 'content-type': 'application/json', 'x-timestamp': String(ts), 'x-signature-256': `sha256=${sig}` };
}

describe('HMAC replay protection, standalone', () => {
  let dirs: string[];
  let configDir: string;
  let dataDir: string;
  let pluginDir: string;
  let h: TestHost | undefined;
  const start = async () => {
    h = await startTestHost({ configDir, dataDir, env: { ZEN_PLUGIN_DIRS: pluginDir } });
    return h;
  };
  before(() => {
    const secrets = tempDir('zw-secrets-');
    writeFileSync(join(secrets, 'hmac'), `${SECRET}\n`);
    pluginDir = tempDir('zw-plugins-');
    mkdirSync(join(pluginDir, 'flaky'));
    writeFileSync(join(pluginDir, 'flaky/index.js'), FLAKY);
    writeFileSync(
      join(pluginDir, 'flaky/package.json'),
      JSON.stringify({
        name: 'zen-plugin-flaky',
        version: '1.0.0',
        type: 'module',
        private: true,
        zenWatcher: { hostApi: '^1.0.0', entry: 'index.js', sources: ['flaky'] },
      }),
    );
    configDir = writeConfigDir({
      'signed.yaml': ingester('signed', 'webhook', join(secrets, 'hmac')),
      'flaky.yaml': ingester('flaky', 'flaky', join(secrets, 'hmac')),
    });
    dataDir = tempDir('zw-data-');
    dirs = [secrets, pluginDir, configDir, dataDir];
  });
  after(async () => {
    await h?.stop();
    cleanup(...dirs);
  });

  test('a request answered 2xx before a restart is refused as a replay after it', async () => {
    let host = await start();
    const body = JSON.stringify({ severity: 'high', title: 'before restart' });
    const headers = signed(body);
    const first = await post(`${host.url}/in/signed`, body, headers);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json?.created, 1);
    assert.equal((await post(`${host.url}/in/signed`, body, headers)).status, 401);
    await host.stop();
    host = await start();
    const replay = await post(`${host.url}/in/signed`, body, headers);
    assert.equal(replay.status, 401, replay.text);
    assert.match(String(replay.json?.reason), /replayed/);
    // Nothing new was stored by the replay.
    const store = new SqliteStore(dataDir, { readOnly: true });
    try {
      assert.equal(store.list({ source: 'signed' }).filter((o) => o.spec.title === 'before restart').length, 1);
    } finally {
      await store.close();
    }
  });

  test('an honest retry after a 422 is processed again (422), not refused as a replay', async () => {
    const host = h ?? (await start());
    const body = JSON.stringify({ severity: 'urgent', title: 'bad severity' });
    const headers = signed(body);
    const first = await post(`${host.url}/in/signed`, body, headers);
    assert.equal(first.status, 422, first.text);
    const retry = await post(`${host.url}/in/signed`, body, headers);
    assert.equal(retry.status, 422, `the retry was ${retry.status}: ${retry.text}`);
    assert.equal(retry.json?.error, 'ZW_ERR_PAYLOAD_INVALID');
  });

  test('an honest retry after a 500 succeeds, and only then is the signature used', async () => {
    const host = h ?? (await start());
    const body = JSON.stringify({ severity: 'low', title: 'flaky once', failFirst: 1 });
    const headers = signed(body);
    const first = await post(`${host.url}/in/flaky`, body, headers);
    assert.equal(first.status, 500, first.text);
    const retry = await post(`${host.url}/in/flaky`, body, headers);
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.json?.created, 1);
    const third = await post(`${host.url}/in/flaky`, body, headers);
    assert.equal(third.status, 401, third.text);
  });

  test('the same signature on another Ingester is a different request', async () => {
    const host = h ?? (await start());
    const body = JSON.stringify({ severity: 'low', title: 'two ingesters' });
    const headers = signed(body);
    assert.equal((await post(`${host.url}/in/signed`, body, headers)).status, 200);
    assert.equal((await post(`${host.url}/in/flaky`, body, headers)).status, 200);
  });

  test('ReplayGuard: a concurrent copy is refused while the first runs; a release frees it', () => {
    const store = new SqliteUsedSignatures(':memory:');
    const guard = new ReplayGuard(store);
    const now = Date.now();
    const a = guard.claim('ns/ing', 'abc', now + 60_000, now);
    assert.ok(a);
    assert.equal(guard.claim('ns/ing', 'abc', now + 60_000, now), undefined, 'in flight');
    a.release();
    const b = guard.claim('ns/ing', 'abc', now + 60_000, now);
    assert.ok(b);
    b.accept();
    assert.equal(guard.claim('ns/ing', 'abc', now + 60_000, now), undefined, 'used');
    assert.ok(guard.claim('ns/ing', 'abc', now + 60_000, now + 61_000), 'expired with its tolerance window');
    assert.equal(store.count(), 1);
    guard.close();
  });

  test('a record of used signatures that cannot be opened is a 503, never an accepted replay', () => {
    const guard = new ReplayGuard(
      lazyUsedSignatures(() => {
        throw new Error('SQLITE_CANTOPEN');
      }),
    );
    const auth = createAuthenticator({ type: 'hmac', hmac: { timestampHeader: 'X-Timestamp' } }, () => [SECRET], {
      replay: guard,
      scope: 'default/x',
    });
    const body = '{}';
    const headers = Object.fromEntries(Object.entries(signed(body)).map(([k, v]) => [k.toLowerCase(), v]));
    assert.throws(
      () => auth!.check(headers, Buffer.from(body), Date.now()),
      (err: { code?: string; status?: number }) => err.code === 'ZW_ERR_NOT_READY' && err.status === 503,
    );
  });
});
