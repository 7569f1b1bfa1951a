#!/usr/bin/env bash
# Build (or reuse) the deployment tools the manifest tests run: helm and kustomize, from their Go modules at
# pinned versions (no binary downloads). Usage:
#
#   bash scripts/build-tools.sh [helm|kustomize]...     (default: both)
#
# Prints one absolute path per requested tool on stdout, in order; progress goes to stderr. Binaries are cached
# outside the repo, keyed by tool, version, Go version and platform:
#   ${ZEN_CACHE_DIR:-$HOME/.cache/zen-watcher}/tools/<tool>-<version>-<goversion>-<os>_<arch>-<ldflags hash>/<tool>
# Concurrent callers take a flock, so only one of them builds. ZEN_HELM_BIN / ZEN_KUSTOMIZE_BIN skip the build
# and print the given path instead.
set -euo pipefail

HELM_VERSION=v3.22.0
# The Kubernetes version helm assumes without a cluster (`helm template`, `helm lint`): that of the client-go its
# go.mod pins (v0.37 for v3.22.0), as helm's own Makefile sets it. Tests pass --kube-version explicitly anyway.
HELM_K8S_MINOR=37
KUSTOMIZE_VERSION=v5.8.2 # v5.8.3 needs Go 1.27

say() { printf 'build-tools: %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
	say "error: 'go' is not on PATH. helm and kustomize are built from their Go modules and need Go"
	say "(GOTOOLCHAIN=local) plus access to the Go module proxy."
	exit 127
fi
if ! command -v flock >/dev/null 2>&1; then
	say "error: 'flock' (util-linux) is not on PATH."
	exit 127
fi

export GOTOOLCHAIN=local CGO_ENABLED=0
GOVERSION=$(go env GOVERSION)
PLATFORM=$(go env GOOS)_$(go env GOARCH)
CACHE_ROOT="${ZEN_CACHE_DIR:-${HOME:?HOME is not set}/.cache/zen-watcher}/tools"

# build TOOL VERSION MODULE_PATH LDFLAGS: prints the cached binary's path, building it first if needed.
build() {
	local tool=$1 version=$2 pkg=$3 ldflags=$4
	local dir
	dir="$CACHE_ROOT/$tool-$version-$GOVERSION-$PLATFORM-$(printf '%s' "$ldflags" | sha256sum | cut -c1-8)"
	local bin="$dir/$tool"
	if [[ ! -x "$bin" ]]; then
		mkdir -p "$dir"
		exec 9>"$dir/.lock"
		if ! flock -n 9; then
			say "another process is building $bin; waiting for it"
			flock 9
		fi
		if [[ ! -x "$bin" ]]; then
			say "building $tool $version with $GOVERSION (cold: a few minutes on 2 cores; see docs/INSTALL.md)"
			local start tmp
			start=$(date +%s)
			tmp=$(mktemp -d "$dir/.gobin.XXXXXX")
			# `go install module@version` builds outside any module, exactly the versions that module's go.mod pins.
			GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "$pkg@$version" >&2
			mv -f "$tmp/$tool" "$bin"
			rm -rf "$tmp"
			say "built $tool in $(($(date +%s) - start))s: $bin"
		fi
		exec 9>&-
	fi
	touch "$bin" 2>/dev/null || true
	printf '%s\n' "$bin"
}

tools=("$@")
[[ ${#tools[@]} -eq 0 ]] && tools=(helm kustomize)
for t in "${tools[@]}"; do
	case "$t" in
	helm)
		if [[ -n "${ZEN_HELM_BIN:-}" ]]; then printf '%s\n' "$ZEN_HELM_BIN"; continue; fi
		build helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
			"-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
			 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR \
			 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR"
		;;
	kustomize)
		if [[ -n "${ZEN_KUSTOMIZE_BIN:-}" ]]; then printf '%s\n' "$ZEN_KUSTOMIZE_BIN"; continue; fi
		build kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5 "-s -w"
		;;
	*)
		say "unknown tool '$t' (known: helm, kustomize)"
		exit 2
		;;
	esac
done
