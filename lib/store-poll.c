/*
 * What polls leave in the store about a feed's URLs: each attempt's
 * outcome, redirects that moved a URL, the schedule, and the health of
 * mirrors (the diverged guard, suggested mirrors and accepting them).
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store-internal.h"

/* ---- polling state ---- */

/* Record the outcome of one attempt at one URL. */
int
store_url_record(struct store *s, const struct store_attempt *a)
{
	int r;

	if (!a)
		return -EINVAL;
	/*
	 * A NULL test names its parameter's type, which PostgreSQL cannot
	 * tell from it. redirect = ?7, not IS: ?7 is not NULL past the
	 * first WHEN, and a NULL redirect then counts 1 either way.
	 */
	r = sql_write(
	        s,
	        "UPDATE feed_url SET last_status = ?2, last_error = ?3,"
	        " last_tried = ?4,"
	        " last_ok = CASE WHEN CAST(?3 AS TEXT) IS NULL THEN ?4"
	        "  ELSE last_ok END,"
	        " etag = CASE WHEN CAST(?3 AS TEXT) IS NULL"
	        "  AND CAST(?5 AS TEXT) IS NOT NULL THEN ?5 ELSE etag END,"
	        " last_modified = CASE WHEN CAST(?3 AS TEXT) IS NULL"
	        "  AND CAST(?6 AS TEXT) IS NOT NULL"
	        "  THEN ?6 ELSE last_modified END,"
	        " redirect_count = CASE WHEN CAST(?7 AS TEXT) IS NULL THEN 0"
	        "  WHEN redirect = ?7 THEN redirect_count + 1 ELSE 1 END,"
	        " redirect = ?7, fail_kind = ?8, last_ip = ?9, via = ?10,"
	        " good_addrs = coalesce(?11, good_addrs)"
	        " WHERE id = ?1",
	        "IitIttttttt", a->url_id, a->status, a->error, a->when, a->etag,
	        a->last_modified, a->redirect, a->error ? a->kind : NULL, a->ip,
	        a->via, a->good_addrs);
	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* Replace a URL after a permanent redirect, keeping the old as moved_from. */
int
store_url_update(struct store *s, int64_t url_id, const char *new_url)
{
	int r;

	if (!new_url || !*new_url)
		return -EINVAL;
	r = sql_write(s,
	              "UPDATE feed_url SET moved_from = url, url = ?2,"
	              " redirect = NULL, redirect_count = 0 WHERE id = ?1",
	              "It", url_id, new_url);
	if (r == -EEXIST)
		r = sql_failf(s, -EEXIST, "'%s' is already a feed's URL",
		              new_url);
	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* Save the daemon's scheduling state of a feed. */
int
store_feed_save_schedule(struct store *s, const struct store_feed *f)
{
	int r;

	if (!f)
		return -EINVAL;
	r = sql_write(s,
	              "UPDATE feed SET next_poll = ?2, error_count = ?3,"
	              " failing_since = ?4, retry_after = ?5, hint = ?6,"
	              " preferred = ?7, last_served = ?8, primary_probe = ?9"
	              " WHERE id = ?1",
	              "IIiIIIiiI", f->id, f->next_poll, f->error_count,
	              f->failing_since, f->retry_after, f->hint, f->preferred,
	              f->last_served, f->primary_probe);
	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* Flag a URL diverged (or not); an accepted URL stays accepted. */
int
store_url_set_diverged(struct store *s, int64_t url_id, bool diverged)
{
	int r = sql_write(s,
	                  "UPDATE feed_url SET diverged = ?2"
	                  " WHERE id = ?1 AND diverged >= 0",
	                  "Ii", url_id,
	                  diverged ? STORE_DIVERGED_YES : STORE_DIVERGED_NO);

	if (r == 0)
		r = sql_int(s, &(int64_t){0},
		            "SELECT 1 FROM feed_url WHERE id = ?1", "I",
		            url_id);
	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* Free keys from store_feed_recent_keys. */
void
store_keys_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* The guid and link keys of the feed's newest stories. */
int
store_feed_recent_keys(struct store *s, int64_t feed, size_t limit, char ***ret,
                       size_t *ret_n)
{
	struct sql_stmt *st = sql_prep(
	        s, "SELECT guid_key, link_key FROM membership"
	           " WHERE feed_id = ?1 ORDER BY story_id DESC LIMIT ?2");
	char **v;
	size_t n = 0;
	bool oom = false;
	int rc, r = 0;

	if (!st)
		return -EIO;
	if (limit > 100000)
		limit = 100000;
	v = calloc(2 * limit + 1, sizeof(*v));
	if (!v) {
		sql_done(st);
		return -ENOMEM;
	}
	sql_bind_int64(st, 1, feed);
	sql_bind_int64(st, 2, (int64_t)limit);
	while ((rc = sql_step(st)) == SQL_ROW) {
		for (int c = 0; c < 2; c++)
			if (!sql_col_null(st, c))
				v[n++] = sql_col_dup(st, c, &oom);
	}
	if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	else if (oom)
		r = -ENOMEM;
	sql_done(st);
	if (r < 0) {
		store_keys_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- suggested mirrors ---- */

/* Inside a transaction: record a suggestion; 1 new, 0 not recorded. */
static int
suggestion_add(struct store *s, int64_t feed, const char *url,
               const char *source, int64_t now)
{
	int64_t n = 0, owner = 0;
	int r;

	r = sql_int(s, &owner, "SELECT id FROM feed WHERE id = ?1", "I", feed);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = sql_int(s, &owner,
	            "SELECT feed_id FROM feed_url WHERE url = ?1"
	            " AND feed_id = ?2",
	            "tI", url, feed);
	if (r != 0)
		return r < 0 ? r : 0; /* one of its URLs already */
	r = sql_exec(s,
	             "UPDATE mirror_suggestion SET last_seen = ?3"
	             " WHERE feed_id = ?1 AND url = ?2",
	             "ItI", feed, url, now);
	if (r != 0)
		return r < 0 ? r : 0; /* known */
	r = sql_int(s, &n,
	            "SELECT count(*) FROM mirror_suggestion WHERE feed_id = ?1",
	            "I", feed);
	if (r < 0 || n >= STORE_MAX_SUGGESTIONS)
		return r < 0 ? r : 0;
	r = sql_exec(s,
	             "INSERT INTO mirror_suggestion"
	             " (feed_id, url, source, first_seen, last_seen)"
	             " VALUES (?1, ?2, ?3, ?4, ?4)",
	             "IttI", feed, url, source, now);
	return r < 0 ? r : 1;
}

/* Record a suggested mirror; 1 when it is new. */
int
store_suggestion_add(struct store *s, int64_t feed, const char *url,
                     const char *source, int64_t now)
{
	int r;

	if (!url || !*url || !source)
		return -EINVAL;
	r = sql_begin(s);
	if (r < 0)
		return r;
	return sql_end(s, suggestion_add(s, feed, url, source, now));
}

/* Free suggestions. */
void
store_suggestions_free(struct store_suggestion *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].url);
		free(v[i].source);
	}
	free(v);
}

/* The suggestions for a feed, oldest first. */
int
store_suggestions(struct store *s, int64_t feed, struct store_suggestion **ret,
                  size_t *ret_n)
{
	struct sql_stmt *st =
	        sql_prep(s, "SELECT url, source, first_seen, last_seen"
	                    " FROM mirror_suggestion WHERE feed_id = ?1"
	                    " ORDER BY first_seen, url");
	struct store_suggestion *v = NULL;
	size_t n = 0;
	bool oom = false;
	int rc, r = 0;

	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, feed);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct store_suggestion *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			oom = true;
			break;
		}
		v = nv;
		v[n].url = sql_col_dup(st, 0, &oom);
		v[n].source = sql_col_dup(st, 1, &oom);
		v[n].first_seen = sql_col_int64(st, 2);
		v[n].last_seen = sql_col_int64(st, 3);
		n++;
	}
	if (oom)
		r = -ENOMEM;
	else if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	sql_done(st);
	if (r < 0) {
		store_suggestions_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Inside a transaction: accept url for feed (see store_mirror_accept). */
static int
mirror_accept(struct store *s, int64_t feed, const char *url, const char *proxy)
{
	int r;

	r = sql_exec(s,
	             "DELETE FROM mirror_suggestion"
	             " WHERE feed_id = ?1 AND url = ?2",
	             "It", feed, url);
	if (r > 0)
		return store_mirror_add(s, feed, url, proxy);
	if (r < 0)
		return r;
	r = sql_exec(s,
	             "UPDATE feed_url SET diverged = ?3"
	             " WHERE feed_id = ?1 AND url = ?2",
	             "Iti", feed, url, STORE_DIVERGED_ACCEPTED);
	if (r == 0)
		return sql_failf(s, -ENOENT,
		                 "'%s' is neither a suggested nor a mirror URL "
		                 "of feed %lld",
		                 url, (long long)feed);
	return r < 0 ? r : 0;
}

/* The user accepts a suggested or diverged mirror. */
int
store_mirror_accept(struct store *s, int64_t feed, const char *url,
                    const char *proxy)
{
	int r;

	if (!url || !*url)
		return sql_failf(s, -EINVAL, "empty URL");
	r = sql_begin(s);
	if (r < 0)
		return r;
	return sql_end(s, mirror_accept(s, feed, url, proxy));
}
