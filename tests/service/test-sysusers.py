#!/usr/bin/env python3
"""The installed sysusers.d file makes systemd-sysusers create the system
user gazette, with its own group gazette, home /var/lib/gazette and no
login shell (applied to an empty root directory, not to this machine)."""

import os
import sys

import common


def main():
    sysusers = common.need("systemd-sysusers")
    dirs = common.install_dirs()
    dest = common.tmpdir("sysusers")
    try:
        common.install(dest)
        conf = common.in_destdir(dest, os.path.join(dirs["sysusersdir"],
                                                    "gazette.conf"))
        if not os.path.isfile(conf):
            common.fail("not installed: " + conf)
        root = os.path.join(dest, ".root")
        os.makedirs(os.path.join(root, "etc"))
        r = common.run([sysusers, "--root=" + root, conf])
        print(r.stdout + r.stderr)
        if r.returncode != 0:
            common.fail("systemd-sysusers exit %d" % r.returncode)
        with open(os.path.join(root, "etc", "passwd"), encoding="utf-8") as f:
            users = {l.split(":")[0]: l.strip().split(":") for l in f}
        with open(os.path.join(root, "etc", "group"), encoding="utf-8") as f:
            groups = {l.split(":")[0]: l.strip().split(":") for l in f}
        if "gazette" not in users or "gazette" not in groups:
            common.fail("no user or group gazette: %s %s" % (users, groups))
        _, _, uid, gid, _, home, shell = users["gazette"]
        print("gazette: uid %s gid %s home %s shell %s"
              % (uid, gid, home, shell))
        if gid != groups["gazette"][2]:
            common.fail("user gazette is not in group gazette")
        if int(uid) == 0 or int(uid) >= 1000:
            common.fail("uid %s is not a system uid" % uid)
        if home != "/var/lib/gazette":
            common.fail("home is %s" % home)
        if not shell.endswith("nologin"):
            common.fail("shell is %s" % shell)
    finally:
        common.cleanup(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
