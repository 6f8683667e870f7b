#!/usr/bin/env python3
"""Run the shared feedparser conformance kit against `gazette parse`.

Fails when a folder's pass count drops below the floor this parser has
reached; skips (77) when the kit is not beside the source tree. First,
whatever the kit: `gazette parse` on the JSON Feeds of tests/data/jsonfeed
prints their items, and on malformed JSON fails with the reason.
Usage: conformance.py GAZETTE CORPUS_DIR
"""
import json
import os
import re
import subprocess
import sys

JSONFEED = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "data", "jsonfeed")


def parse(gazette, name, *args):
    """`gazette parse` on a JSON Feed fixture: (exit status, stdout, stderr)."""
    r = subprocess.run([gazette, "parse", *args,
                        os.path.join(JSONFEED, name)],
                       capture_output=True, text=True, check=False,
                       env={k: v for k, v in os.environ.items()
                            if not k.startswith("FEED_")})
    return r.returncode, r.stdout, r.stderr


def json_feed_checks(gazette):
    """The JSON Feed checks; a list of what went wrong (empty: none)."""
    bad = []
    rc, out, err = parse(gazette, "spec-1.1-podcast.json")
    doc = json.loads(out) if rc == 0 else {}
    items = doc.get("entries", [])
    if rc != 0 or len(items) != 1:
        bad.append("podcast: exit %d, %d entries: %s" % (rc, len(items), err))
    else:
        e = items[0]
        if (e["title"] != "Special #1 - Chris Parrish"
                or e["published"] != "2014-05-09T21:04:00Z"
                or e["enclosures"][0]["type"] != "audio/x-m4a"
                or e["enclosures"][0]["length"] != "89970236"
                or doc["feed"]["title"] != "The Record"
                or not doc["feed"]["is_feed"] or doc["bozo"]):
            bad.append("podcast: unexpected output %r" % doc)
    rc, out, err = parse(gazette, "news-1.1.json",
                         "--base", "https://daily.example/world/feed.json")
    doc = json.loads(out) if rc == 0 else {}
    titles = [e["title"] for e in doc.get("entries", [])]
    if titles != ["Harbour reopens after the storm",
                  "Election: the count goes on",
                  "Worth reading: a report from elsewhere"]:
        bad.append("news: exit %d, titles %r: %s" % (rc, titles, err))
    elif doc["entries"][0]["link"] != \
            "https://daily.example/world/2024/05/09/harbour":
        bad.append("news: link %r" % doc["entries"][0]["link"])
    for name in ("truncated.json", "trailing-comma.json"):
        rc, out, err = parse(gazette, name)
        if rc != 1 or "not valid JSON" not in err \
                or json.loads(out)["entries"]:
            bad.append("%s: exit %d, stderr %r, stdout %r"
                       % (name, rc, err, out))
    print("jsonfeed   %4d/%-4d checks passed" % (4 - len(bad), 4))
    for b in bad:
        print("  " + b)
    return bad

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
    failed = bool(json_feed_checks(gazette))
    conform = os.path.join(corpus, "conform.py")
    if not os.path.isfile(conform):
        print("conformance kit not found at %s: skipped" % corpus)
        return 1 if failed else 77
    cmd = "%s parse {file}" % gazette
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
