#!/usr/bin/env bash
# Integration: captured traffic is secret. `floe tap`, started under umask 000, makes its store
# 0700 and every file in it 0600. A user who is neither the owner nor in the store's group
# (nobody, through setpriv, as a new user would try) cannot read a segment nor export,
# while root's export holds the HTTP requests curl made (tshark). With --store-group the group
# (nobody's own) exports the same requests. A symlink planted as floe-probe.tmp leaves its
# target untouched. A world-writable store directory and one owned by another user are refused
# with a message that names the path and the fix. `pcap export -o` writes 0600 and replaces an
# existing file only with --force.
# Usage (root, from the repo root): bash selftests/integration/test_store_permissions.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"

T=$PODS_TMP
# nobody may walk through $T: only the store's own modes keep it out.
chmod 0711 "$T"
A=10.213.9.11 B=10.213.9.12
STORE=$T/store GSTORE=$T/gstore
printf '%s shop\n%s shop\n' "$(pod_ns a)" "$(pod_ns b)" >"$T/inventory"
NOBODY_GROUP=$(getent group 65534 | cut -d: -f1)
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
nobody_reads() { as_nobody cat "$1" >/dev/null 2>&1; }

if ! command -v setpriv >/dev/null || [ -z "$NOBODY_GROUP" ]; then
	skip "store permissions" "needs setpriv and a group 65534"
	done_testing
fi
pod_add a $A && pod_add b $B || { not_ok "create pods a, b"; done_testing; }
mkdir -p "$T/www" && echo hello >"$T/www/hello.txt"
pod_bg a "$T/httpd.log" python3 "$HERE/../lib/httpd.py" 0.0.0.0 8080 "$T/www"
wait_tcp_listen a 8080 10 || { not_ok "HTTP server listens"; done_testing; }

# tap_run DIR LOG TAG [flags...]: tap under umask 000 while b asks a for /hello.txt?TAG&n=1..3.
tap_run() {
	local dir=$1 log=$2 tag=$3 old i
	shift 3
	old=$(umask)
	umask 000
	floe_start "$log" -n shop --inventory "$T/inventory" --store "$dir" "$@" || {
		umask "$old"
		return 1
	}
	umask "$old"
	for i in 1 2 3; do
		in_pod b curl -sS -o /dev/null --max-time 5 "http://$A:8080/hello.txt?$tag&n=$i"
	done
	floe_stop INT
}

# modes DIR: "mode group" of every file in DIR, one line each, sorted and counted.
# (files only: the entry history's directory entries/ has the store directory's mode)
modes() { find "$1" -mindepth 1 -type f -printf '%m %g\n' | sort | uniq -c | sed 's/^ *//'; }

# uris PCAP: the HTTP request URIs in a capture, space-separated.
uris() { tshark_q -r "$1" -Y 'http.request' -T fields -e http.request.uri | sort | tr '\n' ' '; }

# --- the default: owner only ---
echo precious >"$T/victim" && chmod 0644 "$T/victim"
mkdir -m 0700 "$STORE" && ln -s "$T/victim" "$STORE/floe-probe.tmp"
tap_run "$STORE" "$T/floe.log" private || { not_ok "floe taps"; done_testing; }
is "$(stat -c %a "$STORE")" 700 "the store directory is 0700 under umask 000"
nfiles=$(find "$STORE" -mindepth 1 -type f | wc -l)
is "$(stat -c %a "$STORE/entries")" 700 "the entry history's directory is 0700 too"
is_num "$nfiles" -ge 2 "the store holds the lock and at least one segment"
is "$(modes "$STORE")" "$nfiles 600 root" "every file in the store is 0600"
is "$(cat "$T/victim")" precious "a symlink planted as floe-probe.tmp left its target untouched"
is "$(stat -c %a "$T/victim")" 644 "...and its mode"
check_not "the planted symlink is gone" test -L "$STORE/floe-probe.tmp"

seg=$(find "$STORE" -name 'floe-*.pcap*' | head -n 1)
check_not "nobody cannot read a segment" nobody_reads "$seg"
rc=0
as_nobody "$FLOE" pcap export --store "$STORE" -o - >"$T/nobody.pcap" 2>"$T/nobody.err" || rc=$?
is "$rc" 1 "nobody's export fails"
check "...saying why, with the store's path" grep -q "cannot open the store $STORE: Permission denied" "$T/nobody.err"
is "$(stat -c %s "$T/nobody.pcap")" 0 "...and writes nothing"

"$FLOE" pcap export --store "$STORE" -o "$T/root.pcap" 2>"$T/export.log" ||
	diag "$(cat "$T/export.log")"
is "$(uris "$T/root.pcap")" "/hello.txt?private&n=1 /hello.txt?private&n=2 /hello.txt?private&n=3 " \
	"root's export has the three requests curl made"
is "$(stat -c %a "$T/root.pcap")" 600 "the export is 0600"
rc=0
"$FLOE" pcap export --store "$STORE" -o "$T/root.pcap" 2>"$T/export2.log" || rc=$?
is "$rc" 1 "export refuses to replace an existing file"
check "...and says to give --force" grep -q -- "--force" "$T/export2.log"
ln -s "$T/victim" "$T/link.pcap"
"$FLOE" pcap export --store "$STORE" -o "$T/link.pcap" --force 2>>"$T/export.log"
check "--force replaces a symlink, not its target" test ! -L "$T/link.pcap" -a -f "$T/link.pcap"
is "$(cat "$T/victim")" precious "...whose target is untouched"

# --- with a group: nobody's group reads ---
tap_run "$GSTORE" "$T/floe-group.log" group --store-group "$NOBODY_GROUP" ||
	{ not_ok "floe taps with --store-group"; done_testing; }
is "$(stat -c '%a %G' "$GSTORE")" "750 $NOBODY_GROUP" "with --store-group the directory is 0750, that group's"
nfiles=$(find "$GSTORE" -mindepth 1 -type f | wc -l)
is "$(stat -c '%a %G' "$GSTORE/entries")" "750 $NOBODY_GROUP" "the entry history's directory is 0750, that group's"
is "$(modes "$GSTORE")" "$nfiles 640 $NOBODY_GROUP" "...and every file 0640, that group's"
rc=0
as_nobody "$FLOE" pcap export --store "$GSTORE" -o - >"$T/group.pcap" 2>"$T/group.err" || rc=$?
is "$rc" 0 "a member of the group exports" || diag "$(cat "$T/group.err")"
check "...and reads a segment" nobody_reads "$(find "$GSTORE" -name 'floe-*.pcap*' | head -n 1)"
is "$(uris "$T/group.pcap")" "/hello.txt?group&n=1 /hello.txt?group&n=2 /hello.txt?group&n=3 " \
	"...the three requests curl made"

# --- refused directories: nothing is tapped into them, nothing created ---
mkdir -m 0700 "$T/ww" "$T/foreign" && chmod 0777 "$T/ww" && chown 65534 "$T/foreign"
for d in ww foreign; do
	rc=0
	on_node "$FLOE" tap -n shop --inventory "$T/inventory" --store "$T/$d" --duration 5 --no-hub \
		>"$T/$d.log" 2>&1 || rc=$?
	is_num "$rc" -ne 0 "a store directory $d is refused"
	is "$(find "$T/$d" -mindepth 1 | wc -l)" 0 "...and nothing is created in it"
done
check "the world-writable one: path, mode and fix named" \
	grep -q "store directory $T/ww has mode 0777: every user may write to it.*chmod go-w $T/ww" "$T/ww.log"
check "the foreign one: path, owner and fix named" \
	grep -q "store directory $T/foreign belongs to uid 65534, not to uid 0.*chown 0 $T/foreign" "$T/foreign.log"
done_testing
