#!/usr/bin/python3
# test-identity.py: `punch identity` as a user meets it. TAP output.
#
# The first run creates the key (mode 0600, directory 0700) and says so; later
# runs print the same fingerprint; --json carries the same fields; the
# fingerprint is what OpenSSL computes over the key's SubjectPublicKeyInfo; a key
# file other users can read is refused with exit 1 and left alone; usage errors
# exit 2; the key itself is never printed.
#
# SPDX-License-Identifier: MIT

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

BUILD = os.environ.get("PUNCH_BUILD_DIR")
if not BUILD:
    print("1..0 # SKIP PUNCH_BUILD_DIR is not set (run through meson test)")
    sys.exit(0)
PUNCH = os.path.join(BUILD, "tools", "punch")
FP_RE = re.compile(r"^sha-256 [0-9A-F]{2}(:[0-9A-F]{2}){31}$")

results = []
tmp = tempfile.mkdtemp(prefix="punch-identity-test-")


def check(ok, name, detail=""):
    results.append(ok)
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), name))
    if not ok and detail:
        for line in str(detail).splitlines()[-25:]:
            print("#   " + line)
    sys.stdout.flush()


def run(*args, config=None):
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = config or os.path.join(tmp, "config")
    p = subprocess.run([PUNCH, "identity"] + list(args), env=env, capture_output=True,
                       text=True, timeout=30)
    return p


def text_fingerprint(out):
    m = re.search(r"^fingerprint: (.*)$", out, re.M)
    return m.group(1) if m else None


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def openssl_fingerprint(path):
    if shutil.which("openssl") is None:
        return None
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    h = hashlib.sha256(der).hexdigest().upper()
    return "sha-256 " + ":".join(h[i:i + 2] for i in range(0, 64, 2))


def key_leaked(p, path):
    with open(path) as f:
        body = [l for l in f.read().splitlines() if l and not l.startswith("-----")]
    out = p.stdout + p.stderr
    return "PRIVATE KEY" in out or any(l in out for l in body)


try:
    default = os.path.join(tmp, "config", "punch", "identity.pem")

    # 1. first run: created, with safe modes
    p = run()
    fp = text_fingerprint(p.stdout)
    check(p.returncode == 0 and fp is not None and FP_RE.match(fp) is not None,
          "first run prints a fingerprint", p.stdout + p.stderr)
    check(re.search(r"^key file: +%s \(created\)$" % re.escape(default), p.stdout, re.M)
          is not None, "first run names the default key file and says created", p.stdout)
    check(os.path.isfile(default) and mode(default) == 0o600,
          "the key file is created with mode 0600",
          oct(mode(default)) if os.path.exists(default) else "missing")
    check(mode(os.path.dirname(default)) == 0o700 and mode(os.path.join(tmp, "config")) == 0o700,
          "its directories are created with mode 0700")
    check("punch connect --peer '%s'" % fp in p.stdout, "text output shows how a peer pins it",
          p.stdout)
    check(not key_leaked(p, default), "the key is not printed")
    with open(default) as f:
        pem = f.read()
    check(pem.startswith("-----BEGIN PRIVATE KEY-----\n"), "the key file is PEM PKCS#8")
    check(sorted(os.listdir(os.path.dirname(default))) == ["identity.pem"],
          "no temporary file is left behind", os.listdir(os.path.dirname(default)))

    # 2. second run: the same key, not created again
    p = run()
    check(p.returncode == 0 and text_fingerprint(p.stdout) == fp and "created" not in p.stdout,
          "second run prints the same fingerprint, without 'created'", p.stdout + p.stderr)

    # 3. JSON
    p = run("--json")
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = {}
    check(p.returncode == 0 and doc.get("fingerprint") == fp and doc.get("key_file") == default
          and doc.get("created") is False and "error" not in doc,
          "--json: fingerprint, key_file, created", p.stdout + p.stderr)

    # 4. --identity FILE, a new key elsewhere
    other = os.path.join(tmp, "keys", "work.pem")
    p = run("--identity", other, "--json")
    try:
        doc2 = json.loads(p.stdout)
    except ValueError:
        doc2 = {}
    check(p.returncode == 0 and doc2.get("created") is True and doc2.get("key_file") == other
          and FP_RE.match(doc2.get("fingerprint", "")) and doc2.get("fingerprint") != fp,
          "--identity FILE creates a second, different key", p.stdout + p.stderr)
    p = run("-i", other)
    check(p.returncode == 0 and text_fingerprint(p.stdout) == doc2.get("fingerprint"),
          "-i FILE loads it again", p.stdout + p.stderr)

    # 5. the fingerprint is SHA-256 over the SubjectPublicKeyInfo, as OpenSSL sees it
    theirs = openssl_fingerprint(default)
    if theirs is None:
        print("ok %d - # SKIP openssl is not installed" % (len(results) + 1))
        results.append(True)
    else:
        check(theirs == fp, "the fingerprint equals OpenSSL's SHA-256 of the public key DER",
              "%s != %s" % (theirs, fp))

    # 6. a key file others can read is refused, and left as it was
    os.chmod(default, 0o644)
    p = run()
    check(p.returncode == 1 and "mode is 0644" in p.stderr and "chmod 600" in p.stderr
          and p.stdout == "", "a 0644 key file is refused with exit 1", p.stdout + p.stderr)
    p = run("--json")
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = {}
    err = doc.get("error", {})
    check(p.returncode == 1 and err.get("code") == "failed" and "chmod 600" in err.get("message", "")
          and "fingerprint" not in doc and doc.get("key_file") == default,
          "--json: a 0644 key file is an error member, exit 1", p.stdout + p.stderr)
    with open(default) as f:
        check(f.read() == pem and mode(default) == 0o644,
              "the refused file is neither replaced nor changed")
    os.chmod(default, 0o600)

    # 7. not a regular file; not a key
    p = run("--identity", tmp)
    check(p.returncode == 1 and "not a regular file" in p.stderr,
          "a directory as key file is refused with exit 1", p.stderr)
    junk = os.path.join(tmp, "junk.pem")
    with open(junk, "w") as f:
        f.write("hello\n")
    os.chmod(junk, 0o600)
    p = run("--identity", junk)
    check(p.returncode == 1 and "not an unencrypted PEM PKCS#8 private key" in p.stderr,
          "a file that is not a key is refused with exit 1", p.stderr)

    # 8. usage errors exit 2; --help teaches
    p = run("extra")
    check(p.returncode == 2 and "unexpected argument 'extra'" in p.stderr,
          "a stray argument exits 2", p.stderr)
    p = run("--no-such-option")
    check(p.returncode == 2 and "Run 'punch identity --help'" in p.stderr,
          "an unknown option exits 2", p.stderr)
    p = run("--identity", "")
    check(p.returncode == 2, "an empty --identity exits 2", p.stderr)
    p = run("--help")
    check(p.returncode == 0 and "--peer" in p.stdout and "0600" in p.stdout
          and "docs/security.md" in p.stdout, "--help explains the fingerprint's use", p.stdout)
    top = subprocess.run([PUNCH, "--help"], capture_output=True, text=True, timeout=30)
    check(re.search(r"^  identity ", top.stdout, re.M) is not None,
          "punch --help lists the identity command", top.stdout)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print("1..%d" % len(results))
sys.exit(0 if all(results) else 1)
