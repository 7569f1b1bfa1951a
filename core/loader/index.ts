export { PLUGIN_API_SPECIFIER, registerPluginApiSpecifier } from './api-specifier.ts';
export type { LoadFailure, PluginStatus } from './checks.ts';
export { discoverPlugins, type PluginRecord, pluginDirectories } from './discover.ts';
export { handlerTable } from './handlers.ts';
export { importAndRegister, type RegisterContext } from './load.ts';
