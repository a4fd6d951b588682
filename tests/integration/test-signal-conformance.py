#!/usr/bin/python3
# test-signal-conformance.py: punch-signal against a WebSocket client not written here
# (python3-websockets) and raw sockets: the protocol, then bad input. TAP output.
#
# The server must answer every bad message with an `error` (and keep the
# connection), close abusers with 1008/1009, never relay across rooms, and
# still answer /healthz at the end.
#
# With --cluster, every server runs in cluster mode (--redis) against a
# redis-server of its own on a Unix socket, started and stopped (by PID) here.
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
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

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
BINARY = os.path.join(BUILD, "signaling", "punch-signal")
SECRET = b"conformance-secret-0123456789abcdef"
CLUSTER = "--cluster" in sys.argv[1:]
REDIS = None  # the punch_redis.RedisServer of --cluster
CAND = "candidate:1 1 UDP 2130706431 127.0.0.1 40001 typ host"

results = []


def token(room, ttl=60, secret=SECRET, expiry=None):
    expiry = expiry if expiry is not None else int(time.time()) + ttl
    payload = f"{expiry}:{room}"
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return payload + ":" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class Server:
    """punch-signal on 127.0.0.1, port 0; stopped by its own PID."""

    def __init__(self, *extra, secret=True, prefix=()):
        self.dir = tempfile.mkdtemp(prefix="punch-signal-conf-")
        self.log_path = os.path.join(self.dir, "log")
        args = [BINARY, "--listen", "127.0.0.1:0"]
        if os.environ.get("PUNCH_SIGNAL_VALGRIND"):
            # e.g. PUNCH_SIGNAL_VALGRIND=1: the server under valgrind; errors fail its exit status
            supp = os.path.join(os.environ.get("PUNCH_SOURCE_DIR", "."), "tests", "valgrind.supp")
            args = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                    "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                    f"--suppressions={supp}", "--num-callers=30"] + args
        args = list(prefix) + args  # e.g. prlimit --nofile=N:N (which execs the server)
        if secret:
            path = os.path.join(self.dir, "secret")
            with open(path, "wb") as f:
                f.write(SECRET + b"\n")
            args += ["--secret-file", path]
        else:
            args += ["--insecure-no-auth"]
        args += list(extra)
        if REDIS:
            args += ["--redis", REDIS.url()]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"punch-signal did not start: {line!r}")
        self.url = line[len("listening on "):]
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        deadline = time.monotonic() + 10
        while REDIS and self.healthz()[1].get("redis") != "up" and time.monotonic() < deadline:
            time.sleep(0.05)

    def healthz(self):
        scheme = "https" if self.url.startswith("wss") else "http"
        ctx = ssl._create_unverified_context() if scheme == "https" else None
        with urllib.request.urlopen(f"{scheme}://127.0.0.1:{self.port}/healthz", timeout=5,
                                    context=ctx) as r:
            return r.status, json.loads(r.read())

    def alive(self):
        return self.proc.poll() is None

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.final_log = self.logtext()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.proc.returncode != 0:
            print("\n".join("# " + line for line in self.final_log.splitlines()
                             if "punch-signal-Message" not in line)[-6000:])
        return self.proc.returncode


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def join(url, room, tok=None, **kw):
    ws = await websockets.connect(url, **kw)
    hello = {"type": "hello", "version": 1, "room": room}
    if tok is not None:
        hello["token"] = tok
    await ws.send(json.dumps(hello))
    return ws, await recv_json(ws)


async def expect_close(ws, timeout=10):
    """Waits for the server to close; returns the close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.exceptions.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None


async def quiet(ws, seconds=0.3):
    """True when nothing arrives within @seconds."""
    try:
        msg = await asyncio.wait_for(ws.recv(), seconds)
        return msg is None
    except asyncio.TimeoutError:
        return True


# ---- the tests (each returns None or raises AssertionError) ----

async def t_healthz(s):
    status, body = s.healthz()
    assert status == 200 and body["status"] == "ok", body
    if REDIS:
        assert body["redis"] == "up" and body["instance"], body


async def t_welcome(s):
    a, w = await join(s.url, "conf", token("conf"))
    assert w["type"] == "welcome" and w["version"] == 1, w
    assert w["peers"] == [] and isinstance(w["ice_servers"], list), w
    b, w2 = await join(s.url, "conf", token("conf"))
    assert w2["peers"] == [w["id"]], w2
    j = await recv_json(a)
    assert j == {"type": "peer-joined", "id": w2["id"]}, j
    # relayed with `from` stamped over what the client claimed, unknown fields dropped
    await b.send(json.dumps({"type": "candidate", "candidate": CAND, "from": "mallory",
                             "x-extra": {"evil": 1}}))
    m = await recv_json(a)
    assert m == {"type": "candidate", "from": w2["id"], "candidate": CAND}, m
    await b.close()
    m = await recv_json(a)
    assert m == {"type": "peer-left", "id": w2["id"]}, m
    await a.close()


async def t_bad_json_keeps_connection(s):
    a, w = await join(s.url, "badjson", token("badjson"))
    for text, code in [("not json", "bad-json"), ("[1]", "bad-json"),
                       ('{"type":"nope"}', "unknown-type"),
                       ('{"type":"candidate"}', "missing-field"),
                       ('{"type":"candidate","candidate":7}', "bad-field")]:
        await a.send(text)
        e = await recv_json(a)
        assert e["type"] == "error" and e["code"] == code, (text, e)
        assert e["message"], e
        if code == "unknown-type":
            # still open after 3 errors (5 strikes close): a valid message still works
            await a.send(json.dumps({"type": "candidate", "candidate": CAND}))
            e = await recv_json(a)
            assert e["code"] == "no-peer", e
            await a.close()
            a, w = await join(s.url, "badjson", token("badjson"))
    await a.send(b"\x00\x01binary")
    e = await recv_json(a)
    assert e["code"] == "bad-json", e
    await a.close()


async def t_strikes_close_1008(s):
    a, _ = await join(s.url, "strikes", token("strikes"))
    for _ in range(5):
        await a.send("{")
    code = await expect_close(a)
    assert code == 1008, code


async def t_oversize_frame_1009(s):
    a, _ = await join(s.url, "big", token("big"))
    try:
        await a.send("x" * (70 * 1024))
    except websockets.exceptions.ConnectionClosed:
        pass
    code = await expect_close(a)
    assert code == 1009, code


async def t_fragmented_oversize_1009(s):
    a, _ = await join(s.url, "frag", token("frag"))
    try:
        await a.send(("y" * 30000 for _ in range(8)))  # 240 kB in 64 kB-legal fragments
    except websockets.exceptions.ConnectionClosed:
        pass
    code = await expect_close(a)
    assert code == 1009, code


async def t_flood(s):
    a, _ = await join(s.url, "flood", token("flood"))
    b, wb = await join(s.url, "flood", token("flood"))
    await recv_json(a)  # peer-joined
    limited = False
    code = None
    try:
        for i in range(2000):
            await b.send(json.dumps({"type": "candidate", "candidate": CAND}))
    except websockets.exceptions.ConnectionClosed as e:
        code = e.rcvd.code if e.rcvd else None
    # the close frame comes at once; the connection ends when this client
    # answers it or when libsoup's 5 s close timeout runs out (whole seconds)
    try:
        while True:
            m = await recv_json(b, 10)
            if m.get("code") == "rate-limited":
                limited = True
    except websockets.exceptions.ConnectionClosed as e:
        code = e.rcvd.code if e.rcvd else code
    except asyncio.TimeoutError:
        pass
    assert limited, "no rate-limited error"
    assert code == 1008, code
    # the peer got at most the burst (60) plus what trickled in at 20/s
    got = 0
    try:
        while True:
            m = await recv_json(a, 0.5)
            if m["type"] == "candidate":
                got += 1
    except asyncio.TimeoutError:
        pass
    assert 0 < got <= 120, got
    await a.close()


async def t_ping_flood(s):
    sock = raw_ws(s.port)
    sock.sendall(frame(9, b"ping") * 2000)
    code = close_code_of(sock)
    assert code == 1008, code


async def t_bad_tokens(s):
    now = int(time.time())
    cases = [(None, "bad-token"), ("garbage", "bad-token"),
             (token("vault", secret=b"other secret"), "bad-token"),
             (token("vault", expiry=now - 1), "token-expired"),
             (token("elsewhere"), "wrong-room"),
             (token("vault")[:-1] + ("A" if token("vault")[-1] != "A" else "B"), "bad-token")]
    for tok, code in cases:
        ws, m = await join(s.url, "vault", tok)
        assert m["type"] == "error" and m["code"] == code, (tok, m)
        await ws.close()
    ws, m = await join(s.url, "vault", token("vault"))
    assert m["type"] == "welcome", m
    await ws.close()


async def t_third_peer(s):
    a, _ = await join(s.url, "trio", token("trio"))
    b, _ = await join(s.url, "trio", token("trio"))
    c, m = await join(s.url, "trio", token("trio"))
    assert m["type"] == "error" and m["code"] == "room-full", m
    j = await recv_json(a)
    assert j["type"] == "peer-joined", j
    assert await quiet(a), "the refused peer was announced"
    # the refused connection cannot relay into the room either
    await c.send(json.dumps({"type": "candidate", "candidate": CAND}))
    e = await recv_json(c)
    assert e["code"] == "not-joined", e
    assert await quiet(a) and await quiet(b), "a refused peer reached the room"
    for ws in (a, b, c):
        await ws.close()


async def t_resume(s):
    a, wa = await join(s.url, "back", token("back"))
    b, wb = await join(s.url, "back", token("back"))
    assert (await recv_json(a))["type"] == "peer-joined"
    assert len(wa.get("resume", "")) == 32, wa
    # a wrong secret is an ordinary join: the room is full
    c, m = await join_resume(s.url, "back", token("back"), "0" * 32)
    assert m["type"] == "error" and m["code"] == "room-full", m
    await c.close()
    # a new connection with a's secret: a's id and place, the old one closed
    a2, w2 = await join_resume(s.url, "back", token("back"), wa["resume"])
    assert w2["type"] == "welcome" and w2["id"] == wa["id"], w2
    assert w2["peers"] == [wb["id"]], w2
    assert w2["resume"] != wa["resume"], "the secret was not renewed"
    assert await expect_close(a) == 1001
    assert await quiet(b, 0.5), "b was told of the takeover"
    await a2.send(json.dumps({"type": "bye", "to": wb["id"]}))
    m = await recv_json(b)
    assert m["type"] == "bye" and m["from"] == wa["id"], m
    # the old secret is spent
    d, m = await join_resume(s.url, "back", token("back"), wa["resume"])
    assert m["type"] == "error" and m["code"] == "room-full", m
    for ws in (a2, b, d):
        await ws.close()


async def join_resume(url, room, tok, secret):
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "hello", "version": 1, "room": room, "token": tok,
                              "resume": secret}))
    return ws, await recv_json(ws)


async def t_cross_room(s):
    a, wa = await join(s.url, "room-a", token("room-a"))
    b, wb = await join(s.url, "room-b", token("room-b"))
    # by id, by room name, by stuffing extra routing fields: nothing crosses
    for msg in [{"type": "candidate", "candidate": CAND, "to": wb["id"]},
                {"type": "candidate", "candidate": CAND, "room": "room-b"},
                {"type": "bye", "to": wb["id"], "room": "room-b"}]:
        await a.send(json.dumps(msg))
        e = await recv_json(a)
        assert e["type"] == "error" and e["code"] in ("unknown-peer", "no-peer"), e
    # a second hello to switch rooms is refused
    await a.send(json.dumps({"type": "hello", "version": 1, "room": "room-b",
                             "token": token("room-b")}))
    e = await recv_json(a)
    assert e["code"] == "unexpected", e
    assert await quiet(b, 0.5), "a message crossed rooms"
    await a.close()
    await b.close()


async def t_order_large_then_small(s):
    """A large description (handled from the server's backlog) and the small
    candidates behind it, all in one TCP write, arrive in the order sent."""
    a, wa = await join(s.url, "conf-order", token("conf-order"))
    b = raw_ws(s.port)
    try:
        hello = {"type": "hello", "version": 1, "room": "conf-order", "token": token("conf-order")}
        b.sendall(frame(1, json.dumps(hello).encode()))
        j = await recv_json(a)
        assert j["type"] == "peer-joined", j
        cands = [f"candidate:{i} 1 UDP 2130706431 127.0.0.1 {41000 + i} typ host"
                 for i in range(100)]
        desc = {"ufrag": "abcd", "pwd": "p" * 24, "candidates": cands, "end-of-candidates": False}
        sent = [{"type": "description", "to": wa["id"], "description": desc}]
        sent += [{"type": "candidate", "to": wa["id"],
                  "candidate": CAND.replace("40001", str(40100 + i))} for i in range(5)]
        sent += [{"type": "end-of-candidates", "to": wa["id"]}]
        assert len(json.dumps(sent[0])) > 4096  # large enough to wait for its turn
        for twice in range(2):
            b.sendall(b"".join(frame(1, json.dumps(m).encode()) for m in sent))
            got = [await recv_json(a) for _ in sent]
            assert [m["type"] for m in got] == [m["type"] for m in sent], \
                [m["type"] for m in got]
            assert len(got[0]["description"]["candidates"]) == 100
            assert [m.get("candidate") for m in got[1:6]] == [m["candidate"] for m in sent[1:6]]
    finally:
        b.close()
        await a.close()


async def t_before_hello(s):
    ws = await websockets.connect(s.url)
    await ws.send(json.dumps({"type": "candidate", "candidate": CAND}))
    e = await recv_json(ws)
    assert e["code"] == "not-joined", e
    await ws.send(json.dumps({"type": "hello", "version": 2, "room": "v"}))
    e = await recv_json(ws)
    assert e["code"] == "unsupported-version", e
    await ws.send(json.dumps({"type": "welcome", "version": 1, "id": "x"}))
    e = await recv_json(ws)
    assert e["code"] == "unexpected", e
    await ws.close()


async def t_hello_timeout(s):
    ws = await websockets.connect(s.url)
    t0 = time.monotonic()
    code = await expect_close(ws, 10)
    assert code == 1008, code
    assert time.monotonic() - t0 < 5, "hello deadline not enforced in time"


# ---- raw sockets: what a library would not send ----

def raw_ws(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:100]
    return sock


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def close_code_of(sock, timeout=8):
    """Reads until the server's close frame; returns its code (None on EOF without one)."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2:
                op, n = buf[0] & 0x0f, buf[1] & 0x7f
                at = 2
                if n == 126:
                    n, at = struct.unpack("!H", buf[2:4])[0], 4
                elif n == 127:
                    n, at = struct.unpack("!Q", buf[2:10])[0], 10
                if len(buf) < at + n:
                    break
                payload, buf = buf[at:at + n], buf[at + n:]
                if op == 8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
    except socket.timeout:
        return "timeout"
    finally:
        sock.close()
    return None


async def t_raw_frames(s):
    cases = [
        ("unmasked frame", frame(1, b'{"type":"bye"}', mask=False), 1002),
        ("invalid UTF-8 text", frame(1, b'{"type":"\xff"}'), 1007),
        ("reserved bits", frame(1, b"{}", rsv=0x40), 1002),
        ("unknown opcode", frame(3, b"x"), 1002),
        ("fragmented ping", frame(9, b"p", fin=False), 1002),
        ("continuation first", frame(0, b"x"), 1002),
        ("64-bit length 2^62", struct.pack("!BBQ", 0x81, 0xff, 1 << 62) + os.urandom(4), 1009),
    ]
    for name, data, want in cases:
        sock = raw_ws(s.port)
        sock.sendall(data)
        got = close_code_of(sock)
        assert got == want, f"{name}: close {got}, expected {want}"


async def t_raw_http(s):
    for req in [b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n",  # no upgrade
                b"GARBAGE\r\n\r\n",
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n",   # no key
                b"\x16\x03\x01\x00\x05hello"]:           # TLS on a plain port
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        sock.sendall(req)
        try:
            data = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
        sock.close()
        assert not data.startswith(b"HTTP/1.1 101"), (req, data[:80])
    # many half-open handshakes, then gone
    socks = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(50)]
    for x in socks:
        x.sendall(b"GET /ws HTTP/1.1\r\n")
        x.close()


async def t_max_connections(_):
    s = Server("--max-connections", "3", secret=False)
    try:
        held = [await websockets.connect(s.url) for _ in range(3)]
        try:
            await websockets.connect(s.url)
            raise AssertionError("a fourth connection was accepted")
        except websockets.exceptions.InvalidStatusCode as e:
            assert e.status_code == 503, e.status_code
        for ws in held:
            await ws.close()
        await asyncio.sleep(0.2)
        ws = await websockets.connect(s.url)  # room again
        await ws.close()
    finally:
        assert s.stop() == 0


async def t_wss(_):
    certtool = shutil.which("certtool")
    if certtool is None:
        return "SKIP certtool is not installed"
    d = tempfile.mkdtemp(prefix="punch-signal-wss-")
    try:
        tmpl, key, cert = (os.path.join(d, n) for n in ("t", "key.pem", "cert.pem"))
        with open(tmpl, "w") as f:
            f.write("cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\n"
                    "expiration_days = 2\nca\nsigning_key\nencryption_key\ntls_www_server\n")
        subprocess.run([certtool, "--generate-privkey", "--key-type=ecdsa", "--outfile", key],
                       check=True, capture_output=True)
        subprocess.run([certtool, "--generate-self-signed", "--load-privkey", key, "--template",
                        tmpl, "--outfile", cert], check=True, capture_output=True)
        s = Server("--tls-cert", cert, "--tls-key", key)
        try:
            assert s.url.startswith("wss://"), s.url
            ctx = ssl.create_default_context(cafile=cert)
            a, w = await join(s.url, "tls", token("tls"), ssl=ctx)
            assert w["type"] == "welcome", w
            await a.close()
            try:
                await websockets.connect(s.url, ssl=ssl.create_default_context())
                raise AssertionError("an unknown certificate was trusted")
            except ssl.SSLCertVerificationError:
                pass
            # plain HTTP on the TLS port does not upgrade
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = sock.recv(100)
            except (ConnectionResetError, socket.timeout):
                data = b""
            sock.close()
            assert b"101" not in data, data
            assert s.healthz()[0] == 200
        finally:
            assert s.stop() == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


TESTS = [
    ("healthz answers 200", t_healthz),
    ("welcome, peer-joined, relayed with from, peer-left", t_welcome),
    ("malformed JSON, unknown type, missing field: error, connection stays", t_bad_json_keeps_connection),
    ("repeated protocol errors close with 1008", t_strikes_close_1008),
    ("a 70 KiB frame closes with 1009", t_oversize_frame_1009),
    ("a fragmented 240 KB message closes with 1009", t_fragmented_oversize_1009),
    ("a message flood is rate-limited, then closed with 1008", t_flood),
    ("a ping flood is closed with 1008", t_ping_flood),
    ("forged, expired, wrong-room and missing tokens are refused", t_bad_tokens),
    ("a third peer is refused with room-full", t_third_peer),
    ("a peer comes back on a new connection with its resume secret", t_resume),
    ("nothing reaches another room", t_cross_room),
    ("a large message and the small ones behind it keep their order", t_order_large_then_small),
    ("messages before hello, wrong version, server-only types", t_before_hello),
    ("no hello within --hello-timeout closes with 1008", t_hello_timeout),
    ("malformed frames close with the right code", t_raw_frames),
    ("malformed HTTP never upgrades", t_raw_http),
    ("--max-connections answers 503", t_max_connections),
    ("wss with a self-signed certificate", t_wss),
]


async def main():
    global REDIS
    if CLUSTER:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import punch_redis
        if not punch_redis.have_redis():
            print("1..0 # SKIP redis-server is not installed (apt install redis-server)")
            return 0
        REDIS = punch_redis.RedisServer(unix=True)
    try:
        return await run_all()
    finally:
        if REDIS:
            REDIS.cleanup()


async def run_all():
    server = Server("--hello-timeout", "2", "--keepalive", "5")
    failed = 0
    print(f"1..{len(TESTS) + 3}")
    try:
        for i, (name, fn) in enumerate(TESTS, 1):
            try:
                skip = await asyncio.wait_for(fn(server), 60)
                if isinstance(skip, str) and skip.startswith("SKIP"):
                    print(f"ok {i} - {name} # {skip}")
                else:
                    print(f"ok {i} - {name}")
            except Exception as e:  # a failed assertion or an unexpected error
                failed += 1
                print(f"not ok {i} - {name}")
                print(f"# {type(e).__name__}: {e}")
            sys.stdout.flush()
        n = len(TESTS)
        # after all of that: still up, and every connection gone
        ok = server.alive() and server.healthz()[0] == 200
        print(f"{'ok' if ok else 'not ok'} {n + 1} - the server is still up and healthy")
        failed += 0 if ok else 1
        deadline = time.monotonic() + 12
        body = server.healthz()[1]
        while body["connections"] and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            body = server.healthz()[1]
        ok = body["connections"] == 0 and body["rooms"] == 0
        print(f"{'ok' if ok else 'not ok'} {n + 2} - every connection and room is released")
        if not ok:
            print(f"# healthz: {body}")
        failed += 0 if ok else 1
    finally:
        rc = server.stop()
    ok = rc == 0
    print(f"{'ok' if ok else 'not ok'} {len(TESTS) + 3} - SIGTERM: exit status 0 (got {rc})")
    if os.environ.get("PUNCH_KEEP_SIGNAL_LOG"):
        print("\n".join("# " + line for line in server.final_log.splitlines()))
    failed += 0 if ok else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
