/** loadKubeConfig / checkReachable without a cluster. With one: test/kube/informer.test.ts ("client"). */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { checkReachable, KubeConfigError, KubeUnreachableError, loadKubeConfig } from './client.ts';

function kubeconfig(server: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'zen-kc-'));
  const path = join(dir, 'config');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'ctx',
    }),
  );
  return path;
}

/** A port on which nothing listens (bound, then closed). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('loadKubeConfig', () => {
  test('a missing file is a KubeConfigError naming it', () => {
    assert.throws(
      () => loadKubeConfig({ kubeconfigPath: '/nonexistent/kubeconfig' }),
      (err: unknown) => {
        assert.ok(err instanceof KubeConfigError);
        assert.equal(err.code, 'ZW_ERR_KUBE_CONFIG');
        assert.match(err.message, /\/nonexistent\/kubeconfig/);
        return true;
      },
    );
  });

  test('loads a kubeconfig file', () => {
    const kc = loadKubeConfig({ kubeconfigPath: kubeconfig('https://127.0.0.1:6443') });
    assert.equal(kc.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
  });
});

describe('checkReachable', () => {
  test('connection refused: KubeUnreachableError naming the server, fast', async () => {
    const server = `https://127.0.0.1:${await freePort()}`;
    const kc = loadKubeConfig({ kubeconfigPath: kubeconfig(server) });
    const t0 = performance.now();
    await assert.rejects(checkReachable(kc, 2_000), (err: unknown) => {
      assert.ok(err instanceof KubeUnreachableError);
      assert.equal(err.code, 'ZW_ERR_KUBE_UNREACHABLE');
      assert.equal(err.server, server);
      assert.ok(err.message.includes(server), err.message);
      return true;
    });
    assert.ok(performance.now() - t0 < 2_000);
  });

  test('a server that never answers: rejected after timeoutMs', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((s) => void sockets.push(s)); // accepts, never speaks TLS
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const server = `https://127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      const kc = loadKubeConfig({ kubeconfigPath: kubeconfig(server) });
      const t0 = performance.now();
      await assert.rejects(checkReachable(kc, 300), /did not answer within 300 ms/);
      const ms = performance.now() - t0;
      assert.ok(ms >= 280 && ms < 2_000, `${ms} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
