import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { Observation } from '../api/index.ts';
import { KubeObservationSink } from './kube-sink.ts';

const obs = (name: string): Observation => ({
  name,
  namespace: 'ns',
  labels: {},
  annotations: {},
  spec: {
    source: 's',
    category: 'security',
    severity: 'high',
    eventType: 'e',
    title: 't',
    fingerprint: 'f'.repeat(64),
    detectedAt: new Date(0).toISOString(),
    ttlSecondsAfterCreation: 60,
  },
});

test('a leader-only write that lost leadership while it waited for a rate-limit token is not sent', async () => {
  // A local endpoint that counts creates (the sink's wire behaviour is tested against a real API server in test/kube).
  let creates = 0;
  const server = createServer((req, res) => {
    if (req.method === 'POST') creates++;
    req.resume();
    res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  let leader = true;
  // The bucket's clock moves only when the test says so: however slow the machine, the second write must wait.
  let clock = 0;
  const sink = new KubeObservationSink({
    kubeConfig: kc,
    qps: 2,
    burst: 1,
    maxAttempts: 1,
    canActAsLeader: () => leader,
    now: () => clock,
  });
  try {
    assert.equal(await sink.write(obs('first'), undefined, { leaderOnly: true }), 'created');
    assert.equal(creates, 1);
    // The bucket is empty: the next write waits for a token. Leadership is lost during that wait, then the token comes.
    const pending = sink.write(obs('second'), undefined, { leaderOnly: true });
    setTimeout(() => {
      leader = false;
      clock += 1000;
    }, 100);
    await assert.rejects(pending, (err: Error & { reason?: string }) => err.reason === 'not_leader');
    assert.equal(creates, 1, 'the second create was never sent');
  } finally {
    await sink.close();
    server.close();
  }
});
