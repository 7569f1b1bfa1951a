/**
 * What every built-in plugin package's test checks the same way: its package.json manifest, that definePlugin's
 * name and version match it and the loader admits it, that the CHANGELOG has the version, and that the README's
 * configuration table lists every schema field with its default. Each plugin's package.test.ts adds its own checks.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestPlugin } from 'zen-watcher/testkit';

export interface PluginPackage {
  pkg: Record<string, unknown>;
  schemaText: string;
  schema: { properties: Record<string, { default?: unknown; [k: string]: unknown }> };
  readme: string;
  /** The body of the README's ```yaml block right after `<!-- marker -->`. */
  readmeBlock(marker: string): string;
}

export function readPluginPackage(dir: string): PluginPackage {
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const schemaText = read('schema.json');
  const readme = read('README.md');
  return {
    pkg: JSON.parse(read('package.json')) as Record<string, unknown>,
    schemaText,
    schema: JSON.parse(schemaText) as PluginPackage['schema'],
    readme,
    readmeBlock(marker) {
      const m = new RegExp(`<!-- ${marker} -->\\s*\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(readme);
      assert.ok(m, `README has a yaml block marked <!-- ${marker} -->`);
      return m[1]!;
    },
  };
}

/** Registers the three identity tests (call inside a describe). */
export function packageIdentityTests(
  dir: string,
  p: PluginPackage,
  want: {
    /** Unscoped name: the package is `@zen-watcher/<name>`, and definePlugin's name. */
    name: string;
    version: string;
    zenWatcher: Record<string, unknown>;
    /** The plugin's default export and its PLUGIN_NAME export. */
    plugin: { name: string; version?: string | undefined };
    exported: { name: string };
    kit: () => TestPlugin;
  },
): void {
  test('package.json: name, version and the zenWatcher manifest', () => {
    assert.equal(p.pkg.name, `@zen-watcher/${want.name}`);
    assert.equal(p.pkg.version, want.version);
    assert.deepEqual(p.pkg.zenWatcher, want.zenWatcher);
  });

  test('definePlugin name matches package.json, the version comes from package.json only; the loader admits it', () => {
    assert.equal(want.plugin.name, want.exported.name);
    assert.equal(want.plugin.name, want.name);
    // The version is kept in package.json alone (api.version): definePlugin gets none (a second copy would drift).
    assert.equal(want.plugin.version, undefined, 'definePlugin({ version }) is deprecated: package.json has it');
    const { record } = want.kit();
    assert.equal(record.status, 'loaded', record.reason);
    assert.equal(record.name, want.name);
    assert.equal(record.version, p.pkg.version);
  });

  test('CHANGELOG has the current version', () => {
    const changelog = readFileSync(join(dir, 'CHANGELOG.md'), 'utf8');
    assert.match(changelog, new RegExp(`^## \\[?${String(p.pkg.version).replace(/\./g, '\\.')}\\]?`, 'm'));
  });
}

/** Registers the README configuration-table test: a row per schema field, showing its default. */
export function readmeConfigTableTest(p: PluginPackage): void {
  test('the configuration reference lists every schema field with its default', () => {
    for (const [key, prop] of Object.entries(p.schema.properties)) {
      const row = p.readme.split('\n').find((l) => l.startsWith(`| \`${key}\``));
      assert.ok(row, `README configuration table has a row for ${key}`);
      assert.ok(row.includes(`\`${JSON.stringify(prop.default)}\``), `README row for ${key} shows the default`);
    }
  });
}
