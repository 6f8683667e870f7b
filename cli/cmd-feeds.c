/* gazette feeds: every subscription with its state and its URLs. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cmd.h"
#include "gazette/config.h"
#include "gazette/date.h"
#include "gazette/store.h"

/* A time for people: local "YYYY-MM-DD HH:MM". */
static void
when(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, size, "%" PRId64, t);
}

/* The state of a feed in words. */
static void
feed_state(const struct store_feed *f, int64_t now, char *buf, size_t size)
{
	const struct store_url *last = NULL; /* the URL tried last */
	char t[64];

	for (size_t i = 0; i < f->n_urls; i++)
		if (f->urls[i].last_tried &&
		    (!last || f->urls[i].last_tried > last->last_tried))
			last = &f->urls[i];
	if (f->disabled) {
		snprintf(buf, size, "disabled%s%s",
		         f->disabled_reason ? ": " : "",
		         f->disabled_reason ? f->disabled_reason : "");
	} else if (f->retry_after > now) {
		when(f->retry_after, t, sizeof(t));
		snprintf(buf, size, "backing off until %s", t);
	} else if (f->failing_since) {
		when(f->failing_since, t, sizeof(t));
		snprintf(buf, size, "failing since %s", t);
	} else if (!last) {
		snprintf(buf, size, "not polled yet");
	} else if (last->last_error && last->last_ok < last->last_tried) {
		/* failed, and not counted: the network seemed down */
		when(last->last_tried, t, sizeof(t));
		snprintf(buf, size,
		         "unreachable %s, not counted as failing (the network "
		         "seemed down): %s",
		         t, last->last_error);
	} else {
		snprintf(buf, size, "ok");
	}
}

/* What retention took out of a feed, as JSON, or NULL when unknown. */
static struct json_object *
purged_json(struct store *s, int64_t feed)
{
	struct store_purge_counts c;
	struct json_object *o;

	if (store_purge_totals(s, feed, &c) < 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "read", json_object_new_int64(c.read));
	json_object_object_add(o, "unread", json_object_new_int64(c.unread));
	json_object_object_add(o, "over_limit",
	                       json_object_new_int64(c.over_limit));
	return o;
}

/* A feed as a JSON object. */
static struct json_object *
feed_json(struct store *s, const struct store_feed *f, int64_t now)
{
	struct json_object *o = json_object_new_object();
	struct json_object *urls = json_object_new_array();
	char state[512], d[DATE_RFC3339_LEN];

	feed_state(f, now, state, sizeof(state));
	json_object_object_add(o, "id", json_object_new_int64(f->id));
	json_object_object_add(
	        o, "title", f->title ? json_object_new_string(f->title) : NULL);
	json_object_object_add(o, "category",
	                       f->category ? json_object_new_string(f->category)
	                                   : NULL);
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "disabled",
	                       json_object_new_boolean(f->disabled));
	json_object_object_add(o, "interval",
	                       json_object_new_int64(f->interval));
	json_object_object_add(o, "error_count",
	                       json_object_new_int(f->error_count));
	if (f->failing_since) {
		date_format(f->failing_since, d);
		json_object_object_add(o, "failing_since",
		                       json_object_new_string(d));
	}
	if (f->retry_after > now) {
		date_format(f->retry_after, d);
		json_object_object_add(o, "retry_after",
		                       json_object_new_string(d));
	}
	json_object_object_add(o, "unread", json_object_new_int64(f->unread));
	json_object_object_add(o, "total", json_object_new_int64(f->total));
	json_object_object_add(o, "purged", purged_json(s, f->id));
	json_object_object_add(o, "last_served",
	                       json_object_new_int(f->last_served));
	for (size_t i = 0; i < f->n_urls; i++) {
		const struct store_url *u = &f->urls[i];
		struct json_object *uo = json_object_new_object();

		json_object_object_add(uo, "url",
		                       json_object_new_string(u->url));
		json_object_object_add(uo, "mirror",
		                       json_object_new_boolean(i > 0));
		if (u->proxy)
			json_object_object_add(
			        uo, "proxy", json_object_new_string(u->proxy));
		json_object_object_add(
		        uo, "served_last",
		        json_object_new_boolean((int)i == f->last_served));
		json_object_object_add(uo, "last_status",
		                       json_object_new_int(u->last_status));
		if (u->last_error)
			json_object_object_add(
			        uo, "last_error",
			        json_object_new_string(u->last_error));
		if (u->last_ok) {
			date_format(u->last_ok, d);
			json_object_object_add(uo, "last_ok",
			                       json_object_new_string(d));
		}
		if (u->moved_from)
			json_object_object_add(
			        uo, "moved_from",
			        json_object_new_string(u->moved_from));
		if (u->fail_kind && u->last_error)
			json_object_object_add(
			        uo, "failure_kind",
			        json_object_new_string(u->fail_kind));
		if (u->doh)
			json_object_object_add(uo, "doh",
			                       json_object_new_string(u->doh));
		if (u->via)
			json_object_object_add(uo, "via",
			                       json_object_new_string(u->via));
		if (u->last_ip)
			json_object_object_add(
			        uo, "last_address",
			        json_object_new_string(u->last_ip));
		if (u->good_addrs)
			json_object_object_add(
			        uo, "remembered_addresses",
			        json_object_new_string(u->good_addrs));
		json_object_object_add(
		        uo, "diverged",
		        json_object_new_boolean(u->diverged ==
		                                STORE_DIVERGED_YES));
		json_object_array_add(urls, uo);
	}
	json_object_object_add(o, "urls", urls);
	return o;
}

/* A span of seconds for people: "in 5m", "now". */
static void
span(int64_t secs, char *buf, size_t size)
{
	char d[32];

	if (secs <= 0)
		snprintf(buf, size, "now");
	else
		snprintf(buf, size, "in %s",
		         config_format_duration(secs, d, sizeof(d)));
}

/* When URL i of f is tried next: the feed's next poll, or the probe. */
static int64_t
url_next_try(const struct store_feed *f, size_t i, int64_t primary_retry)
{
	int64_t due =
	        f->next_poll > f->retry_after ? f->next_poll : f->retry_after;

	/* A mirror is preferred: the primary waits for its re-probe. */
	if (i == 0 && f->preferred != 0) {
		int64_t probe = f->primary_probe + primary_retry;

		if (probe > due)
			due = probe;
	}
	return due;
}

/* The -v lines of one URL: status, kind, success, next try, route. */
static void
url_verbose(const struct store_feed *f, size_t i, int64_t now,
            int64_t primary_retry)
{
	const struct store_url *u = &f->urls[i];
	char t[64], n[64];

	if (u->last_tried) {
		when(u->last_tried, t, sizeof(t));
		printf("            last try %s: %s", t,
		       u->last_error ? "failed" : "served");
		if (u->last_status)
			printf(", HTTP %d", u->last_status);
		if (u->last_error && u->fail_kind) {
			char *k = cmd_clean(u->fail_kind);

			printf(", failure: %s", k);
			free(k);
		}
		putchar('\n');
	}
	if (u->last_ok) {
		when(u->last_ok, t, sizeof(t));
		printf("            last success %s\n", t);
	} else if (u->last_tried) {
		printf("            never served\n");
	}
	if (!f->disabled) {
		span(url_next_try(f, i, primary_retry) - now, n, sizeof(n));
		printf("            next try %s\n", n);
	}
	if (u->via || u->doh || u->last_ip) {
		char *via = cmd_clean(u->via ? u->via : "");
		char *doh = cmd_clean(u->doh ? u->doh : "");
		char *ip = cmd_clean(u->last_ip ? u->last_ip : "");

		printf("            via %s%s%s%s%s\n",
		       u->via ? via : (u->doh ? "doh " : "direct"),
		       u->via ? "" : doh, u->last_ip ? " (reached " : "", ip,
		       u->last_ip ? ")" : "");
		free(via);
		free(doh);
		free(ip);
	}
	if (u->good_addrs) {
		char *a = cmd_clean(u->good_addrs);

		printf("            remembered %s\n", a);
		free(a);
	}
	if (u->diverged == STORE_DIVERGED_YES)
		printf("            diverged: shares no story with the primary; "
		       "not merged (gazette mirror accept to take it)\n");
	else if (u->diverged == STORE_DIVERGED_ACCEPTED)
		printf("            accepted as the same feed\n");
}

/* The resolve pins and suggested mirrors of a feed, for -v. */
static void
feed_verbose(struct store *s, const struct store_feed *f)
{
	struct store_suggestion *v = NULL;
	struct store_purge_counts c;
	size_t n = 0;

	if (store_purge_totals(s, f->id, &c) == 0 &&
	    c.read + c.unread + c.over_limit > 0)
		printf("    purged %" PRId64 " (read %" PRId64
		       ", unread %" PRId64 ", over limit %" PRId64 ")\n",
		       c.read + c.unread + c.over_limit, c.read, c.unread,
		       c.over_limit);
	if (f->resolve) {
		char *r = cmd_clean(f->resolve);

		for (char *line = strtok(r, "\n"); line;
		     line = strtok(NULL, "\n"))
			printf("    resolve %s\n", line);
		free(r);
	}
	if (store_suggestions(s, f->id, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *u = cmd_clean(v[i].url);
		char *src = cmd_clean(v[i].source);
		char t[64];

		when(v[i].first_seen, t, sizeof(t));
		printf("    suggested mirror %s (%s, first seen %s)\n", u, src,
		       t);
		free(u);
		free(src);
	}
	store_suggestions_free(v, n);
}

/* A feed for people: a line, then its URLs. */
static void
feed_text(struct store *s, const struct store_feed *f, int64_t now, bool color,
          bool verbose, int64_t primary_retry)
{
	char state[512];
	char *title = cmd_clean(f->title ? f->title : f->urls[0].url);
	char *st;

	feed_state(f, now, state, sizeof(state));
	st = cmd_clean(state);
	printf("%s%" PRId64 "%s  %s%s%s  [%s]  %" PRId64 " unread of %" PRId64
	       "\n",
	       color ? "\033[2m" : "", f->id, color ? "\033[0m" : "",
	       color ? "\033[1m" : "", title, color ? "\033[0m" : "", st,
	       f->unread, f->total);
	if (f->category || f->interval) {
		char *cat = cmd_clean(f->category ? f->category : "");

		printf("    %s%s", f->category ? "category " : "", cat);
		if (f->interval) {
			char d[32];

			printf("%sinterval %s", f->category ? ", " : "",
			       config_format_duration(f->interval, d,
			                              sizeof(d)));
		}
		putchar('\n');
		free(cat);
	}
	free(title);
	free(st);
	for (size_t i = 0; i < f->n_urls; i++) {
		const struct store_url *u = &f->urls[i];
		char *url = cmd_clean(u->url);

		printf("    %-7s %s%s%s%s\n", i ? "mirror" : "url", url,
		       u->proxy ? " (proxy " : "", u->proxy ? u->proxy : "",
		       u->proxy ? ")" : "");
		if ((int)i == f->last_served)
			printf("            served last%s\n",
			       i > 0 ? " (a mirror)" : "");
		if (u->last_error) {
			char *e = cmd_clean(u->last_error);

			if (u->last_status)
				printf("            last error: %s (HTTP %d)\n",
				       e, u->last_status);
			else
				printf("            last error: %s\n", e);
			free(e);
		}
		if (u->moved_from) {
			char *m = cmd_clean(u->moved_from);

			printf("            moved from %s\n", m);
			free(m);
		}
		if (verbose)
			url_verbose(f, i, now, primary_retry);
		free(url);
	}
	if (verbose)
		feed_verbose(s, f);
}

/* gazette feeds [--json]. */
static int
feeds_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct store_feed **v = NULL;
	bool json = false, verbose = false, color;
	int64_t primary_retry = 3600;
	struct config *cfg;
	char q[QUOTE_MAX];
	struct store *s;
	int64_t now = cmd_now();
	size_t n = 0;
	int c;

	while ((c = getopt_long(argc, argv, ":jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			return cmd_help(&cmd_feeds);
		default:
			return cmd_bad_option(&cmd_feeds, argv, c);
		}
	}
	if (optind < argc)
		return cmd_usage_error(&cmd_feeds, "unexpected argument %s",
		                       cmd_quote(argv[optind], q));
	if (verbose && !json) {
		cfg = cmd_config(ctx);
		if (cfg == NULL)
			return EXIT_ERR;
		primary_retry = cfg->primary_retry;
	}
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (store_feeds(s, &v, &n) < 0) {
		cmd_error("cannot list the feeds: %s", store_errmsg(s));
		return EXIT_ERR;
	}
	color = cmd_use_color();
	for (size_t i = 0; i < n; i++) {
		if (v[i]->n_urls == 0)
			continue;
		if (json) {
			struct json_object *o = feed_json(s, v[i], now);

			puts(json_object_to_json_string_ext(
			        o, JSON_C_TO_STRING_PLAIN |
			                   JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		} else {
			feed_text(s, v[i], now, color, verbose, primary_retry);
		}
	}
	if (n == 0 && !json && cmd_is_tty())
		puts("No feeds yet: 'gazette add URL' or 'gazette import "
		     "FILE.opml'.");
	store_feeds_free(v, n);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_ERR;
}

const struct cmd_entry cmd_feeds = {
        .name = "feeds",
        .usage = "[-v|--verbose] [--json]",
        .summary =
                "list subscriptions with their state, unread counts and URLs",
        .help = "  -v, --verbose  per URL: last status and failure kind, "
                "last success, next try,\n"
                "                 proxy or resolver, remembered addresses, "
                "diverged; suggested mirrors; what retention purged\n"
                "  --json         one JSON object per feed and line\n",
        .exec = feeds_exec,
};
