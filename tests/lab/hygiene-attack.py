#!/usr/bin/python3
"""hygiene-attack.py: the third host of tests/lab/hygiene.sh (run it with Debian's
/usr/bin/python3, which has scapy).

  hygiene-attack.py attack --pcap WAN.pcap --a-wan IP --b-wan IP --own-ip IP --out SENT.json
      Run inside the attacker's namespace on the lab's internet. Learns peer A's
      public mapping and peer B's public address and port from a capture of A's
      WAN link (the busiest UDP flow from B's WAN address to A's), then sends to
      A's mapping, each kind both from its own address and with the source
      spoofed as B's address and port (scapy, raw IP):
        random   10 datagrams of random bytes, 24..1200 long
        replay   the last 20 non-STUN datagrams B sent to A, byte for byte
        rst      24-byte pseudo-TCP segments with the RST flag (libnice's
                 pseudotcp.c layout: conv 4, seq 4, ack 4, control 1, flags 1
                 (RST 0x04), window 2, tsval 4, tsecr 4), conv/seq/ack/window/
                 timestamps taken from B's latest captured datagram, and seq
                 also advanced by that datagram's length (the next in order)
      Writes what it sent (kind, source, payload) to SENT.json.

  hygiene-attack.py verify --pcap AHOST.pcap --sent SENT.json --a-ip IP
      Counts, per kind, how many of the sent payloads appear in a capture on A's
      host (after A's NAT) addressed to A, from the source they were sent with.
      Prints JSON {"kind": [arrived, sent], ...}.
"""
import argparse
import collections
import json
import os
import socket
import sys
import time

from scapy.all import IP, UDP, Raw, PcapReader, conf, send  # noqa: E402

conf.verb = 0
STUN_COOKIE = bytes.fromhex("2112a442")


def is_stun(p):
    return len(p) >= 20 and p[4:8] == STUN_COOKIE and p[0] < 2


def udp_packets(path):
    """(src, sport, dst, dport, payload) of every UDP packet; a capture still
    being written may end in a partial record, which is skipped."""
    out = []
    try:
        with PcapReader(path) as r:
            while True:
                try:
                    pkt = r.read_packet()
                except EOFError:
                    break
                except Exception:  # a record cut short by the writer
                    break
                if pkt is None:
                    break
                if IP in pkt and UDP in pkt:
                    out.append((pkt[IP].src, pkt[UDP].sport, pkt[IP].dst, pkt[UDP].dport,
                                bytes(pkt[UDP].payload)))
    except (OSError, EOFError):
        pass
    return out


def attack(a):
    pkts = []
    for _ in range(50):  # the flow must be in the capture already; wait up to 5 s
        pkts = [p for p in udp_packets(a.pcap)
                if p[0] == a.b_wan and p[2] == a.a_wan and not is_stun(p[4])]
        if len(pkts) >= 20:
            break
        time.sleep(0.1)
    if not pkts:
        sys.exit("hygiene-attack: no datagram from %s to %s in %s" % (a.b_wan, a.a_wan, a.pcap))
    flows = collections.Counter((p[1], p[3]) for p in pkts)
    (b_port, a_port), n = flows.most_common(1)[0]
    flow = [p[4] for p in pkts if (p[1], p[3]) == (b_port, a_port)]
    print("hygiene-attack: learned A's mapping %s:%d and B's %s:%d (%d datagrams seen)"
          % (a.a_wan, a_port, a.b_wan, b_port, n), file=sys.stderr)

    # unconnected: once A's port is closed, ICMP errors must not stop the attack
    own = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    own.bind((a.own_ip, 0))
    sent = []

    def emit(kind, payload):
        own.sendto(payload, (a.a_wan, a_port))
        sent.append({"kind": kind + "-own", "src": own.getsockname()[0], "sport": own.getsockname()[1],
                     "hex": payload.hex()})
        send(IP(src=a.b_wan, dst=a.a_wan) / UDP(sport=b_port, dport=a_port) / Raw(payload))
        sent.append({"kind": kind + "-spoofed", "src": a.b_wan, "sport": b_port, "hex": payload.hex()})
        time.sleep(0.01)

    for _ in range(10):
        emit("random", os.urandom(24 + int.from_bytes(os.urandom(2), "big") % 1177))
    for p in flow[-20:]:
        emit("replay", p)
    last = flow[-1]
    if len(last) < 24:
        last = last + bytes(24 - len(last))
    seq = int.from_bytes(last[4:8], "big")
    for s in (seq, (seq + max(len(flow[-1]) - 24, 0)) & 0xffffffff):
        rst = last[0:4] + s.to_bytes(4, "big") + last[8:12] + b"\x00\x04" + last[14:16] + last[16:24]
        emit("rst", rst)
    # a little later, the same again: the first may have raced the real segments
    time.sleep(0.2)
    for s in (seq, (seq + max(len(flow[-1]) - 24, 0)) & 0xffffffff):
        rst = last[0:4] + s.to_bytes(4, "big") + last[8:12] + b"\x00\x04" + last[14:16] + last[16:24]
        emit("rst", rst)
    with open(a.out, "w") as f:
        json.dump({"a_port": a_port, "b_port": b_port, "own": own.getsockname()[0], "sent": sent}, f)
    print("hygiene-attack: sent %d datagrams" % len(sent), file=sys.stderr)


def verify(a):
    info = json.load(open(a.sent))
    seen = collections.Counter()
    for src, sport, dst, dport, payload in udp_packets(a.pcap):
        if dst == a.a_ip:
            seen[(src, sport, payload)] += 1
    res = {}
    for s in info["sent"]:
        key = (s["src"], s["sport"], bytes.fromhex(s["hex"]))
        arrived = 1 if seen[key] > 0 else 0  # A's NAT rewrites the destination only
        r = res.setdefault(s["kind"], [0, 0])
        r[0] += arrived
        r[1] += 1
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    at = sub.add_parser("attack")
    at.add_argument("--pcap", required=True)
    at.add_argument("--a-wan", required=True)
    at.add_argument("--b-wan", required=True)
    at.add_argument("--own-ip", required=True)
    at.add_argument("--out", required=True)
    ve = sub.add_parser("verify")
    ve.add_argument("--pcap", required=True)
    ve.add_argument("--sent", required=True)
    ve.add_argument("--a-ip", required=True)
    a = ap.parse_args()
    attack(a) if a.cmd == "attack" else verify(a)


if __name__ == "__main__":
    main()
