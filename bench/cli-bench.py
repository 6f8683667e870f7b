#!/usr/bin/env python3
"""The CLI's benchmark (not a test): the real `gazette` binary on a
database of 1,000,000 stories, and the HTML export seen by a browser.

  bench/cli-bench.py [BUILDDIR [WORKDIR]]

1. Builds (once, kept in WORKDIR/big.db) a database of 1,000,000
   stories in 1,000 feeds, 10% of them unread, each with a title of
   about 60 bytes, a summary of 200 and a content of 800 (slices of a
   made-up 20 KB corpus), all in the full-text index: gazette creates
   the schema, then SQL transactions of 50,000 rows fill it (through
   the store's merge this takes an hour on this machine).
2. `gazette list --unread --limit 50`: process wall time, piped (the
   tab-separated output) and on a pseudo-terminal (the fitted table),
   median and worst of 20 runs. Target: under 30 ms.
3. `gazette export json` of every story to /dev/null: stories per second
   of wall time, best of 3. Target: over 100,000 stories/s.
4. `gazette import` of a 10,000-outline OPML file: process time (user +
   system). Target: under 2 s.
5. The HTML export of a few hostile stories opened in headless Chromium
   (Debian's `chromium`), a screenshot in WORKDIR/export.png, when
   chromium is installed.
"""

import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
WORK = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                       os.path.join(tempfile.gettempdir(),
                                    "gazette-cli-bench"))
GAZETTE = os.path.join(BUILD, "cli", "gazette")
POPULATE = os.path.join(BUILD, "tests", "populate")
STORIES = 1000000


def wall(argv, **kw):
    """Wall seconds of one run, output discarded."""
    return timed(argv, **kw)[0]


def timed(argv, **kw):
    """Wall and process (user + system) seconds of one run."""
    a = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, **kw)
    t = time.perf_counter() - t0
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("%s failed: %s" % (argv, p.stderr.decode()))
    return t, (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime)


def cpu(argv, **kw):
    """User + system seconds of one child run."""
    a = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, capture_output=True, **kw)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("%s failed: %s" % (argv, p.stderr.decode()))
    return (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime)


def build_big(db):
    """The 1,000,000-story database, unless it is there already."""
    if os.path.exists(db):
        c = sqlite3.connect(db)
        n = c.execute("SELECT count(*) FROM story").fetchone()[0]
        c.close()
        if n >= STORIES:
            return
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    # gazette makes the schema (and refuses a database newer than itself)
    subprocess.run([GAZETTE, "--db", db, "feeds"], check=True,
                   stdout=subprocess.DEVNULL)
    rnd = random.Random(20240506)
    vocab = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz")
                     for _ in range(rnd.randint(2, 11))) for _ in range(20000)]
    # a skewed pick, frequent words first, as in real text
    corpus = " ".join(vocab[int(rnd.paretovariate(1.1)) % len(vocab)]
                      for _ in range(3000))
    t0 = time.perf_counter()
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA synchronous = OFF")
    c.execute("PRAGMA cache_size = -1000000")
    c.execute("PRAGMA temp_store = MEMORY")
    c.execute("BEGIN")
    c.executemany("INSERT INTO feed (id, title) VALUES (?, ?)",
                  [(i, "Site %d" % i) for i in range(1, 1001)])
    c.executemany("INSERT INTO feed_url (feed_id, position, url) "
                  "VALUES (?, 0, ?)",
                  [(i, "https://site%d.example/rss" % i)
                   for i in range(1, 1001)])
    n = len(corpus) - 1000
    c.execute("COMMIT")
    step = 50000
    for lo in range(1, STORIES + 1, step):
        hi = min(lo + step - 1, STORIES)
        c.execute("BEGIN")
        c.execute("""
            WITH RECURSIVE k(i) AS (SELECT ?4 UNION ALL SELECT i + 1 FROM k
                                    WHERE i < ?5)
            INSERT INTO story (id, link_key, guid, title, link, author,
                               summary, content, published, first_seen, read)
            SELECT i, 'https://site' || (i % 1000 + 1) || '.example/' || i,
                   'https://site' || (i % 1000 + 1) || '.example/' || i,
                   substr(?2, (i * 7919) % ?3 + 1, 60),
                   'https://site' || (i % 1000 + 1) || '.example/' || i,
                   'A. Writer',
                   substr(?2, (i * 104729) % ?3 + 1, 200),
                   '<p>' || substr(?2, (i * 1299709) % ?3 + 1, 400) ||
                   '</p><p>' || substr(?2, (i * 15485863) % ?3 + 1, 400) ||
                   '</p>',
                   1700000000 - (?1 - i) * 30, 1700000000 - (?1 - i) * 30,
                   i % 10 != 0
            FROM k""", (STORIES, corpus, n, lo, hi))
        c.execute("""INSERT INTO membership (feed_id, story_id, ident,
                                             guid_key, link_key, chash)
                     SELECT id % 1000 + 1, id, guid, guid, link_key, id
                     FROM story WHERE id BETWEEN ? AND ?""", (lo, hi))
        c.execute("COMMIT")
        print("  %d stories, %.0f s" % (hi, time.perf_counter() - t0),
              flush=True)
    c.close()
    print("built %d stories in %.0f s" % (STORIES, time.perf_counter() - t0))


def main():
    os.makedirs(WORK, exist_ok=True)
    subprocess.run(["ninja", "-C", BUILD, "cli/gazette", "tests/populate"],
                   check=True, stdout=subprocess.DEVNULL)
    db = os.path.join(WORK, "big.db")
    print("# gazette CLI benchmark\n")
    print("building (or reusing) %s ..." % db, flush=True)
    build_big(db)
    base = [GAZETTE, "--db", db]
    env = dict(os.environ, NO_COLOR="1")

    print("\n## list --unread --limit 50 on %d stories\n" % STORIES)
    wall(base + ["list", "--unread", "--limit", "50"])  # warm the cache
    runs = [timed(base + ["list", "--unread", "--limit", "50"])
            for _ in range(20)]
    piped = [w for w, _ in runs]
    piped_cpu = [c for _, c in runs]
    cmd = " ".join(base + ["list", "--unread", "--limit", "50"])
    tty = [wall(["script", "-qec", "stty cols 120; exec " + cmd,
                 "/dev/null"], env=env) for _ in range(20)]
    print("load average before: %.1f (2 cores)\n" % os.getloadavg()[0])
    print("| output | median ms | worst ms | target |")
    print("| --- | ---: | ---: | --- |")
    print("| piped (tab-separated) | %.1f | %.1f | < 30 ms |" %
          (statistics.median(piped) * 1000, max(piped) * 1000))
    print("| piped, process time (user + sys) | %.1f | %.1f | |" %
          (statistics.median(piped_cpu) * 1000, max(piped_cpu) * 1000))
    base_tty = [wall(["script", "-qec", "stty cols 120; exec true",
                      "/dev/null"], env=env) for _ in range(20)]
    print("| terminal (table, via script(1)) | %.1f | %.1f | < 30 ms "
          "(includes script's own start) |" %
          (statistics.median(tty) * 1000, max(tty) * 1000))
    print("| script(1) running `true`, to subtract | %.1f | %.1f | |" %
          (statistics.median(base_tty) * 1000, max(base_tty) * 1000))

    print("\n## export json of every story\n")
    runs = [timed(base + ["export", "json"]) for _ in range(3)]
    best = min(w for w, _ in runs)
    cpu_best = min(c for _, c in runs)
    print("%d stories in %.2f s wall: %.0f stories/s (target > 100,000); "
          "process time %.2f s: %.0f stories/s" %
          (STORIES, best, STORIES / best, cpu_best, STORIES / cpu_best))

    print("\n## import of 10,000 outlines\n")
    opml = os.path.join(WORK, "big.opml")
    with open(opml, "w") as f:
        f.write('<?xml version="1.0"?>\n<opml version="2.0"><body>\n')
        for i in range(10000):
            f.write('<outline text="Feed %d" type="rss" '
                    'xmlUrl="https://h%d.example/rss"/>\n' % (i, i))
        f.write("</body></opml>\n")
    idb = os.path.join(WORK, "import.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(idb + suffix):
            os.unlink(idb + suffix)
    first = cpu([GAZETTE, "--db", idb, "import", opml])
    again = cpu([GAZETTE, "--db", idb, "import", opml])
    print("first import: %.3f s process time; re-import (adds nothing): "
          "%.3f s (target < 2 s)" % (first, again))

    print("\n## HTML export in a browser\n")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed: no screenshot")
        return
    hdb = os.path.join(WORK, "html.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(hdb + suffix):
            os.unlink(hdb + suffix)
    data = os.path.join(TOP, "tests", "data", "cli")
    for url, name in (("https://news.example/rss", "news.xml"),
                      ("https://world.example/atom", "world.xml")):
        subprocess.run([POPULATE, hdb, url, os.path.join(data, name),
                        "1715000000"], check=True,
                       stdout=subprocess.DEVNULL)
    page = os.path.join(WORK, "export.html")
    png = os.path.join(WORK, "export.png")
    subprocess.run([GAZETTE, "--db", hdb, "export", "html", "-o", page],
                   check=True)
    if os.path.exists(png):
        os.unlink(png)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox",
                        "--disable-gpu", "--no-first-run",
                        "--disable-background-networking",
                        "--user-data-dir=" + profile,
                        "--window-size=900,1200", "--screenshot=" + png,
                        "file://" + page], capture_output=True, timeout=120)
        dom = subprocess.run([chromium, "--headless", "--no-sandbox",
                              "--disable-gpu", "--no-first-run",
                              "--disable-background-networking",
                              "--user-data-dir=" + profile, "--dump-dom",
                              "file://" + page],
                             capture_output=True, text=True, timeout=120)
    shown = [t for t in ("Volcano erupts", "Rates rise", "Harbour reopens")
             if t in dom.stdout]
    print("screenshot: %s (%s)" % (png, "written" if os.path.exists(png)
                                   else "MISSING"))
    print("titles in the rendered DOM: %d of 3; script elements: %d" %
          (len(shown), dom.stdout.count("<script")))


main()
