# shellcheck shell=bash
# Timing and formatting helpers of the dissection benchmarks (dissect.sh, protocols.sh); sourced.
# Needs TMPD (a temp dir) and TIME (GNU time's path).

# timed OUT ERR cmd...: run cmd (stdout to OUT, stderr to ERR); sets T_WALL, T_CPU (user +
# system, s, millisecond steps: bash's time, around GNU time, so ~1 ms more than the command),
# T_RSS_KB (GNU time's maximum resident set) and T_RC.
timed() {
	local out=$1 err=$2 tf=$TMPD/time.txt tt=$TMPD/times.txt u s
	local TIMEFORMAT='%3R %3U %3S'
	shift 2
	T_RC=0
	{ time "$TIME" -o "$tf" -f '%M' "$@" >"$out" 2>"$err" || T_RC=$?; } 2>"$tt"
	read -r T_WALL u s <"$tt"
	T_RSS_KB=$(tail -1 "$tf")
	T_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
}

# best N OUT ERR cmd...: the fastest of N runs (by wall time); its figures in B_WALL B_CPU
# B_RSS_KB, B_RC; OUT and ERR are from the last run.
best() {
	local n=$1 out=$2 err=$3 i
	shift 3
	B_WALL="" B_RC=0
	for ((i = 0; i < n; i++)); do
		timed "$out" "$err" "$@"
		if [ "$T_RC" -ne 0 ]; then
			B_RC=$T_RC
		fi
		if [ -z "$B_WALL" ] || awk -v a="$T_WALL" -v b="$B_WALL" 'BEGIN { exit !(a < b) }'; then
			B_WALL=$T_WALL B_CPU=$T_CPU B_RSS_KB=$T_RSS_KB
		fi
	done
}

mbps() { awk -v b="$1" -v t="$2" 'BEGIN { if (t <= 0) t = 0.005; printf "%.1f", b / 1048576 / t }'; }
rate0() { awk -v n="$1" -v t="$2" 'BEGIN { if (t <= 0) t = 0.005; printf "%.0f", n / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) { print "-"; exit } printf "%.1f", a / b }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
human() { awk -v b="$1" 'BEGIN { if (b < 1048576) printf "%.0f KB", b / 1024; else printf "%.0f MB", b / 1048576 }'; }

declare -a ROWS=() CMP=() NOTES=()
row() { ROWS+=("$(
	IFS='|'
	echo "$*"
)"); }

# floe's summary line: "... N entries (N printed, N incomplete) ... N parse errors, N gaps ..."
summary_field() { sed -n "s/.* \([0-9]\+\) $2.*/\1/p" "$1" | tail -1; }
