#!/usr/bin/env python3
"""gazetted speaks systemd's notify protocol as the units expect (Type=notify,
NotifyAccess=main): started the way each unit starts it, with NOTIFY_SOCKET
naming a datagram socket this test owns, the main process sends READY=1 once
its database and control socket are in place, on SIGHUP (the units'
ExecReload=) sends RELOADING=1 and READY=1 again and stays up, and on
SIGTERM sends STOPPING=1 and exits with status 0.

Two starts: as the system unit (STATE_DIRECTORY, RUNTIME_DIRECTORY,
CONFIGURATION_DIRECTORY as systemd sets them, so the daemon must find
gazette.db and control.sock there by itself), and as the user unit (no
such variables: the XDG directories; run as nobody when the test is root,
since root means the system paths)."""

import os
import pwd
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import time

import common

TIMEOUT = 20.0


def recv_until(sock, proc, want, deadline):
    """Datagrams until one has the line want; returns (all lines, sender
    pids). Fails when the daemon exits first or the deadline passes."""
    lines, pids = [], set()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            common.fail("no %s within %.0fs; got %r" % (want, TIMEOUT, lines))
        r, _, _ = select.select([sock], [], [], min(left, 0.2))
        if not r:
            if proc.poll() is not None:
                common.fail("gazetted exited with %d before %s; got %r"
                            % (proc.returncode, want, lines))
            continue
        data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pids.add(struct.unpack("iII", cdata[:12])[0])
        got = data.decode("utf-8", "replace").split("\n")
        lines += [l for l in got if l]
        if want in got:
            return lines, pids


def start(gazetted, argv, env, as_user, log):
    """Start gazetted as argv says, in env, as as_user (None: ourselves)."""
    cmd = [gazetted] + argv
    if as_user is not None:
        cmd = [common.need("setpriv"), "--reuid=%d" % as_user.pw_uid,
               "--regid=%d" % as_user.pw_gid, "--clear-groups", "--"] + cmd
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log)


def run_case(name, gazetted, argv, env, as_user, work, expect):
    """One start, READY, reload, stop; expect: files that must exist once
    READY=1 is sent, with the kind of file each is."""
    sock_path = os.path.join(work, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    os.chmod(sock_path, 0o777)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    env["NOTIFY_SOCKET"] = sock_path
    log_path = os.path.join(work, "gazetted.log")
    with open(log_path, "w", encoding="utf-8") as log:
        proc = start(gazetted, argv, env, as_user, log)
    try:
        t0 = time.monotonic()
        lines, pids = recv_until(sock, proc, "READY=1", t0 + TIMEOUT)
        print("%s: READY=1 after %.3fs: %r" % (name, time.monotonic() - t0,
                                               lines))
        if pids != {proc.pid}:
            common.fail("%s: notifications from pids %s, not the main "
                        "process %d (NotifyAccess=main drops them)"
                        % (name, sorted(pids), proc.pid))
        for path, kind in expect:
            try:
                mode = os.stat(path).st_mode
            except FileNotFoundError:
                common.fail("%s: %s does not exist once READY=1 is sent"
                            % (name, path))
            if not kind(mode):
                common.fail("%s: %s is not a %s" % (name, path,
                                                    kind.__name__))
        # Reload as ExecReload= does: RELOADING=1, then READY=1 again.
        proc.send_signal(signal.SIGHUP)
        lines, _ = recv_until(sock, proc, "READY=1",
                              time.monotonic() + TIMEOUT)
        print("%s: after SIGHUP: %r" % (name, lines))
        if "RELOADING=1" not in lines:
            common.fail("%s: no RELOADING=1 before READY=1 on SIGHUP"
                        % name)
        proc.send_signal(signal.SIGTERM)
        t1 = time.monotonic()
        lines, _ = recv_until(sock, proc, "STOPPING=1", t1 + TIMEOUT)
        try:
            rc = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            common.fail("%s: still running %.0fs after SIGTERM"
                        % (name, TIMEOUT))
        print("%s: STOPPING=1, exit %d after %.3fs: %r"
              % (name, rc, time.monotonic() - t1, lines))
        if rc != 0:
            common.fail("%s: exit status %d after SIGTERM" % (name, rc))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        with open(log_path, encoding="utf-8", errors="replace") as f:
            print("%s: gazetted's log:\n%s" % (name, f.read()))


def base_env(home):
    """What systemd puts in a service's environment, more or less."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "HOME": home}


def main():
    gazetted = os.environ.get("GAZETTED", "")
    if not os.access(gazetted, os.X_OK):
        common.fail("GAZETTED=%r is not an executable" % gazetted)
    unit = os.path.join(common.BUILD_ROOT, "systemd", "gazetted.service")
    argv = common.unit_exec_start(unit)[1:]
    work = common.short_tmpdir("sd-notify")  # sockets in it
    try:
        # As the system unit: the three directories systemd creates.
        sysw = os.path.join(work, "system")
        dirs = {}
        for var, d in (("CONFIGURATION_DIRECTORY", "etc/gazette"),
                       ("STATE_DIRECTORY", "var/lib/gazette"),
                       ("RUNTIME_DIRECTORY", "run/gazette")):
            dirs[var] = os.path.join(sysw, d)
            os.makedirs(dirs[var])
        open(os.path.join(dirs["CONFIGURATION_DIRECTORY"], "gazette.conf"),
             "w").close()
        env = base_env(os.path.join(sysw, "home"))
        env.update(dirs)
        run_case("system unit", gazetted, argv, env, None, sysw, [
            (os.path.join(dirs["STATE_DIRECTORY"], "gazette.db"),
             stat.S_ISREG),
            (os.path.join(dirs["RUNTIME_DIRECTORY"], "control.sock"),
             stat.S_ISSOCK)])

        # As the user unit: only XDG directories, as a user who is not root.
        user = None
        if os.geteuid() == 0:
            user = pwd.getpwnam("nobody")
        userw = os.path.join(work, "user")
        home = os.path.join(userw, "home")
        xdg_run = os.path.join(userw, "run")
        os.makedirs(home)
        os.makedirs(xdg_run)
        os.chmod(xdg_run, 0o700)
        if user is not None:
            os.chmod(work, 0o755)
            for d in (userw, home, xdg_run):
                os.chown(d, user.pw_uid, user.pw_gid)
        env = base_env(home)
        env["XDG_RUNTIME_DIR"] = xdg_run
        run_case("user unit", gazetted, argv, env, user, userw, [
            (os.path.join(home, ".local/share/gazette/gazette.db"),
             stat.S_ISREG),
            (os.path.join(xdg_run, "gazette/control.sock"), stat.S_ISSOCK)])
    finally:
        common.cleanup(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
