# syntax=docker/dockerfile:1
# The zen-watcher image: Node.js 24 LTS runs the TypeScript sources directly (type stripping, no build step), with
# production dependencies only, as a non-root user, on a read-only root filesystem.
#   docker build -t zen-watcher:0.1.0 .
#   docker run --rm -p 8080:8080 zen-watcher:0.1.0          # standalone mode; Observations in /data
# In a pod it runs in kubernetes mode (config/manager/manager.yaml sets ZEN_MODE=kubernetes). Drop-in plugins go in
# /plugins (ZEN_PLUGIN_DIRS), which the Deployment mounts as an emptyDir or image volume.
# test/deploy/dockerfile.test.ts replays the COPY and npm steps below without a container engine.

ARG NODE_IMAGE=node:24-slim

# 1. Production dependencies. `npm ci --omit=dev` leaves out the dev tools, including the `node` npm package (the
#    pinned Node for development machines): the image's own node is 24. The plugins are npm workspaces, so their
#    package.json files must be present; no dependency needs an install script.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY plugins/ ./plugins/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# 2. The sources (see .dockerignore: tests, docs and dev files stay out).
COPY bin/ ./bin/
COPY core/ ./core/
COPY config/standalone/ ./config/standalone/

# 3. The UI bundle (/ui/): built from ui/src with the locked dev dependencies (esbuild, preact, chart.js) in a stage
#    of its own, so none of them reaches the runtime image; only ui/dist (static files) does.
FROM ${NODE_IMAGE} AS ui
WORKDIR /ui-build
COPY package.json package-lock.json ./
COPY plugins/ ./plugins/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY ui/src/ ./ui/src/
COPY scripts/build-ui.ts ./scripts/
RUN node scripts/build-ui.ts

# 4. The runtime image: the same Node, the app, and two writable mount points owned by the runtime user.
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="zen-watcher" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
# MALLOC_ARENA_MAX=2: glibc's allocator keeps up to 8 arenas per core, one per thread that allocates (V8's compiler
# and GC threads, libuv's pool), each holding freed memory of its own; two arenas measured 17–19 MB less RSS idle and
# at peak (ADR 0027, docs/BENCHMARKS.md part scale).
ENV NODE_ENV=production \
    PORT=8080 \
    ZEN_PLUGIN_DIRS=/plugins \
    ZEN_DATA_DIR=/data \
    MALLOC_ARENA_MAX=2
COPY --from=build /app /app
COPY --from=ui /ui-build/ui/dist/ /app/ui/dist/
# /plugins: drop-in plugin directory (mounted in Kubernetes). /data: the standalone store only; kubernetes mode
# writes no files, so the root filesystem can be read-only there.
RUN mkdir -p /plugins /data && chown 65532:65532 /plugins /data
WORKDIR /app
USER 65532:65532
EXPOSE 8080
# bin/zen-watcher.js turns Node's compile cache on before any TypeScript loads (a warm start strips no types);
# a 16 MB young-generation semi-space: a quarter of the scavenges of 2 MB under load (ADR 0034);
# one V8 platform thread instead of four: GC helpers competing with the event loop for one or two CPUs (ADR 0031);
# --expose-gc: the host runs one memory-reducing collection after start-up, so idle RSS is what is live (ADR 0034).
ENTRYPOINT ["node", "--max-semi-space-size=16", "--v8-pool-size=1", "--expose-gc", "bin/zen-watcher.js"]
CMD ["run"]
