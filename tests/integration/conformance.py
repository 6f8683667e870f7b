#!/usr/bin/env python3
"""Run the shared feedparser conformance kit against `gazette parse`.

Fails when a folder's pass count drops below the floor this parser has
reached; skips (77) when the kit is not beside the source tree.
Usage: conformance.py GAZETTE CORPUS_DIR
"""
import os
import re
import subprocess
import sys

# Passed cases per folder the parser reached (in-scope cases in brackets).
# Cases that still fail, and why, are listed in tests/conformance/FAILING.md.
FLOORS = {
    "wellformed": 460,  # [460] with --exclude wellformed/sanitize
    "illformed": 8,     # [8]
    "encoding": 19,     # [19]
    "entities": 256,    # [256]
}


def main():
    gazette, corpus = sys.argv[1], sys.argv[2]
    conform = os.path.join(corpus, "conform.py")
    if not os.path.isfile(conform):
        print("conformance kit not found at %s: skipped" % corpus)
        return 77
    cmd = "%s parse {file}" % gazette
    failed = False
    for folder, floor in FLOORS.items():
        args = [sys.executable, conform, "--cmd", cmd, "--folder", folder,
                "--exclude", "wellformed/sanitize"]
        out = subprocess.run(args, capture_output=True, text=True,
                             check=False).stdout
        m = re.search(r"^conform: (\d+) passed, (\d+) failed", out, re.M)
        if m is None:
            print("%s: no summary from conform.py:\n%s" % (folder, out))
            failed = True
            continue
        passed = int(m.group(1))
        total = passed + int(m.group(2))
        ok = passed >= floor
        print("%-10s %4d/%-4d passed (floor %d) %s"
              % (folder, passed, total, floor, "ok" if ok else "BELOW FLOOR"))
        if not ok:
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
