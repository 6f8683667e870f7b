/* gazette search QUERY: full-text search over every story, ranked. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/store.h"
#include "gazette/xalloc.h"

/* gazette search [--feed FEED] [--limit N] [--json] QUERY... */
static int
search_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"feed", required_argument, NULL, 'f'},
	        {"limit", required_argument, NULL, 'l'},
	        {"unread", no_argument, NULL, 'u'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct store_query q = {0};
	const char *feed = NULL;
	bool json = false;
	char qb[QUOTE_MAX], *query;
	struct store *s;
	size_t len = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, ":f:l:ujh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			feed = optarg;
			break;
		case 'l':
			if (!cmd_parse_count(optarg, INT32_MAX, &q.limit))
				return cmd_usage_error(
				        &cmd_search,
				        "--limit wants a positive number, "
				        "not %s",
				        cmd_quote(optarg, qb));
			break;
		case 'u':
			q.flags |= STORE_Q_UNREAD;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cmd_help(&cmd_search);
		default:
			return cmd_bad_option(&cmd_search, argv, c);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(&cmd_search,
		                       "what should I search for?");
	/* the words of the query, as one */
	for (int i = optind; i < argc; i++)
		len += strlen(argv[i]) + 1;
	query = xmalloc(len);
	query[0] = '\0';
	for (int i = optind; i < argc; i++) {
		if (i > optind)
			strcat(query, " ");
		strcat(query, argv[i]);
	}
	q.search = query;
	s = cmd_store(ctx);
	if (s == NULL) {
		free(query);
		return EXIT_ERR;
	}
	if (feed && cmd_feed_find(s, feed, &q.feed_id) != EXIT_OK) {
		free(query);
		return EXIT_ERR;
	}
	r = list_print(ctx, s, &q, json, NULL);
	free(query);
	return r;
}

const struct cmd_entry cmd_search = {
        .name = "search",
        .usage = "[--feed FEED] [--unread] [--limit N] [--json] QUERY...",
        .summary = "full-text search, best matches first",
        .help = "  --feed FEED  only this feed\n"
                "  --unread     only unread stories\n"
                "  --limit N    at most N stories\n"
                "  --json       one JSON object per line\n"
                "\nEvery word of QUERY must appear; a trailing * matches a "
                "prefix.\n",
        .exec = search_exec,
};
