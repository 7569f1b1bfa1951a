/**
 * Webhook delivery when one replica's write is stuck (it lost its API connection): two gaps the HA suite found,
 * now closed in core (docs/HIGH_AVAILABILITY.md):
 *
 * 1. A 2xx must mean "safe" (DESIGN §8), also for a client that resends to the same replica (a Service may route
 *    the retry to the same pod; the kube-apiserver's audit backend and Falco retry the same URL). The replica's
 *    in-memory dedup holds the finding while its write is pending, so the resend waits for that write
 *    (core/pipeline/pipeline.ts #pending) instead of being answered 200 {duplicates: n} at once.
 * 2. With a dedup window, the Observation name carries the window bucket. The bucket comes from the event's time
 *    (detectedAt), not the receipt time, so a retry on another replica in the next bucket derives the same name,
 *    and the stuck write that lands later is a 409, not a second Observation.
 * 3. A write still going when ZEN_WEBHOOK_ACK_WAIT_MS passes is answered 503 ZW_ERR_WRITE_PENDING + Retry-After (it
 *    was 202, an acknowledgement held only in memory; ADR 0005): the retry, on the same replica once the write
 *    landed or on another replica at once, is a 200 and there is one Observation (the late write is a 409).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeApi } from '../../core/kube/api.ts';
import { adminKubeApi, controlPlaneOrSkip, ensureNamespaces } from '../support/control-plane.ts';
import { realFixturesDir } from '../support/fixtures.ts';
import { cleanup, tempDir } from '../support/host.ts';
import { ingesterObject, WebhookPayloads } from './support/load.ts';
import { type Replica, ReplicaSet } from './support/replicas.ts';
import { waitFor } from './support/stats.ts';

const { cp, skip } = await controlPlaneOrSkip();
after(async () => cp?.stop());

const NS = 'zen-system';
const OBS = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' };
const ING = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' };
const WINDOW_MS = 2000;

describe('webhook delivery while a replica write is stuck', {
  skip: skip ?? (realFixturesDir() ? undefined : 'no real fixture corpus (ZEN_REAL_FIXTURES)'),
}, () => {
  let api: KubeApi;
  let set: ReplicaSet;
  let work: string;
  let payloads: WebhookPayloads;

  before(async () => {
    api = adminKubeApi(cp!);
    work = tempDir('zw-ack-');
    set = new ReplicaSet(cp!, work, { POD_NAMESPACE: NS, ZEN_DATA_DIR: join(work, 'data') });
    payloads = new WebhookPayloads(realFixturesDir()!, 'ack-load');
    await ensureNamespaces(api, NS, 'ack-load');
    for (const [name, window] of [
      ['falco', '0s'],
      ['falco-windowed', `${WINDOW_MS / 1000}s`],
    ] as const) {
      const spec = { source: name, plugin: 'falco', ingester: 'webhook', webhook: { path: `/ingest/${name}` } };
      await api.create({
        ...ING,
        namespace: NS,
        body: ingesterObject({ name, namespace: NS, spec: { ...spec, deduplication: { window } } }),
      });
    }
  });
  after(async () => {
    await set?.close();
    await api?.close();
    cleanup(work);
  });

  const start = async (slot: string, env: Record<string, string> = {}) => {
    const r = await set.start(slot, env);
    for (const path of ['/ingest/falco', '/ingest/falco-windowed']) {
      await waitFor(`${r.identity} serves ${path}`, async () => {
        const res = await fetch(`${r.url}${path}`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
        });
        return res.status !== 404;
      });
    }
    return r;
  };
  const post = (r: Replica, path: string, body: string, timeoutMs: number) =>
    fetch(`${r.url}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  const stored = async (source: string) =>
    (
      await waitFor('a list of Observations', () =>
        api.list<{ spec: { source: string } }>({ ...OBS, namespace: 'ack-load' }),
      )
    ).items.filter((o) => o.spec.source === source).length;

  test('a resend while the first write is stuck is not acknowledged; nothing answered 2xx is lost', async () => {
    const r = await start('w1');
    const e = payloads.next('falco');
    r.proxy.cut();
    await assert.rejects(post(r, '/ingest/falco', e.body, 1000), 'the first POST times out: its write is stuck');
    const resend = await post(r, '/ingest/falco', e.body, 1000).catch(() => undefined);
    await set.signal(r, 'SIGKILL');
    r.proxy.restore();
    await sleep(500);
    // The write could not land (the connection was cut until the process died), so no answer may have been 2xx.
    assert.equal(await stored('falco'), 0, 'nothing reached the API server');
    assert.ok(
      resend === undefined || resend.status < 200 || resend.status >= 300,
      `the resend was answered ${resend?.status} ${await resend?.text()} although its event was never stored`,
    );
  });

  test('a retry on another replica in the next dedup window gives one Observation, not two', async () => {
    const [x, y] = [await start('x1'), await start('y1')];
    const e = payloads.next('falco');
    x.proxy.cut();
    await assert.rejects(
      post(x, '/ingest/falco-windowed', e.body, 1000),
      'the POST to x times out: its write is stuck',
    );
    // Retry on y once the next window bucket has begun.
    await sleep(WINDOW_MS - (Date.now() % WINDOW_MS) + 100);
    const retry = await post(y, '/ingest/falco-windowed', e.body, 5000);
    assert.equal(retry.status, 200, await retry.text());
    x.proxy.restore();
    // x's write retries with backoff; give it time to land.
    await sleep(15_000);
    assert.equal(await stored('falco-windowed'), 1, 'one event, one Observation');
  });

  test('a write past the ack wait is a 503 + Retry-After, not a 202; the retry is a 200, one Observation', async () => {
    const ackWait = { ZEN_WEBHOOK_ACK_WAIT_MS: '500' };
    const [x, y] = [await start('p1', ackWait), await start('q1', ackWait)];
    const metric = async (r: Replica, re: RegExp) =>
      Number(re.exec(await (await fetch(`${r.url}/metrics`)).text())?.[1] ?? 0);
    const storeDuplicates = /zen_watcher_observations_deduped_total\{source="falco",layer="store"\} (\d+)/;

    // Same replica: 503 while the write is stuck, 200 duplicate once it landed.
    const a = payloads.next('falco');
    const before = await stored('falco');
    x.proxy.cut();
    const first = await post(x, '/ingest/falco', a.body, 10_000);
    assert.equal(first.status, 503, await first.clone().text());
    assert.equal(((await first.json()) as { error: string }).error, 'ZW_ERR_WRITE_PENDING');
    assert.equal(first.headers.get('retry-after'), '1');
    x.proxy.restore();
    await waitFor('x stored the pending write', async () => (await stored('falco')) === before + 1, 60_000);
    const again = await post(x, '/ingest/falco', a.body, 10_000);
    assert.equal(again.status, 200, await again.clone().text());
    assert.equal(((await again.json()) as { created: number }).created, 0, 'the retry is a duplicate');

    // Another replica: the retry there is a 200 at once; x's write that lands later is a 409 (a store duplicate).
    const b = payloads.next('falco');
    x.proxy.cut();
    const onX = await post(x, '/ingest/falco', b.body, 10_000);
    assert.equal(onX.status, 503, await onX.clone().text());
    const onY = await post(y, '/ingest/falco', b.body, 10_000);
    assert.equal(onY.status, 200, await onY.clone().text());
    assert.equal(((await onY.json()) as { created: number }).created, 1);
    const duplicatesBefore = await metric(x, storeDuplicates);
    x.proxy.restore();
    await waitFor(
      "x's late write found the Observation y stored (409)",
      async () => (await metric(x, storeDuplicates)) > duplicatesBefore,
      60_000,
    );
    assert.equal(await stored('falco'), before + 2, 'two events, two Observations');
    assert.equal(await metric(x, /zen_watcher_webhook_ack_pending_total\{endpoint="falco",answer="503"\} (\d+)/), 2);
    assert.equal(await metric(x, /zen_watcher_webhook_requests_total\{endpoint="falco",status="202"\} (\d+)/), 0);
  });
});
