#!/usr/bin/env python3
"""gazette's story commands end to end: list (piped, terminal, JSON,
--new cursor), show, mark, search, and every export format."""

import csv
import email.utils
import html.parser
import io
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import GAZETTE, POPULATE, check, run_tests  # noqa: E402
from pgtest import enabled as on_postgresql, sqlite_only  # noqa: E402

NEWS = "https://news.example/rss"
WORLD = "https://world.example/atom"


def stories(env):
    env.populate(NEWS, "news.xml")
    env.populate(WORLD, "world.xml")


def ids(out):
    return [int(line.split("\t")[0]) for line in out.splitlines()]


def test_list_piped_is_one_tab_separated_story_a_line(env):
    stories(env)
    r = env.run("list")
    check(r.rc == 0, "list exits 0", r)
    lines = r.out.splitlines()
    check(len(lines) == 4, "four stories, one a line", r)
    for line in lines:
        f = line.split("\t")
        check(len(f) == 6, "six tab-separated fields", line)
    first = lines[0].split("\t")
    check(first[1] == "2024-05-06T11:00:00Z", "RFC 3339 date", first)
    check(first[4] == "Volcano erupts near the coast",
          "newline in a title becomes a space", first)
    check("\x1b" not in r.out, "no colour when piped", r)
    check(ids(r.out) == [4, 1, 2, 3], "newest first", r)


def test_story_in_two_feeds_is_listed_once_with_both(env):
    stories(env)
    r = env.run("list", "--all")
    rates = [line for line in r.out.splitlines() if "Rates rise" in line]
    check(len(rates) == 1, "shared story listed once", r)
    check(rates and rates[0].split("\t")[3] == "Daily News, World Wire",
          "with both feeds", rates)


def test_new_cursor_advances_and_peek_leaves_it(env):
    stories(env)
    r = env.run("list", "--new", "--peek")
    check(len(r.out.splitlines()) == 4, "--peek shows the new", r)
    r = env.run("list", "--new")
    check(len(r.out.splitlines()) == 4, "first --new shows everything", r)
    r = env.run("list", "--new")
    check(r.rc == 0 and r.out == "", "second --new shows nothing", r)
    env.populate(NEWS, "news-more.xml", now=1715100000)
    r = env.run("list", "--new", "--peek")
    check([line.split("\t")[4] for line in r.out.splitlines()] ==
          ["Bridge opens to traffic"], "only the arrival is new", r)
    r = env.run("list", "--new")
    check(len(r.out.splitlines()) == 1, "--peek left the cursor", r)
    r = env.run("list", "--new")
    check(r.out == "", "then the cursor moved past it", r)


def test_mark_read_unread_star_unstar(env):
    stories(env)
    r = env.run("mark", "read", "1", "2")
    check(r.rc == 0, "mark read exits 0", r)
    check(ids(env.run("list").out) == [4, 3], "read stories leave list", r)
    env.run("mark", "unread", "2")
    check(ids(env.run("list").out) == [4, 2, 3], "unread again")
    env.run("mark", "star", "3")
    r = env.run("list", "--starred")
    check(ids(r.out) == [3], "starred listed", r)
    check(r.out.split("\t")[2] == "N*", "flags: unread and starred", r)
    env.run("mark", "unstar", "3")
    check(env.run("list", "--starred").out == "", "unstarred")
    r = env.run("mark", "read", "42")
    check(r.rc == 1 and r.err == "gazette: no story 42\n",
          "unknown story: exit 1 and message", r)


def test_mark_feed_before_and_all(env):
    stories(env)
    r = env.run("mark", "read", "--feed", "Daily", "--before", "2024-05-06")
    check(r.rc == 0, "mark --feed --before exits 0", r)
    check(ids(env.run("list").out) == [4, 1], "older Daily stories read")
    r = env.run("mark", "read", "--all")
    check(env.run("list").out == "", "mark --all reads everything", r)
    r = env.run("mark", "read", "--feed", "Nope")
    check(r.rc == 1 and "no feed 'Nope'" in r.err, "unknown feed: exit 1", r)
    r = env.run("mark", "read", "1", "--all")
    check(r.rc == 2, "ids and --all together: usage", r)


def test_list_filters_feed_since_search_limit(env):
    stories(env)
    check(ids(env.run("list", "--feed", "World").out) == [4, 1],
          "--feed by title prefix")
    check(ids(env.run("list", "--since", "2024-05-05").out) == [4, 1, 2],
          "--since a date")
    check(ids(env.run("list", "--limit", "2").out) == [4, 1], "--limit")
    check(ids(env.run("list", "--search", "harbour").out) == [2],
          "--search")
    r = env.run("list", "--feed", "Nope")
    check(r.rc == 1 and "no feed" in r.err, "unknown --feed: exit 1", r)


def test_search_is_ranked_full_text(env):
    stories(env)
    r = env.run("search", "rates")
    check(r.rc == 0 and ids(r.out) == [1], "search finds by title", r)
    r = env.run("search", "lava")
    check(ids(r.out) == [4], "search finds by content", r)
    r = env.run("search", "--json", "owners")
    objs = [json.loads(line) for line in r.out.splitlines()]
    check(len(objs) == 1 and objs[0]["id"] == 3, "search --json", r)
    r = env.run("search")
    check(r.rc == 2, "search without a query: usage", r)
    r = env.run("search", "--feed", "World", "rates")
    check(ids(r.out) == [1], "search --feed keeps a shared story", r)
    r = env.run("search", "--feed", "Daily", "lava")
    check(r.out == "", "search --feed excludes other feeds", r)
    env.run("mark", "read", "1")
    r = env.run("search", "--unread", "rates")
    check(r.out == "", "search --unread skips read stories", r)
    r = env.run("search", "--limit", "1", "the")
    check(len(r.out.splitlines()) <= 1, "search --limit", r)


def test_show_renders_content_as_text(env):
    stories(env)
    r = env.run("show", "4")
    check(r.rc == 0, "show exits 0", r)
    check("Title:    Volcano erupts near the coast" in r.out, "title", r)
    check("Feeds:    World Wire (feed 2)" in r.out, "feeds", r)
    check("Link:     https://world.example/volcano" in r.out, "link", r)
    check("Lava, ash and smoke." in r.out, "content as text", r)
    check("<p" not in r.out and "alert" not in r.out and
          "display:none" not in r.out, "no markup, script or style", r)
    r = env.run("show", "1")
    check("The central bank raised rates & more." in r.out,
          "entities decoded", r)
    r = env.run("show", "999")
    check(r.rc == 1 and r.err == "gazette: no story 999\n",
          "unknown story: exit 1", r)
    r = env.run("show", "x")
    check(r.rc == 2, "bad id: usage", r)
    r = env.run("show", "--width", "20", "2")
    body = r.out.split("\n\n", 1)[1]
    check(all(len(line) <= 20 for line in body.splitlines()) and
          "The harbour reopened" in body, "show --width wraps", r)


def test_list_json_is_one_object_a_line(env):
    stories(env)
    r = env.run("list", "--all", "--json")
    objs = [json.loads(line) for line in r.out.splitlines()]
    check([o["id"] for o in objs] == [4, 1, 2, 3], "JSON lines in order", r)
    check(objs[1]["title"] == 'Rates rise, "again"', "title kept", objs[1])
    check([f["title"] for f in objs[1]["feeds"]] ==
          ["Daily News", "World Wire"], "feeds listed", objs[1])


def tty_run(env, args, extra_env, cols=60):
    """Run gazette on a pseudo-terminal of cols columns (script(1))."""
    cmd = "stty cols %d rows 40; exec %s --db %s %s" % (
        cols, GAZETTE, env.db, " ".join(args))
    e = dict(env.env)
    e.update(extra_env)
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"],
                       capture_output=True, text=True, env=e, timeout=60)
    return p.stdout.replace("\r\n", "\n")


def test_terminal_table_fits_width_and_colour_obeys_no_color(env):
    stories(env)
    out = tty_run(env, ["list", "--all"], {"TERM": "xterm"})
    check("\x1b[" in out, "colour on a terminal", out)
    plain = tty_run(env, ["list", "--all"], {"TERM": "xterm",
                                               "NO_COLOR": "1"})
    check("\x1b" not in plain, "no colour with NO_COLOR", plain)
    lines = [line for line in plain.splitlines() if line]
    check(len(lines) == 4, "one row a story", plain)
    check("\t" not in plain, "aligned columns, not tabs", plain)
    import unicodedata

    def width(s):
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1
                   for c in s)
    check(all(width(line) <= 60 for line in lines),
          "rows fit in 60 columns", plain)
    narrow = tty_run(env, ["list", "--all"], {"NO_COLOR": "1"}, cols=36)
    rows = [line for line in narrow.splitlines() if line]
    check(all(width(line) <= 36 for line in rows),
          "rows fit in 36 columns", narrow)
    check(any(line.endswith("\u2026") for line in rows),
          "long titles cut with an ellipsis", narrow)
    for cols in range(40, 60):
        out = tty_run(env, ["list", "--all"], {"NO_COLOR": "1"}, cols=cols)
        check("\ufffd" not in out and
              all(width(line) <= cols for line in out.splitlines()),
              "cut on character boundaries within %d columns" % cols, out)


def test_terminal_dates_are_relative(env):
    now = int(time.time())
    items = "".join(
        "<item><title>T%d</title><link>https://r.example/%d</link>"
        "<pubDate>%s</pubDate></item>" % (
            i, i, email.utils.formatdate(now - age, usegmt=True))
        for i, age in enumerate((5 * 60, 3 * 3600, 2 * 86400)))
    path = env.path("recent.xml")
    with open(path, "w") as f:
        f.write('<rss version="2.0"><channel><title>Recent</title>%s'
                '</channel></rss>' % items)
    os.makedirs(os.path.dirname(env.db), exist_ok=True)
    subprocess.run([POPULATE, env.db, "https://r.example/rss", path,
                    str(now)], check=True, capture_output=True)
    out = tty_run(env, ["list"], {"NO_COLOR": "1"})
    for when in ("5m ago", "3h ago", "2d ago"):
        check(when in out, "relative date %r on a terminal" % when, out)


def test_export_json_csv_atom_html(env):
    stories(env)
    r = env.run("export", "json")
    objs = [json.loads(line) for line in r.out.splitlines()]
    check(len(objs) == 4 and "content" in objs[0], "json: every story", r)

    r = env.run("export", "csv")
    rows = list(csv.reader(io.StringIO(r.out, newline="")))
    check(rows[0][:5] == ["id", "published", "updated", "feeds", "title"],
          "csv header", rows[0])
    titles = [row[4] for row in rows[1:]]
    check("Volcano erupts\nnear the coast" in titles,
          "csv keeps a newline in a quoted field", titles)
    check('Rates rise, "again"' in titles,
          "csv quotes commas and quotes", titles)
    env.run("export", "csv", "-o", env.path("s.csv"))
    with open(env.path("s.csv"), "rb") as f:
        raw = f.read()
    check(raw.count(b"\r\n") == 5 and raw.endswith(b"\r\n"),
          "csv records end with CRLF", raw)

    out = env.path("stories.atom")
    r = env.run("export", "atom", "-o", out)
    check(r.rc == 0, "export atom -o exits 0", r)
    p = env.run("parse", out, db=False)
    parsed = json.loads(p.out)
    got = [(e["title"], e["link"]) for e in parsed["entries"]]
    want = [(o["title"], o["link"]) for o in objs]
    check(got == want, "atom read back: same titles and links",
          "%r != %r" % (got, want))
    check([e.get("published") for e in parsed["entries"]] ==
          [o["published"] for o in objs], "atom read back: same dates",
          parsed["entries"])

    r = env.run("export", "--unread", "--feed", "Daily", "json")
    check(len(r.out.splitlines()) == 3, "export --unread --feed", r)
    env.run("mark", "star", "2")
    r = env.run("export", "--starred", "csv")
    check([row[0] for row in csv.reader(io.StringIO(r.out))][1:] == ["2"],
          "export --starred", r)
    r = env.run("export", "--since", "2024-05-06", "json")
    check(sorted(json.loads(line)["id"] for line in r.out.splitlines()) ==
          [1, 4], "export --since", r)


class Hunter(html.parser.HTMLParser):
    """Everything in a page that could run or load."""

    def __init__(self):
        super().__init__()
        self.bad = []
        self.text = []
        self.stack = []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        if tag in ("script", "iframe", "object", "embed", "form", "frame",
                   "applet", "base", "link"):
            self.bad.append(tag)
        if tag == "style" and "head" not in self.stack:
            self.bad.append("style in body")
        for k, v in attrs:
            if k.startswith("on") or k == "style":
                self.bad.append("%s=%r" % (k, v))
            if v and v.strip().lower().startswith(("javascript:",
                                                   "vbscript:", "data:")):
                self.bad.append("%s=%r" % (k, v))

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.text.append(data)


def test_html_export_of_hostile_content_has_no_script_or_handler(env):
    stories(env)
    out = env.path("stories.html")
    r = env.run("export", "html", "-o", out)
    check(r.rc == 0, "export html exits 0", r)
    with open(out, encoding="utf-8") as f:
        page = f.read()
    h = Hunter()
    h.feed(page)
    check(h.bad == [], "nothing that runs in the page", h.bad)
    text = "".join(h.text)
    for t in ("Volcano erupts", "Rates rise", "Lava, ash and smoke."):
        check(t in text, "page shows %r" % t)


def test_export_to_unwritable_file_exits_1(env):
    stories(env)
    r = env.run("export", "json", "-o", env.path("no/such/dir/x.json"))
    check(r.rc == 1 and "cannot write" in r.err, "unwritable: exit 1", r)


@sqlite_only("copies the database file into a read-only one")
def test_reader_who_may_not_write_still_lists(env):
    """A database someone else owns, readable but not writable (the
    system service's, for a member of its group): list works, mark says
    why it cannot. Needs root to run as nobody."""
    if os.geteuid() != 0:
        print("skipped: not root, cannot run as another user")
        return
    stories(env)
    os.chmod(env.dir, 0o755)
    shared = env.path("shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    db = os.path.join(shared, "g.db")
    # the WAL into the file, so that one file is the whole database
    subprocess.run(["sqlite3", env.db, "PRAGMA wal_checkpoint(TRUNCATE)"],
                   check=True, capture_output=True)
    with open(env.db, "rb") as src, open(db, "wb") as dst:
        dst.write(src.read())
    os.chmod(db, 0o644)

    def as_nobody(*args):
        return subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "--", GAZETTE, "--db", db] + list(args),
            capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent",
                 "LC_ALL": "C.UTF-8"})
    r = as_nobody("list", "--all")
    check(r.returncode == 0 and len(r.stdout.splitlines()) == 4,
          "a read-only reader lists the stories", (r.returncode, r.stderr))
    r = as_nobody("mark", "read", "1")
    check(r.returncode == 1 and "cannot mark story 1" in r.stderr,
          "and is told why it cannot mark", (r.returncode, r.stderr))


@sqlite_only("the full-text index is a file beside the database")
def test_status_shows_index_lag_and_reindex_rebuilds(env):
    stories(env)
    r = env.run("status")
    check(r.rc == 0 and "index: 4 stories and 0 changes behind" in r.out,
          "status: stories merged but not yet indexed", r)
    r = env.run("search", "lava")
    check(ids(r.out) == [4], "a search indexes what waits first", r)
    r = env.run("status")
    check("index: up to date" in r.out, "status: index caught up", r)
    os.unlink(env.db + ".index")
    r = env.run("search", "lava")
    check(ids(r.out) == [4], "a deleted index is built again", r)
    with open(env.db + ".index", "r+b") as f:
        f.write(b"not a database at all, just damage" * 100)
    r = env.run("search", "lava")
    check(r.rc == 0 and ids(r.out) == [4], "a damaged index is rebuilt", r)
    r = env.run("reindex")
    check(r.rc == 0 and "indexed 4 stories" in r.out, "reindex", r)
    r = env.run("reindex", "extra")
    check(r.rc == 2, "reindex takes no arguments", r)


@unittest.skipUnless(on_postgresql(), "PostgreSQL only: its index")
def test_postgresql_index_lags_and_search_catches_it_up(env):
    """On PostgreSQL the index is the story_words table, filled by the
    same lagging indexer: status shows it behind until a search (or the
    daemon) catches it up, and reindex makes every story's words again."""
    stories(env)
    r = env.run("status")
    check(r.rc == 0 and "index: 4 stories and 0 changes behind" in r.out,
          "status: stories merged but not yet indexed", r)
    r = env.run("search", "lava")
    check(ids(r.out) == [4], "a search indexes what waits first", r)
    r = env.run("status")
    check("index: up to date (to story 4)" in r.out,
          "status: index caught up", r)
    r = env.run("reindex")
    check(r.rc == 0 and "indexed 4 stories" in r.out, "reindex", r)
    check(ids(env.run("search", "lava").out) == [4], "search after it", r)


def gen_feed(env, name, items, base_day=1):
    """An RSS file of items [(slug, title, day of May 2024)]."""
    path = env.path(name + ".xml")
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?><rss version="2.0"><channel>'
                "<title>%s</title><link>https://%s.example/</link>"
                % (name, name))
        for slug, title, day in items:
            f.write("<item><title>%s</title><guid>https://%s.example/%s"
                    "</guid><link>https://%s.example/%s</link><pubDate>"
                    "%s</pubDate></item>" % (
                        title, name, slug, name, slug,
                        email.utils.formatdate(1714521600 + day * 3600,
                                               usegmt=True)))
        f.write("</channel></rss>")
    return path


def new_ids(env, *args):
    r = env.run("list", "--new", "--json", *args)
    check(r.rc == 0, "list --new %s" % " ".join(args), r)
    return [json.loads(line)["id"] for line in r.out.splitlines()]


def test_new_moves_only_past_what_it_printed(env):
    env.populate("https://a.example/rss", gen_feed(
        env, "a", [("a%d" % i, "Alpha %d" % i, i) for i in range(10)]))
    env.populate("https://b.example/rss", gen_feed(
        env, "b", [("b%d" % i, "Beta %d" % i, 20 + i) for i in range(5)]))
    every = set(new_ids(env, "--peek"))
    check(len(every) == 15, "fifteen new stories", every)
    # --limit: two printed, thirteen still new
    two = new_ids(env, "--limit", "2")
    check(len(two) == 2, "--limit 2 prints two", two)
    left = set(new_ids(env, "--peek"))
    check(left == every - set(two), "the other thirteen are still new",
          sorted(left))
    # --feed: only that feed's new stories stop being new
    a = new_ids(env, "--feed", "a")
    check(len(a) == 10, "--feed a prints a's ten", a)
    left = set(new_ids(env, "--peek"))
    check(len(left) == 3 and not left & set(a),
          "b's three unprinted stay new", sorted(left))
    # --since and --search: what they filtered out stays new
    env.populate("https://a.example/rss", gen_feed(
        env, "a2", [("x%d" % i, "Xray %d" % i, 100 + i) for i in range(4)]
        + [("old", "Old arrival", -100), ("zulu", "Zulu word", 101)]))
    left = set(new_ids(env, "--peek"))
    check(len(left) == 9, "six arrivals join the three", sorted(left))
    since = new_ids(env, "--since", "2024-05-05")
    check(len(since) == 5, "--since prints the five arrivals of May 5",
          since)
    found = new_ids(env, "--search", "old")
    check(len(found) == 1, "--search prints its match", found)
    rest = new_ids(env)
    check(len(rest) == 3 and set(rest) | set(since) | set(found) | set(a)
          | set(two) == every | set(since) | set(found),
          "a plain --new prints the rest, each story once", sorted(rest))
    check(new_ids(env) == [], "then nothing is new")


def test_new_with_concurrent_arrivals_prints_each_story_once(env):
    env.populate("https://c.example/rss", gen_feed(
        env, "c0", [("c%d" % i, "C %d" % i, i) for i in range(5)]))
    files = [gen_feed(env, "c%d" % k, [("k%d-%d" % (k, i),
                                        "K %d %d" % (k, i), k * 10 + i)
                                       for i in range(8)])
             for k in range(1, 9)]
    printed = []
    procs = []
    for i, f in enumerate(files):
        os.makedirs(os.path.dirname(env.db), exist_ok=True)
        procs.append(subprocess.Popen(
            [POPULATE, env.db, "https://c.example/rss", f,
             str(1715000000 + i)], env=env.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        printed += new_ids(env, "--limit", "3")
        printed += new_ids(env, "--limit", "2", "--feed",
                           "https://c.example/rss")
    for p in procs:
        p.wait(60)
    while True:
        got = new_ids(env, "--limit", "4")
        if not got:
            break
        printed += got
    r = env.run("list", "--all", "--json")
    every = [json.loads(line)["id"] for line in r.out.splitlines()]
    check(len(every) == 5 + 8 * 8, "every story stored", len(every))
    check(sorted(printed) == sorted(every),
          "--new printed every story exactly once",
          (len(printed), len(set(printed)), len(every)))


run_tests([
    test_status_shows_index_lag_and_reindex_rebuilds,
    test_postgresql_index_lags_and_search_catches_it_up,
    test_list_piped_is_one_tab_separated_story_a_line,
    test_story_in_two_feeds_is_listed_once_with_both,
    test_new_cursor_advances_and_peek_leaves_it,
    test_new_moves_only_past_what_it_printed,
    test_new_with_concurrent_arrivals_prints_each_story_once,
    test_mark_read_unread_star_unstar,
    test_mark_feed_before_and_all,
    test_list_filters_feed_since_search_limit,
    test_search_is_ranked_full_text,
    test_show_renders_content_as_text,
    test_list_json_is_one_object_a_line,
    test_terminal_table_fits_width_and_colour_obeys_no_color,
    test_terminal_dates_are_relative,
    test_export_json_csv_atom_html,
    test_html_export_of_hostile_content_has_no_script_or_handler,
    test_export_to_unwritable_file_exits_1,
    test_reader_who_may_not_write_still_lists,
])
