#!/usr/bin/env python3
"""The user unit does what README promises a user: with a feed in
~/.config/gazette/gazette.conf, `systemctl --user enable --now gazetted` is
all it takes. A real user (not root) runs their own systemd user manager
(see sandbox.py); the installed user unit sits in ~/.config/systemd/user
(ExecStart= pointed at the installed program under DESTDIR; a drop-in
sends its output to a file and records how it ended). Then:

- `systemctl --user enable --now gazetted` succeeds: the unit is enabled
  (wanted by default.target) and active once gazetted sent READY=1, with
  no_new_privs and a seccomp filter;
- the daemon, on the XDG paths, polls the feed from the loopback test
  server; the gazette CLI of the same user, given no --db or --config,
  finds the same database and lists the stories;
- `systemctl --user reload` keeps the same main process; `systemctl --user
  stop` ends it, the main process exiting by itself with status 0.

Skipped (status 77) where no private manager can run."""

import json
import os
import pwd
import subprocess
import sys
import time

import common
import sandbox

sys.path.insert(0, os.path.join(common.SOURCE_ROOT, "tests"))
import httpd  # noqa: E402  the project's loopback HTTP test server

WAIT = 60.0
USER = "gztester"
STORIES = [("u-%d" % i, "User story %d" % i) for i in range(1, 4)]


def free_uid():
    """A uid and gid number no account uses."""
    used = {p.pw_uid for p in pwd.getpwall()} | {p.pw_gid for p in
                                                 pwd.getpwall()}
    for n in range(61000, 62000):
        if n not in used:
            return n
    common.skip("no free uid in 61000-61999")
    return None


def outside():
    """Install, then run inside() in a private mount namespace."""
    why = sandbox.can_run()
    if why:
        common.skip(why)
    for var in ("GAZETTED", "GAZETTE"):
        if not os.access(os.environ.get(var, ""), os.X_OK):
            common.fail(var + " is not an executable")
    work = sandbox.workdir()
    try:
        common.install(os.path.join(work, "dest"))
        r = subprocess.run(["unshare", "-m", "--propagation", "private",
                            sys.executable, os.path.abspath(__file__),
                            "--inside", work], check=False, timeout=600)
        return r.returncode
    finally:
        sandbox.remove_cgroups(work)
        common.cleanup(work)


def inside(work):
    """The test proper, in the private mount namespace."""
    dest = os.path.join(work, "dest")
    dirs = common.install_dirs()
    home = os.path.join(work, "home-" + USER)
    uid = free_uid()
    sandbox.prepare_namespace(
        work, common.in_destdir(dest, os.path.join(dirs["sysusersdir"],
                                                   "gazette.conf")),
        ['g %s %d' % (USER, uid),
         'u %s %d:%d "gazette tester" %s /bin/sh' % (USER, uid, uid, home)])
    user = pwd.getpwnam(USER)
    os.makedirs(home, mode=0o700)

    def as_user_files(*paths):
        for p in paths:
            for root, ds, fs in os.walk(p):
                for x in [root] + [os.path.join(root, n) for n in ds + fs]:
                    os.chown(x, user.pw_uid, user.pw_gid)

    server = httpd.Server().start()
    server.set("/user.xml", {"body": httpd.rss("User feed", STORIES),
                             "etag": '"user"'})
    mgr = sandbox.Manager(work, user)
    log = os.path.join(work, "gazetted-user.log")
    try:
        mgr.add_unit(common.in_destdir(dest, os.path.join(
            dirs["systemduserunitdir"], "gazetted.service")), dest,
            os.path.join(dirs["sbindir"], "gazetted"), log,
            os.path.join(home, "exit"))
        os.chown(log, user.pw_uid, user.pw_gid)

        confdir = os.path.join(home, ".config", "gazette")
        os.makedirs(confdir, exist_ok=True)
        with open(os.path.join(confdir, "gazette.conf"), "w",
                  encoding="utf-8") as f:
            f.write('[feed "User feed"]\nurl = %s\n'
                    % server.url("/user.xml"))
        as_user_files(home)

        mgr.start()
        t0 = time.monotonic()
        r = mgr.systemctl("enable", "--now", "gazetted")
        props = mgr.show("gazetted.service", "ActiveState", "SubState",
                         "MainPID", "UnitFileState", "StatusText",
                         "ExecMainCode", "ExecMainStatus")
        print("systemctl --user enable --now gazetted: exit %d after %.2fs;"
              " %s" % (r.returncode, time.monotonic() - t0, props))
        if r.returncode != 0 or props.get("ActiveState") != "active":
            common.fail("did not start: %s %s" % (r.stderr.strip(), props))
        if props.get("UnitFileState") != "enabled":
            common.fail("not enabled: %s" % props)
        pid = int(props["MainPID"])
        st = {}
        with open("/proc/%d/status" % pid, encoding="utf-8") as f:
            for line in f:
                k, _, v = line.partition(":")
                st[k] = v.strip()
        print("main process %d: Uid %s NoNewPrivs %s Seccomp %s" % (
            pid, st["Uid"], st["NoNewPrivs"], st["Seccomp"]))
        if st["Uid"].split()[0] != str(user.pw_uid) or \
                st["NoNewPrivs"] != "1" or st["Seccomp"] != "2":
            common.fail("the user unit's restrictions are not applied")

        # The user's CLI, with no --db: the same default paths.
        cli_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                   "HOME": home, "XDG_RUNTIME_DIR":
                   mgr.env["XDG_RUNTIME_DIR"]}
        cmd = mgr.as_user([os.environ["GAZETTE"], "list", "--all",
                           "--json"])
        want = {t for _, t in STORIES}
        deadline = time.monotonic() + WAIT
        got = set()
        while time.monotonic() < deadline:
            r = common.run(cmd, env=cli_env, timeout=60)
            if r.returncode == 0:
                got = {json.loads(l).get("title")
                       for l in r.stdout.splitlines() if l}
                if got == want:
                    break
            time.sleep(0.25)
        print("gazette list --all --json as %s: %s" % (USER, sorted(got)))
        if got != want:
            common.fail("the user's CLI lists %s, the feed has %s (%s)"
                        % (sorted(got), sorted(want), r.stderr.strip()))
        db = os.path.join(home, ".local", "share", "gazette", "gazette.db")
        sock = os.path.join(mgr.env["XDG_RUNTIME_DIR"], "gazette",
                            "control.sock")
        for p in (db, sock):
            if not os.path.exists(p):
                common.fail(p + " does not exist")

        r = mgr.systemctl("reload", "gazetted")
        props = mgr.show("gazetted.service", "ActiveState", "MainPID")
        print("systemctl --user reload gazetted: exit %d; %s"
              % (r.returncode, props))
        if r.returncode != 0 or props.get("ActiveState") != "active" or \
                int(props.get("MainPID", 0)) != pid:
            common.fail("reload: %s %s" % (r.stderr.strip(), props))

        r = mgr.systemctl("stop", "gazetted")
        with open(os.path.join(home, "exit"), encoding="utf-8") as f:
            ended = f.read().split()
        print("systemctl --user stop gazetted: exit %d; the service: %s"
              % (r.returncode, ended))
        if r.returncode != 0 or ended != ["success", "exited", "0"]:
            common.fail("stop: %s; result, code, status: %s"
                        % (r.stderr.strip(), ended))
    finally:
        mgr.stop()
        server.stop()
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                print("--- gazetted (user unit)\n" + f.read())
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        sys.exit(inside(sys.argv[2]))
    sys.exit(outside())
