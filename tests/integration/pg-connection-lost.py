#!/usr/bin/env python3
"""Issue 17: a connection to PostgreSQL lost mid-poll is retried with
back-off and logged, with nothing half-merged. gazetted --once polls
feeds that arrive over a few seconds, big enough that its merges keep a
transaction open most of the time, while the test cuts every connection
to the database again and again (pg_terminate_backend, what a server
restart or a failover does to a client). The daemon must say it lost the
connection and reconnected, merge again what the server rolled back, and
leave every story stored exactly once. Needs GAZETTE_TEST_PG (run under
tests/pg-run.sh); skipped without it."""

import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import httpd  # noqa: E402
import pgtest  # noqa: E402

GAZETTED = os.environ.get("GAZETTED", "build/daemon/gazetted")
FEEDS = 40
ITEMS = 400  # each feed's, none shared: FEEDS * ITEMS stories in all


@unittest.skipUnless(pgtest.enabled(), "needs GAZETTE_TEST_PG "
                     "(tests/pg-run.sh starts a server)")
class TestConnectionLost(unittest.TestCase):
    def setUp(self):
        self.srv = httpd.Server().start()
        self.dir = tempfile.TemporaryDirectory(prefix="gazette-pgl-")
        self.db = pgtest.new_database()

    def tearDown(self):
        self.srv.stop()
        pgtest.drop_database(self.db)
        self.dir.cleanup()

    def config(self):
        conf = os.path.join(self.dir.name, "gazette.conf")
        text = ("[daemon]\ndatabase = %s\nsocket = %s\ninterval = 1h\n"
                "timeout = 30s\n" % (self.db, os.path.join(
                    self.dir.name, "control.sock")))
        for i in range(FEEDS):
            path = "/f%d" % i
            items = [("https://f%d.example/%d" % (i, k), "F%d item %d" %
                      (i, k)) for k in range(ITEMS)]
            # two at a time (per-host-connections), each after 0.15 s:
            # about 3 s of arrivals, merges going on while the cuts come
            self.srv.set(path, {"body": httpd.rss("Feed %d" % i, items),
                                "delay": 0.15})
            text += '[feed "F%d"]\nurl = %s\n' % (i, self.srv.url(path))
        with open(conf, "w") as f:
            f.write(text)
        return conf

    def test_connection_cut_mid_poll_is_redone_and_loses_nothing(self):
        conf = self.config()
        log_path = os.path.join(self.dir.name, "gazetted.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([GAZETTED, "-c", conf, "--once", "-v"],
                                    stderr=log)
        cut = []

        def cutter():
            # until the daemon has said it merges a rolled-back batch
            # again, or has exited
            while proc.poll() is None:
                time.sleep(0.15)
                if len(self.srv.hits()) == 0:
                    continue
                cut.append(pgtest.terminate_backends(self.db))
                with open(log_path) as f:
                    if "merging them again" in f.read():
                        break
        t = threading.Thread(target=cutter)
        t.start()
        try:
            rc = proc.wait(180)
        finally:
            if proc.poll() is None:
                proc.kill()
            t.join()
        with open(log_path) as f:
            log = f.read()
        # what the daemon said about it, in the test's log
        sys.stderr.write("".join(
            "\n  " + line for line in log.splitlines()
            if "PostgreSQL" in line or "polls" in line or "polled" in line)
            + "\n")
        self.assertEqual(rc, 0, log)
        self.assertGreater(sum(cut), 0, "no connection was cut")
        self.assertIn("lost the connection to PostgreSQL", log)
        self.assertIn("reconnected to PostgreSQL", log)
        self.assertIn("were rolled back in", log)
        self.assertIn("merging them again in 200 ms (try 1 of", log)
        self.assertRegex(log, r"saved the last \d+ polls in '[^']*' after "
                         r"\d+ redos?\n")
        self.assertNotIn("cannot save the last", log)
        self.assertEqual(len(self.srv.hits()), FEEDS, "one poll a feed")
        q = pgtest.query
        # every story once, each in its own feed once: nothing lost,
        # nothing twice, nothing half-merged
        self.assertEqual(q(self.db, "SELECT count(*) FROM story"),
                         [(FEEDS * ITEMS,)])
        self.assertEqual(q(self.db, "SELECT count(*) FROM membership"),
                         [(FEEDS * ITEMS,)])
        self.assertEqual(q(self.db, "SELECT count(*) FROM (SELECT guid_key"
                           " FROM membership GROUP BY feed_id, guid_key"
                           " HAVING count(*) > 1) AS dup"), [(0,)])
        self.assertEqual(q(self.db, "SELECT count(DISTINCT feed_id) FROM"
                           " membership"), [(FEEDS,)])
        # and each poll's record with its stories: validators, last ok
        self.assertEqual(q(self.db, "SELECT count(*) FROM feed_url WHERE"
                           " last_tried = 0"), [(0,)])

    def test_a_password_in_the_uri_is_not_logged(self):
        # The test server trusts the socket: any password connects.
        assert self.db.startswith("postgresql://")
        user, rest = self.db[len("postgresql://"):].split("@", 1)
        uri = "postgresql://%s:hunter2@%s" % (user, rest)
        conf = os.path.join(self.dir.name, "empty.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = %s\n"
                    % os.path.join(self.dir.name, "control.sock"))
        for db, rc in ((uri, 0), (uri + "_none", 1)):  # opened, refused
            r = subprocess.run([GAZETTED, "-c", conf, "--db", db, "--once",
                                "-v"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, rc, r.stderr)
            self.assertIn(":***@", r.stderr)
            self.assertNotIn("hunter2", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
