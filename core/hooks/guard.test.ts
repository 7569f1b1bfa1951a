import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZwError } from '../api/index.ts';
import { createPluginHooks } from './facade.ts';
import { installGuard, type TapFailure } from './guard.ts';
import { createHostHooks } from './host-hooks.ts';

function setup() {
  const hooks = createHostHooks();
  const failures: TapFailure[] = [];
  const observed: string[] = [];
  const opts = (hook: 'onStart' | 'onWebhook' | 'onObservation', kind: 'isolate' | 'bail' | 'waterfall') => ({
    hook,
    kind,
    deadlineMs: () => 50,
    observe: (p: string, h: string) => observed.push(`${p}/${h}`),
    onFailure: (f: TapFailure) => failures.push(f),
  });
  installGuard(hooks.onStart as never, opts('onStart', 'isolate'));
  installGuard(hooks.onObservation as never, opts('onObservation', 'waterfall'));
  hooks.onWebhook.intercept({
    factory: (_k, h) => {
      installGuard(h as never, opts('onWebhook', 'bail'));
      return h;
    },
  });
  return { hooks, failures, observed };
}

test('a throwing or hanging tap fails only its own plugin; the others still run', async () => {
  const { hooks, failures, observed } = setup();
  const ran: string[] = [];
  for (const [name, fn] of [
    [
      'bad',
      async () => {
        throw new Error('boom');
      },
    ],
    ['slow', () => new Promise<void>(() => {})],
    [
      'good',
      async () => {
        ran.push('good');
      },
    ],
  ] as const) {
    const h = createPluginHooks(hooks, name, []);
    h.hooks.onStart.tapPromise(fn as () => Promise<void>);
    h.commit();
  }
  await hooks.onStart.promise({ mode: 'standalone', replicaId: 'r' });
  assert.deepEqual(ran, ['good']);
  assert.deepEqual(
    failures.map((f) => `${f.plugin}:${f.kind}`),
    ['bad:error', 'slow:timeout'],
  );
  assert.deepEqual(observed.sort(), ['bad/onStart', 'good/onStart', 'slow/onStart']);
});

test('waterfall: a failing enrichment passes the draft on unchanged', async () => {
  const { hooks } = setup();
  const a = createPluginHooks(hooks, 'a', []);
  a.hooks.onObservation.tapPromise(async () => {
    throw new Error('x');
  });
  a.commit();
  const b = createPluginHooks(hooks, 'b', []);
  b.hooks.onObservation.tapPromise(async (d) => ({ ...d, labels: { team: 'b' } }));
  b.commit();
  const out = await hooks.onObservation.promise({ severity: 'high', title: 't' }, { ingester: {} as never });
  assert.deepEqual(out, { severity: 'high', title: 't', labels: { team: 'b' } });
});

test('bail: typed payload errors pass through; other errors become a 500 that hides the message', async () => {
  const { hooks } = setup();
  const p = createPluginHooks(hooks, 'p', ['typed', 'untyped']);
  p.hooks.onWebhook.for('typed').tapPromise(async () => {
    throw new ZwError('ZW_ERR_PAYLOAD_INVALID', 'bad field', { field: 'a.b' });
  });
  p.hooks.onWebhook.for('untyped').tapPromise(async () => {
    throw new Error('secret internals');
  });
  p.commit();
  await assert.rejects(
    hooks.onWebhook.get('typed')!.promise({} as never),
    (e: ZwError) => e.status === 422 && e.field === 'a.b',
  );
  await assert.rejects(
    hooks.onWebhook.get('untyped')!.promise({} as never),
    (e: ZwError) => e.status === 500 && !e.message.includes('secret'),
  );
});

test('a plugin may tap onWebhook only for its own sources; taps wait for commit', async () => {
  const { hooks } = setup();
  const p = createPluginHooks(hooks, 'p', ['mine']);
  assert.throws(() => p.hooks.onWebhook.for('theirs'), /manifest declares sources \[mine\]/);
  p.hooks.onStart.tapPromise(async () => {});
  assert.equal(hooks.onStart.taps.length > 0, false);
  p.discard();
  p.commit();
  assert.equal(hooks.onStart.taps.length > 0, false, 'discarded taps never apply');
});

test('onIngesterChanged reaches only the plugin serving that Ingester', async () => {
  const { hooks } = setup();
  const seen: string[] = [];
  for (const [name, handler] of [
    ['a', 'ha'],
    ['b', 'hb'],
  ] as const) {
    const h = createPluginHooks(hooks, name, [handler]);
    h.hooks.onIngesterChanged.tapPromise(async (c) => {
      seen.push(`${name}:${c.ingester.name}`);
    });
    h.commit();
  }
  await hooks.onIngesterChanged.promise({ type: 'added', ingester: { handler: 'hb', name: 'i' } as never });
  assert.deepEqual(seen, ['b:i']);
});

test('a disabled plugin is not called: its webhook is 503 ZW_ERR_PLUGIN_DISABLED with Retry-After, other hooks skip it', async () => {
  const hooks = createHostHooks();
  const failures: TapFailure[] = [];
  const calls: string[] = [];
  const opts = (hook: 'onWebhook' | 'onObservation', kind: 'bail' | 'waterfall') => ({
    hook,
    kind,
    deadlineMs: () => 50,
    observe: () => {},
    onFailure: (f: TapFailure) => failures.push(f),
    disabled: (plugin: string) => (plugin === 'off' ? 'disabled after 5 faults (last: secret internals)' : undefined),
  });
  installGuard(hooks.onObservation as never, opts('onObservation', 'waterfall'));
  hooks.onWebhook.intercept({
    factory: (_k, h) => {
      installGuard(h as never, opts('onWebhook', 'bail'));
      return h;
    },
  });
  const p = createPluginHooks(hooks, 'off', ['src']);
  p.hooks.onWebhook.for('src').tapPromise(async () => {
    calls.push('onWebhook');
    return [];
  });
  p.hooks.onObservation.tapPromise(async (d) => {
    calls.push('onObservation');
    return { ...d, title: 'changed' };
  });
  p.commit();
  await assert.rejects(hooks.onWebhook.get('src')!.promise({} as never), (e: ZwError) => {
    assert.ok(e instanceof ZwError);
    assert.equal(e.code, 'ZW_ERR_PLUGIN_DISABLED');
    assert.equal(e.status, 503);
    assert.equal(e.retryAfterSeconds, 60, 'Retry-After: a retry succeeds only on another replica or after a restart');
    assert.match(e.message, /^plugin 'off' is disabled: .*until zen-watcher restarts/);
    assert.ok(!e.message.includes('secret'), "the plugin's fault messages stay in the log");
    return true;
  });
  const draft = { severity: 'high', title: 't' } as const;
  assert.equal(await hooks.onObservation.promise(draft, { ingester: {} as never }), draft);
  assert.deepEqual(calls, []);
  assert.deepEqual(failures, [], 'not called, so not counted again');
});
