#!/usr/bin/python3
# test-connect.py: `punch connect` end to end on loopback, through a real
# punch-signal (tokens required). TAP output.
#
# Two peers copy files each way (reliable) and exchange datagrams; the
# NDJSON events carry the promised fields; every failure exits 1 with a
# code that says why (timeout, authentication, unreachable), and usage
# errors exit 2. Every process is started here and stopped by its PID.
#
# SPDX-License-Identifier: MIT

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("PUNCH_BUILD_DIR")
if not BUILD:
    print("1..0 # SKIP PUNCH_BUILD_DIR is not set (run through meson test)")
    sys.exit(0)
PUNCH = os.path.join(BUILD, "tools", "punch")
SIGNAL = os.path.join(BUILD, "signaling", "punch-signal")
LOOP = ["--local-address", "127.0.0.1"]

results = []
tmp = tempfile.mkdtemp(prefix="punch-connect-test-")


def check(ok, name, detail=""):
    results.append(ok)
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), name))
    if not ok and detail:
        for line in str(detail).splitlines()[-25:]:
            print("#   " + line)
    sys.stdout.flush()


def events(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def first(evs, name):
    for e in evs:
        if e.get("event") == name:
            return e.get("data", {})
    return None


class Signal:
    def __init__(self):
        self.secret = os.path.join(tmp, "secret")
        with open(self.secret, "w") as f:
            f.write("test-connect-secret-0123456789abcdef\n")
        self.log = open(os.path.join(tmp, "signal.log"), "w")
        self.proc = subprocess.Popen(
            [SIGNAL, "--listen", "127.0.0.1:0", "--secret-file", self.secret],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError("punch-signal did not start: %r" % line)
        self.url = line.split()[-1]

    def token(self, room, ttl=120):
        return subprocess.check_output(
            [SIGNAL, "token", "--secret-file", self.secret, "--room", room, "--ttl", str(ttl)],
            text=True).strip()

    def stop(self):
        self.proc.terminate()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def peer(args, stdin, tag, env=None):
    out = open(os.path.join(tmp, tag + ".out"), "wb")
    err = open(os.path.join(tmp, tag + ".err"), "wb")
    full_env = dict(os.environ, **env) if env else None
    return subprocess.Popen([PUNCH, "connect"] + args, stdin=stdin, stdout=out, stderr=err,
                            env=full_env)


def finish(p, tag, timeout=60):
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    with open(os.path.join(tmp, tag + ".err"), errors="replace") as f:
        return rc, f.read()


def run_pair(sig, room, inputs, tags, extra, linger=0, while_connected=None, extra_a=(),
             extra_b=(), env=None):
    """Two peers in ROOM, the second 0.2 s after the first, each reading one of
    INPUTS (then keeping stdin open LINGER seconds). WHILE_CONNECTED runs once
    the second peer is connected. Returns (rc_a, stderr_a, rc_b, stderr_b)."""
    common = ["--signal", sig.url, "--room", room, "--token", sig.token(room),
              "--timeout", "20"] + extra + LOOP
    procs = []
    for path, tag, own in zip(inputs, tags, (list(extra_a), list(extra_b))):
        src = subprocess.Popen(["sh", "-c", 'cat "$0"; sleep "$1"', path, str(linger)],
                               stdout=subprocess.PIPE)
        procs.append((peer(common + own, src.stdout, tag, env), src))
        src.stdout.close()
        time.sleep(0.2)
    if while_connected:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(os.path.join(tmp, tags[1] + ".err"), errors="replace") as f:
                if '"event":"connected"' in f.read():
                    break
            time.sleep(0.05)
        while_connected()
    results_ = []
    for (p, src), tag in zip(procs, tags):
        results_ += finish(p, tag)
        src.wait()
    return tuple(results_)


def crossed(a_in, b_in, tags):
    """Did each input arrive intact at the other side?"""
    return (sha(a_in) == sha(os.path.join(tmp, tags[1] + ".out"))
            and sha(b_in) == sha(os.path.join(tmp, tags[0] + ".out")))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_alone(args, stdin=subprocess.DEVNULL, timeout=30):
    t0 = time.monotonic()
    p = subprocess.run([PUNCH, "connect"] + args, stdin=stdin, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stderr, time.monotonic() - t0


def main():
    sig = Signal()
    try:
        # 1. reliable: 8 MiB one way, 1 MiB the other, both intact
        a_in, b_in = os.path.join(tmp, "a.in"), os.path.join(tmp, "b.in")
        with open(a_in, "wb") as f:
            f.write(os.urandom(8 << 20))
        with open(b_in, "wb") as f:
            f.write(os.urandom(1 << 20))
        ra, ea, rb, eb = run_pair(sig, "files", (a_in, b_in), ("a", "b"), ["--reliable", "--json"])
        check(ra == 0 and rb == 0 and crossed(a_in, b_in, ("a", "b")),
              "reliable: 8 MiB and 1 MiB cross intact, both exit 0", ea + eb)

        evs = events(eb)
        c = first(evs, "connected") or {}
        ok = (isinstance(c.get("elapsed_ms"), int) and c.get("relayed") is False
              and all(k in c.get("local", {}) for k in ("type", "transport", "address", "port"))
              and all(k in c.get("remote", {}) for k in ("type", "transport", "address", "port")))
        check(ok, "connected event: elapsed_ms, local and remote candidates, relayed", c)
        d = first(evs, "done") or {}
        check(d.get("bytes_sent") == 1 << 20 and d.get("bytes_received") == 8 << 20,
              "done event counts the bytes both ways", d)
        j = first(evs, "joined") or {}
        check(j.get("role") == "controlling" and j.get("peers") == 1,
              "the newcomer is controlling and saw one peer", j)
        check(all(set(e) == {"event", "data"} for e in evs) and len(evs) > 5,
              "--json: stderr is NDJSON only, {event, data} per line", eb)
        ca = first(events(ea), "connected") or {}
        fp = str(c.get("peer_fingerprint", ""))
        check(c.get("encrypted") is True and fp.startswith("sha-256 ") and len(fp) == 8 + 95
              and fp == ca.get("local_fingerprint") and c.get("local_fingerprint") ==
              ca.get("peer_fingerprint") and isinstance(c.get("handshake_ms"), int),
              "connected: encrypted, each side's peer_fingerprint is the other's own", (c, ca))
        check(d.get("peer_acknowledged") is True and isinstance(d.get("rtt_ms"), int),
              "done: the peer acknowledged everything, with the QUIC RTT", d)

        # 1b. a pinned peer: the right pin connects, another key is refused on both sides
        #     before any byte arrives
        ident = os.path.join(tmp, "b-identity.pem")
        p = subprocess.run([PUNCH, "identity", "--identity", ident, "--json"],
                           capture_output=True, text=True)
        b_fp = json.loads(p.stdout)["fingerprint"] if p.returncode == 0 else "?"
        small = os.path.join(tmp, "small.in")
        with open(small, "wb") as f:
            f.write(os.urandom(100000))
        ra, ea, rb, eb = run_pair(sig, "pin-ok", (small, small), ("pa", "pb"),
                                  ["--reliable", "--json"],
                                  extra_b=["--identity", ident], extra_a=["--peer", b_fp])
        check(ra == 0 and rb == 0 and crossed(small, small, ("pa", "pb"))
              and (first(events(ea), "connected") or {}).get("peer_fingerprint") == b_fp,
              "--peer with the peer's fingerprint (from punch identity): connects", ea + eb)
        other = "sha-256 " + ":".join(["AB"] * 32)
        ra, ea, rb, eb = run_pair(sig, "pin-bad", (small, small), ("qa", "qb"),
                                  ["--reliable", "--json"], extra_a=["--peer", other])
        ea_err = first(events(ea), "error") or {}
        check(ra == 1 and rb == 1 and ea_err.get("code") == "authentication"
              and "pinned" in ea_err.get("message", "")
              and os.path.getsize(os.path.join(tmp, "qa.out")) == 0
              and os.path.getsize(os.path.join(tmp, "qb.out")) == 0,
              "--peer with another key: both exit 1, 'authentication', nothing delivered",
              ea + eb)

        # 1c. GLib debug output on: stdout still carries only the peer's data
        ra, ea, rb, eb = run_pair(sig, "debug", (small, b_in), ("da", "db"), ["--reliable"],
                                  env={"G_MESSAGES_DEBUG": "all"})
        check(ra == 0 and rb == 0 and crossed(small, b_in, ("da", "db"))
              and "punch-DEBUG" in ea,
              "G_MESSAGES_DEBUG=all: debug lines on stderr, stdout byte-identical", ea[-2000:])

        # 2. text mode says the path
        txt_a = os.path.join(tmp, "t.in")
        with open(txt_a, "w") as f:
            f.write("hello\n")
        ra, ea, rb, eb = run_pair(sig, "text", (txt_a, txt_a), ("ta", "tb"), ["--reliable"])
        check(ra == 0 and rb == 0 and "connected after" in eb and "direct: host" in eb,
              "text mode: 'connected after N ms: direct: host ...'", eb)

        # 3. datagrams
        d_a, d_b = os.path.join(tmp, "da.in"), os.path.join(tmp, "db.in")
        with open(d_a, "w") as f:
            f.write("datagram from a\n")
        with open(d_b, "w") as f:
            f.write("datagram from b\n")
        ra, ea, rb, eb = run_pair(sig, "dgram", (d_a, d_b), ("da", "db"), ["--json"])
        with open(os.path.join(tmp, "da.out")) as f:
            got_a = f.read()
        with open(os.path.join(tmp, "db.out")) as f:
            got_b = f.read()
        check(ra == 0 and rb == 0 and got_a == "datagram from b\n" and got_b == "datagram from a\n"
              and (first(events(eb), "connected") or {}).get("mode") == "datagram",
              "datagram mode: one datagram each way, both exit 0", ea + eb)

        # 4. failures say why, exit 1
        rc, err, secs = run_alone(["--signal", sig.url, "--room", "lonely", "--token",
                                   sig.token("lonely"), "--json", "--timeout", "2"] + LOOP)
        e = first(events(err), "error") or {}
        check(rc == 1 and e.get("code") == "timeout" and secs < 6,
              "no peer: exit 1, code timeout, within the timeout (%.1f s)" % secs, err)

        rc, err, _ = run_alone(["--signal", sig.url, "--room", "r", "--token",
                                sig.token("other-room"), "--json"] + LOOP)
        e = first(events(err), "error") or {}
        check(rc == 1 and e.get("code") == "authentication",
              "a token for another room: exit 1, code authentication", err)

        rc, err, _ = run_alone(["--signal", sig.url, "--room", "r", "--json"] + LOOP)
        e = first(events(err), "error") or {}
        check(rc == 1 and e.get("code") == "authentication", "no token: exit 1, authentication",
              err)

        rc, err, secs = run_alone(["--signal", "ws://127.0.0.1:9/ws", "--room", "r", "--json"])
        e = first(events(err), "error") or {}
        check(rc == 1 and e.get("code") == "unreachable" and "unreachable" in e.get("message", ""),
              "signaling server down: exit 1, code unreachable", err)

        rc, err, _ = run_alone(["--signal", sig.url, "--room", "r", "--token", sig.token("r"),
                                "--relay-only", "--json"] + LOOP)
        check(rc == 1 and "TURN" in err, "--relay-only without any TURN server: exit 1, says why",
              err)

        # an address this host does not have (TEST-NET-2: nothing is sent to it)
        rc, err, secs = run_alone(["--signal", sig.url, "--room", "noaddr", "--token",
                                   sig.token("noaddr"), "--local-address", "198.51.100.77",
                                   "--timeout", "3", "--json"], timeout=20)
        e = first(events(err), "error") or {}
        check(rc == 1 and e.get("code") == "no-address" and "198.51.100.77" in e.get("message", "")
              and secs < 4, "--local-address not on this host: exit 1, code no-address, "
              "within --timeout (%.2f s)" % secs, err)

        # 5. usage errors exit 2 with a message
        for args, what in (([], "no options"),
                           (["--room", "r"], "no --signal"),
                           (["--signal", sig.url], "no --room"),
                           (["--signal", "http://x/ws", "--room", "r"], "not a ws:// URL"),
                           (["--signal", sig.url, "--room", "r", "--timeout", "0"], "timeout 0"),
                           (["--signal", sig.url, "--room", "r", "--consent-timeout", "-1"],
                            "a negative --consent-timeout"),
                           (["--signal", sig.url, "--room", "r", "--stun", "bogus:x"],
                            "a bad STUN URI"),
                           (["--signal", sig.url, "--room", "r", "--turn-user", "u"],
                            "--turn-user without --turn"),
                           (["--signal", sig.url, "--room", "r", "--local-address", "nope"],
                            "a bad --local-address"),
                           (["--signal", sig.url, "--room", "r", "extra"], "a stray argument"),
                           (["--signal", sig.url, "--room", ".bad"], "a bad room name"),
                           (["--signal", sig.url, "--room", "r", "--turn", "turn:127.0.0.1"],
                            "--turn without --turn-user"),
                           (["--signal", sig.url, "--room", "r", "--ca-file", "/nonexistent.pem"],
                            "a missing --ca-file"),
                           (["--signal", sig.url, "--room", "r", "--peer", "sha-256 AB:CD"],
                            "a malformed --peer"),
                           (["--signal", sig.url, "--room", "r", "--insecure-plaintext",
                             "--reliable"], "--insecure-plaintext with --reliable"),
                           (["--bogus"], "an unknown option")):
            rc, err, took = run_alone(args)
            check(rc == 2 and err.strip() != "" and took < 5,
                  "usage error (%s): exit 2 with a message, before any network" % what, err)
        # a relative --ca-file is fine (and is checked): no usage error, the run goes on
        pem = os.path.join(tmp, "ca.pem")
        subprocess.run(["sh", "-c", 'certtool --generate-privkey --outfile "$0.key" 2>/dev/null &&'
                        ' certtool --generate-self-signed --load-privkey "$0.key" --template'
                        ' /dev/stdin --outfile "$0" 2>/dev/null <<EOF\ncn = ca\nca\nEOF', pem],
                       check=False)
        rc, err, _ = run_alone(["--signal", sig.url, "--room", "alone", "--token",
                                sig.token("alone"), "--timeout", "1", "--ca-file",
                                os.path.relpath(pem)] + LOOP)
        check(rc == 1 and "no connection within" in err and "absolute" not in err,
              "a relative --ca-file is accepted (the run ends in its own timeout)", err)
        p = subprocess.run([PUNCH, "connect", "--help"], capture_output=True, text=True)
        check(p.returncode == 0 and "Examples:" in p.stdout and "Exit codes" in p.stdout,
              "--help teaches: examples and exit codes")

        check(sig.proc.poll() is None, "punch-signal is still up")
    finally:
        rc = sig.stop()
        check(rc == 0, "punch-signal exits 0 on SIGTERM (got %s)" % rc)

    # 6. signaling is needed only to meet: a second server is killed (SIGKILL)
    # once both peers are connected, and the transfer still completes
    sig2 = Signal()

    def kill_signal():
        sig2.proc.kill()
        sig2.proc.wait()

    ra, ea, rb, eb = run_pair(sig2, "gone", (a_in, b_in), ("ka", "kb"), ["--reliable", "--json"],
                              linger=2, while_connected=kill_signal)
    check(ra == 0 and rb == 0 and crossed(a_in, b_in, ("ka", "kb"))
          and first(events(eb), "signal-disconnected") is not None,
          "signaling server killed after connecting: 8 MiB and 1 MiB still cross intact", ea + eb)
    print("1..%d" % len(results))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
