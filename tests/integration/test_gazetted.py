#!/usr/bin/env python3
"""Integration tests: the real gazetted against tests/httpd.py.

Each test writes a configuration into a temporary directory (database and
control socket there too), points feeds at the loopback test server (a
free port from bind(0)), runs `gazetted --once` or the foreground daemon,
and checks what the server saw and what the database holds.

Environment: GAZETTED (the binary), GAZETTE (the CLI, optional).
"""

import email.utils
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import httpd  # noqa: E402
import pgtest  # noqa: E402

GAZETTED = os.environ.get("GAZETTED", "build/daemon/gazetted")

BASE = """[daemon]
database = {db}
socket = {sock}
interval = 10s
min-interval = 1s
max-backoff = 1h
timeout = 5s
connect-timeout = 2s
low-speed-time = 3s
primary-retry = 1h
redirect-polls = 2
{extra}
"""

ITEMS = [("a-1", "First"), ("a-2", "Second"), ("a-3", "Third")]


def closed_port():
    """A port on 127.0.0.1 that refuses connections (bound, not listening);
    the socket is returned so that nobody else takes the port."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def ctl(sock_path, cmd, arg=None, timeout=30):
    """Speak the control protocol (gazette/ctl.h): (ok, text)."""
    payload = cmd.encode() + b"\0" + (arg.encode() + b"\0" if arg else b"")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        s.sendall(struct.pack(">II", 1, len(payload)) + payload)
    except BrokenPipeError:
        pass  # refused before reading: its reply is still there to read
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    version, length = struct.unpack(">II", data[:8])
    assert version == 1 and len(data) == 8 + length, data
    return data[8:9] == b"o", data[9:].decode()


class Env:
    """A temporary directory with a configuration, a database, a socket."""

    def __init__(self, test):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="gazette-it-")
        self.dbs = []
        self.db = self.new_db("gazette.db")
        self.sock = os.path.join(self.dir, "control.sock")
        self.conf = os.path.join(self.dir, "gazette.conf")
        self.proc = None
        self.log = os.path.join(self.dir, "gazetted.log")

    def new_db(self, name):
        """A database of its own: a file in the directory on SQLite, a
        fresh database on PostgreSQL (GAZETTE_TEST_PG)."""
        if not pgtest.enabled():
            return os.path.join(self.dir, name)
        self.dbs.append(pgtest.new_database())
        return self.dbs[-1]

    def drop(self):
        """Drop the databases new_db made on PostgreSQL."""
        for db in self.dbs:
            pgtest.drop_database(db)
        self.dbs = []

    def config(self, feeds, extra=""):
        """feeds: list of (name, [urls], {key: value})."""
        text = BASE.format(db=self.db, sock=self.sock, extra=extra)
        for name, urls, more in feeds:
            text += '\n[feed "%s"]\nurl = %s\n' % (name, urls[0])
            for u in urls[1:]:
                text += "mirror = %s\n" % u
            for k, v in (more or {}).items():
                text += "%s = %s\n" % (k, v)
        with open(self.conf, "w") as f:
            f.write(text)

    def once(self, expect=0):
        p = subprocess.run([GAZETTED, "-c", self.conf, "--once", "-v"],
                           capture_output=True, text=True, timeout=120)
        self.test.assertEqual(p.returncode, expect, p.stderr)
        return p.stderr

    def start(self, env=None):
        logf = open(self.log, "w")
        self.proc = subprocess.Popen([GAZETTED, "-f", "-v", "-c", self.conf],
                                     stderr=logf, env=env)
        logf.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(self.sock):
                try:
                    ctl(self.sock, "status")
                    return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.test.fail("gazetted did not start: " + self.read_log())

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def q(self, sql, *args):
        if pgtest.enabled():
            return pgtest.query(self.db, sql, *args)
        c = sqlite3.connect(self.db, timeout=10)
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def q1(self, sql, *args):
        rows = self.q(sql, *args)
        return rows[0][0] if rows else None

    def stories(self):
        return self.q1("SELECT count(*) FROM story")

    def feed(self, fid, col):
        return self.q1("SELECT %s FROM feed WHERE id = ?" % col, fid)

    def url(self, fid, pos, col):
        return self.q1("SELECT %s FROM feed_url WHERE feed_id = ? AND "
                       "position = ?" % col, fid, pos)


class Base(unittest.TestCase):
    def setUp(self):
        self.srv = httpd.Server().start()
        self.env = Env(self)
        self.holds = []

    def tearDown(self):
        self.env.stop()
        self.env.drop()
        self.srv.stop()
        for s in self.holds:
            s.close()

    def dead_url(self, path="/feed"):
        s, port = closed_port()
        self.holds.append(s)
        return "http://127.0.0.1:%d%s" % (port, path)

    def feed_route(self, path, items=ITEMS, host=None, **kw):
        route = {"body": httpd.rss("Test", items)}
        route.update(kw)
        self.srv.set(path, route, host=host)
        return self.srv.url(path, host or "127.0.0.1")


class TestConditionalGet(Base):
    def test_second_poll_sends_validators_gets_304_and_stores_nothing(self):
        lm = email.utils.formatdate(time.time() - 3600, usegmt=True)
        u = self.feed_route("/f", etag='"v1"', last_modified=lm)
        self.env.config([("F", [u], {})])
        self.env.once()
        self.assertEqual(self.env.stories(), 3)
        first = self.srv.hits("/f")[0]["headers"]
        self.assertNotIn("if-none-match", first)
        self.assertEqual(self.env.url(1, 0, "etag"), '"v1"')

        self.env.once()
        second = self.srv.hits("/f")[1]["headers"]
        self.assertEqual(second.get("if-none-match"), '"v1"')
        self.assertEqual(second.get("if-modified-since"), lm)
        self.assertEqual(self.env.url(1, 0, "last_status"), 304)
        self.assertEqual(self.env.stories(), 3)
        self.assertEqual(self.env.feed(1, "error_count"), 0)

    def test_each_url_gets_its_own_validators(self):
        p = self.feed_route("/p", etag='"primary-1"')
        m = self.feed_route("/m", etag='"mirror-1"')
        self.env.config([("F", [p, m], {})])
        self.env.once()  # the primary serves
        self.srv.set("/p", {"status": 500})
        self.env.once()  # the mirror serves, asked without validators
        self.assertNotIn("if-none-match",
                         self.srv.hits("/m")[0]["headers"])
        self.env.once()  # the mirror again, with its own ETag
        self.assertEqual(self.srv.hits("/m")[1]["headers"]
                         .get("if-none-match"), '"mirror-1"')
        self.assertEqual(self.srv.hits("/p")[1]["headers"]
                         .get("if-none-match"), '"primary-1"')
        self.assertEqual(self.env.url(1, 0, "etag"), '"primary-1"')
        self.assertEqual(self.env.url(1, 1, "etag"), '"mirror-1"')
        self.assertEqual(self.env.stories(), 3)

    def test_requests_are_polite(self):
        u = self.feed_route("/p", gzip=True)
        self.env.config([("P", [u], {})])
        self.env.once()
        h = self.srv.hits("/p")[0]["headers"]
        self.assertTrue(h["user-agent"].startswith("gazette/"))
        self.assertIn("gzip", h.get("accept-encoding", ""))
        self.assertNotIn("cookie", h)
        self.assertEqual(self.env.stories(), 3)  # gzip decoded


class TestFailover(Base):
    def check_failover_in_one_poll(self, primary, expect_error=None):
        m = self.feed_route("/mirror")
        self.env.config([("F", [primary, m], {})])
        self.env.once()
        self.assertEqual(len(self.srv.hits("/mirror")), 1)
        self.assertEqual(self.env.stories(), 3)
        self.assertEqual(self.env.feed(1, "last_served"), 1)
        self.assertEqual(self.env.feed(1, "preferred"), 1)
        self.assertEqual(self.env.feed(1, "error_count"), 0)
        err = self.env.url(1, 0, "last_error")
        self.assertIsNotNone(err)
        if expect_error:
            self.assertIn(expect_error, err)
        self.assertIsNone(self.env.url(1, 1, "last_error"))

    def test_primary_refusing_connections_fails_over_to_mirror(self):
        self.check_failover_in_one_poll(self.dead_url())

    def test_primary_500_fails_over_to_mirror(self):
        self.srv.set("/p", {"status": 500, "body": "oops"})
        self.check_failover_in_one_poll(self.srv.url("/p"), "HTTP 500")

    def test_primary_html_page_with_200_fails_over_to_mirror(self):
        self.srv.set("/p", {"body": httpd.HTML_PAGE,
                            "headers": {"Content-Type": "text/html"}})
        self.check_failover_in_one_poll(self.srv.url("/p"), "not a feed")

    def test_primary_unknown_host_fails_over_to_mirror(self):
        self.check_failover_in_one_poll(
            "http://no-such-host.invalid/feed")

    def test_primary_timeout_fails_over_to_mirror(self):
        self.srv.set("/p", {"hang": True})
        t = time.time()
        self.check_failover_in_one_poll(self.srv.url("/p"))
        self.assertLess(time.time() - t, 15)

    def test_primary_reset_mid_body_fails_over_to_mirror(self):
        self.srv.set("/p", {"body": httpd.rss("T", ITEMS),
                            "reset_after": 50})
        self.check_failover_in_one_poll(self.srv.url("/p"))

    def test_mirror_stays_preferred_then_primary_is_reprobed(self):
        self.srv.set("/p", {"status": 503})
        m = self.feed_route("/mirror")
        p = self.srv.url("/p")
        self.env.config([("F", [p, m], {})])
        self.env.once()
        self.assertEqual(self.env.feed(1, "preferred"), 1)
        # The primary is healthy again, but primary-retry (1h) has not
        # passed: the poll goes straight to the mirror.
        self.feed_route("/p")
        self.env.once()
        self.assertEqual(len(self.srv.hits("/p")), 1)
        self.assertEqual(len(self.srv.hits("/mirror")), 2)
        self.assertEqual(self.env.feed(1, "preferred"), 1)
        # With primary-retry 1s, the next poll probes the primary first,
        # which serves and is preferred again.
        self.env.config([("F", [p, m], {})], extra="primary-retry = 1s")
        time.sleep(1.1)
        self.env.once()
        self.assertEqual(len(self.srv.hits("/p")), 2)
        self.assertEqual(len(self.srv.hits("/mirror")), 2)
        self.assertEqual(self.env.feed(1, "preferred"), 0)
        # Same stories from either address: no duplicates.
        self.assertEqual(self.env.stories(), 3)

    def test_switching_to_a_mirror_creates_no_duplicates(self):
        # No guids: identity is the link, and the mirror's links name the
        # mirror's host; they are the primary's stories all the same.
        port = self.srv.port
        self.srv.set("/feed", {"body": httpd.rss(
            "P", ITEMS, link_base="http://primary.localhost:%d/" % port,
            guids=False)}, host="primary.localhost")
        self.srv.set("/feed", {"body": httpd.rss(
            "M", ITEMS, link_base="http://mirror.localhost:%d/" % port,
            guids=False)}, host="mirror.localhost")
        p = self.srv.url("/feed", "primary.localhost")
        m = self.srv.url("/feed", "mirror.localhost")
        self.env.config([("F", [p, m], {})])
        self.env.once()
        self.assertEqual(self.env.stories(), 3)
        self.srv.set("/feed", {"status": 500}, host="primary.localhost")
        self.env.once()
        self.assertEqual(self.env.feed(1, "last_served"), 1)
        self.assertEqual(len(self.srv.hits(host="mirror.localhost")), 1)
        self.assertEqual(self.env.stories(), 3)

    def test_all_urls_failing_counts_one_failure(self):
        self.srv.set("/p", {"status": 500})
        self.srv.set("/m", {"status": 502})
        self.srv.set("/ok", {"body": httpd.rss("ok", ITEMS)})
        self.env.config([("F", [self.srv.url("/p"), self.srv.url("/m")], {}),
                         ("OK", [self.srv.url("/ok")], {})])
        self.env.once()
        self.assertEqual(len(self.srv.hits("/p")), 1)
        self.assertEqual(len(self.srv.hits("/m")), 1)
        self.assertEqual(self.env.feed(1, "error_count"), 1)
        self.assertEqual(self.env.url(1, 1, "last_status"), 502)


class TestSchedule(Base):
    def test_retry_after_seconds_delays_the_next_poll(self):
        self.srv.set("/r", {"status": 429, "retry_after": 120})
        self.env.config([("R", [self.srv.url("/r")], {})])
        t = int(time.time())
        self.env.once()
        self.assertGreaterEqual(self.env.feed(1, "retry_after"), t + 119)
        self.env.once()  # too early: the server sees no second request
        self.assertEqual(len(self.srv.hits("/r")), 1)

    def test_retry_after_http_date_delays_the_next_poll(self):
        when = time.time() + 300
        self.srv.set("/r", {"status": 503, "retry_after":
                            email.utils.formatdate(when, usegmt=True)})
        self.env.config([("R", [self.srv.url("/r")], {})])
        self.env.once()
        self.assertGreaterEqual(self.env.feed(1, "retry_after"),
                                int(when) - 1)
        self.env.once()
        self.assertEqual(len(self.srv.hits("/r")), 1)

    def test_backoff_grows_on_errors_and_resets_on_success(self):
        self.srv.set("/b", {"status": 500})
        self.srv.set("/ok", {"body": httpd.rss("ok", ITEMS)})
        self.env.config([("B", [self.srv.url("/b")], {"interval": "1m"}),
                         ("OK", [self.srv.url("/ok")], {})])
        delays = []
        for i in range(4):
            t = int(time.time())
            self.env.once()
            self.assertEqual(self.env.feed(1, "error_count"), i + 1)
            delays.append(self.env.feed(1, "next_poll") - t)
        # 1m doubling with up to a quarter of jitter off: 45-60, 90-120...
        for i, d in enumerate(delays):
            full = 60 * 2 ** i
            self.assertGreaterEqual(d, full * 3 // 4 - 1, delays)
            self.assertLessEqual(d, full + 1, delays)
        self.feed_route("/b")
        self.env.once()
        self.assertEqual(self.env.feed(1, "error_count"), 0)
        self.assertEqual(self.env.feed(1, "failing_since"), 0)

    def test_network_outage_grows_no_backoff(self):
        self.env.config([("A", [self.dead_url("/a")], {}),
                         ("B", [self.dead_url("/b"), self.dead_url("/c")],
                          {})])
        log = self.env.once()
        self.env.once()
        self.assertEqual(self.env.feed(1, "error_count"), 0)
        self.assertEqual(self.env.feed(2, "error_count"), 0)
        self.assertIn("network seems down", log)
        self.assertIsNotNone(self.env.url(1, 0, "last_error"))
        gazette = os.environ.get("GAZETTE")
        if gazette and os.path.exists(gazette):
            # `gazette feeds` does not call such a feed ok
            p = subprocess.run([gazette, "--config", self.env.conf, "feeds",
                                "--json"], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            for line in p.stdout.splitlines():
                state = json.loads(line)["state"]
                self.assertIn("network seemed down", state)

    def test_dead_host_beside_healthy_one_is_counted(self):
        self.srv.set("/ok", {"body": httpd.rss("ok", ITEMS)})
        self.env.config([("A", [self.dead_url("/a")], {}),
                         ("OK", [self.srv.url("/ok")], {})])
        self.env.once()
        self.assertEqual(self.env.feed(1, "error_count"), 1)

    def test_410_disables_the_feed(self):
        self.srv.set("/g", {"status": 410})
        self.env.config([("G", [self.srv.url("/g")], {})])
        self.env.once()
        self.assertEqual(self.env.feed(1, "disabled"), 1)
        self.assertIn("410", self.env.feed(1, "disabled_reason"))
        self.env.once()
        self.assertEqual(len(self.srv.hits("/g")), 1)

    def test_cache_control_max_age_raises_the_interval(self):
        self.srv.set("/c", {"body": httpd.rss("c", ITEMS),
                            "headers": {"Cache-Control": "max-age=5400"}})
        self.env.config([("C", [self.srv.url("/c")], {"interval": "1m"})])
        t = int(time.time())
        self.env.once()
        d = self.env.feed(1, "next_poll") - t
        self.assertGreaterEqual(d, 5399)
        self.assertLessEqual(d, 5401)

    def test_interval_below_the_floor_is_raised_to_it(self):
        self.feed_route("/f")
        self.env.config([("F", [self.srv.url("/f")], {"interval": "2s"})],
                        extra="min-interval = 1m\ninterval = 1h")
        t = int(time.time())
        self.env.once()
        self.assertGreaterEqual(self.env.feed(1, "next_poll") - t, 59)

    def test_feed_ttl_hint_raises_the_interval(self):
        self.srv.set("/t", {"body": httpd.rss("t", ITEMS,
                                              "<ttl>120</ttl>")})
        self.env.config([("T", [self.srv.url("/t")], {"interval": "1m"})])
        t = int(time.time())
        self.env.once()
        self.assertGreaterEqual(self.env.feed(1, "next_poll") - t, 7199)


class TestRedirects(Base):
    def test_301_on_two_polls_updates_the_stored_url(self):
        new = self.feed_route("/new")
        self.srv.set("/old", {"status": 301, "location": "/new"})
        old = self.srv.url("/old")
        self.env.config([("F", [old], {})])
        self.env.once()
        self.assertEqual(self.env.url(1, 0, "url"), old)
        self.assertEqual(self.env.url(1, 0, "redirect_count"), 1)
        self.assertEqual(self.env.stories(), 3)
        self.env.once()
        self.assertEqual(self.env.url(1, 0, "url"), new)
        self.assertEqual(self.env.url(1, 0, "moved_from"), old)

    def test_302_is_followed_but_never_stored(self):
        self.feed_route("/new")
        self.srv.set("/old", {"status": 302, "location": "/new"})
        old = self.srv.url("/old")
        self.env.config([("F", [old], {})])
        for _ in range(3):
            self.env.once()
        self.assertEqual(self.env.url(1, 0, "url"), old)
        self.assertEqual(self.env.stories(), 3)

    def test_308_on_two_polls_updates_a_mirror_url(self):
        self.srv.set("/p", {"status": 500})
        new = self.feed_route("/m-new")
        self.srv.set("/m-old", {"status": 308, "location": new})
        p, old = self.srv.url("/p"), self.srv.url("/m-old")
        self.env.config([("F", [p, old], {})])
        self.env.once()
        self.env.once()
        self.assertEqual(self.env.url(1, 0, "url"), p)
        self.assertEqual(self.env.url(1, 1, "url"), new)
        self.assertEqual(self.env.url(1, 1, "moved_from"), old)

    def test_307_is_followed_but_never_stored(self):
        self.feed_route("/new")
        self.srv.set("/old", {"status": 307, "location": "/new"})
        old = self.srv.url("/old")
        self.env.config([("F", [old], {})])
        for _ in range(3):
            self.env.once()
        self.assertEqual(self.env.url(1, 0, "url"), old)
        self.assertIsNone(self.env.url(1, 0, "redirect"))

    def test_redirect_loop_fails_over_to_the_mirror(self):
        self.srv.set("/loop", {"status": 301, "location": "/loop"})
        m = self.feed_route("/m")
        self.env.config([("F", [self.srv.url("/loop"), m], {})])
        self.env.once()
        self.assertIn("redirect", self.env.url(1, 0, "last_error").lower())
        # curl's limit: the first request and 5 redirects.
        self.assertEqual(len(self.srv.hits("/loop")), 6)
        self.assertEqual(self.env.feed(1, "last_served"), 1)

    def test_redirect_to_file_url_is_refused(self):
        self.srv.set("/evil", {"status": 301,
                               "location": "file:///etc/passwd"})
        self.env.config([("F", [self.srv.url("/evil")], {})])
        self.env.once()
        self.assertEqual(self.env.stories(), 0)
        self.assertEqual(self.env.feed(1, "error_count"), 1)
        self.assertIsNone(self.env.url(1, 0, "redirect"))


class TestLimits(Base):
    def test_oversized_body_is_cut_at_max_feed_size(self):
        self.srv.set("/big", {"size": 300000})
        self.env.config([("Big", [self.srv.url("/big")], {})],
                        extra="max-feed-size = 64KiB")
        self.env.once()
        self.assertIn("max-feed-size", self.env.url(1, 0, "last_error"))
        self.assertEqual(self.env.stories(), 0)

    def test_endless_body_is_cut_at_max_feed_size(self):
        self.srv.set("/inf", {"endless": True})
        self.env.config([("Inf", [self.srv.url("/inf")], {})],
                        extra="max-feed-size = 1MiB")
        t = time.time()
        self.env.once()
        self.assertLess(time.time() - t, 10)
        self.assertIn("max-feed-size", self.env.url(1, 0, "last_error"))

    def test_per_host_connections_are_never_exceeded(self):
        feeds = []
        for i in range(12):
            path = "/h%d" % i
            self.srv.set(path, {"body": httpd.rss("h", [("h%d" % i, "x")]),
                                "delay": 0.2}, host="busy.localhost")
            feeds.append(("H%d" % i, [self.srv.url(path, "busy.localhost")],
                          {}))
        for i in range(4):
            path = "/o%d" % i
            self.srv.set(path, {"body": httpd.rss("o", [("o%d" % i, "x")]),
                                "delay": 0.2}, host="other.localhost")
            feeds.append(("O%d" % i, [self.srv.url(path, "other.localhost")],
                          {}))
        self.env.config(feeds, extra="per-host-connections = 2")
        self.env.once()
        self.assertEqual(len(self.srv.hits()), 16)
        self.assertLessEqual(self.srv.peak["busy.localhost"], 2)
        self.assertLessEqual(self.srv.peak["other.localhost"], 2)
        self.assertEqual(self.env.stories(), 16)

    def healthy_span(self, n_drip):
        """Seconds from the first request to the last healthy feed's
        answer, polling 200 healthy feeds beside n_drip dripping ones.
        The dripping feeds live in a server process of their own, so
        that only gazetted's scheduling links the two."""
        self.srv.clear_log()
        feeds = []
        drip_port = None
        if n_drip:
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(rfd)
                dsrv = httpd.Server().start()
                for i in range(n_drip):
                    dsrv.set("/d%d" % i, {"body": httpd.rss("d", ITEMS),
                                          "drip": (64, 0.25)})
                os.write(wfd, b"%d\n" % dsrv.port)
                time.sleep(60)
                os._exit(0)
            os.close(wfd)
            with os.fdopen(rfd) as f:
                drip_port = int(f.readline())
            self.addCleanup(os.waitpid, pid, 0)
            self.addCleanup(os.kill, pid, signal.SIGKILL)
        for i in range(n_drip):
            feeds.append(("D%d" % i, ["http://slow%d.localhost:%d/d%d" %
                                      (i, drip_port, i)], {}))
        for i in range(200):
            self.srv.set("/f%d" % i, {"body": httpd.rss(
                "f", [("f%d" % i, "x")]), "delay": 0.04})
            feeds.append(("F%d" % i, [self.srv.url("/f%d" % i)], {}))
        if pgtest.enabled():
            self.env.db = self.env.new_db("gazette.db")
        self.env.config(feeds, extra="per-host-connections = 8\n"
                        "max-connections = 32")
        for f in ("", "-wal", "-shm"):
            if os.path.exists(self.env.db + f):
                os.unlink(self.env.db + f)
        t = time.time()
        self.env.once()
        fast = [h["time"] for h in self.srv.hits()
                if h["path"].startswith("/f")]
        self.assertEqual(len(fast), 200)
        return max(fast) + 0.04 - t

    def test_dripping_feeds_do_not_hold_up_healthy_ones(self):
        alone = self.healthy_span(0)
        beside = self.healthy_span(20)
        sys.stderr.write(" [alone %.2fs, beside 20 drips %.2fs] " % (alone, beside))
        # 20 feeds dripping for seconds delay 200 healthy ones by < 20 %.
        self.assertLess(beside, alone * 1.2 + 0.1, (alone, beside))


class TestCommandLine(Base):
    def test_bad_configuration_at_start_exits_1_naming_file_and_line(self):
        self.env.config([], extra="max-feed-size = lots")
        p = subprocess.run([GAZETTED, "-c", self.env.conf, "--once"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn(self.env.conf + ":", p.stderr)
        self.assertIn("bad size 'lots'", p.stderr)

    def test_missing_configuration_given_with_c_is_an_error(self):
        p = subprocess.run([GAZETTED, "-c", "/nonexistent/g.conf", "--once"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/g.conf", p.stderr)

    def test_usage_version_and_help(self):
        p = subprocess.run([GAZETTED, "--frobnicate"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: gazetted", p.stderr)
        p = subprocess.run([GAZETTED, "--version"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("gazetted "))
        p = subprocess.run([GAZETTED, "--help"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--once", p.stdout)

    def test_db_option_overrides_the_configured_database(self):
        self.feed_route("/d")
        self.env.config([("D", [self.srv.url("/d")], {})])
        other = self.env.new_db("other.db")
        p = subprocess.run([GAZETTED, "-c", self.env.conf, "--db", other,
                            "--once"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        if pgtest.enabled():
            tables = ("SELECT count(*) FROM information_schema.tables"
                      " WHERE table_name = 'feed'")
            self.assertEqual(pgtest.query(other, tables), [(1,)])
            self.assertEqual(pgtest.query(other, "SELECT count(*) FROM"
                                          " story"), [(len(ITEMS),)])
            self.assertEqual(pgtest.query(self.env.db, tables), [(0,)])
            return
        self.assertTrue(os.path.exists(other))
        self.assertFalse(os.path.exists(self.env.db))
        self.assertEqual(os.stat(other).st_mode & 0o777, 0o600)


class TestDaemon(Base):
    def test_control_socket_status_and_poll(self):
        self.feed_route("/c")
        self.env.config([("C", [self.srv.url("/c")], {"interval": "1h"})])
        self.env.start()
        mode = os.stat(self.env.sock).st_mode & 0o777
        self.assertEqual(mode, 0o600)
        ok, text = ctl(self.env.sock, "status")
        self.assertTrue(ok)
        self.assertIn("feeds: 1", text)
        # Wait for the poll at start to end (a "poll" during it joins it).
        deadline = time.time() + 10
        while "polls: 1\n" not in ctl(self.env.sock, "status")[1] and \
                time.time() < deadline:
            time.sleep(0.05)
        ok, text = ctl(self.env.sock, "poll", "1")
        self.assertTrue(ok, text)
        self.assertIn("polled: 1", text)
        self.assertEqual(len(self.srv.hits("/c")), 2)
        ok, text = ctl(self.env.sock, "poll", "no such feed")
        self.assertFalse(ok)
        ok, text = ctl(self.env.sock, "frobnicate")
        self.assertFalse(ok)
        self.assertIn("unknown command", text)

    def test_control_socket_refuses_other_uid(self):
        if os.getuid() != 0:
            self.skipTest("needs root to act as another uid")
        self.env.config([])
        self.env.start()
        # Let the other uid reach the socket: only the daemon's check of
        # its peer's credentials stands in the way.
        os.chmod(self.env.dir, 0o755)
        os.chmod(self.env.sock, 0o666)
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            try:
                os.setgid(65534)
                os.setuid(65534)
                ok, text = ctl(self.env.sock, "status")
                os.write(wfd, ("%s %s" % (ok, text)).encode())
            except BaseException as e:
                os.write(wfd, ("exception %r" % e).encode())
            os._exit(0)
        os.close(wfd)
        os.waitpid(pid, 0)
        with os.fdopen(rfd) as f:
            got = f.read()
        self.assertEqual(got, "False permission denied")

    def test_sighup_with_a_broken_file_keeps_the_old_configuration(self):
        self.feed_route("/h")
        self.env.config([("H", [self.srv.url("/h")], {"interval": "1s"})])
        self.env.start()
        with open(self.env.conf, "a") as f:
            f.write("\n[daemon]\ninterval = forever\n")
        self.env.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertIsNone(self.env.proc.poll())
        self.assertIn("bad duration", self.env.read_log())
        n = len(self.srv.hits("/h"))
        time.sleep(2.5)
        self.assertGreater(len(self.srv.hits("/h")), n)  # still polling
        ok, _ = ctl(self.env.sock, "status")
        self.assertTrue(ok)

    def test_sighup_with_a_good_file_adds_feeds(self):
        self.feed_route("/one")
        self.feed_route("/two")
        self.env.config([("One", [self.srv.url("/one")], {})])
        self.env.start()
        self.env.config([("One", [self.srv.url("/one")], {}),
                         ("Two", [self.srv.url("/two")], {})])
        self.env.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while not self.srv.hits("/two") and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.srv.hits("/two")), 1)

    def test_sigterm_during_a_poll_of_500_feeds_exits_cleanly_and_loses_nothing(
            self):
        feeds = []
        for i in range(500):
            self.srv.set("/s%d" % i, {"body": httpd.rss("s", ITEMS),
                                      "drip": (100, 0.5)})
            feeds.append(("S%d" % i, [self.srv.url("/s%d" % i)], {}))
        self.env.config(feeds)
        self.env.start()
        deadline = time.time() + 10
        while len(self.srv.hits()) < 20 and time.time() < deadline:
            time.sleep(0.05)
        t = time.time()
        self.env.proc.send_signal(signal.SIGTERM)
        rc = self.env.proc.wait(5)
        self.assertEqual(rc, 0)
        self.assertLess(time.time() - t, 2.0)
        if not pgtest.enabled():
            self.assertEqual(self.env.q1("PRAGMA integrity_check"), "ok")
        self.assertFalse(os.path.exists(self.env.sock))
        # What was abandoned is polled again by the next start: every
        # feed's stories, once each, and the polls' records.
        for i in range(500):
            self.srv.set("/s%d" % i, {"body": httpd.rss("s", ITEMS)})
        self.env.once()
        # (the same links in every feed: one story each, 500 memberships)
        self.assertEqual(self.env.stories(), len(ITEMS))
        self.assertEqual(self.env.q1("SELECT count(*) FROM membership"),
                         500 * len(ITEMS))
        self.assertEqual(self.env.q1(
            "SELECT count(*) FROM feed_url WHERE last_tried = 0"), 0)
        self.assertEqual(self.env.q1(
            "SELECT count(*) FROM (SELECT feed_id, guid_key FROM membership"
            " GROUP BY feed_id, guid_key HAVING count(*) > 1) AS dup"), 0)

    def test_json_feed_is_polled_and_malformed_json_is_no_feed(self):
        data = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "data", "jsonfeed")
        with open(os.path.join(data, "news-1.1.json"), "rb") as f:
            good = f.read()
        with open(os.path.join(data, "truncated.json"), "rb") as f:
            bad = f.read()
        self.srv.set("/j", {"body": good, "headers": {
            "Content-Type": "application/feed+json"}})
        self.srv.set("/bad", {"body": bad, "headers": {
            "Content-Type": "application/feed+json"}})
        m = self.feed_route("/m")
        self.env.config([("J", [self.srv.url("/j")], {}),
                         ("B", [self.srv.url("/bad"), m], {})])
        self.env.once()
        self.assertEqual(self.env.q1(
            "SELECT count(*) FROM membership WHERE feed_id = 1"), 3)
        self.assertEqual(self.env.q1(
            "SELECT parsed_title FROM feed WHERE id = 1"),
            "The Daily Example | World")
        # Malformed JSON: nothing of it merged, the mirror serves.
        self.assertIsNotNone(self.env.url(2, 0, "last_error"))
        self.assertEqual(self.env.feed(2, "last_served"), 1)
        self.assertEqual(self.env.q1(
            "SELECT count(*) FROM membership WHERE feed_id = 2"), len(ITEMS))

    def test_gazette_poll_and_status_use_the_daemon(self):
        gazette = os.environ.get("GAZETTE")
        if not gazette or not os.path.exists(gazette):
            self.skipTest("GAZETTE (the CLI) not given")
        self.feed_route("/g")
        self.env.config([("G", [self.srv.url("/g")], {"interval": "1h"})])
        self.env.start()
        deadline = time.time() + 10
        while "polls: 1\n" not in ctl(self.env.sock, "status")[1] and \
                time.time() < deadline:
            time.sleep(0.05)
        cli = [gazette, "--config", self.env.conf]
        p = subprocess.run(cli + ["status"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("1", p.stdout)
        p = subprocess.run(cli + ["poll"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        # The daemon polled (the server saw it), not the CLI in-process:
        # the daemon's status counts two polls now.
        self.assertEqual(len(self.srv.hits("/g")), 2)
        self.assertIn("polls: 2\n", ctl(self.env.sock, "status")[1])

    def test_reload_command_with_a_broken_file_says_why(self):
        self.env.config([])
        self.env.start()
        with open(self.env.conf, "a") as f:
            f.write("\n[feed \"X\"]\nurl = gopher://x/\n")
        ok, text = ctl(self.env.sock, "reload")
        self.assertFalse(ok)
        self.assertIn("gazette.conf:", text)
        self.assertIn("not an http", text)
        self.assertIn("running configuration stays", text)
        self.assertIsNone(self.env.proc.poll())

    def test_feed_added_by_the_cli_is_polled_on_request(self):
        gazette = os.environ.get("GAZETTE")
        if not gazette or not os.path.exists(gazette):
            self.skipTest("GAZETTE (the CLI) not given")
        u = self.feed_route("/added")
        self.env.config([])
        self.env.start()
        p = subprocess.run([gazette, "--config", self.env.conf, "add", u],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        ok, text = ctl(self.env.sock, "poll")
        self.assertTrue(ok, text)
        self.assertIn("polled: 1", text)
        self.assertEqual(self.env.stories(), 3)

    def test_ready_is_notified_on_an_abstract_notify_socket(self):
        self.env.config([])
        name = "gazette-test-%d-%d" % (os.getpid(), time.time_ns())
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind("\0" + name)
        ns.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET="@" + name)
        logf = open(self.env.log, "w")
        self.env.proc = subprocess.Popen(
            [GAZETTED, "-f", "-c", self.env.conf], stderr=logf, env=env)
        logf.close()
        self.assertIn("READY=1", ns.recv(4096).decode())
        ns.close()

    def test_ready_is_notified_after_the_socket_listens(self):
        self.env.config([])
        ns_path = os.path.join(self.env.dir, "notify")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(ns_path)
        ns.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=ns_path)
        logf = open(self.env.log, "w")
        self.env.proc = subprocess.Popen(
            [GAZETTED, "-f", "-c", self.env.conf], stderr=logf, env=env)
        logf.close()
        msg = ns.recv(4096).decode()
        self.assertIn("READY=1", msg)
        # Listening already when READY came.
        ok, _ = ctl(self.env.sock, "status")
        self.assertTrue(ok)
        self.env.proc.send_signal(signal.SIGTERM)
        self.assertIn("STOPPING=1", ns.recv(4096).decode())
        self.assertEqual(self.env.proc.wait(5), 0)
        ns.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
