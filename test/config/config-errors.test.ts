/**
 * Configuration mistakes that used to be accepted silently, end to end: the same Ingester name in two files, webhook
 * paths the host serves itself or that cannot be reached, integer variables in hex or exponent form, an ack wait of
 * 0 with `retry`, a bad ZEN_TRUSTED_PROXY_CIDRS, and a missing plugin directory. Each is refused (validate exit 1,
 * CLI exit 2) or reported (rejected and counted, a warning, a `plugins list` row).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  cleanup,
  post,
  REPO,
  runCli,
  startTestHost,
  tempDir,
  webhookIngester,
  writeConfigDir,
} from '../support/host.ts';

const tmp = tempDir('zw-config-errors-');
after(() => cleanup(tmp));

describe('Ingester files', () => {
  const dir = writeConfigDir(
    {
      'a.yaml': webhookIngester('generic-webhook', '/ingest/a'),
      'b.yaml': webhookIngester('generic-webhook', '/ingest/b'),
      'health.yaml': webhookIngester('health', '/healthz'),
      'dots.yaml': webhookIngester('dots', '/ingest/../metrics'),
      'slash.yaml': webhookIngester('slash', '/ingest/slash/'),
    },
    join(tmp, 'config'),
  );

  test('validate: a second definition of namespace/name is a Conflict; exit 1', async () => {
    const r = await runCli(['validate', join(dir, 'a.yaml'), join(dir, 'b.yaml')]);
    assert.equal(r.code, 1, r.stdout);
    // Printed at b.yaml naming a.yaml once the callers pass the origins to resolveConflicts; at either before.
    assert.match(
      r.stdout,
      /yaml: metadata\.name: Ingester default\/generic-webhook is (defined more than once|already defined in \S*a\.yaml)/,
    );
    assert.equal((await runCli(['validate', join(dir, 'a.yaml')])).code, 0);
  });

  test('validate: reserved and unreachable webhook paths are refused; exit 1', async () => {
    const r = await runCli(['validate', ...['health', 'dots', 'slash'].map((f) => join(dir, `${f}.yaml`))]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /health\.yaml: spec\.webhook\.path: '\/healthz' is reserved for the host's \/healthz/);
    assert.match(r.stdout, /dots\.yaml: spec\.webhook\.path: must not contain '\.\.' segments/);
    assert.match(r.stdout, /slash\.yaml: spec\.webhook\.path: must not end with '\/'/);
  });

  test('run: the duplicate and the bad paths are rejected and counted; the first definition serves', async () => {
    const h = await startTestHost({ configDir: dir, dataDir: join(tmp, 'data') });
    try {
      const rejected = h.host.ingesters.rejected();
      assert.deepEqual(rejected.map((r) => `${r.reason} ${r.errors[0]!.path}`).sort(), [
        'Conflict metadata.name',
        'InvalidConfig spec.webhook.path',
        'InvalidConfig spec.webhook.path',
        'InvalidConfig spec.webhook.path',
      ]);
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      assert.match(
        metrics,
        /zen_watcher_ingesters_config_errors_total\{source="generic-webhook",error_type="Conflict"\} 1/,
      );
      const body = '{"severity":"low","title":"x"}';
      assert.notEqual((await post(`${h.url}/ingest/a`, body)).status, 404, 'the first definition (a.yaml) serves');
      assert.equal((await post(`${h.url}/ingest/b`, body)).status, 404, 'the duplicate (b.yaml) does not');
    } finally {
      await h.stop();
    }
  });
});

describe('environment variables', () => {
  const run = (env: Record<string, string>) =>
    runStopped({ ZEN_MODE: 'standalone', PORT: '0', ZEN_DATA_DIR: join(tmp, 'run-data'), ...env });

  test('hex, binary and exponent integers stop the CLI with exit 2, naming the variable', async () => {
    for (const [name, value] of [
      ['PORT', '0x10'],
      ['PORT', '1e3'],
      ['ZEN_MAX_BODY_BYTES', '0b1'],
    ] as const) {
      const r = await run({ [name]: value });
      assert.equal(r.code, 2, `${name}=${value}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^zen-watcher: ${name}: must be an integer in`));
    }
  });

  test('ZEN_WEBHOOK_ACK_WAIT_MS=0 with retry, and a bad ZEN_TRUSTED_PROXY_CIDRS, are exit 2', async () => {
    const ack = await run({ ZEN_WEBHOOK_ACK_WAIT_MS: '0' });
    assert.equal(ack.code, 2, ack.stderr);
    assert.match(ack.stderr, /ZEN_WEBHOOK_ACK_WAIT_MS: 0 needs ZEN_WEBHOOK_ACK_PENDING=accept/);
    const cidrs = await run({ ZEN_TRUSTED_PROXY_CIDRS: '10.0.0.0/8,not-an-ip' });
    assert.equal(cidrs.code, 2, cidrs.stderr);
    assert.match(cidrs.stderr, /ZEN_TRUSTED_PROXY_CIDRS: 'not-an-ip' is not an IP address or CIDR/);
  });

  test('plugins list shows a ZEN_PLUGIN_DIRS entry that does not exist', async () => {
    const missing = join(tmp, 'no-such-plugins');
    const r = await runCli(['plugins', 'list', '-o', 'json'], { ZEN_PLUGIN_DIRS: missing });
    assert.equal(r.code, 0, r.stderr);
    const row = (JSON.parse(r.stdout) as { directory: string; status: string; reason: string }[]).find(
      (p) => p.directory === missing,
    );
    assert.equal(row?.status, 'failed');
    assert.match(row.reason, /^does not exist/);
  });
});

/** `zen-watcher run`, stopped after 5 s if it started anyway (a value accepted by mistake): code null then. */
function runStopped(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO, 'core/cli/main.ts'), 'run'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
