/** This build's version: the `version` of the repository's package.json (zen_watcher_build_info, logs). */
import { readFileSync } from 'node:fs';

export const HOST_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
