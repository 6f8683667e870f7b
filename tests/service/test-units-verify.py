#!/usr/bin/env python3
"""`systemd-analyze verify` passes, with no warning at all, for both units
as `meson install` installs them: the system unit, and the user unit with
--user. The installed ExecStart= names sbindir/gazetted; verify checks that
the program exists and is executable, so it is pointed at the copy the same
install put under DESTDIR, and the man: references of Documentation= are
looked up in the installed man pages (MANPATH)."""

import os
import sys

import common


def check_unit(analyze, dest, dirs, unitdir, user, work):
    """Verify the installed unit in unitdir; returns a list of problems."""
    installed = common.in_destdir(dest, os.path.join(unitdir,
                                                     "gazetted.service"))
    if not os.path.isfile(installed):
        return ["not installed: " + installed]
    argv = common.unit_exec_start(installed)
    want = os.path.join(dirs["sbindir"], "gazetted")
    if argv[0] != want:
        return ["%s: ExecStart= runs %s, not %s" % (installed, argv[0], want)]
    prog = common.in_destdir(dest, want)
    if not os.access(prog, os.X_OK):
        return ["%s is not installed as an executable" % prog]

    # The same file, with only the program's path moved into DESTDIR.
    copy_dir = os.path.join(work, "user" if user else "system")
    os.makedirs(copy_dir)
    copy = os.path.join(copy_dir, "gazetted.service")
    with open(installed, encoding="utf-8") as f:
        text = f.read()
    with open(copy, "w", encoding="utf-8") as f:
        f.write(text.replace("ExecStart=" + want, "ExecStart=" + prog, 1))

    env = dict(os.environ)
    env["MANPATH"] = common.in_destdir(dest, dirs["mandir"])
    cmd = [analyze]
    if user:
        # systemd-analyze's private bus socket is in it: a short path
        runtime = common.short_tmpdir("xdg-runtime")
        env["XDG_RUNTIME_DIR"] = runtime
        cmd.append("--user")
    cmd += ["verify", copy]
    r = common.run(cmd, env=env)
    if user:
        common.cleanup(runtime)
    print("%s: exit %d" % (" ".join(cmd), r.returncode))
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or out:
        return ["systemd-analyze%s verify %s (exit %d):\n%s"
                % (" --user" if user else "", installed, r.returncode, out)]
    return []


def main():
    analyze = common.need("systemd-analyze")
    common.need("man")
    dirs = common.install_dirs()
    dest = common.tmpdir("units-verify")
    try:
        common.install(dest)
        work = os.path.join(dest, ".verify")
        os.makedirs(work)
        bad = check_unit(analyze, dest, dirs, dirs["systemdsystemunitdir"],
                         False, work)
        bad += check_unit(analyze, dest, dirs, dirs["systemduserunitdir"],
                          True, work)
        if bad:
            common.fail("\n".join(bad))
    finally:
        common.cleanup(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
