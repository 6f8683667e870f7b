#!/usr/bin/env python3
"""gazetted does its job under the system unit's sandbox, applied by systemd
itself: the installed gazetted.service (only ExecStart= pointed at the
installed program under DESTDIR; a drop-in sends its output to a file,
since no journal runs, and records how it ended) is started by a private systemd manager (see sandbox.py)
with the user the installed sysusers.d file creates. Then:

- `systemctl start` returns once gazetted sent READY=1, and the unit is
  active, running as user gazette, with no capabilities, no_new_privs,
  a seccomp filter, and the directories systemd made for it;
- it polls a feed from the loopback test server and stores its stories;
- `gazette status` and `gazette poll FEED` (as user gazette) are answered
  through the control socket in its RuntimeDirectory=;
- `systemctl reload` (ExecReload=, SIGHUP) picks up a feed added to the
  configuration file and polls it too, with the same main process; its
  URL names the server by a host name, resolved through NSS in the
  sandbox;
- `systemctl stop` ends it: the main process exits by itself with status 0
  (as ExecStopPost= sees it: $SERVICE_RESULT, $EXIT_CODE, $EXIT_STATUS).

With --group-cli (the test service-sandbox-group-cli), the same run also
checks what StateDirectoryMode=2770 and UMask=0007 are for: a member of
group gazette who is not the gazette user reads the stories with the
gazette CLI from the state directory.

Skipped (status 77) where no private manager can run: not root, no systemd
binary, no mount namespaces."""

import json
import os
import subprocess
import sys
import time

import common

sys.path.insert(0, os.path.join(common.SOURCE_ROOT, "tests"))
import httpd  # noqa: E402  the project's loopback HTTP test server
import sandbox

WAIT = 60.0
FEEDS = (("/one.xml", "Loopback One"), ("/two.xml", "Loopback Two"))
STORIES = {p: [("%s-%d" % (p[1:4], i), "Story %d of %s" % (i, p[1:4]))
               for i in range(1, 4)] for p, _ in FEEDS}


def write_config(path, feeds):
    """gazette.conf declaring the given (name, url) feeds; new feeds are
    polled at once, and not again during the test."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("[daemon]\ninterval = 1h\nmin-interval = 1m\n")
        for name, url in feeds:
            f.write('\n[feed "%s"]\nurl = %s\n' % (name, url))


def cli(db, uid, gid, groups, *args):
    """The built gazette CLI on db, as uid:gid with groups."""
    cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
           "--groups=" + ",".join(str(g) for g in groups) if groups
           else "--clear-groups", "--", os.environ["GAZETTE"],
           "--db", db] + list(args)
    return common.run(cmd, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                                "HOME": "/nonexistent"}, timeout=60)


def story_titles(db, uid, gid, feed):
    """Titles of the stories of feed, as `gazette list --json` prints
    them when run as uid:gid."""
    r = cli(db, uid, gid, [], "list", "--all", "--feed", feed, "--json")
    if r.returncode != 0:
        return set()
    return {json.loads(l).get("title") for l in r.stdout.splitlines() if l}


def wait_for(what, fn):
    """Call fn until it returns something true; fail after WAIT."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.25)
    common.fail("timed out waiting for " + what)
    return None


def proc_status(pid):
    """/proc/PID/status as a dict."""
    out = {}
    with open("/proc/%d/status" % pid, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_environ(pid):
    """The environment of a process."""
    with open("/proc/%d/environ" % pid, "rb") as f:
        items = f.read().split(b"\0")
    return dict(i.decode().split("=", 1) for i in items if b"=" in i)


def check_sandboxed(pid, uid, gid):
    """The main process runs as gazette, with the unit's restrictions."""
    st = proc_status(pid)
    print("main process %d: Uid %s, Gid %s, NoNewPrivs %s, Seccomp %s, "
          "CapEff %s, CapBnd %s" % (pid, st["Uid"], st["Gid"],
                                    st["NoNewPrivs"], st["Seccomp"],
                                    st["CapEff"], st["CapBnd"]))
    bad = []
    if st["Uid"].split() != [str(uid)] * 4:
        bad.append("Uid %s, not gazette's %d" % (st["Uid"], uid))
    if st["Gid"].split() != [str(gid)] * 4:
        bad.append("Gid %s, not gazette's %d" % (st["Gid"], gid))
    if st["NoNewPrivs"] != "1":
        bad.append("no_new_privs is not set")
    if st["Seccomp"] != "2":
        bad.append("no seccomp filter (Seccomp: %s)" % st["Seccomp"])
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(st[cap], 16) != 0:
            bad.append("%s is %s, not empty" % (cap, st[cap]))
    if bad:
        common.fail("sandbox not applied: " + "; ".join(bad))


def outside(group_cli):
    """Install, then run inside() in a private mount namespace."""
    why = sandbox.can_run()
    if why:
        common.skip(why)
    if not os.access(os.environ.get("GAZETTED", ""), os.X_OK):
        common.fail("GAZETTED is not an executable")
    work = sandbox.workdir()
    try:
        common.install(os.path.join(work, "dest"))
        r = subprocess.run(["unshare", "-m", "--propagation", "private",
                            sys.executable, os.path.abspath(__file__),
                            "--inside", work] +
                           (["--group-cli"] if group_cli else []),
                           check=False, timeout=600)
        return r.returncode
    finally:
        sandbox.remove_cgroups(work)
        common.cleanup(work)


def inside(work, group_cli):
    """The test proper, in the private mount namespace."""
    dest = os.path.join(work, "dest")
    dirs = common.install_dirs()
    uid, gid = sandbox.prepare_namespace(
        work, common.in_destdir(dest, os.path.join(dirs["sysusersdir"],
                                                   "gazette.conf")))
    server = httpd.Server().start()
    for path, title in FEEDS:
        server.set(path, {"body": httpd.rss(title, STORIES[path]),
                          "etag": '"%s"' % path})
    mgr = sandbox.Manager(work)
    log = os.path.join(work, "gazetted.log")
    try:
        # The installed unit, ExecStart= moved into DESTDIR; how the
        # main process ended is kept where the service may write.
        mgr.add_unit(common.in_destdir(dest, os.path.join(
            dirs["systemdsystemunitdir"], "gazetted.service")), dest,
            os.path.join(dirs["sbindir"], "gazetted"), log,
            '"$STATE_DIRECTORY/exit"')

        # ConfigurationDirectory=gazette: $XDG_CONFIG_HOME/gazette here.
        confdir = os.path.join(mgr.env["XDG_CONFIG_HOME"], "gazette")
        os.makedirs(confdir)
        conf = os.path.join(confdir, "gazette.conf")
        write_config(conf, [("Loopback One", server.url("/one.xml"))])
        os.chmod(conf, 0o644)

        mgr.start()
        t0 = time.monotonic()
        r = mgr.systemctl("start", "gazetted.service")
        props = mgr.show("gazetted.service", "ActiveState", "SubState",
                         "MainPID", "Result", "StatusText", "ExecMainCode",
                         "ExecMainStatus")
        print("systemctl start: exit %d after %.2fs; %s"
              % (r.returncode, time.monotonic() - t0, props))
        if r.returncode != 0 or props.get("ActiveState") != "active":
            common.fail("gazetted.service did not start: %s %s"
                        % (r.stderr.strip(), props))
        pid = int(props["MainPID"])
        check_sandboxed(pid, uid, gid)
        env = proc_environ(pid)
        state = env.get("STATE_DIRECTORY", "")
        print("STATE_DIRECTORY=%s RUNTIME_DIRECTORY=%s" % (
            state, env.get("RUNTIME_DIRECTORY")))
        db = os.path.join(state, "gazette.db")
        sock = os.path.join(env.get("RUNTIME_DIRECTORY", ""), "control.sock")
        wait_for("the control socket " + sock, lambda: os.path.exists(sock))

        want = {t for _, t in STORIES["/one.xml"]}
        one = wait_for("the stories of the first feed",
                       lambda: story_titles(db, uid, gid, "Loopback One"))
        print("first feed: %s" % sorted(one))
        if one != want:
            common.fail("stored %s, served %s" % (sorted(one), sorted(want)))

        check_control_socket(db, sock, uid, gid, server, work)

        # Reload (ExecReload=: SIGHUP) with a second feed in the file.
        write_config(conf, [("Loopback One", server.url("/one.xml")),
                            ("Loopback Two", server.url(
                                "/two.xml", host=sandbox.TEST_HOST))])
        r = mgr.systemctl("reload", "gazetted.service")
        props = mgr.show("gazetted.service", "ActiveState", "MainPID")
        print("systemctl reload: exit %d; %s" % (r.returncode, props))
        if r.returncode != 0 or props.get("ActiveState") != "active" or \
                int(props.get("MainPID", 0)) != pid:
            common.fail("reload: %s %s" % (r.stderr.strip(), props))
        two = wait_for("the stories of the feed added by the reload",
                       lambda: story_titles(db, uid, gid, "Loopback Two"))
        print("second feed, after the reload: %s" % sorted(two))

        if group_cli:
            check_group_member_cli(db, gid)
            check_group_member_control(sock, db, gid, work)

        r = mgr.systemctl("stop", "gazetted.service")
        with open(os.path.join(state, "exit"), encoding="utf-8") as f:
            ended = f.read().split()
        print("systemctl stop: exit %d; the service: %s" % (r.returncode,
                                                          ended))
        if r.returncode != 0 or ended != ["success", "exited", "0"]:
            common.fail("stop: %s; result, code, status: %s"
                        % (r.stderr.strip(), ended))
        print("requests served: %s" % [(h["host"], h["path"])
                                       for h in server.hits()])
    finally:
        mgr.stop()
        server.stop()
        for name in ("gazetted.log",):
            p = os.path.join(work, name)
            if os.path.exists(p):
                with open(p, encoding="utf-8", errors="replace") as f:
                    print("--- %s\n%s" % (name, f.read()))
    return 0


def check_control_socket(db, sock, uid, gid, server, work):
    """`gazette status` and `gazette poll FEED`, run as the gazette user,
    are answered by the sandboxed daemon through its control socket (the
    daemon checks its clients' credentials, which PrivateUsers= maps)."""
    conf = os.path.join(work, "cli.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write("[daemon]\nsocket = %s\n" % sock)
    os.chmod(conf, 0o644)
    r = cli(db, uid, gid, [], "--config", conf, "status")
    print("gazette status: exit %d\n%s" % (r.returncode, r.stdout.strip()))
    if r.returncode != 0 or "not running" in r.stdout:
        common.fail("gazette status did not reach the daemon: %s"
                    % r.stderr.strip())
    before = len(server.hits("/one.xml"))
    r = cli(db, uid, gid, [], "--config", conf, "poll", "Loopback One")
    after = len(server.hits("/one.xml"))
    print("gazette poll 'Loopback One': exit %d, %s; requests for "
          "/one.xml: %d -> %d" % (r.returncode, r.stdout.strip(), before,
                                  after))
    if r.returncode != 0 or "no daemon running" in r.stdout or \
            after != before + 1:
        common.fail("gazette poll did not make the daemon poll: %s"
                    % r.stderr.strip())


def check_group_member_cli(db, gid):
    """`gazette list` by a user who is only a member of group gazette
    (nobody, with gazette as a supplementary group), as the system unit's
    StateDirectoryMode= and UMask= promise."""
    r = cli(db, 65534, 65534, [gid], "list", "--all", "--json")
    n = len([l for l in r.stdout.splitlines() if l])
    print("group member (nobody, groups gazette): gazette list: exit %d, "
          "%d stories" % (r.returncode, n))
    if r.returncode != 0 or n == 0:
        common.fail("a member of group gazette cannot read the stories "
                    "(exit %d): %s" % (r.returncode, r.stderr.strip()))


def check_group_member_control(sock, db, gid, work):
    """The system unit's control socket is 0660, group gazette: a member
    of the group (nobody, with gazette as a supplementary group) gets
    answers to `gazette status` and `gazette poll` from the daemon."""
    st = os.stat(sock)
    print("control socket: mode %o, group %d" % (st.st_mode & 0o777,
                                                 st.st_gid))
    if st.st_mode & 0o777 != 0o660 or st.st_gid != gid:
        common.fail("the system unit's control socket is not 0660 group "
                    "gazette: mode %o, gid %d" % (st.st_mode & 0o777,
                                                  st.st_gid))
    conf = os.path.join(work, "cli.conf")
    for args in (("status",), ("poll",)):
        r = cli(db, 65534, 65534, [gid], "--config", conf, *args)
        print("group member: gazette %s: exit %d\n%s" % (
            args[0], r.returncode, r.stdout.strip()))
        if r.returncode != 0 or "not running" in r.stdout or \
                "no daemon running" in r.stdout:
            common.fail("a member of group gazette cannot %s through the "
                        "daemon: %s" % (args[0], r.stderr.strip()))


if __name__ == "__main__":
    group = "--group-cli" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--group-cli"]
    if len(args) == 2 and args[0] == "--inside":
        sys.exit(inside(args[1], group))
    sys.exit(outside(group))
