/**
 * Acceptance: a new destination plugin, written the way docs/plugins/AUTHORING.md §15 says, outside the repo.
 * 1. `zen-watcher plugin new --kind destination` in a temp directory; its own tests pass with `npm test`, and it
 *    type-checks with `npm run typecheck`.
 * 2. It loads unchanged into a running standalone zen-watcher through ZEN_PLUGIN_DIRS and delivers the
 *    Observations routed to a Destination of its type to a real HTTP receiver, with the bearer token from the
 *    Destination's secretDir; `plugins list` shows it.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanup, post, runCli, startHostProcess, tempDir } from '../support/host.ts';
import { Receiver } from '../support/receiver.ts';
import { waitFor } from '../support/wait.ts';
import { scaffold, sh, show } from './author.ts';

const tmp = tempDir('zw-author-destination-');
after(() => cleanup(tmp));

describe('a destination plugin from the scaffold', () => {
  let dir = '';

  test('scaffolded outside the repo, its own tests pass and it type-checks', async () => {
    dir = await scaffold(tmp, 'acme-sink', 'destination');
    const t = await sh('npm test', dir);
    assert.equal(t.code, 0, show(t));
    assert.match(t.stdout, /ℹ fail 0/);
    assert.match(t.stdout, /a batch arrives as one JSON array/);
    const tc = await sh('npm run typecheck', dir);
    assert.equal(tc.code, 0, show(tc));
  });

  test('it loads through ZEN_PLUGIN_DIRS and delivers routed Observations to a real receiver', async (t) => {
    if (!dir) return t.skip('scaffold failed');
    const rx = await new Receiver({ keyOf: (r) => (r.json as { id: string }[]).map((e) => e.id) }).start();
    const configDir = join(tmp, 'config');
    mkdirSync(configDir);
    const secrets = join(tmp, 'secrets');
    mkdirSync(secrets);
    writeFileSync(join(secrets, 'token'), 'tok-1\n');
    // The example from the scaffold, pointed at the receiver and given credentials.
    const example = readFileSync(join(dir, 'config', 'destination.yaml'), 'utf8')
      .replace('http://127.0.0.1:9999/receive', `${rx.url}/receive`)
      .replace('  config: {}', `  secretDir: ${secrets}\n  config: {}`);
    writeFileSync(join(configDir, 'acme-sink.yaml'), example);
    const env = { ZEN_PLUGIN_DIRS: dir, ZEN_CONFIG_DIR: configDir, ZEN_DATA_DIR: join(tmp, 'data') };
    const host = await startHostProcess(env);
    try {
      for (const severity of ['high', 'low', 'critical']) {
        const r = await post(`${host.url}/ingest/demo`, JSON.stringify({ severity, title: `a ${severity} finding` }));
        assert.equal(r.status, 200, r.text);
      }
      await waitFor('two deliveries (minSeverity: medium)', () => (rx.accepted.size === 2 ? true : undefined));
      const events = rx.requests.flatMap((r) => r.json as { title: string; severity: string }[]);
      assert.deepEqual(events.map((e) => e.severity).sort(), ['critical', 'high']);
      assert.ok(rx.requests.every((r) => r.headers.authorization === 'Bearer tok-1'));
      assert.equal(rx.duplicates(), 0);
    } finally {
      await host.stop();
      await rx.close();
    }
    const listed = await runCli(['plugins', 'list', '-o', 'json'], env);
    const mine = (JSON.parse(listed.stdout) as { name: string; status: string }[]).find((p) => p.name === 'acme-sink');
    assert.equal(mine?.status, 'loaded');
    cpSync(join(dir, 'config', 'destination.yaml'), join(tmp, 'copy.yaml'));
    const v = await runCli(['validate', join(tmp, 'copy.yaml')], env);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
});
