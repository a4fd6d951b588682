#!/bin/bash
# test-example.sh: examples/punch-signal-pair, built against libpunch.so and
# libpunch-signal.so only, connects two peers through a real punch-signal on
# loopback (room tokens required) and each prints the other's message. TAP.
#
# SPDX-License-Identifier: MIT
set -u

BUILD=${PUNCH_BUILD_DIR:?run through meson test}
SIGNAL=$BUILD/signaling/punch-signal
PAIR=$BUILD/examples/punch-signal-pair
tmp=$(mktemp -d /tmp/punch-example-test-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "1..4"
n=0
check() { # description, then a command whose status decides
  local what=$1; shift
  n=$((n + 1))
  if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; fi
}

head -c 32 /dev/urandom | base64 > "$tmp/secret"
"$SIGNAL" --listen 127.0.0.1:0 --secret-file "$tmp/secret" > "$tmp/signal.out" 2> "$tmp/signal.log" &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$tmp/signal.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/signal.out")
token=$("$SIGNAL" token --secret-file "$tmp/secret" --room pair --ttl 60)

peer() { # name, message
  timeout 30 "$PAIR" --signal "$url" --room pair --token "$token" --message "$2" \
    --local-address 127.0.0.1 --timeout 20 > "$tmp/$1.out" 2> "$tmp/$1.err"
  echo $? > "$tmp/$1.rc"
}
peer a "hello from a" &
pids+=($!)
sleep 0.2 # a is alone in the room first, then b joins (either order works)
peer b "hello from b" &
pids+=($!)
wait "${pids[1]}" "${pids[2]}"

check "peer a exits 0" [ "$(cat "$tmp/a.rc")" = 0 ]
check "peer b exits 0" [ "$(cat "$tmp/b.rc")" = 0 ]
check "a printed b's message" [ "$(cat "$tmp/a.out")" = "hello from b" ]
check "b printed a's message" [ "$(cat "$tmp/b.out")" = "hello from a" ]
for p in a b; do sed "s/^/# $p: /" "$tmp/$p.err"; done
sed 's/^/# signal: /' "$tmp/signal.log"
