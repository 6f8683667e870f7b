/*
 * Retention (lib/store-purge.c).
 * Part of the store API: include "gazette/store.h".
 */
#ifndef GAZETTE_STORE_PURGE_H
#define GAZETTE_STORE_PURGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* ---- retention ---- */

/*
 * Remove read, unstarred stories published before `before`, leaving a
 * tombstone of their identities so they never return as new. Returns how
 * many went.
 */
int store_purge(struct store *s, int64_t before);

/* store_purge_feed: take the default of store_purge_rules */
#define STORE_PURGE_DEFAULT (-1)

/* What one feed keeps, where it differs from the defaults. */
struct store_purge_feed {
	int64_t id;          /* the feed; 0: the configured feed of title */
	const char *title;   /* matched among feeds from the configuration */
	int64_t keep_unread; /* seconds; 0 forever; STORE_PURGE_DEFAULT */
	int64_t max_stories; /* 0 no limit; STORE_PURGE_DEFAULT */
};

/*
 * What a purge removes. A story's date is `published`: its own date, or
 * when it was first seen when it has none. Starred stories never go.
 *  - read stories dated before read_before (0: none), from every feed;
 *  - per feed, its unread stories older than keep_unread seconds;
 *  - per feed, its stories beyond its newest max_stories.
 * The per-feed rules take a story out of that feed (a tombstone of the
 * feed's identity of it); the story itself goes when no feed has it
 * any more, so a story several feeds share stays while one keeps it.
 */
struct store_purge_rules {
	int64_t now;
	int64_t read_before;
	int64_t keep_unread; /* default per feed; 0: forever */
	int64_t max_stories; /* default per feed; 0: no limit */
	const struct store_purge_feed *feeds;
	size_t n_feeds;
};

/* Removed, by reason: stories (the store's) or a feed's memberships. */
struct store_purge_counts {
	int64_t read;       /* read, older than read_before */
	int64_t unread;     /* unread, older than keep-unread */
	int64_t over_limit; /* beyond max-stories */
};

/*
 * Purge by the rules, in short transactions, and add what went to the
 * totals. *ret (may be NULL): the stories removed by reason this time.
 * Returns 0 or -errno.
 */
int store_purge_run(struct store *s, const struct store_purge_rules *rules,
                    struct store_purge_counts *ret);

/*
 * The totals purged since the store has kept them: feed 0, the stories
 * removed from the store; else the stories the feed lost (taken out of
 * it, whether or not another feed kept them).
 */
int store_purge_totals(struct store *s, int64_t feed,
                       struct store_purge_counts *ret);

#endif
