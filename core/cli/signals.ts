/**
 * How `zen-watcher run` ends (docs/CLI.md § run): the first SIGTERM or SIGINT starts one graceful stop; signals
 * that arrive while it runs are logged and ignored, so the stop is never cut short. A Ctrl-C under `npm start`
 * reaches the server twice (from the terminal, to the whole process group, and forwarded by npm), and a process
 * manager may repeat its SIGTERM.
 *
 * When npm started the process (`npm_lifecycle_event` is set: `npm start`, `npm run …`, `npx zen-watcher`), the
 * server also stops gracefully when npm goes away. npm runs a script through `sh -c`, and a shell that waits for a
 * command dies on SIGTERM without passing it on: the package's own scripts `exec` node so that no shell stays in
 * between, but a command line npm builds itself (`npx zen-watcher run`) keeps one. Without this watch the server
 * would be orphaned and keep running (in kubernetes mode: keep leading, so no handover). Outside npm the parent is
 * not watched: `nohup zen-watcher run &` must survive its shell.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { Logger } from '../telemetry/logger.ts';

export interface ShutdownOptions {
  log: Logger;
  /** The graceful stop; called once. */
  stop: (reason: string) => Promise<void>;
  env?: NodeJS.ProcessEnv;
  /** How often the parent is checked when npm started the process (ms). */
  parentPollMs?: number;
}

/** Resolves with the exit code once the process has been asked to stop and the graceful stop has finished. */
export function untilShutdown(opts: ShutdownOptions): Promise<number> {
  const env = opts.env ?? process.env;
  return new Promise<number>((resolve) => {
    let stopping = false;
    let parentWatch: NodeJS.Timeout | undefined;
    const begin = (reason: string) => {
      if (stopping) {
        opts.log.info({ reason }, 'already shutting down; ignored');
        return;
      }
      stopping = true;
      clearInterval(parentWatch);
      opts.stop(reason).then(
        () => flushed(opts.log).then(() => resolve(0)),
        (err) => {
          opts.log.error({ err: (err as Error).message }, 'shutdown failed');
          return flushed(opts.log).then(() => resolve(1));
        },
      );
    };
    // The handlers stay installed for the whole life of the process: a second signal must not fall back to
    // Node's default action (exit at once, without the drain or the Lease release).
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => begin(`received ${sig}`));

    if (env.npm_lifecycle_event !== undefined) {
      const parent = process.ppid;
      parentWatch = setInterval(() => {
        if (process.ppid !== parent)
          begin(`its parent process (pid ${parent}) exited; started by npm ('${env.npm_lifecycle_event}')`);
      }, opts.parentPollMs ?? 1000);
      parentWatch.unref();
    }
  });
}

/**
 * Waits (at most 1 s) until the log lines written so far have left the process. pino writes asynchronously and, at
 * exit, flushes what is left synchronously; if the log reader is gone (the pipe of a dead parent: EPIPE), that
 * synchronous flush retries forever (sonic-boom 4) and the process never exits. Once the asynchronous write has
 * failed, pino drops the logs instead (its EPIPE filter), so the exit goes through. pino offers no "written"
 * callback (flush() calls back at once), so this polls the destination's in-flight flag.
 */
async function flushed(log: Logger): Promise<void> {
  const stream = (log as unknown as Record<symbol, { _writing?: boolean; _len?: number } | undefined>)[
    pino.symbols.streamSym
  ];
  const deadline = Date.now() + 1000;
  while (stream && (stream._writing || (stream._len ?? 0) > 0) && Date.now() < deadline) await sleep(5);
}
