#!/usr/bin/env python3
"""Retention for unread stories (issue 16): keep-unread and max-stories,
globally and per feed, against the real gazette and gazetted and the
project's loopback test server. A purged story that its feed still
serves does not come back as new; starred stories stay; status and
feeds say what went."""

import email.utils
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import httpd  # noqa: E402
from clitest import check, run_tests  # noqa: E402

GAZETTED = os.environ.get("GAZETTED", "gazetted")
DAY = 86400
NOW = int(time.time())

srv = httpd.Server().start()


def rss(items):
    """An RSS document of (guid, title, age in days) items."""
    out = ['<?xml version="1.0"?><rss version="2.0"><channel>'
           '<title>Retained</title><link>http://r.example/</link>']
    for guid, title, age in items:
        out.append('<item><guid isPermaLink="false">%s</guid>'
                   '<title>%s</title><link>http://r.example/%s</link>'
                   '<pubDate>%s</pubDate></item>'
                   % (guid, title, guid,
                      email.utils.formatdate(NOW - age * DAY, usegmt=True)))
    out.append('</channel></rss>')
    return "".join(out)


def serve(path, items):
    srv.set(path, {"body": rss(items),
                   "headers": {"Content-Type": "application/rss+xml"}})


def config(env, text):
    path = env.path("gazette.conf")
    with open(path, "w", encoding="utf-8") as f:
        f.write("[daemon]\ndatabase = %s\n%s" % (env.db, text))
    return path


def titles(env):
    r = env.run("list", "--all", "--json")
    check(r.rc == 0, "list --all --json", r)
    return sorted(json.loads(line)["title"] for line in r.out.splitlines())


def gazetted_once(env, conf):
    p = subprocess.run([GAZETTED, "-c", conf, "--db", env.db, "--once",
                        "-v"], capture_output=True, text=True,
                       env=env.env, timeout=60)
    check(p.returncode == 0, "gazetted --once", p.stderr)
    return p.stderr


def purged_line(env):
    r = env.run("status")
    check(r.rc == 0, "status", r)
    return [line for line in r.out.splitlines()
            if line.startswith("purged:")]


def test_purged_unread_story_still_served_is_not_added_again(env):
    serve("/r.xml", [("old", "Old news", 100), ("mid", "Last week", 7),
                     ("new", "Today", 0)])
    conf = config(env, "keep-unread = 30d\n\n[feed \"R\"]\nurl = %s\n"
                  % srv.url("/r.xml"))
    # the first run purges an empty store, then polls: all three come
    gazetted_once(env, conf)
    check(titles(env) == ["Last week", "Old news", "Today"],
          "the first poll stores every story", titles(env))
    # the second purges the old unread story first, then polls again
    log = gazetted_once(env, conf)
    check("retention: 1 stories removed (read 0, unread 1, over limit 0)"
          in log, "gazetted says what it purged", log)
    check("0 new stories" in log, "the poll after it adds nothing", log)
    check(titles(env) == ["Last week", "Today"],
          "the purged story is absent and not added again", titles(env))
    # and so does a poll of gazette itself, with the story still served
    r = env.run("--config", conf, "poll")
    check(r.rc == 0 and "0 new" in r.out, "gazette poll: nothing new", r)
    check(titles(env) == ["Last week", "Today"], "count unchanged",
          titles(env))
    check(purged_line(env) == ["purged: 1 (read 0, unread 1, over limit 0)"],
          "status shows the purged count", purged_line(env))
    r = env.run("feeds", "-v")
    check("purged 1 (read 0, unread 1, over limit 0)" in r.out,
          "feeds -v says it per feed", r)


def test_keep_unread_per_feed_and_forever(env):
    serve("/a.xml", [("a-old", "A old", 40), ("a-new", "A new", 1)])
    serve("/b.xml", [("b-old", "B old", 40), ("b-new", "B new", 1)])
    serve("/c.xml", [("c-old", "C old", 40), ("c-mid", "C mid", 10)])
    conf = config(env, "keep-unread = 30d\n"
                  "[feed \"A\"]\nurl = %s\nkeep-unread = forever\n"
                  "[feed \"B\"]\nurl = %s\n"
                  "[feed \"C\"]\nurl = %s\nkeep-unread = 5d\n"
                  % (srv.url("/a.xml"), srv.url("/b.xml"),
                     srv.url("/c.xml")))
    r = env.run("--config", conf, "poll")
    check(r.rc == 0 and "6 new" in r.out, "six stories", r)
    r = env.run("--config", conf, "purge")
    check(r.rc == 0 and
          "purged 3 stories (read 0, unread 3, over limit 0)" in r.out,
          "gazette purge says what went", r)
    check(titles(env) == ["A new", "A old", "B new"],
          "each feed by its own keep-unread", titles(env))
    r = env.run("--config", conf, "purge")
    check(r.rc == 0 and "purged 0 stories" in r.out, "then nothing", r)


def test_max_stories_keeps_the_newest_and_starred_ones(env):
    serve("/m.xml", [("m%d" % i, "M%d" % i, 10 - i) for i in range(6)])
    conf = config(env, "max-stories = 100\n"
                  "[feed \"M\"]\nurl = %s\nmax-stories = 2\n"
                  % srv.url("/m.xml"))
    r = env.run("--config", conf, "poll")
    check(r.rc == 0 and "6 new" in r.out, "six stories", r)
    r = env.run("list", "--all", "--json")
    ids = {json.loads(line)["title"]: json.loads(line)["id"]
           for line in r.out.splitlines()}
    r = env.run("mark", "star", str(ids["M0"]))
    check(r.rc == 0, "star the oldest", r)
    env.run("mark", "read", str(ids["M1"]))
    r = env.run("--config", conf, "purge")
    check(r.rc == 0 and
          "purged 3 stories (read 0, unread 0, over limit 3)" in r.out,
          "three over the limit go, read or not", r)
    check(titles(env) == ["M0", "M4", "M5"],
          "the two newest and the starred one stay", titles(env))
    r = env.run("--config", conf, "poll")
    check(r.rc == 0 and "0 new" in r.out,
          "the feed still serves them: none comes back", r)
    r = env.run("feeds", "--json")
    f = json.loads(r.out.splitlines()[0])
    check(f["purged"] == {"read": 0, "unread": 0, "over_limit": 3},
          "feeds --json has the feed's counts", r)
    check(f["total"] == 3, "the feed holds three", r)


def test_a_story_two_feeds_share_stays_while_one_keeps_it(env):
    shared = ('<item><title>Shared</title><link>http://news.example/s'
              '</link><pubDate>%s</pubDate></item>'
              % email.utils.formatdate(NOW - 60 * DAY, usegmt=True))
    for name in ("x", "y"):
        srv.set("/%s.xml" % name, {
            "body": '<?xml version="1.0"?><rss version="2.0"><channel>'
                    '<title>%s</title>%s</channel></rss>' % (name, shared),
            "headers": {"Content-Type": "application/rss+xml"}})
    conf = config(env, "[feed \"X\"]\nurl = %s\nkeep-unread = 30d\n"
                  "[feed \"Y\"]\nurl = %s\n"
                  % (srv.url("/x.xml"), srv.url("/y.xml")))
    r = env.run("--config", conf, "poll")
    check(r.rc == 0 and "1 new" in r.out, "one story in two feeds", r)
    r = env.run("--config", conf, "purge")
    check(r.rc == 0 and "purged 0 stories" in r.out,
          "Y keeps it: not removed", r)
    r = env.run("list", "--all", "--json")
    s = [json.loads(line) for line in r.out.splitlines()]
    check(len(s) == 1 and len(s[0]["feeds"]) == 1,
          "the story left X only", r)
    r = env.run("--config", conf, "poll")
    check(r.rc == 0 and "0 new" in r.out, "X does not take it back", r)
    r = env.run("list", "--all", "--json")
    s = [json.loads(line) for line in r.out.splitlines()]
    check(len(s) == 1 and len(s[0]["feeds"]) == 1,
          "still in Y only after X served it again", r)
    r = env.run("feeds", "-v")
    check(r.out.count("purged 1 (read 0, unread 1, over limit 0)") == 1,
          "X counts what it lost", r)


def test_bad_retention_settings_name_file_and_line(env):
    conf = config(env, "max-stories = lots\n")
    r = env.run("--config", conf, "purge")
    check(r.rc == 1 and "gazette.conf:3: bad number 'lots' for "
          "max-stories" in r.err, "bad max-stories", r)
    conf = config(env, "[feed \"F\"]\nurl = http://f.example/\n"
                  "keep-unread = soon\n")
    r = env.run("--config", conf, "purge")
    check(r.rc == 1 and "gazette.conf:5: bad duration 'soon' for "
          "keep-unread" in r.err, "bad keep-unread", r)
    p = subprocess.run([GAZETTED, "-c", conf, "--once"],
                       capture_output=True, text=True, env=env.env,
                       timeout=60)
    check(p.returncode == 1 and "gazette.conf:5: bad duration" in p.stderr,
          "gazetted refuses it too", p.stderr)


run_tests([
    test_purged_unread_story_still_served_is_not_added_again,
    test_keep_unread_per_feed_and_forever,
    test_max_stories_keeps_the_newest_and_starred_ones,
    test_a_story_two_feeds_share_stays_while_one_keeps_it,
    test_bad_retention_settings_name_file_and_line,
])
