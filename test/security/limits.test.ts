/** Per-client limits, trusted proxies, URL/header size limits, slow clients, mTLS — against real hosts. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cleanup, post, startTestHost, tempDir, webhookIngester, writeConfigDir } from '../support/host.ts';

const ev = (t: string) => JSON.stringify({ severity: 'low', title: t });

describe('request limits', () => {
  test('per-client token bucket: 429 + Retry-After; X-Forwarded-For counts only from trusted proxies', async () => {
    const configDir = writeConfigDir({ 'a.yaml': webhookIngester('a', '/in/a') });
    const untrusted = await startTestHost({
      configDir,
      env: { ZEN_CLIENT_RATE_LIMIT_RPS: '1', ZEN_CLIENT_RATE_LIMIT_BURST: '2' },
    });
    try {
      const spoof = (ip: string) => ({ 'content-type': 'application/json', 'x-forwarded-for': ip });
      assert.equal((await post(`${untrusted.url}/in/a`, ev('1'), spoof('10.0.0.1'))).status, 200);
      assert.equal((await post(`${untrusted.url}/in/a`, ev('2'), spoof('10.0.0.2'))).status, 200);
      const third = await post(`${untrusted.url}/in/a`, ev('3'), spoof('10.0.0.3'));
      assert.equal(third.status, 429, 'a spoofed X-Forwarded-For from an untrusted peer does not buy a new bucket');
      assert.ok(Number(third.headers.get('retry-after')) >= 1);
    } finally {
      await untrusted.stop();
    }
    const trusted = await startTestHost({
      configDir,
      env: { ZEN_CLIENT_RATE_LIMIT_RPS: '1', ZEN_CLIENT_RATE_LIMIT_BURST: '2', ZEN_TRUSTED_PROXY_CIDRS: '127.0.0.0/8' },
    });
    try {
      const via = (ip: string) => ({ 'content-type': 'application/json', 'x-forwarded-for': ip });
      for (const ip of ['192.0.2.1', '192.0.2.1'])
        assert.equal((await post(`${trusted.url}/in/a`, ev(ip), via(ip))).status, 200);
      assert.equal(
        (await post(`${trusted.url}/in/a`, ev('x'), via('192.0.2.1'))).status,
        429,
        'same client behind the proxy',
      );
      assert.equal(
        (await post(`${trusted.url}/in/a`, ev('y'), via('192.0.2.2'))).status,
        200,
        'another client behind the proxy',
      );
    } finally {
      await trusted.stop();
      cleanup(configDir, trusted.dataDir, untrusted.dataDir);
    }
  });

  test('URL over ZEN_MAX_URL_BYTES is 414; headers over ZEN_MAX_HEADER_BYTES are 431; slow headers are cut', async () => {
    const configDir = writeConfigDir({ 'a.yaml': webhookIngester('a', '/in/a') });
    const h = await startTestHost({
      configDir,
      env: {
        ZEN_MAX_URL_BYTES: '256',
        ZEN_MAX_HEADER_BYTES: '4096',
        ZEN_HEADERS_TIMEOUT_SECONDS: '1',
        ZEN_REQUEST_TIMEOUT_SECONDS: '2',
      },
    });
    try {
      const long = await post(`${h.url}/in/a?${'q'.repeat(400)}`, ev('u'));
      assert.equal(long.status, 414);
      assert.equal(long.json?.error, 'ZW_ERR_URI_TOO_LONG');
      const big = await fetch(`${h.url}/in/a`, {
        method: 'POST',
        body: ev('h'),
        headers: { 'content-type': 'application/json', 'x-pad': 'p'.repeat(8000) },
      });
      assert.equal(big.status, 431);
      // Slowloris: a client that never finishes its headers is disconnected after the headers timeout.
      const port = Number(new URL(h.url).port);
      const started = Date.now();
      const closedAfter = await new Promise<number>((resolve) => {
        const s = connect(port, '127.0.0.1', () => s.write('POST /in/a HTTP/1.1\r\nHost: x\r\n'));
        const drip = setInterval(() => s.write('X-Slow: 1\r\n'), 200);
        s.on('close', () => {
          clearInterval(drip);
          resolve(Date.now() - started);
        });
        s.on('error', () => {});
      });
      assert.ok(closedAfter < 5000, `slow client disconnected after ${closedAfter} ms`);
      assert.equal((await post(`${h.url}/in/a`, ev('still-ok'))).status, 200, 'still serving');
    } finally {
      await h.stop();
      cleanup(configDir, h.dataDir);
    }
  });
});

describe('mTLS', () => {
  test('with a client CA, webhook paths need a verified client certificate; probes do not', async (t) => {
    const dir = tempDir('zw-tls-');
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    try {
      ssl(
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        '1',
        '-subj',
        '/CN=test-ca',
      );
      for (const who of ['server', 'client', 'rogue']) {
        ssl(
          'req',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          `${who}.key`,
          '-out',
          `${who}.csr`,
          '-subj',
          `/CN=${who === 'server' ? '127.0.0.1' : who}`,
        );
      }
      writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
      ssl(
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'server.crt',
        '-days',
        '1',
        '-extfile',
        'san.ext',
      );
      ssl(
        'x509',
        '-req',
        '-in',
        'client.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'client.crt',
        '-days',
        '1',
      );
      ssl('x509', '-req', '-in', 'rogue.csr', '-signkey', 'rogue.key', '-out', 'rogue.crt', '-days', '1');
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      t.skip(`openssl not usable: ${(err as Error).message}`);
      return;
    }
    const configDir = writeConfigDir({ 'a.yaml': webhookIngester('a', '/in/a') });
    const h = await startTestHost({
      configDir,
      env: {
        ZEN_TLS_CERT_FILE: join(dir, 'server.crt'),
        ZEN_TLS_KEY_FILE: join(dir, 'server.key'),
        ZEN_TLS_CLIENT_CA_FILE: join(dir, 'ca.crt'),
      },
    });
    const port = h.host.port;
    const call = (path: string, who?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path,
            method: path === '/healthz' ? 'GET' : 'POST',
            ca: readFileSync(join(dir, 'ca.crt')),
            headers: { 'content-type': 'application/json' },
            ...(who ? { cert: readFileSync(join(dir, `${who}.crt`)), key: readFileSync(join(dir, `${who}.key`)) } : {}),
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(path === '/healthz' ? undefined : ev('tls'));
      });
    try {
      assert.equal(await call('/in/a', 'client'), 200);
      assert.equal(await call('/in/a'), 401, 'no client certificate');
      assert.equal(await call('/in/a', 'rogue'), 401, 'a certificate from another CA');
      assert.equal(await call('/healthz'), 200, 'probes need no client certificate');
    } finally {
      await h.stop();
      cleanup(dir, configDir, h.dataDir);
    }
  });
});
