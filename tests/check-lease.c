/*
 * Unit tests for several daemons on one store (lib/store-lease.c, and
 * the merge lock of lib/store-merge.c). The leases exist on PostgreSQL
 * only: with GAZETTE_TEST_PG set to a postgresql:// URI (tests/pg-run.sh
 * starts a server) the "pg" tests run, each in a schema of its own, with
 * two connections playing two daemons; without it, what an SQLite store
 * says (no leases) is checked.
 */
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gazette/store.h"

#define NOW 1700000000
#define TTL 60

static char dbpath[512];
static struct store *a, *b; /* two daemons' connections */
static const char *pg_uri;  /* GAZETTE_TEST_PG */

/* A fresh schema on the test server; dbpath names it. */
static void
pg_fresh(void)
{
	static int n;
	char q[128];
	PGconn *c = PQconnectdb(pg_uri);
	PGresult *res;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	snprintf(q, sizeof(q), "CREATE SCHEMA l%d_%d", (int)getpid(), ++n);
	res = PQexec(c, q);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s",
	              PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	snprintf(dbpath, sizeof(dbpath), "%s?options=-csearch_path%%3Dl%d_%d",
	         pg_uri, (int)getpid(), n);
}

/* Open a connection to the test's database. */
static struct store *
open_db(void)
{
	struct store *s = NULL;
	char *err = NULL;
	int r = store_open(dbpath, STORE_CREATE, &s, &err);

	ck_assert_msg(r == 0, "store_open: %d %s", r, err ? err : "");
	return s;
}

/* Two registered daemons on a fresh schema. */
static void
setup_pg(void)
{
	pg_fresh();
	a = open_db();
	b = open_db();
	ck_assert_int_eq(store_lease_register(a, "host-a", 1, NOW), 0);
	ck_assert_int_eq(store_lease_register(b, "host-b", 2, NOW), 0);
	ck_assert_str_ne(store_lease_instance(a), store_lease_instance(b));
}

static void
teardown_pg(void)
{
	store_close(a);
	store_close(b);
	a = b = NULL;
}

/* A feed of one URL, due at next_poll. */
static int64_t
add_feed(const char *url, int64_t next_poll)
{
	const char *urls[1] = {url};
	struct store_feed_spec spec = {.urls = urls, .n_urls = 1};
	struct store_feed f = {0};
	int64_t id = 0;
	int r = store_feed_add(a, &spec, &id);

	ck_assert_msg(r == 1, "store_feed_add: %d %s", r, store_errmsg(a));
	f.id = id;
	f.next_poll = next_poll;
	ck_assert_int_eq(store_feed_save_schedule(a, &f), 0);
	return id;
}

/* How many of ids[0..n) s leases at now (at most max). */
static size_t
take(struct store *s, const int64_t *ids, size_t n, size_t max, int64_t now)
{
	int64_t *got = NULL;
	size_t ngot = 0;
	int r = store_lease_take(s, ids, n, max, now, TTL, &got, &ngot);

	ck_assert_msg(r == 0, "store_lease_take: %d %s", r, store_errmsg(s));
	free(got);
	return ngot;
}

START_TEST(test_lease_due_feed_goes_to_one_daemon_only)
{
	int64_t ids[3] = {add_feed("http://x.test/1", 0),
	                  add_feed("http://x.test/2", 0),
	                  add_feed("http://x.test/3", NOW - 1)};

	ck_assert_uint_eq(take(a, ids, 3, 100, NOW), 3);
	ck_assert_uint_eq(take(b, ids, 3, 100, NOW), 0);
	/* ours already: taken again (a poll begun again after a restart) */
	ck_assert_uint_eq(take(a, ids, 3, 100, NOW + 1), 3);
}
END_TEST

START_TEST(test_lease_take_stops_at_max_and_leaves_the_rest)
{
	int64_t ids[5];

	for (int i = 0; i < 5; i++) {
		char u[64];

		snprintf(u, sizeof(u), "http://x.test/%d", i);
		ids[i] = add_feed(u, NOW - 10 + i);
	}
	ck_assert_uint_eq(take(a, ids, 5, 2, NOW), 2);
	ck_assert_uint_eq(take(b, ids, 5, 2, NOW), 2);
	/* b's own two again (due first), and the one left */
	ck_assert_uint_eq(take(b, ids, 5, 5, NOW), 3);
	ck_assert_uint_eq(take(a, ids, 5, 100, NOW), 2);
}
END_TEST

START_TEST(test_lease_not_due_or_disabled_is_not_taken)
{
	int64_t ids[2] = {add_feed("http://x.test/later", NOW + 30),
	                  add_feed("http://x.test/off", 0)};

	ck_assert_int_eq(store_feed_set_disabled(a, ids[1], true, "test"), 0);
	ck_assert_uint_eq(take(a, ids, 2, 100, NOW), 0);
	ck_assert_uint_eq(take(a, ids, 2, 100, NOW + 30), 1);
}
END_TEST

START_TEST(test_lease_expired_lease_is_taken_over)
{
	int64_t id = add_feed("http://x.test/k", 0);

	ck_assert_uint_eq(take(a, &id, 1, 10, NOW), 1);
	ck_assert_uint_eq(take(b, &id, 1, 10, NOW + TTL), 0);
	ck_assert_uint_eq(take(b, &id, 1, 10, NOW + TTL + 1), 1);
	/* and a's is gone: a cannot take it back while b's runs */
	ck_assert_uint_eq(take(a, &id, 1, 10, NOW + TTL + 2), 0);
}
END_TEST

START_TEST(test_lease_heartbeat_extends_only_own_leases)
{
	int64_t ids[2] = {add_feed("http://x.test/a", 0),
	                  add_feed("http://x.test/b", 0)};

	ck_assert_uint_eq(take(a, &ids[0], 1, 10, NOW), 1);
	ck_assert_uint_eq(take(b, &ids[1], 1, 10, NOW), 1);
	ck_assert_int_eq(store_lease_heartbeat(a, NOW + 40, TTL), 1);
	/* b's expired, a's renewed at NOW + 40 */
	ck_assert_uint_eq(take(b, &ids[0], 1, 10, NOW + TTL + 1), 0);
	ck_assert_uint_eq(take(a, &ids[1], 1, 10, NOW + TTL + 1), 1);
	ck_assert_uint_eq(take(b, &ids[0], 1, 10, NOW + 40 + TTL + 1), 1);
}
END_TEST

START_TEST(test_lease_release_with_the_saved_schedule)
{
	int64_t id = add_feed("http://x.test/s", 0);
	struct store_lease_state *v = NULL;
	struct store_feed f = {.id = id, .next_poll = NOW + 600};
	size_t n = 0;

	ck_assert_uint_eq(take(a, &id, 1, 10, NOW), 1);
	/* b's release of a feed a holds does nothing */
	ck_assert_int_eq(store_lease_release(b, id), 0);
	ck_assert_int_eq(store_lease_where(b, &id, 1, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].lease_until, NOW + TTL);
	ck_assert(!v[0].ours);
	free(v);

	ck_assert_int_eq(store_begin_batch(a), 0);
	ck_assert_int_eq(store_feed_save_schedule(a, &f), 0);
	ck_assert_int_eq(store_lease_release(a, id), 0);
	/* uncommitted: b sees a's lease still, and does not wait for it */
	ck_assert_uint_eq(take(b, &id, 1, 10, NOW + TTL + 1), 0);
	ck_assert_int_eq(store_commit(a), 0);

	ck_assert_int_eq(store_lease_where(b, &id, 1, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].lease_until, 0);
	ck_assert_int_eq(v[0].next_poll, NOW + 600);
	free(v);
	ck_assert_uint_eq(take(b, &id, 1, 10, NOW + 1), 0);
	ck_assert_uint_eq(take(b, &id, 1, 10, NOW + 600), 1);
}
END_TEST

START_TEST(test_lease_where_skips_rows_being_saved)
{
	int64_t id = add_feed("http://x.test/w", 0);
	struct store_feed f = {.id = id, .next_poll = NOW + 600};

	ck_assert_uint_eq(take(a, &id, 1, 10, NOW), 1);
	ck_assert_int_eq(store_begin_batch(a), 0);
	ck_assert_int_eq(store_feed_save_schedule(a, &f), 0);
	/* b's heartbeat does not wait for a's open transaction either */
	ck_assert_int_eq(store_lease_heartbeat(b, NOW + 1, TTL), 0);
	ck_assert_int_eq(store_lease_heartbeat(a, NOW + 1, TTL), 1);
	ck_assert_int_eq(store_commit(a), 0);
}
END_TEST

START_TEST(test_lease_daemons_lists_each_with_its_leases)
{
	int64_t ids[3] = {add_feed("http://x.test/1", 0),
	                  add_feed("http://x.test/2", 0),
	                  add_feed("http://x.test/3", 0)};
	struct store_daemon *v = NULL;
	size_t n = 0;

	ck_assert_uint_eq(take(a, ids, 3, 2, NOW), 2);
	ck_assert_uint_eq(take(b, ids, 3, 2, NOW + 5), 1);
	ck_assert_int_eq(store_lease_daemons(a, NOW + TTL + 1, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		bool is_a = strcmp(v[i].instance, store_lease_instance(a)) == 0;

		ck_assert_str_eq(v[i].host, is_a ? "host-a" : "host-b");
		ck_assert_int_eq(v[i].pid, is_a ? 1 : 2);
		ck_assert_int_eq(v[i].heartbeat, NOW);
		/* a's two ran out at NOW + TTL; b's one runs to NOW + 65 */
		ck_assert_int_eq(v[i].leases, is_a ? 0 : 1);
		ck_assert_int_eq(v[i].expired, is_a ? 2 : 0);
	}
	store_daemons_free(v, n);
}
END_TEST

START_TEST(test_lease_unregister_gives_leases_back_and_leaves)
{
	int64_t id = add_feed("http://x.test/u", 0);
	struct store_daemon *v = NULL;
	size_t n = 0;

	ck_assert_uint_eq(take(a, &id, 1, 10, NOW), 1);
	ck_assert_int_eq(store_lease_unregister(a), 0);
	ck_assert_uint_eq(take(b, &id, 1, 10, NOW + 1), 1);
	ck_assert_int_eq(store_lease_daemons(b, NOW, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].instance, store_lease_instance(b));
	store_daemons_free(v, n);
}
END_TEST

START_TEST(test_lease_register_clears_daemons_dead_for_a_week)
{
	int64_t id = add_feed("http://x.test/d", 0);
	struct store *c = open_db();
	struct store_daemon *v = NULL;
	size_t n = 0;

	/* b beat within the week (it polled): its row stays, a's goes */
	ck_assert_uint_eq(take(b, &id, 1, 10, NOW), 1);
	ck_assert_int_eq(store_lease_heartbeat(b, NOW + 604800 - TTL, TTL), 1);
	ck_assert_int_eq(store_lease_register(c, "host-c", 3, NOW + 604801), 0);
	ck_assert_int_eq(store_lease_daemons(c, NOW + 604801, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].host, "host-b");
	ck_assert_str_eq(v[1].host, "host-c");
	store_daemons_free(v, n);
	store_close(c);
}
END_TEST

START_TEST(test_lease_thousands_of_ids_in_one_call)
{
	enum { N = 2500 };
	int64_t *ids = calloc(N, sizeof(*ids));
	size_t got;

	ck_assert_ptr_nonnull(ids);
	ck_assert_int_eq(store_begin(a), 0);
	for (int i = 0; i < N; i++) {
		char u[64];

		snprintf(u, sizeof(u), "http://x.test/%d", i);
		ids[i] = add_feed(u, 0);
	}
	ck_assert_int_eq(store_commit(a), 0);
	got = take(a, ids, N, 1500, NOW);
	ck_assert_uint_eq(got, 1500);
	ck_assert_uint_eq(take(b, ids, N, N, NOW), N - 1500);
	free(ids);
}
END_TEST

START_TEST(test_lease_describe_names_host_and_database)
{
	char *d = NULL;

	ck_assert_int_eq(store_describe(a, &d), 0);
	ck_assert_msg(strncmp(d, "postgresql /", 12) == 0, "%s", d);
	ck_assert_msg(strstr(d, "/gazette") != NULL, "%s", d);
	ck_assert_msg(strchr(d, '@') == NULL, "%s", d); /* no user */
	free(d);
}
END_TEST

/* ---- the merge lock: two daemons, two feeds, one story ---- */

/* Count the stories and the feeds of the first. */
static int
count_story(const struct store_story *st, void *arg)
{
	size_t *c = arg;

	c[0]++;
	c[1] = st->n_feeds;
	return 0;
}

struct merger {
	struct store *s;
	int64_t feed;
	const char *guid;
	atomic_int done;
	int r;
	struct store_merge_result res;
};

/* Merge one entry linking to /shared inside a batch, then commit. */
static void *
merge_shared(void *arg)
{
	struct merger *m = arg;
	struct gz_entry e = {
	        .id = (char *)m->guid,
	        .link = (char *)"http://news.test/shared",
	        .title = (char *)"Shared",
	        .published = NOW,
	        .updated = GZ_NO_DATE,
	};
	struct gz_feed f = {.entries = &e, .n_entries = 1, .is_feed = true};

	m->r = store_merge(m->s, m->feed, 0, &f, NOW, &m->res);
	atomic_store(&m->done, 1);
	return NULL;
}

START_TEST(test_merge_same_link_from_two_daemons_stores_one_story)
{
	int64_t f1 = add_feed("http://one.test/feed", 0);
	int64_t f2 = add_feed("http://two.test/feed", 0);
	struct merger m1 = {.s = a, .feed = f1, .guid = "one-1"};
	struct merger m2 = {.s = b, .feed = f2, .guid = "two-1"};
	struct store_query q = {.limit = 10};
	size_t c[2] = {0, 0};
	pthread_t t;

	/* a merges in its group commit and holds the transaction open */
	ck_assert_int_eq(store_begin_batch(a), 0);
	merge_shared(&m1);
	ck_assert_int_eq(m1.r, 0);
	ck_assert_int_eq(m1.res.new_stories, 1);
	/* b merges the same story meanwhile: it waits for a's commit */
	ck_assert_int_eq(pthread_create(&t, NULL, merge_shared, &m2), 0);
	usleep(300 * 1000);
	ck_assert_int_eq(atomic_load(&m2.done), 0);
	ck_assert_int_eq(store_commit(a), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(m2.r, 0);
	/* ... and finds a's story: one story, in two feeds */
	ck_assert_int_eq(m2.res.new_stories, 0);
	ck_assert_int_eq(store_stories(a, &q, count_story, c), 1);
	ck_assert_uint_eq(c[0], 1);
	ck_assert_uint_eq(c[1], 2);
}
END_TEST

START_TEST(test_merge_unchanged_entries_take_no_lock)
{
	int64_t f1 = add_feed("http://one.test/feed", 0);
	int64_t f2 = add_feed("http://two.test/feed", 0);
	struct merger m1 = {.s = a, .feed = f1, .guid = "one-1"};
	struct merger m2 = {.s = b, .feed = f2, .guid = "two-1"};
	pthread_t t;

	merge_shared(&m2); /* b's feed has it already */
	ck_assert_int_eq(m2.r, 0);
	ck_assert_int_eq(store_begin_batch(a), 0);
	merge_shared(&m1); /* a writes: a holds the lock */
	ck_assert_int_eq(m1.r, 0);
	atomic_store(&m2.done, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, merge_shared, &m2), 0);
	/* b's merge changes nothing: done while a still holds the lock */
	for (int i = 0; i < 100 && !atomic_load(&m2.done); i++)
		usleep(20 * 1000);
	ck_assert_int_eq(atomic_load(&m2.done), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(m2.r, 0);
	ck_assert_int_eq(m2.res.unchanged, 1);
	ck_assert_int_eq(store_commit(a), 0);
}
END_TEST

/* ---- SQLite: one daemon per store ---- */

START_TEST(test_lease_sqlite_store_has_no_leases)
{
	char dir[] = "/tmp/gz-lease-XXXXXX";
	struct store_daemon *v = NULL;
	struct store *s = NULL;
	char *err = NULL, *d = NULL;
	size_t n = 1;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/gazette.db", dir);
	ck_assert_int_eq(store_open(dbpath, STORE_CREATE, &s, &err), 0);
	ck_assert(!store_lease_shared(s));
	ck_assert_int_eq(store_lease_register(s, "h", 1, NOW), -EOPNOTSUPP);
	ck_assert_ptr_null(store_lease_instance(s));
	ck_assert_int_eq(store_lease_release(s, 1), 0);
	ck_assert_int_eq(store_lease_daemons(s, NOW, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(store_describe(s, &d), 0);
	ck_assert_str_eq(d + strlen("sqlite "), dbpath);
	ck_assert(strncmp(d, "sqlite ", 7) == 0);
	free(d);
	store_close(s);
	{
		char p[600];

		snprintf(p, sizeof(p), "%s-wal", dbpath);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", dbpath);
		unlink(p);
		snprintf(p, sizeof(p), "%s.index", dbpath);
		unlink(p);
	}
	unlink(dbpath);
	rmdir(dir);
}
END_TEST

struct indexer {
	struct store *s;
	atomic_int done;
	int r;
};

static void *
index_all(void *arg)
{
	struct indexer *x = arg;

	x->r = store_index_some(x->s, 0);
	atomic_store(&x->done, 1);
	return NULL;
}

START_TEST(test_index_step_leaves_the_indexing_to_the_daemon_indexing)
{
	int64_t f1 = add_feed("http://one.test/feed", 0);
	struct merger m1 = {.s = a, .feed = f1, .guid = "one-1"};
	struct indexer x = {.s = b};
	PGconn *c = PQconnectdb(dbpath);
	PGresult *res;
	pthread_t t;

	merge_shared(&m1);
	ck_assert_int_eq(m1.r, 0);
	/* another daemon's indexer holds LOCK_INDEX (lib/store-internal.h) */
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, "SELECT pg_advisory_lock(7001)");
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	/* a step does not wait for it (its merge thread would stall) */
	ck_assert_int_eq(store_index_some(b, 100), 0);
	/* a catch-up (a search) waits, then indexes what waits */
	ck_assert_int_eq(pthread_create(&t, NULL, index_all, &x), 0);
	usleep(300 * 1000);
	ck_assert_int_eq(atomic_load(&x.done), 0);
	res = PQexec(c, "SELECT pg_advisory_unlock(7001)");
	PQclear(res);
	pthread_join(t, NULL);
	ck_assert_int_eq(x.r, 1);
	ck_assert_int_eq(store_index_some(a, 100), 0);
	PQfinish(c);
}
END_TEST

/* The configuration file of 300 feeds that every daemon syncs. */
#define SYNC_FEEDS 300

struct syncer {
	struct store *s;
	pthread_barrier_t *go;
	int r;
	char err[256];
};

static void *
sync_file(void *arg)
{
	char urls[SYNC_FEEDS][40];
	const char *u[SYNC_FEEDS];
	struct store_feed_spec specs[SYNC_FEEDS];
	struct syncer *y = arg;

	for (int i = 0; i < SYNC_FEEDS; i++) {
		snprintf(urls[i], sizeof(urls[i]), "http://sync.test/%d", i);
		u[i] = urls[i];
		specs[i] = (struct store_feed_spec){
		        .from_config = true, .n_urls = 1, .urls = &u[i]};
	}
	pthread_barrier_wait(y->go);
	y->r = store_config_sync(y->s, specs, SYNC_FEEDS);
	if (y->r < 0)
		snprintf(y->err, sizeof(y->err), "%s", store_errmsg(y->s));
	return NULL;
}

START_TEST(test_daemons_started_together_sync_the_same_file)
{
	struct syncer ya = {.s = a}, yb = {.s = b};
	struct store_feed **v = NULL;
	pthread_barrier_t go;
	pthread_t ta, tb;
	size_t n = 0;

	/* Before LOCK_CONFIG one of them failed: "URL '…' given twice". */
	pthread_barrier_init(&go, NULL, 2);
	ya.go = yb.go = &go;
	ck_assert_int_eq(pthread_create(&ta, NULL, sync_file, &ya), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, sync_file, &yb), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&go);
	ck_assert_msg(ya.r == 0, "a: %d %s", ya.r, ya.err);
	ck_assert_msg(yb.r == 0, "b: %d %s", yb.r, yb.err);
	ck_assert_int_eq(store_feeds(a, &v, &n), SYNC_FEEDS);
	ck_assert_uint_eq(n, SYNC_FEEDS);
	store_feeds_free(v, n);
}
END_TEST

static Suite *
lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *pg = tcase_create("pg");
	TCase *lite = tcase_create("sqlite");

	tcase_set_tags(pg, "pg");
	tcase_add_checked_fixture(pg, setup_pg, teardown_pg);
	tcase_add_test(pg, test_lease_due_feed_goes_to_one_daemon_only);
	tcase_add_test(pg, test_lease_take_stops_at_max_and_leaves_the_rest);
	tcase_add_test(pg, test_lease_not_due_or_disabled_is_not_taken);
	tcase_add_test(pg, test_lease_expired_lease_is_taken_over);
	tcase_add_test(pg, test_lease_heartbeat_extends_only_own_leases);
	tcase_add_test(pg, test_lease_release_with_the_saved_schedule);
	tcase_add_test(pg, test_lease_where_skips_rows_being_saved);
	tcase_add_test(pg, test_lease_daemons_lists_each_with_its_leases);
	tcase_add_test(pg, test_lease_unregister_gives_leases_back_and_leaves);
	tcase_add_test(pg, test_lease_register_clears_daemons_dead_for_a_week);
	tcase_add_test(pg, test_lease_thousands_of_ids_in_one_call);
	tcase_add_test(pg, test_lease_describe_names_host_and_database);
	tcase_add_test(pg,
	               test_merge_same_link_from_two_daemons_stores_one_story);
	tcase_add_test(pg, test_merge_unchanged_entries_take_no_lock);
	tcase_add_test(pg, test_daemons_started_together_sync_the_same_file);
	tcase_add_test(
	        pg, test_index_step_leaves_the_indexing_to_the_daemon_indexing);
	suite_add_tcase(s, pg);
	tcase_add_test(lite, test_lease_sqlite_store_has_no_leases);
	suite_add_tcase(s, lite);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lease_suite());
	int failed;

	pg_uri = getenv("GAZETTE_TEST_PG");
	srunner_run_tagged(sr, NULL, NULL, NULL, pg_uri ? NULL : "pg",
	                   CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
