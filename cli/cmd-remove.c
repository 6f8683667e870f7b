/* gazette remove FEED and gazette rename FEED TITLE. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "gazette/store.h"

/* gazette remove FEED. */
static int
remove_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct store_feed *f = NULL;
	char q[QUOTE_MAX];
	struct store *s;
	int64_t id;
	int r = cmd_only_help(&cmd_remove, argc, argv);

	if (r >= 0)
		return r;
	if (argc - optind != 1)
		return cmd_usage_error(&cmd_remove, "which feed?");
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (cmd_feed_find(s, argv[optind], &id) != EXIT_OK)
		return EXIT_ERR;
	if (store_feed_get(s, id, &f) == 0 && f->from_config) {
		cmd_error("feed %s is declared in the configuration file: "
		          "remove it there",
		          cmd_quote(f->title ? f->title : argv[optind], q));
		store_feed_free(f);
		return EXIT_ERR;
	}
	r = store_feed_remove(s, id);
	if (r < 0) {
		cmd_error("cannot remove feed %s: %s",
		          cmd_quote(argv[optind], q), store_errmsg(s));
		store_feed_free(f);
		return EXIT_ERR;
	}
	if (cmd_is_tty())
		printf("removed feed %" PRId64 " %s\n", id,
		       cmd_quote(f && f->title ? f->title : argv[optind], q));
	store_feed_free(f);
	return EXIT_OK;
}

const struct cmd_entry cmd_remove = {
        .name = "remove",
        .usage = "FEED",
        .summary = "unsubscribe (its stories go, unless starred or in another "
                   "feed)",
        .help = "FEED is a feed's id, one of its URLs, or a unique prefix of "
                "its title.\n",
        .exec = remove_exec,
};

/* gazette rename FEED TITLE. */
static int
rename_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	char q[QUOTE_MAX];
	struct store *s;
	int64_t id;
	int r = cmd_only_help(&cmd_rename, argc, argv);

	if (r >= 0)
		return r;
	if (argc - optind != 2)
		return cmd_usage_error(&cmd_rename, "a feed and its new title, "
		                                    "please");
	if (argv[optind + 1][0] == '\0')
		return cmd_usage_error(&cmd_rename, "the title is empty");
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (cmd_feed_find(s, argv[optind], &id) != EXIT_OK)
		return EXIT_ERR;
	if (store_feed_rename(s, id, argv[optind + 1]) < 0) {
		cmd_error("cannot rename feed %s: %s",
		          cmd_quote(argv[optind], q), store_errmsg(s));
		return EXIT_ERR;
	}
	return EXIT_OK;
}

const struct cmd_entry cmd_rename = {
        .name = "rename",
        .usage = "FEED TITLE",
        .summary = "give a feed a title of your own",
        .help = "FEED is a feed's id, one of its URLs, or a unique prefix of "
                "its title.\n",
        .exec = rename_exec,
};
