/* gazette mirror add|remove FEED URL: a feed's other addresses. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/store.h"
#include "gazette/url.h"

/*
 * Accept url for feed: a suggested mirror becomes a mirror, a diverged
 * mirror is taken as the same feed.
 */
static int
mirror_accept(struct cmd_ctx *ctx, const char *feed, const char *url,
              const char *proxy)
{
	char q[QUOTE_MAX], q2[QUOTE_MAX];
	struct store *s;
	int64_t id;
	int r;

	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (cmd_feed_find(s, feed, &id) != EXIT_OK)
		return EXIT_ERR;
	r = store_mirror_accept(s, id, url, proxy);
	if (r == -ENOENT) {
		cmd_error("%s is neither a suggested mirror nor a mirror of "
		          "feed %s (see gazette feeds -v)",
		          cmd_quote(url, q), cmd_quote(feed, q2));
		return EXIT_ERR;
	}
	if (r == -EEXIST) {
		cmd_error("%s is already a URL of a feed", cmd_quote(url, q));
		return EXIT_ERR;
	}
	if (r < 0) {
		cmd_error("cannot accept mirror %s: %s", cmd_quote(url, q),
		          store_errmsg(s));
		return EXIT_ERR;
	}
	return EXIT_OK;
}

/*
 * gazette mirror add [--proxy URL] FEED URL | mirror remove FEED URL |
 * mirror accept [--proxy URL] FEED URL | mirror FEED URL (accept).
 */
static int
mirror_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"proxy", required_argument, NULL, 'p'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *proxy = NULL, *verb, *url;
	char q[QUOTE_MAX], q2[QUOTE_MAX];
	struct store *s;
	int64_t id;
	bool add;
	int c, r;

	while ((c = getopt_long(argc, argv, ":p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			proxy = optarg;
			break;
		case 'h':
			return cmd_help(&cmd_mirror);
		default:
			return cmd_bad_option(&cmd_mirror, argv, c);
		}
	}
	if (argc - optind == 2 && strcmp(argv[optind], "add") != 0 &&
	    strcmp(argv[optind], "remove") != 0 &&
	    strcmp(argv[optind], "accept") != 0)
		return mirror_accept(ctx, argv[optind], argv[optind + 1],
		                     proxy);
	if (argc - optind != 3)
		return cmd_usage_error(&cmd_mirror, "add, remove or accept, a "
		                                    "feed and a URL, please");
	verb = argv[optind];
	url = argv[optind + 2];
	if (strcmp(verb, "accept") == 0)
		return mirror_accept(ctx, argv[optind + 1], url, proxy);
	if (strcmp(verb, "add") != 0 && strcmp(verb, "remove") != 0)
		return cmd_usage_error(&cmd_mirror,
		                       "%s is not add, remove or accept",
		                       cmd_quote(verb, q));
	add = verb[0] == 'a';
	if (!add && proxy)
		return cmd_usage_error(&cmd_mirror,
		                       "--proxy goes with add or accept");
	if (add && !url_is_http(url)) {
		cmd_error("%s is not an http or https URL", cmd_quote(url, q));
		return EXIT_ERR;
	}
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (cmd_feed_find(s, argv[optind + 1], &id) != EXIT_OK)
		return EXIT_ERR;
	r = add ? store_mirror_add(s, id, url, proxy)
	        : store_mirror_remove(s, id, url);
	if (r == -EEXIST) {
		cmd_error("%s is already a URL of a feed", cmd_quote(url, q));
		return EXIT_ERR;
	}
	if (r == -ENOENT) {
		cmd_error("%s is not a mirror of feed %s", cmd_quote(url, q),
		          cmd_quote(argv[optind + 1], q2));
		return EXIT_ERR;
	}
	if (r == -EINVAL && !add) {
		cmd_error("%s is the feed's only URL: remove the feed instead",
		          cmd_quote(url, q));
		return EXIT_ERR;
	}
	if (r < 0) {
		cmd_error("cannot %s mirror %s: %s", verb, cmd_quote(url, q),
		          store_errmsg(s));
		return EXIT_ERR;
	}
	return EXIT_OK;
}

const struct cmd_entry cmd_mirror = {
        .name = "mirror",
        .usage = "add [--proxy URL] FEED URL | remove FEED URL | "
                 "[accept] [--proxy URL] FEED URL",
        .summary = "add, remove or accept (a suggested or diverged) mirror "
                   "address of a feed",
        .help = "  --proxy URL  reach this mirror through a proxy "
                "(socks5h://127.0.0.1:9050 for an onion address)\n",
        .exec = mirror_exec,
};
