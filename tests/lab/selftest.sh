#!/usr/bin/env bash
# selftest.sh - check that natlab's NAT types behave as advertised.
#
# Brings up seven labs side by side (every NAT type at least once), starts
# coturn in each lab's server namespace, and classifies every host with
# coturn's RFC 5780 client:
#
#   turnutils_natdiscovery -f 203.0.113.10   (filtering; run first, see below)
#   turnutils_natdiscovery -m 203.0.113.10   (mapping)
#
# plus natprobe.py for what natdiscovery cannot see: "open" really has no
# NAT (mapped == local), udpblocked* let TCP through (udpblocked and
# udpblocked-rst with an endpoint-independent, port-keeping TCP mapping,
# udpblocked-random with a new port per connection; an unsolicited SYN is
# dropped, or answered with an RST by udpblocked-rst), and samenat /
# samenat-hairpin do (not) hairpin between the two LAN hosts.
#
# -f runs before -m because -m sends to the server's second address, and
# the address-restricted cone would then (correctly) admit that address
# when -f asks for a reply from it.
#
# Output is TAP.  Skips ("1..0 # SKIP ...") when not root, when network
# namespaces do not work, or when coturn/python3 are missing.  Everything
# it creates is removed on exit, also on failure or Ctrl-C.  Runs in about
# 10-15 s (the filtering tests wait out two 3 s STUN timeouts per host; all
# hosts are probed in parallel).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NATLAB="$HERE/natlab"
PROBE="$HERE/natprobe.py"
STUN=203.0.113.10

# shellcheck source=lab-lib.sh
. "$HERE/lab-lib.sh"
lab_require ip iptables turnserver turnutils_natdiscovery python3

# lab id -> "TYPE_A TYPE_B"
declare -A LABS=(
	[1]="open fullcone"
	[2]="addrrestricted portrestricted"
	[3]="symmetric udpblocked"
	[4]="doublenat portrestricted"
	[5]="samenat samenat"
	[6]="samenat-hairpin samenat-hairpin"
	[7]="udpblocked-random udpblocked-rst"
)
LAB_IDS="1 2 3 4 5 6 7"

lab_run_init natlab-selftest

# ---- bring up all labs and start a STUN server in each ------------------
prefix_of() { printf 'st%s%s' "$$" "$1"; }

for id in $LAB_IDS; do
	p=$(prefix_of "$id")
	PREFIXES+=("$p")
	# shellcheck disable=SC2086 # two type names
	if ! "$NATLAB" up --prefix "$p" ${LABS[$id]} >"$WORK/$p.env" 2>"$WORK/$p.uplog"; then
		notok "natlab up ${LABS[$id]}"
		sed 's/^/# /' "$WORK/$p.uplog"
		continue
	fi
	ok "natlab up ${LABS[$id]}"
	ip netns exec "$p-srv" turnserver -n --no-cli --log-file=stdout \
		--listening-ip=203.0.113.10 --listening-ip=203.0.113.11 \
		--no-tls --no-dtls >"$WORK/$p.turn.log" 2>&1 &
	PIDS+=($!)
done

# Wait until every server answers a Binding request (from its own
# namespace, so that udpblocked cannot get in the way).
for id in $LAB_IDS; do
	p=$(prefix_of "$id")
	[[ -s $WORK/$p.env ]] || continue
	for _ in $(seq 50); do
		if ip netns exec "$p-srv" python3 "$PROBE" mapped "$STUN" >/dev/null 2>&1; then
			break
		fi
		sleep 0.1
	done
done

# ---- run every probe of every host in parallel --------------------------
# Each host gets one background job that runs its probes one after the
# other and writes them to $WORK/<prefix>-<site>.*
host_probes() {
	local p=$1 s=$2 out="$WORK/$1-$2"
	ip netns exec "$p-$s" timeout 20 turnutils_natdiscovery -f "$STUN" >"$out.f" 2>&1 || true
	ip netns exec "$p-$s" timeout 20 turnutils_natdiscovery -m "$STUN" >"$out.m" 2>&1 || true
	ip netns exec "$p-$s" python3 "$PROBE" mapped "$STUN" >"$out.mapped" 2>&1 || true
	ip netns exec "$p-$s" python3 "$PROBE" tcp "$STUN" 3478 >"$out.tcp" 2>&1 || true
	# the TCP mapping of one port toward both server addresses, and what an
	# unsolicited SYN from the internet to the site's WAN address meets
	ip netns exec "$p-$s" python3 "$PROBE" tcpmapping "$STUN" 203.0.113.11 >"$out.tcpmap" 2>&1 || true
	local wan
	wan=$(sed -n "s/^NATLAB_${s^^}_WAN='\(.*\)'$/\1/p" "$WORK/$p.env")
	ip netns exec "$p-srv" python3 "$PROBE" syn "$wan" 40000 >"$out.syn" 2>&1 || true
}

# A sends to B's public mapping from one socket; B waits on the socket
# whose mapping it advertised.  Used for samenat (no hairpin expected) and
# samenat-hairpin.
hairpin_probe() {
	local p=$1 out="$WORK/$1-hairpin" target=""
	ip netns exec "$p-b" python3 "$PROBE" recv "$STUN" --timeout 4 >"$out.recv" 2>&1 &
	local rpid=$!
	for _ in $(seq 100); do
		target=$(awk '/^mapped/ {print $2}' "$out.recv")
		[[ -n $target ]] && break
		sleep 0.05
	done
	if [[ -n $target ]]; then
		ip netns exec "$p-a" python3 "$PROBE" send "$STUN" "$target" >"$out.send" 2>&1 || true
	fi
	wait "$rpid" || true
}

# One job per lab: both hosts in parallel, then (samenat*) the hairpin
# probe on its own, so that it does not compete with natdiscovery.
lab_probes() {
	local id=$1 p
	p=$(prefix_of "$id")
	host_probes "$p" a &
	local pa=$!
	host_probes "$p" b &
	local pb=$!
	wait "$pa" "$pb" || true
	if [[ ${LABS[$id]} == samenat* ]]; then
		hairpin_probe "$p"
	fi
}

JOBS=()
for id in $LAB_IDS; do
	[[ -s $WORK/$(prefix_of "$id").env ]] || continue
	lab_probes "$id" &
	JOBS+=($!)
	PIDS+=($!)
done
for pid in "${JOBS[@]}"; do
	wait "$pid" || true
done

# ---- evaluate ------------------------------------------------------------
# natdiscovery's verdict lines look like "NAT with Endpoint Independent
# Mapping!"; reduce them to EI (endpoint-independent), AD (address-
# dependent), APD (address-and-port-dependent), or none (no answer).
verdict() { # verdict FILE Mapping|Filtering
	local line
	line=$(grep -o "NAT with .* $2" "$1" 2>/dev/null | tail -1 || true)
	case $line in
	*"Endpoint Independent"*) echo "EI" ;;
	*"Address and Port Dependent"*) echo "APD" ;;
	*"Address Dependent"*) echo "AD" ;;
	*) echo "none" ;;
	esac
}

expect_of() { # TYPE -> "mapping filtering"
	case $1 in
	open | fullcone) echo "EI EI" ;;
	addrrestricted) echo "EI AD" ;;
	portrestricted | doublenat | samenat | samenat-hairpin) echo "EI APD" ;;
	symmetric) echo "APD APD" ;;
	udpblocked*) echo "none none" ;;
	esac
}

for id in $LAB_IDS; do
	p=$(prefix_of "$id")
	[[ -s $WORK/$p.env ]] || continue
	read -r ta tb <<<"${LABS[$id]}"
	for s in a b; do
		if [[ $s == a ]]; then t=$ta; else t=$tb; fi
		out="$WORK/$p-$s"
		read -r em ef <<<"$(expect_of "$t")"
		check "$t ($s): natdiscovery mapping is $em" "$em" "$(verdict "$out.m" Mapping)"
		check "$t ($s): natdiscovery filtering is $ef" "$ef" "$(verdict "$out.f" Filtering)"
		# "local IP:PORT mapped IP:PORT" from natprobe.
		lcl="" mapped=""
		read -r _ lcl _ mapped <"$out.mapped" || true
		wan=$(sed -n "s/^NATLAB_${s^^}_WAN='\(.*\)'$/\1/p" "$WORK/$p.env")
		case $t in
		open)
			check "$t ($s): no NAT, mapped address is the host's own" "$lcl" "$mapped"
			;;
		udpblocked*)
			check "$t ($s): UDP to the STUN server is blocked" "timeout" "$(head -1 "$out.mapped")"
			check "$t ($s): TCP to the STUN server gets through" "tcp ok" "$(head -1 "$out.tcp")"
			;;
		*)
			check "$t ($s): mapped to the site's public address $wan" "$wan" "${mapped%:*}"
			;;
		esac
	done
	for s in a b; do
		if [[ $s == a ]]; then t=$ta; else t=$tb; fi
		out="$WORK/$p-$s"
		# TCP behaviour of the UDP-blocked sites (what TCP hole punching needs)
		case $t in
		udpblocked | udpblocked-rst)
			check "$t ($s): TCP mapping endpoint-independent, port kept" "EIM, port kept" \
				"$(sed -n 's/.*: \(EIM\|ADM\), port \(kept\|changed\)$/\1, port \2/p' "$out.tcpmap")"
			;;
		udpblocked-random)
			check "$t ($s): TCP mapping endpoint-dependent, port changed" "ADM, port changed" \
				"$(sed -n 's/.*: \(EIM\|ADM\), port \(kept\|changed\)$/\1, port \2/p' "$out.tcpmap")"
			;;
		esac
		case $t in
		udpblocked | udpblocked-random)
			check "$t ($s): an unsolicited inbound SYN is dropped" "tcp timeout" "$(cat "$out.syn")"
			;;
		udpblocked-rst)
			check "$t ($s): an unsolicited inbound SYN is answered with an RST" "tcp refused" "$(cat "$out.syn")"
			;;
		esac
	done
	case $ta in
	samenat)
		check "samenat: A -> B's public mapping is not hairpinned" "timeout" "$(tail -1 "$WORK/$p-hairpin.recv")"
		;;
	samenat-hairpin)
		amap=$(awk '/^mapped/ {print $2}' "$WORK/$p-hairpin.send" 2>/dev/null || true)
		check "samenat-hairpin: A -> B's public mapping arrives from A's public mapping" \
			"got ${amap:-?}" "$(tail -1 "$WORK/$p-hairpin.recv" | cut -d' ' -f1,2)"
		;;
	esac
done

# ---- tear down and check that nothing is left ----------------------------
lab_run_stop
left=$(ip netns list | awk '{print $1}' | grep -E "^st$$[0-9]-" || true)
check "natlab down removed every namespace" "" "$left"
left_state=$(find /run/natlab -name "st$$[0-9].env" 2>/dev/null || true)
check "natlab down removed every state file" "" "$left_state"

lab_tap_finish
