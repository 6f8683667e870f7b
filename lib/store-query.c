/*
 * Reading stories: listings with filters, search, one story, the "new"
 * cursor, and marks (read, starred).
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gazette/url.h"
#include "store-internal.h"

/* ---- stories ---- */

struct feed_title {
	int64_t id;
	char *title;
};

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
	struct sql_stmt *st;
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
	st = sql_prep(
	        s, "SELECT coalesce(f.title, f.parsed_title,"
	           " (SELECT url FROM feed_url u WHERE u.feed_id = f.id"
	           "  ORDER BY position LIMIT 1)) FROM feed f WHERE f.id = ?1");
	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, id);
	rc = sql_step(st);
	if (rc == SQL_ROW)
		title = sql_col_dup(st, 0, &oom);
	else if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	sql_done(st);
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
	struct sql_stmt *st =
	        sql_prep(s, "SELECT feed_id FROM membership"
	                    " WHERE story_id = ?1 ORDER BY feed_id");
	int rc, r = 0;

	if (!st)
		return -EIO;
	sf->n = 0;
	sql_bind_int64(st, 1, id);
	while ((rc = sql_step(st)) == SQL_ROW) {
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
		sf->ids[sf->n] = sql_col_int64(st, 0);
		sf->n++;
	}
	if (r == 0 && rc != SQL_DONE)
		r = sql_fail(s, rc);
	sql_done(st);
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
	" CASE WHEN ?1 <> 0 THEN s.summary END,"                               \
	" CASE WHEN ?1 <> 0 THEN s.content END,"                               \
	" s.published, s.updated, s.first_seen, s.read, s.starred, s.changed"

/* The filters every listing shares, parameters ?3 to ?9. */
#define STORY_FILTERS                                                          \
	" AND (?3 = 0 OR s.read = 0) AND (?4 = 0 OR s.starred = 1)"            \
	" AND (?5 = 0 OR EXISTS (SELECT 1 FROM membership m5"                  \
	"  WHERE m5.story_id = s.id AND m5.feed_id = ?5))"                     \
	" AND (?6 = 0 OR s.published >= ?6) AND (?7 = 0 OR s.id > ?7)"         \
	" AND (?10 = 0 OR (s.id > ?11 AND NOT EXISTS (SELECT 1 FROM"           \
	"  new_seen ns WHERE ns.id = s.id)))"

/* ts_rank's weights of D, C (content), B (summary) and A (title). */
#define PG_WEIGHTS "'{0.1, 0.1, 0.3, 1.0}'"

#define STORY_ORDER " ORDER BY s.published DESC, s.id DESC LIMIT ?8 OFFSET ?9"

/* Run a listing statement and call fn per row. The count or -errno. */
static int
run_stories(struct store *s, struct store *on, struct sql_stmt *st, bool ranked,
            store_story_fn fn, void *arg)
{
	struct titles t = {0};
	struct story_feeds sf = {0};
	int rc = SQL_DONE, r = 0, count = 0;

	while (r >= 0 && (rc = sql_step(st)) == SQL_ROW) {
		struct store_story story = {0};

		story.id = sql_col_int64(st, 0);
		story.guid = sql_col_text(st, 1);
		story.title = sql_col_text(st, 2);
		story.link = sql_col_text(st, 3);
		story.author = sql_col_text(st, 4);
		story.summary = sql_col_text(st, 5);
		story.content = sql_col_text(st, 6);
		story.published = sql_col_int64(st, 7);
		story.updated =
		        sql_col_null(st, 8) ? GZ_NO_DATE : sql_col_int64(st, 8);
		story.first_seen = sql_col_int64(st, 9);
		story.read = sql_col_int(st, 10) != 0;
		story.starred = sql_col_int(st, 11) != 0;
		story.changed = sql_col_int(st, 12) != 0;
		if (ranked)
			story.rank = -sql_col_double(st, 13);
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
	if (r >= 0 && rc != SQL_DONE && rc != SQL_ROW) {
		r = sql_fail(on, rc);
		if (on != s)
			memcpy(s->err, on->err, sizeof(s->err));
	}
	sql_done(st);
	titles_free(&t);
	free(sf.ids);
	free(sf.titles);
	return r < 0 ? r : count;
}

/* How a search's words are written for one backend's query language. */
struct query_syntax {
	char quote;      /* around each word */
	const char *esc; /* the characters escaped inside a word, */
	char esc_with;   /* by this one before them, or (0) doubled */
	const char *sep; /* between words: every word is required */
	const char *any; /* after a word that ends in '*': a prefix */
};

/* FTS5: "word" "pre"*; a quote inside is doubled. */
static const struct query_syntax fts5_syntax = {'"', "\"", 0, " ", "*"};

/*
 * A tsquery for to_tsquery: 'word' & 'pre':*; a quote or a backslash
 * inside is escaped with a backslash, so that no word is syntax.
 */
static const struct query_syntax tsquery_syntax = {'\'', "'\\", '\\', " & ",
                                                   ":*"};

/*
 * Turn the user's words into a full-text query: each word quoted (so
 * punctuation cannot be query syntax), a trailing * kept as a prefix
 * search, all words required. NULL when there are no words.
 */
static char *
search_query(const char *q, const struct query_syntax *sx)
{
	size_t n = strlen(q), sep = strlen(sx->sep), any = strlen(sx->any);
	/* per word of w bytes: 2w escaped, 2 quotes, any, sep; w >= 1 */
	char *out = malloc(2 * n + (n / 2 + 1) * (2 + any + sep) + 1), *o = out;
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
		if (o != out) {
			memcpy(o, sx->sep, sep);
			o += sep;
		}
		*o++ = sx->quote;
		for (size_t i = 0; i < len; i++) {
			if (i == len - 1 && w[i] == '*' && len > 1)
				break;
			if (strchr(sx->esc, w[i]))
				*o++ = sx->esc_with ? sx->esc_with : w[i];
			*o++ = w[i];
		}
		*o++ = sx->quote;
		if (len > 1 && w[len - 1] == '*') {
			memcpy(o, sx->any, any);
			o += any;
		}
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
	struct store *on = s; /* the connection of the statement */
	struct sql_stmt *st;
	char *match = NULL;
	bool ranked = false, filtered;
	int64_t cursor = 0;
	int r;

	if (!q)
		q = &none;
	if (q->limit < 0 || q->offset < 0)
		return -EINVAL;
	if (q->flags & STORE_Q_NEW) {
		r = store_cursor_get(s, &cursor);
		if (r < 0)
			return r;
	}
	filtered =
	        (q->flags & (STORE_Q_UNREAD | STORE_Q_STARRED | STORE_Q_NEW)) ||
	        q->feed_id || q->since || q->min_id;
	/*
	 * What merges committed is indexed first (read-only: what is
	 * indexed), so that a search never misses a story; a writer busy
	 * for long: search what is indexed.
	 */
	if (q->search && s->tx_depth == 0 && !(s->flags & STORE_READONLY)) {
		r = store_index(s);
		if (r < 0 && r != -EBUSY)
			return r;
	}
	if (q->search && s->backend == BACKEND_PG) {
		/*
		 * story_words is the index (lib/store-index-pg.c). Ranked
		 * as on SQLite among the newest SEARCH_CANDIDATES matches,
		 * by ts_rank with title, summary and content (weights A, B,
		 * C) counting 10, 3 and 1 as in bm25 below, divided by
		 * 1 + log(length) as bm25 favours short text; the rank is
		 * looked up only for the candidates.
		 */
		match = search_query(q->search, &tsquery_syntax);
		if (!match)
			return sql_failf(s, -EINVAL, "empty search");
		ranked = true;
		if (!filtered)
			st = sql_prep(
			        s, STORY_COLUMNS
			        ", c.score FROM"
			        " (SELECT m.id, -ts_rank(" PG_WEIGHTS ", m.tsv,"
			        "   to_tsquery('simple', ?2), 1) AS score FROM"
			        "  (SELECT w.story_id AS id, w.tsv FROM story_words w"
			        "   WHERE w.tsv @@ to_tsquery('simple', ?2)"
			        "   ORDER BY w.story_id DESC"
			        "   LIMIT " SEARCH_CANDIDATES ") m"
			        "  ORDER BY score, m.id DESC"
			        "  LIMIT ?8 OFFSET ?9) c"
			        " JOIN story s ON s.id = c.id"
			        " ORDER BY c.score, c.id DESC");
		else
			st = sql_prep(
			        s, STORY_COLUMNS
			        ", c.score FROM"
			        " (SELECT m.id, -ts_rank(" PG_WEIGHTS ", m.tsv,"
			        "   to_tsquery('simple', ?2), 1) AS score,"
			        "   m.published FROM"
			        "  (SELECT s.id, s.published, w.tsv FROM story s"
			        "   JOIN story_words w ON w.story_id = s.id"
			        "   WHERE w.tsv @@ to_tsquery('simple', ?2)" STORY_FILTERS
			        "   ORDER BY s.id DESC"
			        "   LIMIT " SEARCH_CANDIDATES ") m"
			        "  ORDER BY score, m.published DESC, m.id DESC"
			        "  LIMIT ?8 OFFSET ?9) c"
			        " JOIN story s ON s.id = c.id"
			        " ORDER BY c.score, c.published DESC, c.id DESC");
	} else if (q->search) {
		match = search_query(q->search, &fts5_syntax);
		if (!match)
			return sql_failf(s, -EINVAL, "empty search");
		r = index_get(s, &on);
		if (r < 0) {
			free(match);
			return r;
		}
		ranked = true;
		/*
		 * Ranked among the newest SEARCH_CANDIDATES matches that
		 * pass the filters: bm25 costs per match, so a common word
		 * in a million stories would otherwise rank them all.
		 */
		if (!filtered)
			/* No filters: the stories joined only for the page. */
			st = sql_prep(
			        on, STORY_COLUMNS
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
			st = sql_prep(
			        on, STORY_COLUMNS
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
	} else if (q->flags & STORE_Q_NEW) {
		/*
		 * The ids above the cursor, literally, so that the listing
		 * walks only them, however many stories are older (before
		 * the feed's memberships: a feed of a million is slow).
		 */
		st = sql_prep(s, STORY_COLUMNS
		              " FROM story s WHERE s.id > ?11"
		              " AND CAST(?2 AS TEXT) IS NULL" STORY_FILTERS
		                      STORY_ORDER);
	} else if (q->feed_id) {
		/* Driven by the feed's memberships: a small feed is quick. */
		st = sql_prep(s, STORY_COLUMNS
		              " FROM membership mf JOIN story s"
		              " ON s.id = mf.story_id WHERE mf.feed_id = ?5"
		              " AND CAST(?2 AS TEXT) IS NULL" STORY_FILTERS
		                      STORY_ORDER);
	} else if (q->flags & STORE_Q_UNREAD) {
		/* Literally read = 0, so that the partial index serves. */
		st = sql_prep(s, STORY_COLUMNS
		              " FROM story s WHERE s.read = 0"
		              " AND CAST(?2 AS TEXT) IS NULL" STORY_FILTERS
		                      STORY_ORDER);
	} else {
		st = sql_prep(
		        s, STORY_COLUMNS
		        " FROM story s WHERE CAST(?2 AS TEXT) IS NULL" STORY_FILTERS
		                STORY_ORDER);
	}
	if (!st) {
		if (on != s)
			memcpy(s->err, on->err, sizeof(s->err));
		free(match);
		return -EIO;
	}
	sql_bind_int(st, 1, (q->flags & STORE_Q_CONTENT) != 0);
	if (match)
		sql_bind_text(st, 2, match);
	sql_bind_int(st, 3, (q->flags & STORE_Q_UNREAD) != 0);
	sql_bind_int(st, 4, (q->flags & STORE_Q_STARRED) != 0);
	sql_bind_int64(st, 5, q->feed_id);
	sql_bind_int64(st, 6, q->since);
	sql_bind_int64(st, 7, q->min_id);
	sql_bind_int64(st, 8, q->limit ? q->limit : INT64_MAX);
	sql_bind_int64(st, 9, q->offset);
	sql_bind_int(st, 10, (q->flags & STORE_Q_NEW) != 0);
	sql_bind_int64(st, 11, cursor);
	r = run_stories(s, on, st, ranked, fn, arg);
	if (r == -EIO && match &&
	    (strstr(s->err, "fts5") || strstr(s->err, "tsquery")))
		r = -EINVAL;
	free(match);
	return r;
}

/* One story with its content. -ENOENT when there is none. */
int
store_story_get(struct store *s, int64_t id, store_story_fn fn, void *arg)
{
	struct sql_stmt *st = sql_prep(s, STORY_COLUMNS " FROM story s"
	                                                " WHERE s.id = ?2");
	int r;

	if (!st)
		return -EIO;
	sql_bind_int(st, 1, 1);
	sql_bind_int64(st, 2, id);
	r = run_stories(s, s, st, false, fn, arg);
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
	int r = sql_write(
	        s,
	        "INSERT INTO state (key, value) VALUES ('cursor', ?1)"
	        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	        "I", id);

	return r < 0 ? r : 0;
}

/* Record ids as printed by `list --new`, and move the cursor past them. */
int
store_new_seen(struct store *s, const int64_t *ids, size_t n)
{
	int64_t cursor = 0, first = 0, top = 0;
	int r;

	r = sql_begin(s);
	if (r < 0)
		return r;
	r = store_cursor_get(s, &cursor);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (ids[i] > cursor)
			r = sql_exec(
			        s,
			        SQL2(s,
			             "INSERT OR IGNORE INTO new_seen (id)"
			             " VALUES (?1)",
			             "INSERT INTO new_seen (id) VALUES (?1)"
			             " ON CONFLICT DO NOTHING"),
			        "I", ids[i]);
	/*
	 * The oldest story above the cursor still unprinted: the walk
	 * along the ids passes only the printed ones below it.
	 */
	if (r >= 0)
		r = sql_int(
		        s, &first,
		        "SELECT id FROM story WHERE id > ?1 AND NOT EXISTS"
		        " (SELECT 1 FROM new_seen ns WHERE ns.id = story.id)"
		        " ORDER BY id LIMIT 1",
		        "I", cursor);
	if (r == 0) /* none: every story there is was printed */
		r = sql_int(
		        s, &top,
		        SQL2(s,
		             "SELECT max((SELECT coalesce(max(id), 0)"
		             " FROM story),"
		             " (SELECT coalesce(max(id), 0) FROM new_seen))",
		             "SELECT greatest((SELECT coalesce(max(id), 0)"
		             " FROM story),"
		             " (SELECT coalesce(max(id), 0) FROM new_seen))"),
		        "");
	else if (r > 0)
		top = first - 1;
	if (r >= 0 && top > cursor) {
		r = store_cursor_set(s, top);
		if (r >= 0)
			r = sql_exec(s, "DELETE FROM new_seen WHERE id <= ?1",
			             "I", top);
	}
	return sql_end(s, r < 0 ? r : 0);
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
		r = sql_write(s, "UPDATE story SET read = ?2 WHERE id = ?1",
		              "Ii", id, m == STORE_MARK_READ);
		break;
	case STORE_MARK_STAR:
	case STORE_MARK_UNSTAR:
		r = sql_write(s, "UPDATE story SET starred = ?2 WHERE id = ?1",
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
	r = sql_begin(s);
	if (r < 0)
		return r;
	if (feed_id) {
		r = sql_int(s, &x, "SELECT id FROM feed WHERE id = ?1", "I",
		            feed_id);
		if (r == 0)
			r = -ENOENT;
	}
	if (r < 0)
		return sql_end(s, r);
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
	return sql_end(s, r);
}
