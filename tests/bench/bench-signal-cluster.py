#!/usr/bin/python3
# bench-signal-cluster.py: one punch-signal against a cluster of them sharing rooms through
# one redis-server, in the same run: join time, memory per connection, relay latency.
#
# Not a test: it prints figures. Loopback only, bounded in count and time; every process
# is started here and stopped by its PID.
#
#   tests/bench/bench-signal-cluster.py --build-dir BUILD [--connections 20000]
#       [--instances 2] [--single-connections 10000] [--rate 1000] [--pairs 100]
#       [--seconds 10] [--workers 2]
#
# 1. Single: one punch-signal without --redis; --single-connections WebSockets in rooms
#    of two (default 10,000: a process may hold at most 20,000 descriptors here, and the
#    server needs a few hundred besides its sockets).
# 2. Cluster: redis-server (127.0.0.1, no persistence) and --instances punch-signal
#    --redis; --connections WebSockets in rooms of two, the two peers of every room on
#    two different instances (room r: instance r mod N and r+1 mod N).
# For each: the time for every peer to connect and join (hello -> welcome), the servers'
# RSS growth per connection (and Redis' own), then --rate candidate messages per second
# in total over --pairs rooms for --seconds (across instances in the cluster), the
# latency send -> the other peer's receive p50/p99/max, losses, and CPU of the servers
# and of redis-server. The clients run in --workers processes (each holds whole rooms,
# so sender and receiver share a clock), because one process may hold only 20,000
# descriptors here.
#
# SPDX-License-Identifier: MIT

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import punch_redis  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_signal", os.path.join(HERE, "bench-signal.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


# ---- a worker: whole rooms, both peers of each ----

async def worker(args):
    ports = [int(p) for p in args.ports.split(",")]
    rooms = range(args.first_room, args.first_room + args.rooms)
    conns = []
    failures = []
    sem = asyncio.Semaphore(args.concurrency)

    async def one(slot, port, room):
        async with sem:
            err = None
            for _ in range(3):
                c = bench.Conn()
                try:
                    await asyncio.wait_for(c.open(port, room), 30)
                    conns[slot] = c
                    return
                except Exception as e:  # retried, then counted
                    c.close()
                    err = e
            failures.append(repr(err))

    sys.stdin.readline()  # "join"
    plan = []
    for r in rooms:
        n = len(ports)
        plan.append((ports[r % n], f"bench-{args.tag}-{r}"))
        plan.append((ports[(r + args.spread) % n], f"bench-{args.tag}-{r}"))
    conns = [None] * len(plan)
    t0 = time.perf_counter()
    # first peers of every room, then the second ones: a welcome then lists a peer
    await asyncio.gather(*(one(i, p, room) for i, (p, room) in enumerate(plan) if i % 2 == 0))
    await asyncio.gather(*(one(i, p, room) for i, (p, room) in enumerate(plan) if i % 2 == 1))
    t_join = time.perf_counter() - t0
    print(json.dumps({"joined": sum(1 for c in conns if c), "seconds": t_join,
                      "failures": failures[:3], "n_failures": len(failures)}), flush=True)
    sys.stdin.readline()  # "relay"
    if not any(conns[2 * p] and conns[2 * p + 1] for p in range(min(args.pairs, len(conns) // 2))):
        lat, lost, total, elapsed = [], 0, 0, 1.0  # nothing to relay over: the joins failed
    else:
        lat, lost, total, elapsed = await bench.latency(conns, args.pairs, args.rate,
                                                        args.seconds)
    print(json.dumps({"lat": lat, "lost": lost, "total": total, "elapsed": elapsed}), flush=True)
    sys.stdin.readline()  # "quit"
    for c in conns:
        if c:
            c.close()
    return 0


# ---- the run ----

def start_workers(args, ports, n_conns, tag, spread):
    rooms = n_conns // 2
    per = (rooms + args.workers - 1) // args.workers
    procs = []
    first = 0
    for w in range(args.workers):
        n = min(per, rooms - first)
        if n <= 0:
            break
        pairs = max(1, args.pairs // args.workers)
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--ports",
               ",".join(map(str, ports)), "--first-room", str(first), "--rooms", str(n),
               "--tag", tag, "--spread", str(spread), "--pairs", str(min(pairs, n)),
               "--rate", str(args.rate // args.workers), "--seconds", str(args.seconds),
               "--concurrency", str(args.concurrency)]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True))
        first += n
    return procs


def tell(procs, word):
    for p in procs:
        p.stdin.write(word + "\n")
        p.stdin.flush()


def read_all(procs):
    return [json.loads(p.stdout.readline()) for p in procs]


def measure(args, label, servers, redis, n_conns, spread):
    """servers: [(proc, port)]. Returns a dict of figures."""
    ports = [port for _, port in servers]
    pids = [proc.pid for proc, _ in servers]
    time.sleep(0.5)
    rss0 = [bench.rss_kib(p) for p in pids]
    redis_rss0 = bench.rss_kib(redis.proc.pid) if redis else 0
    redis_cpu0 = bench.cpu_seconds(redis.proc.pid) if redis else 0
    procs = start_workers(args, ports, n_conns, label, spread)
    try:
        tell(procs, "join")
        joins = read_all(procs)
        time.sleep(1)
        rss1 = [bench.rss_kib(p) for p in pids]
        redis_rss1 = bench.rss_kib(redis.proc.pid) if redis else 0
        redis_cpu1 = bench.cpu_seconds(redis.proc.pid) if redis else 0
        held = sum(j["joined"] for j in joins)
        t_join = max(j["seconds"] for j in joins)
        cpu0 = [bench.cpu_seconds(p) for p in pids]
        rcpu0 = bench.cpu_seconds(redis.proc.pid) if redis else 0
        tell(procs, "relay")
        rel = read_all(procs)
        cpu1 = [bench.cpu_seconds(p) for p in pids]
        rcpu1 = bench.cpu_seconds(redis.proc.pid) if redis else 0
        tell(procs, "quit")
        for p in procs:
            p.wait(30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    lat = sorted(x for r in rel for x in r["lat"])
    elapsed = max(r["elapsed"] for r in rel)
    total = sum(r["total"] for r in rel)
    return {
        "label": label, "instances": len(servers), "connections": n_conns, "held": held,
        "failures": sum(j["n_failures"] for j in joins),
        "first_failure": next((j["failures"][0] for j in joins if j["failures"]), None),
        "join_s": t_join, "join_rate": held / t_join if t_join else 0,
        "rss_mib": [r / 1024 for r in rss1],
        "kib_per_conn": (sum(rss1) - sum(rss0)) / max(held, 1),
        "redis_rss_mib": redis_rss1 / 1024 if redis else None,
        "redis_kib_per_conn": (redis_rss1 - redis_rss0) / max(held, 1) if redis else None,
        "redis_cpu_join": (redis_cpu1 - redis_cpu0) / t_join * 100 if redis and t_join else None,
        "total": total, "rate": total / elapsed, "delivered": len(lat),
        "lost": sum(r["lost"] for r in rel),
        "p50": bench.percentile(lat, 50), "p99": bench.percentile(lat, 99),
        "max": lat[-1] if lat else float("nan"),
        "cpu": [(b - a) / elapsed * 100 for a, b in zip(cpu0, cpu1)],
        "redis_cpu": (rcpu1 - rcpu0) / elapsed * 100 if redis else None,
    }


def start_signal(binary, args, n_conns, redis_url=None):
    per_conn_rate = max(20, 2 * args.rate // args.pairs)
    cmd = [binary, "--listen", "127.0.0.1:0", "--insecure-no-auth",
           "--max-connections", str(n_conns + 100), "--hello-timeout", "120",
           "--max-connections-per-ip", str(n_conns + 100),
           "--keepalive", "600", "--rate-limit", str(per_conn_rate)]
    if redis_url:
        cmd += ["--redis", redis_url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"punch-signal did not start: {line!r}")
    port = int(line.split()[-1].rsplit(":", 1)[1].split("/")[0])
    return proc, port


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def report(r):
    print(f"== {r['label']}: {r['instances']} instance(s)"
          + (", one redis-server" if r["redis_rss_mib"] is not None else ""))
    print(f"  connections: {r['held']}/{r['connections']} joined in rooms of two in "
          f"{r['join_s']:.1f} s ({r['join_rate']:.0f}/s); {r['failures']} failed")
    if r["first_failure"]:
        print(f"    first failure: {r['first_failure']}")
    print(f"  punch-signal RSS: {', '.join('%.1f' % m for m in r['rss_mib'])} MiB; "
          f"{r['kib_per_conn']:.1f} KiB per connection")
    if r["redis_rss_mib"] is not None:
        print(f"  redis-server: RSS {r['redis_rss_mib']:.1f} MiB "
              f"({r['redis_kib_per_conn']:.2f} KiB per connection), "
              f"CPU {r['redis_cpu_join']:.1f} % of a core while joining")
    print(f"  relay: {r['total']} messages at {r['rate']:.0f}/s, {r['delivered']} delivered, "
          f"{r['lost']} lost; latency ms p50 {r['p50']:.2f} p99 {r['p99']:.2f} "
          f"max {r['max']:.2f}")
    print(f"  CPU while relaying: punch-signal {', '.join('%.1f' % c for c in r['cpu'])} % "
          "of a core" + (f"; redis-server {r['redis_cpu']:.1f} %"
                         if r["redis_cpu"] is not None else ""))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description="punch-signal: one instance against a cluster")
    ap.add_argument("--build-dir", default=os.environ.get("PUNCH_BUILD_DIR", "build"))
    ap.add_argument("--connections", type=int, default=20000, help="in the cluster")
    ap.add_argument("--single-connections", type=int, default=10000)
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="client processes")
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--rate", type=int, default=1000, help="messages per second, in total")
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    # a worker (run by the benchmark itself)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ports", help=argparse.SUPPRESS)
    ap.add_argument("--first-room", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--rooms", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--tag", help=argparse.SUPPRESS)
    ap.add_argument("--spread", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.worker:
        return asyncio.run(worker(args))

    args.instances = max(1, min(args.instances, 3))
    args.workers = max(1, min(args.workers, 4))
    args.connections = max(4, min(args.connections, 40000)) // 2 * 2
    args.single_connections = max(2, min(args.single_connections, 19000)) // 2 * 2
    args.seconds = min(args.seconds, 60)
    if not punch_redis.have_redis():
        print("bench: redis-server is not installed (apt install redis-server)", file=sys.stderr)
        return 1
    per_worker = args.connections // args.workers
    if per_worker + 100 > hard:
        print(f"bench: {per_worker} sockets per client process exceed the descriptor limit "
              f"{hard}: use more --workers", file=sys.stderr)
        return 2
    binary = os.path.join(args.build_dir, "signaling", "punch-signal")
    print(f"punch-signal single vs cluster, {os.cpu_count()} CPUs, loopback, "
          f"{time.strftime('%Y-%m-%d')}", flush=True)
    results = []

    server, port = start_signal(binary, args, args.single_connections)
    try:
        results.append(measure(args, "single", [(server, port)], None,
                               args.single_connections, 0))
    finally:
        stop(server)
    report(results[-1])

    redis = punch_redis.RedisServer(unix=False)
    servers = []
    try:
        per_instance = args.connections // args.instances + 100
        for _ in range(args.instances):
            servers.append(start_signal(binary, args, per_instance, redis.url()))
        time.sleep(1)
        results.append(measure(args, "cluster", servers, redis, args.connections,
                               1 if args.instances > 1 else 0))
    finally:
        for proc, _ in servers:
            stop(proc)
        redis.cleanup()
    report(results[-1])
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
