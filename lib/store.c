/*
 * The SQLite store: schema and migrations, subscriptions and their URLs,
 * merging parsed feeds with deduplication, marks, queries, full-text
 * search and retention. The one module that touches SQL.
 *
 * Every statement is a string literal at its use site, prepared once on
 * first use and cached on the connection (keyed by the literal's address),
 * then bound, stepped and reset. Nothing is ever assembled into SQL.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gazette/store.h"
#include "gazette/url.h"

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
#define INDEX_BATCH       10000    /* stories indexed per transaction */
#ifndef INDEX_AFTER                /* (a -D for measurements) */
#define INDEX_AFTER 10000 /* stories a connection merges before indexing */
#endif

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
};

struct feed_title {
	int64_t id;
	char *title;
};

struct store {
	sqlite3 *db;
	char *path;
	unsigned flags;
	int tx_depth;
	bool flat;    /* store_begin_batch: nested calls take no savepoint */
	int flat_err; /* the first failure inside it, and its message */
	char flat_msg[512];
	int unindexed; /* stories this connection queued for the index */
	struct stmt_slot cache[STMT_CACHE];
	char err[512];
};

/*
 * The schema, one entry per version: migrations[i] takes a database from
 * user_version i to i + 1 and ends by setting it. Applied in order, all
 * in one transaction.
 */
static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE feed ("
        "  id INTEGER PRIMARY KEY,"
        "  title TEXT,"        /* set by the user or the configuration */
        "  parsed_title TEXT," /* what the feed calls itself */
        "  category TEXT,"
        "  interval INTEGER NOT NULL DEFAULT 0,"
        "  from_config INTEGER NOT NULL DEFAULT 0,"
        "  disabled INTEGER NOT NULL DEFAULT 0,"
        "  disabled_reason TEXT,"
        "  next_poll INTEGER NOT NULL DEFAULT 0,"
        "  error_count INTEGER NOT NULL DEFAULT 0,"
        "  failing_since INTEGER NOT NULL DEFAULT 0,"
        "  retry_after INTEGER NOT NULL DEFAULT 0,"
        "  hint INTEGER NOT NULL DEFAULT 0,"
        "  preferred INTEGER NOT NULL DEFAULT 0,"
        "  last_served INTEGER NOT NULL DEFAULT -1,"
        "  primary_probe INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE TABLE feed_url ("
        "  id INTEGER PRIMARY KEY,"
        "  feed_id INTEGER NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  position INTEGER NOT NULL,"
        "  url TEXT NOT NULL UNIQUE,"
        "  proxy TEXT,"
        "  etag TEXT,"
        "  last_modified TEXT,"
        "  last_status INTEGER NOT NULL DEFAULT 0,"
        "  last_error TEXT,"
        "  last_ok INTEGER NOT NULL DEFAULT 0,"
        "  last_tried INTEGER NOT NULL DEFAULT 0,"
        "  redirect TEXT,"
        "  redirect_count INTEGER NOT NULL DEFAULT 0,"
        "  moved_from TEXT"
        ");"
        "CREATE INDEX feed_url_feed ON feed_url(feed_id, position);"
        /* AUTOINCREMENT: ids never come back, so the "new" cursor holds. */
        /*
         * The small columns first: reading read/starred must not walk
         * through a long content's overflow pages.
         */
        "CREATE TABLE story ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  read INTEGER NOT NULL DEFAULT 0,"
        "  starred INTEGER NOT NULL DEFAULT 0,"
        "  changed INTEGER NOT NULL DEFAULT 0,"
        "  published INTEGER NOT NULL,"
        "  updated INTEGER,"
        "  first_seen INTEGER NOT NULL,"
        "  link_key TEXT," /* canonical link, the identity across feeds */
        "  guid TEXT,"
        "  title TEXT,"
        "  link TEXT," /* as served */
        "  author TEXT,"
        "  summary TEXT,"
        "  content TEXT"
        ");"
        "CREATE INDEX story_link ON story(link_key) WHERE link_key IS NOT NULL;"
        "CREATE INDEX story_published ON story(published, id);"
        "CREATE INDEX story_unread ON story(published, id) WHERE read = 0;"
        "CREATE INDEX story_starred ON story(id) WHERE starred = 1;"
        /*
         * A story in a feed, with the keys that feed identifies it by:
         * ident is the primary identity (guid + link, else link, else a
         * hash of title + date + content), chash what the feed last served.
         */
        "CREATE TABLE membership ("
        "  feed_id INTEGER NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  story_id INTEGER NOT NULL REFERENCES story(id) ON DELETE CASCADE,"
        "  ident TEXT NOT NULL,"
        "  guid_key TEXT,"
        "  link_key TEXT,"
        "  chash INTEGER NOT NULL,"
        "  PRIMARY KEY (feed_id, story_id)"
        ") WITHOUT ROWID;"
        "CREATE INDEX membership_story ON membership(story_id);"
        "CREATE INDEX membership_guid ON membership(feed_id, guid_key)"
        "  WHERE guid_key IS NOT NULL;"
        "CREATE INDEX membership_link ON membership(feed_id, link_key)"
        "  WHERE link_key IS NOT NULL;"
        "CREATE INDEX membership_hash ON membership(feed_id, ident)"
        "  WHERE guid_key IS NULL AND link_key IS NULL;"
        /* What retention removed, so that it never returns as new. */
        "CREATE TABLE tombstone ("
        "  feed_id INTEGER NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  ident TEXT NOT NULL,"
        "  purged INTEGER NOT NULL,"
        "  PRIMARY KEY (feed_id, ident)"
        ") WITHOUT ROWID;"
        "CREATE TABLE state ("
        "  key TEXT PRIMARY KEY,"
        "  value INTEGER"
        ") WITHOUT ROWID;"
        "CREATE VIRTUAL TABLE story_fts USING fts5("
        "  title, summary, content, content='story', content_rowid='id');"
        "CREATE TRIGGER story_fts_insert AFTER INSERT ON story BEGIN"
        "  INSERT INTO story_fts(rowid, title, summary, content)"
        "    VALUES (new.id, new.title, new.summary, new.content);"
        "END;"
        "CREATE TRIGGER story_fts_delete AFTER DELETE ON story BEGIN"
        "  INSERT INTO story_fts(story_fts, rowid, title, summary, content)"
        "    VALUES ('delete', old.id, old.title, old.summary, old.content);"
        "END;"
        "CREATE TRIGGER story_fts_update AFTER UPDATE OF title, summary, content"
        "  ON story BEGIN"
        "  INSERT INTO story_fts(story_fts, rowid, title, summary, content)"
        "    VALUES ('delete', old.id, old.title, old.summary, old.content);"
        "  INSERT INTO story_fts(rowid, title, summary, content)"
        "    VALUES (new.id, new.title, new.summary, new.content);"
        "END;"
        "PRAGMA user_version = 1;",
        /*
         * 1 -> 2: the full-text index holds plain text (markup stripped
         * by gz_fts_text, registered on every connection), no copy of
         * it (contentless), and is built in batches: a new or changed
         * story waits in fts_pending until store_index (or the next
         * search, or a merge that finds the batch full) indexes it, so
         * that many small merge transactions do not each write a tiny
         * index segment. An indexed story leaves the index when it
         * changes or goes, with the text it was indexed with.
         */
        "DROP TRIGGER story_fts_insert;"
        "DROP TRIGGER story_fts_delete;"
        "DROP TRIGGER story_fts_update;"
        "DROP TABLE story_fts;"
        "CREATE VIRTUAL TABLE story_fts USING fts5("
        "  title, summary, content, content='');"
        "INSERT INTO story_fts(story_fts, rank) VALUES ('hashsize', "
        "  " STR(
                FTS_HASHSIZE) ");"
                              "CREATE TABLE fts_pending (id INTEGER PRIMARY KEY);"
                              "INSERT INTO fts_pending(id) SELECT id FROM story;"
                              "CREATE TRIGGER story_fts_insert AFTER INSERT ON story BEGIN"
                              "  INSERT INTO fts_pending(id) VALUES (new.id);"
                              "END;"
                              "CREATE TRIGGER story_fts_delete AFTER DELETE ON story BEGIN"
                              "  INSERT INTO story_fts(story_fts, rowid, title, summary, content)"
                              "    SELECT 'delete', old.id, old.title, gz_fts_text(old.summary),"
                              "    gz_fts_text(old.content) WHERE NOT EXISTS"
                              "    (SELECT 1 FROM fts_pending WHERE id = old.id);"
                              "  DELETE FROM fts_pending WHERE id = old.id;"
                              "END;"
                              "CREATE TRIGGER story_fts_update AFTER UPDATE OF title, summary, content"
                              "  ON story BEGIN"
                              "  INSERT INTO story_fts(story_fts, rowid, title, summary, content)"
                              "    SELECT 'delete', old.id, old.title, gz_fts_text(old.summary),"
                              "    gz_fts_text(old.content) WHERE NOT EXISTS"
                              "    (SELECT 1 FROM fts_pending WHERE id = old.id);"
                              "  INSERT OR IGNORE INTO fts_pending(id) VALUES (new.id);"
                              "END;"
                              "PRAGMA user_version = 2;",
        /*
         * 2 -> 3: indexes for what every daemon start runs: retention's
         * walk of read, unstarred stories by date (before, a table
         * lookup for every old story, read or not), the configuration's
         * match of a feed by title, and of a URL a permanent redirect
         * replaced.
         */
        "CREATE INDEX story_purge ON story(published, id)"
        "  WHERE read = 1 AND starred = 0;"
        "CREATE INDEX feed_config_title ON feed(title) WHERE from_config = 1;"
        "CREATE INDEX feed_url_moved ON feed_url(moved_from)"
        "  WHERE moved_from IS NOT NULL;"
        "PRAGMA user_version = 3;",
        /*
         * 3 -> 4: the story queues itself for the index from C, not by
         * a trigger: an INSERT that fires a trigger writes a statement
         * journal (the old content of every page it touches), which in
         * the daemon's long transactions was the most written file.
         */
        ("DROP TRIGGER story_fts_insert;"
         "PRAGMA user_version = 4;"),
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The UTF-8 bytes of code point c into o; how many. */
static size_t
utf8_put(char *o, unsigned long c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * A character reference at p ("&...;", at most 10 bytes): its code point
 * and length, else 0. Numeric ones and the few named ones that letters
 * need; others read as a space.
 */
static size_t
char_ref(const char *p, const char *end, unsigned long *ret)
{
	static const struct {
		const char *name;
		unsigned long c;
	} named[] = {
	        {"amp;", '&'},      {"lt;", '<'},       {"gt;", '>'},
	        {"quot;", '"'},     {"apos;", '\''},    {"nbsp;", ' '},
	        {"rsquo;", 0x2019}, {"lsquo;", 0x2018}, {"hellip;", 0x2026}};
	const char *q = p + 1;
	unsigned long c = 0;

	if (q < end && *q == '#') {
		int base = 10, digits = 0;

		q++;
		if (q < end && (*q == 'x' || *q == 'X')) {
			base = 16;
			q++;
		}
		for (; q < end && q - p < 10; q++, digits++) {
			int d;

			if (*q >= '0' && *q <= '9')
				d = *q - '0';
			else if (base == 16 && *q >= 'a' && *q <= 'f')
				d = *q - 'a' + 10;
			else if (base == 16 && *q >= 'A' && *q <= 'F')
				d = *q - 'A' + 10;
			else
				break;
			c = c * (unsigned long)base + (unsigned long)d;
		}
		if (!digits || q >= end || *q != ';' || c == 0 ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		*ret = c;
		return (size_t)(q + 1 - p);
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t l = strlen(named[i].name);

		if ((size_t)(end - q) >= l &&
		    memcmp(q, named[i].name, l) == 0) {
			*ret = named[i].c;
			return l + 1;
		}
	}
	return 0;
}

/*
 * gz_fts_text(html): the words of an HTML fragment for the full-text
 * index: tags (with their attributes and URLs) and comments become
 * spaces, character references their characters. Text without markup
 * is returned as it is. Deterministic: an index entry is removed with
 * the same words it was added with.
 */
static void
fts_text_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *t, *p, *end;
	char *out, *o;
	int n;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	t = (const char *)sqlite3_value_text(argv[0]);
	n = sqlite3_value_bytes(argv[0]);
	if (!t) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (!memchr(t, '<', (size_t)n) && !memchr(t, '&', (size_t)n)) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	/* Never longer: a reference's UTF-8 is shorter than the reference. */
	out = sqlite3_malloc(n + 1);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	o = out;
	end = t + n;
	for (p = t; p < end;) {
		if (*p == '<') {
			const char *q;

			if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
				q = p + 4;
				while (q + 2 < end && memcmp(q, "-->", 3) != 0)
					q++;
				p = q + 2 < end ? q + 3 : end;
			} else {
				q = memchr(p, '>', (size_t)(end - p));
				p = q ? q + 1 : end;
			}
			*o++ = ' ';
		} else if (*p == '&') {
			unsigned long c;
			size_t l = char_ref(p, end, &c);

			if (l) {
				o += utf8_put(o, c);
				p += l;
			} else {
				*o++ = ' ';
				p++;
			}
		} else {
			*o++ = *p++;
		}
	}
	sqlite3_result_text(ctx, out, (int)(o - out), sqlite3_free);
}

/* Map an SQLite result code to a negative errno. */
static int
sqlite_errno(int rc)
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
static int
fail(struct store *s, int rc)
{
	snprintf(s->err, sizeof(s->err), "%s", sqlite3_errmsg(s->db));
	return sqlite_errno(rc);
}

/* Record a message of our own and return err. */
static int failf(struct store *s, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
failf(struct store *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return err;
}

/* The cached statement for the literal sql, prepared on first use. */
static sqlite3_stmt *
prep(struct store *s, const char *sql)
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
			fail(s, rc);
			sqlite3_finalize(sl->st);
			sl->st = NULL;
			return NULL;
		}
		sl->sql = sql;
		return sl->st;
	}
	failf(s, -ENOMEM, "statement cache full");
	return NULL;
}

/* Put a statement back: reset it and drop its bindings. */
static void
done(sqlite3_stmt *st)
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
		return failf(s, -EINVAL, "%zu values for %d parameters in: %s",
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
			return failf(s, -EINVAL, "bad bind format");
		}
		if (rc != SQLITE_OK)
			return fail(s, rc);
	}
	return 0;
}

/* Run a statement that returns no rows. Returns the changed row count. */
static int
sql_exec(struct store *s, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = prep(s, sql);
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
		r = fail(s, rc);
	else
		r = sqlite3_changes(s->db);
out:
	done(st);
	return r;
}

/* One integer from the first row: 1 and *ret when there is a row, else 0. */
static int
sql_int(struct store *s, int64_t *ret, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = prep(s, sql);
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
		r = fail(s, rc);
	}
out:
	done(st);
	return r;
}

/* Start a write transaction (a savepoint when one is already open). */
static int
tx_begin(struct store *s)
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
static int
tx_end(struct store *s, int r)
{
	int c;

	if (s->tx_depth <= 0)
		return r < 0 ? r : failf(s, -EINVAL, "no transaction open");
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
static char *
col_dup(sqlite3_stmt *st, int i, bool *oom)
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

/* The schema version of the open database, or -errno. */
static int
user_version(struct store *s, int *ret)
{
	int64_t v = 0;
	int r = sql_int(s, &v, "PRAGMA user_version", "");

	if (r < 0)
		return r;
	*ret = (int)v;
	return 0;
}

/* Apply the migrations from the database's version up, in one transaction. */
static int
migrate(struct store *s)
{
	int r, v;

	r = tx_begin(s);
	if (r < 0)
		return r;
	/* Read again under the write lock: another process may have done it. */
	r = user_version(s, &v);
	if (r >= 0 && v > SCHEMA_VERSION)
		r = failf(s, -EPROTO, "schema version %d is newer than %d", v,
		          SCHEMA_VERSION);
	for (; r >= 0 && v < SCHEMA_VERSION; v++) {
		char *msg = NULL;
		int rc = sqlite3_exec(s->db, migrations[v], NULL, NULL, &msg);

		if (rc != SQLITE_OK) {
			r = failf(s, sqlite_errno(rc),
			          "migration to version %d: %s", v + 1,
			          msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
		}
	}
	return tx_end(s, r);
}

/* a b c d concatenated, newly allocated; NULL when out of memory. */
static char *
join4(const char *a, const char *b, const char *c, const char *d)
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

/* Write a message naming the file to *ret_err, when asked for. */
static void open_error(char **ret_err, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
open_error(char **ret_err, const char *path, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	char *m;

	if (!ret_err)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	m = join4("'", path, "': ", what);
	if (!m)
		return;
	*ret_err = m;
}

/* Open, check and migrate the database at path. */
int
store_open(const char *path, unsigned flags, struct store **ret, char **ret_err)
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
	rc = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = sqlite_errno(rc);
		open_error(ret_err, path, "cannot open: %s",
		           s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc = sqlite3_create_function_v2(s->db, "gz_fts_text", 1,
	                                SQLITE_UTF8 | SQLITE_DETERMINISTIC |
	                                        SQLITE_INNOCUOUS,
	                                NULL, fts_text_fn, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = sqlite_errno(rc);
		open_error(ret_err, path, "cannot register functions: %s",
		           sqlite3_errmsg(s->db));
		goto fail;
	}

	/* Look before touching anything: a newer schema stays as it is. */
	r = user_version(s, &v);
	if (r < 0) {
		open_error(ret_err, path, "cannot read: %s", s->err);
		goto fail;
	}
	if (v > SCHEMA_VERSION) {
		r = -EPROTO;
		open_error(ret_err, path,
		           "database schema version %d is newer than this "
		           "gazette understands (%d); refusing to use it",
		           v, SCHEMA_VERSION);
		goto fail;
	}
	r = sql_exec(s, "PRAGMA foreign_keys = ON", "");
	if (r < 0) {
		open_error(ret_err, path, "foreign keys: %s", s->err);
		goto fail;
	}
	if (flags & STORE_READONLY) {
		if (v < SCHEMA_VERSION) {
			r = -EPROTO;
			open_error(ret_err, path,
			           "database schema version %d needs upgrading "
			           "to %d; open it read-write once",
			           v, SCHEMA_VERSION);
			goto fail;
		}
		*ret = s;
		return 0;
	}

	{
		sqlite3_stmt *st = prep(s, "PRAGMA journal_mode = WAL");
		const unsigned char *mode = NULL;

		rc = st ? sqlite3_step(st) : SQLITE_ERROR;
		if (rc == SQLITE_ROW)
			mode = sqlite3_column_text(st, 0);
		if (!mode || strcmp((const char *)mode, "wal") != 0) {
			if (rc != SQLITE_ROW && st)
				fail(s, rc);
			r = rc == SQLITE_ROW ? -EIO : sqlite_errno(rc);
			if (r == 0)
				r = -EIO;
			open_error(ret_err, path, "cannot use WAL mode: %s",
			           mode ? (const char *)mode : s->err);
			done(st);
			goto fail;
		}
		done(st);
	}
	if (flags & STORE_SYNC_FULL)
		r = sql_exec(s, "PRAGMA synchronous = FULL", "");
	else
		r = sql_exec(s, "PRAGMA synchronous = NORMAL", "");
	/* Room for a big merge's pages and the full-text index's. */
	if (r >= 0)
		r = sql_exec(s, "PRAGMA cache_size = -16384", "");
	if (r < 0) {
		open_error(ret_err, path, "pragmas: %s", s->err);
		goto fail;
	}
	if (v < SCHEMA_VERSION) {
		r = migrate(s);
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

/* Finalize every cached statement and close the connection. */
void
store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close(s->db);
	free(s->path);
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
	return s->db ? sqlite3_errmsg(s->db) : "no database";
}

/* ---- transactions for callers ---- */

/* Open a transaction around several calls. */
int
store_begin(struct store *s)
{
	return tx_begin(s);
}

int
store_begin_batch(struct store *s)
{
	int r;

	if (s->tx_depth > 0)
		return failf(s, -EBUSY, "a transaction is already open");
	r = tx_begin(s);
	if (r >= 0) {
		s->flat = true;
		s->flat_err = 0;
	}
	return r;
}

/*
 * Commit what store_begin opened; merges it held that leave enough
 * stories waiting for the full-text index are indexed now, as a merge of
 * its own would.
 */
int
store_commit(struct store *s)
{
	int r = tx_end(s, 0);

	if (r >= 0 && s->tx_depth == 0 && s->unindexed >= INDEX_AFTER)
		store_index(s);
	return r;
}

/* Roll back what store_begin opened. */
int
store_rollback(struct store *s)
{
	int r = tx_end(s, -ECANCELED);

	return r == -ECANCELED ? 0 : r;
}

/* ---- subscriptions ---- */

/* Free one URL's strings. */
static void
url_clear(struct store_url *u)
{
	free(u->url);
	free(u->proxy);
	free(u->etag);
	free(u->last_modified);
	free(u->last_error);
	free(u->redirect);
	free(u->moved_from);
}

/* Free a feed and everything it holds; NULL is fine. */
void
store_feed_free(struct store_feed *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_urls; i++)
		url_clear(&f->urls[i]);
	free(f->urls);
	free(f->title);
	free(f->category);
	free(f->disabled_reason);
	free(f);
}

/* Free an array of feeds from store_feeds. */
void
store_feeds_free(struct store_feed **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		store_feed_free(v[i]);
	free(v);
}

/* Load the URLs of f, in order. */
static int
load_urls(struct store *s, struct store_feed *f)
{
	sqlite3_stmt *st = prep(
	        s, "SELECT id, url, proxy, etag, last_modified, last_status,"
	           " last_error, last_ok, last_tried, redirect,"
	           " redirect_count, moved_from"
	           " FROM feed_url WHERE feed_id = ?1 ORDER BY position, id");
	bool oom = false;
	int rc, r = 0;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, f->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_url *u, *nu;

		nu = realloc(f->urls, (f->n_urls + 1) * sizeof(*nu));
		if (!nu) {
			r = -ENOMEM;
			goto out;
		}
		f->urls = nu;
		u = &f->urls[f->n_urls++];
		memset(u, 0, sizeof(*u));
		u->id = sqlite3_column_int64(st, 0);
		u->url = col_dup(st, 1, &oom);
		u->proxy = col_dup(st, 2, &oom);
		u->etag = col_dup(st, 3, &oom);
		u->last_modified = col_dup(st, 4, &oom);
		u->last_status = sqlite3_column_int(st, 5);
		u->last_error = col_dup(st, 6, &oom);
		u->last_ok = sqlite3_column_int64(st, 7);
		u->last_tried = sqlite3_column_int64(st, 8);
		u->redirect = col_dup(st, 9, &oom);
		u->redirect_count = sqlite3_column_int(st, 10);
		u->moved_from = col_dup(st, 11, &oom);
	}
	if (rc != SQLITE_DONE)
		r = fail(s, rc);
	else if (oom)
		r = -ENOMEM;
out:
	done(st);
	return r;
}

#define FEED_FIELDS                                                            \
	"SELECT id, coalesce(title, parsed_title), category, interval,"        \
	" from_config, disabled, disabled_reason, next_poll, error_count,"     \
	" failing_since, retry_after, hint, preferred, last_served,"           \
	" primary_probe,"

/* One feed's columns with its counts. */
#define FEED_COLUMNS                                                           \
	FEED_FIELDS                                                            \
	" (SELECT count(*) FROM membership m JOIN story s"                     \
	"   ON s.id = m.story_id WHERE m.feed_id = feed.id AND s.read = 0),"   \
	" (SELECT count(*) FROM membership m WHERE m.feed_id = feed.id)"       \
	" FROM feed"

/* A feed from a row of FEED_COLUMNS, with its URLs. */
static int
read_feed(struct store *s, sqlite3_stmt *st, struct store_feed **ret)
{
	struct store_feed *f = calloc(1, sizeof(*f));
	bool oom = false;

	if (!f)
		return -ENOMEM;
	f->id = sqlite3_column_int64(st, 0);
	f->title = col_dup(st, 1, &oom);
	f->category = col_dup(st, 2, &oom);
	f->interval = sqlite3_column_int64(st, 3);
	f->from_config = sqlite3_column_int(st, 4) != 0;
	f->disabled = sqlite3_column_int(st, 5) != 0;
	f->disabled_reason = col_dup(st, 6, &oom);
	f->next_poll = sqlite3_column_int64(st, 7);
	f->error_count = sqlite3_column_int(st, 8);
	f->failing_since = sqlite3_column_int64(st, 9);
	f->retry_after = sqlite3_column_int64(st, 10);
	f->hint = sqlite3_column_int64(st, 11);
	f->preferred = sqlite3_column_int(st, 12);
	f->last_served = sqlite3_column_int(st, 13);
	f->primary_probe = sqlite3_column_int64(st, 14);
	f->unread = sqlite3_column_int64(st, 15);
	f->total = sqlite3_column_int64(st, 16);
	if (oom) {
		store_feed_free(f);
		return -ENOMEM;
	}
	*ret = f;
	return 0;
}

/* Fill the URLs of the feeds read, and the primary as a missing title. */
static int
finish_feed(struct store *s, struct store_feed *f)
{
	int r = load_urls(s, f);

	if (r < 0)
		return r;
	if (!f->title && f->n_urls > 0) {
		f->title = strdup(f->urls[0].url);
		if (!f->title)
			return -ENOMEM;
	}
	return 0;
}

/* Fill total (or unread) of feeds v, sorted by id, from (feed, count) rows. */
static int
feed_counts(struct store *s, struct store_feed **v, size_t n, const char *sql,
            bool unread)
{
	sqlite3_stmt *st = prep(s, sql);
	int rc, r = 0;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		size_t lo = 0, hi = n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (v[mid]->id < id) {
				lo = mid + 1;
			} else if (v[mid]->id > id) {
				hi = mid;
			} else {
				if (unread)
					v[mid]->unread =
					        sqlite3_column_int64(st, 1);
				else
					v[mid]->total =
					        sqlite3_column_int64(st, 1);
				break;
			}
		}
	}
	if (rc != SQLITE_DONE)
		r = fail(s, rc);
	done(st);
	return r;
}

/* Every subscription, ordered by id, with URLs, and counts if asked. */
static int
feeds_list(struct store *s, bool counts, struct store_feed ***ret,
           size_t *ret_n)
{
	sqlite3_stmt *st = prep(s, FEED_FIELDS " 0, 0 FROM feed ORDER BY id");
	struct store_feed **v = NULL;
	size_t n = 0;
	int rc, r = 0;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_feed **nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		r = read_feed(s, st, &v[n]);
		if (r < 0)
			break;
		n++;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = fail(s, rc);
	done(st);
	/*
	 * The counts of all feeds in two scans: the memberships (a compact
	 * index), and the unread stories through their partial index,
	 * rather than a story lookup per membership.
	 */
	if (r >= 0 && counts)
		r = feed_counts(s, v, n,
		                "SELECT feed_id, count(*) FROM membership"
		                " GROUP BY feed_id",
		                false);
	if (r >= 0 && counts)
		r = feed_counts(s, v, n,
		                "SELECT m.feed_id, count(*)"
		                " FROM story s INDEXED BY story_unread"
		                " JOIN membership m ON m.story_id = s.id"
		                " WHERE s.read = 0 GROUP BY m.feed_id",
		                true);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = finish_feed(s, v[i]);
	if (r < 0) {
		store_feeds_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return (int)n;
}

int
store_feeds(struct store *s, struct store_feed ***ret, size_t *ret_n)
{
	return feeds_list(s, true, ret, ret_n);
}

int
store_feeds_uncounted(struct store *s, struct store_feed ***ret, size_t *ret_n)
{
	return feeds_list(s, false, ret, ret_n);
}

/* One subscription by id. -ENOENT when there is none. */
int
store_feed_get(struct store *s, int64_t id, struct store_feed **ret)
{
	sqlite3_stmt *st = prep(s, FEED_COLUMNS " WHERE id = ?1");
	struct store_feed *f = NULL;
	int rc, r;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = read_feed(s, st, &f);
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = fail(s, rc);
	done(st);
	if (r >= 0)
		r = finish_feed(s, f);
	if (r < 0) {
		store_feed_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

/* FEED as the user names it: id, exact URL, or a unique title prefix. */
int
store_feed_find(struct store *s, const char *name, int64_t *ret_id)
{
	sqlite3_stmt *st;
	int64_t id = 0, exact = 0;
	char *end;
	int rc, n = 0, r;

	if (!name || !*name)
		return -EINVAL;
	errno = 0;
	id = strtoll(name, &end, 10);
	if (!*end && errno == 0 && id > 0) {
		r = sql_int(s, &id, "SELECT id FROM feed WHERE id = ?1", "I",
		            id);
		if (r < 0)
			return r;
		if (r == 0)
			return -ENOENT;
		*ret_id = id;
		return 0;
	}
	r = sql_int(s, &id, "SELECT feed_id FROM feed_url WHERE url = ?1", "t",
	            name);
	if (r < 0)
		return r;
	if (r == 1) {
		*ret_id = id;
		return 0;
	}
	st = prep(s, "SELECT id, lower(coalesce(title, parsed_title)) ="
	             " lower(?1) FROM feed"
	             " WHERE substr(lower(coalesce(title, parsed_title)), 1,"
	             " length(?1)) = lower(?1)");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_int(st, 1))
			exact = id;
	}
	r = rc == SQLITE_DONE ? 0 : fail(s, rc);
	done(st);
	if (r < 0)
		return r;
	if (exact) {
		*ret_id = exact;
		return 0;
	}
	if (n == 0)
		return -ENOENT;
	if (n > 1)
		return -EEXIST;
	*ret_id = id;
	return 0;
}

/* The feed that has url as one of its URLs: 1 and *ret, or 0. */
static int
url_owner(struct store *s, const char *url, int64_t *ret)
{
	return sql_int(s, ret, "SELECT feed_id FROM feed_url WHERE url = ?1",
	               "t", url);
}

/* Check a spec: at least one URL, not too many, none empty. */
static int
spec_check(struct store *s, const struct store_feed_spec *spec)
{
	if (!spec || spec->n_urls == 0 || !spec->urls)
		return failf(s, -EINVAL, "a feed needs a URL");
	if (spec->n_urls > MAX_URLS)
		return failf(s, -E2BIG, "more than %d URLs for one feed",
		             MAX_URLS);
	for (size_t i = 0; i < spec->n_urls; i++)
		if (!spec->urls[i] || !*spec->urls[i])
			return failf(s, -EINVAL, "empty URL");
	return 0;
}

/* Insert a feed row and its URLs (inside a transaction). */
static int
feed_insert(struct store *s, const struct store_feed_spec *spec,
            int64_t *ret_id)
{
	int64_t id;
	int r;

	r = sql_exec(s,
	             "INSERT INTO feed (title, category, interval, from_config)"
	             " VALUES (?1, ?2, ?3, ?4)",
	             "ttIi", spec->title, spec->category, spec->interval,
	             (int)spec->from_config);
	if (r < 0)
		return r;
	id = sqlite3_last_insert_rowid(s->db);
	for (size_t i = 0; i < spec->n_urls; i++) {
		const char *proxy = spec->proxies ? spec->proxies[i] : NULL;

		r = sql_exec(
		        s,
		        "INSERT INTO feed_url (feed_id, position, url, proxy)"
		        " VALUES (?1, ?2, ?3, ?4)",
		        "IItt", id, (int64_t)i, spec->urls[i], proxy);
		if (r == -EEXIST)
			r = failf(s, -EEXIST, "URL '%s' given twice",
			          spec->urls[i]);
		if (r < 0)
			return r;
	}
	*ret_id = id;
	return 0;
}

/* Subscribe; 0 and the existing id when a URL is already subscribed. */
int
store_feed_add(struct store *s, const struct store_feed_spec *spec,
               int64_t *ret_id)
{
	int64_t id = 0;
	int r;

	r = spec_check(s, spec);
	if (r < 0)
		return r;
	r = tx_begin(s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < spec->n_urls && r == 0; i++)
		r = url_owner(s, spec->urls[i], &id);
	if (r == 1) {
		r = tx_end(s, 0);
		if (r < 0)
			return r;
		if (ret_id)
			*ret_id = id;
		return 0;
	}
	if (r == 0)
		r = feed_insert(s, spec, &id);
	r = tx_end(s, r);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = id;
	return 1;
}

/* Delete a feed and the stories only it has, unless starred. */
static int
feed_delete(struct store *s, int64_t id)
{
	int r;

	r = sql_exec(s,
	             "DELETE FROM story WHERE starred = 0 AND id IN"
	             " (SELECT story_id FROM membership WHERE feed_id = ?1)"
	             " AND NOT EXISTS (SELECT 1 FROM membership m"
	             "  WHERE m.story_id = story.id AND m.feed_id <> ?1)",
	             "I", id);
	if (r < 0)
		return r;
	r = sql_exec(s, "DELETE FROM feed WHERE id = ?1", "I", id);
	if (r == 0)
		r = -ENOENT;
	return r < 0 ? r : 0;
}

/* Unsubscribe: its stories go unless another feed has them or starred. */
int
store_feed_remove(struct store *s, int64_t id)
{
	int r = tx_begin(s);

	if (r < 0)
		return r;
	return tx_end(s, feed_delete(s, id));
}

/* Run a write statement in its own transaction; its changes or -errno. */
static int
write1(struct store *s, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int r, rc;

	r = tx_begin(s);
	if (r < 0)
		return r;
	st = prep(s, sql);
	if (!st)
		return tx_end(s, -EIO);
	va_start(ap, fmt);
	r = bindv(s, st, fmt, ap);
	va_end(ap);
	if (r >= 0) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		r = rc == SQLITE_DONE ? sqlite3_changes(s->db) : fail(s, rc);
	}
	done(st);
	return tx_end(s, r);
}

/* Set the user's title for a feed. */
int
store_feed_rename(struct store *s, int64_t id, const char *title)
{
	int r = write1(s, "UPDATE feed SET title = ?2 WHERE id = ?1", "It", id,
	               title);

	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* The title a poll found. */
int
store_feed_set_parsed_title(struct store *s, int64_t id, const char *title)
{
	int r = write1(s,
	               "UPDATE feed SET parsed_title = ?2 WHERE id = ?1"
	               " AND parsed_title IS NOT ?2",
	               "It", id, title);

	return r < 0 ? r : 0;
}

/* Set a feed's own polling interval (0: the default). */
int
store_feed_set_interval(struct store *s, int64_t id, int64_t interval)
{
	int r = write1(s, "UPDATE feed SET interval = ?2 WHERE id = ?1", "II",
	               id, interval);

	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* Disable (410 Gone, the user) or enable a feed. */
int
store_feed_set_disabled(struct store *s, int64_t id, bool disabled,
                        const char *reason)
{
	int r = write1(s,
	               "UPDATE feed SET disabled = ?2, disabled_reason = ?3"
	               " WHERE id = ?1",
	               "Iit", id, (int)disabled, disabled ? reason : NULL);

	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* The ids of a feed's URLs in order; *ret_n of them. */
static int
url_ids(struct store *s, int64_t feed, int64_t *ids, size_t *ret_n)
{
	sqlite3_stmt *st = prep(s, "SELECT id FROM feed_url WHERE feed_id = ?1"
	                           " ORDER BY position, id");
	size_t n = 0;
	int rc, r;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, feed);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < MAX_URLS)
		ids[n++] = sqlite3_column_int64(st, 0);
	r = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : fail(s, rc);
	done(st);
	*ret_n = n;
	return r;
}

/* Write positions 0..n-1 for the URL ids in order. */
static int
renumber(struct store *s, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = sql_exec(
		        s, "UPDATE feed_url SET position = ?2 WHERE id = ?1",
		        "II", ids[i], (int64_t)i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Where the URL at old index i went, given old ids and new ids. */
static int
new_index(const int64_t *old, size_t n_old, const int64_t *nw, size_t n_new,
          int i)
{
	if (i < 0 || (size_t)i >= n_old)
		return i < 0 ? -1 : 0;
	for (size_t j = 0; j < n_new; j++)
		if (nw[j] == old[i])
			return (int)j;
	return 0;
}

/* Keep preferred / last_served pointing at the same URLs after a change. */
static int
remap_indexes(struct store *s, int64_t feed, const int64_t *old, size_t n_old,
              const int64_t *nw, size_t n_new)
{
	int64_t pref = 0, last = -1;
	int r;

	r = sql_int(s, &pref, "SELECT preferred FROM feed WHERE id = ?1", "I",
	            feed);
	if (r <= 0)
		return r;
	r = sql_int(s, &last, "SELECT last_served FROM feed WHERE id = ?1", "I",
	            feed);
	if (r <= 0)
		return r;
	pref = new_index(old, n_old, nw, n_new, (int)pref);
	if (pref < 0)
		pref = 0;
	last = new_index(old, n_old, nw, n_new, (int)last);
	r = sql_exec(s,
	             "UPDATE feed SET preferred = ?2, last_served = ?3"
	             " WHERE id = ?1",
	             "III", feed, pref, last);
	return r < 0 ? r : 0;
}

/* Append a mirror URL to a feed. */
int
store_mirror_add(struct store *s, int64_t feed, const char *url,
                 const char *proxy)
{
	int64_t owner = 0, pos = 0;
	int r;

	if (!url || !*url)
		return failf(s, -EINVAL, "empty URL");
	r = tx_begin(s);
	if (r < 0)
		return r;
	r = sql_int(s, &owner, "SELECT id FROM feed WHERE id = ?1", "I", feed);
	if (r == 0)
		r = -ENOENT;
	if (r > 0)
		r = url_owner(s, url, &owner);
	if (r == 1)
		r = failf(s, -EEXIST, "'%s' is already a URL of feed %lld", url,
		          (long long)owner);
	if (r == 0)
		r = sql_int(s, &pos,
		            "SELECT count(*) FROM feed_url WHERE feed_id = ?1",
		            "I", feed);
	if (r >= 0 && pos >= MAX_URLS)
		r = failf(s, -E2BIG, "more than %d URLs for one feed",
		          MAX_URLS);
	if (r >= 0)
		r = sql_exec(
		        s,
		        "INSERT INTO feed_url (feed_id, position, url, proxy)"
		        " VALUES (?1, (SELECT coalesce(max(position), -1) + 1"
		        "  FROM feed_url WHERE feed_id = ?1), ?2, ?3)",
		        "Itt", feed, url, proxy);
	return tx_end(s, r < 0 ? r : 0);
}

/* Remove a URL of a feed; the last one stays. */
int
store_mirror_remove(struct store *s, int64_t feed, const char *url)
{
	int64_t old[MAX_URLS], nw[MAX_URLS], uid = 0;
	size_t n_old = 0, n_new = 0;
	int r;

	r = tx_begin(s);
	if (r < 0)
		return r;
	r = sql_int(s, &uid,
	            "SELECT id FROM feed_url WHERE feed_id = ?1 AND url = ?2",
	            "It", feed, url);
	if (r == 0)
		r = -ENOENT;
	if (r > 0)
		r = url_ids(s, feed, old, &n_old);
	if (r >= 0 && n_old <= 1)
		r = failf(s, -EINVAL, "cannot remove the only URL of a feed");
	if (r >= 0)
		r = sql_exec(s, "DELETE FROM feed_url WHERE id = ?1", "I", uid);
	if (r >= 0)
		r = url_ids(s, feed, nw, &n_new);
	if (r >= 0)
		r = renumber(s, nw, n_new);
	if (r >= 0)
		r = remap_indexes(s, feed, old, n_old, nw, n_new);
	return tx_end(s, r < 0 ? r : 0);
}

/* Move one of a feed's URLs to a position (0: make it the primary). */
int
store_url_move(struct store *s, int64_t feed, const char *url, size_t position)
{
	int64_t old[MAX_URLS], nw[MAX_URLS], uid = 0;
	size_t n = 0, k = 0;
	int r;

	r = tx_begin(s);
	if (r < 0)
		return r;
	r = sql_int(s, &uid,
	            "SELECT id FROM feed_url WHERE feed_id = ?1 AND url = ?2",
	            "It", feed, url);
	if (r == 0)
		r = -ENOENT;
	if (r > 0)
		r = url_ids(s, feed, old, &n);
	if (r >= 0) {
		if (position >= n)
			position = n - 1;
		for (size_t i = 0; i < n; i++) {
			if (k == position)
				nw[k++] = uid;
			if (old[i] != uid)
				nw[k++] = old[i];
		}
		if (k == position)
			nw[k++] = uid;
		r = renumber(s, nw, n);
	}
	if (r >= 0)
		r = remap_indexes(s, feed, old, n, nw, n);
	return tx_end(s, r < 0 ? r : 0);
}

/* Make a feed's URLs exactly the spec's, keeping the state of those kept. */
static int
set_urls(struct store *s, int64_t feed, const struct store_feed_spec *spec)
{
	int64_t old[MAX_URLS], nw[MAX_URLS];
	size_t n_old = 0, n_new = 0;
	int r;

	r = url_ids(s, feed, old, &n_old);
	if (r < 0)
		return r;
	r = sql_exec(s,
	             "UPDATE feed_url SET position = position + 1000000"
	             " WHERE feed_id = ?1",
	             "I", feed);
	for (size_t i = 0; r >= 0 && i < spec->n_urls; i++) {
		const char *proxy = spec->proxies ? spec->proxies[i] : NULL;
		sqlite3_stmt *st;
		int64_t uid = 0, owner = 0;
		int rc;

		/* A URL a permanent redirect replaced is still the same. */
		st = prep(s, "SELECT id, feed_id FROM feed_url"
		             " WHERE url = ?1 OR (moved_from = ?1"
		             "  AND feed_id = ?2)"
		             " ORDER BY url = ?1 DESC LIMIT 1");
		if (!st)
			return -EIO;
		sqlite3_bind_text(st, 1, spec->urls[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, feed);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			uid = sqlite3_column_int64(st, 0);
			owner = sqlite3_column_int64(st, 1);
		} else if (rc != SQLITE_DONE) {
			r = fail(s, rc);
		}
		done(st);
		if (r < 0)
			break;
		if (uid && owner != feed)
			return failf(s, -EEXIST,
			             "'%s' is already a URL of feed %lld",
			             spec->urls[i], (long long)owner);
		if (uid)
			r = sql_exec(s,
			             "UPDATE feed_url SET position = ?2,"
			             " proxy = ?3 WHERE id = ?1",
			             "IIt", uid, (int64_t)i, proxy);
		else
			r = sql_exec(s,
			             "INSERT INTO feed_url"
			             " (feed_id, position, url, proxy)"
			             " VALUES (?1, ?2, ?3, ?4)",
			             "IItt", feed, (int64_t)i, spec->urls[i],
			             proxy);
	}
	if (r >= 0)
		r = sql_exec(s,
		             "DELETE FROM feed_url WHERE feed_id = ?1"
		             " AND position >= 1000000",
		             "I", feed);
	if (r >= 0)
		r = url_ids(s, feed, nw, &n_new);
	if (r >= 0)
		r = renumber(s, nw, n_new);
	if (r >= 0)
		r = remap_indexes(s, feed, old, n_old, nw, n_new);
	return r < 0 ? r : 0;
}

/* The feed a configuration entry describes: 1 and *ret, or 0. */
static int
config_match(struct store *s, const struct store_feed_spec *spec, int64_t *ret)
{
	int r = 0;

	if (spec->title)
		r = sql_int(s, ret,
		            "SELECT id FROM feed WHERE from_config = 1"
		            " AND title = ?1 ORDER BY id LIMIT 1",
		            "t", spec->title);
	for (size_t i = 0; r == 0 && i < spec->n_urls; i++)
		r = sql_int(
		        s, ret,
		        "SELECT feed_id FROM feed_url WHERE url = ?1"
		        " OR moved_from = ?1 ORDER BY url = ?1 DESC LIMIT 1",
		        "t", spec->urls[i]);
	return r;
}

/* Whether two strings, either maybe NULL, are the same. */
static bool
same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * Whether feed id is already what spec declares: its title, category,
 * interval, from_config, and its URLs with their proxies in order.
 * 1 or 0, or -errno.
 */
static int
spec_same(struct store *s, int64_t id, const struct store_feed_spec *sp)
{
	sqlite3_stmt *st;
	size_t i = 0;
	int rc, same;

	st = prep(s, "SELECT title, category, interval, from_config"
	             " FROM feed WHERE id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	same = rc == SQLITE_ROW &&
	       same_str((const char *)sqlite3_column_text(st, 0), sp->title) &&
	       same_str((const char *)sqlite3_column_text(st, 1),
	                sp->category) &&
	       sqlite3_column_int64(st, 2) == sp->interval &&
	       sqlite3_column_int(st, 3) == 1;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		same = fail(s, rc);
	done(st);
	if (same <= 0)
		return same;
	st = prep(s, "SELECT url, proxy FROM feed_url WHERE feed_id = ?1"
	             " ORDER BY position");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	while (same && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *proxy =
		        sp->proxies && i < sp->n_urls ? sp->proxies[i] : NULL;

		same = i < sp->n_urls &&
		       same_str((const char *)sqlite3_column_text(st, 0),
		                sp->urls[i]) &&
		       same_str((const char *)sqlite3_column_text(st, 1),
		                proxy);
		i++;
	}
	if (same && rc != SQLITE_DONE)
		same = fail(s, rc);
	done(st);
	if (same < 0)
		return same;
	return same && i == sp->n_urls;
}

/* Make the from_config feeds match the configuration's, in one go. */
int
store_config_sync(struct store *s, const struct store_feed_spec *specs,
                  size_t n)
{
	int64_t *keep = NULL, *gone = NULL;
	size_t n_gone = 0;
	sqlite3_stmt *st;
	int r, rc;

	for (size_t i = 0; i < n; i++) {
		r = spec_check(s, &specs[i]);
		if (r < 0)
			return r;
	}
	keep = calloc(n + 1, sizeof(*keep));
	if (!keep)
		return -ENOMEM;
	r = tx_begin(s);
	if (r < 0)
		goto out;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		const struct store_feed_spec *sp = &specs[i];
		int64_t id = 0;

		r = config_match(s, sp, &id);
		if (r > 0) {
			r = spec_same(s, id, sp);
			if (r >= 0)
				r = !r; /* unchanged: nothing to write */
		}
		if (r == 0 && id == 0) {
			r = feed_insert(s, sp, &id);
		} else if (r > 0) {
			r = sql_exec(
			        s,
			        "UPDATE feed SET title = ?2, category = ?3,"
			        " interval = ?4, from_config = 1"
			        " WHERE id = ?1",
			        "IttI", id, sp->title, sp->category,
			        sp->interval);
			if (r >= 0)
				r = set_urls(s, id, sp);
		}
		keep[i] = id;
	}
	/* What the file no longer declares goes. */
	st = r >= 0 ? prep(s, "SELECT id FROM feed WHERE from_config = 1")
	            : NULL;
	if (r >= 0 && !st)
		r = -EIO;
	while (r >= 0 && (rc = sqlite3_step(st)) != SQLITE_DONE) {
		int64_t id;
		bool kept = false;

		if (rc != SQLITE_ROW) {
			r = fail(s, rc);
			break;
		}
		id = sqlite3_column_int64(st, 0);
		for (size_t i = 0; i < n && !kept; i++)
			kept = keep[i] == id;
		if (!kept) {
			int64_t *ng = realloc(gone, (n_gone + 1) * sizeof(*ng));

			if (!ng) {
				r = -ENOMEM;
				break;
			}
			gone = ng;
			gone[n_gone++] = id;
		}
	}
	done(st);
	for (size_t i = 0; r >= 0 && i < n_gone; i++)
		r = feed_delete(s, gone[i]);
	r = tx_end(s, r < 0 ? r : 0);
out:
	free(keep);
	free(gone);
	return r;
}

/* ---- polling state ---- */

/* Record the outcome of one attempt at one URL. */
int
store_url_record(struct store *s, const struct store_attempt *a)
{
	int r;

	if (!a)
		return -EINVAL;
	r = write1(s,
	           "UPDATE feed_url SET last_status = ?2, last_error = ?3,"
	           " last_tried = ?4,"
	           " last_ok = CASE WHEN ?3 IS NULL THEN ?4 ELSE last_ok END,"
	           " etag = CASE WHEN ?3 IS NULL AND ?5 IS NOT NULL"
	           "  THEN ?5 ELSE etag END,"
	           " last_modified = CASE WHEN ?3 IS NULL AND ?6 IS NOT NULL"
	           "  THEN ?6 ELSE last_modified END,"
	           " redirect_count = CASE WHEN ?7 IS NULL THEN 0"
	           "  WHEN redirect IS ?7 THEN redirect_count + 1 ELSE 1 END,"
	           " redirect = ?7"
	           " WHERE id = ?1",
	           "IitIttt", a->url_id, a->status, a->error, a->when, a->etag,
	           a->last_modified, a->redirect);
	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* Replace a URL after a permanent redirect, keeping the old as moved_from. */
int
store_url_update(struct store *s, int64_t url_id, const char *new_url)
{
	int r;

	if (!new_url || !*new_url)
		return -EINVAL;
	r = write1(s,
	           "UPDATE feed_url SET moved_from = url, url = ?2,"
	           " redirect = NULL, redirect_count = 0 WHERE id = ?1",
	           "It", url_id, new_url);
	if (r == -EEXIST)
		r = failf(s, -EEXIST, "'%s' is already a feed's URL", new_url);
	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* Save the daemon's scheduling state of a feed. */
int
store_feed_save_schedule(struct store *s, const struct store_feed *f)
{
	int r;

	if (!f)
		return -EINVAL;
	r = write1(s,
	           "UPDATE feed SET next_poll = ?2, error_count = ?3,"
	           " failing_since = ?4, retry_after = ?5, hint = ?6,"
	           " preferred = ?7, last_served = ?8, primary_probe = ?9"
	           " WHERE id = ?1",
	           "IIiIIIiiI", f->id, f->next_poll, f->error_count,
	           f->failing_since, f->retry_after, f->hint, f->preferred,
	           f->last_served, f->primary_probe);
	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* ---- merging ---- */

/*
 * A 64-bit hash of a string, folded into h eight bytes at a time, with
 * its length mixed in so that NULL, "" and field boundaries differ.
 * Not cryptographic: it tells text apart, it does not defend against
 * crafted collisions (a collision only hides one changed text).
 */
static uint64_t
fnv(uint64_t h, const char *t)
{
	const uint64_t m = 0x9e3779b97f4a7c15ULL;
	size_t n, i = 0;

	if (!t) {
		h = (h ^ 0xff) * m;
		return h ^ (h >> 29);
	}
	n = strlen(t);
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, t + i, 8);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	if (i < n) {
		uint64_t w = 0;

		memcpy(&w, t + i, n - i);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	h = (h ^ (uint64_t)n ^ 0xfe00) * m;
	return h ^ (h >> 32);
}

#define FNV_SEED 0xcbf29ce484222325ULL

/* The keys one entry is known by, computed before the transaction. */
struct entry_keys {
	char *guid;       /* guid identity (mirror host folded), NULL none */
	char *link;       /* canonical link, NULL none */
	char *ident;      /* the primary identity, for tombstones */
	int64_t chash;    /* title + summary + content, to see changes */
	bool link_shared; /* several entries of this document share link */
};

/* A string set with counts, for the keys of one document. */
struct keyset {
	const char **k;
	unsigned *n;
	size_t cap;
};

/* Slot of key in the set (an empty slot when it is absent). */
static size_t
keyset_slot(const struct keyset *ks, const char *key)
{
	size_t i = fnv(FNV_SEED, key) & (ks->cap - 1);

	while (ks->k[i] && strcmp(ks->k[i], key) != 0)
		i = (i + 1) & (ks->cap - 1);
	return i;
}

/* Make a set for up to n keys. */
static int
keyset_init(struct keyset *ks, size_t n)
{
	ks->cap = 16;
	while (ks->cap < 2 * n + 1)
		ks->cap *= 2;
	ks->k = calloc(ks->cap, sizeof(*ks->k));
	ks->n = calloc(ks->cap, sizeof(*ks->n));
	return ks->k && ks->n ? 0 : -ENOMEM;
}

/* Count key (not copied; it must outlive the set). */
static void
keyset_add(struct keyset *ks, const char *key)
{
	size_t i = keyset_slot(ks, key);

	ks->k[i] = key;
	ks->n[i]++;
}

/* How many times key was added. */
static unsigned
keyset_count(const struct keyset *ks, const char *key)
{
	size_t i = keyset_slot(ks, key);

	return ks->k[i] ? ks->n[i] : 0;
}

/* Free the set's tables (not the keys). */
static void
keyset_free(struct keyset *ks)
{
	free(ks->k);
	free(ks->n);
}

/* The hosts of a feed's URLs: to_host from the primary, from_hosts the rest. */
struct feed_hosts {
	char *to;
	char *from[MAX_URLS + 1];
	size_t n_from;
	size_t n_urls;
};

/* Free the hosts. */
static void
hosts_free(struct feed_hosts *h)
{
	free(h->to);
	for (size_t i = 0; i < h->n_from; i++)
		free(h->from[i]);
}

/* Load the primary's host and the mirrors' other hosts. */
static int
hosts_load(struct store *s, int64_t feed, struct feed_hosts *h)
{
	sqlite3_stmt *st = prep(s, "SELECT url FROM feed_url WHERE feed_id = ?1"
	                           " ORDER BY position, id");
	int rc, r = 0;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, feed);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && h->n_urls < MAX_URLS) {
		const char *u = (const char *)sqlite3_column_text(st, 0);
		char *host = u ? url_host(u) : NULL;

		if (h->n_urls++ == 0) {
			h->to = host;
			continue;
		}
		if (!host)
			continue;
		if (h->to && strcmp(host, h->to) == 0) {
			free(host);
			continue;
		}
		h->from[h->n_from++] = host;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = fail(s, rc);
	done(st);
	return r;
}

/* The identity of a link or URL-like guid; the raw text when not a URL. */
static char *
identity(const char *u, const struct feed_hosts *h, bool *oom)
{
	char *out = NULL;

	if (url_is_http(u) &&
	    url_identity(u, h->to ? (const char *const *)h->from : NULL, h->to,
	                 &out) == 0 &&
	    out)
		return out;
	out = strdup(u);
	if (!out)
		*oom = true;
	return out;
}

/* Compute the identity keys of an entry. */
static int
entry_keys(const struct gz_entry *e, const struct feed_hosts *h,
           struct entry_keys *k)
{
	bool oom = false;
	uint64_t c;

	memset(k, 0, sizeof(*k));
	if (e->link && *e->link)
		k->link = identity(e->link, h, &oom);
	/* A permalink guid is the link: canonicalize once. */
	if (e->id && *e->id && k->link && e->link && !strcmp(e->id, e->link)) {
		k->guid = strdup(k->link);
		if (!k->guid)
			oom = true;
	} else if (e->id && *e->id) {
		k->guid = identity(e->id, h, &oom);
	}
	c = fnv(fnv(fnv(FNV_SEED, e->title), e->summary), e->content);
	k->chash = (int64_t)c;
	if (oom)
		return -ENOMEM;
	if (k->guid)
		k->ident = join4("g:", k->guid, "\n", k->link ? k->link : "");
	else if (k->link)
		k->ident = join4("l:", k->link, "", "");
	else {
		char date[32];

		snprintf(date, sizeof(date), "%lld", (long long)e->published);
		c = fnv(fnv(fnv(fnv(FNV_SEED, e->title), date), e->content),
		        e->summary);
		k->ident = malloc(20);
		if (k->ident)
			snprintf(k->ident, 20, "h:%016llx",
			         (unsigned long long)c);
	}
	return k->ident ? 0 : -ENOMEM;
}

/* Free an entry's keys. */
static void
entry_keys_free(struct entry_keys *k)
{
	free(k->guid);
	free(k->link);
	free(k->ident);
}

/* A story of this feed an entry matches. */
struct match {
	int64_t story;
	int64_t chash;
	bool rekey; /* the membership's keys differ from the entry's */
};

/* Equal strings, NULL equal only to NULL. */
static bool
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Find the story of feed an entry is, by guid, link or hash. 1 found. */
static int
find_in_feed(struct store *s, int64_t feed, const struct entry_keys *k,
             const struct keyset *guids, struct match *m)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	/*
	 * By guid; a candidate whose link differs is another entry of a
	 * feed that repeats its guids (guid + link tells them apart).
	 */
	if (k->guid) {
		st = prep(s, "SELECT story_id, link_key, chash"
		             " FROM membership INDEXED BY membership_guid"
		             " WHERE feed_id = ?1 AND guid_key = ?2"
		             " AND guid_key IS NOT NULL");
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, feed);
		sqlite3_bind_text(st, 2, k->guid, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *l =
			        (const char *)sqlite3_column_text(st, 1);
			bool exact = same(l, k->link);

			if (!exact && l && k->link)
				continue;
			if (r == 0 || exact) {
				m->story = sqlite3_column_int64(st, 0);
				m->chash = sqlite3_column_int64(st, 2);
				m->rekey = !exact;
				r = 1;
			}
			if (exact)
				break;
		}
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			r = fail(s, rc);
		done(st);
		if (r != 0)
			return r;
	}
	/*
	 * By canonical link, when it is the identity: the feed changed its
	 * guids (the old guid is gone from the document), or has none.
	 * Links shared by several entries are no identity.
	 */
	if (k->link && !k->link_shared) {
		int64_t sid = 0, ch = 0;
		bool ok = false;
		int n = 0;

		st = prep(s, "SELECT story_id, guid_key, chash"
		             " FROM membership INDEXED BY membership_link"
		             " WHERE feed_id = ?1 AND link_key = ?2"
		             " AND link_key IS NOT NULL LIMIT 2");
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, feed);
		sqlite3_bind_text(st, 2, k->link, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *g =
			        (const char *)sqlite3_column_text(st, 1);

			n++;
			sid = sqlite3_column_int64(st, 0);
			ch = sqlite3_column_int64(st, 2);
			ok = !k->guid || !g || !keyset_count(guids, g);
		}
		if (rc != SQLITE_DONE)
			r = fail(s, rc);
		done(st);
		if (r < 0)
			return r;
		if (n == 1 && ok) {
			m->story = sid;
			m->chash = ch;
			m->rekey = k->guid != NULL;
			return 1;
		}
		return 0;
	}
	if (!k->guid && !k->link) {
		st = prep(s, "SELECT story_id, chash"
		             " FROM membership INDEXED BY membership_hash"
		             " WHERE feed_id = ?1 AND ident = ?2"
		             " AND guid_key IS NULL AND link_key IS NULL");
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, feed);
		sqlite3_bind_text(st, 2, k->ident, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			m->story = sqlite3_column_int64(st, 0);
			m->chash = sqlite3_column_int64(st, 1);
			m->rekey = false;
			r = 1;
		} else if (rc != SQLITE_DONE) {
			r = fail(s, rc);
		}
		done(st);
	}
	return r;
}

/* Add the story to the feed with the entry's keys. */
static int
add_membership(struct store *s, int64_t feed, int64_t story,
               const struct entry_keys *k)
{
	return sql_exec(s,
	                "INSERT INTO membership"
	                " (feed_id, story_id, ident, guid_key, link_key, chash)"
	                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                "IItttI", feed, story, k->ident, k->guid, k->link,
	                k->chash);
}

/* Merge one entry into the feed (inside the merge's transaction). */
static int
merge_entry(struct store *s, int64_t feed, const struct gz_entry *e,
            const struct entry_keys *k, const struct keyset *guids, int64_t now,
            struct store_merge_result *res)
{
	struct match m = {0};
	int64_t sid = 0, published;
	int r;

	r = find_in_feed(s, feed, k, guids, &m);
	if (r < 0)
		return r;
	if (r == 1) {
		if (m.rekey) {
			r = sql_exec(s,
			             "UPDATE membership SET ident = ?3,"
			             " guid_key = ?4, link_key = ?5"
			             " WHERE feed_id = ?1 AND story_id = ?2",
			             "IIttt", feed, m.story, k->ident, k->guid,
			             k->link);
			if (r < 0)
				return r;
		}
		if (m.chash == k->chash) {
			res->unchanged++;
			return 0;
		}
		/* Changed: new text, the read state kept, flagged. */
		r = sql_exec(s,
		             "UPDATE story SET title = ?2, link = ?3,"
		             " author = ?4, summary = ?5, content = ?6,"
		             " updated = ?7, guid = ?8,"
		             " link_key = coalesce(?9, link_key), changed = 1"
		             " WHERE id = ?1",
		             "ItttttItt", m.story, e->title, e->link, e->author,
		             e->summary, e->content,
		             e->updated == GZ_NO_DATE ? now : e->updated, e->id,
		             k->link);
		if (r >= 0)
			r = sql_exec(s,
			             "UPDATE membership SET chash = ?3"
			             " WHERE feed_id = ?1 AND story_id = ?2",
			             "III", feed, m.story, k->chash);
		if (r < 0)
			return r;
		res->updated++;
		return 0;
	}

	/* Retention removed it: it never comes back as new. */
	r = sql_int(s, &sid,
	            "SELECT 1 FROM tombstone WHERE feed_id = ?1 AND ident = ?2",
	            "It", feed, k->ident);
	if (r < 0)
		return r;
	if (r == 1) {
		res->unchanged++;
		return 0;
	}

	/* The same canonical link in another feed: one story, two feeds. */
	if (k->link && !k->link_shared) {
		r = sql_int(s, &sid,
		            "SELECT id FROM story WHERE link_key = ?2"
		            " AND NOT EXISTS (SELECT 1 FROM membership m"
		            "  WHERE m.story_id = story.id AND m.feed_id = ?1)"
		            " ORDER BY id LIMIT 1",
		            "It", feed, k->link);
		if (r < 0)
			return r;
		if (r == 1) {
			r = add_membership(s, feed, sid, k);
			if (r < 0)
				return r;
			res->unchanged++;
			return 0;
		}
	}

	published = e->published != GZ_NO_DATE ? e->published : e->updated;
	if (published == GZ_NO_DATE || published > now)
		published = now;
	r = sql_exec(s,
	             "INSERT INTO story (link_key, guid, title, link, author,"
	             " summary, content, published, updated, first_seen)"
	             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	             "tttttttIzI", k->link, e->id, e->title, e->link, e->author,
	             e->summary, e->content, published,
	             e->updated == GZ_NO_DATE ? (int64_t)0 : e->updated, now);
	if (r < 0)
		return r;
	sid = sqlite3_last_insert_rowid(s->db);
	r = sql_exec(s, "INSERT INTO fts_pending(id) VALUES (?1)", "I", sid);
	if (r >= 0)
		r = add_membership(s, feed, sid, k);
	if (r < 0)
		return r;
	res->new_stories++;
	return 0;
}

/* Index up to INDEX_BATCH pending stories in one transaction; how many. */
static int
index_batch(struct store *s)
{
	int r, n;

	r = tx_begin(s);
	if (r < 0)
		return r;
	r = sql_exec(s,
	             "INSERT INTO story_fts(rowid, title, summary, content)"
	             " SELECT s.id, s.title, gz_fts_text(s.summary),"
	             " gz_fts_text(s.content) FROM story s WHERE s.id IN"
	             " (SELECT id FROM fts_pending ORDER BY id LIMIT ?1)",
	             "i", INDEX_BATCH);
	if (r >= 0)
		r = sql_exec(
		        s,
		        "DELETE FROM fts_pending WHERE id IN"
		        " (SELECT id FROM fts_pending ORDER BY id LIMIT ?1)",
		        "i", INDEX_BATCH);
	n = r;
	r = tx_end(s, r < 0 ? r : 0);
	return r < 0 ? r : n;
}

/* Index every story waiting for the full-text index. */
int
store_index(struct store *s)
{
	int total = 0;

	if (!s)
		return -EINVAL;
	if (s->flags & STORE_READONLY)
		return 0;
	/* Nothing queued: no write lock taken. */
	{
		int64_t any = 0;
		int r = sql_int(s, &any, "SELECT 1 FROM fts_pending LIMIT 1",
		                "");

		if (r <= 0) {
			s->unindexed = 0;
			return r;
		}
	}
	for (;;) {
		int r = index_batch(s);

		if (r < 0)
			return r;
		total += r;
		if (r < INDEX_BATCH)
			break;
	}
	s->unindexed = 0;
	return total;
}

/* Merge a parsed feed into a subscription, in one transaction. */
int
store_merge(struct store *s, int64_t feed_id, size_t url_index,
            const struct gz_feed *feed, int64_t now,
            struct store_merge_result *ret)
{
	struct store_merge_result res = {0};
	struct feed_hosts hosts = {0};
	struct entry_keys *keys = NULL;
	struct keyset guids = {0}, links = {0};
	bool *shared = NULL;
	size_t n;
	int r;

	if (!feed)
		return -EINVAL;
	n = feed->n_entries;
	if (n > MAX_ENTRIES)
		return failf(s, -E2BIG, "%zu entries in one feed (limit %d)", n,
		             MAX_ENTRIES);
	r = hosts_load(s, feed_id, &hosts);
	if (r < 0)
		goto out;
	if (hosts.n_urls == 0) {
		r = failf(s, -ENOENT, "no feed %lld", (long long)feed_id);
		goto out;
	}
	if (url_index >= hosts.n_urls) {
		r = failf(s, -EINVAL, "feed %lld has no URL number %zu",
		          (long long)feed_id, url_index);
		goto out;
	}

	/* Keys first, outside the transaction: it stays short. */
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys || keyset_init(&guids, n) < 0 || keyset_init(&links, n) < 0) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = entry_keys(&feed->entries[i], &hosts, &keys[i]);
		if (r < 0)
			goto out;
		if (keys[i].guid)
			keyset_add(&guids, keys[i].guid);
	}
	/*
	 * A link is no identity when entries with different guids carry it
	 * (a home page as every item's link); the same entry twice is.
	 * links.n holds the first entry with the link, shared[] the verdict.
	 */
	shared = calloc(links.cap, sizeof(*shared));
	if (!shared) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t sl;

		if (!keys[i].link)
			continue;
		sl = keyset_slot(&links, keys[i].link);
		if (!links.k[sl]) {
			links.k[sl] = keys[i].link;
			links.n[sl] = (unsigned)i;
		} else if (!same(keys[links.n[sl]].guid, keys[i].guid)) {
			shared[sl] = true;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (keys[i].link)
			keys[i].link_shared =
			        shared[keyset_slot(&links, keys[i].link)];

	r = tx_begin(s);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = merge_entry(s, feed_id, &feed->entries[i], &keys[i], &guids,
		                now, &res);
	if (r >= 0)
		r = sql_exec(s,
		             "UPDATE feed SET last_served = ?2 WHERE id = ?1",
		             "II", feed_id, (int64_t)url_index);
	r = tx_end(s, r < 0 ? r : 0);
	if (r >= 0 && ret)
		*ret = res;
	/*
	 * Enough queued for one batch: index them now (outside a caller's
	 * transaction). A failure here leaves them queued for the next.
	 */
	if (r >= 0) {
		s->unindexed += res.new_stories + res.updated;
		if (s->unindexed >= INDEX_AFTER && s->tx_depth == 0)
			store_index(s);
	}
out:
	for (size_t i = 0; keys && i < n; i++)
		entry_keys_free(&keys[i]);
	free(keys);
	keyset_free(&guids);
	keyset_free(&links);
	free(shared);
	hosts_free(&hosts);
	return r < 0 ? r : 0;
}

/* ---- stories ---- */

/* Feed titles by id, looked up as stories need them, sorted by id. */
struct titles {
	struct feed_title *v;
	size_t n;
};

/* Free the titles. */
static void
titles_free(struct titles *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].title);
	free(t->v);
}

/* The display title of feed id, from the cache or the database. */
static int
title_of(struct store *s, struct titles *t, int64_t id, const char **ret)
{
	struct feed_title *nv;
	size_t lo = 0, hi = t->n;
	sqlite3_stmt *st;
	char *title = NULL;
	bool oom = false;
	int rc, r = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].id == id) {
			*ret = t->v[mid].title;
			return 0;
		}
		if (t->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	st = prep(s,
	          "SELECT coalesce(f.title, f.parsed_title,"
	          " (SELECT url FROM feed_url u WHERE u.feed_id = f.id"
	          "  ORDER BY position LIMIT 1)) FROM feed f WHERE f.id = ?1");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		title = col_dup(st, 0, &oom);
	else if (rc != SQLITE_DONE)
		r = fail(s, rc);
	done(st);
	if (r == 0 && oom)
		r = -ENOMEM;
	if (r < 0)
		return r;
	nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
	if (!nv) {
		free(title);
		return -ENOMEM;
	}
	t->v = nv;
	memmove(&t->v[lo + 1], &t->v[lo], (t->n - lo) * sizeof(*nv));
	t->v[lo].id = id;
	t->v[lo].title = title;
	t->n++;
	*ret = title;
	return 0;
}

/* Growing arrays for one story's feeds, reused across rows. */
struct story_feeds {
	int64_t *ids;
	const char **titles;
	size_t n, cap;
};

/* Fill sf with the feeds of story id. */
static int
story_feeds(struct store *s, int64_t id, struct titles *t,
            struct story_feeds *sf)
{
	sqlite3_stmt *st = prep(s, "SELECT feed_id FROM membership"
	                           " WHERE story_id = ?1 ORDER BY feed_id");
	int rc, r = 0;

	if (!st)
		return -EIO;
	sf->n = 0;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sf->n == sf->cap) {
			size_t cap = sf->cap ? 2 * sf->cap : 8;
			int64_t *ni = realloc(sf->ids, cap * sizeof(*ni));
			const char **nt;

			if (ni)
				sf->ids = ni;
			nt = realloc(sf->titles, cap * sizeof(*nt));
			if (nt)
				sf->titles = nt;
			if (!ni || !nt) {
				r = -ENOMEM;
				break;
			}
			sf->cap = cap;
		}
		sf->ids[sf->n] = sqlite3_column_int64(st, 0);
		sf->n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = fail(s, rc);
	done(st);
	/* Titles after the membership statement is done with. */
	for (size_t i = 0; r == 0 && i < sf->n; i++)
		r = title_of(s, t, sf->ids[i], &sf->titles[i]);
	return r;
}

/*
 * The columns every story listing selects, in this order; ?1 says
 * whether summary and content are wanted.
 */
#define STORY_COLUMNS                                                          \
	"SELECT s.id, s.guid, s.title, s.link, s.author,"                      \
	" CASE WHEN ?1 THEN s.summary END, CASE WHEN ?1 THEN s.content END,"   \
	" s.published, s.updated, s.first_seen, s.read, s.starred, s.changed"

/* The filters every listing shares, parameters ?3 to ?9. */
#define STORY_FILTERS                                                          \
	" AND (?3 = 0 OR s.read = 0) AND (?4 = 0 OR s.starred = 1)"            \
	" AND (?5 = 0 OR EXISTS (SELECT 1 FROM membership m5"                  \
	"  WHERE m5.story_id = s.id AND m5.feed_id = ?5))"                     \
	" AND (?6 = 0 OR s.published >= ?6) AND (?7 = 0 OR s.id > ?7)"

#define STORY_ORDER " ORDER BY s.published DESC, s.id DESC LIMIT ?8 OFFSET ?9"

/* Run a listing statement and call fn per row. The count or -errno. */
static int
run_stories(struct store *s, sqlite3_stmt *st, bool ranked, store_story_fn fn,
            void *arg)
{
	struct titles t = {0};
	struct story_feeds sf = {0};
	int rc = SQLITE_DONE, r = 0, count = 0;

	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_story story = {0};

		story.id = sqlite3_column_int64(st, 0);
		story.guid = (const char *)sqlite3_column_text(st, 1);
		story.title = (const char *)sqlite3_column_text(st, 2);
		story.link = (const char *)sqlite3_column_text(st, 3);
		story.author = (const char *)sqlite3_column_text(st, 4);
		story.summary = (const char *)sqlite3_column_text(st, 5);
		story.content = (const char *)sqlite3_column_text(st, 6);
		story.published = sqlite3_column_int64(st, 7);
		story.updated = sqlite3_column_type(st, 8) == SQLITE_NULL
		                        ? GZ_NO_DATE
		                        : sqlite3_column_int64(st, 8);
		story.first_seen = sqlite3_column_int64(st, 9);
		story.read = sqlite3_column_int(st, 10) != 0;
		story.starred = sqlite3_column_int(st, 11) != 0;
		story.changed = sqlite3_column_int(st, 12) != 0;
		if (ranked)
			story.rank = -sqlite3_column_double(st, 13);
		r = story_feeds(s, story.id, &t, &sf);
		if (r < 0)
			break;
		story.n_feeds = sf.n;
		story.feed_ids = sf.ids;
		story.feed_titles = (const char *const *)sf.titles;
		count++;
		if (fn && fn(&story, arg) != 0)
			break;
	}
	if (r >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = fail(s, rc);
	done(st);
	titles_free(&t);
	free(sf.ids);
	free(sf.titles);
	return r < 0 ? r : count;
}

/*
 * Turn the user's words into an FTS5 query: each word a quoted string
 * (so punctuation cannot be query syntax), a trailing * kept as a prefix
 * search, all words required. NULL when there are no words.
 */
static char *
fts_query(const char *q)
{
	size_t n = strlen(q);
	char *out = malloc(3 * n + 4), *o = out;
	const char *p = q;

	if (!out)
		return NULL;
	while (*p) {
		const char *w;
		size_t len;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		len = (size_t)(p - w);
		if (o != out)
			*o++ = ' ';
		*o++ = '"';
		for (size_t i = 0; i < len; i++) {
			if (i == len - 1 && w[i] == '*' && len > 1)
				break;
			if (w[i] == '"')
				*o++ = '"';
			*o++ = w[i];
		}
		*o++ = '"';
		if (len > 1 && w[len - 1] == '*')
			*o++ = '*';
	}
	*o = '\0';
	if (o == out) {
		free(out);
		return NULL;
	}
	return out;
}

/* Stories matching q, newest first or by rank. The count or -errno. */
int
store_stories(struct store *s, const struct store_query *q, store_story_fn fn,
              void *arg)
{
	static const struct store_query none = {0};
	sqlite3_stmt *st;
	char *match = NULL;
	bool ranked = false;
	int r;

	if (!q)
		q = &none;
	if (q->limit < 0 || q->offset < 0)
		return -EINVAL;
	if (q->search) {
		match = fts_query(q->search);
		if (!match)
			return failf(s, -EINVAL, "empty search");
		/* What merges queued is indexed first (read-only: skipped). */
		if (s->tx_depth == 0 && !(s->flags & STORE_READONLY)) {
			r = store_index(s);
			/* A writer busy for long: search what is indexed. */
			if (r < 0 && r != -EBUSY) {
				free(match);
				return r;
			}
		}
		ranked = true;
		/*
		 * Ranked among the newest SEARCH_CANDIDATES matches that
		 * pass the filters: bm25 costs per match, so a common word
		 * in a million stories would otherwise rank them all.
		 */
		if (!(q->flags & (STORE_Q_UNREAD | STORE_Q_STARRED)) &&
		    !q->feed_id && !q->since && !q->min_id)
			/* No filters: the stories joined only for the page. */
			st = prep(s, STORY_COLUMNS
			          ", c.score FROM"
			          " (SELECT id, score FROM"
			          "  (SELECT rowid AS id,"
			          "   bm25(story_fts, 10.0, 3.0, 1.0) AS score"
			          "   FROM story_fts WHERE story_fts MATCH ?2"
			          "   ORDER BY rowid DESC"
			          "   LIMIT " SEARCH_CANDIDATES ")"
			          "  ORDER BY score, id DESC"
			          "  LIMIT ?8 OFFSET ?9) c"
			          " JOIN story s ON s.id = c.id"
			          " ORDER BY c.score, c.id DESC");
		else
			st = prep(
			        s, STORY_COLUMNS
			        ", c.score FROM"
			        " (SELECT id, score, published FROM"
			        "  (SELECT story_fts.rowid AS id,"
			        "   bm25(story_fts, 10.0, 3.0, 1.0) AS score,"
			        "   s.published AS published"
			        "   FROM story_fts JOIN story s"
			        "   ON s.id = story_fts.rowid"
			        "   WHERE story_fts MATCH ?2" STORY_FILTERS
			        "   ORDER BY story_fts.rowid DESC"
			        "   LIMIT " SEARCH_CANDIDATES ")"
			        "  ORDER BY score, published DESC, id DESC"
			        "  LIMIT ?8 OFFSET ?9) c"
			        " JOIN story s ON s.id = c.id"
			        " ORDER BY c.score, c.published DESC, c.id DESC");
	} else if (q->feed_id) {
		/* Driven by the feed's memberships: a small feed is quick. */
		st = prep(s, STORY_COLUMNS
		          " FROM membership mf JOIN story s"
		          " ON s.id = mf.story_id WHERE mf.feed_id = ?5"
		          " AND ?2 IS NULL" STORY_FILTERS STORY_ORDER);
	} else if (q->flags & STORE_Q_UNREAD) {
		/* Literally read = 0, so that the partial index serves. */
		st = prep(s, STORY_COLUMNS
		          " FROM story s WHERE s.read = 0"
		          " AND ?2 IS NULL" STORY_FILTERS STORY_ORDER);
	} else {
		st = prep(s, STORY_COLUMNS
		          " FROM story s WHERE ?2 IS NULL" STORY_FILTERS
		                  STORY_ORDER);
	}
	if (!st) {
		free(match);
		return -EIO;
	}
	sqlite3_bind_int(st, 1, (q->flags & STORE_Q_CONTENT) != 0);
	if (match)
		sqlite3_bind_text(st, 2, match, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (q->flags & STORE_Q_UNREAD) != 0);
	sqlite3_bind_int(st, 4, (q->flags & STORE_Q_STARRED) != 0);
	sqlite3_bind_int64(st, 5, q->feed_id);
	sqlite3_bind_int64(st, 6, q->since);
	sqlite3_bind_int64(st, 7, q->min_id);
	sqlite3_bind_int64(st, 8, q->limit ? q->limit : -1);
	sqlite3_bind_int64(st, 9, q->offset);
	r = run_stories(s, st, ranked, fn, arg);
	if (r == -EIO && match && strstr(s->err, "fts5"))
		r = -EINVAL;
	free(match);
	return r;
}

/* One story with its content. -ENOENT when there is none. */
int
store_story_get(struct store *s, int64_t id, store_story_fn fn, void *arg)
{
	sqlite3_stmt *st = prep(s, STORY_COLUMNS " FROM story s"
	                                         " WHERE s.id = ?2");
	int r;

	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, 1);
	sqlite3_bind_int64(st, 2, id);
	r = run_stories(s, st, false, fn, arg);
	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* The "new since last time" cursor: the highest story id shown. */
int
store_cursor_get(struct store *s, int64_t *ret)
{
	int64_t v = 0;
	int r = sql_int(s, &v, "SELECT value FROM state WHERE key = 'cursor'",
	                "");

	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

/* Move the "new" cursor to id. */
int
store_cursor_set(struct store *s, int64_t id)
{
	int r = write1(
	        s,
	        "INSERT INTO state (key, value) VALUES ('cursor', ?1)"
	        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	        "I", id);

	return r < 0 ? r : 0;
}

/* The highest story id there is (ever, ids are never reused), 0 none. */
int
store_max_story_id(struct store *s, int64_t *ret)
{
	int64_t v = 0;
	int r = sql_int(s, &v, "SELECT coalesce(max(id), 0) FROM story", "");

	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

/* Mark one story: 1 when it exists, -ENOENT when not. */
int
store_mark_story(struct store *s, int64_t id, enum store_mark m)
{
	int r;

	switch (m) {
	case STORE_MARK_READ:
	case STORE_MARK_UNREAD:
		r = write1(s, "UPDATE story SET read = ?2 WHERE id = ?1", "Ii",
		           id, m == STORE_MARK_READ);
		break;
	case STORE_MARK_STAR:
	case STORE_MARK_UNSTAR:
		r = write1(s, "UPDATE story SET starred = ?2 WHERE id = ?1",
		           "Ii", id, m == STORE_MARK_STAR);
		break;
	default:
		return -EINVAL;
	}
	if (r == 0)
		return -ENOENT;
	return r < 0 ? r : 1;
}

/* Mark a feed's (0: every) stories, before a date when not 0. */
int
store_mark_feed(struct store *s, int64_t feed_id, int64_t before,
                enum store_mark m)
{
	int64_t x;
	int r;

	if (m != STORE_MARK_READ && m != STORE_MARK_UNREAD &&
	    m != STORE_MARK_STAR && m != STORE_MARK_UNSTAR)
		return -EINVAL;
	r = tx_begin(s);
	if (r < 0)
		return r;
	if (feed_id) {
		r = sql_int(s, &x, "SELECT id FROM feed WHERE id = ?1", "I",
		            feed_id);
		if (r == 0)
			r = -ENOENT;
	}
	if (r < 0)
		return tx_end(s, r);
	/* Each case its statement, so that an index drives it. */
	if (feed_id && (m == STORE_MARK_READ || m == STORE_MARK_UNREAD))
		r = sql_exec(
		        s,
		        "UPDATE story SET read = ?1 WHERE id IN"
		        " (SELECT story_id FROM membership WHERE feed_id = ?2)"
		        " AND read <> ?1 AND (?3 = 0 OR published < ?3)",
		        "iII", m == STORE_MARK_READ, feed_id, before);
	else if (feed_id)
		r = sql_exec(
		        s,
		        "UPDATE story SET starred = ?1 WHERE id IN"
		        " (SELECT story_id FROM membership WHERE feed_id = ?2)"
		        " AND starred <> ?1 AND (?3 = 0 OR published < ?3)",
		        "iII", m == STORE_MARK_STAR, feed_id, before);
	else if (m == STORE_MARK_READ)
		r = sql_exec(s,
		             "UPDATE story SET read = 1 WHERE read = 0"
		             " AND (?1 = 0 OR published < ?1)",
		             "I", before);
	else if (m == STORE_MARK_UNREAD)
		r = sql_exec(s,
		             "UPDATE story SET read = 0 WHERE read = 1"
		             " AND (?1 = 0 OR published < ?1)",
		             "I", before);
	else
		r = sql_exec(s,
		             "UPDATE story SET starred = ?1 WHERE starred <> ?1"
		             " AND (?2 = 0 OR published < ?2)",
		             "iI", m == STORE_MARK_STAR, before);
	return tx_end(s, r);
}

/* ---- retention ---- */

/* Remove read, unstarred stories published before `before`; tombstones. */
int
store_purge(struct store *s, int64_t before)
{
	int total = 0, r;

	/*
	 * In batches, each its own short transaction: a big purge must not
	 * hold the write lock longer than the CLI's busy timeout.
	 */
	do {
		r = tx_begin(s);
		if (r < 0)
			break;
		r = sql_exec(
		        s,
		        "INSERT OR IGNORE INTO tombstone"
		        " (feed_id, ident, purged)"
		        " SELECT m.feed_id, m.ident, ?2 FROM membership m"
		        " WHERE m.story_id IN (SELECT id FROM story"
		        "  WHERE read = 1 AND starred = 0 AND published < ?1"
		        "  ORDER BY published, id LIMIT " STR(PURGE_BATCH) ")",
		        "II", before, (int64_t)time(NULL));
		if (r >= 0)
			r = sql_exec(s,
			             "DELETE FROM story WHERE id IN"
			             " (SELECT id FROM story WHERE read = 1"
			             "  AND starred = 0 AND published < ?1"
			             "  ORDER BY published, id"
			             "  LIMIT " STR(PURGE_BATCH) ")",
			             "I", before);
		r = tx_end(s, r);
		if (r > 0)
			total += r;
	} while (r == PURGE_BATCH);
	return r < 0 ? r : total;
}
