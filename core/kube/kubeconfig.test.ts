/**
 * LiteKubeConfig (issue #18): a kubeconfig read without loading client-node's index means what it means to
 * client-node's KubeConfig (compared field by field on the same files), and what it cannot serve is left to it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from './client.ts';
import { LiteKubeConfig, liteFromCluster, liteFromFile } from './kubeconfig.ts';

function write(doc: object, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'zen-lite-kc-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const path = join(dir, 'config');
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

const config = (user: object, cluster: object = {}) => ({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443', ...cluster } }],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'ctx',
});

/** What a request would carry: TLS options and headers, from either implementation. */
async function applied(kc: { applyHTTPSOptions(o: object): void; applyAuthorizationHeader(o: object): Promise<void> }) {
  const opts: Record<string, unknown> = {};
  kc.applyHTTPSOptions(opts);
  await kc.applyAuthorizationHeader(opts);
  return opts;
}

async function sameAsClientNode(path: string): Promise<LiteKubeConfig> {
  const lite = liteFromFile(path);
  assert.ok(lite, 'served by the lite config');
  const full = new KubeConfig();
  full.loadFromFile(path);
  assert.deepEqual(lite.getCurrentCluster(), full.getCurrentCluster());
  assert.deepEqual(lite.getCurrentUser(), full.getCurrentUser());
  assert.equal(lite.getCurrentContext(), full.getCurrentContext());
  assert.deepEqual(await applied(lite), await applied(full as unknown as Parameters<typeof applied>[0]));
  return lite;
}

describe('LiteKubeConfig', () => {
  test('token, CA data, tls-server-name: the same as client-node', async () => {
    const lite = await sameAsClientNode(
      write(
        config(
          { token: 'abc' },
          { 'certificate-authority-data': Buffer.from('CA').toString('base64'), 'tls-server-name': 'api' },
        ),
      ),
    );
    const opts = await applied(lite);
    assert.equal((opts.headers as Record<string, string>).Authorization, 'Bearer abc');
    assert.equal(String(opts.ca), 'CA');
    assert.equal(opts.servername, 'api');
  });

  test('client certificate files relative to the kubeconfig, insecure-skip-tls-verify: the same as client-node', async () => {
    const lite = await sameAsClientNode(
      write(
        config({ 'client-certificate': 'crt.pem', 'client-key': 'key.pem' }, { 'insecure-skip-tls-verify': true }),
        {
          'crt.pem': 'CERT',
          'key.pem': 'KEY',
        },
      ),
    );
    const opts = await applied(lite);
    assert.equal(String(opts.cert), 'CERT');
    assert.equal(String(opts.key), 'KEY');
    assert.equal(opts.rejectUnauthorized, false);
  });

  test('a token file is read (and re-read as it rotates, by client-node FileAuth)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zen-lite-tf-'));
    writeFileSync(join(dir, 'token'), 'from-file');
    const path = write(config({ 'auth-provider': { name: 'tokenFile', config: { tokenFile: join(dir, 'token') } } }));
    const lite = await sameAsClientNode(path);
    assert.equal(((await applied(lite)).headers as Record<string, string>).Authorization, 'Bearer from-file');
  });

  test('an exec credential plugin runs, as with client-node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zen-lite-exec-'));
    const script = join(dir, 'cred.js');
    writeFileSync(
      script,
      `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-exec' } }))`,
    );
    const lite = liteFromFile(
      write(
        config({
          exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [script] },
        }),
      ),
    );
    assert.ok(lite);
    assert.equal(((await applied(lite)).headers as Record<string, string>).Authorization, 'Bearer from-exec');
  });

  test('auth-provider (oidc) and proxy-url are left to client-node: loadKubeConfig gives its KubeConfig', () => {
    const oidc = write(config({ 'auth-provider': { name: 'oidc', config: { 'id-token': 'x' } } }));
    assert.equal(liteFromFile(oidc), undefined);
    assert.ok(loadKubeConfig({ kubeconfigPath: oidc }) instanceof KubeConfig);
    const proxied = write(config({ token: 't' }, { 'proxy-url': 'http://proxy:3128' }));
    assert.equal(liteFromFile(proxied), undefined);
    assert.ok(loadKubeConfig({ kubeconfigPath: proxied }) instanceof KubeConfig);
    // A plain one is the lite config.
    assert.ok(loadKubeConfig({ kubeconfigPath: write(config({ token: 't' })) }) instanceof LiteKubeConfig);
  });

  test('in-cluster: the service host (IPv6 in brackets), the mounted CA and token file', () => {
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    try {
      process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
      process.env.KUBERNETES_SERVICE_PORT = '443';
      const kc = liteFromCluster();
      assert.equal(kc.getCurrentCluster()?.server, 'https://[fd00::1]:443');
      assert.equal(kc.getCurrentCluster()?.caFile, '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
      assert.deepEqual(kc.getCurrentUser()?.authProvider, {
        name: 'tokenFile',
        config: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
      });
    } finally {
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      else process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
      else process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
  });
});
