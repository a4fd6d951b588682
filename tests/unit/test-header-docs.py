#!/usr/bin/python3
# test-header-docs.py: the public headers' doc comments, as gi-docgen and
# g-ir-scanner read them. TAP output. For every header given:
#
# - every /** block is attached to a symbol: its first line names it
#   ("punch_session_new:", "PunchConfig:"), or the tools skip it;
# - every exported function that returns a pointer has a block named after
#   it, right above it, whose Returns: says (transfer none|full|container).
#
# SPDX-License-Identifier: MIT

import re
import sys

EXPORT = re.compile(r"\b(PUNCH_EXPORT|PUNCH_SIGNAL_EXPORT)\b")
DECL = re.compile(
    r"(?:PUNCH_EXPORT|PUNCH_SIGNAL_EXPORT)\s+((?:const\s+)?[\w\s\*]*?)\s*\b(\w+)\s*\(", re.S)
BLOCK = re.compile(r"/\*\*(.*?)\*/", re.S)


def blocks(text):
    for m in BLOCK.finditer(text):
        lines = [l.strip().lstrip("*").strip() for l in m.group(1).split("\n")]
        lines = [l for l in lines if l]
        yield m, lines


def check(path):
    problems = []
    text = open(path).read()
    named = {}
    for m, lines in blocks(text):
        line_no = text.count("\n", 0, m.start()) + 1
        first = lines[0] if lines else ""
        if not re.fullmatch(r"[A-Za-z_][\w]*:(\s*\(.*\))?", first):
            problems.append("%s:%d: doc comment not attached to a symbol: %r" % (path, line_no, first))
            continue
        named[first.split(":")[0]] = (m.end(), " ".join(lines))
    for d in DECL.finditer(text):
        rtype, name = d.group(1), d.group(2)
        if "G_DECLARE" in rtype or name.startswith("G_"):
            continue
        if "*" not in rtype:
            continue
        line_no = text.count("\n", 0, d.start()) + 1
        if name not in named:
            problems.append("%s:%d: %s returns a pointer and has no doc comment" % (path, line_no, name))
            continue
        end, doc = named[name]
        if text[end:d.start()].strip():
            problems.append("%s:%d: the doc comment of %s is not right above it" % (path, line_no, name))
        ret = doc[doc.find("Returns:"):] if "Returns:" in doc else ""
        if not re.search(r"\(transfer (none|full|container)\)", ret):
            problems.append("%s:%d: %s: Returns: has no (transfer ...) annotation" % (path, line_no, name))
    return problems


def main():
    headers = sys.argv[1:]
    print("1..%d" % len(headers))
    for i, h in enumerate(headers, 1):
        problems = check(h)
        print("%s %d - %s" % ("ok" if not problems else "not ok", i, h))
        for p in problems:
            print("# " + p)
    return 0


sys.exit(main())
