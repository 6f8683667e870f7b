#!/usr/bin/env python3
"""Who may use gazetted's control socket (issue 16, point 2): a user's
daemon keeps it owner-only (0600); the system service's is 0660, group
gazette (control-socket-mode, control-socket-group), and a client that
is neither the daemon's user nor root may ask only status and poll, never
reload. Run as root, the clients of other users are real (setpriv as
nobody); otherwise only the modes are checked, and that is said."""

import json
import os
import stat
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_gazetted as tg  # noqa: E402

GAZETTED = tg.GAZETTED
NOBODY = 65534
ROOT = os.geteuid() == 0

# A client of the control protocol, run as another user: prints
# [ok, text] or ["error", errno name].
CLIENT = r"""
import errno, json, sys
sys.path.insert(0, %r)
import test_gazetted as tg
try:
    print(json.dumps(list(tg.ctl(sys.argv[1], sys.argv[2]))))
except OSError as e:
    print(json.dumps(["error", errno.errorcode.get(e.errno, str(e))]))
""" % HERE


def as_user(sock, cmd, uid, gid, groups=()):
    """(ok, text) of cmd sent by uid:gid with groups, or ("error", E)."""
    argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid]
    argv += (["--groups=" + ",".join(map(str, groups))] if groups
             else ["--clear-groups"])
    argv += ["--", sys.executable, "-c", CLIENT, sock, cmd]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("client as %d failed: %s" % (uid, p.stderr))
    return tuple(json.loads(p.stdout))


class TestControlAccess(tg.Base):
    def start(self, extra=""):
        self.env.config([("F", [self.feed_route("/f")], {})], extra)
        # others may pass through the test's directory to the socket
        os.chmod(self.env.dir, 0o711)
        self.env.start()
        return os.stat(self.env.sock)

    def test_user_daemon_socket_is_owner_only(self):
        st = self.start()
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        ok, text = tg.ctl(self.env.sock, "status")
        self.assertTrue(ok, text)
        ok, text = tg.ctl(self.env.sock, "reload")
        self.assertTrue(ok, text)
        if not ROOT:
            self.skipTest("not root: no other user to try the socket as")
        self.assertEqual(as_user(self.env.sock, "status", NOBODY, NOBODY,
                                 [st.st_gid]), ("error", "EACCES"))

    def test_group_socket_lets_the_group_look_and_poll_not_reload(self):
        st = self.start("control-socket-mode = 0660\n"
                        "control-socket-group = nogroup\n")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, NOBODY)  # nogroup
        ok, text = tg.ctl(self.env.sock, "reload")
        self.assertTrue(ok, "the owner may reload: " + text)
        if not ROOT:
            self.skipTest("not root: no other user to try the socket as")
        # nobody, a member of the group (its primary, then a
        # supplementary one): status and poll, not reload
        for gid, groups in ((NOBODY, ()), (1, (NOBODY,))):
            ok, text = as_user(self.env.sock, "status", NOBODY, gid, groups)
            self.assertIs(ok, True, text)
            self.assertIn("feeds: 1", text)
            ok, text = as_user(self.env.sock, "poll", NOBODY, gid, groups)
            self.assertIs(ok, True, text)
            self.assertIn("polled: 1", text)
            ok, text = as_user(self.env.sock, "reload", NOBODY, gid, groups)
            self.assertIs(ok, False, text)
            self.assertIn("permission denied", text)
        # a user outside the group cannot connect at all
        self.assertEqual(as_user(self.env.sock, "status", NOBODY, 1),
                         ("error", "EACCES"))
        self.assertIsNone(self.env.proc.poll(), "the daemon still runs")

    def test_a_named_group_that_does_not_exist_stops_the_start(self):
        self.env.config([("F", [self.feed_route("/f")], {})],
                        "control-socket-group = no-such-group-gz\n")
        p = subprocess.run([GAZETTED, "-f", "-c", self.env.conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no group 'no-such-group-gz'", p.stderr)
        self.assertFalse(os.path.exists(self.env.sock))

    def test_a_mode_the_owner_cannot_use_is_a_configuration_error(self):
        for bad in ("0400", "0060", "rw", "01660", "", "0o660"):
            self.env.config([], "control-socket-mode = %s\n" % bad)
            p = subprocess.run([GAZETTED, "--once", "-c", self.env.conf],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 1, bad)
            self.assertIn("gazette.conf:", p.stderr)
            self.assertIn("control-socket-mode", p.stderr)

    def test_system_paths_default_to_0660(self):
        # The system paths (a system database exists, no files of one's
        # own), under GAZETTE_SYSTEM_ROOT: no socket setting, so the
        # system service's, 0660.
        root = os.path.join(self.env.dir, "system")
        state = os.path.join(root, "var", "lib", "gazette")
        os.makedirs(state)
        env = dict(os.environ, GAZETTE_SYSTEM_ROOT=root,
                   HOME=os.path.join(self.env.dir, "home"),
                   XDG_DATA_HOME=os.path.join(self.env.dir, "home", "d"),
                   XDG_CONFIG_HOME=os.path.join(self.env.dir, "home", "c"))
        env.pop("STATE_DIRECTORY", None)
        p = subprocess.run([GAZETTED, "--once", "--db",
                            os.path.join(state, "gazette.db")],
                           capture_output=True, text=True, env=env,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        proc = subprocess.Popen([GAZETTED, "-f", "-v"], env=env,
                                stderr=subprocess.DEVNULL)
        sock = os.path.join(root, "run", "gazette", "control.sock")
        try:
            for _ in range(200):
                if os.path.exists(sock):
                    break
                if proc.poll() is not None:
                    break
                tg.time.sleep(0.05)
            self.assertTrue(os.path.exists(sock), "no socket at " + sock)
            self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o660)
            ok, text = tg.ctl(sock, "status")
            self.assertTrue(ok, text)
            self.assertIn("database: %s/gazette.db" % state, text)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
