#!/usr/bin/env bash
# bench-connect.sh: time to connected, punch connect against raw libnice.
#
#   sudo bash tests/bench/bench-connect.sh [--build-dir _build] [--runs 20]
#        [--delays "0 25"] [--pairs "portrestricted:portrestricted ..."]
#        [--out FILE.md] [--timeout 10]
#
# For each added one-way delay D on the WAN links and each pair of NAT types,
# natlab builds a lab (real kernel NATs), its server namespace runs coturn
# (tests/lab/lab-lib.sh) and one punch-signal. Then, --runs times, and for
# each tool in turn (punch, then the baseline):
#   - peer A starts in site A and joins the room (the controlled side);
#   - once A has joined and gathered (at most 3 s), peer B starts in site B
#     (the newcomer, controlling);
#   - B's NDJSON gives the time from its process start to `connected` and to
#     `first-byte` (A's first datagram, sent when A is connected).
# The tools: `punch connect --json` (libpunch's defaults) and nice-baseline
# (tests/bench/nice-baseline.c: libnice's defaults, SDP through the same
# punch-signal). Method and definitions: docs/bench.md.
#
# Delay: nfq-delay (tests/bench/nfq-delay.c) in each router namespace, fed by
#   iptables -t raw -A PREROUTING -i wan0 -j NFQUEUE --queue-num 0
#   iptables -t raw -A PREROUTING -i lan0 ! -d LANNET -j NFQUEUE --queue-num 0
# so every packet crossing a WAN link, either way, waits D ms before the
# router's conntrack and NAT see it. Peer<->server RTT is then 2D and
# peer<->peer RTT 4D (two WAN links each way).
#
# PUNCH_BENCH_KEEP=1 keeps every run's NDJSON (the path is printed at the end).
# Prints a table on stdout (progress on stderr) and, with --out, markdown.
# Needs root. Every namespace and process it starts is removed on exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
natlab="$here/../lab/natlab"
build="$here/../../_build"
runs=20
delays="0 25"
pairs="portrestricted:portrestricted fullcone:symmetric portrestricted:symmetric udpblocked:portrestricted"
out=""
timeout_s=10

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --delays) delays=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "bench-connect: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$runs" in '' | *[!0-9]*) echo "bench-connect: --runs must be a number" >&2; exit 2 ;; esac
[ "$runs" -ge 1 ] && [ "$runs" -le 200 ] || { echo "bench-connect: --runs is 1..200" >&2; exit 2; }

build=$(cd "$build" 2>/dev/null && pwd) || { echo "bench-connect: no build directory" >&2; exit 2; }
punch="$build/tools/punch"
signal="$build/signaling/punch-signal"
baseline="$build/tests/bench/nice-baseline"
delayer="$build/tests/bench/nfq-delay"

[ "$(id -u)" -eq 0 ] || { echo "bench-connect: needs root (network namespaces)" >&2; exit 2; }
for tool in ip iptables turnserver python3; do
  command -v "$tool" >/dev/null || { echo "bench-connect: $tool is missing" >&2; exit 2; }
done
for exe in "$punch" "$signal" "$baseline"; do
  [ -x "$exe" ] || { echo "bench-connect: $exe is not built" >&2; exit 2; }
done
for d in $delays; do
  case "$d" in '' | *[!0-9]*) echo "bench-connect: bad delay '$d'" >&2; exit 2 ;; esac
  if [ "$d" -gt 0 ] && [ ! -x "$delayer" ]; then
    echo "bench-connect: delay $d ms needs $delayer (libnetfilter-queue-dev)" >&2; exit 2
  fi
done

log() { printf 'bench-connect: %s\n' "$*" >&2; }

tmp=$(mktemp -d /tmp/punch-bench.XXXXXX)
prefix=""
sig_pid="" pa="" pb=""
delay_pids=()
# shellcheck source=../lab/lab-lib.sh
. "$here/../lab/lab-lib.sh"

lab_down() {
  local p
  [ -n "$pa" ] && kill "$pa" 2>/dev/null
  [ -n "$pb" ] && kill "$pb" 2>/dev/null
  pa="" pb=""
  if [ -n "$sig_pid" ]; then kill "$sig_pid" 2>/dev/null; wait "$sig_pid" 2>/dev/null; fi
  sig_pid=""
  lab_coturn_stop
  for p in "${delay_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  delay_pids=()
  [ -n "$prefix" ] && "$natlab" down --prefix "$prefix" >/dev/null 2>&1
  prefix=""
}
cleanup() {
  lab_down
  if [ -n "${PUNCH_BENCH_KEEP:-}" ]; then log "logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# add_delay NS LANNET D: nfq-delay in the router namespace and its two rules
add_delay() {
  local ns=$1 lannet=$2 d=$3 logf="$tmp/nfq-$1.log" i
  ip netns exec "$ns" "$delayer" --queue 0 --delay-ms "$d" --max-seconds 1800 2>"$logf" &
  delay_pids+=($!)
  for i in $(seq 100); do grep -q bound "$logf" 2>/dev/null && break; sleep 0.02; done
  grep -q bound "$logf" || { log "nfq-delay did not start in $ns: $(cat "$logf")"; return 1; }
  ip netns exec "$ns" iptables -t raw -A PREROUTING -i wan0 -j NFQUEUE --queue-num 0 || return 1
  ip netns exec "$ns" iptables -t raw -A PREROUTING -i lan0 ! -d "$lannet" -j NFQUEUE --queue-num 0
}

# rtt_to_server NS: median UDP round trip (ms) from a host to the server namespace
rtt_to_server() {
  ip netns exec "$1" python3 - "$NATLAB_SIGNAL_IP" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
r = []
for _ in range(5):
    t = time.monotonic()
    s.sendto(b"rtt", (sys.argv[1], 9))      # the echo below answers on port 9
    try:
        s.recvfrom(64)
        r.append((time.monotonic() - t) * 1000)
    except socket.timeout:
        pass
print("%.1f" % sorted(r)[len(r) // 2] if r else "-")
EOF
}

# lab_up A B D: the lab, coturn, punch-signal, the delay
lab_up() {
  local a=$1 b=$2 d=$3 i
  prefix="bc$$"
  prefix=${prefix:0:8}
  if ! eval "$("$natlab" up --prefix "$prefix" "$a" "$b" 2>"$tmp/natlab.err")"; then
    log "natlab up failed: $(tail -n 1 "$tmp/natlab.err")"; return 1
  fi
  lab_coturn_start "$tmp" || return 1
  head -c 32 /dev/urandom | base64 >"$tmp/secret"
  ip netns exec "$NATLAB_NS_SRV" "$signal" --listen "$NATLAB_SIGNAL_IP:8765" \
    --secret-file "$tmp/secret" >"$tmp/signal.out" 2>"$tmp/signal.err" &
  sig_pid=$!
  for i in $(seq 100); do grep -q '^listening' "$tmp/signal.out" 2>/dev/null && break; sleep 0.05; done
  grep -q '^listening' "$tmp/signal.out" || { log "punch-signal did not start"; return 1; }
  if [ "$d" -gt 0 ]; then
    [ -n "$NATLAB_NS_RA" ] && { add_delay "$NATLAB_NS_RA" "${NATLAB_A_GW%.*}.0/24" "$d" || return 1; }
    [ -n "$NATLAB_NS_RB" ] && { add_delay "$NATLAB_NS_RB" "${NATLAB_B_GW%.*}.0/24" "$d" || return 1; }
  fi
  # a UDP echo on the server for the RTT check (bounded: 20 s)
  ip netns exec "$NATLAB_NS_SRV" timeout 20 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("'"$NATLAB_SIGNAL_IP"'", 9)); s.settimeout(5)
try:
    while True:
        d, a = s.recvfrom(64); s.sendto(d, a)
except socket.timeout:
    pass' &
  sleep 0.2
  RTT_A=$([ "$a" = udpblocked ] && echo "-" || rtt_to_server "$NATLAB_NS_A")
  RTT_B=$([ "$b" = udpblocked ] && echo "-" || rtt_to_server "$NATLAB_NS_B")
  return 0
}

# wait_for FILE PATTERN SECONDS: poll until FILE has PATTERN
wait_for() {
  local i
  for i in $(seq "$(($3 * 50))"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
  return 1
}

# run_one TOOL A B ROOM DIR: one connection; B's events end up in DIR/b.err
run_one() {
  local tool=$1 a=$2 b=$3 room=$4 dir=$5 token
  local args_a=() args_b=() tra=udp trb=udp
  [ "$a" = udpblocked ] && tra=tcp
  [ "$b" = udpblocked ] && trb=tcp
  mkdir -p "$dir"
  token=$("$signal" token --secret-file "$tmp/secret" --room "$room" --ttl 600)
  if [ "$tool" = punch ]; then
    args_a=("$punch" connect --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room "$room" --token "$token"
      --json --timeout "$timeout_s" --stun "stun:$NATLAB_STUN_IP1:3478")
    args_b=("${args_a[@]}")
    if [ "$RELAYED" = yes ]; then
      args_a+=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=$tra" --turn-user lab --turn-pass lab-pass)
      args_b+=(--turn "turn:$NATLAB_STUN_IP1:3478?transport=$trb" --turn-user lab --turn-pass lab-pass)
    fi
  else
    args_a=("$baseline" --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room "$room" --token "$token"
      --timeout "$timeout_s" --stun "$NATLAB_STUN_IP1:3478")
    args_b=("${args_a[@]}")
    if [ "$RELAYED" = yes ]; then
      args_a+=(--turn "$NATLAB_STUN_IP1:3478:$tra" --turn-user lab --turn-pass lab-pass)
      args_b+=(--turn "$NATLAB_STUN_IP1:3478:$trb" --turn-user lab --turn-pass lab-pass)
    fi
  fi
  # stdin: one datagram for punch connect to send once connected
  printf x | ip netns exec "$NATLAB_NS_A" "${args_a[@]}" >/dev/null 2>"$dir/a.err" &
  pa=$!
  if ! wait_for "$dir/a.err" '"event":"joined"' 5; then
    kill "$pa" 2>/dev/null; wait "$pa" 2>/dev/null; pa=""
    echo '{"event":"error","data":{"code":"bench","message":"peer A did not join"}}' >>"$dir/b.err"
    return
  fi
  # A is a peer that was already waiting: let it finish gathering first (at
  # most 3 s; a UDP-blocked site waits for its unanswered STUN requests)
  wait_for "$dir/a.err" '"event":"gathering-done"' 3
  printf x | ip netns exec "$NATLAB_NS_B" "${args_b[@]}" >/dev/null 2>"$dir/b.err" &
  pb=$!
  # done when B has its first byte, or has exited, or the timeout (+2 s) passed
  local i
  for i in $(seq $(((timeout_s + 2) * 50))); do
    grep -q '"event":"first-byte"' "$dir/b.err" 2>/dev/null && break
    kill -0 "$pb" 2>/dev/null || break
    sleep 0.02
  done
  kill "$pa" "$pb" 2>/dev/null
  wait "$pa" 2>/dev/null
  wait "$pb" 2>/dev/null
  pa="" pb=""
}

# result DIR: one line "CONNECTED_MS FIRST_BYTE_MS RELAYED JOINED_MS" (or "fail CODE")
result() {
  python3 - "$1/b.err" <<'EOF'
import json, sys
ev = {}
for line in open(sys.argv[1], errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    ev.setdefault(e.get("event"), e.get("data", {}))
c, f = ev.get("connected"), ev.get("first-byte")
if c and f:
    print(c["elapsed_ms"], f["elapsed_ms"], str(c.get("relayed", "?")).lower(),
          ev.get("joined", {}).get("elapsed_ms", "-"))
else:
    print("fail", (ev.get("error") or {}).get("code", "no-first-byte"))
EOF
}


results="$tmp/results.tsv" # delay pair tool run connected first relayed
: >"$results"
rttinfo="$tmp/rtt.tsv"
: >"$rttinfo"
started=$(date +%s)
for d in $delays; do
  pi=0
  for pair in $pairs; do
    pi=$((pi + 1))
    a=${pair%%:*} b=${pair##*:}
    RELAYED=yes
    lab_direct_possible "$a" "$b" && RELAYED=no
    log "delay $d ms: $a <-> $b ($([ $RELAYED = yes ] && echo "relayed: STUN + TURN" || echo "direct: STUN only")), $runs runs per tool"
    if ! lab_up "$a" "$b" "$d"; then
      log "lab for $a <-> $b failed; skipping"
      lab_down
      continue
    fi
    log "  UDP RTT to the server: A ${RTT_A} ms, B ${RTT_B} ms"
    printf '%s\t%s\t%s\t%s\n' "$d" "$pair" "$RTT_A" "$RTT_B" >>"$rttinfo"
    for i in $(seq "$runs"); do
      line=""
      for tool in punch baseline; do
        dir="$tmp/run-$d-$pi-$i-$tool"
        run_one "$tool" "$a" "$b" "d${d}p${pi}r${i}$tool" "$dir"
        r=$(result "$dir")
        printf '%s\t%s\t%s\t%s\t%s\n' "$d" "$pair" "$tool" "$i" "$r" >>"$results"
        line="$line $tool: $r;"
        case "$r" in fail*)
          for f in a.err b.err; do
            grep -v '"event":"candidate"' "$dir/$f" | tail -n 4 | sed "s|^|bench-connect:   $tool $f: |" >&2
          done ;;
        esac
      done
      log "  run $i/$runs:$line"
    done
    lab_down
  done
done
elapsed=$(($(date +%s) - started))
log "done in ${elapsed} s"

python3 - "$results" "$rttinfo" "$out" "$runs" "$elapsed" "$(uname -r)" <<'EOF'
import sys, collections, datetime
res, rttf, out, runs, elapsed, kernel = sys.argv[1:7]
rows = collections.OrderedDict()
for line in open(res):
    d, pair, tool, run, *r = line.split()
    rows.setdefault((int(d), pair), {}).setdefault(tool, []).append(r)
rtt = {}
for line in open(rttf):
    d, pair, ra, rb = line.split()
    rtt[(int(d), pair)] = (ra, rb)

def pct(v, p):  # nearest rank
    v = sorted(v)
    import math
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]

head = ["pair", "delay", "tool", "n", "path", "conn p50", "conn p95", "1st byte p50",
        "1st byte p95", "p50 in RTTs", "ratio punch/base (conn, 1st byte)"]
table = []
summary = {}
for (d, pair), tools in rows.items():
    a, b = pair.split(":")
    peer_rtt = 4 * d
    stats = {}
    for tool in ("punch", "baseline"):
        rs = tools.get(tool, [])
        ok = [r for r in rs if r[0] != "fail"]
        fails = collections.Counter(r[1] for r in rs if r[0] == "fail")
        n = "%d/%d" % (len(ok), len(rs))
        if fails:
            n += " (" + ", ".join("%s %d" % kv for kv in fails.items()) + ")"
        if ok:
            c = [int(r[0]) for r in ok]
            f = [int(r[1]) for r in ok]
            rel = collections.Counter(r[2] for r in ok)
            path = "+".join("%s %d" % ("relayed" if k == "true" else "direct", v) for k, v in sorted(rel.items()))
            st = dict(c50=pct(c, 50), c95=pct(c, 95), f50=pct(f, 50), f95=pct(f, 95), path=path, n=n)
        else:
            st = dict(c50=None, c95=None, f50=None, f95=None, path="-", n=n)
        stats[tool] = st
    summary[(d, pair)] = stats
    for tool in ("punch", "baseline"):
        st = stats[tool]
        fmt = lambda v: "-" if v is None else "%d ms" % v
        inr = "-"
        if peer_rtt and st["c50"] is not None:
            inr = "%.1f / %.1f" % (st["c50"] / peer_rtt, st["f50"] / peer_rtt)
        ratio = ""
        if tool == "punch":
            p, bl = stats["punch"], stats["baseline"]
            if p["c50"] is not None and bl["c50"]:
                ratio = "%.3f (1/%.0f), %.3f (1/%.0f)" % (p["c50"] / bl["c50"], bl["c50"] / max(p["c50"], 1),
                                                        p["f50"] / bl["f50"], bl["f50"] / max(p["f50"], 1))
        table.append(["%s <-> %s" % (a, b), "%d ms" % d, tool, st["n"], st["path"], fmt(st["c50"]),
                      fmt(st["c95"]), fmt(st["f50"]), fmt(st["f95"]), inr, ratio])

w = [max(len(str(r[i])) for r in [head] + table) for i in range(len(head))]
print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)))
for r in table:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
print()
for (d, pair), (ra, rb) in rtt.items():
    print("delay %d ms, %s: measured UDP RTT host->server A %s ms, B %s ms; peer<->peer RTT %d ms (4 x delay)"
          % (d, pair, ra, rb, 4 * d))

# the issue's targets, from the figures above
print()
checks = []
for (d, pair), st in summary.items():
    p, bl = st["punch"], st["baseline"]
    if p["c50"] is None:
        checks.append("%s at %d ms: punch never connected: NOT MET" % (pair, d)); continue
    relayed = "relayed" in p["path"] and "direct" not in p["path"]
    if d == 0 and not relayed:
        ok1 = p["c50"] <= 100
        ratio = bl["f50"] / max(p["f50"], 1) if bl["f50"] is not None else None
        ok2 = ratio is not None and ratio >= 20
        checks.append("%s at 0 ms (direct): connected p50 %d ms <= 100 ms: %s; first byte %sx faster than raw libnice (>= 20x): %s"
                      % (pair, p["c50"], "met" if ok1 else "NOT MET",
                         "%.1f" % ratio if ratio else "?", "met" if ok2 else "NOT MET"))
    elif d == 0:
        checks.append("%s at 0 ms (relayed): connected p50 %d ms <= 300 ms: %s"
                      % (pair, p["c50"], "met" if p["c50"] <= 300 else "NOT MET"))
    else:
        limit = 4 * d + 3 * 4 * d  # one signaling round trip (4D) + 3 peer RTTs (4D each)
        checks.append("%s at %d ms: connected p50 %d ms <= 1 signaling round trip + 3 RTTs = %d ms: %s"
                      % (pair, d, p["c50"], limit, "met" if p["c50"] <= limit else "NOT MET"))
for c in checks:
    print("target: " + c)

if out:
    with open(out, "w") as f:
        f.write("# Connect time: punch connect vs raw libnice\n\n")
        f.write("Written by `tests/bench/bench-connect.sh` on %s (kernel %s), %s runs per tool and pair, %s s in all.\n"
                "Times are on peer B (the newcomer, ICE controlling), from its process start; p50/p95 are nearest-rank.\n\n"
                % (datetime.date.today().isoformat(), kernel, runs, elapsed))
        f.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
        for r in table:
            f.write("| " + " | ".join(str(c) for c in r) + " |\n")
        f.write("\n")
        for (d, pair), (ra, rb) in rtt.items():
            f.write("- delay %d ms, %s: UDP RTT host->server A %s ms, B %s ms; peer<->peer RTT %d ms\n"
                    % (d, pair, ra, rb, 4 * d))
        f.write("\n")
        for c in checks:
            f.write("- target: " + c + "\n")
EOF
