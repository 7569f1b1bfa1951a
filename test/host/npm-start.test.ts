/**
 * Issue #14 item 10: the documented ways to run zen-watcher through npm shut down gracefully when npm is signalled.
 * npm passes SIGTERM/SIGINT to the `sh -c` it runs a script in, and that shell dies without passing it on: the
 * server used to be orphaned and keep running. Each test signals the npm process (or, for Ctrl-C, its process
 * group, as a terminal does) and checks that the server itself logged its graceful `stopped` and is gone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cleanup, REPO, tempDir } from '../support/host.ts';
import { alive, descendants, expectGracefulStop, killAll, type NpmRun, startThroughNpm } from '../support/npm.ts';
import { waitFor } from '../support/wait.ts';

describe('npm and signals', () => {
  test('SIGTERM to `npm start` stops the server gracefully (no shell left in between)', async () => {
    const dataDir = tempDir('zw-data-');
    let run: NpmRun | undefined;
    try {
      run = await startThroughNpm(['start'], dataDir);
      assert.ok(
        !descendants(run.npm.pid!).some((p) => /^(\/bin\/)?sh /.test(p.cmd)),
        'the start script execs node: no sh between npm and the server',
      );
      run.npm.kill('SIGTERM');
      await expectGracefulStop(run, 'SIGTERM to npm');
      assert.match(run.stderr(), /"reason":"received SIGTERM"/);
      assert.equal(await run.exited, 0, 'npm exits with the server exit code');
    } finally {
      killAll(run);
      cleanup(dataDir);
    }
  });

  test('Ctrl-C (SIGINT to the process group of `npm start`) stops it gracefully, though the server gets it twice', async () => {
    const dataDir = tempDir('zw-data-');
    let run: NpmRun | undefined;
    try {
      run = await startThroughNpm(['start'], dataDir);
      process.kill(-run.npm.pid!, 'SIGINT');
      await expectGracefulStop(run, 'SIGINT to the group');
      assert.match(run.stderr(), /"reason":"received SIGINT"/);
    } finally {
      killAll(run);
      cleanup(dataDir);
    }
  });

  test('SIGTERM to `npx zen-watcher run` stops the server gracefully (npm keeps a shell there: the bin follows npm)', async () => {
    const dataDir = tempDir('zw-data-');
    let run: NpmRun | undefined;
    try {
      run = await startThroughNpm(['exec', '--no-install', '--', 'zen-watcher', 'run'], dataDir);
      run.npm.kill('SIGTERM');
      await expectGracefulStop(run, 'SIGTERM to npx');
      assert.match(run.stderr(), /"reason":"its parent process \(pid \d+\) exited; started by npm \('npx'\)"/);
    } finally {
      killAll(run);
      cleanup(dataDir);
    }
  });
});

describe('signals when the log reader is gone', () => {
  test('SIGTERM still ends a server whose stderr pipe lost its reader (its parent died)', async () => {
    const dataDir = tempDir('zw-data-');
    // A parent that starts the server with piped stdio, waits until it listens, and exits: the pipes' reader is gone.
    const parent = `
      const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, [${JSON.stringify(join(REPO, 'core/cli/main.ts'))}, 'run'], {
        env: { ...process.env, ZEN_MODE: 'standalone', PORT: '0', ZEN_LISTEN_HOST: '127.0.0.1', ZEN_DATA_DIR: ${JSON.stringify(dataDir)}, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let err = '';
      child.stderr.on('data', (d) => { err += d; if (/listening on/.test(err)) { console.log(child.pid); process.exit(0); } });`;
    const pid = Number(execFileSync(process.execPath, ['-e', parent], { encoding: 'utf8', timeout: 30_000 }).trim());
    try {
      assert.ok(alive(pid));
      process.kill(pid, 'SIGTERM');
      // pino's synchronous flush at exit used to retry the broken pipe forever (the process never ended).
      await waitFor('the server exits', () => !alive(pid), 15_000);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      cleanup(dataDir);
    }
  });
});
