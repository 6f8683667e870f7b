/*
 * The store, on SQLite or PostgreSQL: opening (and migrating) a database,
 * closing it, and the transactions callers wrap several calls in. The store is
 * split by role, each file with its part of the API:
 *
 *   store-sql.c     cached statements, binding, errors, transactions
 *   store-pg.c      the PostgreSQL half of the statements (libpq)
 *   store-schema.c  the schema and its migrations
 *   store-feeds.c   subscriptions, their URLs and mirrors
 *   store-poll.c    what polls leave: attempts, schedule, mirror health
 *   store-merge.c   merging a parsed feed: identities and deduplication
 *   store-index.c   the full-text index
 *   store-query.c   listing, search, the "new" cursor and marks
 *   store-purge.c   retention
 *
 * Every statement is a string literal at its use site, prepared once on
 * first use and cached on the connection (keyed by the literal's address),
 * then bound, stepped and reset. Nothing is ever assembled into SQL.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store-internal.h"

/* Write a message naming the file to *ret_err, when asked for. */
static void open_error(char **ret_err, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
open_error(char **ret_err, const char *path, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	char *m, *shown;

	if (!ret_err)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	shown = store_display(path); /* no password */
	m = shown ? sql_join4("'", shown, "': ", what) : NULL;
	free(shown);
	if (!m)
		return;
	*ret_err = m;
}

/* Whether path names a PostgreSQL database rather than a file. */
bool
store_is_url(const char *path)
{
	return path && (strncmp(path, "postgresql://", 13) == 0 ||
	                strncmp(path, "postgres://", 11) == 0);
}

/*
 * path as a log or a listing shows it: a URI's password (user:PASSWORD@,
 * or password= among its parameters) as "***". NULL out of memory.
 */
char *
store_display(const char *path)
{
	const char *auth, *end, *at, *colon, *q;
	size_t cap;
	char *out, *o;

	if (!store_is_url(path))
		return strdup(path ? path : "");
	/* Each password at most 3 bytes longer as "***", each after 9. */
	cap = 2 * strlen(path) + 8;
	out = malloc(cap);
	if (!out)
		return NULL;
	o = out;
	auth = strstr(path, "://") + 3;
	end = auth + strcspn(auth, "/?");
	/* The last '@': a password's own must be %40, but need not be. */
	at = NULL;
	for (const char *c = auth; c < end; c++)
		if (*c == '@')
			at = c;
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon) {
		memcpy(o, path, (size_t)(colon + 1 - path));
		o += colon + 1 - path;
		memcpy(o, "***", 3);
		o += 3;
		path = at;
	}
	q = strchr(path, '?');
	if (!q) {
		strcpy(o, path);
		return out;
	}
	q++;
	memcpy(o, path, (size_t)(q - path));
	o += q - path;
	while (*q) {
		size_t n = strcspn(q, "&");

		if (strncmp(q, "password=", 9) == 0) {
			memcpy(o, "password=***", 12);
			o += 12;
		} else {
			memcpy(o, q, n);
			o += n;
		}
		q += n;
		if (*q == '&')
			*o++ = *q++;
	}
	*o = '\0';
	return out;
}

/*
 * Open the PostgreSQL database of the URI path and migrate it: the same
 * schema version as SQLite's, in the table gazette_meta.
 */
static int
open_pg(struct store *s, const struct schema *sc, char **ret_err)
{
	int rc, r, v = 0;

	s->backend = BACKEND_PG;
	rc = pg_open(s, s->path);
	if (rc != SQLITE_OK) {
		open_error(ret_err, s->path, "cannot connect: %s", s->dberr);
		return rc == SQLITE_NOMEM ? -ENOMEM : -ECONNREFUSED;
	}
	r = schema_version(s, &v);
	if (r < 0) {
		open_error(ret_err, s->path, "cannot read: %s", s->err);
		return r;
	}
	if (v > sc->n) {
		open_error(ret_err, s->path,
		           "database schema version %d is newer than this "
		           "gazette understands (%d); refusing to use it",
		           v, sc->n);
		return -EPROTO;
	}
	if (v < sc->n && (s->flags & STORE_READONLY)) {
		open_error(ret_err, s->path,
		           "database schema version %d needs upgrading "
		           "to %d; open it read-write once",
		           v, sc->n);
		return -EPROTO;
	}
	if (v < sc->n) {
		r = schema_migrate(s, sc);
		if (r < 0) {
			open_error(ret_err, s->path, "cannot migrate: %s",
			           s->err);
			return r;
		}
	}
	return 0;
}

/* Open, check and migrate the database at path to schema sc. */
int
store_open_db(const char *path, unsigned flags, const struct schema *sc,
              struct store **ret, char **ret_err)
{
	struct store *s;
	int oflags, rc, r, v = 0;

	if (!path || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->flags = flags;
	s->path = strdup(path);
	if (!s->path) {
		r = -ENOMEM;
		goto fail;
	}
	if (store_is_url(path)) {
		r = open_pg(s, sc, ret_err);
		if (r < 0)
			goto fail;
		*ret = s;
		return 0;
	}

	if (flags & STORE_READONLY) {
		oflags = SQLITE_OPEN_READONLY;
	} else {
		oflags = SQLITE_OPEN_READWRITE;
		if (flags & STORE_CREATE) {
			/*
			 * Create it ourselves so that it is born 0600, or
			 * 0660 for the system service whose group may use
			 * the CLI. SQLite gives -wal and -shm the same mode.
			 */
			mode_t mode = flags & STORE_GROUP ? 0660 : 0600;
			int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);

			if (fd < 0) {
				r = -errno;
				open_error(ret_err, path, "%s: %s",
				           access(path, F_OK) == 0
				                   ? "cannot open for writing"
				                   : "cannot create",
				           strerror(-r));
				goto fail;
			}
			close(fd);
		}
	}
	if (access(path, F_OK) != 0) {
		r = -errno;
		open_error(ret_err, path, "cannot open: %s", strerror(errno));
		goto fail;
	}
	if (flags & STORE_URI)
		oflags |= SQLITE_OPEN_URI;
	rc = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = sql_errno(rc);
		open_error(ret_err, path, "cannot open: %s",
		           s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc = index_register(s->db);
	if (rc != SQLITE_OK) {
		r = sql_errno(rc);
		open_error(ret_err, path, "cannot register functions: %s",
		           sqlite3_errmsg(s->db));
		goto fail;
	}

	/* Look before touching anything: a newer schema stays as it is. */
	r = schema_version(s, &v);
	if (r < 0) {
		open_error(ret_err, path, "cannot read: %s", s->err);
		goto fail;
	}
	if (v > sc->n) {
		r = -EPROTO;
		open_error(ret_err, path,
		           "database schema version %d is newer than this "
		           "gazette understands (%d); refusing to use it",
		           v, sc->n);
		goto fail;
	}
	r = sql_exec(s, "PRAGMA foreign_keys = ON", "");
	if (r < 0) {
		open_error(ret_err, path, "foreign keys: %s", s->err);
		goto fail;
	}
	if (flags & STORE_READONLY) {
		if (v < sc->n) {
			r = -EPROTO;
			open_error(ret_err, path,
			           "database schema version %d needs upgrading "
			           "to %d; open it read-write once",
			           v, sc->n);
			goto fail;
		}
		*ret = s;
		return 0;
	}

	{
		struct sql_stmt *st = sql_prep(s, "PRAGMA journal_mode = WAL");
		const char *mode = NULL;

		rc = st ? sql_step(st) : SQLITE_ERROR;
		if (rc == SQLITE_ROW)
			mode = sql_col_text(st, 0);
		if (!mode || strcmp(mode, "wal") != 0) {
			if (rc != SQLITE_ROW && st)
				sql_fail(s, rc);
			r = rc == SQLITE_ROW ? -EIO : sql_errno(rc);
			if (r == 0)
				r = -EIO;
			open_error(ret_err, path, "cannot use WAL mode: %s",
			           mode ? mode : s->err);
			sql_done(st);
			goto fail;
		}
		sql_done(st);
	}
	if (flags & STORE_SYNC_FULL)
		r = sql_exec(s, "PRAGMA synchronous = FULL", "");
	else if (flags & STORE_SYNC_OFF)
		r = sql_exec(s, "PRAGMA synchronous = OFF", "");
	else
		r = sql_exec(s, "PRAGMA synchronous = NORMAL", "");
	/*
	 * SQLite's own default, 2 MiB: the OS keeps the file's pages anyway,
	 * and 8 MiB per connection cost the daemon 8 MiB of peak RSS at 5,000
	 * feeds for no measurable speed.
	 */
	if (r >= 0)
		r = sql_exec(s, "PRAGMA cache_size = -2048", "");
	if (r < 0) {
		open_error(ret_err, path, "pragmas: %s", s->err);
		goto fail;
	}
	if (v < sc->n) {
		r = schema_migrate(s, sc);
		if (r < 0) {
			open_error(ret_err, path, "cannot migrate: %s", s->err);
			goto fail;
		}
	}
	*ret = s;
	return 0;
fail:
	store_close(s);
	return r;
}

/* Open, check and migrate the store at path. */
int
store_open(const char *path, unsigned flags, struct store **ret, char **ret_err)
{
	return store_open_db(path, flags & STORE_API_FLAGS, &schema_store, ret,
	                     ret_err);
}

/* Finalize every cached statement and close the connection. */
void
store_close(struct store *s)
{
	if (!s)
		return;
	store_close(s->index);
	for (size_t i = 0; i < STMT_CACHE; i++)
		sql_free_stmt(s->cache[i].st);
	sqlite3_close(s->db);
	pg_close(s);
	free(s->path);
	free(s->instance);
	free(s);
}

/* The last error message on this connection. */
const char *
store_errmsg(struct store *s)
{
	if (!s)
		return "no store";
	if (s->err[0])
		return s->err;
	if (s->backend == BACKEND_PG)
		return s->dberr[0] ? s->dberr : "no error";
	return s->db ? sqlite3_errmsg(s->db) : "no database";
}

/* ---- transactions for callers ---- */

/* Open a transaction around several calls. */
int
store_begin(struct store *s)
{
	return sql_begin(s);
}

int
store_begin_batch(struct store *s)
{
	int r;

	if (s->tx_depth > 0)
		return sql_failf(s, -EBUSY, "a transaction is already open");
	r = sql_begin(s);
	if (r >= 0) {
		s->flat = true;
		s->flat_err = 0;
	}
	return r;
}

/* Commit what store_begin opened. */
int
store_commit(struct store *s)
{
	return sql_end(s, 0);
}

/* Roll back what store_begin opened. */
int
store_rollback(struct store *s)
{
	int r = sql_end(s, -ECANCELED);

	return r == -ECANCELED ? 0 : r;
}

/* The file the store was opened from. */
const char *
store_path(const struct store *s)
{
	return s ? s->path : NULL;
}

/* The flags the store was opened with. */
unsigned
store_flags(const struct store *s)
{
	return s ? s->flags & STORE_API_FLAGS : 0;
}

/* The backend's name: "sqlite" or "postgresql". */
const char *
store_backend_name(const struct store *s)
{
	return s && s->backend == BACKEND_PG ? "postgresql" : "sqlite";
}

/* "sqlite PATH" or "postgresql HOST/DB", without credentials. */
int
store_describe(const struct store *s, char **ret)
{
	PQconninfoOption *opts = NULL;
	const char *host = NULL, *db = NULL;
	char *out;

	if (!s || !ret)
		return -EINVAL;
	if (s->backend != BACKEND_PG) {
		out = sql_join4("sqlite ", s->path, "", "");
	} else {
		opts = PQconninfoParse(s->path, NULL);
		for (PQconninfoOption *o = opts; o && o->keyword; o++) {
			if (!o->val || !*o->val)
				continue;
			if (strcmp(o->keyword, "host") == 0)
				host = o->val;
			else if (strcmp(o->keyword, "dbname") == 0)
				db = o->val;
		}
		/* What the URI leaves out, the connection says it took. */
		if (!host && s->pg)
			host = PQhost(s->pg);
		if (!db && s->pg)
			db = PQdb(s->pg);
		out = sql_join4("postgresql ", host ? host : "localhost", "/",
		                db ? db : "");
		PQconninfoFree(opts);
	}
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}
