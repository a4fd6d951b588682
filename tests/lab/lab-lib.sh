# lab-lib.sh: shell helpers shared by the lab's scripts (sourced, not run).
#
#   lab_coturn_start DIR [SECRET_FILE]
#                          start coturn in the lab's server namespace on
#                          $NATLAB_STUN_IP1/2, user lab / lab-pass, or with
#                          SECRET_FILE, TURN REST credentials (coturn's
#                          static-auth-secret); sets LAB_TURN_PID. Needs the
#                          NATLAB_* variables.
#   lab_coturn_stop        stop it (by its PID), if it runs.
#   lab_run_init NAME      for a TAP script that runs several labs: $WORK (a
#                          temporary directory), $PIDS and $PREFIXES (what it
#                          started: append to them), $RESULTS and $NFAIL (ok,
#                          notok, check), and an EXIT trap that stops those
#                          PIDs, takes those labs down and removes $WORK
#                          (kept, and said so, when a check failed).
#   lab_run_stop           stop those PIDs and take those labs down now.
#   lab_tap_finish         print the plan and $RESULTS as TAP; exit 1 if a
#                          check failed, else 0.
#   lab_skip REASON        print TAP's "1..0 # SKIP REASON" and exit 0.
#   lab_require TOOL...    skip unless root, network namespaces work and
#                          every TOOL is on PATH.
#   lab_direct_possible A B
#                          whether theory allows a direct UDP path between
#                          NAT types A and B (status 0) or not (1).
#   lab_tcp_direct_possible A B
#                          the same for a direct TCP path by simultaneous
#                          open (tcp-punch-probe, tests/lab/tcp-punch.sh).

lab_coturn_start() {
  local dir=$1 auth=(--lt-cred-mech --user=lab:lab-pass)
  [ -n "${2:-}" ] && auth=(--use-auth-secret --static-auth-secret="$(cat "$2")")
  # --denied-peer-ip for every private range: relayed checks toward a
  # peer's private host candidate would otherwise tear down the whole
  # allocation in coturn 4.6.1 (one relayed send failing with "Network is
  # unreachable" ends it), and it is the right policy for
  # any TURN server that faces the internet.
  ip netns exec "$NATLAB_NS_SRV" turnserver -n --no-cli --log-file=stdout --simple-log \
    --listening-ip="$NATLAB_STUN_IP1" --listening-ip="$NATLAB_STUN_IP2" \
    --relay-ip="$NATLAB_STUN_IP1" --realm=punch.lab "${auth[@]}" \
    --fingerprint --no-tls --no-dtls --no-multicast-peers \
    --denied-peer-ip=10.0.0.0-10.255.255.255 --denied-peer-ip=172.16.0.0-172.31.255.255 \
    --denied-peer-ip=192.168.0.0-192.168.255.255 --denied-peer-ip=100.64.0.0-100.127.255.255 \
    --pidfile="$dir/turnserver.pid" --userdb="$dir/turndb" >"$dir/turnserver.log" 2>&1 &
  LAB_TURN_PID=$!
  for _ in $(seq 50); do
    ip netns exec "$NATLAB_NS_SRV" bash -c "exec 3<>/dev/tcp/$NATLAB_STUN_IP1/3478" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "lab: coturn did not come up; its log:" >&2
  cat "$dir/turnserver.log" >&2
  return 1
}

lab_coturn_stop() {
  if [ -n "${LAB_TURN_PID:-}" ]; then
    # wait returns coturn's status (143 after SIGTERM): not an error here,
    # and callers may run under set -e
    kill "$LAB_TURN_PID" 2>/dev/null || true
    wait "$LAB_TURN_PID" 2>/dev/null || true
    LAB_TURN_PID=""
  fi
  return 0
}

LAB_NATLAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/natlab"

# lab_signal_start DIR SIGNAL: punch-signal (the binary SIGNAL) on the lab's
# signaling address with a fresh secret in DIR/secret; waits until it
# listens. Sets LAB_SIGNAL_PID; 1 when it did not start.
lab_signal_start() {
  local dir=$1 signal=$2
  head -c 32 /dev/urandom | base64 >"$dir/secret"
  ip netns exec "$NATLAB_NS_SRV" "$signal" --listen "$NATLAB_SIGNAL_IP:8765" \
    --secret-file "$dir/secret" >"$dir/signal.out" 2>"$dir/signal.err" &
  LAB_SIGNAL_PID=$!
  for _ in $(seq 50); do grep -q '^listening' "$dir/signal.out" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

lab_run_init() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  PREFIXES=()
  RESULTS=()
  NFAIL=0
  trap lab_run_cleanup EXIT
  trap 'exit 130' INT TERM HUP
}

lab_run_stop() {
  local pid p
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  for p in "${PREFIXES[@]}"; do "$LAB_NATLAB" down --prefix "$p" >/dev/null 2>&1 || true; done
}

# shellcheck disable=SC2317 # called from the EXIT trap
lab_run_cleanup() {
  lab_run_stop
  if [ "$NFAIL" -eq 0 ]; then
    rm -rf "$WORK"
  else
    echo "# outputs kept in $WORK"
  fi
}

ok() { RESULTS+=("ok - $*"); }
notok() {
  RESULTS+=("not ok - $*")
  NFAIL=$((NFAIL + 1))
}
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [[ $2 == "$3" ]]; then ok "$1"; else notok "$1 (expected '$2', got '$3')"; fi
}

lab_tap_finish() {
  local n=0 r
  echo "1..${#RESULTS[@]}"
  for r in "${RESULTS[@]}"; do
    n=$((n + 1))
    case $r in
    "ok - "*) echo "ok $n - ${r#ok - }" ;;
    *) echo "not ok $n - ${r#not ok - }" ;;
    esac
  done
  if [ "$NFAIL" -gt 0 ]; then
    echo "# $NFAIL failed"
    exit 1
  fi
  exit 0
}

# A symmetric NAT picks a new port per destination, so the peer's guess is
# wrong unless the peer's own NAT lets any source in (open, full-cone) or
# filters on the address only (address-restricted: the symmetric side's
# packets come from the right address, just another port). A UDP-blocked
# site has no UDP at all.
lab_direct_possible() {
  local a=$1 b=$2
  case " $a $b " in *" udpblocked"*) return 1 ;; esac
  if [ "$a" = symmetric ]; then local t=$a; a=$b; b=$t; fi
  if [ "$b" = symmetric ]; then
    case "$a" in open | fullcone | addrrestricted) return 0 ;; *) return 1 ;; esac
  fi
  return 0
}

# TCP: every lab NAT but two maps TCP with plain MASQUERADE (endpoint-
# independent, port kept) and lets in only what matches a mapping, so two
# SYNs that cross meet; the UDP-only rules of fullcone and addrrestricted
# do not apply to TCP. symmetric and udpblocked-random (--random-fully) give
# each connection a new port: the peer connects to the wrong one, unless the
# peer is open, whose listener takes a SYN from any port.
lab_tcp_direct_possible() {
  case " $1 $2 " in *" open "*) return 0 ;; esac
  case " $1 $2 " in *" symmetric "* | *" udpblocked-random "*) return 1 ;; esac
  return 0
}

lab_skip() {
  echo "1..0 # SKIP $*"
  exit 0
}

lab_require() {
  local tool probe="labreq-$$"
  [ "$(id -u)" -eq 0 ] || lab_skip "needs root (network namespaces, iptables)"
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || lab_skip "$tool not installed"
  done
  ip netns add "$probe" 2>/dev/null || lab_skip "ip netns does not work here"
  ip netns del "$probe"
}
