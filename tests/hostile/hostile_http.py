#!/usr/bin/env python3
"""Hostile HTTP (issue 7, item 3): answers built to exhaust, stall or
trick the fetcher, served by the loopback server to the real gazetted.
Each test checks what the store says afterwards and, where memory is the
attack, gazetted's peak RSS (GNU time's %M)."""

import email.utils
import os
import selectors
import signal
import socket
import sys
import threading
import time
import unittest

from common import ITEMS, Base, httpd, main

MIB = 1024 * 1024
RSS_BOUND_KIB = 64 * 1024  # the issue's bound: 64 MiB


def bomb(gib):
    """gib GiB of decoded bytes: an RSS prologue, then a comment of 'x'
    that never closes. Gzipped on the fly by the server (stream_gzip):
    about 1 KiB of gzip per MiB, so 10 GiB is about 10 MiB on the wire,
    of which gazetted reads only up to max-feed-size decoded bytes."""
    def gen():
        yield (b'<?xml version="1.0"?><rss version="2.0"><channel>'
               b'<title>bomb</title><!--')
        chunk = b"x" * MIB
        for _ in range(gib * 1024):
            yield chunk
    return gen


class TestHostileHttp(Base):
    def test_gzip_bomb_is_cut_at_max_feed_size_in_bounded_memory(self):
        self.srv.set("/bomb", {"stream": bomb(10), "stream_gzip": True})
        self.env.config([("Bomb", [self.srv.url("/bomb")], {}),
                         self.healthy()], extra="max-feed-size = 16MiB")
        secs, rss = self.once_measured(timeout=60)
        self.report("gzip bomb", secs="%.2fs" % secs, peak_rss_kib=rss)
        self.assertIn("max-feed-size", self.env.url(1, 0, "last_error"))
        self.assertLess(rss, RSS_BOUND_KIB)
        self.assertLess(secs, 30)
        self.assertEqual(self.healthy_stories(2), 3)
        self.assertEqual(self.srv.hits("/bomb")[0]["headers"].get(
            "accept-encoding") is not None, True)

    def test_endless_body_is_cut_at_max_feed_size_in_bounded_memory(self):
        self.srv.set("/inf", {"endless": True})
        self.env.config([("Inf", [self.srv.url("/inf")], {}),
                         self.healthy()], extra="max-feed-size = 16MiB")
        secs, rss = self.once_measured(timeout=60)
        self.report("endless body", secs="%.2fs" % secs, peak_rss_kib=rss)
        self.assertIn("max-feed-size", self.env.url(1, 0, "last_error"))
        self.assertLess(rss, RSS_BOUND_KIB)
        self.assertEqual(self.healthy_stories(2), 3)

    def test_redirect_loop_ends_with_an_error(self):
        self.srv.set("/a", {"status": 302, "location": "/b"})
        self.srv.set("/b", {"status": 302, "location": "/a"})
        self.env.config([("Loop", [self.srv.url("/a")], {}),
                         self.healthy()])
        self.once_measured(timeout=30)
        self.assertIn("redirect", self.env.url(1, 0, "last_error").lower())
        self.assertLessEqual(len(self.srv.hits("/a")) +
                             len(self.srv.hits("/b")), 6)
        self.assertEqual(self.healthy_stories(2), 3)

    def test_redirects_to_file_gopher_ftp_are_refused(self):
        targets = ["file:///etc/passwd", "gopher://127.0.0.1:%d/1" %
                   self.srv.port, "ftp://127.0.0.1:%d/feed" % self.srv.port,
                   "dict://127.0.0.1:%d/x" % self.srv.port]
        feeds = []
        for i, t in enumerate(targets):
            self.srv.set("/r%d" % i, {"status": 301, "location": t})
            feeds.append(("R%d" % i, [self.srv.url("/r%d" % i)], {}))
        feeds.append(self.healthy())
        self.env.config(feeds)
        self.once_measured(timeout=30)
        for i in range(len(targets)):
            fid = i + 1
            self.assertEqual(self.env.feed(fid, "error_count"), 1)
            self.assertIsNone(self.env.url(fid, 0, "redirect"))
            self.assertEqual(self.healthy_stories(fid), 0)
            self.assertTrue(self.env.url(fid, 0, "last_error"))
        # Nothing reached the server by another protocol: every request
        # it saw was an HTTP GET of a /rN path (the gopher/ftp ones would
        # arrive as garbage or not at all).
        paths = {h["path"] for h in self.srv.hits()}
        self.assertEqual(paths, {"/r0", "/r1", "/r2", "/r3", "/healthy"})
        self.assertEqual(self.healthy_stories(len(targets) + 1), 3)

    def test_html_page_with_200_records_not_a_feed_and_fails_over(self):
        self.srv.set("/html", {"body": httpd.HTML_PAGE,
                               "headers": {"Content-Type": "text/html"}})
        m = self.feed_route("/mirror")
        self.env.config([("F", [self.srv.url("/html"), m], {})])
        self.once_measured()
        self.assertIn("not a feed", self.env.url(1, 0, "last_error"))
        self.assertEqual(self.env.feed(1, "last_served"), 1)
        self.assertEqual(self.env.stories(), 3)
        # with no mirror: the error is the feed's
        self.env.config([("F", [self.srv.url("/html")], {})])
        os.unlink(self.env.db)
        self.once_measured()
        self.assertEqual(self.env.feed(1, "error_count"), 1)
        self.assertEqual(self.env.stories(), 0)

    def test_304_without_validators_sent_stores_nothing_and_keeps_stories(
            self):
        # A first poll stores three stories with no validators; then the
        # server answers 304 to a request that sent none.
        self.srv.set("/n", {"sequence": [
            {"body": httpd.rss("N", ITEMS)},
            {"status": 304}]})
        self.env.config([("N", [self.srv.url("/n")], {"interval": "1s"})])
        self.once_measured()
        self.assertEqual(self.env.stories(), 3)
        self.env.q("UPDATE feed SET next_poll = 0")
        self.once_measured()
        h = self.srv.hits("/n")
        self.assertEqual(len(h), 2)
        self.assertNotIn("if-none-match", h[1]["headers"])
        self.assertNotIn("if-modified-since", h[1]["headers"])
        self.assertEqual(self.env.stories(), 3)
        self.assertEqual(self.env.url(1, 0, "last_status"), 304)
        self.assertIsNone(self.env.url(1, 0, "etag"))

    def test_304_to_a_first_poll_stores_nothing(self):
        self.srv.set("/n", {"status": 304})
        self.env.config([("N", [self.srv.url("/n")], {}), self.healthy()])
        self.once_measured()
        self.assertEqual(self.healthy_stories(1), 0)
        self.assertEqual(self.healthy_stories(2), 3)

    def test_content_length_longer_than_the_body_is_an_error(self):
        body = httpd.rss("CL", ITEMS)
        self.srv.set("/cl", {"body": body, "content_length": len(body) + 1000,
                             "headers": {"Connection": "close"}})
        self.env.config([("CL", [self.srv.url("/cl")], {}), self.healthy()])
        secs, _ = self.once_measured(timeout=60)
        self.assertLess(secs, 20)
        self.assertTrue(self.env.url(1, 0, "last_error"))
        self.assertEqual(self.healthy_stories(1), 0)
        self.assertEqual(self.healthy_stories(2), 3)

    # hostile-findings.md H1: an <item> left open at the end of a cut
    # document becomes a story with no guid, link, title or content.
    def test_content_length_shorter_than_the_body_reads_only_that(self):
        body = httpd.rss("CL", ITEMS)
        # Cut in the middle of the second item: never a story from the
        # bytes beyond the declared length.
        cut = body.index(b"<item>", body.index(b"<item>") + 1) + 10
        self.srv.set("/cl", {"body": body, "content_length": cut})
        self.env.config([("CL", [self.srv.url("/cl")], {}), self.healthy()])
        self.once_measured(timeout=60)
        self.assertEqual(self.env.q(
            "SELECT title FROM story s JOIN membership m ON "
            "m.story_id = s.id WHERE m.feed_id = 1"), [("First",)])
        self.assertEqual(self.healthy_stories(2), 3)

    def test_connection_reset_mid_body_is_an_error_and_stores_nothing(self):
        self.srv.set("/rst", {"body": httpd.rss("R", ITEMS),
                              "reset_after": 200})
        self.env.config([("R", [self.srv.url("/rst")], {}), self.healthy()])
        self.once_measured(timeout=30)
        self.assertTrue(self.env.url(1, 0, "last_error"))
        self.assertEqual(self.env.feed(1, "error_count"), 1)
        self.assertEqual(self.healthy_stories(1), 0)
        self.assertEqual(self.healthy_stories(2), 3)

    def retry_after_holds(self, status, value, until):
        self.srv.set("/r", {"status": status, "retry_after": value})
        self.env.config([("R", [self.srv.url("/r")], {"interval": "1s"})])
        self.once_measured()
        self.assertGreaterEqual(self.env.feed(1, "retry_after"), until)
        # Polls before that time do not ask the server again: a --once
        # run, and the daemon for 2.5 s with the feed's interval at 1 s.
        self.once_measured()
        self.env.start()
        time.sleep(2.5)
        self.env.stop()
        self.assertEqual(len(self.srv.hits("/r")), 1)

    def test_429_with_retry_after_seconds_holds_the_next_poll(self):
        self.retry_after_holds(429, 600, int(time.time()) + 599)

    def test_503_with_retry_after_date_holds_the_next_poll(self):
        when = int(time.time()) + 900
        self.retry_after_holds(503, email.utils.formatdate(when, usegmt=True),
                               when - 1)


class TestStallingFeeds(Base):
    """1,000 healthy feeds, alone and beside 50 dripping and 50
    never-answering ones. The bad feeds live in a server process of
    their own, so only gazetted's scheduling links them to the healthy
    ones. Both runs are the same configuration of healthy feeds on the
    same server, run back to back; the measure is the span from gazetted's
    start to the last healthy request the server saw.

    With the default max-connections (32): a transfer that brings less
    than low-speed-limit for stall-after (100ms) leaves max-connections
    for the slow pool (slow-connections, 128), so the 100 stalled ones
    stop holding the 32 slots long before the low-speed limit or the
    timeout cuts them (hostile-findings.md H2: 15.2 s beside vs 2.7 s
    alone when they held the slots).
    test_slow_pool_is_capped: the pool is bounded all the same."""

    N_HEALTHY = 1000
    N_BAD = 50

    def bad_server(self):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            dsrv = httpd.Server().start()
            for i in range(self.N_BAD):
                dsrv.set("/drip%d" % i, {"body": httpd.rss("d", ITEMS),
                                         "drip": (1, 0.5)})
                dsrv.set("/hang%d" % i, {"hang": True})
            os.write(wfd, b"%d\n" % dsrv.port)
            time.sleep(120)
            os._exit(0)
        os.close(wfd)
        with os.fdopen(rfd) as f:
            port = int(f.readline())
        self.addCleanup(os.waitpid, pid, 0)
        self.addCleanup(os.kill, pid, signal.SIGKILL)
        return port

    def span(self, bad_port):
        self.srv.clear_log()
        feeds = []
        if bad_port:
            for i in range(self.N_BAD):
                feeds.append(("D%d" % i, ["http://drip%d.localhost:%d/drip%d"
                                          % (i, bad_port, i)], {}))
                feeds.append(("H%d" % i, ["http://hang%d.localhost:%d/hang%d"
                                          % (i, bad_port, i)], {}))
        for i in range(self.N_HEALTHY):
            feeds.append(("F%d" % i, [self.srv.url(
                "/f%d" % i, "h%d.localhost" % (i % 10))], {}))
        self.env.config(feeds, extra="per-host-connections = 4\n"
                        "timeout = 8s\nlow-speed-time = 4s\n")
        for f in ("", "-wal", "-shm"):
            if os.path.exists(self.env.db + f):
                os.unlink(self.env.db + f)
        t = time.time()
        secs, rss = self.once_measured(timeout=120)
        fast = [h["time"] for h in self.srv.hits()]
        if len(fast) != self.N_HEALTHY:
            sys.stderr.write(repr(self.env.q(
                "SELECT url, last_error FROM feed_url WHERE last_error IS "
                "NOT NULL AND url NOT LIKE '%drip%' AND url NOT LIKE "
                "'%hang%'")))
        self.assertEqual(len(fast), self.N_HEALTHY)
        self.assertEqual(self.env.q1(
            "SELECT count(*) FROM feed WHERE id > ? AND error_count = 0",
            2 * self.N_BAD if bad_port else 0), self.N_HEALTHY)
        return max(fast) - t, secs, rss

    def test_dripping_and_hanging_feeds_do_not_hold_up_1000_healthy(self):
        for i in range(self.N_HEALTHY):
            self.srv.set("/f%d" % i, {"body": httpd.rss(
                "f", [("f%d" % i, "x")])})
        port = self.bad_server()
        # Alone is measured twice around the run beside the bad feeds and
        # the slower taken, so that a loaded machine's noise does not
        # make the bound; 0.3 s of slack absorbs the start of the 100 bad
        # transfers themselves (each is one connection, started once).
        # One more round when the first misses (CI runs tests two at a
        # time on two cores): a real hold-up misses both by far (15 s vs
        # 2.7 s when the stalled feeds took the slots).
        for attempt in range(2):
            alone, _, _ = self.span(None)
            beside, total, rss = self.span(port)
            alone2, _, _ = self.span(None)
            alone = max(alone, alone2)
            self.report("1000 healthy", alone="%.2fs" % alone,
                        beside_100_bad="%.2fs" % beside,
                        whole_run="%.2fs" % total, peak_rss_kib=rss)
            if beside < alone * 1.2 + 0.3:
                break
        self.assertLess(beside, alone * 1.2 + 0.3, (alone, beside))
        # The bad feeds were cut by the low-speed limit and the timeout.
        self.assertLess(total, 30)

    def silent_server(self):
        """A server that accepts connections and never answers, counting
        the connections open at once (a closed one is counted out before
        a new one is counted in): (port, stats dict)."""
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1024)
        ls.setblocking(False)
        stats = {"open": 0, "peak": 0, "accepted": 0}
        stop = threading.Event()

        def run():
            sel = selectors.DefaultSelector()
            sel.register(ls, selectors.EVENT_READ)
            while not stop.is_set():
                events = sel.select(0.05)
                for key, _ in sorted(events, key=lambda e: e[0].fileobj is ls):
                    if key.fileobj is ls:
                        while True:
                            try:
                                c, _ = ls.accept()
                            except BlockingIOError:
                                break
                            c.setblocking(False)
                            sel.register(c, selectors.EVENT_READ)
                            stats["accepted"] += 1
                            stats["open"] += 1
                            stats["peak"] = max(stats["peak"], stats["open"])
                        continue
                    try:
                        data = key.fileobj.recv(65536)
                    except OSError:
                        data = b""
                    if not data:  # the client hung up
                        sel.unregister(key.fileobj)
                        key.fileobj.close()
                        stats["open"] -= 1
            sel.close()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.addCleanup(ls.close)
        self.addCleanup(t.join)
        self.addCleanup(stop.set)
        return ls.getsockname()[1], stats

    def test_slow_pool_is_capped(self):
        # max-connections 4 + slow-connections 4: 20 never-answering
        # feeds (20 hosts) have at most 8 sockets open at once, and more
        # than 4 (the stalled ones left max-connections); every feed is
        # tried, each cut by the low-speed limit.
        port, stats = self.silent_server()
        feeds = [("S%d" % i, ["http://s%d.localhost:%d/feed" % (i, port)],
                  {}) for i in range(20)]
        self.env.config(feeds, extra="max-connections = 4\n"
                        "per-host-connections = 1\nslow-connections = 4\n"
                        "timeout = 10s\nlow-speed-time = 2s\n")
        secs, _ = self.once_measured(timeout=60)
        self.report("20 silent feeds", peak_open=stats["peak"],
                    accepted=stats["accepted"], seconds="%.1f" % secs)
        self.assertEqual(stats["accepted"], 20)
        self.assertLessEqual(stats["peak"], 8)
        self.assertGreater(stats["peak"], 4)
        self.assertEqual(self.env.q1(
            "SELECT count(*) FROM feed WHERE error_count = 1"), 20)


if __name__ == "__main__":
    main()
