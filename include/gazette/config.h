/*
 * The configuration file, gazette.conf: git-config-like INI read with inih.
 *
 *   [daemon]
 *   database = /var/lib/gazette/gazette.db
 *   interval = 30m
 *
 *   [feed "Press TV"]
 *   url = https://www.presstv.ir/rss.xml
 *   mirror = https://www.presstv.co.uk/rss.xml
 *   proxy = socks5h://127.0.0.1:9050
 *
 * Every setting has a default, so an empty or absent file works. A `proxy`
 * or `doh` line applies to the `url` or `mirror` line just before it;
 * `resolve = host:port:address` pins a name, in a feed for its URLs or
 * in [daemon] for every feed. Durations take
 * units (30s, 15m, 2h, 1d, 1w, combinable: 1h30m), sizes B/KiB/MiB/GiB.
 * Keys may be indented. Comments start a line with ';' or '#', or follow
 * a value after " ;".
 */
#ifndef GAZETTE_CONFIG_H
#define GAZETTE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gazette/paths.h"

struct store_feed_spec;
struct store_purge_rules;

/* One address of a feed: the primary or a mirror, with its own proxy. */
struct config_url {
	char *url;
	char *proxy;   /* NULL: none */
	char *doh;     /* DNS-over-HTTPS resolver URL; NULL: the system's */
	unsigned line; /* where the url or mirror line is */
};

/* A [feed "NAME"] section. */
struct config_feed {
	char *name;       /* the title: the quoted section name */
	char *category;   /* NULL: none */
	int64_t interval; /* seconds; 0: the [daemon] interval */
	unsigned line;    /* where the section starts */
	size_t n_urls;    /* at least 1: url first, then the mirrors */
	struct config_url *urls;
	size_t n_resolve; /* resolve = host:port:address pins, in order */
	char **resolve;
	char *resolve_text;  /* the same joined by '\n' (for the store), or NULL
	                      */
	int64_t keep_unread; /* seconds; 0 forever; -1: the [daemon] one */
	int64_t max_stories; /* 0 no limit; -1: the [daemon] one */
};

/* The whole file; every field has its default when the file is silent. */
struct config {
	char *path;     /* the file read; NULL when none was */
	char *database; /* database = ; default: paths_default() */
	char *socket;   /* socket = ; default: paths_default() */
	/*
	 * control-socket-mode = 0600, control-socket-group = (none); with
	 * the system paths 0660 and gazette: who may connect. Others than
	 * the daemon's user and root may only ask status and poll.
	 */
	unsigned control_socket_mode;
	char *control_socket_group;
	bool control_socket_group_set; /* given in the file, not defaulted */

	int64_t interval;         /* interval = 30m: default poll interval */
	int64_t min_interval;     /* min-interval = 5m: floor of any schedule */
	int64_t max_backoff;      /* max-backoff = 1d: cap of error backoff */
	int max_connections;      /* max-connections = 32 */
	int per_host_connections; /* per-host-connections = 2 */
	int64_t timeout;          /* timeout = 30s: whole transfer */
	int64_t connect_timeout;  /* connect-timeout = 15s */
	int64_t low_speed_limit;  /* low-speed-limit = 100B: bytes/second */
	int64_t low_speed_time;   /* low-speed-time = 20s: below it, abort */
	int64_t stall_after_ms;   /* stall-after = 100ms: a transfer below
	                             low-speed-limit that long leaves
	                             max-connections; 0: never */
	int slow_connections;     /* slow-connections = 128: their cap */
	int64_t max_feed_size;    /* max-feed-size = 16MiB: decoded bytes */
	int64_t primary_retry;    /* primary-retry = 1h */
	int64_t ingest_queue; /* ingest-queue = 32MiB: bodies waiting to parse
	                       */
	int64_t index_lag;  /* index-lag = 60s: the index at most this behind */
	int64_t lease_time; /* lease-time = 2m: a feed's lease (PostgreSQL) */
	int64_t retention;  /* retention = 90d; 0: keep forever */
	int64_t keep_unread; /* keep-unread = forever (0): unread stories */
	int64_t max_stories; /* max-stories = 0 (no limit): stories a feed */
	int redirect_polls;  /* redirect-polls = 3: 301s before update */
	char *user_agent;    /* user-agent = gazette/VERSION (+URL) */
	char *ca_file;       /* ca-file = ; NULL: the system's CAs */
	size_t n_resolve;    /* resolve = host:port:address, every feed */
	char **resolve;

	size_t n_feeds;
	struct config_feed *feeds;
};

/* config_load flags */
#define CONFIG_MUST_EXIST 0x1 /* a missing file is an error (-c FILE) */

/*
 * Read the file at path (NULL: the default path, paths_default()). A missing
 * file gives the defaults unless CONFIG_MUST_EXIST. On failure *ret_err, when
 * not NULL, gets "FILE:LINE: what is wrong" (caller frees) and the
 * function returns -EINVAL (bad content), -ENOENT, -EACCES... or -ENOMEM.
 */
int config_load(const char *path, unsigned flags, struct config **ret,
                char **ret_err);

/*
 * Parse text as if it were the file `name` (for tests and --config -).
 * Paths default as paths_default() says.
 */
int config_parse_string(const char *text, const char *name, struct config **ret,
                        char **ret_err);

void config_free(struct config *c);

/* The feed named name (exact), or NULL. */
const struct config_feed *config_feed_find(const struct config *c,
                                           const char *name);

/*
 * "30s", "15m", "2h", "1d", "1w", "1h30m", "0": seconds in *ret.
 * -EINVAL when malformed or without a unit, -ERANGE on overflow.
 */
int config_parse_duration(const char *s, int64_t *ret);

/*
 * Seconds written as config_parse_duration reads them, largest units
 * first ("1h30m", "15m", "0s"), into buf. Returns buf.
 */
const char *config_format_duration(int64_t secs, char *buf, size_t size);

/*
 * A name pin as CURLOPT_RESOLVE takes it: "host:port:address", address
 * an IPv4 or IPv6 (bracketed or not) address, or several comma-separated.
 * 0 when well-formed, else -EINVAL.
 */
int config_check_resolve(const char *s);

/* Whether url is an https:// URL with a host (a DoH resolver's). */
bool config_check_doh(const char *url);

/* "512", "100B", "64KiB", "16MiB", "1GiB": bytes. -EINVAL / -ERANGE. */
int config_parse_size(const char *s, int64_t *ret);

/*
 * The feeds as store_config_sync() takes them (from_config set). The
 * specs point into c, which must outlive them; free with
 * config_store_specs_free().
 */
int config_store_specs(const struct config *c, struct store_feed_spec **ret,
                       size_t *ret_n);
void config_store_specs_free(struct store_feed_spec *specs, size_t n);

/*
 * The retention rules as store_purge_run() takes them, at time now:
 * retention, keep-unread and max-stories, and the feeds that set their
 * own (by title). Independent of c (titles copied); clear with
 * config_purge_rules_clear().
 */
int config_purge_rules(const struct config *c, int64_t now,
                       struct store_purge_rules *ret);
void config_purge_rules_clear(struct store_purge_rules *r);

#endif
