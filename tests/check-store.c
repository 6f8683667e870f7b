/*
 * Unit tests for the store: opening, subscriptions, dedup, marks. With
 * GAZETTE_TEST_PG set to a postgresql:// URI (tests/pg-server.sh starts a
 * server) the same tests run on PostgreSQL, each in a schema of its own,
 * but those about SQLite's files (modes, WAL, old versions, the index
 * file).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gazette/store.h"

/* The schema version store_open migrates to (lib/store-schema.c). */
#define SCHEMA_NOW 10

#define NOW 1700000000

static char dir[64];
static char dbpath[512];
static struct store *st;
static const char *pg_uri; /* GAZETTE_TEST_PG: the tests on PostgreSQL */

/* A fresh schema on the test server; dbpath names it. */
static void
pg_fresh(void)
{
	static int n;
	char q[128];
	PGconn *c = PQconnectdb(pg_uri);
	PGresult *res;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	snprintf(q, sizeof(q), "CREATE SCHEMA t%d_%d", (int)getpid(), ++n);
	res = PQexec(c, q);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s",
	              PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	snprintf(dbpath, sizeof(dbpath), "%s?options=-csearch_path%%3Dt%d_%d",
	         pg_uri, (int)getpid(), n);
}

/* A fresh directory and database for each test. */
static void
setup(void)
{
	char *err = NULL;
	int r;

	snprintf(dir, sizeof(dir), "/tmp/gz-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/gazette.db", dir);
	if (pg_uri)
		pg_fresh();
	r = store_open(dbpath, STORE_CREATE, &st, &err);
	ck_assert_msg(r == 0, "store_open: %d %s", r, err ? err : "");
}

/* Close and remove the database. */
static void
teardown(void)
{
	char p[600];

	store_close(st);
	st = NULL;
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	unlink(dbpath);
	rmdir(dir);
}

/* An entry; NULL strings are absent elements. */
static struct gz_entry
entry(const char *guid, const char *link, const char *title,
      const char *content, int64_t published)
{
	struct gz_entry e;

	memset(&e, 0, sizeof(e));
	e.id = (char *)guid;
	e.link = (char *)link;
	e.title = (char *)title;
	e.content = (char *)content;
	e.published = published;
	e.updated = GZ_NO_DATE;
	return e;
}

/* Merge n entries into feed through URL number url, checking success. */
static struct store_merge_result
merge_n(int64_t feed, size_t url, struct gz_entry *e, size_t n, int64_t now)
{
	struct gz_feed f;
	struct store_merge_result res = {0};
	int r;

	memset(&f, 0, sizeof(f));
	f.entries = e;
	f.n_entries = n;
	f.is_feed = true;
	r = store_merge(st, feed, url, &f, now, &res);
	ck_assert_msg(r == 0, "store_merge: %d %s", r, store_errmsg(st));
	return res;
}

/* Merge one entry. */
static struct store_merge_result
merge1(int64_t feed, size_t url, struct gz_entry e, int64_t now)
{
	return merge_n(feed, url, &e, 1, now);
}

/* Subscribe to a feed with a title and up to three URLs. */
static int64_t
add_feed(const char *title, const char *u0, const char *u1, const char *u2)
{
	const char *urls[3] = {u0, u1, u2};
	struct store_feed_spec spec = {0};
	int64_t id = 0;
	int r;

	spec.title = title;
	spec.urls = urls;
	spec.n_urls = u2 ? 3 : u1 ? 2 : 1;
	r = store_feed_add(st, &spec, &id);
	ck_assert_msg(r == 1, "store_feed_add: %d %s", r, store_errmsg(st));
	return id;
}

/* What a listing saw, for the assertions. */
struct seen {
	int n;
	int64_t ids[64];
	char titles[64][64];
	char links[64][128];
	int64_t published[64];
	bool read[64], starred[64], changed[64];
	size_t n_feeds[64];
	int64_t feed_ids[64][4];
	char feed_titles[64][4][32];
	double rank[64];
	char content[64][64];
};

/* Record a story into a struct seen. */
static int
collect(const struct store_story *s, void *arg)
{
	struct seen *sn = arg;
	int i = sn->n++;

	ck_assert_int_lt(i, 64);
	sn->ids[i] = s->id;
	snprintf(sn->titles[i], sizeof(sn->titles[i]), "%s",
	         s->title ? s->title : "");
	snprintf(sn->links[i], sizeof(sn->links[i]), "%s",
	         s->link ? s->link : "");
	snprintf(sn->content[i], sizeof(sn->content[i]), "%s",
	         s->content ? s->content : "");
	sn->published[i] = s->published;
	sn->read[i] = s->read;
	sn->starred[i] = s->starred;
	sn->changed[i] = s->changed;
	sn->rank[i] = s->rank;
	sn->n_feeds[i] = s->n_feeds;
	for (size_t j = 0; j < s->n_feeds && j < 4; j++) {
		sn->feed_ids[i][j] = s->feed_ids[j];
		snprintf(sn->feed_titles[i][j], sizeof(sn->feed_titles[i][j]),
		         "%s", s->feed_titles[j] ? s->feed_titles[j] : "");
	}
	return 0;
}

/* List with a query into a struct seen; returns the count. */
static int
list(const struct store_query *q, struct seen *sn)
{
	int r;

	memset(sn, 0, sizeof(*sn));
	r = store_stories(st, q, collect, sn);
	ck_assert_msg(r >= 0, "store_stories: %d %s", r, store_errmsg(st));
	ck_assert_int_eq(r, sn->n);
	return r;
}

/* How many stories there are in all. */
static int
count_all(void)
{
	struct store_query q = {0};
	int r = store_stories(st, &q, NULL, NULL);

	ck_assert_int_ge(r, 0);
	return r;
}

/* A separate connection to the test's PostgreSQL schema. */
static PGconn *
pg_connect(void)
{
	PGconn *c = PQconnectdb(dbpath);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

/*
 * One integer from raw SQL on the test's PostgreSQL schema, -1 none;
 * arg binds $1 when not NULL.
 */
static int64_t
pg_raw_int(const char *sql, const char *arg)
{
	PGconn *c = pg_connect();
	PGresult *res =
	        PQexecParams(c, sql, arg ? 1 : 0, NULL, &arg, NULL, NULL, 0);
	int64_t v = -1;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
	              PQerrorMessage(c));
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(c);
	return v;
}

/* Run raw SQL on the test's PostgreSQL schema: 0 (SQLITE_OK) or 1. */
static int
pg_raw_exec(const char *sql)
{
	PGconn *c = pg_connect();
	PGresult *res = PQexec(c, sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ||
	                         PQresultStatus(res) == PGRES_TUPLES_OK
	                 ? SQLITE_OK
	                 : SQLITE_ERROR;

	PQclear(res);
	PQfinish(c);
	return rc;
}

/*
 * One integer from raw SQL on the file, through a separate connection
 * (on PostgreSQL, the store's own SQL on its schema); arg binds ?1 when
 * not NULL.
 */
static int64_t
raw_int_arg(const char *path, const char *sql, const char *arg)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	if (pg_uri && strcmp(path, dbpath) == 0)
		return pg_raw_int(sql, arg);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (arg)
		ck_assert_int_eq(
		        sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC),
		        SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* One integer from raw SQL on the file. */
static int64_t
raw_int(const char *path, const char *sql)
{
	return raw_int_arg(path, sql, NULL);
}

/* Run raw SQL on the file through a separate read-write connection. */
static int
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc;

	if (pg_uri && strcmp(path, dbpath) == 0)
		return pg_raw_exec(sql);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* The index file beside the test's store. */
static const char *
idxpath(const char *store_path)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s.index", store_path);
	return p;
}

/*
 * How many stories the full-text index holds (word NULL) or finds word
 * in: the index file's on SQLite, story_words' on PostgreSQL.
 */
static int64_t
indexed(const char *word)
{
	if (pg_uri && !word)
		return raw_int(dbpath, "SELECT count(*) FROM story_words");
	if (pg_uri)
		return raw_int_arg(
		        dbpath,
		        "SELECT count(*) FROM story_words"
		        " WHERE tsv @@ plainto_tsquery('simple', $1)",
		        word);
	if (!word)
		return raw_int(idxpath(dbpath),
		               "SELECT count(*) FROM story_fts");
	return raw_int_arg(idxpath(dbpath),
	                   "SELECT count(*) FROM story_fts"
	                   " WHERE story_fts MATCH ?1",
	                   word);
}

/* The schema version of the test's database, read apart from the store. */
static int64_t
raw_version(const char *path)
{
	return raw_int(path, pg_uri ? "SELECT version FROM gazette_meta"
	                            : "PRAGMA user_version");
}

/* ---- opening ---- */

/* A URI's password is not what logs and listings show. */
START_TEST(test_display_hides_the_password)
{
	static const char *const cases[][2] = {
	        {"postgresql://gz:s3cret@db.example/gazette",
	         "postgresql://gz:***@db.example/gazette"},
	        {"postgres://gz@db.example/gz?sslmode=require&password=x&a=b",
	         "postgres://gz@db.example/gz?sslmode=require&password=***&a=b"},
	        {"postgresql://gz:p@ss@h/db", "postgresql://gz:***@h/db"},
	        {"postgresql://%2Frun%2Fpg/gazette",
	         "postgresql://%2Frun%2Fpg/gazette"},
	        {"postgresql://u:@h/db?password=",
	         "postgresql://u:***@h/db?password=***"},
	        {"/var/lib/gazette/gazette.db", "/var/lib/gazette/gazette.db"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = store_display(cases[i][0]);

		ck_assert_ptr_nonnull(d);
		ck_assert_str_eq(d, cases[i][1]);
		free(d);
	}
}
END_TEST

START_TEST(test_database_file_is_created_0600)
{
	struct stat sb;

	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
}
END_TEST

START_TEST(test_database_for_group_is_created_0660_with_wal_alike)
{
	char path[192], wal[200], *err = NULL;
	struct store *s2 = NULL;
	struct stat sb;
	mode_t old = umask(0007);
	int r;

	snprintf(path, sizeof(path), "%s/group.db", dir);
	r = store_open(path, STORE_CREATE | STORE_GROUP, &s2, &err);
	umask(old);
	ck_assert_msg(r == 0, "%s", err ? err : "");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0660);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	ck_assert_int_eq(stat(wal, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0660);
	store_close(s2);
	unlink(path);
}
END_TEST

START_TEST(test_database_uses_wal_and_current_schema)
{
	ck_assert_int_eq(raw_int(dbpath, "PRAGMA user_version"), SCHEMA_NOW);
	{
		sqlite3 *db;
		sqlite3_stmt *s;

		ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode",
		                                    -1, &s, NULL),
		                 SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		ck_assert_str_eq((const char *)sqlite3_column_text(s, 0),
		                 "wal");
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
}
END_TEST

START_TEST(test_database_newer_than_code_is_refused)
{
	char path[192], *err = NULL;
	struct store *s2 = NULL;
	sqlite3 *db;
	struct stat before, after;
	int r;

	snprintf(path, sizeof(path), "%s/newer.db", dir);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
	                              "CREATE TABLE future (x);"
	                              "PRAGMA user_version = 99;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(stat(path, &before), 0);

	r = store_open(path, STORE_CREATE, &s2, &err);
	ck_assert_int_eq(r, -EPROTO);
	ck_assert_ptr_null(s2);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	free(err);

	/* Untouched: same version, same size, still not WAL. */
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 99);
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert_int_eq(before.st_size, after.st_size);
	ck_assert_int_eq(before.st_mtime, after.st_mtime);
	{
		char wal[200];

		snprintf(wal, sizeof(wal), "%s-wal", path);
		ck_assert_int_ne(access(wal, F_OK), 0);
	}
	unlink(path);
}
END_TEST

START_TEST(test_empty_file_migrates_to_current_and_reopen_is_idempotent)
{
	char path[192], *err = NULL;
	struct store *s2 = NULL;
	int64_t id = 0;
	int fd, r;

	/* A version-0 database: an empty file. */
	snprintf(path, sizeof(path), "%s/empty.db", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), 0);

	r = store_open(path, 0, &s2, &err);
	ck_assert_msg(r == 0, "%s", err ? err : "");
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), SCHEMA_NOW);
	{
		const char *u[] = {"https://a.example/rss"};
		struct store_feed_spec spec = {.urls = u, .n_urls = 1};

		ck_assert_int_eq(store_feed_add(s2, &spec, &id), 1);
	}
	store_close(s2);

	/* Reopening migrates nothing and keeps the data. */
	r = store_open(path, 0, &s2, &err);
	ck_assert_msg(r == 0, "%s", err ? err : "");
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), SCHEMA_NOW);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM feed"), 1);
	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_schema"
	                               " WHERE name = 'story'"),
	                 1);
	store_close(s2);
	unlink(path);
}
END_TEST

START_TEST(test_missing_file_without_create_is_enoent)
{
	char path[192], *err = NULL;
	struct store *s2 = NULL;

	snprintf(path, sizeof(path), "%s/none.db", dir);
	ck_assert_int_eq(store_open(path, 0, &s2, &err), -ENOENT);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, path));
	free(err);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(test_readonly_store_reads_but_cannot_write)
{
	struct store *ro = NULL;
	char *err = NULL;
	int64_t feed = add_feed("A", "https://a.example/rss", NULL, NULL);
	const char *u[] = {"https://b.example/rss"};
	struct store_feed_spec spec = {.urls = u, .n_urls = 1};
	struct store_query q = {0};
	int64_t id;

	merge1(feed, 0, entry("g1", NULL, "t", NULL, NOW - 10), NOW);
	ck_assert_int_eq(store_open(dbpath, STORE_READONLY, &ro, &err), 0);
	ck_assert_int_eq(store_stories(ro, &q, NULL, NULL), 1);
	ck_assert_int_lt(store_feed_add(ro, &spec, &id), 0);
	ck_assert_int_lt(store_mark_story(ro, 1, STORE_MARK_READ), 0);
	store_close(ro);
}
END_TEST

START_TEST(test_acknowledged_mark_survives_sigkill)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {.flags = STORE_Q_UNREAD};
	int status;
	pid_t pid;

	merge1(a, 0, entry("g1", NULL, "t", NULL, NOW - 10), NOW);
	/* The CLI: open with synchronous=FULL, mark, die at once. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *cli = NULL;

		if (store_open(dbpath, STORE_SYNC_FULL, &cli, NULL) != 0 ||
		    store_mark_story(cli, 1, STORE_MARK_READ) != 1)
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	ck_assert_int_eq(store_stories(st, &q, NULL, NULL), 0);
}
END_TEST

START_TEST(test_close_accepts_null)
{
	store_close(NULL);
	store_feed_free(NULL);
	store_feeds_free(NULL, 0);
}
END_TEST

/* ---- subscriptions ---- */

START_TEST(test_feed_add_is_idempotent_on_url)
{
	const char *u[] = {"https://m.example/rss", "https://a.example/rss"};
	struct store_feed_spec spec = {.urls = u, .n_urls = 2};
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL), id = 0;
	struct store_feed **v = NULL;
	size_t n = 0;

	ck_assert_int_eq(store_feed_add(st, &spec, &id), 0);
	ck_assert_int_eq(id, a);
	ck_assert_int_eq(store_feeds(st, &v, &n), 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(v[0]->n_urls, 1);
	store_feeds_free(v, n);
}
END_TEST

START_TEST(test_feed_keeps_urls_in_order_with_proxies)
{
	const char *u[] = {"https://a.example/rss", "https://b.example/rss",
	                   "http://xyz.onion/rss"};
	const char *p[] = {NULL, NULL, "socks5h://127.0.0.1:9050"};
	struct store_feed_spec spec = {.title = "Press",
	                               .category = "News",
	                               .interval = 900,
	                               .urls = u,
	                               .proxies = p,
	                               .n_urls = 3};
	struct store_feed *f = NULL;
	int64_t id;

	ck_assert_int_eq(store_feed_add(st, &spec, &id), 1);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_str_eq(f->title, "Press");
	ck_assert_str_eq(f->category, "News");
	ck_assert_int_eq(f->interval, 900);
	ck_assert_uint_eq(f->n_urls, 3);
	ck_assert_str_eq(f->urls[0].url, u[0]);
	ck_assert_str_eq(f->urls[2].url, u[2]);
	ck_assert_ptr_null(f->urls[0].proxy);
	ck_assert_str_eq(f->urls[2].proxy, p[2]);
	ck_assert_int_eq(f->last_served, -1);
	store_feed_free(f);
	ck_assert_int_eq(store_feed_get(st, id + 100, &f), -ENOENT);
}
END_TEST

START_TEST(test_untitled_feed_shows_parsed_title_then_user_title)
{
	int64_t id = add_feed(NULL, "https://a.example/rss", NULL, NULL);
	struct store_feed *f = NULL;

	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_str_eq(f->title, "https://a.example/rss");
	store_feed_free(f);
	ck_assert_int_eq(store_feed_set_parsed_title(st, id, "Parsed"), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_str_eq(f->title, "Parsed");
	store_feed_free(f);
	ck_assert_int_eq(store_feed_rename(st, id, "Mine"), 0);
	ck_assert_int_eq(store_feed_set_parsed_title(st, id, "Other"), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_str_eq(f->title, "Mine");
	store_feed_free(f);
	ck_assert_int_eq(store_feed_rename(st, id + 1, "x"), -ENOENT);
}
END_TEST

START_TEST(test_feed_find_by_id_url_and_title_prefix)
{
	int64_t a = add_feed("Press TV", "https://a.example/rss", NULL, NULL);
	int64_t b =
	        add_feed("Press Review", "https://b.example/rss", NULL, NULL);
	int64_t c = add_feed("Press", "https://c.example/rss", NULL, NULL);
	int64_t id = 0;
	char num[32];

	snprintf(num, sizeof(num), "%lld", (long long)b);
	ck_assert_int_eq(store_feed_find(st, num, &id), 0);
	ck_assert_int_eq(id, b);
	ck_assert_int_eq(store_feed_find(st, "press t", &id), 0);
	ck_assert_int_eq(id, a);
	ck_assert_int_eq(store_feed_find(st, "https://b.example/rss", &id), 0);
	ck_assert_int_eq(id, b);
	/* An exact title wins over the titles it is a prefix of. */
	ck_assert_int_eq(store_feed_find(st, "press", &id), 0);
	ck_assert_int_eq(id, c);
	ck_assert_int_eq(store_feed_find(st, "Press R", &id), 0);
	ck_assert_int_eq(id, b);
	ck_assert_int_eq(store_feed_find(st, "Pr", &id), -EEXIST);
	ck_assert_int_eq(store_feed_find(st, "Nothing", &id), -ENOENT);
	ck_assert_int_eq(store_feed_find(st, "999", &id), -ENOENT);
}
END_TEST

START_TEST(test_mirror_add_remove_and_reorder)
{
	int64_t id = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t other = add_feed("B", "https://b.example/rss", NULL, NULL);
	struct store_feed *f = NULL;
	struct store_feed g;

	ck_assert_int_eq(
	        store_mirror_add(st, id, "https://m1.example/rss", NULL), 0);
	ck_assert_int_eq(store_mirror_add(st, id, "http://x.onion/rss",
	                                  "socks5h://127.0.0.1:9050"),
	                 0);
	ck_assert_int_eq(
	        store_mirror_add(st, id, "https://b.example/rss", NULL),
	        -EEXIST);
	(void)other;

	/* The daemon prefers the onion mirror; a reorder keeps that. */
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	g = *f;
	g.preferred = 2;
	g.last_served = 2;
	ck_assert_int_eq(store_feed_save_schedule(st, &g), 0);
	store_feed_free(f);

	ck_assert_int_eq(store_url_move(st, id, "http://x.onion/rss", 0), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_uint_eq(f->n_urls, 3);
	ck_assert_str_eq(f->urls[0].url, "http://x.onion/rss");
	ck_assert_str_eq(f->urls[0].proxy, "socks5h://127.0.0.1:9050");
	ck_assert_str_eq(f->urls[1].url, "https://a.example/rss");
	ck_assert_str_eq(f->urls[2].url, "https://m1.example/rss");
	ck_assert_int_eq(f->preferred, 0);
	ck_assert_int_eq(f->last_served, 0);
	store_feed_free(f);

	ck_assert_int_eq(store_url_move(st, id, "http://x.onion/rss", 9), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_str_eq(f->urls[2].url, "http://x.onion/rss");
	ck_assert_int_eq(f->preferred, 2);
	store_feed_free(f);

	ck_assert_int_eq(store_mirror_remove(st, id, "https://m1.example/rss"),
	                 0);
	ck_assert_int_eq(store_mirror_remove(st, id, "https://no.example/rss"),
	                 -ENOENT);
	ck_assert_int_eq(store_mirror_remove(st, id, "https://a.example/rss"),
	                 0);
	ck_assert_int_eq(store_mirror_remove(st, id, "http://x.onion/rss"),
	                 -EINVAL);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_uint_eq(f->n_urls, 1);
	ck_assert_str_eq(f->urls[0].url, "http://x.onion/rss");
	ck_assert_int_eq(f->preferred, 0);
	store_feed_free(f);
}
END_TEST

START_TEST(test_url_record_keeps_validators_per_url_and_counts_redirects)
{
	int64_t id = add_feed("A", "https://a.example/rss",
	                      "https://b.example/rss", NULL);
	struct store_feed *f = NULL;
	struct store_attempt a = {0};
	int64_t u0, u1;

	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	u0 = f->urls[0].id;
	u1 = f->urls[1].id;
	store_feed_free(f);

	a.url_id = u0;
	a.when = NOW;
	a.status = 200;
	a.etag = "\"e0\"";
	a.last_modified = "Tue, 14 Nov 2023 22:13:20 GMT";
	ck_assert_int_eq(store_url_record(st, &a), 0);
	a.url_id = u1;
	a.etag = "\"e1\"";
	a.last_modified = NULL;
	ck_assert_int_eq(store_url_record(st, &a), 0);
	/* A failure keeps the validators and the last success. */
	a.url_id = u0;
	a.when = NOW + 60;
	a.status = 503;
	a.error = "HTTP 503";
	a.etag = NULL;
	ck_assert_int_eq(store_url_record(st, &a), 0);
	/* The same permanent redirect twice in a row counts 2. */
	memset(&a, 0, sizeof(a));
	a.url_id = u1;
	a.when = NOW + 120;
	a.status = 200;
	a.redirect = "https://c.example/rss";
	ck_assert_int_eq(store_url_record(st, &a), 0);
	a.when = NOW + 180;
	ck_assert_int_eq(store_url_record(st, &a), 0);

	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_str_eq(f->urls[0].etag, "\"e0\"");
	ck_assert_str_eq(f->urls[0].last_modified,
	                 "Tue, 14 Nov 2023 22:13:20 GMT");
	ck_assert_int_eq(f->urls[0].last_status, 503);
	ck_assert_str_eq(f->urls[0].last_error, "HTTP 503");
	ck_assert_int_eq(f->urls[0].last_ok, NOW);
	ck_assert_int_eq(f->urls[0].last_tried, NOW + 60);
	ck_assert_str_eq(f->urls[1].etag, "\"e1\"");
	ck_assert_ptr_null(f->urls[1].last_modified);
	ck_assert_ptr_null(f->urls[1].last_error);
	ck_assert_str_eq(f->urls[1].redirect, "https://c.example/rss");
	ck_assert_int_eq(f->urls[1].redirect_count, 2);
	store_feed_free(f);

	/* The daemon then moves the URL; the old one is remembered. */
	ck_assert_int_eq(store_url_update(st, u1, "https://c.example/rss"), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_str_eq(f->urls[1].url, "https://c.example/rss");
	ck_assert_str_eq(f->urls[1].moved_from, "https://b.example/rss");
	ck_assert_ptr_null(f->urls[1].redirect);
	ck_assert_int_eq(f->urls[1].redirect_count, 0);
	store_feed_free(f);
	ck_assert_int_eq(store_url_update(st, u1, "https://a.example/rss"),
	                 -EEXIST);
}
END_TEST

START_TEST(test_schedule_and_disabled_state_are_saved)
{
	int64_t id = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_feed *f = NULL, g;

	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	g = *f;
	g.next_poll = NOW + 1800;
	g.error_count = 3;
	g.failing_since = NOW - 100;
	g.retry_after = NOW + 60;
	g.hint = 3600;
	g.primary_probe = NOW - 5;
	ck_assert_int_eq(store_feed_save_schedule(st, &g), 0);
	store_feed_free(f);
	ck_assert_int_eq(store_feed_set_disabled(st, id, true, "410 Gone"), 0);
	ck_assert_int_eq(store_feed_set_interval(st, id, 600), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_int_eq(f->next_poll, NOW + 1800);
	ck_assert_int_eq(f->error_count, 3);
	ck_assert_int_eq(f->failing_since, NOW - 100);
	ck_assert_int_eq(f->retry_after, NOW + 60);
	ck_assert_int_eq(f->hint, 3600);
	ck_assert_int_eq(f->primary_probe, NOW - 5);
	ck_assert(f->disabled);
	ck_assert_str_eq(f->disabled_reason, "410 Gone");
	ck_assert_int_eq(f->interval, 600);
	store_feed_free(f);
}
END_TEST

/* PRAGMA data_version of a connection: it moves when another commits. */
static int64_t
data_version(sqlite3 *db)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	ck_assert_int_eq(
	        sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &s, NULL),
	        SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

START_TEST(test_config_sync_of_an_unchanged_file_writes_nothing)
{
	const char *u[] = {"https://one.example/rss",
	                   "https://one-mirror.example/rss"};
	const char *px[] = {NULL, "socks5h://127.0.0.1:9050"};
	struct store_feed_spec spec = {.title = "One",
	                               .category = "news",
	                               .interval = 600,
	                               .urls = u,
	                               .proxies = px,
	                               .n_urls = 2,
	                               .from_config = true};
	struct store_feed *f = NULL;
	int64_t before, id = 0;
	sqlite3 *db;

	ck_assert_int_eq(store_config_sync(st, &spec, 1), 0);
	ck_assert_int_eq(
	        sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
	        SQLITE_OK);
	before = data_version(db);
	ck_assert_int_eq(store_config_sync(st, &spec, 1), 0);
	ck_assert_int_eq(data_version(db), before);
	/* One change anywhere is written: here a mirror's proxy. */
	px[1] = NULL;
	ck_assert_int_eq(store_config_sync(st, &spec, 1), 0);
	ck_assert_int_ne(data_version(db), before);
	sqlite3_close(db);
	ck_assert_int_ge(store_feed_find(st, "https://one.example/rss", &id),
	                 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_ptr_null(f->urls[1].proxy);
	ck_assert_str_eq(f->category, "news");
	store_feed_free(f);
}
END_TEST

START_TEST(test_feeds_uncounted_lists_the_same_feeds_without_counts)
{
	int64_t id = add_feed("Mine", "https://mine.example/rss",
	                      "https://mirror.example/rss", NULL);
	struct store_feed **v = NULL, **w = NULL;
	size_t n = 0, m = 0;

	merge1(id, 0, entry("g", NULL, "a story", NULL, NOW - 5), NOW);
	ck_assert_int_eq(store_feeds(st, &v, &n), 1);
	ck_assert_int_eq(v[0]->total, 1);
	ck_assert_int_eq(v[0]->unread, 1);
	ck_assert_int_eq(store_feeds_uncounted(st, &w, &m), 1);
	ck_assert_int_eq(w[0]->id, v[0]->id);
	ck_assert_str_eq(w[0]->title, v[0]->title);
	ck_assert_uint_eq(w[0]->n_urls, 2);
	ck_assert_str_eq(w[0]->urls[1].url, "https://mirror.example/rss");
	ck_assert_int_eq(w[0]->total, 0);
	ck_assert_int_eq(w[0]->unread, 0);
	store_feeds_free(v, n);
	store_feeds_free(w, m);
}
END_TEST

/*
 * A sync looks every feed up at once, before writing any: a look that an
 * earlier feed's write has made stale is made again in turn, so that the
 * result is the one of looking each up after the writes before it.
 */
START_TEST(test_config_sync_looks_again_where_an_earlier_feed_wrote)
{
	const char *ua[] = {"https://a.example/rss"};
	const char *ub[] = {"https://b.example/rss"};
	const char *upa[] = {"https://p.example/rss", "https://a.example/rss"};
	const char *ud[] = {"https://d.example/rss"};
	const char *ue[] = {"https://e.example/rss"};
	struct store_feed_spec specs[2] = {
	        {.title = "X", .urls = ua, .n_urls = 1, .from_config = true},
	        {.title = "Y", .urls = ub, .n_urls = 1, .from_config = true},
	};
	struct store_feed **v = NULL;
	size_t n = 0;
	int64_t x, id;

	ck_assert_int_eq(store_config_sync(st, specs, 2), 0);
	ck_assert_int_eq(store_feed_find(st, "X", &x), 0);
	/*
	 * P is X by its second URL, and takes X's title away; Q has that
	 * title, which it no longer finds once P is written: a new feed.
	 */
	specs[0] = (struct store_feed_spec){
	        .title = "P", .urls = upa, .n_urls = 2, .from_config = true};
	specs[1] = (struct store_feed_spec){
	        .title = "X", .urls = ud, .n_urls = 1, .from_config = true};
	ck_assert_int_eq(store_config_sync(st, specs, 2), 0);
	ck_assert_int_eq(store_feed_find(st, "P", &id), 0);
	ck_assert_int_eq(id, x);
	ck_assert_int_eq(store_feed_find(st, "X", &id), 0);
	ck_assert_int_ne(id, x);
	ck_assert_int_eq(store_feeds(st, &v, &n), 2);
	store_feeds_free(v, n);
	/* One URL in two entries: the second finds the first's feed. */
	specs[0] = (struct store_feed_spec){
	        .title = "A", .urls = ue, .n_urls = 1, .from_config = true};
	specs[1] = (struct store_feed_spec){
	        .title = "B", .urls = ue, .n_urls = 1, .from_config = true};
	ck_assert_int_eq(store_config_sync(st, specs, 2), 0);
	ck_assert_int_eq(store_feeds(st, &v, &n), 1);
	ck_assert_str_eq(v[0]->title, "B");
	ck_assert_str_eq(v[0]->urls[0].url, "https://e.example/rss");
	store_feeds_free(v, n);
}
END_TEST

START_TEST(test_config_sync_adds_updates_removes)
{
	const char *u1[] = {"https://one.example/rss"};
	const char *u2[] = {"https://two.example/rss",
	                    "https://two-mirror.example/rss"};
	const char *u2b[] = {"https://two-mirror.example/rss",
	                     "https://two-new.example/rss"};
	const char *u3[] = {"https://three.example/rss"};
	struct store_feed_spec specs[2] = {
	        {.title = "One", .urls = u1, .n_urls = 1, .from_config = true},
	        {.title = "Two", .urls = u2, .n_urls = 2, .from_config = true},
	};
	int64_t user = add_feed("Mine", "https://mine.example/rss", NULL, NULL);
	struct store_feed **v = NULL;
	size_t n = 0;
	int64_t one, two, id;

	ck_assert_int_eq(store_config_sync(st, specs, 2), 0);
	ck_assert_int_eq(store_feeds(st, &v, &n), 3);
	ck_assert(!v[0]->from_config);
	ck_assert(v[1]->from_config);
	ck_assert_str_eq(v[1]->title, "One");
	ck_assert_str_eq(v[2]->title, "Two");
	one = v[1]->id;
	two = v[2]->id;
	store_feeds_free(v, n);
	merge1(one, 0, entry("g", NULL, "story of one", NULL, NOW - 5), NOW);

	/* Again: nothing changes. */
	ck_assert_int_eq(store_config_sync(st, specs, 2), 0);
	ck_assert_int_eq(store_feeds(st, &v, &n), 3);
	store_feeds_free(v, n);

	/* "One" goes with its stories, "Two" changes, "Three" comes. */
	specs[0] = (struct store_feed_spec){.title = "Two",
	                                    .interval = 300,
	                                    .urls = u2b,
	                                    .n_urls = 2,
	                                    .from_config = true};
	specs[1] = (struct store_feed_spec){
	        .title = "Three", .urls = u3, .n_urls = 1, .from_config = true};
	ck_assert_int_eq(store_config_sync(st, specs, 2), 0);
	ck_assert_int_eq(store_feeds(st, &v, &n), 3);
	ck_assert_int_eq(v[0]->id, user);
	ck_assert_int_eq(v[1]->id, two);
	ck_assert_int_eq(v[1]->interval, 300);
	ck_assert_uint_eq(v[1]->n_urls, 2);
	ck_assert_str_eq(v[1]->urls[0].url, "https://two-mirror.example/rss");
	ck_assert_str_eq(v[1]->urls[1].url, "https://two-new.example/rss");
	ck_assert_str_eq(v[2]->title, "Three");
	store_feeds_free(v, n);
	ck_assert_int_eq(store_feed_get(st, one, &(struct store_feed *){0}),
	                 -ENOENT);
	ck_assert_int_eq(count_all(), 0);
	ck_assert_int_eq(store_feed_find(st, "Mine", &id), 0);
}
END_TEST

START_TEST(test_remove_feed_keeps_story_of_other_feed)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
	struct gz_entry ea[] = {
	        entry("a1", "https://news.example/shared", "shared", NULL,
	              NOW - 10),
	        entry("a2", "https://a.example/only", "only a", NULL, NOW - 9),
	        entry("a3", "https://a.example/starred", "starred", NULL,
	              NOW - 8),
	};
	struct seen sn;
	struct store_query q = {0};

	merge_n(a, 0, ea, 3, NOW);
	merge1(b, 0,
	       entry("b1", "https://news.example/shared", "shared", NULL,
	             NOW - 10),
	       NOW);
	ck_assert_int_eq(count_all(), 3);
	list(&q, &sn);
	for (int i = 0; i < sn.n; i++)
		if (strcmp(sn.titles[i], "starred") == 0)
			ck_assert_int_eq(store_mark_story(st, sn.ids[i],
			                                  STORE_MARK_STAR),
			                 1);

	ck_assert_int_eq(store_feed_remove(st, a), 0);
	ck_assert_int_eq(store_feed_remove(st, a), -ENOENT);
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 2);
	ck_assert_str_eq(sn.titles[0], "starred");
	ck_assert_uint_eq(sn.n_feeds[0], 0);
	ck_assert_str_eq(sn.titles[1], "shared");
	ck_assert_uint_eq(sn.n_feeds[1], 1);
	ck_assert_int_eq(sn.feed_ids[1][0], b);
}
END_TEST

/* ---- merging ---- */

/*
 * A merge the server refuses halfway (a trigger here; a constraint two
 * daemons race for in life) fails whole and keeps nothing, and the
 * connection is whole after it: on PostgreSQL the refusal comes back
 * among queued answers, and the ones after it were aborted.
 */
/*
 * A new story's merge looks its link up among the stories before it and
 * takes the lowest id. On PostgreSQL the daemon's connection plans that
 * once for its life (a generic plan, made with no statistics yet), and
 * with only the link in story_link the plan walked story_pkey in id
 * order, filtering on the link: every new story read all the stories
 * before it. With the id in the index that plan has nothing to win.
 */
START_TEST(test_link_lookup_reads_the_link_index_under_any_plan)
{
	static char guid[10000][16], link[10000][40];
	struct gz_entry e[100];
	int64_t feed;

	/* No statistics on the links (autovacuum may not analyze meanwhile). */
	if (pg_uri)
		ck_assert_int_eq(raw_exec(dbpath,
		                          "ALTER TABLE story SET"
		                          " (autovacuum_enabled = off)"),
		                 SQLITE_OK);
	for (int f = 0; f < 100; f++) {
		char title[16];

		snprintf(title, sizeof(title), "f%d", f);
		feed = add_feed(title, title, NULL, NULL);
		for (int i = 0; i < 100; i++) {
			int k = f * 100 + i;

			snprintf(guid[k], sizeof(guid[k]), "g%d", k);
			snprintf(link[k], sizeof(link[k]),
			         "http://lookup.test/%d", k);
			e[i] = entry(guid[k], link[k], "t", "c", 1000 + k);
		}
		merge_n(feed, 0, e, 100, 5000);
	}
	ck_assert_int_eq(count_all(), 10000);
	if (!pg_uri) {
		ck_assert_int_eq(raw_int(dbpath,
		                         "SELECT group_concat(name)"
		                         " = 'link_key,id' FROM"
		                         " pragma_index_info('story_link')"),
		                 1);
		return;
	}
	ck_assert_int_eq(
	        raw_exec(dbpath,
	                 "CREATE FUNCTION lookup_plan() RETURNS SETOF text"
	                 " LANGUAGE plpgsql AS $$ DECLARE l text; BEGIN"
	                 " SET LOCAL plan_cache_mode = force_generic_plan;"
	                 " EXECUTE 'PREPARE q(text, bigint) AS SELECT id"
	                 "  FROM story WHERE link_key = $1 AND NOT EXISTS"
	                 "  (SELECT 1 FROM membership m"
	                 "  WHERE m.story_id = story.id AND m.feed_id = $2)"
	                 "  ORDER BY id LIMIT 1';"
	                 " FOR l IN EXECUTE 'EXPLAIN EXECUTE q(''x'', 1)'"
	                 "  LOOP RETURN NEXT l; END LOOP;"
	                 " DEALLOCATE q; END $$"),
	        SQLITE_OK);
	/* What the daemon planned with. */
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM pg_stats"
	                                 " WHERE schemaname = current_schema()"
	                                 " AND tablename = 'story'"
	                                 " AND attname = 'link_key'"),
	                 0);
	ck_assert_int_eq(raw_int(dbpath,
	                         "SELECT count(*) FROM lookup_plan() p(l)"
	                         " WHERE position('story_pkey' IN l) > 0"),
	                 0);
	ck_assert_int_eq(raw_int(dbpath,
	                         "SELECT count(*) FROM lookup_plan() p(l)"
	                         " WHERE position('story_link' IN l) > 0"),
	                 1);
}
END_TEST

/*
 * A feed removed (by another daemon's sync, say) before its poll is
 * merged: the merge fails and writes nothing for it. On PostgreSQL no
 * foreign key refuses a membership of a feed that is gone (schema 10):
 * the merge's look at its feed does.
 */
START_TEST(test_merge_into_a_removed_feed_stores_nothing)
{
	struct gz_entry e =
	        entry("g1", "http://removed.test/1", "t", "c", 1000);
	struct gz_feed f;
	struct store_merge_result res = {0};
	int64_t feed = add_feed("gone", "http://removed.test/feed", NULL, NULL);

	ck_assert_int_eq(raw_exec(dbpath, "DELETE FROM feed_url;"
	                                  " DELETE FROM feed"),
	                 SQLITE_OK);
	memset(&f, 0, sizeof(f));
	f.entries = &e;
	f.n_entries = 1;
	f.is_feed = true;
	ck_assert_int_eq(store_merge(st, feed, 0, &f, 5000, &res), -ENOENT);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM membership"), 0);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM story"), 0);
}
END_TEST

/* Removing a story or a feed removes its memberships. */
START_TEST(test_removed_stories_and_feeds_leave_no_memberships)
{
	int64_t a = add_feed("a", "http://cascade.test/a", NULL, NULL);
	int64_t b = add_feed("b", "http://cascade.test/b", NULL, NULL);

	merge1(a, 0, entry("g1", "http://cascade.test/1", "t", "c", 1000),
	       5000);
	merge1(a, 0, entry("g2", "http://cascade.test/2", "t", "c", 1000),
	       5000);
	merge1(b, 0, entry("g1", "http://cascade.test/1", "t", "c", 1000),
	       5000);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM membership"), 3);
	/* (A connection of SQLite's enforces foreign keys when asked.) */
	ck_assert_int_eq(
	        raw_exec(dbpath, pg_uri ? "DELETE FROM story WHERE"
	                                  " link = 'http://cascade.test/2'"
	                                : "PRAGMA foreign_keys = ON;"
	                                  "DELETE FROM story WHERE"
	                                  " link = 'http://cascade.test/2'"),
	        SQLITE_OK);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM membership"), 2);
	ck_assert_int_eq(store_feed_remove(st, b), 0);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM membership"), 1);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM story"), 1);
}
END_TEST

START_TEST(test_merge_refused_by_the_server_keeps_nothing)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[3] = {
	        entry("1", "https://a.example/1", "one", "body", NOW - 30),
	        entry("2", "https://a.example/2", "two", "body", NOW - 20),
	        entry("3", "https://a.example/3", "three", "body", NOW - 10),
	};
	struct gz_feed f = {.entries = e, .n_entries = 3, .is_feed = true};
	struct store_merge_result res = {0};

	ck_assert_int_eq(
	        raw_exec(dbpath,
	                 pg_uri ? "CREATE FUNCTION refuse() RETURNS trigger"
	                          " LANGUAGE plpgsql AS $$ BEGIN"
	                          " IF NEW.guid = '2' THEN"
	                          " RAISE EXCEPTION 'refused'; END IF;"
	                          " RETURN NEW; END $$;"
	                          "CREATE TRIGGER refuse BEFORE INSERT ON story"
	                          " FOR EACH ROW EXECUTE FUNCTION refuse()"
	                        : "CREATE TRIGGER refuse BEFORE INSERT ON story"
	                          " WHEN NEW.guid = '2' BEGIN"
	                          " SELECT RAISE(ABORT, 'refused'); END"),
	        SQLITE_OK);
	ck_assert_int_lt(store_merge(st, a, 0, &f, NOW, &res), 0);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM story"), 0);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM membership"), 0);
	ck_assert_int_eq(
	        raw_exec(dbpath, pg_uri ? "DROP TRIGGER refuse ON story"
	                                : "DROP TRIGGER refuse"),
	        SQLITE_OK);
	res = merge_n(a, 0, e, 3, NOW);
	ck_assert_int_eq(res.new_stories, 3);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM story"), 3);
}
END_TEST

START_TEST(test_merge_same_guid_twice_stores_one_story)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_merge_result r;

	r = merge1(a, 0, entry("g1", "https://a.example/1", "t", "c", NOW - 5),
	           NOW);
	ck_assert_int_eq(r.new_stories, 1);
	r = merge1(a, 0, entry("g1", "https://a.example/1", "t", "c", NOW - 5),
	           NOW + 60);
	ck_assert_int_eq(r.new_stories, 0);
	ck_assert_int_eq(r.unchanged, 1);
	ck_assert_int_eq(r.updated, 0);
	ck_assert_int_eq(count_all(), 1);
}
END_TEST

START_TEST(test_merge_guid_change_with_same_link_makes_no_duplicate)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_merge_result r;

	merge1(a, 0, entry("old-1", "https://a.example/p/1", "t", "c", NOW - 5),
	       NOW);
	r = merge1(a, 0,
	           entry("tag:new,2023:1", "http://A.example/p/1#x", "t", "c",
	                 NOW - 5),
	           NOW + 60);
	ck_assert_int_eq(r.new_stories, 0);
	ck_assert_int_eq(r.unchanged, 1);
	ck_assert_int_eq(count_all(), 1);
	/* And the new guid is what it is known by from now on. */
	r = merge1(a, 0,
	           entry("tag:new,2023:1", "https://a.example/p/1", "t", "c",
	                 NOW - 5),
	           NOW + 120);
	ck_assert_int_eq(r.unchanged, 1);
	ck_assert_int_eq(count_all(), 1);
}
END_TEST

START_TEST(test_merge_via_mirror_host_makes_no_duplicate)
{
	int64_t a = add_feed("A", "https://a.example/rss",
	                     "http://mirror.example/rss", "http://x.onion/rss");
	struct store_merge_result r;
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0,
	       entry("https://a.example/p/1", "https://a.example/p/1", "t", "c",
	             NOW - 5),
	       NOW);
	r = merge1(a, 1,
	           entry("http://mirror.example/p/1",
	                 "http://mirror.example/p/1", "t", "c", NOW - 5),
	           NOW + 60);
	ck_assert_int_eq(r.new_stories, 0);
	r = merge1(a, 2,
	           entry("http://x.onion/p/1", "http://x.onion/p/1", "t", "c",
	                 NOW - 5),
	           NOW + 120);
	ck_assert_int_eq(r.new_stories, 0);
	ck_assert_int_eq(count_all(), 1);

	/* A story first seen through a mirror keeps the link as served. */
	r = merge1(
	        a, 1,
	        entry(NULL, "http://mirror.example/p/2", "t2", "c2", NOW - 5),
	        NOW + 180);
	ck_assert_int_eq(r.new_stories, 1);
	r = merge1(a, 0,
	           entry(NULL, "https://a.example/p/2", "t2", "c2", NOW - 5),
	           NOW + 240);
	ck_assert_int_eq(r.new_stories, 0);
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 2);
	ck_assert_str_eq(sn.links[0], "http://mirror.example/p/2");
	ck_assert_str_eq(sn.links[1], "https://a.example/p/1");
}
END_TEST

START_TEST(test_merge_same_link_in_two_feeds_is_one_story)
{
	int64_t a = add_feed("Feed A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("Feed B", "https://b.example/rss", NULL, NULL);
	struct store_merge_result r;
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0,
	       entry("a-1", "https://news.example/story", "t", "c", NOW - 5),
	       NOW);
	r = merge1(b, 0,
	           entry("b-1", "http://news.example/story", "t", "c", NOW - 5),
	           NOW + 10);
	ck_assert_int_eq(r.new_stories, 0);
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 1);
	ck_assert_uint_eq(sn.n_feeds[0], 2);
	ck_assert_int_eq(sn.feed_ids[0][0], a);
	ck_assert_int_eq(sn.feed_ids[0][1], b);
	ck_assert_str_eq(sn.feed_titles[0][0], "Feed A");
	ck_assert_str_eq(sn.feed_titles[0][1], "Feed B");

	/* Read once, read everywhere. */
	ck_assert_int_eq(store_mark_story(st, sn.ids[0], STORE_MARK_READ), 1);
	q.flags = STORE_Q_UNREAD;
	q.feed_id = b;
	ck_assert_int_eq(list(&q, &sn), 0);
	/* Merging b again does not make it a second story. */
	r = merge1(b, 0,
	           entry("b-1", "http://news.example/story", "t", "c", NOW - 5),
	           NOW + 20);
	ck_assert_int_eq(r.unchanged, 1);
	ck_assert_int_eq(count_all(), 1);
}
END_TEST

START_TEST(test_merge_repeated_guid_with_different_links_keeps_both)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("same", "https://a.example/p/1", "one", "c1", NOW - 5),
	        entry("same", "https://a.example/p/2", "two", "c2", NOW - 4),
	};
	struct store_merge_result r;

	r = merge_n(a, 0, e, 2, NOW);
	ck_assert_int_eq(r.new_stories, 2);
	r = merge_n(a, 0, e, 2, NOW + 60);
	ck_assert_int_eq(r.new_stories, 0);
	ck_assert_int_eq(r.unchanged, 2);
	/* Later the feed shows only the second one: still two stories. */
	r = merge_n(a, 0, &e[1], 1, NOW + 120);
	ck_assert_int_eq(r.unchanged, 1);
	ck_assert_int_eq(count_all(), 2);
}
END_TEST

START_TEST(test_merge_link_shared_by_entries_keeps_them_apart)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("g1", "https://a.example/", "one", "c1", NOW - 5),
	        entry("g2", "https://a.example/", "two", "c2", NOW - 4),
	};
	struct store_merge_result r;

	r = merge_n(a, 0, e, 2, NOW);
	ck_assert_int_eq(r.new_stories, 2);
	/* A later poll with one new entry on the same home-page link. */
	r = merge1(a, 0, entry("g3", "https://a.example/", "three", "c3", NOW),
	           NOW + 60);
	ck_assert_int_eq(r.new_stories, 1);
	ck_assert_int_eq(count_all(), 3);
}
END_TEST

START_TEST(test_merge_same_entry_twice_in_one_document_stores_one_story)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry(NULL, "https://a.example/p/1", "t", "c", NOW - 5),
	        entry(NULL, "https://a.example/p/1", "t", "c", NOW - 5),
	        entry("g", "https://a.example/p/2", "t2", "c", NOW - 5),
	        entry("g", "https://a.example/p/2", "t2", "c", NOW - 5),
	        entry(NULL, NULL, "t3", "c", NOW - 5),
	        entry(NULL, NULL, "t3", "c", NOW - 5),
	};
	struct store_merge_result r;

	/* the feed's first merge: nothing stored to look up, but itself */
	r = merge_n(a, 0, e, 6, NOW);
	ck_assert_int_eq(r.new_stories, 3);
	ck_assert_int_eq(r.unchanged, 3);
	ck_assert_int_eq(count_all(), 3);
	r = merge_n(a, 0, e, 6, NOW + 60);
	ck_assert_int_eq(r.new_stories, 0);
	ck_assert_int_eq(count_all(), 3);
}
END_TEST

/*
 * Identities worked out away from the store (the daemon's parser thread)
 * hold only while the feed's URLs give the hosts they were made under: a
 * mirror added since is folded all the same.
 */
START_TEST(test_merge_prepared_under_other_urls_works_them_out_again)
{
	int64_t a = add_feed("A", "https://a.example/rss",
	                     "http://mirror.example/rss", NULL);
	const char *old_urls[] = {"https://a.example/rss"};
	const char *urls[] = {"https://a.example/rss",
	                      "http://mirror.example/rss"};
	struct gz_entry e1 = entry("https://a.example/p/1",
	                           "https://a.example/p/1", "t", "c", NOW - 5);
	struct gz_entry e2 =
	        entry("http://mirror.example/p/1", "http://mirror.example/p/1",
	              "t", "c", NOW - 5);
	struct gz_feed f = {.entries = &e1, .n_entries = 1, .is_feed = true};
	struct store_merge_result r = {0};
	struct store_merge_prep *mp;

	mp = store_merge_prepare(urls, 2, &f);
	ck_assert_ptr_nonnull(mp);
	ck_assert_int_eq(store_merge_prepared(st, a, 0, &f, mp, NOW, &r), 0);
	ck_assert_int_eq(r.new_stories, 1);
	store_merge_prep_free(mp);

	/* made before the mirror was known: the mirror's host not folded */
	f.entries = &e2;
	mp = store_merge_prepare(old_urls, 1, &f);
	ck_assert_ptr_nonnull(mp);
	ck_assert_int_eq(store_merge_prepared(st, a, 1, &f, mp, NOW + 60, &r),
	                 0);
	ck_assert_int_eq(r.new_stories, 0);
	ck_assert_int_eq(r.unchanged, 1);
	ck_assert_int_eq(count_all(), 1);
	store_merge_prep_free(mp);
}
END_TEST

START_TEST(test_merge_without_guid_or_link_uses_content_hash)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_merge_result r;

	merge1(a, 0, entry(NULL, NULL, "t", "c", NOW - 5), NOW);
	r = merge1(a, 0, entry(NULL, NULL, "t", "c", NOW - 5), NOW + 60);
	ck_assert_int_eq(r.unchanged, 1);
	r = merge1(a, 0, entry(NULL, NULL, "t", "other", NOW - 5), NOW + 60);
	ck_assert_int_eq(r.new_stories, 1);
	ck_assert_int_eq(count_all(), 2);
}
END_TEST

START_TEST(test_merge_changed_title_keeps_read_state_and_flags_updated)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_merge_result r;
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0, entry("g1", "https://a.example/1", "Old", "c", NOW - 5),
	       NOW);
	list(&q, &sn);
	ck_assert(!sn.changed[0]);
	ck_assert_int_eq(store_mark_story(st, sn.ids[0], STORE_MARK_READ), 1);
	r = merge1(a, 0,
	           entry("g1", "https://a.example/1", "New", "c", NOW - 5),
	           NOW + 60);
	ck_assert_int_eq(r.updated, 1);
	ck_assert_int_eq(r.new_stories, 0);
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 1);
	ck_assert_str_eq(sn.titles[0], "New");
	ck_assert(sn.read[0]);
	ck_assert(sn.changed[0]);
	ck_assert_int_eq(sn.published[0], NOW - 5);
	/* Changed content counts too, and the same text again does not. */
	r = merge1(a, 0,
	           entry("g1", "https://a.example/1", "New", "c2", NOW - 5),
	           NOW + 120);
	ck_assert_int_eq(r.updated, 1);
	r = merge1(a, 0,
	           entry("g1", "https://a.example/1", "New", "c2", NOW - 5),
	           NOW + 180);
	ck_assert_int_eq(r.unchanged, 1);
}
END_TEST

START_TEST(test_two_feeds_serving_different_text_do_not_flip_flop)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
	struct store_merge_result r;

	merge1(a, 0, entry("a", "https://n.example/1", "t", "full", NOW - 5),
	       NOW);
	merge1(b, 0, entry("b", "https://n.example/1", "t", "short", NOW - 5),
	       NOW);
	r = merge1(a, 0,
	           entry("a", "https://n.example/1", "t", "full", NOW - 5),
	           NOW + 60);
	ck_assert_int_eq(r.unchanged, 1);
	r = merge1(b, 0,
	           entry("b", "https://n.example/1", "t", "short", NOW - 5),
	           NOW + 60);
	ck_assert_int_eq(r.unchanged, 1);
	ck_assert_int_eq(count_all(), 1);
}
END_TEST

START_TEST(test_future_date_is_clamped)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0, entry("g1", NULL, "future", NULL, NOW + 86400 * 365), NOW);
	list(&q, &sn);
	ck_assert_int_eq(sn.published[0], NOW);
}
END_TEST

START_TEST(test_missing_date_takes_first_seen)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0, entry("g1", NULL, "undated", NULL, GZ_NO_DATE), NOW - 50);
	/* Seen again later: the first sighting's time stays. */
	merge1(a, 0, entry("g1", NULL, "undated", NULL, GZ_NO_DATE), NOW);
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 1);
	ck_assert_int_eq(sn.published[0], NOW - 50);
}
END_TEST

START_TEST(test_merge_unknown_feed_or_url_index_fails)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_feed f = {0};
	struct store_merge_result res;

	ck_assert_int_eq(store_merge(st, a + 5, 0, &f, NOW, &res), -ENOENT);
	ck_assert_int_eq(store_merge(st, a, 1, &f, NOW, &res), -EINVAL);
}
END_TEST

START_TEST(test_merge_is_one_transaction)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e = entry("g", NULL, "t", NULL, NOW);
	struct gz_feed f = {0};
	struct store_merge_result res;

	/* Inside a caller's transaction rolled back, nothing stays. */
	f.entries = &e;
	f.n_entries = 1;
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_merge(st, a, 0, &f, NOW, &res), 0);
	ck_assert_int_eq(res.new_stories, 1);
	ck_assert_int_eq(count_all(), 1);
	ck_assert_int_eq(store_rollback(st), 0);
	ck_assert_int_eq(count_all(), 0);
}
END_TEST

/* ---- retention ---- */

START_TEST(test_purged_story_does_not_return)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("g1", "https://a.example/1", "with guid", "c", NOW - 500),
	        entry(NULL, "https://a.example/2", "link only", "c", NOW - 500),
	        entry(NULL, NULL, "neither", "c", NOW - 500),
	};
	struct store_merge_result r;

	merge_n(a, 0, e, 3, NOW);
	ck_assert_int_eq(store_mark_feed(st, a, 0, STORE_MARK_READ), 3);
	ck_assert_int_eq(store_purge(st, NOW - 100), 3);
	ck_assert_int_eq(count_all(), 0);
	r = merge_n(a, 0, e, 3, NOW + 60);
	ck_assert_int_eq(r.new_stories, 0);
	ck_assert_int_eq(count_all(), 0);
}
END_TEST

START_TEST(test_starred_story_is_never_purged)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("g1", NULL, "starred", NULL, NOW - 500),
	        entry("g2", NULL, "plain", NULL, NOW - 500),
	};
	struct store_query q = {.flags = STORE_Q_STARRED};
	struct seen sn;

	merge_n(a, 0, e, 2, NOW);
	ck_assert_int_eq(store_mark_feed(st, 0, 0, STORE_MARK_READ), 2);
	q.flags = 0;
	list(&q, &sn);
	for (int i = 0; i < sn.n; i++)
		if (strcmp(sn.titles[i], "starred") == 0)
			store_mark_story(st, sn.ids[i], STORE_MARK_STAR);
	ck_assert_int_eq(store_purge(st, NOW + 1), 1);
	q.flags = STORE_Q_STARRED;
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 1);
	ck_assert_str_eq(sn.titles[0], "starred");
	ck_assert_int_eq(count_all(), 1);
}
END_TEST

START_TEST(test_purge_removes_more_than_one_batch)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	static struct gz_entry e[1201];
	static char guid[1201][16];

	for (int i = 0; i < 1201; i++) {
		snprintf(guid[i], sizeof(guid[i]), "g%d", i);
		e[i] = entry(guid[i], NULL, guid[i], NULL, NOW - 1000 + i / 2);
	}
	merge_n(a, 0, e, 1201, NOW);
	ck_assert_int_eq(store_mark_feed(st, a, 0, STORE_MARK_READ), 1201);
	ck_assert_int_eq(store_purge(st, NOW), 1201);
	ck_assert_int_eq(count_all(), 0);
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM tombstone"),
	                 1201);
	ck_assert_int_eq(merge_n(a, 0, e, 1201, NOW + 60).new_stories, 0);
	ck_assert_int_eq(store_purge(st, NOW), 0);
}
END_TEST

START_TEST(test_unread_and_recent_stories_are_not_purged)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("old-unread", NULL, "t", NULL, NOW - 500),
	        entry("new-read", NULL, "t", NULL, NOW - 10),
	};

	merge_n(a, 0, e, 2, NOW);
	ck_assert_int_eq(store_mark_feed(st, a, NOW - 100, STORE_MARK_READ), 1);
	ck_assert_int_eq(store_mark_story(st, 1, STORE_MARK_UNREAD), 1);
	ck_assert_int_eq(store_mark_story(st, 2, STORE_MARK_READ), 1);
	ck_assert_int_eq(store_purge(st, NOW - 100), 0);
	ck_assert_int_eq(count_all(), 2);
}
END_TEST

/* Stories of feed (0: all) in a query's order, by title, into sn. */
static int
list_feed(int64_t feed, struct seen *sn)
{
	struct store_query q = {.feed_id = feed};

	return list(&q, sn);
}

/* Whether sn holds a story titled t. */
static bool
has_title(const struct seen *sn, const char *t)
{
	for (int i = 0; i < sn->n; i++)
		if (strcmp(sn->titles[i], t) == 0)
			return true;
	return false;
}

/* The id of the story titled t (it must be there). */
static int64_t
id_of(const char *t)
{
	struct seen sn;

	list_feed(0, &sn);
	for (int i = 0; i < sn.n; i++)
		if (strcmp(sn.titles[i], t) == 0)
			return sn.ids[i];
	ck_abort_msg("no story '%s'", t);
	return 0;
}

START_TEST(test_purge_by_age_of_unread_leaves_tombstones)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("old", NULL, "old", NULL, NOW - 100 * 86400),
	        entry("recent", NULL, "recent", NULL, NOW - 10 * 86400),
	        entry(NULL, NULL, "old-undated-hash", "c", NOW - 95 * 86400),
	};
	struct store_purge_rules rules = {.now = NOW,
	                                  .keep_unread = 90 * 86400};
	struct store_purge_counts c = {0}, t = {0};
	struct seen sn;

	merge_n(a, 0, e, 3, NOW);
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.unread, 2);
	ck_assert_int_eq(c.read, 0);
	ck_assert_int_eq(c.over_limit, 0);
	list_feed(0, &sn);
	ck_assert_int_eq(sn.n, 1);
	ck_assert_str_eq(sn.titles[0], "recent");
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM tombstone"), 2);
	/* Still in the feed: they do not come back as new. */
	ck_assert_int_eq(merge_n(a, 0, e, 3, NOW + 60).new_stories, 0);
	ck_assert_int_eq(count_all(), 1);
	ck_assert_int_eq(store_purge_totals(st, 0, &t), 0);
	ck_assert_int_eq(t.unread, 2);
	ck_assert_int_eq(store_purge_totals(st, a, &t), 0);
	ck_assert_int_eq(t.unread, 2);
	ck_assert_int_eq(t.read + t.over_limit, 0);
}
END_TEST

START_TEST(test_keep_unread_off_by_default_keeps_old_unread)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_purge_rules rules = {.now = NOW,
	                                  .read_before = NOW - 86400};
	struct store_purge_counts c = {0};

	merge1(a, 0, entry("old", NULL, "old", NULL, NOW - 1000 * 86400), NOW);
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.read + c.unread + c.over_limit, 0);
	ck_assert_int_eq(count_all(), 1);
}
END_TEST

START_TEST(test_keep_unread_per_feed_overrides_the_default)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
	int64_t cc = add_feed("C", "https://c.example/rss", NULL, NULL);
	struct store_purge_feed over[] = {
	        {.id = a, .keep_unread = 0, .max_stories = STORE_PURGE_DEFAULT},
	        {.id = b,
	         .keep_unread = 5 * 86400,
	         .max_stories = STORE_PURGE_DEFAULT},
	};
	struct store_purge_rules rules = {.now = NOW,
	                                  .keep_unread = 30 * 86400,
	                                  .feeds = over,
	                                  .n_feeds = 2};
	struct store_purge_counts c = {0};
	struct seen sn;

	merge1(a, 0, entry("a1", NULL, "a-old", NULL, NOW - 40 * 86400), NOW);
	merge1(b, 0, entry("b1", NULL, "b-week", NULL, NOW - 7 * 86400), NOW);
	merge1(cc, 0, entry("c1", NULL, "c-old", NULL, NOW - 40 * 86400), NOW);
	merge1(cc, 0, entry("c2", NULL, "c-week", NULL, NOW - 7 * 86400), NOW);
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.unread, 2);
	list_feed(0, &sn);
	ck_assert_int_eq(sn.n, 2);
	ck_assert(has_title(&sn, "a-old"));  /* keep-unread = forever */
	ck_assert(has_title(&sn, "c-week")); /* the default, 30d */
}
END_TEST

START_TEST(test_max_stories_keeps_the_newest_and_starred)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[6];
	char g[6][8];
	struct store_purge_rules rules = {.now = NOW, .max_stories = 3};
	struct store_purge_counts c = {0}, t = {0};
	struct seen sn;

	for (int i = 0; i < 6; i++) {
		snprintf(g[i], sizeof(g[i]), "s%d", i);
		e[i] = entry(g[i], NULL, g[i], NULL, NOW - 600 + i * 60);
	}
	merge_n(a, 0, e, 6, NOW);
	/* s5 s4 s3 stay; of s2 s1 s0, s0 is starred and stays too. */
	ck_assert_int_eq(store_mark_story(st, id_of("s0"), STORE_MARK_STAR), 1);
	ck_assert_int_eq(store_mark_story(st, id_of("s1"), STORE_MARK_READ), 1);
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.over_limit, 2);
	list_feed(a, &sn);
	ck_assert_int_eq(sn.n, 4);
	ck_assert_str_eq(sn.titles[0], "s5");
	ck_assert_str_eq(sn.titles[2], "s3");
	ck_assert_str_eq(sn.titles[3], "s0");
	/* A second purge finds nothing more; the feed serves them again. */
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.over_limit, 0);
	ck_assert_int_eq(merge_n(a, 0, e, 6, NOW + 60).new_stories, 0);
	ck_assert_int_eq(count_all(), 4);
	ck_assert_int_eq(store_purge_totals(st, a, &t), 0);
	ck_assert_int_eq(t.over_limit, 2);
}
END_TEST

START_TEST(test_starred_story_survives_every_rule)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_purge_rules rules = {.now = NOW,
	                                  .read_before = NOW,
	                                  .keep_unread = 60,
	                                  .max_stories = 1};
	struct store_purge_counts c = {0};

	merge1(a, 0, entry("s1", NULL, "starred-old", NULL, NOW - 9000), NOW);
	merge1(a, 0, entry("s2", NULL, "starred-read", NULL, NOW - 8000), NOW);
	merge1(a, 0, entry("s3", NULL, "new", NULL, NOW - 10), NOW);
	ck_assert_int_eq(
	        store_mark_story(st, id_of("starred-old"), STORE_MARK_STAR), 1);
	ck_assert_int_eq(
	        store_mark_story(st, id_of("starred-read"), STORE_MARK_STAR),
	        1);
	ck_assert_int_eq(
	        store_mark_story(st, id_of("starred-read"), STORE_MARK_READ),
	        1);
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.read + c.unread + c.over_limit, 0);
	ck_assert_int_eq(count_all(), 3);
}
END_TEST

/*
 * A story two feeds share (one canonical link): a feed whose rules let
 * it go takes it out of itself only; the story goes with the last.
 */
START_TEST(test_shared_story_goes_only_when_no_feed_keeps_it)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
	struct gz_entry ea = entry("ga", "https://news.example/x", "shared",
	                           NULL, NOW - 900);
	struct gz_entry eb = entry("gb", "https://news.example/x", "shared",
	                           NULL, NOW - 900);
	struct gz_entry fresh = entry("a2", NULL, "a-fresh", NULL, NOW - 100);
	struct store_purge_feed over[] = {
	        {.id = a, .keep_unread = STORE_PURGE_DEFAULT, .max_stories = 1},
	};
	struct store_purge_rules rules = {
	        .now = NOW, .feeds = over, .n_feeds = 1};
	struct store_purge_counts c = {0}, t = {0};
	struct seen sn;

	merge1(a, 0, ea, NOW);
	merge1(b, 0, eb, NOW);
	merge1(a, 0, fresh, NOW);
	ck_assert_int_eq(count_all(), 2);
	/* A keeps one story: the shared one leaves A, B keeps it. */
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.over_limit, 0);
	ck_assert_int_eq(list_feed(a, &sn), 1);
	ck_assert_str_eq(sn.titles[0], "a-fresh");
	ck_assert_int_eq(list_feed(b, &sn), 1);
	ck_assert_str_eq(sn.titles[0], "shared");
	ck_assert_int_eq(sn.n_feeds[0], 1);
	ck_assert_int_eq(store_purge_totals(st, a, &t), 0);
	ck_assert_int_eq(t.over_limit, 1);
	ck_assert_int_eq(store_purge_totals(st, 0, &t), 0);
	ck_assert_int_eq(t.over_limit, 0);
	/* A serves it again: it does not come back into A. */
	ck_assert_int_eq(merge1(a, 0, ea, NOW + 60).new_stories, 0);
	ck_assert_int_eq(list_feed(a, &sn), 1);
	/* Now B lets it go too (unread too long): the story goes. */
	rules.keep_unread = 600;
	over[0].max_stories = STORE_PURGE_DEFAULT;
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.unread, 1);
	ck_assert_int_eq(count_all(), 1);
	ck_assert_int_eq(merge1(b, 0, eb, NOW + 120).new_stories, 0);
	ck_assert_int_eq(count_all(), 1);
}
END_TEST

START_TEST(test_purge_rules_name_configured_feeds_by_title)
{
	const char *urls[] = {"https://c.example/rss"};
	struct store_feed_spec spec = {.title = "Configured",
	                               .from_config = true,
	                               .n_urls = 1,
	                               .urls = urls};
	struct store_purge_feed over[] = {
	        {.title = "Configured",
	         .keep_unread = 60,
	         .max_stories = STORE_PURGE_DEFAULT},
	        {.title = "Not there",
	         .keep_unread = 60,
	         .max_stories = STORE_PURGE_DEFAULT},
	};
	struct store_purge_rules rules = {
	        .now = NOW, .feeds = over, .n_feeds = 2};
	struct store_purge_counts c = {0};
	int64_t id = 0, other;

	ck_assert_int_eq(store_config_sync(st, &spec, 1), 0);
	ck_assert_int_eq(store_feed_find(st, "Configured", &id), 0);
	other = add_feed("Configured too", "https://d.example/rss", NULL, NULL);
	merge1(id, 0, entry("c1", NULL, "c-old", NULL, NOW - 120), NOW);
	merge1(other, 0, entry("d1", NULL, "d-old", NULL, NOW - 120), NOW);
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.unread, 1);
	ck_assert_int_eq(count_all(), 1);
}
END_TEST

START_TEST(test_purge_by_rules_removes_more_than_one_batch)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	static struct gz_entry e[1203];
	static char guid[1203][16];
	struct store_purge_rules rules = {.now = NOW, .max_stories = 2};
	struct store_purge_counts c = {0};

	for (int i = 0; i < 1203; i++) {
		snprintf(guid[i], sizeof(guid[i]), "g%d", i);
		e[i] = entry(guid[i], NULL, guid[i], NULL, NOW - 5000 + i);
	}
	merge_n(a, 0, e, 1203, NOW);
	ck_assert_int_eq(store_purge_run(st, &rules, &c), 0);
	ck_assert_int_eq(c.over_limit, 1201);
	ck_assert_int_eq(count_all(), 2);
	ck_assert_int_eq(merge_n(a, 0, e, 1203, NOW + 60).new_stories, 0);
}
END_TEST

START_TEST(test_read_retention_is_counted_per_feed_and_in_all)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_purge_counts t = {0};

	merge1(a, 0, entry("g1", NULL, "r", NULL, NOW - 500), NOW);
	ck_assert_int_eq(store_mark_feed(st, a, 0, STORE_MARK_READ), 1);
	ck_assert_int_eq(store_purge(st, NOW - 100), 1);
	ck_assert_int_eq(store_purge_totals(st, 0, &t), 0);
	ck_assert_int_eq(t.read, 1);
	ck_assert_int_eq(store_purge_totals(st, a, &t), 0);
	ck_assert_int_eq(t.read, 1);
	ck_assert_int_eq(t.unread + t.over_limit, 0);
}
END_TEST

START_TEST(test_version_7_database_migrates_keeping_stories_and_tombstones)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("gone", NULL, "gone", NULL, NOW - 500),
	        entry("kept", NULL, "kept", NULL, NOW - 500),
	};
	struct store_purge_rules rules = {.now = NOW, .max_stories = 1};
	struct store_purge_counts t = {0};
	char *err = NULL;

	merge_n(a, 0, e, 2, NOW);
	ck_assert_int_eq(store_mark_story(st, id_of("gone"), STORE_MARK_READ),
	                 1);
	ck_assert_int_eq(store_purge(st, NOW - 100), 1);
	store_close(st);
	st = NULL;
	/* What version 7 had: no purge_count, no totals. */
	ck_assert_int_eq(
	        raw_exec(dbpath,
	                 pg_uri ? "DROP TABLE purge_count;"
	                          "DELETE FROM state"
	                          " WHERE key LIKE 'purged_%';"
	                          /* and version 10's change undone */
	                          "DROP TRIGGER story_membership_delete"
	                          " ON story;"
	                          "DROP TRIGGER feed_membership_delete"
	                          " ON feed;"
	                          "DROP FUNCTION"
	                          " gazette_membership_cascade();"
	                          "ALTER TABLE membership ADD FOREIGN KEY"
	                          " (story_id) REFERENCES story(id)"
	                          " ON DELETE CASCADE, ADD FOREIGN KEY"
	                          " (feed_id) REFERENCES feed(id)"
	                          " ON DELETE CASCADE;"
	                          "UPDATE gazette_meta SET version = 7;"
	                        : "DROP TABLE purge_count;"
	                          "DELETE FROM state"
	                          " WHERE key LIKE 'purged_%';"
	                          "PRAGMA user_version = 7;"),
	        SQLITE_OK);
	ck_assert_int_eq(raw_version(dbpath), 7);
	ck_assert_int_eq(store_open(dbpath, 0, &st, &err), 0);
	ck_assert_int_eq(raw_version(dbpath), SCHEMA_NOW);
	if (pg_uri)
		ck_assert_int_eq(raw_int(dbpath,
		                         "SELECT count(*) FROM pg_constraint"
		                         " WHERE contype = 'f' AND conrelid"
		                         " = 'membership'::regclass"),
		                 0);
	ck_assert_int_eq(count_all(), 1);
	ck_assert_int_eq(merge_n(a, 0, e, 2, NOW + 60).new_stories, 0);
	ck_assert_int_eq(store_purge_totals(st, 0, &t), 0);
	ck_assert_int_eq(t.read + t.unread + t.over_limit, 0);
	rules.max_stories = 0;
	rules.keep_unread = 100;
	ck_assert_int_eq(store_purge_run(st, &rules, NULL), 0);
	ck_assert_int_eq(store_purge_totals(st, a, &t), 0);
	ck_assert_int_eq(t.unread, 1);
	ck_assert_int_eq(count_all(), 0);
}
END_TEST

/* ---- marks and queries ---- */

START_TEST(test_mark_feed_before_date)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("1", NULL, "old", NULL, NOW - 300),
	        entry("2", NULL, "older", NULL, NOW - 400),
	        entry("3", NULL, "new", NULL, NOW - 10),
	};
	struct store_query q = {.flags = STORE_Q_UNREAD};
	struct seen sn;

	merge_n(a, 0, e, 3, NOW);
	merge1(b, 0, entry("b", NULL, "b old", NULL, NOW - 500), NOW);
	ck_assert_int_eq(store_mark_feed(st, a, NOW - 100, STORE_MARK_READ), 2);
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 2);
	ck_assert_str_eq(sn.titles[0], "new");
	ck_assert_str_eq(sn.titles[1], "b old");
	/* Already read: nothing changes the second time. */
	ck_assert_int_eq(store_mark_feed(st, a, NOW - 100, STORE_MARK_READ), 0);
	ck_assert_int_eq(store_mark_feed(st, 0, 0, STORE_MARK_READ), 2);
	ck_assert_int_eq(store_mark_feed(st, 0, 0, STORE_MARK_UNREAD), 4);
	ck_assert_int_eq(store_mark_feed(st, b + 10, 0, STORE_MARK_READ),
	                 -ENOENT);
	ck_assert_int_eq(store_mark_story(st, 99, STORE_MARK_READ), -ENOENT);
}
END_TEST

START_TEST(test_feed_counts_unread_and_total)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("1", NULL, "x", NULL, NOW - 3),
	        entry("2", NULL, "y", NULL, NOW - 2),
	        entry("3", NULL, "z", NULL, NOW - 1),
	};
	struct store_feed *f = NULL;

	merge_n(a, 0, e, 3, NOW);
	ck_assert_int_eq(store_mark_story(st, 2, STORE_MARK_READ), 1);
	ck_assert_int_eq(store_feed_get(st, a, &f), 0);
	ck_assert_int_eq(f->total, 3);
	ck_assert_int_eq(f->unread, 2);
	ck_assert_int_eq(f->last_served, 0);
	store_feed_free(f);
	/* The listing of every feed counts the same way. */
	{
		int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
		struct store_feed **v = NULL;
		size_t n = 0;

		merge1(b, 0, entry("b1", NULL, "w", NULL, NOW - 1), NOW);
		ck_assert_int_eq(store_mark_story(st, 4, STORE_MARK_READ), 1);
		ck_assert_int_eq(store_feeds(st, &v, &n), 2);
		ck_assert_int_eq(v[0]->total, 3);
		ck_assert_int_eq(v[0]->unread, 2);
		ck_assert_int_eq(v[1]->total, 1);
		ck_assert_int_eq(v[1]->unread, 0);
		store_feeds_free(v, n);
	}
}
END_TEST

START_TEST(test_list_filters_newest_first_with_limit_offset_since)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("1", NULL, "t1", "body one", NOW - 40),
	        entry("2", NULL, "t2", NULL, NOW - 30),
	        entry("3", NULL, "t3", NULL, NOW - 20),
	};
	struct store_query q = {0};
	struct seen sn;

	merge_n(a, 0, e, 3, NOW);
	merge1(b, 0, entry("4", NULL, "t4", NULL, NOW - 10), NOW);
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 4);
	ck_assert_str_eq(sn.titles[0], "t4");
	ck_assert_str_eq(sn.titles[3], "t1");
	ck_assert_str_eq(sn.content[3], "");

	q.limit = 2;
	q.offset = 1;
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 2);
	ck_assert_str_eq(sn.titles[0], "t3");
	ck_assert_str_eq(sn.titles[1], "t2");

	memset(&q, 0, sizeof(q));
	q.feed_id = a;
	q.since = NOW - 30;
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 2);
	ck_assert_str_eq(sn.titles[0], "t3");

	memset(&q, 0, sizeof(q));
	q.flags = STORE_Q_CONTENT;
	q.feed_id = a;
	q.limit = 1;
	q.offset = 2;
	list(&q, &sn);
	ck_assert_str_eq(sn.content[0], "body one");

	ck_assert_int_eq(store_mark_story(st, 4, STORE_MARK_STAR), 1);
	memset(&q, 0, sizeof(q));
	q.flags = STORE_Q_STARRED;
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 1);
	ck_assert_str_eq(sn.titles[0], "t4");
	ck_assert(sn.starred[0]);
}
END_TEST

START_TEST(test_story_get_returns_content_or_enoent)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct seen sn;

	merge1(a, 0, entry("1", "https://a.example/1", "t", "the body", NOW),
	       NOW);
	memset(&sn, 0, sizeof(sn));
	ck_assert_int_eq(store_story_get(st, 1, collect, &sn), 0);
	ck_assert_int_eq(sn.n, 1);
	ck_assert_str_eq(sn.content[0], "the body");
	ck_assert_str_eq(sn.feed_titles[0][0], "A");
	ck_assert_int_eq(store_story_get(st, 2, collect, &sn), -ENOENT);
}
END_TEST

START_TEST(test_new_cursor_advances_only_when_set)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("1", NULL, "t1", NULL, NOW - 3),
	        entry("2", NULL, "t2", NULL, NOW - 2),
	};
	struct store_query q = {0};
	struct seen sn;
	int64_t cur = -1, max = -1;

	ck_assert_int_eq(store_cursor_get(st, &cur), 0);
	ck_assert_int_eq(cur, 0);
	merge_n(a, 0, e, 2, NOW);
	q.min_id = cur;
	ck_assert_int_eq(list(&q, &sn), 2);
	/* Listing does not move it. */
	ck_assert_int_eq(store_cursor_get(st, &cur), 0);
	ck_assert_int_eq(cur, 0);
	ck_assert_int_eq(store_max_story_id(st, &max), 0);
	ck_assert_int_eq(max, 2);
	ck_assert_int_eq(store_cursor_set(st, max), 0);
	ck_assert_int_eq(store_cursor_get(st, &cur), 0);
	ck_assert_int_eq(cur, 2);
	q.min_id = cur;
	ck_assert_int_eq(list(&q, &sn), 0);
	merge1(a, 0, entry("3", NULL, "t3", NULL, NOW - 100), NOW + 60);
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_str_eq(sn.titles[0], "t3");
}
END_TEST

START_TEST(test_story_ids_are_never_reused)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t max = 0;

	merge1(a, 0, entry("1", NULL, "t1", NULL, NOW - 500), NOW);
	ck_assert_int_eq(store_mark_story(st, 1, STORE_MARK_READ), 1);
	ck_assert_int_eq(store_purge(st, NOW), 1);
	merge1(a, 0, entry("2", NULL, "t2", NULL, NOW - 5), NOW);
	ck_assert_int_eq(store_max_story_id(st, &max), 0);
	ck_assert_int_eq(max, 2);
}
END_TEST

START_TEST(test_search_ranks_title_match)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct gz_entry e[] = {
	        entry("1", NULL, "Weather report",
	              "A long text that mentions an earthquake once among many "
	              "other words about the weather and the sea.",
	              NOW - 10),
	        entry("2", NULL, "Earthquake shakes the coast", "Short text.",
	              NOW - 20),
	        entry("3", NULL, "Unrelated", "Nothing to see.", NOW - 5),
	};
	struct store_query q = {.search = "earthquake"};
	struct seen sn;

	merge_n(a, 0, e, 3, NOW);
	list(&q, &sn);
	ck_assert_int_eq(sn.n, 2);
	ck_assert_str_eq(sn.titles[0], "Earthquake shakes the coast");
	ck_assert_str_eq(sn.titles[1], "Weather report");
	ck_assert(sn.rank[0] > sn.rank[1]);
	ck_assert(sn.rank[1] > 0);
}
END_TEST

START_TEST(test_search_with_filters_keeps_to_feed_and_unread)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
	struct store_query q = {.search = "harvest"};
	struct seen sn;

	merge1(a, 0, entry("1", NULL, "Harvest in A", "x", NOW - 10), NOW);
	merge1(a, 0, entry("2", NULL, "Old harvest in A", "x", NOW - 20), NOW);
	merge1(b, 0, entry("3", NULL, "Harvest in B", "x", NOW - 5), NOW);
	ck_assert_int_eq(list(&q, &sn), 3);
	q.feed_id = a;
	ck_assert_int_eq(list(&q, &sn), 2);
	ck_assert_int_eq(store_mark_story(st, 1, STORE_MARK_READ), 1);
	q.flags = STORE_Q_UNREAD;
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_str_eq(sn.titles[0], "Old harvest in A");
	ck_assert(sn.rank[0] > 0);
	q.feed_id = 0;
	q.flags = 0;
	q.since = NOW - 10;
	ck_assert_int_eq(list(&q, &sn), 2);
	q.since = 0;
	q.limit = 1;
	q.offset = 1;
	ck_assert_int_eq(list(&q, &sn), 1);
}
END_TEST

START_TEST(test_search_takes_punctuation_and_prefixes)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0,
	       entry("1", NULL, "Sanctions re-imposed", "Talks in Vienna",
	             NOW - 10),
	       NOW);
	q.search = "re-imposed";
	ck_assert_int_eq(list(&q, &sn), 1);
	q.search = "\"unbalanced AND (";
	ck_assert_int_eq(list(&q, &sn), 0);
	q.search = "vien*";
	ck_assert_int_eq(list(&q, &sn), 1);
	q.search = "   ";
	ck_assert_int_eq(store_stories(st, &q, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_search_quotes_and_backslashes_are_words_not_syntax)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0,
	       entry("1", NULL, "O'Brien's back\\slash column", "x", NOW - 10),
	       NOW);
	merge1(a, 0, entry("2", NULL, "Plain words only", "x", NOW - 5), NOW);
	q.search = "o'brien's";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_str_eq(sn.titles[0], "O'Brien's back\\slash column");
	q.search = "back\\slash";
	ck_assert_int_eq(list(&q, &sn), 1);
	q.search = "'";
	ck_assert_int_eq(list(&q, &sn), 0);
	q.search = "\\";
	ck_assert_int_eq(list(&q, &sn), 0);
	/* Were the quotes syntax, these would be "or" and "not". */
	q.search = "plain' | 'column";
	ck_assert_int_eq(list(&q, &sn), 0);
	q.search = "words' & !'plain";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_str_eq(sn.titles[0], "Plain words only");
	q.search = "colu* o'bri*";
	ck_assert_int_eq(list(&q, &sn), 1);
}
END_TEST

START_TEST(test_index_lag_is_none_after_a_search)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {.search = "kestrel"};
	struct store_index_lag lag;
	struct seen sn;

	merge1(a, 0, entry("1", NULL, "Kestrel", "body", NOW - 5), NOW);
	merge1(a, 0, entry("2", NULL, "Osprey", "body", NOW - 4), NOW);
	/* Behind by both, on either backend, until a search catches up. */
	ck_assert_int_eq(store_index_lag(st, NOW + 30, &lag), 0);
	ck_assert_int_eq(lag.stories, 2);
	ck_assert_int_eq(lag.indexed_upto, 0);
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(store_index_lag(st, NOW + 30, &lag), 0);
	ck_assert_int_eq(lag.stories, 0);
	ck_assert_int_eq(lag.changes, 0);
	ck_assert_int_eq(lag.seconds, 0);
	ck_assert_int_eq(lag.indexed_upto, 2);
	ck_assert_int_eq(indexed(NULL), 2);
	ck_assert_int_eq(indexed("kestrel"), 1);
}
END_TEST

START_TEST(test_search_index_follows_updates_and_purges)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0, entry("1", NULL, "alpha", "body", NOW - 500), NOW);
	merge1(a, 0, entry("1", NULL, "omega", "body", NOW - 500), NOW + 1);
	q.search = "alpha";
	ck_assert_int_eq(list(&q, &sn), 0);
	q.search = "omega";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(store_mark_story(st, 1, STORE_MARK_READ), 1);
	ck_assert_int_eq(store_purge(st, NOW), 1);
	ck_assert_int_eq(list(&q, &sn), 0);
	ck_assert_int_eq(indexed("omega"), 0);
}
END_TEST

START_TEST(test_search_index_follows_updates_of_indexed_stories)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0, entry("1", NULL, "alpha", "<p>first body</p>", NOW - 500),
	       NOW);
	ck_assert_int_eq(store_index(st), 1);
	merge1(a, 0, entry("1", NULL, "omega", "<p>second body</p>", NOW - 500),
	       NOW + 1);
	ck_assert_int_eq(store_index(st), 1);
	q.search = "alpha";
	ck_assert_int_eq(list(&q, &sn), 0);
	q.search = "first";
	ck_assert_int_eq(list(&q, &sn), 0);
	q.search = "omega second";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(store_mark_story(st, 1, STORE_MARK_READ), 1);
	ck_assert_int_eq(store_purge(st, NOW + 10), 1);
	q.search = "body";
	ck_assert_int_eq(list(&q, &sn), 0);
	ck_assert_int_eq(indexed("body"), 0);
	if (pg_uri)
		return;
	ck_assert_int_eq(raw_exec(idxpath(dbpath),
	                          "INSERT INTO story_fts(story_fts)"
	                          " VALUES ('integrity-check')"),
	                 SQLITE_OK);
	/* What the index applied leaves the store's change log. */
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM story_change"),
	                 0);
}
END_TEST

START_TEST(test_new_story_waits_for_index_and_search_indexes_it_first)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {0};
	struct store_index_lag lag;
	struct seen sn;

	merge1(a, 0, entry("1", NULL, "Kestrel", "body", NOW - 5), NOW);
	merge1(a, 0, entry("2", NULL, "Osprey", "body", NOW - 4), NOW);
	/* A merge does not index: two stories wait, since the merge. */
	ck_assert_int_eq(store_index_lag(st, NOW + 30, &lag), 0);
	ck_assert_int_eq(lag.stories, 2);
	ck_assert_int_eq(lag.changes, 0);
	ck_assert_int_eq(lag.seconds, 30);
	ck_assert_int_eq(
	        raw_int(idxpath(dbpath), "SELECT count(*) FROM story_fts"), 0);
	/* A search indexes what waits before it looks. */
	q.search = "kestrel";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(store_index_lag(st, NOW + 30, &lag), 0);
	ck_assert_int_eq(lag.stories, 0);
	ck_assert_int_eq(lag.seconds, 0);
	ck_assert_int_eq(lag.indexed_upto, 2);
	ck_assert_int_eq(store_index(st), 0);
	merge1(a, 0, entry("3", NULL, "Kestrel again", "body", NOW - 3), NOW);
	ck_assert_int_eq(store_index(st), 1);
	ck_assert_int_eq(raw_int(idxpath(dbpath),
	                         "SELECT count(*) FROM story_fts"
	                         " WHERE story_fts MATCH 'kestrel'"),
	                 2);
}
END_TEST

START_TEST(test_index_some_takes_at_most_what_it_is_asked)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_index_lag lag;
	char guid[16];

	for (int i = 0; i < 25; i++) {
		snprintf(guid, sizeof(guid), "g%d", i);
		merge1(a, 0, entry(guid, NULL, "Heron", "body", NOW - i), NOW);
	}
	ck_assert_int_eq(store_index_some(st, 10), 10);
	ck_assert_int_eq(store_index_lag(st, NOW, &lag), 0);
	ck_assert_int_eq(lag.stories, 15);
	ck_assert_int_eq(store_index_some(st, 0), 15);
	ck_assert_int_eq(store_index_some(st, 0), 0);
}
END_TEST

START_TEST(test_reindex_builds_the_index_again_from_the_store)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {.search = "grebe"};
	struct seen sn;

	merge1(a, 0, entry("1", NULL, "Grebe", "body", NOW - 5), NOW);
	merge1(a, 0, entry("2", NULL, "Grebe two", "body", NOW - 4), NOW);
	ck_assert_int_eq(store_index(st), 2);
	/*
	 * Words the store does not have, as a damaged index might; on
	 * PostgreSQL, a story's words lost.
	 */
	if (!pg_uri) {
		ck_assert_int_eq(raw_exec(idxpath(dbpath),
		                          "INSERT INTO story_fts(rowid, title)"
		                          " VALUES (99, 'grebe')"),
		                 SQLITE_OK);
		ck_assert_int_eq(indexed("grebe"), 3);
	} else {
		ck_assert_int_eq(raw_exec(dbpath, "DELETE FROM story_words"
		                                  " WHERE story_id = (SELECT"
		                                  "  min(id) FROM story)"),
		                 SQLITE_OK);
		ck_assert_int_eq(indexed("grebe"), 1);
	}
	ck_assert_int_eq(store_reindex(st), 2);
	ck_assert_int_eq(indexed("grebe"), 2);
	ck_assert_int_eq(list(&q, &sn), 2);
}
END_TEST

START_TEST(test_damaged_or_foreign_index_file_is_made_again)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {.search = "plover"};
	struct seen sn;
	char *err = NULL;
	FILE *f;

	merge1(a, 0, entry("1", NULL, "Plover", "body", NOW - 5), NOW);
	ck_assert_int_eq(store_index(st), 1);
	store_close(st);
	/* Garbage where the index was. */
	f = fopen(idxpath(dbpath), "we");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite database, not even close to one...", f);
	for (int i = 0; i < 200; i++)
		fputs("garbage garbage garbage garbage garbage\n", f);
	fclose(f);
	ck_assert_int_eq(store_open(dbpath, 0, &st, &err), 0);
	ck_assert_int_eq(list(&q, &sn), 1);
	/* Another store's index: its words are not this store's. */
	ck_assert_int_eq(raw_exec(dbpath, "UPDATE state SET value = value + 1"
	                                  " WHERE key = 'instance'"),
	                 SQLITE_OK);
	store_close(st);
	ck_assert_int_eq(store_open(dbpath, 0, &st, &err), 0);
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(
	        raw_int(idxpath(dbpath), "SELECT count(*) FROM story_fts"), 1);
}
END_TEST

START_TEST(test_removed_feed_leaves_the_index)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {.search = "curlew"};
	struct seen sn;

	merge1(a, 0, entry("1", NULL, "Curlew", "body", NOW - 5), NOW);
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(store_feed_remove(st, a), 0);
	ck_assert_int_eq(list(&q, &sn), 0);
	ck_assert_int_eq(indexed(NULL), 0);
}
END_TEST

START_TEST(test_search_index_holds_text_not_markup)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	struct store_query q = {0};
	struct seen sn;

	merge1(a, 0,
	       entry("1", NULL, "Markup",
	             "<div class=\"wrapper\"><a href=\"https://tracker.example/"
	             "x?utm=1\">visible&nbsp;words</a> caf&#233; &amp; "
	             "cr&egrave;me<!-- hiddencomment --><img src=\"pic.png\">"
	             "</div>",
	             NOW - 5),
	       NOW);
	q.search = "visible words";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_str_eq(sn.titles[0], "Markup");
	q.search = "café";
	ck_assert_int_eq(list(&q, &sn), 1);
	/* Accents fold on SQLite (unicode61), not on PostgreSQL ('simple'). */
	q.search = "cafe";
	ck_assert_int_eq(list(&q, &sn), pg_uri ? 0 : 1);
	const char *absent[] = {"wrapper", "href",          "tracker", "utm",
	                        "div",     "hiddencomment", "png",     "nbsp"};
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		q.search = absent[i];
		ck_assert_msg(list(&q, &sn) == 0, "'%s' is in the index",
		              absent[i]);
	}
	/* The story itself keeps its HTML. */
	ck_assert_int_eq(raw_int(dbpath, "SELECT count(*) FROM story"
	                                 " WHERE content LIKE '%href=%'"),
	                 1);
}
END_TEST

/* Load a dumped database (tests/data/NAME) into path. */
static void
load_dump(const char *name, const char *path)
{
	char sqlpath[512], *sql;
	const char *data = getenv("GAZETTE_TESTDATA");
	sqlite3 *db;
	FILE *f;
	long len;

	ck_assert_ptr_nonnull(data);
	snprintf(sqlpath, sizeof(sqlpath), "%s/%s", data, name);
	f = fopen(sqlpath, "re");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	sql = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(sql);
	ck_assert_int_eq(fread(sql, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(sql);
}

/*
 * The dumped database NAME of schema version `from` loaded into
 * DIR/FILE (path), then opened by the store as st, which migrates it to
 * the current version; the test's own store is returned, for
 * migrated_close.
 */
static struct store *
migrated_open(const char *name, const char *file, int from, char *path,
              size_t size)
{
	struct store *old = st;
	char *err = NULL;
	int r;

	snprintf(path, size, "%s/%s", dir, file);
	load_dump(name, path);
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), from);
	r = store_open(path, 0, &st, &err);
	ck_assert_msg(r == 0, "%s", err ? err : "");
	ck_assert_int_eq(raw_int(path, "PRAGMA user_version"), SCHEMA_NOW);
	return old;
}

/* Close the migrated store, back to old; its full-text index is sound. */
static void
migrated_close(const char *path, struct store *old)
{
	ck_assert_int_eq(store_index(st) >= 0, 1);
	store_close(st);
	st = old;
	ck_assert_int_eq(raw_exec(idxpath(path),
	                          "INSERT INTO story_fts(story_fts)"
	                          " VALUES ('integrity-check')"),
	                 SQLITE_OK);
}

START_TEST(test_version_2_database_migrates_with_marks_mirrors_and_index)
{
	char path[192];
	struct store_query q = {0};
	struct store_feed **v = NULL;
	size_t n = 0;
	struct seen sn;
	/* A real version-2 database, made by the version-2 code. */
	struct store *old =
	        migrated_open("store-v2.sql", "v2.db", 2, path, sizeof(path));

	ck_assert_int_eq(raw_int(path,
	                         "SELECT count(*) FROM sqlite_schema"
	                         " WHERE name IN ('fts_pending', 'story_fts')"),
	                 0);
	ck_assert_int_eq(raw_int(path,
	                         "SELECT count(*) FROM sqlite_schema"
	                         " WHERE name IN ('story_purge',"
	                         " 'feed_config_title', 'feed_url_moved')"),
	                 3);
	/* Indexed stories are found, and the one still waiting. */
	q.search = "quokka";
	ck_assert_int_eq(list(&q, &sn), 3);
	q.search = "wombat";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(sn.ids[0], 4);
	/* Marks, memberships and the mirror came along. */
	q.search = NULL;
	q.flags = STORE_Q_UNREAD;
	ck_assert_int_eq(list(&q, &sn), 3);
	q.flags = STORE_Q_STARRED;
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(sn.ids[0], 1);
	ck_assert_int_eq(store_feeds(st, &v, &n), 2);
	ck_assert_int_eq(v[0]->total, 4);
	ck_assert_int_eq(v[1]->total, 3);
	ck_assert_uint_eq(v[1]->n_urls, 2);
	ck_assert_str_eq(v[1]->urls[1].url, "https://mirror.example/rss");
	store_feeds_free(v, n);
	/* Retention goes through the new index and still keeps unread. */
	ck_assert_int_eq(store_purge(st, 1500000000), 1);
	q.flags = 0;
	ck_assert_int_eq(list(&q, &sn), 3);
	migrated_close(path, old);
}
END_TEST

START_TEST(test_version_3_database_migrates_and_new_stories_are_indexed)
{
	char path[192];
	struct store_query q = {0};
	struct seen sn;
	struct store *old =
	        migrated_open("store-v3.sql", "v3.db", 3, path, sizeof(path));

	ck_assert_int_eq(raw_int(path, "SELECT count(*) FROM sqlite_schema"
	                               " WHERE name = 'story_fts_insert'"),
	                 0);
	/* A new story still waits for the index, and is found. */
	merge1(1, 0,
	       entry("two-9", "https://two.example/9", "Platypus patrol", NULL,
	             1600500000),
	       1600500000);
	q.search = "platypus";
	ck_assert_int_eq(list(&q, &sn), 1);
	q.search = "wombat";
	ck_assert_int_eq(list(&q, &sn), 1);
	migrated_close(path, old);
}
END_TEST

START_TEST(test_batch_failure_fails_what_follows_and_rolls_back_all)
{
	int64_t a = add_feed("A", "https://a.example/rss", NULL, NULL);
	int64_t b = add_feed("B", "https://b.example/rss", NULL, NULL);
	int64_t c = add_feed("C", "https://c.example/rss", NULL, NULL);
	struct gz_entry e[3] = {
	        entry("a1", NULL, "from a", NULL, NOW - 5),
	        entry("b1", NULL, "from b", NULL, NOW - 5),
	        entry("c1", NULL, "from c", NULL, NOW - 5),
	};
	struct gz_feed f[3] = {{.entries = &e[0], .n_entries = 1},
	                       {.entries = &e[1], .n_entries = 1},
	                       {.entries = &e[2], .n_entries = 1}};
	struct store_query q = {0};
	char sql[200];
	struct seen sn;

	snprintf(sql, sizeof(sql),
	         "CREATE TRIGGER boom BEFORE INSERT ON membership"
	         " WHEN new.feed_id = %lld BEGIN SELECT RAISE(ABORT, 'boom');"
	         " END",
	         (long long)b);
	ck_assert_int_eq(raw_exec(dbpath, sql), SQLITE_OK);
	ck_assert_int_eq(store_begin_batch(st), 0);
	ck_assert_int_eq(store_merge(st, a, 0, &f[0], NOW, NULL), 0);
	ck_assert_int_lt(store_merge(st, b, 0, &f[1], NOW, NULL), 0);
	/* Nothing more is written after the failure... */
	ck_assert_int_lt(store_merge(st, c, 0, &f[2], NOW, NULL), 0);
	/* ...and the commit rolls it all back, saying why. */
	ck_assert_int_lt(store_commit(st), 0);
	ck_assert_ptr_nonnull(strstr(store_errmsg(st), "boom"));
	ck_assert_int_eq(list(&q, &sn), 0);
	/* The connection goes on as before. */
	ck_assert_int_eq(raw_exec(dbpath, "DROP TRIGGER boom"), SQLITE_OK);
	ck_assert_int_eq(store_merge(st, c, 0, &f[2], NOW, NULL), 0);
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_str_eq(sn.titles[0], "from c");
}
END_TEST

START_TEST(test_version_1_database_migrates_and_old_stories_are_found)
{
	char path[192];
	struct store_query q = {0};
	struct seen sn;
	/* A real version-1 database, dumped by the version-1 code. */
	struct store *old =
	        migrated_open("store-v1.sql", "v1.db", 1, path, sizeof(path));

	q.search = "zeppelin";
	ck_assert_int_eq(list(&q, &sn), 2);
	q.search = "archived";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(sn.ids[0], 1);
	q.search = "cafe bistro";
	ck_assert_int_eq(list(&q, &sn), 1);
	ck_assert_int_eq(sn.ids[0], 3);
	/* Markup of old stories is out of the index now. */
	q.search = "href";
	ck_assert_int_eq(list(&q, &sn), 0);
	/* Marks and memberships came along. */
	q.search = NULL;
	q.flags = STORE_Q_UNREAD;
	ck_assert_int_eq(list(&q, &sn), 2);
	/* A changed old story leaves the index with its old words. */
	{
		struct gz_entry e =
		        entry("old-1", "https://old.example/1",
		              "Airship almanac", "new text", 1600000000);

		ck_assert_int_eq(store_merge(st, 1, 0,
		                             &(struct gz_feed){.entries = &e,
		                                               .n_entries = 1},
		                             1600002000, NULL),
		                 0);
	}
	q.flags = 0;
	q.search = "zeppelin";
	ck_assert_int_eq(list(&q, &sn), 1);
	q.search = "airship";
	ck_assert_int_eq(list(&q, &sn), 1);
	migrated_close(path, old);
}
END_TEST

/* The store's suite: one test case per area. */
START_TEST(test_url_record_keeps_failure_kind_address_and_via)
{
	int64_t id = add_feed("K", "https://k.example/rss", NULL, NULL);
	struct store_feed *f = NULL;
	struct store_attempt a = {0};
	int64_t uid;

	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	uid = f->urls[0].id;
	ck_assert_ptr_null(f->urls[0].fail_kind);
	ck_assert_ptr_null(f->urls[0].good_addrs);
	store_feed_free(f);

	/* A success through a resolver, from an address now remembered. */
	a.url_id = uid;
	a.when = NOW;
	a.status = 200;
	a.ip = "192.0.2.7";
	a.via = "doh https://dns.example/dns-query";
	a.good_addrs = "192.0.2.7";
	a.kind = "dns"; /* ignored: it served */
	ck_assert_int_eq(store_url_record(st, &a), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_ptr_null(f->urls[0].fail_kind);
	ck_assert_str_eq(f->urls[0].last_ip, "192.0.2.7");
	ck_assert_str_eq(f->urls[0].via, "doh https://dns.example/dns-query");
	ck_assert_str_eq(f->urls[0].good_addrs, "192.0.2.7");
	store_feed_free(f);

	/* A failure: its kind and address; the remembered ones stay. */
	memset(&a, 0, sizeof(a));
	a.url_id = uid;
	a.when = NOW + 60;
	a.status = 403;
	a.error = "challenge page";
	a.kind = "challenge";
	a.ip = "198.51.100.9";
	ck_assert_int_eq(store_url_record(st, &a), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_str_eq(f->urls[0].fail_kind, "challenge");
	ck_assert_str_eq(f->urls[0].last_ip, "198.51.100.9");
	ck_assert_ptr_null(f->urls[0].via);
	ck_assert_str_eq(f->urls[0].good_addrs, "192.0.2.7");
	ck_assert_int_eq(f->urls[0].last_ok, NOW);
	store_feed_free(f);
}
END_TEST

START_TEST(test_diverged_flag_is_set_cleared_and_accepted_for_good)
{
	int64_t id = add_feed("D", "https://p.example/rss",
	                      "https://m.example/rss", NULL);
	struct store_feed *f = NULL;
	int64_t mid;

	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	mid = f->urls[1].id;
	ck_assert_int_eq(f->urls[1].diverged, STORE_DIVERGED_NO);
	store_feed_free(f);
	ck_assert_int_eq(store_url_set_diverged(st, mid, true), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_int_eq(f->urls[1].diverged, STORE_DIVERGED_YES);
	ck_assert_int_eq(f->urls[0].diverged, STORE_DIVERGED_NO);
	store_feed_free(f);
	/* The user says it is the same feed: no poll flags it again. */
	ck_assert_int_eq(
	        store_mirror_accept(st, id, "https://m.example/rss", NULL), 0);
	ck_assert_int_eq(store_url_set_diverged(st, mid, true), 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_int_eq(f->urls[1].diverged, STORE_DIVERGED_ACCEPTED);
	store_feed_free(f);
	ck_assert_int_eq(store_url_set_diverged(st, 999999, true), -ENOENT);
}
END_TEST

START_TEST(test_suggested_mirror_is_recorded_once_and_accepted_as_mirror)
{
	int64_t id = add_feed("S", "https://s.example/rss", NULL, NULL);
	struct store_suggestion *v = NULL;
	struct store_feed *f = NULL;
	size_t n = 0;

	ck_assert_int_eq(store_suggestion_add(st, id, "http://s.onion/rss",
	                                      "onion-location", NOW),
	                 1);
	ck_assert_int_eq(store_suggestion_add(st, id, "http://s.onion/rss",
	                                      "onion-location", NOW + 5),
	                 0);
	/* One of its own URLs is no suggestion. */
	ck_assert_int_eq(store_suggestion_add(st, id, "https://s.example/rss",
	                                      "alternate", NOW),
	                 0);
	ck_assert_int_eq(store_suggestion_add(st, 424242, "http://x.example/",
	                                      "meta", NOW),
	                 -ENOENT);
	ck_assert_int_eq(store_suggestions(st, id, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].url, "http://s.onion/rss");
	ck_assert_str_eq(v[0].source, "onion-location");
	ck_assert_int_eq(v[0].first_seen, NOW);
	ck_assert_int_eq(v[0].last_seen, NOW + 5);
	store_suggestions_free(v, n);

	/* Nothing is polled until the user accepts it. */
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_uint_eq(f->n_urls, 1);
	store_feed_free(f);
	ck_assert_int_eq(store_mirror_accept(st, id, "http://s.onion/rss",
	                                     "socks5h://127.0.0.1:9050"),
	                 0);
	ck_assert_int_eq(store_feed_get(st, id, &f), 0);
	ck_assert_uint_eq(f->n_urls, 2);
	ck_assert_str_eq(f->urls[1].url, "http://s.onion/rss");
	ck_assert_str_eq(f->urls[1].proxy, "socks5h://127.0.0.1:9050");
	store_feed_free(f);
	v = NULL;
	ck_assert_int_eq(store_suggestions(st, id, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	store_suggestions_free(v, n);
	ck_assert_int_eq(
	        store_mirror_accept(st, id, "http://never.example/", NULL),
	        -ENOENT);
}
END_TEST

START_TEST(test_suggestions_per_feed_are_bounded)
{
	int64_t id = add_feed("B", "https://b.example/rss", NULL, NULL);
	struct store_suggestion *v = NULL;
	size_t n = 0;
	char url[64];

	for (int i = 0; i < STORE_MAX_SUGGESTIONS + 10; i++) {
		snprintf(url, sizeof(url), "https://m%d.example/rss", i);
		ck_assert_int_eq(
		        store_suggestion_add(st, id, url, "alternate", NOW + i),
		        i < STORE_MAX_SUGGESTIONS ? 1 : 0);
	}
	ck_assert_int_eq(store_suggestions(st, id, &v, &n), 0);
	ck_assert_uint_eq(n, STORE_MAX_SUGGESTIONS);
	ck_assert_str_eq(v[0].url, "https://m0.example/rss");
	store_suggestions_free(v, n);
}
END_TEST

START_TEST(test_recent_keys_are_the_newest_stories_identities)
{
	int64_t id = add_feed("R", "https://r.example/rss", NULL, NULL);
	struct gz_entry e[3] = {
	        entry("tag:r,1", "https://r.example/1", "one", "c1", NOW),
	        entry(NULL, "https://r.example/2", "two", "c2", NOW),
	        entry("tag:r,3", NULL, "three", "c3", NOW),
	};
	char **keys = NULL;
	size_t n = 0;
	bool saw_guid = false, saw_link = false;

	merge_n(id, 0, e, 3, NOW);
	ck_assert_int_eq(store_feed_recent_keys(st, id, 10, &keys, &n), 0);
	ck_assert_uint_eq(n, 4); /* 1: guid and link; 2: link; 3: guid */
	for (size_t i = 0; i < n; i++) {
		saw_guid = saw_guid || strcmp(keys[i], "tag:r,3") == 0;
		saw_link =
		        saw_link || strcmp(keys[i], "https://r.example/2") == 0;
	}
	ck_assert(saw_guid && saw_link);
	store_keys_free(keys, n);
	/* The newest one only: story 3, its guid. */
	ck_assert_int_eq(store_feed_recent_keys(st, id, 1, &keys, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(keys[0], "tag:r,3");
	store_keys_free(keys, n);
}
END_TEST

START_TEST(test_config_sync_carries_doh_and_resolve)
{
	const char *urls[2] = {"https://c.example/rss",
	                       "https://m.example/rss"};
	const char *dohs[2] = {NULL, "https://dns.example/dns-query"};
	struct store_feed_spec spec = {0};
	struct store_feed **v = NULL;
	size_t n = 0;

	spec.title = "C";
	spec.urls = urls;
	spec.dohs = dohs;
	spec.n_urls = 2;
	spec.from_config = true;
	spec.resolve = "c.example:443:192.0.2.1";
	ck_assert_int_eq(store_config_sync(st, &spec, 1), 0);
	ck_assert_int_eq(store_feeds(st, &v, &n), 1);
	ck_assert_ptr_null(v[0]->urls[0].doh);
	ck_assert_str_eq(v[0]->urls[1].doh, "https://dns.example/dns-query");
	ck_assert_str_eq(v[0]->resolve, "c.example:443:192.0.2.1");
	store_feeds_free(v, n);
	/* A changed pin and resolver are a change. */
	dohs[1] = NULL;
	dohs[0] = "https://other.example/dns-query";
	spec.resolve = NULL;
	ck_assert_int_eq(store_config_sync(st, &spec, 1), 0);
	ck_assert_int_eq(store_feeds(st, &v, &n), 1);
	ck_assert_str_eq(v[0]->urls[0].doh, "https://other.example/dns-query");
	ck_assert_ptr_null(v[0]->urls[1].doh);
	ck_assert_ptr_null(v[0]->resolve);
	store_feeds_free(v, n);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *open_tc = tcase_create("open");
	TCase *subs = tcase_create("subscriptions");
	TCase *merge = tcase_create("merge");
	TCase *ret = tcase_create("retention");
	TCase *query = tcase_create("queries");
	TCase *files = tcase_create("index-file");
	TCase *subs_file = tcase_create("subscriptions-file");
	TCase *all[] = {open_tc, subs, merge, ret, query, files, subs_file};

	pg_uri = getenv("GAZETTE_TEST_PG");
	if (pg_uri && !*pg_uri)
		pg_uri = NULL;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	/* About SQLite's files: main() leaves them out on PostgreSQL. */
	tcase_set_tags(open_tc, "sqlite-files");
	tcase_set_tags(files, "sqlite-files");
	tcase_set_tags(subs_file, "sqlite-files");
	tcase_add_test(open_tc, test_database_file_is_created_0600);
	tcase_add_test(open_tc, test_display_hides_the_password);
	tcase_add_test(open_tc,
	               test_database_for_group_is_created_0660_with_wal_alike);
	tcase_add_test(open_tc, test_database_uses_wal_and_current_schema);
	tcase_add_test(open_tc, test_database_newer_than_code_is_refused);
	tcase_add_test(
	        open_tc,
	        test_empty_file_migrates_to_current_and_reopen_is_idempotent);
	tcase_add_test(open_tc, test_missing_file_without_create_is_enoent);
	tcase_add_test(open_tc, test_readonly_store_reads_but_cannot_write);
	tcase_add_test(open_tc, test_close_accepts_null);
	tcase_add_test(open_tc, test_acknowledged_mark_survives_sigkill);

	tcase_add_test(subs, test_feed_add_is_idempotent_on_url);
	tcase_add_test(subs, test_feed_keeps_urls_in_order_with_proxies);
	tcase_add_test(subs,
	               test_untitled_feed_shows_parsed_title_then_user_title);
	tcase_add_test(subs, test_feed_find_by_id_url_and_title_prefix);
	tcase_add_test(subs, test_mirror_add_remove_and_reorder);
	tcase_add_test(
	        subs,
	        test_url_record_keeps_validators_per_url_and_counts_redirects);
	tcase_add_test(subs, test_schedule_and_disabled_state_are_saved);
	tcase_add_test(subs, test_config_sync_adds_updates_removes);
	tcase_add_test(
	        subs, test_config_sync_looks_again_where_an_earlier_feed_wrote);
	tcase_add_test(subs_file,
	               test_config_sync_of_an_unchanged_file_writes_nothing);
	tcase_add_test(
	        subs, test_feeds_uncounted_lists_the_same_feeds_without_counts);
	tcase_add_test(subs, test_remove_feed_keeps_story_of_other_feed);
	tcase_add_test(subs,
	               test_url_record_keeps_failure_kind_address_and_via);
	tcase_add_test(subs,
	               test_diverged_flag_is_set_cleared_and_accepted_for_good);
	tcase_add_test(
	        subs,
	        test_suggested_mirror_is_recorded_once_and_accepted_as_mirror);
	tcase_add_test(subs, test_suggestions_per_feed_are_bounded);
	tcase_add_test(subs, test_config_sync_carries_doh_and_resolve);
	tcase_add_test(merge,
	               test_recent_keys_are_the_newest_stories_identities);

	tcase_add_test(merge, test_merge_same_guid_twice_stores_one_story);
	tcase_add_test(merge, test_merge_refused_by_the_server_keeps_nothing);
	tcase_add_test(merge, test_merge_into_a_removed_feed_stores_nothing);
	tcase_add_test(merge,
	               test_removed_stories_and_feeds_leave_no_memberships);
	tcase_add_test(merge,
	               test_link_lookup_reads_the_link_index_under_any_plan);
	tcase_add_test(
	        merge,
	        test_merge_guid_change_with_same_link_makes_no_duplicate);
	tcase_add_test(merge, test_merge_via_mirror_host_makes_no_duplicate);
	tcase_add_test(merge, test_merge_same_link_in_two_feeds_is_one_story);
	tcase_add_test(
	        merge,
	        test_merge_repeated_guid_with_different_links_keeps_both);
	tcase_add_test(merge,
	               test_merge_link_shared_by_entries_keeps_them_apart);
	tcase_add_test(merge,
	               test_merge_without_guid_or_link_uses_content_hash);
	tcase_add_test(
	        merge,
	        test_merge_same_entry_twice_in_one_document_stores_one_story);
	tcase_add_test(
	        merge,
	        test_merge_prepared_under_other_urls_works_them_out_again);
	tcase_add_test(
	        merge,
	        test_merge_changed_title_keeps_read_state_and_flags_updated);
	tcase_add_test(merge,
	               test_two_feeds_serving_different_text_do_not_flip_flop);
	tcase_add_test(merge, test_future_date_is_clamped);
	tcase_add_test(merge, test_missing_date_takes_first_seen);
	tcase_add_test(merge, test_merge_unknown_feed_or_url_index_fails);
	tcase_add_test(merge, test_merge_is_one_transaction);

	tcase_add_test(ret, test_purged_story_does_not_return);
	tcase_add_test(ret, test_starred_story_is_never_purged);
	tcase_add_test(ret, test_unread_and_recent_stories_are_not_purged);
	tcase_add_test(ret, test_purge_removes_more_than_one_batch);
	tcase_add_test(ret, test_purge_by_age_of_unread_leaves_tombstones);
	tcase_add_test(ret, test_keep_unread_off_by_default_keeps_old_unread);
	tcase_add_test(ret, test_keep_unread_per_feed_overrides_the_default);
	tcase_add_test(ret, test_max_stories_keeps_the_newest_and_starred);
	tcase_add_test(ret, test_starred_story_survives_every_rule);
	tcase_add_test(ret, test_shared_story_goes_only_when_no_feed_keeps_it);
	tcase_add_test(ret, test_purge_rules_name_configured_feeds_by_title);
	tcase_add_test(ret, test_purge_by_rules_removes_more_than_one_batch);
	tcase_add_test(ret, test_read_retention_is_counted_per_feed_and_in_all);
	tcase_add_test(
	        ret,
	        test_version_7_database_migrates_keeping_stories_and_tombstones);

	tcase_add_test(query, test_mark_feed_before_date);
	tcase_add_test(query, test_feed_counts_unread_and_total);
	tcase_add_test(query,
	               test_list_filters_newest_first_with_limit_offset_since);
	tcase_add_test(query, test_story_get_returns_content_or_enoent);
	tcase_add_test(query, test_new_cursor_advances_only_when_set);
	tcase_add_test(query, test_story_ids_are_never_reused);
	tcase_add_test(query, test_search_ranks_title_match);
	tcase_add_test(query, test_search_takes_punctuation_and_prefixes);
	tcase_add_test(query,
	               test_search_quotes_and_backslashes_are_words_not_syntax);
	tcase_add_test(query, test_index_lag_is_none_after_a_search);
	tcase_add_test(query,
	               test_search_with_filters_keeps_to_feed_and_unread);
	tcase_add_test(query, test_search_index_follows_updates_and_purges);
	tcase_add_test(query,
	               test_search_index_follows_updates_of_indexed_stories);
	tcase_add_test(
	        files,
	        test_new_story_waits_for_index_and_search_indexes_it_first);
	tcase_add_test(query, test_search_index_holds_text_not_markup);
	tcase_add_test(files, test_index_some_takes_at_most_what_it_is_asked);
	tcase_add_test(query,
	               test_reindex_builds_the_index_again_from_the_store);
	tcase_add_test(files, test_damaged_or_foreign_index_file_is_made_again);
	tcase_add_test(query, test_removed_feed_leaves_the_index);
	tcase_add_test(
	        open_tc,
	        test_version_1_database_migrates_and_old_stories_are_found);
	tcase_add_test(
	        open_tc,
	        test_version_2_database_migrates_with_marks_mirrors_and_index);
	tcase_add_test(
	        open_tc,
	        test_version_3_database_migrates_and_new_stories_are_indexed);
	tcase_add_test(
	        open_tc,
	        test_batch_failure_fails_what_follows_and_rolls_back_all);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_tagged(sr, NULL, NULL, NULL, pg_uri ? "sqlite-files" : NULL,
	                   CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
