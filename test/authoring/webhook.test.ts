/**
 * Acceptance: a new webhook plugin, written the way docs/plugins/AUTHORING.md says, outside the repo.
 * 1. `zen-watcher plugin new --kind webhook` in a temp directory; its own tests pass with `npm test`, and it
 *    type-checks with `npm run typecheck` (tsconfig paths to this checkout).
 * 2. It loads unchanged into a running standalone zen-watcher through ZEN_PLUGIN_DIRS (TypeScript, straight from
 *    its directory) and turns POSTs into Observations; bad payloads get 422 naming the field.
 * 3. The same plugin shipped as JavaScript inside node_modules (an npm install) loads too; shipped as TypeScript
 *    there it is refused with a reason that says why (Node does not strip types under node_modules).
 * 4. The external example examples/plugins/kube-bench loads the same way and turns a report into Observations.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanup, post, REPO, runCli, startHostProcess, tempDir } from '../support/host.ts';
import { editJson, readJson, scaffold, sh, show } from './author.ts';

const tmp = tempDir('zw-author-webhook-');
after(() => cleanup(tmp));

interface Listed {
  name: string;
  version: string;
  status: string;
  reason: string;
}

describe('a webhook plugin from the scaffold', () => {
  let dir = '';

  test('scaffolded outside the repo, its own tests pass and it type-checks', async () => {
    dir = await scaffold(tmp, 'acme-findings', 'webhook');
    const t = await sh('npm test', dir);
    assert.equal(t.code, 0, show(t));
    assert.match(t.stdout, /ℹ fail 0/);
    assert.match(t.stdout, /one finding becomes one Observation/);
    const tc = await sh('npm run typecheck', dir);
    assert.equal(tc.code, 0, show(tc));
  });

  test('it loads through ZEN_PLUGIN_DIRS (TypeScript and, in node_modules, JavaScript) and makes Observations', async (t) => {
    if (!dir) return t.skip('scaffold failed');
    // The npm-package shape: JavaScript under node_modules (types stripped, as a build step would).
    const app = join(tmp, 'app');
    const js = await scaffold(join(tmp), 'acme-findings-js', 'webhook');
    writeFileSync(
      join(js, 'index.js'),
      stripTypeScriptTypes(readFileSync(join(js, 'index.ts'), 'utf8'), { mode: 'strip' }),
    );
    rmSync(join(js, 'index.ts'));
    editJson(join(js, 'package.json'), (pkg) => {
      (pkg.zenWatcher as { entry: string }).entry = 'index.js';
    });
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    cpSync(js, join(app, 'node_modules', 'acme-findings-js'), { recursive: true });
    // ...and the mistake the guide warns about: TypeScript shipped inside node_modules.
    await scaffold(join(app, 'node_modules'), 'acme-findings-ts', 'webhook');

    const configDir = join(tmp, 'ingesters');
    mkdirSync(configDir);
    cpSync(join(dir, 'config', 'ingester.yaml'), join(configDir, 'acme-findings.yaml'));
    cpSync(join(js, 'config', 'ingester.yaml'), join(configDir, 'acme-findings-js.yaml'));
    // The external webhook example, also loaded only through ZEN_PLUGIN_DIRS.
    const kubeBench = join(REPO, 'examples/plugins/kube-bench');
    cpSync(join(kubeBench, 'config', 'ingester.yaml'), join(configDir, 'kube-bench.yaml'));
    const env = {
      ZEN_PLUGIN_DIRS: `${dir}:${join(app, 'node_modules')}:${kubeBench}`,
      ZEN_CONFIG_DIR: configDir,
      ZEN_DATA_DIR: join(tmp, 'data'),
    };

    const host = await startHostProcess(env);
    try {
      const finding = {
        id: 'F-1',
        severity: 'critical',
        title: 'Public bucket',
        resource: { kind: 'Pod', name: 'web-0' },
      };
      const ok = await post(`${host.url}/ingest/acme-findings`, JSON.stringify(finding));
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json?.created, 1);
      assert.match(String((ok.json?.names as string[] | undefined)?.[0]), /^acme-findings-[0-9a-f]{16}$/);
      const again = await post(`${host.url}/ingest/acme-findings`, JSON.stringify(finding));
      assert.equal(again.json?.duplicates, 1, again.text);

      const bad = await post(`${host.url}/ingest/acme-findings`, JSON.stringify([finding, { ...finding, title: '' }]));
      assert.equal(bad.status, 422, bad.text);
      assert.deepEqual([bad.json?.error, bad.json?.field], ['ZW_ERR_PAYLOAD_INVALID', '[1].title']);

      const viaJs = await post(
        `${host.url}/ingest/acme-findings-js`,
        '{"id":"J-1","severity":"low","title":"From JS"}',
      );
      assert.equal(viaJs.status, 200, viaJs.text);
      assert.equal(viaJs.json?.created, 1);

      const report = readFileSync(join(kubeBench, 'test/fixtures/report-node.json'));
      const bench = await post(`${host.url}/ingest/kube-bench`, report, {
        'content-type': 'application/json',
        'x-node-name': 'worker-1',
      });
      assert.equal(bench.status, 200, bench.text);
      assert.equal(bench.json?.created, 3);

      const metrics = (await (await fetch(`${host.url}/metrics`)).text())
        .split('\n')
        .filter((l) => l.startsWith('zen_watcher_plugin'))
        .join('\n');
      assert.match(metrics, /^zen_watcher_plugins\{plugin="acme-findings",version="0.1.0",status="loaded"\} 1$/m);
      assert.match(metrics, /^zen_watcher_plugins\{plugin="acme-findings-js",version="0.1.0",status="loaded"\} 1$/m);
      assert.match(metrics, /^zen_watcher_plugins\{plugin="acme-findings-ts",version="0.1.0",status="failed"\} 1$/m);
      // The plugin's own counter: prefixed, with its plugin label (2 findings accepted; the refused batch counts none).
      assert.match(metrics, /^zen_watcher_plugin_acme_findings_findings_total\{[^}]*plugin="acme-findings"[^}]*\} 2$/m);
    } finally {
      await host.stop();
    }

    const listed = await runCli(['plugins', 'list', '-o', 'json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const byName = new Map((JSON.parse(listed.stdout) as Listed[]).map((p) => [p.name, p]));
    assert.deepEqual([byName.get('acme-findings')?.status, byName.get('acme-findings')?.version], ['loaded', '0.1.0']);
    assert.equal(byName.get('acme-findings-js')?.status, 'loaded');
    assert.equal(byName.get('acme-findings-ts')?.status, 'failed');
    assert.match(byName.get('acme-findings-ts')?.reason ?? '', /importing index\.ts threw: .*node_modules/);

    const obs = await runCli(['observations', 'list', '-o', 'json'], env);
    const titles = (JSON.parse(obs.stdout) as { spec: { source: string; title: string; severity: string } }[])
      .map((o) => `${o.spec.source}: ${o.spec.severity} ${o.spec.title}`)
      .sort();
    assert.deepEqual(
      titles.filter((t) => !t.startsWith('kube-bench')),
      ['acme-findings-js: low From JS', 'acme-findings: critical Public bucket'],
    );
    assert.equal(titles.filter((t) => t.startsWith('kube-bench: high 4.')).length, 2);
    assert.equal(byName.get('kube-bench')?.version, '1.1.0');
    assert.equal(readJson<{ version: string }>(join(dir, 'package.json')).version, '0.1.0');
  });
});
