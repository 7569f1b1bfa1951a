/**
 * `zen-watcher plugin new|test` (scaffold.ts): name rules, the files written, refusing to overwrite, exit codes,
 * and that `plugin test` reports the host's admission verdict and the test runner's result. The full author
 * workflow (generated tests, loading into a running host) is in test/authoring/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import { HOST_API_VERSION } from '../api/index.ts';
import { createAjv } from '../config/validate.ts';
import { discoverPlugins } from '../loader/index.ts';
import {
  findTestFiles,
  PLUGIN_KINDS,
  pluginCommand,
  pluginNameProblem,
  renderTemplate,
  reservedNames,
  scaffoldPlugin,
  TEMPLATE_HOST_API,
  ZEN_WATCHER_HOME,
} from './scaffold.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'zw-scaffold-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const env = { builtinPluginDir: join(ZEN_WATCHER_HOME, 'plugins') };

async function cli(args: string[], cwd = tmp()) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await pluginCommand(args, env, { out, err, cwd });
  return { code, stdout, stderr, cwd };
}

describe('plugin names', () => {
  const cases: [string, boolean][] = [
    ['my-scanner', true],
    ['kube-bench', true],
    ['a', true],
    ['x509-expiry', true],
    ['My-Scanner', false],
    ['my_scanner', false],
    ['-scanner', false],
    ['scanner-', false],
    ['my--scanner', false],
    ['9lives', false],
    ['', false],
    ['a'.repeat(41), false],
  ];
  for (const [name, ok] of cases) {
    test(`${JSON.stringify(name)} is ${ok ? 'accepted' : 'refused'}`, () => {
      const problem = pluginNameProblem(name);
      if (ok) assert.equal(problem, undefined);
      else assert.match(problem ?? '', /must be kebab-case.*e\.g\. my-scanner/);
    });
  }

  test("the built-in plugins' names and source handlers are taken", () => {
    const reserved = reservedNames(env.builtinPluginDir);
    assert.match(pluginNameProblem('falco', reserved) ?? '', /'falco' is already the name of the built-in plugin/);
    assert.match(pluginNameProblem('webhook', reserved) ?? '', /choose another/);
    assert.equal(pluginNameProblem('my-scanner', reserved), undefined);
  });
});

describe('plugin new', () => {
  for (const kind of PLUGIN_KINDS) {
    test(`--kind ${kind}: the files, a manifest the host admits, no placeholder left`, async () => {
      const r = await cli(['new', 'acme-scan', '--kind', kind]);
      assert.equal(r.code, 0, r.stderr);
      const dir = join(r.cwd, 'acme-scan');
      assert.match(r.stdout, new RegExp(`Created ${kind} plugin 'acme-scan'`));
      const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
      for (const f of [
        '.gitignore',
        'CHANGELOG.md',
        'README.md',
        kind === 'destination' ? 'config/destination.yaml' : 'config/ingester.yaml',
        'index.ts',
        'package.json',
        'schema.json',
        'test/plugin.test.ts',
        'tsconfig.json',
      ]) {
        assert.ok(files.includes(f), `${f} missing from ${files.join(', ')}`);
        const text = readFileSync(join(dir, f), 'utf8');
        assert.doesNotMatch(text, /\{\{\w+\}\}/, `${f} has a placeholder left`);
      }
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      assert.equal(pkg.name, 'acme-scan');
      if (kind === 'destination') assert.deepEqual(pkg.zenWatcher.destinations, ['acme-scan']);
      else {
        assert.deepEqual(pkg.zenWatcher.sources, ['acme-scan']);
        assert.deepEqual(pkg.zenWatcher.ingesterTypes, [kind]);
      }
      assert.equal(pkg.zenWatcher.hostApi, TEMPLATE_HOST_API[kind], 'the lowest API the generated code needs');
      assert.match(pkg.scripts.test, /zen-watcher\.js" plugin test$/);
      const [record] = discoverPlugins([dir], { ajv: createAjv(), hostApiVersion: HOST_API_VERSION });
      assert.equal(record?.status, 'loaded', record?.reason);
      const tsconfig = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
      assert.deepEqual(tsconfig.compilerOptions.paths['zen-watcher/plugin-api'], [
        join(ZEN_WATCHER_HOME, 'core/api/index.ts'),
      ]);
    });
  }

  test('--sdk: scripts, tsconfig and the README name no zen-watcher install; a missing tarball writes nothing', () => {
    const cwd = tmp();
    const sdk = join(cwd, 'zen-watcher-0.0.0.tgz');
    writeFileSync(sdk, ''); // scaffoldPlugin only records the path; `plugin new` installs it
    for (const kind of PLUGIN_KINDS) {
      const dir = join(cwd, kind);
      scaffoldPlugin({ name: 'acme-scan', kind, dir, sdk });
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      assert.deepEqual(Object.keys(pkg.scripts).sort(), ['lint', 'start', 'test', 'typecheck']);
      assert.equal(pkg.devDependencies['zen-watcher'], `file:${sdk}`);
      assert.equal(JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')).compilerOptions.paths, undefined);
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      for (const script of ['npm test ', 'npm run lint ', 'npm run typecheck '])
        assert.ok(readme.includes(`\n${script}`), `${kind} README names ${script.trim()}`);
      assert.doesNotMatch(readme, /paths point at|zen-watcher plugin test|\(default: \$ZEN_WATCHER_HOME\)/, kind);
      assert.ok(!readme.includes(ZEN_WATCHER_HOME), `${kind} README names this install`);
    }
    const none = join(cwd, 'none');
    assert.throws(() => scaffoldPlugin({ name: 'acme-scan', kind: 'webhook', dir: none, sdk: join(cwd, 'no.tgz') }), {
      code: 'ZW_ERR_USAGE',
    });
    assert.ok(!existsSync(none), 'nothing written when the SDK is missing');
  });

  test('--dir chooses the directory; an existing empty one is fine', async () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'empty'));
    const r = await cli(['new', 'acme-scan', '--kind', 'webhook', '--dir', 'empty'], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readdirSync(join(cwd, 'empty')).includes('package.json'));
  });

  test('refuses a directory that is not empty (exit 1) and leaves it untouched', async () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'acme-scan'));
    writeFileSync(join(cwd, 'acme-scan', 'keep.txt'), 'mine');
    const r = await cli(['new', 'acme-scan', '--kind', 'webhook'], cwd);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /acme-scan is not empty; refusing to overwrite it/);
    assert.deepEqual(readdirSync(join(cwd, 'acme-scan')), ['keep.txt']);
    writeFileSync(join(cwd, 'a-file'), '');
    const f = await cli(['new', 'acme-scan', '--kind', 'webhook', '--dir', 'a-file'], cwd);
    assert.equal(f.code, 1);
    assert.match(f.stderr, /exists and is not a directory/);
  });

  const usage: [string, string[], RegExp][] = [
    ['no name', ['new', '--kind', 'webhook'], /missing NAME/],
    ['no kind', ['new', 'acme-scan'], /missing --kind webhook\|informer/],
    ['bad kind', ['new', 'acme-scan', '--kind', 'cron'], /--kind must be webhook, informer or destination, got 'cron'/],
    ['bad name', ['new', 'Acme_Scan', '--kind', 'webhook'], /plugin name 'Acme_Scan' must be kebab-case/],
    ['taken name', ['new', 'falco', '--kind', 'webhook'], /'falco' is already the name of the built-in plugin/],
    ['unknown flag', ['new', 'acme-scan', '--kind', 'webhook', '--force'], /Unknown option '--force'/],
    ['extra argument', ['new', 'acme-scan', 'more', '--kind', 'webhook'], /unexpected argument 'more'/],
    ['unknown subcommand', ['create', 'acme-scan'], /unknown plugin subcommand 'create'/],
    ['no subcommand', [], /missing subcommand \(new or test\)\nUsage:/],
  ];
  for (const [what, args, message] of usage) {
    test(`usage error (exit 2): ${what}`, async () => {
      const r = await cli(args);
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(r.cwd), [], 'nothing written');
    });
  }

  test('--help prints the usage and exits 0', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /zen-watcher plugin new NAME --kind webhook\|informer\|destination \[--dir PATH\]/);
  });

  test('templates: an unknown placeholder is a bug, not silent text', () => {
    assert.equal(renderTemplate('a {{name}} b', { name: 'x' }), 'a x b');
    assert.throws(() => renderTemplate('{{nope}}', {}, 'f.tmpl'), /f\.tmpl: unknown placeholder \{\{nope\}\}/);
  });
});

describe('plugin test', () => {
  test('finds *.test.{ts,js} outside node_modules and dot directories', () => {
    const dir = tmp();
    for (const f of ['test/a.test.ts', 'b.test.mjs', 'node_modules/x/c.test.ts', '.cache/d.test.js', 'test/e.ts']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), '');
    }
    assert.deepEqual(findTestFiles(dir), ['b.test.mjs', 'test/a.test.ts']);
  });

  test('not a plugin directory, a manifest the host refuses, no tests: exit 1 with the reason', async () => {
    const none = await cli(['test']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /has no package\.json; run it in a plugin directory/);

    const cwd = tmp();
    writeFileSync(join(cwd, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0' }));
    assert.match((await cli(['test'], cwd)).stderr, /no "zenWatcher" manifest field/);

    const r = await cli(['new', 'acme-scan', '--kind', 'webhook']);
    const dir = join(r.cwd, 'acme-scan');
    const pkgPath = join(dir, 'package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    writeFileSync(pkgPath, JSON.stringify({ ...pkg, zenWatcher: { ...pkg.zenWatcher, hostApi: '^9.0.0' } }));
    const bad = await cli(['test', dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /plugin 'acme-scan' would not load \(incompatible\): needs host plugin API \^9\.0\.0/);

    writeFileSync(pkgPath, JSON.stringify(pkg));
    rmSync(join(dir, 'test'), { recursive: true });
    const empty = await cli(['test', dir]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no test files/);
  });

  test("the runner's verdict is the exit code; arguments after -- go to node --test", async () => {
    const r = await cli(['new', 'acme-scan', '--kind', 'webhook']);
    const dir = join(r.cwd, 'acme-scan');
    writeFileSync(
      join(dir, 'test', 'fails.test.ts'),
      "import { test } from 'node:test';\nimport { HOST_API_VERSION } from 'zen-watcher/plugin-api';\n" +
        "test('always fails', () => { throw new Error('fails on API ' + HOST_API_VERSION); });\n",
    );
    const failed = await cli(['test', dir]);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /fails on API 1\./);
    const only = await cli(['test', dir, '--', '--test-name-pattern', 'loads with its manifest']);
    assert.equal(only.code, 0, only.stdout + only.stderr);
    assert.match(only.stdout, /the plugin loads with its manifest/);
    assert.doesNotMatch(only.stdout, /always fails|one finding becomes one Observation/);
  });
});
