/**
 * The version of the plugin API this host implements. Plugins declare the range they need in their manifest
 * (`zenWatcher.hostApi`, e.g. "^1.0.0"); the loader checks it with semver before importing any plugin code.
 * Policy (docs/plugins/VERSIONING.md): minor = additions only, major = breaking change with an ADR.
 */
export const HOST_API_VERSION = '1.4.0';
