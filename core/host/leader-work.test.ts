// Over 250 lines on purpose: one test per contract bullet of leader-work.ts (start, update, removal, term end, retry, whenServed).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from '../../test/support/wait.ts';
import type {
  IngesterChange,
  IngesterRun,
  IngesterView,
  LeaderTerm,
  ObservationDraft,
  PluginApi,
  PluginLogger,
  ReconcileResult,
} from '../api/index.ts';
import { registerLeaderWork } from './leader-work.ts';

const view = (name: string, extra: Partial<IngesterView> = {}): IngesterView =>
  ({
    namespace: 'zen',
    name,
    source: 'trivy',
    handler: 'trivy',
    ingester: 'informer',
    config: {},
    ...extra,
  }) as IngesterView;

const ok: ReconcileResult = {
  created: 0,
  duplicates: 0,
  filtered: 0,
  dropped: 0,
  missing: 0,
  resolved: 0,
  reactivated: 0,
};

function harness(o: { served?: () => boolean | Promise<boolean> } = {}) {
  const taps: Record<string, (arg: never) => Promise<unknown>> = {};
  const tappable = (name: string) => ({
    tapPromise: (fn: (arg: never) => Promise<unknown>) => {
      taps[name] = fn;
    },
  });
  const lines: string[] = [];
  const log: PluginLogger = {
    debug: () => {},
    info: () => {},
    warn: (m) => void lines.push(`warn ${m}`),
    error: (m) => void lines.push(`error ${m}`),
    child: () => log,
  };
  const state = {
    ingesters: [view('a'), view('b'), view('w', { ingester: 'webhook' })],
    drop: 0,
    fail: 0,
    hold: undefined as Promise<void> | undefined,
  };
  const calls: { scope: string; n: number }[] = [];
  const live: string[][] = [];
  const api = {
    hooks: {
      onBecomeLeader: tappable('onBecomeLeader'),
      onIngesterChanged: tappable('onIngesterChanged'),
      onStop: tappable('onStop'),
    } as unknown as PluginApi['hooks'],
    ingesters: () => state.ingesters,
    reconcile: async (_i: IngesterView, scope: string, drafts: ObservationDraft[]) => {
      calls.push({ scope, n: drafts.length });
      if (state.hold) await state.hold;
      if (state.fail > 0) {
        state.fail--;
        throw new Error('API down');
      }
      if (state.drop > 0) {
        state.drop--;
        return { ...ok, dropped: 1 };
      }
      return ok;
    },
    reconcileScopes: async (_i: IngesterView, scopes: readonly string[]) => {
      if (state.fail > 0) {
        state.fail--;
        throw new Error('API down');
      }
      live.push([...scopes]);
    },
    kube: {
      hasResource: async () => (o.served ? o.served() : true),
      informer: async () => {},
      watchNamespaces: [],
    },
  } as unknown as PluginApi;
  const counts = { runs: 0, dropped: 0, failed: 0, startErrors: 0 };
  const metrics = {
    runs: (_p: string, d: number) => {
      counts.runs += d;
    },
    retry: (_p: string, r: 'dropped' | 'failed') => void counts[r]++,
    startError: () => void counts.startErrors++,
  };
  const runs: { ingester: IngesterView; run: IngesterRun }[] = [] as { ingester: IngesterView; run: IngesterRun }[];
  let throwOn: string | undefined;
  registerLeaderWork(
    'trivy',
    ['trivy'],
    api,
    log,
    metrics,
    {
      start(ingester, run) {
        if (ingester.name === throwOn) throw new Error('boom');
        runs.push({ ingester, run });
      },
    },
    { retryInitialMs: 10, retryMaxMs: 40, recheckMs: 10 },
  );
  let ctl = new AbortController();
  const lead = async () => {
    ctl = new AbortController();
    const term: LeaderTerm = { signal: ctl.signal, identity: 'me', startedAt: 0 };
    await taps.onBecomeLeader!(term as never);
    return term;
  };
  const change = (c: IngesterChange) => taps.onIngesterChanged!(c as never);
  return {
    state,
    calls,
    live,
    counts,
    runs,
    lines,
    lead,
    change,
    endTerm: () => ctl.abort(),
    throwOn: (n: string) => {
      throwOn = n;
    },
    active: () => runs.filter((r) => !r.run.signal.aborted).map((r) => r.ingester.name),
  };
}

describe('api.leaderWork (host-managed per-Ingester leader work)', () => {
  test('starts a run per matching Ingester on election; update restarts, removal stops, term end stops all', async () => {
    const h = harness();
    await h.change({ type: 'added', ingester: view('c') });
    assert.equal(h.runs.length, 0, 'nothing runs before this replica leads');
    await h.lead();
    assert.deepEqual(h.active(), ['a', 'b'], 'informer Ingesters of its handler only (not the webhook one)');
    assert.equal(h.counts.runs, 2);

    const old = h.runs.find((r) => r.ingester.name === 'a')!.run;
    await h.change({ type: 'updated', ingester: view('a', { config: { x: 1 } }), previous: view('a') });
    assert.ok(old.signal.aborted, 'the old run of an updated Ingester is aborted');
    assert.deepEqual(h.active().sort(), ['a', 'b']);
    assert.deepEqual(h.runs.at(-1)!.ingester.config, { x: 1 }, 'the new run has the new spec');

    await h.change({ type: 'removed', ingester: view('b') });
    assert.deepEqual(h.active(), ['a']);
    await h.change({ type: 'added', ingester: view('c') });
    assert.deepEqual(h.active(), ['a', 'c']);
    await h.change({ type: 'added', ingester: view('other', { handler: 'kyverno' }) });
    assert.deepEqual(h.active(), ['a', 'c'], "another handler's Ingester is not this work's");

    h.endTerm();
    assert.deepEqual(h.active(), [], 'the term ended: every run aborted');
    assert.equal(h.counts.runs, 0);
    await h.change({ type: 'added', ingester: view('d') });
    assert.deepEqual(h.active(), [], 'no run starts between terms');
  });

  test('a scope whose write was dropped is retried by the host with the latest drafts, until it succeeds', async () => {
    const h = harness();
    await h.lead();
    const { run } = h.runs[0]!;
    const d = (n: number) => Array.from({ length: n }, (_, i) => ({ fingerprint: String(i) }) as ObservationDraft);
    h.state.drop = 2;
    assert.equal(await run.reconcile('s1', d(3)), false, 'dropped: left to the retry');
    assert.equal(h.counts.dropped, 1);
    assert.equal(await run.reconcile('s1', d(5)), false, 'newer drafts replace the pending ones');
    await waitFor('the host retries the scope', () => h.calls.length >= 3);
    assert.deepEqual(
      h.calls.map((c) => c.n),
      [3, 5, 5],
      'the retry sends the latest drafts',
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.calls.length, 3, 'succeeded: no further retry');
    assert.ok(h.lines.some((l) => l.includes('the host retries it')));

    h.state.fail = 1;
    assert.equal(await run.reconcileScopes(['s1']), false);
    await waitFor('reconcileScopes retried', () => h.live.length === 1);
    assert.deepEqual(h.live, [['s1']]);
    assert.equal(h.counts.failed, 1);

    h.state.drop = 100;
    assert.equal(await run.reconcile('s2', d(1)), false);
    h.endTerm();
    const n = h.calls.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.calls.length, n, 'the retry stops with the run');
    assert.equal(await run.reconcile('s2', d(1)), false, 'an ended run writes nothing');
  });

  test('a retry that comes due while the plugin reconciles the scope again never sends the older drafts after it', async () => {
    const h = harness();
    await h.lead();
    const { run } = h.runs[0]!;
    const d = (n: number) => Array.from({ length: n }, (_, i) => ({ fingerprint: String(i) }) as ObservationDraft);
    h.state.drop = 1;
    assert.equal(await run.reconcile('s', d(1)), false, 'dropped: a retry is due in 10 ms');
    let release!: () => void;
    h.state.hold = new Promise<void>((r) => {
      release = r;
    });
    const newer = run.reconcile('s', d(2)); // in flight while the retry comes due
    await new Promise((r) => setTimeout(r, 60));
    h.state.hold = undefined;
    release();
    assert.equal(await newer, true);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(
      h.calls.map((c) => c.n),
      [1, 2],
      'the stale drafts (1) are not sent after the newer ones (2)',
    );
  });

  test('whenServed: re-checks until served, reports state changes once; false once the run ends', async () => {
    let answers: (boolean | Error)[] = [false, false, new Error('discovery down'), true];
    const h = harness({
      served: () => {
        const a = answers.shift() ?? false;
        if (a instanceof Error) throw a;
        return a;
      },
    });
    await h.lead();
    const { run } = h.runs[0]!;
    const states: string[] = [];
    assert.equal(await run.whenServed('g', 'v1', 'r', { onUnavailable: (s) => void states.push(s) }), true);
    assert.deepEqual(states, ['absent', 'unknown'], 'once per state change, not per check');
    answers = [];
    const pending = run.whenServed('g', 'v1', 'r');
    h.endTerm();
    assert.equal(await pending, false);
  });

  test('a start that throws is counted and logged; the other runs go on', async () => {
    const h = harness();
    h.throwOn('a');
    await h.lead();
    assert.deepEqual(h.active(), ['b']);
    assert.equal(h.counts.startErrors, 1);
    assert.ok(h.lines.some((l) => l.startsWith('error leader work failed to start')));
  });

  test('bad declarations are refused at register time', () => {
    const api = { hooks: {} } as unknown as PluginApi;
    const log = {} as PluginLogger;
    const m = { runs() {}, retry() {}, startError() {} };
    assert.throws(() => registerLeaderWork('p', ['p'], api, log, m, {} as never), /needs \{ start/);
    assert.throws(
      () => registerLeaderWork('p', ['p'], api, log, m, { handler: 'q', start() {} }),
      /handler 'q' is not in its manifest's sources \[p\]/,
    );
  });
});
