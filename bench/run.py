#!/usr/bin/env python3
"""gazette beside its peers (newsboat, sfeed), measured in one run.

    bench/run.py [--sizes 1000,5000] [--peers-at 1000] [--jobs 8]
                 [--rounds 3] [--idle 10] [--builddir build]
                 [--shared ../shared] [--out bench/out]

Each tool polls the same corpus (../shared/bench/gen_feeds.py) served by
lighttpd on 127.0.0.1 (../shared/bench/serve.sh, ETag and Last-Modified
on), with the same parallelism (--jobs):

  cold    first poll of every feed into an empty store
  warm    the second poll: the server answers 304 where the tool asks
  bounds  what no aggregator can beat, on the same bytes: a parallel curl
          fetch of the URLs, xmllint --stream --noout over the files, and
          a plain sqlite3 bulk INSERT (.import) of the items gazette stored,
          every field with the bodies
  idle    gazetted's CPU while it waits between polls (--idle seconds)
  parse   one 10 MiB RSS file parsed from disk (gazette parse, sfeed)

For each: wall seconds, CPU seconds (user+sys of the process tree) and
peak RSS, the median of --rounds runs; gazette's ratio to each peer, and
the targets of issue 4 checked. Standard library only; prints markdown
and writes it to OUT/results.md.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, env=None, cwd=None):
    """Run argv; return (wall s, cpu s, peak RSS KiB, exit status, stderr).

    GNU time does the measuring: a child forked from this Python process
    would start with Python's own RSS as its high-water mark, so the
    small `time` process forks and execs the tool instead. CPU is user +
    sys of the tool and every child it waited for (sfeed_update's curl and
    sfeed processes); peak RSS is the largest single process.
    """
    fd, stats = tempfile.mkstemp(prefix="time-")
    os.close(fd)
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-q", "-o", stats, "-f",
                        "%U %S %M"] + argv, env=env, cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    with open(stats) as f:
        fields = f.read().split()
    os.unlink(stats)
    user, sys_, rss = float(fields[-3]), float(fields[-2]), int(fields[-1])
    return (wall, user + sys_, rss, p.returncode,
            p.stderr.decode(errors="replace"))


class Tool:
    name = "?"

    def __init__(self, work, urls, jobs, builddir):
        self.dir = os.path.join(work, self.name)
        self.urls = urls
        self.jobs = jobs
        self.builddir = builddir

    def reset(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.setup()

    def setup(self):
        pass


class Gazette(Tool):
    name = "gazette"

    def setup(self):
        self.conf = os.path.join(self.dir, "gazette.conf")
        self.db = os.path.join(self.dir, "gazette.db")
        with open(self.conf, "w") as f:
            f.write("[daemon]\n")
            f.write("database = %s\n" % self.db)
            f.write("max-connections = %d\n" % self.jobs)
            f.write("per-host-connections = %d\n" % self.jobs)
            for i, u in enumerate(self.urls):
                f.write('\n[feed "f%05d"]\nurl = %s\n' % (i, u))

    def poll(self):
        exe = os.path.join(self.builddir, "daemon", "gazetted")
        return run([exe, "--once", "-c", self.conf, "--db", self.db])

    def stories(self):
        out = subprocess.run(
            [os.path.join(self.builddir, "cli", "gazette"), "--config",
             self.conf, "--db", self.db, "list", "--all"],
            capture_output=True, text=True).stdout
        return len(out.splitlines())


class Newsboat(Tool):
    name = "newsboat"

    def setup(self):
        with open(os.path.join(self.dir, "urls"), "w") as f:
            f.write("".join(u + "\n" for u in self.urls))
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("reload-threads %d\n" % self.jobs)
            f.write("download-timeout 30\n")
            f.write("show-read-feeds yes\n")
        self.env = dict(os.environ, HOME=self.dir,
                        XDG_CONFIG_HOME=os.path.join(self.dir, "cfg"),
                        XDG_DATA_HOME=os.path.join(self.dir, "data"))

    def poll(self):
        d = self.dir
        return run(["newsboat", "-u", d + "/urls", "-c", d + "/cache.db",
                    "-C", d + "/config", "-x", "reload"], env=self.env)

    def stories(self):
        out = subprocess.run(["sqlite3", self.dir + "/cache.db",
                              "select count(*) from rss_item"],
                             capture_output=True, text=True).stdout
        return int(out.strip() or 0)


class Sfeed(Tool):
    name = "sfeed"

    def setup(self):
        self.rc = os.path.join(self.dir, "sfeedrc")
        with open(self.rc, "w") as f:
            f.write('sfeedpath="%s/feeds"\nmaxjobs=%d\nfeeds() {\n'
                    % (self.dir, self.jobs))
            for i, u in enumerate(self.urls):
                f.write('\tfeed "f%05d" "%s"\n' % (i, u))
            f.write("}\n")

    def poll(self):
        return run(["sfeed_update", self.rc],
                   env=dict(os.environ, HOME=self.dir))

    def stories(self):
        n = 0
        d = os.path.join(self.dir, "feeds")
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                n += sum(1 for _ in f)
        return n


def median_of(runs):
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))


def fmt(v, unit):
    if unit == "KiB":
        return "%.1f MiB" % (v / 1024)
    return "%.3f s" % v


def measure(tool, rounds):
    """cold and warm medians of a tool over rounds fresh stores."""
    cold, warm = [], []
    for _ in range(rounds):
        tool.reset()
        r1 = tool.poll()
        r2 = tool.poll()
        for r in (r1, r2):
            if r[3] != 0:
                print("bench: %s exited %d: %s" % (tool.name, r[3],
                      r[4][-500:]), file=sys.stderr)
        cold.append(r1)
        warm.append(r2)
    return median_of(cold), median_of(warm)


def items_csv(work, gazette):
    """The items gazette stored, every field with the bodies (summary and
    content), as CSV for the sqlite3 bound: the same rows a plain bulk
    INSERT would write. Made from the JSON export, not timed."""
    import csv
    import json
    path = os.path.join(work, "items.csv")
    out = subprocess.run([os.path.join(gazette.builddir, "cli", "gazette"),
                          "--config", gazette.conf, "--db", gazette.db,
                          "export", "json"], check=True,
                         capture_output=True, text=True).stdout
    cols = ("guid", "title", "link", "author", "published", "updated",
            "summary", "content")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for line in out.splitlines():
            if line.strip():
                item = json.loads(line)
                w.writerow(["" if item.get(c) is None else item[c]
                            for c in cols])
    return path


def bounds(work, docroot, urls, jobs, gazette, rounds):
    """The three bounds, each a (wall, cpu, rss) median."""
    cfg = os.path.join(work, "curl.cfg")
    with open(cfg, "w") as f:
        for u in urls:
            f.write('url = "%s"\noutput = "/dev/null"\n' % u)
    files = [os.path.join(docroot, "feed-%05d.xml" % i)
             for i in range(len(urls))]
    csv = items_csv(work, gazette)
    out = {}
    out["curl"] = median_of([run(["curl", "-s", "-Z", "--parallel-max",
                                  str(jobs), "-K", cfg])
                             for _ in range(rounds)])
    out["xmllint"] = median_of([run(["xmllint", "--stream", "--noout"] +
                                    files) for _ in range(rounds)])
    runs = []
    for _ in range(rounds):
        db = os.path.join(work, "bound.db")
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(db + ext):
                os.unlink(db + ext)
        runs.append(run(["sqlite3", db, ".import --csv %s items" % csv]))
    out["sqlite3"] = median_of(runs)
    return out


def catch_up(gazette, rounds):
    """The index built after a cold poll: gazette search catching up on
    every story (the index file deleted first, so that nothing of it was
    done while gazetted idled), beside an FTS5 bulk build of the same rows
    by sqlite3 (one INSERT ... SELECT into a table of the same columns)."""
    gz = os.path.join(gazette.builddir, "cli", "gazette")
    idx = gazette.db + ".index"
    bulk = os.path.join(gazette.dir, "bulk.db")
    ours, theirs = [], []
    for _ in range(rounds):
        for f in (idx, idx + "-wal", idx + "-shm", bulk):
            if os.path.exists(f):
                os.unlink(f)
        ours.append(run([gz, "--config", gazette.conf, "--db", gazette.db,
                         "search", "zzyzx"]))
        theirs.append(run(["sqlite3", bulk,
                           "ATTACH DATABASE '%s' AS s;"
                           "CREATE VIRTUAL TABLE f USING fts5(title,"
                           " summary, content);"
                           "INSERT INTO f(rowid, title, summary, content)"
                           " SELECT id, title, summary, content"
                           " FROM s.story;" % gazette.db]))
    return median_of(ours), median_of(theirs)


def list_latency(gazette):
    """gazette list --limit 50, over and over while a cold poll runs:
    the wall seconds of each call (p50, p99, max) and how many ran."""
    exe = os.path.join(gazette.builddir, "daemon", "gazetted")
    gz = os.path.join(gazette.builddir, "cli", "gazette")
    gazette.reset()
    p = subprocess.Popen([exe, "--once", "-c", gazette.conf, "--db",
                          gazette.db], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    times = []
    failed = 0
    while p.poll() is None:
        t0 = time.monotonic()
        r = subprocess.run([gz, "--config", gazette.conf, "--db",
                            gazette.db, "list", "--all", "--limit", "50"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        times.append(time.monotonic() - t0)
        failed += r.returncode != 0
    p.wait()
    times.sort()
    if not times:
        return (0, 0, 0, 0, 0)
    return (times[len(times) // 2], times[min(len(times) - 1,
                                              int(len(times) * 0.99))],
            times[-1], len(times), failed)


def index_caught_up(gazette):
    """The index up to date (a search catches it up), so that idle is
    idle and not the index filling after a --once poll left it behind."""
    subprocess.run([os.path.join(gazette.builddir, "cli", "gazette"),
                    "--config", gazette.conf, "--db", gazette.db, "search",
                    "zzyzx"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def idle_wakeups(gazette, seconds):
    """Context switches of gazetted's threads while it waits between
    polls: each one a wakeup."""
    exe = os.path.join(gazette.builddir, "daemon", "gazetted")
    index_caught_up(gazette)
    p = subprocess.Popen([exe, "-f", "-c", gazette.conf, "--db", gazette.db],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def switches():
        n = 0
        for tid in os.listdir("/proc/%d/task" % p.pid):
            with open("/proc/%d/task/%s/status" % (p.pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches",
                                        "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
        return n
    try:
        time.sleep(5)  # its first round
        s0 = switches()
        time.sleep(seconds)
        used = switches() - s0
    finally:
        p.terminate()
        p.wait()
    return used


def idle_cpu(gazette, seconds):
    """CPU seconds gazetted spends waiting between polls."""
    exe = os.path.join(gazette.builddir, "daemon", "gazetted")
    index_caught_up(gazette)
    p = subprocess.Popen([exe, "-f", "-c", gazette.conf, "--db", gazette.db],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)  # its first round: every feed answers 304

        def ticks():
            with open("/proc/%d/stat" % p.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])

        t0 = ticks()
        time.sleep(seconds)
        used = (ticks() - t0) / os.sysconf("SC_CLK_TCK")
    finally:
        p.terminate()
        p.wait()
    return used


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--peers-at", default="1000",
                    help="sizes at which newsboat and sfeed run too")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle", type=int, default=10)
    ap.add_argument("--builddir", default=os.path.join(TOP, "build"))
    ap.add_argument("--shared", default=os.path.join(TOP, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(TOP, "bench", "out"))
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    peers_at = {int(x) for x in a.peers_at.split(",") if x}

    gen = os.path.join(a.shared, "bench", "gen_feeds.py")
    serve = os.path.join(a.shared, "bench", "serve.sh")
    for need in (gen, serve):
        if not os.path.exists(need):
            sys.exit("bench: %s is missing (--shared DIR)" % need)
    for exe in ("newsboat", "sfeed_update", "sfeed", "lighttpd", "sqlite3",
                "time", "curl", "xmllint"):
        if not shutil.which(exe, path=os.environ["PATH"] + ":/usr/sbin"):
            sys.exit("bench: %s is not installed (apt-get install newsboat "
                     "sfeed lighttpd sqlite3 time curl libxml2-utils)" % exe)
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="gazette-bench-")
    docroot = os.path.join(work, "docroot")
    # feed i depends only on (seed, i): the biggest corpus holds the others
    subprocess.run([sys.executable, gen, docroot, "-n", str(max(sizes))],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, gen, docroot, "--big", "--sizes", "10"],
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    state = os.path.join(work, "httpd")
    subprocess.run(["sh", serve, "start", docroot, str(port), state],
                   check=True, stdout=subprocess.DEVNULL)
    res = {}
    try:
        for n in sizes:
            urls = ["http://127.0.0.1:%d/feed-%05d.xml" % (port, i)
                    for i in range(n)]
            tools = [Gazette(work, urls, a.jobs, a.builddir)]
            if n in peers_at:
                tools += [Newsboat(work, urls, a.jobs, a.builddir),
                          Sfeed(work, urls, a.jobs, a.builddir)]
            for t in tools:
                res[(n, t.name, "cold")], res[(n, t.name, "warm")] = \
                    measure(t, a.rounds)
                res[(n, t.name, "stories")] = t.stories()
            g = tools[0]
            for k, v in bounds(work, docroot, urls, a.jobs, g,
                               a.rounds).items():
                res[(n, k, "bound")] = v
            res[(n, "gazette", "idle")] = idle_cpu(g, a.idle)
            res[(n, "gazette", "wakeups")] = idle_wakeups(g, a.idle)
            res[(n, "gazette", "catchup")], res[(n, "fts5", "bulk")] = \
                catch_up(g, a.rounds)
            if n == max(sizes):
                res[(n, "gazette", "list")] = list_latency(g)
        big = os.path.join(docroot, "big-10MB.xml")
        gz = os.path.join(a.builddir, "cli", "gazette")
        for name, argv in (("gazette", [gz, "parse", big]),
                           ("sfeed", ["sh", "-c", 'exec sfeed < "$0"', big])):
            res[(0, name, "parse")] = median_of(
                [run(argv) for _ in range(a.rounds)])
    finally:
        subprocess.run(["sh", serve, "stop", str(port), state],
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
    text = report(res, sizes, a)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    print(text)


def report(res, sizes, a):
    """The markdown tables and the targets."""
    row = "| %s | %s | %s | %s | %s | %s | %s | %s |"
    lines = []
    for n in sizes:
        lines += ["### %d feeds" % n, "",
                  "| run | tool | wall | CPU | peak RSS | wall ratio |"
                  " CPU ratio | RSS ratio |",
                  "|---|---|---|---|---|---|---|---|"]
        for phase in ("cold", "warm"):
            g = res[(n, "gazette", phase)]
            for name in ("gazette", "newsboat", "sfeed"):
                v = res.get((n, name, phase))
                if v is None:
                    continue
                ratio = ["—"] * 3 if name == "gazette" else [
                    "%.3f" % (g[i] / v[i]) if v[i] else "—"
                    for i in range(3)]
                lines.append(row % (phase, name, fmt(v[0], "s"),
                                    fmt(v[1], "s"), fmt(v[2], "KiB"),
                                    *ratio))
        for k in ("curl", "xmllint", "sqlite3"):
            v = res[(n, k, "bound")]
            lines.append(row % ("bound", k, fmt(v[0], "s"), fmt(v[1], "s"),
                                fmt(v[2], "KiB"), "", "", ""))
        lines.append("")
        lines.append("Stories stored: %s. gazetted idle for %d s after its "
                     "round: %.2f s CPU." % (
                         ", ".join("%s %d" % (t, res[(n, t, "stories")])
                                   for t in ("gazette", "newsboat", "sfeed")
                                   if (n, t, "stories") in res),
                         a.idle, res[(n, "gazette", "idle")]))
        lines.append("")
        c, b = res[(n, "gazette", "catchup")], res[(n, "fts5", "bulk")]
        lines.append("Index after the cold poll: gazette's catch-up %s "
                     "(%.1f MiB), an FTS5 bulk build of the same rows %s; "
                     "%.2f×. Wakeups in %d s idle: %d." % (
                         fmt(c[0], "s"), c[2] / 1024, fmt(b[0], "s"),
                         c[0] / b[0] if b[0] else 0, a.idle,
                         res[(n, "gazette", "wakeups")]))
        if (n, "gazette", "list") in res:
            li = res[(n, "gazette", "list")]
            lines.append("`gazette list --limit 50` during the cold poll: "
                         "p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d "
                         "calls (%d failed)." % (li[0] * 1e3, li[1] * 1e3,
                                                 li[2] * 1e3, li[3], li[4]))
        lines.append("")
    g = res[(0, "gazette", "parse")]
    v = res[(0, "sfeed", "parse")]
    lines += ["### parse, one 10 MiB RSS file", "",
              "| tool | wall | CPU | peak RSS |", "|---|---|---|---|",
              "| gazette | %s | %s | %s |" % (fmt(g[0], "s"), fmt(g[1], "s"),
                                             fmt(g[2], "KiB")),
              "| sfeed | %s | %s | %s |" % (fmt(v[0], "s"), fmt(v[1], "s"),
                                           fmt(v[2], "KiB")), ""]
    lines += targets(res, sizes)
    lines.append("")
    lines.append("Ratios are gazette / peer: below 1.0 gazette is faster "
                 "or smaller. Median of %d rounds, %d parallel fetches "
                 "each, %d CPUs." % (a.rounds, a.jobs, os.cpu_count()))
    return "\n".join(lines) + "\n"


def targets(res, sizes):
    """The targets (issues 4 and 13), each with the measured figure."""
    out = ["### Targets", ""]

    def check(ok, what):
        out.append("- [%s] %s" % ("x" if ok else " ", what))

    n = sizes[0]
    gc, gw = res[(n, "gazette", "cold")], res[(n, "gazette", "warm")]
    for peer, want in (("sfeed", 8), ("newsboat", 10)):
        if (n, peer, "cold") in res:
            x = res[(n, peer, "cold")][0] / gc[0]
            check(x >= want, "cold %d× faster than %s: %.1f×" % (want, peer,
                                                                  x))
    bsum = sum(res[(n, k, "bound")][0] for k in ("curl", "xmllint",
                                                 "sqlite3"))
    check(gc[0] <= 1.5 * bsum, "cold within 1.5× of the bounds' sum "
          "(%.2f s): %.2f×" % (bsum, gc[0] / bsum))
    for peer in ("sfeed", "newsboat"):
        if (n, peer, "warm") in res:
            x = res[(n, peer, "warm")][0] / gw[0]
            check(x >= 50, "warm 50× faster than %s: %.0f×" % (peer, x))
    if len(sizes) > 1:
        m = sizes[-1]
        x = res[(m, "gazette", "cold")][0] / gc[0]
        check(x <= 1.1 * m / n, "%d feeds cold cost at most 5.5× what "
              "%d cost: %.2f×" % (m, n, x))
        rss = max(res[(m, "gazette", p)][2] for p in ("cold", "warm"))
        check(rss < 64 * 1024, "peak RSS under 64 MB at %d feeds: %.1f MiB"
              % (m, rss / 1024))
    idle = max(res[(k, "gazette", "idle")] for k in sizes)
    check(idle < 0.05, "no CPU between polls: %.2f s" % idle)
    wk = max(res[(k, "gazette", "wakeups")] for k in sizes)
    check(wk <= 1, "no wakeups between polls beyond the timer: %d" % wk)
    c, b = res[(n, "gazette", "catchup")], res[(n, "fts5", "bulk")]
    check(c[0] <= 1.3 * b[0], "index catch-up within 1.3× of an FTS5 bulk "
          "build: %.2f×" % (c[0] / b[0]))
    m = sizes[-1]
    if (m, "gazette", "list") in res:
        li = res[(m, "gazette", "list")]
        check(li[1] <= 0.05 and li[4] == 0, "list --limit 50 p99 during a "
              "cold %d-feed poll within 50 ms: %.1f ms" % (m, li[1] * 1e3))
    return out


if __name__ == "__main__":
    main()
