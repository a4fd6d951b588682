#!/usr/bin/env bash
# hygiene.sh: hole hygiene across real kernel NATs (TAP).
#
# One lab (tests/lab/natlab): site A behind a full-cone NAT (so that even the
# third host's own packets reach A's host), site B behind a port-restricted
# NAT, coturn (STUN) and punch-signal on the lab's internet, and a third host
# X (203.0.113.66, a namespace of this script) plugged into the internet's
# bridge. B sends a file to A with `punch connect`; A's stdout must be exactly
# B's file (SHA-256) whatever X does:
#
#  - injection, in reliable and in datagram mode: while the file flows, X
#    learns A's public mapping and B's public address and port from a capture
#    of A's WAN link (an on-path observer), then sends to A's mapping, from
#    its own address and spoofed as B (scapy): random bytes, replayed captured
#    datagrams, and 24-byte pseudo-TCP RST segments (tests/lab/hygiene-attack.py).
#    A capture on A's host proves the spoofed packets crossed A's NAT as if
#    they came from B.
#  - confidentiality: the file carries a marker string; the capture of A's WAN
#    link must not contain it. Control: with --insecure-plaintext (or, before
#    the encrypted path exists, today's plaintext path) it must.
#  - authentication: A pins (--peer) the fingerprint of a third identity; A
#    must fail with error code `authentication`, and deliver nothing. Control:
#    with the right pins the copy arrives.
#  - integrity: nfq-mangle (tests/lab/nfq-mangle.c) in A's router inverts one
#    byte of every 20th UDP payload of >= 200 bytes towards A (checksum fixed
#    up); the copy must still arrive intact.
#  - loss: 3 % and 10 % random loss on A's WAN link, both directions, from
#    the moment both sides are connected to the end of the transfer
#    (iptables statistic); the copy must arrive intact within 90 s.
#
# Checks whose pass needs the encrypted data path (QUIC: `punch connect`
# encrypted by default, with --insecure-plaintext, --identity, --peer and
# `punch identity`) print "# SKIP" while this punch lacks those options.
# PUNCH_HYGIENE_FORCE=1 runs them anyway against such a punch: against the old
# plaintext path they must fail (docs/natlab.md records what they showed).
#
# Needs root, tcpdump, conntrack and scapy (/usr/bin/python3); about 2-4 minutes.
#   PUNCH_BUILD_DIR   where punch, punch-signal and nfq-mangle are built (default _build)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${PUNCH_BUILD_DIR:-$here/../../_build}
punch="$build/tools/punch"
signal="$build/signaling/punch-signal"
mangler="$build/tests/lab/nfq-mangle"
attack="$here/hygiene-attack.py"
PY=/usr/bin/python3

# shellcheck source=lab-lib.sh
. "$here/lab-lib.sh"
lab_require ip iptables turnserver tcpdump conntrack sha256sum timeout
for exe in "$punch" "$signal"; do
  [ -x "$exe" ] || lab_skip "$exe is not built"
done
$PY -c 'import scapy.all' 2>/dev/null || lab_skip "scapy is missing (python3-scapy for $PY)"

lab_run_init punch-hygiene
XNS=""
hygiene_cleanup() {
  lab_run_stop
  [ -n "$XNS" ] && ip netns del "$XNS" 2>/dev/null
  lab_run_cleanup
}
trap hygiene_cleanup EXIT

# ---- what this punch can do -------------------------------------------------
help=$("$punch" connect --help 2>&1)
has_opt() { grep -q -- "$1" <<<"$help"; }
ENCRYPTED=no
has_opt --insecure-plaintext && ENCRYPTED=yes
IDENTITY=no
if has_opt --identity && has_opt --peer && "$punch" identity --help >/dev/null 2>&1; then
  IDENTITY=yes
fi
FORCE=${PUNCH_HYGIENE_FORCE:-}
NOENC="needs the encrypted data path: this punch connect has no --insecure-plaintext (plaintext only; PUNCH_HYGIENE_FORCE=1 runs it anyway, and it fails)"
NOID="needs identities and pins: this punch has no 'punch identity' / --identity / --peer"
echo "# punch: encrypted data path: $ENCRYPTED, identities and pins: $IDENTITY${FORCE:+, PUNCH_HYGIENE_FORCE=1}"

# enc_check DESCRIPTION EXPECTED ACTUAL: a check whose pass needs encryption
enc_check() {
  if [ "$ENCRYPTED" = yes ] || [ -n "$FORCE" ]; then
    check "$@"
  else
    RESULTS+=("ok - $1 # SKIP $NOENC")
  fi
}
enc_wanted() { [ "$ENCRYPTED" = yes ] || [ -n "$FORCE" ]; }

# ---- the lab ------------------------------------------------------------------
prefix="hy$$"
prefix=${prefix:0:8}
PREFIXES+=("$prefix")
if ! eval "$("$LAB_NATLAB" up --prefix "$prefix" fullcone portrestricted 2>"$WORK/natlab.err")"; then
  notok "natlab up: $(tail -n 1 "$WORK/natlab.err")"
  lab_tap_finish
fi
lab_coturn_start "$WORK" || { notok "coturn did not start"; lab_tap_finish; }
PIDS+=("$LAB_TURN_PID")
head -c 32 /dev/urandom | base64 >"$WORK/secret"
ip netns exec "$NATLAB_NS_SRV" "$signal" --listen "$NATLAB_SIGNAL_IP:8765" \
  --secret-file "$WORK/secret" >"$WORK/signal.out" 2>"$WORK/signal.err" &
PIDS+=($!)
for _ in $(seq 50); do grep -q '^listening' "$WORK/signal.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening' "$WORK/signal.out" || { notok "punch-signal did not start"; lab_tap_finish; }

# the third host: a namespace of ours on the internet's bridge
XNS="$prefix-x"
X_IP=203.0.113.66
ip netns add "$XNS"
ip -n "$XNS" link set lo up
ip -n "$NATLAB_NS_INET" link add to-x type veth peer name eth0 netns "$XNS"
ip -n "$NATLAB_NS_INET" link set to-x master br0
ip -n "$NATLAB_NS_INET" link set to-x up
ip -n "$XNS" link set eth0 up
ip -n "$XNS" addr add "$X_IP/24" dev eth0

MARKER="PUNCH-HYGIENE-MARKER-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# make_file PATH BYTES: random bytes with the marker every 32 KiB
make_file() {
  $PY - "$1" "$2" "$MARKER" <<'EOF'
import os, sys
path, n, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
b = bytearray(os.urandom(n))
for off in range(1000, n - len(marker), 32768):
    b[off:off + len(marker)] = marker
open(path, "wb").write(b)
EOF
}
# pace RATE_MBIT FILE: the file on stdout in 1200-byte writes at RATE (no
# catch-up burst after the pipe was full)
pace() {
  $PY -c '
import sys, time
rate = float(sys.argv[1]) * 1e6 / 8
f, out = open(sys.argv[2], "rb"), sys.stdout.buffer
due = time.monotonic()
while True:
    b = f.read(1200)
    if not b:
        break
    try:
        out.write(b)
        out.flush()
    except BrokenPipeError:  # punch is gone: its own events say why
        sys.stderr.close()
        sys.exit(0)
    due += len(b) / rate
    d = due - time.monotonic()
    if d > 0:
        time.sleep(d)
    elif d < -0.02:
        due = time.monotonic()' "$1" "$2"
}

room_n=0
# xfer_start NAME MODE FEED: A receives into NAME/a.out, B sends FEED's
# output; extra options for each side in A_EXTRA / B_EXTRA
A_EXTRA=() B_EXTRA=()
xfer_start() {
  local d="$WORK/$1" mode=$2 feed=$3 token
  mkdir -p "$d"
  room_n=$((room_n + 1))
  token=$("$signal" token --secret-file "$WORK/secret" --room "h$room_n" --ttl 600)
  local args=(connect --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room "h$room_n" --token "$token"
    --json --timeout 20 --stun "stun:$NATLAB_STUN_IP1:3478")
  [ "$mode" = reliable ] && args+=(--reliable)
  ip netns exec "$NATLAB_NS_A" timeout -k 2 90 "$punch" "${args[@]}" "${A_EXTRA[@]}" \
    </dev/null >"$d/a.out" 2>"$d/a.err" &
  XA=$!
  PIDS+=("$XA")
  for _ in $(seq 100); do grep -q '"event":"joined"' "$d/a.err" 2>/dev/null && break; sleep 0.05; done
  bash -c "$feed" | ip netns exec "$NATLAB_NS_B" timeout -k 2 90 "$punch" "${args[@]}" "${B_EXTRA[@]}" \
    >"$d/b.out" 2>"$d/b.err" &
  XB=$!
  PIDS+=("$XB")
}
# xfer_wait NAME: sets RC_A, RC_B, ERR_A (A's error code), ERR_B
xfer_wait() {
  local d="$WORK/$1"
  RC_A=0 RC_B=0
  wait "$XA" || RC_A=$?
  wait "$XB" || RC_B=$?
  ERR_A=$(err_code "$d/a.err")
  ERR_B=$(err_code "$d/b.err")
}
err_code() {
  python3 -c '
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e, dict) and e.get("event") == "error":
        print(e["data"].get("code", "?")); break' "$1" 2>/dev/null
}
done_field() { # FILE FIELD PREFIX: PREFIX and the field of the done event, if there is one
  python3 -c '
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e, dict) and e.get("event") == "done" and sys.argv[2] in e["data"]:
        print(sys.argv[3] + str(e["data"][sys.argv[2]]), end=""); break' "$1" "$2" "$3" 2>/dev/null
}
sha() { sha256sum <"$1" | cut -d' ' -f1; }
marker_in() { grep -c -a -F -- "$MARKER" "$1" 2>/dev/null || true; }
# capture NS IFACE FILE FILTER: tcpdump in the background until killed
capture() {
  ip netns exec "$1" timeout 120 tcpdump -i "$2" -U -s 0 -n -w "$3" "$4" 2>"$3.err" &
  PIDS+=($!)
  CAP_PID=$!
  for _ in $(seq 50); do grep -q 'listening on' "$3.err" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
stop_capture() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0; }
why() { # NAME: the last events of both sides, for a failed check
  local f
  for f in a.err b.err; do
    grep -v '"event":"candidate"\|"event":"progress"' "$WORK/$1/$f" 2>/dev/null | tail -n 3 | sed "s|^|# $1/$f: |"
  done
}

# ---- injection, per mode ------------------------------------------------------
make_file "$WORK/file-inject" $((3 * 1024 * 1024))
want=$(sha "$WORK/file-inject")
for mode in reliable datagram; do
  name="inject-$mode"
  mkdir -p "$WORK/$name"
  capture "$NATLAB_NS_RA" wan0 "$WORK/$name/wan.pcap" udp || notok "$mode: tcpdump on A's WAN link did not start"
  wan_cap=$CAP_PID
  capture "$NATLAB_NS_A" eth0 "$WORK/$name/ahost.pcap" "udp and (src host $NATLAB_B_WAN or src host $X_IP)" ||
    notok "$mode: tcpdump on A's host did not start"
  a_cap=$CAP_PID
  A_EXTRA=() B_EXTRA=()
  # 3 MiB at 6 Mbit/s: about 4 s of flow for the attack to land in
  xfer_start "$name" "$mode" "$(declare -f pace); PY=$PY; pace 6 '$WORK/file-inject'"
  for _ in $(seq 200); do grep -q '"event":"first-byte"' "$WORK/$name/a.err" 2>/dev/null && break; sleep 0.05; done
  sleep 0.5
  ip netns exec "$XNS" timeout 30 $PY "$attack" attack --pcap "$WORK/$name/wan.pcap" \
    --a-wan "$NATLAB_A_WAN" --b-wan "$NATLAB_B_WAN" --own-ip "$X_IP" --out "$WORK/$name/sent.json" 2>"$WORK/$name/attack.err"
  arc=$?
  xfer_wait "$name"
  sleep 0.2
  stop_capture "$wan_cap"
  stop_capture "$a_cap"
  if [ $arc -ne 0 ] || [ ! -s "$WORK/$name/sent.json" ]; then
    notok "$mode: the third host could not attack: $(tail -n 1 "$WORK/$name/attack.err")"
    continue
  fi
  reached=$($PY "$attack" verify --pcap "$WORK/$name/ahost.pcap" --sent "$WORK/$name/sent.json" --a-ip "$NATLAB_A_IP")
  # every spoofed kind must have reached A's host, or the test proves nothing
  spoof_ok=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("yes" if all(r.get(k, [0])[0] > 0 for k in ("random-spoofed", "replay-spoofed", "rst-spoofed")) else "no")' "$reached")
  check "$mode: spoofed datagrams (source B's public address and port) crossed A's NAT to A's host: $reached ($(head -n 1 "$WORK/$name/attack.err" | sed 's/^hygiene-attack: //'))" yes "$spoof_ok"
  got=$(sha "$WORK/$name/a.out")
  size=$(stat -c %s "$WORK/$name/a.out")
  res="exit A=$RC_A B=$RC_B${ERR_A:+ A:$ERR_A}${ERR_B:+ B:$ERR_B}, $size of $((3 * 1024 * 1024)) bytes$(done_field "$WORK/$name/a.err" packets_dropped ", A's packets_dropped ")"
  [ "$got" = "$want" ] && res="$res, SHA-256 equal" || res="$res, SHA-256 differs"
  intact=no
  [ "$got" = "$want" ] && [ "$RC_A$RC_B" = 00 ] && intact=yes
  enc_check "$mode: under injection A's output is exactly B's file and both exit 0 ($res)" yes "$intact"
  [ "$intact" = yes ] || { enc_wanted && why "$name"; }
  m=$(marker_in "$WORK/$name/wan.pcap")
  if [ "$ENCRYPTED" = yes ] || [ -n "$FORCE" ]; then
    check "$mode: the capture of A's WAN link has no plaintext marker (found $m times)" 0 "$m"
  else
    # control: today's plaintext path shows the marker, so the check can see it
    check "$mode: control: the plaintext path's capture does show the marker (found $m times)" yes "$([ "$m" -gt 0 ] && echo yes || echo no)"
    RESULTS+=("ok - $mode: the capture of A's WAN link has no plaintext marker # SKIP $NOENC")
  fi
done

# control with the new path's explicit plaintext option
if [ "$ENCRYPTED" = yes ]; then
  name=plaintext-control
  mkdir -p "$WORK/$name"
  make_file "$WORK/file-small" $((256 * 1024))
  capture "$NATLAB_NS_RA" wan0 "$WORK/$name/wan.pcap" udp
  cap=$CAP_PID
  # --insecure-plaintext is datagrams only
  A_EXTRA=(--insecure-plaintext) B_EXTRA=(--insecure-plaintext)
  xfer_start "$name" datagram "$(declare -f pace); PY=$PY; pace 6 '$WORK/file-small'"
  xfer_wait "$name"
  sleep 0.2
  stop_capture "$cap"
  m=$(marker_in "$WORK/$name/wan.pcap")
  check "control: with --insecure-plaintext the capture does show the marker (found $m times, exit $RC_A/$RC_B)" yes "$([ "$m" -gt 0 ] && echo yes || echo no)"
fi

# ---- authentication: pins -----------------------------------------------------
if [ "$IDENTITY" = yes ]; then
  fp() { "$punch" identity --identity "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])'; }
  for i in a b c; do fp "$WORK/id-$i" >"$WORK/fp-$i" || notok "punch identity --identity id-$i failed"; done
  make_file "$WORK/file-small" $((256 * 1024))
  name=pin-wrong
  A_EXTRA=(--identity "$WORK/id-a" --peer "$(cat "$WORK/fp-c")")
  B_EXTRA=(--identity "$WORK/id-b" --peer "$(cat "$WORK/fp-a")")
  xfer_start "$name" reliable "cat '$WORK/file-small'"
  xfer_wait "$name"
  check "a wrong pin: A (pinned to another identity's fingerprint) fails with authentication, exit 1, nothing delivered (exit $RC_A, $(stat -c %s "$WORK/$name/a.out") bytes out)" \
    "1 authentication 0" "$RC_A $ERR_A $(stat -c %s "$WORK/$name/a.out")"
  [ "$ERR_A" = authentication ] || why "$name"
  name=pin-right
  A_EXTRA=(--identity "$WORK/id-a" --peer "$(cat "$WORK/fp-b")")
  B_EXTRA=(--identity "$WORK/id-b" --peer "$(cat "$WORK/fp-a")")
  xfer_start "$name" reliable "cat '$WORK/file-small'"
  xfer_wait "$name"
  ok_right=no
  [ "$(sha "$WORK/$name/a.out")" = "$(sha "$WORK/file-small")" ] && [ "$RC_A$RC_B" = 00 ] && ok_right=yes
  check "control: with the right pins the copy arrives intact (exit $RC_A/$RC_B)" yes "$ok_right"
  [ $ok_right = yes ] || why "$name"
else
  RESULTS+=("ok - a wrong pin fails the connection with authentication on the side that pinned # SKIP $NOID")
  RESULTS+=("ok - control: with the right pins the copy arrives intact # SKIP $NOID")
fi

# ---- integrity: altered packets -------------------------------------------------
if [ ! -x "$mangler" ]; then
  RESULTS+=("ok - altered packets # SKIP $mangler is not built (libnetfilter-queue-dev)")
elif ! enc_wanted; then
  RESULTS+=("ok - altered packets are dropped and the copy arrives intact # SKIP $NOENC")
else
  name=mangle
  mkdir -p "$WORK/$name"
  make_file "$WORK/file-mangle" $((2 * 1024 * 1024))
  ip netns exec "$NATLAB_NS_RA" timeout 120 "$mangler" --queue 1 --every 20 --min-len 200 \
    2>"$WORK/$name/mangle.err" &
  mpid=$!
  PIDS+=("$mpid")
  for _ in $(seq 50); do grep -q bound "$WORK/$name/mangle.err" 2>/dev/null && break; sleep 0.05; done
  ip netns exec "$NATLAB_NS_RA" iptables -w -t mangle -A FORWARD -i wan0 -o lan0 -p udp \
    -j NFQUEUE --queue-num 1 --queue-bypass
  A_EXTRA=() B_EXTRA=()
  xfer_start "$name" reliable "cat '$WORK/file-mangle'"
  xfer_wait "$name"
  ip netns exec "$NATLAB_NS_RA" iptables -w -t mangle -F FORWARD
  kill "$mpid" 2>/dev/null
  wait "$mpid" 2>/dev/null
  altered=$(sed -n 's/.* \([0-9]*\) altered$/\1/p' "$WORK/$name/mangle.err")
  check "nfq-mangle altered UDP payloads on their way to A (${altered:-0}: $(tail -n 1 "$WORK/$name/mangle.err" | sed 's/^nfq-mangle: //'))" yes \
    "$([ "${altered:-0}" -gt 0 ] && echo yes || echo no)"
  intact=no
  [ "$(sha "$WORK/$name/a.out")" = "$(sha "$WORK/file-mangle")" ] && [ "$RC_A$RC_B" = 00 ] && intact=yes
  check "altered packets are dropped: the copy arrives intact, both exit 0 (exit $RC_A/$RC_B${ERR_A:+ A:$ERR_A}${ERR_B:+ B:$ERR_B}, $(stat -c %s "$WORK/$name/a.out") bytes$(done_field "$WORK/$name/a.err" packets_dropped ", A's packets_dropped "))" yes "$intact"
  [ $intact = yes ] || why "$name"
fi

# ---- a path that changes: relayed first, then direct ------------------------------
# The peers' direct packets are dropped at first, so the relay pair answers
# first and the secure channel comes up over TURN; then the drop goes and ICE
# moves to the direct pair while the transfer runs. The QUIC connection must
# carry on over the new pair: one handshake, nothing lost.
if enc_wanted; then
  name=pathswitch
  mkdir -p "$WORK/$name"
  make_file "$WORK/file-$name" $((2 * 1024 * 1024))
  ip netns exec "$NATLAB_NS_RA" iptables -w -t raw -A PREROUTING -i wan0 -p udp -s "$NATLAB_B_WAN" -j DROP
  ip netns exec "$NATLAB_NS_RB" iptables -w -t raw -A PREROUTING -i wan0 -p udp -s "$NATLAB_A_WAN" -j DROP
  turn=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=udp" --turn-user lab --turn-pass lab-pass)
  # UDP ICE's own switch is under test: a direct TCP path would win at once
  has_opt --no-tcp && turn+=(--no-tcp)
  A_EXTRA=("${turn[@]}") B_EXTRA=("${turn[@]}")
  xfer_start "$name" reliable "sleep 1; head -c 1048576 '$WORK/file-$name'; sleep 2; tail -c +1048577 '$WORK/file-$name'"
  for _ in $(seq 100); do
    grep -q '"event":"connected"' "$WORK/$name/a.err" 2>/dev/null \
      && grep -q '"event":"connected"' "$WORK/$name/b.err" 2>/dev/null && break
    sleep 0.05
  done
  sleep 0.3
  ip netns exec "$NATLAB_NS_RA" iptables -w -t raw -F PREROUTING
  ip netns exec "$NATLAB_NS_RB" iptables -w -t raw -F PREROUTING
  xfer_wait "$name"
  A_EXTRA=() B_EXTRA=()
  intact=no
  [ "$(sha "$WORK/$name/a.out")" = "$(sha "$WORK/file-$name")" ] && [ "$RC_A$RC_B" = 00 ] && intact=yes
  first_relayed=$(grep -h '"event":"connected"' "$WORK/$name/b.err" | head -1 | grep -o '"relayed":[a-z]*' | head -1)
  changed=$(grep -hc '"event":"path-changed".*"relayed":false' "$WORK/$name/a.err" "$WORK/$name/b.err" | awk '{s += $1} END {print s + 0}')
  handshakes=$(grep -hc '"event":"connected"' "$WORK/$name/a.err" "$WORK/$name/b.err" | awk '{s += $1} END {print s + 0}')
  check "path switch: first connected over the relay ($first_relayed)" '"relayed":true' "$first_relayed"
  check "path switch: ICE moved to a direct pair during the transfer ($changed path-changed events to a direct pair)" yes "$([ "${changed:-0}" -ge 1 ] && echo yes || echo no)"
  check "path switch: one handshake per side, the copy intact, both exit 0 (connected events $handshakes, exit $RC_A/$RC_B${ERR_A:+ A:$ERR_A}${ERR_B:+ B:$ERR_B})" yes "$([ "$intact" = yes ] && [ "$handshakes" = 2 ] && echo yes || echo no)"
  [ $intact = yes ] || why "$name"
else
  for what in "first connected over the relay" "ICE moved to a direct pair" "one handshake per side"; do
    RESULTS+=("ok - path switch: $what # SKIP $NOENC")
  done
fi

# ---- loss -----------------------------------------------------------------------
lannet="${NATLAB_A_GW%.*}.0/24"
for spec in 0.03:2 0.10:1; do
  p=${spec%:*} mibs=${spec#*:}
  pct=$(python3 -c "print(round(float('$p') * 100))")
  if ! enc_wanted; then
    RESULTS+=("ok - $pct % random loss: $mibs MiB arrive intact within 90 s # SKIP $NOENC (pseudo-TCP dies at 3 % loss, issue 10)")
    continue
  fi
  name="loss$pct"
  mkdir -p "$WORK/$name"
  make_file "$WORK/file-$name" $((mibs * 1024 * 1024))
  A_EXTRA=() B_EXTRA=()
  t0=$(date +%s)
  # The loss starts once both sides are connected and before the data
  # (B's stdin waits 1.5 s): it is the transfer that must survive it. ICE
  # and the handshake under heavy loss are issue 11's lab tests.
  xfer_start "$name" reliable "sleep 1.5; cat '$WORK/file-$name'"
  for _ in $(seq 100); do
    grep -q '"event":"connected"' "$WORK/$name/a.err" 2>/dev/null \
      && grep -q '"event":"connected"' "$WORK/$name/b.err" 2>/dev/null && break
    sleep 0.05
  done
  ip netns exec "$NATLAB_NS_RA" iptables -w -t raw -A PREROUTING -i wan0 \
    -m statistic --mode random --probability "$p" -j DROP
  ip netns exec "$NATLAB_NS_RA" iptables -w -t raw -A PREROUTING -i lan0 ! -d "$lannet" \
    -m statistic --mode random --probability "$p" -j DROP
  xfer_wait "$name"
  took=$(($(date +%s) - t0))
  dropped=$(ip netns exec "$NATLAB_NS_RA" iptables -w -t raw -L PREROUTING -v -x -n | awk '/statistic/ {s += $1} END {print s + 0}')
  ip netns exec "$NATLAB_NS_RA" iptables -w -t raw -F PREROUTING
  intact=no
  [ "$(sha "$WORK/$name/a.out")" = "$(sha "$WORK/file-$name")" ] && [ "$RC_A$RC_B" = 00 ] && intact=yes
  check "$pct % random loss on A's WAN link: $mibs MiB arrive intact, both exit 0 (took ${took} s, $dropped packets dropped, exit $RC_A/$RC_B${ERR_A:+ A:$ERR_A}${ERR_B:+ B:$ERR_B}, $(stat -c %s "$WORK/$name/a.out") bytes)" yes "$intact"
  [ $intact = yes ] || why "$name"
done

lab_tap_finish
