/*
 * The SQLite store: the one module that touches SQL. This header opens
 * and closes a store and wraps calls in transactions; each role has its
 * own header, included below: store-feeds.h (subscriptions, URLs,
 * mirrors, polling state), store-merge.h (merging and deduplication),
 * store-index.h (the full-text index), store-query.h (stories, search,
 * marks), store-purge.h (retention).
 */
#ifndef GAZETTE_STORE_H
#define GAZETTE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* store_open flags */
#define STORE_CREATE   0x1 /* create the file (0600) if missing */
#define STORE_READONLY 0x2
#define STORE_SYNC_FULL                                                        \
	0x4 /* synchronous=FULL: the CLI's acknowledged writes */
/* with STORE_CREATE: born 0660, for the system service's group gazette */
#define STORE_GROUP 0x8

/*
 * Whether path is a PostgreSQL URI (postgresql://..., postgres://...):
 * those select the PostgreSQL backend, anything else is an SQLite file.
 */
bool store_is_url(const char *path);

/* The backend's name: "sqlite" or "postgresql". */
const char *store_backend_name(const struct store *s);

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

/* The file and the flags s was opened with (another thread opens its own). */
const char *store_path(const struct store *s);
unsigned store_flags(const struct store *s);

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

#include "gazette/store-feeds.h"
#include "gazette/store-index.h"
#include "gazette/store-merge.h"
#include "gazette/store-purge.h"
#include "gazette/store-query.h"

#endif
