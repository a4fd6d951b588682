#!/usr/bin/env python3
"""fake-stun - a misbehaving STUN server for punch check's lab test.

Standard library only. Listens for Binding requests on IP:PORT (UDP) and
answers each one with the datagrams MODES names, in order:

  short      8 bytes of a STUN header
  garbage    bytes that are not STUN at all
  wrongtxid  a valid Binding success response with another transaction id
  badfp      a valid response whose FINGERPRINT does not match
  forged     a valid response, sent from PORT+1 instead of PORT
  good       a valid response (XOR-MAPPED-ADDRESS = the request's source)
  escape     a valid response whose SOFTWARE holds terminal escape codes
             (clear the screen, home the cursor) and a forged line
  request    the request itself, sent back (a Binding *request*: never an answer)

  fake-stun.py IP PORT MODE[,MODE...] [--tcp MODE[,MODE...]] [--log FILE]

With --tcp, it also accepts TCP connections on IP:PORT and answers each
request there with the TCP MODEs (short, garbage, wrongtxid, badfp, good,
escape, request), then closes the connection.

Runs until killed. Each request and each answer is logged to FILE (or
stderr) as one line.
"""

import os
import select
import socket
import struct
import sys
import zlib

MAGIC = 0x2112A442
# clears the screen, homes the cursor, and writes a line of its own
HOSTILE_SOFTWARE = b"\x1b[2J\x1b[Hfake line: hacked\n\x1b]0;owned\x07"


def attr(atype, value):
    return struct.pack("!HH", atype, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_address(ip, port):
    addr = bytes(a ^ b for a, b in zip(socket.inet_aton(ip), struct.pack("!I", MAGIC)))
    return struct.pack("!BBH", 0, 1, port ^ (MAGIC >> 16)) + addr


def response(txid, src, fingerprint_ok=True, software=b"fake-stun"):
    body = attr(0x0020, xor_address(*src)) + attr(0x8022, software)
    head = struct.pack("!HHI", 0x0101, len(body) + 8, MAGIC) + txid + body
    crc = zlib.crc32(head) ^ 0x5354554E
    if not fingerprint_ok:
        crc ^= 0xFFFF
    return head + attr(0x8028, struct.pack("!I", crc))


def answer(mode, data, txid, src):
    """The bytes MODE sends back to the request DATA from SRC (None: unknown)."""
    if mode == "short":
        return data[:8]
    if mode == "garbage":
        return b"HTTP/1.1 400 Bad Request\r\n\r\n" + os.urandom(16)
    if mode == "wrongtxid":
        return response(os.urandom(12), src)
    if mode == "badfp":
        return response(txid, src, fingerprint_ok=False)
    if mode == "good":
        return response(txid, src)
    if mode == "escape":
        return response(txid, src, software=HOSTILE_SOFTWARE)
    if mode == "request":
        return data
    return None


def serve_tcp(conn, src, modes, log):
    conn.settimeout(2)
    data = b""
    try:
        while len(data) < 20 or len(data) < 20 + struct.unpack("!H", data[2:4])[0]:
            chunk = conn.recv(2048)
            if not chunk:
                return
            data += chunk
        print("tcp request from %s:%d" % src, file=log)
        for mode in modes:
            out = answer(mode, data, data[8:20], src)
            if out is not None:
                conn.sendall(out)
                print("  sent %s over tcp (%d bytes)" % (mode, len(out)), file=log)
    except OSError:
        pass
    finally:
        conn.close()


def main(argv):
    if len(argv) < 4 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 else 2
    ip, port, modes = argv[1], int(argv[2]), argv[3].split(",")
    log = open(argv[argv.index("--log") + 1], "a", buffering=1) if "--log" in argv else sys.stderr
    main_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    main_sock.bind((ip, port))
    other_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other_sock.bind((ip, port + 1))
    tcp_modes = argv[argv.index("--tcp") + 1].split(",") if "--tcp" in argv else None
    listener = None
    if tcp_modes:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((ip, port))
        listener.listen(8)
    while True:
        ready, _, _ = select.select([main_sock] + ([listener] if listener else []), [], [])
        if listener in ready:
            conn, src = listener.accept()
            serve_tcp(conn, src, tcp_modes, log)
            continue
        data, src = main_sock.recvfrom(2048)
        if len(data) < 20 or data[4:8] != struct.pack("!I", MAGIC):
            continue
        txid = data[8:20]
        print("request from %s:%d" % src, file=log)
        for mode in modes:
            if mode == "short":
                out, sock = data[:8], main_sock
            elif mode == "garbage":
                out, sock = b"HTTP/1.1 400 Bad Request\r\n\r\n" + os.urandom(16), main_sock
            elif mode == "wrongtxid":
                out, sock = response(os.urandom(12), src), main_sock
            elif mode == "badfp":
                out, sock = response(txid, src, fingerprint_ok=False), main_sock
            elif mode == "forged":
                out, sock = response(txid, ("198.51.100.66", 4444)), other_sock
            elif mode in ("good", "escape", "request"):
                out, sock = answer(mode, data, txid, src), main_sock
            else:
                print("unknown mode %r" % mode, file=sys.stderr)
                return 2
            sock.sendto(out, src)
            print("  sent %s (%d bytes)" % (mode, len(out)), file=log)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
