#!/usr/bin/env bash
# bench-tcp-punch.sh: UDP-blocked sites, punch's direct TCP path (simultaneous
# open) against TURN over TCP, in the same run, through real kernel NATs.
#
#   sudo bash tests/bench/bench-tcp-punch.sh [--build-dir _build] [--runs 20]
#        [--delays "0 25"] [--pairs "udpblocked:udpblocked udpblocked:portrestricted"]
#        [--xfer-pairs "udpblocked:udpblocked"] [--xfer-runs 3]
#        [--mib 64] [--mib-delay 16] [--timeout 10] [--out FILE.md]
#   (or: bash scripts/bench.sh tcp [ARGS])
#
# For each pair, natlab builds one lab (tests/lab/natlab): coturn (STUN and
# TURN, UDP and TCP, tests/lab/lab-lib.sh) and punch-signal on the lab's
# internet, nfq-delay in both routers. Every peer gets the same servers:
#   --stun stun:STUN:3478 --turn 'turn:STUN:3478?transport=tcp' (udp for a
#   site that is not UDP-blocked) --turn-user lab --turn-pass lab-pass
# and the two paths differ by one flag:
#   tcp    punch connect (TCP hole punching on, the default): must connect
#          directly over TCP (`connected`: relayed false, local transport tcp,
#          path "... (simultaneous open)")
#   turn   punch connect --no-tcp: UDP-blocked sites fall back to TURN over
#          TCP (`connected`: relayed true, path "RELAYED via TURN: ...")
# A run on the wrong path counts as a failure ("wrong path") and is reported.
#
# For each added one-way delay D per WAN link (nfq-delay, as in
# bench-connect.sh: peer<->server RTT 2D, peer<->peer RTT 4D, and through
# the relay 4D too):
#  1. connect, --runs times, tcp and turn alternating: peer A joins (and
#     gathers, at most 3 s), then peer B starts; B's NDJSON gives elapsed_ms
#     from its process start to `connected` and to `first-byte` (A's first
#     datagram, sent once A is connected). p50/p95 are nearest-rank.
#  2. throughput, on --xfer-pairs only, --xfer-runs times, alternating:
#     punch connect --reliable over tcp, over turn, and a kernel TCP baseline
#     (bench-tcp send/recv, a plain socket copy through a port forward on B's
#     router, so it crosses both NATs and both WAN links); --mib MiB at 0 ms,
#     --mib-delay MiB at D > 0 (16 by default, to keep the run short), A to B,
#     SHA-256 of B's copy checked; Mbit/s over B's first-to-last byte
#     (punch's `done` transfer_ms), CPU s/GiB on each side (bench-tcp rusage).
# Every run is bounded (--timeout for a connect, 90 s for a transfer); one
# that fails is a failure in the table, never dropped.
#
# PUNCH_BENCH_KEEP=1 keeps every run's files (the path is printed at the end).
# Prints a table on stdout (progress on stderr) and, with --out, markdown.
# Needs root. Every namespace and process it starts is removed on any exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
natlab="$here/../lab/natlab"
build="$here/../../_build"
runs=20
delays="0 25"
pairs="udpblocked:udpblocked udpblocked:portrestricted"
xfer_pairs="udpblocked:udpblocked"
xfer_runs=3
mib0=64
mibd=16
out=""
timeout_s=10
xfer_timeout=90

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --delays) delays=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --xfer-pairs) xfer_pairs=$2; shift 2 ;;
    --xfer-runs) xfer_runs=$2; shift 2 ;;
    --mib) mib0=$2; shift 2 ;;
    --mib-delay) mibd=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-tcp-punch: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
num() { # NAME VALUE MIN MAX
  case "$2" in '' | *[!0-9]*) echo "bench-tcp-punch: $1 must be a whole number, got '$2'" >&2; exit 2 ;; esac
  [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || { echo "bench-tcp-punch: $1 is $3..$4" >&2; exit 2; }
}
num --runs "$runs" 1 200
num --xfer-runs "$xfer_runs" 0 20
num --mib "$mib0" 1 1024
num --mib-delay "$mibd" 1 1024
num --timeout "$timeout_s" 2 60
for d in $delays; do num --delays "$d" 0 500; done
for p in $pairs $xfer_pairs; do
  case "$p" in
    udpblocked:udpblocked | udpblocked:portrestricted | udpblocked:open | udpblocked:doublenat | udpblocked-rst:*) ;;
    *) echo "bench-tcp-punch: pair '$p': A is a UDP-blocked type and the pair one where TCP hole punching works (lab_tcp_direct_possible)" >&2; exit 2 ;;
  esac
done
for p in $xfer_pairs; do
  case " $pairs " in *" $p "*) ;; *) echo "bench-tcp-punch: --xfer-pairs must be among --pairs ($p is not)" >&2; exit 2 ;; esac
done

build=$(cd "$build" 2>/dev/null && pwd) || { echo "bench-tcp-punch: no build directory" >&2; exit 2; }
punch="$build/tools/punch"
signal="$build/signaling/punch-signal"
btcp="$build/tests/bench/bench-tcp"
delayer="$build/tests/bench/nfq-delay"

[ "$(id -u)" -eq 0 ] || { echo "bench-tcp-punch: needs root (network namespaces)" >&2; exit 2; }
for tool in ip iptables turnserver python3 sha256sum timeout; do
  command -v "$tool" >/dev/null || { echo "bench-tcp-punch: $tool is missing" >&2; exit 2; }
done
for exe in "$punch" "$signal" "$btcp"; do
  [ -x "$exe" ] || { echo "bench-tcp-punch: $exe is not built" >&2; exit 2; }
done
for d in $delays; do
  if [ "$d" -gt 0 ] && [ ! -x "$delayer" ]; then
    echo "bench-tcp-punch: delay $d ms needs $delayer (libnetfilter-queue-dev)" >&2; exit 2
  fi
done
connect_help=$("$punch" connect --help 2>&1) # not piped into grep -q: SIGPIPE under pipefail
grep -q -- --no-tcp <<<"$connect_help" ||
  { echo "bench-tcp-punch: this punch has no --no-tcp (no TCP hole punching)" >&2; exit 2; }

log() { printf 'bench-tcp-punch: %s\n' "$*" >&2; }

tmp=$(mktemp -d /tmp/punch-bench-tcp.XXXXXX)
prefix=""
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
lab_down() {
  local p
  stop_pids
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
  if [ -n "${PUNCH_BENCH_KEEP:-}" ]; then log "files kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

wait_for() { # FILE PATTERN SECONDS
  local i
  for i in $(seq "$(($3 * 50))"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.02; done
  return 1
}

# lab_up A B PI: the lab, coturn, punch-signal, a port forward for the kernel
# baseline
lab_up() {
  local a=$1 b=$2 ns
  prefix="bt$3$$"
  prefix=${prefix:0:8}
  if ! eval "$("$natlab" up --prefix "$prefix" "$a" "$b" 2>"$tmp/natlab.err")"; then
    log "natlab up failed: $(tail -n 1 "$tmp/natlab.err")"; return 1
  fi
  lab_coturn_start "$tmp" || return 1
  head -c 32 /dev/urandom | base64 >"$tmp/secret"
  ip netns exec "$NATLAB_NS_SRV" "$signal" --listen "$NATLAB_SIGNAL_IP:8765" \
    --secret-file "$tmp/secret" >"$tmp/signal.out" 2>"$tmp/signal.err" &
  sig_pid=$!
  wait_for "$tmp/signal.out" '^listening' 5 || { log "punch-signal did not start"; return 1; }
  ip netns exec "$NATLAB_NS_RB" iptables -w -t nat -A PREROUTING -i wan0 -p tcp --dport 5201 \
    -j DNAT --to-destination "$NATLAB_B_IP" || return 1
  return 0
}

# set_delay D: nfq-delay (D ms) in both routers and the NFQUEUE rules of
# their raw tables; at 0 ms neither
set_delay() {
  local d=$1 ns lannet gw p
  for ns in "$NATLAB_NS_RA:$NATLAB_A_GW" "$NATLAB_NS_RB:$NATLAB_B_GW"; do
    ip netns exec "${ns%%:*}" iptables -w -t raw -F PREROUTING
  done
  for p in "${delay_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  delay_pids=()
  [ "$d" -gt 0 ] || return 0
  for ns in "$NATLAB_NS_RA:$NATLAB_A_GW" "$NATLAB_NS_RB:$NATLAB_B_GW"; do
    gw=${ns#*:}
    lannet="${gw%.*}.0/24"
    ns=${ns%%:*}
    ip netns exec "$ns" "$delayer" --queue 0 --delay-ms "$d" --max-seconds 1800 \
      --max-packets 16384 2>"$tmp/nfq-$ns-$d.log" &
    delay_pids+=($!)
    wait_for "$tmp/nfq-$ns-$d.log" bound 2 || { log "nfq-delay did not start in $ns"; return 1; }
    ip netns exec "$ns" iptables -w -t raw -A PREROUTING -i wan0 -j NFQUEUE --queue-num 0 || return 1
    ip netns exec "$ns" iptables -w -t raw -A PREROUTING -i lan0 ! -d "$lannet" -j NFQUEUE --queue-num 0 || return 1
  done
}

# punch_args SITE-TYPE ROOM PATH(tcp|turn) EXTRA...: P_ARGS for one peer
punch_args() {
  local type=$1 room=$2 path=$3 token tr=udp
  shift 3
  case $type in udpblocked*) tr=tcp ;; esac
  token=$("$signal" token --secret-file "$tmp/secret" --room "$room" --ttl 600)
  P_ARGS=(connect --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room "$room" --token "$token"
    --json --stun "stun:$NATLAB_STUN_IP1:3478"
    --turn "turn:$NATLAB_STUN_IP1:3478?transport=$tr" --turn-user lab --turn-pass lab-pass "$@")
  [ "$path" = turn ] && P_ARGS+=(--no-tcp)
  return 0
}

room_n=0
# run_connect A B PATH DIR: one connection; B's events end up in DIR/b.err
run_connect() {
  local a=$1 b=$2 path=$3 dir=$4 args_a args_b i
  mkdir -p "$dir"
  room_n=$((room_n + 1))
  punch_args "$a" "c$room_n" "$path" --timeout "$timeout_s"
  args_a=("${P_ARGS[@]}")
  punch_args "$b" "c$room_n" "$path" --timeout "$timeout_s"
  args_b=("${P_ARGS[@]}")
  # stdin: one datagram for punch connect to send once connected
  printf x | ip netns exec "$NATLAB_NS_A" "$punch" "${args_a[@]}" >/dev/null 2>"$dir/a.err" &
  pids+=($!)
  if ! wait_for "$dir/a.err" '"event":"joined"' 5; then
    stop_pids
    echo '{"event":"error","data":{"code":"bench","message":"peer A did not join"}}' >>"$dir/b.err"
    return
  fi
  # A is a peer that was already waiting: let it finish gathering first
  wait_for "$dir/a.err" '"event":"gathering-done"' 3
  printf x | ip netns exec "$NATLAB_NS_B" "$punch" "${args_b[@]}" >/dev/null 2>"$dir/b.err" &
  local pb=$!
  pids+=("$pb")
  for i in $(seq $(((timeout_s + 2) * 50))); do
    grep -q '"event":"first-byte"' "$dir/b.err" 2>/dev/null && break
    kill -0 "$pb" 2>/dev/null || break
    sleep 0.02
  done
  stop_pids
}

# connect_result PATH DIR: "CONNECTED_MS FIRST_BYTE_MS" or "fail REASON"
connect_result() {
  python3 - "$1" "$2/b.err" "$2/a.err" <<'EOF'
import json, sys
want, bpath, apath = sys.argv[1:4]
def events(p):
    ev = {}
    try:
        for line in open(p, errors="replace"):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict):
                ev.setdefault(e.get("event"), e.get("data", {}))
    except OSError:
        pass
    return ev
b, a = events(bpath), events(apath)
c, f = b.get("connected"), b.get("first-byte")
if not c:
    err = b.get("error") or a.get("error") or {}
    print("fail", err.get("code", "no-connected").replace(" ", "_"))
    sys.exit()
path = c.get("path", "")
if want == "tcp":
    right = c.get("relayed") is False and (c.get("local") or {}).get("transport") == "tcp" \
        and path.endswith("(simultaneous open)")
else:
    right = c.get("relayed") is True and path.startswith("RELAYED")
if not right:
    print("fail", "wrong_path:" + path.replace(" ", "_"))
elif not f:
    print("fail", "no-first-byte")
else:
    print(c["elapsed_ms"], f["elapsed_ms"])
EOF
}

tx() { # NS TIMEFILE CMD...: bench-tcp rusage around timeout around CMD
  local ns=$1 tf=$2
  shift 2
  ip netns exec "$ns" "$btcp" rusage "$tf" timeout -k 3 "$xfer_timeout" "$@"
}

# run_xfer A B TOOL(tcp|turn|kernel) DIR FILE: A sends FILE to B
run_xfer() {
  local a=$1 b=$2 tool=$3 dir=$4 file=$5 rc=0 p args_a
  mkdir -p "$dir"
  if [ "$tool" = kernel ]; then
    tx "$NATLAB_NS_B" "$dir/b.time" "$btcp" recv --listen "$NATLAB_B_IP:5201" >"$dir/b.out" 2>"$dir/b.err" &
    pids+=($!)
    wait_for "$dir/b.err" listening 5 || log "  bench-tcp recv did not listen"
    tx "$NATLAB_NS_A" "$dir/a.time" "$btcp" send --connect "$NATLAB_B_WAN:5201" <"$file" \
      >/dev/null 2>"$dir/a.err" &
    pids+=($!)
  else
    room_n=$((room_n + 1))
    punch_args "$a" "x$room_n" "$tool" --timeout 20 --reliable
    args_a=("${P_ARGS[@]}")
    tx "$NATLAB_NS_A" "$dir/a.time" "$punch" "${args_a[@]}" <"$file" >/dev/null 2>"$dir/a.err" &
    pids+=($!)
    wait_for "$dir/a.err" '"event":"joined"' 10 || log "  peer A did not join"
    punch_args "$b" "x$room_n" "$tool" --timeout 20 --reliable
    tx "$NATLAB_NS_B" "$dir/b.time" "$punch" "${P_ARGS[@]}" </dev/null >"$dir/b.out" 2>"$dir/b.err" &
    pids+=($!)
  fi
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  pids=()
  echo "$rc" >"$dir/rc"
}

# xfer_result TOOL DIR SHA: one JSON line
xfer_result() {
  python3 - "$@" <<'EOF'
import json, os, sys
tool, d, sha = sys.argv[1:4]
def events(p):
    ev = {}
    try:
        for line in open(p, errors="replace"):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict):
                ev.setdefault(e.get("event", e.get("mode")), e.get("data", e))
    except OSError:
        pass
    return ev
def rusage(p):
    try:
        f = open(p).read().split()
        return float(f[-3]) + float(f[-2])
    except (OSError, ValueError, IndexError):
        return None
rc = open(os.path.join(d, "rc")).read().strip()
a, b = events(os.path.join(d, "a.err")), events(os.path.join(d, "b.err"))
r = dict(status="ok", note="", cpu_a=rusage(os.path.join(d, "a.time")), cpu_b=rusage(os.path.join(d, "b.time")))
if tool == "kernel":
    rb = b.get("recv", {})
    r.update(bytes=rb.get("bytes", 0), mbit=rb.get("mbit_s", 0))
else:
    got = os.path.getsize(os.path.join(d, "b.out")) if os.path.exists(os.path.join(d, "b.out")) else 0
    ms = b.get("done", {}).get("transfer_ms", 0)
    r.update(bytes=got, mbit=got * 8 / ms / 1000 if ms else 0)
    c = b.get("connected", {})
    r["path"] = c.get("path", "")
    want = (c.get("relayed") is False and c.get("path", "").endswith("(simultaneous open)")) if tool == "tcp" \
        else c.get("relayed") is True
    err = b.get("error") or a.get("error")
    if err:
        r.update(status="fail", note=err.get("code", "?"))
    elif c and not want:
        r.update(status="fail", note="wrong path: " + c.get("path", ""))
if r["status"] == "ok":
    if rc == "124":
        r.update(status="fail", note="killed at the transfer timeout")
    elif rc != "0":
        r.update(status="fail", note="exit %s" % rc)
    elif sha != "ok":
        r.update(status="fail", note="SHA-256 mismatch (%d bytes)" % r["bytes"])
print(json.dumps(r))
EOF
}

results="$tmp/connect.tsv" # delay pair path run connected first | fail reason
xresults="$tmp/xfer.ndjson"
: >"$results"
: >"$xresults"
started=$(date +%s)
pi=0
for pair in $pairs; do
  pi=$((pi + 1))
  a=${pair%%:*} b=${pair##*:}
  log "lab: $a <-> $b, coturn (TURN over TCP), punch-signal"
  if ! lab_up "$a" "$b" "$pi"; then
    log "lab for $a <-> $b failed: every run of it counts as failed"
    for d in $delays; do for i in $(seq "$runs"); do for path in tcp turn; do
      printf '%s\t%s\t%s\t%s\tfail lab-failed\n' "$d" "$pair" "$path" "$i" >>"$results"
    done; done; done
    lab_down
    continue
  fi
  for d in $delays; do
    set_delay "$d" || { log "could not set the delay to $d ms"; exit 1; }
    log "delay $d ms per WAN link: $a <-> $b, $runs connects each over tcp and turn"
    for i in $(seq "$runs"); do
      line=""
      for path in tcp turn; do
        dir="$tmp/c-$pi-$d-$i-$path"
        run_connect "$a" "$b" "$path" "$dir"
        r=$(connect_result "$path" "$dir")
        printf '%s\t%s\t%s\t%s\t%s\n' "$d" "$pair" "$path" "$i" "$r" >>"$results"
        line="$line $path: $r;"
        case "$r" in fail*)
          for f in a.err b.err; do
            grep -v '"event":"candidate"\|"event":"local-candidate"\|"event":"progress"' "$dir/$f" 2>/dev/null |
              tail -n 3 | sed "s|^|bench-tcp-punch:   $path $f: |" >&2
          done ;;
        esac
      done
      log "  run $i/$runs:$line"
    done
    case " $xfer_pairs " in *" $pair "*) ;; *) continue ;; esac
    [ "$xfer_runs" -gt 0 ] || continue
    mib=$([ "$d" -gt 0 ] && echo "$mibd" || echo "$mib0")
    head -c $((mib * 1048576)) /dev/urandom >"$tmp/file"
    want=$(sha256sum <"$tmp/file" | cut -d' ' -f1)
    log "delay $d ms: $mib MiB A -> B, $xfer_runs runs each of tcp, turn, kernel"
    for i in $(seq "$xfer_runs"); do
      for tool in tcp turn kernel; do
        dir="$tmp/x-$pi-$d-$i-$tool"
        run_xfer "$a" "$b" "$tool" "$dir" "$tmp/file"
        sha=bad
        [ "$(sha256sum <"$dir/b.out" | cut -d' ' -f1)" = "$want" ] && sha=ok
        r=$(xfer_result "$tool" "$dir" "$sha")
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(delay=int(sys.argv[2]), pair=sys.argv[3], tool=sys.argv[4], run=int(sys.argv[5]), mib=int(sys.argv[6])); print(json.dumps(r))' \
          "$r" "$d" "$pair" "$tool" "$i" "$mib" >>"$xresults"
        log "  run $i $tool: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%s %.1f Mbit/s %s" % (r["status"], r["mbit"], r["note"]))' "$r")"
        [ -n "${PUNCH_BENCH_KEEP:-}" ] || rm -f "$dir/b.out"
      done
    done
  done
  lab_down
done
elapsed=$(($(date +%s) - started))
log "done in ${elapsed} s"

python3 - "$results" "$xresults" "$out" "$runs" "$elapsed" "$(uname -r)" "$(nproc)" <<'EOF'
import sys, json, math, collections, datetime
res, xres, out, runs, elapsed, kernel, cores = sys.argv[1:8]
def pct(v, p):  # nearest rank
    v = sorted(v)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]
rows = collections.OrderedDict()
for line in open(res):
    d, pair, path, run, *r = line.split("\t")
    rows.setdefault((int(d), pair), {}).setdefault(path, []).append(r[0].split())
name = {"tcp": "direct TCP (simultaneous open)", "turn": "TURN over TCP (--no-tcp)", "kernel": "kernel TCP (port forward)"}
head = ["pair", "delay/WAN link", "path", "ok", "connected p50", "p95", "first byte p50", "p95", "failures"]
table = []
for (d, pair), paths in rows.items():
    for path in ("tcp", "turn"):
        rs = paths.get(path, [])
        ok = [r for r in rs if r[0] != "fail"]
        fails = collections.Counter(r[1] for r in rs if r[0] == "fail")
        fmt = lambda v: "%d ms" % v
        c = [int(r[0]) for r in ok]
        f = [int(r[1]) for r in ok]
        table.append([pair.replace(":", " <-> "), "%d ms (peer RTT %d ms)" % (d, 4 * d), name[path],
                      "%d/%d" % (len(ok), len(rs)),
                      fmt(pct(c, 50)) if c else "-", fmt(pct(c, 95)) if c else "-",
                      fmt(pct(f, 50)) if f else "-", fmt(pct(f, 95)) if f else "-",
                      ", ".join("%s x%d" % kv for kv in fails.items()) or "-"])
xrows = [json.loads(l) for l in open(xres)]
xhead = ["pair", "delay/WAN link", "MiB", "path", "ok", "Mbit/s median (min-max)", "vs kernel TCP", "CPU s/GiB A / B", "failures"]
xtable = []
keys = []
for r in xrows:
    k = (r["delay"], r["pair"])
    if k not in keys:
        keys.append(k)
def med(v):
    v = sorted(v)
    n = len(v)
    return None if not n else (v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2)
for k in keys:
    rs = [r for r in xrows if (r["delay"], r["pair"]) == k]
    meds = {}
    for tool in ("tcp", "turn", "kernel"):
        t = [r for r in rs if r["tool"] == tool]
        ok = [r for r in t if r["status"] == "ok"]
        meds[tool] = med([r["mbit"] for r in ok])
    for tool in ("tcp", "turn", "kernel"):
        t = [r for r in rs if r["tool"] == tool]
        if not t:
            continue
        ok = [r for r in t if r["status"] == "ok"]
        m = [r["mbit"] for r in ok]
        rng = "-" if not m else ("%.1f" % m[0] if len(m) == 1 else "%.1f (%.1f-%.1f)" % (med(m), min(m), max(m)))
        cpu = lambda side: med([r[side] / (r["bytes"] / 2**30) for r in ok if r.get(side) is not None and r["bytes"]])
        ca, cb = cpu("cpu_a"), cpu("cpu_b")
        ratio = "" if tool == "kernel" or not meds[tool] or not meds["kernel"] else "%.2f" % (meds[tool] / meds["kernel"])
        fails = collections.Counter(r["note"] for r in t if r["status"] != "ok")
        xtable.append([k[1].replace(":", " <-> "), "%d ms (RTT %d ms)" % (k[0], 4 * k[0]), str(t[0]["mib"]), name[tool],
                       "%d/%d" % (len(ok), len(t)), rng, ratio,
                       "%s / %s" % ("-" if ca is None else "%.2f" % ca, "-" if cb is None else "%.2f" % cb),
                       ", ".join("%s x%d" % kv for kv in fails.items()) or "-"])
def render(h, t):
    w = [max(len(str(r[i])) for r in [h] + t) for i in range(len(h))]
    return "\n".join(["  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) for r in [h] + t])
notes = ("Times on peer B (the second to join), from its process start (WebSocket, join, gathering, "
         "the punch or the TURN allocation, the QUIC handshake), nearest-rank percentiles. Both peers "
         "have the same STUN and TURN servers (TURN over TCP from UDP-blocked sites); turn adds --no-tcp. "
         "Throughput: A to B, punch connect --reliable, bytes over B's first-to-last byte; kernel TCP is a "
         "plain socket copy between the same hosts through a port forward on B's router. Delay: nfq-delay "
         "on each WAN link, both ways.")
print(render(head, table))
if xtable:
    print()
    print(render(xhead, xtable))
print()
print(notes)
if out:
    with open(out, "w") as f:
        f.write("# UDP-blocked sites: direct TCP (simultaneous open) vs TURN over TCP\n\n")
        f.write("Written by `tests/bench/bench-tcp-punch.sh` on %s (kernel %s, %s cores), %s connects per path, "
                "pair and delay, %s s in all. %s\n\n" % (datetime.date.today().isoformat(), kernel, cores, runs,
                                                         elapsed, notes))
        for h, t in ((head, table), (xhead, xtable)):
            if not t:
                continue
            f.write("| " + " | ".join(h) + " |\n|" + "---|" * len(h) + "\n")
            for r in t:
                f.write("| " + " | ".join(str(c) for c in r) + " |\n")
            f.write("\n")
EOF
