#!/usr/bin/python3
# bench-signal.py: how many connections punch-signal holds, their memory, and relay latency,
# also while hostile clients are connected.
#
# Not a test: it prints figures. Loopback only, bounded in count and time.
#
#   tests/bench/bench-signal.py --build-dir build-signal [--connections 10000]
#                               [--rate 1000] [--seconds 10] [--pairs 100] [--hostile 2000]
#
# Raises RLIMIT_NOFILE to the hard limit first (the servers inherit it).
# 1. A punch-signal with a long --handshake-timeout: --connections TCP
#    connections that never send a byte (pre-upgrade), then as many
#    WebSockets that never send hello (idle WebSockets). For each: the time
#    to open them, the server's CPU for it, its RSS delta per connection, and
#    its RSS once they are closed again.
# 2. A punch-signal with the default --handshake-timeout: --connections
#    WebSockets, each joining a room of two (hello -> welcome), kept open.
#    Reports how long that took, the server's CPU, its RSS per joined peer.
# 3. Sends --rate candidate messages per second in total, spread over --pairs
#    of those rooms (so each sender stays under the per-connection limit),
#    for --seconds, and reports the relay latency (send -> the peer's receive)
#    p50/p99/max, losses, and the server's CPU use.
# 4. The same while a second process (this script with --hostile-child) holds
#    --hostile hostile connections: 47.5 % silent TCP connections, 47.5 %
#    slowloris requests (a header line a second), 5 % rooms where one peer
#    sends 16 KB descriptions at 5/s to a room-mate that never reads. Each one
#    the server closes is opened again. (--hostile-kinds picks some of them.)
# The client is a minimal asyncio WebSocket client so that it, not the
# server, stays small.
#
# SPDX-License-Identifier: MIT

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Conn:
    """One WebSocket: HTTP upgrade, masked text frames out, text frames in."""

    def __init__(self):
        self.reader = self.writer = None
        self.on_text = None

    async def upgrade(self, port, sock=None):
        if sock is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            self.reader, self.writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.split(b"\r\n", 1)[0].decode())

    async def open(self, port, room):
        await self.upgrade(port)
        self.send({"type": "hello", "version": 1, "room": room})
        welcome = json.loads(await self.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(str(welcome))
        self.id = welcome["id"]
        return welcome

    def send(self, obj):
        payload = json.dumps(obj, separators=(",", ":")).encode()
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0xfe, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0xff, n)
        mask = os.urandom(4)
        keystream = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        masked = (int.from_bytes(payload, "big") ^ keystream).to_bytes(n, "big")
        self.writer.write(hdr + mask + masked)

    async def recv(self):
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(n)
            op = b0 & 0x0f
            if op == 1:
                return payload
            if op == 9:  # ping -> pong
                self.writer.write(struct.pack("!BB", 0x8a, 0x80 | len(payload)) + b"\0\0\0\0"
                                  + payload)
            elif op == 8:
                raise ConnectionError("closed by the server")

    def close(self):
        if self.writer:
            self.writer.close()


async def open_all(port, n, concurrency):
    conns = [None] * n
    failures = []
    sem = asyncio.Semaphore(concurrency)

    async def one(i):
        async with sem:
            c = Conn()
            for attempt in range(3):
                try:
                    await asyncio.wait_for(c.open(port, f"bench-{i // 2}"), 30)
                    conns[i] = c
                    return
                except Exception as e:  # retried, then counted
                    c.close()
                    c = Conn()
                    err = e
            failures.append(repr(err))

    await asyncio.gather(*(one(i) for i in range(n)))
    return conns, failures


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def latency(conns, pairs, rate, seconds):
    """Sends `rate` msgs/s over `pairs` rooms; returns the latencies in ms and the losses."""
    senders = []
    sent_at = {}
    lat = []
    for p in range(pairs):
        a, b = conns[2 * p], conns[2 * p + 1]
        if a and b:
            senders.append((a, b))
    # peer-joined may still be queued on the first of each pair: drain it
    readers = []

    async def reader(c):
        try:
            while True:
                msg = json.loads(await c.recv())
                if msg.get("type") == "candidate":
                    seq = int(msg["candidate"].split()[0].split(":")[1])
                    t = sent_at.pop(seq, None)
                    if t is not None:
                        lat.append((time.perf_counter() - t) * 1000)
        except (asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
            pass

    for a, b in senders:
        readers.append(asyncio.create_task(reader(b)))
        readers.append(asyncio.create_task(reader(a)))
    await asyncio.sleep(0.5)

    total = int(rate * seconds)
    tick = 0.01
    per_tick = rate * tick
    seq = 0
    start = time.perf_counter()
    budget = 0.0
    while seq < total:
        budget += per_tick
        while budget >= 1 and seq < total:
            a, b = senders[seq % len(senders)]
            sent_at[seq] = time.perf_counter()
            a.send({"type": "candidate",
                    "candidate": f"candidate:{seq} 1 UDP 2130706431 127.0.0.1 9 typ host"})
            seq += 1
            budget -= 1
        next_tick = start + (seq / rate)
        await asyncio.sleep(max(0, next_tick - time.perf_counter()))
    elapsed = time.perf_counter() - start
    await asyncio.sleep(1.0)
    for r in readers:
        r.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return sorted(lat), len(sent_at), total, elapsed


def start_server(binary, *extra):
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--insecure-no-auth", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("listening on "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"punch-signal did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1].split("/")[0])


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def healthz(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
        return json.loads(r.read())


async def wait_health(port, pred, seconds):
    deadline = time.monotonic() + seconds
    body = healthz(port)
    while not pred(body) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        body = healthz(port)
    return body


async def open_many(n, concurrency, opener):
    out = []
    failures = []
    sem = asyncio.Semaphore(concurrency)

    async def one():
        async with sem:
            try:
                out.append(await asyncio.wait_for(opener(), 30))
            except Exception as e:  # counted
                failures.append(repr(e))

    await asyncio.gather(*(one() for _ in range(n)))
    return out, failures


async def phase_idle(binary, n, concurrency, kind):
    """n connections that do nothing more: 'tcp' (no byte sent) or 'ws' (upgraded, no hello)."""
    proc, port = start_server(binary, "--max-connections", str(n + 100),
                              "--max-connections-per-ip", str(n + 100),
                              "--handshake-timeout", "600", "--hello-timeout", "600",
                              "--keepalive", "600")
    held = []
    try:
        time.sleep(0.3)
        rss0, cpu0 = rss_kib(proc.pid), cpu_seconds(proc.pid)

        async def tcp():
            return (await asyncio.open_connection("127.0.0.1", port))[1]

        async def ws():
            c = Conn()
            await c.upgrade(port)
            return c.writer

        t0 = time.perf_counter()
        held, failures = await open_many(n, concurrency, tcp if kind == "tcp" else ws)
        key = "handshakes" if kind == "tcp" else "connections"
        # the count includes this /healthz request when it is still a handshake
        body = await wait_health(port, lambda b: b[key] >= len(held), 60)
        t_open = time.perf_counter() - t0
        cpu1 = cpu_seconds(proc.pid)
        await asyncio.sleep(1)
        rss1 = rss_kib(proc.pid)
        for w in held:
            w.close()
        held = []
        await wait_health(port, lambda b: b["sockets"] <= 1, 60)
        await asyncio.sleep(2.5)  # a sweep gives the memory back (malloc_trim)
        rss2 = rss_kib(proc.pid)
        return {"n": n, "held": body[key] - (1 if kind == "tcp" else 0), "failed": len(failures),
                "t_open": t_open, "cpu": cpu1 - cpu0, "rss0": rss0, "rss1": rss1, "rss2": rss2}
    finally:
        for w in held:
            w.close()
        stop_server(proc)


def print_idle(what, r):
    n = max(r["held"], 1)
    print(f"{what}: {r['held']}/{r['n']} held ({r['failed']} failed), open in {r['t_open']:.1f} s; "
          f"server CPU {r['cpu']:.2f} s ({r['cpu'] / n * 1e6:.0f} us each); "
          f"RSS {r['rss0'] / 1024:.1f} -> {r['rss1'] / 1024:.1f} MiB "
          f"= {(r['rss1'] - r['rss0']) / n:.1f} KiB each; {r['rss2'] / 1024:.1f} MiB after closing")


def print_latency(what, lat, lost, total, elapsed, cpu, pairs):
    print(f"relay ({what}): {total} messages at {total / elapsed:.0f}/s over {pairs} rooms, "
          f"{len(lat)} delivered, {lost} lost; latency ms p50 {percentile(lat, 50):.2f}  "
          f"p95 {percentile(lat, 95):.2f}  p99 {percentile(lat, 99):.2f}  "
          f"max {lat[-1] if lat else float('nan'):.2f}; "
          f"server CPU {cpu / elapsed * 100:.1f} % of one core")


async def main():
    ap = argparse.ArgumentParser(description="punch-signal benchmark (loopback)")
    ap.add_argument("--build-dir", default=os.environ.get("PUNCH_BUILD_DIR", "build"))
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--rate", type=int, default=1000, help="messages per second, in total")
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--hostile", type=int, default=2000,
                    help="hostile connections during the second latency run (0: none)")
    ap.add_argument("--hostile-kinds", default="silent,slowloris,non-reader",
                    help="which hostile clients (comma-separated; default all three)")
    ap.add_argument("--skip-idle", action="store_true", help="leave out step 1")
    ap.add_argument("--hostile-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.connections = max(2, min(args.connections, 50000)) // 2 * 2
    args.seconds = min(args.seconds, 120)
    args.hostile = max(0, min(args.hostile, 5000))
    if args.hostile_child:
        os.nice(10)  # below the measuring client: what it measures is the server
        return await hostile_child(args.hostile_child, args.hostile, args.seconds + 8,
                                   args.hostile_kinds.split(","))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = args.connections + 200
    if hard < need:
        print(f"# RLIMIT_NOFILE hard limit {hard} < {need}: the count will be capped")

    binary = os.path.join(args.build_dir, "signaling", "punch-signal")
    print(f"punch-signal benchmark, {os.cpu_count()} CPUs, loopback")
    if not args.skip_idle:
        print_idle("idle pre-upgrade TCP connections",
                   await phase_idle(binary, args.connections, args.concurrency, "tcp"))
        print_idle("idle WebSockets (no hello)",
                   await phase_idle(binary, args.connections, args.concurrency, "ws"))

    per_conn_rate = max(20, 2 * args.rate // args.pairs)
    limit = args.connections + args.hostile + 500
    server, port = start_server(binary, "--max-connections", str(limit),
                                "--max-connections-per-ip", str(limit),
                                "--hello-timeout", "120", "--keepalive", "600",
                                "--rate-limit", str(per_conn_rate))
    conns = []
    child = None
    try:
        time.sleep(0.3)
        rss0 = rss_kib(server.pid)
        cpu0 = cpu_seconds(server.pid)

        t0 = time.perf_counter()
        conns, failures = await open_all(port, args.connections, args.concurrency)
        t_open = time.perf_counter() - t0
        cpu_open = cpu_seconds(server.pid) - cpu0
        await asyncio.sleep(1)
        rss1 = rss_kib(server.pid)
        health = healthz(port)
        held = sum(1 for c in conns if c)

        print(f"joined peers: {held}/{args.connections} in rooms of two in {t_open:.1f} s "
              f"({held / t_open:.0f}/s), server CPU {cpu_open:.2f} s; /healthz: "
              f"{health['connections']} connections, {health['rooms']} rooms; "
              f"{len(failures)} failed")
        if failures:
            print(f"  first failure: {failures[0]}")
        print(f"server RSS: {rss0 / 1024:.1f} MiB idle -> {rss1 / 1024:.1f} MiB "
              f"= {(rss1 - rss0) * 1024 / max(held, 1) / 1024:.1f} KiB per joined peer")

        cpu0 = cpu_seconds(server.pid)
        lat, lost, total, elapsed = await latency(conns, args.pairs, args.rate, args.seconds)
        print_latency("well-behaved peers only", lat, lost, total, elapsed,
                      cpu_seconds(server.pid) - cpu0, args.pairs)

        if args.hostile:
            child = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                                      "--hostile-child", str(port), "--hostile", str(args.hostile),
                                      "--seconds", str(args.seconds),
                                      "--hostile-kinds", args.hostile_kinds],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            ready = child.stdout.readline().decode().strip()
            await asyncio.sleep(2)
            h0 = healthz(port)
            rss_h = rss_kib(server.pid)
            cpu0 = cpu_seconds(server.pid)
            lat, lost, total, elapsed = await latency(conns, args.pairs, args.rate, args.seconds)
            cpu_h = cpu_seconds(server.pid) - cpu0
            h1 = healthz(port)
            print(f"hostile client: {ready}; during the run the server held "
                  f"{h0['handshakes']}..{h1['handshakes']} handshakes, closed "
                  f"{h1['handshake_timeouts'] - h0['handshake_timeouts']} at the handshake "
                  f"timeout, RSS {rss_h / 1024:.1f} MiB -> {rss_kib(server.pid) / 1024:.1f} MiB")
            print_latency(f"while {args.hostile} hostile connections are open", lat, lost, total,
                          elapsed, cpu_h, args.pairs)
            tail = child.communicate(timeout=60)[0].decode().strip()
            if tail:
                print(f"hostile client: {tail}")
    finally:
        if child and child.poll() is None:
            child.kill()
            child.wait()
        for c in conns:
            if c:
                c.close()
        stop_server(server)
    return 0


# ---- the hostile client (a process of its own, so it does not slow the measuring one) ----

def big_description(to):
    cands = [f"candidate:{i:032d} 1 UDP 2130706431 127.0.0.1 {40000 + i} typ host"
             for i in range(190)]
    return {"type": "description", "to": to,
            "description": {"ufrag": "abcd", "pwd": "a" * 24, "candidates": cands,
                            "end-of-candidates": False}}


async def hostile_child(port, n, seconds, kinds):
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    share = {"silent": 475, "slowloris": 475, "non-reader": 50}
    total = sum(share[k] for k in kinds)
    silent, slow, pairs = (n * share[k] // total if k in kinds else 0 for k in share)
    pairs //= 2
    counts = {"opened": 0, "closed by the server": 0, "told peer-too-slow": 0}

    async def until_closed(reader, writer, drip):
        if drip:
            writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        while loop.time() < stop_at:
            try:
                if drip:
                    writer.write(b"X-Slow: 1\r\n")
                if not await asyncio.wait_for(reader.read(4096), 1):
                    counts["closed by the server"] += 1
                    return
            except asyncio.TimeoutError:
                continue
            except OSError:
                counts["closed by the server"] += 1
                return

    async def loris(drip):
        while loop.time() < stop_at:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            counts["opened"] += 1
            try:
                await until_closed(reader, writer, drip)
            finally:
                writer.close()

    async def non_reader(room):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        c = Conn()
        await c.upgrade(port, sock=sock)
        c.send({"type": "hello", "version": 1, "room": room})
        return c  # and never read from again

    async def flood_pair(i):
        room = f"hostile-{i}"
        a = Conn()
        await a.open(port, room)
        counts["opened"] += 1
        msgs = asyncio.Queue()

        async def read_a():
            try:
                while True:
                    await msgs.put(json.loads(await a.recv()))
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
                pass

        reader = asyncio.ensure_future(read_a())
        try:
            while loop.time() < stop_at:
                b = await non_reader(room)
                counts["opened"] += 1
                target = None
                while loop.time() < stop_at:
                    try:
                        m = await asyncio.wait_for(msgs.get(), 0.2)
                    except asyncio.TimeoutError:
                        m = None
                    if m and m.get("type") == "peer-joined":
                        target = m["id"]
                    elif m and m.get("code") == "peer-too-slow":
                        counts["told peer-too-slow"] += 1
                    elif m and m.get("type") == "peer-left" and m.get("id") == target:
                        counts["closed by the server"] += 1
                        break
                    if target:
                        a.send(big_description(target))
                b.close()
        finally:
            reader.cancel()
            a.close()

    tasks = [asyncio.ensure_future(loris(False)) for _ in range(silent)]
    tasks += [asyncio.ensure_future(loris(True)) for _ in range(slow)]
    tasks += [asyncio.ensure_future(flood_pair(i)) for i in range(pairs)]
    await asyncio.sleep(2)
    print(f"{silent} silent, {slow} slowloris, {pairs} rooms with a non-reading peer",
          flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    print(", ".join(f"{v} {k}" for k, v in counts.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
