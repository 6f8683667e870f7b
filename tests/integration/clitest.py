"""Helpers for the CLI's integration tests: run the real gazette binary
on a temporary database and check what it prints and how it exits."""

import os
import subprocess
import sys
import tempfile

import pgtest

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
        self.dbs = []
        self.db = self.other_db(os.path.join("data", "gazette.db"))
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

    def run(self, *args, stdin=None, db=True, env=None, cwd=None):
        argv = [GAZETTE] + (["--db", self.db] if db else []) + list(args)
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run(argv, input=stdin, capture_output=True,
                           text=True, env=e, timeout=60, cwd=cwd)
        return Result(p)

    def other_db(self, name):
        """A database of the test's own: the file name in its directory
        on SQLite, a fresh database on PostgreSQL (GAZETTE_TEST_PG)."""
        if not pgtest.enabled():
            return os.path.join(self.dir, name)
        self.dbs.append(pgtest.new_database())
        return self.dbs[-1]

    def q(self, sql, *args):
        """The rows of sql on the test's database (PostgreSQL only)."""
        return pgtest.query(self.db, sql, *args)

    def populate(self, url, name, now=1715000000):
        if not pgtest.enabled():
            os.makedirs(os.path.dirname(self.db), mode=0o700,
                        exist_ok=True)
        p = subprocess.run([POPULATE, self.db, url, os.path.join(DATA, name),
                            str(now)], capture_output=True, text=True,
                           env=self.env, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("populate failed: " + p.stderr)
        return p.stdout

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        for db in self.dbs:
            pgtest.drop_database(db)
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
    """Run each test function with a fresh Env; print a summary line.
    A test marked pgtest.sqlite_only is skipped on PostgreSQL, saying why;
    when every test was skipped the exit status is 77 (meson's skip)."""
    skipped = 0
    for t in tests:
        if getattr(t, "__unittest_skip__", False):
            skipped += 1
            print("skip %s: %s" % (t.__name__, t.__unittest_skip_why__))
            continue
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
    print("%d passed, %d failed, %d tests skipped" % (passed, len(failures),
                                                      skipped))
    if failures:
        sys.exit(1)
    sys.exit(77 if tests and skipped == len(tests) else 0)
