/**
 * ShardCoordinator against the real kube-apiserver (test/support/control-plane.ts): when a crashed member's share
 * moves. A "ghost" replica is played with LeaseLocks written by the test, so each of its Leases can be renewed or
 * left alone on purpose; the coordinator under test is the real one (the suite's timings: lease 4 s, retry 1 s).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { controlPlaneOrSkip } from '../../test/support/control-plane.ts';
import { LeaseLock } from '../leader/lease-lock.ts';
import type { LeaderRecord } from '../leader/lock.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { ShardCoordinator } from './coordinator.ts';
import { assignSlots, memberLeaseName, slotLeaseName } from './slots.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'default';
const SLOTS = 4;
const T = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 };

const record = (holder: string): LeaderRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: T.leaseDurationMs / 1000,
  acquireTime: Date.now(),
  renewTime: Date.now(),
  leaderTransitions: 0,
});

async function waitFor<V>(what: string, fn: () => V | undefined, ms = 30_000): Promise<V> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = fn();
    if (v !== undefined) return v;
    await sleep(20);
  }
  throw new Error(`timed out: ${what}`);
}

describe('ShardCoordinator: a crashed member’s share', { skip }, () => {
  test('moves when its first slot Lease expires, not when its member Lease (renewed later) does, and stays moved', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp!.kubeconfigPath);
    const electionId = `zw-coord-${randomBytes(3).toString('hex')}`;
    const lock = (name: string) =>
      new LeaseLock({ kubeConfig: kc, namespace: NS, name, identity: 'ghost', requestTimeoutMs: 2_000 });
    const ghostSlots = [...assignSlots(['ghost', 'me'], SLOTS)].filter(([, id]) => id === 'ghost').map(([s]) => s);
    assert.ok(ghostSlots.length > 0 && ghostSlots.length < SLOTS, 'the ghost has a share of a two-member split');
    const signal = AbortSignal.timeout(120_000);
    const member = lock(memberLeaseName(electionId, 'ghost'));
    const slotLocks = ghostSlots.map((s) => lock(slotLeaseName(electionId, s)));

    const acquiredAt = new Map<number, number>();
    const events: string[] = [];
    const me = new ShardCoordinator({
      kubeConfig: kc,
      namespace: NS,
      electionId,
      identity: 'me',
      slots: SLOTS,
      ...T,
      log: createLogger({ level: process.env.ZEN_TEST_LOG ?? 'silent' }),
      metrics: createMetrics(),
      listener: {
        acquired: (s) => {
          acquiredAt.set(s, Date.now());
          events.push(`+${s}`);
        },
        released: (s) => {
          events.push(`-${s}`);
        },
      },
    });
    try {
      // The ghost holds its share; then it "crashes" in two steps, as a process whose timers are out of phase:
      // its slot Leases are last written now, its member Lease three retry periods later.
      await member.create(record('ghost'), signal);
      for (const l of slotLocks) await l.create(record('ghost'), signal);
      me.start();
      await waitFor('me holding its own share', () => (events.length === SLOTS - ghostSlots.length ? true : undefined));
      let memberLastWrite = 0;
      for (let i = 0; i < 3; i++) {
        await sleep(T.retryPeriodMs);
        await member.update(record('ghost'), signal);
        memberLastWrite = Date.now();
      }
      await waitFor('the ghost’s slots taken over', () =>
        ghostSlots.every((s) => acquiredAt.has(s)) ? true : undefined,
      );
      const memberExpiry = memberLastWrite + T.leaseDurationMs;
      for (const s of ghostSlots) {
        assert.ok(
          acquiredAt.get(s)! < memberExpiry,
          `slot ${s} taken ${memberExpiry - acquiredAt.get(s)!} ms before the ghost's member Lease expired`,
        );
      }
      assert.deepEqual(me.members(), ['me']);
      // Past the member Lease's expiry too: nothing flapped back.
      await sleep(Math.max(0, memberExpiry + T.retryPeriodMs - Date.now()));
      assert.deepEqual(me.owned(), [0, 1, 2, 3]);
      assert.deepEqual(
        events.filter((e) => e.startsWith('-')),
        [],
        `no slot released (events ${events.join(' ')})`,
      );
    } finally {
      await me.stop();
      for (const l of [member, ...slotLocks]) await l.close();
    }
  });
});
