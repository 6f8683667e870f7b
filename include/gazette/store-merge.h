/*
 * Merging a parsed feed into a subscription (lib/store-merge.c).
 * Part of the store API: include "gazette/store.h".
 */
#ifndef GAZETTE_STORE_MERGE_H
#define GAZETTE_STORE_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gazette/feed.h"

struct store;

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

/*
 * The same in two steps, the first away from the store (the daemon's
 * parser thread): store_merge_prepare works out the entries' identities
 * under the feed's URLs (primary first), NULL when out of memory or
 * over the entry limit; store_merge_prepared merges with them while the
 * feed's URLs give the same hosts (else it works them out again; prep
 * may be NULL). The prep is the caller's to free, after the merge.
 */
struct store_merge_prep;
struct store_merge_prep *store_merge_prepare(const char *const *urls,
                                             size_t n_urls,
                                             const struct gz_feed *feed);
int store_merge_prepared(struct store *s, int64_t feed_id, size_t url_index,
                         const struct gz_feed *feed,
                         struct store_merge_prep *prep, int64_t now,
                         struct store_merge_result *ret);
void store_merge_prep_free(struct store_merge_prep *mp);
/* The memory a prep holds, allocator's share included, in bytes. */
size_t store_merge_prep_bytes(const struct store_merge_prep *mp);

#endif
