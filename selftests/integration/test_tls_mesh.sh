#!/usr/bin/env bash
# Integration: --servicemesh (docs/tls.md, "Service meshes"). Two pods with nginx sidecars:
#   a ("front"): the app (curl) asks its sidecar on 127.0.0.1:15001 in plaintext; the sidecar
#                (nginx) speaks mTLS (a client certificate) to b's sidecar;
#   b ("back"):  the sidecar (nginx) terminates mTLS on B:8443 (client certificate required)
#                and proxies to the app on 127.0.0.1: plaintext to 127.0.0.1:8080 (/plain/),
#                or TLS to 127.0.0.1:9443 for an app that serves TLS itself (/tlsapp/); the
#                apps are Python's http.server.
# floe reads both sidecars' libssl. Per request, with --servicemesh (default): exactly one
# entry from a's sidecar and one from b's, each with the mTLS connection's real endpoints (a's
# port as b's sidecar logged it, B:8443, both pod names) and the status and body size curl got,
# and no entry with a loopback end (the plain hop is on lo, never captured; the TLS hop to the
# app is not read: tls_mesh_hops). With --servicemesh=false the TLS hop to the app is read too:
# entries with 127.0.0.1 on both ends, one from nginx (b's sidecar) and one from the app.
# Usage (root, from the repo root): bash selftests/integration/test_tls_mesh.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=180 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.62.11 B=10.213.62.12
N=3

need_cmd "openssl, curl, nginx, jq, python3 are installed" openssl curl nginx jq "$PY" || done_testing
entries_pods $A $B

# A CA, b's server certificate, a's client certificate.
{
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mesh-ca" -keyout "$T/ca.key" -out "$T/ca.pem" &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=b.mesh" -keyout "$T/b.key" -out "$T/b.csr" &&
		openssl x509 -req -in "$T/b.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 -out "$T/b.pem" &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=a.mesh" -keyout "$T/a.key" -out "$T/a.csr" &&
		openssl x509 -req -in "$T/a.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 -out "$T/a.pem"
} >"$T/certs.log" 2>&1 || { not_ok "make certificates"; diag "$(cat "$T/certs.log")"; done_testing; }

# nginx_sidecar NAME SERVER-BLOCK: a sidecar's configuration, logs and temp files under $T/NAME.
nginx_sidecar() {
	mkdir -p "$T/$1"
	cat >"$T/$1.conf" <<CONF
worker_processes 1;
daemon off;
user root;
pid $T/$1/nginx.pid;
error_log $T/$1/error.log;
events { worker_connections 256; }
http {
	log_format mesh '\$remote_addr \$remote_port \$request_uri \$status \$body_bytes_sent';
	access_log $T/$1/access.log mesh;
	client_body_temp_path $T/$1/body;
	proxy_temp_path $T/$1/proxy;
	fastcgi_temp_path $T/$1/fastcgi;
	uwsgi_temp_path $T/$1/uwsgi;
	scgi_temp_path $T/$1/scgi;
	server {
$2
	}
}
CONF
}
nginx_sidecar sa "		listen 127.0.0.1:15001;
		location / {
			proxy_pass https://$B:8443;
			proxy_http_version 1.1;
			proxy_ssl_certificate $T/a.pem;
			proxy_ssl_certificate_key $T/a.key;
			proxy_ssl_trusted_certificate $T/ca.pem;
			proxy_ssl_verify on;
			proxy_ssl_name b.mesh;
		}"
nginx_sidecar sb "		listen $B:8443 ssl;
		ssl_certificate $T/b.pem;
		ssl_certificate_key $T/b.key;
		ssl_client_certificate $T/ca.pem;
		ssl_verify_client on;
		location /plain/ { proxy_pass http://127.0.0.1:8080/; }
		location /tlsapp/ { proxy_pass https://127.0.0.1:9443/; proxy_ssl_verify off; }"

mkdir -p "$T/www"
for i in $(seq 1 $N); do head -c $((2000 + i * 500)) /dev/urandom | base64 -w 0 >"$T/www/r$i"; done
APP='
import http.server, ssl, sys, functools
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), h)
if len(sys.argv) > 3:
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.load_cert_chain(sys.argv[3], sys.argv[4])
    s.socket = c.wrap_socket(s.socket, server_side=True)
s.serve_forever()'
pod_bg b "$T/app.log" "$PY" -c "$APP" "$T/www" 8080
pod_bg b "$T/tlsapp.log" "$PY" -c "$APP" "$T/www" 9443 "$T/b.pem" "$T/b.key"
pod_bg b "$T/sb.log" nginx -c "$T/sb.conf" -e "$T/sb/error.log"
pod_bg a "$T/sa.log" nginx -c "$T/sa.conf" -e "$T/sa/error.log"
for p in "b 8080" "b 9443" "b 8443" "a 15001"; do
	# shellcheck disable=SC2086
	wait_tcp_listen $p 10 || { not_ok "listening: $p"; diag "$(cat "$T"/*.log "$T"/s?/error.log)"; done_testing; }
done
ok "apps and sidecars listen"

# run_requests PREFIX: N GETs from a's app through both sidecars; curl's view appended to
# $T/curl.w ("URL STATUS SIZE", URL as b's sidecar sees it).
run_requests() {
	for i in $(seq 1 $N); do
		in_pod a curl -sS --max-time 10 -o /dev/null -w "$1/r$i %{http_code} %{size_download}\n" \
			"http://127.0.0.1:15001$1/r$i" >>"$T/curl.w" 2>>"$T/curl.err"
	done
}
pids_of() { ip netns pids "$(pod_ns "$1")" | tr '\n' ',' | sed 's/,$//'; }

# ---------------------------------------------------------------- --servicemesh (default)
entries_tap
PIDS_A=$(pids_of a) PIDS_B=$(pids_of b)
: >"$T/curl.w"
run_requests /plain
run_requests /tlsapp
is "$(wc -l <"$T/curl.w")" $((2 * N)) "curl made $((2 * N)) requests through the sidecars"
entries_wait_tls "$OUT" $((4 * N)) 15 || diag "only $(jq -c 'select(.tls == true)' "$OUT" | wc -l) TLS entries"
sleep 1 # a duplicate would come within this
while read -r url code size; do
	read -r raddr rport _ < <(grep " $url " "$T/sb/access.log" | tail -n 1)
	is "$raddr" "$A" "$url: b's sidecar saw a's address"
	for side in a b; do
		if [ $side = a ]; then pids=$PIDS_A; else pids=$PIDS_B; fi
		e=$(jq -c "select(.tls == true and .request.url == \"$url\" and ([.pid] | inside([$pids])))" "$OUT")
		is "$(grep -c . <<<"$e")" 1 "$url: exactly one entry from $side's sidecar"
		e=$(head -n 1 <<<"$e")
		is "$(jq -r '.process' <<<"$e")" nginx "$url ($side): read at nginx"
		is "$(jq -r '.response.status' <<<"$e")" "$code" "$url ($side): status $code as curl got"
		is "$(jq -r '.response.body.size' <<<"$e")" "$size" "$url ($side): $size body bytes as curl got"
		is "$(jq -r '.src.ip + ":" + (.src.port|tostring) + " " + .src.pod' <<<"$e")" "$A:$rport $(pod_ns a)" \
			"$url ($side): client a:$rport (b's sidecar's log)"
		is "$(jq -r '.dst.ip + ":" + (.dst.port|tostring) + " " + .dst.pod' <<<"$e")" "$B:8443 $(pod_ns b)" \
			"$url ($side): server b:8443"
	done
done <"$T/curl.w"
is "$(jq -c 'select(.src.ip == "127.0.0.1" or .dst.ip == "127.0.0.1")' "$OUT" | wc -l)" 0 \
	"no entry with a loopback end (the hops to the apps)"
entries_stop $((4 * N))
x=${OUT%.json}
check "the TLS hop to the app was not read (tls_mesh_hops $(jq .tls_mesh_hops "$x.stats.json"))" \
	test "$(jq .tls_mesh_hops "$x.stats.json")" -gt 0

# ---------------------------------------------------------------- --servicemesh=false
OUT=$T/nomesh.json
entries_tap --servicemesh=false
: >"$T/curl.w"
run_requests /tlsapp
entries_wait_tls "$OUT" $((4 * N)) 15 || diag "only $(jq -c 'select(.tls == true)' "$OUT" | wc -l) TLS entries"
for i in $(seq 1 $N); do
	for proc in nginx python3; do
		n=$(jq -c "select(.tls == true and .request.url == \"/r$i\" and .process == \"$proc\" and .src.ip == \"127.0.0.1\" and .dst.ip == \"127.0.0.1\" and .dst.port == 9443)" "$OUT" | wc -l)
		is "$n" 1 "--servicemesh=false: /tlsapp/r$i read on the loopback hop at $proc"
	done
done
entries_stop $((4 * N))
is "$(jq .tls_mesh_hops "$T/nomesh.stats.json")" 0 "--servicemesh=false: no hop skipped"
done_testing
