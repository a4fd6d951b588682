#!/usr/bin/env bash
# traversal.sh: `punch connect` across real kernel NATs (TAP).
#
# For every pair of NAT types: natlab builds the two sites, and the lab's
# server namespace runs a real coturn (STUN and TURN on 203.0.113.10/.11) and
# a real punch-signal (203.0.113.20:8765, room tokens required). Two
# `punch connect --reliable --json` peers, one in each site, meet in a room
# and copy a file each way; the files must arrive intact.
#
# With TURN, every pair must connect, and pairs where theory allows a direct
# path must not be relayed. Without TURN, those pairs must still connect,
# and the others must fail within the timeout with an error that says a relay
# is needed (code relay-required).
#
# Writes the matrix to $PUNCH_MATRIX_OUT (default: traversal-matrix.md in the
# current directory). Needs root; prints "1..0 # SKIP" otherwise.
#
#   PUNCH_BUILD_DIR   where punch and punch-signal are built (default _build)
#   PUNCH_PAIRS       "a:b c:d ..." to run only these pairs
#   PUNCH_LAB_JOBS    labs up at once (default 3)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
natlab="$here/natlab"
build=${PUNCH_BUILD_DIR:-$here/../../_build}
punch="$build/tools/punch"
signal="$build/signaling/punch-signal"
out=${PUNCH_MATRIX_OUT:-traversal-matrix.md}
jobs_max=${PUNCH_LAB_JOBS:-3}
timeout_s=8

# shellcheck source=lab-lib.sh
. "$here/lab-lib.sh"
lab_require ip iptables turnserver python3
for exe in "$punch" "$signal"; do
  [ -x "$exe" ] || lab_skip "$exe is not built"
done

# Every pair of the two-site types (same-type pairs included), plus the two
# topologies where both hosts sit behind one NAT.
TYPES="open fullcone addrrestricted portrestricted symmetric doublenat udpblocked"
if [ -n "${PUNCH_PAIRS:-}" ]; then
  PAIRS=$PUNCH_PAIRS
else
  PAIRS=""
  set -- $TYPES
  while [ $# -gt 0 ]; do
    for t in "$@"; do PAIRS="$PAIRS $1:$t"; done
    shift
  done
  PAIRS="$PAIRS samenat:samenat samenat-hairpin:samenat-hairpin"
fi

tmp=$(mktemp -d /tmp/punch-traversal.XXXXXX)
base="tv$$"
base=${base:0:7}
job_pids=()
cleanup_all() {
  local p
  for p in "${job_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${job_pids[@]}"; do wait "$p" 2>/dev/null; done
  # a job killed mid-way may leave its lab: down every prefix of this run
  for d in "$tmp"/case-*; do
    [ -f "$d/prefix" ] && "$natlab" down --prefix "$(cat "$d/prefix")" >/dev/null 2>&1
  done
  rm -rf "$tmp"
}
trap cleanup_all EXIT
trap 'exit 130' INT TERM

# run_case ID A B MODE: one pair, with (turn) or without (noturn) TURN, in a
# lab of its own. Writes $tmp/case-ID-MODE/result (shell assignments).
run_case() {
  local id=$1 a=$2 b=$3 mode=$4
  local dir="$tmp/case-$id-$mode" prefix="$base$id${mode:0:1}"
  local sig_pid="" pa pb
  mkdir -p "$dir"
  echo "$prefix" >"$dir/prefix"
  case_cleanup() {
    [ -n "$sig_pid" ] && kill "$sig_pid" 2>/dev/null && wait "$sig_pid" 2>/dev/null
    [ -n "${pa:-}" ] && kill "$pa" 2>/dev/null
    [ -n "${pb:-}" ] && kill "$pb" 2>/dev/null
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

  local common=(connect --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room "pair$id" --token "$token"
    --reliable --json --timeout "$timeout_s" --stun "stun:$NATLAB_STUN_IP1:3478")
  local args_a=("${common[@]}") args_b=("${common[@]}")
  if [ "$mode" = turn ]; then
    local tra=udp trb=udp
    [ "$a" = udpblocked ] && tra=tcp
    [ "$b" = udpblocked ] && trb=tcp
    args_a+=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=$tra" --turn-user lab --turn-pass lab-pass)
    args_b+=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=$trb" --turn-user lab --turn-pass lab-pass)
  fi
  head -c 524288 /dev/urandom >"$dir/a.in"
  head -c 262144 /dev/urandom >"$dir/b.in"

  # A joins first and waits; B, the newcomer, takes the controlling role and
  # its time from process start to connected is the figure reported.
  # stdin stays open 1.5 s after the file, so that ICE can move from a relay
  # that answered first to a direct pair that answers later
  { cat "$dir/a.in"; sleep 1.5; } | ip netns exec "$NATLAB_NS_A" "$punch" "${args_a[@]}" \
    >"$dir/a.out" 2>"$dir/a.err" &
  pa=$!
  for _ in $(seq 50); do grep -q '"event":"joined"' "$dir/a.err" 2>/dev/null && break; sleep 0.1; done
  { cat "$dir/b.in"; sleep 1.5; } | ip netns exec "$NATLAB_NS_B" "$punch" "${args_b[@]}" \
    >"$dir/b.out" 2>"$dir/b.err" &
  pb=$!
  local ra=0 rb=0
  wait "$pa" || ra=$?
  wait "$pb" || rb=$?
  pa="" pb=""
  local intact=no
  cmp -s "$dir/a.in" "$dir/b.out" && cmp -s "$dir/b.in" "$dir/a.out" && intact=yes
  python3 - "$dir/a.err" "$dir/b.err" "$ra" "$rb" "$intact" >"$dir/result" <<'EOF'
import json, shlex, sys
def events(path):
    out = {}
    for line in open(path, errors="replace"):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        out.setdefault(e.get("event"), e.get("data", {}))
        if e.get("event") == "path-changed":
            out["last-change"] = e.get("data", {})
    return out
def path(d):
    return "%s<->%s" % (d.get("local", {}).get("type", "?"), d.get("remote", {}).get("type", "?"))
a, b = events(sys.argv[1]), events(sys.argv[2])
c = a.get("connected") or {}          # the path as site A sees it
cb = b.get("connected") or {}         # the time, on the newcomer B
final = (a.get("done") or {}).get("final") or {}
err = b.get("error") or a.get("error") or {}
vals = {
    "RC_A": sys.argv[3], "RC_B": sys.argv[4], "INTACT": sys.argv[5],
    "CONNECTED": "yes" if "connected" in a and "connected" in b else "no",
    "MS": cb.get("elapsed_ms", ""),
    "PAIRPATH": path(c) if c else "",
    "FINALPATH": path(final) if final else "",
    "FINAL_RELAYED": str(final.get("relayed", "")).lower(),
    "CHANGE_MS": (b.get("last-change") or {}).get("elapsed_ms", ""),
    "RELAYED": str(c.get("relayed", "")).lower(),
    "ERR_CODE": err.get("code", ""), "ERR": err.get("message", ""),
}
for k, v in vals.items():
    print("%s=%s" % (k, shlex.quote(str(v))))
EOF
}

set -- $PAIRS
n_pairs=$#
echo "1..$((n_pairs * 2))"
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
show_logs() { # dir
  local f
  for f in "$1"/a.err "$1"/b.err "$1"/natlab.err; do
    [ -s "$f" ] && sed "s|^|# $(basename "$f"): |" "$f" | grep -v '"event":"candidate"\|"event":"progress"' | tail -n 8
  done
}
i=0
for pair in $PAIRS; do
  i=$((i + 1))
  a=${pair%%:*}; b=${pair##*:}
  direct=no; lab_direct_possible "$a" "$b" && direct=yes
  # a UDP-blocked site goes direct over TCP hole punching where TCP allows
  case " $a $b " in *" udpblocked "*) lab_tcp_direct_possible "$a" "$b" && direct=yes ;; esac

  ERROR="" CONNECTED="" MS="" PAIRPATH="" RELAYED="" INTACT="" ERR_CODE="" ERR="" RC_A="" RC_B=""
  FINALPATH="" FINAL_RELAYED="" CHANGE_MS=""
  d="$tmp/case-$i-turn"
  # shellcheck disable=SC1090
  [ -f "$d/result" ] && . "$d/result"
  if [ -z "$ERROR" ] && [ "$CONNECTED" = yes ] && [ "$INTACT" = yes ] && [ "$RC_A$RC_B" = 00 ] &&
     { [ $direct = no ] || [ "$FINAL_RELAYED" = false ]; }; then
    ok "$a <-> $b with TURN: connected in $MS ms, $PAIRPATH, relayed=$RELAYED, final path $FINALPATH (relayed=$FINAL_RELAYED), files intact"
  else
    not_ok "$a <-> $b with TURN: expected a connection$([ $direct = yes ] && echo ' ending on a direct path') and intact files (got connected=$CONNECTED relayed=$RELAYED final=$FINALPATH intact=$INTACT exit=$RC_A/$RC_B ${ERROR:-$ERR_CODE: $ERR})"
    show_logs "$d"
  fi
  if [ "$CONNECTED" = yes ]; then
    row_turn="$PAIRPATH$([ "$RELAYED" = true ] && echo " (relayed)")"
    if [ -n "$FINALPATH" ] && [ "$FINALPATH" != "$PAIRPATH" ]; then
      row_turn="$row_turn, then $FINALPATH$([ "$FINAL_RELAYED" = true ] && echo " (relayed)") at $CHANGE_MS ms"
    fi
    row_turn="$row_turn | $MS"
  else
    row_turn="FAILED: ${ERROR:-$ERR_CODE} | –"
  fi

  ERROR="" CONNECTED="" MS="" PAIRPATH="" RELAYED="" INTACT="" ERR_CODE="" ERR="" RC_A="" RC_B=""
  d="$tmp/case-$i-noturn"
  # shellcheck disable=SC1090
  [ -f "$d/result" ] && . "$d/result"
  if [ $direct = yes ]; then
    if [ -z "$ERROR" ] && [ "$CONNECTED" = yes ] && [ "$INTACT" = yes ] && [ "$RC_A$RC_B" = 00 ]; then
      ok "$a <-> $b without TURN: connected directly in $MS ms, $PAIRPATH, files intact"
      row_noturn="direct, $PAIRPATH | $MS"
    else
      not_ok "$a <-> $b without TURN: expected a direct connection (got connected=$CONNECTED intact=$INTACT ${ERROR:-$ERR_CODE: $ERR})"
      show_logs "$d"
      row_noturn="FAILED | –"
    fi
  else
    if [ -z "$ERROR" ] && [ "$ERR_CODE" = relay-required ] && [ "$RC_A" = 1 ] && [ "$RC_B" = 1 ]; then
      ok "$a <-> $b without TURN: both failed cleanly (exit 1): a relay is needed"
      row_noturn="fails: relay-required | –"
    else
      not_ok "$a <-> $b without TURN: expected exit 1 with relay-required, got connected=$CONNECTED exit=$RC_A/$RC_B ${ERROR:-$ERR_CODE: $ERR}"
      show_logs "$d"
      row_noturn="UNEXPECTED: ${ERROR:-$ERR_CODE} | –"
    fi
  fi
  rows+=("| $a | $b | $direct | $row_turn | $row_noturn |")
done

{
  echo "# Traversal matrix (punch connect, real kernel NATs, real coturn, real punch-signal)"
  echo
  echo "Written by \`tests/lab/traversal.sh\` on $(date -u +%Y-%m-%d) ($(uname -r))."
  echo "The path is as site A sees it (A's candidate <-> B's). Time is from process start to"
  echo "connected (ms) on site B, the peer that joined the room second;"
  echo "it includes the WebSocket connection and the join. Each cell is one run."
  echo
  echo "| site A | site B | direct possible | with TURN: path | ms | without TURN | ms |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$out"
echo "# matrix written to $out"
exit $fail
