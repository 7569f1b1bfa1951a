/**
 * Issue #18, idle RSS of `npm start` under 100 MB: a standalone server does not load what it never uses. Each module
 * named here was loaded at every start by an ES module import and cost megabytes of idle RSS (docs/BENCHMARKS.md,
 * "Idle RSS, third round"): an ES module namespace of node:http runs its lazy getters (undici, http2, tls, zlib);
 * prom-client's index loads its Pushgateway (tls), its cluster aggregator and @opentelemetry/api; semver's index is
 * its whole API; client-node is for kubernetes mode only. The server is started as `npm start` starts it, with a
 * preload that records every module loaded until the server has listened and settled.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanup, npmStartArgs, tempDir } from '../support/host.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

const RECORDER = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const urls = new Set();
registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); urls.add(r.url); return r; } });
process.prependListener('SIGTERM', () => {
  writeFileSync(process.env.ZW_TEST_MODULES_OUT, JSON.stringify({ builtins: process.moduleLoadList, urls: [...urls] }));
});
`;

interface Loaded {
  builtins: string[];
  urls: string[];
}

/** Starts the server as `npm start` does, with the recorder preloaded; stops it once settled; what it loaded. */
async function startRecorded(dir: string, env: Record<string, string> = {}): Promise<Loaded> {
  const out = join(dir, `loaded-${Date.now()}.json`);
  writeFileSync(join(dir, 'record.mjs'), RECORDER);
  const [flags, entry] = [npmStartArgs().slice(0, -1), npmStartArgs().at(-1)!];
  const { NODE_COMPILE_CACHE: _own, ...inherited } = process.env;
  const child = spawn(process.execPath, [...flags, '--import', join(dir, 'record.mjs'), entry, 'run'], {
    env: {
      ...inherited,
      ZEN_MODE: 'standalone',
      PORT: '0',
      ZEN_LISTEN_HOST: '127.0.0.1',
      ZEN_DATA_DIR: join(dir, 'data'),
      ZW_TEST_MODULES_OUT: out,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "port" in the log within 60 s:\n${stderr}`)), 60_000);
      child.stderr!.on('data', (d) => {
        stderr += d;
        if (stderr.includes('"port":')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, 1000)); // what loads just after listening (timers, first ticks)
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    const loaded = JSON.parse(readFileSync(out, 'utf8')) as Loaded;
    assert.ok(
      loaded.urls.some((u) => u.endsWith('/core/host/standalone.ts')),
      'the recorder saw the server load',
    );
    return loaded;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

test('a standalone start (npm start, default config) loads no undici, http2, tls, @opentelemetry/api, client-node or semver index', async () => {
  const dir = tempDir('zw-start-modules-');
  try {
    const loaded = await startRecorded(dir);
    for (const b of ['internal/deps/undici/undici', 'http2', 'tls']) {
      assert.ok(!loaded.builtins.includes(`NativeModule ${b}`), `node:${b} is not loaded by a standalone start`);
    }
    for (const pkg of [
      '/node_modules/@opentelemetry/',
      '/node_modules/@kubernetes/client-node/dist/index.js',
      '/node_modules/@koa/router/dist/index.mjs',
      '/node_modules/prom-client/index.js',
      '/node_modules/semver/index.js',
    ]) {
      const hit = loaded.urls.find((u) => u.includes(pkg));
      assert.equal(hit, undefined, `${pkg} is not loaded by a standalone start`);
    }
  } finally {
    cleanup(dir);
  }
});

// The type stripper is WebAssembly whose memory stays with the process: a first start that strips types idles
// ~27 MB higher (docs/BENCHMARKS.md). `npm ci` runs scripts/warm-compile-cache.ts (package.json `prepare`).
test('after scripts/warm-compile-cache.ts the first start strips no TypeScript (a start on an empty cache does)', async () => {
  const dir = tempDir('zw-start-warm-');
  const STRIPPER = 'NativeModule internal/deps/amaro/dist/index';
  try {
    const cold = await startRecorded(dir, { ZEN_COMPILE_CACHE: join(dir, 'cold-cache') });
    assert.ok(cold.builtins.includes(STRIPPER), 'control: a start on an empty cache strips types');
    const warmed = join(dir, 'warm-cache');
    const [flags] = [npmStartArgs().slice(0, -1)];
    const { NODE_COMPILE_CACHE: _own, ...inherited } = process.env;
    const { status, stdout, stderr } = spawnSync(
      process.execPath,
      [...flags, join(REPO, 'scripts/warm-compile-cache.ts'), warmed],
      { env: inherited, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(status, 0, stderr);
    assert.match(stdout, /compile cache: (\d+) of \1 modules warmed/);
    const first = await startRecorded(dir, { ZEN_COMPILE_CACHE: warmed });
    assert.ok(!first.builtins.includes(STRIPPER), 'the first start after the warm-up loaded the type stripper');
  } finally {
    cleanup(dir);
  }
});

// ADR 0034: the start script runs node with --expose-gc, and the host collects start-up's garbage once after start
// (20 MB of idle RSS when measured: docs/BENCHMARKS.md, issue #18 eighth round).
test('`npm start` collects start-up garbage once, after it listens, and its RSS goes down', async () => {
  const dir = tempDir('zw-start-gc-');
  const [flags, entry] = [npmStartArgs().slice(0, -1), npmStartArgs().at(-1)!];
  assert.ok(flags.includes('--expose-gc'), `the start script's flags: ${flags.join(' ')}`);
  const child = spawn(process.execPath, [...flags, entry, 'run'], {
    env: {
      ...process.env,
      ZEN_MODE: 'standalone',
      PORT: '0',
      ZEN_LISTEN_HOST: '127.0.0.1',
      ZEN_DATA_DIR: join(dir, 'data'),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    let stderr = '';
    const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no compaction logged within 30 s:\n${stderr}`)), 30_000);
      child.stderr!.on('data', (d) => {
        stderr += d;
        const l = stderr.split('\n').find((s) => s.includes('"start-up garbage collected"'));
        if (l) {
          clearTimeout(timer);
          resolve(JSON.parse(l) as Record<string, unknown>);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${stderr}`)));
    });
    assert.ok(stderr.indexOf('"listening on') < stderr.indexOf('"start-up garbage collected"'), stderr);
    assert.ok(
      (line.rssMbAfter as number) < (line.rssMbBefore as number),
      `RSS ${line.rssMbBefore} MB before, ${line.rssMbAfter} MB after`,
    );
  } finally {
    child.kill('SIGKILL');
    cleanup(dir);
  }
});
