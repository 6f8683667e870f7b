#!/usr/bin/env python3
"""The man pages gazette(1), gazetted(8) and gazette.conf(5) are installed
and render with `man -l` at 80 columns without a single warning from man
or groff, each with its NAME and SEE ALSO sections."""

import os
import sys

import common

PAGES = ("man1/gazette.1", "man8/gazetted.8", "man5/gazette.conf.5")


def main():
    man = common.need("man")
    dirs = common.install_dirs()
    dest = common.tmpdir("man-pages")
    bad = []
    try:
        common.install(dest)
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8",
                   MAN_KEEP_FORMATTING="")
        env.pop("MANPAGER", None)
        env.pop("PAGER", None)
        for page in PAGES:
            path = common.in_destdir(dest, os.path.join(dirs["mandir"], page))
            if not os.path.isfile(path):
                bad.append("not installed: " + page)
                continue
            r = common.run([man, "--warnings", "-l", path], env=env)
            lines = r.stdout.count("\n")
            print("%s: exit %d, %d lines, %d bytes on stderr"
                  % (page, r.returncode, lines, len(r.stderr)))
            if r.returncode != 0 or r.stderr:
                bad.append("%s: exit %d:\n%s" % (page, r.returncode,
                                                 r.stderr))
            for section in ("NAME", "SEE ALSO"):
                if "\n" + section + "\n" not in r.stdout:
                    bad.append("%s: no %s section" % (page, section))
        if bad:
            common.fail("\n".join(bad))
    finally:
        common.cleanup(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
