# punch_redis.py: a real redis-server and punch-signal instances in cluster mode, for the
# integration tests and the cluster benchmark. Everything here is started by us and stopped
# by its own PID; every redis-server lives in a temporary directory of its own.
#
# SPDX-License-Identifier: MIT

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def have_redis():
    return os.access(REDIS_SERVER, os.X_OK)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server on a Unix socket (default) or 127.0.0.1:PORT, no persistence."""

    def __init__(self, unix=True, password=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="punch-redis-")
        self.unix = unix
        self.sock = os.path.join(self.dir, "redis.sock")
        self.port = 0 if unix else free_port()
        self.password = password
        self.extra = list(extra)
        self.proc = None
        self.start()

    def start(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                "--logfile", os.path.join(self.dir, "redis.log")]
        if self.unix:
            args += ["--unixsocket", self.sock, "--unixsocketperm", "700"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args + self.extra, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: see " + self.dir)
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def _connect(self):
        if self.unix:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(2)
            s.connect(self.sock)
        else:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        return s

    def command(self, *args):
        """One command (after AUTH when needed); returns the raw reply bytes."""
        def enc(a):
            a = a.encode() if isinstance(a, str) else a
            return b"$%d\r\n%s\r\n" % (len(a), a)
        s = self._connect()
        try:
            out = b""
            if self.password:
                out += b"*2\r\n" + enc("AUTH") + enc(self.password)
            out += b"*%d\r\n" % len(args) + b"".join(enc(a) for a in args)
            s.sendall(out)
            time.sleep(0.05)
            return s.recv(1 << 20)
        finally:
            s.close()

    def ping(self):
        try:
            return b"PONG" in self.command("PING")
        except OSError:
            return False

    def url(self, password=None):
        pw = password if password is not None else self.password
        auth = f":{pw}@" if pw else ""
        if self.unix:
            return f"unix://{auth}{self.sock}"
        return f"redis://{auth}127.0.0.1:{self.port}"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Instance:
    """punch-signal, optionally in cluster mode; stopped by its own PID."""

    def __init__(self, binary, redis_url=None, secret_file=None, extra=(), log_dir=None,
                 name="signal", env=None):
        self.log_path = os.path.join(log_dir or tempfile.gettempdir(), name + ".log")
        args = [binary, "--listen", "127.0.0.1:0"]
        args += ["--secret-file", secret_file] if secret_file else ["--insecure-no-auth"]
        if redis_url:
            args += ["--redis", redis_url]
        if os.environ.get("PUNCH_SIGNAL_VALGRIND"):
            # the server under valgrind; its errors fail its exit status (99)
            supp = os.path.join(os.environ.get("PUNCH_SOURCE_DIR", "."), "tests", "valgrind.supp")
            args = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                    "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                    f"--suppressions={supp}", "--num-callers=30"] + args
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args + list(extra), stdout=subprocess.PIPE, stderr=self.log,
                                     env=env)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"punch-signal did not start: {line!r}: {self.logtext()[-2000:]}")
        self.url = line[len("listening on "):]
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def healthz(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
            return json.loads(r.read())

    def wait_redis(self, state="up", timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.healthz().get("redis") == state:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
