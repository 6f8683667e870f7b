#!/usr/bin/env python3
"""Database faults (issue 7, item 5): gazetted on a read-only database,
on a full disk (a small tmpfs, mounted when the test runs as root), with
its database deleted while it runs, and on a corrupt file. Each time: an
error that names the file, the daemon stopping or going on as is safest
(said in each test), and the user's file never overwritten nor truncated
(its bytes hashed before and after)."""

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from common import GAZETTED, ITEMS, Base, httpd, main, tg


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def mount_tmpfs(path, size):
    """Mount a tmpfs of size at path; False when this is not possible
    (not root, no mount in this container)."""
    if os.getuid() != 0:
        return False
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700"
                        % size, "tmpfs", path], capture_output=True)
    return p.returncode == 0


class DbBase(Base):
    def populated(self):
        """A database with the three stories of /f, checkpointed into the
        main file (no -wal left), so its hash is the whole state."""
        self.feed_route("/f")
        self.env.config([("F", [self.srv.url("/f")], {})])
        self.once_measured()
        c = sqlite3.connect(self.env.db)
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.execute("PRAGMA journal_mode = DELETE")  # leaves no -wal/-shm
        c.close()
        self.assertEqual(self.env.stories(), 3)
        return digest(self.env.db)

    def run_daemon(self, extra_args=(), timeout=30, as_user=None):
        argv = [GAZETTED, "-c", self.env.conf, "--once", "-v"]
        if as_user is not None:
            argv = ["setpriv", "--reuid=%d" % as_user, "--regid=%d" % as_user,
                    "--clear-groups"] + argv
        p = subprocess.run(argv + list(extra_args), capture_output=True,
                           text=True, timeout=timeout)
        return p.returncode, p.stderr


class TestReadOnly(DbBase):
    def test_read_only_file_mode_0400_exits_1_naming_it_and_keeps_it(self):
        h = self.populated()
        os.chmod(self.env.db, 0o400)
        user = None
        if os.getuid() == 0:
            # root ignores modes: run gazetted as nobody, owner of the
            # directory and file, with the file 0400.
            user = 65534
            os.chown(self.env.dir, user, user)
            os.chown(self.env.db, user, user)
            os.chmod(self.env.conf, 0o644)
        rc, err = self.run_daemon(as_user=user)
        self.report("read-only 0400", rc=rc, err=repr(err.strip()[-200:]))
        self.assertEqual(rc, 1, err)
        self.assertIn(self.env.db, err)
        self.assertIn("permission denied", err.lower())
        # it exists: it cannot be written, not "created" (findings H3)
        self.assertIn("cannot open for writing", err)
        self.assertEqual(digest(self.env.db), h)

    def test_read_only_filesystem_exits_1_naming_it_and_keeps_it(self):
        mnt = tempfile.mkdtemp(prefix="gazette-ro-")
        self.addCleanup(os.rmdir, mnt)
        if not mount_tmpfs(mnt, "4m"):
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        h = self.populated()
        db = os.path.join(mnt, "gazette.db")
        shutil.copyfile(self.env.db, db)
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
        self.env.db = db
        self.env.config([("F", [self.srv.url("/f")], {})])
        rc, err = self.run_daemon()
        self.report("read-only fs", rc=rc, err=repr(err.strip()[-200:]))
        self.assertEqual(rc, 1, err)
        self.assertIn(db, err)
        self.assertEqual(digest(db), h)


class TestFullDisk(DbBase):
    def test_full_disk_rolls_back_the_poll_says_so_and_keeps_the_stories(
            self):
        mnt = tempfile.mkdtemp(prefix="gazette-full-")
        self.addCleanup(os.rmdir, mnt)
        if not mount_tmpfs(mnt, "1m"):
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        self.populated()
        db = os.path.join(mnt, "gazette.db")
        shutil.copyfile(self.env.db, db)
        self.env.db = db
        # 200 stories of 8 KiB each do not fit in what is left of 1 MiB.
        big = [("b%d" % i, "big %d %s" % (i, "y" * 8000)) for i in range(200)]
        self.srv.set("/big", {"body": httpd.rss("Big", big),
                              "etag": '"big-1"'})
        self.feed_route("/f")
        self.env.config([("F", [self.srv.url("/f")], {}),
                         ("Big", [self.srv.url("/big")], {})])
        rc, err = self.run_daemon()
        self.report("full disk", rc=rc, err=repr(err.strip()[-300:]))
        self.assertIn(db, err)
        self.assertIn("full", err.lower())
        # The round's summary does not claim what was not stored.
        self.assertNotIn("200 new stories", err)
        # It goes on (the disk may be freed; the poll was rolled back, its
        # validators unsaved, so the next poll fetches it all again).
        self.assertEqual(rc, 0, err)
        c = sqlite3.connect(db)
        try:
            self.assertEqual(c.execute("PRAGMA integrity_check").fetchall(),
                             [("ok",)])
            # the three stories of before are all there
            self.assertEqual(c.execute(
                "SELECT count(*) FROM membership WHERE feed_id = 1"
            ).fetchone()[0], 3)
        finally:
            c.close()
        # Room again: the next poll of Big is a full GET, not a 304 that
        # would skip the stories the full disk lost.
        roomy = os.path.join(self.env.dir, "roomy.db")
        for ext in ("", "-wal"):
            if os.path.exists(db + ext):
                shutil.copyfile(db + ext, roomy + ext)
        self.env.db = roomy
        self.env.config([("F", [self.srv.url("/f")], {}),
                         ("Big", [self.srv.url("/big")], {})])
        rc, err = self.run_daemon()
        self.assertEqual(rc, 0, err)
        c = sqlite3.connect(roomy)
        try:
            self.assertEqual(c.execute(
                "SELECT count(*) FROM membership m JOIN feed f"
                " ON f.id = m.feed_id WHERE f.title = 'Big'"
            ).fetchone()[0], 200)
        finally:
            c.close()


class TestDeleted(DbBase):
    def test_database_deleted_while_running_stops_the_daemon_naming_it(
            self):
        self.feed_route("/f")
        self.env.config([("F", [self.srv.url("/f")], {"interval": "1s"})],
                        extra="min-interval = 1s")
        self.env.start()
        deadline = time.time() + 10
        while time.time() < deadline and not self.srv.hits("/f"):
            time.sleep(0.05)
        time.sleep(0.3)
        for f in ("", "-wal", "-shm"):
            if os.path.exists(self.env.db + f):
                os.unlink(self.env.db + f)
        # Writing on into the unlinked file would lose every poll from
        # now on without a word; gazetted notices and stops.
        try:
            tg.ctl(self.env.sock, "poll")
        except (OSError, AssertionError):
            pass
        try:
            rc = self.env.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        log = self.env.read_log()
        self.report("deleted", rc=rc, log=repr(log.strip()[-200:]))
        self.assertEqual(rc, 1, log[-2000:])
        self.assertIn(self.env.db, log)
        self.assertIn("deleted", log)
        self.assertFalse(os.path.exists(self.env.db))


class TestCorrupt(DbBase):
    def corrupt_start(self, data):
        with open(self.env.db, "wb") as f:
            f.write(data)
        os.chmod(self.env.db, 0o600)
        h = digest(self.env.db)
        self.feed_route("/f")
        self.env.config([("F", [self.srv.url("/f")], {})])
        self.srv.clear_log()
        rc, err = self.run_daemon()
        self.report("corrupt", rc=rc, err=repr(err.strip()[-200:]))
        self.assertEqual(rc, 1, err)
        self.assertIn(self.env.db, err)
        self.assertEqual(digest(self.env.db), h)
        self.assertEqual(self.srv.hits("/f"), [])  # nothing polled

    def test_file_that_is_not_a_database_is_refused_and_kept(self):
        self.corrupt_start(b"these are my notes, not a database\n" * 300)

    def test_database_with_a_smashed_page_is_refused_and_kept(self):
        self.populated()
        with open(self.env.db, "rb") as f:
            data = bytearray(f.read())
        page = int.from_bytes(data[16:18], "big") or 65536
        # Smash every page after the first (schema and tables): the header
        # is a database's, the rest is not.
        for i in range(page, len(data)):
            data[i] = (i * 131) & 0xff
        self.corrupt_start(bytes(data))


if __name__ == "__main__":
    main()
