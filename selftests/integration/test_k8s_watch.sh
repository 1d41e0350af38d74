#!/usr/bin/env bash
# Integration: the pod watch against a real kube-apiserver (selftests/k8s/cluster.sh), beyond
# test_k8s_tap.sh:
# - a label scope (-l) followed live: pods whose labels change into and out of the selector are
#   tapped and untapped within a second (tc filters on their veths, the same BPF program ids as
#   before: nothing reloaded), checked against the API's own answer to the selector; traffic of a
#   pod that left the scope no longer reaches the store;
# - a pod of another node that backs no Service names its end of entries (the pod names watch);
# - the service account's bound token revoked mid-run (its Secret deleted): floe's next requests
#   get 401, it says so once, the pods stay tapped; a new token written to the token file is taken
#   within the retry period and floe catches up;
# - 410 Gone on a paginated list's continue token (etcd compacted between pages, the pages slowed
#   by a relay that holds each new connection 300 ms): the list starts again, and --dryrun lists every
#   pod once (the oracle: the API server's list).
# Skipped when the cluster's binaries are not built (make k8s-deps).
# Usage (root, from the repo root): bash selftests/integration/test_k8s_watch.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=300 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

# shellcheck source=selftests/k8s/lib.sh
source "$HERE/../k8s/lib.sh"
CLUSTER=$K8S_DIR/cluster.sh
k8s_test_init "the pod watch: label scope, other nodes' names, token revoked, 410 on continue"

NODE_NAME=node-$$
A=10.245.0.11 B=10.245.0.12 C=10.245.0.13 F=10.245.0.14 D=10.245.0.15 E=10.245.0.16
for p in a b c f d e; do
	eval "ip=\$${p^^}"
	pod_add "$p" "$ip" && k8s_route "$p" || { not_ok "pod $p and its route"; done_testing; }
done
for ns in shop other; do
	kc create namespace $ns >/dev/null && kc -n $ns create serviceaccount default >/dev/null
done

# api_lpod NAME NODE LABELS-JSON [NS]: a Pod with labels, as the scheduler leaves it.
api_lpod() {
	kc apply -f - >/dev/null <<EOT
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "$1", "namespace": "${4:-shop}", "labels": $3},
 "spec": {"nodeName": "$2", "automountServiceAccountToken": false,
          "containers": [{"name": "c", "image": "registry.invalid/c:1"}]}}
EOT
}
api_lpod web-a "$NODE_NAME" '{"app": "web"}' && api_status shop web-a Running $A
api_lpod client-b "$NODE_NAME" '{"app": "client"}' && api_status shop client-b Running $B
api_lpod db-c "$NODE_NAME" '{"app": "web", "tier": "db"}' && api_status shop db-c Running $C
api_lpod far-f node-far '{"app": "web"}' && api_status shop far-f Running $F
api_lpod o-e "$NODE_NAME" '{"app": "client"}' other && api_status other o-e Running $E

SA=$(bash "$CLUSTER" sa-kubeconfig floe-agent 2>"$T/sa.err" | tail -n 1)
[ -f "$SA" ] || { not_ok "a kubeconfig of floe's service account"; diag "$(cat "$T/sa.err")"; done_testing; }
TOKEN_FILE=$(dirname "$SA")/token
# A token bound to a Secret: deleting the Secret revokes it (the API server checks the bound
# object on each authentication, behind a cache of 10 s).
bound_token() {
	kc -n floe create secret generic "$1" >/dev/null &&
		kc -n floe create token floe-agent --bound-object-kind Secret \
			--bound-object-name "$1" >"$TOKEN_FILE.tmp" && mv "$TOKEN_FILE.tmp" "$TOKEN_FILE"
}
bound_token tok-1 || { not_ok "a token bound to Secret tok-1"; done_testing; }

SEL='app in (web,client),tier!=db'
# Which of the pods a b c d floe taps now (tc filters on their veths), and which the API says the
# selector picks on this node: both as "api-name ..." sorted.
declare -A API_NAME=([a]=web-a [b]=client-b [c]=db-c [d]=new-d [e]=o-e)
tapped() {
	local p out=""
	for p in a b c d e; do
		[ "$(floe_filters "v-$p" | grep -c handle)" -gt 0 ] && out+="${API_NAME[$p]}"$'\n'
	done
	printf '%s' "$out" | sort | tr '\n' ' '
}
# truth [NS [SELECTOR]]
truth() {
	kc -n "${1:-shop}" get pods -l "${2:-$SEL}" \
		--field-selector "spec.nodeName=$NODE_NAME,status.phase=Running" \
		-o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort | tr '\n' ' '
}
# wait_tapped WANT SECS: until tapped() is WANT; prints the milliseconds it took.
wait_tapped() {
	local t0 now
	t0=$(date +%s%N)
	while :; do
		now=$(date +%s%N)
		[ "$(tapped)" = "$1" ] && { echo $(((now - t0) / 1000000)); return 0; }
		[ $((now - t0)) -ge $(($2 * 1000000000)) ] && { echo -1; return 1; }
		sleep 0.02
	done
}
prog_ids() { floe_filters "$@" | grep -o ' id [0-9]*' | sort -u | tr -d '\n'; }

# ---------------------------------------------------------------- a label scope, live
pod_bg a "$T/httpd-a.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T" &&
	pod_bg c "$T/httpd-c.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T" &&
	wait_tcp_listen a 8080 10 && wait_tcp_listen c 8080 10 || { not_ok "HTTP servers"; done_testing; }
echo hello >"$T/hello.txt"
OUT=$T/entries.json
# -l on the command line, as a dryrun shows; the running floe takes its scope from its
# configuration file, which is changed at the end.
out=$(on_node "$FLOE" tap --dryrun --kubeconfig "$SA" --node "$NODE_NAME" -n shop -l "$SEL" 2>&1)
is "$(tail -n +2 <<<"$out" | awk '{print $1}' | sort | tr '\n' ' ')" "shop/client-b shop/web-a " \
	"--dryrun -l '$SEL': the pods the selector picks on this node" || diag "$out"
mkdir -p "$T/conf"
CONF=$T/conf/floe.yaml
printf 'tap:\n  namespaces: [shop]\n  selector: "%s"\n' "$SEL" >"$CONF"
if ! floe_start_json "$OUT" "$T/floe.log" --config-path "$CONF" --kubeconfig "$SA" \
	--node "$NODE_NAME" --store "$T/store"; then
	not_ok "floe tap -l starts"
	diag "$(cat "$T/floe.log")"
	done_testing
fi
is "$(tapped)" "$(truth)" "-l '$SEL': the pods tapped are those the API selects ($(truth))"
is "$(tapped)" "client-b web-a " "... client-b and web-a (not db-c: tier=db; not far-f: another node)"
ids=$(prog_ids v-a)
diag "BPF program ids on v-a: $ids"

# far-f (another node, no Service) calls web-a: floe names it from the pod names watch.
in_pod f curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?n=far1"
entries_wait "$OUT" 1 10
is "$(jq -r 'select(.request.url | test("n=far1")) | [.src.pod, .src.namespace, .src.node,
	.src.name, .dst.pod] | join(" ")' "$OUT")" "far-f shop node-far far-f web-a" \
	"another node's pod without a Service is named (pod, namespace, node, name)" || entries_diag "$OUT"

# db-c's tier label removed: it matches now.
kc -n shop label pod db-c tier- >/dev/null
ms=$(wait_tapped "client-b db-c web-a " 5)
is "$(tapped)" "$(truth)" "a label removed: db-c tapped, as the API selects ($(truth))"
is_num "$ms" -le 1000 "... within 1 s ($ms ms, polled every 20 ms)"
# web-a relabelled app=other: it leaves the scope.
kc -n shop label pod web-a app=other --overwrite >/dev/null
ms=$(wait_tapped "client-b db-c " 5)
is "$(tapped)" "$(truth)" "a label changed: web-a untapped, as the API selects ($(truth))"
is_num "$ms" -le 1000 "... within 1 s ($ms ms)"
is "$(prog_ids v-c)" "$ids" "db-c's veth runs the same BPF programs (ids$ids): nothing reloaded"
check "floe said web-a is gone" grep -q 'pod shop/web-a is gone' "$T/floe.log"
# The store: far-f -> web-a is no longer captured (neither end tapped); client-b -> db-c is.
in_pod f curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?n=far2"
in_pod b curl -sS -o /dev/null --max-time 5 "http://$C:8080/hello.txt?n=b2c"
entries_wait "$OUT" 2 10
check "client-b -> db-c (both in scope now) reaches the entries" \
	grep -q 'n=b2c' "$OUT" || entries_diag "$OUT"
check_not "far-f -> web-a (out of scope now) does not" grep -q 'n=far2' "$OUT"

# ---------------------------------------------------------------- the token revoked
kc -n floe delete secret tok-1 >/dev/null
refused=""
for _ in $(seq 1 60); do
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" \
		-H "Authorization: Bearer $(cat "$TOKEN_FILE")" "$API/api/v1/pods?limit=1")
	[ "$code" = 401 ] && { refused=1; break; }
	sleep 0.5
done
check "the token bound to the deleted Secret is refused by the API server (401)" test -n "$refused"
# floe's open watch keeps its authenticated stream: a cut makes it connect again.
relay_cut
api_lpod new-d "$NODE_NAME" '{"app": "web"}' && api_status shop new-d Running $D
relay_up
wait_for_line "$T/floe.log" "refuses floe's credentials \\(HTTP 401" 20
check "floe says the API server refuses its credentials (401), and where to put a token" \
	grep -qF "write a valid token to $TOKEN_FILE" "$T/floe.log"
diag "$(grep -m1 'HTTP 401' "$T/floe.log")"
sleep 2
is "$(grep -c "pods: the API server refuses" "$T/floe.log")" 1 "... said once, not at each retry"
is "$(tapped)" "client-b db-c " "the pods stay tapped while the credentials are refused"
check_not "new-d is not tapped yet" grep -q 'tapping new pod shop/new-d' "$T/floe.log"
t0=$(date +%s%N)
bound_token tok-2 || not_ok "a new token bound to Secret tok-2"
wait_for_line "$T/floe.log" 'tapping new pod shop/new-d' 20
ms=$((($(date +%s%N) - t0) / 1000000))
check "with a new token in the file floe catches up: new-d tapped" \
	grep -q 'tapping new pod shop/new-d' "$T/floe.log"
is_num "$ms" -le 7000 "... within the retry period of 5 s ($ms ms)"
is "$(tapped)" "$(truth)" "the pods tapped are those the API selects ($(truth))"
check "floe said the API server answers again" grep -q 'API server answers again' "$T/floe.log"

# ---------------------------------------------------------------- floe's own scope, live
# The configuration file rewritten (as an editor or the kubelet's ConfigMap update does: a new
# file renamed over it): the new selector applies within a second, nothing reloaded.
printf 'tap:\n  namespaces: [shop]\n  selector: "app=client"\n' >"$CONF.new" && mv "$CONF.new" "$CONF"
ms=$(wait_tapped "client-b " 5)
is "$(tapped)" "$(truth shop app=client)" "the file's selector changed to app=client: the pods it picks ($(truth shop app=client))"
is_num "$ms" -le 1000 "... within 1 s ($ms ms)"
check "floe said the scope changed" grep -q 'the scope changed.*-l app=client (listing the pods again)' "$T/floe.log"
# Another namespace: the pods the source knows are looked at again (no list).
printf 'tap:\n  namespaces: [other]\n  selector: "app=client"\n' >"$CONF.new" && mv "$CONF.new" "$CONF"
ms=$(wait_tapped "o-e " 5)
is "$(tapped)" "$(truth other app=client)" "the file's namespaces changed to other: its pods ($(truth other app=client))"
is_num "$ms" -le 1000 "... within 1 s ($ms ms)"
is "$(prog_ids v-e)" "$ids" "o-e's veth runs the same BPF programs (ids$ids): nothing reloaded"
# A selector the API server refuses: said, the one before stays in force.
printf 'tap:\n  namespaces: [other]\n  selector: "app in (x"\n' >"$CONF.new" && mv "$CONF.new" "$CONF"
wait_for_line "$T/floe.log" 'is refused by the API server' 5
check "a selector the API server refuses is said" \
	grep -q 'label selector "app in (x" is refused by the API server.*stays "app=client"' "$T/floe.log"
sleep 1
is "$(tapped)" "o-e " "... and the pods tapped stay those of the selector before" ||
	diag "$(tail -n 5 "$T/floe.log")"
check "floe still runs" kill -0 "$FLOE_PID"
floe_stop
is "$?" 0 "floe exits 0"
is "$(floe_filters v-a v-b v-c v-d v-e | grep -c handle)" 0 "no filter left after exit"

# ---------------------------------------------------------------- 410 on a continue token
kc create namespace bulk >/dev/null && kc -n bulk create serviceaccount default >/dev/null
N=24
for i in $(seq 1 $N); do
	api_pod bulk "p-$i" "$NODE_NAME" && api_status bulk "p-$i" Running "10.245.1.$i" ||
		not_ok "bulk pod $i"
done
want=$(kc -n bulk get pods -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' |
	sort | tr '\n' ' ')
# Each page is a request of its own (floe makes a new connection for each page of its first
# list): a relay in the node netns that holds each new connection 300 ms before passing it on
# makes a list of 12 pages last seconds. (The kernel here has no netem.)
cat >"$T/slow_relay.py" <<'EOT'
import asyncio, sys
port, sock, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    finally:
        w.close()
async def conn(cr, cw):
    await asyncio.sleep(delay)
    ur, uw = await asyncio.open_unix_connection(sock)
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw), return_exceptions=True)
async def main():
    srv = await asyncio.start_server(conn, "127.0.0.1", port)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
EOT
SLOW_PORT=$((PORT + 1))
node_bg "$T/slow-relay.log" python3 "$T/slow_relay.py" $SLOW_PORT "$T/api.sock" 0.3
for _ in $(seq 1 100); do
	on_node ss -Htln "sport = :$SLOW_PORT" | grep -q . && break
	sleep 0.05
done
sed "s|127.0.0.1:$PORT|127.0.0.1:$SLOW_PORT|" "$SA" >"$T/slow.kubeconfig"
on_node "$FLOE" tap --dryrun --kubeconfig "$T/slow.kubeconfig" --node "$NODE_NAME" -n bulk \
	--chunk-size 2 >"$T/bulk.out" 2>"$T/bulk.err" &
DRY=$!
bg_track $DRY
# Compact etcd (after a write, so that the revision moves past the list's) until floe says its
# continue token expired; then leave it alone so that the list started again completes.
compactions=0
for _ in $(seq 1 100); do
	grep -q '410 Gone on a continue token' "$T/bulk.err" && break
	kill -0 $DRY 2>/dev/null || break
	kc -n bulk annotate pod p-1 "floe-test/n=$compactions" --overwrite >/dev/null
	bash "$CLUSTER" compact >/dev/null && compactions=$((compactions + 1))
	sleep 0.2
done
wait $DRY
rc=$?
is "$rc" 0 "--dryrun --chunk-size 2 exits 0 (after $compactions compactions)" || diag "$(cat "$T/bulk.err")"
diag "$(grep -m1 '410' "$T/bulk.err")"
check "floe's list got 410 Gone on a continue token and listed again from the first page" \
	grep -q '410 Gone on a continue token.*listing again from the first page' "$T/bulk.err"
got=$(tail -n +2 "$T/bulk.out" | awk '{print $1}')
is "$(sort <<<"$got" | tr '\n' ' ')" "$want" "every pod listed, as the API server lists them ($N)"
is "$(sort <<<"$got" | uniq -d | wc -l)" 0 "none listed twice"
done_testing
