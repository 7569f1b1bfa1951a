/**
 * docs/plugins/AUTHORING.md and VERSIONING.md stay complete as the API grows: every export of the plugin API,
 * every manifest field, hook, facade member and test-kit member is documented, the versions quoted are the
 * current ones, and every relative link resolves.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { HOOK_NAMES, HOST_API_VERSION, pluginManifestSchema } from '../../core/api/index.ts';
import { REPO } from '../support/host.ts';

const DOCS = join(REPO, 'docs/plugins');
const authoring = readFileSync(join(DOCS, 'AUTHORING.md'), 'utf8');
const versioning = readFileSync(join(DOCS, 'VERSIONING.md'), 'utf8');

/** Member names of `export interface NAME { ... }` in a source file (top-level members only). */
function interfaceMembers(file: string, name: string): string[] {
  const text = readFileSync(join(REPO, file), 'utf8');
  const start = text.indexOf(`export interface ${name}`);
  assert.ok(start >= 0, `${name} not found in ${file}`);
  const body = text.slice(text.indexOf('{', start) + 1);
  const members: string[] = [];
  let depth = 0;
  for (const line of body.split('\n')) {
    if (depth === 0) {
      if (line.trim().startsWith('}')) break;
      const m = /^\s{2}(?:readonly\s+)?([A-Za-z]\w*)\??[(:<]/.exec(line);
      if (m) members.push(m[1]!);
    }
    for (const ch of line)
      depth += ch === '{' || ch === '(' || ch === '[' ? 1 : ch === '}' || ch === ')' || ch === ']' ? -1 : 0;
  }
  return members;
}

const mentioned = (doc: string, word: string) => doc.includes(`\`${word}\``) || doc.includes(`\`${word}(`);

describe('AUTHORING.md covers the whole contract', () => {
  test('every export of zen-watcher/plugin-api', () => {
    const index = readFileSync(join(REPO, 'core/api/index.ts'), 'utf8');
    const names = [...index.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((m) =>
      m[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    assert.ok(names.length > 30, `only ${names.length} exports parsed`);
    assert.deepEqual(
      names.filter((n) => !mentioned(authoring, n)),
      [],
    );
  });

  test('every manifest field', () => {
    for (const field of Object.keys(pluginManifestSchema.properties)) {
      assert.ok(authoring.includes(`\`zenWatcher.${field}\``), `zenWatcher.${field} is not documented`);
    }
  });

  test('every hook, with when it runs and on which replicas', () => {
    for (const hook of HOOK_NAMES) {
      const row = authoring.split('\n').find((l) => l.startsWith(`| \`${hook}`));
      assert.ok(row, `no row for ${hook} in the hook table`);
      assert.match(row, /every replica|leader|where the draft/, `${hook}: on which replicas?`);
      assert.match(authoring, new RegExp(`^\\*\\*[^*\\n]*\`${hook}`, 'm'), `${hook} has no paragraph`);
    }
  });

  test('every member of the api facade and of the test kit', () => {
    const api = interfaceMembers('core/api/plugin.ts', 'PluginApi');
    const kube = interfaceMembers('core/api/plugin.ts', 'PluginKube');
    const metrics = interfaceMembers('core/api/plugin.ts', 'PluginMetrics');
    const draft = interfaceMembers('core/api/types.ts', 'ObservationDraft');
    const request = interfaceMembers('core/api/hooks.ts', 'WebhookRequest');
    const kit = interfaceMembers('core/testkit/index.ts', 'TestPlugin');
    assert.ok(api.includes('reconcileScopes') && kit.includes('startLeading'), 'parser broke');
    const missing = [...api, ...kube, ...metrics, ...draft, ...request, ...kit].filter(
      (m) =>
        !mentioned(authoring, m) &&
        !authoring.includes(`\`${m}\``) &&
        !new RegExp(`\`[^\`]*\\b${m}\\b`).test(authoring),
    );
    assert.deepEqual(missing, []);
  });

  test('the scaffold and test commands, the deadlines and packaging ways', () => {
    for (const s of [
      'zen-watcher plugin new my-scanner --kind webhook',
      'zen-watcher plugin test',
      'ZEN_PLUGIN_DIRS',
      'ZEN_HOOK_TIMEOUT_SECONDS',
      'ZEN_SHUTDOWN_TIMEOUT_SECONDS',
      'ZEN_RENEW_DEADLINE_SECONDS',
      'ZEN_RESOLVE_AFTER_SECONDS',
      'node_modules',
      '/plugins',
      'plugins.fromImages',
      'zen_watcher_plugin_',
    ]) {
      assert.ok(authoring.includes(s), `AUTHORING.md does not mention ${s}`);
    }
  });
});

describe('VERSIONING.md', () => {
  test('quotes the current host plugin API version and how plugins are reported', () => {
    assert.ok(
      versioning.includes(`**${HOST_API_VERSION}**`),
      `VERSIONING.md should say the API is ${HOST_API_VERSION}`,
    );
    assert.ok(authoring.includes(`**${HOST_API_VERSION}**`), `AUTHORING.md should say the API is ${HOST_API_VERSION}`);
    for (const s of ['plugins list', 'zen_watcher_plugins{plugin,version,status}', 'status.plugin', 'Deprecation']) {
      assert.ok(versioning.includes(s), `VERSIONING.md does not mention ${s}`);
    }
  });
});

test('relative links in docs/plugins resolve', () => {
  for (const [file, text] of [
    ['AUTHORING.md', authoring],
    ['VERSIONING.md', versioning],
  ] as const) {
    for (const m of text.matchAll(/\]\((?!https?:|#)([^)#]+)(?:#[^)]*)?\)/g)) {
      const target = join(dirname(join(DOCS, file)), m[1]!);
      assert.ok(existsSync(target), `${file}: link ${m[1]} does not resolve`);
    }
  }
});
