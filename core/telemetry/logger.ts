/**
 * Structured JSON logs (pino). Never log secrets or whole payloads: callers pass sizes and identities, not
 * bodies. `LOG_LEVEL` sets the level (default info).
 */
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(
  opts: { level?: string; destination?: NodeJS.WritableStream; name?: string } = {},
): Logger {
  return pino(
    {
      name: opts.name ?? 'zen-watcher',
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['*.authorization', '*.token', '*.secret', '*.password', 'headers.*'], censor: '[redacted]' },
    },
    opts.destination ? (opts.destination as pino.DestinationStream) : pino.destination({ dest: 2, sync: false }),
  );
}

/**
 * "Counted in a metric and logged once": the first drop of each (source, reason) is logged at info (or `level`)
 * with a hint, later ones at debug, so a flood of identical drops does not flood the log.
 */
export function createDropLogger(log: Logger, level: 'info' | 'warn' | 'error' = 'info') {
  const seen = new Set<string>();
  return (source: string, reason: string, detail: object = {}) => {
    const key = `${source}\u0000${reason}`;
    if (seen.has(key) || seen.size > 10_000) {
      log.debug({ source, reason, ...detail }, 'draft dropped');
    } else {
      seen.add(key);
      log[level](
        { source, reason, ...detail },
        level === 'info'
          ? 'draft dropped (first of its kind; later ones are logged at debug and counted in metrics)'
          : 'write refused by the sink: answered 503 with Retry-After, not stored (first of its kind; later ones are logged at debug and counted in zen_watcher_observations_refused_total)',
      );
    }
  };
}
