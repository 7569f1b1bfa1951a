import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import {
  LEADER_ELECTION_USER_AGENT,
  LeaseLock,
  leaseRequestTimeoutMs,
  leaseSpecToRecord,
  rawRecord,
  recordToLeaseSpec,
} from './lease-lock.ts';
import type { LeaderLockError, LeaderRecord } from './lock.ts';

// LeaseLock's API semantics are tested against a real kube-apiserver in test/kube/leader.test.ts; here the pure
// converters, and what the lock puts on the wire (user agent, connection reuse, timeouts).

describe('Lease spec <-> LeaderRecord', () => {
  const cases: { name: string; record: LeaderRecord }[] = [
    {
      name: 'held',
      record: {
        holderIdentity: 'zen-watcher-7d9c-abcde',
        leaseDurationSeconds: 15,
        acquireTime: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
        renewTime: Date.UTC(2026, 0, 2, 3, 4, 9, 1),
        leaderTransitions: 7,
      },
    },
    {
      name: 'released (client-go writes an empty holder and 1 s)',
      record: {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: Date.UTC(2026, 0, 2),
        renewTime: Date.UTC(2026, 0, 2),
        leaderTransitions: 0,
      },
    },
    {
      name: 'no times',
      record: {
        holderIdentity: 'a',
        leaseDurationSeconds: 3,
        acquireTime: undefined,
        renewTime: undefined,
        leaderTransitions: 0,
      },
    },
  ];
  for (const c of cases) {
    test(`round trip through JSON: ${c.name}`, () => {
      const wire = JSON.parse(JSON.stringify(recordToLeaseSpec(c.record)));
      assert.deepEqual(leaseSpecToRecord(wire), c.record);
    });
  }

  test('MicroTime goes on the wire with six fractional digits', () => {
    const spec = recordToLeaseSpec(cases[0]!.record);
    const wire = JSON.parse(JSON.stringify(spec));
    assert.equal(wire.acquireTime, '2026-01-02T03:04:05.678000Z');
    assert.equal(wire.renewTime, '2026-01-02T03:04:09.001000Z');
    assert.equal(wire.holderIdentity, 'zen-watcher-7d9c-abcde');
  });

  test('reads microsecond times from the server (truncated to ms) and fills absent fields', () => {
    const r = leaseSpecToRecord({ renewTime: '2026-01-02T03:04:05.678901Z' as unknown as Date });
    assert.deepEqual(r, {
      holderIdentity: '',
      leaseDurationSeconds: 0,
      acquireTime: undefined,
      renewTime: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
      leaderTransitions: 0,
    });
  });

  test('raw is the same whether times arrive as text (watch) or as Date objects', () => {
    const text = { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: '2026-01-02T03:04:05.678000Z' };
    const date = { ...text, renewTime: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)) };
    assert.equal(rawRecord(text as never), rawRecord(date as never));
    // client-go writes microseconds: two renewals within one millisecond stay distinct.
    assert.notEqual(
      rawRecord(text as never),
      rawRecord({ ...text, renewTime: '2026-01-02T03:04:05.678001Z' } as never),
    );
  });

  test('raw changes whenever any field changes, and only then', () => {
    const spec = JSON.parse(JSON.stringify(recordToLeaseSpec(cases[0]!.record)));
    assert.equal(rawRecord(spec), rawRecord({ ...spec }));
    for (const k of ['holderIdentity', 'leaseDurationSeconds', 'renewTime', 'acquireTime', 'leaseTransitions']) {
      assert.notEqual(
        rawRecord({ ...spec, [k]: k.endsWith('Time') ? '2030-01-01T00:00:00.000000Z' : 99 }),
        rawRecord(spec),
        k,
      );
    }
  });
});

describe('LeaseLock construction', () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });

  test('request timeout is max(1 s, renewDeadline / 2)', () => {
    assert.equal(leaseRequestTimeoutMs(10_000), 5_000);
    assert.equal(leaseRequestTimeoutMs(1_500), 1_000);
    assert.equal(new LeaseLock({ kubeConfig: kc, namespace: 'ns', name: 'l', identity: 'a' }).requestTimeoutMs, 5_000);
  });

  test('describe() is namespace/name; empty identity is refused', () => {
    assert.equal(new LeaseLock({ kubeConfig: kc, namespace: 'ns', name: 'l', identity: 'a' }).describe(), 'ns/l');
    assert.throws(() => new LeaseLock({ kubeConfig: kc, namespace: 'ns', name: 'l', identity: '' }), /identity/);
  });
});

describe('LeaseLock transport (a local HTTP endpoint, to see what goes on the wire)', () => {
  test('own user agent, one kept-alive connection, per-request timeout, new connection after a timeout', async () => {
    const seen: { ua: string | undefined; port: number | undefined; url: string | undefined }[] = [];
    let hang = false;
    const server = createServer((req, res) => {
      seen.push({ ua: req.headers['user-agent'], port: req.socket.remotePort, url: req.url });
      if (hang) return; // never answers
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const lock = new LeaseLock({ kubeConfig: kc, namespace: 'ns', name: 'l', identity: 'a', requestTimeoutMs: 300 });
    try {
      for (let i = 0; i < 6; i++) assert.equal(await lock.get(AbortSignal.timeout(5_000)), undefined);
      assert.equal(seen[0]?.url, '/apis/coordination.k8s.io/v1/namespaces/ns/leases/l');
      assert.ok(
        seen.every((s) => s.ua === LEADER_ELECTION_USER_AGENT),
        'own user agent',
      );
      // One dispatcher for the lock's life: connections are kept alive and reused (client-node alone would
      // build a new dispatcher, and so a new connection, for every request).
      const ports = new Set(seen.map((s) => s.port));
      assert.ok(ports.size <= 2, `6 requests on ${ports.size} connections`);

      hang = true;
      const t0 = performance.now();
      await assert.rejects(lock.get(AbortSignal.timeout(5_000)), (err: LeaderLockError) => {
        assert.equal(err.apiStatus, undefined);
        assert.match(err.message, /LeaseGet: get of ns\/l failed/);
        return true;
      });
      const took = performance.now() - t0;
      assert.ok(took >= 250 && took < 2_000, `timed out after ${took} ms`);

      hang = false;
      assert.equal(await lock.get(AbortSignal.timeout(5_000)), undefined);
      assert.ok(!ports.has(seen.at(-1)?.port), 'a new connection after the timeout');
    } finally {
      await lock.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
