#!/usr/bin/env bash
# traversal.sh: libpunch across real kernel NATs (TAP).
#
# For each pair of NAT types: natlab builds the two sites, coturn runs in the
# lab's server namespace, and two lab-peer processes (libpunch) connect from
# the two hosts and echo 64 datagrams. With TURN, every pair must connect, and
# pairs where theory allows a direct path must not be relayed. Without TURN,
# those pairs must still connect, and the others must fail within the timeout
# with an error that says a relay is needed.
#
# Writes the matrix to $PUNCH_MATRIX_OUT (default: traversal-matrix.md in the
# current directory). Needs root; prints "1..0 # SKIP" otherwise.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
natlab="$here/natlab"
build=${PUNCH_BUILD_DIR:-$here/../../_build}
peer="$build/tests/lab/lab-peer"
out=${PUNCH_MATRIX_OUT:-traversal-matrix.md}

if [ "$(id -u)" -ne 0 ]; then echo "1..0 # SKIP needs root for network namespaces"; exit 0; fi
for tool in ip iptables turnserver python3; do
  command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool is missing"; exit 0; }
done
[ -x "$peer" ] || { echo "1..0 # SKIP $peer is not built"; exit 0; }

# Pairs: the README's demo pair, each NAT against a port-restricted one, the
# hard cases, and the UDP-blocked site that only TURN over TCP can save.
PAIRS=${PUNCH_PAIRS:-"open:open fullcone:symmetric addrrestricted:symmetric portrestricted:portrestricted
portrestricted:symmetric symmetric:symmetric doublenat:portrestricted doublenat:symmetric
udpblocked:portrestricted samenat:samenat samenat-hairpin:samenat-hairpin open:symmetric"}

# Does theory allow a direct UDP path between these two NATs?
direct_possible() {
  local a=$1 b=$2
  case "$a $b" in
    *udpblocked*) return 1 ;;
    "symmetric symmetric") return 1 ;;
    "symmetric portrestricted" | "portrestricted symmetric") return 1 ;;
    "symmetric doublenat" | "doublenat symmetric") return 1 ;;
  esac
  return 0
}

tmp=$(mktemp -d /tmp/punch-traversal.XXXXXX)
prefix=""
# shellcheck source=lab-lib.sh
. "$here/lab-lib.sh"
cleanup() {
  lab_coturn_stop
  [ -n "$prefix" ] && "$natlab" down --prefix "$prefix" >/dev/null 2>&1
  prefix=""
}
trap 'cleanup; rm -rf "$tmp"' EXIT INT TERM

n=0
fail=0
rows=()
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }

field() { # json key
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); v=d
for k in sys.argv[2].split("."): v=v.get(k, "") if isinstance(v, dict) else ""
print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2" 2>/dev/null
}

# run_pair A B MODE(turn|noturn) -> sets RES_A RES_B
run_pair() {
  local a=$1 b=$2 mode=$3 i=$4
  prefix="pt$$$i"
  prefix=${prefix:0:10}
  eval "$("$natlab" up --prefix "$prefix" "$a" "$b" 2>"$tmp/natlab.err")" || {
    RES_A='{"connected":false,"error":"natlab up failed"}'; RES_B=$RES_A
    cat "$tmp/natlab.err" >&2; return; }
  mkdir -p "$tmp/turn-$i-$mode"
  lab_coturn_start "$tmp/turn-$i-$mode" || { RES_A='{"connected":false,"error":"coturn failed"}'; RES_B=$RES_A; return; }
  local meet="$tmp/meet-$i-$mode" args_a=() args_b=()
  mkdir -p "$meet"
  for side in a b; do
    local t=$a; [ $side = b ] && t=$b
    local args=(--dir "$meet" --timeout 8 --stun "stun:$NATLAB_STUN_IP1:3478")
    if [ "$mode" = turn ]; then
      local tr=udp; [ "$t" = udpblocked ] && tr=tcp
      args+=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=$tr" --turn-user lab --turn-pass lab-pass)
    fi
    if [ $side = a ]; then args_a=("${args[@]}" --name a --peer b --controlling)
    else args_b=("${args[@]}" --name b --peer a); fi
  done
  ip netns exec "$NATLAB_NS_A" "$peer" "${args_a[@]}" >"$tmp/a.out" 2>"$tmp/a.err" &
  local pa=$!
  ip netns exec "$NATLAB_NS_B" "$peer" "${args_b[@]}" >"$tmp/b.out" 2>"$tmp/b.err" &
  local pb=$!
  wait $pa; wait $pb
  RES_A=$(tail -n 1 "$tmp/a.out"); RES_B=$(tail -n 1 "$tmp/b.out")
  [ -n "$RES_A" ] || RES_A='{"connected":false,"error":"no output"}'
  [ -n "$RES_B" ] || RES_B='{"connected":false,"error":"no output"}'
  cleanup
}

echo "1..$(( $(echo $PAIRS | wc -w) * 2 ))"
i=0
for pair in $PAIRS; do
  a=${pair%%:*}; b=${pair##*:}; i=$((i + 1))
  direct=no; direct_possible "$a" "$b" && direct=yes

  run_pair "$a" "$b" turn "$i"
  ca=$(field "$RES_A" connected); cb=$(field "$RES_B" connected)
  path="$(field "$RES_A" local.type)<->$(field "$RES_A" remote.type)"
  relayed=$(field "$RES_A" relayed); ms=$(field "$RES_A" elapsed_ms)
  if [ "$ca" = true ] && [ "$cb" = true ] && { [ $direct = no ] || [ "$relayed" = false ]; }; then
    ok "$a <-> $b with TURN: connected in ${ms} ms, $path, relayed=$relayed"
  else
    not_ok "$a <-> $b with TURN: expected a connection$([ $direct = yes ] && echo ' not relayed')"
    echo "# a: $RES_A"; echo "# b: $RES_B"
  fi
  row_turn="$path$([ "$relayed" = true ] && echo ' (relayed)') | ${ms:-–} ms"

  run_pair "$a" "$b" noturn "$i"
  ca=$(field "$RES_A" connected); cb=$(field "$RES_B" connected)
  err=$(field "$RES_A" error)
  ms2=$(field "$RES_A" elapsed_ms)
  if [ $direct = yes ]; then
    if [ "$ca" = true ] && [ "$cb" = true ]; then
      ok "$a <-> $b without TURN: connected directly in ${ms2} ms"
      row_noturn="direct, $(field "$RES_A" local.type)<->$(field "$RES_A" remote.type) | ${ms2} ms"
    else
      not_ok "$a <-> $b without TURN: expected a direct connection"; echo "# a: $RES_A"; echo "# b: $RES_B"
      row_noturn="FAILED | –"
    fi
  else
    case "$err" in
      relay-required:*)
        ok "$a <-> $b without TURN: failed cleanly, a relay is needed"
        row_noturn="fails: relay-required | –" ;;
      *)
        not_ok "$a <-> $b without TURN: expected relay-required, got connected=$ca error=$err"
        row_noturn="UNEXPECTED: $err | –" ;;
    esac
  fi
  rows+=("| $a | $b | $direct | $row_turn | $row_noturn |")
done

{
  echo "# Traversal matrix (libpunch, real kernel NATs, real coturn)"
  echo
  echo "Written by \`tests/lab/traversal.sh\` on $(date -u +%Y-%m-%d) ($(uname -r))."
  echo "Time is from process start to connected, on the controlling side (site A)."
  echo
  echo "| site A | site B | direct possible | with TURN: path | ms | without TURN | ms |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$out"
echo "# matrix written to $out"
exit $fail
