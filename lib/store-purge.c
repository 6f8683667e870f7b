/*
 * Retention: removing old stories, leaving tombstones so that they never
 * return as new, and counting what went (purge_count per feed, state's
 * purged_* for the store).
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

/* ---- retention ---- */

/* Why a story or a membership goes. */
enum reason {
	R_READ,
	R_UNREAD,
	R_LIMIT,
};

/* A feed and the rules it purges by. */
struct feed_rule {
	int64_t id;
	int64_t keep_unread;
	int64_t max_stories;
};

/* Add n to the store's total for why (inside a transaction). */
static int
count_store(struct store *s, enum reason why, int64_t n)
{
	static const char *const key[] = {"purged_read", "purged_unread",
	                                  "purged_limit"};

	if (n == 0)
		return 0;
	return sql_exec(
	        s,
	        "INSERT INTO state(key, value) VALUES (?1, ?2)"
	        " ON CONFLICT(key) DO UPDATE"
	        " SET value = coalesce(state.value, 0) + excluded.value",
	        "tI", key[why], n);
}

/* Add n to feed's unread or over-limit total (purge_read counts read). */
static int
count_feed(struct store *s, int64_t feed, enum reason why, int64_t n)
{
	if (n == 0)
		return 0;
	if (why == R_UNREAD)
		return sql_exec(
		        s,
		        "INSERT INTO purge_count(feed_id, unread)"
		        " VALUES (?1, ?2) ON CONFLICT(feed_id)"
		        " DO UPDATE SET unread = purge_count.unread + excluded.unread",
		        "II", feed, n);
	return sql_exec(
	        s,
	        "INSERT INTO purge_count(feed_id, over_limit)"
	        " VALUES (?1, ?2) ON CONFLICT(feed_id) DO UPDATE"
	        " SET over_limit = purge_count.over_limit + excluded.over_limit",
	        "II", feed, n);
}

/*
 * Read, unstarred stories dated before `before`, from every feed, in
 * batches, each its own short transaction: a big purge must not hold
 * the write lock longer than the CLI's busy timeout.
 */
static int
purge_read(struct store *s, int64_t before, int64_t now, int64_t *ret)
{
	int64_t total = 0;
	int r;

	do {
		r = sql_begin(s);
		if (r < 0)
			break;
		/* No merge of another daemon links a story we delete. */
		r = sql_lock_xact(s, LOCK_MERGE);
		if (r < 0) {
			sql_end(s, r);
			break;
		}
		r = sql_exec(
		        s,
		        SQL2(s,
		             "INSERT OR IGNORE INTO tombstone"
		             " (feed_id, ident, purged)"
		             " SELECT m.feed_id, m.ident, ?2 FROM membership m"
		             " WHERE m.story_id IN (SELECT id FROM story"
		             "  WHERE read = 1 AND starred = 0 AND published < ?1"
		             "  ORDER BY published, id LIMIT " STR(
		                     PURGE_BATCH) ")",
		             "INSERT INTO tombstone (feed_id, ident, purged)"
		             " SELECT m.feed_id, m.ident, ?2 FROM membership m"
		             " WHERE m.story_id IN (SELECT id FROM story"
		             "  WHERE read = 1 AND starred = 0 AND published < ?1"
		             "  ORDER BY published, id LIMIT " STR(
		                     PURGE_BATCH) ")"
		                                  " ON CONFLICT DO NOTHING"),
		        "II", before, now);
		if (r >= 0)
			r = sql_exec(
			        s,
			        "INSERT INTO purge_count(feed_id, read)"
			        " SELECT m.feed_id, count(*) FROM membership m"
			        " WHERE m.story_id IN (SELECT id FROM story"
			        "  WHERE read = 1 AND starred = 0"
			        "  AND published < ?1 ORDER BY published, id"
			        "  LIMIT " STR(
			                PURGE_BATCH) ")"
			                             " GROUP BY m.feed_id"
			                             " ON CONFLICT(feed_id) DO UPDATE"
			                             " SET read = purge_count.read + excluded.read",
			        "I", before);
		if (r >= 0)
			r = sql_exec(s,
			             "DELETE FROM story WHERE id IN"
			             " (SELECT id FROM story WHERE read = 1"
			             "  AND starred = 0 AND published < ?1"
			             "  ORDER BY published, id"
			             "  LIMIT " STR(PURGE_BATCH) ")",
			             "I", before);
		if (r >= 0) {
			int c = count_store(s, R_READ, r);

			if (c < 0)
				r = c;
		}
		r = sql_end(s, r);
		if (r > 0)
			total += r;
	} while (r == PURGE_BATCH);
	if (r < 0)
		return r;
	*ret += total;
	return 0;
}

/*
 * The next batch of feed's stories that go for why: unread and older
 * than cutoff (R_UNREAD), or beyond its newest `limit` (R_LIMIT); never
 * starred, oldest first. Their ids into v; how many.
 */
static int
victims(struct store *s, int64_t feed, enum reason why, int64_t arg, int64_t *v)
{
	struct sql_stmt *st;
	int rc = SQL_DONE, n = 0;

	if (why == R_UNREAD)
		st = sql_prep(s, "SELECT m.story_id FROM membership m"
		                 " JOIN story s ON s.id = m.story_id"
		                 " WHERE m.feed_id = ?1 AND s.read = 0"
		                 " AND s.starred = 0 AND s.published < ?2"
		                 " ORDER BY s.published, s.id"
		                 " LIMIT " STR(PURGE_BATCH));
	else
		/* The newest beyond the limit, and every older one. */
		st = sql_prep(s, "SELECT m.story_id FROM membership m"
		                 " JOIN story s ON s.id = m.story_id"
		                 " WHERE m.feed_id = ?1 AND s.starred = 0"
		                 " AND (s.published, s.id) <="
		                 "  (SELECT s2.published, s2.id"
		                 "   FROM membership m2"
		                 "   JOIN story s2 ON s2.id = m2.story_id"
		                 "   WHERE m2.feed_id = ?1"
		                 "   ORDER BY s2.published DESC, s2.id DESC"
		                 "   LIMIT 1 OFFSET ?2)"
		                 " ORDER BY s.published, s.id"
		                 " LIMIT " STR(PURGE_BATCH));
	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, feed);
	sql_bind_int64(st, 2, arg);
	while (n < PURGE_BATCH && (rc = sql_step(st)) == SQL_ROW)
		v[n++] = sql_col_int64(st, 0);
	if (n < PURGE_BATCH && rc != SQL_DONE)
		n = sql_fail(s, rc);
	sql_done(st);
	return n;
}

/*
 * Take feed's stories out of it for why, a batch per transaction: a
 * tombstone of the feed's identity, the membership gone, and the story
 * too when no other feed has it. Counts the stories into *ret.
 */
static int
purge_feed(struct store *s, int64_t feed, enum reason why, int64_t arg,
           int64_t now, int64_t *ret)
{
	int64_t v[PURGE_BATCH];
	int n, r;

	do {
		int64_t gone = 0;

		r = sql_begin(s);
		if (r < 0)
			return r;
		r = sql_lock_xact(s, LOCK_MERGE);
		if (r < 0)
			return sql_end(s, r);
		n = r = victims(s, feed, why, arg, v);
		for (int i = 0; r >= 0 && i < n; i++) {
			r = sql_exec(
			        s,
			        SQL2(s,
			             "INSERT OR IGNORE INTO tombstone"
			             " (feed_id, ident, purged)"
			             " SELECT feed_id, ident, ?3 FROM membership"
			             " WHERE feed_id = ?1 AND story_id = ?2",
			             "INSERT INTO tombstone (feed_id, ident, purged)"
			             " SELECT feed_id, ident, ?3 FROM membership"
			             " WHERE feed_id = ?1 AND story_id = ?2"
			             " ON CONFLICT DO NOTHING"),
			        "III", feed, v[i], now);
			if (r >= 0)
				r = sql_exec(s,
				             "DELETE FROM membership"
				             " WHERE feed_id = ?1"
				             " AND story_id = ?2",
				             "II", feed, v[i]);
			if (r >= 0)
				r = sql_exec(s,
				             "DELETE FROM story WHERE id = ?1"
				             " AND starred = 0 AND NOT EXISTS"
				             " (SELECT 1 FROM membership"
				             "  WHERE story_id = ?1)",
				             "I", v[i]);
			if (r > 0)
				gone += r;
		}
		if (r >= 0)
			r = count_feed(s, feed, why, n);
		if (r >= 0)
			r = count_store(s, why, gone);
		r = sql_end(s, r);
		if (r < 0)
			return r;
		*ret += gone;
	} while (n == PURGE_BATCH);
	return 0;
}

/* Order feed rules by id. */
static int
cmp_rule(const void *a, const void *b)
{
	const struct feed_rule *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * The feeds the per-feed rules apply to, with their rules: every feed
 * whose keep-unread or max-stories is set. Into *ret (caller frees).
 */
static int
feed_rules(struct store *s, const struct store_purge_rules *rules,
           struct feed_rule **ret, size_t *ret_n)
{
	struct feed_rule *over = NULL, *v = NULL;
	size_t n_over = 0, n = 0, cap = 0;
	struct sql_stmt *st;
	int rc, r = 0;

	over = calloc(rules->n_feeds ? rules->n_feeds : 1, sizeof(*over));
	if (!over)
		return -ENOMEM;
	for (size_t i = 0; i < rules->n_feeds; i++) {
		const struct store_purge_feed *f = &rules->feeds[i];
		int64_t id = f->id;

		if (id == 0 && f->title) {
			r = sql_int(s, &id,
			            "SELECT id FROM feed WHERE from_config = 1"
			            " AND title = ?1 ORDER BY id LIMIT 1",
			            "t", f->title);
			if (r < 0)
				goto out;
			if (r == 0)
				continue; /* not synced into the store yet */
		}
		over[n_over].id = id;
		over[n_over].keep_unread = f->keep_unread;
		over[n_over].max_stories = f->max_stories;
		n_over++;
	}
	qsort(over, n_over, sizeof(*over), cmp_rule);

	st = sql_prep(s, "SELECT id FROM feed ORDER BY id");
	if (!st) {
		r = -EIO;
		goto out;
	}
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct feed_rule key = {.id = sql_col_int64(st, 0)};
		struct feed_rule *o =
		        bsearch(&key, over, n_over, sizeof(*over), cmp_rule);

		key.keep_unread = rules->keep_unread;
		key.max_stories = rules->max_stories;
		if (o && o->keep_unread != STORE_PURGE_DEFAULT)
			key.keep_unread = o->keep_unread;
		if (o && o->max_stories != STORE_PURGE_DEFAULT)
			key.max_stories = o->max_stories;
		if (key.keep_unread <= 0 && key.max_stories <= 0)
			continue;
		if (n == cap) {
			struct feed_rule *nv;

			cap = cap ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = key;
	}
	if (rc == SQLITE_NOMEM)
		r = -ENOMEM;
	else if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	sql_done(st);
out:
	free(over);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Purge by the rules; what went is counted, here and in the totals. */
int
store_purge_run(struct store *s, const struct store_purge_rules *rules,
                struct store_purge_counts *ret)
{
	struct store_purge_counts c = {0};
	struct feed_rule *v = NULL;
	size_t n = 0;
	int r = 0;

	if (!rules)
		return -EINVAL;
	if (rules->read_before > 0)
		r = purge_read(s, rules->read_before, rules->now, &c.read);
	if (r >= 0)
		r = feed_rules(s, rules, &v, &n);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (v[i].keep_unread > 0)
			r = purge_feed(s, v[i].id, R_UNREAD,
			               rules->now - v[i].keep_unread,
			               rules->now, &c.unread);
		if (r >= 0 && v[i].max_stories > 0)
			r = purge_feed(s, v[i].id, R_LIMIT, v[i].max_stories,
			               rules->now, &c.over_limit);
	}
	free(v);
	if (r < 0)
		return r;
	if (ret)
		*ret = c;
	return 0;
}

/* Remove read, unstarred stories published before `before`; tombstones. */
int
store_purge(struct store *s, int64_t before)
{
	struct store_purge_rules rules = {
	        .now = (int64_t)time(NULL),
	        .read_before = before,
	};
	struct store_purge_counts c;
	int r = store_purge_run(s, &rules, &c);

	if (r < 0)
		return r;
	return c.read > INT_MAX ? INT_MAX : (int)c.read;
}

/* The totals purged: the store's (feed 0) or a feed's. */
int
store_purge_totals(struct store *s, int64_t feed,
                   struct store_purge_counts *ret)
{
	struct store_purge_counts c = {0};
	struct sql_stmt *st;
	int rc, r = 0;

	if (feed == 0)
		st = sql_prep(s, "SELECT"
		                 " (SELECT value FROM state"
		                 "  WHERE key = 'purged_read'),"
		                 " (SELECT value FROM state"
		                 "  WHERE key = 'purged_unread'),"
		                 " (SELECT value FROM state"
		                 "  WHERE key = 'purged_limit')");
	else
		st = sql_prep(s, "SELECT read, unread, over_limit"
		                 " FROM purge_count WHERE feed_id = ?1");
	if (!st)
		return -EIO;
	if (feed != 0)
		sql_bind_int64(st, 1, feed);
	rc = sql_step(st);
	if (rc == SQL_ROW) {
		c.read = sql_col_int64(st, 0);
		c.unread = sql_col_int64(st, 1);
		c.over_limit = sql_col_int64(st, 2);
	} else if (rc != SQL_DONE) {
		r = sql_fail(s, rc);
	}
	sql_done(st);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}
