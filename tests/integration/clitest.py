"""Helpers for the CLI's integration tests: run the real gazette binary
on a temporary database and check what it prints and how it exits."""

import os
import subprocess
import sys
import tempfile

GAZETTE = os.environ.get("GAZETTE", "gazette")
POPULATE = os.environ.get("POPULATE", "populate")
DATA = os.environ.get("DATA", os.path.join(os.path.dirname(__file__),
                                           "..", "data", "cli"))

failures = []
passed = 0


class Result:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr

    def __repr__(self):
        return "rc=%d out=%r err=%r" % (self.rc, self.out[:400],
                                         self.err[:400])


class Env:
    """A home of its own: XDG directories and a database in a temp dir."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="gazette-cli-")
        self.dir = self.tmp.name
        self.db = os.path.join(self.dir, "data", "gazette.db")
        self.env = dict(os.environ)
        for k in ("NO_COLOR", "COLUMNS"):
            self.env.pop(k, None)
        self.env.update({
            "HOME": self.dir,
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            "XDG_DATA_HOME": os.path.join(self.dir, "data-home"),
            "XDG_RUNTIME_DIR": os.path.join(self.dir, "run"),
            # what stands for /etc, /var/lib and /run (lib/paths.c)
            "GAZETTE_SYSTEM_ROOT": os.path.join(self.dir, "system"),
            "LC_ALL": "C.UTF-8",
        })
        for k in ("STATE_DIRECTORY", "CONFIGURATION_DIRECTORY",
                  "RUNTIME_DIRECTORY", "NOTIFY_SOCKET"):
            self.env.pop(k, None)
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)

    def run(self, *args, stdin=None, db=True, env=None):
        argv = [GAZETTE] + (["--db", self.db] if db else []) + list(args)
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run(argv, input=stdin, capture_output=True,
                           text=True, env=e, timeout=60)
        return Result(p)

    def populate(self, url, name, now=1715000000):
        os.makedirs(os.path.dirname(self.db), mode=0o700, exist_ok=True)
        p = subprocess.run([POPULATE, self.db, url, os.path.join(DATA, name),
                            str(now)], capture_output=True, text=True,
                           env=self.env, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("populate failed: " + p.stderr)
        return p.stdout

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        self.tmp.cleanup()


def check(cond, what, detail=""):
    """Record one assertion."""
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL: %s %s" % (what, detail), file=sys.stderr)


def data(name):
    return os.path.join(DATA, name)


def run_tests(tests):
    """Run each test function with a fresh Env; print a summary line."""
    for t in tests:
        env = Env()
        before = len(failures)
        try:
            t(env)
        except Exception as e:  # a crash in a test is a failure
            failures.append("%s raised %r" % (t.__name__, e))
            print("FAIL: %s raised %r" % (t.__name__, e), file=sys.stderr)
        finally:
            env.close()
        print("%s %s" % ("ok  " if len(failures) == before else "FAIL",
                         t.__name__))
    print("%d passed, %d failed" % (passed, len(failures)))
    sys.exit(1 if failures else 0)
