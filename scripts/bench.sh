#!/usr/bin/env bash
# The README's benchmark command. On a fresh Debian 12 machine, as root:
# installs what is missing, builds, and runs a benchmark (not a test: it
# prints figures and asserts nothing):
#
#   bash scripts/bench.sh connect [ARGS]   time to connected, punch connect against raw
#                                          libnice, across the NAT lab, 0 and 25 ms of
#                                          added delay (tests/bench/bench-connect.sh;
#                                          about 12 minutes; ARGS e.g. --runs 5)
#   bash scripts/bench.sh signal [ARGS]    punch-signal: 10,000 WebSockets, memory per
#                                          connection, relay latency at 1,000 msg/s
#                                          (tests/bench/bench-signal.py; about 30 s)
#   bash scripts/bench.sh data [ARGS]      the data path: punch connect against kernel TCP,
#                                          TLS 1.3 over TCP and raw UDP across the NAT lab,
#                                          0/25 ms, 1 % loss, datagrams (tests/bench/
#                                          bench-data.sh; about 10 minutes; sizes and runs
#                                          from PUNCH_BENCH_* variables, see its --help)
#   bash scripts/bench.sh cluster [ARGS]   punch-signal alone, then 2 instances sharing
#                                          rooms through one redis-server: 20,000
#                                          WebSockets, join time, memory, relay latency
#                                          across instances, Redis' CPU and RSS
#                                          (tests/bench/bench-signal-cluster.py; about 1 min;
#                                          ARGS e.g. --instances 3)
#   bash scripts/bench.sh tcp [ARGS]       UDP-blocked sites: punch's direct TCP path
#                                          (simultaneous open) against TURN over TCP,
#                                          same run: time to connected and first byte
#                                          (p50/p95), throughput beside kernel TCP, 0 and
#                                          25 ms (tests/bench/bench-tcp-punch.sh; about
#                                          8 minutes; ARGS e.g. --runs 5)
#   bash scripts/bench.sh recovery [ARGS]  time to recover after a fault (NAT rebinding, coturn
#                                          killed and restarted, host address moved: from the
#                                          fault to the first new byte) and time to the first
#                                          direct path, across the NAT lab (tests/bench/
#                                          bench-recovery.sh; 20 runs each, about 10-20 minutes;
#                                          ARGS e.g. --runs 5 --faults rebind)
#   bash scripts/bench.sh                  all six
#
# BUILD_DIR=DIR builds there (default: _build).
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
[ $# -gt 0 ] && shift
case "$what" in
  connect | signal | data | cluster | tcp | recovery | all) ;;
  -h | --help)
    sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "bench: unknown benchmark '$what' (connect, signal, data, cluster, tcp, recovery or all; --help)" >&2
    exit 2
    ;;
esac

if [ "$what" = all ] && [ $# -gt 0 ]; then
  echo "bench: options go to one benchmark: bash scripts/bench.sh connect|signal|data|cluster|tcp|recovery OPTIONS" >&2
  exit 2
fi

bash scripts/install-deps.sh

BUILD_DIR=${BUILD_DIR:-_build}
# shellcheck source=build-lib.sh
. scripts/build-lib.sh
punch_build "$BUILD_DIR" -Dredis=enabled >/dev/null

if [ "$what" = signal ] || [ "$what" = all ]; then
  echo "== punch-signal: connections held, memory, relay latency"
  /usr/bin/python3 tests/bench/bench-signal.py --build-dir "$BUILD_DIR" "$@"
fi
if [ "$what" = cluster ] || [ "$what" = all ]; then
  echo "== punch-signal: one instance, then a cluster sharing rooms through Redis"
  /usr/bin/python3 tests/bench/bench-signal-cluster.py --build-dir "$BUILD_DIR" "$@"
fi
if [ "$what" = connect ] || [ "$what" = all ]; then
  echo "== time to connected: punch connect against raw libnice, across the NAT lab"
  bash tests/bench/bench-connect.sh --build-dir "$BUILD_DIR" "$@"
fi
if [ "$what" = data ] || [ "$what" = all ]; then
  echo "== the data path: punch connect against kernel TCP, TLS over TCP and raw UDP, across the NAT lab"
  bash tests/bench/bench-data.sh --build-dir "$BUILD_DIR" "$@"
fi
if [ "$what" = tcp ] || [ "$what" = all ]; then
  echo "== UDP-blocked sites: direct TCP (simultaneous open) against TURN over TCP, across the NAT lab"
  bash tests/bench/bench-tcp-punch.sh --build-dir "$BUILD_DIR" "$@"
fi
if [ "$what" = recovery ] || [ "$what" = all ]; then
  echo "== recovery: time to recover after a fault, time to the first direct path, across the NAT lab"
  bash tests/bench/bench-recovery.sh --build-dir "$BUILD_DIR" "$@"
fi
