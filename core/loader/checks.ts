/**
 * Plugin admission as a chain of small named checks (fastify plugin-utils style). Each returns undefined when the
 * plugin passes, or a LoadFailure whose reason tells the author what to fix. No plugin code is imported here.
 */
import type { ValidateFunction } from 'ajv';
// The four functions used, not semver's index (47 modules, its whole API): idle RSS, issue #18.
import semverMajor from 'semver/functions/major.js';
import satisfies from 'semver/functions/satisfies.js';
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';
import { type PluginManifest, pluginManifestSchema } from '../api/index.ts';
import { ajvErrorsToFieldErrors } from '../config/validate.ts';

/** `disabled`: loaded, then switched off at run time after repeated uncontained faults (core/host/plugin-faults.ts). */
export type PluginStatus = 'loaded' | 'incompatible' | 'failed' | 'duplicate' | 'disabled';

export interface LoadFailure {
  status: Exclude<PluginStatus, 'loaded'>;
  code:
    | 'ZW_ERR_PLUGIN_MANIFEST'
    | 'ZW_ERR_PLUGIN_HOST_API'
    | 'ZW_ERR_PLUGIN_DUPLICATE'
    | 'ZW_ERR_PLUGIN_SCHEMA'
    | 'ZW_ERR_PLUGIN_IMPORT'
    | 'ZW_ERR_PLUGIN_SHAPE'
    | 'ZW_ERR_PLUGIN_REGISTER'
    | 'ZW_ERR_PLUGIN_DISABLED'
    | 'ZW_ERR_PLUGIN_PATH';
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
  if (typeof pkg.version !== 'string' || !valid(pkg.version)) {
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

/** Manifest fields whose schema error would quote a regex: what the author should write instead. */
const MANIFEST_FIELD_HINTS: readonly [RegExp, string][] = [
  [
    /^zenWatcher\.entry$/,
    'must be a relative path inside the plugin directory to a .ts, .mts, .js or .mjs file (no leading "/", no ".."), e.g. "index.ts"',
  ],
  [
    /^zenWatcher\.sources\[\d+\]$/,
    'must be a source handler name: lower-case letters, digits and "-", starting and ending with a letter or digit, at most 40 characters, e.g. "my-scanner"',
  ],
  [
    /^zenWatcher\.destinations\[\d+\]$/,
    'must be a destination type name: lower-case letters, digits and "-", starting and ending with a letter or digit, at most 40 characters, e.g. "my-receiver"',
  ],
  [
    /^zenWatcher\.configSchema$/,
    'must be a relative path to a .json file inside the plugin directory, e.g. "schema.json"',
  ],
];
const MANIFEST_REQUIRED_HINTS: Readonly<Record<string, string>> = {
  'zenWatcher.hostApi': 'the range of host plugin APIs the plugin works with, e.g. "^1.0.0"',
  'zenWatcher.entry': 'the module that default-exports definePlugin(...), e.g. "index.ts"',
  'zenWatcher.sources':
    'the source handlers it provides, e.g. ["my-scanner"] (or "destinations": [...] for a destination plugin)',
};
const MANIFEST_FIELDS = Object.keys(pluginManifestSchema.properties);

function manifestMessage(path: string, message: string): string {
  for (const [re, hint] of MANIFEST_FIELD_HINTS)
    if (re.test(path) && message.includes('must match pattern')) return hint;
  const required = MANIFEST_REQUIRED_HINTS[path];
  if (required && message === 'is required') return `is required: ${required}`;
  if (message === 'is not a known field' && path.startsWith('zenWatcher.')) {
    const field = path.slice('zenWatcher.'.length);
    const like = MANIFEST_FIELDS.find((f) => f.toLowerCase() === field.toLowerCase());
    return like
      ? `is not a known field; did you mean "${like}"?`
      : `is not a known field (known: ${MANIFEST_FIELDS.join(', ')})`;
  }
  return message;
}

export function checkManifest(manifest: unknown, validate: ValidateFunction): LoadFailure | undefined {
  if (validate(manifest)) return undefined;
  const detail = ajvErrorsToFieldErrors(validate.errors, 'zenWatcher')
    .map((e) => `${e.path}: ${manifestMessage(e.path, e.message)}`)
    .join('; ');
  return { status: 'failed', code: 'ZW_ERR_PLUGIN_MANIFEST', reason: `invalid manifest in package.json: ${detail}` };
}

export function checkHostApi(manifest: PluginManifest, hostApiVersion: string): LoadFailure | undefined {
  const range = validRange(manifest.hostApi);
  if (!range) {
    return {
      status: 'failed',
      code: 'ZW_ERR_PLUGIN_MANIFEST',
      reason: `zenWatcher.hostApi '${manifest.hostApi}' is not a semver range (e.g. "^1.0.0")`,
    };
  }
  if (!satisfies(hostApiVersion, range)) {
    return {
      status: 'incompatible',
      code: 'ZW_ERR_PLUGIN_HOST_API',
      reason: `needs host plugin API ${manifest.hostApi}, this host provides ${hostApiVersion}; use a plugin release built for API ${semverMajor(hostApiVersion)}.x (plugin authors: zenWatcher.hostApi must be a range that includes ${hostApiVersion}, e.g. "^${semverMajor(hostApiVersion)}.0.0", and the plugin must only use what that API offers)`,
    };
  }
  return undefined;
}

export function checkUnique(
  name: string,
  manifest: PluginManifest,
  takenNames: ReadonlyMap<string, string>,
  takenHandlers: ReadonlyMap<string, string>,
  takenDestinations: ReadonlyMap<string, string> = new Map(),
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
  for (const type of manifest.destinations ?? []) {
    const by = takenDestinations.get(type);
    if (by)
      return {
        status: 'duplicate',
        code: 'ZW_ERR_PLUGIN_DUPLICATE',
        reason: `destination type '${type}' is already provided by plugin '${by}'`,
      };
  }
  return undefined;
}
