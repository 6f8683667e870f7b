"""Shared helpers of the service tests (issue 6): where the build is, a
`meson install --destdir` of it, and the directories files should land in,
worked out here independently of systemd/meson.build."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77  # meson's exit status for a skipped test

BUILD_ROOT = os.environ.get("GAZETTE_BUILD_ROOT", "")
SOURCE_ROOT = os.environ.get("GAZETTE_SOURCE_ROOT", "")


def fail(msg):
    """Print why the test failed and exit 1."""
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def skip(msg):
    """Print why the test cannot run here and exit with meson's skip code."""
    print("SKIP: " + msg, file=sys.stderr)
    sys.exit(SKIP)


def need(tool):
    """The path of tool, or skip when it is not installed."""
    path = shutil.which(tool)
    if path is None:
        for d in ("/usr/sbin", "/sbin", "/usr/bin", "/lib/systemd"):
            if os.access(os.path.join(d, tool), os.X_OK):
                return os.path.join(d, tool)
        skip(tool + " is not installed (tests/deps.sh installs it)")
    return path


def meson_cmd():
    """The command that runs meson."""
    m = shutil.which("meson")
    return [m] if m else [sys.executable, "-m", "mesonbuild.mesonmain"]


def run(cmd, **kw):
    """Run cmd, capturing text output; never raises on exit status."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(cmd, text=True, check=False, **kw)


def tmpdir(prefix):
    """A new temporary directory inside the build tree (not under /tmp:
    a unit's PrivateTmp= would hide it), removed at exit by the caller."""
    base = os.path.join(BUILD_ROOT, "tests", "service")
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix + ".", dir=base)


def short_tmpdir(prefix):
    """A new temporary directory with a short path, for sockets: a Unix
    socket's path has at most 107 bytes, which a deep build tree passes
    (tests/deep-build.sh checks). Only for processes that run
    without PrivateTmp=, which would hide it; removed by the caller."""
    return tempfile.mkdtemp(prefix="gz-%s." % prefix, dir="/tmp")


def install(destdir):
    """`meson install --destdir destdir` of the build tree; fails the test
    when it does not succeed."""
    r = run(meson_cmd() + ["install", "-C", BUILD_ROOT, "--no-rebuild",
                           "--quiet", "--destdir", destdir])
    if r.returncode != 0:
        fail("meson install failed:\n" + r.stdout + r.stderr)


def build_options():
    """The build's options, name -> value, from meson introspect."""
    r = run(meson_cmd() + ["introspect", "--buildoptions", BUILD_ROOT])
    if r.returncode != 0:
        fail("meson introspect failed:\n" + r.stderr)
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


def _pkg_variable(pc, var, prefix):
    """A pkg-config variable of pc with prefix redefined, or None."""
    if shutil.which("pkg-config") is None:
        return None
    r = run(["pkg-config", "--define-variable=prefix=" + prefix,
             "--variable=" + var, pc])
    if r.returncode != 0 or not r.stdout.strip():
        return None
    return r.stdout.strip()


def install_dirs():
    """Absolute directories, by the names install-files.txt uses:
    meson's own, then systemd's from systemd.pc (with the build's prefix),
    or the options that override them, or prefix/lib/... without it."""
    o = build_options()
    prefix = o["prefix"]
    d = {"prefix": prefix}
    for name in ("bindir", "sbindir", "datadir", "mandir", "sysconfdir",
                 "libdir", "localstatedir"):
        d[name] = os.path.join(prefix, o[name])
    lib = os.path.join(prefix, "lib")
    for name, var, fallback in (
            ("systemdsystemunitdir", "systemdsystemunitdir",
             os.path.join(lib, "systemd", "system")),
            ("systemduserunitdir", "systemduserunitdir",
             os.path.join(lib, "systemd", "user")),
            ("sysusersdir", "sysusersdir", os.path.join(lib, "sysusers.d")),
            ("tmpfilesdir", "tmpfilesdir", os.path.join(lib, "tmpfiles.d"))):
        d[name] = (o.get(name) or _pkg_variable("systemd", var, prefix)
                   or fallback)
    d["bashcompletiondir"] = (o.get("bashcompletiondir") or os.path.join(
        d["datadir"], "bash-completion", "completions"))
    return d


def expand(template, dirs):
    """template with each @name@ replaced by dirs[name]."""
    for k, v in dirs.items():
        template = template.replace("@" + k + "@", v)
    if "@" in template:
        fail("unknown directory name in " + template)
    return template


def in_destdir(destdir, path):
    """path (absolute) as installed under destdir."""
    return os.path.join(destdir, path.lstrip("/"))


def unit_exec_start(unit_path):
    """The ExecStart= words of a unit file."""
    with open(unit_path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("ExecStart="):
                return line[len("ExecStart="):].split()
    fail(unit_path + " has no ExecStart=")
    return []


def cleanup(path):
    """Remove a temporary tree unless GAZETTE_KEEP_TMP is set."""
    if os.environ.get("GAZETTE_KEEP_TMP"):
        print("kept " + path, file=sys.stderr)
        return
    shutil.rmtree(path, ignore_errors=True)
