/*
 * The full-text index (lib/store-index.c).
 * Part of the store API: include "gazette/store.h".
 */
#ifndef GAZETTE_STORE_INDEX_H
#define GAZETTE_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * The full-text index is a file of its own beside the store (the store's
 * path + ".index"), filled by an indexer that lags behind the merges:
 * the stories above the last one it took, and the ones whose text
 * changed or that were removed since (the store logs those in the same
 * transaction). It can be deleted at any time and is built again.
 * On PostgreSQL the index is the stories' tsv column (GIN), filled by
 * the same lagging indexer from the same change log; store_reindex makes
 * every story's words again.
 */

/*
 * Index up to max stories of what waits (0: everything), in big
 * transactions. The count taken, 0 read-only or nothing waiting, -errno.
 * On PostgreSQL, a step (max set) takes nothing while another daemon
 * indexes (it indexes what every daemon merged); 0 waits for it.
 * A search calls store_index first, so it never misses a committed story.
 */
int store_index_some(struct store *s, int64_t max);
int store_index(struct store *s);

/* Empty the index and build it again from the store; the count. */
int store_reindex(struct store *s);

/* How far the index is behind the store. */
struct store_index_lag {
	int64_t stories;      /* stories not yet indexed */
	int64_t changes;      /* changed or removed stories not yet applied */
	int64_t seconds;      /* age of the oldest of those, 0 when none */
	int64_t indexed_upto; /* the highest story id indexed */
};
int store_index_lag(struct store *s, int64_t now, struct store_index_lag *ret);

#endif
