/*
 * SQL helpers every part of the store uses: the statement cache, binding
 * from a format, errors as -errno with a message kept on the connection,
 * and nested transactions (savepoints, or none inside a batch).
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

/* Map an SQLite result code to a negative errno. */
int
sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQL_ROW:
	case SQL_DONE:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EBADMSG;
	case SQLITE_TOOBIG:
		return -E2BIG;
	default:
		return -EIO;
	}
}

/* Remember the connection's error message and return rc as -errno. */
int
sql_fail(struct store *s, int rc)
{
	if (s->backend == BACKEND_PG)
		snprintf(s->err, sizeof(s->err), "%s", s->dberr);
	else
		snprintf(s->err, sizeof(s->err), "%s", sqlite3_errmsg(s->db));
	return sql_errno(rc);
}

/* Record a message of our own and return err. */
int
sql_failf(struct store *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return err;
}

/* A new statement of sql on s, prepared (SQLite) or translated (PG). */
static struct sql_stmt *
stmt_new(struct store *s, const char *sql)
{
	struct sql_stmt *st = calloc(1, sizeof(*st));
	int rc;

	if (!st) {
		sql_failf(s, -ENOMEM, "out of memory");
		return NULL;
	}
	st->s = s;
	st->sql = sql;
	if (s->backend == BACKEND_PG) {
		st->pg_sql = pg_translate(sql, &st->nparams);
		if (!st->pg_sql || st->nparams > PG_MAX_PARAMS) {
			sql_failf(s, -EINVAL, "cannot translate: %s", sql);
			sql_free_stmt(st);
			return NULL;
		}
		snprintf(st->name, sizeof(st->name), "g%u", s->pg_next++);
		return st;
	}
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	                        &st->lite, NULL);
	if (rc != SQLITE_OK) {
		sql_fail(s, rc);
		sql_free_stmt(st);
		return NULL;
	}
	return st;
}

/* Finalize a statement. */
void
sql_free_stmt(struct sql_stmt *st)
{
	if (!st)
		return;
	sql_done(st);
	sqlite3_finalize(st->lite);
	free(st->pg_sql);
	free(st);
}

/* The cached statement for the literal sql, prepared on first use. */
struct sql_stmt *
sql_prep(struct store *s, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 3) * 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < STMT_CACHE; i++) {
		struct stmt_slot *sl = &s->cache[(h + i) & (STMT_CACHE - 1)];

		if (sl->sql == sql)
			return sl->st;
		if (sl->sql)
			continue;
		sl->st = stmt_new(s, sql);
		if (!sl->st)
			return NULL;
		sl->sql = sql;
		return sl->st;
	}
	sql_failf(s, -ENOMEM, "statement cache full");
	return NULL;
}

/* Put a statement back: reset it and drop its bindings. */
void
sql_done(struct sql_stmt *st)
{
	if (!st)
		return;
	if (st->lite) {
		sqlite3_reset(st->lite);
		sqlite3_clear_bindings(st->lite);
		return;
	}
	PQclear(st->res);
	st->res = NULL;
	st->row = st->nrows = 0;
	for (int i = 0; i < PG_MAX_PARAMS; i++) {
		if (st->owned[i])
			free(st->vals[i]);
		st->vals[i] = NULL;
		st->owned[i] = false;
		st->fmts[i] = 0;
	}
	st->binary = false;
}

/* Bind an integer to parameter i. */
int
sql_bind_int64(struct sql_stmt *st, int i, int64_t v)
{
	if (st->lite)
		return sqlite3_bind_int64(st->lite, i, v);
	if (i < 1 || i > st->nparams)
		return SQLITE_RANGE;
	snprintf(st->num[i - 1], sizeof(st->num[0]), "%lld", (long long)v);
	st->vals[i - 1] = st->num[i - 1];
	st->types[i - 1] = 20; /* int8 */
	return SQLITE_OK;
}

/* Bind an int to parameter i. */
int
sql_bind_int(struct sql_stmt *st, int i, int v)
{
	return sql_bind_int64(st, i, v);
}

/* Bind text (not copied) to parameter i; NULL binds NULL. */
int
sql_bind_text(struct sql_stmt *st, int i, const char *t)
{
	if (st->lite)
		return t ? sqlite3_bind_text(st->lite, i, t, -1, SQLITE_STATIC)
		         : sqlite3_bind_null(st->lite, i);
	if (i < 1 || i > st->nparams)
		return SQLITE_RANGE;
	st->vals[i - 1] = (char *)t;
	/* A text NULL is text too: "?3 IS NULL" alone gives no type. */
	if (!st->types[i - 1])
		st->types[i - 1] = 25; /* text */
	return SQLITE_OK;
}

/*
 * Bind len bytes (not copied) in PostgreSQL's binary format to
 * parameter i, which the statement's SQL gives a type (a cast); for
 * what the text format would cost the server to parse, such as a long
 * array. Not on SQLite.
 */
int
sql_bind_binary(struct sql_stmt *st, int i, const void *p, size_t len)
{
	if (st->lite || len > INT_MAX)
		return SQLITE_MISUSE;
	if (i < 1 || i > st->nparams)
		return SQLITE_RANGE;
	st->vals[i - 1] = (char *)p;
	st->lens[i - 1] = (int)len;
	st->fmts[i - 1] = 1;
	st->binary = true;
	return SQLITE_OK;
}

/* Bind NULL to parameter i. */
int
sql_bind_null(struct sql_stmt *st, int i)
{
	if (st->lite)
		return sqlite3_bind_null(st->lite, i);
	if (i < 1 || i > st->nparams)
		return SQLITE_RANGE;
	st->vals[i - 1] = NULL;
	return SQLITE_OK;
}

/* Run the statement, or move to its next row. */
int
sql_step(struct sql_stmt *st)
{
	if (st->lite)
		return sqlite3_step(st->lite);
	if (!st->res)
		return pg_run(st);
	if (++st->row < st->nrows)
		return SQL_ROW;
	return SQL_DONE;
}

/* Column i of the current row as an integer (PG booleans as 1/0). */
int64_t
sql_col_int64(struct sql_stmt *st, int i)
{
	const char *v;

	if (st->lite)
		return sqlite3_column_int64(st->lite, i);
	if (!st->res || st->row >= st->nrows ||
	    PQgetisnull(st->res, st->row, i))
		return 0;
	v = PQgetvalue(st->res, st->row, i);
	if (v[0] == 't' && !v[1])
		return 1;
	if (v[0] == 'f' && !v[1])
		return 0;
	return strtoll(v, NULL, 10);
}

/* Column i as an int. */
int
sql_col_int(struct sql_stmt *st, int i)
{
	return (int)sql_col_int64(st, i);
}

/* Column i as a double. */
double
sql_col_double(struct sql_stmt *st, int i)
{
	if (st->lite)
		return sqlite3_column_double(st->lite, i);
	if (!st->res || st->row >= st->nrows ||
	    PQgetisnull(st->res, st->row, i))
		return 0;
	return strtod(PQgetvalue(st->res, st->row, i), NULL);
}

/* Column i as text, NULL for NULL; valid until the next step. */
const char *
sql_col_text(struct sql_stmt *st, int i)
{
	if (st->lite)
		return (const char *)sqlite3_column_text(st->lite, i);
	if (!st->res || st->row >= st->nrows ||
	    PQgetisnull(st->res, st->row, i))
		return NULL;
	return PQgetvalue(st->res, st->row, i);
}

/* Whether column i is NULL. */
bool
sql_col_null(struct sql_stmt *st, int i)
{
	if (st->lite)
		return sqlite3_column_type(st->lite, i) == SQLITE_NULL;
	return !st->res || st->row >= st->nrows ||
	       PQgetisnull(st->res, st->row, i);
}

/* Rows the last statement changed. */
int
sql_changes(struct store *s)
{
	return s->backend == BACKEND_PG ? s->changes : sqlite3_changes(s->db);
}

/* The id the last INSERT made on this connection. */
int64_t
sql_last_id(struct store *s)
{
	int64_t v = 0;

	if (s->backend != BACKEND_PG)
		return sqlite3_last_insert_rowid(s->db);
	if (sql_int(s, &v, "SELECT lastval()", "") <= 0)
		return 0;
	return v;
}

/* No transaction open on the connection. */
bool
sql_autocommit(struct store *s)
{
	if (s->backend == BACKEND_PG)
		return PQtransactionStatus(s->pg) == PQTRANS_IDLE;
	return sqlite3_get_autocommit(s->db) != 0;
}

/* Run a script of statements. */
int
sql_script(struct store *s, const char *script)
{
	char *msg = NULL;
	int rc;

	if (s->backend == BACKEND_PG)
		return pg_script(s, script);
	rc = sqlite3_exec(s->db, script, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		sql_failf(s, sql_errno(rc), "%s",
		          msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return sql_errno(rc);
	}
	return 0;
}

/*
 * Bind parameters 1.. from a format: 'I' int64_t, 'i' int, 't' text (NULL
 * binds NULL), 'z' int64_t bound as NULL when 0, 'b' bytes and their
 * size_t length (a blob; in binary format on PostgreSQL).
 */
static int
bindv(struct store *s, struct sql_stmt *st, const char *fmt, va_list ap)
{
	int np =
	        st->lite ? sqlite3_bind_parameter_count(st->lite) : st->nparams;

	if ((int)strlen(fmt) != np)
		return sql_failf(s, -EINVAL,
		                 "%zu values for %d parameters in: %s",
		                 strlen(fmt), np, st->sql);
	for (int i = 1; *fmt; fmt++, i++) {
		int rc;

		switch (*fmt) {
		case 'I':
			rc = sql_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'i':
			rc = sql_bind_int(st, i, va_arg(ap, int));
			break;
		case 't': {
			const char *t = va_arg(ap, const char *);

			rc = sql_bind_text(st, i, t);
			break;
		}
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t len = va_arg(ap, size_t);

			rc = st->lite ? sqlite3_bind_blob64(st->lite, i, p, len,
			                                    SQLITE_STATIC)
			              : sql_bind_binary(st, i, p, len);
			break;
		}
		case 'z': {
			int64_t v = va_arg(ap, int64_t);

			rc = v ? sql_bind_int64(st, i, v)
			       : sql_bind_null(st, i);
			if (!st->lite && !st->types[i - 1])
				st->types[i - 1] = 20; /* int8, NULL or not */
			break;
		}
		default:
			return sql_failf(s, -EINVAL, "bad bind format");
		}
		if (rc != SQLITE_OK)
			return sql_fail(s, rc);
	}
	return 0;
}

/* Run a statement that returns no rows. Returns the changed row count. */
int
sql_exec(struct store *s, const char *sql, const char *fmt, ...)
{
	struct sql_stmt *st = sql_prep(s, sql);
	va_list ap;
	int r, rc;

	if (!st)
		return -EIO;
	va_start(ap, fmt);
	r = bindv(s, st, fmt, ap);
	va_end(ap);
	if (r < 0)
		goto out;
	while ((rc = sql_step(st)) == SQL_ROW)
		;
	if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	else
		r = sql_changes(s);
out:
	sql_done(st);
	return r;
}

/* Run, or queue on PostgreSQL (see store-internal.h). 0 or -errno. */
int
sql_defer(struct store *s, int64_t *sum, const char *sql, const char *fmt, ...)
{
	struct sql_stmt *st = sql_prep(s, sql);
	va_list ap;
	int r, rc;

	if (!st)
		return -EIO;
	va_start(ap, fmt);
	r = bindv(s, st, fmt, ap);
	va_end(ap);
	if (r < 0)
		goto out;
	if (st->lite || s->tx_depth == 0) {
		rc = sql_step(st);
		if (rc == SQL_ROW && sum)
			*sum += sql_col_int64(st, 0);
		while (rc == SQL_ROW)
			rc = sql_step(st);
		r = rc == SQL_DONE ? 0 : sql_fail(s, rc);
	} else {
		rc = pg_defer(st, sum);
		r = rc ? sql_fail(s, rc) : 0;
	}
out:
	sql_done(st);
	return r;
}

/* Read the answers of what sql_defer queued. */
int
sql_flush(struct store *s)
{
	int rc;

	if (s->backend != BACKEND_PG || !s->pipe_n)
		return 0;
	rc = pg_drain(s);
	return rc ? sql_fail(s, rc) : 0;
}

/* One integer from the first row: 1 and *ret when there is a row, else 0. */
int
sql_int(struct store *s, int64_t *ret, const char *sql, const char *fmt, ...)
{
	struct sql_stmt *st = sql_prep(s, sql);
	va_list ap;
	int r, rc;

	if (!st)
		return -EIO;
	va_start(ap, fmt);
	r = bindv(s, st, fmt, ap);
	va_end(ap);
	if (r < 0)
		goto out;
	rc = sql_step(st);
	if (rc == SQL_ROW) {
		*ret = sql_col_int64(st, 0);
		r = 1;
	} else if (rc == SQL_DONE) {
		r = 0;
	} else {
		r = sql_fail(s, rc);
	}
out:
	sql_done(st);
	return r;
}

/* Start a write transaction (a savepoint when one is already open). */
int
sql_begin(struct store *s)
{
	int r;

	if (s->tx_depth > 0 && s->flat && s->flat_err) {
		/* Nothing more after a failure: SQLite may have rolled the
		 * transaction back, and the next write would autocommit. */
		return s->flat_err;
	} else if (s->tx_depth > 0 && s->flat) {
		r = 0;
	} else if (s->tx_depth > 0) {
		r = sql_exec(s, "SAVEPOINT " NESTED_SP, "");
	} else {
		r = sql_exec(s, SQL2(s, "BEGIN IMMEDIATE", "BEGIN"), "");
	}
	if (r < 0)
		return r;
	s->tx_depth++;
	return 0;
}

/* End a transaction: commit when r >= 0, else roll back. Returns r. */
int
sql_end(struct store *s, int r)
{
	int c;

	if (s->tx_depth <= 0)
		return r < 0 ? r : sql_failf(s, -EINVAL, "no transaction open");
	s->tx_depth--;
	/* Gone with the transaction, or maybe with the savepoint. */
	if (s->tx_depth == 0 || (r < 0 && !s->flat))
		s->n_xact_locks = 0;
	/*
	 * The connection and the transaction went: no COMMIT on the new
	 * connection (it would commit nothing and say so with a warning).
	 */
	if (s->tx_depth == 0 && s->tx_lost) {
		s->tx_lost = false;
		s->flat = false;
		s->flat_err = 0;
		return sql_failf(s, -EIO,
		                 "the connection to the database was lost in "
		                 "the transaction, which the server rolled "
		                 "back");
	}
	if (s->tx_depth == 0 && s->flat) {
		s->flat = false;
		if (s->flat_err) {
			c = s->flat_err;
			s->flat_err = 0;
			if (!sql_autocommit(s))
				sql_exec(s, "ROLLBACK", "");
			memcpy(s->err, s->flat_msg, sizeof(s->err));
			return c;
		}
	}
	if (s->tx_depth > 0 && s->flat) {
		if (r < 0 && !s->flat_err) {
			s->flat_err = r;
			memcpy(s->flat_msg, s->err, sizeof(s->err));
		}
		return r;
	}
	if (s->tx_depth > 0) {
		if (r < 0)
			sql_exec(s, "ROLLBACK TO " NESTED_SP, "");
		c = sql_exec(s, "RELEASE " NESTED_SP, "");
		return r < 0 ? r : (c < 0 ? c : r);
	}
	if (r >= 0) {
		c = sql_exec(s, "COMMIT", "");
		if (c >= 0)
			return r;
		r = c;
	}
	if (!sql_autocommit(s)) {
		char keep[sizeof(s->err)];

		memcpy(keep, s->err, sizeof(keep));
		sql_exec(s, "ROLLBACK", "");
		memcpy(s->err, keep, sizeof(keep));
	}
	return r;
}

/*
 * Hold an advisory lock to the end of the transaction, waiting for it
 * or not. Only PostgreSQL has other daemons on the same store to keep
 * out; on SQLite the write transaction already does.
 */
static int
lock_xact(struct store *s, int64_t key, bool wait)
{
	int64_t got = 0;
	int r;

	if (s->backend != BACKEND_PG)
		return 0;
	for (int i = 0; i < s->n_xact_locks; i++)
		if (s->xact_locks[i] == key)
			return 0;
	r = sql_int(s, &got,
	            wait ? "SELECT 1 FROM pg_advisory_xact_lock(?1)"
	                 : "SELECT pg_try_advisory_xact_lock(?1)::int",
	            "I", key);
	if (r < 0)
		return r;
	if (!got)
		return -EBUSY;
	if (s->tx_depth > 0 && /* else it went with the statement */
	    s->n_xact_locks <
	            (int)(sizeof(s->xact_locks) / sizeof(s->xact_locks[0])))
		s->xact_locks[s->n_xact_locks++] = key;
	return 1;
}

int
sql_lock_xact(struct store *s, int64_t key)
{
	return lock_xact(s, key, true);
}

int
sql_try_lock_xact(struct store *s, int64_t key)
{
	return lock_xact(s, key, false);
}

/* A copy of column i as a new string (NULL stays NULL); -ENOMEM sets *oom. */
char *
sql_col_dup(struct sql_stmt *st, int i, bool *oom)
{
	const char *t = sql_col_text(st, i);
	char *d;

	if (!t)
		return NULL;
	d = strdup(t);
	if (!d)
		*oom = true;
	return d;
}

/* Run a write statement in its own transaction; its changes or -errno. */
int
sql_write(struct store *s, const char *sql, const char *fmt, ...)
{
	struct sql_stmt *st;
	va_list ap;
	int r, rc;

	r = sql_begin(s);
	if (r < 0)
		return r;
	st = sql_prep(s, sql);
	if (!st)
		return sql_end(s, -EIO);
	va_start(ap, fmt);
	r = bindv(s, st, fmt, ap);
	va_end(ap);
	if (r >= 0) {
		while ((rc = sql_step(st)) == SQL_ROW)
			;
		r = rc == SQL_DONE ? sql_changes(s) : sql_fail(s, rc);
	}
	sql_done(st);
	return sql_end(s, r);
}

/* a b c d concatenated, newly allocated; NULL when out of memory. */
char *
sql_join4(const char *a, const char *b, const char *c, const char *d)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c), ld = strlen(d);
	char *out = malloc(la + lb + lc + ld + 1);

	if (!out)
		return NULL;
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	memcpy(out + la + lb, c, lc);
	memcpy(out + la + lb + lc, d, ld);
	out[la + lb + lc + ld] = '\0';
	return out;
}

/* A read transaction (outside any other), for one snapshot. */
int
sql_begin_read(struct store *s)
{
	if (s->tx_depth > 0)
		return 0;
	return sql_exec(s, "BEGIN", "");
}

/* End what sql_begin_read opened. */
void
sql_end_read(struct store *s)
{
	if (s->tx_depth == 0 && !sql_autocommit(s))
		sql_exec(s, "COMMIT", "");
}
