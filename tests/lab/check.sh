#!/usr/bin/env bash
# check.sh - `punch check` against natlab's real kernel NATs (TAP).
#
# Eight labs run side by side:
#   1-6  every NAT type, with coturn on 203.0.113.10 + .11 (RFC 5780).  In
#        each host namespace `punch check --json` must classify mapping and
#        filtering as the type says, and agree with turnutils_natdiscovery -f
#        and -m run in the same namespace.  samenat and samenat-hairpin must
#        differ in hairpinning; udpblocked must say "no UDP" and reach TCP.
#   7    single-address coturns (.10:3478, .10:3479, .11:3478): no RFC 5780,
#        so punch check must fall back to comparing mappings and say so, and
#        say "unknown" with a reason when given one server.
#        The default server list, pointed at these coturns with
#        PUNCH_DEFAULT_STUN, is used when no --stun is given, and said so.
#   8    (from the open host B) a fake STUN server (fake-stun.py) that answers with short, garbage,
#        wrong-transaction-id, bad-FINGERPRINT and forged-source datagrams,
#        and sends the request back over UDP and TCP; one whose SOFTWARE
#        holds terminal escape codes (the text report must escape them);
#        an address where nothing answers; SIGINT during a check; usage errors.
#   9    --lifetime, with router A's conntrack forgetting idle UDP after 4 s.
#   10   RFC 3489: Debian's stund on 203.0.113.30 + .31, behind a
#   11   port-restricted, a symmetric (10), a full-cone and an
#        address-restricted NAT (11); punch check must classify each as the
#        NAT is built, and agree with turnutils_natdiscovery against coturn
#        (RFC 5780, .10 + .11) in the same lab.
#
# The address-restricted NAT admits every address its LAN ever sent to (the
# `recent` list, see docs/natlab.md), so one tool's mapping test would open
# the other tool's filtering test. The list is flushed before each tool runs.
#
# Needs root; prints "1..0 # SKIP" otherwise.  Everything it starts is
# stopped by PID and every lab is removed on exit, also on failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NATLAB="$HERE/natlab"
FAKE="$HERE/fake-stun.py"
BUILD=${PUNCH_BUILD_DIR:-$HERE/../../_build}
PUNCH="$BUILD/tools/punch"
S1=203.0.113.10
S2=203.0.113.11
# stund (RFC 3489) in lab 10, on two more addresses of the server namespace
R1=203.0.113.30
R2=203.0.113.31

# shellcheck source=lab-lib.sh
. "$HERE/lab-lib.sh"
lab_require ip iptables turnserver turnutils_natdiscovery python3 stund
[[ -x $PUNCH ]] || lab_skip "$PUNCH is not built"

declare -A LABS=(
	[1]="open fullcone"
	[2]="addrrestricted portrestricted"
	[3]="symmetric udpblocked"
	[4]="doublenat portrestricted"
	[5]="samenat samenat"
	[6]="samenat-hairpin samenat-hairpin"
	[7]="portrestricted symmetric"
	[8]="portrestricted open"
	[9]="portrestricted portrestricted"
	[10]="portrestricted symmetric"
	[11]="fullcone addrrestricted"
)
LAB_IDS="1 2 3 4 5 6 7 8 9 10 11"

lab_run_init punch-check-lab

# json FILE KEY.PATH -> the value ('' when absent); booleans as true/false.
# Each file is flattened once (one python run) into FILE.flat, "path<TAB>value"
# lines with newlines in values shown as \n, so that 190 checks stay fast.
json() {
	[[ -e $1.flat ]] || python3 -c 'import json,sys
def walk(p, v):
    if isinstance(v, dict):
        for k, x in v.items(): walk(p + [k], x)
    elif isinstance(v, list):
        for i, x in enumerate(v): walk(p + [str(i)], x)
    else:
        s = str(v).lower() if isinstance(v, bool) else str(v)
        print(".".join(p) + "\t" + s.replace("\n", "\\n"))
try: walk([], json.load(open(sys.argv[1])))
except Exception: pass' "$1" >"$1.flat"
	awk -F'\t' -v k="$2" '$1 == k { sub(/^[^\t]*\t/, ""); print; exit }' "$1.flat"
}

# ck, five digits of the PID, the lab's two-digit id (natlab allows 10 characters);
# without an id: the stem every lab of this run shares
prefix_of() { printf 'ck%05d%s' $(($$ % 100000)) "${1:+$(printf %02d "$1")}"; }

coturn() { # coturn PREFIX NAME ARGS... (no auth: Binding needs none)
	local p=$1 name=$2
	shift 2
	ip netns exec "$p-srv" turnserver -n --no-cli --log-file=stdout --simple-log \
		--no-tls --no-dtls --no-multicast-peers \
		--pidfile="$WORK/$p.$name.pid" --userdb="$WORK/$p.$name.db" "$@" \
		>"$WORK/$p.$name.log" 2>&1 &
	PIDS+=($!)
}

# ---- bring up the labs and their servers ----------------------------------
for id in $LAB_IDS; do
	p=$(prefix_of "$id")
	PREFIXES+=("$p")
	# shellcheck disable=SC2086 # two type names
	if ! "$NATLAB" up --prefix "$p" ${LABS[$id]} >"$WORK/$p.env" 2>"$WORK/$p.uplog"; then
		notok "natlab up ${LABS[$id]}"
		sed 's/^/# /' "$WORK/$p.uplog"
		continue
	fi
	case $id in
	7)
		coturn "$p" one --listening-ip=$S1
		coturn "$p" two --listening-ip=$S2
		coturn "$p" three --listening-ip=$S1 --listening-port=3479
		;;
	8)
		ip netns exec "$p-srv" python3 "$FAKE" $S1 3478 short,garbage,wrongtxid,badfp,forged,request \
			--tcp request --log "$WORK/$p.fake1.log" 2>>"$WORK/$p.fake1.log" &
		PIDS+=($!)
		ip netns exec "$p-srv" python3 "$FAKE" $S2 3490 request,escape --tcp request,escape \
			--log "$WORK/$p.fake3.log" 2>>"$WORK/$p.fake3.log" &
		PIDS+=($!)
		ip netns exec "$p-srv" python3 "$FAKE" $S2 3478 short,garbage,wrongtxid,badfp,forged,good \
			--log "$WORK/$p.fake2.log" 2>>"$WORK/$p.fake2.log" &
		PIDS+=($!)
		;;
	9)
		ip netns exec "$p-ra" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=4 \
			net.netfilter.nf_conntrack_udp_timeout_stream=4
		coturn "$p" rfc5780 --listening-ip=$S1 --listening-ip=$S2
		;;
	10 | 11)
		ip -n "$p-srv" addr add $R1/24 dev eth0
		ip -n "$p-srv" addr add $R2/24 dev eth0
		ip netns exec "$p-srv" stund -h $R1 -a $R2 >"$WORK/$p.stund.log" 2>&1 &
		PIDS+=($!)
		coturn "$p" rfc5780 --listening-ip=$S1 --listening-ip=$S2
		;;
	*)
		coturn "$p" rfc5780 --listening-ip=$S1 --listening-ip=$S2 --lt-cred-mech \
			--realm=punch.lab --user=lab:lab-pass --relay-ip=$S1
		;;
	esac
done

# wait until the coturns answer TCP on every address they serve
for id in $LAB_IDS; do
	p=$(prefix_of "$id")
	[[ -s $WORK/$p.env ]] || continue
	targets="$S1/3478 $S2/3478"
	[[ $id == 7 ]] && targets="$S1/3478 $S2/3478 $S1/3479"
	[[ $id == 8 ]] && continue
	for t in $targets; do
		for _ in $(seq 50); do
			ip netns exec "$p-srv" bash -c "exec 3<>/dev/tcp/$t" 2>/dev/null && break
			sleep 0.1
		done
	done
done
sleep 0.2 # the fake servers' sockets

# ---- probes ---------------------------------------------------------------
flush_recent() { # PREFIX [SITE]: forget every address the LAN sent to (addrrestricted only)
	local ns sites="a b"
	[[ -n ${2:-} ]] && sites=$2
	for ns in $(for x in $sites; do echo "$1-r$x $1-c$x"; done); do
		ip netns exec "$ns" sh -c 'f=/proc/net/xt_recent/natlab_out; [ -e $f ] && echo / >$f' \
			2>/dev/null || true
	done
}

host_probes() { # PREFIX SITE
	local p=$1 s=$2 out="$WORK/$1-$2"
	flush_recent "$p"
	ip netns exec "$p-$s" "$PUNCH" check --stun stun:$S1 \
		--turn "turn:$S1?transport=$([[ $(sed -n "s/^NATLAB_TYPE_${s^^}='\(.*\)'$/\1/p" "$WORK/$p.env") == udpblocked ]] && echo tcp || echo udp)" \
		--turn-user lab --turn-pass lab-pass --json --timeout 12 \
		>"$out.json" 2>"$out.progress"
	echo $? >"$out.rc"
	case $(sed -n "s/^NATLAB_TYPE_${s^^}='\(.*\)'$/\1/p" "$WORK/$p.env") in
	udpblocked | symmetric)
		# two servers: the TCP mapping of one port can be judged
		ip netns exec "$p-$s" "$PUNCH" check --stun stun:$S1 --stun stun:$S2 --json --timeout 12 \
			>"$out.tcp2.json" 2>/dev/null || true
		;;
	esac
	flush_recent "$p"
	ip netns exec "$p-$s" timeout 20 turnutils_natdiscovery -f $S1 >"$out.f" 2>&1 || true
	ip netns exec "$p-$s" timeout 20 turnutils_natdiscovery -m $S1 >"$out.m" 2>&1 || true
}

stund_probes() { # PREFIX SITE: punch check against stund, natdiscovery against coturn
	local p=$1 s=$2 out="$WORK/$1-$2-rfc3489"
	# one host of the lab per router: the recent lists (addrrestricted) are per site
	flush_recent "$p" "$s"
	ip netns exec "$p-$s" "$PUNCH" check --stun stun:$R1 --json --timeout 10 >"$out.json" 2>/dev/null
	echo $? >"$out.rc"
	flush_recent "$p" "$s"
	ip netns exec "$p-$s" "$PUNCH" check --stun stun:$R1 --timeout 10 >"$out.txt" 2>/dev/null
	flush_recent "$p" "$s"
	ip netns exec "$p-$s" timeout 20 turnutils_natdiscovery -f $S1 >"$out.f" 2>&1 || true
	flush_recent "$p" "$s"
	ip netns exec "$p-$s" timeout 20 turnutils_natdiscovery -m $S1 >"$out.m" 2>&1 || true
	if command -v stun >/dev/null 2>&1; then
		flush_recent "$p" "$s"
		ip netns exec "$p-$s" timeout 20 stun $R1 >"$out.stunclient" 2>&1 || true
	fi
}

lab_probes() { # ID
	local id=$1 p
	p=$(prefix_of "$id")
	case $id in
	7)
		local a="$WORK/$p-fallback"
		ip netns exec "$p-a" "$PUNCH" check --stun stun:$S1 --stun stun:$S2 --json \
			>"$a-a2.json" 2>/dev/null
		ip netns exec "$p-b" "$PUNCH" check --stun stun:$S1 --stun stun:$S2 --json \
			>"$a-b2.json" 2>/dev/null
		ip netns exec "$p-b" "$PUNCH" check --stun stun:$S1 --stun stun:$S1:3479 --stun stun:$S2 \
			--json >"$a-b3.json" 2>/dev/null
		ip netns exec "$p-a" "$PUNCH" check --stun stun:$S1 --json >"$a-a1.json" 2>/dev/null
		# no --stun: the default list, pointed at the lab
		PUNCH_DEFAULT_STUN="stun:$S1, stun:$S2" ip netns exec "$p-a" "$PUNCH" check --json \
			>"$a-def.json" 2>"$a-def.progress"
		echo $? >"$a-def.rc"
		PUNCH_DEFAULT_STUN="stun:$S1 stun:$S2" ip netns exec "$p-a" "$PUNCH" check \
			>"$a-def.txt" 2>&1
		;;
	8)
		local f="$WORK/$p-fake" t0 t1
		ip netns exec "$p-b" "$PUNCH" check --stun stun:$S1 --json --timeout 5 \
			>"$f-bad.json" 2>/dev/null
		echo $? >"$f-bad.rc"
		ip netns exec "$p-b" "$PUNCH" check --stun stun:$S1 --timeout 5 \
			>"$f-bad.txt" 2>"$f-bad.err"
		echo $? >"$f-badtext.rc"
		ip netns exec "$p-b" "$PUNCH" check --stun stun:$S2 --json --timeout 5 \
			>"$f-good.json" 2>/dev/null
		echo $? >"$f-good.rc"
		ip netns exec "$p-b" "$PUNCH" check --stun stun:$S2:3490 --json --timeout 5 \
			>"$f-esc.json" 2>/dev/null
		echo $? >"$f-esc.rc"
		ip netns exec "$p-b" "$PUNCH" check --stun stun:$S2:3490 --timeout 5 \
			>"$f-esc.txt" 2>"$f-esc.err"
		t0=$(date +%s%N)
		ip netns exec "$p-b" "$PUNCH" check --stun stun:203.0.113.12 --timeout 4 \
			>"$f-none.txt" 2>"$f-none.err"
		echo $? >"$f-none.rc"
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000)) >"$f-none.ms"
		;;
	9)
		ip netns exec "$p-a" "$PUNCH" check --stun stun:$S1 --lifetime --lifetime-max 20 --json \
			>"$WORK/$p-lifetime.json" 2>/dev/null
		;;
	10 | 11)
		stund_probes "$p" a &
		local pa=$!
		stund_probes "$p" b
		wait "$pa" || true
		;;
	*)
		host_probes "$p" a &
		local pa=$!
		if [[ ${LABS[$id]} != samenat* ]]; then
			host_probes "$p" b &
			wait "$pa" "$!" || true
		else
			# one host at a time: both share the router's recent list and conntrack
			wait "$pa" || true
			host_probes "$p" b
		fi
		;;
	esac
}

START=$(date +%s)
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
echo "# probes took $(($(date +%s) - START)) s"

# ---- evaluate --------------------------------------------------------------
verdict() { # natdiscovery FILE Mapping|Filtering -> EI AD APD none
	local line
	line=$(grep -o "NAT with .* $2" "$1" 2>/dev/null | tail -1 || true)
	case $line in
	*"Endpoint Independent"*) echo EI ;;
	*"Address and Port Dependent"*) echo APD ;;
	*"Address Dependent"*) echo AD ;;
	*) echo none ;;
	esac
}
short() { # punch check's word -> natdiscovery's
	case $1 in
	none | endpoint-independent) echo EI ;;
	address-dependent) echo AD ;;
	address-and-port-dependent) echo APD ;;
	*) echo none ;;
	esac
}
expect_of() { # TYPE -> "mapping filtering" as punch check says them
	case $1 in
	open) echo "none none" ;;
	fullcone) echo "endpoint-independent endpoint-independent" ;;
	addrrestricted) echo "endpoint-independent address-dependent" ;;
	portrestricted | doublenat | samenat | samenat-hairpin)
		echo "endpoint-independent address-and-port-dependent" ;;
	symmetric) echo "address-and-port-dependent address-and-port-dependent" ;;
	udpblocked) echo "unknown unknown" ;;
	esac
}

for id in 1 2 3 4 5 6; do
	p=$(prefix_of "$id")
	[[ -s $WORK/$p.env ]] || continue
	read -r ta tb <<<"${LABS[$id]}"
	for s in a b; do
		if [[ $s == a ]]; then t=$ta; else t=$tb; fi
		j="$WORK/$p-$s.json"
		read -r em ef <<<"$(expect_of "$t")"
		pm=$(json "$j" nat.mapping)
		pf=$(json "$j" nat.filtering)
		check "$t ($s): punch check mapping is $em" "$em" "$pm"
		check "$t ($s): punch check filtering is $ef" "$ef" "$pf"
		check "$t ($s): agrees with natdiscovery -m" "$(verdict "$WORK/$p-$s.m" Mapping)" "$(short "$pm")"
		check "$t ($s): agrees with natdiscovery -f" "$(verdict "$WORK/$p-$s.f" Filtering)" "$(short "$pf")"
		case $t in
		udpblocked)
			check "$t ($s): exit 0 (TCP and TURN over TCP work)" 0 "$(cat "$WORK/$p-$s.rc")"
			check "$t ($s): UDP does not work" false "$(json "$j" udp)"
			check "$t ($s): TCP reaches the server" true "$(json "$j" tcp)"
			check "$t ($s): TURN over TCP allocates" true "$(json "$j" turn.0.allocation)"
			check "$t ($s): every peer needs a relay" relay "$(json "$j" verdict.peers.0.path)"
			check "$t ($s): one server: TCP hole punching unknown" unknown "$(json "$j" tcp_mapping.punching)"
			j2="$WORK/$p-$s.tcp2.json"
			check "$t ($s), two servers: TCP mapping endpoint-independent, port kept" "true true" \
				"$(json "$j2" tcp_mapping.endpoint_independent) $(json "$j2" tcp_mapping.port_preserved)"
			check "$t ($s), two servers: TCP hole punching can work" direct "$(json "$j2" verdict.tcp_punching)"
			;;
		*)
			wan=$(sed -n "s/^NATLAB_${s^^}_WAN='\(.*\)'$/\1/p" "$WORK/$p.env")
			pub=$(json "$j" public_address)
			check "$t ($s): exit 0" 0 "$(cat "$WORK/$p-$s.rc")"
			check "$t ($s): public address is the site's $wan" "$wan" "${pub%:*}"
			check "$t ($s): mapping by RFC 5780" rfc5780 "$(json "$j" nat.mapping_method)"
			check "$t ($s): coturn on two addresses is an RFC 5780 server" rfc5780 "$(json "$j" servers.0.family)"
			check "$t ($s): TURN over UDP allocates, auth accepted" "true accepted" \
				"$(json "$j" turn.0.allocation) $(json "$j" turn.0.auth)"
			;;
		esac
		case $t in
		samenat) check "$t ($s): no hairpinning" no "$(json "$j" hairpinning.result)" ;;
		samenat-hairpin) check "$t ($s): hairpinning" yes "$(json "$j" hairpinning.result)" ;;
		open) check "$t ($s): hairpinning not applicable" not-applicable "$(json "$j" hairpinning.result)" ;;
		symmetric)
			check "$t ($s): random port allocation" random "$(json "$j" port_allocation.behaviour)"
			j2="$WORK/$p-$s.tcp2.json"
			check "$t ($s), two servers: TCP mapping endpoint-dependent" "false 2" \
				"$(json "$j2" tcp_mapping.endpoint_independent) $(json "$j2" tcp_mapping.servers)"
			check "$t ($s), two servers: TCP hole punching cannot work" relay "$(json "$j2" verdict.tcp_punching)"
			;;
		portrestricted) check "$t ($s): port-preserving allocation" preserving "$(json "$j" port_allocation.behaviour)" ;;
		esac
		[[ -s $WORK/$p-$s.progress ]] && ok "$t ($s): progress on stderr" || notok "$t ($s): progress on stderr"
	done
done

# ---- 7: fallback without RFC 5780 --------------------------------------------
p=$(prefix_of 7)
if [[ -s $WORK/$p.env ]]; then
	a="$WORK/$p-fallback"
	check "no RFC 5780, two servers, port-restricted: endpoint-independent by comparison" \
		"endpoint-independent comparison" "$(json "$a-a2.json" nat.mapping) $(json "$a-a2.json" nat.mapping_method)"
	r=$(json "$a-a2.json" nat.filtering_reason)
	check "no RFC 5780: filtering unknown, and says why" "unknown yes" \
		"$(json "$a-a2.json" nat.filtering) $([[ $r == *"does not support RFC 5780"* ]] && echo yes || echo "no: $r")"
	r=$(json "$a-b2.json" nat.mapping_reason)
	check "no RFC 5780, two addresses, symmetric: unknown but varies, with a reason" "unknown true yes" \
		"$(json "$a-b2.json" nat.mapping) $(json "$a-b2.json" nat.mapping_varies) $([[ $r == *"no two servers share an address"* ]] && echo yes || echo "no: $r")"
	check "no RFC 5780, three servers, symmetric: address-and-port-dependent by comparison" \
		"address-and-port-dependent comparison" "$(json "$a-b3.json" nat.mapping) $(json "$a-b3.json" nat.mapping_method)"
	r=$(json "$a-a1.json" nat.mapping_reason)
	check "no RFC 5780, one server: unknown, with a reason" "unknown yes" \
		"$(json "$a-a1.json" nat.mapping) $([[ $r == *"only one server answered"* ]] && echo yes || echo "no: $r")"
	check "coturn on one address: both servers named RFC 5389 (no RFC 5780)" "rfc5389 rfc5389" \
		"$(json "$a-a2.json" servers.0.family) $(json "$a-a2.json" servers.1.family)"
	check "no --stun: exit 0" 0 "$(cat "$a-def.rc")"
	check "no --stun: the JSON says the defaults came from PUNCH_DEFAULT_STUN" PUNCH_DEFAULT_STUN \
		"$(json "$a-def.json" default_servers)"
	check "no --stun: the default servers were asked, in order" "stun:$S1:3478 stun:$S2:3478" \
		"$(json "$a-def.json" servers.0.uri) $(json "$a-def.json" servers.1.uri)"
	check "no --stun: the defaults classify the port-restricted NAT by comparison" \
		"endpoint-independent comparison" "$(json "$a-def.json" nat.mapping) $(json "$a-def.json" nat.mapping_method)"
	if grep -q "No --stun given: asked the default servers (PUNCH_DEFAULT_STUN list" "$a-def.txt"; then
		ok "no --stun: the text report says the defaults were used"
	else
		notok "no --stun: the text report says the defaults were used: $(head -3 "$a-def.txt")"
	fi
	grep -q '"step":"defaults"' "$a-def.progress" && ok "no --stun: a progress event names the defaults" ||
		notok "no --stun: a progress event names the defaults: $(head -2 "$a-def.progress")"
fi

# ---- 8: forged and broken answers, nothing there, usage ---------------------
p=$(prefix_of 8)
if [[ -s $WORK/$p.env ]]; then
	f="$WORK/$p-fake"
	check "fake server, only bad answers: exit 1" 1 "$(cat "$f-bad.rc")"
	check "fake server, only bad answers: the JSON carries the error" unreachable "$(json "$f-bad.json" error.code)"
	for kind in short not-stun wrong-transaction-id bad-fingerprint unexpected-source wrong-class; do
		n=$(json "$f-bad.json" "rejected.$kind")
		if [[ ${n:-0} -ge 1 ]]; then ok "fake server: $kind answers rejected ($n)"; else notok "fake server: $kind answers rejected (got '${n}')"; fi
	done
	check "fake server sends the request back over TCP: not taken as an answer" false \
		"$(json "$f-bad.json" servers.0.tcp.reachable)"
	check "fake server, only bad answers: exit 1 in text mode too" 1 "$(cat "$f-badtext.rc")"
	check "hostile SOFTWARE after a request sent back: exit 0" 0 "$(cat "$f-esc.rc")"
	check "hostile server: the UDP answer is the real response, not the echoed request" answered \
		"$(json "$f-esc.json" servers.0.udp.status)"
	check "hostile server: over TCP the real response is taken after the echoed request" true \
		"$(json "$f-esc.json" servers.0.tcp.reachable)"
	n=$(json "$f-esc.json" rejected.wrong-class)
	if [[ ${n:-0} -ge 2 ]]; then ok "hostile server: the echoed requests are rejected as wrong-class ($n)"; else notok "hostile server: echoed requests rejected as wrong-class (got '$n')"; fi
	sw=$(json "$f-esc.json" servers.0.udp.software)
	[[ $sw == *$'\e[2J'* ]] && ok "hostile server: JSON carries SOFTWARE as sent (JSON-escaped)" ||
		notok "hostile server: JSON carries SOFTWARE as sent: '$sw'"
	if grep -q $'\e' "$f-esc.txt" "$f-esc.err"; then
		notok "hostile server: no escape character reaches the terminal"
	else
		ok "hostile server: no escape character reaches the terminal"
	fi
	if grep -qF 'software "\x1b[2J\x1b[Hfake line: hacked\n\x1b]0;owned\x07"' "$f-esc.txt"; then
		ok "hostile server: the text report shows SOFTWARE escaped"
	else
		notok "hostile server: the text report shows SOFTWARE escaped: $(grep -a software "$f-esc.txt")"
	fi
	if grep -q '^fake line' "$f-esc.txt"; then notok "hostile server: forged a line"; else ok "hostile server: no forged line"; fi
	if grep -q "no server could be reached.*datagrams were rejected" "$f-bad.err"; then
		ok "fake server: the message says the answers were rejected"
	else
		notok "fake server: the message says the answers were rejected: $(cat "$f-bad.err")"
	fi
	check "fake server with one good answer among the bad: exit 0" 0 "$(cat "$f-good.rc")"
	pub=$(json "$f-good.json" public_address)
	check "fake server: the good answer's address is used, not the forged one" 203.0.113.102 "${pub%:*}"
	check "fake server: the good answer shows the open host has no NAT" none "$(json "$f-good.json" nat.mapping)"
	check "nothing at the address: exit 1" 1 "$(cat "$f-none.rc")"
	ms=$(cat "$f-none.ms")
	if [[ $ms -le 5000 ]]; then ok "nothing at the address: gave up in $ms ms (--timeout 4)"; else notok "nothing at the address: took $ms ms with --timeout 4"; fi
	if grep -q "no server could be reached: stun:203.0.113.12:3478: UDP no valid answer" "$f-none.err"; then
		ok "nothing at the address: the message says so"
	else
		notok "nothing at the address: the message says so: $(cat "$f-none.err")"
	fi
	# SIGINT cancels the check (GCancellable): exit 130 at once, no report
	t0=$(date +%s%N)
	ip netns exec "$p-b" "$PUNCH" check --stun stun:203.0.113.12 --timeout 10 >"$f-int.txt" 2>"$f-int.err" &
	ipid=$!
	sleep 0.5
	kill -INT "$ipid"
	wait "$ipid"
	irc=$?
	t1=$(date +%s%N)
	check "SIGINT during the check: exit 130, no report" "130 0" "$irc $(wc -c <"$f-int.txt")"
	ims=$(((t1 - t0) / 1000000))
	if [[ $ims -le 1500 ]]; then ok "SIGINT: ended in $ims ms"; else notok "SIGINT: took $ims ms"; fi
fi
# ---- 9: --lifetime -----------------------------------------------------------
p=$(prefix_of 9)
if [[ -s $WORK/$p.env ]]; then
	l="$WORK/$p-lifetime.json"
	check "--lifetime with a 4 s UDP conntrack timeout: at least 2 s, less than 5 s" "true 2 5" \
		"$(json "$l" lifetime.measured) $(json "$l" lifetime.at_least_s) $(json "$l" lifetime.less_than_s)"
fi
"$PUNCH" check --stun http://203.0.113.10 >/dev/null 2>"$WORK/usage1.err"
check "bad URI: exit 2" 2 $?
grep -q 'the scheme must be' "$WORK/usage1.err" && ok "bad URI: says why" || notok "bad URI: says why: $(cat "$WORK/usage1.err")"
"$PUNCH" check --stun stun:203.0.113.10 --frobnicate >/dev/null 2>&1
check "unknown option: exit 2" 2 $?
PUNCH_DEFAULT_STUN=" , " "$PUNCH" check >/dev/null 2>"$WORK/usage3.err"
check "PUNCH_DEFAULT_STUN naming no server: exit 2 (before any network activity)" 2 $?

# ---- 10, 11: RFC 3489 (stund) --------------------------------------------------
for id in 10 11; do
	p=$(prefix_of $id)
	[[ -s $WORK/$p.env ]] || continue
	read -r ta tb <<<"${LABS[$id]}"
	for s in a b; do
		out="$WORK/$p-$s-rfc3489"
		j="$out.json"
		t=$([[ $s == a ]] && echo "$ta" || echo "$tb")
		read -r em ef <<<"$(expect_of "$t")"
		pm=$(json "$j" nat.mapping)
		pf=$(json "$j" nat.filtering)
		check "stund, $t: exit 0" 0 "$(cat "$out.rc")"
		check "stund, $t: the server is named RFC 3489" rfc3489 "$(json "$j" servers.0.family)"
		check "stund, $t: CHANGED-ADDRESS is the other address" "$R2:3479" "$(json "$j" servers.0.udp.other_address)"
		check "stund, $t: SOURCE-ADDRESS is the response origin" "$R1:3478" "$(json "$j" servers.0.udp.response_origin)"
		check "stund, $t: SOFTWARE without its padding" "Vovida.org 0.97" "$(json "$j" servers.0.udp.software)"
		check "stund, $t: mapping is $em, by RFC 3489" "$em rfc3489" "$pm $(json "$j" nat.mapping_method)"
		check "stund, $t: filtering is $ef, by RFC 3489" "$ef rfc3489" "$pf $(json "$j" nat.filtering_method)"
		check "stund, $t: agrees with natdiscovery -m against coturn" "$(verdict "$out.m" Mapping)" "$(short "$pm")"
		check "stund, $t: agrees with natdiscovery -f against coturn" "$(verdict "$out.f" Filtering)" "$(short "$pf")"
		if grep -q $'\xef\xbf\xbd' "$out.txt"; then notok "stund, $t: no replacement character in the text report"; else ok "stund, $t: no replacement character in the text report"; fi
		[[ -s $out.stunclient ]] && echo "# stund's own client ($t): $(tr '\n' ' ' <"$out.stunclient" | cut -c1-160)"
		echo "# punch check against stund ($t): $pm / $pf"
	done
done

# ---- tear down --------------------------------------------------------------
lab_run_stop
left=$(ip netns list | awk '{print $1}' | grep -E "^$(prefix_of '')" || true)
check "every lab namespace is gone" "" "$left"

lab_tap_finish
