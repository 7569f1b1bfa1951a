// Loaded by `node --import` in the test command: makes `zen-watcher/plugin-api` resolvable for plugin modules
// imported directly by tests, as the host does at startup.
import { registerPluginApiSpecifier } from '../../core/loader/index.ts';

registerPluginApiSpecifier();
