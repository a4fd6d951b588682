#!/usr/bin/env bash
# bench-recovery.sh: how fast a session recovers from a fault, and how soon
# it is direct, across the NAT lab (issue 11). A benchmark: it prints figures
# and asserts nothing.
#
#   sudo bash tests/bench/bench-recovery.sh [--build-dir _build] [--runs 20]
#        [--faults "rebind coturn address direct"] [--bound 30]
#        [--direct-pairs "addrrestricted:symmetric fullcone:symmetric portrestricted:portrestricted"]
#        [--out FILE.md]
#
# Each run is one transfer between two `punch connect --reliable --json`
# (B sends 2 MiB paced at 4 Mbit/s, A receives), built from the lab's fault
# helpers (tests/lab/fault-lib.sh, the same faults as tests/lab/recovery.sh),
# 1 s after A's first byte:
#   rebind   portrestricted <-> portrestricted, STUN only: A's NAT mapping
#            moves to another public port (a SNAT rule to a new port for A's
#            socket, then its conntrack entries deleted);
#   coturn   portrestricted <-> symmetric, TURN on both sides (a relayed
#            pair): coturn killed with SIGKILL and started again at once;
#   address  portrestricted <-> portrestricted, STUN only: B's host address
#            removed and one in another subnet added and routed.
# The figure is the time from the fault to the first byte A writes after it,
# from A's output file polled every 2 ms (tests/lab/fault-tool.py watch); what
# arrives in the first 100 ms is what the old path still had in flight and
# does not count. A run without a new byte before the end of the run (its
# processes are stopped after --bound seconds) is a failure, counted and
# listed with the error the side gave, never dropped.
#   direct   for each pair of --direct-pairs (pairs where a direct path is
#            possible, tests/lab/lab-lib.sh lab_direct_possible), with TURN
#            configured on both sides: 256 KiB, B's stdin held open 2 s; the
#            time from B's process start to its first direct path (its
#            `connected` event when that is direct, else its first
#            `path-changed` to a direct pair). A run that never goes direct is
#            a failure.
# p50 and p95 are nearest-rank, over the runs that recovered. Method and
# figures: docs/natlab.md ("Fault tests").
#
# PUNCH_BENCH_KEEP=1 keeps every run's outputs (the path is printed at the end).
# Needs root. Every namespace and process it starts is removed on exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lab="$here/../lab"
build="$here/../../_build"
runs=20
faults="rebind coturn address direct"
direct_pairs="addrrestricted:symmetric fullcone:symmetric portrestricted:portrestricted"
bound=30
out=""

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --faults) faults=$2; shift 2 ;;
    --direct-pairs) direct_pairs=$2; shift 2 ;;
    --bound) bound=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-recovery: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$runs" in '' | *[!0-9]*) echo "bench-recovery: --runs must be a number" >&2; exit 2 ;; esac
if [ "$runs" -lt 1 ] || [ "$runs" -gt 200 ]; then echo "bench-recovery: --runs is 1..200" >&2; exit 2; fi
case "$bound" in '' | *[!0-9]*) echo "bench-recovery: --bound must be a number of seconds" >&2; exit 2 ;; esac
if [ "$bound" -lt 10 ] || [ "$bound" -gt 300 ]; then echo "bench-recovery: --bound is 10..300" >&2; exit 2; fi
for f in $faults; do
  case "$f" in rebind | coturn | address | direct) ;; *)
    echo "bench-recovery: unknown fault '$f' (rebind, coturn, address, direct)" >&2; exit 2 ;;
  esac
done

build=$(cd "$build" 2>/dev/null && pwd) || { echo "bench-recovery: no build directory" >&2; exit 2; }
punch="$build/tools/punch"
signal="$build/signaling/punch-signal"
[ "$(id -u)" -eq 0 ] || { echo "bench-recovery: needs root (network namespaces)" >&2; exit 2; }
for tool in ip iptables conntrack turnserver timeout ps /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "bench-recovery: $tool is missing" >&2; exit 2; }
done
for exe in "$punch" "$signal"; do
  [ -x "$exe" ] || { echo "bench-recovery: $exe is not built" >&2; exit 2; }
done

# shellcheck source=../lab/lab-lib.sh
. "$lab/lab-lib.sh"
# shellcheck source=../lab/fault-lib.sh
. "$lab/fault-lib.sh"
for pair in $direct_pairs; do
  case " $faults " in *" direct "*) ;; *) break ;; esac
  lab_direct_possible "${pair%%:*}" "${pair##*:}" ||
    { echo "bench-recovery: no direct path is possible for $pair" >&2; exit 2; }
done

log() { printf 'bench-recovery: %s\n' "$*" >&2; }
lab_run_init punch-bench-recovery
# shellcheck disable=SC2317 # called from the EXIT trap
bench_cleanup() {
  lab_run_stop
  if [ -n "${PUNCH_BENCH_KEEP:-}" ]; then log "outputs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap bench_cleanup EXIT

FILE="$WORK/file-2m"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$FILE"
SMALL="$WORK/file-256k"
head -c $((256 * 1024)) /dev/urandom >"$SMALL"
results="$WORK/results.tsv" # what, run, ok|fail, ms or reason, notes
: >"$results"
labn=0
lab() { # TYPE_A TYPE_B
  lab_run_stop
  labn=$((labn + 1))
  local prefix="br$$"
  prefix=${prefix:0:7}$labn
  fl_lab_up "$prefix" "$1" "$2" || { log "lab $1 <-> $2: $FL_WHY"; return 1; }
  TURN_OPTS=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=udp" --turn-user lab --turn-pass lab-pass)
}
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }
reason() { # why a run failed: the receiver's (else the sender's) error, or what was missing
  local r=${A_ERR:-${B_ERR:-}}
  echo "${r:-$1}"
}

# one fault run: NAME FAULT (rebind|coturn|address)
fault_run() {
  local name=$1 what=$2 notes=""
  if ! fl_xfer_start "$name" reliable "$FL_PACE 4 '$FILE'" "$bound" ||
    ! fl_wait_event "$name" a first-byte 15; then
    fl_xfer_wait "$name"
    record "$what" "$name" fail "$(reason no-first-byte)" "did not start"
    return
  fi
  sleep 1
  case "$what" in
    rebind)
      fl_events "$name" a A_
      if ! fault_rebind a "$A_REMOTE_ADDR" "$A_REMOTE_PORT"; then
        fl_xfer_wait "$name"
        record "$what" "$name" fail no-flow "no conntrack entry for A's flow"
        return
      fi
      local ports="" _i
      for _i in $(seq 60); do
        ports=$(fault_rebind_ports)
        [ -n "$ports" ] && break
        sleep 0.05
      done
      if [ -z "$ports" ] || [[ " $ports " == *" $RB_OLD_PORT "* ]]; then
        fl_xfer_wait "$name"
        fault_rebind_undo
        record "$what" "$name" fail fault-not-seen "conntrack shows port(s) '$ports' for A's socket"
        return
      fi
      notes="port $RB_OLD_PORT->$ports"
      ;;
    coturn)
      if ! fault_coturn_kill; then
        fl_xfer_wait "$name"
        record "$what" "$name" fail no-coturn "coturn's process not found"
        return
      fi
      local down
      if kill -0 "$FL_DEAD_TURN" 2>/dev/null; then
        fl_xfer_wait "$name"
        record "$what" "$name" fail fault-not-seen "coturn still runs after SIGKILL"
        return
      fi
      fault_coturn_restart || { fl_xfer_wait "$name"; record "$what" "$name" fail coturn-restart ""; return; }
      down=$(($(now_ms) - FAULT_MS))
      notes="coturn down ${down} ms"
      ;;
    address)
      if ! fault_move_address b || ! fault_move_verified; then
        fl_xfer_wait "$name"
        fault_move_address_undo
        record "$what" "$name" fail fault-not-seen "${MOVE_STATE:-the address did not move}"
        return
      fi
      notes="B $MOVE_OLD->$MOVE_NEW"
      ;;
  esac
  fl_xfer_wait "$name"
  [ "$what" = rebind ] && fault_rebind_undo
  [ "$what" = address ] && fault_move_address_undo
  fl_recovery "$name" "$FAULT_MS"
  local intact=no
  cmp -s "$FILE" "$WORK/$name/a.out" && [ "$RC_A$RC_B" = 00 ] && intact=yes
  notes="$notes, restarts ${A_RESTARTS:-0}/${B_RESTARTS:-0}, intact $intact"
  if [ "$RECOVERED" = yes ]; then
    record "$what" "$name" ok "$RECOVERY_MS" "$notes"
  else
    record "$what" "$name" fail "$(reason no-new-byte)" "$notes"
  fi
}

direct_run() { # NAME PAIR
  local name=$1
  FL_OPTS=("${TURN_OPTS[@]}")
  fl_xfer_start "$name" reliable "cat '$SMALL'; sleep 2" "$bound"
  fl_xfer_wait "$name"
  FL_OPTS=()
  local notes first=direct
  [ "$B_RELAYED" = true ] && first=relayed
  notes="first path $first at ${B_CONNECTED_MS:-?} ms"
  if [ -n "$B_DIRECT_MS" ]; then
    record "direct $2" "$name" ok "$B_DIRECT_MS" "$notes"
  else
    record "direct $2" "$name" fail "$(reason never-direct)" "$notes"
  fi
}

started=$(date +%s)
case " $faults " in *" rebind "* | *" address "*)
  if lab portrestricted portrestricted; then
    for what in rebind address; do
      case " $faults " in *" $what "*) ;; *) continue ;; esac
      FL_OPTS=()
      log "$what (portrestricted <-> portrestricted, STUN only): $runs runs"
      for i in $(seq "$runs"); do
        fault_run "$what-$i" "$what"
        log "  run $i/$runs: $(tail -n 1 "$results" | cut -f 3-)"
      done
    done
  fi ;;
esac
case " $faults " in *" coturn "*)
  if lab portrestricted symmetric; then
    FL_OPTS=("${TURN_OPTS[@]}")
    log "coturn (portrestricted <-> symmetric, TURN, relayed): $runs runs"
    for i in $(seq "$runs"); do
      fault_run "coturn-$i" coturn
      log "  run $i/$runs: $(tail -n 1 "$results" | cut -f 3-)"
    done
    FL_OPTS=()
  fi ;;
esac
case " $faults " in *" direct "*)
  for pair in $direct_pairs; do
    lab "${pair%%:*}" "${pair##*:}" || continue
    log "direct ($pair, TURN configured): $runs runs"
    for i in $(seq "$runs"); do
      direct_run "direct-$labn-$i" "$pair"
      log "  run $i/$runs: $(tail -n 1 "$results" | cut -f 3-)"
    done
  done ;;
esac
lab_run_stop
elapsed=$(($(date +%s) - started))
log "done in $elapsed s"

/usr/bin/python3 - "$results" "$out" "$runs" "$elapsed" "$(uname -r)" "$("$punch" --version 2>/dev/null | head -n 1)" <<'EOF'
import collections, datetime, math, sys
res, out, runs, elapsed, kernel, version = sys.argv[1:7]
rows = collections.OrderedDict()
for line in open(res):
    what, name, status, value, notes = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
    rows.setdefault(what, []).append((status, value, notes))

def pct(v, p):
    v = sorted(v)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]

label = {"rebind": "NAT rebinding (fault -> first new byte)",
         "coturn": "coturn killed and restarted (fault -> first new byte)",
         "address": "host address moved (fault -> first new byte)"}
head = ["measure", "ok/runs", "p50", "p95", "min", "max", "failures"]
table = []
for what, rs in rows.items():
    ok = [int(v) for s, v, n in rs if s == "ok"]
    fails = collections.Counter(v for s, v, n in rs if s != "ok")
    name = label.get(what, what.replace("direct ", "start -> first direct path, ") + " with TURN")
    fmt = lambda x: "%d ms" % x
    table.append([name, "%d/%d" % (len(ok), len(rs)),
                  fmt(pct(ok, 50)) if ok else "-", fmt(pct(ok, 95)) if ok else "-",
                  fmt(min(ok)) if ok else "-", fmt(max(ok)) if ok else "-",
                  ", ".join("%s %d" % kv for kv in fails.items()) or "none"])
w = [max(len(str(r[i])) for r in [head] + table) for i in range(len(head))]
print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
for r in table:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
print()
print("runs (status, ms or failure, notes):")
for what, rs in rows.items():
    for i, (s, v, n) in enumerate(rs, 1):
        print("  %s %d: %s %s%s" % (what, i, s, v + (" ms" if s == "ok" else ""), ("; " + n) if n else ""))
if out:
    with open(out, "w") as f:
        f.write("# Recovery: time to recover after a fault, time to the first direct path\n\n")
        f.write("Written by `tests/bench/bench-recovery.sh` on %s (kernel %s, %s), %s runs each, %s s in all. "
                "p50/p95 are nearest-rank over the runs that recovered; failures are counted, not dropped.\n\n"
                % (datetime.date.today().isoformat(), kernel, version or "punch", runs, elapsed))
        f.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
        for r in table:
            f.write("| " + " | ".join(str(c) for c in r) + " |\n")
EOF
