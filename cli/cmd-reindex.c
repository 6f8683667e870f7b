/* gazette reindex: build the full-text index again from the store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "gazette/store.h"

/* gazette reindex */
static int
reindex_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct store *s;
	int r = cmd_only_help(&cmd_reindex, argc, argv);

	if (r >= 0)
		return r;
	if (optind < argc)
		return cmd_usage_error(&cmd_reindex, "no arguments, please");
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	r = store_reindex(s);
	if (r < 0) {
		cmd_error("cannot rebuild the full-text index: %s",
		          store_errmsg(s));
		return EXIT_ERR;
	}
	printf("indexed %d stories\n", r);
	return EXIT_OK;
}

const struct cmd_entry cmd_reindex = {
        .name = "reindex",
        .usage = "",
        .summary = "build the full-text index again from the stories",
        .help = "The index is a file of its own beside the database (its\n"
                "name with .index added). gazetted fills it in the\n"
                "background and gazette search catches it up first, so\n"
                "this is only needed to take back the room a long history\n"
                "of changes left, or after copying the database alone.\n"
                "A missing or damaged index file is rebuilt by itself.\n"
                "On PostgreSQL the index is a column of the stories,\n"
                "filled the same way; this makes every story's words\n"
                "again.\n",
        .exec = reindex_exec,
};
