#!/usr/bin/env bash
# tcp-punch.sh - TCP hole punching through real kernel NATs, with libpunch's
# pieces (punch-tcp-mapping, punch-tcp-punch) driven by tcp-punch-probe.
#
# For each pair of NAT types: a lab (natlab), coturn in its server namespace
# (TCP 3478 on both server addresses), and one tcp-punch-probe in each host.
# Each learns its TCP mapping from both addresses, writes it to a file the
# other waits for (the stand-in for signaling), punches by simultaneous open
# and sends 64 KiB while it reads the peer's 64 KiB, checking every byte.
#
#   udpblocked <-> udpblocked, portrestricted, open, doublenat: direct
#   udpblocked, 400 ms late <-> udpblocked: direct (the early side's SYNs are dropped)
#   udpblocked-random <-> udpblocked: fails cleanly within the window
#   udpblocked-rst, 400 ms late <-> udpblocked: direct, after RSTs
#
# What theory allows comes from lab_tcp_direct_possible (lab-lib.sh), and
# the expectation of each pair is checked against it. Usage:
#   tcp-punch.sh PATH/TO/tcp-punch-probe
# TAP output; needs root; about 60 s; every lab and process it started is
# removed on exit, also on failure or Ctrl-C. Results go to
# $PUNCH_BUILD_DIR/tcp-punch-results.txt (or $WORK) for docs/natlab.md.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NATLAB="$HERE/natlab"
PROBE=${1:-${PUNCH_BUILD_DIR:-}/tests/lab/tcp-punch-probe}
WINDOW_MS=5000
INTERVAL_MS=100
BYTES=65536

# shellcheck source=lab-lib.sh
. "$HERE/lab-lib.sh"
lab_require ip iptables turnserver
[[ -x $PROBE ]] || lab_skip "tcp-punch-probe not built ($PROBE)"

lab_run_init tcp-punch
BASE=$(printf 'tp%04x' $(($$ & 0xffff)))
RESULTS_FILE="${PUNCH_BUILD_DIR:-$WORK}/tcp-punch-results.txt"
: >"$RESULTS_FILE"

# "TYPE_A TYPE_B DELAY_A_MS EXPECT" (EXPECT: direct or fail)
PAIRS=(
	"udpblocked udpblocked 0 direct"
	"udpblocked portrestricted 0 direct"
	"udpblocked open 0 direct"
	"udpblocked doublenat 0 direct"
	"udpblocked udpblocked 400 direct"
	"udpblocked-random udpblocked 0 fail"
	"udpblocked-rst udpblocked 400 direct"
)

field() { # field FILE KEY: a string or number from the probe's one-line JSON
	sed -n "s/.*\"$2\": \(\"\([^\"]*\)\"\|\([0-9.a-z]*\)\).*/\2\3/p" "$1" | head -1
}

run_pair() {
	local n=$1 ta=$2 tb=$3 delay=$4 expect=$5 p dir name theory
	p="$BASE$n"
	dir="$WORK/$n"
	mkdir -p "$dir"
	name="$ta <-> $tb"
	[[ $delay == 0 ]] || name="$name (A ${delay} ms late)"
	if lab_tcp_direct_possible "$ta" "$tb"; then theory=direct; else theory=fail; fi
	check "$name: the expectation ($expect) is what theory allows" "$theory" "$expect"

	PREFIXES+=("$p")
	if ! "$NATLAB" up --prefix "$p" "$ta" "$tb" >"$dir/env" 2>"$dir/up.log"; then
		notok "$name: natlab up"
		sed 's/^/# /' "$dir/up.log"
		return
	fi
	# shellcheck disable=SC1091
	. "$dir/env"
	if ! lab_coturn_start "$dir"; then
		notok "$name: coturn"
		return
	fi
	PIDS+=("$LAB_TURN_PID")

	local common=(--stun "$NATLAB_STUN_IP1:3478" --stun "$NATLAB_STUN_IP2:3478"
		--interval-ms "$INTERVAL_MS" --window-ms "$WINDOW_MS" --bytes "$BYTES" --wait-ms 8000)
	local start=$SECONDS
	ip netns exec "$NATLAB_NS_A" timeout 40 "$PROBE" "${common[@]}" --start-delay-ms "$delay" \
		--mapping-out "$dir/a.map" --peer-in "$dir/b.map" >"$dir/a.json" 2>"$dir/a.log" &
	local pa=$!
	ip netns exec "$NATLAB_NS_B" timeout 40 "$PROBE" "${common[@]}" \
		--mapping-out "$dir/b.map" --peer-in "$dir/a.map" >"$dir/b.json" 2>"$dir/b.log" &
	local pb=$!
	PIDS+=("$pa" "$pb")
	local ra=0 rb=0
	wait "$pa" || ra=$?
	wait "$pb" || rb=$?
	local took=$((SECONDS - start))
	lab_coturn_stop

	local s out want_status
	[[ $expect == direct ]] && want_status=0 || want_status=1
	check "$name: A exits $want_status" "$want_status" "$ra"
	check "$name: B exits $want_status" "$want_status" "$rb"
	for s in a b; do
		out="$dir/$s.json"
		local t=$ta other=b
		[[ $s == b ]] && t=$tb && other=a
		case $t in
		udpblocked-random)
			check "$name: $s sees an endpoint-dependent TCP mapping" "endpoint-dependent" "$(field "$out" behaviour)"
			;;
		*)
			check "$name: $s sees an endpoint-independent TCP mapping" "endpoint-independent" "$(field "$out" behaviour)"
			check "$name: $s's NAT kept the port" "true" "$(field "$out" port_preserved)"
			;;
		esac
		if [[ $expect == direct ]]; then
			check "$name: $s went direct" "direct" "$(field "$out" result)"
			check "$name: $s verified $BYTES bytes from the peer" "$BYTES.0" "$(field "$out" bytes_verified)"
			# the connection's far end is the peer's public address (the other side's mapping)
			local peer_map
			peer_map=$(field "$dir/$other.json" mapping)
			check "$name: $s is connected to the peer's mapping" "${peer_map%:*}" "$(field "$out" connected_to | sed 's/:[0-9]*$//')"
		else
			check "$name: $s failed in the punch" "punch" "$(field "$out" stage)"
			case $(field "$out" error) in
			"no TCP connection with "*" within $WINDOW_MS ms"*) ok "$name: $s says why (no connection within the window)" ;;
			*) notok "$name: $s's error: $(field "$out" error)" ;;
			esac
		fi
	done
	if [[ $ta == udpblocked-rst ]]; then
		# B started first: its SYNs met A's NAT before A had sent any, and were refused
		local refused
		refused=$(field "$dir/b.json" refused)
		if [[ ${refused%.*} -ge 1 ]]; then ok "$name: B's early SYNs were refused (${refused%.*} RSTs) and retries got through"; else notok "$name: B saw no RST (refused=$refused)"; fi
	fi
	if [[ $took -le $((WINDOW_MS / 1000 + 12)) ]]; then ok "$name: done in ${took} s"; else notok "$name: took ${took} s"; fi
	printf '%s | A: %s | B: %s | %s s\n' "$name" "$(cat "$dir/a.json")" "$(cat "$dir/b.json")" "$took" >>"$RESULTS_FILE"
	"$NATLAB" down --prefix "$p" >/dev/null 2>&1 || true
}

n=0
for pair in "${PAIRS[@]}"; do
	n=$((n + 1))
	# shellcheck disable=SC2086 # four words
	run_pair "$n" $pair
done

lab_run_stop
left=$(ip netns list | awk '{print $1}' | grep -E "^$BASE" || true)
check "every lab namespace is gone" "" "$left"
lab_tap_finish
