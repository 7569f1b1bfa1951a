/**
 * `zen-watcher plugin new NAME --kind webhook|informer|destination [--dir PATH]` writes a new plugin (manifest, config
 * schema, entry, README, example Ingester, its own tests) from core/cli/templates into a directory of its own.
 * `zen-watcher plugin test [DIR] [-- NODE_TEST_ARGS...]` runs that plugin's tests with node's test runner, with this
 * host's resolve hook preloaded so `zen-watcher/plugin-api` and `zen-watcher/testkit` resolve with no install.
 *
 * Exit codes as the rest of the CLI: 0 ok, 1 problems (target not empty, plugin not admitted, tests failed),
 * 2 usage (bad name, kind or flag).
 */
import { existsSync, globSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { HOST_API_VERSION, ZwError } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { createAjv } from '../config/validate.ts';
import { discoverPlugins } from '../loader/index.ts';

/** The zen-watcher install the CLI runs from (generated scripts and tsconfig point here). */
export const ZEN_WATCHER_HOME = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TEMPLATES = join(ZEN_WATCHER_HOME, 'core/cli/templates');
export const PLUGIN_KINDS = ['webhook', 'informer', 'destination'] as const;
/** The lowest plugin API the generated code of each kind needs (not this host's): raise it when a template does. */
export const TEMPLATE_HOST_API: Readonly<Record<(typeof PLUGIN_KINDS)[number], string>> = Object.freeze({
  webhook: '^1.0.0',
  informer: '^1.0.0',
  destination: '^1.2.0',
});
export type PluginKind = (typeof PLUGIN_KINDS)[number];

/** kebab-case, a letter first; the name is also the source handler, so at most 40 characters (manifest rule). */
const NAME_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const NAME_MAX = 40;

export const PLUGIN_USAGE = `Usage:
  zen-watcher plugin new NAME --kind webhook|informer|destination [--dir PATH] [--sdk TARBALL|DIR [--no-install]]
      Create a source plugin (webhook, informer) or a destination plugin in PATH (default ./NAME): package.json
      manifest, schema.json, index.ts, README.md, an example config/ and tests that pass as generated. NAME is
      kebab-case (e.g. my-scanner).
      --sdk: install the plugin SDK (node scripts/sdk.ts pack) and the tools into the plugin (npm install), so
      npm test / lint / typecheck run with no path into this install.
  zen-watcher plugin test [DIR] [-- NODE_TEST_ARGS...]
      Run the plugin's tests (DIR, default .: every *.test.ts/.js outside node_modules) with node --test, with
      'zen-watcher/plugin-api' and 'zen-watcher/testkit' resolved to this host.
`;

/** A problem with a CLI exit code: 1 = problem found, 2 = usage error. */
export class CliProblem extends ZwError {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2) {
    super('ZW_ERR_USAGE', message);
    this.name = 'CliProblem';
    this.exitCode = exitCode;
  }
}

export interface CliIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  cwd: string;
}

const defaultIo = (): CliIo => ({ out: process.stdout, err: process.stderr, cwd: process.cwd() });

/** `zen-watcher plugin ...`: dispatches `new` and `test`. */
export async function pluginCommand(
  args: string[],
  env: Pick<HostEnv, 'builtinPluginDir'>,
  io: CliIo = defaultIo(),
): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'new':
        return pluginNew(rest, env, io);
      case 'test':
        return await pluginTest(rest, io);
      case '--help':
      case '-h':
        io.out.write(PLUGIN_USAGE);
        return 0;
      case undefined:
        io.err.write(`zen-watcher plugin: missing subcommand (new or test)\n${PLUGIN_USAGE}`);
        return 2;
      default:
        throw new CliProblem(`unknown plugin subcommand '${sub}' (expected new or test)`, 2);
    }
  } catch (err) {
    if (err instanceof CliProblem) {
      io.err.write(`zen-watcher plugin ${sub}: ${err.message}\n`);
      if (err.exitCode === 2) io.err.write(`Run 'zen-watcher plugin --help' for usage.\n`);
      return err.exitCode;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err.write(
        `zen-watcher plugin ${sub}: ${(err as Error).message}\nRun 'zen-watcher plugin --help' for usage.\n`,
      );
      return 2;
    }
    throw err;
  }
}

// ------------------------------------------------------------------------------------------------------ plugin new

/** Why `name` cannot be a plugin name, or undefined when it can. */
export function pluginNameProblem(name: string, reserved: ReadonlyMap<string, string> = new Map()): string | undefined {
  if (!NAME_RE.test(name) || name.length > NAME_MAX) {
    return `plugin name '${name}' must be kebab-case: lower-case letters and digits in words joined by single hyphens, starting with a letter, at most ${NAME_MAX} characters (e.g. my-scanner)`;
  }
  const owner = reserved.get(name);
  if (owner) return `'${name}' is already ${owner}; plugin names and source handlers must be unique, choose another`;
  return undefined;
}

/** Names and source handlers the built-in plugins already use (a drop-in plugin reusing one would be a duplicate). */
export function reservedNames(builtinPluginDir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of discoverPlugins([builtinPluginDir], { ajv: createAjv(), hostApiVersion: HOST_API_VERSION })) {
    out.set(r.name, `the name of the built-in plugin in ${r.dir}`);
    for (const s of r.manifest?.sources ?? []) {
      if (!out.has(s)) out.set(s, `a source handler of the built-in plugin '${r.name}'`);
    }
    for (const t of r.manifest?.destinations ?? []) {
      if (!out.has(t)) out.set(t, `a destination type of the built-in plugin '${r.name}'`);
    }
  }
  return out;
}

export interface ScaffoldOptions {
  name: string;
  kind: PluginKind;
  dir: string;
  /** The zen-watcher install the generated scripts and tsconfig use. Default: this one. */
  home?: string;
  /**
   * Install the plugin SDK from this tarball or directory (`node scripts/sdk.ts pack`) instead of pointing the
   * scripts and tsconfig into a zen-watcher install: the plugin then builds and tests with no path into it.
   */
  sdk?: string;
}

/** Values substituted for `{{key}}` in the templates. */
export function templateVars(
  name: string,
  home = ZEN_WATCHER_HOME,
  kind: PluginKind = 'webhook',
): Record<string, string> {
  const json = (s: string) => JSON.stringify(s).slice(1, -1);
  return {
    name,
    snake: name.replaceAll('-', '_'),
    // The lowest host plugin API the generated code needs (not this host's): raise it when the templates use newer API.
    hostApi: TEMPLATE_HOST_API[kind],
    hostApiVersion: HOST_API_VERSION,
    home,
    homeJson: json(home),
  };
}

export function renderTemplate(text: string, vars: Readonly<Record<string, string>>, file = 'template'): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => {
    const v = vars[key];
    if (v === undefined) throw new ZwError('ZW_ERR_INVALID_ARGUMENT', `${file}: unknown placeholder {{${key}}}`);
    return v;
  });
}

/** Template files (relative, `.tmpl` suffix) for a kind: the kind's own plus the common ones. */
function templateFiles(kind: PluginKind): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  for (const base of ['common', kind]) {
    const root = join(TEMPLATES, base);
    for (const rel of readdirSync(root, { recursive: true, encoding: 'utf8' }).sort()) {
      if (!rel.endsWith('.tmpl')) continue;
      // `gitignore.tmpl` → `.gitignore` (a dotfile in the repo would be taken as this repo's own).
      const to = rel.slice(0, -'.tmpl'.length).replace(/(^|[/\\])gitignore$/, '$1.gitignore');
      out.push({ from: join(root, rel), to });
    }
  }
  return out;
}

/** Writes the plugin; throws CliProblem for a bad name/kind (2) or a directory that is not empty (1). */
export function scaffoldPlugin(opts: ScaffoldOptions, reserved: ReadonlyMap<string, string> = new Map()): string[] {
  const problem = pluginNameProblem(opts.name, reserved);
  if (problem) throw new CliProblem(problem, 2);
  if (!(PLUGIN_KINDS as readonly string[]).includes(opts.kind)) {
    throw new CliProblem(`--kind must be webhook, informer or destination, got '${opts.kind}'`, 2);
  }
  const dir = resolve(opts.dir);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new CliProblem(`${dir} exists and is not a directory`, 1);
    if (readdirSync(dir).length > 0) {
      throw new CliProblem(`${dir} is not empty; refusing to overwrite it. Choose another --dir or remove it`, 1);
    }
  }
  if (opts.sdk && !existsSync(opts.sdk))
    throw new CliProblem(`--sdk ${opts.sdk} does not exist (build it: node scripts/sdk.ts pack)`, 2);
  // On the SDK the plugin names no zen-watcher install: its docs and scripts say $ZEN_WATCHER_HOME instead.
  const vars = templateVars(opts.name, opts.sdk ? '$ZEN_WATCHER_HOME' : (opts.home ?? ZEN_WATCHER_HOME), opts.kind);
  const files = templateFiles(opts.kind).map((f) => ({
    to: f.to,
    text: renderTemplate(readFileSync(f.from, 'utf8'), vars, relative(TEMPLATES, f.from)),
  }));
  for (const f of files) {
    const path = join(dir, f.to);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.text);
  }
  if (opts.sdk) useSdk(dir, resolve(opts.sdk), opts.home ?? ZEN_WATCHER_HOME);
  return files.map((f) => f.to).sort();
}

/**
 * A plugin on the installed SDK: `zen-watcher` (the SDK) and the tools as devDependencies, `npm test` / `lint` /
 * `typecheck` run from its own node_modules, and a tsconfig without paths into a zen-watcher install.
 */
function useSdk(dir: string, sdk: string, home: string): void {
  const tools = (
    JSON.parse(readFileSync(join(home, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }
  ).devDependencies;
  const pkgPath = join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as Record<string, unknown> & {
    scripts: Record<string, string>;
  };
  pkg.scripts = {
    test: 'node --test "test/**/*.test.ts"',
    lint: 'biome check .',
    typecheck: 'tsc -p .',
    // The host is not part of the SDK: point ZEN_WATCHER_HOME at a zen-watcher install to run it.
    start: pkg.scripts.start!.replace(/\$\{ZEN_WATCHER_HOME:-[^}]*\}/, '$ZEN_WATCHER_HOME'),
  };
  pkg.devDependencies = {
    '@biomejs/biome': tools['@biomejs/biome']!,
    '@types/node': tools['@types/node']!,
    typescript: tools.typescript!,
    'zen-watcher': `file:${sdk}`,
  };
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
  const readmePath = join(dir, 'README.md');
  writeFileSync(readmePath, sdkReadme(readFileSync(readmePath, 'utf8')));
  const tsPath = join(dir, 'tsconfig.json');
  const tsconfig = JSON.parse(readFileSync(tsPath, 'utf8')) as {
    '//'?: string;
    compilerOptions: Record<string, unknown>;
  };
  tsconfig['//'] =
    'Editor and typecheck settings; zen-watcher/* resolve to the installed SDK (node_modules/zen-watcher).';
  delete tsconfig.compilerOptions.paths;
  delete tsconfig.compilerOptions.typeRoots;
  writeFileSync(tsPath, `${JSON.stringify(tsconfig, null, 2)}\n`);
  writeFileSync(
    join(dir, 'biome.json'),
    `${JSON.stringify(
      {
        files: { includes: ['**', '!node_modules', '!.zen-watcher', '!**/*.md'] },
        formatter: { indentStyle: 'space', lineWidth: 120 },
        javascript: { formatter: { quoteStyle: 'single' } },
        json: { formatter: { enabled: false } },
      },
      null,
      2,
    )}\n`,
  );
}

/** The generated README's Develop section as the scripts of a plugin on the SDK are: no paths, no host. */
function sdkReadme(text: string): string {
  return text
    .replace(/^npm run typecheck .*\n/m, '')
    .replace(
      /^npm test\b.*$/m,
      [
        'npm test            # the tests in test/ (node --test), with the test kit of the installed SDK',
        'npm run lint        # biome check .',
        'npm run typecheck   # tsc -p ., against the types of the installed SDK (node_modules/zen-watcher)',
      ].join('\n'),
    )
    .replace(/^(npm start\s+# .*)$/m, '$1 (host: $ZEN_WATCHER_HOME)')
    .replace(
      /^`ZEN_WATCHER_HOME` overrides the zen-watcher install the scripts use \(default: .*\)\.$/m,
      '`npm start` and the `zen-watcher` commands run the host, which the SDK does not include: set `ZEN_WATCHER_HOME` to\na zen-watcher install (a checkout with `npm ci` done, or the image).',
    );
}

function pluginNew(args: string[], env: Pick<HostEnv, 'builtinPluginDir'>, io: CliIo): number {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      kind: { type: 'string', short: 'k' },
      dir: { type: 'string', short: 'd' },
      sdk: { type: 'string' },
      'no-install': { type: 'boolean' },
    },
  });
  const [name, ...extra] = positionals;
  if (name === undefined) throw new CliProblem('missing NAME (e.g. plugin new my-scanner --kind webhook)', 2);
  if (extra.length > 0) throw new CliProblem(`unexpected argument '${extra[0]}'`, 2);
  if (values.kind === undefined) throw new CliProblem('missing --kind webhook|informer|destination', 2);
  const dir = resolve(io.cwd, values.dir ?? name);
  const files = scaffoldPlugin(
    { name, kind: values.kind as PluginKind, dir, ...(values.sdk ? { sdk: resolve(io.cwd, values.sdk) } : {}) },
    existsSync(env.builtinPluginDir) ? reservedNames(env.builtinPluginDir) : new Map(),
  );
  if (values.sdk && !values['no-install']) {
    // The SDK and the tools from the tarball/path (and the npm cache or registry for their dependencies).
    const r = childProcess().spawnSync('npm', ['install', '--no-audit', '--no-fund'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.status !== 0) throw new CliProblem(`npm install in ${dir} failed:\n${r.stderr?.toString() ?? ''}`, 1);
  }
  const inside = relative(ZEN_WATCHER_HOME, dir);
  if (!inside.startsWith('..') && !inside.startsWith(sep)) {
    io.err.write(
      `note: ${dir} is inside the zen-watcher install; a third-party plugin usually lives in its own repository\n`,
    );
  }
  const cli = `node ${JSON.stringify(join(ZEN_WATCHER_HOME, 'bin/zen-watcher.js'))}`;
  const run =
    values.kind === 'webhook'
      ? `  npm start                # standalone zen-watcher with this plugin and config/ingester.yaml (port 8080)\n`
      : values.kind === 'destination'
        ? `  npm start                # standalone zen-watcher delivering to config/destination.yaml (port 8080)\n`
        : `  npm start                # zen-watcher in kubernetes mode (KUBECONFIG) with this plugin; see README.md\n`;
  io.out.write(
    `Created ${values.kind} plugin '${name}' in ${dir}:\n${files.map((f) => `  ${f}`).join('\n')}\n\nNext:\n  cd ${JSON.stringify(dir)}\n` +
      `  npm test                 # its tests, with the zen-watcher test kit (= ${cli} plugin test)\n` +
      run +
      `  ZEN_PLUGIN_DIRS=${JSON.stringify(dir)} ${cli} plugins list   # the host's verdict on the manifest\n` +
      `Guide: ${join(ZEN_WATCHER_HOME, 'docs/plugins/AUTHORING.md')}\n`,
  );
  return 0;
}

// ----------------------------------------------------------------------------------------------------- plugin test

/** `--import` module for the test processes: registers the `zen-watcher/*` resolve hook of this host. */
export function registerImportUrl(home = ZEN_WATCHER_HOME): string {
  const loader = pathToFileURL(join(home, 'core/loader/index.ts')).href;
  const body = `import { registerPluginApiSpecifier } from ${JSON.stringify(loader)}; registerPluginApiSpecifier();`;
  return `data:text/javascript,${encodeURIComponent(body)}`;
}

/** The plugin's test files, relative to `dir`: `*.test.{ts,mts,js,mjs}` outside node_modules and dot directories. */
export function findTestFiles(dir: string): string[] {
  return globSync('**/*.test.{ts,mts,js,mjs}', {
    cwd: dir,
    exclude: (p: string) => p === 'node_modules' || (p.startsWith('.') && p.length > 1),
  })
    .filter((f) => !f.split(/[/\\]/).some((s) => s === 'node_modules' || s.startsWith('.')))
    .sort();
}

async function pluginTest(args: string[], io: CliIo): Promise<number> {
  const dash = args.indexOf('--');
  const own = dash < 0 ? args : args.slice(0, dash);
  const forward = dash < 0 ? [] : args.slice(dash + 1);
  const { positionals } = parseArgs({ args: own, allowPositionals: true, options: {} });
  if (positionals.length > 1) throw new CliProblem(`unexpected argument '${positionals[1]}'`, 2);
  const dir = resolve(io.cwd, positionals[0] ?? '.');
  const pkgPath = join(dir, 'package.json');
  if (!existsSync(pkgPath)) throw new CliProblem(`${dir} has no package.json; run it in a plugin directory`, 1);
  let pkg: { zenWatcher?: unknown };
  try {
    pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { zenWatcher?: unknown };
  } catch (err) {
    throw new CliProblem(`${pkgPath}: ${(err as Error).message}`, 1);
  }
  if (pkg.zenWatcher === undefined) {
    throw new CliProblem(`${pkgPath} has no "zenWatcher" manifest field; this is not a zen-watcher plugin`, 1);
  }
  // The host's admission first: a manifest the host would refuse fails here with the same reason.
  const [record] = discoverPlugins([dir], { ajv: createAjv(), hostApiVersion: HOST_API_VERSION });
  if (record && record.status !== 'loaded') {
    throw new CliProblem(`plugin '${record.name}' would not load (${record.status}): ${record.reason}`, 1);
  }
  const files = findTestFiles(dir);
  if (files.length === 0) throw new CliProblem(`no test files (*.test.ts, *.test.js) in ${dir}`, 1);
  // Run as a top-level test run even when started from inside another one (node --test sets NODE_TEST_CONTEXT).
  const { NODE_TEST_CONTEXT: _nested, ...env } = process.env;
  return await new Promise<number>((done) => {
    const child = childProcess().spawn(
      process.execPath,
      ['--import', registerImportUrl(), '--test', ...forward, ...files],
      {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.pipe(io.out, { end: false });
    child.stderr.pipe(io.err, { end: false });
    child.on('error', (err) => {
      io.err.write(`zen-watcher plugin test: cannot start node: ${err.message}\n`);
      done(1);
    });
    child.on('close', (code) => done(code === 0 ? 0 : 1));
  });
}

/**
 * node:child_process when a command needs it: the server imports this module (through the CLI) and an ES module
 * import of node:child_process at the top costs every `run` about 3 MB of RSS (issue #18, idle RSS).
 */
function childProcess(): typeof import('node:child_process') {
  return process.getBuiltinModule('node:child_process');
}
