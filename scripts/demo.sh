#!/usr/bin/env bash
# The README's demo command. On a fresh Debian 12 machine, as root:
#   installs what is missing, builds, and runs the NAT lab demo: two sites
#   behind real kernel NATs (network namespaces + iptables), a real coturn and
#   a real punch-signal on the lab's "internet" (TEST-NET-3), and two
#   `punch connect` peers that meet in a room, punch (or relay) a path, and
#   copy a file each way.
#     1. port-restricted NAT vs symmetric NAT: no direct path exists, so the
#        peers say loudly that they are RELAYED via TURN;
#     2. port-restricted vs port-restricted: a hole is punched, direct path.
#   punch-signal requires room tokens and hands out TURN credentials it mints
#   itself (TURN REST, coturn's static-auth-secret): the peers are given no
#   TURN server at all. Every server is stopped by its PID and every
#   namespace removed, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (it installs packages and builds network namespaces)" >&2
  exit 1
fi

bash scripts/install-deps.sh

BUILD_DIR=${BUILD_DIR:-_build}
# shellcheck source=build-lib.sh
. scripts/build-lib.sh
punch_build "$BUILD_DIR" >/dev/null
punch="$BUILD_DIR/tools/punch"
signal="$BUILD_DIR/signaling/punch-signal"

tmp=$(mktemp -d /tmp/punch-demo.XXXXXX)
lab_prefix=
sig_pid=
# shellcheck source=../tests/lab/lab-lib.sh
. tests/lab/lab-lib.sh
cleanup() {
  if [ -n "$sig_pid" ]; then kill "$sig_pid" 2>/dev/null || true; wait "$sig_pid" 2>/dev/null || true; fi
  lab_coturn_stop
  [ -n "$lab_prefix" ] && tests/lab/natlab down --prefix "$lab_prefix" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab_pair() { # TYPE_A TYPE_B N
  local a=$1 b=$2 n=$3 dir="$tmp/lab$3"
  echo
  echo "== $n. site A behind a $a NAT, site B behind a $b NAT"
  lab_prefix="demo$n$$"
  lab_prefix=${lab_prefix:0:10}
  eval "$(tests/lab/natlab up --prefix "$lab_prefix" "$a" "$b")"
  echo "   A: host $NATLAB_A_IP, public $NATLAB_A_WAN    B: host $NATLAB_B_IP, public $NATLAB_B_WAN"
  echo "   'internet': coturn on $NATLAB_STUN_IP1 and $NATLAB_STUN_IP2, punch-signal on $NATLAB_SIGNAL_IP:8765"
  mkdir -p "$dir"
  head -c 32 /dev/urandom | base64 >"$dir/turn.secret"
  head -c 32 /dev/urandom | base64 >"$dir/signal.secret"
  lab_coturn_start "$dir" "$dir/turn.secret"
  ip netns exec "$NATLAB_NS_SRV" "$signal" --listen "$NATLAB_SIGNAL_IP:8765" \
    --secret-file "$dir/signal.secret" --turn-secret-file "$dir/turn.secret" \
    --turn-uri "stun:$NATLAB_STUN_IP1:3478" --turn-uri "turn:$NATLAB_STUN_IP1:3478?transport=udp" \
    >"$dir/signal.out" 2>"$dir/signal.log" &
  sig_pid=$!
  for _ in $(seq 50); do grep -q '^listening' "$dir/signal.out" 2>/dev/null && break; sleep 0.1; done
  local token
  token=$("$signal" token --secret-file "$dir/signal.secret" --room demo --ttl 600)
  echo "   room token: $token"

  head -c 4194304 /dev/urandom >"$dir/alice.in"
  echo "hello alice, this is bob behind the $b NAT" >"$dir/bob.in"
  local args=(connect --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room demo --token "$token"
              --reliable --timeout 15)
  echo "   alice (A) sends 4 MiB, bob (B) sends a line; what each printed on stderr:"
  { cat "$dir/alice.in"; sleep 1; } | ip netns exec "$NATLAB_NS_A" "$punch" "${args[@]}" \
    >"$dir/alice.out" 2>"$dir/alice.log" &
  local pa=$!
  sleep 0.5
  { cat "$dir/bob.in"; sleep 1; } | ip netns exec "$NATLAB_NS_B" "$punch" "${args[@]}" \
    >"$dir/bob.out" 2>"$dir/bob.log" &
  local pb=$!
  local rc=0
  wait $pa || rc=1
  wait $pb || rc=1
  grep -v '^gathered' "$dir/alice.log" | sed 's/^/   alice  | /'
  grep -v '^gathered' "$dir/bob.log" | sed 's/^/   bob    | /'
  echo "   punch-signal log:"
  sed 's/^/   signal | /' "$dir/signal.log"
  if cmp -s "$dir/alice.in" "$dir/bob.out" && cmp -s "$dir/bob.in" "$dir/alice.out"; then
    echo "   files intact: sha256 $(sha256sum <"$dir/bob.out" | cut -c1-16)… (4 MiB at bob), alice got: $(cat "$dir/alice.out")"
  else
    echo "   FILES DIFFER" >&2
    rc=1
  fi
  kill "$sig_pid" 2>/dev/null || true
  wait "$sig_pid" 2>/dev/null || true
  sig_pid=
  lab_coturn_stop
  tests/lab/natlab down --prefix "$lab_prefix" >/dev/null
  lab_prefix=
  return $rc
}

lab_pair portrestricted symmetric 1
lab_pair portrestricted portrestricted 2

echo
echo "demo: done (punch-signal and coturn stopped, namespaces removed, temporary files removed)"
