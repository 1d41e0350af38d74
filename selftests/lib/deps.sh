#!/usr/bin/env bash
# Installs the Debian packages floe's build, tests and benchmarks need, only those missing.
# Used by `make deps` (and so by `make run`, `make test`, `make bench`).
set -euo pipefail

pkgs=(
	# build
	make gcc clang clang-format llvm libclang-rt-14-dev bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config
	libpcap-dev libzstd-dev libmnl-dev libhttp-parser-dev libnghttp2-dev libjansson-dev
	librabbitmq-dev liblz4-dev libsnappy-dev libcurl4-openssl-dev libyaml-dev libwebsockets-dev libssl-dev libcapstone-dev
	# the scripts' runner (docs/scripting.md): the JavaScript engine and its seccomp filter
	duktape-dev libseccomp-dev
	# proto/ and the gRPC transport (lib/rpc)
	protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev libgrpc-dev
	# tests
	libcmocka-dev iproute2 tshark tcpdump curl python3 jq zstd procps openssl util-linux
	nghttp2-client nghttp2-server nghttp2-proxy python3-grpcio golang-go
	nodejs redis-server redis-tools dnsmasq-base bind9-dnsutils rabbitmq-server python3-pika kcat
	tinyproxy socat python3-prometheus-client
	# the web UI's browser tests (selftests/integration/test_ui.sh) drive Debian's chromium and
	# firefox-esr (the issue's two browsers; puppeteer-core speaks WebDriver BiDi to Firefox)
	chromium firefox-esr
	# benchmarks
	iperf3 wrk nginx time
	dnsperf
)

# The web UI's npm packages (ui/package-lock.json: the exact versions), when npm is here:
# npm ci, again only when the lockfile changed since the last install.
ui_npm() {
	local ui
	ui="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/ui"
	command -v npm >/dev/null 2>&1 || { echo "deps: no npm: the web UI is not built" >&2; return 0; }
	if [ ! -e "$ui/node_modules/.package-lock.json" ] ||
		[ "$ui/package-lock.json" -nt "$ui/node_modules/.package-lock.json" ]; then
		echo "deps: npm ci in ui/"
		(cd "$ui" && npm ci --no-audit --no-fund --loglevel=error) || {
			echo "deps: npm ci in ui/ failed" >&2
			return 1
		}
	fi
}
ui_npm

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Servers the tests start themselves (nginx, redis, rabbitmq) must not be started on the host
# by their packages: a policy-rc.d that refuses service starts, only while we install, and only
# when the machine has none of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
	trap 'rm -f "$policy"' EXIT
fi
# tshark asks whether non-root users may capture; the default (no) is fine.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ "$own_policy" = 1 ]; then
	rm -f "$policy"
	trap - EXIT
fi
