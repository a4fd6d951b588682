#!/usr/bin/env bash
# bench-data.sh: punch's data path against kernel TCP, TLS 1.3 over kernel
# TCP, and raw UDP, on the same two hosts of the NAT lab, in one run.
#
#   sudo bash tests/bench/bench-data.sh [--build-dir _build] [--out FILE.md]
#   (or: bash scripts/bench.sh data)
#
# One lab (tests/lab/natlab): hosts A and B behind two port-restricted NATs,
# coturn (STUN) and punch-signal on the lab's internet (tests/lab/lab-lib.sh).
# Every transfer goes from A to B. For each condition, run after run, each
# tool in turn (so any drift hits all alike):
#   punch      punch connect --reliable (A: the file on stdin; B: stdout to a
#              file), today's default path; SHA-256 of B's copy checked
#   tcp        bench-tcp send/recv: a plain kernel socket copy, file to file
#   tls        the same over TLS 1.3 (GnuTLS), the like-for-like encrypted peer
# Datagram mode: punch connect without --reliable (punchdg), fed by `bench-tcp
# pace` (1200-byte writes, one datagram each) at each rate, against bench-tcp
# udp-send/udp-recv (raw UDP, same size, same pacing); what arrived is counted.
# With PUNCH_BENCH_PLAINTEXT=1 and a punch that has --insecure-plaintext
# (bare datagrams), that runs too (plaindg), beside the encrypted datagrams.
#
# The kernel baselines reach B through a port forward on B's router (DNAT of
# TCP 5201 and UDP 5202 to B's host), so they cross both NATs, both WAN links
# and the same added delay and loss as punch's punched path.
#
# Conditions (iptables in the routers' raw table, before conntrack):
#   delay: nfq-delay holds every packet crossing each WAN link D ms each way
#          (peer RTT 4D: 100 ms at the default 25 ms)
#   loss:  -m statistic --mode random --probability P -j DROP on A's WAN link,
#          both directions (each direction of the path loses P)
#
# Environment (defaults keep a full run under about 10 minutes on 2 cores):
#   PUNCH_BENCH_RUNS=2           runs of each tool per condition
#   PUNCH_BENCH_CONDITIONS="clean delay loss lossdelay dgram"
#   PUNCH_BENCH_MIB_CLEAN=64     MiB moved at 0 ms, no loss
#   PUNCH_BENCH_MIB_DELAY=16     at D ms
#   PUNCH_BENCH_MIB_LOSS=16      at P loss, 0 ms
#   PUNCH_BENCH_MIB_LOSSDELAY=4  at P loss and D ms
#   PUNCH_BENCH_DELAY_MS=25      D
#   PUNCH_BENCH_LOSS=0.01        P
#   PUNCH_BENCH_DGRAM_MIB=32     MiB offered in datagram mode
#   PUNCH_BENCH_DGRAM_RATES="0 200"  Mbit/s offered (0: flat out)
#   PUNCH_BENCH_TIMEOUT=90       seconds a transfer may take (then killed, counted as failed)
#   PUNCH_BENCH_PLAINTEXT=1      add punch --insecure-plaintext datagrams (if it exists)
#   PUNCH_BENCH_KEEP=1           keep every run's files (the path is printed)
#
# Measured per run: throughput (bytes over B's first-to-last byte), CPU
# seconds (user+sys) per GiB and peak RSS on each side (`bench-tcp rusage`:
# wait4's rusage of the child, in microseconds; /usr/bin/time prints only
# hundredths, too coarse for the kernel baselines), and the
# time from having a path to B's first application byte: punch's `state
# connected` to `first-byte` on B (since the QUIC commits `connected` comes
# after the handshake, so this no longer includes it); for tcp/tls, A's
# connect() call to B's first byte (both namespaces share CLOCK_MONOTONIC);
# and B's process start to its first byte (everything). Prints a table with ratios
# (punch / tcp, punch / tls, punch / raw UDP) on stdout, progress on stderr.
# Needs root. Every namespace and process it starts is removed on exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
natlab="$here/../lab/natlab"
build="$here/../../_build"
out=""

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,52p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-data: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

runs=${PUNCH_BENCH_RUNS:-2}
conditions=${PUNCH_BENCH_CONDITIONS:-clean delay loss lossdelay dgram}
delay_ms=${PUNCH_BENCH_DELAY_MS:-25}
loss=${PUNCH_BENCH_LOSS:-0.01}
dgram_mib=${PUNCH_BENCH_DGRAM_MIB:-32}
dgram_rates=${PUNCH_BENCH_DGRAM_RATES:-0 200}
xfer_timeout=${PUNCH_BENCH_TIMEOUT:-90}
declare -A mib=([clean]=${PUNCH_BENCH_MIB_CLEAN:-64} [delay]=${PUNCH_BENCH_MIB_DELAY:-16}
  [loss]=${PUNCH_BENCH_MIB_LOSS:-16} [lossdelay]=${PUNCH_BENCH_MIB_LOSSDELAY:-4})

num() { case "$2" in '' | *[!0-9]*) echo "bench-data: $1 must be a whole number, got '$2'" >&2; exit 2 ;; esac; }
num PUNCH_BENCH_RUNS "$runs"
num PUNCH_BENCH_DELAY_MS "$delay_ms"
num PUNCH_BENCH_DGRAM_MIB "$dgram_mib"
num PUNCH_BENCH_TIMEOUT "$xfer_timeout"
for c in "${!mib[@]}"; do num "PUNCH_BENCH_MIB_${c^^}" "${mib[$c]}"; done
for r in $dgram_rates; do num PUNCH_BENCH_DGRAM_RATES "$r"; done
[[ $loss =~ ^0?\.[0-9]+$ ]] || { echo "bench-data: PUNCH_BENCH_LOSS is a probability such as 0.01" >&2; exit 2; }
for c in $conditions; do
  case "$c" in clean | delay | loss | lossdelay | dgram) ;;
    *) echo "bench-data: unknown condition '$c' (clean delay loss lossdelay dgram)" >&2; exit 2 ;;
  esac
done
[ "$runs" -ge 1 ] && [ "$runs" -le 50 ] || { echo "bench-data: PUNCH_BENCH_RUNS is 1..50" >&2; exit 2; }

build=$(cd "$build" 2>/dev/null && pwd) || { echo "bench-data: no build directory" >&2; exit 2; }
punch="$build/tools/punch"
signal="$build/signaling/punch-signal"
btcp="$build/tests/bench/bench-tcp"
delayer="$build/tests/bench/nfq-delay"

[ "$(id -u)" -eq 0 ] || { echo "bench-data: needs root (network namespaces)" >&2; exit 2; }
for tool in ip iptables turnserver python3 sha256sum timeout; do
  command -v "$tool" >/dev/null || { echo "bench-data: $tool is missing" >&2; exit 2; }
done
for exe in "$punch" "$signal" "$btcp"; do
  [ -x "$exe" ] || { echo "bench-data: $exe is not built" >&2; exit 2; }
done
case " $conditions " in *" delay "* | *" lossdelay "*)
  [ -x "$delayer" ] || { echo "bench-data: delay needs $delayer (libnetfilter-queue-dev)" >&2; exit 2; } ;;
esac

log() { printf 'bench-data: %s\n' "$*" >&2; }

# What this punch can do: the encrypted path's options appear in --help.
connect_help=$("$punch" connect --help 2>&1)
has_opt() { grep -q -- "$1" <<<"$connect_help"; }
tools_rel="punch tcp tls"
tools_dg="punchdg udp"
if [ -n "${PUNCH_BENCH_PLAINTEXT:-}" ]; then
  if has_opt --insecure-plaintext; then
    tools_dg="punchdg plaindg udp"
  else
    log "PUNCH_BENCH_PLAINTEXT: this punch has no --insecure-plaintext (its only path is the plaintext one); skipped"
  fi
fi

tmp=$(mktemp -d /tmp/punch-bench-data.XXXXXX)
prefix="bd$$"
prefix=${prefix:0:8}
sig_pid=""
pids=()
delay_pids=()
# shellcheck source=../lab/lab-lib.sh
. "$here/../lab/lab-lib.sh"

stop_pids() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
}
cleanup() {
  local p
  stop_pids
  if [ -n "$sig_pid" ]; then kill "$sig_pid" 2>/dev/null; wait "$sig_pid" 2>/dev/null; fi
  lab_coturn_stop
  for p in "${delay_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  "$natlab" down --prefix "$prefix" >/dev/null 2>&1
  if [ -n "${PUNCH_BENCH_KEEP:-}" ]; then log "files kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

wait_for() { # FILE PATTERN SECONDS
  local i
  for i in $(seq "$(($3 * 50))"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
  return 1
}

# ---- the lab ----------------------------------------------------------------
log "lab: portrestricted <-> portrestricted, coturn, punch-signal"
eval "$("$natlab" up --prefix "$prefix" portrestricted portrestricted 2>"$tmp/natlab.err")" ||
  { log "natlab up failed: $(tail -n 1 "$tmp/natlab.err")"; exit 1; }
lab_coturn_start "$tmp" || exit 1
head -c 32 /dev/urandom | base64 >"$tmp/secret"
ip netns exec "$NATLAB_NS_SRV" "$signal" --listen "$NATLAB_SIGNAL_IP:8765" \
  --secret-file "$tmp/secret" >"$tmp/signal.out" 2>"$tmp/signal.err" &
sig_pid=$!
wait_for "$tmp/signal.out" '^listening' 5 || { log "punch-signal did not start"; exit 1; }

# the kernel baselines' way in: a port forward on B's router
for proto in tcp:5201 udp:5202; do
  ip netns exec "$NATLAB_NS_RB" iptables -w -t nat -A PREROUTING -i wan0 -p "${proto%:*}" \
    --dport "${proto#*:}" -j DNAT --to-destination "$NATLAB_B_IP" || exit 1
done

if [ -x "$delayer" ] && [ "$delay_ms" -gt 0 ]; then
  for ns in "$NATLAB_NS_RA" "$NATLAB_NS_RB"; do
    ip netns exec "$ns" "$delayer" --queue 0 --delay-ms "$delay_ms" --max-seconds 1800 \
      --max-packets 16384 2>"$tmp/nfq-$ns.log" &
    delay_pids+=($!)
    wait_for "$tmp/nfq-$ns.log" bound 2 || { log "nfq-delay did not start in $ns: $(cat "$tmp/nfq-$ns.log")"; exit 1; }
  done
fi

# set_condition DELAY_MS LOSS: the raw-table rules of both routers
set_condition() {
  local d=$1 p=$2 ns lannet
  for ns in "$NATLAB_NS_RA" "$NATLAB_NS_RB"; do
    ip netns exec "$ns" iptables -w -t raw -F PREROUTING
  done
  if [ "$p" != 0 ]; then
    lannet="${NATLAB_A_GW%.*}.0/24"
    ip netns exec "$NATLAB_NS_RA" iptables -w -t raw -A PREROUTING -i wan0 \
      -m statistic --mode random --probability "$p" -j DROP
    ip netns exec "$NATLAB_NS_RA" iptables -w -t raw -A PREROUTING -i lan0 ! -d "$lannet" \
      -m statistic --mode random --probability "$p" -j DROP
  fi
  if [ "$d" -gt 0 ]; then
    for ns in "$NATLAB_NS_RA:$NATLAB_A_GW" "$NATLAB_NS_RB:$NATLAB_B_GW"; do
      lannet="${ns#*:}"
      lannet="${lannet%.*}.0/24"
      ip netns exec "${ns%%:*}" iptables -w -t raw -A PREROUTING -i wan0 -j NFQUEUE --queue-num 0
      ip netns exec "${ns%%:*}" iptables -w -t raw -A PREROUTING -i lan0 ! -d "$lannet" -j NFQUEUE --queue-num 0
    done
  fi
}

# in NS: bench-tcp rusage (getrusage of the child, in microseconds) around
# timeout around the command
tx() { # NS TIMEFILE CMD...
  local ns=$1 tf=$2
  shift 2
  ip netns exec "$ns" "$btcp" rusage "$tf" timeout -k 3 "$xfer_timeout" "$@"
}

room_n=0
punch_args() { # ROOM MODE(reliable|datagram) EXTRA...
  local room=$1 mode=$2 token
  shift 2
  token=$("$signal" token --secret-file "$tmp/secret" --room "$room" --ttl 3600)
  P_ARGS=(connect --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room "$room" --token "$token"
    --json --timeout 20 --stun "stun:$NATLAB_STUN_IP1:3478" "$@")
  [ "$mode" = reliable ] && P_ARGS+=(--reliable)
  return 0
}

# run_punch DIR MODE INPUT-CMD EXTRA...: A sends INPUT-CMD's output, B writes to DIR/b.out
run_punch() {
  local dir=$1 mode=$2 feed=$3
  shift 3
  room_n=$((room_n + 1))
  punch_args "r$room_n" "$mode" "$@"
  bash -c "$feed" | tx "$NATLAB_NS_A" "$dir/a.time" "$punch" "${P_ARGS[@]}" >/dev/null 2>"$dir/a.err" &
  pids+=($!)
  wait_for "$dir/a.err" '"event":"joined"' 10 || log "  peer A did not join"
  tx "$NATLAB_NS_B" "$dir/b.time" "$punch" "${P_ARGS[@]}" </dev/null >"$dir/b.out" 2>"$dir/b.err" &
  pids+=($!)
  local rc=0 p
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  pids=()
  echo "$rc" >"$dir/rc"
}

# run_tcp DIR TLS(yes|no) FILE
run_tcp() {
  local dir=$1 tls=() rc=0 p
  [ "$2" = yes ] && tls=(--tls)
  tx "$NATLAB_NS_B" "$dir/b.time" "$btcp" recv --listen "$NATLAB_B_IP:5201" "${tls[@]}" \
    >"$dir/b.out" 2>"$dir/b.err" &
  pids+=($!)
  wait_for "$dir/b.err" listening 5 || log "  bench-tcp recv did not listen"
  tx "$NATLAB_NS_A" "$dir/a.time" "$btcp" send --connect "$NATLAB_B_WAN:5201" "${tls[@]}" \
    <"$3" >/dev/null 2>"$dir/a.err" &
  pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  pids=()
  echo "$rc" >"$dir/rc"
}

# run_udp DIR BYTES RATE
run_udp() {
  local dir=$1 rc=0 p
  tx "$NATLAB_NS_B" "$dir/b.time" "$btcp" udp-recv --listen "$NATLAB_B_IP:5202" --idle-ms 1500 \
    >/dev/null 2>"$dir/b.err" &
  pids+=($!)
  wait_for "$dir/b.err" listening 5 || log "  bench-tcp udp-recv did not listen"
  tx "$NATLAB_NS_A" "$dir/a.time" "$btcp" udp-send --connect "$NATLAB_B_WAN:5202" --bytes "$2" \
    --rate-mbit "$3" >/dev/null 2>"$dir/a.err" &
  pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  pids=()
  echo "$rc" >"$dir/rc"
}

# result KIND DIR SENT_BYTES SHA: one line of figures (see the python)
result() {
  python3 - "$@" <<'EOF'
import json, os, sys
kind, d, sent, sha = sys.argv[1:5]
sent = int(sent)
def events(path):
    ev = {}
    try:
        for line in open(path, errors="replace"):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict):
                ev.setdefault(e.get("event", e.get("mode")), e.get("data", e))
                # ICE's own connected state (the `connected` event may come
                # later, once a secure channel is up)
                if e.get("event") == "state" and e.get("data", {}).get("state") == "connected":
                    ev.setdefault("ice-connected", e["data"])
    except OSError:
        pass
    return ev
def rusage(path):
    try:
        f = open(path).read().split()
        return float(f[-3]) + float(f[-2]), int(f[-1])  # user+sys, max RSS KiB
    except (OSError, ValueError, IndexError):
        return None, None
rc = open(os.path.join(d, "rc")).read().strip() if os.path.exists(os.path.join(d, "rc")) else "?"
a, b = events(os.path.join(d, "a.err")), events(os.path.join(d, "b.err"))
cpu_a, rss_a = rusage(os.path.join(d, "a.time"))
cpu_b, rss_b = rusage(os.path.join(d, "b.time"))
out = dict(rc=rc, cpu_a=cpu_a, cpu_b=cpu_b, rss_a=rss_a, rss_b=rss_b, status="ok", note="")
if kind in ("punch", "punchdg", "plaindg"):
    done, con, fb, err = b.get("done", {}), b.get("connected", {}), b.get("first-byte", {}), b.get("error") or a.get("error")
    got = os.path.getsize(os.path.join(d, "b.out")) if os.path.exists(os.path.join(d, "b.out")) else 0
    secs = done.get("transfer_ms", 0) / 1000
    out.update(bytes=got, secs=secs, mbit=got * 8 / secs / 1e6 if secs else 0)
    ice = b.get("ice-connected") or con
    if ice and fb:
        out["ttfb_ms"] = fb["elapsed_ms"] - ice["elapsed_ms"]
    if fb:
        out["start_fb_ms"] = fb["elapsed_ms"]
    out["encrypted"] = con.get("encrypted", "?")
    if "dropped" in done:
        out["dropped"] = done["dropped"]
    if "packets_dropped" in done:
        out["packets_dropped"] = done["packets_dropped"]
    if "peer_acknowledged" in a.get("done", {}):
        out["acked"] = a["done"]["peer_acknowledged"]
    if kind not in ("punchdg", "plaindg"):
        if rc == "124":
            out.update(status="fail", note="killed at PUNCH_BENCH_TIMEOUT")
        elif err:
            out.update(status="fail", note=err.get("code", "?"))
        elif rc != "0":
            out.update(status="fail", note="exit %s" % rc)
        elif sha != "ok":
            out.update(status="fail", note="SHA-256 mismatch (%d of %d bytes)" % (got, sent))
    else:
        out["delivered"] = got / sent if sent else 0
        if rc == "124":
            out.update(status="fail", note="killed at PUNCH_BENCH_TIMEOUT (%.1f %% in B's file)" % (100 * out["delivered"]))
        elif err:
            out.update(status="fail", note=err.get("code", "?"))
else:
    ra, rb = a.get("send", a.get("send-tls", a.get("udp-send", {}))), b.get("recv", b.get("recv-tls", b.get("udp-recv", {})))
    out.update(bytes=rb.get("bytes", 0), secs=rb.get("seconds", 0), mbit=rb.get("mbit_s", 0))
    if ra.get("start_us") and rb.get("first_byte_us"):
        out["ttfb_ms"] = out["start_fb_ms"] = (rb["first_byte_us"] - ra["start_us"]) / 1000
    if kind == "udp":
        out["delivered"] = rb.get("bytes", 0) / sent if sent else 0
    if rc != "0":
        out.update(status="fail", note="exit %s" % rc)
    elif kind != "udp" and sha != "ok":
        out.update(status="fail", note="SHA-256 mismatch")
print(json.dumps(out))
EOF
}

results="$tmp/results.ndjson"
: >"$results"
record() { # COND TOOL RUN JSON
  python3 -c 'import json,sys; r=json.loads(sys.argv[4]); r.update(cond=sys.argv[1], tool=sys.argv[2], run=int(sys.argv[3])); print(json.dumps(r))' \
    "$@" >>"$results"
}
summary() { # JSON: one short line for the log
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%s %.1f Mbit/s%s%s" % (r["status"], r.get("mbit",0), (" " + r["note"]) if r["note"] else "", (" delivered %.1f%%" % (100*r["delivered"])) if "delivered" in r else ""))' "$1"
}

started=$(date +%s)
for cond in $conditions; do
  case $cond in
    clean) d=0 p=0 ;;
    delay) d=$delay_ms p=0 ;;
    loss) d=0 p=$loss ;;
    lossdelay) d=$delay_ms p=$loss ;;
    dgram) d=0 p=0 ;;
  esac
  set_condition "$d" "$p"
  if [ "$cond" != dgram ]; then
    size=$((mib[$cond] * 1048576))
    head -c "$size" /dev/urandom >"$tmp/file"
    want=$(sha256sum <"$tmp/file" | cut -d' ' -f1)
    log "$cond: delay $d ms per WAN link, loss $p, $((size / 1048576)) MiB, $runs runs of: $tools_rel"
    for i in $(seq "$runs"); do
      for tool in $tools_rel; do
        dir="$tmp/$cond-$i-$tool"
        mkdir -p "$dir"
        case $tool in
          punch) run_punch "$dir" reliable "cat '$tmp/file'" ;;
          tcp) run_tcp "$dir" no "$tmp/file" ;;
          tls) run_tcp "$dir" yes "$tmp/file" ;;
        esac
        sha=bad
        [ "$(sha256sum <"$dir/b.out" | cut -d' ' -f1)" = "$want" ] && sha=ok
        r=$(result "$tool" "$dir" "$size" "$sha")
        record "$cond" "$tool" "$i" "$r"
        log "  run $i $tool: $(summary "$r")"
        [ -n "${PUNCH_BENCH_KEEP:-}" ] || rm -f "$dir/b.out"
      done
    done
  else
    size=$((dgram_mib * 1048576 / 1200 * 1200))
    for rate in $dgram_rates; do
      rname=$([ "$rate" = 0 ] && echo "flat out" || echo "$rate Mbit/s")
      log "datagrams: $((size / 1048576)) MiB in 1200-byte datagrams, offered $rname, $runs runs of: $tools_dg"
      for i in $(seq "$runs"); do
        for tool in $tools_dg; do
          dir="$tmp/dgram$rate-$i-$tool"
          mkdir -p "$dir"
          feed="'$btcp' pace --bytes $size --size 1200 --rate-mbit $rate 2>/dev/null"
          case $tool in
            punchdg) run_punch "$dir" datagram "$feed" ;;
            plaindg) run_punch "$dir" datagram "$feed" --insecure-plaintext ;;
            udp) run_udp "$dir" "$size" "$rate" ;;
          esac
          r=$(result "$tool" "$dir" "$size" -)
          record "dgram$rate" "$tool" "$i" "$r"
          log "  run $i $tool: $(summary "$r")"
          rm -f "$dir/b.out"
        done
      done
    done
  fi
done
set_condition 0 0
elapsed=$(($(date +%s) - started))
log "done in ${elapsed} s"

python3 - "$results" "$out" "$elapsed" "$(uname -r)" "$delay_ms" "$loss" "$("$punch" version 2>/dev/null | head -n 1)" <<'EOF'
import sys, json, statistics, datetime
res, out, elapsed, kernel, dms, loss, version = sys.argv[1:8]
dms = int(dms)
rows = [json.loads(l) for l in open(res)]
conds = []
for r in rows:
    if r["cond"] not in conds:
        conds.append(r["cond"])
def label(c):
    if c.startswith("dgram"):
        rate = int(c[5:])
        return "datagrams, %s" % ("flat out" if rate == 0 else "%d Mbit/s offered" % rate)
    return {"clean": "0 ms, no loss", "delay": "%d ms per WAN link (RTT %d ms)" % (dms, 4 * dms),
            "loss": "%s%% loss, 0 ms" % (float(loss) * 100),
            "lossdelay": "%s%% loss + %d ms (RTT %d ms)" % (float(loss) * 100, dms, 4 * dms)}[c]
def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
def rng(v):
    v = [x for x in v if x is not None]
    if not v: return "-"
    if len(v) == 1: return "%.1f" % v[0]
    return "%.1f (%.1f-%.1f)" % (statistics.median(v), min(v), max(v))
GiB = 1 << 30
head = ["condition", "tool", "ok", "Mbit/s median (min-max)", "ratio", "delivered", "CPU s/GiB A / B",
        "peak RSS MiB A / B", "path->1st byte ms", "start->1st byte ms", "notes"]
table, summ = [], {}
for c in conds:
    tools = []
    for r in rows:
        if r["cond"] == c and r["tool"] not in tools:
            tools.append(r["tool"])
    base = {}
    for t in tools:
        rs = [r for r in rows if r["cond"] == c and r["tool"] == t]
        ok = [r for r in rs if r["status"] == "ok"]
        m = med([r["mbit"] for r in ok])
        base[t] = m
        cpu_a = med([r["cpu_a"] / (r["bytes"] / GiB) for r in ok if r["cpu_a"] is not None and r["bytes"]])
        cpu_b = med([r["cpu_b"] / (r["bytes"] / GiB) for r in ok if r["cpu_b"] is not None and r["bytes"]])
        rss_a = max([r["rss_a"] or 0 for r in rs] or [0]) / 1024
        rss_b = max([r["rss_b"] or 0 for r in rs] or [0]) / 1024
        ttfb = med([r.get("ttfb_ms") for r in ok])
        sfb = med([r.get("start_fb_ms") for r in ok])
        deliv = med([r.get("delivered") for r in ok])
        notes = sorted(set(r["note"] for r in rs if r["note"]))
        enc = sorted(set(str(r.get("encrypted")) for r in rs if "encrypted" in r))
        if enc: notes.append("encrypted=" + "/".join(enc))
        drops = [r["dropped"] for r in rs if "dropped" in r]
        if drops: notes.append("B dropped %s" % "/".join(str(x) for x in drops))
        pdrops = [r["packets_dropped"] for r in rs if "packets_dropped" in r]
        if any(pdrops): notes.append("B packets_dropped %s" % "/".join(str(x) for x in pdrops))
        acks = [r["acked"] for r in rs if "acked" in r]
        if acks: notes.append("peer_acknowledged %s" % "/".join(str(x).lower() for x in acks))
        summ[(c, t)] = dict(m=m, cpu_a=cpu_a, cpu_b=cpu_b, ttfb=ttfb, deliv=deliv, n=len(ok), total=len(rs))
        table.append([label(c), t, "%d/%d" % (len(ok), len(rs)), rng([r["mbit"] for r in ok]), "",
                      "-" if deliv is None else "%.1f %%" % (100 * deliv),
                      "%s / %s" % ("-" if cpu_a is None else "%.2f" % cpu_a, "-" if cpu_b is None else "%.2f" % cpu_b),
                      "%.0f / %.0f" % (rss_a, rss_b), "-" if ttfb is None else "%.0f" % ttfb,
                      "-" if sfb is None else "%.0f" % sfb, "; ".join(notes)])
    for row in table:
        if row[0] != label(c): continue
        t = row[1]
        if t == "punch" and base.get(t):
            parts = []
            for b in ("tcp", "tls"):
                if base.get(b):
                    parts.append("/%s %.2f" % (b, base[t] / base[b]))
            row[4] = ", ".join(parts)
        if t in ("punchdg", "plaindg") and base.get(t) and base.get("udp"):
            row[4] = "/udp %.2f" % (base[t] / base["udp"])
w = [max(len(str(r[i])) for r in [head] + table) for i in range(len(head))]
lines = ["  ".join(h.ljust(w[i]) for i, h in enumerate(head))]
lines += ["  ".join(str(x).ljust(w[i]) for i, x in enumerate(r)) for r in table]
print("\n".join(lines))
print()
print("Mbit/s: bytes over B's first-to-last byte; ratio: punch's median over the baseline's median;")
print("CPU s/GiB: user+sys of the whole process (connection setup included) per GiB moved;")
print("path->1st byte: punch: B's state connected -> B's first-byte; tcp/tls: A's connect() -> B's first byte.")
print("start->1st byte: punch: B's process start -> B's first-byte (signaling, ICE and any handshake); tcp/tls: as above.")
print()
def get(c, t, k):
    return summ.get((c, t), {}).get(k)
checks = []
def ratio(c, t="punch", b="tcp"):
    p, k = get(c, t, "m"), get(c, b, "m")
    return p / k if p and k else None
for c, name in (("delay", "at 100 ms RTT"), ("lossdelay", "at 100 ms RTT with loss")):
    if (c, "punch") in summ and dms == 25:
        r = ratio(c)
        checks.append("%s: punch >= 70%% of kernel TCP: %s" % (name, "n/a" if r is None else "%.0f%%: %s" % (100 * r, "met" if r >= 0.7 else "NOT MET")))
if ("clean", "punch") in summ:
    m = get("clean", "punch", "m")
    checks.append("at 0 ms: punch >= 700 Mbit/s: %s" % ("n/a" if m is None else "%.0f: %s" % (m, "met" if m >= 700 else "NOT MET")))
cpus = [v for (c, t), s in summ.items() if t == "punch" and c == "clean" for v in (s["cpu_a"], s["cpu_b"]) if v is not None]
if cpus:
    checks.append("CPU <= 4 s per GiB on each side (0 ms run): %.1f / %.1f: %s" % (get("clean", "punch", "cpu_a") or 0, get("clean", "punch", "cpu_b") or 0, "met" if max(cpus) <= 4 else "NOT MET"))
for (c, t), s in summ.items():
    if t == "punchdg":
        r = ratio(c, "punchdg", "udp")
        checks.append("%s: punch >= 80%% of raw UDP: %s" % (label(c), "n/a" if r is None else "%.0f%%: %s" % (100 * r, "met" if r >= 0.8 else "NOT MET")))
if ("delay", "punch") in summ and get("delay", "punch", "ttfb") is not None:
    t = get("delay", "punch", "ttfb")
    checks.append("state connected -> first byte <= 1.5 peer RTTs at %d ms RTT: %.0f ms = %.2f RTT: %s" % (4 * dms, t, t / (4 * dms), "met" if t <= 1.5 * 4 * dms else "NOT MET"))
for c in checks:
    print("target: " + c)
if out:
    with open(out, "w") as f:
        f.write("# Data path: punch vs kernel TCP, TLS over TCP, raw UDP\n\n")
        f.write("Written by `tests/bench/bench-data.sh` on %s (kernel %s, %s), %s s in all.\n\n" % (
            datetime.date.today().isoformat(), kernel, version, elapsed))
        f.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
        for r in table:
            f.write("| " + " | ".join(str(x) for x in r) + " |\n")
        f.write("\n")
        for c in checks:
            f.write("- target: " + c + "\n")
EOF
