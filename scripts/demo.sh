#!/usr/bin/env bash
# The README's demo command. On a fresh Debian 12 machine, as root:
#   installs what is missing, builds, and
#   1. runs two punch peers on loopback, directly and then relay-only through
#      a real coturn on 127.0.0.1;
#   2. builds the NAT lab (network namespaces, kernel NATs) and connects two
#      peers behind two different NATs through a real coturn: port-restricted
#      and symmetric (a relay is needed), then two port-restricted NATs (a
#      hole is punched), and shows the path each pair chose.
#   Every server is stopped by its PID and every namespace removed, whatever
#   happens.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

BUILD_DIR=${BUILD_DIR:-_build}
if [ -f "$BUILD_DIR/build.ninja" ]; then
  meson setup --reconfigure "$BUILD_DIR" >/dev/null
else
  meson setup "$BUILD_DIR" >/dev/null
fi
meson compile -C "$BUILD_DIR" >/dev/null

tmp=$(mktemp -d /tmp/punch-demo.XXXXXX)
turn_pid=
lab_prefix=
# shellcheck source=../tests/lab/lab-lib.sh
. tests/lab/lab-lib.sh
cleanup() {
  if [ -n "$turn_pid" ] && kill -0 "$turn_pid" 2>/dev/null; then
    kill "$turn_pid" && wait "$turn_pid" 2>/dev/null || true
  fi
  lab_coturn_stop
  [ -n "$lab_prefix" ] && tests/lab/natlab down --prefix "$lab_prefix" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

echo "== 1. two peers, direct path (host candidates on loopback)"
"$BUILD_DIR/examples/punch-pair-demo"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo
echo "== 2. the same peers, relay-only through coturn on 127.0.0.1:$port"
# --allow-loopback-peers is for this loopback demo only; never in production.
turnserver -n --no-cli --log-file=stdout --simple-log --listening-ip=127.0.0.1 \
  --relay-ip=127.0.0.1 --listening-port="$port" --realm=punch.demo --lt-cred-mech \
  --user=demo:demo-password --fingerprint --no-tls --no-dtls --no-rfc5780 \
  --allow-loopback-peers --pidfile="$tmp/turnserver.pid" --userdb="$tmp/turndb" \
  >"$tmp/turnserver.log" 2>&1 &
turn_pid=$!
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done
"$BUILD_DIR/examples/punch-pair-demo" --relay-only \
  --turn "turn:127.0.0.1:$port" --turn-user demo --turn-pass demo-password
kill "$turn_pid" && wait "$turn_pid" 2>/dev/null || true
turn_pid=

lab_pair() { # TYPE_A TYPE_B N
  local a=$1 b=$2 n=$3
  echo
  echo "== $n. the NAT lab: site A behind a $a NAT, site B behind a $b NAT, coturn on the 'internet'"
  lab_prefix="demo$n$$"
  lab_prefix=${lab_prefix:0:10}
  eval "$(tests/lab/natlab up --prefix "$lab_prefix" "$a" "$b")"
  echo "   A: host $NATLAB_A_IP behind $NATLAB_A_WAN   B: host $NATLAB_B_IP behind $NATLAB_B_WAN   STUN/TURN: $NATLAB_STUN_IP1"
  mkdir -p "$tmp/lab$n"
  lab_coturn_start "$tmp/lab$n"
  local common=(--dir "$tmp/lab$n" --verbose --timeout 10 --stun "stun:$NATLAB_STUN_IP1:3478"
                --turn "turn:$NATLAB_STUN_IP1:3478?transport=udp" --turn-user lab --turn-pass lab-pass)
  ip netns exec "$NATLAB_NS_A" "$BUILD_DIR/tests/lab/lab-peer" "${common[@]}" --name alice --peer bob \
    --controlling >"$tmp/lab$n/alice.json" &
  local pa=$!
  ip netns exec "$NATLAB_NS_B" "$BUILD_DIR/tests/lab/lab-peer" "${common[@]}" --name bob --peer alice \
    >"$tmp/lab$n/bob.json" &
  local pb=$!
  local rc=0
  wait $pa || rc=1
  wait $pb || rc=1
  echo "   alice: $(cat "$tmp/lab$n/alice.json")"
  lab_coturn_stop
  tests/lab/natlab down --prefix "$lab_prefix" >/dev/null
  lab_prefix=
  return $rc
}

if [ "$(id -u)" -ne 0 ]; then
  echo
  echo "demo: the NAT lab needs root (network namespaces); run as root to see parts 3 and 4"
  exit 0
fi
lab_pair portrestricted symmetric 3
lab_pair portrestricted portrestricted 4

echo
echo "demo: done (coturn stopped, namespaces removed, temporary files removed)"
