/**
 * Webhook authentication per Ingester (bearer, HMAC with timestamp and replay protection), credential rotation
 * without restart, and secrets hygiene (no credential in error bodies or logs) — against a real host.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readEnv } from '../../core/config/env.ts';
import { type Host, startHost } from '../../core/host/host.ts';
import { createLogger } from '../../core/telemetry/logger.ts';
import { cleanup, post, tempDir, webhookIngester, writeConfigDir } from '../support/host.ts';

const TOKEN = 'tok-3f9a1c2b7d';
const NEW_TOKEN = 'tok-new-8e7d6c5b';
const HMAC_SECRET = 'hmac-secret-5a4b3c';

describe('webhook authentication', () => {
  let host: Host;
  let url: string;
  let logs = '';
  let secrets: string;
  let dirs: string[];
  before(async () => {
    secrets = tempDir('zw-secrets-');
    writeFileSync(join(secrets, 'token'), `${TOKEN}\n`);
    writeFileSync(join(secrets, 'hmac'), `${HMAC_SECRET}\n`);
    const configDir = writeConfigDir({
      'bearer.yaml': webhookIngester('bearer', '/in/bearer').replace(
        '{ path: /in/bearer }',
        `{ path: /in/bearer, auth: { type: bearer, secretFile: ${join(secrets, 'token')} } }`,
      ),
      'hmac.yaml': webhookIngester('signed', '/in/signed').replace(
        '{ path: /in/signed }',
        `{ path: /in/signed, auth: { type: hmac, secretFile: ${join(secrets, 'hmac')}, hmac: { header: X-Hub-Signature-256, prefix: "sha256=" } } }`,
      ),
      'hmac-ts.yaml': webhookIngester('stamped', '/in/stamped').replace(
        '{ path: /in/stamped }',
        `{ path: /in/stamped, auth: { type: hmac, secretFile: ${join(secrets, 'hmac')}, hmac: { timestampHeader: X-Timestamp, toleranceSeconds: 60 } } }`,
      ),
      'open.yaml': webhookIngester('open', '/in/open'),
    });
    const dataDir = tempDir('zw-data-');
    dirs = [configDir, dataDir, secrets];
    const sink = new PassThrough();
    sink.on('data', (d) => (logs += d));
    const env = readEnv({
      ZEN_MODE: 'standalone',
      PORT: '0',
      ZEN_LISTEN_HOST: '127.0.0.1',
      ZEN_CONFIG_DIR: configDir,
      ZEN_DATA_DIR: dataDir,
      LOG_LEVEL: 'debug',
      ZEN_LOG_PAYLOADS: 'true',
    });
    host = await startHost({ env, log: createLogger({ level: 'debug', destination: sink }) });
    url = `http://127.0.0.1:${host.port}`;
  });
  after(async () => {
    await host.stop();
    cleanup(...dirs);
  });

  const event = (title: string) => JSON.stringify({ severity: 'low', title });
  const sign = (body: string, prefix = '') =>
    `sha256=${createHmac('sha256', HMAC_SECRET)
      .update(prefix + body)
      .digest('hex')}`;

  test('bearer: valid 200; missing, malformed and wrong 401', async () => {
    assert.equal(
      (
        await post(`${url}/in/bearer`, event('b1'), {
          'content-type': 'application/json',
          authorization: `Bearer ${TOKEN}`,
        })
      ).status,
      200,
    );
    const missing = await post(`${url}/in/bearer`, event('b2'));
    assert.equal(missing.status, 401);
    assert.equal(missing.json?.error, 'ZW_ERR_UNAUTHORIZED');
    assert.equal(
      (
        await post(`${url}/in/bearer`, event('b3'), {
          'content-type': 'application/json',
          authorization: `Basic ${TOKEN}`,
        })
      ).status,
      401,
    );
    const wrong = await post(`${url}/in/bearer`, event('b4'), {
      'content-type': 'application/json',
      authorization: 'Bearer nope-nope',
    });
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(wrong.text, /nope-nope/, 'the sent token is not echoed');
  });

  test('bearer rotation without restart: old and new accepted together, then only the new', async () => {
    writeFileSync(join(secrets, 'token'), `${TOKEN}\n${NEW_TOKEN}\n`);
    await sleep(1100); // credentials are re-read at most once a second
    for (const [i, t] of [TOKEN, NEW_TOKEN].entries()) {
      assert.equal(
        (
          await post(`${url}/in/bearer`, event(`rot-${i}`), {
            'content-type': 'application/json',
            authorization: `Bearer ${t}`,
          })
        ).status,
        200,
      );
    }
    writeFileSync(join(secrets, 'token'), `${NEW_TOKEN}\n`);
    await sleep(1100);
    assert.equal(
      (
        await post(`${url}/in/bearer`, event('rot-old'), {
          'content-type': 'application/json',
          authorization: `Bearer ${TOKEN}`,
        })
      ).status,
      401,
    );
    assert.equal(
      (
        await post(`${url}/in/bearer`, event('rot-new'), {
          'content-type': 'application/json',
          authorization: `Bearer ${NEW_TOKEN}`,
        })
      ).status,
      200,
    );
  });

  test('hmac: a signature over the raw body; wrong, missing or tampered 401', async () => {
    const body = event('h1');
    assert.equal(
      (await post(`${url}/in/signed`, body, { 'content-type': 'application/json', 'x-hub-signature-256': sign(body) }))
        .status,
      200,
    );
    assert.equal(
      (
        await post(`${url}/in/signed`, event('h2'), {
          'content-type': 'application/json',
          'x-hub-signature-256': sign(body),
        })
      ).status,
      401,
      'signature of another body',
    );
    assert.equal((await post(`${url}/in/signed`, body, { 'content-type': 'application/json' })).status, 401);
    const bad = await post(`${url}/in/signed`, body, {
      'content-type': 'application/json',
      'x-hub-signature-256': `md5=${'0'.repeat(32)}`,
    });
    assert.equal(bad.status, 401);
    assert.match(String(bad.json?.reason), /must start with 'sha256='/);
  });

  test('hmac with timestamp: in-window accepted once; replayed and stale refused', async () => {
    const body = event('t1');
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = { 'content-type': 'application/json', 'x-timestamp': ts, 'x-signature-256': sign(body, `${ts}.`) };
    assert.equal((await post(`${url}/in/stamped`, body, headers)).status, 200);
    const replay = await post(`${url}/in/stamped`, body, headers);
    assert.equal(replay.status, 401);
    assert.match(String(replay.json?.reason), /replayed/);
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    const stale = await post(`${url}/in/stamped`, event('t2'), {
      'content-type': 'application/json',
      'x-timestamp': old,
      'x-signature-256': sign(event('t2'), `${old}.`),
    });
    assert.equal(stale.status, 401);
    assert.match(String(stale.json?.reason), /tolerance window/);
    // The timestamp is signed: moving it forward without re-signing fails.
    const moved = await post(`${url}/in/stamped`, body, { ...headers, 'x-timestamp': String(Number(ts) + 1) });
    assert.equal(moved.status, 401);
  });

  test('unauthenticated Ingesters are warned about at startup; no credential ever reaches the logs', async () => {
    assert.match(logs, /webhook \/in\/open is unauthenticated/);
    assert.doesNotMatch(logs, /webhook \/in\/bearer is unauthenticated/);
    for (const secret of [TOKEN, NEW_TOKEN, HMAC_SECRET, 'nope-nope'])
      assert.ok(
        !logs.includes(secret),
        `log contains ${secret}: ${logs
          .split('\n')
          .filter((l) => l.includes(secret))
          .join('\n')}`,
      );
    assert.match(
      logs,
      /"payload":"\{\\"severity\\":\\"low\\"/,
      'payload logging (on here) logs the body, not the headers',
    );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const secret of [TOKEN, NEW_TOKEN, HMAC_SECRET]) assert.ok(!metrics.includes(secret));
    assert.match(metrics, /zen_watcher_webhook_requests_total\{endpoint="bearer",status="401"\} [1-9]/);
  });
});
