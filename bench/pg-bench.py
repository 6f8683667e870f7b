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
  one      one gazetted --once, cold, --shared-feeds feeds on PostgreSQL
  many     --daemons gazetted --once at once on the same feeds and one
           database: the wall time until the last has exited

Wall seconds are medians of --rounds rounds. The targets of issue 17 are
checked: pg at most 2x sqlite, many at most 0.5x one. Standard library
only; prints markdown and writes it to OUT/pg-results.md.
"""

import argparse
import os
import shutil
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
    """k daemons at once on one database; wall until the last exits."""
    procs = []
    t0 = time.monotonic()
    for i in range(k):
        conf = os.path.join(work, "gazette-%d.conf" % i)
        write_conf(conf, db, urls, jobs)
        procs.append(subprocess.Popen(
            [exe, "--once", "-c", conf, "--db", db],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for p in procs:
        err = p.communicate()[1]
        if p.returncode != 0:
            print("bench: gazetted exited %d: %s" % (
                p.returncode, err.decode(errors="replace")[-500:]),
                file=sys.stderr)
    return time.monotonic() - t0


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
                   check=True, stdout=subprocess.DEVNULL)
    pg = PgServer()
    res = {"sqlite": [], "pg": [], "one": [], "many": []}
    count = {}
    try:
        def urls(n):
            return ["http://127.0.0.1:%d/feed-%05d.xml" % (port, i)
                    for i in range(n)]
        for _ in range(a.rounds):
            d = os.path.join(work, "round")
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            db = os.path.join(d, "gazette.db")
            res["sqlite"].append(cold(exe, d, db, urls(a.feeds), a.jobs)[0])
            count["sqlite"] = stories(gz, db)
            db = pg.database()
            res["pg"].append(cold(exe, d, db, urls(a.feeds), a.jobs)[0])
            count["pg"] = stories(gz, db)
            db = pg.database()
            res["one"].append(cold(exe, d, db, urls(a.shared_feeds),
                                   a.jobs)[0])
            count["one"] = stories(gz, db)
            db = pg.database()
            res["many"].append(many(exe, d, db, urls(a.shared_feeds),
                                    a.jobs, a.daemons))
            count["many"] = stories(gz, db)
    finally:
        pg.stop()
        subprocess.run(["sh", serve, "stop", str(port), state],
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    r1 = med["pg"] / med["sqlite"]
    r2 = med["many"] / med["one"]
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
            a.shared_feeds, a.daemons, med["many"], count["many"]),
        "", "### Targets", "",
        "- [%s] cold %d on PostgreSQL within 2× SQLite: %.2f×" % (
            "x" if r1 <= 2 else " ", a.feeds, r1),
        "- [%s] %d daemons on %d feeds within 0.5× one daemon: %.2f×" % (
            "x" if r2 <= 0.5 else " ", a.daemons, a.shared_feeds, r2),
        "- [%s] the same stories stored by one daemon and by %d: %d, %d" % (
            "x" if count["one"] == count["many"] else " ", a.daemons,
            count["one"], count["many"]),
        "", "Median of %d rounds, %d parallel fetches per daemon, %d CPUs."
        % (a.rounds, a.jobs, os.cpu_count()), ""])
    with open(os.path.join(a.out, "pg-results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
