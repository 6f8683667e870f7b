#!/usr/bin/env python3
"""The daemon's integration suite (tests/integration/test_gazetted.py), run
with every gazetted it starts under the system unit's sandbox, applied by
systemd: a private systemd manager (sandbox.py) runs each as a transient
service with the unit's [Service] restrictions (sandboxed-gazetted.py says
which settings are left out, and why). Every test must pass as it does
without the sandbox: mirrors, redirects, limits, the control socket,
signals, sd_notify.

Skipped (status 77) where no private manager can run, or when the suite
is not there."""

import os
import shutil
import subprocess
import sys

import common
import sandbox

HERE = os.path.dirname(os.path.abspath(__file__))


def outside(names):
    """Run inside() in a private mount namespace; names: tests to run
    (all when empty)."""
    why = sandbox.can_run()
    if why:
        common.skip(why)
    suite = os.path.join(common.SOURCE_ROOT, "tests", "integration",
                         "test_gazetted.py")
    if not os.path.isfile(suite):
        common.skip(suite + " is not there")
    if not os.access(os.environ.get("GAZETTED", ""), os.X_OK):
        common.fail("GAZETTED is not an executable")
    work = sandbox.workdir()
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private",
                            sys.executable, os.path.abspath(__file__),
                            "--inside", work, suite] + names, check=False,
                           timeout=1700)
        return r.returncode
    finally:
        sandbox.remove_cgroups(work)
        common.cleanup(work)


def inside(work, suite, names):
    """Start the manager, then the suite with GAZETTED=the wrapper."""
    sandbox.prepare_namespace(work, None)
    mgr = sandbox.Manager(work)
    # The suite's temporary directories hold control sockets: a short
    # path, on the namespace's own tmpfs (a deep build tree's would not
    # fit in a socket address).
    tmp = sandbox.runtime_dir("tmp", 0o755)
    try:
        mgr.start()
        # The build tree may be where the unit cannot see it (under /tmp,
        # which PrivateTmp= hides): the service runs a copy in work/.
        real = os.path.join(work, "gazetted")
        shutil.copy2(os.environ["GAZETTED"], real)
        os.chmod(real, 0o755)
        env = dict(os.environ)
        env.update({
            "GAZETTED": os.path.join(HERE, "sandboxed-gazetted.py"),
            "GAZETTED_REAL": real,
            "GAZETTE_SANDBOX_UNIT": os.path.join(
                common.BUILD_ROOT, "systemd", "gazetted.service"),
            "GAZETTE_SANDBOX_RW": tmp,
            "TMPDIR": tmp,
            "XDG_RUNTIME_DIR": mgr.env["XDG_RUNTIME_DIR"],
        })
        # cwd too: the wrapper's systemd-run --same-dir must find it.
        r = subprocess.run([sys.executable, suite] + names, env=env,
                           cwd=tmp, check=False, timeout=1500)
        print("%s under the sandbox: exit %d" % (os.path.basename(suite),
                                                 r.returncode))
        return 1 if r.returncode else 0
    finally:
        mgr.stop()


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--inside":
        sys.exit(inside(sys.argv[2], sys.argv[3], sys.argv[4:]))
    sys.exit(outside(sys.argv[1:]))
