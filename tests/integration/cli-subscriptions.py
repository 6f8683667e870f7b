#!/usr/bin/env python3
"""gazette's subscription commands end to end: import, export opml,
feeds, rename, mirror, remove, usage errors and exit statuses."""

import json
import os
import re
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import check, data, run_tests  # noqa: E402


def feeds(env):
    r = env.run("feeds", "--json")
    check(r.rc == 0, "feeds --json exits 0", r)
    return [json.loads(line) for line in r.out.splitlines()]


def subscriptions(env):
    """What makes a subscription, without ids and poll state."""
    return sorted((f["title"], f["category"], f["interval"],
                   tuple((u["url"], u.get("proxy")) for u in f["urls"]))
                  for f in feeds(env))


def test_import_counts_and_second_import_adds_nothing(env):
    r = env.run("import", data("subs.opml"))
    check(r.rc == 0, "import exits 0", r)
    check(r.out == "3 added, 0 already present, 1 skipped\n",
          "import prints its counts", r)
    r = env.run("import", data("subs.opml"))
    check(r.rc == 0, "second import exits 0", r)
    check(r.out == "0 added, 3 already present, 1 skipped\n",
          "second import adds nothing", r)
    check(len(feeds(env)) == 3, "three feeds after two imports")


def test_import_reports_non_http_outlines_with_their_line(env):
    r = env.run("import", data("subs.opml"))
    check("line 14: skipped 'ftp://old.example/feed'" in r.err,
          "skipped outline named with its line", r)
    check(r.err.startswith("gazette: "), "messages start with gazette:", r)


def test_import_keeps_folders_mirrors_proxies_and_intervals(env):
    env.run("import", data("subs.opml"))
    by_title = {f["title"]: f for f in feeds(env)}
    news = by_title["Daily News"]
    check(news["category"] == "News", "folder is the category", news)
    check([u["url"] for u in news["urls"]] == [
        "https://news.example/rss", "https://news-mirror.example/rss",
        "http://newsabcdefghijklmn.onion/rss"], "mirrors in order", news)
    check(news["urls"][2].get("proxy") == "socks5h://127.0.0.1:9050",
          "per-URL proxy kept", news)
    check("proxy" not in news["urls"][1], "'-' means no proxy", news)
    world = by_title["World Wire"]
    check(world["category"] == "News/World", "nested folders joined", world)
    check(world["interval"] == 900, "gazette:interval kept", world)


def test_malformed_opml_imports_nothing_and_names_the_line(env):
    r = env.run("import", data("bad.opml"))
    check(r.rc == 1, "malformed OPML exits 1", r)
    check("line 6:" in r.err and "nothing imported" in r.err,
          "error names the line", r)
    check(feeds(env) == [], "nothing imported from a malformed file")


def test_export_opml_then_import_into_empty_db_gives_same_feeds(env):
    env.run("import", data("subs.opml"))
    env.run("mirror", "add", "--proxy", "http://127.0.0.1:3128",
            "Tech", "https://tech-mirror.example/feed")
    out = env.path("out.opml")
    r = env.run("export", "opml", "-o", out)
    check(r.rc == 0, "export opml -o exits 0", r)
    before = subscriptions(env)
    env.db = env.other_db("second.db")
    r = env.run("import", out)
    check(r.rc == 0 and r.out.startswith("3 added"), "re-import adds 3", r)
    after = subscriptions(env)
    check(before == after, "same subscriptions after the round trip",
          "%r != %r" % (before, after))


def test_import_from_standard_input(env):
    with open(data("subs.opml")) as f:
        r = env.run("import", "-", stdin=f.read())
    check(r.rc == 0 and r.out.startswith("3 added"), "import - reads stdin",
          r)


def test_ten_thousand_outlines_import_quickly(env):
    path = env.path("big.opml")
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?>\n<opml version="2.0"><body>\n')
        for i in range(10000):
            f.write('<outline text="Feed %d" type="rss" '
                    'xmlUrl="https://h%d.example/rss"/>\n' % (i, i))
        f.write("</body></opml>\n")
    t0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = env.run("import", path)
    t1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime)
    print("import of 10,000 outlines: %.3f s of process time" % cpu)
    check(r.rc == 0 and r.out.startswith("10000 added"),
          "10,000 outlines imported", r)
    r = env.run("import", path)
    check(r.out.startswith("0 added, 10000 already present"),
          "10,000 outlines re-imported add nothing", r)


def test_rename_mirror_and_remove(env):
    env.run("import", data("subs.opml"))
    r = env.run("rename", "Daily", "The Daily")
    check(r.rc == 0, "rename by title prefix exits 0", r)
    check(any(f["title"] == "The Daily" for f in feeds(env)), "renamed")
    r = env.run("mirror", "add", "1", "https://another.example/rss")
    check(r.rc == 0, "mirror add exits 0", r)
    urls = [u["url"] for u in feeds(env)[0]["urls"]]
    check(urls[-1] == "https://another.example/rss", "mirror appended", urls)
    r = env.run("mirror", "add", "1", "ftp://x.example/")
    check(r.rc == 1 and "not an http or https URL" in r.err,
          "non-http mirror refused", r)
    r = env.run("mirror", "remove", "1", "https://another.example/rss")
    check(r.rc == 0, "mirror remove exits 0", r)
    r = env.run("mirror", "remove", "1", "https://nowhere.example/rss")
    check(r.rc == 1 and "not a mirror" in r.err, "unknown mirror: exit 1", r)
    r = env.run("remove", "World")
    check(r.rc == 0, "remove by title prefix exits 0", r)
    check(len(feeds(env)) == 2, "two feeds left")


def test_unknown_feeds_and_ambiguous_names_exit_1(env):
    env.run("import", data("subs.opml"))
    r = env.run("remove", "Nonexistent")
    check(r.rc == 1 and r.err == "gazette: no feed 'Nonexistent' "
          "(see 'gazette feeds')\n", "unknown feed: exit 1 and message", r)
    r = env.run("rename", "999", "x")
    check(r.rc == 1 and "no feed '999'" in r.err, "unknown id: exit 1", r)
    env.run("rename", "Tech", "Daily Tech")
    r = env.run("remove", "Daily")
    check(r.rc == 1 and "matches several feeds" in r.err,
          "ambiguous prefix: exit 1", r)
    r = env.run("import", env.path("missing.opml"))
    check(r.rc == 1 and "cannot read" in r.err, "missing file: exit 1", r)


def test_usage_errors_exit_2(env):
    cases = [
        ("feeds", "--bogus"),
        ("list", "--limit"),
        ("list", "--limit", "0"),
        ("list", "--new", "--all"),
        ("list", "--since", "yesterday-ish"),
        ("mark", "sideways", "1"),
        ("mark", "read"),
        ("mark", "read", "abc"),
        ("show",),
        ("export", "pdf"),
        ("export", "opml", "--unread"),
        ("import",),
        ("mirror", "add", "1"),
        ("nosuchcommand",),
    ]
    for args in cases:
        r = env.run(*args)
        check(r.rc == 2, "usage error exits 2: %r" % (args,), r)
        check(r.err.startswith("gazette: ") and "usage:" in r.err,
              "usage error says what and how: %r" % (args,), r)
    r = env.run(db=False)
    check(r.rc == 2, "no command exits 2", r)
    r = env.run("--frobnicate", db=False)
    check(r.rc == 2 and "unknown option '--frobnicate'" in r.err,
          "unknown global option exits 2", r)


def test_help_lists_every_command_and_each_has_help(env):
    r = env.run("--help", db=False)
    check(r.rc == 0, "gazette --help exits 0", r)
    names = ["feeds", "add", "remove", "mirror", "rename", "import",
             "export", "list", "show", "mark", "search", "poll", "status"]
    for n in names:
        check(("  %s " % n) in r.out, "--help lists %s" % n, r)
        h = env.run(n, "--help")
        check(h.rc == 0 and h.out.startswith("usage: gazette %s" % n),
              "%s --help" % n, h)


def test_global_config_and_db_options(env):
    r = env.run("--config", env.path("nope.conf"), "feeds", db=False)
    check(r.rc == 1 and r.err.startswith("gazette: ") and "nope.conf" in
          r.err, "missing --config file: exit 1 naming it", r)
    conf = env.path("gazette.conf")
    dbp = env.path("from-config/sub/g.db")
    with open(conf, "w") as f:
        f.write("[daemon]\ndatabase = %s\n" % dbp)
    r = env.run("--config", conf, "import", data("subs.opml"), db=False)
    check(r.rc == 0 and os.path.exists(dbp),
          "the configuration's database is used and created", r)
    check(os.stat(dbp).st_mode & 0o777 == 0o600, "database file is 0600")
    check(os.stat(os.path.dirname(dbp)).st_mode & 0o777 == 0o700,
          "its new directory is 0700")
    r = env.run("--config", conf, "--db", env.path("other.db"), "feeds",
                "--json", db=False)
    check(r.rc == 0 and r.out == "", "--db wins over the configuration", r)
    r = env.run("feeds", db=False)
    check(r.rc == 0 and os.path.exists(os.path.join(
        env.env["XDG_DATA_HOME"], "gazette", "gazette.db")),
        "default database under XDG_DATA_HOME", r)
    bad = env.path("bad.conf")
    with open(bad, "w") as f:
        f.write("[daemon]\ninterval = often\n")
    r = env.run("--config", bad, "feeds", db=False)
    check(r.rc == 1 and "bad.conf:2" in r.err,
          "a bad configuration is named with its line", r)


def test_database_given_makes_no_directory_but_its_own(env):
    """--db and database = name the database; neither program makes any
    directory for a PostgreSQL URI (none named 'postgresql:' where it
    runs), and for a file only the file's own."""
    cwd = env.path("cwd")
    os.mkdir(cwd)
    r = env.run("import", data("subs.opml"), cwd=cwd)
    check(r.rc == 0 and r.out.startswith("3 added"), "import", r)
    conf = env.path("gazette.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\ndatabase = %s\nsocket = %s\n"
                % (env.db, env.path("run/control.sock")))
    p = subprocess.run([os.environ.get("GAZETTED", "gazetted"), "-c", conf,
                        "--once"], capture_output=True, text=True,
                       env=env.env, cwd=cwd, timeout=60)
    check("polled 3 feeds" in p.stderr, "gazetted --once on it", p.stderr)
    r = env.run("--config", conf, "feeds", "--json", db=False, cwd=cwd)
    check(r.rc == 0 and len(r.out.splitlines()) == 3,
          "gazette on the configured database", r)
    check(os.listdir(cwd) == [], "nothing made where they ran",
          os.listdir(cwd))


def test_man_page_covers_every_command_and_option(env):
    man = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "..", "doc", "gazette.1.scd")
    with open(man, encoding="utf-8") as f:
        text = f.read()
    r = env.run("--help", db=False)
    names = [line.split()[0] for line in r.out.splitlines()
             if line.startswith("  ")]
    check(len(names) >= 14, "commands listed", r)
    for n in names:
        check(("\n## %s" % n) in text or ("\n## mirror" in text and
                                          n == "mirror"),
              "gazette(1) has a section for %s" % n)
        h = env.run(n, "--help")
        for opt in sorted(set(re.findall(r"--[a-z][a-z-]*", h.out))):
            check("*%s*" % opt in text,
                  "gazette(1) documents %s %s" % (n, opt))


run_tests([
    test_import_counts_and_second_import_adds_nothing,
    test_import_reports_non_http_outlines_with_their_line,
    test_import_keeps_folders_mirrors_proxies_and_intervals,
    test_malformed_opml_imports_nothing_and_names_the_line,
    test_export_opml_then_import_into_empty_db_gives_same_feeds,
    test_import_from_standard_input,
    test_ten_thousand_outlines_import_quickly,
    test_rename_mirror_and_remove,
    test_unknown_feeds_and_ambiguous_names_exit_1,
    test_usage_errors_exit_2,
    test_help_lists_every_command_and_each_has_help,
    test_global_config_and_db_options,
    test_database_given_makes_no_directory_but_its_own,
    test_man_page_covers_every_command_and_option,
])
