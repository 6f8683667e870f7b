/*
 * The full-text index on PostgreSQL: story_words.tsv, a tsvector with a
 * GIN index, filled by the same lagging indexer as the SQLite index file
 * (lib/store-index.c), so that a merge never computes one: the words of
 * a story cost more of the server's time than storing the story. The
 * indexer stores the words of the stories above indexed_upto, and again
 * of the stories story_change lists above changes_upto, in transactions
 * that move both marks (in the state table) with the words; a story
 * deleted takes its words with it. The words are SQLite's (fts_text: markup
 * out, character references decoded), made here and sent on libpq's
 * pipeline.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

/* Stories per transaction: the rows it locks, the time it holds them. */
#define PG_INDEX_BATCH 2000
/* Stories read at once: their text is held in memory. */
#define PG_INDEX_READ 200

/* A mark of the state table; 0 when unset. */
static int
mark_get(struct store *s, const char *key, int64_t *ret)
{
	int r;

	*ret = 0;
	r = sql_int(s, ret, "SELECT value FROM state WHERE key = ?1", "t", key);
	return r < 0 ? r : 0;
}

static int
mark_set(struct store *s, const char *key, int64_t v)
{
	int r = sql_exec(s,
	                 "INSERT INTO state (key, value) VALUES (?1, ?2)"
	                 " ON CONFLICT (key) DO UPDATE SET value = ?2",
	                 "tI", key, v);

	return r < 0 ? r : 0;
}

/* fts_text of t, newly allocated (NULL stays NULL); *oom on failure. */
static char *
words(const char *t, bool *oom)
{
	size_t n;
	char *out;

	if (!t)
		return NULL;
	n = strlen(t);
	out = malloc(n + 1);
	if (!out) {
		*oom = true;
		return NULL;
	}
	fts_text(t, n, out);
	return out;
}

/*
 * Index the rows of st (id, title, summary, content), whose first step
 * gave rc: title, summary and content weighted A, B and C for the rank,
 * each row's update queued on the pipeline. The rows, *last the last
 * row's id, or -errno.
 */
static int
index_rows(struct store *s, struct sql_stmt *st, int rc, int64_t *last)
{
	int n = 0, r = 0;

	for (; rc == SQL_ROW && r >= 0; rc = sql_step(st)) {
		bool oom = false;
		char *t = words(sql_col_text(st, 1), &oom);
		char *su = words(sql_col_text(st, 2), &oom);
		char *c = words(sql_col_text(st, 3), &oom);

		*last = sql_col_int64(st, 0);
		if (oom)
			r = sql_failf(s, -ENOMEM, "out of memory");
		else
			r = sql_defer(s, NULL,
			              "INSERT INTO story_words (story_id, tsv)"
			              " SELECT id,"
			              " setweight(to_tsvector('simple',"
			              "  coalesce(?2, '')), 'A') ||"
			              " setweight(to_tsvector('simple',"
			              "  coalesce(?3, '')), 'B') ||"
			              " setweight(to_tsvector('simple',"
			              "  coalesce(?4, '')), 'C')"
			              /* gone since read: nothing to index */
			              " FROM story WHERE id = ?1 FOR KEY SHARE"
			              " ON CONFLICT (story_id)"
			              " DO UPDATE SET tsv = excluded.tsv",
			              "Ittt", *last, t, su, c);
		free(t);
		free(su);
		free(c);
		n++;
	}
	if (r >= 0 && rc != SQL_DONE && rc != SQL_ROW)
		r = sql_fail(s, rc);
	sql_done(st);
	return r < 0 ? r : n;
}

/* Run st's first step with ?1 and ?2 bound (and ?3 if it has one). */
static int
step3(struct sql_stmt *st, int64_t a, int64_t b, int64_t c)
{
	sql_bind_int64(st, 1, a);
	sql_bind_int64(st, 2, b);
	if (st->nparams >= 3)
		sql_bind_int64(st, 3, c);
	return sql_step(st);
}

/*
 * One transaction of the indexer: up to max new stories, then up to
 * PG_INDEX_BATCH of the changes logged; without wait, nothing when
 * another connection is indexing. The stories indexed (new or again),
 * or -errno.
 */
static int
pg_index_batch(struct store *s, int64_t max, bool wait)
{
	int64_t upto, cupto, hi, chi = 0, last = 0, n = 0;
	struct sql_stmt *st;
	int r;

	r = sql_begin(s);
	if (r < 0)
		return r;
	/*
	 * One indexer at a time, of however many daemons share the store.
	 * A daemon's step (!wait) does not wait for another's: that one
	 * indexes what all merged, and a merge thread that waited would
	 * merge nothing meanwhile. A catch-up (a search, reindex) waits.
	 */
	r = wait ? sql_lock_xact(s, LOCK_INDEX)
	         : sql_try_lock_xact(s, LOCK_INDEX);
	if (r == -EBUSY)
		return sql_end(s, 0);
	if (r >= 0)
		r = mark_get(s, "indexed_upto", &upto);
	if (r >= 0)
		r = mark_get(s, "changes_upto", &cupto);
	hi = upto;
	while (r >= 0 && n < max) {
		int64_t want =
		        max - n < PG_INDEX_READ ? max - n : PG_INDEX_READ;

		st = sql_prep(s, "SELECT id, title, summary, content FROM story"
		                 " WHERE id > ?1 ORDER BY id LIMIT ?2");
		r = st ? index_rows(s, st, step3(st, hi, want, 0), &hi) : -EIO;
		if (r >= 0)
			n += r;
		if (r < want)
			break;
	}
	if (r >= 0 && hi > upto)
		r = mark_set(s, "indexed_upto", hi);
	if (r >= 0)
		r = sql_int(s, &chi,
		            "SELECT coalesce(max(seq), 0) FROM (SELECT seq"
		            " FROM story_change WHERE seq > ?1"
		            " ORDER BY seq LIMIT " STR(PG_INDEX_BATCH) ") t",
		            "I", cupto);
	if (r >= 0 && chi > cupto) {
		/* Those above indexed_upto: indexed when it comes to them. */
		st = sql_prep(s, "SELECT id, title, summary, content FROM story"
		                 " WHERE id <= ?3 AND id IN (SELECT story_id"
		                 "  FROM story_change"
		                 "  WHERE seq > ?1 AND seq <= ?2)");
		r = st ? index_rows(s, st, step3(st, cupto, chi, hi), &last)
		       : -EIO;
		if (r >= 0) {
			n += r;
			r = sql_exec(s,
			             "DELETE FROM story_change WHERE seq <= ?1",
			             "I", chi);
		}
		if (r >= 0)
			r = mark_set(s, "changes_upto", chi);
	}
	r = sql_end(s, r < 0 ? r : 0);
	if (r < 0)
		return r;
	return n > INT_MAX ? INT_MAX : (int)n;
}

/* store_index_some on PostgreSQL: up to max stories (0: all). */
int
pg_index_some(struct store *s, int64_t max)
{
	int64_t total = 0;

	for (;;) {
		int64_t want = max ? max - total : PG_INDEX_BATCH;
		int r;

		if (want > PG_INDEX_BATCH)
			want = PG_INDEX_BATCH;
		r = pg_index_batch(s, want, max == 0);
		if (r < 0)
			return sql_failf(s, r, "full-text index: %s", s->err);
		total += r;
		if (r < want || (max && total >= max))
			break;
	}
	return total > INT_MAX ? INT_MAX : (int)total;
}

/* store_index_lag on PostgreSQL. */
int
pg_index_lag(struct store *s, int64_t now, struct store_index_lag *ret)
{
	struct store_index_lag lag = {0};
	int64_t upto = 0, cupto = 0, oldest = 0, v = 0;
	int r;

	r = sql_begin_read(s);
	if (r >= 0)
		r = mark_get(s, "indexed_upto", &upto);
	if (r >= 0)
		r = mark_get(s, "changes_upto", &cupto);
	if (r >= 0)
		r = sql_int(s, &lag.stories,
		            "SELECT count(*) FROM story WHERE id > ?1", "I",
		            upto);
	if (r >= 0)
		r = sql_int(s, &lag.changes,
		            "SELECT count(*) FROM story_change WHERE seq > ?1",
		            "I", cupto);
	if (r >= 0)
		r = sql_int(s, &oldest,
		            "SELECT coalesce(min(first_seen), 0) FROM story"
		            " WHERE id > ?1",
		            "I", upto);
	if (r >= 0)
		r = sql_int(s, &v,
		            "SELECT coalesce(min(at), 0) FROM story_change"
		            " WHERE seq > ?1",
		            "I", cupto);
	sql_end_read(s);
	if (r < 0)
		return sql_failf(s, r, "full-text index: %s", s->err);
	if (v && (!oldest || v < oldest))
		oldest = v;
	lag.seconds = oldest && now > oldest ? now - oldest : 0;
	lag.indexed_upto = upto;
	*ret = lag;
	return 0;
}

/* store_reindex on PostgreSQL: every story's words made again. */
int
pg_reindex(struct store *s)
{
	int r = sql_begin(s);

	if (r < 0)
		return r;
	r = sql_lock_xact(s, LOCK_INDEX);
	if (r >= 0)
		r = mark_set(s, "indexed_upto", 0);
	if (r >= 0)
		r = sql_exec(s, "DELETE FROM story_change", "");
	if (r >= 0)
		r = mark_set(s, "changes_upto", 0);
	r = sql_end(s, r);
	if (r < 0)
		return r;
	return pg_index_some(s, 0);
}
