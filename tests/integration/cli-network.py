#!/usr/bin/env python3
"""gazette's commands that reach the network, against the project's
loopback test server: poll (in-process when no daemon runs), status,
and add (feed URLs, web pages linking to feeds, refusals)."""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import httpd  # noqa: E402
from clitest import check, data, run_tests  # noqa: E402

srv = httpd.Server().start()


def serve(path, name, ctype="application/rss+xml"):
    srv.set(path, {"file": data(name), "headers": {"Content-Type": ctype}})


serve("/news.xml", "news.xml")
serve("/world.xml", "world.xml", "application/atom+xml")


def page(links):
    head = "".join('<link rel="alternate" type="%s" href="%s" title="%s">'
                   % (t, h, n) for (t, h, n) in links)
    return ("<!DOCTYPE html><html><head><title>Site</title>%s</head>"
            "<body><p>Welcome</p></body></html>" % head)


srv.set("/site/", {"body": page([("application/rss+xml", "/news.xml",
                                   "News")]),
                   "headers": {"Content-Type": "text/html"}})
srv.set("/two/", {"body": page([("application/rss+xml", "/news.xml", "News"),
                                ("application/atom+xml", "../world.xml",
                                 "World")]),
                  "headers": {"Content-Type": "text/html"}})
srv.set("/plain/", {"body": page([]),
                    "headers": {"Content-Type": "text/html"}})
srv.set("/gone", {"status": 404, "body": "no"})


def test_poll_without_daemon_polls_here_and_says_so(env):
    r = env.run("import", "-", stdin=(
        '<opml version="2.0"><body><outline text="N" xmlUrl="%s"/>'
        '<outline text="W" xmlUrl="%s"/></body></opml>'
        % (srv.url("/news.xml"), srv.url("/world.xml"))))
    check(r.rc == 0, "import of loopback feeds", r)
    r = env.run("poll")
    check(r.rc == 0, "poll exits 0", r)
    check("no daemon running: polling here" in r.out, "poll says so", r)
    check("polled 2 feeds: 2 ok" in r.out, "both feeds served", r)
    r = env.run("list")
    check(len(r.out.splitlines()) == 4, "stories arrived", r)
    r = env.run("poll", "W")
    check(r.rc == 0 and "polled 1 feed" in r.out, "poll one feed", r)
    r = env.run("poll", "Nope")
    check(r.rc == 1 and "no feed 'Nope'" in r.err, "poll unknown: 1", r)


def test_poll_of_failing_feeds_exits_1(env):
    env.run("import", "-", stdin=(
        '<opml version="2.0"><body><outline text="G" xmlUrl="%s"/>'
        '</body></opml>' % srv.url("/gone")))
    r = env.run("poll")
    check(r.rc == 1 and "1 failed" in r.out, "all failed: exit 1", r)
    r = env.run("feeds")
    check("last error" in r.out and "404" in r.out,
          "feeds shows the URL's last error", r)


def test_feeds_marks_a_mirror_that_served(env):
    r = env.run("add", "--mirror", srv.url("/news.xml"), srv.url("/gone"))
    check(r.rc == 1, "add refuses a primary that fails", r)
    env.run("import", "-", stdin=(
        '<opml version="2.0" xmlns:gazette="https://gazette.invalid/ns/'
        'opml/1"><body><outline text="M" xmlUrl="%s" gazette:mirrors="%s"/>'
        '</body></opml>' % (srv.url("/gone"), srv.url("/news.xml"))))
    r = env.run("poll")
    check(r.rc == 0 and "1 ok" in r.out, "the mirror serves the poll", r)
    r = env.run("feeds")
    check("served last (a mirror)" in r.out, "feeds marks the mirror", r)
    check("last error" in r.out and "404" in r.out,
          "and the primary's error", r)
    f = json.loads(env.run("feeds", "--json").out)
    check(f["last_served"] == 1 and f["urls"][1]["served_last"],
          "feeds --json says which URL served", f)
    check(len(env.run("list").out.splitlines()) == 3, "its stories", r)


def test_status_without_daemon_reports_the_database(env):
    r = env.run("status")
    check(r.rc == 0 and "gazetted: not running" in r.out,
          "status without daemon", r)


def test_add_feed_url_subscribes_and_stores_its_stories(env):
    url = srv.url("/news.xml")
    r = env.run("add", url)
    check(r.rc == 0 and "added feed 1 'Daily News': 3 stories" in r.out,
          "add a feed URL", r)
    r = env.run("list")
    check(len(r.out.splitlines()) == 3, "its stories at once", r)
    r = env.run("add", url)
    check(r.rc == 0 and "already subscribed: feed 1" in r.out,
          "adding it again changes nothing", r)


def test_add_with_mirrors_proxy_title_and_interval(env):
    r = env.run("add", "--mirror", "https://m1.example/rss", "--mirror",
                "https://m2.example/rss", "--title", "Mine", "--interval",
                "15m", srv.url("/world.xml"))
    check(r.rc == 0 and "'Mine'" in r.out, "add with options", r)
    f = json.loads(env.run("feeds", "--json").out)
    check(f["title"] == "Mine" and f["interval"] == 900,
          "title and interval kept", f)
    check([u["url"] for u in f["urls"]] == [
        srv.url("/world.xml"), "https://m1.example/rss",
        "https://m2.example/rss"], "mirrors in order", f)
    r = env.run("add", "--proxy", "http://127.0.0.1:1", srv.url("/news.xml"))
    check(r.rc == 1 and "cannot fetch" in r.err,
          "a dead proxy is used and reported", r)
    check(r.err.count("cannot fetch") == 1 and
          r.err.count(srv.url("/news.xml")) == 1,
          "the failure is said once, naming the URL once", r)
    r = env.run("add", "--interval", "soon", srv.url("/news.xml"))
    check(r.rc == 2, "bad --interval: usage", r)


def test_add_web_page_finds_its_feed(env):
    r = env.run("add", srv.url("/site/"))
    check(r.rc == 0 and "added feed 1" in r.out, "page with one feed", r)
    f = json.loads(env.run("feeds", "--json").out)
    check(f["urls"][0]["url"] == srv.url("/news.xml"),
          "the linked feed is subscribed", f)


def test_add_page_with_several_feeds_needs_pick(env):
    r = env.run("add", srv.url("/two/"))
    check(r.rc == 1 and "links to 2 feeds: choose one with --pick N"
          in r.err, "several feeds: asks", r)
    check("1  %s  (News)" % srv.url("/news.xml") in r.err and
          "2  %s  (World)" % srv.url("/world.xml") in r.err,
          "lists them numbered", r)
    check(env.run("feeds", "--json").out == "", "nothing added", r)
    r = env.run("add", "--pick", "2", srv.url("/two/"))
    check(r.rc == 0, "--pick 2 subscribes", r)
    f = json.loads(env.run("feeds", "--json").out)
    check(f["urls"][0]["url"] == srv.url("/world.xml"), "the second", f)
    r = env.run("add", "--pick", "3", srv.url("/two/"))
    check(r.rc == 1, "--pick beyond the list: exit 1", r)


def test_add_refuses_what_is_not_a_feed(env):
    r = env.run("add", srv.url("/plain/"))
    check(r.rc == 1 and "is not a feed, and links to no feed" in r.err,
          "page without feed refused", r)
    r = env.run("add", srv.url("/gone"))
    check(r.rc == 1 and "HTTP status 404" in r.err, "404 refused", r)
    r = env.run("add", "ftp://x.example/feed")
    check(r.rc == 1 and "not an http or https URL" in r.err,
          "non-http refused", r)
    check(env.run("feeds", "--json").out == "", "nothing added")


def test_poll_and_status_go_through_the_running_daemon(env):
    gazetted = os.environ.get("GAZETTED")
    check(gazetted is not None and os.path.exists(gazetted),
          "GAZETTED names the daemon", gazetted)
    sock = env.path("run/control.sock")
    conf = env.path("gazette.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\ndatabase = %s\nsocket = %s\ninterval = 1h\n"
                "[feed \"Daily News\"]\nurl = %s\n"
                % (env.db, sock, srv.url("/news.xml")))
    log = open(env.path("gazetted.log"), "w")
    proc = subprocess.Popen([gazetted, "-f", "-c", conf], stderr=log,
                            env=env.env)
    try:
        deadline = time.time() + 10
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        check(os.path.exists(sock), "gazetted listens")
        r = env.run("--config", conf, "status", db=False)
        check(r.rc == 0 and "not running" not in r.out and
              "feeds: 1" in r.out, "status comes from the daemon", r)
        r = env.run("--config", conf, "poll", db=False)
        check(r.rc == 0 and "polling here" not in r.out and
              "polled" in r.out, "poll goes through the daemon", r)
        r = env.run("--config", conf, "poll", "no such feed", db=False)
        check(r.rc == 1 and r.err.startswith("gazette: "),
              "the daemon's refusal is an error", r)
        deadline = time.time() + 10
        while time.time() < deadline:
            r = env.run("--config", conf, "list", db=False)
            if len(r.out.splitlines()) == 3:
                break
            time.sleep(0.1)
        check(len(r.out.splitlines()) == 3, "the daemon's stories listed",
              r)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def feed_titles(env, db):
    r = env.run("--db", db, "feeds", "--json", db=False)
    return sorted(json.loads(l)["title"] for l in r.out.splitlines())


def test_opml_round_trip_keeps_whose_title_it_is(env):
    # Two feeds: one named by its own <title> only, one renamed by the
    # user. Exported, imported elsewhere, polled after both feeds changed
    # their titles: the feed's own title follows the feed, the user's
    # stays.
    srv.set("/own.xml", {"body": httpd.rss("Own Name", [("o1", "O")])})
    srv.set("/mine.xml", {"body": httpd.rss("Their Name", [("m1", "M")])})
    r = env.run("import", "-", stdin=(
        '<opml version="2.0"><body><outline xmlUrl="%s"/>'
        '<outline xmlUrl="%s"/></body></opml>'
        % (srv.url("/own.xml"), srv.url("/mine.xml"))))
    check(r.rc == 0, "import without titles", r)
    r = env.run("poll")
    check(r.rc == 0, "first poll", r)
    r = env.run("rename", "Their Name", "My Name")
    check(r.rc == 0, "rename", r)
    check(feed_titles(env, env.db) == ["My Name", "Own Name"],
          "titles before export", feed_titles(env, env.db))
    opml = env.path("out.opml")
    r = env.run("export", "opml", "-o", opml)
    check(r.rc == 0, "export", r)
    with open(opml) as f:
        text = f.read()
    check('text="Own Name"' in text and
          'gazette:title-source="feed"' in text and
          'gazette:title-source="user"' in text,
          "the export says whose each title is", text)
    other = env.other_db("other.db")
    r = env.run("--db", other, "import", opml, db=False)
    check(r.rc == 0, "import into an empty database", r)
    check(feed_titles(env, other) == ["My Name", "Own Name"],
          "titles after import, before any poll", feed_titles(env, other))
    srv.set("/own.xml", {"body": httpd.rss("Own Name, renamed by the "
                                           "site", [("o1", "O")])})
    srv.set("/mine.xml", {"body": httpd.rss("Their New Name",
                                            [("m1", "M")])})
    r = env.run("--db", other, "poll", db=False)
    check(r.rc == 0, "poll after the import", r)
    check(feed_titles(env, other) == ["My Name",
                                      "Own Name, renamed by the site"],
          "the feed's own title follows the feed, the user's stays",
          feed_titles(env, other))
    # exported again and imported once more: still the same
    opml2 = env.path("again.opml")
    env.run("--db", other, "export", "opml", "-o", opml2, db=False)
    third = env.other_db("third.db")
    env.run("--db", third, "import", opml2, db=False)
    with open(opml2) as f:
        again = f.read()
    check(again.count('gazette:title-source="feed"') == 1 and
          again.count('gazette:title-source="user"') == 1,
          "a second round trip keeps the marks", again)


run_tests([
    test_poll_without_daemon_polls_here_and_says_so,
    test_poll_of_failing_feeds_exits_1,
    test_status_without_daemon_reports_the_database,
    test_feeds_marks_a_mirror_that_served,
    test_add_feed_url_subscribes_and_stores_its_stories,
    test_add_with_mirrors_proxy_title_and_interval,
    test_add_web_page_finds_its_feed,
    test_add_page_with_several_feeds_needs_pick,
    test_add_refuses_what_is_not_a_feed,
    test_poll_and_status_go_through_the_running_daemon,
    test_opml_round_trip_keeps_whose_title_it_is,
])
