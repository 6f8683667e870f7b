/* Unit tests for gazette.conf: settings, units, feeds, errors. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gazette/config.h"
#include "gazette/store.h"

/* Parse text, expecting success. */
static struct config *
parse_ok(const char *text)
{
	struct config *c = NULL;
	char *err = NULL;
	int r = config_parse_string(text, "t.conf", &c, &err);

	ck_assert_msg(r == 0, "parse failed: %d %s", r, err ? err : "");
	ck_assert_ptr_nonnull(c);
	return c;
}

/* Parse text, expecting failure; returns the message (caller frees). */
static char *
parse_err(const char *text)
{
	struct config *c = NULL;
	char *err = NULL;
	int r = config_parse_string(text, "t.conf", &c, &err);

	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(err);
	return err;
}

/* The message of a failing parse contains want. */
static void
assert_err(const char *text, const char *want)
{
	char *err = parse_err(text);

	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
	free(err);
}

START_TEST(test_empty_file_gives_every_default)
{
	struct config *c = parse_ok("");

	ck_assert_int_eq(c->interval, 1800);
	ck_assert_int_eq(c->min_interval, 300);
	ck_assert_int_eq(c->max_backoff, 86400);
	ck_assert_int_eq(c->max_connections, 32);
	ck_assert_int_eq(c->per_host_connections, 2);
	ck_assert_int_eq(c->timeout, 30);
	ck_assert_int_eq(c->connect_timeout, 15);
	ck_assert_int_eq(c->max_feed_size, 16 * 1024 * 1024);
	ck_assert_int_eq(c->primary_retry, 3600);
	ck_assert_int_eq(c->retention, 90 * 86400);
	ck_assert_int_eq(c->redirect_polls, 3);
	ck_assert_int_eq(c->stall_after_ms, 100);
	ck_assert_int_eq(c->slow_connections, 128);
	ck_assert_ptr_nonnull(strstr(c->user_agent, "gazette/"));
	ck_assert_ptr_nonnull(c->database);
	ck_assert_ptr_nonnull(strstr(c->database, "gazette.db"));
	ck_assert_ptr_nonnull(c->socket);
	ck_assert_uint_eq(c->n_feeds, 0);
	config_free(c);
}
END_TEST

START_TEST(test_absent_file_gives_defaults_unless_required)
{
	struct config *c = NULL;
	char *err = NULL;

	ck_assert_int_eq(config_load("/nonexistent/gazette.conf", 0, &c, &err),
	                 0);
	ck_assert_int_eq(c->interval, 1800);
	ck_assert_ptr_null(c->path);
	config_free(c);
	c = NULL;
	ck_assert_int_eq(config_load("/nonexistent/gazette.conf",
	                             CONFIG_MUST_EXIST, &c, &err),
	                 -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/gazette.conf"));
	free(err);
}
END_TEST

START_TEST(test_every_daemon_setting_is_read)
{
	struct config *c = parse_ok("[daemon]\n"
	                            "database = /tmp/x.db\n"
	                            "socket = /tmp/x.sock\n"
	                            "interval = 15m\n"
	                            "min-interval = 30s\n"
	                            "max-backoff = 2h\n"
	                            "max-connections = 8\n"
	                            "per-host-connections = 3\n"
	                            "timeout = 1m\n"
	                            "connect-timeout = 5s\n"
	                            "low-speed-limit = 1KiB\n"
	                            "low-speed-time = 10s\n"
	                            "max-feed-size = 2MiB\n"
	                            "primary-retry = 2h\n"
	                            "retention = 30d\n"
	                            "redirect-polls = 5\n"
	                            "stall-after = 250ms\n"
	                            "slow-connections = 64\n"
	                            "user-agent = test/1\n");

	ck_assert_str_eq(c->database, "/tmp/x.db");
	ck_assert_str_eq(c->socket, "/tmp/x.sock");
	ck_assert_int_eq(c->interval, 900);
	ck_assert_int_eq(c->min_interval, 30);
	ck_assert_int_eq(c->max_backoff, 7200);
	ck_assert_int_eq(c->max_connections, 8);
	ck_assert_int_eq(c->per_host_connections, 3);
	ck_assert_int_eq(c->timeout, 60);
	ck_assert_int_eq(c->connect_timeout, 5);
	ck_assert_int_eq(c->low_speed_limit, 1024);
	ck_assert_int_eq(c->low_speed_time, 10);
	ck_assert_int_eq(c->max_feed_size, 2 * 1024 * 1024);
	ck_assert_int_eq(c->primary_retry, 7200);
	ck_assert_int_eq(c->retention, 30 * 86400);
	ck_assert_int_eq(c->redirect_polls, 5);
	ck_assert_int_eq(c->stall_after_ms, 250);
	ck_assert_int_eq(c->slow_connections, 64);
	ck_assert_str_eq(c->user_agent, "test/1");
	config_free(c);
}
END_TEST

START_TEST(test_durations_take_units_and_combine)
{
	int64_t v;

	ck_assert_int_eq(config_parse_duration("30s", &v), 0);
	ck_assert_int_eq(v, 30);
	ck_assert_int_eq(config_parse_duration("15m", &v), 0);
	ck_assert_int_eq(v, 900);
	ck_assert_int_eq(config_parse_duration("2h", &v), 0);
	ck_assert_int_eq(v, 7200);
	ck_assert_int_eq(config_parse_duration("1d", &v), 0);
	ck_assert_int_eq(v, 86400);
	ck_assert_int_eq(config_parse_duration("1w", &v), 0);
	ck_assert_int_eq(v, 604800);
	ck_assert_int_eq(config_parse_duration("1h30m", &v), 0);
	ck_assert_int_eq(v, 5400);
	ck_assert_int_eq(config_parse_duration(" 0 ", &v), 0);
	ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(test_bad_durations_are_refused)
{
	int64_t v = 42;

	ck_assert_int_eq(config_parse_duration("30", &v), -EINVAL);
	ck_assert_int_eq(config_parse_duration("", &v), -EINVAL);
	ck_assert_int_eq(config_parse_duration("m", &v), -EINVAL);
	ck_assert_int_eq(config_parse_duration("5x", &v), -EINVAL);
	ck_assert_int_eq(config_parse_duration("-5m", &v), -EINVAL);
	ck_assert_int_eq(config_parse_duration("5m junk", &v), -EINVAL);
	ck_assert_int_eq(config_parse_duration("99999999999999999999s", &v),
	                 -ERANGE);
	ck_assert_int_eq(config_parse_duration("9999999999999999w", &v),
	                 -ERANGE);
	ck_assert_int_eq(v, 42); /* untouched on failure */
}
END_TEST

START_TEST(test_sizes_take_binary_units)
{
	int64_t v;

	ck_assert_int_eq(config_parse_size("512", &v), 0);
	ck_assert_int_eq(v, 512);
	ck_assert_int_eq(config_parse_size("100B", &v), 0);
	ck_assert_int_eq(v, 100);
	ck_assert_int_eq(config_parse_size("64KiB", &v), 0);
	ck_assert_int_eq(v, 65536);
	ck_assert_int_eq(config_parse_size("16 MiB", &v), 0);
	ck_assert_int_eq(v, 16 << 20);
	ck_assert_int_eq(config_parse_size("1GiB", &v), 0);
	ck_assert_int_eq(v, 1 << 30);
	ck_assert_int_eq(config_parse_size("1KB", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("MiB", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("99999999999GiB", &v), -ERANGE);
}
END_TEST

START_TEST(test_feed_with_repeated_mirrors_keeps_their_order)
{
	struct config *c =
	        parse_ok("[feed \"Press TV\"]\n"
	                 "url = https://www.presstv.ir/rss.xml\n"
	                 "mirror = https://www.presstv.co.uk/rss.xml\n"
	                 "mirror = http://m2.example/rss\n"
	                 "interval = 15m\n"
	                 "category = News\n");

	ck_assert_uint_eq(c->n_feeds, 1);
	ck_assert_str_eq(c->feeds[0].name, "Press TV");
	ck_assert_uint_eq(c->feeds[0].n_urls, 3);
	ck_assert_str_eq(c->feeds[0].urls[0].url,
	                 "https://www.presstv.ir/rss.xml");
	ck_assert_str_eq(c->feeds[0].urls[1].url,
	                 "https://www.presstv.co.uk/rss.xml");
	ck_assert_str_eq(c->feeds[0].urls[2].url, "http://m2.example/rss");
	ck_assert_int_eq(c->feeds[0].interval, 900);
	ck_assert_str_eq(c->feeds[0].category, "News");
	ck_assert_ptr_nonnull(config_feed_find(c, "Press TV"));
	ck_assert_ptr_null(config_feed_find(c, "Press"));
	config_free(c);
}
END_TEST

START_TEST(test_proxy_applies_to_the_url_line_just_before_it)
{
	struct config *c = parse_ok("[feed \"F\"]\n"
	                            "mirror = http://a.example/\n"
	                            "proxy = socks5h://127.0.0.1:9050\n"
	                            "url = http://p.example/\n"
	                            "mirror = http://b.example/\n"
	                            "proxy = http://proxy:3128\n");
	const struct config_feed *f = &c->feeds[0];

	/* The url line is the primary wherever it stands. */
	ck_assert_uint_eq(f->n_urls, 3);
	ck_assert_str_eq(f->urls[0].url, "http://p.example/");
	ck_assert_ptr_null(f->urls[0].proxy);
	ck_assert_str_eq(f->urls[1].url, "http://a.example/");
	ck_assert_str_eq(f->urls[1].proxy, "socks5h://127.0.0.1:9050");
	ck_assert_str_eq(f->urls[2].url, "http://b.example/");
	ck_assert_str_eq(f->urls[2].proxy, "http://proxy:3128");
	config_free(c);
}
END_TEST

START_TEST(test_errors_name_file_and_line)
{
	assert_err("[daemon]\n\ninterval = soon\n",
	           "t.conf:3: bad duration 'soon' for interval");
	assert_err("[daemon]\nfrobs = 1\n", "t.conf:2: unknown key 'frobs'");
	assert_err("# x\n[feed \"A\"]\ninterval = 5m\n[daemon]\n",
	           "t.conf:2: feed \"A\" without url");
	assert_err("[feed \"A\"]\nurl = ftp://x.example/f\n",
	           "t.conf:2: 'ftp://x.example/f' is not an http");
	assert_err("[feed \"A\"]\nurl = file:///etc/passwd\n", "t.conf:2:");
	assert_err("[feed \"A\"]\nurl = http://a/\nmirror = gopher://b/\n",
	           "t.conf:3:");
	assert_err("[daemon]\nmax-feed-size = 3 potatoes\n",
	           "t.conf:2: bad size");
	assert_err("[feed \"A\"]\nproxy = socks5h://h:1\nurl = http://a/\n",
	           "t.conf:2: proxy before any url");
	assert_err("[feed \"A\"]\nurl = http://a/\nproxy = smtp://x\n",
	           "t.conf:2: bad proxy");
	assert_err("interval = 5m\n", "t.conf:1: setting 'interval' outside");
	assert_err("[daemon]\n[feeds]\n", "t.conf:2: unknown section");
	assert_err("[feed A]\nurl = http://a/\n", "t.conf:1: bad section");
	assert_err("[feed \"A\"]\nurl = http://a/\n[feed \"A\"]\n"
	           "url = http://b/\n",
	           "t.conf:3: feed \"A\" declared twice (first on line 1)");
	assert_err("[feed \"A\"]\nurl = http://a/\nurl = http://b/\n",
	           "t.conf:3: second url line");
	assert_err("[daemon]\njust words\n", "t.conf:2: syntax error");
	assert_err("[daemon]\nmax-connections = 0\n", "t.conf:2: bad number");
	assert_err("[daemon]\nmax-connections = 2\n"
	           "per-host-connections = 4\n",
	           "per-host-connections is above max-connections");
}
END_TEST

START_TEST(test_comments_indentation_and_long_lines_are_fine)
{
	char *text, url[400];
	struct config *c;

	memset(url, 'x', sizeof(url));
	memcpy(url, "http://long.example/", 20);
	url[sizeof(url) - 1] = '\0';
	ck_assert_int_gt(asprintf(&text,
	                          "; a comment\n"
	                          "# another\n"
	                          "[feed \"L\"]\n"
	                          "\turl = %s\n"
	                          "  interval = 1h ; trailing comment\n",
	                          url),
	                 0);
	c = parse_ok(text);
	ck_assert_str_eq(c->feeds[0].urls[0].url, url);
	ck_assert_int_eq(c->feeds[0].interval, 3600);
	config_free(c);
	free(text);
}
END_TEST

START_TEST(test_load_reads_a_file)
{
	char path[] = "/tmp/check-config-XXXXXX";
	int fd = mkstemp(path);
	struct config *c = NULL;
	char *err = NULL;
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("[daemon]\ninterval = 1h\n[feed \"X\"]\nurl = http://x/\n", f);
	fclose(f);
	ck_assert_int_eq(config_load(path, CONFIG_MUST_EXIST, &c, &err), 0);
	ck_assert_str_eq(c->path, path);
	ck_assert_int_eq(c->interval, 3600);
	ck_assert_uint_eq(c->n_feeds, 1);
	config_free(c);
	unlink(path);
}
END_TEST

START_TEST(test_store_specs_carry_urls_and_proxies)
{
	struct config *c =
	        parse_ok("[feed \"A\"]\nurl = http://a/\n"
	                 "mirror = http://m/\nproxy = socks5h://t:1\n"
	                 "interval = 2h\ncategory = C\n"
	                 "[feed \"B\"]\nurl = https://b/\n");
	struct store_feed_spec *v = NULL;
	size_t n = 0;

	ck_assert_int_eq(config_store_specs(c, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].title, "A");
	ck_assert_str_eq(v[0].category, "C");
	ck_assert_int_eq(v[0].interval, 7200);
	ck_assert(v[0].from_config);
	ck_assert_uint_eq(v[0].n_urls, 2);
	ck_assert_str_eq(v[0].urls[1], "http://m/");
	ck_assert_ptr_null(v[0].proxies[0]);
	ck_assert_str_eq(v[0].proxies[1], "socks5h://t:1");
	ck_assert_str_eq(v[1].urls[0], "https://b/");
	config_store_specs_free(v, n);
	config_free(c);
}
END_TEST

START_TEST(test_durations_format_as_they_parse)
{
	static const int64_t v[] = {
	        0, 1, 59, 60, 900, 5400, 86400, 90061, 7 * 86400 + 3600};
	char buf[64];

	ck_assert_str_eq(config_format_duration(5400, buf, sizeof(buf)),
	                 "1h30m");
	ck_assert_str_eq(config_format_duration(900, buf, sizeof(buf)), "15m");
	ck_assert_str_eq(config_format_duration(0, buf, sizeof(buf)), "0s");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int64_t back = -1;

		config_format_duration(v[i], buf, sizeof(buf));
		ck_assert_int_eq(config_parse_duration(buf, &back), 0);
		ck_assert_int_eq(back, v[i]);
	}
}
END_TEST

START_TEST(test_doh_applies_to_the_url_line_just_before_it)
{
	struct config *c = parse_ok("[feed \"A\"]\n"
	                            "url = https://a.example/rss\n"
	                            "mirror = https://m.example/rss\n"
	                            "doh = https://127.0.0.1:8443/dns-query\n"
	                            "proxy = socks5h://127.0.0.1:9050\n");
	const struct config_feed *f = &c->feeds[0];
	struct store_feed_spec *specs = NULL;
	size_t n = 0;

	ck_assert_ptr_null(f->urls[0].doh);
	ck_assert_str_eq(f->urls[1].doh, "https://127.0.0.1:8443/dns-query");
	ck_assert_str_eq(f->urls[1].proxy, "socks5h://127.0.0.1:9050");
	ck_assert_int_eq(config_store_specs(c, &specs, &n), 0);
	ck_assert_ptr_null(specs[0].dohs[0]);
	ck_assert_str_eq(specs[0].dohs[1], "https://127.0.0.1:8443/dns-query");
	config_store_specs_free(specs, n);
	config_free(c);
}
END_TEST

START_TEST(test_resolve_pins_per_feed_and_globally)
{
	struct config *c =
	        parse_ok("[daemon]\n"
	                 "ca-file = /tmp/ca.pem\n"
	                 "resolve = news.example:443:192.0.2.1\n"
	                 "resolve = other.example:80:[2001:db8::1],192.0.2.9\n"
	                 "[feed \"A\"]\n"
	                 "resolve = a.example:443:127.0.0.1\n"
	                 "url = https://a.example/rss\n"
	                 "resolve = a.example:8443:::1\n");
	const struct config_feed *f = &c->feeds[0];
	struct store_feed_spec *specs = NULL;
	size_t n = 0;

	ck_assert_str_eq(c->ca_file, "/tmp/ca.pem");
	ck_assert_uint_eq(c->n_resolve, 2);
	ck_assert_str_eq(c->resolve[1],
	                 "other.example:80:[2001:db8::1],192.0.2.9");
	ck_assert_uint_eq(f->n_resolve, 2);
	ck_assert_str_eq(f->resolve[0], "a.example:443:127.0.0.1");
	ck_assert_str_eq(f->resolve_text,
	                 "a.example:443:127.0.0.1\na.example:8443:::1");
	ck_assert_int_eq(config_store_specs(c, &specs, &n), 0);
	ck_assert_str_eq(specs[0].resolve, f->resolve_text);
	config_store_specs_free(specs, n);
	config_free(c);
	c = parse_ok("[feed \"B\"]\nurl = http://b/\n");
	ck_assert_ptr_null(c->feeds[0].resolve_text);
	ck_assert_ptr_null(c->ca_file);
	config_free(c);
}
END_TEST

START_TEST(test_bad_proxy_doh_and_resolve_name_the_line)
{
	assert_err("[feed \"A\"]\nurl = http://a/\nproxy = ftp://p:21\n",
	           "t.conf:2: bad proxy 'ftp://p:21'");
	assert_err("[feed \"A\"]\nurl = http://a/\n\ndoh = dns.example\n",
	           "t.conf:4: bad doh 'dns.example'");
	assert_err("[feed \"A\"]\nurl = http://a/\ndoh = http://dns/q\n",
	           "t.conf:3: bad doh");
	assert_err("[feed \"A\"]\nurl = http://a/\ndoh = https://\n",
	           "t.conf:3: bad doh");
	assert_err("[feed \"A\"]\ndoh = https://d/q\nurl = http://a/\n",
	           "t.conf:2: doh before any url");
	assert_err("[feed \"A\"]\nurl = http://a/\ndoh = https://d/q\n"
	           "doh = https://e/q\n",
	           "t.conf:4: second doh");
	assert_err("[feed \"A\"]\nurl = http://a/\nresolve = a:80\n",
	           "t.conf:3: bad resolve 'a:80'");
	assert_err("[daemon]\nresolve = a:99999:127.0.0.1\n",
	           "t.conf:2: bad resolve");
	assert_err("[daemon]\nresolve = a:80:not-an-address\n",
	           "t.conf:2: bad resolve");
	assert_err("[daemon]\nresolve = -a:80:127.0.0.1\n",
	           "t.conf:2: bad resolve");
	assert_err("[daemon]\nresolve = a:80:127.0.0.1,\n",
	           "t.conf:2: bad resolve");
}
END_TEST

START_TEST(test_resolve_and_doh_checks_alone)
{
	ck_assert_int_eq(config_check_resolve("h:1:127.0.0.1"), 0);
	ck_assert_int_eq(config_check_resolve("h:443:[::1]"), 0);
	ck_assert_int_eq(config_check_resolve("h:443:::1,10.0.0.1"), 0);
	ck_assert_int_eq(config_check_resolve(":443:10.0.0.1"), -EINVAL);
	ck_assert_int_eq(config_check_resolve("h:0:10.0.0.1"), -EINVAL);
	ck_assert_int_eq(config_check_resolve("h :80:10.0.0.1"), -EINVAL);
	ck_assert_int_eq(config_check_resolve("h:80:"), -EINVAL);
	ck_assert_int_eq(config_check_resolve(NULL), -EINVAL);
	ck_assert(config_check_doh("https://1.1.1.1/dns-query"));
	ck_assert(!config_check_doh("http://1.1.1.1/dns-query"));
	ck_assert(!config_check_doh("not a url"));
	ck_assert(!config_check_doh(NULL));
}
END_TEST

START_TEST(test_keep_unread_and_max_stories_globally_and_per_feed)
{
	struct config *c = parse_ok("[daemon]\n"
	                            "keep-unread = 90d\n"
	                            "max-stories = 500\n"
	                            "retention = forever\n"
	                            "[feed \"A\"]\n"
	                            "url = https://a.example/rss\n"
	                            "keep-unread = forever\n"
	                            "[feed \"B\"]\n"
	                            "url = https://b.example/rss\n"
	                            "max-stories = 0\n"
	                            "keep-unread = 2w\n"
	                            "[feed \"C\"]\n"
	                            "url = https://c.example/rss\n");
	struct store_purge_rules r = {0};

	ck_assert_int_eq(c->keep_unread, 90 * 86400);
	ck_assert_int_eq(c->max_stories, 500);
	ck_assert_int_eq(c->retention, 0);
	ck_assert_int_eq(c->feeds[0].keep_unread, 0);
	ck_assert_int_eq(c->feeds[0].max_stories, -1);
	ck_assert_int_eq(c->feeds[1].keep_unread, 14 * 86400);
	ck_assert_int_eq(c->feeds[1].max_stories, 0);
	ck_assert_int_eq(c->feeds[2].keep_unread, -1);
	ck_assert_int_eq(c->feeds[2].max_stories, -1);

	ck_assert_int_eq(config_purge_rules(c, 1000000000, &r), 0);
	ck_assert_int_eq(r.now, 1000000000);
	ck_assert_int_eq(r.read_before, 0); /* retention = forever */
	ck_assert_int_eq(r.keep_unread, 90 * 86400);
	ck_assert_int_eq(r.max_stories, 500);
	ck_assert_uint_eq(r.n_feeds, 2); /* C takes the defaults */
	ck_assert_str_eq(r.feeds[0].title, "A");
	ck_assert_int_eq(r.feeds[0].keep_unread, 0);
	ck_assert_int_eq(r.feeds[0].max_stories, STORE_PURGE_DEFAULT);
	ck_assert_str_eq(r.feeds[1].title, "B");
	ck_assert_int_eq(r.feeds[1].keep_unread, 14 * 86400);
	ck_assert_int_eq(r.feeds[1].max_stories, 0);
	config_purge_rules_clear(&r);
	config_free(c);

	/* The defaults: unread and the number of stories kept forever. */
	c = parse_ok("");
	ck_assert_int_eq(c->keep_unread, 0);
	ck_assert_int_eq(c->max_stories, 0);
	ck_assert_int_eq(config_purge_rules(c, 1000000000, &r), 0);
	ck_assert_int_eq(r.read_before, 1000000000 - 90 * 86400);
	ck_assert_int_eq(r.keep_unread + r.max_stories, 0);
	ck_assert_uint_eq(r.n_feeds, 0);
	config_purge_rules_clear(&r);
	config_free(c);
}
END_TEST

START_TEST(test_bad_keep_unread_and_max_stories_name_the_line)
{
	assert_err("[daemon]\nkeep-unread = 90\n",
	           "t.conf:2: bad duration '90' for keep-unread");
	assert_err("[daemon]\nkeep-unread = never\n",
	           "t.conf:2: bad duration 'never' for keep-unread");
	assert_err("[daemon]\n\nmax-stories = -1\n",
	           "t.conf:3: bad number '-1' for max-stories");
	assert_err("[daemon]\nmax-stories = 10k\n",
	           "t.conf:2: bad number '10k' for max-stories (0 for no "
	           "limit");
	assert_err("[daemon]\nmax-stories = 999999999999\n",
	           "t.conf:2: bad number");
	assert_err("[feed \"A\"]\nurl = http://a/\nkeep-unread = 3 days\n",
	           "t.conf:3: bad duration '3 days' for keep-unread");
	assert_err("[feed \"A\"]\nurl = http://a/\nmax-stories = many\n",
	           "t.conf:3: bad number 'many' for max-stories");
	assert_err("[daemon]\nretention = always\n",
	           "t.conf:2: bad duration 'always' for retention");
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, test_empty_file_gives_every_default);
	tcase_add_test(tc, test_absent_file_gives_defaults_unless_required);
	tcase_add_test(tc, test_every_daemon_setting_is_read);
	tcase_add_test(tc, test_durations_take_units_and_combine);
	tcase_add_test(tc, test_bad_durations_are_refused);
	tcase_add_test(tc, test_durations_format_as_they_parse);
	tcase_add_test(tc, test_sizes_take_binary_units);
	tcase_add_test(tc, test_feed_with_repeated_mirrors_keeps_their_order);
	tcase_add_test(tc, test_proxy_applies_to_the_url_line_just_before_it);
	tcase_add_test(tc, test_errors_name_file_and_line);
	tcase_add_test(tc, test_comments_indentation_and_long_lines_are_fine);
	tcase_add_test(tc, test_load_reads_a_file);
	tcase_add_test(tc, test_store_specs_carry_urls_and_proxies);
	tcase_add_test(tc, test_doh_applies_to_the_url_line_just_before_it);
	tcase_add_test(tc, test_resolve_pins_per_feed_and_globally);
	tcase_add_test(tc, test_bad_proxy_doh_and_resolve_name_the_line);
	tcase_add_test(tc, test_resolve_and_doh_checks_alone);
	tcase_add_test(tc,
	               test_keep_unread_and_max_stories_globally_and_per_feed);
	tcase_add_test(tc, test_bad_keep_unread_and_max_stories_name_the_line);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
