/*
 * What the store's files share and nothing else sees: the connection
 * with its statement cache, and the SQL helpers (lib/store-sql.c). Not
 * installed; include/gazette/store.h is the API.
 */
#ifndef GAZETTE_STORE_INTERNAL_H
#define GAZETTE_STORE_INTERNAL_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "gazette/store.h"

#define BUSY_TIMEOUT_MS   5000
#define STMT_CACHE        256    /* slots; a power of two above the count */
#define MAX_URLS          64     /* URLs (primary + mirrors) per feed */
#define MAX_ENTRIES       200000 /* entries accepted in one merge */
#define NESTED_SP         "store_nested"
#define PURGE_BATCH       500 /* stories a purge removes per transaction */
#define STR_(x)           #x
#define STR(x)            STR_(x)  /* a number as a string literal, for SQL */
#define SEARCH_CANDIDATES "5000"   /* the newest matches a search ranks */
#define FTS_HASHSIZE      33554432 /* bytes of index terms held before a flush */
#define INDEX_BATCH       20000    /* stories indexed per transaction */

/* store_open_db flags beside store.h's (STORE_API_FLAGS) */
#define STORE_API_FLAGS 0xff
#define STORE_SYNC_OFF  0x100 /* synchronous=OFF: a file we can rebuild */
#define STORE_URI       0x200 /* the path may be a file: URI */

/* What a statement's step returns beside an error code. */
#define SQL_OK   0
#define SQL_ROW  100 /* SQLITE_ROW */
#define SQL_DONE 101 /* SQLITE_DONE */

#define PG_MAX_PARAMS 16
#define PG_PIPE_MAX   256 /* statements queued before their answers are read */

/*
 * PostgreSQL advisory locks, held to the end of a transaction, that
 * serialize what several daemons on one database must not do at once.
 */
#define LOCK_INDEX  7001 /* the lagging indexer (store-index-pg.c) */
#define LOCK_SCHEMA 7417 /* migrations (store-schema.c) */
#define LOCK_MERGE  7418 /* merges that write (store-merge.c) */
#define LOCK_CONFIG 7419 /* syncing the configured feeds (store-feeds.c) */

enum store_backend {
	BACKEND_SQLITE,
	BACKEND_PG,
};

/*
 * A cached statement of either backend. On PostgreSQL the ?N of the
 * shared SQL become $N once, the statement is prepared by name on the
 * connection (again after a reconnect), its parameters are kept as text
 * until the first step runs it, and the rows come back whole.
 */
struct sql_stmt {
	struct store *s;
	const char *sql;
	sqlite3_stmt *lite;
	char *pg_sql;    /* translated */
	char name[16];   /* the prepared statement's */
	unsigned pg_gen; /* the connection it was prepared on */
	int nparams;
	char *vals[PG_MAX_PARAMS];     /* NULL binds NULL */
	bool owned[PG_MAX_PARAMS];     /* vals[i] allocated */
	char num[PG_MAX_PARAMS][24];   /* integers as text */
	unsigned types[PG_MAX_PARAMS]; /* Oid: int8 for integers, else 0 */
	int lens[PG_MAX_PARAMS];       /* of a binary value */
	int fmts[PG_MAX_PARAMS];       /* 1: vals[i] is binary (lens[i]) */
	bool binary;                   /* some value is */
	PGresult *res;
	int row, nrows;
};

struct stmt_slot {
	const char *sql;
	struct sql_stmt *st;
};

struct store {
	enum store_backend backend;
	sqlite3 *db;
	PGconn *pg;
	unsigned pg_gen;  /* bumped on every reconnect */
	bool tx_lost;     /* the connection went with the open transaction */
	unsigned pg_next; /* statement names */
	int changes;      /* rows the last PG statement changed */
	char *instance;   /* this process's name for leases (PG) */
	char dberr[512];  /* the last PG error */
	char *path;
	unsigned flags;
	int tx_depth;
	/* the LOCK_* this transaction holds (sql_lock_xact), a few at most */
	int64_t xact_locks[4];
	int n_xact_locks;
	bool flat;    /* store_begin_batch: nested calls take no savepoint */
	int flat_err; /* the first failure inside it, and its message */
	char flat_msg[512];
	struct store *index; /* the full-text index's connection, or NULL */
	/* PostgreSQL: what sql_defer sent and whose answers are unread */
	int pipe_n;
	struct pipe_item {
		struct sql_stmt *prepared; /* a PQsendPrepare's, or NULL */
		int64_t *sum;              /* where the row's integer adds */
	} pipe[PG_PIPE_MAX];
	struct stmt_slot cache[STMT_CACHE];
	char err[512];
};

/* ---- lib/store-sql.c: statements, errors, transactions ---- */

/* An SQLite result code as a negative errno. */
int sql_errno(int rc);
/* Keep the connection's message; rc as -errno. */
int sql_fail(struct store *s, int rc);
/* Keep a message of our own; returns err. */
int sql_failf(struct store *s, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* The cached statement for the literal sql (keyed by its address). */
struct sql_stmt *sql_prep(struct store *s, const char *sql);
/* The same, of the SQL for the store's backend. */
#define sql_prep2(s, lite, pg)                                                 \
	sql_prep((s), (s)->backend == BACKEND_PG ? (pg) : (lite))
/* One of two literals, by the store's backend. */
#define SQL2(s, lite, pg) ((s)->backend == BACKEND_PG ? (pg) : (lite))
/* Reset a statement and clear its bindings; NULL is fine. */
void sql_done(struct sql_stmt *st);
/* Bind parameter i (from 1); text is not copied (SQLITE_STATIC). */
int sql_bind_int64(struct sql_stmt *st, int i, int64_t v);
int sql_bind_int(struct sql_stmt *st, int i, int v);
int sql_bind_text(struct sql_stmt *st, int i, const char *t);
int sql_bind_null(struct sql_stmt *st, int i);
int sql_bind_binary(struct sql_stmt *st, int i, const void *p, size_t len);
/* Run or advance: SQL_ROW, SQL_DONE, or an SQLite-style error code. */
int sql_step(struct sql_stmt *st);
/* Columns of the current row, from 0. */
int64_t sql_col_int64(struct sql_stmt *st, int i);
int sql_col_int(struct sql_stmt *st, int i);
double sql_col_double(struct sql_stmt *st, int i);
const char *sql_col_text(struct sql_stmt *st, int i);
bool sql_col_null(struct sql_stmt *st, int i);
/* Rows the last statement changed; the id the last INSERT made. */
int sql_changes(struct store *s);
int64_t sql_last_id(struct store *s);
/* No transaction open on the connection. */
bool sql_autocommit(struct store *s);
/*
 * Bind as sql_exec does and run, or on PostgreSQL inside a transaction
 * queue it (libpq's pipeline) until a statement that waits for its
 * answer, sql_flush, or the commit: *sum (if not NULL) then adds the
 * first row's integer, and an error fails that later statement.
 */
int sql_defer(struct store *s, int64_t *sum, const char *sql, const char *fmt,
              ...);
/* Read the answers of what sql_defer queued; 0 or -errno. */
int sql_flush(struct store *s);
/* Run a script of several statements (migrations). */
int sql_script(struct store *s, const char *script);
/* Finalize a statement. */
void sql_free_stmt(struct sql_stmt *st);
/*
 * Bind ?1.. from fmt ('I' int64_t, 'i' int, 't' text or NULL, 'z' int64_t
 * NULL when 0, 'b' bytes and a size_t length: a blob on SQLite, a value
 * in binary format on PostgreSQL) and step: sql_exec gives the changed rows,
 * sql_int the first row's integer (1, or 0 without a row), sql_write the same
 * as sql_exec in a transaction of its own.
 */
int sql_exec(struct store *s, const char *sql, const char *fmt, ...);
int sql_int(struct store *s, int64_t *ret, const char *sql, const char *fmt,
            ...);
int sql_write(struct store *s, const char *sql, const char *fmt, ...);
/* BEGIN IMMEDIATE, or a savepoint inside one; sql_end commits when r >= 0. */
int sql_begin(struct store *s);
int sql_end(struct store *s, int r);
/*
 * Hold a LOCK_* to the end of the transaction: 1 when taken now, 0 when
 * the transaction held it already (and always on SQLite), or -errno.
 */
int sql_lock_xact(struct store *s, int64_t key);
/* The same without waiting: -EBUSY while another connection holds it. */
int sql_try_lock_xact(struct store *s, int64_t key);
/* A read transaction, for one snapshot across statements; ended. */
int sql_begin_read(struct store *s);
void sql_end_read(struct store *s);
/* Column i copied (NULL stays NULL); *oom set when out of memory. */
char *sql_col_dup(struct sql_stmt *st, int i, bool *oom);
/* a b c d concatenated, newly allocated; NULL when out of memory. */
char *sql_join4(const char *a, const char *b, const char *c, const char *d);

/* ---- lib/store-schema.c ---- */

/* A schema: steps[i] takes a database from user_version i to i + 1. */
struct schema {
	const char *const *steps;
	const char *const *pg_steps; /* the same versions on PostgreSQL */
	int n;
};

extern const struct schema schema_store; /* the store's */
extern const struct schema schema_index; /* the index file's */
/* PRAGMA user_version of the open database. */
int schema_version(struct store *s, int *ret);
/* Apply sc's steps from the database's version up, in one transaction. */
int schema_migrate(struct store *s, const struct schema *sc);

/* ---- lib/store.c ---- */

/* Open (create, migrate) a database of schema sc: the store, the index. */
int store_open_db(const char *path, unsigned flags, const struct schema *sc,
                  struct store **ret, char **ret_err);

/* ---- lib/store-pg.c: the libpq half of the driver ---- */

/* Connect to conninfo; a message in s->err on failure. */
int pg_open(struct store *s, const char *conninfo);
void pg_close(struct store *s);
/* Run st with its parameters (first step); SQL_ROW/SQL_DONE or error. */
int pg_run(struct sql_stmt *st);
/* Queue st in the pipeline (sql_defer); read the queue's answers. */
int pg_defer(struct sql_stmt *st, int64_t *sum);
int pg_drain(struct store *s);
/* A script of statements in one call, or -errno with s->err. */
int pg_script(struct store *s, const char *script);
/* The ?N of sql as $N, newly allocated, and the highest N. */
char *pg_translate(const char *sql, int *ret_nparams);

/* ---- lib/store-index-pg.c: store_index_some, _lag, reindex on PG ---- */

int pg_index_some(struct store *s, int64_t max);
int pg_index_lag(struct store *s, int64_t now, struct store_index_lag *ret);
int pg_reindex(struct store *s);

/* ---- lib/store-index.c ---- */

/* The words of HTML t (n bytes) into out (n + 1 bytes); their length. */
size_t fts_text(const char *t, size_t n, char *out);
/* Register gz_fts_text() on a connection. */
int index_register(sqlite3 *db);
/* The index's connection (the store attached as "store"), opened once. */
int index_get(struct store *s, struct store **ret);

#endif
