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

/* A feed as a JSON object. */
static struct json_object *
feed_json(const struct store_feed *f, int64_t now)
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
		json_object_array_add(urls, uo);
	}
	json_object_object_add(o, "urls", urls);
	return o;
}

/* A feed for people: a line, then its URLs. */
static void
feed_text(const struct store_feed *f, int64_t now, bool color)
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
		free(url);
	}
}

/* gazette feeds [--json]. */
static int
feeds_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct store_feed **v = NULL;
	bool json = false, color;
	char q[QUOTE_MAX];
	struct store *s;
	int64_t now = cmd_now();
	size_t n = 0;
	int c;

	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
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
			struct json_object *o = feed_json(v[i], now);

			puts(json_object_to_json_string_ext(
			        o, JSON_C_TO_STRING_PLAIN |
			                   JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		} else {
			feed_text(v[i], now, color);
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
        .usage = "[--json]",
        .summary =
                "list subscriptions with their state, unread counts and URLs",
        .help = "  --json  one JSON object per feed and line\n",
        .exec = feeds_exec,
};
