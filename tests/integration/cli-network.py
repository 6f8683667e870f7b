#!/usr/bin/env python3
"""gazette's commands that reach the network, against the project's
loopback test server: poll (in-process when no daemon runs), status,
and add (feed URLs, web pages linking to feeds, refusals)."""

import os
import sys

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


def test_status_without_daemon_reports_the_database(env):
    r = env.run("status")
    check(r.rc == 0 and "gazetted: not running" in r.out,
          "status without daemon", r)


run_tests([
    test_poll_without_daemon_polls_here_and_says_so,
    test_poll_of_failing_feeds_exits_1,
    test_status_without_daemon_reports_the_database,
])
