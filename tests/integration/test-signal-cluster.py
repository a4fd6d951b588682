#!/usr/bin/python3
# test-signal-cluster.py: punch-signal instances sharing rooms through a real redis-server
# (--redis). TAP output.
#
# Two instances and one redis-server (Unix socket in a temporary directory): peers on
# different instances meet and `punch connect` carries files end to end through them;
# --room-size holds when joins race through both instances; nothing crosses rooms, even
# a message injected into Redis by hand; Redis with a password; Redis killed and
# restarted (joins fail with `unavailable`, local rooms keep working, the instances
# reconnect and new joins work); one instance SIGKILLed (its peers leave the others'
# rooms within seconds). Every process is started here and stopped by its PID.
#
# SPDX-License-Identifier: MIT

import asyncio
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import punch_redis  # noqa: E402

try:
    import websockets
    import websockets.exceptions
except ImportError:
    print("1..0 # SKIP python3-websockets is not installed (apt install python3-websockets)")
    sys.exit(0)

BUILD = os.environ.get("PUNCH_BUILD_DIR")
if not BUILD:
    print("1..0 # SKIP PUNCH_BUILD_DIR is not set (run through meson test)")
    sys.exit(0)
if not punch_redis.have_redis():
    print("1..0 # SKIP redis-server is not installed (apt install redis-server)")
    sys.exit(0)
SIGNAL = os.path.join(BUILD, "signaling", "punch-signal")
PUNCH = os.path.join(BUILD, "tools", "punch")
CAND = "candidate:1 1 UDP 2130706431 127.0.0.1 40001 typ host"

tmp = tempfile.mkdtemp(prefix="punch-cluster-test-")
results = []


def check(ok, name, detail=""):
    results.append(bool(ok))
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), name))
    if not ok and detail:
        for line in str(detail).splitlines()[-30:]:
            print("#   " + line)
    sys.stdout.flush()


def token(room, ttl=120):
    return subprocess.check_output([SIGNAL, "token", "--secret-file", SECRET, "--room", room,
                                    "--ttl", str(ttl)], text=True).strip()


SECRET = os.path.join(tmp, "secret")
with open(SECRET, "w") as f:
    f.write("cluster-test-secret-0123456789abcdef\n")


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def join(url, room):
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "hello", "version": 1, "room": room,
                              "token": token(room)}))
    return ws, await recv_json(ws)


async def quiet(ws, seconds=0.5):
    try:
        await asyncio.wait_for(ws.recv(), seconds)
        return False
    except asyncio.TimeoutError:
        return True


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---- the checks ----

async def t_meet(i1, i2):
    a, wa = await join(i1.url, "meet")
    b, wb = await join(i2.url, "meet")
    check(wa["type"] == "welcome" and wb["type"] == "welcome" and wb["peers"] == [wa["id"]],
          "a token made with the shared secret admits on both instances; the second peer's "
          "welcome lists the first", (wa, wb))
    j = await recv_json(a)
    check(j == {"type": "peer-joined", "id": wb["id"]},
          "peer-joined crosses instances", j)
    await b.send(json.dumps({"type": "candidate", "candidate": CAND, "from": "mallory",
                             "x-extra": {"evil": 1}}))
    m = await recv_json(a)
    check(m == {"type": "candidate", "from": wb["id"], "candidate": CAND},
          "relayed across instances: from stamped by the sender's instance, unknown fields "
          "dropped", m)
    await a.send(json.dumps({"type": "end-of-candidates", "to": wb["id"]}))
    m = await recv_json(b)
    check(m == {"type": "end-of-candidates", "to": wb["id"], "from": wa["id"]},
          "a message with `to` reaches the peer on the other instance", m)
    await b.close()
    m = await recv_json(a)
    check(m == {"type": "peer-left", "id": wb["id"]}, "peer-left crosses instances", m)
    await a.close()


def connect_pair(i1, i2):
    room = "files"
    tok = token(room)
    a_in, b_in = os.path.join(tmp, "a.in"), os.path.join(tmp, "b.in")
    with open(a_in, "wb") as f:
        f.write(os.urandom(4 << 20))
    with open(b_in, "wb") as f:
        f.write(os.urandom(1 << 20))
    procs = []
    for url, path, tag in ((i1.url, a_in, "a"), (i2.url, b_in, "b")):
        src = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
        p = subprocess.Popen([PUNCH, "connect", "--signal", url, "--room", room, "--token", tok,
                              "--timeout", "20", "--reliable", "--json",
                              "--local-address", "127.0.0.1"],
                             stdin=src.stdout, stdout=open(os.path.join(tmp, tag + ".out"), "wb"),
                             stderr=open(os.path.join(tmp, tag + ".err"), "wb"))
        src.stdout.close()
        procs.append((p, src))
        time.sleep(0.2)
    rcs = []
    for p, src in procs:
        try:
            rcs.append(p.wait(60))
        except subprocess.TimeoutExpired:
            p.kill()
            rcs.append(p.wait())
        src.wait()
    errs = ""
    for tag in ("a", "b"):
        with open(os.path.join(tmp, tag + ".err"), errors="replace") as f:
            errs += f.read()
    ok = (rcs == [0, 0] and sha(a_in) == sha(os.path.join(tmp, "b.out"))
          and sha(b_in) == sha(os.path.join(tmp, "a.out")))
    check(ok, "punch connect through two instances: 4 MiB and 1 MiB cross intact, both exit 0",
          f"exit {rcs}\n{errs}")
    check("join room=files" in i1.logtext() and "join room=files" in i2.logtext(),
          "each peer joined through its own instance (both logs have the join)")


async def t_race(i1, i2, rooms=25):
    # four peers per room, two through each instance, all hellos sent at once
    conns = []
    for r in range(rooms):
        for url in (i1.url, i2.url, i1.url, i2.url):
            conns.append((f"race{r}", await websockets.connect(url)))
    hellos = [json.dumps({"type": "hello", "version": 1, "room": room, "token": token(room)})
              for room, _ in conns]
    await asyncio.gather(*(ws.send(h) for (_, ws), h in zip(conns, hellos)))
    replies = await asyncio.gather(*(recv_json(ws, 10) for _, ws in conns))
    per_room = {}
    ids = []
    for (room, _), rep in zip(conns, replies):
        per_room.setdefault(room, []).append(rep)
        if rep["type"] == "welcome":
            ids.append(rep["id"])
    bad = {room: [r.get("type") + ":" + r.get("code", "") for r in reps]
           for room, reps in per_room.items()
           if sorted(r["type"] for r in reps) != ["error", "error", "welcome", "welcome"]
           or any(r["type"] == "error" and r["code"] != "room-full" for r in reps)}
    check(not bad, f"{rooms} rooms x 4 simultaneous joins through two instances: exactly 2 "
          "welcomes and 2 room-full each (--room-size 2 holds)", bad)
    check(len(ids) == len(set(ids)) == 2 * rooms, "peer ids are unique across the cluster",
          len(ids))
    spanning = sum(1 for room, reps in per_room.items()
                   if any(r["type"] == "welcome" and r["peers"] for r in reps))
    check(spanning == rooms, "every second welcome lists the first peer", spanning)
    # the first of each room hears of the second, then gets its message, in that order
    # (what arrived while a join was still in Redis was held and replayed)
    firsts, seconds = {}, {}
    for (room, ws), rep in zip(conns, replies):
        if rep["type"] == "welcome":
            (seconds if rep["peers"] else firsts)[room] = (ws, rep)
    for room, (ws, rep) in seconds.items():
        await ws.send(json.dumps({"type": "candidate", "candidate": CAND}))
    wrong = {}
    for room, (ws, rep) in firsts.items():
        second = seconds.get(room, (None, {"id": None}))[1]["id"]
        got = [await recv_json(ws, 10), await recv_json(ws, 10)]
        if got != [{"type": "peer-joined", "id": second},
                   {"type": "candidate", "from": second, "candidate": CAND}]:
            wrong[room] = got
    check(len(firsts) == rooms and not wrong,
          "after the race, each first peer gets peer-joined and then the second's message", wrong)
    for _, ws in conns:
        await ws.close()


async def t_cross_room(i1, i2, redis):
    x1, wx1 = await join(i1.url, "roomx")
    x2, wx2 = await join(i2.url, "roomx")
    y1, wy1 = await join(i1.url, "roomy")
    y2, wy2 = await join(i2.url, "roomy")
    await recv_json(x1)  # peer-joined
    await recv_json(y1)
    await x1.send(json.dumps({"type": "candidate", "candidate": CAND}))
    m = await recv_json(x2)
    check(m.get("from") == wx1["id"], "a broadcast reaches the room's peer on the other "
          "instance", m)
    await x2.send(json.dumps({"type": "bye", "to": wy1["id"]}))
    e = await recv_json(x2)
    check(e.get("type") == "error" and e.get("code") == "unknown-peer",
          "`to` naming a peer of another room on another instance: unknown-peer", e)
    # by hand into Redis: a message for roomx addressed to y2 (in roomy): instance 2 drops it
    inst2 = i2.healthz()["instance"]
    payload = "\n".join(["M", "roomx", wy2["id"], wx1["id"],
                         json.dumps({"type": "bye", "from": wx1["id"]})])
    reply = redis.command("PUBLISH", "punch:to:" + inst2, payload)
    q = [await quiet(ws, 0.7) for ws in (y1, y2)]
    check(all(q) and b":1" in reply,
          "nothing reaches another room: not a broadcast, not `to`, not a message injected "
          "into Redis for the wrong room (the receiving instance checks)", (q, reply))
    for ws in (x1, x2, y1, y2):
        await ws.close()


async def t_turn(redis):
    """The same --turn-secret-file and --turn-uri on every instance: each welcome carries
    TURN REST credentials that coturn would accept, whichever instance minted them."""
    turn_secret = os.path.join(tmp, "turn.secret")
    with open(turn_secret, "w") as f:
        f.write("cluster-turn-secret-0123456789abcdef\n")
    uris = ["turn:192.0.2.1:3478?transport=udp", "turn:198.51.100.1:3478?transport=tcp"]
    extra = ["--turn-secret-file", turn_secret]
    for u in uris:
        extra += ["--turn-uri", u]
    insts = []
    try:
        for n in ("turn1", "turn2"):
            insts.append(punch_redis.Instance(SIGNAL, redis.url(), SECRET, log_dir=tmp, name=n,
                                              extra=extra))
        for i in insts:
            i.wait_redis()
        a, wa = await join(insts[0].url, "turnroom")
        b, wb = await join(insts[1].url, "turnroom")
        ok = wb.get("peers") == [wa["id"]]
        for w in (wa, wb):
            servers = w.get("ice_servers", [])
            ok = ok and len(servers) == 2
            for srv in servers:
                user, cred = srv.get("username", ""), srv.get("credential", "")
                mac = base64.b64encode(hmac.new(b"cluster-turn-secret-0123456789abcdef",
                                                user.encode(), hashlib.sha1).digest()).decode()
                ok = ok and user.endswith(":" + w["id"]) and cred == mac
        check(ok, "both instances hand out both TURN servers with REST credentials made from "
              "the shared secret (username <expiry>:<peer id>)", (wa, wb))
        await a.close()
        await b.close()
    finally:
        for i in insts:
            i.stop()


async def t_slow_remote(redis):
    """A peer that does not read, on another instance than its sender: its own instance
    closes it (--max-queue), and the sender sees it leave."""
    if os.environ.get("PUNCH_SIGNAL_VALGRIND"):
        # under valgrind the sender's instance needs seconds per big message: it stalls
        # past its heartbeat before the receiver's queue fills
        results.append(True)
        print("ok %d - a peer that does not read, on another instance # SKIP under valgrind"
              % len(results))
        return
    extra = ["--max-queue", "200000", "--rate-limit", "50"]
    insts = [punch_redis.Instance(SIGNAL, redis.url(), SECRET, log_dir=tmp, name=n, extra=extra)
             for n in ("slow1", "slow2")]
    try:
        for i in insts:
            i.wait_redis()
        ws = await websockets.connect(insts[0].url, max_queue=1, read_limit=1024)
        await ws.send(json.dumps({"type": "hello", "version": 1, "room": "slow",
                                  "token": token("slow")}))
        wa = await recv_json(ws)
        b, wb = await join(insts[1].url, "slow")
        big = json.dumps({"type": "description", "description": {
            "ufrag": "abcd", "pwd": "a" * 22, "candidates": [CAND] * 200}})
        got = None
        for _ in range(150):
            await b.send(big)
            try:
                m = await asyncio.wait_for(b.recv(), 0.03)
                if json.loads(m).get("type") == "peer-left":
                    got = json.loads(m)
                    break
            except asyncio.TimeoutError:
                pass
        deadline = time.monotonic() + 20  # it is dropped 3 s after its close frame
        while got is None and time.monotonic() < deadline:
            try:
                m = await recv_json(b, max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if m.get("type") == "peer-left":
                got = m
        check(got == {"type": "peer-left", "id": wa["id"]}
              and "--max-queue" in insts[0].logtext(),
              "a peer that does not read, sent to from another instance: closed by its own "
              "instance (--max-queue), the sender gets peer-left", got)
        await b.close()
        ws.transport.abort()
    finally:
        for i in insts:
            i.stop()


async def t_password():
    redis = punch_redis.RedisServer(unix=False, password="s3cret-redis-pass-0123456789")
    pwfile = os.path.join(tmp, "redis.pw")
    with open(pwfile, "w") as f:
        f.write(redis.password + "\n")
    good = bad = None
    try:
        good = punch_redis.Instance(SIGNAL, redis.url(password=""), SECRET, log_dir=tmp,
                                    name="pw-good", extra=["--redis-password-file", pwfile])
        bad = punch_redis.Instance(SIGNAL, redis.url(password="wrong-password-0123456789"),
                                   SECRET, log_dir=tmp, name="pw-bad")
        up = good.wait_redis("up", 10)
        a, w = await join(good.url, "pw")
        check(up and w["type"] == "welcome",
              "redis://127.0.0.1:PORT with --redis-password-file (requirepass): joins work", w)
        time.sleep(1)
        b, e = await join(bad.url, "pw")
        check(bad.healthz().get("redis") == "down" and e.get("code") == "unavailable"
              and "AUTH failed" in bad.logtext(),
              "a wrong password: /healthz says redis down, joins get `unavailable`, the log "
              "says AUTH failed", (e, bad.logtext()[-600:]))
        ours = "\n".join(line for line in (good.logtext() + bad.logtext()).splitlines()
                         if line.startswith("punch-signal"))  # not valgrind's banner
        check("s3cret-redis" not in ours and "wrong-password" not in ours and "AUTH" in ours,
              "no password in the logs")
        await a.close()
        await b.close()
    finally:
        rcs = [i.stop() for i in (good, bad) if i]
        redis.cleanup()
    check(rcs == [0, 0], "both exit 0 on SIGTERM, with Redis and without (got %s)" % rcs)


async def t_redis_restart(i1, i2, redis):
    r1, wr1 = await join(i1.url, "span")
    r2, wr2 = await join(i2.url, "span")
    await recv_json(r1)
    l1, wl1 = await join(i1.url, "local")
    l2, wl2 = await join(i1.url, "local")
    await recv_json(l1)

    redis.kill()
    down = i1.wait_redis("down", 10) and i2.wait_redis("down", 10)
    n, e = await join(i1.url, "newroom")
    check(down and e.get("type") == "error" and e.get("code") == "unavailable"
          and "unreachable" in i1.logtext(),
          "Redis killed: joins fail with `unavailable`, the log says why", e)
    await n.close()
    await l2.send(json.dumps({"type": "candidate", "candidate": CAND}))
    m = await recv_json(l1)
    check(m.get("from") == wl2["id"], "a room whose peers are all on one instance keeps relaying",
          m)
    await r2.send(json.dumps({"type": "candidate", "candidate": CAND}))
    m = await recv_json(r2)
    check(m.get("type") == "error" and m.get("code") == "unavailable",
          "a message to a peer on the other instance is reported undelivered (`unavailable`)",
          m)

    redis.start()
    up = i1.wait_redis("up", 15) and i2.wait_redis("up", 15)
    check(up, "Redis restarted: both instances reconnect (backoff)",
          i1.logtext()[-1500:])
    n1, w1 = await join(i1.url, "afterwards")
    n2, w2 = await join(i2.url, "afterwards")
    ok = w1["type"] == "welcome" and w2.get("peers") == [w1["id"]]
    if ok:
        await n2.send(json.dumps({"type": "candidate", "candidate": CAND}))
        await recv_json(n1)  # peer-joined
        ok = (await recv_json(n1)).get("from") == w2["id"]
    check(ok, "after the restart, new joins across instances work", (w1, w2))
    await r2.send(json.dumps({"type": "candidate", "candidate": CAND}))
    m = await recv_json(r1)
    check(m.get("from") == wr2["id"],
          "the room spanning both instances was put back into Redis and relays again", m)
    members = redis.command("LRANGE", "punch:room:span", "0", "-1")
    check(wr1["id"].encode() in members and wr2["id"].encode() in members,
          "Redis has both members of that room again", members)
    for ws in (r1, r2, l1, l2, n1, n2):
        await ws.close()


async def t_redis_hung(i1, i2, redis):
    """redis-server stopped (SIGSTOP): no error, no reply. After 5 s without one the
    instances give up on it, joins get `unavailable`; after SIGCONT they are back."""
    t0 = time.monotonic()
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        down = i1.wait_redis("down", 15) and i2.wait_redis("down", 15)
        took = time.monotonic() - t0
        n, e = await join(i2.url, "hung")
        await n.close()
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    check(down and 4 <= took < 10 and e.get("code") == "unavailable"
          and "no reply within 5 s" in i1.logtext(),
          "Redis hung (SIGSTOP): both instances give up on it after 5 s without a reply "
          "(%.1f s), joins get `unavailable`" % took, e)
    up = i1.wait_redis("up", 15) and i2.wait_redis("up", 15)
    a, wa = await join(i1.url, "unhung")
    b, wb = await join(i2.url, "unhung")
    check(up and wb.get("peers") == [wa["id"]], "after SIGCONT they reconnect and joins work",
          (wa, wb))
    await a.close()
    await b.close()


async def t_instance_stopped(i2, redis):
    """SIGTERM: its peers leave at once. SIGSTOP for longer than the heartbeat's 4 s: taken
    for dead; after SIGCONT it puts its peers back, or closes the one whose room filled."""
    i3 = punch_redis.Instance(SIGNAL, redis.url(), SECRET, log_dir=tmp, name="i3")
    i3.wait_redis()
    a, wa = await join(i3.url, "term")
    b, wb = await join(i2.url, "term")
    await recv_json(a)
    t0 = time.monotonic()
    rc = i3.stop()
    m = await recv_json(b, 5)
    took = time.monotonic() - t0
    check(rc == 0 and m == {"type": "peer-left", "id": wa["id"]} and took < 2,
          "an instance stopped with SIGTERM: its peers leave their rooms at once (%.2f s)" % took,
          m)
    await a.close()
    await b.close()

    i4 = punch_redis.Instance(SIGNAL, redis.url(), SECRET, log_dir=tmp, name="i4")
    try:
        i4.wait_redis()
        a, wa = await join(i4.url, "stall")    # will lose its place
        b, wb = await join(i2.url, "stall")
        d, wd = await join(i4.url, "stall2")   # will be put back
        e, we = await join(i2.url, "stall2")
        await recv_json(a)
        await recv_json(d)
        i4.proc.send_signal(signal.SIGSTOP)
        try:
            left = [await recv_json(b, 12), await recv_json(e, 12)]
            c, wc = await join(i2.url, "stall")  # takes a's place
        finally:
            i4.proc.send_signal(signal.SIGCONT)
        check(left == [{"type": "peer-left", "id": wa["id"]}, {"type": "peer-left", "id": wd["id"]}]
              and wc.get("peers") == [wb["id"]],
              "an instance stalled (SIGSTOP) past its heartbeat is taken for dead", (left, wc))
        back = await recv_json(e, 12)
        check(back == {"type": "peer-joined", "id": wd["id"]},
              "after SIGCONT it puts its peers back: peer-joined again", back)
        err = await recv_json(a, 12)
        try:
            await asyncio.wait_for(a.recv(), 5)
            code = None
        except websockets.exceptions.ConnectionClosed as ex:
            code = ex.rcvd.code if ex.rcvd else None
        check(err.get("code") == "unavailable" and code == 1001,
              "the peer whose room filled meanwhile gets `unavailable` and a 1001 close",
              (err, code))
        await d.send(json.dumps({"type": "candidate", "candidate": CAND}))
        m = await recv_json(e)
        check(m.get("from") == wd["id"], "the room put back relays again", m)
        for ws in (b, c, d, e):
            await ws.close()
    finally:
        i4.proc.send_signal(signal.SIGCONT)
        check(i4.stop() == 0, "the stalled instance still exits 0 on SIGTERM")


async def t_instance_killed(i1, i2):
    a, wa = await join(i1.url, "victim")
    b, wb = await join(i2.url, "victim")
    await recv_json(a)
    t0 = time.monotonic()
    i1.kill()
    try:
        m = await recv_json(b, 15)
    except asyncio.TimeoutError:
        m = None
    took = time.monotonic() - t0
    check(m == {"type": "peer-left", "id": wa["id"]} and took < 10,
          "instance SIGKILLed: the peer on the other one gets peer-left (%.1f s)" % took, m)
    c, wc = await join(i2.url, "victim")
    check(wc["type"] == "welcome" and wc["peers"] == [wb["id"]],
          "the dead instance's place in the room is free again", wc)
    check("stopped sending heartbeats" in i2.logtext(), "the log names the dead instance")
    await b.close()
    await c.close()


async def main():
    redis = punch_redis.RedisServer(unix=True)
    i1 = i2 = None
    try:
        i1 = punch_redis.Instance(SIGNAL, redis.url(), SECRET, log_dir=tmp, name="i1")
        i2 = punch_redis.Instance(SIGNAL, redis.url(), SECRET, log_dir=tmp, name="i2")
        check(i1.wait_redis() and i2.wait_redis(),
              "two instances connect to redis-server on a Unix socket", i1.logtext())
        h1, h2 = i1.healthz(), i2.healthz()
        check(h1["instance"] != h2["instance"], "each instance has its own id", (h1, h2))
        for name, fn in (("meet", lambda: t_meet(i1, i2)),
                         ("race", lambda: t_race(i1, i2)),
                         ("cross-room", lambda: t_cross_room(i1, i2, redis)),
                         ("turn", lambda: t_turn(redis)),
                         ("password", t_password),
                         ("slow", lambda: t_slow_remote(redis)),
                         ("redis restart", lambda: t_redis_restart(i1, i2, redis)),
                         ("redis hung", lambda: t_redis_hung(i1, i2, redis))):
            try:
                await asyncio.wait_for(fn(), 90)
            except Exception as e:  # an unexpected error in a step
                check(False, f"{name}: {type(e).__name__}: {e}")
        connect_pair(i1, i2)
        try:
            await asyncio.wait_for(t_instance_stopped(i2, redis), 90)
        except Exception as e:
            check(False, f"instance stopped: {type(e).__name__}: {e}")
        try:
            await asyncio.wait_for(t_instance_killed(i1, i2), 60)
        except Exception as e:
            check(False, f"instance killed: {type(e).__name__}: {e}")
        check(i2.proc.poll() is None, "the surviving instance is still up")
    finally:
        rcs = [i.stop() for i in (i1, i2) if i]
        redis.cleanup()
    check(rcs[-1] == 0, "the surviving instance exits 0 on SIGTERM (got %s)" % rcs[-1:])
    print("1..%d" % len(results))
    if all(results):
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("# logs kept in " + tmp)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
