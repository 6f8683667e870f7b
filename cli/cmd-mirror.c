/* gazette mirror add|remove FEED URL: a feed's other addresses. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/store.h"
#include "gazette/url.h"

/* gazette mirror add [--proxy URL] FEED URL | mirror remove FEED URL. */
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
	if (argc - optind != 3)
		return cmd_usage_error(&cmd_mirror, "add or remove, a feed and "
		                                    "a URL, please");
	verb = argv[optind];
	url = argv[optind + 2];
	if (strcmp(verb, "add") != 0 && strcmp(verb, "remove") != 0)
		return cmd_usage_error(&cmd_mirror, "%s is not add or remove",
		                       cmd_quote(verb, q));
	add = verb[0] == 'a';
	if (!add && proxy)
		return cmd_usage_error(&cmd_mirror, "--proxy goes with add");
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
        .usage = "add [--proxy URL] FEED URL | remove FEED URL",
        .summary = "add or remove a mirror address of a feed",
        .help = "  --proxy URL  reach this mirror through a proxy "
                "(socks5h://127.0.0.1:9050 for an onion address)\n",
        .exec = mirror_exec,
};
