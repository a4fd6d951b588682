#!/usr/bin/env python3
"""natprobe - tiny UDP/TCP probes for punch's NAT lab (tests/lab/natlab).

Run inside a lab namespace (natlab exec SITE python3 natprobe.py ...).
Only the standard library is used.  The STUN part is a minimal RFC 5389
Binding client: enough to learn the mapped (server-reflexive) address.

  natprobe.py mapped SERVER[:PORT]
      Send a Binding request from a fresh socket, print
      "local IP:PORT mapped IP:PORT"; exit 1 on timeout.
  natprobe.py mapping SERVER1[:PORT] SERVER2[:PORT]
      From ONE socket, ask both servers; print both mapped addresses and
      "EIM" when they are equal (endpoint-independent mapping), else "ADM".
  natprobe.py recv SERVER[:PORT] [--timeout S]
      Learn this socket's mapping, print "mapped IP:PORT" (flushed), then
      wait for one datagram on the same socket: "got FROM_IP:PORT PAYLOAD"
      (exit 0) or "timeout" (exit 1).
  natprobe.py send SERVER[:PORT] TARGET_IP:PORT
      Learn this socket's mapping, print "mapped IP:PORT", then send a few
      datagrams "hello-from-IP:PORT" to TARGET from the same socket.
  natprobe.py tcp HOST PORT
      TCP connect; exit 0 when it succeeds within 2 s.
  natprobe.py syn HOST PORT
      TCP connect; print "tcp ok", "tcp refused" (an RST came back) or
      "tcp timeout" (nothing within 2 s); exit 0 in every case.
  natprobe.py tcpmapping SERVER1[:PORT] SERVER2[:PORT]
      From ONE local port (two TCP sockets with SO_REUSEADDR and
      SO_REUSEPORT), a Binding request over TCP to each server; print
      "local PORT mapped A via S1, B via S2: EIM|ADM, port kept|changed"
      (EIM when A equals B); exit 1 when a server does not answer.
"""

import os
import socket
import struct
import sys
import time

MAGIC = 0x2112A442


def hostport(text, default_port=3478):
    host, _, port = text.partition(":")
    return host, int(port) if port else default_port


def stun_mapped(sock, server, tries=4, rto=0.3):
    """Binding request on sock; return (ip, port) from XOR-MAPPED-ADDRESS."""
    txid = os.urandom(12)
    req = struct.pack("!HHI", 0x0001, 0, MAGIC) + txid
    for _ in range(tries):
        sock.sendto(req, server)
        sock.settimeout(rto)
        deadline = time.monotonic() + rto
        while time.monotonic() < deadline:
            try:
                data, _src = sock.recvfrom(2048)
            except socket.timeout:
                break
            if len(data) < 20 or data[8:20] != txid:
                continue
            return parse_mapped(data)
        rto *= 2
    return None


def parse_mapped(msg):
    pos = 20
    end = 20 + struct.unpack("!H", msg[2:4])[0]
    fallback = None
    while pos + 4 <= end:
        atype, alen = struct.unpack("!HH", msg[pos:pos + 4])
        val = msg[pos + 4:pos + 4 + alen]
        if atype in (0x0020, 0x8020) and len(val) >= 8 and val[1] == 1:
            port = struct.unpack("!H", val[2:4])[0] ^ (MAGIC >> 16)
            addr = struct.unpack("!I", val[4:8])[0] ^ MAGIC
            return socket.inet_ntoa(struct.pack("!I", addr)), port
        if atype == 0x0001 and len(val) >= 8 and val[1] == 1:
            fallback = (socket.inet_ntoa(val[4:8]),
                        struct.unpack("!H", val[2:4])[0])
        pos += 4 + alen + (-alen % 4)
    return fallback


def stun_mapped_tcp(server, port):
    """Binding request over TCP from local port (0: any); return (port, mapped)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("0.0.0.0", port))
    sock.settimeout(2)
    try:
        sock.connect(server)
        txid = os.urandom(12)
        sock.sendall(struct.pack("!HHI", 0x0001, 0, MAGIC) + txid)
        data = b""
        while len(data) < 20 or len(data) < 20 + struct.unpack("!H", data[2:4])[0]:
            chunk = sock.recv(2048)
            if not chunk:
                return sock.getsockname()[1], None, sock
            data += chunk
        if data[8:20] != txid:
            return sock.getsockname()[1], None, sock
        return sock.getsockname()[1], parse_mapped(data), sock
    except OSError:
        return sock.getsockname()[1], None, sock


def fmt(addr):
    return "%s:%d" % addr


def udp_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))
    return sock


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    cmd = argv[1]
    if cmd == "tcp":
        try:
            socket.create_connection((argv[2], int(argv[3])), timeout=2).close()
        except OSError as exc:
            print("tcp failed: %s" % exc)
            return 1
        print("tcp ok")
        return 0

    if cmd == "syn":
        try:
            socket.create_connection((argv[2], int(argv[3])), timeout=2).close()
            print("tcp ok")
        except ConnectionRefusedError:
            print("tcp refused")
        except OSError:
            print("tcp timeout")
        return 0
    if cmd == "tcpmapping":
        s1, s2 = hostport(argv[2]), hostport(argv[3])
        port, m1, k1 = stun_mapped_tcp(s1, 0)
        _, m2, k2 = stun_mapped_tcp(s2, port)
        k1.close()
        k2.close()
        if m1 is None or m2 is None:
            print("timeout")
            return 1
        print("local %d mapped %s via %s, %s via %s: %s, port %s" % (
            port, fmt(m1), fmt(s1), fmt(m2), fmt(s2), "EIM" if m1 == m2 else "ADM",
            "kept" if m1[1] == port and m2[1] == port else "changed"))
        return 0

    server = hostport(argv[2])
    sock = udp_socket()
    mapped = stun_mapped(sock, server)
    if mapped is None:
        print("timeout")
        return 1
    if cmd == "mapping":
        other = stun_mapped(sock, hostport(argv[3]))
        if other is None:
            print("timeout")
            return 1
        print("%s via %s, %s via %s: %s" % (
            fmt(mapped), fmt(server), fmt(other), fmt(hostport(argv[3])),
            "EIM" if other == mapped else "ADM"))
        return 0
    if cmd == "mapped":
        # The local address the kernel uses toward the server.
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect(server)
        local = (probe.getsockname()[0], sock.getsockname()[1])
        probe.close()
        print("local %s mapped %s" % (fmt(local), fmt(mapped)))
        return 0
    print("mapped %s" % fmt(mapped), flush=True)
    if cmd == "recv":
        timeout = 3.0
        if "--timeout" in argv:
            timeout = float(argv[argv.index("--timeout") + 1])
        sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, src = sock.recvfrom(2048)
            except socket.timeout:
                break
            if data.startswith(b"hello"):
                print("got %s %s" % (fmt(src), data.decode(errors="replace")))
                return 0
        print("timeout")
        return 1
    if cmd == "send":
        target = hostport(argv[3])
        for _ in range(5):
            sock.sendto(("hello-from-%s" % fmt(mapped)).encode(), target)
            time.sleep(0.05)
        return 0
    print("unknown command %r" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
