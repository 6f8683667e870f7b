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

#endif
