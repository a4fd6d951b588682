#!/bin/bash
# test-example-pair.sh: examples/punch-pair-demo (two sessions in one process,
# over QUIC on loopback) connects and moves its 4 MiB of datagrams. TAP.
#
# SPDX-License-Identifier: MIT
set -u
BUILD=${PUNCH_BUILD_DIR:?run through meson test}
out=$(timeout 60 "$BUILD/examples/punch-pair-demo" 2>&1)
rc=$?
echo "1..2"
if [ $rc = 0 ]; then echo "ok 1 - punch-pair-demo exits 0"; else echo "not ok 1 - punch-pair-demo exits 0 (exit $rc)"; fi
if grep -q "received 4194304 of 4194304 bytes" <<<"$out"; then
  echo "ok 2 - bob received every datagram"
else
  echo "not ok 2 - bob received every datagram"
fi
sed 's/^/# /' <<<"$out" | tail -n 8
