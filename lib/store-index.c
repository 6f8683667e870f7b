/*
 * The full-text index (FTS5), in a file of its own beside the store
 * (STORE.index), so that merges never wait for it: the store is attached
 * to the index's connection read-only, and the indexer copies the words
 * of the stories above indexed_upto, and re-indexes or drops the stories
 * story_change lists above changes_upto, in big transactions that move
 * both marks with the words. Killed at any point, the index is what the
 * last commit left: consistent, merely behind. A damaged file, or one of
 * another store, is made again from the store.
 *
 * On PostgreSQL there is no such file: the index is the story_words
 * table in the store, filled by the same lagging indexer
 * (lib/store-index-pg.c), to which the calls here hand over.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store-internal.h"

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
 * The words of an HTML fragment for the full-text index, t's n bytes
 * into out (n + 1 bytes: never longer, a reference's UTF-8 is shorter
 * than the reference): tags (with their attributes and URLs) and
 * comments become spaces, character references their characters.
 * Deterministic: an index entry is removed with the words it was added
 * with. The length written (out is terminated).
 */
size_t
fts_text(const char *t, size_t n, char *out)
{
	const char *p, *end = t + n;
	char *o = out;

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
	*o = '\0';
	return (size_t)(o - out);
}

/* gz_fts_text(html): fts_text in SQL; text without markup as it is. */
static void
fts_text_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *t;
	char *out;
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
	out = sqlite3_malloc(n + 1);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	n = (int)fts_text(t, (size_t)n, out);
	sqlite3_result_text(ctx, out, n, sqlite3_free);
}

/* A file: URI for path, read-only (ATTACH takes URIs, not paths). */
static char *
ro_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *u = malloc(3 * n + 16), *o = u;

	if (!u)
		return NULL;
	o += sprintf(o, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-_.~", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	strcpy(o, "?mode=ro");
	return u;
}

/* One value of the index's state, 0 when unset. */
static int
state_get(struct store *x, const char *key, int64_t *ret)
{
	int r;

	*ret = 0;
	r = sql_int(x, ret, "SELECT value FROM index_state WHERE key = ?1", "t",
	            key);
	return r < 0 ? r : 0;
}

/* Set a value of the index's state (inside the caller's transaction). */
static int
state_set(struct store *x, const char *key, int64_t v)
{
	return sql_exec(x,
	                "INSERT OR REPLACE INTO index_state(key, value)"
	                " VALUES (?1, ?2)",
	                "tI", key, v);
}

/*
 * Empty the index and start it over: nothing indexed, every change so
 * far already seen, and this store's instance.
 */
static int
index_reset(struct store *x)
{
	int64_t inst = 0, seq = 0;
	int r = sql_begin(x);

	if (r < 0)
		return r;
	r = sql_int(x, &inst,
	            "SELECT value FROM store.state WHERE key = 'instance'", "");
	if (r >= 0)
		r = sql_int(
		        x, &seq,
		        "SELECT coalesce(max(seq), 0) FROM store.story_change",
		        "");
	/* Dropped and made again: quicker than deleting every row. */
	if (r >= 0)
		r = sql_exec(x, "DROP TABLE story_fts", "");
	if (r >= 0)
		r = sql_exec(x,
		             "CREATE VIRTUAL TABLE story_fts USING fts5(title,"
		             " summary, content)",
		             "");
	if (r >= 0)
		r = sql_exec(x,
		             "INSERT INTO story_fts(story_fts, rank)"
		             " VALUES ('hashsize', " STR(FTS_HASHSIZE) ")",
		             "");
	if (r >= 0)
		r = state_set(x, "instance", inst);
	if (r >= 0)
		r = state_set(x, "indexed_upto", 0);
	if (r >= 0)
		r = state_set(x, "changes_upto", seq);
	return sql_end(x, r < 0 ? r : 0);
}

/* Remove an index file and its WAL; 0 or -errno. */
static int
index_unlink(const char *path)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	int r = 0;

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char *f = sql_join4(path, sfx[i], "", "");

		if (!f)
			return -ENOMEM;
		if (unlink(f) < 0 && errno != ENOENT)
			r = -errno;
		free(f);
	}
	return r;
}

/* Open the index file of s, with the store attached (read-only) to it. */
static int
index_open(struct store *s, struct store **ret)
{
	unsigned fl = STORE_SYNC_OFF | STORE_URI |
	              (s->flags & (STORE_READONLY | STORE_GROUP));
	char *path = sql_join4(s->path, ".index", "", ""), *uri = NULL;
	char *err = NULL;
	struct store *x = NULL;
	int64_t inst = 0, mine = 0;
	int r;

	if (!path || !(uri = ro_uri(s->path))) {
		free(path);
		return sql_failf(s, -ENOMEM, "out of memory");
	}
	if (!(s->flags & STORE_READONLY))
		fl |= STORE_CREATE;
	r = store_open_db(path, fl, &schema_index, &x, &err);
	if (r == -EBADMSG && !(s->flags & STORE_READONLY)) {
		/* A damaged index is only lost time: make it again. */
		free(err);
		err = NULL;
		r = index_unlink(path);
		if (r >= 0)
			r = store_open_db(path, fl, &schema_index, &x, &err);
	}
	if (r < 0) {
		sql_failf(s, r, "full-text index %s", err ? err : strerror(-r));
		goto out;
	}
	r = sql_exec(x, "ATTACH DATABASE ?1 AS store", "t", uri);
	if (r < 0) {
		sql_failf(s, r, "full-text index: cannot attach '%s': %s",
		          s->path, x->err);
		goto out;
	}
	/* Another store's index (or a new one): start it over. */
	r = sql_int(s, &inst, "SELECT value FROM state WHERE key = 'instance'",
	            "");
	if (r >= 0)
		r = state_get(x, "instance", &mine);
	if (r >= 0 && (mine != inst || mine == 0)) {
		if (x->flags & STORE_READONLY)
			r = sql_failf(s, -ENOENT,
			              "the full-text index '%s' is not this "
			              "store's; run 'gazette reindex'",
			              x->path);
		else
			r = index_reset(x);
	}
	if (r < 0) {
		if (!s->err[0] || r != -ENOENT)
			sql_failf(s, r, "full-text index '%s': %s", x->path,
			          x->err);
		goto out;
	}
	*ret = x;
	x = NULL;
out:
	store_close(x);
	free(err);
	free(path);
	free(uri);
	return r < 0 ? r : 0;
}

/* The index connection of s, opened on first use. */
int
index_get(struct store *s, struct store **ret)
{
	int r;

	if (!s->index) {
		r = index_open(s, &s->index);
		if (r < 0)
			return r;
	}
	*ret = s->index;
	return 0;
}

/*
 * Index in one transaction what changed since the last batch (stories
 * whose text changed, re-indexed; removed ones, dropped), then up to max
 * new stories. How many stories it took, or -errno.
 */
static int
index_batch(struct store *x, int64_t max)
{
	int64_t upto = 0, cupto = 0, cmax = 0, hi = 0;
	int r, n = 0;

	r = sql_begin(x);
	if (r < 0)
		return r;
	r = state_get(x, "indexed_upto", &upto);
	if (r >= 0)
		r = state_get(x, "changes_upto", &cupto);
	if (r >= 0)
		r = sql_int(
		        x, &cmax,
		        "SELECT coalesce(max(seq), 0) FROM store.story_change",
		        "");
	if (r >= 0 && cmax > cupto) {
		r = sql_exec(
		        x,
		        "DELETE FROM story_fts WHERE rowid IN"
		        " (SELECT story_id FROM store.story_change"
		        "  WHERE seq > ?1 AND seq <= ?2 AND story_id <= ?3)",
		        "III", cupto, cmax, upto);
		if (r >= 0)
			r = sql_exec(
			        x,
			        "INSERT INTO story_fts(rowid, title, summary,"
			        " content) SELECT s.id, s.title,"
			        " gz_fts_text(s.summary), gz_fts_text(s.content)"
			        " FROM store.story s WHERE s.id IN"
			        " (SELECT story_id FROM store.story_change"
			        "  WHERE seq > ?1 AND seq <= ?2 AND story_id <= ?3)",
			        "III", cupto, cmax, upto);
		if (r >= 0)
			n += r;
		if (r >= 0)
			r = state_set(x, "changes_upto", cmax);
	}
	if (r >= 0)
		r = sql_int(x, &hi,
		            "SELECT coalesce(max(id), 0) FROM (SELECT id FROM"
		            " store.story WHERE id > ?1 ORDER BY id LIMIT ?2)",
		            "II", upto, max);
	if (r >= 0 && hi > upto) {
		r = sql_exec(
		        x,
		        "INSERT INTO story_fts(rowid, title, summary,"
		        " content) SELECT s.id, s.title,"
		        " gz_fts_text(s.summary), gz_fts_text(s.content)"
		        " FROM store.story s WHERE s.id > ?1 AND s.id <= ?2",
		        "II", upto, hi);
		if (r >= 0)
			n += r;
		if (r >= 0)
			r = state_set(x, "indexed_upto", hi);
	}
	r = sql_end(x, r < 0 ? r : 0);
	return r < 0 ? r : n;
}

/* Forget the changes the index has applied (a write to the store). */
static int
index_trim(struct store *s, struct store *x)
{
	int64_t cupto = 0;
	int r;

	if ((s->flags & STORE_READONLY) || s->tx_depth > 0)
		return 0;
	r = state_get(x, "changes_upto", &cupto);
	if (r < 0 || cupto == 0)
		return r;
	r = sql_write(s, "DELETE FROM story_change WHERE seq <= ?1", "I",
	              cupto);
	return r < 0 ? r : 0;
}

/* Whether anything waits for the index: 1, 0, or -errno. */
static int
index_pending(struct store *x)
{
	int64_t upto = 0, cupto = 0, any = 0;
	int r = state_get(x, "indexed_upto", &upto);

	if (r >= 0)
		r = state_get(x, "changes_upto", &cupto);
	if (r >= 0)
		r = sql_int(x, &any,
		            "SELECT EXISTS (SELECT 1 FROM store.story"
		            "  WHERE id > ?1) OR EXISTS (SELECT 1 FROM"
		            "  store.story_change WHERE seq > ?2)",
		            "II", upto, cupto);
	return r < 0 ? r : any != 0;
}

/* Index up to max stories of what waits (max 0: all of it). */
int
store_index_some(struct store *s, int64_t max)
{
	struct store *x;
	int64_t total = 0;
	int r;

	if (!s)
		return -EINVAL;
	if (s->flags & STORE_READONLY)
		return 0;
	if (s->backend == BACKEND_PG)
		return pg_index_some(s, max);
	r = index_get(s, &x);
	if (r < 0)
		return r;
	/* Nothing waits: no write lock taken. */
	r = index_pending(x);
	if (r <= 0) {
		if (r < 0)
			sql_failf(s, r, "full-text index: %s", x->err);
		return r;
	}
	for (;;) {
		int64_t want = max ? max - total : INDEX_BATCH;

		if (want > INDEX_BATCH)
			want = INDEX_BATCH;
		r = index_batch(x, want);
		if (r < 0) {
			sql_failf(s, r, "full-text index: %s", x->err);
			return r;
		}
		total += r;
		if (r < want || (max && total >= max))
			break;
	}
	if (total < max || !max) {
		r = index_pending(x);
		if (r == 0)
			index_trim(s, x);
	}
	return total > INT_MAX ? INT_MAX : (int)total;
}

/* Index everything that waits. */
int
store_index(struct store *s)
{
	return store_index_some(s, 0);
}

/* How far the index is behind the store. */
int
store_index_lag(struct store *s, int64_t now, struct store_index_lag *ret)
{
	struct store_index_lag lag = {0};
	struct store *x;
	int64_t upto = 0, cupto = 0, oldest = 0, v = 0;
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (s->backend == BACKEND_PG)
		return pg_index_lag(s, now, ret);
	r = index_get(s, &x);
	if (r < 0)
		return r;
	r = sql_begin_read(x);
	if (r >= 0)
		r = state_get(x, "indexed_upto", &upto);
	if (r >= 0)
		r = state_get(x, "changes_upto", &cupto);
	if (r >= 0)
		r = sql_int(x, &lag.stories,
		            "SELECT count(*) FROM store.story WHERE id > ?1",
		            "I", upto);
	if (r >= 0)
		r = sql_int(x, &lag.changes,
		            "SELECT count(*) FROM store.story_change"
		            " WHERE seq > ?1",
		            "I", cupto);
	if (r >= 0)
		r = sql_int(
		        x, &oldest,
		        "SELECT coalesce(min(first_seen), 0) FROM store.story"
		        " WHERE id > ?1",
		        "I", upto);
	if (r >= 0)
		r = sql_int(
		        x, &v,
		        "SELECT coalesce(min(at), 0) FROM store.story_change"
		        " WHERE seq > ?1",
		        "I", cupto);
	sql_end_read(x);
	if (r < 0)
		return sql_failf(s, r, "full-text index: %s", x->err);
	if (v && (!oldest || v < oldest))
		oldest = v;
	lag.seconds = oldest && now > oldest ? now - oldest : 0;
	lag.indexed_upto = upto;
	*ret = lag;
	return 0;
}

/* Build the index again from the store. */
int
store_reindex(struct store *s)
{
	struct store *x;
	int r;

	if (!s)
		return -EINVAL;
	if (s->flags & STORE_READONLY)
		return sql_failf(s, -EROFS, "the store is open read-only");
	if (s->backend == BACKEND_PG)
		return pg_reindex(s);
	r = index_get(s, &x);
	if (r >= 0)
		r = index_reset(x);
	if (r < 0)
		return s->err[0] ? r : sql_failf(s, r, "%s", x->err);
	return store_index(s);
}

/* Register gz_fts_text() on a connection; an SQLite result code. */
int
index_register(sqlite3 *db)
{
	return sqlite3_create_function_v2(db, "gz_fts_text", 1,
	                                  SQLITE_UTF8 | SQLITE_DETERMINISTIC |
	                                          SQLITE_INNOCUOUS,
	                                  NULL, fts_text_fn, NULL, NULL, NULL);
}
