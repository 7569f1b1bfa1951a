/**
 * The plugin manifest: the `zenWatcher` field of a plugin directory's package.json. The loader validates it
 * with this schema BEFORE importing any plugin code.
 */
export interface PluginManifest {
  /** semver range of the host plugin API this plugin needs, e.g. "^1.0.0". */
  hostApi: string;
  /** Entry module relative to the plugin directory (.ts on Node 24, or .js/.mjs). */
  entry: string;
  /**
   * Source handlers the plugin provides; Ingesters select one with `spec.plugin` (default `spec.source`).
   * Default [] (a destination-only plugin); a plugin must provide at least one source or destination.
   */
  sources: string[];
  /** Destination types the plugin provides (Destination `spec.type`). Default []. Since plugin API 1.2.0. */
  destinations?: string[];
  /** JSON Schema file (relative) for Ingester `spec.config`. Optional: without it, config must be empty. */
  configSchema?: string;
  /** Which Ingester kinds the plugin's handlers serve. Default ["webhook"]. */
  ingesterTypes?: Array<'webhook' | 'informer'>;
  /** Default body limit in bytes for this plugin's webhooks (an Ingester may override). */
  maxBodyBytes?: number;
}

export const pluginManifestSchema = {
  $id: 'https://zen.kube-zen.io/schemas/plugin-manifest.json',
  type: 'object',
  additionalProperties: false,
  required: ['hostApi', 'entry'],
  anyOf: [{ required: ['sources'] }, { required: ['destinations'] }],
  properties: {
    hostApi: { type: 'string', minLength: 1, description: 'semver range of the host plugin API, e.g. ^1.0.0' },
    entry: { type: 'string', pattern: '^(?!/)(?!.*\\.\\.).+\\.(ts|mts|js|mjs)$', description: 'relative path' },
    sources: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 40 },
    },
    destinations: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 40 },
    },
    configSchema: { type: 'string', pattern: '^(?!/)(?!.*\\.\\.).+\\.json$' },
    ingesterTypes: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: ['webhook', 'informer'] },
    },
    maxBodyBytes: { type: 'integer', minimum: 1, maximum: 268435456 },
  },
} as const;
