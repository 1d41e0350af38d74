#!/usr/bin/env bash
# Builds the test cluster's binaries from their Go modules, each set only if it is missing:
#   kube-apiserver, kubectl   from k8s.io/kubernetes   (selftests/k8s/build/kubernetes/go.mod)
#   etcd, etcdctl             from go.etcd.io/etcd     (selftests/k8s/build/etcd/go.mod)
# into $FLOE_CACHE/k8s/<module>-<version>/ (FLOE_CACHE defaults to /var/cache/floe), and the Go
# module and build caches under $FLOE_CACHE/go/, so that a machine downloads and compiles them
# once for all its clones (a fresh clone's build/ would start from nothing every time).
#
#   build.sh           build what is missing; prints nothing when all is there
#   build.sh --paths   also print "NAME=DIR" for the kubernetes and etcd binary directories
#
# Exit status: 0 when all four binaries are there, 1 when one cannot be built (no Go, no module
# proxy), with the reason on stderr. Builds run at the lowest priority, one package at a time
# (the machine is shared): a fresh build takes tens of minutes, see docs/k8s-test-cluster.md.
set -euo pipefail

K8S_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=selftests/k8s/lib.sh
source "$K8S_DIR/lib.sh"

# build_set NAME MODULE_DIR OUT_DIR LDFLAGS PKG:BIN...: build the packages of the module in
# MODULE_DIR into OUT_DIR unless every BIN is already there. Builds into a temporary directory
# beside it and renames it into place, under a lock, so that parallel runs never see a
# half-built set and build it once.
build_set() {
	local name=$1 moddir=$2 out=$3 ldflags=$4
	shift 4
	local spec missing=0
	for spec in "$@"; do
		[ -x "$out/${spec#*:}" ] || missing=1
	done
	[ "$missing" = 1 ] || return 0

	mkdir -p "$(dirname "$out")"
	exec {lockfd}>"$out.lock"
	flock "$lockfd"
	missing=0
	for spec in "$@"; do
		[ -x "$out/${spec#*:}" ] || missing=1
	done
	if [ "$missing" = 0 ]; then
		exec {lockfd}>&-
		return 0
	fi

	local tmp start rc=0
	tmp=$(mktemp -d "$out.build.XXXXXX")
	start=$(date +%s)
	# A developer's machine keeps its other work (nice, one package at a time); CI has the
	# machine to itself and builds with every core.
	local par=1
	[ "${CI:-}" = true ] && par=$(nproc)
	echo "k8s: building $name into $out (nice, -p $par; a fresh build takes a while)" >&2
	for spec in "$@"; do
		(cd "$moddir" && nice -n 19 go build -p "$par" -trimpath -ldflags "$ldflags" \
			-o "$tmp/${spec#*:}" "${spec%%:*}") ||
			rc=$?
		[ "$rc" = 0 ] || break
	done
	if [ "$rc" != 0 ]; then
		rm -rf "$tmp"
		exec {lockfd}>&-
		echo "k8s: building $name failed (go build exit $rc)" >&2
		return 1
	fi
	rm -rf "$out"
	chmod 755 "$tmp"
	mv "$tmp" "$out"
	exec {lockfd}>&-
	echo "k8s: built $name in $(($(date +%s) - start)) s" >&2
}

if ! command -v go >/dev/null 2>&1; then
	echo "k8s: no Go toolchain (expected at /usr/local/go/bin/go)" >&2
	exit 1
fi
mkdir -p "$GOMODCACHE" "$GOCACHE"

# The version a release build stamps in (what /version and `kubectl version` report), as
# Kubernetes' hack/lib/version.sh does; without it the binaries say v0.0.0-master.
k8s_minor=${K8S_VERSION#v1.}
k8s_minor=${k8s_minor%%.*}
k8s_ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
	k8s_ldflags="$k8s_ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1"
	k8s_ldflags="$k8s_ldflags -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
done
build_set "kube-apiserver, kubectl $K8S_VERSION" "$K8S_DIR/build/kubernetes" "$K8S_BIN" \
	"$k8s_ldflags" \
	k8s.io/kubernetes/cmd/kube-apiserver:kube-apiserver \
	k8s.io/kubernetes/cmd/kubectl:kubectl
build_set "etcd, etcdctl $ETCD_VERSION" "$K8S_DIR/build/etcd" "$ETCD_BIN" "-s -w" \
	go.etcd.io/etcd/server/v3:etcd \
	go.etcd.io/etcd/etcdctl/v3:etcdctl

if [ "${1:-}" = --paths ]; then
	echo "kubernetes=$K8S_BIN"
	echo "etcd=$ETCD_BIN"
fi
