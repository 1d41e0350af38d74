#!/usr/bin/env bash
# Integration (local mode): a pod that leaves the scope while it keeps running (its namespace
# changed in the inventory; in Kubernetes a pod marked for deletion during its grace period, or
# the API event that ends one benchmark round while the pod's traffic goes on) is untapped
# without losing a packet of its traffic. Removing the clsact qdisc floe had created dropped
# the packets in flight on the veth, and the pod's TCP waited 0.2 s to 1 s to send them again
# (selftests/bench/k8s_latency.sh's bimodal figures). Now only floe's filters go; the qdisc
# stays until floe exits.
#   Pod c asks server s (never tapped) over a new TCP connection every ~2 ms throughout. floe
#   taps namespace "front"; c moves between "front" and "back" 6 times (each move untaps or
#   taps c). Checked: floe untaps and taps c each time; while untapped, c's veth has no floe
#   filter but keeps the clsact qdisc; no TCP segment was retransmitted by c or s
#   (/proc/net/snmp in both pods: RetransSegs, and TcpExt's SYN retransmissions); the entries
#   of c while tapped are there; after floe exits, no qdisc and no filter on the veth.
# Usage (root, from the repo root): bash selftests/integration/test_untap_live.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
C=10.226.19.11 S=10.226.19.12
pod_add c $C && pod_add s $S || { not_ok "create pods c, s"; done_testing; }
INV=$T/inventory
inventory() { printf '%s %s\n%s back\n' "$(pod_ns c)" "$1" "$(pod_ns s)" >"$INV.tmp" && mv "$INV.tmp" "$INV"; }
inventory front

pod_bg s "$T/server.log" python3 "$HERE/../lib/newconn.py" server 8080
wait_tcp_listen s 8080 10 || { not_ok "server in s"; done_testing; }

# retrans POD: TCP segments the pod sent again (RetransSegs, and SYN/SYN-ACK retransmissions).
retrans() {
	in_pod "$1" awk '
		/^Tcp:/ { if (th) { for (i = 1; i <= NF; i++) if (tk[i] == "RetransSegs") n += $i } else { for (i = 1; i <= NF; i++) tk[i] = $i; th = 1 } }
		/^TcpExt:/ { if (xh) { for (i = 1; i <= NF; i++) if (xk[i] == "TCPSynRetrans") n += $i } else { for (i = 1; i <= NF; i++) xk[i] = $i; xh = 1 } }
		END { print n + 0 }' /proc/net/snmp /proc/net/netstat
}

OUT=$T/entries.json
if ! floe_start_json "$OUT" "$T/floe.log" -n front --inventory "$INV" --store "$T/store"; then
	not_ok "floe tap -n front starts"
	done_testing
fi
check "floe taps c" grep -q '^floe: tapping 1 pod:' "$T/floe.log"

pod_bg c "$T/client.log" python3 "$HERE/../lib/newconn.py" client $S 8080
wait_for_line "$T/client.log" '^50$' 10 || { not_ok "the client runs"; done_testing; }
r0_c=$(retrans c) r0_s=$(retrans s)

ns=front gone=0 back=0
for i in 1 2 3 4 5 6; do
	if [ $ns = front ]; then ns=back; else ns=front; fi
	inventory $ns
	if [ $ns = back ]; then
		gone=$((gone + 1))
		end=$(($(date +%s) + 10))
		until [ "$(grep -c "pod .*$(pod_ns c) is gone" "$T/floe.log")" -ge $gone ] || [ "$(date +%s)" -ge $end ]; do sleep 0.05; done
		if [ $i = 1 ]; then
			is "$(floe_filters v-c | grep -c floe_tc_)" 0 "c untapped: no floe filter on its veth"
			is "$(on_node tc qdisc show dev v-c | grep -c clsact)" 1 "... but the clsact qdisc stays"
		fi
	else
		back=$((back + 1))
		end=$(($(date +%s) + 10))
		until [ "$(grep -c "tapping new pod .*$(pod_ns c)" "$T/floe.log")" -ge $back ] || [ "$(date +%s)" -ge $end ]; do sleep 0.05; done
	fi
	# let the traffic run through the change
	n=$(tail -n 1 "$T/client.log")
	wait_for_line "$T/client.log" "^$((n + 100))\$" 10
done
is "$(grep -c "pod .*$(pod_ns c) is gone" "$T/floe.log") $(grep -c "tapping new pod .*$(pod_ns c)" "$T/floe.log")" \
	"3 3" "floe untapped c 3 times and tapped it again 3 times"
is "$(($(retrans c) - r0_c)) $(($(retrans s) - r0_s))" "0 0" \
	"no TCP segment retransmitted by c or s across the untaps and taps"
check_not "no client error" grep -q error "$T/client.log"
floe_stop
is "$?" 0 "floe exits 0"
check "c's entries while tapped" jq -e 'select(.request.url | startswith("/live"))' "$OUT"
is "$(floe_filters v-c)$(on_node tc qdisc show dev v-c | grep clsact)" "" \
	"after floe exits: no filter, no clsact qdisc on c's veth"
done_testing
