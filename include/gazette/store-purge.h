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

#endif
