/* gazette mark read|unread|star|unstar ID... | --feed FEED | --all. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/date.h"
#include "gazette/store.h"

/* The mark named on the command line. */
static bool
mark_parse(const char *s, enum store_mark *ret)
{
	static const struct {
		const char *name;
		enum store_mark m;
	} marks[] = {
	        {"read", STORE_MARK_READ},
	        {"unread", STORE_MARK_UNREAD},
	        {"star", STORE_MARK_STAR},
	        {"unstar", STORE_MARK_UNSTAR},
	};

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		if (strcmp(s, marks[i].name) == 0) {
			*ret = marks[i].m;
			return true;
		}
	}
	return false;
}

/* gazette mark. */
static int
mark_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"feed", required_argument, NULL, 'f'},
	        {"all", no_argument, NULL, 'a'},
	        {"before", required_argument, NULL, 'b'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *feed = NULL, *before_s = NULL;
	int64_t before = 0, feed_id = 0;
	enum store_mark m;
	bool all = false;
	char q[QUOTE_MAX];
	struct store *s;
	int c, r, status = EXIT_OK;

	while ((c = getopt_long(argc, argv, ":f:ab:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			feed = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'b':
			before_s = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_mark);
		default:
			return cmd_bad_option(&cmd_mark, argv, c);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(&cmd_mark,
		                       "read, unread, star or unstar?");
	if (!mark_parse(argv[optind], &m))
		return cmd_usage_error(&cmd_mark,
		                       "%s is not read, unread, star or unstar",
		                       cmd_quote(argv[optind], q));
	optind++;
	if ((feed || all) == (optind < argc))
		return cmd_usage_error(&cmd_mark, "give story ids, or --feed "
		                                  "FEED, or --all");
	if (feed && all)
		return cmd_usage_error(&cmd_mark,
		                       "--feed and --all exclude each other");
	if (before_s && !(feed || all))
		return cmd_usage_error(&cmd_mark,
		                       "--before goes with --feed or --all");
	if (before_s && date_parse_user(before_s, cmd_now(), &before) < 0)
		return cmd_usage_error(&cmd_mark,
		                       "--before wants a date (2024-05-01) or "
		                       "an age (3d, 12h), not %s",
		                       cmd_quote(before_s, q));
	for (int i = optind; i < argc; i++) {
		int64_t id;

		if (!cmd_parse_id(argv[i], &id))
			return cmd_usage_error(&cmd_mark,
			                       "%s is not a story id",
			                       cmd_quote(argv[i], q));
	}
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (feed || all) {
		if (feed && cmd_feed_find(s, feed, &feed_id) != EXIT_OK)
			return EXIT_ERR;
		r = store_mark_feed(s, feed_id, before, m);
		if (r < 0) {
			cmd_error("cannot mark: %s", store_errmsg(s));
			return EXIT_ERR;
		}
		if (cmd_is_tty())
			printf("%d %s changed\n", r,
			       r == 1 ? "story" : "stories");
		return EXIT_OK;
	}
	for (int i = optind; i < argc; i++) {
		int64_t id = 0;

		cmd_parse_id(argv[i], &id);
		r = store_mark_story(s, id, m);
		if (r == -ENOENT) {
			cmd_error("no story %" PRId64, id);
			status = EXIT_ERR;
		} else if (r < 0) {
			cmd_error("cannot mark story %" PRId64 ": %s", id,
			          store_errmsg(s));
			return EXIT_ERR;
		}
	}
	return status;
}

const struct cmd_entry cmd_mark = {
        .name = "mark",
        .usage = "read|unread|star|unstar (ID... | --feed FEED | --all) "
                 "[--before DATE]",
        .summary = "mark stories read, unread, starred or not",
        .help = "  --feed FEED    every story of this feed\n"
                "  --all          every story\n"
                "  --before DATE  with --feed or --all: only stories published "
                "before DATE (2024-05-01, 3d, 12h)\n",
        .exec = mark_exec,
};
