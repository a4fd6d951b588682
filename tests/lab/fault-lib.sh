# shellcheck shell=bash disable=SC2034,SC2154 # sets variables for, and uses $punch and $signal of, the scripts that source it
# fault-lib.sh: faults and transfers for the lab's fault tests
# (tests/lab/recovery.sh) and the recovery benchmark
# (tests/bench/bench-recovery.sh). Sourced after lab-lib.sh, and after
# lab_run_init (it appends what it starts to $PIDS and $PREFIXES and writes
# under $WORK). Needs $punch and $signal (the built binaries).
#
# A transfer: site A's host receives (A joins the room first: ICE controlled),
# site B's host sends (the newcomer, controlling), both `punch connect --json`
# under `timeout`. A's output file is watched (tests/lab/fault-tool.py watch),
# so the time from a fault to the first byte delivered after it is read from
# the size of what A wrote, every 2 ms.
#
#   fl_lab_up PREFIX TYPE_A TYPE_B
#                 natlab up, coturn (lab_coturn_start: user lab / lab-pass) and
#                 punch-signal in the server namespace; FL_WHY on failure.
#   fl_xfer_start NAME MODE FEED BOUND
#                 MODE reliable|datagram; FEED a shell command whose stdout is
#                 B's stdin ("-": no B at all); each side killed after BOUND
#                 seconds. Options for both sides in FL_OPTS, for one side in
#                 FL_A_EXTRA / FL_B_EXTRA, --timeout from FL_TIMEOUT (10).
#                 Outputs in $WORK/NAME: a.out a.err b.out b.err, the size log
#                 watch-a.log, B's exit in watch-b.log.
#   fl_wait_event NAME a|b EVENT SECONDS
#                 wait until that side printed EVENT; status 1 on timeout.
#   fl_xfer_wait NAME
#                 wait for both sides; RC_A RC_B, A_* and B_* (the events:
#                 fault-tool.py events; restarts counted from $FAULT_MS on),
#                 T0_A T0_B (wall-clock starts, ms).
#   fl_recovery NAME FAULT_MS [a|b]
#                 AT_FAULT RECOVERED RECOVERY_MS STALL_MS FINAL EXIT_MS from
#                 that side's watch log (default a, the receiver).
#   fl_forget PID...
#                 drop PIDs that were waited for from $PIDS.
#   fl_punch_pid NAME a|b
#                 the PID of punch itself (the child of its `timeout`).
# Faults (each sets FAULT_MS, the wall-clock time the fault took effect):
#   fault_rebind SITE REMOTE_IP REMOTE_PORT
#                 NAT rebinding on SITE's router: the mapping of the host's
#                 UDP flow toward REMOTE moves to another public port (a SNAT
#                 rule for the host's socket to a new port, then the socket's
#                 conntrack entries deleted). RB_HOST_PORT RB_OLD_PORT
#                 RB_NEW_PORT. fault_rebind_ports: the public ports the
#                 router's conntrack now gives that socket. fault_rebind_undo.
#   fault_coturn_kill
#                 SIGKILL to the lab's coturn; fault_coturn_dead says whether
#                 it is gone and silent (no process, no STUN answer);
#                 fault_coturn_restart starts it again.
#   fault_move_address SITE
#                 the host's address removed and one in another subnet added
#                 (the router gets that subnet's gateway on its LAN bridge),
#                 default route through it. MOVE_OLD MOVE_NEW.
#                 fault_move_address_undo puts the old one back.
#   fl_loss_on ROUTER_NS LANNET P / fl_loss_off ROUTER_NS
#                 random loss P (0..1) on the router's WAN link, both ways
#                 (raw PREROUTING, statistic match), with a counting rule in
#                 front; fl_loss_off sets LOSS_SEEN and LOSS_DROPPED.

FL_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FL_PY=/usr/bin/python3
ft() { "$FL_PY" "$FL_HERE/fault-tool.py" "$@"; }
# for FEED commands (they run in a new bash): "$FL_PACE RATE FILE"
FL_PACE="'$FL_PY' '$FL_HERE/fault-tool.py' pace"
now_ms() { date +%s%3N; }

declare -A FL_XA FL_XB FL_T0A FL_T0B FL_WA FL_WB
FL_OPTS=()
FL_A_EXTRA=()
FL_B_EXTRA=()
FL_ROOM_N=0
FL_LABDIR=""

fl_lab_up() {
  local prefix=$1 i
  FL_LABDIR="$WORK/lab-$prefix"
  mkdir -p "$FL_LABDIR"
  PREFIXES+=("$prefix")
  if ! eval "$("$LAB_NATLAB" up --prefix "$prefix" "$2" "$3" 2>"$FL_LABDIR/natlab.err")"; then
    FL_WHY="natlab up $2 $3: $(tail -n 1 "$FL_LABDIR/natlab.err")"
    return 1
  fi
  if ! lab_coturn_start "$FL_LABDIR" 2>>"$FL_LABDIR/natlab.err"; then
    FL_WHY="coturn did not start"
    return 1
  fi
  PIDS+=("$LAB_TURN_PID")
  head -c 32 /dev/urandom | base64 >"$FL_LABDIR/secret"
  ip netns exec "$NATLAB_NS_SRV" "$signal" --listen "$NATLAB_SIGNAL_IP:8765" \
    --secret-file "$FL_LABDIR/secret" >"$FL_LABDIR/signal.out" 2>"$FL_LABDIR/signal.err" &
  PIDS+=($!)
  for i in $(seq 50); do grep -q '^listening' "$FL_LABDIR/signal.out" 2>/dev/null && return 0; sleep 0.1; done
  FL_WHY="punch-signal did not start: $(tail -n 1 "$FL_LABDIR/signal.err")"
  return 1
}

fl_xfer_start() {
  local name=$1 mode=$2 feed=$3 bound=$4 d="$WORK/$1" token room i
  mkdir -p "$d"
  FL_ROOM_N=$((FL_ROOM_N + 1))
  room="f$FL_ROOM_N"
  token=$("$signal" token --secret-file "$FL_LABDIR/secret" --room "$room" --ttl 900)
  local args=(connect --signal "ws://$NATLAB_SIGNAL_IP:8765/ws" --room "$room" --token "$token"
    --json --timeout "${FL_TIMEOUT:-10}" --stun "stun:$NATLAB_STUN_IP1:3478" "${FL_OPTS[@]}")
  [ "$mode" = reliable ] && args+=(--reliable)
  : >"$d/a.out"
  : >"$d/b.out"
  FL_T0A[$name]=$(now_ms)
  ip netns exec "$NATLAB_NS_A" timeout -k 2 "$bound" "$punch" "${args[@]}" "${FL_A_EXTRA[@]}" \
    </dev/null >"$d/a.out" 2>"$d/a.err" &
  FL_XA[$name]=$!
  PIDS+=($!)
  "$FL_PY" "$FL_HERE/fault-tool.py" watch "$d/a.out" "$d/watch-a.log" --pid "${FL_XA[$name]}" \
    --max-seconds $((bound + 5)) &
  FL_WA[$name]=$!
  PIDS+=($!)
  FL_XB[$name]="" FL_WB[$name]=""
  [ "$feed" = - ] && return 0
  for i in $(seq 100); do grep -q '"event":"joined"' "$d/a.err" 2>/dev/null && break; sleep 0.05; done
  FL_T0B[$name]=$(now_ms)
  bash -c "$feed" | ip netns exec "$NATLAB_NS_B" timeout -k 2 "$bound" "$punch" "${args[@]}" \
    "${FL_B_EXTRA[@]}" >"$d/b.out" 2>"$d/b.err" &
  FL_XB[$name]=$!
  PIDS+=($!)
  "$FL_PY" "$FL_HERE/fault-tool.py" watch "$d/b.out" "$d/watch-b.log" --pid "${FL_XB[$name]}" \
    --max-seconds $((bound + 5)) &
  FL_WB[$name]=$!
  PIDS+=($!)
}

fl_wait_event() {
  local f="$WORK/$1/$2.err"
  for _ in $(seq $(($4 * 50))); do
    grep -q "\"event\":\"$3\"" "$f" 2>/dev/null && return 0
    sleep 0.02
  done
  return 1
}

fl_events() { # NAME a|b PREFIX: the events so far, as PREFIX* variables
  local t0
  if [ "$2" = a ]; then t0=${FL_T0A[$1]}; else t0=${FL_T0B[$1]:-0}; fi
  # restarts count from the last fault on (an earlier FAULT_MS is before
  # this transfer: everything counts). The start time is taken just before
  # the process starts, so an event's wall time (start + elapsed_ms) is a few
  # ms early: 500 ms of slack, far less than the seconds between the start
  # (where a direct-upgrade restart comes) and the fault.
  local after=0
  [ -n "${FAULT_MS:-}" ] && after=$((FAULT_MS - 500))
  eval "$(ft events "$WORK/$1/$2.err" "$t0" --prefix "$3" --after "$after" 2>/dev/null)"
}

fl_xfer_wait() {
  local name=$1
  RC_A=0 RC_B=0
  # (bash's own "Killed" notice of a side the test killed is not wanted)
  { wait "${FL_XA[$name]}" || RC_A=$?; } 2>/dev/null
  if [ -n "${FL_XB[$name]}" ]; then { wait "${FL_XB[$name]}" || RC_B=$?; } 2>/dev/null; else RC_B=""; fi
  # the watchers end with their process, once they have logged its exit
  wait "${FL_WA[$name]}" 2>/dev/null
  [ -n "${FL_WB[$name]}" ] && wait "${FL_WB[$name]}" 2>/dev/null
  # all four are reaped: $PIDS must not name them any more (a PID is reused)
  fl_forget "${FL_XA[$name]}" "${FL_WA[$name]}" "${FL_XB[$name]}" "${FL_WB[$name]}"
  T0_A=${FL_T0A[$name]} T0_B=${FL_T0B[$name]:-}
  fl_events "$name" a A_
  fl_events "$name" b B_ # no B: every B_ variable empty
  return 0
}

fl_forget() { # PID...: drop these from $PIDS (they were waited for)
  local keep=() p q
  for p in "${PIDS[@]}"; do
    for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
    keep+=("$p")
  done
  PIDS=("${keep[@]}")
}

fl_recovery() {
  eval "$(ft recovery "$WORK/$1/watch-${3:-a}.log" "$2")"
}

fl_punch_pid() {
  local p
  if [ "$2" = a ]; then p=${FL_XA[$1]}; else p=${FL_XB[$1]}; fi
  ps -o pid= --ppid "$p" | head -n 1 | tr -d ' '
}

# ---- NAT rebinding ------------------------------------------------------------

fl_site() { # SITE: FS_NS (host), FS_R (router), FS_IP, FS_WAN, FS_GW
  if [ "$1" = a ]; then
    FS_NS=$NATLAB_NS_A FS_R=$NATLAB_NS_RA FS_IP=$NATLAB_A_IP FS_WAN=$NATLAB_A_WAN FS_GW=$NATLAB_A_GW
  else
    FS_NS=$NATLAB_NS_B FS_R=$NATLAB_NS_RB FS_IP=$NATLAB_B_IP FS_WAN=$NATLAB_B_WAN FS_GW=$NATLAB_B_GW
  fi
}

fault_rebind() {
  local flow
  fl_site "$1"
  RB_SITE=$1 RB_NS=$FS_R RB_IP=$FS_IP RB_WAN=$FS_WAN
  flow=$(ip netns exec "$RB_NS" conntrack -L -p udp 2>/dev/null | ft conntrack-flow "$RB_IP" "$2" "$3") || return 1
  read -r RB_HOST_PORT RB_OLD_PORT <<<"$flow"
  RB_NEW_PORT=$((50000 + RANDOM % 10000))
  [ "$RB_NEW_PORT" = "$RB_OLD_PORT" ] && RB_NEW_PORT=$((RB_NEW_PORT + 1))
  # the new mapping first, so that no packet of the socket is given the old
  # port again once its entries are gone; one port for every destination
  # keeps the mapping endpoint-independent, as before
  ip netns exec "$RB_NS" iptables -w -t nat -I POSTROUTING 1 -o wan0 -p udp -s "$RB_IP" \
    --sport "$RB_HOST_PORT" -j SNAT --to-source "$RB_WAN:$RB_NEW_PORT" || return 1
  ip netns exec "$RB_NS" conntrack -D -p udp -s "$RB_IP" --sport "$RB_HOST_PORT" >/dev/null 2>&1
  FAULT_MS=$(now_ms)
  return 0
}

fault_rebind_ports() {
  ip netns exec "$RB_NS" conntrack -L -p udp 2>/dev/null | ft conntrack-ports "$RB_IP" "$RB_HOST_PORT"
}

fault_rebind_undo() {
  ip netns exec "$RB_NS" iptables -w -t nat -D POSTROUTING -o wan0 -p udp -s "$RB_IP" \
    --sport "$RB_HOST_PORT" -j SNAT --to-source "$RB_WAN:$RB_NEW_PORT" 2>/dev/null
  return 0
}

# ---- coturn -------------------------------------------------------------------

fault_coturn_kill() {
  FL_DEAD_TURN=$LAB_TURN_PID
  [ -n "$FL_DEAD_TURN" ] && [ "$(cat "/proc/$FL_DEAD_TURN/comm" 2>/dev/null)" = turnserver ] || return 1
  kill -KILL "$FL_DEAD_TURN"
  wait "$FL_DEAD_TURN" 2>/dev/null
  FAULT_MS=$(now_ms)
  fl_forget "$FL_DEAD_TURN"
  LAB_TURN_PID=""
  return 0
}

fault_coturn_dead() { # status 0 when the process is gone and nothing answers STUN
  kill -0 "$FL_DEAD_TURN" 2>/dev/null && return 1
  ! ip netns exec "$NATLAB_NS_SRV" "$FL_PY" "$FL_HERE/fault-tool.py" stun-probe \
    "$NATLAB_STUN_IP1" 3478 --timeout "${1:-1}" >/dev/null
}

fault_coturn_restart() {
  lab_coturn_start "$FL_LABDIR" || return 1
  PIDS+=("$LAB_TURN_PID")
}

# ---- the host's address --------------------------------------------------------

# Works for router types whose rules do not name the host's address
# (portrestricted, symmetric, udpblocked): fullcone and addrrestricted DNAT
# to the old address.
fault_move_address() {
  local n
  fl_site "$1"
  MOVE_NS=$FS_NS MOVE_R=$FS_R MOVE_OLD=$FS_IP MOVE_OLD_GW=$FS_GW
  n=$(cut -d. -f3 <<<"$FS_IP")
  MOVE_NEW="10.0.$((n + 10)).2" MOVE_NEW_GW="10.0.$((n + 10)).1"
  ip -n "$MOVE_R" addr replace "$MOVE_NEW_GW/24" dev lan0 || return 1
  ip -n "$MOVE_NS" addr del "$MOVE_OLD/24" dev eth0 || return 1
  FAULT_MS=$(now_ms)
  ip -n "$MOVE_NS" addr add "$MOVE_NEW/24" dev eth0 || return 1
  ip -n "$MOVE_NS" route replace default via "$MOVE_NEW_GW" || return 1
}

fault_move_verified() { # status 0 when the old address is gone, the new one there and routed
  local addrs route
  addrs=$(ip -n "$MOVE_NS" -4 -o addr show dev eth0 | awk '{print $4}' | tr '\n' ' ')
  route=$(ip -n "$MOVE_NS" route show default)
  MOVE_STATE="eth0 has ${addrs% }; $route"
  [[ " $addrs " == *" $MOVE_NEW/24 "* ]] && [[ " $addrs " != *" $MOVE_OLD/24 "* ]] &&
    [[ $route == *"via $MOVE_NEW_GW "* ]]
}

fault_move_address_undo() {
  ip -n "$MOVE_NS" addr del "$MOVE_NEW/24" dev eth0 2>/dev/null
  ip -n "$MOVE_NS" addr add "$MOVE_OLD/24" dev eth0 2>/dev/null
  ip -n "$MOVE_NS" route replace default via "$MOVE_OLD_GW" 2>/dev/null
  return 0
}

# ---- loss -------------------------------------------------------------------------

fl_loss_on() {
  local ns=$1 lannet=$2 p=$3
  ip netns exec "$ns" iptables -w -t raw -A PREROUTING -i wan0 -m comment --comment fl-seen &&
    ip netns exec "$ns" iptables -w -t raw -A PREROUTING -i wan0 \
      -m statistic --mode random --probability "$p" -j DROP &&
    ip netns exec "$ns" iptables -w -t raw -A PREROUTING -i lan0 ! -d "$lannet" -m comment --comment fl-seen &&
    ip netns exec "$ns" iptables -w -t raw -A PREROUTING -i lan0 ! -d "$lannet" \
      -m statistic --mode random --probability "$p" -j DROP
}

fl_loss_off() {
  local rules
  rules=$(ip netns exec "$1" iptables -w -t raw -L PREROUTING -v -x -n)
  ip netns exec "$1" iptables -w -t raw -F PREROUTING
  LOSS_SEEN=$(awk '/fl-seen/ {s += $1} END {print s + 0}' <<<"$rules")
  LOSS_DROPPED=$(awk '/statistic/ {s += $1} END {print s + 0}' <<<"$rules")
}
