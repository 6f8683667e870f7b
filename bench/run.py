#!/usr/bin/env python3
"""gazette beside its peers (newsboat, sfeed), measured in one run.

    bench/run.py [--feeds 500] [--jobs 8] [--rounds 3] [--builddir build]
                 [--shared ../shared] [--out bench/out]

What it measures, each tool on the same corpus served by lighttpd on
127.0.0.1 (../shared/bench/serve.sh, ETag and Last-Modified on):

  cold   first poll of every feed into an empty store
  warm   the second poll: the server answers 304 where the tool asks
  parse  one 10 MiB RSS file parsed from disk (gazette parse, sfeed)

For each: wall seconds, CPU seconds (user+sys of the whole process tree)
and peak RSS, the median of --rounds runs; then gazette's ratio to each
peer (below 1.0: gazette is faster / smaller). Every tool gets the same
parallelism (--jobs). Standard library only; prints a markdown table and
writes it to OUT/results.md.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--builddir", default=os.path.join(TOP, "build"))
    ap.add_argument("--shared", default=os.path.join(TOP, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(TOP, "bench", "out"))
    a = ap.parse_args()

    gen = os.path.join(a.shared, "bench", "gen_feeds.py")
    serve = os.path.join(a.shared, "bench", "serve.sh")
    for need in (gen, serve):
        if not os.path.exists(need):
            sys.exit("bench: %s is missing (--shared DIR)" % need)
    for exe in ("newsboat", "sfeed_update", "sfeed", "lighttpd", "sqlite3",
                "time"):
        if not shutil.which(exe, path=os.environ["PATH"] + ":/usr/sbin"):
            sys.exit("bench: %s is not installed (apt-get install newsboat "
                     "sfeed lighttpd sqlite3 time)" % exe)
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="gazette-bench-")
    docroot = os.path.join(work, "docroot")
    subprocess.run([sys.executable, gen, docroot, "-n", str(a.feeds)],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, gen, docroot, "--big", "--sizes", "10"],
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    state = os.path.join(work, "httpd")
    subprocess.run(["sh", serve, "start", docroot, str(port), state],
                   check=True, stdout=subprocess.DEVNULL)
    urls = ["http://127.0.0.1:%d/feed-%05d.xml" % (port, i)
            for i in range(a.feeds)]
    results = {}
    try:
        tools = [Gazette(work, urls, a.jobs, a.builddir),
                 Newsboat(work, urls, a.jobs, a.builddir),
                 Sfeed(work, urls, a.jobs, a.builddir)]
        for t in tools:
            cold, warm = [], []
            for _ in range(a.rounds):
                t.reset()
                r1 = t.poll()
                r2 = t.poll()
                for r in (r1, r2):
                    if r[3] != 0:
                        print("bench: %s exited %d: %s" % (t.name, r[3],
                              r[4][-500:]), file=sys.stderr)
                cold.append(r1)
                warm.append(r2)
            results[(t.name, "cold")] = median_of(cold)
            results[(t.name, "warm")] = median_of(warm)
            results[(t.name, "stories")] = t.stories()

        big = os.path.join(docroot, "big-10MB.xml")
        gz = os.path.join(a.builddir, "cli", "gazette")
        parse = {
            "gazette": [gz, "parse", big],
            "sfeed": ["sh", "-c", 'exec sfeed < "$0"', big],
        }
        for name, argv in parse.items():
            results[(name, "parse")] = median_of(
                [run(argv) for _ in range(a.rounds)])
    finally:
        subprocess.run(["sh", serve, "stop", str(port), state],
                       stdout=subprocess.DEVNULL)

    lines = ["| run | tool | wall | CPU | peak RSS | wall ratio | CPU ratio |"
             " RSS ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for phase in ("cold", "warm", "parse"):
        g = results[("gazette", phase)]
        for name in ("gazette", "newsboat", "sfeed"):
            if (name, phase) not in results:
                continue
            v = results[(name, phase)]
            ratio = ["—"] * 3 if name == "gazette" else [
                "%.2f" % (g[i] / v[i]) if v[i] else "—" for i in range(3)]
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                phase, name, fmt(v[0], "s"), fmt(v[1], "s"),
                fmt(v[2], "KiB"), *ratio))
    lines.append("")
    lines.append("Stories stored after two polls of %d feeds: %s." % (
        a.feeds, ", ".join("%s %d" % (n, results[(n, "stories")])
                           for n in ("gazette", "newsboat", "sfeed"))))
    lines.append("Ratios are gazette / peer: below 1.0 gazette is faster "
                 "or smaller. Median of %d rounds, %d parallel fetches "
                 "each, %d CPUs." % (a.rounds, a.jobs, os.cpu_count()))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
