#!/usr/bin/env python3
"""Crash safety (issue 7, item 4): gazetted polls 500 local feeds and is
killed with SIGKILL at random moments (every 50-200 ms after its start),
restarted each time, while `gazette mark read ID` runs beside it. After
each kill the database passes PRAGMA integrity_check; at the end, after
one clean poll, every expected story is stored exactly once and every
mark the CLI acknowledged (exit 0) is there.

The feeds change under the daemon: the n-th request of a feed serves its
first min(n + 1, 4) items, titled with n, so that polls keep inserting
and updating stories (an update must keep the read mark). The clean
final poll serves all 4 items of every feed: 2,000 stories expected.
Retention is set far out: the fixture dates are of 2006, and a purge
leaves tombstones by design.

CRASH_KILLS (default 50) sets the number of kills; bench/crash-soak.py
runs 500. CRASH_SEED makes a run repeatable (default: fixed)."""

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

from common import GAZETTE, GAZETTED, Base, httpd, main

N_FEEDS = int(os.environ.get("CRASH_FEEDS", "500"))
KILLS = int(os.environ.get("CRASH_KILLS", "50"))
SEED = int(os.environ.get("CRASH_SEED", "7"))
K = 4  # items per feed at the end


def version(i, n):
    items = [("c%d-%d" % (i, k), "story %d.%d v%d" % (i, k, n))
             for k in range(min(n + 1, K))]
    return {"body": httpd.rss("C%d" % i, items,
                              link_base="http://crash.example/%d/" % i)}


class TestCrashSafety(Base):
    def integrity(self):
        c = sqlite3.connect(self.env.db, timeout=30)
        try:
            return c.execute("PRAGMA integrity_check").fetchall()
        finally:
            c.close()

    def index_integrity(self):
        """The index file's own check (FTS5 integrity-check); None when
        there is no index yet (no file, or a file its first transaction
        has not made)."""
        path = self.env.db + ".index"
        if not os.path.exists(path):
            return None
        c = sqlite3.connect(path, timeout=30)
        try:
            # Created, not yet made (its schema is one transaction).
            if c.execute("PRAGMA user_version").fetchone()[0] == 0:
                return None
            c.execute("INSERT INTO story_fts(story_fts)"
                      " VALUES ('integrity-check')")
            return "ok"
        except sqlite3.Error as e:
            return str(e)
        finally:
            c.close()

    def index_matches_store(self):
        """After a catch-up: one index row per story, with its title."""
        c = sqlite3.connect(self.env.db + ".index", timeout=30)
        try:
            c.execute("ATTACH DATABASE ? AS store", (self.env.db,))
            rows = c.execute("SELECT count(*) FROM story_fts").fetchone()[0]
            stories = c.execute(
                "SELECT count(*) FROM store.story").fetchone()[0]
            wrong = c.execute(
                "SELECT count(*) FROM store.story s WHERE NOT EXISTS"
                " (SELECT 1 FROM story_fts f WHERE f.rowid = s.id"
                "  AND f.title = s.title)").fetchone()[0]
            return rows, stories, wrong
        finally:
            c.close()

    def marker(self, stop, rnd, acked, tried):
        """Mark random stories read with the CLI until stop is set."""
        while not stop.is_set():
            try:
                c = sqlite3.connect("file:%s?mode=ro" % self.env.db,
                                    uri=True, timeout=5)
                ids = [r[0] for r in c.execute(
                    "SELECT id FROM story WHERE read = 0 LIMIT 200")]
                c.close()
            except sqlite3.Error:
                ids = []
            if ids:
                sid = rnd.choice(ids)
                p = subprocess.run([GAZETTE, "--db", self.env.db, "mark",
                                    "read", str(sid)], capture_output=True,
                                   text=True, timeout=60)
                tried.append((sid, p.returncode, p.stderr.strip()))
                if p.returncode == 0:
                    acked.add(sid)
            stop.wait(0.03)

    def test_sigkill_at_random_moments_loses_nothing_acknowledged(self):
        rnd = random.Random(SEED)
        for i in range(N_FEEDS):
            self.srv.set("/c%d" % i, {"sequence": [version(i, n)
                                                   for n in range(K + 2)]})
        self.env.config([("C%d" % i, [self.srv.url("/c%d" % i)],
                          {"interval": "1s"}) for i in range(N_FEEDS)],
                        extra="retention = 36500d\nmax-connections = 64\n"
                        "per-host-connections = 64")
        # Stories from the start: the marks race the daemon's writes in
        # every run, however slowly it starts (TSan: past the 0.2 s a
        # run may last, so that no run stored one and nothing was marked).
        self.once_measured(timeout=120)
        stop = threading.Event()
        acked, tried = set(), []
        t = threading.Thread(target=self.marker,
                             args=(stop, random.Random(SEED + 1), acked,
                                   tried))
        t.start()
        started = time.time()
        bad = []
        try:
            for k in range(KILLS):
                log = open(self.env.log, "a")
                p = subprocess.Popen([GAZETTED, "-f", "-c", self.env.conf],
                                     stderr=log, stdout=log)
                log.close()
                time.sleep(rnd.uniform(0.05, 0.2))
                rc = p.poll()
                p.send_signal(signal.SIGKILL)
                p.wait()
                if rc is not None:
                    bad.append("run %d ended by itself: %d" % (k, rc))
                ic = self.integrity()
                if ic != [("ok",)]:
                    bad.append("after kill %d: %r" % (k, ic))
                ii = self.index_integrity()
                if ii not in (None, "ok"):
                    bad.append("index after kill %d: %r" % (k, ii))
        finally:
            stop.set()
            t.join()
        kill_secs = time.time() - started
        self.assertEqual(bad, [], self.env.read_log()[-3000:])
        stored_before = self.env.stories()

        # One clean poll of everything, serving the final 4 items.
        for i in range(N_FEEDS):
            self.srv.set("/c%d" % i, version(i, K + 1))
        self.env.q("UPDATE feed SET next_poll = 0, retry_after = 0")
        self.once_measured(timeout=120)
        self.assertEqual(self.integrity(), [("ok",)])
        dup = self.env.q("SELECT guid, count(*) FROM story GROUP BY guid "
                         "HAVING count(*) > 1")
        self.assertEqual(dup, [])
        self.assertEqual(self.env.stories(), N_FEEDS * K)
        self.assertEqual(self.env.q1("SELECT count(*) FROM membership"),
                         N_FEEDS * K)
        self.assertEqual(self.env.q1(
            "SELECT count(*) FROM story WHERE title NOT LIKE '%v" +
            str(K + 1) + "'"), 0)
        # The index, caught up by a search, holds every story as it is.
        p = subprocess.run([GAZETTE, "--db", self.env.db, "search", "v1"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.index_integrity(), "ok")
        rows, stories, wrong = self.index_matches_store()
        self.assertEqual((rows, wrong), (stories, 0))
        lost = [sid for sid in acked if self.env.q1(
            "SELECT read FROM story WHERE id = ?", sid) != 1]
        self.assertEqual(lost, [])
        self.assertGreater(len(acked), 0, tried[-5:])
        self.report("crash", kills=KILLS, secs="%.1f" % kill_secs,
                    stories_before_final_poll=stored_before,
                    marks_acked=len(acked), marks_tried=len(tried),
                    requests=len(self.srv.hits()))


class TestMarkIsDurable(Base):
    def test_cli_mark_syncs_the_wal_before_it_exits(self):
        """synchronous=FULL (STORE_SYNC_FULL) for the CLI: its commit
        syncs the write-ahead log before `gazette mark` says ok. With the
        daemon holding the database open, the CLI's close is not the last
        and does not checkpoint, so under synchronous=NORMAL the -wal
        would see no fdatasync at all: the sync seen is the commit's."""
        if shutil.which("strace") is None:
            self.skipTest("no strace")
        self.feed_route("/f")
        self.env.config([("F", [self.srv.url("/f")], {})])
        self.env.start()
        deadline = time.time() + 10
        while time.time() < deadline and not self.env.stories():
            time.sleep(0.05)
        p = subprocess.run(["strace", "-f", "-y", "-e",
                            "trace=fsync,fdatasync", GAZETTE, "--db",
                            self.env.db, "mark", "read", "1"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        synced = [ln for ln in p.stderr.splitlines()
                  if "sync(" in ln and self.env.db + "-wal>" in ln]
        self.assertTrue(synced, p.stderr[-2000:])
        self.assertEqual(self.env.q1("SELECT read FROM story WHERE id = 1"),
                         1)


if __name__ == "__main__":
    main()
