"""The integration tests on PostgreSQL (issue 17): when GAZETTE_TEST_PG
names a server's database (tests/pg-run.sh starts one and exports it),
each test takes a database of its own on that server, created with
createdb and dropped afterwards, and reads it with psql. Without it the
tests use SQLite files as they always did."""

import itertools
import json
import os
import subprocess
import unittest
import urllib.parse

BASE = os.environ.get("GAZETTE_TEST_PG", "")
_names = itertools.count(1)


def enabled():
    """Whether the tests run against PostgreSQL."""
    return BASE != ""


def _server():
    """(socket directory, user) of the server GAZETTE_TEST_PG names."""
    u = urllib.parse.urlsplit(BASE)
    host = urllib.parse.unquote(u.hostname or "")
    return host, urllib.parse.unquote(u.username or "")


def _client(argv, stdin=None):
    host, user = _server()
    p = subprocess.run(argv[:1] + ["-h", host, "-U", user] + argv[1:],
                       input=stdin, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (argv[0], p.stderr.strip()))
    return p.stdout


def uri(name):
    """The URI of database name on the test server."""
    u = urllib.parse.urlsplit(BASE)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query,
                                    ""))


def name_of(db_uri):
    return urllib.parse.urlsplit(db_uri).path.lstrip("/")


def new_database():
    """A fresh empty database of its own on the test server: its URI."""
    name = "gz_%d_%d" % (os.getpid(), next(_names))
    _client(["createdb", name])
    return uri(name)


def drop_database(db_uri):
    """Drop what new_database made, whoever is still connected."""
    _client(["dropdb", "--force", "--if-exists", name_of(db_uri)])


def query(db_uri, sql, *args):
    """The rows of sql (? for parameters, bound as psql variables, which
    psql quotes as literals) as a list of tuples, numbers as numbers."""
    n = 0
    out = []
    for ch in sql:
        if ch == "?":
            n += 1
            out.append(":'p%d'" % n)
        else:
            out.append(ch)
    if n != len(args):
        raise ValueError("%d placeholders, %d arguments" % (n, len(args)))
    argv = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d",
            name_of(db_uri)]
    for i, a in enumerate(args):
        argv += ["-v", "p%d=%s" % (i + 1, a)]
    select = sql.lstrip().upper().startswith(("SELECT", "WITH"))
    if not select:
        _client(argv, stdin="".join(out) + ";\n")
        return []
    script = ("SELECT coalesce(json_agg(t), '[]') FROM (%s) t;\n"
              % "".join(out))
    text = _client(argv, stdin=script).strip()
    # each row an object of its columns in order (names may repeat)
    return [tuple(v for _, v in row)
            for row in json.loads(text, object_pairs_hook=list)]


def terminate_backends(db_uri):
    """Cut every connection to the database but psql's own: what a
    server restart or a network failure does to a client."""
    return query(db_uri, "SELECT count(pg_terminate_backend(pid)) FROM "
                 "pg_stat_activity WHERE datname = ? AND "
                 "pid <> pg_backend_pid()", name_of(db_uri))[0][0]


def sqlite_only(reason):
    """Skip a test that is about SQLite's files when on PostgreSQL."""
    return unittest.skipIf(enabled(), "SQLite only: " + reason)
