/**
 * Leader election against a real kube-apiserver (test/controlplane/harness.ts; ZEN_TEST_KUBECONFIG targets an
 * existing cluster instead). Two or more electors, each with its own LeaseLock and KubeConfig, contend for one
 * Lease with short timings. Each test uses its own Lease name in `default`, deleted afterwards.
 *
 * Without a control plane (no Go toolchain, build failure) the suite is skipped with the reason, except in CI
 * (CI=true), where that is a failure.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, describe, test } from 'node:test';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import {
  createLeaderElector,
  type LeaderElector,
  type LeaderLock,
  LeaseLock,
  leaseRequestTimeoutMs,
  systemClock,
} from '../../core/leader/index.ts';
import type { ControlPlane } from '../controlplane/harness.ts';

const TIMINGS = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };
const NAMESPACE = 'default';

async function controlPlane(): Promise<{ cp?: ControlPlane; skip?: string }> {
  try {
    const { startControlPlane } = await import('../controlplane/harness.ts');
    return { cp: await startControlPlane() };
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return { skip: `no test control plane (${(err as Error).message}); set ZEN_TEST_KUBECONFIG or install Go` };
  }
}

const { cp, skip } = await controlPlane();
after(async () => cp?.stop());

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cp!.kubeconfigPath);
  return kc;
}

interface Replica {
  id: string;
  lock: LeaseLock;
  elector: LeaderElector;
  ctl: AbortController;
  done: Promise<void>;
  startedAt: number[];
  abortedAt: number[];
  stoppedAt: number[];
}

const now = () => systemClock.now();
const sleep = (ms: number) => systemClock.sleep(ms);

let live: Replica[] = [];
let leases: string[] = [];

function leaseName(): string {
  const name = `zen-leader-it-${randomBytes(4).toString('hex')}`;
  leases.push(name);
  return name;
}

function replica(
  id: string,
  lease: string,
  opts: { releaseOnCancel?: boolean; wrap?: (l: LeaderLock) => LeaderLock } = {},
) {
  const lock = new LeaseLock({
    kubeConfig: kubeConfig(),
    namespace: NAMESPACE,
    name: lease,
    identity: id,
    requestTimeoutMs: leaseRequestTimeoutMs(TIMINGS.renewDeadlineMs),
  });
  const r: Replica = {
    id,
    lock,
    ctl: new AbortController(),
    done: Promise.resolve(),
    startedAt: [],
    abortedAt: [],
    stoppedAt: [],
    elector: undefined as unknown as LeaderElector,
  };
  r.elector = createLeaderElector({
    ...TIMINGS,
    lock: opts.wrap ? opts.wrap(lock) : lock,
    releaseOnCancel: opts.releaseOnCancel ?? true,
    callbacks: {
      onStartedLeading(term) {
        r.startedAt.push(now());
        term.signal.addEventListener('abort', () => r.abortedAt.push(now()));
      },
      onStoppedLeading() {
        r.stoppedAt.push(now());
      },
    },
  });
  r.done = r.elector.run(r.ctl.signal);
  live.push(r);
  return r;
}

/** A lock whose connectivity the test can cut: calls throw at once, or hang until their deadline. */
function cuttable(mode: 'throw' | 'hang') {
  const state = { cut: false };
  const wrap = (inner: LeaderLock): LeaderLock => {
    const gate = async <T>(signal: AbortSignal, call: () => Promise<T>): Promise<T> => {
      if (!state.cut) return call();
      if (mode === 'throw') throw new Error('connection refused (test)');
      return new Promise<T>((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error('timeout (test)')), { once: true }),
      );
    };
    return {
      identity: inner.identity,
      describe: () => inner.describe(),
      get: (s) => gate(s, () => inner.get(s)),
      create: (r, s) => gate(s, () => inner.create(r, s)),
      update: (r, s) => gate(s, () => inner.update(r, s)),
    };
  };
  return { state, wrap };
}

async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 20): Promise<number | undefined> {
  const end = now() + timeoutMs;
  while (now() < end) {
    if (cond()) return now();
    await sleep(stepMs);
  }
  return cond() ? now() : undefined;
}

async function readLease(name: string) {
  const api = kubeConfig().makeApiClient(CoordinationV1Api);
  return api.readNamespacedLease({ name, namespace: NAMESPACE });
}

afterEach(async () => {
  for (const r of live) r.ctl.abort();
  await Promise.allSettled(live.map((r) => r.done));
  await Promise.all(live.map((r) => r.lock.close()));
  live = [];
  const api = kubeConfig().makeApiClient(CoordinationV1Api);
  for (const name of leases) {
    await api.deleteNamespacedLease({ name, namespace: NAMESPACE }).catch(() => {});
  }
  leases = [];
});

describe('leader election on a real kube-apiserver', { skip }, () => {
  test('LeaseLock: absent → create → optimistic update; a stale resourceVersion gets 409', async () => {
    const name = leaseName();
    const mk = (id: string) =>
      new LeaseLock({ kubeConfig: kubeConfig(), namespace: NAMESPACE, name, identity: id, requestTimeoutMs: 1_000 });
    const a = mk('a');
    const b = mk('b');
    const signal = AbortSignal.timeout(10_000);
    assert.equal(await a.get(signal), undefined);
    const t = Date.now();
    const rec = { holderIdentity: 'a', leaseDurationSeconds: 3, acquireTime: t, renewTime: t, leaderTransitions: 0 };
    await a.create(rec, signal);
    await assert.rejects(b.create(rec, signal), { apiStatus: 409 });
    const seen = await b.get(signal);
    assert.deepEqual(seen?.record, rec);
    await a.update({ ...rec, renewTime: t + 1 }, signal);
    await assert.rejects(b.update({ ...rec, holderIdentity: 'b' }, signal), { apiStatus: 409 });
    const again = await b.get(signal);
    assert.notEqual(again?.raw, seen?.raw);
    assert.equal(again?.record.renewTime, t + 1);
    const lease = await readLease(name);
    assert.match(String(lease.spec?.renewTime), /\.\d{6}Z$/, 'MicroTime with microseconds');
    await a.close();
    await b.close();
  });

  test('two electors: exactly one leads, never two', async (t) => {
    const name = leaseName();
    const rs = [replica('replica-a', name), replica('replica-b', name)];
    const first = await waitFor(() => rs.some((r) => r.elector.isLeader()), 5_000);
    assert.ok(first !== undefined, 'someone leads');
    const leader = rs.find((r) => r.elector.isLeader())!;
    let samples = 0;
    for (let end = now() + 4_000; now() < end; samples++) {
      const leading = rs.filter((r) => r.elector.isLeader());
      assert.equal(leading.length, 1, `exactly one leader at sample ${samples}`);
      assert.equal(leading[0], leader, 'the leader does not change');
      await sleep(100);
    }
    const lease = await readLease(name);
    assert.equal(lease.spec?.holderIdentity, leader.id);
    assert.equal(lease.spec?.leaseDurationSeconds, 3);
    assert.equal(lease.spec?.leaseTransitions, 0);
    for (const r of rs) assert.equal(r.elector.leaderIdentity(), leader.id);
    assert.equal(leader.startedAt.length, 1);
    t.diagnostic(`${samples} samples over 4 s, leader ${leader.id}`);
  });

  test('stop (release) → the other acquires within retryPeriod + 1 s', async (t) => {
    const name = leaseName();
    const rs = [replica('replica-a', name), replica('replica-b', name)];
    assert.ok(await waitFor(() => rs.some((r) => r.elector.isLeader()), 5_000));
    await sleep(1_000);
    const leader = rs.find((r) => r.elector.isLeader())!;
    const other = rs.find((r) => r !== leader)!;
    const stopAt = now();
    leader.ctl.abort();
    await leader.done;
    const releasedAt = now();
    assert.ok(leader.abortedAt[0]! <= leader.stoppedAt[0]!, 'abort before onStoppedLeading');
    const took = await waitFor(() => other.elector.isLeader(), 10_000, 5);
    assert.ok(took !== undefined, 'the other replica took over');
    const takeover = other.startedAt[0]! - releasedAt;
    t.diagnostic(
      `release took ${Math.round(releasedAt - stopAt)} ms; takeover ${Math.round(takeover)} ms after release ` +
        `(${Math.round(other.startedAt[0]! - stopAt)} ms after stop)`,
    );
    assert.ok(takeover <= TIMINGS.retryPeriodMs + 1_000, `takeover ${takeover} ms`);
    const lease = await readLease(name);
    assert.equal(lease.spec?.holderIdentity, other.id);
    assert.equal(lease.spec?.leaseTransitions, 1);
    other.ctl.abort();
    await other.done;
    const released = await readLease(name);
    assert.equal(released.spec?.holderIdentity, '');
    assert.equal(released.spec?.leaseDurationSeconds, 1);
  });

  for (const mode of ['throw', 'hang'] as const) {
    test(`lost connectivity (${mode}): the leader stops (signal aborted) before the other acquires`, async (t) => {
      const name = leaseName();
      const cut = cuttable(mode);
      const a = replica('replica-a', name, { wrap: cut.wrap });
      assert.ok(await waitFor(() => a.elector.isLeader(), 5_000));
      const b = replica('replica-b', name);
      await sleep(1_500);
      assert.equal(a.elector.isLeader(), true);
      const cutAt = now();
      cut.state.cut = true;
      let both = 0;
      const took = await waitFor(
        () => {
          if (a.elector.isLeader() && b.elector.isLeader()) both++;
          return b.elector.isLeader();
        },
        15_000,
        5,
      );
      assert.ok(took !== undefined, 'b took over');
      const lastRenew = a.elector.lastRenewAt()!;
      const aborted = a.abortedAt[0]!;
      const bStarted = b.startedAt[0]!;
      t.diagnostic(
        `a aborted ${Math.round(aborted - lastRenew)} ms after its last renewal (${Math.round(aborted - cutAt)} ms after the cut); ` +
          `b took over ${Math.round(bStarted - cutAt)} ms after the cut, ${Math.round(bStarted - aborted)} ms after a stopped`,
      );
      assert.equal(both, 0, 'never two leaders at once');
      assert.ok(aborted < bStarted, 'a stopped leading before b started');
      assert.ok(aborted - lastRenew <= TIMINGS.renewDeadlineMs + 100, 'a gave up at its renew deadline');
      assert.ok(aborted < lastRenew + TIMINGS.leaseDurationMs, 'a gave up before its lease could expire');
      assert.ok(a.abortedAt[0]! <= a.stoppedAt[0]!, 'abort before onStoppedLeading');
      assert.equal(a.elector.canActAsLeader(), false);
      assert.equal((await readLease(name)).spec?.leaseTransitions, 1);
    });
  }

  test('crash (no release): the other acquires once the lease expires', async (t) => {
    const name = leaseName();
    const a = replica('replica-a', name, { releaseOnCancel: false });
    assert.ok(await waitFor(() => a.elector.isLeader(), 5_000));
    const b = replica('replica-b', name);
    await sleep(1_500);
    const crashAt = now();
    a.ctl.abort(); // stops renewing and does not release: as seen from the Lease, a crash
    await a.done;
    assert.equal((await readLease(name)).spec?.holderIdentity, 'replica-a');
    const took = await waitFor(() => b.elector.isLeader(), 15_000, 5);
    assert.ok(took !== undefined);
    const takeover = b.startedAt[0]! - crashAt;
    t.diagnostic(`takeover ${Math.round(takeover)} ms after the crash (lease ${TIMINGS.leaseDurationMs} ms)`);
    // b's expiry clock starts when it saw a's last renewal: between (crash − retry) and (crash + b's retry wait).
    assert.ok(takeover >= TIMINGS.leaseDurationMs - TIMINGS.retryPeriodMs - 100, `takeover ${takeover} ms`);
    assert.ok(takeover <= TIMINGS.leaseDurationMs + 2 * 2.2 * TIMINGS.retryPeriodMs + 500, `takeover ${takeover} ms`);
  });

  test('LeaseLock: after a failed request (no HTTP status) the next one works on a new connection', async () => {
    // A request aborted by the caller counts as a network failure: the lock drops its connection and the next
    // request must open a new one.
    const name = leaseName();
    const lock = new LeaseLock({
      kubeConfig: kubeConfig(),
      namespace: NAMESPACE,
      name,
      identity: 'x',
      requestTimeoutMs: 1_000,
    });
    await assert.rejects(lock.get(AbortSignal.abort()), (err: Error & { apiStatus?: number }) => {
      assert.equal(err.apiStatus, undefined);
      return true;
    });
    assert.equal(await lock.get(AbortSignal.timeout(5_000)), undefined);
    await lock.close();
  });
});
