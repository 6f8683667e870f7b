/*
 * SQL helpers every part of the store uses: the statement cache, binding
 * from a format, errors as -errno with a message kept on the connection,
 * and nested transactions (savepoints, or none inside a batch).
 */
#include <errno.h>
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
	case SQLITE_ROW:
	case SQLITE_DONE:
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

/* The cached statement for the literal sql, prepared on first use. */
sqlite3_stmt *
sql_prep(struct store *s, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 3) * 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < STMT_CACHE; i++) {
		struct stmt_slot *sl = &s->cache[(h + i) & (STMT_CACHE - 1)];
		int rc;

		if (sl->sql == sql)
			return sl->st;
		if (sl->sql)
			continue;
		rc = sqlite3_prepare_v3(s->db, sql, -1,
		                        SQLITE_PREPARE_PERSISTENT, &sl->st,
		                        NULL);
		if (rc != SQLITE_OK) {
			sql_fail(s, rc);
			sqlite3_finalize(sl->st);
			sl->st = NULL;
			return NULL;
		}
		sl->sql = sql;
		return sl->st;
	}
	sql_failf(s, -ENOMEM, "statement cache full");
	return NULL;
}

/* Put a statement back: reset it and drop its bindings. */
void
sql_done(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/*
 * Bind parameters 1.. from a format: 'I' int64_t, 'i' int, 't' text (NULL
 * binds NULL), 'z' int64_t bound as NULL when 0.
 */
static int
bindv(struct store *s, sqlite3_stmt *st, const char *fmt, va_list ap)
{
	if ((int)strlen(fmt) != sqlite3_bind_parameter_count(st))
		return sql_failf(s, -EINVAL,
		                 "%zu values for %d parameters in: %s",
		                 strlen(fmt), sqlite3_bind_parameter_count(st),
		                 sqlite3_sql(st));
	for (int i = 1; *fmt; fmt++, i++) {
		int rc;

		switch (*fmt) {
		case 'I':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'i':
			rc = sqlite3_bind_int(st, i, va_arg(ap, int));
			break;
		case 't': {
			const char *t = va_arg(ap, const char *);

			rc = t ? sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC)
			       : sqlite3_bind_null(st, i);
			break;
		}
		case 'z': {
			int64_t v = va_arg(ap, int64_t);

			rc = v ? sqlite3_bind_int64(st, i, v)
			       : sqlite3_bind_null(st, i);
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
	sqlite3_stmt *st = sql_prep(s, sql);
	va_list ap;
	int r, rc;

	if (!st)
		return -EIO;
	va_start(ap, fmt);
	r = bindv(s, st, fmt, ap);
	va_end(ap);
	if (r < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		r = sql_fail(s, rc);
	else
		r = sqlite3_changes(s->db);
out:
	sql_done(st);
	return r;
}

/* One integer from the first row: 1 and *ret when there is a row, else 0. */
int
sql_int(struct store *s, int64_t *ret, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = sql_prep(s, sql);
	va_list ap;
	int r, rc;

	if (!st)
		return -EIO;
	va_start(ap, fmt);
	r = bindv(s, st, fmt, ap);
	va_end(ap);
	if (r < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		r = 1;
	} else if (rc == SQLITE_DONE) {
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
		r = sql_exec(s, "BEGIN IMMEDIATE", "");
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
	if (s->tx_depth == 0 && s->flat) {
		s->flat = false;
		if (s->flat_err) {
			c = s->flat_err;
			s->flat_err = 0;
			if (!sqlite3_get_autocommit(s->db))
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
	if (!sqlite3_get_autocommit(s->db)) {
		char keep[sizeof(s->err)];

		memcpy(keep, s->err, sizeof(keep));
		sql_exec(s, "ROLLBACK", "");
		memcpy(s->err, keep, sizeof(keep));
	}
	return r;
}

/* A copy of column i as a new string (NULL stays NULL); -ENOMEM sets *oom. */
char *
sql_col_dup(sqlite3_stmt *st, int i, bool *oom)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	char *d;

	if (!t)
		return NULL;
	d = strdup((const char *)t);
	if (!d)
		*oom = true;
	return d;
}

/* Run a write statement in its own transaction; its changes or -errno. */
int
sql_write(struct store *s, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
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
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		r = rc == SQLITE_DONE ? sqlite3_changes(s->db)
		                      : sql_fail(s, rc);
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
	if (s->tx_depth == 0 && !sqlite3_get_autocommit(s->db))
		sql_exec(s, "COMMIT", "");
}
