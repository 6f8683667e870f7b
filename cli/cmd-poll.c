/* gazette poll [FEED] and gazette status: through the daemon, or here. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "gazette/config.h"
#include "gazette/ctl.h"
#include "gazette/store.h"
#include "poll.h"

/* The daemon's socket: the configuration's, else the default. */
static const char *
socket_path(struct cmd_ctx *ctx, struct config *cfg)
{
	return cfg && cfg->socket ? cfg->socket : ctx->socket_path;
}

/* The daemon's answer printed, or why there is none; an exit status. */
static int
answered(int r, char *reply, char *err)
{
	if (r < 0) {
		cmd_error("%s", err ? err : strerror(-r));
		free(err);
		return EXIT_ERR;
	}
	if (reply && *reply)
		printf("%s%s", reply,
		       reply[strlen(reply) - 1] == '\n' ? "" : "\n");
	free(reply);
	return EXIT_OK;
}

/* Poll here, with the daemon's code, when no daemon runs. */
static int
poll_here(struct cmd_ctx *ctx, struct config *cfg, const char *feed)
{
	struct store_feed_spec *specs = NULL;
	struct poll_summary sum = {0};
	char *err = NULL;
	size_t n = 0;
	int64_t id = 0;
	struct store *s;
	int r;

	s = cmd_store(ctx);
	if (s == NULL)
		return EXIT_ERR;
	/* the feeds of the configuration file, as the daemon would */
	if (config_store_specs(cfg, &specs, &n) == 0) {
		if (store_config_sync(s, specs, n) < 0)
			cmd_error("cannot sync the configuration's feeds: %s",
			          store_errmsg(s));
		config_store_specs_free(specs, n);
	}
	if (feed && cmd_feed_find(s, feed, &id) != EXIT_OK)
		return EXIT_ERR;
	printf("no daemon running: polling here\n");
	fflush(stdout);
	r = poll_once(cfg, s, id, &sum, &err);
	if (r < 0) {
		cmd_error("cannot poll: %s", err ? err : strerror(-r));
		free(err);
		return EXIT_ERR;
	}
	printf("polled %d feed%s: %d ok, %d not modified, %d failed, "
	       "%d skipped; %d new, %d updated stories\n",
	       sum.feeds, sum.feeds == 1 ? "" : "s", sum.ok, sum.not_modified,
	       sum.failed, sum.skipped, sum.new_stories, sum.updated_stories);
	if (sum.network_down)
		printf("every feed failed with a network error: the network "
		       "seems down\n");
	/* every feed polled failed: that is an error to a script */
	return sum.failed > 0 && sum.ok + sum.not_modified == 0 ? EXIT_ERR
	                                                        : EXIT_OK;
}

/* gazette poll [FEED]. */
static int
poll_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	const char *feed;
	struct config *cfg;
	char *reply = NULL, *err = NULL;
	int r = cmd_only_help(&cmd_poll, argc, argv);

	if (r >= 0)
		return r;
	if (argc - optind > 1)
		return cmd_usage_error(&cmd_poll, "at most one feed");
	feed = optind < argc ? argv[optind] : NULL;
	cfg = cmd_config(ctx);
	if (cfg == NULL)
		return EXIT_ERR;
	r = ctl_request(socket_path(ctx, cfg), "poll", feed, &reply, &err);
	if (r == -ENOENT || r == -ECONNREFUSED)
		return poll_here(ctx, cfg, feed);
	return answered(r, reply, err);
}

const struct cmd_entry cmd_poll = {
        .name = "poll",
        .usage = "[FEED]",
        .summary = "poll now, through gazetted or here when it is not running",
        .help = "FEED is a feed's id, one of its URLs, or a unique prefix of "
                "its title.\nWith no daemon, polls in this process and "
                "says so; exits 1 when every feed polled failed.\n",
        .exec = poll_exec,
};

/* What the database says when no daemon can. */
static int
status_here(struct cmd_ctx *ctx)
{
	struct store_feed **v = NULL;
	int64_t unread = 0, failing = 0, disabled = 0;
	struct store *s = cmd_store(ctx);
	char *shown;
	size_t n = 0;

	if (s == NULL)
		return EXIT_ERR;
	if (store_feeds(s, &v, &n) < 0) {
		cmd_error("cannot read the feeds: %s", store_errmsg(s));
		return EXIT_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		unread += v[i]->unread;
		if (v[i]->disabled)
			disabled++;
		else if (v[i]->failing_since)
			failing++;
	}
	store_feeds_free(v, n);
	printf("gazetted: not running\n");
	shown = store_display(ctx->db_path);
	printf("database: %s\n", shown ? shown : "");
	free(shown);
	printf("feeds: %zu (%" PRId64 " failing, %" PRId64 " disabled); "
	       "%" PRId64 " unread stories\n",
	       n, failing, disabled, unread);
	return EXIT_OK;
}

/* How far the full-text index is behind, in one line. */
static void
print_index_lag(struct cmd_ctx *ctx)
{
	struct store_index_lag lag;
	struct store *s = cmd_store(ctx);

	if (s == NULL)
		return;
	if (store_index_lag(s, (int64_t)time(NULL), &lag) < 0) {
		printf("index: unknown (%s)\n", store_errmsg(s));
		return;
	}
	if (lag.stories == 0 && lag.changes == 0)
		printf("index: up to date (to story %" PRId64 ")\n",
		       lag.indexed_upto);
	else
		printf("index: %" PRId64 " stories and %" PRId64
		       " changes behind, %" PRId64 "s\n",
		       lag.stories, lag.changes, lag.seconds);
}

/* What retention has removed, in one line. */
static void
print_purged(struct cmd_ctx *ctx)
{
	struct store_purge_counts c;
	struct store *s = cmd_store(ctx);

	if (s == NULL)
		return;
	if (store_purge_totals(s, 0, &c) < 0) {
		printf("purged: unknown (%s)\n", store_errmsg(s));
		return;
	}
	printf("purged: %" PRId64 " (read %" PRId64 ", unread %" PRId64
	       ", over limit %" PRId64 ")\n",
	       c.read + c.unread + c.over_limit, c.read, c.unread,
	       c.over_limit);
}

/*
 * Which backend, and on a store several daemons share (PostgreSQL) each
 * daemon registered in it: its heartbeat's age and the leases it holds.
 */
static void
print_backend(struct cmd_ctx *ctx)
{
	struct store_daemon *v = NULL;
	int64_t now = (int64_t)time(NULL);
	struct store *s = cmd_store(ctx);
	char *what = NULL;
	size_t n = 0;

	if (s == NULL)
		return;
	if (store_describe(s, &what) == 0)
		printf("backend: %s\n", what);
	free(what);
	if (!store_lease_shared(s))
		return;
	if (store_lease_daemons(s, now, &v, &n) < 0) {
		printf("daemons: unknown (%s)\n", store_errmsg(s));
		return;
	}
	printf("daemons: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		char host[QUOTE_MAX];

		printf("daemon: %s host %s pid %" PRId64 " heartbeat %" PRId64
		       "s ago, %" PRId64 " leases",
		       v[i].instance,
		       cmd_quote(v[i].host ? v[i].host : "", host), v[i].pid,
		       now - v[i].heartbeat, v[i].leases);
		if (v[i].expired > 0)
			printf(" (%" PRId64 " expired)", v[i].expired);
		printf("\n");
	}
	store_daemons_free(v, n);
}

/* gazette status. */
static int
status_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct config *cfg;
	char *reply = NULL, *err = NULL;
	int r = cmd_only_help(&cmd_status, argc, argv);

	if (r >= 0)
		return r;
	if (optind < argc)
		return cmd_usage_error(&cmd_status, "no arguments, please");
	cfg = cmd_config(ctx);
	if (cfg == NULL)
		return EXIT_ERR;
	r = ctl_request(socket_path(ctx, cfg), "status", NULL, &reply, &err);
	if (r == -ENOENT || r == -ECONNREFUSED)
		r = status_here(ctx);
	else
		r = answered(r, reply, err);
	if (r == EXIT_OK) {
		print_backend(ctx);
		print_purged(ctx);
		print_index_lag(ctx);
	}
	return r;
}

const struct cmd_entry cmd_status = {
        .name = "status",
        .usage = "",
        .summary = "what gazetted is doing, or what the database says",
        .help = "backend: sqlite PATH, or postgresql HOST/DB; on PostgreSQL\n"
                "a line per daemon sharing it: its heartbeat and leases.\n"
                "purged: the stories retention has removed, by reason\n"
                "(gazette feeds -v says it per feed). The last line says\n"
                "how far the full-text index is behind the stories (stories not yet indexed, changed or\n"
                "removed ones not yet applied, and the age of the oldest);\n"
                "gazette search catches it up before it looks.\n",
        .exec = status_exec,
};
