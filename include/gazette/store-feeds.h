/*
 * Subscriptions, their URLs and mirrors, and the polling state the daemon
 * keeps (lib/store-feeds.c, lib/store-poll.c).
 * Part of the store API: include "gazette/store.h".
 */
#ifndef GAZETTE_STORE_FEEDS_H
#define GAZETTE_STORE_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- subscriptions ---- */

struct store_url {
	int64_t id;
	char *url;
	char *proxy; /* NULL: none */
	char *etag;  /* validators of this URL */
	char *last_modified;
	int last_status;    /* HTTP status of the last attempt, 0 none */
	char *last_error;   /* NULL when the last attempt served */
	int64_t last_ok;    /* time of the last success, 0 never */
	int64_t last_tried; /* time of the last attempt, 0 never */
	char *redirect;     /* target of a 301/308 seen on the last polls */
	int redirect_count; /* polls in a row that gave that target */
	char *moved_from;   /* the URL before a redirect updated it */
	char *doh;          /* DNS-over-HTTPS resolver URL, NULL none */
	char *fail_kind;  /* failure kind of the last attempt (daemon/mirror.h's
	                     names: "dns", "tls-certificate"...), NULL none */
	char *good_addrs; /* addresses that last served a feed, "a,b", NULL */
	char *last_ip;    /* the address the last attempt reached, NULL */
	char *via;        /* how it was reached: "proxy URL", "doh URL",
	                     "pinned ADDRESS"; NULL directly */
	int diverged;     /* STORE_DIVERGED_*: shares no stories with the
	                     primary, and the user has not accepted it */
};

/* store_url.diverged */
#define STORE_DIVERGED_NO       0
#define STORE_DIVERGED_YES      1
#define STORE_DIVERGED_ACCEPTED (-1) /* the user said it is the same feed */

struct store_feed {
	int64_t id;
	char *title;      /* the user's title, else the feed's, else its URL */
	bool user_title;  /* title is the user's (or the configuration's) */
	bool feed_title;  /* else title is what the feed calls itself */
	char *category;   /* OPML folder, NULL none */
	int64_t interval; /* seconds; 0: the configured default */
	bool from_config; /* declared in gazette.conf */
	bool disabled;    /* 410 Gone, or by the user */
	char *disabled_reason;

	/* scheduling state, kept by the daemon */
	int64_t next_poll;     /* 0: due now */
	int error_count;       /* consecutive failed polls */
	int64_t failing_since; /* 0 when the last poll served */
	int64_t retry_after;   /* no poll before this (Retry-After, backoff) */
	int64_t hint;          /* the feed's own interval hint, seconds */
	int preferred;         /* index in urls of the URL a poll starts at */
	int last_served;       /* index of the URL that served last, -1 */
	int64_t primary_probe; /* last try of the primary while not preferred */
	char *resolve; /* resolve = pins, one "host:port:address" a line */

	int64_t unread; /* unread stories in this feed */
	int64_t total;  /* stories in this feed */

	size_t n_urls;
	struct store_url *urls; /* the primary first, then the mirrors */
};

/* What to add: the URLs in order, each with its proxy (or NULL). */
struct store_feed_spec {
	const char *title; /* NULL: the primary URL until a poll names it */
	/* with no title: what the feed was last called, until a poll says */
	const char *parsed_title;
	const char *category;
	int64_t interval;
	bool from_config;
	size_t n_urls;
	const char *const *urls;
	const char *const *proxies; /* NULL, or n_urls entries (each NULL ok) */
	const char *const *dohs;    /* NULL, or n_urls entries (each NULL ok) */
	const char *resolve; /* pins for its URLs, '\n'-separated, NULL */
};

void store_feed_free(struct store_feed *f);
void store_feeds_free(struct store_feed **v, size_t n);

/* Every subscription, ordered by id, with its URLs and counts. */
int store_feeds(struct store *s, struct store_feed ***ret, size_t *ret_n);
/* The same without the counts (unread, total: 0), which cost a scan. */
int store_feeds_uncounted(struct store *s, struct store_feed ***ret,
                          size_t *ret_n);
int store_feed_get(struct store *s, int64_t id, struct store_feed **ret);

/*
 * FEED as the user names it: a numeric id, one of its URLs exactly, or a
 * unique case-insensitive prefix of a title (an exact title wins over
 * the longer titles it begins). -ENOENT none, -EEXIST ambiguous.
 */
int store_feed_find(struct store *s, const char *name, int64_t *ret_id);

/*
 * Subscribe. Returns 1 and *ret_id when added; 0 and the existing feed's
 * *ret_id when one of its URLs is already a feed's URL.
 */
int store_feed_add(struct store *s, const struct store_feed_spec *spec,
                   int64_t *ret_id);

/* Unsubscribe: its stories go unless another feed has them or starred. */
int store_feed_remove(struct store *s, int64_t id);
int store_feed_rename(struct store *s, int64_t id, const char *title);
/* The title a poll found, applied only while the user has set none. */
int store_feed_set_parsed_title(struct store *s, int64_t id, const char *title);
int store_feed_set_interval(struct store *s, int64_t id, int64_t interval);
int store_feed_set_disabled(struct store *s, int64_t id, bool disabled,
                            const char *reason);

/* Mirrors: append, remove (not the last URL), move to a position. */
int store_mirror_add(struct store *s, int64_t feed, const char *url,
                     const char *proxy);
int store_mirror_remove(struct store *s, int64_t feed, const char *url);
int store_url_move(struct store *s, int64_t feed, const char *url,
                   size_t position);

/*
 * Make the feeds marked from_config match the configuration file's: add
 * the new, update titles, URLs, proxies and intervals, remove those no
 * longer declared. One transaction.
 */
int store_config_sync(struct store *s, const struct store_feed_spec *specs,
                      size_t n);

/* ---- polling state (the daemon) ---- */

/* The outcome of one attempt at one URL. */
struct store_attempt {
	int64_t url_id;
	int64_t when;
	int status;        /* HTTP status, 0 when none */
	const char *error; /* NULL when it served (200 or 304) */
	const char *etag;  /* validators to keep (200), NULL keeps */
	const char *last_modified;
	const char *redirect; /* 301/308 target seen, NULL none */
	const char *kind;     /* failure kind, NULL when it served or unknown */
	const char *ip;       /* address reached (CURLINFO_PRIMARY_IP), NULL */
	const char *via;      /* proxy / resolver / pin used, NULL directly */
	const char *good_addrs; /* the new remembered addresses, NULL keeps */
};
int store_url_record(struct store *s, const struct store_attempt *a);

/* Flag a URL diverged or not; a URL the user accepted stays accepted. */
int store_url_set_diverged(struct store *s, int64_t url_id, bool diverged);

/*
 * The identity keys (guid_key and link_key, as merging computes them) of
 * the feed's newest `limit` stories, for the diverged guard. 0 and *ret
 * (each string and the array freed by store_keys_free), or -errno.
 */
int store_feed_recent_keys(struct store *s, int64_t feed, size_t limit,
                           char ***ret, size_t *ret_n);
void store_keys_free(char **v, size_t n);

/* ---- suggested mirrors ---- */

/* Another copy of a feed that a response named; never polled by itself. */
struct store_suggestion {
	char *url;
	char *source; /* "onion-location", "meta", "alternate" */
	int64_t first_seen;
	int64_t last_seen;
};

/* Suggestions kept per feed at most; more are not recorded. */
#define STORE_MAX_SUGGESTIONS 32

/*
 * Record a suggested mirror of feed (seen now). 1 when new, 0 when known,
 * already one of the feed's URLs, or the feed has STORE_MAX_SUGGESTIONS.
 */
int store_suggestion_add(struct store *s, int64_t feed, const char *url,
                         const char *source, int64_t now);
/* The feed's suggestions, oldest first. */
int store_suggestions(struct store *s, int64_t feed,
                      struct store_suggestion **ret, size_t *ret_n);
void store_suggestions_free(struct store_suggestion *v, size_t n);

/*
 * The user accepts url for feed: a suggestion becomes a mirror (with
 * proxy, maybe NULL) and leaves the suggestions; a diverged mirror is
 * accepted as the same feed. One transaction. -ENOENT when url is
 * neither.
 */
int store_mirror_accept(struct store *s, int64_t feed, const char *url,
                        const char *proxy);

/* Replace a URL after a permanent redirect; moved_from keeps the old. */
int store_url_update(struct store *s, int64_t url_id, const char *new_url);

/* Save a feed's scheduling state (the fields under "scheduling state"). */
int store_feed_save_schedule(struct store *s, const struct store_feed *f);

#endif
