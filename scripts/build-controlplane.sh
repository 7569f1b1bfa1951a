#!/usr/bin/env bash
# Build (or reuse) the test control plane binary: a real kube-apiserver plus
# embedded etcd, from test/controlplane/. See test/controlplane/README.md.
#
# Prints the binary's absolute path as the last line on stdout; progress goes
# to stderr. The binary is cached outside the repo, keyed by the sources and
# the Go version:
#   ${ZEN_CACHE_DIR:-$HOME/.cache/zen-watcher}/controlplane/<sha256>/kube-controlplane
# Concurrent callers take a flock, so only one of them builds.
set -euo pipefail

K8S_VERSION=v1.34.4 # must match k8s.io/kubernetes in test/controlplane/go.mod

say() { printf 'build-controlplane: %s\n' "$*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC="$ROOT/test/controlplane"

if ! command -v go >/dev/null 2>&1; then
	say "error: 'go' is not on PATH. The test control plane is built from the Kubernetes Go modules"
	say "and needs Go 1.26 (GOTOOLCHAIN=local) plus access to the Go module proxy."
	exit 127
fi
if ! command -v flock >/dev/null 2>&1; then
	say "error: 'flock' (util-linux) is not on PATH."
	exit 127
fi

export GOTOOLCHAIN=local CGO_ENABLED=0

K8S_MINOR=${K8S_VERSION#v1.}
K8S_MINOR=${K8S_MINOR%%.*}
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean"

GOVERSION=$(go env GOVERSION)
GOOSARCH=$(go env GOOS)/$(go env GOARCH)

# Snapshot the sources first, so that the key always describes exactly what
# gets compiled even if someone edits test/controlplane/ during a build.
SNAP=$(mktemp -d "${TMPDIR:-/tmp}/zen-controlplane-src.XXXXXX")
trap 'rm -rf "$SNAP"' EXIT
(
	cd "$SRC"
	cp -- go.mod go.sum $(LC_ALL=C ls -1 -- *.go) "$SNAP/"
)
KEY=$(
	cd "$SNAP"
	{
		for f in go.mod go.sum $(LC_ALL=C ls -1 -- *.go); do
			printf '== %s\n' "$f"
			cat -- "$f"
		done
		printf '== toolchain %s %s\n== ldflags %s\n' "$GOVERSION" "$GOOSARCH" "$LDFLAGS"
	} | sha256sum | cut -d' ' -f1
)

CACHE_ROOT="${ZEN_CACHE_DIR:-${HOME:?HOME is not set}/.cache/zen-watcher}/controlplane"
DIR="$CACHE_ROOT/$KEY"
BIN="$DIR/kube-controlplane"

if [[ ! -x "$BIN" ]]; then
	mkdir -p "$DIR"
	exec 9>"$DIR/.lock"
	if ! flock -n 9; then
		say "another process is building $BIN; waiting for it"
		flock 9
	fi
	if [[ ! -x "$BIN" ]]; then
		say "building kube-apiserver $K8S_VERSION + embedded etcd with $GOVERSION"
		say "(a cold build takes about 5 minutes on 2 cores; later builds reuse Go's build cache)"
		start=$(date +%s)
		TMP="$BIN.tmp.$$"
		trap 'rm -rf "$SNAP" "$TMP"' EXIT
		# -trimpath: the snapshot's path does not end up in the binary, and
		# Go's build cache is shared between snapshots.
		go -C "$SNAP" build -trimpath -ldflags "$LDFLAGS" -o "$TMP" . >&2
		mv -f "$TMP" "$BIN"
		say "built in $(($(date +%s) - start))s: $BIN"
		# Prune binaries of older sources not used for two weeks (skip any
		# that another process is building right now).
		for old in "$CACHE_ROOT"/*/; do
			old=${old%/}
			[[ "$old" == "$DIR" ]] && continue
			if [[ -z "$(find "$old" -maxdepth 1 -name kube-controlplane -mtime -14 2>/dev/null)" ]]; then
				(flock -n 8 && rm -rf -- "$old") 8>>"$old/.lock" 2>/dev/null || true
			fi
		done
	fi
	exec 9>&-
fi

touch "$BIN" 2>/dev/null || true # mark as recently used for pruning
printf '%s\n' "$BIN"
