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

/*
 * path as logs and listings show it: a URI's password replaced by "***"
 * (user:***@host, password=***); newly allocated, NULL out of memory.
 */
char *store_display(const char *path);

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

/* ---- several daemons, one store (PostgreSQL: lib/store-lease.c) ---- */

/*
 * Whether several daemons may share s: on PostgreSQL each leases the
 * feeds it polls; an SQLite store has one daemon and no leases.
 */
bool store_lease_shared(const struct store *s);
/* Register this daemon (host, pid) under a new random instance id. */
int store_lease_register(struct store *s, const char *host, int64_t pid,
                         int64_t now);
/* The instance id s leases under (NULL: none). */
const char *store_lease_instance(const struct store *s);
/* Lease under instance on s, another connection of the same daemon. */
int store_lease_adopt(struct store *s, const char *instance);
/*
 * Lease up to max of those of ids[0..n) that are due (enabled,
 * next_poll and retry_after passed) and free (no lease, an expired one,
 * or ours) until now + ttl, in one statement (per thousand ids), the
 * longest due first; *ret_ids (caller frees) the *ret_n ids leased.
 * Fewer than max: every other one is another daemon's or not due.
 */
int store_lease_take(struct store *s, const int64_t *ids, size_t n, size_t max,
                     int64_t now, int64_t ttl, int64_t **ret_ids,
                     size_t *ret_n);

/* A feed's schedule and lease as the store has them. */
struct store_lease_state {
	int64_t id;
	int64_t next_poll;
	int64_t retry_after;
	int64_t lease_until; /* 0: no lease */
	bool ours;           /* the lease is this instance's */
	bool disabled;
};

/* The state of the feeds of ids (those that exist); caller frees *ret. */
int store_lease_where(struct store *s, const int64_t *ids, size_t n,
                      struct store_lease_state **ret, size_t *ret_n);
/*
 * Heartbeat: this daemon's row, and its leases extended to now + ttl.
 * Returns the number of leases it holds, or -errno.
 */
int store_lease_heartbeat(struct store *s, int64_t now, int64_t ttl);
/* Give a feed's lease back, in the transaction saving its poll. */
int store_lease_release(struct store *s, int64_t feed_id);
/* A clean exit: every lease given back, the daemon's row removed. */
int store_lease_unregister(struct store *s);

/* A daemon registered in a shared store. */
struct store_daemon {
	char *instance;
	char *host;
	int64_t pid;
	int64_t started;
	int64_t heartbeat;
	int64_t leases;  /* feeds it holds (unexpired) */
	int64_t expired; /* leases it left to expire */
};

/* The daemons of a shared store, oldest first (none on SQLite). */
int store_lease_daemons(struct store *s, int64_t now, struct store_daemon **ret,
                        size_t *ret_n);
void store_daemons_free(struct store_daemon *v, size_t n);

/*
 * The backend and where it is, for people: "sqlite PATH", or
 * "postgresql HOST/DB" (no user, no password); *ret newly allocated.
 */
int store_describe(const struct store *s, char **ret);

#include "gazette/store-feeds.h"
#include "gazette/store-index.h"
#include "gazette/store-merge.h"
#include "gazette/store-purge.h"
#include "gazette/store-query.h"

#endif
