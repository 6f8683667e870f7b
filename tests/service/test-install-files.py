#!/usr/bin/env python3
"""`meson install --destdir` puts exactly the files of install-files.txt in
place: both programs, both units, the sysusers.d file, the configuration
and its example copy, the three man pages and bash completion. Programs are
executable, the rest is not, and nothing is writable by group or others."""

import os
import stat
import sys

import common


def expected_files(dirs):
    """Absolute paths from install-files.txt."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "install-files.txt")
    out = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.add(os.path.normpath(common.expand(line, dirs)))
    return out


def installed_files(destdir):
    """Absolute paths (as on the target system) of files under destdir."""
    out = set()
    for root, _, files in os.walk(destdir):
        for name in files:
            out.add("/" + os.path.relpath(os.path.join(root, name), destdir))
    return out


def main():
    dirs = common.install_dirs()
    dest = common.tmpdir("install-files")
    try:
        common.install(dest)
        want = expected_files(dirs)
        got = installed_files(dest)
        bad = []
        for p in sorted(want - got):
            bad.append("missing:    " + p)
        for p in sorted(got - want):
            bad.append("unexpected: " + p)
        for p in sorted(want & got):
            mode = os.lstat(common.in_destdir(dest, p)).st_mode
            exe = os.path.dirname(p) in (dirs["bindir"], dirs["sbindir"])
            if exe != bool(mode & stat.S_IXUSR):
                bad.append("mode %o (%s executable): %s"
                           % (stat.S_IMODE(mode),
                              "should be" if exe else "should not be", p))
            if mode & (stat.S_IWGRP | stat.S_IWOTH):
                bad.append("mode %o (writable by others): %s"
                           % (stat.S_IMODE(mode), p))
        print("installed %d files under %s (prefix %s)"
              % (len(got), dest, dirs["prefix"]))
        for p in sorted(got):
            print("  " + p)
        if bad:
            common.fail("install tree differs from install-files.txt:\n  "
                        + "\n  ".join(bad))
    finally:
        common.cleanup(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
