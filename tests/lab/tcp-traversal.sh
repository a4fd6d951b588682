#!/usr/bin/env bash
# tcp-traversal.sh: `punch connect` between UDP-blocked sites, through real
# kernel NATs, over the session's TCP hole punching (TAP).
#
# For each pair (A is UDP-blocked), with and without TURN: natlab builds the
# two sites, the server namespace runs a real coturn (STUN and TURN, UDP and
# TCP, on 203.0.113.10/.11) and a real punch-signal; two `punch connect
# --reliable --json` peers copy a file each way (compared by SHA-256), while
# tcpdump records every TCP segment on A's WAN link. Checks:
#  - where lab_tcp_direct_possible says so: connected directly over TCP
#    (A's `connected` path: transport tcp, tcptype so, relayed false), with
#    and without TURN;
#  - where it does not (udpblocked-random): relayed over TURN-TCP with TURN,
#    relay-required without it, and the error names what TCP saw;
#  - the capture holds no plaintext marker from the files (QUIC over TCP).
# Writes the matrix to $PUNCH_TCP_MATRIX_OUT (default tcp-traversal-matrix.md).
# Needs root; prints "1..0 # SKIP" otherwise. About 40 s.
#
#   PUNCH_BUILD_DIR   where punch and punch-signal are built (default _build)
#   PUNCH_PAIRS       "a:b c:d ..." to run only these pairs
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
natlab="$here/natlab"
build=${PUNCH_BUILD_DIR:-$here/../../_build}
punch="$build/tools/punch"
signal="$build/signaling/punch-signal"
out=${PUNCH_TCP_MATRIX_OUT:-tcp-traversal-matrix.md}
jobs_max=${PUNCH_LAB_JOBS:-3}
timeout_s=10
MARKER="punch-tcp-marker-7f3a9c"

# shellcheck source=lab-lib.sh
. "$here/lab-lib.sh"
lab_require ip iptables turnserver python3 tcpdump sha256sum
for exe in "$punch" "$signal"; do
  [ -x "$exe" ] || lab_skip "$exe is not built"
done

PAIRS=${PUNCH_PAIRS:-"udpblocked:udpblocked udpblocked:portrestricted udpblocked:open udpblocked:doublenat udpblocked-random:udpblocked"}

tmp=$(mktemp -d /tmp/punch-tcptrav.XXXXXX)
base="tt$$"
base=${base:0:7}
job_pids=()
cleanup_all() {
  local p
  for p in "${job_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${job_pids[@]}"; do wait "$p" 2>/dev/null; done
  for d in "$tmp"/case-*; do
    [ -f "$d/prefix" ] && "$natlab" down --prefix "$(cat "$d/prefix")" >/dev/null 2>&1
  done
  [ -n "${PUNCH_KEEP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup_all EXIT
trap 'exit 130' INT TERM

make_file() { # PATH BYTES: random bytes with the marker every 32 KiB
  /usr/bin/python3 - "$1" "$2" "$MARKER" <<'EOF'
import os, sys
path, n, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
b = bytearray(os.urandom(n))
for off in range(1000, n - len(marker), 32768):
    b[off:off + len(marker)] = marker
open(path, "wb").write(b)
EOF
}

run_case() { # ID A B MODE
  local id=$1 a=$2 b=$3 mode=$4
  local dir="$tmp/case-$id-$mode" prefix="$base$id${mode:0:1}"
  local sig_pid="" pa="" pb="" cap=""
  mkdir -p "$dir"
  echo "$prefix" >"$dir/prefix"
  case_cleanup() {
    [ -n "$sig_pid" ] && kill "$sig_pid" 2>/dev/null && wait "$sig_pid" 2>/dev/null
    [ -n "$pa" ] && kill "$pa" 2>/dev/null
    [ -n "$pb" ] && kill "$pb" 2>/dev/null
    [ -n "$cap" ] && kill "$cap" 2>/dev/null
    lab_coturn_stop
    "$natlab" down --prefix "$prefix" >/dev/null 2>&1
  }
  trap case_cleanup EXIT
  trap 'exit 130' TERM
  result() { printf '%s\n' "$@" >"$dir/result"; }
  if ! eval "$("$natlab" up --prefix "$prefix" "$a" "$b" 2>"$dir/natlab.err")"; then
    result "ERROR='natlab up failed: $(tail -n 1 "$dir/natlab.err")'"; return
  fi
  lab_coturn_start "$dir" || { result "ERROR='coturn did not start'"; return; }
  lab_signal_start "$dir" "$signal" || { sig_pid=$LAB_SIGNAL_PID; result "ERROR='punch-signal did not start'"; return; }
  sig_pid=$LAB_SIGNAL_PID
  local token
  token=$("$signal" token --secret-file "$dir/secret" --room "pair$id" --ttl 300)
  ip netns exec "$NATLAB_NS_RA" timeout 60 tcpdump -i wan0 -U -s 0 -n -w "$dir/wan.pcap" tcp \
    2>"$dir/tcpdump.err" &
  cap=$!
  for _ in $(seq 30); do grep -q listening "$dir/tcpdump.err" 2>/dev/null && break; sleep 0.1; done

  local common=(connect --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room "pair$id" --token "$token"
    --reliable --json --timeout "$timeout_s" --stun "stun:$NATLAB_STUN_IP1:3478")
  local args_a=("${common[@]}") args_b=("${common[@]}")
  if [ "$mode" = turn ]; then
    local tra=udp trb=udp
    case $a in udpblocked*) tra=tcp ;; esac
    case $b in udpblocked*) trb=tcp ;; esac
    args_a+=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=$tra" --turn-user lab --turn-pass lab-pass)
    args_b+=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=$trb" --turn-user lab --turn-pass lab-pass)
  fi
  make_file "$dir/a.in" 524288
  make_file "$dir/b.in" 262144
  { cat "$dir/a.in"; sleep 1; } | ip netns exec "$NATLAB_NS_A" "$punch" "${args_a[@]}" \
    >"$dir/a.out" 2>"$dir/a.err" &
  pa=$!
  for _ in $(seq 50); do grep -q '"event":"joined"' "$dir/a.err" 2>/dev/null && break; sleep 0.1; done
  { cat "$dir/b.in"; sleep 1; } | ip netns exec "$NATLAB_NS_B" "$punch" "${args_b[@]}" \
    >"$dir/b.out" 2>"$dir/b.err" &
  pb=$!
  local ra=0 rb=0
  wait "$pa" || ra=$?
  wait "$pb" || rb=$?
  pa="" pb=""
  sleep 0.3
  kill "$cap" 2>/dev/null; wait "$cap" 2>/dev/null; cap=""
  local intact=no sum_a sum_b
  sum_a=$(sha256sum <"$dir/a.in"); sum_b=$(sha256sum <"$dir/b.in")
  [ "$sum_a" = "$(sha256sum <"$dir/b.out")" ] && [ "$sum_b" = "$(sha256sum <"$dir/a.out")" ] && intact=yes
  local markers
  markers=$(grep -c -a -F -- "$MARKER" "$dir/wan.pcap" 2>/dev/null || true)
  /usr/bin/python3 - "$dir/a.err" "$dir/b.err" "$ra" "$rb" "$intact" "${markers:-0}" >"$dir/result" <<'EOF'
import json, shlex, sys
def events(path):
    out = {}
    for line in open(path, errors="replace"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        out.setdefault(e.get("event"), e.get("data", {}))
    return out
a, b = events(sys.argv[1]), events(sys.argv[2])
c = a.get("connected") or {}
cb = b.get("connected") or {}
err = b.get("error") or a.get("error") or {}
vals = {
    "RC_A": sys.argv[3], "RC_B": sys.argv[4], "INTACT": sys.argv[5], "MARKERS": sys.argv[6],
    "CONNECTED": "yes" if "connected" in a and "connected" in b else "no",
    "MS": cb.get("elapsed_ms", ""), "MS_A": c.get("elapsed_ms", ""),
    "CPATH": c.get("path", ""), "CPATH_B": cb.get("path", ""),
    "TRANSPORT": (c.get("local") or {}).get("transport", ""),
    "RELAYED": str(c.get("relayed", "")).lower(),
    "ERR_CODE": err.get("code", ""), "ERR": err.get("message", ""),
}
for k, v in vals.items():
    print("%s=%s" % (k, shlex.quote(str(v))))
EOF
}

set -- $PAIRS
echo "1..$(($# * 2 * 2))"
i=0
for pair in $PAIRS; do
  i=$((i + 1))
  for mode in turn noturn; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
    run_case "$i" "${pair%%:*}" "${pair##*:}" "$mode" &
    job_pids+=($!)
  done
done
wait
job_pids=()

n=0
fail=0
rows=()
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
show_logs() {
  local f
  for f in "$1"/a.err "$1"/b.err "$1"/natlab.err; do
    [ -s "$f" ] && sed "s|^|# $(basename "$f"): |" "$f" | grep -v '"event":"candidate"\|"event":"progress"' | tail -n 8
  done
}
i=0
for pair in $PAIRS; do
  i=$((i + 1))
  a=${pair%%:*}; b=${pair##*:}
  direct=no; lab_tcp_direct_possible "$a" "$b" && direct=yes
  cells=()
  for mode in turn noturn; do
    ERROR="" CONNECTED="" MS="" MS_A="" CPATH_B="" CPATH="" TRANSPORT="" RELAYED="" INTACT="" ERR_CODE="" ERR=""
    RC_A="" RC_B="" MARKERS=""
    d="$tmp/case-$i-$mode"
    # shellcheck disable=SC1090
    [ -f "$d/result" ] && . "$d/result"
    what="$a <-> $b $([ $mode = turn ] && echo with || echo without) TURN"
    if [ $direct = yes ]; then
      if [ -z "$ERROR" ] && [ "$CONNECTED" = yes ] && [ "$INTACT" = yes ] && [ "$RC_A$RC_B" = 00 ] &&
         [ "$TRANSPORT" = tcp ] && [ "$RELAYED" = false ] && [[ $CPATH == *"(simultaneous open)" ]]; then
        ok "$what: direct over TCP in $MS ms ($CPATH), files intact (SHA-256)"
        cells+=("direct over TCP (\`$CPATH\`) | $MS")
      else
        not_ok "$what: expected direct over TCP (got connected=$CONNECTED path='$CPATH' intact=$INTACT exit=$RC_A/$RC_B ${ERROR:-$ERR_CODE: $ERR})"
        show_logs "$d"
        cells+=("FAILED: ${ERROR:-$ERR_CODE} $CPATH | –")
      fi
    elif [ $mode = turn ]; then
      if [ -z "$ERROR" ] && [ "$CONNECTED" = yes ] && [ "$INTACT" = yes ] && [ "$RC_A$RC_B" = 00 ] && [ "$RELAYED" = true ]; then
        ok "$what: relayed as theory says, in $MS ms ($CPATH), files intact (SHA-256)"
        cells+=("relayed (\`$CPATH\`) | $MS")
      else
        not_ok "$what: expected a relayed connection (got connected=$CONNECTED path='$CPATH' intact=$INTACT exit=$RC_A/$RC_B ${ERROR:-$ERR_CODE: $ERR})"
        show_logs "$d"
        cells+=("UNEXPECTED: ${ERROR:-$ERR_CODE} $CPATH | –")
      fi
    else
      if [ -z "$ERROR" ] && [ "$ERR_CODE" = relay-required ] && [ "$RC_A$RC_B" = 11 ] && [[ $ERR == *"TCP hole punching toward"* ]]; then
        ok "$what: both failed cleanly with relay-required, saying what TCP saw"
        cells+=("relay-required | –")
      else
        not_ok "$what: expected relay-required naming TCP hole punching (got connected=$CONNECTED exit=$RC_A/$RC_B ${ERROR:-$ERR_CODE: $ERR})"
        show_logs "$d"
        cells+=("UNEXPECTED: ${ERROR:-$ERR_CODE} | –")
      fi
    fi
    if [ "$CONNECTED" = yes ]; then
      if [ -n "$MARKERS" ] && [ "$MARKERS" = 0 ] && [ -s "$d/wan.pcap" ]; then
        ok "$what: the TCP capture of A's WAN link has no plaintext marker"
      else
        not_ok "$what: the TCP capture of A's WAN link shows the marker $MARKERS times (or is empty)"
      fi
    else
      ok "$what: no transfer, nothing to capture # SKIP"
    fi
  done
  rows+=("| $a | $b | $direct | ${cells[0]} | ${cells[1]} |")
done

{
  echo "# TCP traversal matrix (punch connect, real kernel NATs, coturn, punch-signal)"
  echo
  echo "Written by \`tests/lab/tcp-traversal.sh\` on $(date -u +%Y-%m-%d) ($(uname -r)). The"
  echo "path is as site A sees it; time is from process start to connected on site B"
  echo "(the second to join), WebSocket and join included. One run per cell."
  echo
  echo "| site A | site B | TCP direct possible | with TURN | ms | without TURN | ms |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$out"
echo "# matrix written to $out"
exit $fail
