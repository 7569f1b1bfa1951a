/**
 * The public plugin API (host plugin-API version in version.ts). This file is the only entry point plugins use;
 * external plugins import it as `zen-watcher/plugin-api` (the loader maps that specifier to this file).
 */

export {
  inNamespaces,
  namespacesInScope,
  PLUGIN_CONFIG_SCHEMA_ID,
  pluginConfigSchema,
  severityAtLeast,
  severityRank,
} from './config.ts';
export type {
  DeliveredObservation,
  DeliveryEvent,
  DeliveryItem,
  DeliveryRequest,
  DeliveryResult,
  DestinationView,
} from './destination.ts';
export { checkDeliveryResponse, DeliveryError, deliveryError, networkError } from './destination.ts';
export type { DraftStashOptions, RetryBackoffOptions } from './drafts.ts';
export { DraftStash, RetryBackoff } from './drafts.ts';
export type { ErrorCode } from './errors.ts';
export {
  CLIENT_ERROR_CODES,
  ERROR_CODES,
  ERRORS,
  errorMessage,
  isZwError,
  payloadError,
  ZwError,
  zwError,
} from './errors.ts';
export { canonicalJson, describeValue, errorText, ingesterKey } from './helpers.ts';
export type {
  DraftContext,
  HookName,
  IngesterChange,
  LeaderTerm,
  RunMode,
  StartContext,
  StopContext,
  WebhookRequest,
  WebhookResult,
} from './hooks.ts';
export { HOOK_NAMES } from './hooks.ts';
export { builtinKind, builtinResource } from './kinds.ts';
export type { PluginManifest } from './manifest.ts';
export { pluginManifestSchema } from './manifest.ts';
export type {
  EmitResult,
  GetOptions,
  InformerEvents,
  InformerOptions,
  IngesterRun,
  IngesterWork,
  PluginApi,
  PluginHooks,
  PluginKube,
  PluginLogger,
  PluginMetrics,
  PluginSpec,
  ReconcileResult,
  TapOptions,
  Tappable,
  ZenPlugin,
} from './plugin.ts';
export { definePlugin, isZenPlugin } from './plugin.ts';
export type {
  AnyConfig,
  Category,
  IngesterView,
  Observation,
  ObservationDraft,
  ObservationSpec,
  ResourceRef,
  Severity,
} from './types.ts';
export { CATEGORIES, SEVERITIES } from './types.ts';
export { HOST_API_VERSION } from './version.ts';
