/**
 * Delivery to Destinations in standalone mode, with real hosts and a real HTTP receiver: CloudEvents format and
 * signature, per-use filters, a receiver that is down and comes back, kill -9 mid-send (at-least-once across a
 * crash, resends counted), the backlog bound with a receiver that answers 500 forever while another destination
 * is unaffected, a destination plugin that hangs or throws (only its own Destinations wait), and credentials
 * rotated without a restart.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  cleanup,
  post,
  REPO,
  runCli,
  startHostProcess,
  startTestHost,
  tempDir,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';
import { Receiver } from '../support/receiver.ts';
import { waitFor } from '../support/wait.ts';

function destination(name: string, url: string, extra = ''): string {
  return `apiVersion: zen.kube-zen.io/v1alpha1
kind: Destination
metadata: { name: ${name}, namespace: default }
spec:
  type: cloudevents
  url: ${url}
${extra}`;
}

function secretDir(values: Record<string, string>): string {
  const dir = tempDir('zw-secret-');
  for (const [k, v] of Object.entries(values)) writeFileSync(join(dir, k), `${v}\n`);
  return dir;
}

async function metric(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}

const until = (fn: () => unknown, what: string, ms = 30_000) =>
  waitFor(what, async () => ((await fn()) ? true : undefined), ms);

let seq = 0;
const event = (severity: string, title = `finding ${++seq}`) => JSON.stringify({ severity, title, message: 'm' });

describe('standalone delivery to a cloudevents Destination', () => {
  test('matching Observations arrive as signed CloudEvents with custom headers; filters apply per use', async () => {
    const rx = await new Receiver({ secrets: () => ['s3cret'] }).start();
    const secrets = secretDir({ 'hmac-secret': 's3cret' });
    const config = writeConfigDir({
      'dest.yaml': destination(
        'audit-sink',
        `${rx.url}/events`,
        `  secretDir: ${secrets}\n  headers: { X-Team: platform }\n  config: { source: /test-cluster }\n`,
      ),
      'ing.yaml': webhookIngester(
        'scanner',
        '/ingest/scanner',
        '  destinations:\n    - { type: destination, name: audit-sink, minSeverity: high }\n',
      ),
    });
    const h = await startTestHost({ configDir: config });
    try {
      for (const s of ['critical', 'high', 'low', 'info', 'high']) {
        const r = await post(`${h.url}/ingest/scanner`, event(s));
        assert.equal(r.status, 200, r.text);
      }
      await until(() => rx.accepted.size === 3, 'three matching Observations delivered');
      for (const r of rx.requests) {
        assert.equal(r.signatureOk, true, 'signed with the secret from secretDir');
        assert.equal(r.path, '/events');
        assert.equal(r.headers['x-team'], 'platform');
        assert.match(String(r.headers['content-type']), /^application\/cloudevents\+json/);
        const ce = r.json as Record<string, unknown>;
        assert.equal(ce.specversion, '1.0');
        assert.equal(ce.source, '/test-cluster');
        assert.equal(ce.type, 'io.kube-zen.observation.firing');
        assert.equal(ce.id, r.headers['idempotency-key']);
        assert.match(String(ce.subject), /^default\/scanner-[0-9a-f]{16}$/);
        assert.ok(['critical', 'high'].includes(String(ce.severity)));
        assert.equal((ce.data as { spec: { source: string } }).spec.source, 'scanner');
      }
      assert.equal(rx.duplicates(), 0);
      const delivered = await metric(
        h.url,
        /zen_watcher_destination_delivered_total\{destination="default\/audit-sink",type="cloudevents"\} (\d+)/,
      );
      assert.equal(delivered, 3);
      await until(
        async () =>
          (await metric(h.url, /zen_watcher_destination_backlog\{destination="default\/audit-sink"[^}]*\} (\d+)/)) ===
          0,
        'backlog back to 0',
      );
    } finally {
      await h.stop();
      await rx.close();
      cleanup(config, secrets, h.dataDir);
    }
  });

  test('a receiver that is down: Observations written meanwhile arrive when it is back, retries counted', async () => {
    const rx = await new Receiver().start();
    rx.failWith = 503;
    const config = writeConfigDir({
      'dest.yaml': destination('flaky', rx.url, '  delivery: { minBackoff: 50ms, maxBackoff: 200ms }\n'),
      'ing.yaml': webhookIngester(
        'tool',
        '/ingest/tool',
        '  destinations:\n    - { type: destination, name: flaky }\n',
      ),
    });
    const h = await startTestHost({ configDir: config });
    try {
      for (let i = 0; i < 10; i++) assert.equal((await post(`${h.url}/ingest/tool`, event('medium'))).status, 200);
      await until(() => rx.requests.length >= 3, 'several failed tries');
      await rx.close();
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 5; i++) assert.equal((await post(`${h.url}/ingest/tool`, event('medium'))).status, 200);
      const backlog = await metric(h.url, /zen_watcher_destination_backlog\{destination="default\/flaky"[^}]*\} (\d+)/);
      assert.ok(backlog > 0, `backlog measured while down (${backlog})`);
      rx.failWith = undefined;
      await rx.start();
      await until(() => rx.accepted.size === 15, 'all 15 delivered once the receiver is back');
      assert.equal(rx.duplicates(), 0, 'a known failure (503, refused) is not a duplicate');
      const retries = await metric(
        h.url,
        /zen_watcher_destination_retries_total\{destination="default\/flaky",type="cloudevents",reason="http_5xx"\} (\d+)/,
      );
      assert.ok(retries >= 3, `retries counted (${retries})`);
    } finally {
      await h.stop();
      await rx.close();
      cleanup(config, h.dataDir);
    }
  });

  test('kill -9 during a send: after the restart every Observation arrives, duplicates only for that send', async () => {
    const rx = await new Receiver().start();
    const dataDir = tempDir('zw-data-');
    const config = writeConfigDir({
      'dest.yaml': destination('crashy', rx.url, '  delivery: { batchSize: 5, timeout: 30s }\n'),
      'ing.yaml': webhookIngester(
        'tool',
        '/ingest/tool',
        '  destinations:\n    - { type: destination, name: crashy }\n',
      ),
    });
    const env = { ZEN_DATA_DIR: dataDir, ZEN_CONFIG_DIR: config };
    let p = await startHostProcess(env);
    try {
      for (let i = 0; i < 5; i++) assert.equal((await post(`${p.url}/ingest/tool`, event('high'))).status, 200);
      await until(() => rx.accepted.size === 5, 'first five delivered');
      // The next send is taken in but never answered: its outcome is unknown to the sender when it dies.
      rx.hang = true;
      rx.acceptBeforeHang = true;
      for (let i = 0; i < 12; i++) assert.equal((await post(`${p.url}/ingest/tool`, event('high'))).status, 200);
      await until(() => rx.requests.length > 5, 'a send under way');
      p.child.kill('SIGKILL');
      await new Promise((r) => p.child.once('exit', r));
      const inFlight = rx.requests.length - 5; // received but never answered
      rx.hang = false;
      await rx.close();
      await rx.start();

      p = await startHostProcess(env);
      await until(() => rx.accepted.size === 17, 'all 17 delivered after the restart');
      const resent = await metric(
        p.url,
        /zen_watcher_destination_resent_total\{destination="default\/crashy",type="cloudevents"\} (\d+)/,
      );
      // The hung send was cut at the kill: only the items of that batch are sent again, and counted.
      assert.ok(resent >= 1 && resent <= 5, `resent counted: ${resent}`);
      assert.equal(rx.duplicates(), inFlight, 'the only duplicates are the requests whose answer was lost');
      assert.ok(rx.duplicates() <= resent, 'every duplicate was counted as a resend');
      process.stdout.write(
        `# kill -9 mid-send: 17 written, ${rx.accepted.size} distinct delivered, 0 missing, ${rx.duplicates()} duplicate(s) (answer lost at the kill), ${resent} resent (counted)\n`,
      );
    } finally {
      await p.stop();
      await rx.close();
      cleanup(config, dataDir);
    }
  });

  test('a destination answering 500 forever stays within its backlog bound; another destination gets everything', async () => {
    const dead = await new Receiver().start();
    dead.failWith = 500;
    const good = await new Receiver().start();
    const config = writeConfigDir({
      'dead.yaml': destination(
        'dead',
        dead.url,
        '  delivery: { maxBacklog: 5, minBackoff: 20ms, maxBackoff: 100ms }\n',
      ),
      'good.yaml': destination('good', good.url),
      'ing.yaml': webhookIngester(
        'tool',
        '/ingest/tool',
        '  destinations:\n    - { type: destination, name: dead }\n    - { type: destination, name: good }\n',
      ),
    });
    const h = await startTestHost({ configDir: config });
    try {
      for (let i = 0; i < 40; i++) assert.equal((await post(`${h.url}/ingest/tool`, event('high'))).status, 200);
      await until(() => good.accepted.size === 40, 'the healthy destination got all 40');
      await until(
        async () =>
          (await metric(h.url, /zen_watcher_destination_dropped_total\{destination="default\/dead"[^}]*\} (\d+)/)) >=
          35,
        'the oldest beyond the bound are dropped and counted',
      );
      const backlog = await metric(h.url, /zen_watcher_destination_backlog\{destination="default\/dead"[^}]*\} (\d+)/);
      assert.ok(backlog <= 5, `backlog within its bound: ${backlog}`);
      assert.equal(dead.accepted.size, 0);
    } finally {
      await h.stop();
      await dead.close();
      await good.close();
      cleanup(config, h.dataDir);
    }
  });

  test('a webhook finding resolved and re-opened: each phase change is delivered once, with its own key', async () => {
    const rx = await new Receiver().start();
    const config = writeConfigDir({
      'dest.yaml': destination('phases', rx.url),
      'ing.yaml': `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: am, namespace: default }
spec:
  source: am
  plugin: webhook
  ingester: webhook
  webhook: { path: /ingest/am }
  deduplication: { window: 0s }
  destinations:
    - { type: destination, name: phases }
  config:
    itemsField: alerts
    fields: { severity: labels.severity, title: annotations.summary, fingerprint: fingerprint, detectedAt: startsAt }
    resolution: { field: status, values: [resolved], resolvedAtField: endsAt }
`,
    });
    const h = await startTestHost({ configDir: config, env: { ZEN_OCCURRENCE_FLUSH_SECONDS: '1' } });
    const alert = (status: string, startsAt: string, endsAt = '0001-01-01T00:00:00Z') =>
      JSON.stringify({
        alerts: [
          {
            status,
            fingerprint: 'f00d',
            startsAt,
            endsAt,
            labels: { severity: 'high' },
            annotations: { summary: 'disk full' },
          },
        ],
      });
    const types = () =>
      rx.requests.map((r) =>
        String((r.json as { type: string }).type)
          .split('.')
          .at(-1),
      );
    try {
      const t0 = Date.now() - 60_000;
      const iso = (ms: number) => new Date(ms).toISOString();
      assert.equal((await post(`${h.url}/ingest/am`, alert('firing', iso(t0)))).status, 200);
      await until(() => rx.accepted.size === 1, 'the firing delivered');
      assert.equal((await post(`${h.url}/ingest/am`, alert('resolved', iso(t0), iso(t0 + 10_000)))).status, 200);
      await until(() => rx.accepted.size === 2, 'the resolution delivered');
      const resolved = rx.requests[1]!.json as { type: string; data: { phase: string; resolvedAt: string } };
      assert.equal(resolved.data.phase, 'Resolved');
      assert.equal(resolved.data.resolvedAt, iso(t0 + 10_000));
      // Fires again later: re-opened (at the occurrence flush), delivered as a new firing.
      assert.equal((await post(`${h.url}/ingest/am`, alert('firing', iso(t0 + 20_000)))).status, 200);
      await until(() => rx.accepted.size === 3, 'the re-opening delivered');
      assert.deepEqual(types(), ['firing', 'resolved', 'firing']);
      const subjects = new Set(rx.requests.map((r) => (r.json as { subject: string }).subject));
      assert.equal(subjects.size, 1, 'all three are about the same Observation');
      assert.equal(rx.duplicates(), 0);
      // A repeat while firing changes no phase: nothing more is sent.
      assert.equal((await post(`${h.url}/ingest/am`, alert('firing', iso(t0 + 20_000)))).status, 200);
      const delivered = /zen_watcher_destination_delivered_total\{destination="default\/phases"[^}]*\} (\d+)/;
      await until(
        async () =>
          (await metric(h.url, /zen_watcher_destination_backlog\{destination="default\/phases"[^}]*\} (\d+)/)) === 0,
        'settled',
      );
      assert.equal(await metric(h.url, delivered), 3);
    } finally {
      await h.stop();
      await rx.close();
      cleanup(config, h.dataDir);
    }
  });

  test('a destination plugin that hangs or throws: only its own Destinations wait; ingestion and the others go on', async () => {
    const good = await new Receiver().start();
    const plugins = tempDir('zw-plugins-');
    cpSync(join(REPO, 'test/fixtures/plugins/faulty-destination'), join(plugins, 'faulty-destination'), {
      recursive: true,
    });
    const quick = '  delivery: { timeout: 1s, minBackoff: 100ms, maxBackoff: 500ms }\n';
    const config = writeConfigDir({
      'hung.yaml': destination('hung', 'http://127.0.0.1:9/unused', quick).replace('type: cloudevents', 'type: hangs'),
      'thrower.yaml': destination('thrower', 'http://127.0.0.1:9/unused', quick).replace(
        'type: cloudevents',
        'type: throws',
      ),
      'good.yaml': destination('good', good.url),
      'ing.yaml': webhookIngester(
        'tool',
        '/ingest/tool',
        '  destinations:\n    - { type: destination, name: hung }\n    - { type: destination, name: thrower }\n    - { type: destination, name: good }\n',
      ),
    });
    const dataDir = tempDir('zw-data-');
    const p = await startHostProcess({ ZEN_PLUGIN_DIRS: plugins, ZEN_CONFIG_DIR: config, ZEN_DATA_DIR: dataDir });
    const series = (name: string, dest: string, extra = '') =>
      new RegExp(`zen_watcher_${name}\\{destination="default/${dest}",type="[a-z]+"${extra}[^}]*\\} (\\d+)`);
    try {
      for (let i = 0; i < 20; i++) assert.equal((await post(`${p.url}/ingest/tool`, event('high'))).status, 200);
      await until(() => good.accepted.size === 20, 'the healthy destination got all 20');
      await until(
        async () => (await metric(p.url, series('destination_retries_total', 'thrower', ',reason="plugin"'))) >= 2,
        'the throwing plugin is retried with backoff (reason plugin)',
      );
      await until(
        async () => (await metric(p.url, series('destination_retries_total', 'hung'))) >= 1,
        'the hanging send is abandoned after its timeout (+5 s) and retried',
      );
      for (const dest of ['hung', 'thrower'])
        await until(
          async () => (await metric(p.url, series('destination_backlog', dest))) === 20,
          `${dest}: its backlog holds all 20`,
        );
      assert.ok(
        (await metric(
          p.url,
          /zen_watcher_plugin_hook_errors_total\{plugin="zen-plugin-faulty-destination",hook="onDeliver"[^}]*\} (\d+)/,
        )) >= 1,
        "the plugin's failures are attributed to it",
      );
      // Still serving and delivering after all that.
      for (let i = 0; i < 5; i++) assert.equal((await post(`${p.url}/ingest/tool`, event('high'))).status, 200);
      await until(() => good.accepted.size === 25, 'the healthy destination got the next 5 too');
      assert.equal(good.duplicates(), 0);
      assert.equal(p.child.exitCode, null, 'the host is still running');
    } finally {
      await p.stop();
      await good.close();
      cleanup(config, plugins, dataDir);
    }
  });

  test('rotating the secret file applies to the next send without a restart', async () => {
    let current = ['old-secret'];
    const rx = await new Receiver({ secrets: () => current }).start();
    const secrets = secretDir({ 'hmac-secret': 'old-secret' });
    const config = writeConfigDir({
      'dest.yaml': destination('signed', rx.url, `  secretDir: ${secrets}\n`),
      'ing.yaml': webhookIngester(
        'tool',
        '/ingest/tool',
        '  destinations:\n    - { type: destination, name: signed }\n',
      ),
    });
    const h = await startTestHost({ configDir: config });
    try {
      assert.equal((await post(`${h.url}/ingest/tool`, event('high'))).status, 200);
      await until(() => rx.accepted.size === 1, 'first delivered with the old secret');
      current = ['new-secret'];
      mkdirSync(secrets, { recursive: true });
      writeFileSync(join(secrets, 'hmac-secret'), 'new-secret\n');
      assert.equal((await post(`${h.url}/ingest/tool`, event('high'))).status, 200);
      await until(() => rx.accepted.size === 2, 'second delivered with the new secret');
      assert.equal(rx.requests.at(-1)!.signatureOk, true);
    } finally {
      await h.stop();
      await rx.close();
      cleanup(config, secrets, h.dataDir);
    }
  });
});

describe('zen-watcher validate with Destinations', () => {
  test('Destination errors name the field; an Ingester naming an undefined Destination is reported', async () => {
    const dir = writeConfigDir({
      'bad.yaml': `apiVersion: zen.kube-zen.io/v1alpha1
kind: Destination
metadata: { name: bad }
spec:
  type: cloudevents
  url: mailto:x
  delivery: { batchSize: 0, minBackoff: 10m, maxBackoff: 1m }
  config: { typePrefix: UPPER }
---
apiVersion: zen.kube-zen.io/v1alpha1
kind: Destination
metadata: { name: nobody }
spec: { type: no-such-type, url: "http://x" }
---
apiVersion: zen.kube-zen.io/v1alpha1
kind: Destination
metadata: { name: ok }
spec: { type: cloudevents, url: "https://x.example" }
`,
      'ing.yaml': webhookIngester(
        'tool',
        '/ingest/tool',
        '  destinations:\n    - { type: destination, name: missing }\n    - { type: crd, name: ok, minSeverity: high }\n',
      ),
    });
    try {
      const r = await runCli(['validate', join(dir, 'bad.yaml'), join(dir, 'ing.yaml')]);
      assert.equal(r.code, 1);
      for (const want of [
        /bad\.yaml#0: spec\.url: must match pattern/,
        /bad\.yaml#0: spec\.delivery\.batchSize: must be >= 1/,
        /bad\.yaml#0: spec\.config\.typePrefix: must match pattern/,
        /bad\.yaml#1: spec\.type: no loaded plugin provides destination type 'no-such-type' \(available: .*cloudevents/,
        /ing\.yaml: spec\.destinations\[1\]\.name: is only for type destination/,
        /ing\.yaml: spec\.destinations\[1\]\.minSeverity: is only for type destination/,
      ])
        assert.match(r.stdout, want);
      const ok = await runCli(['validate', join(dir, 'ing.yaml')]);
      assert.match(ok.stdout, /spec\.destinations\[1\]/);
      const fixed = writeConfigDir({
        'd.yaml': destination('missing', 'http://127.0.0.1:1/x'),
        'i.yaml': webhookIngester(
          'tool',
          '/ingest/tool',
          '  destinations:\n    - { type: destination, name: missing }\n',
        ),
      });
      const good = await runCli(['validate', join(fixed, 'd.yaml'), join(fixed, 'i.yaml')]);
      assert.equal(good.code, 0, good.stdout);
      assert.match(good.stdout, /1 Ingester document\(s\) and 1 Destination document\(s\) valid/);
      const dangling = writeConfigDir({
        'd.yaml': destination('other', 'http://127.0.0.1:1/x'),
        'i.yaml': webhookIngester(
          'tool',
          '/ingest/tool',
          '  destinations:\n    - { type: destination, name: missing }\n',
        ),
      });
      const bad = await runCli(['validate', join(dangling, 'd.yaml'), join(dangling, 'i.yaml')]);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /i\.yaml: spec\.destinations\[0\]\.name: Destination default\/missing is not defined/);
      cleanup(fixed, dangling);
    } finally {
      cleanup(dir);
    }
  });
});
