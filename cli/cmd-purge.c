/* gazette purge: retention now, by the configuration's rules. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "gazette/config.h"
#include "gazette/store.h"

/* gazette purge */
static int
purge_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct store_purge_rules rules = {0};
	struct store_purge_counts c = {0};
	struct config *cfg;
	struct store *s;
	int r = cmd_only_help(&cmd_purge, argc, argv);

	if (r >= 0)
		return r;
	if (optind < argc)
		return cmd_usage_error(&cmd_purge, "no arguments, please");
	cfg = cmd_config(ctx);
	if (cfg == NULL)
		return EXIT_ERR;
	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	if (config_purge_rules(cfg, cmd_now(), &rules) < 0) {
		cmd_error("out of memory");
		return EXIT_ERR;
	}
	r = store_purge_run(s, &rules, &c);
	config_purge_rules_clear(&rules);
	if (r < 0) {
		cmd_error("cannot purge: %s", store_errmsg(s));
		return EXIT_ERR;
	}
	printf("purged %" PRId64 " stories (read %" PRId64 ", unread %" PRId64
	       ", over limit %" PRId64 ")\n",
	       c.read + c.unread + c.over_limit, c.read, c.unread,
	       c.over_limit);
	return EXIT_OK;
}

const struct cmd_entry cmd_purge = {
        .name = "purge",
        .usage = "",
        .summary = "remove old stories now, as retention does every hour",
        .help = "By retention, keep-unread and max-stories of the\n"
                "configuration (gazette.conf(5)); starred stories stay.\n"
                "A purged story leaves a tombstone: it does not come back\n"
                "as new while its feed still serves it. The counts are\n"
                "the stories removed from the database; a story that\n"
                "several feeds share leaves a feed whose rules let it go,\n"
                "and goes once no feed keeps it.\n",
        .exec = purge_exec,
};
