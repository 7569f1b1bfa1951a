/**
 * Every host metric, defined once on a Registry created here (never prom-client's global one), so each host
 * instance and each test gets its own. Names: `zen_watcher_` prefix, base units, `_total` on counters. Where the
 * Go original had a live metric, its name and labels are kept (UPSTREAM_FACTS §10). Metrics updated per request or
 * per alert are the Hot* kinds of hot.ts: the same series, updated without prom-client's per-call label hashing.
 */

import { kubeRequestCounts } from '../kube/request.ts';
import { HotCounter, HotGauge, HotHistogram } from './hot.ts';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from './prom.ts';

export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics(registry, 'zen_watcher_');
  const r = [registry];
  return Object.freeze({
    registry,
    buildInfo: new Gauge({
      name: 'zen_watcher_build_info',
      help: 'Always 1; labels carry the build.',
      labelNames: ['version', 'host_api', 'node'],
      registers: r,
    }),
    mode: new Gauge({
      name: 'zen_watcher_mode',
      help: '1 for the mode this replica runs in.',
      labelNames: ['mode'],
      registers: r,
    }),

    webhookRequests: new HotCounter({
      name: 'zen_watcher_webhook_requests_total',
      help: 'Webhook requests by endpoint (Ingester source, or "unknown") and HTTP status.',
      labelNames: ['endpoint', 'status'],
      registers: r,
    }),
    webhookDuration: new HotHistogram({
      name: 'zen_watcher_webhook_request_duration_seconds',
      help: 'Time from request to response.',
      labelNames: ['endpoint'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),

    created: new HotCounter({
      name: 'zen_watcher_observations_created_total',
      help: 'Observations written.',
      labelNames: ['source'],
      registers: r,
    }),
    deduped: new HotCounter({
      name: 'zen_watcher_observations_deduped_total',
      help: 'Drafts recognised as duplicates: layer=memory (this replica saw it within the window) or store (the deterministic name already exists).',
      labelNames: ['source', 'layer'],
      registers: r,
    }),
    filtered: new Counter({
      name: 'zen_watcher_observations_filtered_total',
      help: "Drafts dropped by the Ingester's filters, by reason.",
      labelNames: ['source', 'reason'],
      registers: r,
    }),
    dropped: new Counter({
      name: 'zen_watcher_observations_dropped_total',
      help: 'Drafts dropped after acceptance, by reason (invalid_draft from a plugin, or a write that failed for good: forbidden, rejected, unreachable, not_leader, shutdown).',
      labelNames: ['source', 'reason'],
      registers: r,
    }),
    refused: new Counter({
      name: 'zen_watcher_observations_refused_total',
      help: 'Webhook drafts the sink did not store (store full or failing, quota exceeded, admission denied, API server unreachable): their request was answered 503 with Retry-After, never 2xx.',
      labelNames: ['source', 'reason'],
      registers: r,
    }),
    ackPending: new HotCounter({
      name: 'zen_watcher_webhook_ack_pending_total',
      help: 'Webhook requests whose writes were still going when ZEN_WEBHOOK_ACK_WAIT_MS passed, by answer: 503 (ZW_ERR_WRITE_PENDING, the sender retries; default) or 202 (ZEN_WEBHOOK_ACK_PENDING=accept, acknowledged while in memory).',
      labelNames: ['endpoint', 'answer'],
      registers: r,
    }),
    storeWritable: new Gauge({
      name: 'zen_watcher_store_writable',
      help: 'Standalone store: 1 while it can write, 0 after a write failed until a write or the probe succeeds again.',
      registers: r,
    }),
    storeWalFrames: new Gauge({
      name: 'zen_watcher_store_wal_frames',
      help: 'Standalone store: pages (frames) in the write-ahead log at the last checkpoint. Kept near 16,384 (64 MiB) under steady load by the tail pass (ADR 0036); it restarts once a checkpoint copied it all.',
      registers: r,
    }),
    storeCheckpoints: new Counter({
      name: 'zen_watcher_store_checkpoints_total',
      help: 'Standalone store: WAL checkpoints, by pass: regular (the checkpoint worker, overlapping commits), or tail (no commit overlaps it, so the next one restarts the WAL; ADR 0036).',
      labelNames: ['pass'],
      registers: r,
    }),
    storeWriteFailures: new Counter({
      name: 'zen_watcher_store_write_failures_total',
      help: 'Standalone store: failed writes and failed recovery probes, by reason (store_full, store_io, store_corrupt, store_readonly, store_error).',
      labelNames: ['reason', 'probe'],
      registers: r,
    }),
    writeErrors: new Counter({
      name: 'zen_watcher_observations_write_errors_total',
      help: 'Failed write attempts (each retry counts).',
      labelNames: ['source', 'reason'],
      registers: r,
    }),
    writeDuration: new HotHistogram({
      name: 'zen_watcher_observation_write_duration_seconds',
      help: 'Sink write latency.',
      labelNames: ['sink'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    queueDepth: new HotGauge({
      name: 'zen_watcher_sink_queue_depth',
      help: 'Observations accepted and waiting to be written.',
      registers: r,
    }),
    dedupEntries: new HotGauge({
      name: 'zen_watcher_dedup_entries',
      help: 'Entries held by the in-memory dedup cache.',
      registers: r,
    }),
    occurrenceWrites: new Counter({
      name: 'zen_watcher_occurrence_writes_total',
      help: 'Occurrence-count writes per Observation (status.count/lastSeen) by outcome: applied, gone (the Observation no longer exists), error (kept for the next flush), conflict (409 on the resourceVersion precondition, retried)',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    occurrencesLost: new Counter({
      name: 'zen_watcher_occurrences_lost_total',
      help: 'Repeats of a finding not added to its status.count, by reason: gone (the Observation no longer exists), overflow (too many pending), shutdown (not written before exit), untracked',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    occurrencePending: new HotGauge({
      name: 'zen_watcher_occurrence_pending',
      help: 'Observations with occurrence counts waiting for the next flush on this replica',
      registers: r,
    }),
    dedupEvictions: new Counter({
      name: 'zen_watcher_dedup_evictions_total',
      help: 'Dedup entries evicted because the cache was full (ZEN_DEDUP_MAX_ENTRIES).',
      registers: r,
    }),

    pluginHookDuration: new HotHistogram({
      name: 'zen_watcher_plugin_hook_duration_seconds',
      help: 'Time spent in one plugin tap.',
      labelNames: ['plugin', 'hook'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: r,
    }),
    pluginHookErrors: new Counter({
      name: 'zen_watcher_plugin_hook_errors_total',
      help: 'Plugin taps that threw (kind=error) or missed their deadline (kind=timeout).',
      labelNames: ['plugin', 'hook', 'kind'],
      registers: r,
    }),
    plugins: new Gauge({
      name: 'zen_watcher_plugins',
      help: '1 per discovered plugin, by load status.',
      labelNames: ['plugin', 'version', 'status'],
      registers: r,
    }),
    pluginFaults: new Counter({
      name: 'zen_watcher_plugin_faults_total',
      help: 'Errors that escaped a plugin (kind=unhandled_rejection, or kind=uncaught_exception: thrown from its timers or callbacks), contained by the host.',
      labelNames: ['plugin', 'kind'],
      registers: r,
    }),
    pluginsDisabled: new Counter({
      name: 'zen_watcher_plugins_disabled_total',
      help: 'Plugins the host disabled at run time after repeated uncontained faults (see zen_watcher_plugins{status="disabled"}).',
      labelNames: ['plugin'],
      registers: r,
    }),

    leader: new Gauge({
      name: 'zen_watcher_leader',
      help: '1 while this replica leads (holds the Lease and renews it), else 0.',
      labelNames: ['lease'],
      registers: r,
    }),
    leaderTransitions: new Counter({
      name: 'zen_watcher_leader_transitions_total',
      help: 'Times this replica took the Lease over (sum over replicas = all transitions).',
      labelNames: ['lease'],
      registers: r,
    }),
    leaderRenewDuration: new Histogram({
      name: 'zen_watcher_leader_renew_duration_seconds',
      help: 'Duration of successful Lease renewals.',
      labelNames: ['lease'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    leaderInfo: new Gauge({
      name: 'zen_watcher_leader_info',
      help: 'The Lease holder as this replica last observed it (1, labelled with its identity); every replica reports it, so followers show who leads.',
      labelNames: ['lease', 'holder'],
      registers: r,
    }),
    leaderFailover: new Histogram({
      name: 'zen_watcher_leader_failover_seconds',
      help: "On the replica that took the Lease over: seconds from the previous holder's last renewal or release (as seen by this replica) to the start of its term.",
      labelNames: ['lease', 'previous'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60],
      registers: r,
    }),
    leaderSlowPath: new Counter({
      name: 'zen_watcher_leader_slowpath_total',
      help: 'Renewals that had to re-read the Lease first (optimistic update failed).',
      labelNames: ['lease'],
      registers: r,
    }),

    updated: new Counter({
      name: 'zen_watcher_observations_updated_total',
      help: 'Observations updated in place: same finding (identity), other severity/title/message/details/category/eventType.',
      labelNames: ['source'],
      registers: r,
    }),
    resolved: new Counter({
      name: 'zen_watcher_observations_resolved_total',
      help: 'Observations set Resolved (informer findings after the grace period; webhook findings the source resolved: source_resolved), and Resolved ones set Active again when the finding returned.',
      labelNames: ['transition'],
      registers: r,
    }),
    fencedConflicts: new Counter({
      name: 'zen_watcher_fenced_write_conflicts_total',
      help: 'Leader-only Observation writes the API server refused because the Observation changed since this replica read it (resourceVersion precondition, ADR 0022): status writes are read again and decided again while the replica may still act; deletes are left to the next GC run.',
      labelNames: ['write'],
      registers: r,
    }),
    resolvePending: new Gauge({
      name: 'zen_watcher_resolve_pending',
      help: 'Informer findings no longer reported and waiting out ZEN_RESOLVE_AFTER_SECONDS before they are set Resolved (leader only).',
      registers: r,
    }),
    gcRuns: new Counter({
      name: 'zen_watcher_gc_runs_total',
      help: 'Observation GC runs on the leader, by how they ended.',
      labelNames: ['stopped'],
      registers: r,
    }),
    gcDuration: new Histogram({
      name: 'zen_watcher_gc_duration_seconds',
      help: 'Duration of GC runs.',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers: r,
    }),
    gcDeleted: new Counter({
      name: 'zen_watcher_observations_deleted_total',
      help: 'Observations deleted by GC after their TTL.',
      labelNames: ['reason'],
      registers: r,
    }),
    informerRestarts: new Counter({
      name: 'zen_watcher_informer_restarts_total',
      help: 'Informer watch restarts, by reason (closed, gone, stalled, error).',
      labelNames: ['gvr', 'reason'],
      registers: r,
    }),
    informerSynced: new Gauge({
      name: 'zen_watcher_informer_synced',
      help: 'Plugin informers (leader only): 1 once the plugin handled the first complete list (caught up), 0 before that and once stopped.',
      labelNames: ['gvr'],
      registers: r,
    }),
    informerLastSync: new Gauge({
      name: 'zen_watcher_informer_last_sync_timestamp_seconds',
      help: 'Unix time of the last completed (re)list of a plugin informer.',
      labelNames: ['gvr'],
      registers: r,
    }),
    informerRelistDiff: new Counter({
      name: 'zen_watcher_informer_relist_differences_total',
      help: 'Objects a relist found added, changed or deleted that the watch had not delivered.',
      labelNames: ['gvr'],
      registers: r,
    }),
    leaderWorkRuns: new Gauge({
      name: 'zen_watcher_leader_work_runs',
      help: 'Per-Ingester leader work runs (api.leaderWork) running on this replica, by plugin.',
      labelNames: ['plugin'],
      registers: r,
    }),
    leaderWorkRetries: new Counter({
      name: 'zen_watcher_leader_work_retries_total',
      help: 'Scopes of leader work left to the host retry, by plugin and reason (dropped: a write was dropped; failed: the call failed).',
      labelNames: ['plugin', 'reason'],
      registers: r,
    }),
    leaderWorkErrors: new Counter({
      name: 'zen_watcher_leader_work_errors_total',
      help: 'Leader work runs whose start threw or rejected (the run stays stopped until the Ingester changes or the next term).',
      labelNames: ['plugin'],
      registers: r,
    }),
    shardSlots: new Gauge({
      name: 'zen_watcher_shard_slots',
      help: 'Shard slots of informer work (ZEN_SHARD_SLOTS); 1 = not sharded (informer work on the leader).',
      registers: r,
    }),
    shardSlotsOwned: new Gauge({
      name: 'zen_watcher_shard_slots_owned',
      help: 'Shard slots this replica holds now (its share of the informer work is about slots_owned / slots).',
      registers: r,
    }),
    shardMembers: new Gauge({
      name: 'zen_watcher_shard_members',
      help: 'Live replicas (member Leases) as this replica sees them; each aims for slots / members slots.',
      registers: r,
    }),
    shardUnitsOwned: new Gauge({
      name: 'zen_watcher_shard_units_owned',
      help: 'Units of informer work (Ingester x namespace, or a cluster-scoped unit) whose objects this replica holds, by Ingester.',
      labelNames: ['ingester'],
      registers: r,
    }),
    shardAcquisitions: new Counter({
      name: 'zen_watcher_shard_slot_acquisitions_total',
      help: 'Shard slots this replica took, by previous holder state (new: none or ourselves, released: handed over, expired: taken over from a holder that stopped renewing).',
      labelNames: ['previous'],
      registers: r,
    }),
    shardReleases: new Counter({
      name: 'zen_watcher_shard_slot_releases_total',
      help: 'Shard slots this replica gave up, by reason (rebalance: another replica joined, shutdown: graceful stop, lost: renewal failed past the renew deadline).',
      labelNames: ['reason'],
      registers: r,
    }),
    shardTakeover: new Histogram({
      name: 'zen_watcher_shard_takeover_seconds',
      help: "On the replica that took a shard slot: seconds from the previous holder's last renewal or release (as seen here) to the start of this replica's hold.",
      labelNames: ['previous'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60],
      registers: r,
    }),
    shardRebalances: new Counter({
      name: 'zen_watcher_shard_rebalances_total',
      help: "Times this replica's owned slot set changed and its informer work restarted on the new set.",
      registers: r,
    }),
    shardNamespaceWatches: new Gauge({
      name: 'zen_watcher_shard_namespace_watches',
      help: 'Per-namespace watches sharded informers run now for the namespaces this replica owns, by resource (ADR 0025).',
      labelNames: ['gvr'],
      registers: r,
    }),
    shardInformerFallbacks: new Counter({
      name: 'zen_watcher_shard_informer_fallbacks_total',
      help: "Sharded informer runs that watched cluster-wide and dropped other replicas' units instead of watching the owned namespaces, by resource and reason (cap: more owned namespaces than ZEN_SHARD_NAMESPACE_WATCHES; namespaces-unlistable: no list/watch on namespaces).",
      labelNames: ['gvr', 'reason'],
      registers: r,
    }),
    kubeRequests: new Counter({
      name: 'zen_watcher_kube_requests_total',
      help: 'Requests this process sent to the Kubernetes API server, by verb (GET, LIST, WATCH, POST, PUT, PATCH, DELETE).',
      labelNames: ['verb'],
      registers: r,
      collect() {
        this.reset();
        for (const [verb, n] of kubeRequestCounts) this.inc({ verb }, n);
      },
    }),
    informerTransformErrors: new Counter({
      name: 'zen_watcher_informer_transform_errors_total',
      help: "Objects a plugin informer's transform threw on; each was dropped (neither stored nor delivered).",
      labelNames: ['gvr'],
      registers: r,
    }),

    ingesters: new Gauge({
      name: 'zen_watcher_ingesters_active',
      help: '1 per Ingester this replica runs.',
      labelNames: ['source', 'ingester_type', 'namespace'],
      registers: r,
    }),
    ingesterErrors: new Counter({
      name: 'zen_watcher_ingesters_config_errors_total',
      help: 'Ingesters rejected, by reason (InvalidConfig, PluginMissing, Conflict, NeedsKubernetes).',
      labelNames: ['source', 'error_type'],
      registers: r,
    }),

    // Delivery to Destinations (core/destinations); `destination` is namespace/name, `type` the destination type.
    destinationDelivered: new Counter({
      name: 'zen_watcher_destination_delivered_total',
      help: 'Observation deliveries the receiver accepted.',
      labelNames: ['destination', 'type'],
      registers: r,
    }),
    destinationFailed: new Counter({
      name: 'zen_watcher_destination_failed_total',
      help: 'Observation deliveries given up: rejected by the receiver for good, or their Observation expired before delivery.',
      labelNames: ['destination', 'type', 'reason'],
      registers: r,
    }),
    destinationRetries: new Counter({
      name: 'zen_watcher_destination_retries_total',
      help: 'Failed sends that will be retried after a backoff, by reason (http_5xx, http_429, network, timeout, plugin).',
      labelNames: ['destination', 'type', 'reason'],
      registers: r,
    }),
    destinationResent: new Counter({
      name: 'zen_watcher_destination_resent_total',
      help: 'Observation events sent again after a send whose outcome was unknown (no answer, timeout, a crash or failover mid-send): the possible duplicates; each event counts once.',
      labelNames: ['destination', 'type'],
      registers: r,
    }),
    destinationDropped: new Counter({
      name: 'zen_watcher_destination_dropped_total',
      help: 'Undelivered Observations given up because the backlog passed spec.delivery.maxBacklog.',
      labelNames: ['destination', 'type', 'reason'],
      registers: r,
    }),
    destinationBacklog: new Gauge({
      name: 'zen_watcher_destination_backlog',
      help: 'Matching Observations not yet delivered (on the replica that delivers).',
      labelNames: ['destination', 'type'],
      registers: r,
    }),
    destinationOldestAge: new Gauge({
      name: 'zen_watcher_destination_oldest_undelivered_age_seconds',
      help: 'Age of the oldest undelivered Observation; 0 when the backlog is empty.',
      labelNames: ['destination', 'type'],
      registers: r,
    }),
    destinationUp: new Gauge({
      name: 'zen_watcher_destination_up',
      help: '1 when the last send to the destination succeeded (or nothing was sent yet), 0 when it failed.',
      labelNames: ['destination', 'type'],
      registers: r,
    }),
    destinationSendDuration: new Histogram({
      name: 'zen_watcher_destination_send_duration_seconds',
      help: 'Time of one send (one batch) to a destination, successful or not.',
      labelNames: ['destination', 'type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    }),
    destinationsActive: new Gauge({
      name: 'zen_watcher_destinations',
      help: 'Destinations known to this replica, by status (Ready, InvalidConfig, PluginMissing).',
      labelNames: ['status'],
      registers: r,
    }),
    readRequests: new Counter({
      name: 'zen_watcher_read_requests_total',
      help: 'Read API requests by route and HTTP status.',
      labelNames: ['route', 'status'],
      registers: r,
    }),
    readDuration: new Histogram({
      name: 'zen_watcher_read_request_duration_seconds',
      help: 'Read API request latency by route (live streams not included).',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    readIndexObservations: new Gauge({
      name: 'zen_watcher_read_index_observations',
      help: 'Observations in the read index of this replica.',
      registers: r,
    }),
    previousBucketLookups: new Counter({
      name: 'zen_watcher_previous_bucket_lookups_total',
      help: 'Kubernetes mode: how the previous dedup bucket of a new webhook finding was checked (via: index = the read index, no API call; api = a GET by the sink).',
      labelNames: ['via', 'outcome'] as const,
      registers: r,
    }),
    readIndexSynced: new Gauge({
      name: 'zen_watcher_read_index_synced',
      help: '1 once the read index has loaded every Observation (the read API answers 503 before).',
      registers: r,
    }),
    readStreams: new Gauge({
      name: 'zen_watcher_read_streams',
      help: 'Open live streams (SSE) of the read API.',
      registers: r,
    }),
    readAccessReviews: new Counter({
      name: 'zen_watcher_read_access_reviews_total',
      help: 'TokenReviews and SubjectAccessReviews made for read API callers (cache misses), by result.',
      labelNames: ['kind', 'result'],
      registers: r,
    }),
  });
}

export type Metrics = ReturnType<typeof createMetrics>;
