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
        () => {
          opts.log.flush();
          resolve(0);
        },
        (err) => {
          opts.log.error({ err: (err as Error).message }, 'shutdown failed');
          opts.log.flush();
          resolve(1);
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
