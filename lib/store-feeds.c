/*
 * Subscriptions: feeds, their URLs (the primary, then the mirrors), the
 * configuration file's feeds, and the polling state the daemon keeps.
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
	free(u->doh);
	free(u->fail_kind);
	free(u->good_addrs);
	free(u->last_ip);
	free(u->via);
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
	free(f->resolve);
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
	struct sql_stmt *st = sql_prep(
	        s, "SELECT id, url, proxy, etag, last_modified, last_status,"
	           " last_error, last_ok, last_tried, redirect,"
	           " redirect_count, moved_from, doh, fail_kind, good_addrs,"
	           " last_ip, via, diverged"
	           " FROM feed_url WHERE feed_id = ?1 ORDER BY position, id");
	bool oom = false;
	int rc, r = 0;

	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, f->id);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct store_url *u, *nu;

		nu = realloc(f->urls, (f->n_urls + 1) * sizeof(*nu));
		if (!nu) {
			r = -ENOMEM;
			goto out;
		}
		f->urls = nu;
		u = &f->urls[f->n_urls++];
		memset(u, 0, sizeof(*u));
		u->id = sql_col_int64(st, 0);
		u->url = sql_col_dup(st, 1, &oom);
		u->proxy = sql_col_dup(st, 2, &oom);
		u->etag = sql_col_dup(st, 3, &oom);
		u->last_modified = sql_col_dup(st, 4, &oom);
		u->last_status = sql_col_int(st, 5);
		u->last_error = sql_col_dup(st, 6, &oom);
		u->last_ok = sql_col_int64(st, 7);
		u->last_tried = sql_col_int64(st, 8);
		u->redirect = sql_col_dup(st, 9, &oom);
		u->redirect_count = sql_col_int(st, 10);
		u->moved_from = sql_col_dup(st, 11, &oom);
		u->doh = sql_col_dup(st, 12, &oom);
		u->fail_kind = sql_col_dup(st, 13, &oom);
		u->good_addrs = sql_col_dup(st, 14, &oom);
		u->last_ip = sql_col_dup(st, 15, &oom);
		u->via = sql_col_dup(st, 16, &oom);
		u->diverged = sql_col_int(st, 17);
	}
	if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	else if (oom)
		r = -ENOMEM;
out:
	sql_done(st);
	return r;
}

#define FEED_FIELDS                                                            \
	"SELECT id, coalesce(title, parsed_title), category, interval,"        \
	" from_config, disabled, disabled_reason, next_poll, error_count,"     \
	" failing_since, retry_after, hint, preferred, last_served,"           \
	" primary_probe, resolve, title IS NOT NULL, parsed_title IS NOT NULL,"

/* One feed's columns with its counts. */
#define FEED_COLUMNS                                                           \
	FEED_FIELDS                                                            \
	" (SELECT count(*) FROM membership m JOIN story s"                     \
	"   ON s.id = m.story_id WHERE m.feed_id = feed.id AND s.read = 0),"   \
	" (SELECT count(*) FROM membership m WHERE m.feed_id = feed.id)"       \
	" FROM feed"

/* A feed from a row of FEED_COLUMNS, with its URLs. */
static int
read_feed(struct store *s, struct sql_stmt *st, struct store_feed **ret)
{
	struct store_feed *f = calloc(1, sizeof(*f));
	bool oom = false;

	if (!f)
		return -ENOMEM;
	f->id = sql_col_int64(st, 0);
	f->title = sql_col_dup(st, 1, &oom);
	f->category = sql_col_dup(st, 2, &oom);
	f->interval = sql_col_int64(st, 3);
	f->from_config = sql_col_int(st, 4) != 0;
	f->disabled = sql_col_int(st, 5) != 0;
	f->disabled_reason = sql_col_dup(st, 6, &oom);
	f->next_poll = sql_col_int64(st, 7);
	f->error_count = sql_col_int(st, 8);
	f->failing_since = sql_col_int64(st, 9);
	f->retry_after = sql_col_int64(st, 10);
	f->hint = sql_col_int64(st, 11);
	f->preferred = sql_col_int(st, 12);
	f->last_served = sql_col_int(st, 13);
	f->primary_probe = sql_col_int64(st, 14);
	f->resolve = sql_col_dup(st, 15, &oom);
	f->user_title = sql_col_int(st, 16) != 0;
	f->feed_title = !f->user_title && sql_col_int(st, 17) != 0;
	f->unread = sql_col_int64(st, 18);
	f->total = sql_col_int64(st, 19);
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
	struct sql_stmt *st = sql_prep(s, sql);
	int rc, r = 0;

	if (!st)
		return -EIO;
	while ((rc = sql_step(st)) == SQL_ROW) {
		int64_t id = sql_col_int64(st, 0);
		size_t lo = 0, hi = n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (v[mid]->id < id) {
				lo = mid + 1;
			} else if (v[mid]->id > id) {
				hi = mid;
			} else {
				if (unread)
					v[mid]->unread = sql_col_int64(st, 1);
				else
					v[mid]->total = sql_col_int64(st, 1);
				break;
			}
		}
	}
	if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	sql_done(st);
	return r;
}

/* Every subscription, ordered by id, with URLs, and counts if asked. */
static int
feeds_list(struct store *s, bool counts, struct store_feed ***ret,
           size_t *ret_n)
{
	struct sql_stmt *st =
	        sql_prep(s, FEED_FIELDS " 0, 0 FROM feed ORDER BY id");
	struct store_feed **v = NULL;
	size_t n = 0;
	int rc, r = 0;

	if (!st)
		return -EIO;
	while ((rc = sql_step(st)) == SQL_ROW) {
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
	if (r >= 0 && rc != SQL_DONE)
		r = sql_fail(s, rc);
	sql_done(st);
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
		                SQL2(s,
		                     "SELECT m.feed_id, count(*)"
		                     " FROM story s INDEXED BY story_unread"
		                     " JOIN membership m ON m.story_id = s.id"
		                     " WHERE s.read = 0 GROUP BY m.feed_id",
		                     "SELECT m.feed_id, count(*) FROM story s"
		                     " JOIN membership m ON m.story_id = s.id"
		                     " WHERE s.read = 0 GROUP BY m.feed_id"),
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
	struct sql_stmt *st = sql_prep(s, FEED_COLUMNS " WHERE id = ?1");
	struct store_feed *f = NULL;
	int rc, r;

	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, id);
	rc = sql_step(st);
	if (rc == SQL_ROW)
		r = read_feed(s, st, &f);
	else if (rc == SQL_DONE)
		r = -ENOENT;
	else
		r = sql_fail(s, rc);
	sql_done(st);
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
	struct sql_stmt *st;
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
	st = sql_prep(s,
	              "SELECT id, lower(coalesce(title, parsed_title)) ="
	              " lower(?1) FROM feed"
	              " WHERE substr(lower(coalesce(title, parsed_title)), 1,"
	              " length(?1)) = lower(?1)");
	if (!st)
		return -EIO;
	sql_bind_text(st, 1, name);
	while ((rc = sql_step(st)) == SQL_ROW) {
		n++;
		id = sql_col_int64(st, 0);
		if (sql_col_int(st, 1))
			exact = id;
	}
	r = rc == SQL_DONE ? 0 : sql_fail(s, rc);
	sql_done(st);
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
		return sql_failf(s, -EINVAL, "a feed needs a URL");
	if (spec->n_urls > MAX_URLS)
		return sql_failf(s, -E2BIG, "more than %d URLs for one feed",
		                 MAX_URLS);
	for (size_t i = 0; i < spec->n_urls; i++)
		if (!spec->urls[i] || !*spec->urls[i])
			return sql_failf(s, -EINVAL, "empty URL");
	return 0;
}

static const char url_insert[] =
        "INSERT INTO feed_url (feed_id, position, url, proxy, doh)"
        " VALUES (?1, ?2, ?3, ?4, ?5)";

/*
 * Insert a feed row and its URLs (inside a transaction); defer queues
 * the URLs (a sync, which has looked each up).
 */
static int
feed_insert(struct store *s, const struct store_feed_spec *spec, bool defer,
            int64_t *ret_id)
{
	int64_t id;
	int r;

	/* The id returned, not asked for after (a round trip on PG). */
	r = sql_int(s, &id,
	            "INSERT INTO feed (title, category, interval, from_config,"
	            " resolve, parsed_title) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	            " RETURNING id",
	            "ttIitt", spec->title, spec->category, spec->interval,
	            (int)spec->from_config, spec->resolve,
	            spec->title ? NULL : spec->parsed_title);
	if (r == 0)
		r = sql_failf(s, -EIO, "the new feed has no id");
	if (r < 0)
		return r;
	for (size_t i = 0; i < spec->n_urls; i++) {
		const char *proxy = spec->proxies ? spec->proxies[i] : NULL;
		const char *doh = spec->dohs ? spec->dohs[i] : NULL;

		/*
		 * A sync's are queued (PostgreSQL's pipeline): it has looked
		 * each URL up, so that the server has nothing to refuse.
		 */
		if (defer)
			r = sql_defer(s, NULL, url_insert, "IIttt", id,
			              (int64_t)i, spec->urls[i], proxy, doh);
		else
			r = sql_exec(s, url_insert, "IIttt", id, (int64_t)i,
			             spec->urls[i], proxy, doh);
		if (r == -EEXIST)
			r = sql_failf(s, -EEXIST, "URL '%s' given twice",
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
	r = sql_begin(s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < spec->n_urls && r == 0; i++)
		r = url_owner(s, spec->urls[i], &id);
	if (r == 1) {
		r = sql_end(s, 0);
		if (r < 0)
			return r;
		if (ret_id)
			*ret_id = id;
		return 0;
	}
	if (r == 0)
		r = feed_insert(s, spec, false, &id);
	r = sql_end(s, r);
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

	/*
	 * On PostgreSQL, not while another daemon merges: it could link a
	 * story going now, or write to the feed (see store-merge.c).
	 */
	r = sql_lock_xact(s, LOCK_MERGE);
	if (r >= 0)
		r = sql_exec(
		        s,
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
	int r = sql_begin(s);

	if (r < 0)
		return r;
	return sql_end(s, feed_delete(s, id));
}

/* Set the user's title for a feed. */
int
store_feed_rename(struct store *s, int64_t id, const char *title)
{
	int r = sql_write(s, "UPDATE feed SET title = ?2 WHERE id = ?1", "It",
	                  id, title);

	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* The title a poll found (queued on PostgreSQL inside a transaction). */
int
store_feed_set_parsed_title(struct store *s, int64_t id, const char *title)
{
	int r = sql_defer(s, NULL,
	                  SQL2(s,
	                       "UPDATE feed SET parsed_title = ?2 WHERE id = ?1"
	                       " AND parsed_title IS NOT ?2",
	                       "UPDATE feed SET parsed_title = ?2 WHERE id = ?1"
	                       " AND parsed_title IS DISTINCT FROM ?2"),
	                  "It", id, title);

	return r < 0 ? r : 0;
}

/* Set a feed's own polling interval (0: the default). */
int
store_feed_set_interval(struct store *s, int64_t id, int64_t interval)
{
	int r = sql_write(s, "UPDATE feed SET interval = ?2 WHERE id = ?1",
	                  "II", id, interval);

	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* Disable (410 Gone, the user) or enable a feed. */
int
store_feed_set_disabled(struct store *s, int64_t id, bool disabled,
                        const char *reason)
{
	int r = sql_write(s,
	                  "UPDATE feed SET disabled = ?2, disabled_reason = ?3"
	                  " WHERE id = ?1",
	                  "Iit", id, (int)disabled, disabled ? reason : NULL);

	return r == 0 ? -ENOENT : (r < 0 ? r : 0);
}

/* The ids of a feed's URLs in order; *ret_n of them. */
static int
url_ids(struct store *s, int64_t feed, int64_t *ids, size_t *ret_n)
{
	struct sql_stmt *st =
	        sql_prep(s, "SELECT id FROM feed_url WHERE feed_id = ?1"
	                    " ORDER BY position, id");
	size_t n = 0;
	int rc, r;

	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, feed);
	while ((rc = sql_step(st)) == SQL_ROW && n < MAX_URLS)
		ids[n++] = sql_col_int64(st, 0);
	r = (rc == SQL_DONE || rc == SQL_ROW) ? 0 : sql_fail(s, rc);
	sql_done(st);
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
		return sql_failf(s, -EINVAL, "empty URL");
	r = sql_begin(s);
	if (r < 0)
		return r;
	r = sql_int(s, &owner, "SELECT id FROM feed WHERE id = ?1", "I", feed);
	if (r == 0)
		r = -ENOENT;
	if (r > 0)
		r = url_owner(s, url, &owner);
	if (r == 1)
		r = sql_failf(s, -EEXIST, "'%s' is already a URL of feed %lld",
		              url, (long long)owner);
	if (r == 0)
		r = sql_int(s, &pos,
		            "SELECT count(*) FROM feed_url WHERE feed_id = ?1",
		            "I", feed);
	if (r >= 0 && pos >= MAX_URLS)
		r = sql_failf(s, -E2BIG, "more than %d URLs for one feed",
		              MAX_URLS);
	if (r >= 0)
		r = sql_exec(
		        s,
		        "INSERT INTO feed_url (feed_id, position, url, proxy)"
		        " VALUES (?1, (SELECT coalesce(max(position), -1) + 1"
		        "  FROM feed_url WHERE feed_id = ?1), ?2, ?3)",
		        "Itt", feed, url, proxy);
	/* A suggestion taken by hand is no longer a suggestion. */
	if (r >= 0)
		r = sql_exec(s,
		             "DELETE FROM mirror_suggestion"
		             " WHERE feed_id = ?1 AND url = ?2",
		             "It", feed, url);
	return sql_end(s, r < 0 ? r : 0);
}

/* Remove a URL of a feed; the last one stays. */
int
store_mirror_remove(struct store *s, int64_t feed, const char *url)
{
	int64_t old[MAX_URLS], nw[MAX_URLS], uid = 0;
	size_t n_old = 0, n_new = 0;
	int r;

	r = sql_begin(s);
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
		r = sql_failf(s, -EINVAL,
		              "cannot remove the only URL of a feed");
	if (r >= 0)
		r = sql_exec(s, "DELETE FROM feed_url WHERE id = ?1", "I", uid);
	if (r >= 0)
		r = url_ids(s, feed, nw, &n_new);
	if (r >= 0)
		r = renumber(s, nw, n_new);
	if (r >= 0)
		r = remap_indexes(s, feed, old, n_old, nw, n_new);
	return sql_end(s, r < 0 ? r : 0);
}

/* Move one of a feed's URLs to a position (0: make it the primary). */
int
store_url_move(struct store *s, int64_t feed, const char *url, size_t position)
{
	int64_t old[MAX_URLS], nw[MAX_URLS], uid = 0;
	size_t n = 0, k = 0;
	int r;

	r = sql_begin(s);
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
	return sql_end(s, r < 0 ? r : 0);
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
		const char *doh = spec->dohs ? spec->dohs[i] : NULL;
		struct sql_stmt *st;
		int64_t uid = 0, owner = 0;
		int rc;

		/* A URL a permanent redirect replaced is still the same. */
		st = sql_prep(s, "SELECT id, feed_id FROM feed_url"
		                 " WHERE url = ?1 OR (moved_from = ?1"
		                 "  AND feed_id = ?2)"
		                 " ORDER BY url = ?1 DESC LIMIT 1");
		if (!st)
			return -EIO;
		sql_bind_text(st, 1, spec->urls[i]);
		sql_bind_int64(st, 2, feed);
		rc = sql_step(st);
		if (rc == SQL_ROW) {
			uid = sql_col_int64(st, 0);
			owner = sql_col_int64(st, 1);
		} else if (rc != SQL_DONE) {
			r = sql_fail(s, rc);
		}
		sql_done(st);
		if (r < 0)
			break;
		if (uid && owner != feed)
			return sql_failf(s, -EEXIST,
			                 "'%s' is already a URL of feed %lld",
			                 spec->urls[i], (long long)owner);
		if (uid)
			r = sql_exec(s,
			             "UPDATE feed_url SET position = ?2,"
			             " proxy = ?3, doh = ?4 WHERE id = ?1",
			             "IItt", uid, (int64_t)i, proxy, doh);
		else
			r = sql_exec(s,
			             "INSERT INTO feed_url"
			             " (feed_id, position, url, proxy, doh)"
			             " VALUES (?1, ?2, ?3, ?4, ?5)",
			             "IIttt", feed, (int64_t)i, spec->urls[i],
			             proxy, doh);
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

/*
 * The title, then the first URL, in one statement (the usual feed has one
 * URL: one round trip where PostgreSQL took two).
 */
static const char match_first[] =
        "SELECT id FROM (SELECT id, 0 AS o FROM feed"
        "  WHERE from_config = 1 AND title = ?1"
        " UNION ALL SELECT feed_id, CASE WHEN url = ?2 THEN 1"
        "  ELSE 2 END FROM feed_url WHERE url = ?2"
        "  OR moved_from = ?2) m ORDER BY o, id LIMIT 1";

/*
 * The feed a configured one is: by title, else by a URL (its own first,
 * else one a redirect moved). first is what match_first found, 0 none,
 * or -1 when still to be looked up. 1 and *ret, or 0.
 */
static int
config_match(struct store *s, const struct store_feed_spec *spec, int64_t first,
             int64_t *ret)
{
	int r;

	if (first < 0)
		r = sql_int(s, ret, match_first, "tt", spec->title,
		            spec->urls[0]);
	else if ((r = first > 0))
		*ret = first;
	for (size_t i = 1; r == 0 && i < spec->n_urls; i++)
		r = sql_int(
		        s, ret,
		        "SELECT feed_id FROM feed_url WHERE url = ?1"
		        " OR moved_from = ?1 ORDER BY url = ?1 DESC LIMIT 1",
		        "t", spec->urls[i]);
	return r;
}

/* A key of a configured feed: its title or a URL, and whose. */
struct spec_key {
	const char *k;
	int64_t id; /* or the feed it was found to be */
	size_t i;
};

static int
cmp_key(const void *a, const void *b)
{
	const struct spec_key *x = a, *y = b;
	int c = x->k && y->k ? strcmp(x->k, y->k) : 0;

	if (c == 0)
		c = (x->id > y->id) - (x->id < y->id);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/*
 * Every spec's first look (match_first), sent at once: on PostgreSQL
 * a pipeline, not a round trip per feed. A look is stale once an earlier
 * spec of the sync has written what it would see, which can only be a
 * spec sharing its title or a URL, or found to be the same feed; those
 * get first[i] = -1, to look again in turn.
 */
static int
config_match_first(struct store *s, const struct store_feed_spec *specs,
                   size_t n, int64_t *first)
{
	struct spec_key *keys;
	size_t nk = 0, m = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		m += 1 + specs[i].n_urls;
	keys = calloc(m + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = sql_defer(s, &first[i], match_first, "tt", specs[i].title,
		              specs[i].urls[0]);
	if (r >= 0)
		r = sql_flush(s);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (specs[i].title)
			keys[nk++] = (struct spec_key){specs[i].title, 0, i};
		for (size_t u = 0; u < specs[i].n_urls; u++)
			keys[nk++] = (struct spec_key){specs[i].urls[u], 0, i};
	}
	/* The same title or URL: all but the first spec look again. */
	qsort(keys, nk, sizeof(*keys), cmp_key);
	for (size_t j = 1; r >= 0 && j < nk; j++)
		if (strcmp(keys[j].k, keys[j - 1].k) == 0 &&
		    keys[j].i != keys[j - 1].i)
			first[keys[j].i] = -1;
	/* The same feed found for two: the later one looks again. */
	nk = 0;
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (first[i] > 0)
			keys[nk++] = (struct spec_key){NULL, first[i], i};
	qsort(keys, nk, sizeof(*keys), cmp_key);
	for (size_t j = 1; r >= 0 && j < nk; j++)
		if (keys[j].id == keys[j - 1].id)
			first[keys[j].i] = -1;
	free(keys);
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
	struct sql_stmt *st;
	size_t i = 0;
	int rc, same;

	st = sql_prep(s, "SELECT title, category, interval, from_config,"
	                 " resolve FROM feed WHERE id = ?1");
	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, id);
	rc = sql_step(st);
	same = rc == SQL_ROW && same_str(sql_col_text(st, 0), sp->title) &&
	       same_str(sql_col_text(st, 1), sp->category) &&
	       sql_col_int64(st, 2) == sp->interval &&
	       sql_col_int(st, 3) == 1 &&
	       same_str(sql_col_text(st, 4), sp->resolve);
	if (rc != SQL_ROW && rc != SQL_DONE)
		same = sql_fail(s, rc);
	sql_done(st);
	if (same <= 0)
		return same;
	st = sql_prep(s, "SELECT url, proxy, doh FROM feed_url"
	                 " WHERE feed_id = ?1 ORDER BY position");
	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, id);
	while (same && (rc = sql_step(st)) == SQL_ROW) {
		const char *proxy =
		        sp->proxies && i < sp->n_urls ? sp->proxies[i] : NULL;
		const char *doh =
		        sp->dohs && i < sp->n_urls ? sp->dohs[i] : NULL;

		same = i < sp->n_urls &&
		       same_str(sql_col_text(st, 0), sp->urls[i]) &&
		       same_str(sql_col_text(st, 1), proxy) &&
		       same_str(sql_col_text(st, 2), doh);
		i++;
	}
	if (same && rc != SQL_DONE)
		same = sql_fail(s, rc);
	sql_done(st);
	if (same < 0)
		return same;
	return same && i == sp->n_urls;
}

/* Append id to the array *v of *n; 0 or -ENOMEM. */
static int
ids_push(int64_t **v, size_t *n, int64_t id)
{
	int64_t *nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = id;
	*v = nv;
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Make the from_config feeds match the configuration's, in one go. */
int
store_config_sync(struct store *s, const struct store_feed_spec *specs,
                  size_t n)
{
	int64_t *keep = NULL, *gone = NULL, *first = NULL, *late = NULL;
	size_t n_gone = 0, n_late = 0;
	struct sql_stmt *st;
	int r, rc;

	for (size_t i = 0; i < n; i++) {
		r = spec_check(s, &specs[i]);
		if (r < 0)
			return r;
	}
	keep = calloc(n + 1, sizeof(*keep));
	first = calloc(n + 1, sizeof(*first));
	if (!keep || !first) {
		r = -ENOMEM;
		goto out;
	}
	r = sql_begin(s);
	if (r < 0)
		goto out;
	/*
	 * Daemons started together on one PostgreSQL database sync the
	 * same file at once: each would find no feed and insert it, and
	 * all but one fail on the URL's unique index. One at a time, each
	 * finds what the one before it committed (SQLite's write
	 * transaction already serializes them).
	 */
	r = sql_lock_xact(s, LOCK_CONFIG);
	if (r >= 0)
		r = config_match_first(s, specs, n, first);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		const struct store_feed_spec *sp = &specs[i];
		int64_t id = 0;

		/*
		 * A feed an earlier spec found by a later look (not its
		 * first) may have been rewritten since: look again.
		 */
		for (size_t j = 0; first[i] > 0 && j < n_late; j++)
			if (late[j] == first[i])
				first[i] = -1;
		r = config_match(s, sp, first[i], &id);
		if (r > 0 && first[i] <= 0 && ids_push(&late, &n_late, id) < 0)
			r = -ENOMEM;
		if (r > 0) {
			r = spec_same(s, id, sp);
			if (r >= 0)
				r = !r; /* unchanged: nothing to write */
		}
		if (r == 0 && id == 0) {
			r = feed_insert(s, sp, true, &id);
		} else if (r > 0) {
			r = sql_exec(
			        s,
			        "UPDATE feed SET title = ?2, category = ?3,"
			        " interval = ?4, from_config = 1, resolve = ?5"
			        " WHERE id = ?1",
			        "IttIt", id, sp->title, sp->category,
			        sp->interval, sp->resolve);
			if (r >= 0)
				r = set_urls(s, id, sp);
		}
		keep[i] = id;
	}
	/*
	 * What the file no longer declares goes (looked up in the sorted
	 * ids: a walk of them per feed was quadratic, 10^8 steps at 10,000
	 * feeds).
	 */
	if (r >= 0)
		qsort(keep, n, sizeof(*keep), cmp_id);
	st = r >= 0 ? sql_prep(s, "SELECT id FROM feed WHERE from_config = 1")
	            : NULL;
	if (r >= 0 && !st)
		r = -EIO;
	while (r >= 0 && (rc = sql_step(st)) != SQL_DONE) {
		int64_t id;

		if (rc != SQL_ROW) {
			r = sql_fail(s, rc);
			break;
		}
		id = sql_col_int64(st, 0);
		if (!bsearch(&id, keep, n, sizeof(*keep), cmp_id) &&
		    ids_push(&gone, &n_gone, id) < 0)
			r = -ENOMEM;
	}
	sql_done(st);
	for (size_t i = 0; r >= 0 && i < n_gone; i++)
		r = feed_delete(s, gone[i]);
	r = sql_end(s, r < 0 ? r : 0);
out:
	free(keep);
	free(first);
	free(late);
	free(gone);
	return r;
}
