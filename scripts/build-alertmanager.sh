#!/usr/bin/env bash
# Build (or reuse) a real Alertmanager for the delivery tests (test/kube/destinations-e2e.test.ts, plugins/alertmanager/test), from its Go
# module at a pinned version (no binary download). `go install github.com/prometheus/alertmanager/cmd/alertmanager@…`
# fails because the module does not ship the built web UI (ui/app/dist, embedded with go:embed); the API does not
# need it, so the build copies the module source and puts placeholder UI files there. Usage:
#
#   bash scripts/build-alertmanager.sh        prints the binary's absolute path on stdout; progress on stderr
#
# Cached outside the repo, keyed by version, Go version and platform:
#   ${ZEN_CACHE_DIR:-$HOME/.cache/zen-watcher}/alertmanager/<version>-<goversion>-<os>_<arch>/alertmanager
# Concurrent callers take a flock, so only one builds. ZEN_ALERTMANAGER_BIN skips the build and prints that path.
set -euo pipefail

VERSION=v0.35.0
MODULE=github.com/prometheus/alertmanager

say() { printf 'build-alertmanager: %s\n' "$*" >&2; }

if [[ -n "${ZEN_ALERTMANAGER_BIN:-}" ]]; then
	printf '%s\n' "$ZEN_ALERTMANAGER_BIN"
	exit 0
fi
if ! command -v go >/dev/null 2>&1; then
	say "error: 'go' is not on PATH. Alertmanager is built from its Go module and needs Go (GOTOOLCHAIN=local)"
	say "plus access to the Go module proxy."
	exit 127
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
GOVERSION=$(go env GOVERSION)
PLATFORM=$(go env GOOS)_$(go env GOARCH)
DIR="${ZEN_CACHE_DIR:-${HOME:?HOME is not set}/.cache/zen-watcher}/alertmanager/$VERSION-$GOVERSION-$PLATFORM"
BIN="$DIR/alertmanager"

if [[ ! -x "$BIN" ]]; then
	mkdir -p "$DIR"
	exec 9>"$DIR/.lock"
	if ! flock -n 9; then
		say "another process is building $BIN; waiting for it"
		flock 9
	fi
	if [[ ! -x "$BIN" ]]; then
		say "building Alertmanager $VERSION with $GOVERSION (cold: about 2 minutes on 2 cores)"
		start=$(date +%s)
		tmp=$(mktemp -d "$DIR/.src.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		src=$(cd "$tmp" && go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		[[ -d "$src" ]] || { say "error: go mod download $MODULE@$VERSION gave no source directory"; exit 1; }
		cp -r "$src" "$tmp/am"
		chmod -R u+w "$tmp/am"
		# Placeholder web UI (the API under /api/v2 is what the tests use).
		for ui in elm mantine; do
			mkdir -p "$tmp/am/ui/app/dist/$ui"
			printf '<!doctype html><title>Alertmanager</title><p>UI not built (zen-watcher test build).\n' \
				>"$tmp/am/ui/app/dist/$ui/index.html"
		done
		(cd "$tmp/am" && go build -trimpath -o "$tmp/alertmanager" ./cmd/alertmanager) >&2
		mv -f "$tmp/alertmanager" "$BIN"
		say "built Alertmanager in $(($(date +%s) - start))s: $BIN"
	fi
fi
printf '%s\n' "$BIN"
