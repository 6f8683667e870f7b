"""A private systemd service manager for the sandbox test, on a machine
where systemd is not PID 1 (a container, a CI VM) or is.

The test needs systemd itself to apply the system unit's [Service]
settings to gazetted. Without a running system manager, it starts
`systemd --user` as root inside a private mount namespace: a root user
manager has every privilege, so it applies User=, the namespaces,
seccomp filters and capability sets as the system manager would, with the
same code. What differs: *Directory= roots (StateDirectory= and
ConfigurationDirectory= under $XDG_CONFIG_HOME, RuntimeDirectory= under
$XDG_RUNTIME_DIR, instead of /var/lib, /etc, /run), and no journal.

The namespace gets what systemd as PID 1 would have made: /run/systemd/system
(the "booted with systemd" mark), /run/systemd/inaccessible/ (the nodes
InaccessiblePaths= and ProtectHome= mount over paths), and a notify socket
anyone may send to (as PID 1's /run/systemd/notify). It also gets an
/etc/passwd and /etc/group with the user of the installed sysusers.d file
added, and an /etc/hosts naming the loopback address feeds.gazette.test
(TEST_HOST), bind mounted over the real files, which stay untouched. The
manager runs in a cgroup of its own, removed at the end."""

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import common

SYSTEMD_CANDIDATES = ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")
# Resolves to 127.0.0.1 inside the namespace (a .test name: RFC 6761).
TEST_HOST = "feeds.gazette.test"


def systemd_binary():
    """The systemd manager binary, or None."""
    for p in SYSTEMD_CANDIDATES:
        if os.access(p, os.X_OK):
            return p
    return None


def can_run():
    """None when a private manager can be started here, else why not."""
    if os.geteuid() != 0:
        return "needs root (a private mount namespace, a cgroup, User=)"
    for tool in ("unshare", "systemctl", "systemd-sysusers"):
        if shutil.which(tool) is None and not os.access(
                "/usr/bin/" + tool, os.X_OK):
            return tool + " is not installed"
    if systemd_binary() is None:
        return "no systemd binary in " + " or ".join(SYSTEMD_CANDIDATES)
    if not os.path.isdir("/sys/fs/cgroup"):
        return "no /sys/fs/cgroup"
    r = common.run(["unshare", "-m", "--propagation", "private", "true"])
    if r.returncode != 0:
        return "unshare -m does not work here: " + r.stderr.strip()
    return None


def workdir():
    """A new directory for the whole test, mode 0755, where the service's
    user can reach it and ProtectHome=/PrivateTmp= do not hide it: in the
    build tree when that qualifies, else in /var/lib (not /run: the API
    file systems that ProtectKernelTunables= and the like mount leave a
    program below /run out of reach where /run is no file system of its
    own)."""
    base = os.path.join(common.BUILD_ROOT, "tests", "service")
    os.makedirs(base, exist_ok=True)
    real = os.path.realpath(base)
    hidden = ("/home/", "/root/", "/run/user/", "/tmp/", "/var/tmp/")
    ok = not any((real + "/").startswith(h) for h in hidden)
    d = real
    while ok and d != "/":
        ok = bool(os.stat(d).st_mode & 0o001)
        d = os.path.dirname(d)
    if ok:
        w = tempfile.mkdtemp(prefix="sandbox.", dir=real)
    else:
        w = tempfile.mkdtemp(prefix="gazette-test-sandbox.", dir="/var/lib")
    os.chmod(w, 0o755)
    return w


def _mount(*args):
    """mount(8), failing the test on error."""
    r = common.run(["mount"] + list(args))
    if r.returncode != 0:
        common.fail("mount %s: %s" % (" ".join(args), r.stderr.strip()))


def _inaccessible_nodes(d):
    """The nodes systemd (PID 1) creates in /run/systemd/inaccessible."""
    os.mkdir(d, 0o755)
    os.mkdir(os.path.join(d, "dir"), 0)
    os.chmod(os.path.join(d, "dir"), 0)
    for name, fmt in (("reg", stat.S_IFREG), ("fifo", stat.S_IFIFO),
                      ("chr", stat.S_IFCHR), ("blk", stat.S_IFBLK)):
        try:
            os.mknod(os.path.join(d, name), fmt, os.makedev(0, 0))
        except OSError:
            pass  # systemd copes with missing device nodes
        if os.path.exists(os.path.join(d, name)):
            os.chmod(os.path.join(d, name), 0)
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(d, "sock"))
    s.close()
    os.chmod(os.path.join(d, "sock"), 0)


def prepare_namespace(work, sysusers_conf, extra_users=()):
    """Inside `unshare -m`: the /run/systemd marks and a passwd with the
    sysusers.d user (when sysusers_conf is not None), and extra_users
    (sysusers.d lines). Returns the gazette user's (uid, gid), or None."""
    os.makedirs("/run/systemd", mode=0o755, exist_ok=True)
    _mount("-t", "tmpfs", "-o", "mode=0755", "gazette-sandbox",
           "/run/systemd")
    os.mkdir("/run/systemd/system", 0o755)
    _inaccessible_nodes("/run/systemd/inaccessible")
    # Short paths for the managers' runtime directories (runtime_dir).
    _mount("-t", "tmpfs", "-o", "mode=0755", "gazette-sandbox-run",
           short_root())

    # A host name for the loopback test server, so that a feed's URL goes
    # through the resolver (getaddrinfo, NSS) inside the sandbox.
    hosts = os.path.join(work, "hosts")
    with open("/etc/hosts", encoding="utf-8") as f:
        text = f.read()
    with open(hosts, "w", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n127.0.0.1 %s\n" % TEST_HOST)
    os.chmod(hosts, 0o644)
    _mount("--bind", hosts, "/etc/hosts")

    if sysusers_conf is None:
        return None
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "etc"))
    for f in ("passwd", "group", "shadow", "gshadow"):
        if os.path.exists("/etc/" + f):
            shutil.copy2("/etc/" + f, os.path.join(root, "etc", f))
    r = common.run(["systemd-sysusers", "--root=" + root, sysusers_conf])
    if r.returncode != 0:
        common.fail("systemd-sysusers: " + r.stderr)
    print(r.stderr.strip())
    for line in extra_users:
        r = common.run(["systemd-sysusers", "--root=" + root, "--inline",
                        line])
        if r.returncode != 0:
            common.fail("systemd-sysusers --inline %r: %s" % (line, r.stderr))
    for f in ("passwd", "group"):
        _mount("--bind", os.path.join(root, "etc", f), "/etc/" + f)
    import pwd  # after the bind mounts, so the lookup sees the new user
    pw = pwd.getpwnam("gazette")
    return pw.pw_uid, pw.pw_gid


def short_root():
    """An empty directory of a short path that a service's sandbox leaves
    visible (not /tmp, /run/user, a home), on which prepare_namespace()
    mounts a tmpfs of its own, inside the private namespace only."""
    for d in ("/mnt", "/srv", "/media"):
        if os.path.isdir(d) and not os.path.islink(d):
            return d
    common.fail("no /mnt, /srv or /media to mount the runtime tmpfs on")


def runtime_dir(name, mode):
    """A short directory for a manager's XDG_RUNTIME_DIR, where its bus,
    its notify socket and the service's control socket are: on the tmpfs
    prepare_namespace() mounted (a socket's path has at most 107 bytes,
    which a deep build tree passes; /tmp would be hidden by PrivateTmp=,
    and below /run/systemd the service cannot reach the manager's notify
    socket). It goes with the namespace."""
    d = tempfile.mkdtemp(prefix="gz-" + name + ".", dir=short_root())
    os.chmod(d, mode)
    return d


class Manager:
    """`systemd --user` in a cgroup of its own: as root standing in for
    the system manager (user None), or as a real user's manager (user: a
    pwd entry), with its home and XDG_RUNTIME_DIR as a login gives them."""

    def __init__(self, work, user=None):
        self.work = work
        self.user = user
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        if user is None:
            self.env = {
                "PATH": path,
                "LANG": "C.UTF-8",
                "HOME": os.path.join(work, "home"),
                "USER": "root",
                "XDG_RUNTIME_DIR": runtime_dir("run", 0o755),
                "XDG_CONFIG_HOME": os.path.join(work, "config"),
                "XDG_STATE_HOME": os.path.join(work, "state"),
                "XDG_DATA_HOME": os.path.join(work, "share"),
                "XDG_CACHE_HOME": os.path.join(work, "cache"),
            }
            for k in ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
                      "XDG_DATA_HOME", "XDG_CACHE_HOME"):
                os.makedirs(self.env[k], exist_ok=True)
            # 0755 as /run is: the service's user must reach its
            # RuntimeDirectory= below it.
            os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o755,
                        exist_ok=True)
            os.chmod(self.env["XDG_RUNTIME_DIR"], 0o755)
            self.unit_dir = os.path.join(self.env["XDG_CONFIG_HOME"],
                                         "systemd", "user")
        else:
            self.env = {
                "PATH": path,
                "LANG": "C.UTF-8",
                "HOME": user.pw_dir,
                "USER": user.pw_name,
                "LOGNAME": user.pw_name,
                "SHELL": user.pw_shell,
                "XDG_RUNTIME_DIR": runtime_dir("run-%d" % user.pw_uid,
                                               0o700),
            }
            os.chown(self.env["XDG_RUNTIME_DIR"], user.pw_uid, user.pw_gid)
            self.unit_dir = os.path.join(user.pw_dir, ".config", "systemd",
                                         "user")
        os.makedirs(self.unit_dir, exist_ok=True)
        self.cgroups = self._make_cgroups()
        self.proc = None

    def add_unit(self, installed, dest, prog, log, exit_file):
        """The installed unit file into this manager's unit directory as
        gazetted.service, its ExecStart= (which must run prog) moved into
        DESTDIR dest, with a drop-in that appends the output to log and
        writes how the main process ended to exit_file (a shell word)."""
        with open(installed, encoding="utf-8") as f:
            text = f.read()
        if "ExecStart=%s " % prog not in text:
            common.fail("%s does not run %s" % (installed, prog))
        text = text.replace("ExecStart=" + prog,
                            "ExecStart=" + common.in_destdir(dest, prog), 1)
        with open(os.path.join(self.unit_dir, "gazetted.service"), "w",
                  encoding="utf-8") as f:
            f.write(text)
        dropin = os.path.join(self.unit_dir, "gazetted.service.d")
        os.makedirs(dropin)
        with open(os.path.join(dropin, "output.conf"), "w",
                  encoding="utf-8") as f:
            f.write("[Service]\nStandardOutput=append:%s\n"
                    "StandardError=append:%s\n" % (log, log))
            f.write("ExecStopPost=/bin/sh -c 'echo \"$SERVICE_RESULT "
                    "$EXIT_CODE $EXIT_STATUS\" > %s'\n" % exit_file)
        open(log, "w").close()

    def as_user(self, cmd):
        """cmd run as the manager's user (unchanged for root)."""
        if self.user is None:
            return cmd
        return ["setpriv", "--reuid=%d" % self.user.pw_uid,
                "--regid=%d" % self.user.pw_gid, "--init-groups", "--"] + cmd

    def _make_cgroups(self):
        """A new cgroup in each hierarchy systemd uses."""
        out = []
        for d in cgroup_dirs(self.work):
            os.mkdir(d)
            out.append(d)
            if self.user is not None:  # delegated, as logind does
                for f in [d] + [os.path.join(d, x) for x in os.listdir(d)]:
                    os.chown(f, self.user.pw_uid, self.user.pw_gid)
        return out

    def start(self):
        """Start the manager and wait until it runs."""
        cgroups = self.cgroups

        def enter_cgroup():
            for d in cgroups:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        log = open(os.path.join(self.work, "manager.log"), "w")
        self.proc = subprocess.Popen(
            self.as_user([systemd_binary(), "--user"]), env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=enter_cgroup)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = self.systemctl("is-system-running")
            if r.stdout.strip() in ("running", "degraded"):
                if self.user is None:
                    # A user manager makes its notify socket 0755, for
                    # services of its own uid; PID 1's is 0777, so that
                    # services with User= can send READY=1.
                    os.chmod(os.path.join(self.env["XDG_RUNTIME_DIR"],
                                          "systemd", "notify"), 0o777)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        common.fail("systemd --user did not come up (%s)" % (
            r.stdout.strip() or r.stderr.strip()))

    def systemctl(self, *args, timeout=90):
        """systemctl --user ARGS against this manager."""
        return common.run(self.as_user(["systemctl", "--user", "--no-pager"]
                                       + list(args)),
                          env=self.env, timeout=timeout)

    def show(self, unit, *props):
        """Properties of a unit, name -> value."""
        r = self.systemctl("show", unit, "-p", ",".join(props))
        out = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out

    def stop(self):
        """Stop the manager and remove its cgroups."""
        if self.proc is not None and self.proc.poll() is None:
            self.systemctl("exit", timeout=30)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        for d in self.cgroups:
            _remove_cgroup(d)


def cgroup_dirs(work):
    """The cgroups of the manager of work, one per hierarchy systemd
    uses (unified, or name=systemd and unified of the hybrid layout)."""
    name = "gazette-sandbox-" + os.path.basename(work)
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        roots = ["/sys/fs/cgroup"]
    else:
        roots = [r for r in ("/sys/fs/cgroup/systemd",
                             "/sys/fs/cgroup/unified") if os.path.isdir(r)]
    return [os.path.join(r, name) for r in roots]


def remove_cgroups(work):
    """Remove what is left of the cgroups of work's manager, killing any
    process still in them (after a test timed out, say)."""
    for d in cgroup_dirs(work):
        if os.path.isdir(d):
            _remove_cgroup(d)


def _remove_cgroup(d):
    """rmdir a cgroup tree, deepest first, killing what is left in it."""
    for root, dirs, _ in os.walk(d, topdown=False):
        for sub in dirs:
            _remove_cgroup_dir(os.path.join(root, sub))
    _remove_cgroup_dir(d)


def _remove_cgroup_dir(d):
    """rmdir one cgroup, after SIGKILL to any process still in it."""
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            for pid in f.read().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
    except OSError:
        pass
    for _ in range(50):
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
