#!/usr/bin/env python3
"""Issue 17, point 6: three gazetted on one PostgreSQL database.

Three daemons poll 3,000 feeds served by tests/httpd.py (one user-agent
each, so that the server's request log says who fetched what); one of
them is killed with SIGKILL in the middle of its first round. Then:

  - no story is stored twice and none is lost: the stories are exactly
    the generated entries (4 of each feed's own, and 500 stories each
    carried by 6 feeds, which daemons merge at the same time), and each
    feed's memberships are exactly its entries;
  - every feed is polled once per interval: in the first round and the
    second (interval later) each feed is fetched once, but those the
    killed daemon had leased and not saved, which a survivor fetches
    once after the lease expired;
  - `gazette status` names the backend and the three daemons;
  - the survivors, stopped cleanly, leave no lease and no row behind.

Skipped (77) only when tests/pg-server.sh finds no server binaries.
Environment: GAZETTED, GAZETTE; PG_DAEMONS_FEEDS (default 3000); for
measuring, PG_DAEMONS (default 3) and PG_DAEMONS_KILL=0 (kill none).
"""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import httpd  # noqa: E402

GAZETTED = os.environ.get("GAZETTED", "build/daemon/gazetted")
GAZETTE = os.environ.get("GAZETTE", "build/cli/gazette")
N = int(os.environ.get("PG_DAEMONS_FEEDS", "3000"))
OWN = 4         # entries of a feed's own
SHARED = 500    # stories that several feeds carry (feed i: i % SHARED)
INTERVAL = 15   # seconds between polls of a feed
LEASE = 6       # lease-time
SLACK = INTERVAL - 1  # late, but no interval skipped (a loaded machine)
DAEMONS = int(os.environ.get("PG_DAEMONS", "3"))
KILL = os.environ.get("PG_DAEMONS_KILL", "1") != "0"

CONF = """[daemon]
database = {db}
socket = {sock}
interval = {interval}s
min-interval = 1s
lease-time = {lease}s
timeout = 20s
max-connections = 32
per-host-connections = 32
retention = forever
user-agent = {ua}
"""


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def psql_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return found[-1] if found else "psql"


class Db:
    def __init__(self, uri):
        self.uri = uri
        self.psql = psql_bin()

    def rows(self, sql):
        out = subprocess.run([self.psql, "-X", "-A", "-t", "-F", "\t",
                              "-v", "ON_ERROR_STOP=1", "-d", self.uri,
                              "-c", sql], capture_output=True, text=True,
                             timeout=60)
        if out.returncode != 0:
            fail("psql: %s: %s" % (sql, out.stderr))
        return [line.split("\t") for line in out.stdout.splitlines()
                if line]

    def one(self, sql):
        return int(self.rows(sql)[0][0])


def feed_items(i):
    """The entries of feed i: (guid, title) as httpd.rss() takes them;
    each links to http://example.org/ + guid."""
    items = [("f%d-%d" % (i, k), "Feed %d entry %d" % (i, k))
             for k in range(OWN)]
    items.append(("shared-%d" % (i % SHARED), "Shared %d" % (i % SHARED)))
    return items


def main():
    start = time.time()
    here = os.path.dirname(HERE)
    pg = subprocess.run(["sh", os.path.join(here, "pg-server.sh"), "start"],
                        capture_output=True, text=True)
    if pg.returncode == 77:
        print(pg.stderr.strip(), file=sys.stderr)
        return 77
    if pg.returncode != 0:
        fail("pg-server.sh start: " + pg.stderr)
    pgdir, uri = pg.stdout.split("\n")[0], pg.stdout.strip().split("\n")[-1]
    srv = httpd.Server().start()
    procs = []
    try:
        return run(uri, srv, procs, start)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        srv.stop()
        subprocess.run(["sh", os.path.join(here, "pg-server.sh"), "stop",
                        pgdir])


def run(uri, srv, procs, start):
    db = Db(uri)
    tmp = tempfile.mkdtemp(prefix="gz-pgd-")
    print("logs in " + tmp)
    paths = {}
    for i in range(N):
        path = "/f/%d.xml" % i
        srv.set(path, {"body": httpd.rss("Feed %d" % i, feed_items(i))})
        paths[i] = path
    opml = os.path.join(tmp, "subs.opml")
    with open(opml, "w") as f:
        f.write('<?xml version="1.0"?><opml version="2.0"><head>'
                '<title>t</title></head><body>\n')
        for i in range(N):
            f.write('<outline type="rss" text="Feed %d" xmlUrl="%s"/>\n'
                    % (i, srv.url(paths[i])))
        f.write("</body></opml>\n")
    confs = []
    for d in range(DAEMONS):
        c = os.path.join(tmp, "d%d.conf" % d)
        with open(c, "w") as f:
            f.write(CONF.format(db=uri, sock=os.path.join(tmp, "d%d.sock" % d),
                                interval=INTERVAL, lease=LEASE,
                                ua="gz-d%d" % d))
        confs.append(c)
    r = subprocess.run([GAZETTE, "--config", confs[0], "import", opml],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail("import: " + r.stderr)
    url_of = {}
    for fid, url in db.rows("SELECT feed_id, url FROM feed_url"):
        url_of[int(fid)] = url.split(":%d" % srv.port, 1)[1]
    if len(url_of) != N:
        fail("%d feeds imported, not %d" % (len(url_of), N))
    print("setup: %d feeds in %.1fs" % (N, time.time() - start))

    # ---- round 1: three daemons, one killed mid-poll ----
    srv.clear_log()
    logs = []
    for d in range(DAEMONS):
        log = open(os.path.join(tmp, "d%d.log" % d), "w")
        logs.append(log)
        procs.append(subprocess.Popen([GAZETTED, "-c", confs[d], "-v"],
                                      stdout=log, stderr=subprocess.STDOUT))
    t0 = time.time()
    deadline = t0 + 20
    while db.one("SELECT count(*) FROM daemon") < DAEMONS:
        if time.time() > deadline:
            fail("the daemons did not register")
        time.sleep(0.05)
    inst = {int(pid): i for i, pid in
            db.rows("SELECT instance, pid FROM daemon")}
    victim = procs[0]
    victim_inst = inst[victim.pid]
    while KILL:
        hits = srv.hits()
        mine = sum(1 for h in hits if h["headers"].get("user-agent") ==
                   "gz-d0")
        if mine >= 100:
            break
        if time.time() > deadline or len(hits) >= N:
            fail("the first daemon polled %d of %d before the kill"
                 % (mine, len(hits)))
        time.sleep(0.01)
    held = {}
    if KILL:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        t_kill = time.time()
        held = {int(fid): int(until) for fid, until in db.rows(
            "SELECT id, lease_until FROM feed WHERE lease_owner = '%s'"
            % victim_inst)}
        fetched_by_victim = {h["path"] for h in srv.hits()
                             if h["headers"].get("user-agent") == "gz-d0"}
        print("killed daemon 0 after %.1fs: it fetched %d feeds, held %d "
              "leases (%d of them fetched, not saved)"
              % (t_kill - t0, len(fetched_by_victim), len(held),
                 sum(1 for f in held if url_of[f] in fetched_by_victim)))
        if not held:
            fail("the killed daemon held no lease: not killed mid-poll")

    # ---- wait for round 2: every feed fetched twice, counting as one
    # the killed daemon's fetch that was never saved ----
    held_paths = {url_of[f] for f in held}

    def effective():
        per = {p: [] for p in paths.values()}
        for h in srv.hits():
            ua = h["headers"].get("user-agent")
            if ua == "gz-d0" and h["path"] in held_paths:
                continue  # fetched, not saved: its lease ran out
            per[h["path"]].append((h["time"], ua))
        return per

    deadline = time.time() + 2 * INTERVAL + LEASE + 45
    round1_done = None
    while True:
        per = effective()
        n1 = sum(1 for v in per.values() if len(v) >= 1)
        n2 = sum(1 for v in per.values() if len(v) >= 2)
        if n1 == N and round1_done is None:
            round1_done = time.time()
            print("round 1: every feed polled after %.1fs"
                  % (round1_done - t0))
            st = subprocess.run([GAZETTE, "--config", confs[-1], "status"],
                                capture_output=True, text=True, timeout=60)
            status = st.stdout
        if n2 == N:
            break
        if time.time() > deadline:
            fail("after %.0fs: %d feeds polled once, %d twice (of %d)"
                 % (time.time() - t0, n1, n2, N))
        time.sleep(0.2)
    print("round 2: every feed polled again after %.1fs" % (time.time() - t0))

    # ---- stop the survivors cleanly ----
    survivors = procs[1:] if KILL else procs
    for p in survivors:
        p.send_signal(signal.SIGTERM)
    for p in survivors:
        if p.wait(timeout=30) != 0:
            fail("a daemon exited %d" % p.returncode)
    for log in logs:
        log.close()

    # ---- polled once per interval: each poll an interval after the
    # last, whichever daemon made it (whole seconds: up to 1.5 s less; a
    # poll's next is counted from its save, later on a loaded machine,
    # but never an interval skipped) ----
    per = effective()
    bad = []
    for path, fetches in per.items():
        times = sorted(t for t, _ in fetches)
        if len(times) < 2:
            bad.append("%s fetched %d times" % (path, len(times)))
            continue
        for x, y in zip(times, times[1:]):
            if not INTERVAL - 1.5 <= y - x <= INTERVAL + SLACK:
                bad.append("%s fetched %.1fs after the last" %
                           (path, y - x))
    taken_over = 0
    for fid, until in held.items():
        first = min(t for t, _ in per[url_of[fid]])
        if first < until - 1:
            bad.append("%s polled at %.0f, its lease ran to %d" %
                       (url_of[fid], first, until))
        taken_over += 1
    if bad and os.environ.get("PG_DAEMONS_DEBUG"):
        for path in list(per)[:5]:
            print(path, [(round(t - t0, 2), ua) for t, ua in sorted(per[path])])
    if bad:
        fail("%d feeds not polled once per interval: %s"
             % (len(bad), "; ".join(bad[:10])))
    firsts = [min(t for t, _ in v) for v in per.values()]
    by = {}
    for v in per.values():
        ua = min(v)[1]
        by[ua] = by.get(ua, 0) + 1
    print("round 1: %.1fs from the first fetch to the last; first polls "
          "by daemon: %s" % (max(firsts) - min(firsts),
                             ", ".join("%s %d" % kv for kv in sorted(
                                 by.items()))))
    print("polled once per interval: %d feeds, each poll %d-%ds after the "
          "last, %d taken over after their lease expired; %d fetches in all"
          % (N, INTERVAL - 1, INTERVAL + SLACK, taken_over,
             len(srv.hits())))

    # ---- no duplicate, none lost ----
    want_links = {"http://example.org/" + g for i in range(N)
                  for g, _ in feed_items(i)}
    stories = db.rows("SELECT link FROM story")
    links = [r[0] for r in stories]
    if len(links) != len(set(links)):
        dup = len(links) - len(set(links))
        fail("%d duplicate stories" % dup)
    lost = want_links - set(links)
    extra = set(links) - want_links
    if lost or extra:
        fail("%d stories lost, %d unexpected" % (len(lost), len(extra)))
    have = {}
    for fid, link in db.rows("SELECT m.feed_id, s.link FROM membership m"
                             " JOIN story s ON s.id = m.story_id"):
        have.setdefault(int(fid), set()).add(link)
    wrong = 0
    for fid, path in url_of.items():
        i = int(path.split("/")[-1].split(".")[0])
        if have.get(fid) != {"http://example.org/" + g
                             for g, _ in feed_items(i)}:
            wrong += 1
    if wrong:
        fail("%d feeds whose stories are not their entries" % wrong)
    print("stories: %d, as generated (%d memberships): 0 duplicates, "
          "0 lost" % (len(links), sum(len(v) for v in have.values())))

    # ---- status, and what a clean exit leaves ----
    if "backend: postgresql " not in status:
        fail("status names no backend:\n" + status)
    lines = [ln for ln in status.splitlines() if ln.startswith("daemon: ")]
    if len(lines) != DAEMONS or not any(victim_inst in ln for ln in lines):
        fail("status lists %d daemons, not the %d:\n%s"
             % (len(lines), DAEMONS, status))
    print("status:\n  " + "\n  ".join(
        ln for ln in status.splitlines()
        if ln.startswith(("backend", "daemon"))))
    left = db.rows("SELECT instance FROM daemon")
    if [r[0] for r in left] != ([victim_inst] if KILL else []):
        fail("daemon rows left: %s" % left)
    n = db.one("SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL")
    if n:
        fail("%d leases left after a clean exit" % n)
    print("ok in %.1fs" % (time.time() - start))
    shutil.rmtree(tmp)  # kept, with the daemons' logs, when a check fails
    return 0


if __name__ == "__main__":
    sys.exit(main())
