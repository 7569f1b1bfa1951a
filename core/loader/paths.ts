/**
 * Plugin code is loaded only from inside the configured plugin directories (ADR 0015, docs/SECURITY.md). A
 * directory named in ZEN_PLUGIN_DIRS (or the built-in one) may itself be a symlink: that is the operator's
 * configuration, and it is resolved once. Below it, a plugin directory, its entry file and its config schema must
 * resolve (symlinks followed) to a path inside that directory: a symlink that leads out of it is refused, so that
 * whoever can place a link in a plugin directory cannot make the host load code kept elsewhere (a writable /tmp, a
 * home directory). Links that stay inside are fine. To load a plugin kept elsewhere, name its real directory in
 * ZEN_PLUGIN_DIRS. What the entry then imports is the plugin's own business (its node_modules may be links).
 */
import { realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The real path, or undefined when it does not exist (a dangling link). */
export function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/**
 * Why `dir` (found in the configured directory `root`) may not be loaded from, or undefined. `files` are the
 * manifest's paths relative to `dir` (entry, configSchema).
 */
export function outsideReason(root: string, dir: string, files: readonly string[] = []): string | undefined {
  const realRoot = realPath(root) ?? root;
  const realDir = realPath(dir);
  if (realDir === undefined) return `${dir} is a symlink that leads nowhere`;
  if (!isInside(realRoot, realDir))
    return `${dir} is a symlink to ${realDir}, outside the plugin directory ${root}; plugins are loaded only from inside the configured directories (to load it, add ${realDir} to ZEN_PLUGIN_DIRS)`;
  for (const file of files) {
    const realFile = realPath(join(dir, file));
    if (realFile !== undefined && !isInside(realDir, realFile))
      return `${file} is a symlink to ${realFile}, outside the plugin's directory ${dir}; a plugin's entry and config schema must be inside its directory`;
  }
  return undefined;
}
