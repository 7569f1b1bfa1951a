/**
 * The Dockerfile, checked without a container engine: its instructions (Node 24 base, non-root user, port, entry
 * command, plugin directory), that every COPY source is in the build context (git's files minus .dockerignore), and
 * a replay of the build stage: the COPY steps into a temporary /app, the Dockerfile's own `npm ci` line (production
 * dependencies only), then the image's command started from there with Node 24, answering /healthz and a webhook,
 * and writing nothing inside /app.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cleanup, post, REPO, tempDir } from '../support/host.ts';

const run = promisify(execFile);

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let buf = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!buf && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (buf + line).trim();
    buf = '';
    const m = /^(\w+)\s+(.*)$/s.exec(full);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2]!.replace(/\s+/g, ' ').trim(), stage });
  }
  return out;
}

/** A .dockerignore matcher with Docker's rules: last matching pattern wins, a pattern also matches everything below
 * a matching directory, `!` re-includes, `*` stays within a path segment, `**` spans segments. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const segs = pattern.split('/');
      let re = '';
      segs.forEach((seg, i) => {
        const last = i === segs.length - 1;
        if (seg === '**') re += last ? '.*' : '(?:.*/)?';
        else
          re +=
            seg
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '[^/]*')
              .replace(/\?/g, '[^/]') + (last ? '' : '/');
      });
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (path: string) => {
    const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) ignored = !r.negate;
    return ignored;
  };
}

const dockerfile = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const ignored = dockerignore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));

/** Files docker would send as the build context: git's tracked and untracked-but-not-ignored files, minus .dockerignore. */
async function buildContext(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard'], { cwd: REPO, maxBuffer: 32 << 20 });
  return stdout
    .split('\n')
    .filter(Boolean)
    .filter((f) => existsSync(join(REPO, f)) && !ignored(f));
}

/** COPY/RUN steps of the build stage, replayed into `app` (the stage's /app). */
function copySources(inst: Instruction): { sources: string[]; dest: string } {
  const words = inst.args.split(' ').filter((w) => !w.startsWith('--'));
  return { sources: words.slice(0, -1), dest: words.at(-1)! };
}

describe('Dockerfile', () => {
  test('Node 24 base, production env, non-root 65532, port 8080, /plugins, `node bin/zen-watcher.js run`', () => {
    const arg = dockerfile.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    assert.match(arg?.args ?? '', /^NODE_IMAGE=node:24(-slim)?$/);
    const froms = dockerfile.filter((i) => i.op === 'FROM');
    assert.equal(froms.length, 3, 'multi-stage: build + UI bundle + runtime');
    for (const f of froms) assert.match(f.args, /^\$\{NODE_IMAGE\}/);
    const last = froms.length - 1;
    const final = dockerfile.filter((i) => i.stage === last);
    const op = (name: string) => final.filter((i) => i.op === name).map((i) => i.args);
    assert.deepEqual(op('USER'), ['65532:65532']);
    assert.deepEqual(op('EXPOSE'), ['8080']);
    assert.deepEqual(op('ENTRYPOINT'), [
      '["node", "--max-semi-space-size=16", "--v8-pool-size=1", "--expose-gc", "bin/zen-watcher.js"]',
    ]);
    assert.deepEqual(op('CMD'), ['["run"]']);
    assert.match(op('ENV').join(' '), /ZEN_PLUGIN_DIRS=\/plugins/);
    assert.match(op('ENV').join(' '), /NODE_ENV=production/);
    assert.match(op('ENV').join(' '), /MALLOC_ARENA_MAX=2/, 'two glibc malloc arenas (ADR 0027)');
    // The runtime stage takes the app from the build stage and the UI's static files from the UI stage only, and
    // makes /plugins writable for 65532.
    assert.deepEqual(op('COPY'), ['--from=build /app /app', '--from=ui /ui-build/ui/dist/ /app/ui/dist/']);
    assert.match(op('RUN').join(' '), /mkdir -p \/plugins .*chown 65532:65532 \/plugins/);
    // The USER line comes after the last RUN: nothing runs as root at runtime.
    const idx = (o: string) => final.map((i) => i.op).lastIndexOf(o);
    assert.ok(idx('USER') > idx('RUN'));
  });

  test('every COPY source is in the build context (git files minus .dockerignore)', async () => {
    const context = await buildContext();
    for (const inst of dockerfile.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
      for (const src of copySources(inst).sources) {
        const s = src.replace(/\/$/, '');
        assert.ok(
          context.some((f) => f === s || f.startsWith(`${s}/`)),
          `COPY ${src}: not in the build context (missing, or excluded by .dockerignore)`,
        );
      }
    }
    // The context holds no tests, and nothing the image does not need.
    assert.deepEqual(
      context.filter((f) => /\.test\.ts$|^plugins\/[^/]+\/test\//.test(f)),
      [],
    );
    assert.deepEqual(
      context.filter(
        (f) =>
          !/^(package\.json|package-lock\.json|bin\/|core\/|plugins\/|config\/standalone\/|ui\/src\/|scripts\/build-ui\.ts$)/.test(
            f,
          ),
      ),
      [],
    );
  });

  describe('the build stage replayed: production install, then the entry command', () => {
    let root: string;
    let app: string;
    before(async () => {
      root = tempDir('zw-image-');
      app = join(root, 'app');
      const context = await buildContext();
      for (const inst of dockerfile.filter((i) => i.stage === 0)) {
        if (inst.op === 'WORKDIR') assert.equal(inst.args, '/app');
        if (inst.op === 'COPY') {
          const { sources, dest } = copySources(inst);
          for (const src of sources) {
            const s = src.replace(/\/$/, '');
            for (const f of context.filter((x) => x === s || x.startsWith(`${s}/`))) {
              // `COPY a b ./` puts the files in ./; `COPY dir/ ./dir/` puts dir's content in ./dir/.
              const target = f === s ? join(app, dest, basename(f)) : join(app, dest, relative(s, f));
              mkdirSync(dirname(target), { recursive: true });
              cpSync(join(REPO, f), target);
            }
          }
        }
        if (inst.op === 'RUN') {
          // Only the npm step is replayed, exactly as written (anything else would need the image's shell).
          const m = /^npm (ci .*)$/.exec(inst.args);
          assert.ok(m, `unexpected RUN in the build stage: ${inst.args}`);
          await run('npm', m[1]!.split(' '), { cwd: app, maxBuffer: 32 << 20, timeout: 10 * 60_000 });
        }
      }
    });
    after(() => root && cleanup(root));

    test('only production dependencies: no dev tools, no `node` package; every dependency present', () => {
      const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
        devDependencies: Record<string, string>;
      };
      // A devDependency may still be installed when a production dependency needs it too (the lock file then
      // does not mark it dev); everything the lock file marks dev-only must be absent.
      const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean }>;
      };
      for (const dep of Object.keys(pkg.devDependencies))
        if (lock.packages[`node_modules/${dep}`]?.dev)
          assert.ok(!existsSync(join(app, 'node_modules', dep)), `devDependency ${dep} installed`);
      for (const dep of ['node', 'typescript', '@biomejs/biome', 'fast-check'])
        assert.ok(!existsSync(join(app, 'node_modules', dep)), `dev tool ${dep} installed`);
      for (const dep of Object.keys(pkg.dependencies))
        assert.ok(existsSync(join(app, 'node_modules', dep, 'package.json')), `dependency ${dep} missing`);
      assert.ok(!existsSync(join(app, 'node_modules/.bin/node')), 'a node binary in node_modules');
    });

    test('`node core/cli/main.ts run` starts with Node 24, serves /healthz and a webhook, writes nothing in /app', async () => {
      const before = snapshot(app);
      const plugins = tempDir('zw-plugins-'); // the empty /plugins emptyDir
      const data = tempDir('zw-data-'); // /data: the standalone store
      const child = spawn(process.execPath, ['core/cli/main.ts', 'run'], {
        cwd: app,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'production',
          ZEN_MODE: 'standalone',
          PORT: '0',
          ZEN_LISTEN_HOST: '127.0.0.1',
          ZEN_PLUGIN_DIRS: plugins,
          ZEN_DATA_DIR: data,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      try {
        const port = await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no listening line in 30 s:\n${stderr}`)), 30_000);
          child.stderr.on('data', (d) => {
            stderr += d;
            const m = /"port":(\d+)/.exec(stderr);
            if (m) {
              clearTimeout(timer);
              resolve(Number(m[1]));
            }
          });
          child.on('exit', (code) => reject(new Error(`exited with ${code}:\n${stderr}`)));
        });
        const url = `http://127.0.0.1:${port}`;
        assert.equal((await fetch(`${url}/healthz`)).status, 200);
        assert.equal((await fetch(`${url}/readyz`)).status, 200);
        const r = await post(`${url}/ingest/webhook`, '{"severity":"high","title":"from the image"}');
        assert.equal(r.status, 200, r.text);
        assert.doesNotMatch(stderr, /"level":"(error|fatal)"/);
        const code = await new Promise<number | null>((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGTERM');
        });
        assert.equal(code, 0, stderr);
      } finally {
        child.kill('SIGKILL');
        cleanup(plugins, data);
      }
      assert.deepEqual(
        snapshot(app),
        before,
        'files changed under /app: the root filesystem would need to be writable',
      );
    });

    test('kubernetes mode loads from the production install (fails only on the unreachable API server)', async () => {
      const dir = tempDir('zw-kc-');
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(
        kubeconfig,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
          users: [{ name: 'u', user: { token: 't' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        }),
      );
      try {
        const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ['core/cli/main.ts', 'run'], {
            cwd: app,
            env: { PATH: process.env.PATH ?? '', ZEN_MODE: 'kubernetes', KUBECONFIG: kubeconfig, POD_NAMESPACE: 'x' },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (c) => resolve({ code: c, stderr: err }));
        });
        assert.equal(code, 1, stderr);
        assert.match(stderr, /API server https:\/\/127\.0\.0\.1:1 .*did not answer/);
        assert.doesNotMatch(stderr, /ERR_MODULE_NOT_FOUND|Cannot find (package|module)/);
      } finally {
        cleanup(dir);
      }
    });
  });
});

/** Every file under dir with its size and mtime. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        out.push(`${relative(dir, p)} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}
