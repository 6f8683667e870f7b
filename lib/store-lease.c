/*
 * Several daemons on one store (PostgreSQL): each daemon is a row of
 * daemon, named by a random instance id, with a heartbeat; a feed due
 * for polling is leased (feed.lease_owner, feed.lease_until) by the one
 * daemon that polls it, and the lease goes with the transaction that
 * saves the poll. A daemon killed mid-poll leaves leases that expire:
 * the others take those feeds over then. On SQLite a store has one
 * daemon, and none of this applies.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"

#define LEASE_CHUNK  1000   /* feed ids in one leasing statement */
#define DAEMON_STALE 604800 /* a row not beating this long (a week) */

/* Whether several daemons may share s (and so lease its feeds). */
bool
store_lease_shared(const struct store *s)
{
	return s && s->backend == BACKEND_PG;
}

/* The instance id this connection leases under, or NULL. */
const char *
store_lease_instance(const struct store *s)
{
	return s ? s->instance : NULL;
}

/* Lease under instance (another connection's, the same daemon's). */
int
store_lease_adopt(struct store *s, const char *instance)
{
	char *d;

	if (!store_lease_shared(s) || !instance)
		return -EINVAL;
	d = strdup(instance);
	if (!d)
		return -ENOMEM;
	free(s->instance);
	s->instance = d;
	return 0;
}

/* Register this daemon under a new random instance id. */
int
store_lease_register(struct store *s, const char *host, int64_t pid,
                     int64_t now)
{
	char id[17];
	int r;

	if (!store_lease_shared(s))
		return sql_failf(s, -EOPNOTSUPP,
		                 "one daemon per SQLite store: no leases");
	snprintf(id, sizeof(id), "%08" PRIx32 "%08" PRIx32, arc4random(),
	         arc4random());
	r = store_lease_adopt(s, id);
	if (r < 0)
		return r;
	r = sql_begin(s);
	if (r < 0)
		return r;
	/*
	 * The rows of daemons killed long ago, that hold nothing: gone. (An
	 * idle daemon beats only when it polls, once per interval at least.)
	 */
	r = sql_exec(s,
	             "DELETE FROM daemon WHERE heartbeat < ?1 AND NOT EXISTS"
	             " (SELECT 1 FROM feed WHERE lease_owner = daemon.instance"
	             "  AND lease_until >= ?2)",
	             "II", now - DAEMON_STALE, now);
	if (r >= 0)
		r = sql_exec(s,
		             "INSERT INTO daemon (instance, host, pid, started,"
		             " heartbeat) VALUES (?1, ?2, ?3, ?4, ?4)",
		             "ttII", s->instance, host, pid, now);
	return sql_end(s, r < 0 ? r : 0);
}

/* The ids as a PostgreSQL array literal, "{1,2,3}"; NULL out of memory. */
static char *
id_array(const int64_t *ids, size_t n)
{
	char *out = malloc(n * 21 + 3), *o = out;

	if (!out)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%s%" PRId64, i ? "," : "", ids[i]);
	*o++ = '}';
	*o = '\0';
	return out;
}

/* Lease up to max of the due ones of ids[0..n); append to *v. */
static int
take_chunk(struct store *s, const int64_t *ids, size_t n, size_t max,
           int64_t now, int64_t ttl, int64_t *v, size_t *nv)
{
	/*
	 * One statement: rows another daemon's transaction holds (a poll
	 * it is saving, or leasing them now) are skipped, not waited for; a
	 * row is ours when it is due, enabled and its lease free, expired
	 * or already ours; the longest due first.
	 */
	struct sql_stmt *st = sql_prep(
	        s, "UPDATE feed SET lease_owner = ?1, lease_until = ?2 + ?3"
	           " WHERE id IN (SELECT id FROM feed"
	           "  WHERE id = ANY(?4::bigint[]) AND disabled = 0"
	           "  AND next_poll <= ?2 AND retry_after <= ?2"
	           "  AND (lease_owner IS NULL OR lease_until < ?2"
	           "   OR lease_owner = ?1)"
	           "  ORDER BY next_poll, id LIMIT ?5"
	           "  FOR UPDATE SKIP LOCKED)"
	           " RETURNING id");
	char *arr = id_array(ids, n);
	int rc, r = 0;

	if (!st || !arr) {
		free(arr);
		return st ? -ENOMEM : -EIO;
	}
	sql_bind_text(st, 1, s->instance);
	sql_bind_int64(st, 2, now);
	sql_bind_int64(st, 3, ttl);
	sql_bind_text(st, 4, arr);
	sql_bind_int64(st, 5, (int64_t)max);
	/* at most max rows (the LIMIT), each one of ids: room in v */
	for (size_t k = 0; (rc = sql_step(st)) == SQL_ROW && k < max; k++)
		v[(*nv)++] = sql_col_int64(st, 0);
	if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	sql_done(st);
	free(arr);
	return r;
}

/* Lease up to max of the feeds of ids that are due, for ttl seconds. */
int
store_lease_take(struct store *s, const int64_t *ids, size_t n, size_t max,
                 int64_t now, int64_t ttl, int64_t **ret_ids, size_t *ret_n)
{
	int64_t *v;
	size_t nv = 0;
	int r = 0;

	if (!store_lease_shared(s) || !s->instance || ttl <= 0)
		return sql_failf(s, -EINVAL, "no daemon registered to lease");
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n && nv < max && r >= 0; i += LEASE_CHUNK)
		r = take_chunk(s, ids + i,
		               n - i < LEASE_CHUNK ? n - i : LEASE_CHUNK,
		               max - nv, now, ttl, v, &nv);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret_ids = v;
	*ret_n = nv;
	return 0;
}

/* Where the store has the feeds of ids: their schedule and lease. */
int
store_lease_where(struct store *s, const int64_t *ids, size_t n,
                  struct store_lease_state **ret, size_t *ret_n)
{
	struct sql_stmt *st;
	struct store_lease_state *v;
	size_t nv = 0;
	int r = 0;

	if (!store_lease_shared(s))
		return -EOPNOTSUPP;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	st = sql_prep(s, "SELECT id, next_poll, retry_after, lease_owner,"
	                 " lease_until, disabled FROM feed"
	                 " WHERE id = ANY(?1::bigint[])");
	for (size_t i = 0; st && i < n && r >= 0; i += LEASE_CHUNK) {
		char *arr = id_array(ids + i,
		                     n - i < LEASE_CHUNK ? n - i : LEASE_CHUNK);
		int rc;

		if (!arr) {
			r = -ENOMEM;
			break;
		}
		sql_bind_text(st, 1, arr);
		while ((rc = sql_step(st)) == SQL_ROW && nv < n) {
			const char *owner = sql_col_text(st, 3);

			v[nv].id = sql_col_int64(st, 0);
			v[nv].next_poll = sql_col_int64(st, 1);
			v[nv].retry_after = sql_col_int64(st, 2);
			v[nv].lease_until = owner ? sql_col_int64(st, 4) : 0;
			v[nv].ours = owner && s->instance &&
			             strcmp(owner, s->instance) == 0;
			v[nv].disabled = sql_col_int64(st, 5) != 0;
			nv++;
		}
		if (rc != SQL_DONE && rc != SQL_ROW)
			r = sql_fail(s, rc);
		sql_done(st);
		free(arr);
	}
	if (!st)
		r = -EIO;
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = nv;
	return 0;
}

/*
 * The heartbeat: this daemon's row, and every lease it holds extended
 * to now + ttl (but the rows its merge connection is saving, which that
 * transaction releases). The number of leases it holds, or -errno.
 */
int
store_lease_heartbeat(struct store *s, int64_t now, int64_t ttl)
{
	int64_t n = 0;
	int r;

	if (!store_lease_shared(s) || !s->instance)
		return -EINVAL;
	r = sql_exec(s, "UPDATE daemon SET heartbeat = ?2 WHERE instance = ?1",
	             "tI", s->instance, now);
	if (r >= 0)
		r = sql_exec(s,
		             "UPDATE feed SET lease_until = ?2 + ?3"
		             " WHERE id IN (SELECT id FROM feed"
		             "  WHERE lease_owner = ?1 FOR UPDATE SKIP LOCKED)",
		             "tII", s->instance, now, ttl);
	if (r >= 0)
		r = sql_int(s, &n,
		            "SELECT count(*) FROM feed WHERE lease_owner = ?1",
		            "t", s->instance);
	return r < 0 ? r : (int)n;
}

/*
 * Give back the lease of a feed whose poll is saved: in the caller's
 * transaction, the one that writes its next_poll. A lease another
 * daemon has taken over meanwhile stays its own. No-op on SQLite.
 */
int
store_lease_release(struct store *s, int64_t feed_id)
{
	int r;

	if (!store_lease_shared(s) || !s->instance)
		return 0;
	/* Queued inside a transaction: it answers nothing we need. */
	r = sql_defer(s, NULL,
	              "UPDATE feed SET lease_owner = NULL, lease_until = 0"
	              " WHERE id = ?1 AND lease_owner = ?2",
	              "It", feed_id, s->instance);
	return r < 0 ? r : 0;
}

/* A clean exit: every lease given back, this daemon's row removed. */
int
store_lease_unregister(struct store *s)
{
	int r;

	if (!store_lease_shared(s) || !s->instance)
		return 0;
	r = sql_begin(s);
	if (r < 0)
		return r;
	r = sql_exec(s,
	             "UPDATE feed SET lease_owner = NULL, lease_until = 0"
	             " WHERE lease_owner = ?1",
	             "t", s->instance);
	if (r >= 0)
		r = sql_exec(s, "DELETE FROM daemon WHERE instance = ?1", "t",
		             s->instance);
	return sql_end(s, r < 0 ? r : 0);
}

/* Free what store_lease_daemons gave. */
void
store_daemons_free(struct store_daemon *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].instance);
		free(v[i].host);
	}
	free(v);
}

/* The daemons registered in the store, oldest first, with their leases. */
int
store_lease_daemons(struct store *s, int64_t now, struct store_daemon **ret,
                    size_t *ret_n)
{
	struct sql_stmt *st;
	struct store_daemon *v = NULL;
	size_t n = 0;
	bool oom = false;
	int rc, r = 0;

	if (!store_lease_shared(s)) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	st = sql_prep(s, "SELECT d.instance, d.host, d.pid, d.started,"
	                 " d.heartbeat,"
	                 " (SELECT count(*) FROM feed f"
	                 "  WHERE f.lease_owner = d.instance"
	                 "  AND f.lease_until >= ?1),"
	                 " (SELECT count(*) FROM feed f"
	                 "  WHERE f.lease_owner = d.instance"
	                 "  AND f.lease_until < ?1)"
	                 " FROM daemon d ORDER BY d.started, d.instance");
	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, now);
	while ((rc = sql_step(st)) == SQL_ROW) {
		struct store_daemon *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			oom = true;
			break;
		}
		v = nv;
		v[n].instance = sql_col_dup(st, 0, &oom);
		v[n].host = sql_col_dup(st, 1, &oom);
		v[n].pid = sql_col_int64(st, 2);
		v[n].started = sql_col_int64(st, 3);
		v[n].heartbeat = sql_col_int64(st, 4);
		v[n].leases = sql_col_int64(st, 5);
		v[n].expired = sql_col_int64(st, 6);
		n++;
	}
	if (oom)
		r = -ENOMEM;
	else if (rc != SQL_DONE)
		r = sql_fail(s, rc);
	sql_done(st);
	if (r < 0) {
		store_daemons_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
