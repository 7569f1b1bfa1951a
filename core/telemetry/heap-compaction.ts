/**
 * One memory-reducing garbage collection shortly after start-up (ADR 0034).
 *
 * Start-up allocates a lot that it never uses again: the modules' source and compiled code, ajv compiling every
 * plugin's schema, the embedded YAML, the plugins' imports. V8 collects garbage only when the program allocates, so
 * an idle operator kept 15–20 MB of it, and the young generation as large as start-up had grown it, for as long as
 * nothing happened (95–100 MB of idle RSS where 80–83 MB are live; docs/BENCHMARKS.md, issue #18 eighth round).
 * One full collection that also shrinks the young generation and returns the pages (V8's "last resort" GC, the one
 * a memory-pressure notification runs) brings idle RSS to what is live, once, right after start.
 *
 * V8 offers that collection only through `gc()`, which exists when node runs with `--expose-gc` (the start script and
 * the image do). Without it this does nothing: the flag is not set at run time, because changing V8's flags after
 * start changes the flag hash that Node's compile cache checks, and every module loaded later would be compiled
 * again.
 */
import type { Logger } from './logger.ts';

/** V8's `gc()` with options (--expose-gc). */
type ExposedGc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: string }) => void;

/** After the host has started: late enough that start-up is over, early enough to be done before a probe looks. */
export const COMPACT_AFTER_START_MS = 1000;

/**
 * Schedules the collection `delayMs` after now (unref'd: it never keeps the process up). Returns a cancel function.
 * When `gc` is not exposed, logs that at debug and does nothing.
 */
export function compactHeapAfterStart(log: Logger, delayMs = COMPACT_AFTER_START_MS): () => void {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  if (typeof gc !== 'function') {
    log.debug({}, 'start-up heap compaction skipped: node runs without --expose-gc');
    return () => {};
  }
  const timer = setTimeout(() => {
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const ms = performance.now() - started;
    const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
    log.info(
      { rssMbBefore: mb(rssBefore), rssMbAfter: mb(process.memoryUsage.rss()), ms: Math.round(ms) },
      'start-up garbage collected',
    );
  }, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
}
