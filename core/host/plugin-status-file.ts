/**
 * The running host's view of its plugins, for `zen-watcher plugins list` (a separate process): after a plugin's
 * fault count or status changed at run time (core/host/plugin-faults.ts), the host writes
 * `ZEN_DATA_DIR/plugins.json` (atomically: a temporary file, then a rename). `plugins list` shows that view while
 * the process that wrote it is alive, and ignores a file left by one that is gone. Writing is best effort: a data
 * directory that cannot be written (a read-only root filesystem in kubernetes mode) is logged once, and the metrics
 * and the log still say everything.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PluginRecord } from '../loader/index.ts';
import type { Logger } from '../telemetry/logger.ts';

export const PLUGIN_STATUS_FILE = 'plugins.json';

export interface LivePluginStatus {
  name: string;
  version: string;
  dir: string;
  status: PluginRecord['status'];
  reason: string;
  faults: number;
  lastFault?: string;
}

export interface LiveStatusFile {
  pid: number;
  updatedAt: string;
  plugins: LivePluginStatus[];
}

let warned = false;

export function publishPluginStatus(dataDir: string, records: readonly PluginRecord[], log: Logger): void {
  const file: LiveStatusFile = {
    pid: process.pid,
    updatedAt: new Date().toISOString(),
    plugins: records.map((r) => ({
      name: r.name,
      version: r.version,
      dir: r.dir,
      status: r.status,
      reason: r.reason,
      faults: r.faults ?? 0,
      ...(r.lastFault !== undefined ? { lastFault: r.lastFault } : {}),
    })),
  };
  const path = join(dataDir, PLUGIN_STATUS_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    if (!warned) {
      warned = true;
      log.warn(
        { path, err: (err as Error).message },
        'cannot write the plugin status file for `plugins list`; the metrics and this log still show plugin faults',
      );
    }
  }
}

/** The live status written by a running host, or undefined (no file, unreadable, or its process is gone). */
export function readLivePluginStatus(dataDir: string): LiveStatusFile | undefined {
  let file: LiveStatusFile;
  try {
    file = JSON.parse(readFileSync(join(dataDir, PLUGIN_STATUS_FILE), 'utf8')) as LiveStatusFile;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(file?.pid) || !Array.isArray(file.plugins)) return undefined;
  try {
    process.kill(file.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return file;
}
