/**
 * The Ingesters this replica runs, and the diff when they change: compiled pipeline settings per Ingester, the
 * webhook route table the HTTP layer reads per request, and onIngesterChanged for the plugins. Rejected ones are
 * kept with their reasons (logs, metrics, and Ingester status in kubernetes mode).
 */
import type { IngesterView } from '../api/index.ts';
import type { Rejected } from '../config/ingester-set.ts';
import type { IngesterConfig } from '../config/validate.ts';
import type { HostHooks } from '../hooks/host-hooks.ts';
import type { WebhookRoute } from '../http/server.ts';
import { canonicalJson } from '../pipeline/fingerprint.ts';
import type { CompiledIngester, Pipeline } from '../pipeline/pipeline.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export class IngesterRuntime {
  readonly #pipeline: Pipeline;
  readonly #hooks: HostHooks;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #makeRoute: ((ci: CompiledIngester) => WebhookRoute) | undefined;
  #active = new Map<string, CompiledIngester>();
  #rejected = new Map<string, Rejected>();
  #routes: ReadonlyMap<string, WebhookRoute> = new Map();

  constructor(deps: {
    pipeline: Pipeline;
    hooks: HostHooks;
    log: Logger;
    metrics: Metrics;
    /** Builds the HTTP route of a webhook Ingester; without it no routes are served (test kit, CLI). */
    makeRoute?: (ci: CompiledIngester) => WebhookRoute;
  }) {
    this.#pipeline = deps.pipeline;
    this.#hooks = deps.hooks;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#makeRoute = deps.makeRoute;
  }

  get routes(): ReadonlyMap<string, WebhookRoute> {
    return this.#routes;
  }

  get(key: string): CompiledIngester | undefined {
    return this.#active.get(key);
  }

  active(): CompiledIngester[] {
    return [...this.#active.values()];
  }

  rejected(): Rejected[] {
    return [...this.#rejected.values()];
  }

  views(handlers: readonly string[]): IngesterView[] {
    return this.active()
      .filter((ci) => handlers.includes(ci.config.handler.handler))
      .map((ci) => ci.config.view);
  }

  /** Replace the whole set; unchanged Ingesters keep their compiled state (dedup windows, rate buckets). */
  async replace(valid: readonly IngesterConfig[], rejected: readonly Rejected[]): Promise<void> {
    const next = new Map<string, CompiledIngester>();
    const changes: { type: 'added' | 'updated' | 'removed'; ci: CompiledIngester; previous?: CompiledIngester }[] = [];
    for (const cfg of valid) {
      const prev = this.#active.get(cfg.key);
      if (prev && sameIngester(prev.config, cfg)) {
        next.set(cfg.key, prev);
        continue;
      }
      const ci = this.#pipeline.compile(cfg);
      next.set(cfg.key, ci);
      changes.push(prev ? { type: 'updated', ci, previous: prev } : { type: 'added', ci });
    }
    for (const [key, prev] of this.#active) if (!next.has(key)) changes.push({ type: 'removed', ci: prev });

    const newRejected = new Map(rejected.map((r) => [r.key, r]));
    for (const r of rejected) {
      const before = this.#rejected.get(r.key);
      if (!before || canonicalJson(before) !== canonicalJson(r)) {
        this.#metrics.ingesterErrors.inc({ source: r.source, error_type: r.reason });
        this.#log.warn(
          {
            ingester: r.key,
            ...(r.origin !== undefined ? { origin: r.origin } : {}),
            reason: r.reason,
            errors: r.errors.map((e) => `${e.path}: ${e.message}`),
          },
          'Ingester rejected; the others keep running',
        );
      }
    }
    this.#active = next;
    this.#rejected = newRejected;
    const makeRoute = this.#makeRoute;
    this.#routes = makeRoute
      ? new Map(
          this.active()
            .filter((ci) => ci.config.spec.webhook)
            .map((ci) => [ci.config.spec.webhook!.path, makeRoute(ci)]),
        )
      : new Map();
    this.#metrics.ingesters.reset();
    for (const ci of this.active()) {
      this.#metrics.ingesters.set(
        { source: ci.config.spec.source, ingester_type: ci.config.spec.ingester, namespace: ci.config.namespace },
        1,
      );
    }
    for (const c of changes) {
      this.#log.info(
        {
          ingester: c.ci.config.key,
          source: c.ci.config.spec.source,
          plugin: c.ci.config.handler.plugin,
          change: c.type,
        },
        `Ingester ${c.type}`,
      );
      await this.#hooks.onIngesterChanged.promise({
        type: c.type,
        ingester: c.ci.config.view,
        ...(c.previous ? { previous: c.previous.config.view } : {}),
      });
    }
  }
}

function sameIngester(a: IngesterConfig, b: IngesterConfig): boolean {
  return a.generation === b.generation && a.handler === b.handler && canonicalJson(a.spec) === canonicalJson(b.spec);
}
