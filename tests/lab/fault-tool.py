#!/usr/bin/python3
"""fault-tool - helpers for the lab's fault tests (tests/lab/recovery.sh) and
the recovery benchmark (tests/bench/bench-recovery.sh). Standard library only.

  fault-tool.py pace RATE_MBIT FILE [--chunk BYTES]
      FILE on stdout in CHUNK-byte writes (default 1200) at RATE Mbit/s. A
      writer that was blocked (the pipe full because the path stalled) does
      not burst to catch up: the pace restarts from now.
  fault-tool.py records N SIZE OUT
      N records of SIZE bytes each: an 8-byte big-endian sequence number,
      then bytes derived from it (SHA-256 chain). Sent one per datagram,
      every datagram that arrives can be checked on its own.
  fault-tool.py check-records FILE SIZE N [--sent SENT]
      Split FILE into SIZE-byte records and check each against its sequence
      number; print JSON: received, intact, corrupt, distinct, duplicates,
      lost (N - distinct), tail (bytes of an incomplete last record). With
      --sent: corrupt counts the bytes of FILE that are in no in-order slice
      of SENT (datagrams may cut records), distinct the whole records found.
  fault-tool.py watch FILE OUT --pid PID [--every-ms 2] [--max-seconds 120]
      Poll FILE's size every few ms until process PID is gone (or the
      deadline); append "UNIX_MS SIZE" to OUT at every change, and
      "UNIX_MS exit" when PID is gone (a zombie counts as gone).
  fault-tool.py recovery WATCHLOG FAULT_MS [--drain-ms 100]
      From a watch log and the wall-clock time of a fault (ms since the
      epoch): the bytes delivered at the fault, and the time from the fault
      to the first byte delivered after DRAIN_MS (what the old path still had
      in flight when the fault struck is not a recovery). Prints shell
      assignments: AT_FAULT, RECOVERED (yes/no), RECOVERY_MS, STALL_MS (the
      longest gap without delivery after the fault), FINAL, EXIT_MS (from
      the fault to the process's exit, when the log has it).
  fault-tool.py events FILE [T0_MS] [--prefix P] [--after WALL_MS]
      The NDJSON events of one `punch connect --json`: prints shell
      assignments (P defaults to EV_: error code and message, done fields,
      the restart events, path changes, the first direct path). With T0_MS
      (the wall-clock start of the process) the first restart is also given
      in wall-clock ms. With --after (and T0_MS) only the restarts from
      that wall-clock time on count (RESTARTS, the reasons, "a path-changed
      after a restart"); RESTARTS_BEFORE counts the others.
  fault-tool.py stun-probe HOST PORT [--timeout S]
      One STUN Binding request (RFC 5389), repeated every 200 ms until an
      answer or S seconds (default 1): exit 0 and "answered" when the server
      answers, exit 1 and "silent" when nothing came.
  fault-tool.py conntrack-flow SRC_IP DST_IP DST_PORT < conntrack -L output
      The first UDP entry from SRC_IP to DST_IP:DST_PORT: "SPORT MAPPED_PORT"
      (the source port on the LAN side, the port the NAT gave it).
  fault-tool.py conntrack-ports SRC_IP SPORT < conntrack -L output
      Every mapped (NATed) port of the UDP entries from SRC_IP:SPORT, one line,
      space-separated ("" when none).
  fault-tool.py pct P VALUE...
      The nearest-rank P-th percentile of the values.
"""

import argparse
import hashlib
import json
import math
import os
import re
import shlex
import socket
import struct
import sys
import time


def cmd_pace(a):
    rate = a.rate * 1e6 / 8
    out = sys.stdout.buffer
    due = time.monotonic()
    with open(a.file, "rb") as f:
        while True:
            b = f.read(a.chunk)
            if not b:
                break
            try:
                out.write(b)
                out.flush()
            except BrokenPipeError:  # punch is gone; its own events say why
                sys.stderr.close()
                return 0
            due += len(b) / rate
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            elif d < -0.02:
                due = time.monotonic()
    return 0


def record(seq, size):
    head = seq.to_bytes(8, "big")
    body = bytearray()
    h = hashlib.sha256(b"punch-fault-record" + head).digest()
    while len(body) < size - 8:
        body += h
        h = hashlib.sha256(h).digest()
    return head + bytes(body[: size - 8])


def cmd_records(a):
    with open(a.out, "wb") as f:
        for i in range(a.n):
            f.write(record(i, a.size))
    return 0


def slices_of(data, sent):
    """Splits DATA into maximal runs that are contiguous slices of SENT, taken
    in order (a datagram is a slice; a lost one leaves a gap). Returns the
    number of slices and the bytes that are in no such slice: 0 means every
    byte that arrived was sent, in order, unaltered."""
    i = p = 0
    nslices = stray = 0
    probe = 32
    while i < len(data):
        if p < len(sent) and data[i] == sent[p]:
            n = 0
            while i + n < len(data) and p + n < len(sent) and data[i + n] == sent[p + n]:
                n += 1
            i += n
            p += n
            nslices += 1
            continue
        at = sent.find(data[i:i + probe], p)
        if at < 0 or len(data) - i < 1:
            stray += 1
            i += 1
            continue
        p = at
    return nslices, stray


def cmd_check_records(a):
    data = open(a.file, "rb").read()
    if a.sent:
        # The sender cuts what it reads into datagrams: under back-pressure
        # its reads hold several records, so a datagram may end inside one
        # and a lost datagram leaves half records behind. What must hold is
        # that every byte belongs to an in-order slice of what was sent.
        sent = open(a.sent, "rb").read()
        nslices, stray = slices_of(data, sent)
        seen = set()
        for off in range(0, len(sent), a.size):
            if data.find(sent[off:off + a.size]) >= 0:
                seen.add(off // a.size)
        print(json.dumps({"received": len(data), "slices": nslices, "whole_records": len(seen),
                          "corrupt": stray, "distinct": len(seen), "duplicates": 0,
                          "lost": a.n - len(seen), "tail": 0}))
        return 0
    full = len(data) // a.size
    seen = set()
    intact = corrupt = dup = 0
    for i in range(full):
        r = data[i * a.size : (i + 1) * a.size]
        seq = int.from_bytes(r[:8], "big")
        if seq < a.n and r == record(seq, a.size):
            intact += 1
            if seq in seen:
                dup += 1
            seen.add(seq)
        else:
            corrupt += 1
    print(json.dumps({"received": full, "intact": intact, "corrupt": corrupt, "distinct": len(seen),
                      "duplicates": dup, "lost": a.n - len(seen), "tail": len(data) - full * a.size}))
    return 0


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is gone for our purpose
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_watch(a):
    end = time.monotonic() + a.max_seconds
    last = -1
    with open(a.out, "a") as out:
        while time.monotonic() < end:
            try:
                size = os.stat(a.file).st_size
            except FileNotFoundError:
                size = 0
            if size != last:
                out.write("%d %d\n" % (int(time.time() * 1000), size))
                out.flush()
                last = size
            if not alive(a.pid):
                out.write("%d exit\n" % int(time.time() * 1000))
                break
            time.sleep(a.every_ms / 1000)
    return 0


def cmd_recovery(a):
    samples = []
    exit_ms = ""
    for line in open(a.log):
        t, s = line.split()
        if s == "exit":
            exit_ms = int(t)
            continue
        samples.append((int(t), int(s)))
    fault = a.fault_ms
    at_fault = max([s for t, s in samples if t <= fault], default=0)
    drain_end = fault + a.drain_ms
    at_drain = max([s for t, s in samples if t <= drain_end], default=0)
    after = [(t, s) for t, s in samples if t > drain_end and s > at_drain]
    # longest gap between deliveries from the fault on
    times = [fault] + [t for t, s in samples if t > fault]
    if not after and exit_ms != "":
        times.append(exit_ms)  # no recovery: the stall lasts until the exit
    stall = max((b - a_ for a_, b in zip(times, times[1:])), default=0)
    vals = {"AT_FAULT": at_fault, "AT_DRAIN": at_drain,
            "RECOVERED": "yes" if after else "no",
            "RECOVERY_MS": (after[0][0] - fault) if after else "",
            "STALL_MS": stall, "FINAL": samples[-1][1] if samples else 0,
            "EXIT_MS": (exit_ms - fault) if exit_ms != "" else ""}
    for k, v in vals.items():
        print("%s=%s" % (k, shlex.quote(str(v))))
    return 0


def cmd_events(a):
    ev = []
    lines = open(a.file, errors="replace") if os.path.exists(a.file) else []
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and "event" in e:
            ev.append(e)
    first = {}
    for e in ev:
        first.setdefault(e["event"], e.get("data") or {})
    err = first.get("error", {})
    done = first.get("done", {})
    conn = first.get("connected", {})
    def after(d):  # the event came at or after --after (wall-clock ms), or no --after
        if not a.after or a.t0 is None or d.get("elapsed_ms") is None:
            return True
        return a.t0 + int(d["elapsed_ms"]) >= a.after
    all_restarts = [e.get("data") or {} for e in ev if e["event"] == "restart"]
    restarts = [d for d in all_restarts if after(d)]
    changes = []
    seen_restart = False
    change_after_restart = False
    direct_ms = ""
    if conn and conn.get("relayed") is False:
        direct_ms = conn.get("elapsed_ms", "")
    for e in ev:
        d = e.get("data") or {}
        if e["event"] == "restart" and after(d):
            seen_restart = True
        if e["event"] == "path-changed":
            changes.append(d)
            if seen_restart:
                change_after_restart = True
            if direct_ms == "" and d.get("relayed") is False:
                direct_ms = d.get("elapsed_ms", "")
    vals = {
        "EV_ERR": err.get("code", ""),
        "EV_ERR_MSG": err.get("message", ""),
        "EV_CONNECTED": "yes" if conn else "no",
        "EV_CONNECTED_MS": conn.get("elapsed_ms", ""),
        "EV_RELAYED": str(conn.get("relayed", "")).lower(),
        "EV_PATH": conn.get("path", ""),
        "EV_LOCAL_TYPE": (conn.get("local") or {}).get("type", ""),
        "EV_REMOTE_ADDR": (conn.get("remote") or {}).get("address", ""),
        "EV_REMOTE_PORT": (conn.get("remote") or {}).get("port", ""),
        "EV_FIRST_BYTE_MS": first.get("first-byte", {}).get("elapsed_ms", ""),
        "EV_DONE": "yes" if done else "no",
        "EV_ACKED": str(done.get("peer_acknowledged", "")).lower(),
        "EV_RECEIVED": done.get("bytes_received", ""),
        "EV_DATAGRAMS_LOST": done.get("datagrams_lost", ""),
        "EV_DONE_MS": done.get("elapsed_ms", ""),
        "EV_FINAL_PATH": (done.get("final") or {}).get("path", ""),
        "EV_RESTARTS": len(restarts),
        "EV_RESTARTS_BEFORE": len(all_restarts) - len(restarts),
        "EV_RESTART_REASONS": ",".join(str(r.get("reason", "?")) for r in restarts),
        "EV_RESTART_MS": restarts[0].get("elapsed_ms", "") if restarts else "",
        "EV_RESTART_GEN": restarts[-1].get("generation", "") if restarts else "",
        "EV_CHANGES": len(changes),
        "EV_CHANGE_AFTER_RESTART": "yes" if change_after_restart else "no",
        "EV_LAST_PATH": changes[-1].get("path", "") if changes else conn.get("path", ""),
        "EV_LAST_LOCAL_TYPE": ((changes[-1] if changes else conn).get("local") or {}).get("type", ""),
        "EV_DIRECT_MS": direct_ms,
        "EV_PEER_LEFT": "yes" if "peer-left" in first else "no",
        "EV_LAST": " ".join(e["event"] for e in ev if e["event"] not in ("candidate", "progress"))[-160:],
    }
    if a.t0 is not None and restarts and restarts[0].get("elapsed_ms") is not None:
        vals["EV_RESTART_WALL"] = a.t0 + int(restarts[0]["elapsed_ms"])
    else:
        vals["EV_RESTART_WALL"] = ""
    for k, v in vals.items():
        print("%s%s=%s" % (a.prefix, k[3:], shlex.quote(str(v))))
    return 0


def cmd_stun_probe(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    txid = os.urandom(12)
    req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + txid
    end = time.monotonic() + a.timeout
    while time.monotonic() < end:
        try:
            s.sendto(req, (a.host, a.port))
        except OSError:
            pass
        s.settimeout(max(0.01, min(0.2, end - time.monotonic())))
        try:
            data, _ = s.recvfrom(2048)
            if len(data) >= 20 and data[8:20] == txid:
                print("answered")
                return 0
        except (socket.timeout, ConnectionRefusedError):
            pass
    print("silent")
    return 1


CT_RE = re.compile(r"^udp\s.*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+).*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)")


def conntrack_entries():
    for line in sys.stdin:
        m = CT_RE.match(line)
        if m:
            yield m.groups()


def cmd_conntrack_flow(a):
    for osrc, odst, osport, odport, rsrc, rdst, rsport, rdport in conntrack_entries():
        if osrc == a.src and odst == a.dst and odport == str(a.dport):
            print(osport, rdport)
            return 0
    return 1


def cmd_conntrack_ports(a):
    ports = []
    for osrc, odst, osport, odport, rsrc, rdst, rsport, rdport in conntrack_entries():
        if osrc == a.src and osport == str(a.sport) and rdport not in ports:
            ports.append(rdport)
    print(" ".join(ports))
    return 0


def cmd_pct(a):
    v = sorted(a.values)
    if not v:
        print("-")
        return 0
    x = v[max(0, math.ceil(a.p / 100 * len(v)) - 1)]
    print(int(x) if float(x).is_integer() else x)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("pace")
    s.add_argument("rate", type=float)
    s.add_argument("file")
    s.add_argument("--chunk", type=int, default=1200)
    s.set_defaults(fn=cmd_pace)
    s = sub.add_parser("records")
    s.add_argument("n", type=int)
    s.add_argument("size", type=int)
    s.add_argument("out")
    s.set_defaults(fn=cmd_records)
    s = sub.add_parser("check-records")
    s.add_argument("file")
    s.add_argument("size", type=int)
    s.add_argument("n", type=int)
    s.add_argument("--sent", help="what was sent: check in-order slices of it, byte for byte")
    s.set_defaults(fn=cmd_check_records)
    s = sub.add_parser("watch")
    s.add_argument("file")
    s.add_argument("out")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--every-ms", type=float, default=2)
    s.add_argument("--max-seconds", type=float, default=120)
    s.set_defaults(fn=cmd_watch)
    s = sub.add_parser("recovery")
    s.add_argument("log")
    s.add_argument("fault_ms", type=int)
    s.add_argument("--drain-ms", type=int, default=100)
    s.set_defaults(fn=cmd_recovery)
    s = sub.add_parser("events")
    s.add_argument("file")
    s.add_argument("t0", type=int, nargs="?")
    s.add_argument("--prefix", default="EV_")
    s.add_argument("--after", type=int, default=0)
    s.set_defaults(fn=cmd_events)
    s = sub.add_parser("stun-probe")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--timeout", type=float, default=1)
    s.set_defaults(fn=cmd_stun_probe)
    s = sub.add_parser("conntrack-flow")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("dport", type=int)
    s.set_defaults(fn=cmd_conntrack_flow)
    s = sub.add_parser("conntrack-ports")
    s.add_argument("src")
    s.add_argument("sport", type=int)
    s.set_defaults(fn=cmd_conntrack_ports)
    s = sub.add_parser("pct")
    s.add_argument("p", type=float)
    s.add_argument("values", type=float, nargs="*")
    s.set_defaults(fn=cmd_pct)
    a = p.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
