/**
 * The zen-watcher CLI: `run` (the operator), `validate FILE...`, `plugins list`, `observations list`.
 * Output for people goes to stdout; logs go to stderr. Exit codes: 0 ok, 1 problems found, 2 usage error.
 * Loaded by main.ts (the entry point) once the compile cache is on.
 */
import { parseArgs } from 'node:util';
import { HOST_API_VERSION } from '../api/index.ts';
import { EnvError, readEnv } from '../config/env.ts';
import { startHost } from '../host/host.ts';
import { HOST_VERSION } from '../host/version.ts';
import { compactHeapAfterStart } from '../telemetry/heap-compaction.ts';
import { createLogger } from '../telemetry/logger.ts';
import { observationsList } from './observations.ts';
import { pluginsList } from './plugins.ts';
import { pluginCommand } from './scaffold.ts';
import { untilShutdown } from './signals.ts';
import { validateFiles } from './validate.ts';

export const HELP = `zen-watcher — security findings from Trivy, Kyverno, Falco, Kubernetes audit and any webhook,
as one stream of Observation resources.

Usage:
  zen-watcher run                         Run the operator (default command). Standalone with no cluster.
  zen-watcher validate FILE...            Validate Ingester YAML/JSON files offline; exit 1 on any error.
  zen-watcher plugins list [-o json]      Discovered plugins: name, version, directory, status, reason.
  zen-watcher plugin new NAME --kind webhook|informer|destination [--dir PATH] | plugin test [DIR]
                                          Create a source plugin outside the repo; run its own tests.
  zen-watcher observations list [--source S] [--severity S] [--limit N] [-o json]
                                          Observations: the standalone store (ZEN_DATA_DIR), or the
                                          cluster's in Kubernetes mode (KUBECONFIG).
  zen-watcher --help | --version

Environment (all optional; full table in docs/CONFIGURATION.md):
  ZEN_MODE            auto | standalone | kubernetes (auto: kubernetes inside a pod, else standalone)
  PORT                HTTP port for webhooks, /healthz, /readyz, /metrics (default 8080)
  ZEN_CONFIG_DIR      standalone Ingester files (default: config/standalone in the install)
  ZEN_DATA_DIR        standalone Observation store (default .zen-watcher)
  ZEN_PLUGIN_DIRS     extra plugin directories, colon-separated
  LOG_LEVEL           trace | debug | info | warn | error | fatal | silent (default info)
  ZEN_MAX_BODY_BYTES  default webhook body limit (default 1048576)
  ZEN_DEDUP_WINDOW_SECONDS, ZEN_DEDUP_MAX_ENTRIES, ZEN_OBSERVATION_TTL_SECONDS, ZEN_MAX_QUEUE,
  ZEN_HOOK_TIMEOUT_SECONDS, ZEN_SHUTDOWN_TIMEOUT_SECONDS, ZEN_WEBHOOK_ACK_WAIT_MS, ZEN_GC_INTERVAL_SECONDS
  ZEN_WEBHOOK_ACK_PENDING
                      answer when a webhook's write outlasts ZEN_WEBHOOK_ACK_WAIT_MS: retry (default; 503 +
                      Retry-After, a 2xx means stored) | accept (202, in memory: for senders that never retry);
                      ZEN_WEBHOOK_ACK_WAIT_MS=0 (answer at once) needs accept
  ZEN_STORE_WRITER    standalone store commits: worker (default; a worker thread, the event loop keeps serving) |
                      inline (on the event loop: less CPU per event in total, one core)
  ZEN_SHARD_SLOTS     kubernetes mode: informer work split across replicas on this many slot Leases
                      (default 16; 1 = the leader alone)
  ZEN_SHARD_NAMESPACE_WATCHES
                      kubernetes mode: per-namespace watches per informer before falling back to one
                      cluster-wide watch (default 64; 0 = always cluster-wide)
  ZEN_READY_INDEX_WAIT_SECONDS
                      kubernetes mode: at start, /readyz waits at most this long for the read index's first list
                      when a deduplicated Ingester asks it (default 30; 0 = do not wait)
`;

export async function main(argv: string[]): Promise<number> {
  const [command = 'run', ...rest] = argv;
  // `observations list | head`: a reader that stops early closes the pipe. That ends the output, as for any Unix
  // tool, not in an unhandled 'error' event's stack trace.
  if (command !== 'run') quietOnClosedPipe();
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === '--version') {
    process.stdout.write(
      `zen-watcher ${HOST_VERSION} (plugin API ${HOST_API_VERSION}, node ${process.versions.node})\n`,
    );
    return 0;
  }
  try {
    switch (command) {
      case 'run':
        return await run(rest);
      case 'validate':
        return validateFiles(rest, readEnv());
      case 'plugins': {
        const { positionals, values } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { output: { type: 'string', short: 'o', default: 'table' } },
        });
        if (positionals[0] !== 'list') return usage(`unknown plugins subcommand '${positionals[0] ?? ''}'`);
        if (positionals.length > 1)
          return usage(`plugins list takes no arguments, got '${positionals.slice(1).join(' ')}'`);
        return pluginsList(readEnv(), values.output);
      }
      case 'plugin':
        return await pluginCommand(rest, readEnv());
      case 'observations': {
        const { positionals, values } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            output: { type: 'string', short: 'o', default: 'table' },
            source: { type: 'string' },
            severity: { type: 'string' },
            limit: { type: 'string', default: '1000' },
          },
        });
        if (positionals[0] !== 'list') return usage(`unknown observations subcommand '${positionals[0] ?? ''}'`);
        // `observations list critical` listed everything: filters are flags.
        if (positionals.length > 1)
          return usage(
            `observations list takes no arguments (filter with --source, --severity), got '${positionals.slice(1).join(' ')}'`,
          );
        return observationsList(readEnv(), values);
      }
      default:
        return usage(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof EnvError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      return usage((err as Error).message);
    throw err;
  }
}

function usage(message: string): number {
  process.stderr.write(`zen-watcher: ${message}\nRun 'zen-watcher --help' for usage.\n`);
  return 2;
}

async function run(args: string[]): Promise<number> {
  if (args.length > 0)
    return usage(`run takes no arguments (configure with environment variables), got '${args.join(' ')}'`);
  const env = readEnv();
  const log = createLogger({ level: env.logLevel });
  let host: Awaited<ReturnType<typeof startHost>>;
  try {
    host = await startHost({ env, log });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    log.flush();
    return 1;
  }
  // Start-up's garbage, collected once while the process is still new (ADR 0034).
  const cancelCompaction = compactHeapAfterStart(log);
  return await untilShutdown({
    log,
    stop: (reason) => {
      cancelCompaction();
      return host.stop(reason);
    },
  });
}

function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
