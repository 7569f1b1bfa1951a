/**
 * Issue #14 item 10 in kubernetes mode, on the real control plane: `npm start` leads, SIGTERM goes to the npm
 * process (as a process manager sends it), and the server hands the Lease over (releases it) before it exits,
 * instead of being orphaned and leading on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeApi } from '../../core/kube/api.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { cleanup, tempDir } from '../support/host.ts';
import { expectGracefulStop, killAll, type NpmRun, startThroughNpm } from '../support/npm.ts';
import { waitFor } from '../support/wait.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-npm';
const LEASE = 'npm-start-test';
const LEASES = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };
let api: KubeApi;

describe('npm start in kubernetes mode', { skip }, () => {
  before(async () => {
    api = adminKubeApi(cp!);
    await ensureNamespaces(api, NS);
  });
  after(async () => api?.close());

  test('SIGTERM to npm releases the Lease before the server exits', async () => {
    const dataDir = tempDir('zw-unused-');
    let run: NpmRun | undefined;
    const holder = async () =>
      (await api.get<{ spec: { holderIdentity?: string } }>({ ...LEASES, namespace: NS, name: LEASE })).spec
        .holderIdentity ?? '';
    try {
      run = await startThroughNpm(['start'], dataDir, {
        ZEN_MODE: 'kubernetes',
        KUBECONFIG: cp!.kubeconfigPath,
        POD_NAMESPACE: NS,
        POD_NAME: 'npm-replica',
        ZEN_LEADER_ELECTION_ID: LEASE,
        // A long Lease: only a release (not an expiry) can empty the holder within this test.
        ZEN_LEASE_DURATION_SECONDS: '60',
        ZEN_RENEW_DEADLINE_SECONDS: '40',
        ZEN_RETRY_PERIOD_SECONDS: '2',
      });
      await waitFor('npm-replica leads', async () => (await holder()) === 'npm-replica', 60_000);
      run.npm.kill('SIGTERM');
      await expectGracefulStop(run, 'SIGTERM to npm');
      assert.equal(await holder(), '', 'the Lease was released (handed over), not left to expire');
      assert.match(run.stderr(), /"msg":"leader term ended: leader-only work stopped"/);
    } finally {
      killAll(run);
      cleanup(dataDir);
    }
  });
});
