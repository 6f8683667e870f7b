/*
 * Stories: listings, search, the "new" cursor and marks
 * (lib/store-query.c).
 * Part of the store API: include "gazette/store.h".
 */
#ifndef GAZETTE_STORE_QUERY_H
#define GAZETTE_STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

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
#define STORE_Q_NEW     0x8 /* only stories no `list --new` printed yet */

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

/*
 * The "new" stories are those above a cursor that `list --new` has not
 * printed: it records the ids it printed (store_new_seen), and the
 * cursor moves up to just below the oldest story still unprinted, the
 * record of those below it dropped. So the record holds only what was
 * printed above a story still new, and a listing with a limit or a
 * filter leaves the rest new.
 */
int store_cursor_get(struct store *s, int64_t *ret);
int store_cursor_set(struct store *s, int64_t id);
/* Stories printed by `list --new`: no longer new. 0 or -errno. */
int store_new_seen(struct store *s, const int64_t *ids, size_t n);
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

#endif
