#!/usr/bin/python3
"""Prints, for every failed test in the given meson test logs (testlog*.json),
its name, result, duration and the last lines of its output: the tail of a CI
log then says what failed even when the log is cut."""
import json
import sys

TAIL = 40


def main(paths):
    failed = 0
    for path in paths:
        try:
            lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                t = json.loads(line)
            except ValueError:
                continue
            if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
                continue
            failed += 1
            print(f"--- {t.get('name')}: {t.get('result')} after {t.get('duration', 0):.1f} s ({path})")
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            for l in out.splitlines()[-TAIL:]:
                print("    " + l)
    if failed == 0:
        print("no failed tests in the logs")


main(sys.argv[1:])
