"""Shared helpers of the hostile-input tests (issue 7): the Env of
tests/integration/test_gazetted.py (a temp dir with configuration,
database and control socket), the loopback server tests/httpd.py, and
gazetted run with its peak RSS measured (wait4's ru_maxrss)."""

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import httpd  # noqa: E402,F401
import test_gazetted as tg  # noqa: E402

GAZETTED = os.environ.get("GAZETTED", "build/daemon/gazetted")
GAZETTE = os.environ.get("GAZETTE", "build/cli/gazette")
ITEMS = tg.ITEMS


def run_measured(argv, timeout=120, env=None):
    """Run argv to its end: (exit status, stderr text, seconds, peak RSS
    in KiB). The peak is measured by /usr/bin/time -f %M (GNU time), whose
    own small fork runs the program: wait4 on a child forked from Python
    would count the Python process copied by fork as well."""
    with tempfile.NamedTemporaryFile(prefix="gz-rss-") as rf:
        t = time.time()
        try:
            p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rf.name]
                               + argv, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("%s did not end in %ds: %s" % (
                argv[0], timeout,
                (e.stderr or b"")[-2000:].decode(errors="replace")))
        secs = time.time() - t
        with open(rf.name) as f:
            lines = f.read().split()
    rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    err = (p.stdout + p.stderr).decode(errors="replace")
    return p.returncode, err, secs, rss


class Base(tg.Base):
    """A server, an Env, and gazetted --once with its peak RSS."""

    def once_measured(self, expect=0, timeout=120):
        rc, err, secs, rss = run_measured(
            [GAZETTED, "-c", self.env.conf, "--once", "-v"], timeout)
        self.assertEqual(rc, expect, err[-3000:])
        self.last_log = err
        return secs, rss

    def report(self, what, **numbers):
        sys.stderr.write(" [%s: %s] " % (what, ", ".join(
            "%s %s" % kv for kv in numbers.items())))

    def healthy(self, path="/healthy"):
        """A well-behaved feed of three stories beside the hostile one."""
        return ("Healthy", [self.feed_route(path)], {})

    def healthy_stories(self, fid):
        return self.env.q1("SELECT count(*) FROM membership WHERE "
                           "feed_id = ?", fid)

    def all_text_is_utf8(self):
        """Every text column of story and feed decodes as strict UTF-8
        and holds no NUL."""
        c = sqlite3.connect(self.env.db)
        c.text_factory = bytes
        try:
            for table, cols in (("story", "guid, title, link, author, "
                                 "summary, content"),
                                ("feed", "title, parsed_title"),
                                ("feed_url", "last_error")):
                for row in c.execute("SELECT %s FROM %s" % (cols, table)):
                    for v in row:
                        if isinstance(v, bytes):
                            v.decode("utf-8")
                            self.assertNotIn(b"\0", v)
        finally:
            c.close()


def main():
    unittest.main(verbosity=2)
