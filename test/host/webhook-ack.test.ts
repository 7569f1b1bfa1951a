/**
 * Writes still going when the ack wait (ZEN_WEBHOOK_ACK_WAIT_MS) passes (ADR 0005, issue #14 item 1: a 2xx means
 * stored). A real host and a real sqlite store whose writes are held back by a gate:
 *
 * - default (`ZEN_WEBHOOK_ACK_PENDING=retry`): 503 ZW_ERR_WRITE_PENDING + Retry-After, nothing acknowledged; the
 *   write goes on, and the sender's retry is a 200 duplicate of the same, single Observation once it is stored;
 * - `ZEN_WEBHOOK_ACK_PENDING=accept` (senders that never retry): 202 queued, as before;
 * - a write refused after its request was answered is counted once: refused after a 503, dropped after a 202.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EnvError, readEnv } from '../../core/config/env.ts';
import { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import { type ObservationSink, SinkWriteError } from '../../core/sinks/types.ts';
import {
  cleanup,
  post,
  startTestHost,
  type TestHost,
  tempDir,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';
import { waitFor } from '../support/wait.ts';

const EVENT = '{"severity":"high","title":"slow write","message":"m"}';

/** A real store whose writes wait for `open()`; with `fail`, they are refused (store_full) instead once open. */
function gatedStore(opts: { fail?: boolean } = {}) {
  const dir = tempDir('zw-ack-store-');
  const store = new SqliteStore(dir, { checkpointWorker: false });
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let writes = 0;
  const sink: ObservationSink = {
    kind: 'sqlite',
    async write(obs, previous, options) {
      writes++;
      await gate;
      if (opts.fail) throw new SinkWriteError('database or disk is full', { retryable: false, reason: 'store_full' });
      return store.write(obs, previous, options);
    },
    addOccurrences: (d) => store.addOccurrences(d),
    ready: () => store.ready(),
    close: () => store.close(),
  };
  return { sink, store, open, dir, writes: () => writes };
}

async function withHost(
  env: Record<string, string>,
  sink: ObservationSink,
  fn: (h: TestHost) => Promise<void>,
): Promise<void> {
  const configDir = writeConfigDir({ 'a.yaml': webhookIngester('slow', '/ingest/slow') });
  const h = await startTestHost({ configDir, sink, env: { ZEN_WEBHOOK_ACK_WAIT_MS: '100', ...env } });
  try {
    await fn(h);
  } finally {
    await h.stop();
    cleanup(configDir, h.dataDir);
  }
}

const metric = async (h: TestHost, re: RegExp) => {
  const m = re.exec(await (await fetch(`${h.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
};

describe('webhook writes still going after the ack wait', () => {
  test('default: 503 ZW_ERR_WRITE_PENDING + Retry-After; the retry is a 200 duplicate of the one stored Observation', async () => {
    const g = gatedStore();
    try {
      await withHost({}, g.sink, async (h) => {
        const first = await post(`${h.url}/ingest/slow`, EVENT);
        assert.equal(first.status, 503, first.text);
        assert.equal(first.json?.error, 'ZW_ERR_WRITE_PENDING');
        assert.match(String(first.json?.reason), /retrying is safe/);
        assert.equal(first.headers.get('retry-after'), '1');

        // A retry while the first write is still pending waits for it; it is not acknowledged either.
        const early = await post(`${h.url}/ingest/slow`, EVENT);
        assert.equal(early.status, 503, early.text);
        assert.equal(early.json?.error, 'ZW_ERR_WRITE_PENDING');
        assert.equal(g.writes(), 1, 'the retry joined the pending write instead of starting a second one');

        g.open();
        await waitFor('the pending write stored', async () => g.store.count() === 1);
        const retry = await post(`${h.url}/ingest/slow`, EVENT);
        assert.equal(retry.status, 200, retry.text);
        assert.equal(retry.json?.created, 0);
        assert.equal(retry.json?.duplicates, 1);

        const stored = g.store.list();
        assert.equal(stored.length, 1, 'exactly one Observation for the event and its two retries');
        assert.equal(stored[0]!.spec.title, 'slow write');
        assert.equal(g.writes(), 1);
        assert.equal(await metric(h, /zen_watcher_webhook_ack_pending_total\{endpoint="slow",answer="503"\} (\d+)/), 2);
        assert.equal(await metric(h, /zen_watcher_observations_created_total\{source="slow"\} (\d+)/), 1);
        assert.equal(await metric(h, /zen_watcher_webhook_requests_total\{endpoint="slow",status="202"\} (\d+)/), 0);
      });
    } finally {
      g.open();
      cleanup(g.dir);
    }
  });

  test('ZEN_WEBHOOK_ACK_PENDING=accept: 202 queued, and the write still lands', async () => {
    const g = gatedStore();
    try {
      await withHost({ ZEN_WEBHOOK_ACK_PENDING: 'accept' }, g.sink, async (h) => {
        const first = await post(`${h.url}/ingest/slow`, EVENT);
        assert.equal(first.status, 202, first.text);
        assert.deepEqual(first.json, { status: 'queued', accepted: 1 });
        assert.equal(await metric(h, /zen_watcher_webhook_ack_pending_total\{endpoint="slow",answer="202"\} (\d+)/), 1);
        g.open();
        await waitFor('the queued write stored', async () => g.store.count() === 1);
      });
    } finally {
      g.open();
      cleanup(g.dir);
    }
  });

  for (const [mode, counted, notCounted] of [
    ['retry', 'refused', 'dropped'],
    ['accept', 'dropped', 'refused'],
  ] as const) {
    test(`a write refused after the answer (${mode}) is counted once, as ${counted}`, async () => {
      const g = gatedStore({ fail: true });
      try {
        await withHost({ ZEN_WEBHOOK_ACK_PENDING: mode }, g.sink, async (h) => {
          const first = await post(`${h.url}/ingest/slow`, EVENT);
          assert.equal(first.status, mode === 'retry' ? 503 : 202, first.text);
          g.open();
          const re = (what: string) =>
            new RegExp(`zen_watcher_observations_${what}_total\\{source="slow",reason="store_full"\\} (\\d+)`);
          await waitFor(`the late refusal counted as ${counted}`, async () => (await metric(h, re(counted))) === 1);
          assert.equal(await metric(h, re(notCounted)), 0, `also counted as ${notCounted}`);
        });
      } finally {
        g.open();
        cleanup(g.dir);
      }
    });
  }

  test('ZEN_WEBHOOK_ACK_PENDING accepts retry or accept only', () => {
    assert.equal(readEnv({}).ackPending, 'retry');
    assert.equal(readEnv({ ZEN_WEBHOOK_ACK_PENDING: 'Accept' }).ackPending, 'accept');
    assert.throws(
      () => readEnv({ ZEN_WEBHOOK_ACK_PENDING: 'queue' }),
      (e) => {
        assert.ok(e instanceof EnvError);
        assert.match(e.message, /ZEN_WEBHOOK_ACK_PENDING.*retry.*accept/);
        return true;
      },
    );
  });
});
