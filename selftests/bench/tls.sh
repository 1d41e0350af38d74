#!/usr/bin/env bash
# Benchmark: the cost of reading TLS in plaintext (docs/tls.md). nginx with TLS in pod b,
# h2load (HTTP/2 over TLS, OpenSSL) in pod a; the same load without floe, with `floe tap --json
# --tls=false` (packets only) and with `floe tap --json` (uprobes on both ends), in one run,
# ROUNDS times each, interleaved. Prints requests/s and h2load's mean/max request time, and the
# extra time per SSL call (the plaintext records floe counted), and floe's own CPU seconds
# (with --tls it also dissects every request twice, once per side, and writes the entries).
# Not pass/fail.
# Usage (root, from the repo root): bash selftests/bench/tls.sh [REQUESTS] [ROUNDS]

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=600 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"
source "$HERE/../bench/nginx_conf.sh"

N=${1:-20000} ROUNDS=${2:-3}
T=$PODS_TMP
A=10.213.18.11 B=10.213.18.12 NPORT=8443

need_cmd "nginx, h2load, openssl" nginx h2load openssl || done_testing
entries_pods $A $B
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=b.test" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
mkdir -p "$T/www"
head -c 1000 /dev/zero | tr '\0' x >"$T/www/1k.txt"
nginx_conf "$T/nginx.conf" "$T" "$B:$NPORT ssl http2" "$T/www" 1024 "" on "$T/cert.pem" "$T/key.pem"
pod_bg b "$T/nginx.log" nginx -c "$T/nginx.conf" -e "$T/nginx/error.log"
wait_tcp_listen b $NPORT 10 || { not_ok "nginx listens"; done_testing; }

# load LABEL: one h2load run; appends "LABEL req/s mean_ms max_ms" to $T/results
load() {
	in_pod a h2load -n "$N" -c 8 -m 10 "https://$B:$NPORT/1k.txt" >"$T/h2load.out" 2>&1
	awk -v l="$1" '
		/finished in/ { for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) rps = $(i - 1) }
		/^time for request:/ { mn = $4; mx = $5; mean = $6 }
		/succeeded,/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^succeeded/) ok = $i }
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		END { printf "%s %s %.3f %.3f %s\n", l, rps, ms(mean), ms(mx), ok }' "$T/h2load.out" >>"$T/results"
}

: >"$T/results"
for r in $(seq 1 "$ROUNDS"); do
	load none
	OUT=$T/notls.$r.json entries_tap --tls=false >/dev/null
	load "tls=false"
	floe_stop
	OUT=$T/tls.$r.json entries_tap >/dev/null
	load "tls"
	floe_stop
	jq -r '.tls_records' "$T/tls.$r.stats.json" >>"$T/records"
	diag "round $r: floe cpu_s --tls=false $(jq -r .cpu_s "$T/notls.$r.stats.json"), --tls $(jq -r .cpu_s "$T/tls.$r.stats.json") ($(jq -r .dissect_entries "$T/tls.$r.stats.json") entries)"
done
diag "$(printf '%-10s %10s %10s %10s %10s\n' run req/s mean_ms max_ms succeeded)"
while read -r l; do diag "$(printf '%-10s %10s %10s %10s %10s' $l)"; done <"$T/results"
# medians
med() { grep "^$1 " "$T/results" | awk '{ print $'"$2"' }' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for l in none tls=false tls; do
	diag "$(printf 'median %-10s %10s req/s  mean %s ms' "$l" "$(med "$l" 2)" "$(med "$l" 3)")"
done
recs=$(sort -g "$T/records" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
rn=$(med none 2) rt=$(med tls 2)
diag "$(awk -v rn="$rn" -v rt="$rt" -v n="$N" -v recs="$recs" 'BEGIN {
	extra = n / rt - n / rn; printf "plaintext records per run %d; extra wall time %.3f s, %.2f us per SSL call recorded", recs, extra, recs ? extra * 1e6 / recs : 0 }')"
ok "benchmark ran ($ROUNDS rounds of $N requests)"
done_testing
