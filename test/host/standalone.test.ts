/**
 * Issue acceptance, with real processes: the CLI as `npm start` runs it, the default standalone config, the
 * store surviving a restart, external plugin directories, and `validate` / `plugins list`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HOST_API_VERSION } from '../../core/api/index.ts';
import { SqliteStore } from '../../core/sinks/sqlite-store.ts';
import {
  cleanup,
  post,
  REPO,
  runCli,
  startHostProcess,
  tempDir,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';
import { storeObservation } from '../support/observations.ts';

describe('standalone mode with the default configuration', () => {
  test('a POST becomes one Observation; the same POST again, also after a restart, is a counted duplicate', async () => {
    const dataDir = tempDir('zw-data-');
    const env = { ZEN_DATA_DIR: dataDir };
    const body = '{"severity":"high","title":"t","message":"m"}';
    let p = await startHostProcess(env);
    try {
      assert.match(p.stderr(), /starting in standalone mode/);
      const r1 = await post(`${p.url}/ingest/webhook`, body);
      assert.ok(r1.status >= 200 && r1.status < 300, `status ${r1.status}`);
      const r2 = await post(`${p.url}/ingest/webhook`, body);
      assert.equal(r2.json?.duplicates, 1);
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      assert.match(metrics, /zen_watcher_observations_deduped_total\{source="webhook",layer="memory"\} 1/);
      assert.equal(await p.stop(), 0, 'graceful exit on SIGTERM');

      p = await startHostProcess(env);
      const r3 = await post(`${p.url}/ingest/webhook`, body);
      assert.equal(r3.json?.duplicates, 1, 'still a duplicate after the restart');
      const metrics2 = await (await fetch(`${p.url}/metrics`)).text();
      assert.match(metrics2, /zen_watcher_observations_deduped_total\{source="webhook",layer="store"\} 1/);
      // The repeat is counted when the process stops (before the occurrence flush interval): 3 occurrences in all.
      assert.equal(await p.stop(), 0);

      const list = await runCli(['observations', 'list', '-o', 'json'], env);
      assert.equal(list.code, 0, list.stderr);
      const obs = JSON.parse(list.stdout) as {
        spec: { severity: string; title: string; message: string; source: string };
        status?: { count?: number; lastSeen?: string };
      }[];
      assert.equal(obs.length, 1);
      assert.equal(obs[0]!.status?.count, 3, 'the first POST, its repeat, and the repeat after the restart');
      assert.ok(obs[0]!.status?.lastSeen);
      assert.deepEqual(
        [obs[0]!.spec.severity, obs[0]!.spec.title, obs[0]!.spec.message, obs[0]!.spec.source],
        ['high', 't', 'm', 'webhook'],
      );
      const table = await runCli(['observations', 'list', '--severity', 'high'], env);
      assert.match(table.stdout, /NAMESPACE\s+NAME\s+SOURCE/);
      assert.match(table.stdout, /webhook-[0-9a-f]{16}\s+webhook\s+high/);
    } finally {
      await p.stop();
      cleanup(dataDir);
    }
  });
});

describe('the CLI in a pipe', () => {
  test('observations list | head: a reader that closes the pipe early ends the output quietly, exit 0', async () => {
    const dataDir = tempDir('zw-data-');
    try {
      const store = new SqliteStore(dataDir, { writerWorker: false });
      for (let i = 0; i < 400; i++) store.writeSync(storeObservation(`obs-${i}`));
      await store.close();
      // More JSON than a pipe holds (64 KiB): the CLI is still writing when the reader goes away.
      const child = spawn(process.execPath, [join(REPO, 'core/cli/main.ts'), 'observations', 'list', '-o', 'json'], {
        env: { ...process.env, ZEN_DATA_DIR: dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.stdout.once('data', () => child.stdout.destroy());
      const [code] = (await once(child, 'close')) as [number | null];
      assert.equal(code, 0, stderr);
      assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
    } finally {
      cleanup(dataDir);
    }
  });
});

describe('CLI usage errors', () => {
  test('list commands refuse extra arguments and limits that are not plain whole numbers: exit 2, the usage format', async () => {
    const env = { ZEN_DATA_DIR: tempDir('zw-data-') };
    try {
      for (const args of [
        ['observations', 'list', 'critical'],
        ['plugins', 'list', 'extra'],
        ['observations', 'list', '--limit', '0x10'],
        ['observations', 'list', '--limit', '1e2'],
        ['observations', 'list', '--limit', ' 5'],
        ['observations', 'list', '--limit', '0'],
        ['observations', 'list', '-o', 'yaml'],
      ]) {
        const r = await runCli(args, env);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /^zen-watcher: .+\nRun 'zen-watcher --help' for usage\.\n$/, args.join(' '));
      }
      assert.equal((await runCli(['observations', 'list', '--limit', '5'], env)).code, 0);
    } finally {
      cleanup(env.ZEN_DATA_DIR);
    }
  });
});

describe('drop-in plugin directories', () => {
  test('an external plugin loads unchanged; incompatible and failing ones are listed and skipped', async () => {
    const outside = tempDir('zw-plugins-');
    for (const name of ['echo', 'needs-v2', 'throws-at-import', 'bad-manifest', 'bad-schema']) {
      cpSync(join(REPO, 'test/fixtures/plugins', name), join(outside, name), { recursive: true });
    }
    const configDir = writeConfigDir({
      'echo.yaml': `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: echo }
spec:
  source: echo
  ingester: webhook
  webhook: { path: /ingest/echo }
  config: { prefix: "said: " }
`,
      'webhook.yaml': webhookIngester('generic', '/ingest/generic'),
    });
    const dataDir = tempDir('zw-data-');
    const env = { ZEN_PLUGIN_DIRS: outside, ZEN_CONFIG_DIR: configDir, ZEN_DATA_DIR: dataDir };
    try {
      const listed = await runCli(['plugins', 'list', '-o', 'json'], env);
      assert.equal(listed.code, 0, listed.stderr);
      const byName = Object.fromEntries(
        (JSON.parse(listed.stdout) as { name: string; status: string; reason: string; version: string }[]).map((r) => [
          r.name,
          r,
        ]),
      );
      assert.equal(byName['zen-plugin-echo']?.status, 'loaded');
      assert.equal(byName['zen-plugin-echo']?.version, '0.3.1');
      assert.equal(byName.webhook?.status, 'loaded');
      assert.equal(byName['zen-plugin-future']?.status, 'incompatible');
      assert.match(
        byName['zen-plugin-future']!.reason,
        new RegExp(`needs host plugin API \\^2\\.0\\.0, this host provides ${HOST_API_VERSION.replaceAll('.', '\\.')}`),
      );
      assert.equal(byName['zen-plugin-broken']?.status, 'failed');
      assert.match(byName['zen-plugin-broken']!.reason, /BROKEN_PLUGIN_URL is not configured/);
      assert.equal(byName['zen-plugin-bad-manifest']?.status, 'failed');
      assert.match(byName['zen-plugin-bad-manifest']!.reason, /zenWatcher\.entry/);
      assert.match(byName['zen-plugin-bad-manifest']!.reason, /zenWatcher\.sources\[0\]/);
      assert.equal(byName['zen-plugin-bad-schema']?.status, 'failed');
      assert.match(byName['zen-plugin-bad-schema']!.reason, /configSchema schema\.json is not a valid JSON Schema/);

      const p = await startHostProcess(env);
      try {
        const r = await post(`${p.url}/ingest/echo`, '{"text":"hello"}');
        assert.equal(r.status, 200);
        assert.equal(r.json?.created, 1);
        assert.equal((await post(`${p.url}/ingest/echo`, '{"text":1}')).json?.field, 'text');
        assert.equal((await post(`${p.url}/ingest/generic`, '{"severity":"low","title":"still served"}')).status, 200);
        assert.match(p.stderr(), /plugin incompatible; skipped/);
        assert.match(p.stderr(), /plugin failed; skipped/);
      } finally {
        await p.stop();
      }
      const obs = JSON.parse(
        (await runCli(['observations', 'list', '--source', 'echo', '-o', 'json'], env)).stdout,
      ) as { spec: { title: string } }[];
      assert.deepEqual(
        obs.map((o) => o.spec.title),
        ['said: hello'],
      );
    } finally {
      cleanup(outside, configDir, dataDir);
    }
  });
});

describe('Ingester validation, offline and at startup', () => {
  const badEnum = `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: bad-enum }
spec:
  source: generic
  plugin: webhook
  ingester: webhook
  webhook: { path: /ingest/bad-enum }
  filters: { minSeverity: urgent }
`;
  const badConfigType = `apiVersion: zen.kube-zen.io/v1alpha1
kind: Ingester
metadata: { name: bad-config }
spec:
  source: generic
  plugin: webhook
  ingester: webhook
  webhook: { path: /ingest/bad-config }
  config: { maxItems: "many" }
`;
  test('validate prints file: field.path: reason for each error and exits 1; a clean file exits 0', async () => {
    const dir = writeConfigDir({
      'bad-enum.yaml': badEnum,
      'bad-config.yaml': badConfigType,
      'good.yaml': webhookIngester('good', '/ingest/good'),
    });
    try {
      const bad = await runCli(['validate', join(dir, 'bad-enum.yaml'), join(dir, 'bad-config.yaml')]);
      assert.equal(bad.code, 1);
      assert.match(
        bad.stdout,
        /bad-enum\.yaml: spec\.filters\.minSeverity: must be one of: critical, high, medium, low, info/,
      );
      assert.match(bad.stdout, /bad-config\.yaml: spec\.config\.maxItems: must be integer/);
      const good = await runCli(['validate', join(dir, 'good.yaml')]);
      assert.equal(good.code, 0, good.stdout);
      const samples = await runCli(['validate', ...['webhook.yaml'].map((f) => join(REPO, 'config/standalone', f))]);
      assert.equal(samples.code, 0, samples.stdout);
      assert.equal((await runCli(['validate'])).code, 2);
    } finally {
      cleanup(dir);
    }
  });
  test('at startup invalid Ingesters are reported and skipped; the rest run', async () => {
    const configDir = writeConfigDir({
      'bad-enum.yaml': badEnum,
      'bad-config.yaml': badConfigType,
      'good.yaml': webhookIngester('good', '/ingest/good'),
      'broken.yaml': 'spec: [unclosed',
    });
    const dataDir = tempDir('zw-data-');
    const p = await startHostProcess({ ZEN_CONFIG_DIR: configDir, ZEN_DATA_DIR: dataDir });
    try {
      assert.equal((await post(`${p.url}/ingest/good`, '{"severity":"low","title":"x"}')).status, 200);
      assert.equal((await post(`${p.url}/ingest/bad-enum`, '{"severity":"low","title":"x"}')).status, 404);
      const log = p.stderr();
      assert.match(log, /"ingester":"[^"]*bad-enum\.yaml".*spec\.filters\.minSeverity/);
      assert.match(log, /"ingester":"[^"]*bad-config\.yaml".*spec\.config\.maxItems/);
      assert.match(log, /broken\.yaml/);
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      assert.match(
        metrics,
        /zen_watcher_ingesters_config_errors_total\{source="generic",error_type="InvalidConfig"\} 2/,
      );
    } finally {
      await p.stop();
      cleanup(configDir, dataDir);
    }
  });
});
