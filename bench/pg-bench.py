#!/usr/bin/env python3
"""The PostgreSQL backend beside the SQLite one, measured in one run.

    bench/pg-bench.py [--feeds 1000] [--shared-feeds 3000] [--daemons 3]
                      [--jobs 8] [--rounds 3] [--builddir build]
                      [--shared ../shared] [--out bench/out]

The corpus (../shared/bench/gen_feeds.py) is served by lighttpd on
127.0.0.1 (../shared/bench/serve.sh), as in bench/run.py; the server is
a throwaway PostgreSQL (tests/pg-server.sh: a unix socket, fsync on, as
a real one), a fresh database for every round:

  sqlite   gazetted --once, cold, --feeds feeds into an empty SQLite store
  pg       the same into an empty PostgreSQL database
  one      one gazetted, cold, --shared-feeds feeds on PostgreSQL
  many     --daemons gazetted at once on the same feeds and one
           database, sharing them by leases
  one, many at N KB/s: the same, each feed served at --slow-kbps KB/s
           (lighttpd's /slow/), as from a remote site: there one daemon
           waits on the network, where over loopback it keeps the CPUs
           busy (0 leaves these rows out)

For one and many the daemons run as a service would (--once takes no
leases: it polls every feed), and the wall time is from their start
until every feed has been polled and saved once; then they are stopped.

Wall seconds are medians of --rounds rounds. The targets of issue 17 are
checked: pg at most 2x sqlite, many at most 0.5x one (in each setting). Standard library
only; prints markdown and writes it to OUT/pg-results.md.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (bench/run.py: run(), free_port())

TOP = bench.TOP


class PgServer:
    """tests/pg-server.sh: start on construction, stop()."""

    def __init__(self):
        # fsync on: the server is measured as a real one would run
        p = subprocess.run(["sh", os.path.join(TOP, "tests",
                                               "pg-server.sh"), "start"],
                           capture_output=True, text=True,
                           env=dict(os.environ, PG_FSYNC="on"))
        if p.returncode != 0:
            sys.exit("bench: no PostgreSQL server: %s" % p.stderr.strip())
        self.dir, self.uri = p.stdout.split("\n")[:2]
        self.n = 0

    def database(self):
        """A new empty database; its URI."""
        self.n += 1
        name = "bench%d" % self.n
        base = self.uri.rsplit("/", 1)[0]
        subprocess.run(["psql", "-q", "-d", self.uri, "-c",
                        "CREATE DATABASE %s" % name], check=True,
                       stdout=subprocess.DEVNULL)
        return base + "/" + name

    def stop(self):
        subprocess.run(["sh", os.path.join(TOP, "tests", "pg-server.sh"),
                        "stop", self.dir])


def write_conf(path, db, urls, jobs, extra=""):
    with open(path, "w") as f:
        f.write("[daemon]\ndatabase = %s\n" % db)
        f.write("max-connections = %d\nper-host-connections = %d\n"
                % (jobs, jobs))
        f.write(extra)
        for i, u in enumerate(urls):
            f.write('\n[feed "f%05d"]\nurl = %s\n' % (i, u))


def cold(exe, work, db, urls, jobs):
    """One cold gazetted --once into db: bench.run's tuple."""
    conf = os.path.join(work, "gazette.conf")
    write_conf(conf, db, urls, jobs)
    r = bench.run([exe, "--once", "-c", conf, "--db", db])
    if r[3] != 0:
        print("bench: gazetted exited %d: %s" % (r[3], r[4][-500:]),
              file=sys.stderr)
    return r


def many(exe, work, db, urls, jobs, k):
    """k daemons (not --once: --once takes no leases and polls every
    feed) on one database: wall from their start until every feed was
    polled and saved once, and how many exited with an error (each a
    row's failure: a daemon that gave up leaves its share to others)."""
    procs = []
    t0 = time.monotonic()
    for i in range(k):
        conf = os.path.join(work, "gazette-%d.conf" % i)
        write_conf(conf, db, urls, jobs, "interval = 6h\nsocket = %s\n"
                   % os.path.join(work, "ctl-%d.sock" % i))
        procs.append(subprocess.Popen(
            [exe, "-c", conf, "--db", db],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    wall = None
    while wall is None:
        out = subprocess.run(["psql", "-X", "-A", "-t", "-d", db, "-c",
                              "SELECT count(*) FROM feed"
                              " WHERE next_poll > 0"],
                             capture_output=True, text=True).stdout.strip()
        if out.isdigit() and int(out) >= len(urls):
            wall = time.monotonic() - t0
        elif any(p.poll() is not None for p in procs):
            wall = time.monotonic() - t0  # one gave up: counted below
            break
        else:
            time.sleep(0.05)
    failed = 0
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        err = p.communicate()[1]
        if p.returncode != 0:
            failed += 1
            print("bench: gazetted exited %d: %s" % (
                p.returncode, err.decode(errors="replace")[-500:]),
                file=sys.stderr)
    return wall, failed


def stories(gazette, db):
    out = subprocess.run([gazette, "--db", db, "list", "--all"],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--shared-feeds", type=int, default=3000)
    ap.add_argument("--daemons", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--slow-kbps", type=int, default=512)
    ap.add_argument("--builddir", default=os.path.join(TOP, "build"))
    ap.add_argument("--shared", default=os.path.join(TOP, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(TOP, "bench", "out"))
    a = ap.parse_args()
    exe = os.path.join(a.builddir, "daemon", "gazetted")
    gz = os.path.join(a.builddir, "cli", "gazette")
    gen = os.path.join(a.shared, "bench", "gen_feeds.py")
    serve = os.path.join(a.shared, "bench", "serve.sh")
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="gazette-pgbench-")
    docroot = os.path.join(work, "docroot")
    n_max = max(a.feeds, a.shared_feeds)
    subprocess.run([sys.executable, gen, docroot, "-n", str(n_max)],
                   check=True, stdout=subprocess.DEVNULL)
    port = bench.free_port()
    state = os.path.join(work, "httpd")
    subprocess.run(["sh", serve, "start", docroot, str(port), state],
                   check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, SLOW_KBPS=str(a.slow_kbps or 16)))
    pg = PgServer()
    res = {"sqlite": [], "pg": [], "one": [], "many": [], "one-slow": [],
           "many-slow": []}
    count = {}
    failed = 0  # runs of gazetted that exited with an error
    try:
        def urls(n, where=""):
            return ["http://127.0.0.1:%d/%sfeed-%05d.xml" % (port, where, i)
                    for i in range(n)]
        def shared(d, k, where, row):
            """k daemons on the shared feeds: their wall into res[row]."""
            nonlocal failed
            db = pg.database()
            wall, nfail = many(exe, d, db, urls(a.shared_feeds, where),
                               a.jobs, k)
            res[row].append(wall)
            failed += nfail
            count[row] = stories(gz, db)
        def once(d, db, n):
            """One cold --once: its wall; a failure counted."""
            nonlocal failed
            r = cold(exe, d, db, urls(n), a.jobs)
            failed += r[3] != 0
            return r[0]
        for _ in range(a.rounds):
            d = os.path.join(work, "round")
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            db = os.path.join(d, "gazette.db")
            res["sqlite"].append(once(d, db, a.feeds))
            count["sqlite"] = stories(gz, db)
            db = pg.database()
            res["pg"].append(once(d, db, a.feeds))
            count["pg"] = stories(gz, db)
            shared(d, 1, "", "one")
            shared(d, a.daemons, "", "many")
            if a.slow_kbps:
                shared(d, 1, "slow/", "one-slow")
                shared(d, a.daemons, "slow/", "many-slow")
    finally:
        pg.stop()
        subprocess.run(["sh", serve, "stop", str(port), state],
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items() if v}
    ok = failed == 0
    r1 = med["pg"] / med["sqlite"]
    r2 = med["many"] / med["one"]
    slow = []
    if a.slow_kbps:
        r3 = med["many-slow"] / med["one-slow"]
        slow = [
            "| PostgreSQL, cold, %d KB/s a feed | %d | 1 | %.3f s | %d |" % (
                a.slow_kbps, a.shared_feeds, med["one-slow"],
                count["one-slow"]),
            "| PostgreSQL, cold, %d KB/s a feed | %d | %d | %.3f s | %d |" % (
                a.slow_kbps, a.shared_feeds, a.daemons, med["many-slow"],
                count["many-slow"])]
        slow_target = [
            "- [%s] %d daemons on %d feeds served at %d KB/s within 0.5×"
            " one daemon: %.2f×" % (
                "x" if ok and r3 <= 0.5 else " ", a.daemons,
                a.shared_feeds, a.slow_kbps, r3),
            "- [%s] the same stories stored by one daemon and by %d"
            " there: %d, %d" % (
                "x" if count["one-slow"] == count["many-slow"] else " ",
                a.daemons, count["one-slow"], count["many-slow"])]
    else:
        slow_target = []
    text = "\n".join([
        "### PostgreSQL beside SQLite", "",
        "| run | feeds | daemons | wall | stories |",
        "|---|---|---|---|---|",
        "| SQLite, cold | %d | 1 | %.3f s | %d |" % (
            a.feeds, med["sqlite"], count["sqlite"]),
        "| PostgreSQL, cold | %d | 1 | %.3f s | %d |" % (
            a.feeds, med["pg"], count["pg"]),
        "| PostgreSQL, cold | %d | 1 | %.3f s | %d |" % (
            a.shared_feeds, med["one"], count["one"]),
        "| PostgreSQL, cold | %d | %d | %.3f s | %d |" % (
            a.shared_feeds, a.daemons, med["many"], count["many"])] + slow + [
        "", "### Targets", "",
        "- [%s] cold %d on PostgreSQL within 2× SQLite: %.2f×" % (
            "x" if ok and r1 <= 2 else " ", a.feeds, r1),
        "- [%s] %d daemons on %d feeds within 0.5× one daemon: %.2f×" % (
            "x" if ok and r2 <= 0.5 else " ", a.daemons, a.shared_feeds, r2),
        "- [%s] the same stories stored by one daemon and by %d: %d, %d" % (
            "x" if count["one"] == count["many"] else " ", a.daemons,
            count["one"], count["many"])] + slow_target + [
        "- [%s] every gazetted exited cleanly: %d failed" % (
            "x" if ok else " ", failed),
        "", "Median of %d rounds, %d parallel fetches per daemon, %d CPUs."
        % (a.rounds, a.jobs, os.cpu_count()), ""])
    with open(os.path.join(a.out, "pg-results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
