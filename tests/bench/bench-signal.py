#!/usr/bin/python3
# bench-signal.py: how many WebSockets punch-signal holds, their memory, and relay latency.
#
# Not a test: it prints figures. Loopback only, bounded in count and time.
#
#   tests/bench/bench-signal.py --build-dir build-signal [--connections 10000]
#                               [--rate 1000] [--seconds 10] [--pairs 100]
#
# 1. Starts punch-signal (--insecure-no-auth) on 127.0.0.1:0, raising
#    RLIMIT_NOFILE to the hard limit first (the server inherits it).
# 2. Opens --connections WebSockets, each joining a room of two (hello ->
#    welcome), and keeps them all open. Reports how long that took, the
#    server's connection count (/healthz) and its RSS delta / connections.
# 3. Sends --rate candidate messages per second in total, spread over --pairs
#    of those rooms (so each sender stays under the per-connection limit),
#    for --seconds, and reports the relay latency (send -> the peer's receive)
#    p50/p99/max, losses, and the server's CPU use. The client is a minimal
#    asyncio WebSocket client so that it, not the server, stays small.
#
# SPDX-License-Identifier: MIT

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
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

    async def open(self, port, room):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
        self.send({"type": "hello", "version": 1, "room": room})
        welcome = json.loads(await self.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(str(welcome))
        self.id = welcome["id"]
        return welcome

    def send(self, obj):
        payload = json.dumps(obj, separators=(",", ":")).encode()
        n = len(payload)
        hdr = struct.pack("!BB", 0x81, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x81, 0xfe, n)
        mask = os.urandom(4)
        self.writer.write(hdr + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload)))

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


async def main():
    ap = argparse.ArgumentParser(description="punch-signal benchmark (loopback)")
    ap.add_argument("--build-dir", default=os.environ.get("PUNCH_BUILD_DIR", "build"))
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--rate", type=int, default=1000, help="messages per second, in total")
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    args.connections = max(2, min(args.connections, 50000)) // 2 * 2
    args.seconds = min(args.seconds, 120)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = args.connections + 200
    if hard < need:
        print(f"# RLIMIT_NOFILE hard limit {hard} < {need}: the count will be capped")

    binary = os.path.join(args.build_dir, "signaling", "punch-signal")
    per_conn_rate = max(20, 2 * args.rate // args.pairs)
    server = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--insecure-no-auth",
                               "--max-connections", str(args.connections + 100),
                               "--hello-timeout", "120", "--keepalive", "600",
                               "--rate-limit", str(per_conn_rate)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    conns = []
    try:
        line = server.stdout.readline().decode().strip()
        url = line.split()[-1]
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        time.sleep(0.3)
        rss0 = rss_kib(server.pid)

        t0 = time.perf_counter()
        conns, failures = await open_all(port, args.connections, args.concurrency)
        t_open = time.perf_counter() - t0
        await asyncio.sleep(1)
        rss1 = rss_kib(server.pid)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            health = json.loads(r.read())
        held = sum(1 for c in conns if c)

        cpu0 = cpu_seconds(server.pid)
        lat, lost, total, elapsed = await latency(conns, args.pairs, args.rate, args.seconds)
        cpu1 = cpu_seconds(server.pid)

        print(f"punch-signal benchmark, {os.cpu_count()} CPUs, loopback")
        print(f"connections: {held}/{args.connections} joined in rooms of two in {t_open:.1f} s "
              f"({held / t_open:.0f}/s); /healthz: {health['connections']} connections, "
              f"{health['rooms']} rooms; {len(failures)} failed")
        if failures:
            print(f"  first failure: {failures[0]}")
        print(f"server RSS: {rss0 / 1024:.1f} MiB idle -> {rss1 / 1024:.1f} MiB "
              f"= {(rss1 - rss0) * 1024 / max(held, 1) / 1024:.1f} KiB per connection")
        print(f"relay: {total} messages at {total / elapsed:.0f}/s over {args.pairs} rooms, "
              f"{len(lat)} delivered, {lost} lost")
        print(f"latency ms: p50 {percentile(lat, 50):.2f}  p99 {percentile(lat, 99):.2f}  "
              f"max {lat[-1] if lat else float('nan'):.2f}")
        print(f"server CPU during the relay phase: {(cpu1 - cpu0) / elapsed * 100:.1f} % of one core")
    finally:
        for c in conns:
            if c:
                c.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
