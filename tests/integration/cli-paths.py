#!/usr/bin/env python3
"""Which database gazette and gazetted open (issue 16, point 0): one rule,
lib/paths.c's paths_default(), for both programs. Run by the same user in
the same environment they open the same file, as root or not, with the
system service's database there or not. The system directories are
GAZETTE_SYSTEM_ROOT's (never the real /etc, /var/lib, /run)."""

import os
import re
import subprocess
import time

from clitest import Env, check, run_tests  # noqa: F401

GAZETTED = os.environ.get("GAZETTED", "gazetted")


def sys_db(env):
    return os.path.join(env.env["GAZETTE_SYSTEM_ROOT"], "var", "lib",
                        "gazette", "gazette.db")


def user_db(env):
    return os.path.join(env.env["XDG_DATA_HOME"], "gazette", "gazette.db")


def daemon_once(env, extra_env=None):
    """gazetted --once -v with no -c and no --db: (rc, the database it
    names, the number of feeds it polled, stderr)."""
    e = dict(env.env)
    e.update(extra_env or {})
    p = subprocess.run([GAZETTED, "--once", "-v"], capture_output=True,
                       text=True, env=e, timeout=60)
    m = re.search(r"database '([^']*)'", p.stderr)
    n = re.search(r"polled (\d+) feed", p.stderr)
    return (p.returncode, m.group(1) if m else None,
            int(n.group(1)) if n else None, p.stderr)


def cli_db(env):
    """The database `gazette status` names (no daemon runs)."""
    r = env.run("status", db=False)
    m = re.search(r"^database: (.*)$", r.out, re.M)
    return m.group(1) if m else None, r


def opml(env, *names):
    """An OPML file of feeds at 127.0.0.1:9, where nothing listens (a
    poll fails at once)."""
    path = env.path("-".join(names) + ".opml")
    with open(path, "w") as f:
        f.write('<opml version="2.0"><body>%s</body></opml>' % "".join(
            '<outline text="%s" xmlUrl="http://127.0.0.1:9/%s.xml"/>'
            % (n, n) for n in names))
    return path


def add_feed(env, name="feed", db=None):
    args = (["--db", db] if db else []) + ["import", opml(env, name)]
    return env.run(*args, db=False)


def test_without_system_database_both_use_the_users(env):
    r = add_feed(env)
    check(r.rc == 0, "gazette import with no files at all", r)
    check(os.path.exists(user_db(env)) and not os.path.exists(sys_db(env)),
          "the CLI created the user's database, not the system's (as %s)"
          % ("root" if os.geteuid() == 0 else "a user"))
    db, r = cli_db(env)
    check(db == user_db(env), "gazette status names the user's database",
          r)
    rc, ddb, polled, err = daemon_once(env)
    check(ddb == user_db(env), "gazetted -v names the same database",
          err)
    check(polled == 1, "gazetted --once polls the feed gazette imported",
          err)
    check(not os.path.exists(sys_db(env)),
          "the daemon did not create the system database either")


def test_daemon_first_then_cli_agree(env):
    rc, ddb, polled, err = daemon_once(env)
    check(rc == 0 and ddb == user_db(env) and os.path.exists(ddb),
          "gazetted --once first: creates the user's database", err)
    db, r = cli_db(env)
    check(db == ddb, "then the CLI opens the daemon's database", r)


def make_system_db(env):
    os.makedirs(os.path.dirname(sys_db(env)), mode=0o770)
    r = add_feed(env, "sys", db=sys_db(env))
    check(r.rc == 0 and os.path.exists(sys_db(env)),
          "a system database made by hand", r)


def test_with_system_database_both_use_it(env):
    make_system_db(env)
    db, r = cli_db(env)
    check(db == sys_db(env), "no files of one's own: the CLI opens the "
          "system database (as %s)" % ("root" if os.geteuid() == 0
                                       else "its owner"), r)
    r = add_feed(env, "two")
    check(r.rc == 0 and not os.path.exists(user_db(env)),
          "gazette import writes it, no user database appears", r)
    rc, ddb, polled, err = daemon_once(env)
    check(ddb == sys_db(env) and polled == 2,
          "gazetted opens the same system database and polls both feeds",
          err)


def test_own_files_win_over_the_system_database(env):
    make_system_db(env)
    os.makedirs(os.path.dirname(user_db(env)))
    r = env.run("--db", user_db(env), "feeds", db=False)
    check(r.rc == 0 and os.path.exists(user_db(env)), "a user database", r)
    db, r = cli_db(env)
    check(db == user_db(env), "the CLI keeps to the user's database", r)
    rc, ddb, polled, err = daemon_once(env)
    check(ddb == user_db(env) and polled == 0,
          "and so does gazetted", err)
    # a configuration file of one's own counts as well
    os.unlink(user_db(env))
    conf = os.path.join(env.env["XDG_CONFIG_HOME"], "gazette",
                        "gazette.conf")
    os.makedirs(os.path.dirname(conf))
    with open(conf, "w") as f:
        f.write("[daemon]\ninterval = 1h\n")
    db, r = cli_db(env)
    rc, ddb, polled, err = daemon_once(env)
    check(db == user_db(env) and ddb == user_db(env),
          "a gazette.conf of one's own: both open the user's database",
          (r, err))


def test_unreadable_system_database_is_not_chosen(env):
    if os.geteuid() == 0:
        # root may read anything: run the two programs as nobody, on a
        # system database nobody may not open
        make_system_db(env)
        os.chmod(sys_db(env), 0o600)
        for d in (env.dir, env.env["GAZETTE_SYSTEM_ROOT"]):
            os.chmod(d, 0o755)
        home = os.path.join(env.dir, "nobody")
        os.mkdir(home)
        os.chown(home, 65534, 65534)
        e = dict(env.env, HOME=home, XDG_DATA_HOME=home + "/share",
                 XDG_CONFIG_HOME=home + "/config",
                 XDG_RUNTIME_DIR=home + "/run")
        pre = ["setpriv", "--reuid=65534", "--regid=65534",
               "--clear-groups", "--"]
        p = subprocess.run(pre + [os.environ["GAZETTE"], "status"],
                           capture_output=True, text=True, env=e,
                           timeout=60)
        check(("database: %s/share/gazette/gazette.db" % home) in p.stdout,
              "a user who may not open the system database gets their "
              "own", p.stdout + p.stderr)
        p = subprocess.run(pre + [GAZETTED, "--once", "-v"],
                           capture_output=True, text=True, env=e,
                           timeout=60)
        check(("database '%s/share/gazette/gazette.db'" % home) in p.stderr,
              "and so does their gazetted", p.stderr)
    else:
        make_system_db(env)
        os.chmod(sys_db(env), 0o400)
        db, r = cli_db(env)
        rc, ddb, polled, err = daemon_once(env)
        check(db == user_db(env) and ddb == user_db(env),
              "a system database this user may not write: the user's", err)


def test_systemd_state_directory_means_the_system_service(env):
    state = os.path.join(env.dir, "state")
    os.mkdir(state)
    rc, ddb, polled, err = daemon_once(env, {"STATE_DIRECTORY": state})
    check(ddb == os.path.join(state, "gazette.db"),
          "STATE_DIRECTORY (systemd's StateDirectory=) is the system "
          "service's", err)
    r = env.run("status", db=False, env={"STATE_DIRECTORY": state})
    check("database: %s/gazette.db" % state in r.out,
          "the CLI in the same environment follows it", r)


def test_status_through_the_daemon_names_the_database(env):
    sock = os.path.join(env.env["XDG_RUNTIME_DIR"], "gazette",
                        "control.sock")
    logf = open(env.path("d.log"), "w")
    p = subprocess.Popen([GAZETTED, "-f"], env=env.env, stderr=logf)
    logf.close()
    try:
        deadline = time.time() + 10
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        r = env.run("status", db=False)
        check(r.rc == 0 and "polls: " in r.out and
              ("database: %s\n" % user_db(env)) in r.out,
              "gazette status, answered by gazetted, names its database", r)
    finally:
        p.terminate()
        p.wait(10)


run_tests([
    test_without_system_database_both_use_the_users,
    test_daemon_first_then_cli_agree,
    test_with_system_database_both_use_it,
    test_own_files_win_over_the_system_database,
    test_unreadable_system_database_is_not_chosen,
    test_systemd_state_directory_means_the_system_service,
    test_status_through_the_daemon_names_the_database,
])
