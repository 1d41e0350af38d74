# shellcheck shell=bash
# Shared by selftests/k8s/build.sh and cluster.sh (sourced): where the Go toolchain, the Go
# caches and the built binaries are. The versions are read from the build modules' go.mod, so
# that the cache key follows the pins.
#
#   FLOE_CACHE   the machine-wide cache (default /var/cache/floe; ~/.cache/floe when that is
#                not writable and holds no build)
#   FLOE_K8S_BIN, FLOE_ETCD_BIN   directories of binaries built elsewhere (then used as they are)

K8S_DIR=${K8S_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

# go_mod_version GO_MOD MODULE: the version GO_MOD requires of MODULE.
go_mod_version() {
	awk -v m="$2" '$1 == m && $2 ~ /^v[0-9]/ { print $2; exit }' "$1"
}

K8S_VERSION=$(go_mod_version "$K8S_DIR/build/kubernetes/go.mod" k8s.io/kubernetes)
ETCD_VERSION=$(go_mod_version "$K8S_DIR/build/etcd/go.mod" go.etcd.io/etcd/server/v3)
# A user who cannot write /var/cache/floe uses the binaries built there, or builds in ~/.cache.
if [ -z "${FLOE_CACHE:-}" ]; then
	FLOE_CACHE=/var/cache/floe
	if ! { mkdir -p "$FLOE_CACHE" 2>/dev/null && [ -w "$FLOE_CACHE" ]; } &&
		! [ -x "$FLOE_CACHE/k8s/kubernetes-$K8S_VERSION/kube-apiserver" ]; then
		FLOE_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/floe
	fi
fi
K8S_BIN=${FLOE_K8S_BIN:-$FLOE_CACHE/k8s/kubernetes-$K8S_VERSION}
ETCD_BIN=${FLOE_ETCD_BIN:-$FLOE_CACHE/k8s/etcd-$ETCD_VERSION}

# The machine's Go, its caches beside the binaries (shared by every clone: downloaded and
# compiled once), writable module files (so that the cache can be removed with rm -rf), no VCS
# stamp (a clone owned by another user would make git refuse, failing the build), and no
# silent toolchain download: the go.mod files name a Go this machine has.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=$PATH:/usr/local/go/bin
fi
export GOMODCACHE=$FLOE_CACHE/go/mod
export GOCACHE=$FLOE_CACHE/go/build
export GOFLAGS="-modcacherw -buildvcs=false"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
