#!/usr/bin/env bash
# Integration: pods that come and go while floe taps. A pod created after `floe tap` started is
# hooked within a couple of seconds without restarting floe (its traffic is in the store); a pod
# that is deleted is unhooked (its host-side veth is gone with it, and floe says so); a pod
# outside the scope that appears is never hooked.
# Usage (root, from the repo root): bash selftests/integration/test_pod_lifecycle.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"

T=$PODS_TMP
A=10.213.7.11 B=10.213.7.12 C=10.213.7.13
STORE=$T/store PCAP=$T/export.pcap
printf '%s shop\n%s shop\n%s other\n' "$(pod_ns a)" "$(pod_ns b)" "$(pod_ns c)" >"$T/inventory"

pod_add a $A || { not_ok "create pod a"; done_testing; }
mkdir -p "$T/www" && echo hello >"$T/www/hello.txt"
pod_bg a "$T/httpd.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T/www"
wait_tcp_listen a 8080 10 || { not_ok "HTTP server listens"; done_testing; }

if ! floe_start "$T/floe.log" -n shop --inventory "$T/inventory" --store "$STORE" \
	--stats-json "$T/stats.json"; then
	not_ok "floe starts"
	done_testing
fi
check "floe starts with the one pod that exists" grep -q '^floe: tapping 1 pod: shop/' "$T/floe.log"

# b (in scope) and c (out of scope) appear while floe runs.
pod_add b $B && pod_add c $C || { not_ok "create pods b, c"; done_testing; }
hooked=no
for _ in $(seq 1 50); do
	if grep -q "tapping new pod shop/$(pod_ns b)" "$T/floe.log"; then
		hooked=yes
		break
	fi
	sleep 0.1
done
is "$hooked" yes "a new pod in scope is tapped within 5 s"
check_not "a new pod out of scope is not tapped" grep -q "$(pod_ns c)" "$T/floe.log"
is "$(floe_filters v-c | grep -c handle)" 0 "no floe filter on the out-of-scope pod's veth"
is "$(floe_filters v-b | grep -c handle)" 2 "ingress and egress filters on the new pod's veth"

for i in 1 2 3; do
	in_pod b curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?from=b&n=$i"
done
in_pod c curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?from=c"

# b goes away: floe notices and unhooks it, and keeps tapping a.
ip netns del "$(pod_ns b)"
gone=no
for _ in $(seq 1 50); do
	if grep -q "pod shop/$(pod_ns b) is gone" "$T/floe.log"; then
		gone=yes
		break
	fi
	sleep 0.1
done
is "$gone" yes "a deleted pod is noticed within 5 s"
kill -0 "$FLOE_PID" 2>/dev/null && ok "floe keeps running after a pod is deleted" ||
	not_ok "floe keeps running after a pod is deleted"
in_pod c curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?from=c2"

floe_stop INT || true
"$FLOE" pcap export --store "$STORE" -o "$PCAP" 2>>"$T/floe.log"
uris=$(tshark_q -r "$PCAP" -Y 'http.request' -T fields -e http.request.uri | sort | tr '\n' ' ')
is "$uris" "/hello.txt?from=b&n=1 /hello.txt?from=b&n=2 /hello.txt?from=b&n=3 /hello.txt?from=c /hello.txt?from=c2 " \
	"the new pod's requests, and a's requests from the untapped c, are in the store"
is "$(stat_get "$T/stats.json" pods)" 2 "two pods were tapped over the run"
is "$(floe_filters v-a | grep -c handle)" 0 "no floe filter left after exit"
done_testing
