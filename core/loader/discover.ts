/**
 * Finds plugin directories and admits them WITHOUT importing code: reads package.json, validates the manifest,
 * checks hostApi with semver, rejects duplicates, compiles the config schema. `zen-watcher validate` and
 * `plugins list` use this alone; the host then imports the admitted ones (load.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Ajv, ValidateFunction } from 'ajv';
import { type PluginManifest, pluginManifestSchema } from '../api/index.ts';
import {
  checkHostApi,
  checkManifest,
  checkPackageJson,
  checkUnique,
  type LoadFailure,
  type PackageJson,
  type PluginStatus,
  unscopedName,
} from './checks.ts';
import { outsideReason } from './paths.ts';

export interface PluginRecord {
  name: string;
  version: string;
  dir: string;
  status: PluginStatus;
  reason: string;
  code?: LoadFailure['code'];
  /** Uncontained faults of its code (unhandled rejections, exceptions from its timers) so far. */
  faults?: number;
  /** The last of those faults, for `plugins list`. */
  lastFault?: string;
  manifest?: PluginManifest;
  validateConfig?: ValidateFunction;
}

/** Expand the search path: a directory that is itself a plugin, or a directory of plugin directories. */
export function pluginDirectories(searchPath: readonly string[]): string[] {
  return foundDirectories(searchPath).flatMap((f) => ('unusable' in f ? [] : [f.dir]));
}

type Found = { dir: string; root: string } | { dir: string; unusable: string };

/**
 * Each plugin directory with the configured directory it was found in (its root, for the symlink check), and each
 * search path entry that cannot be searched, with why: a mistyped ZEN_PLUGIN_DIRS entry is reported, not skipped.
 */
function foundDirectories(searchPath: readonly string[]): Found[] {
  const out: Found[] = [];
  for (const entry of searchPath) {
    const dir = resolve(entry);
    const unusable = unusableReason(dir);
    if (unusable) {
      out.push({ dir, unusable });
      continue;
    }
    if (isPluginDir(dir)) {
      out.push({ dir, root: dir });
      continue;
    }
    for (const child of readdirSync(dir).sort()) {
      const sub = join(dir, child);
      if (
        child !== 'node_modules' &&
        !child.startsWith('.') &&
        statSync(sub, { throwIfNoEntry: false })?.isDirectory() &&
        existsSync(join(sub, 'package.json'))
      ) {
        out.push({ dir: sub, root: dir });
      }
    }
  }
  return out;
}

/** Why a search path entry cannot be searched, or undefined. The record names the directory; this says why. */
function unusableReason(dir: string): string | undefined {
  const entry = 'a ZEN_PLUGIN_DIRS or ZEN_BUILTIN_PLUGIN_DIR entry; no plugins loaded from it';
  try {
    const stat = statSync(dir, { throwIfNoEntry: false });
    if (!stat) return `does not exist (${entry})`;
    if (!stat.isDirectory()) return `is not a directory (${entry})`;
    readdirSync(dir);
    return undefined;
  } catch (err) {
    return `cannot be read: ${(err as Error).message} (${entry})`;
  }
}

/** Name and version for the listing of a refused directory (reading its package.json runs no code). */
function identity(dir: string): { name: string; version: string } {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    return {
      name: typeof pkg.name === 'string' ? unscopedName(pkg.name) : '?',
      version: typeof pkg.version === 'string' ? pkg.version : '?',
    };
  } catch {
    return { name: '?', version: '?' };
  }
}

function isPluginDir(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    return pkg.zenWatcher !== undefined;
  } catch {
    return false;
  }
}

export function discoverPlugins(
  searchPath: readonly string[],
  opts: { ajv: Ajv; hostApiVersion: string },
): PluginRecord[] {
  const validateManifest = opts.ajv.getSchema(pluginManifestSchema.$id) ?? opts.ajv.compile(pluginManifestSchema);
  const takenNames = new Map<string, string>();
  const takenHandlers = new Map<string, string>();
  const takenDestinations = new Map<string, string>();
  const records: PluginRecord[] = [];

  for (const found of foundDirectories(searchPath)) {
    const { dir } = found;
    // Reported like a plugin that failed: the host logs it (warn, once per start), `plugins list` shows it.
    if ('unusable' in found) {
      records.push({
        name: '?',
        version: '?',
        dir,
        status: 'failed',
        code: 'ZW_ERR_PLUGIN_PATH',
        reason: found.unusable,
      });
      continue;
    }
    const { root } = found;
    const outside = outsideReason(root, dir, ['package.json']);
    if (outside) {
      records.push({ ...identity(dir), dir, status: 'failed', code: 'ZW_ERR_PLUGIN_PATH', reason: outside });
      continue;
    }
    let pkg: PackageJson;
    try {
      pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    } catch (err) {
      records.push({
        name: '?',
        version: '?',
        dir,
        status: 'failed',
        code: 'ZW_ERR_PLUGIN_MANIFEST',
        reason: `cannot read package.json: ${(err as Error).message}`,
      });
      continue;
    }
    const name = typeof pkg.name === 'string' ? unscopedName(pkg.name) : '?';
    const version = typeof pkg.version === 'string' ? pkg.version : '?';
    const base = { name, version, dir };
    const fail = checkPackageJson(pkg) ?? checkManifest(pkg.zenWatcher, validateManifest);
    if (fail) {
      records.push({ ...base, ...fail });
      continue;
    }
    const manifest = pkg.zenWatcher as PluginManifest;
    const fileOutside = outsideReason(root, dir, [
      manifest.entry,
      ...(manifest.configSchema ? [manifest.configSchema] : []),
    ]);
    if (fileOutside) {
      records.push({ ...base, manifest, status: 'failed', code: 'ZW_ERR_PLUGIN_PATH', reason: fileOutside });
      continue;
    }
    // A destination-only plugin has no sources: the rest of the host reads an empty list.
    manifest.sources ??= [];
    const later =
      checkHostApi(manifest, opts.hostApiVersion) ??
      checkUnique(name, manifest, takenNames, takenHandlers, takenDestinations);
    if (later) {
      records.push({ ...base, manifest, ...later });
      continue;
    }
    let validateConfig: ValidateFunction | undefined;
    if (manifest.configSchema) {
      const compiled = compileConfigSchema(dir, manifest.configSchema, opts.ajv);
      if ('failure' in compiled) {
        records.push({ ...base, manifest, ...compiled.failure });
        continue;
      }
      validateConfig = compiled.validate;
    }
    takenNames.set(name, dir);
    for (const h of manifest.sources) takenHandlers.set(h, name);
    for (const t of manifest.destinations ?? []) takenDestinations.set(t, name);
    records.push({ ...base, manifest, status: 'loaded', reason: '', ...(validateConfig ? { validateConfig } : {}) });
  }
  return records;
}

function compileConfigSchema(
  dir: string,
  file: string,
  ajv: Ajv,
): { validate: ValidateFunction } | { failure: LoadFailure } {
  const path = join(dir, file);
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    return {
      failure: {
        status: 'failed',
        code: 'ZW_ERR_PLUGIN_SCHEMA',
        reason: `configSchema ${file}: cannot read JSON: ${(err as Error).message}`,
      },
    };
  }
  try {
    // A schema's $id would collide between two loads of the same plugin (tests, validate); drop it.
    const { $id: _id, ...rest } = (schema ?? {}) as Record<string, unknown>;
    if (rest.type !== 'object') {
      return {
        failure: {
          status: 'failed',
          code: 'ZW_ERR_PLUGIN_SCHEMA',
          reason: `configSchema ${file}: the top level must be {"type": "object", ...}`,
        },
      };
    }
    return { validate: ajv.compile(rest) };
  } catch (err) {
    return {
      failure: {
        status: 'failed',
        code: 'ZW_ERR_PLUGIN_SCHEMA',
        reason: `configSchema ${file} is not a valid JSON Schema: ${readableSchemaError((err as Error).message)}`,
      },
    };
  }
}

/** ajv's "schema is invalid: data/properties/x/type must be ..." → "properties.x.type must be ..." for authors. */
function readableSchemaError(message: string): string {
  return message
    .replace(/^schema is invalid: /, '')
    .replace(/data((?:\/[^\s,]+)*)/g, (_m, path: string) => (path ? path.slice(1).replace(/\//g, '.') : '(top level)'))
    .replace(/strict mode: /, 'strict mode (fix the keyword): ');
}
