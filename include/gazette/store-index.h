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
 * Index the stories merges queued for full-text search (new and changed
 * ones wait in batches so that small merge transactions stay cheap).
 * A merge indexes by itself once a connection has queued a few thousand,
 * and a search first indexes what is queued; a poller calls this at the
 * end of a round. The count indexed, 0 read-only, or -errno.
 */
int store_index(struct store *s);

#endif
