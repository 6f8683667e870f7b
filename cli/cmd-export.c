/* gazette export opml|json|csv|atom|html [filters] [-o FILE]. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/date.h"
#include "gazette/export.h"
#include "gazette/opml.h"
#include "gazette/store.h"

/* What one story export carries. */
struct exporting {
	struct export *x;
	int err;
};

/* Write one story. */
static int
export_one(const struct store_story *st, void *arg)
{
	struct exporting *e = arg;

	e->err = export_story(e->x, st);
	return e->err;
}

/* The subscriptions as OPML. */
static int
export_opml(struct store *s, FILE *f)
{
	struct store_feed **v = NULL;
	size_t n = 0;
	int r;

	if (store_feeds(s, &v, &n) < 0) {
		cmd_error("cannot read the feeds: %s", store_errmsg(s));
		return EXIT_ERR;
	}
	r = opml_write(f, v, n, cmd_now());
	store_feeds_free(v, n);
	return r < 0 ? EXIT_ERR : EXIT_OK;
}

/* Stories in one of export.h's formats. */
static int
export_stories(struct store *s, enum export_format fmt,
               const struct store_query *q, const char *title, unsigned flags,
               FILE *f)
{
	struct exporting e = {0};
	int r;

	if (export_begin(f, fmt, title, cmd_now(), flags, &e.x) < 0) {
		cmd_error("out of memory");
		return EXIT_ERR;
	}
	r = store_stories(s, q, export_one, &e);
	if (r >= 0)
		r = export_end(e.x);
	export_free(e.x);
	if (e.err < 0 && e.err != -EIO) {
		cmd_error("cannot export: %s", strerror(-e.err));
		return EXIT_ERR;
	}
	if (r < 0 && e.err == 0 && r != -EIO) {
		cmd_error("cannot read the stories: %s", store_errmsg(s));
		return EXIT_ERR;
	}
	return r < 0 ? EXIT_ERR : EXIT_OK;
}

/* gazette export. */
static int
export_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"unread", no_argument, NULL, 'u'},
	        {"starred", no_argument, NULL, 's'},
	        {"feed", required_argument, NULL, 'f'},
	        {"since", required_argument, NULL, 'S'},
	        {"output", required_argument, NULL, 'o'},
	        {"images", no_argument, NULL, 'i'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct store_query q = {.flags = STORE_Q_CONTENT};
	const char *feed = NULL, *since = NULL, *out = NULL;
	enum export_format fmt = EXPORT_JSON;
	bool opml, filtered = false;
	unsigned flags = 0;
	char qb[QUOTE_MAX];
	struct store *s;
	FILE *f;
	int c, r;

	while ((c = getopt_long(argc, argv, ":usf:S:o:ih", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			q.flags |= STORE_Q_UNREAD;
			filtered = true;
			break;
		case 's':
			q.flags |= STORE_Q_STARRED;
			filtered = true;
			break;
		case 'f':
			feed = optarg;
			filtered = true;
			break;
		case 'S':
			since = optarg;
			filtered = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'i':
			flags |= EXPORT_IMAGES;
			break;
		case 'h':
			return cmd_help(&cmd_export);
		default:
			return cmd_bad_option(&cmd_export, argv, c);
		}
	}
	if (argc - optind != 1)
		return cmd_usage_error(&cmd_export,
		                       "which format: opml, json, csv, atom "
		                       "or html?");
	opml = strcmp(argv[optind], "opml") == 0;
	if (!opml && export_format_parse(argv[optind], &fmt) < 0)
		return cmd_usage_error(
		        &cmd_export, "%s is not opml, json, csv, atom or html",
		        cmd_quote(argv[optind], qb));
	if (opml && filtered)
		return cmd_usage_error(&cmd_export,
		                       "opml exports the subscriptions: the "
		                       "story filters do not apply");
	if ((flags & EXPORT_IMAGES) && fmt != EXPORT_HTML)
		return cmd_usage_error(&cmd_export, "--images goes with html");
	if (since && date_parse_user(since, cmd_now(), &q.since) < 0)
		return cmd_usage_error(&cmd_export,
		                       "--since wants a date (2024-05-01) or "
		                       "an age (3d, 12h), not %s",
		                       cmd_quote(since, qb));
	if (fmt == EXPORT_CSV)
		q.flags &= ~(unsigned)STORE_Q_CONTENT;
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (feed && cmd_feed_find(s, feed, &q.feed_id) != EXIT_OK)
		return EXIT_ERR;
	if (cmd_output_open(out, &f) != EXIT_OK)
		return EXIT_ERR;
	if (opml)
		r = export_opml(s, f);
	else
		r = export_stories(s, fmt, &q, "gazette stories", flags, f);
	return cmd_output_close(out, f, r == EXIT_OK);
}

const struct cmd_entry cmd_export = {
        .name = "export",
        .usage = "opml|json|csv|atom|html [--unread] [--starred] "
                 "[--feed FEED] [--since DATE] [--images] [-o FILE]",
        .summary = "write the subscriptions (opml) or stories "
                   "(json, csv, atom, html)",
        .help = "  --unread         only unread stories\n"
                "  --starred        only starred stories\n"
                "  --feed FEED      only this feed's stories\n"
                "  --since DATE     published since DATE (2024-05-01, 3d)\n"
                "  --images         html: let the page load the stories' "
                "images\n"
                "  -o, --output FILE  write to FILE instead of the standard "
                "output\n",
        .exec = export_exec,
};
