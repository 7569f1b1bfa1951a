/**
 * Plugin admission as a chain of small named checks (fastify plugin-utils style). Each returns undefined when the
 * plugin passes, or a LoadFailure whose reason tells the author what to fix. No plugin code is imported here.
 */
import type { ValidateFunction } from 'ajv';
import semver from 'semver';
import type { PluginManifest } from '../api/index.ts';
import { ajvErrorsToFieldErrors } from '../config/validate.ts';

export type PluginStatus = 'loaded' | 'incompatible' | 'failed' | 'duplicate';

export interface LoadFailure {
  status: Exclude<PluginStatus, 'loaded'>;
  code:
    | 'ZW_ERR_PLUGIN_MANIFEST'
    | 'ZW_ERR_PLUGIN_HOST_API'
    | 'ZW_ERR_PLUGIN_DUPLICATE'
    | 'ZW_ERR_PLUGIN_SCHEMA'
    | 'ZW_ERR_PLUGIN_IMPORT'
    | 'ZW_ERR_PLUGIN_SHAPE'
    | 'ZW_ERR_PLUGIN_REGISTER';
  reason: string;
}

export interface PackageJson {
  name?: unknown;
  version?: unknown;
  zenWatcher?: unknown;
}

/** The plugin's identity before any import: the package name without its npm scope. */
export function unscopedName(name: string): string {
  return name.startsWith('@') ? (name.split('/')[1] ?? name) : name;
}

export function checkPackageJson(pkg: PackageJson): LoadFailure | undefined {
  if (typeof pkg.name !== 'string' || !/^(@[a-z0-9-]+\/)?[a-z][a-z0-9-]*$/.test(pkg.name)) {
    return {
      status: 'failed',
      code: 'ZW_ERR_PLUGIN_MANIFEST',
      reason: `package.json "name" must be a kebab-case package name, got ${JSON.stringify(pkg.name)}`,
    };
  }
  if (typeof pkg.version !== 'string' || !semver.valid(pkg.version)) {
    return {
      status: 'failed',
      code: 'ZW_ERR_PLUGIN_MANIFEST',
      reason: `package.json "version" must be a semver version, got ${JSON.stringify(pkg.version)}`,
    };
  }
  if (pkg.zenWatcher === undefined) {
    return {
      status: 'failed',
      code: 'ZW_ERR_PLUGIN_MANIFEST',
      reason: 'package.json has no "zenWatcher" manifest field',
    };
  }
  return undefined;
}

export function checkManifest(manifest: unknown, validate: ValidateFunction): LoadFailure | undefined {
  if (validate(manifest)) return undefined;
  const detail = ajvErrorsToFieldErrors(validate.errors, 'zenWatcher')
    .map((e) => `${e.path}: ${e.message}`)
    .join('; ');
  return { status: 'failed', code: 'ZW_ERR_PLUGIN_MANIFEST', reason: `invalid manifest in package.json: ${detail}` };
}

export function checkHostApi(manifest: PluginManifest, hostApiVersion: string): LoadFailure | undefined {
  const range = semver.validRange(manifest.hostApi);
  if (!range) {
    return {
      status: 'failed',
      code: 'ZW_ERR_PLUGIN_MANIFEST',
      reason: `zenWatcher.hostApi '${manifest.hostApi}' is not a semver range (e.g. "^1.0.0")`,
    };
  }
  if (!semver.satisfies(hostApiVersion, range)) {
    return {
      status: 'incompatible',
      code: 'ZW_ERR_PLUGIN_HOST_API',
      reason: `needs host plugin API ${manifest.hostApi}, this host provides ${hostApiVersion}; use a plugin release built for API ${semver.major(hostApiVersion)}.x`,
    };
  }
  return undefined;
}

export function checkUnique(
  name: string,
  manifest: PluginManifest,
  takenNames: ReadonlyMap<string, string>,
  takenHandlers: ReadonlyMap<string, string>,
): LoadFailure | undefined {
  const owner = takenNames.get(name);
  if (owner)
    return {
      status: 'duplicate',
      code: 'ZW_ERR_PLUGIN_DUPLICATE',
      reason: `a plugin named '${name}' is already loaded from ${owner}`,
    };
  for (const handler of manifest.sources) {
    const by = takenHandlers.get(handler);
    if (by)
      return {
        status: 'duplicate',
        code: 'ZW_ERR_PLUGIN_DUPLICATE',
        reason: `source handler '${handler}' is already provided by plugin '${by}'`,
      };
  }
  return undefined;
}
