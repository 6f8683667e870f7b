/*
 * The SQLite store: the one module that touches SQL. Subscriptions and
 * their URLs, merging parsed feeds (deduplication), marks, queries,
 * full-text search and retention.
 */
#ifndef GAZETTE_STORE_H
#define GAZETTE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gazette/feed.h"

struct store;

/* store_open flags */
#define STORE_CREATE   0x1 /* create the file (0600) if missing */
#define STORE_READONLY 0x2
#define STORE_SYNC_FULL                                                        \
	0x4 /* synchronous=FULL: the CLI's acknowledged writes */
/* with STORE_CREATE: born 0660, for the system service's group gazette */
#define STORE_GROUP 0x8

/*
 * Open (and migrate) the database at path. On failure *ret_err, when not
 * NULL, gets a message naming the file and what is wrong (caller frees).
 * A database whose schema is newer than this code is refused (-EPROTO),
 * never touched.
 */
int store_open(const char *path, unsigned flags, struct store **ret,
               char **ret_err);
void store_close(struct store *s);

/* The last SQLite error message on this connection (static to s). */
const char *store_errmsg(struct store *s);

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
};

struct store_feed {
	int64_t id;
	char *title;
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

	int64_t unread; /* unread stories in this feed */
	int64_t total;  /* stories in this feed */

	size_t n_urls;
	struct store_url *urls; /* the primary first, then the mirrors */
};

/* What to add: the URLs in order, each with its proxy (or NULL). */
struct store_feed_spec {
	const char *title; /* NULL: the primary URL until a poll names it */
	const char *category;
	int64_t interval;
	bool from_config;
	size_t n_urls;
	const char *const *urls;
	const char *const *proxies; /* NULL, or n_urls entries (each NULL ok) */
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
};
int store_url_record(struct store *s, const struct store_attempt *a);

/* Replace a URL after a permanent redirect; moved_from keeps the old. */
int store_url_update(struct store *s, int64_t url_id, const char *new_url);

/* Save a feed's scheduling state (the fields under "scheduling state"). */
int store_feed_save_schedule(struct store *s, const struct store_feed *f);

/* ---- merging ---- */

struct store_merge_result {
	int new_stories;
	int updated;
	int unchanged;
};

/*
 * Merge what a poll of the feed's URL number url_index parsed, in one
 * BEGIN IMMEDIATE transaction, as DESIGN.md's Deduplication says. now is
 * the time the entries were first seen.
 */
int store_merge(struct store *s, int64_t feed_id, size_t url_index,
                const struct gz_feed *feed, int64_t now,
                struct store_merge_result *ret);

/* ---- stories ---- */

struct store_story {
	int64_t id;
	const char *guid;
	const char *title;
	const char *link; /* as served */
	const char *author;
	const char *summary;
	const char *content;
	int64_t published; /* clamped to first_seen when missing/future */
	int64_t updated;   /* GZ_NO_DATE when none */
	int64_t first_seen;
	bool read;
	bool starred;
	bool changed; /* updated since first seen */
	double rank;  /* search rank (higher: better), 0 otherwise */
	size_t n_feeds;
	const int64_t *feed_ids;
	const char *const *feed_titles;
};

/* list filters */
#define STORE_Q_UNREAD  0x1
#define STORE_Q_STARRED 0x2
#define STORE_Q_CONTENT 0x4 /* fill summary and content (else NULL) */

struct store_query {
	unsigned flags;
	int64_t feed_id;    /* 0: every feed */
	int64_t since;      /* published >= since; 0: no bound */
	int64_t min_id;     /* id > min_id (the "new" cursor); 0: none */
	const char *search; /* full-text query, results ranked; NULL none */
	int64_t limit;      /* 0: no limit */
	int64_t offset;
};

/*
 * Called per story; the pointers live until it returns. Non-zero stops.
 * It must not call the store: collect ids and mark after the listing
 * (a write inside a read can meet another process's newer write: -EBUSY).
 */
typedef int (*store_story_fn)(const struct store_story *st, void *arg);

/*
 * Newest first (or by rank when searching). Returns the count or -errno.
 * search is words, all required, "word*" a prefix; -EINVAL when empty.
 * A search ranks the newest 5,000 matching stories that pass the other
 * filters (bm25, title weighted above summary above content).
 */
int store_stories(struct store *s, const struct store_query *q,
                  store_story_fn fn, void *arg);
/* One story, with its content. -ENOENT when there is none. */
int store_story_get(struct store *s, int64_t id, store_story_fn fn, void *arg);

/* The "new since last time" cursor: the highest story id already shown. */
int store_cursor_get(struct store *s, int64_t *ret);
int store_cursor_set(struct store *s, int64_t id);
/*
 * Index the stories merges queued for full-text search (new and changed
 * ones wait in batches so that small merge transactions stay cheap).
 * A merge indexes by itself once a connection has queued a few thousand,
 * and a search first indexes what is queued; a poller calls this at the
 * end of a round. The count indexed, 0 read-only, or -errno.
 */
int store_index(struct store *s);
/* The highest story id there is, 0 for none. */
int store_max_story_id(struct store *s, int64_t *ret);

enum store_mark {
	STORE_MARK_READ,
	STORE_MARK_UNREAD,
	STORE_MARK_STAR,
	STORE_MARK_UNSTAR,
};

/* Mark one story: 1 when it exists, -ENOENT when not. */
int store_mark_story(struct store *s, int64_t id, enum store_mark m);
/*
 * Mark every story of a feed (feed_id 0: all stories), only those first
 * published before `before` when it is not 0. Returns how many changed.
 */
int store_mark_feed(struct store *s, int64_t feed_id, int64_t before,
                    enum store_mark m);

/* ---- retention ---- */

/*
 * Remove read, unstarred stories published before `before`, leaving a
 * tombstone of their identities so they never return as new. Returns how
 * many went.
 */
int store_purge(struct store *s, int64_t before);

/* Run several calls as one transaction (the CLI's import). */
int store_begin(struct store *s);
/*
 * The same for the daemon's group commit, cheaper: the calls inside take
 * no savepoint each, so a failure of one fails them all. After it every
 * call fails at once with that error, and store_commit rolls everything
 * back and returns it.
 */
int store_begin_batch(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

#endif
