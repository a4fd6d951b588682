#!/usr/bin/env bash
# The README's demo command. On a fresh Debian 12 machine, as root:
#   installs what is missing, builds, and runs two punch peers on loopback:
#   first directly, then relay-only through a real coturn that this script
#   starts on 127.0.0.1 and stops again (by its PID), whatever happens.
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
cleanup() {
  if [ -n "$turn_pid" ] && kill -0 "$turn_pid" 2>/dev/null; then
    kill "$turn_pid" && wait "$turn_pid" 2>/dev/null || true
  fi
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
echo
echo "demo: done (coturn stopped, temporary files removed)"
