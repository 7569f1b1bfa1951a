/**
 * The plugin SDK: the plugin API (`zen-watcher/plugin-api`) and the test kit (`zen-watcher/testkit`) as an
 * installable package, and its API report.
 *
 *   node scripts/sdk.ts pack [--out DIR]       build dist/sdk (JavaScript + declarations) and `npm pack` it into DIR
 *                                              (default dist/); prints the tarball's path
 *   node scripts/sdk.ts report [--check]       write sdk/report.api.md (the public surface: every export of both
 *                                              entry points with its declaration, and the types they reference);
 *                                              --check compares instead and exits 1 on a difference
 *
 * Node does not strip types under node_modules, so the package ships compiled JavaScript (tsc, tsconfig.sdk.json).
 * The host never uses the package: it maps both specifiers to its own files at run time (core/loader/api-specifier.ts).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPORT = join(REPO, 'sdk', 'report.api.md');
const ENTRIES = { 'zen-watcher/plugin-api': 'api/index', 'zen-watcher/testkit': 'testkit/index' } as const;

/**
 * Runtime dependencies of the compiled files (bare imports reachable from the entries, static or loaded on first use
 * through import() or require), with the repo's ranges.
 */
function runtimeDependencies(lib: string): Record<string, string> {
  const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const seen = new Set<string>();
  const deps: Record<string, string> = {};
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    const specs = [
      // static imports and re-exports
      ...[
        ...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm),
      ].map((m) => (m[1] ?? m[2])!),
      // import('x'), require('x') and createRequire(import.meta.url)('x'): modules loaded on first use
      ...[...text.matchAll(/(?:\bimport|\brequire|\))\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
    ];
    for (const spec of specs) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:') && !spec.startsWith('zen-watcher/')) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        const range = root.dependencies[name];
        if (!range) throw new Error(`the SDK imports '${name}', which is not a dependency of zen-watcher`);
        deps[name] = range;
      }
    }
  };
  for (const e of Object.values(ENTRIES)) visit(join(lib, `${e}.js`));
  return Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
}

/** Compiles the SDK into `dir` (lib/ + package.json + README.md). */
export function buildSdk(dir = join(REPO, 'dist', 'sdk')): string {
  rmSync(dir, { recursive: true, force: true });
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.sdk.json'), '--outDir', join(dir, 'lib')], {
    stdio: 'inherit',
  });
  const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; license: string };
  const exports = Object.fromEntries(
    Object.entries(ENTRIES).map(([spec, e]) => [
      `./${spec.split('/')[1]}`,
      { types: `./lib/${e}.d.ts`, default: `./lib/${e}.js` },
    ]),
  );
  const pkg = {
    name: 'zen-watcher',
    version: root.version,
    description:
      'zen-watcher plugin SDK: the plugin API (zen-watcher/plugin-api) and the test kit (zen-watcher/testkit) for writing and testing source plugins outside the zen-watcher repository.',
    license: root.license,
    type: 'module',
    engines: { node: '>=24' },
    exports,
    files: ['lib', 'README.md'],
    dependencies: runtimeDependencies(join(dir, 'lib')),
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  cpSync(join(REPO, 'sdk', 'README.md'), join(dir, 'README.md'));
  return dir;
}

/** Builds and packs the SDK; returns the tarball's absolute path. */
export function packSdk(out = join(REPO, 'dist')): string {
  const dir = buildSdk();
  mkdirSync(out, { recursive: true });
  const name = execFileSync('npm', ['pack', dir, '--pack-destination', out, '--silent'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1)!;
  return join(out, name);
}

/**
 * The API report: for each entry point, every export with its declaration as a `.d.ts` states it, then every type
 * those declarations reference (transitively) that is declared inside zen-watcher. Built from declarations emitted
 * from `root` (default this repo), so a change of the public surface — an export, a member, a parameter, a type a
 * public declaration uses — changes the report.
 */
export function apiReport(root = REPO): string {
  const out = mkdtempSync(join(tmpdir(), 'zw-api-'));
  try {
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.sdk.json'), undefined, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    })!;
    const emit = ts.createProgram(config.fileNames, {
      ...config.options,
      outDir: out,
      declaration: true,
      emitDeclarationOnly: true,
    });
    const result = emit.emit();
    const errors = ts.getPreEmitDiagnostics(emit).concat(result.diagnostics);
    if (errors.length) throw new Error(ts.formatDiagnostics(errors, ts.createCompilerHost({})));
    const entries = Object.entries(ENTRIES).map(([spec, e]) => [spec, join(out, `${e}.d.ts`)] as const);
    const program = ts.createProgram(
      entries.map(([, f]) => f),
      { ...config.options, noEmit: true, paths: {}, types: ['node'] },
    );
    const checker = program.getTypeChecker();
    const inside = (d: ts.Declaration) => d.getSourceFile().fileName.startsWith(out);
    const text = (d: ts.Node) =>
      d
        .getText()
        .replace(/\/\*\*[\s\S]*?\*\/\s*/g, '')
        .replace(/^export declare /, '')
        .replace(/^export /, '')
        .replace(/^declare /, '')
        .replace(/\s+/g, ' ')
        .trim();
    const where = (d: ts.Declaration) => relative(out, d.getSourceFile().fileName).replace(/\.d\.ts$/, '');
    const lines: string[] = [
      '# zen-watcher SDK — API report',
      '',
      'Generated by `node scripts/sdk.ts report` from the declarations of the two entry points; checked by',
      '`test/authoring/sdk.test.ts`. A difference means the public surface changed: if that is intended, regenerate',
      'this file, and version the change (docs/plugins/VERSIONING.md).',
    ];
    const referenced = new Map<string, ts.Declaration[]>();
    const collect = (node: ts.Node) => {
      const visit = (n: ts.Node) => {
        if (ts.isTypeReferenceNode(n) || ts.isExpressionWithTypeArguments(n) || ts.isTypeQueryNode(n)) {
          const name = ts.isTypeReferenceNode(n) ? n.typeName : ts.isTypeQueryNode(n) ? n.exprName : n.expression;
          let sym = checker.getSymbolAtLocation(name);
          if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
          const decls = (sym?.declarations ?? []).filter(inside);
          if (sym && decls.length && !referenced.has(`${where(decls[0]!)}#${sym.name}`)) {
            referenced.set(`${where(decls[0]!)}#${sym.name}`, decls);
            for (const d of decls) collect(d);
          }
        }
        ts.forEachChild(n, visit);
      };
      visit(node);
    };
    const exported = new Set<string>();
    for (const [spec, file] of entries) {
      const sf = program.getSourceFile(file)!;
      const mod = checker.getSymbolAtLocation(sf)!;
      lines.push('', `## ${spec}`, '');
      const syms = checker.getExportsOfModule(mod).sort((a, b) => a.name.localeCompare(b.name));
      for (const s of syms) {
        const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
        const decls = (target.declarations ?? []).filter(inside);
        if (decls.length === 0) {
          lines.push(`- \`${s.name}\`: (from outside zen-watcher)`);
          continue;
        }
        exported.add(`${where(decls[0]!)}#${target.name}`);
        lines.push('```ts', ...decls.map(text), '```');
        for (const d of decls) collect(d);
      }
    }
    const rest = [...referenced.entries()].filter(([k]) => !exported.has(k)).sort(([a], [b]) => a.localeCompare(b));
    lines.push('', '## Referenced types (not exported, part of the surface)', '');
    for (const [k, decls] of rest) lines.push(`<!-- ${k} -->`, '```ts', ...decls.map(text), '```');
    return `${lines.join('\n')}\n`;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'pack') {
    const i = args.indexOf('--out');
    process.stdout.write(`${packSdk(i >= 0 ? resolve(args[i + 1]!) : undefined)}\n`);
  } else if (cmd === 'report') {
    const report = apiReport();
    if (args.includes('--check')) {
      const want = readFileSync(REPORT, 'utf8');
      if (want !== report) {
        process.stderr.write(
          'sdk/report.api.md differs from the public surface: the plugin API or test kit changed. If intended, run `node scripts/sdk.ts report` and version the change (docs/plugins/VERSIONING.md).\n',
        );
        process.exit(1);
      }
    } else {
      mkdirSync(dirname(REPORT), { recursive: true });
      writeFileSync(REPORT, report);
    }
  } else {
    process.stderr.write('usage: node scripts/sdk.ts pack [--out DIR] | report [--check]\n');
    process.exit(2);
  }
}
