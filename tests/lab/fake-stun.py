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

  fake-stun.py IP PORT MODE[,MODE...] [--log FILE]

Runs until killed. Each request and each answer is logged to FILE (or
stderr) as one line.
"""

import os
import socket
import struct
import sys
import zlib

MAGIC = 0x2112A442


def attr(atype, value):
    return struct.pack("!HH", atype, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_address(ip, port):
    addr = bytes(a ^ b for a, b in zip(socket.inet_aton(ip), struct.pack("!I", MAGIC)))
    return struct.pack("!BBH", 0, 1, port ^ (MAGIC >> 16)) + addr


def response(txid, src, fingerprint_ok=True):
    body = attr(0x0020, xor_address(*src)) + attr(0x8022, b"fake-stun")
    head = struct.pack("!HHI", 0x0101, len(body) + 8, MAGIC) + txid + body
    crc = zlib.crc32(head) ^ 0x5354554E
    if not fingerprint_ok:
        crc ^= 0xFFFF
    return head + attr(0x8028, struct.pack("!I", crc))


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
    while True:
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
            elif mode == "good":
                out, sock = response(txid, src), main_sock
            else:
                print("unknown mode %r" % mode, file=sys.stderr)
                return 2
            sock.sendto(out, src)
            print("  sent %s (%d bytes)" % (mode, len(out)), file=log)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
