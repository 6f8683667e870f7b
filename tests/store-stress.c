/*
 * The store under two processes at once: one merges 20,000 entries in
 * many short transactions (the daemon), the other marks and lists in a
 * loop (the CLI). Both must finish without a single error (no SQLITE_BUSY
 * reaching the caller) and the result must be consistent: exactly 20,000
 * stories, and every mark the second process made still there. With
 * GAZETTE_TEST_PG set (tests/pg-run.sh), the same on that PostgreSQL
 * database instead of a file.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gazette/store.h"

#define N_STORIES 20000
#define N_FEEDS   4
#define BATCH     50 /* entries per merge: one transaction each */
#define NOW       1700000000

/* Open the store or die with a message. */
static struct store *
open_or_die(const char *path, unsigned flags, const char *who)
{
	struct store *s = NULL;
	char *err = NULL;
	int r = store_open(path, flags, &s, &err);

	if (r < 0) {
		fprintf(stderr, "%s: store_open: %d %s\n", who, r,
		        err ? err : "");
		exit(2);
	}
	return s;
}

/*
 * The merger: entries k = 0..N_STORIES-1, each in feed k % N_FEEDS,
 * merged in batches; every batch merges the previous batch again too
 * (unchanged entries), like a feed that still lists older items.
 */
static int
merger(const char *path, const int64_t *feeds)
{
	struct store *s = open_or_die(path, 0, "merger");
	struct gz_entry *e = calloc(2 * BATCH, sizeof(*e));
	char(*guid)[32] = calloc(2 * BATCH, sizeof(*guid));
	char(*link)[64] = calloc(2 * BATCH, sizeof(*link));
	int errors = 0, created = 0;

	if (!e || !guid || !link)
		return 1;
	for (int feed = 0; feed < N_FEEDS; feed++) {
		int per_feed = N_STORIES / N_FEEDS;

		for (int start = 0; start < per_feed; start += BATCH) {
			int from = start >= BATCH ? start - BATCH : start;
			int n = 0;
			struct gz_feed f;
			struct store_merge_result res;
			int r;

			for (int i = from; i < start + BATCH; i++, n++) {
				int k = feed * per_feed + i;

				snprintf(guid[n], sizeof(guid[n]), "g-%d", k);
				snprintf(link[n], sizeof(link[n]),
				         "https://news.example/%d", k);
				memset(&e[n], 0, sizeof(e[n]));
				e[n].id = guid[n];
				e[n].link = link[n];
				e[n].title = guid[n];
				e[n].content = link[n];
				e[n].published = NOW - k;
				e[n].updated = GZ_NO_DATE;
			}
			memset(&f, 0, sizeof(f));
			f.entries = e;
			f.n_entries = (size_t)n;
			r = store_merge(s, feeds[feed], 0, &f, NOW, &res);
			if (r < 0) {
				fprintf(stderr, "merger: store_merge: %d %s\n",
				        r, store_errmsg(s));
				errors++;
				continue;
			}
			created += res.new_stories;
		}
	}
	store_close(s);
	free(e);
	free(guid);
	free(link);
	if (created != N_STORIES) {
		fprintf(stderr, "merger: %d new stories, expected %d\n",
		        created, N_STORIES);
		errors++;
	}
	return errors ? 1 : 0;
}

/* Per story seen by the marker: ids divisible by 7 get a star. */
struct marker_state {
	struct store *s;
	FILE *out;
	int errors;
	int marked;
	int64_t ids[50];
	int n_ids;
};

/* Remember the stories to star; writes wait until the listing ends. */
static int
pick(const struct store_story *st, void *arg)
{
	struct marker_state *m = arg;

	if (st->id % 7 == 0 && !st->starred && m->n_ids < 50)
		m->ids[m->n_ids++] = st->id;
	return 0;
}

/* Star the picked stories and report their ids. */
static void
star_picked(struct marker_state *m)
{
	for (int i = 0; i < m->n_ids; i++) {
		int r = store_mark_story(m->s, m->ids[i], STORE_MARK_STAR);

		if (r != 1) {
			fprintf(stderr, "marker: star %" PRId64 ": %d %s\n",
			        m->ids[i], r, store_errmsg(m->s));
			m->errors++;
			continue;
		}
		fprintf(m->out, "%" PRId64 "\n", m->ids[i]);
		m->marked++;
	}
	m->n_ids = 0;
}

/*
 * The marker: list unread in pages, star some, mark others read, search,
 * count feeds, until the merger is done (its pid has exited).
 */
static int
marker(const char *path, pid_t merger_pid, const char *report)
{
	struct marker_state m = {0};
	int rounds = 0;

	m.s = open_or_die(path, STORE_SYNC_FULL, "marker");
	m.out = fopen(report, "we");
	if (!m.out)
		return 1;
	for (;;) {
		struct store_query q = {0};
		struct store_feed **v = NULL;
		size_t n = 0;
		int r, alive = kill(merger_pid, 0) == 0;

		/* A page of the listing, somewhere in the first few. */
		q.limit = 200;
		q.offset = (rounds * 37) % 400;
		r = store_stories(m.s, &q, NULL, NULL);
		if (r < 0) {
			fprintf(stderr, "marker: list: %d %s\n", r,
			        store_errmsg(m.s));
			m.errors++;
		}
		q.flags = 0;
		q.limit = 50;
		q.offset = (rounds * 50) % N_STORIES;
		m.n_ids = 0;
		r = store_stories(m.s, &q, pick, &m);
		if (r < 0) {
			fprintf(stderr, "marker: list+mark: %d %s\n", r,
			        store_errmsg(m.s));
			m.errors++;
		}
		star_picked(&m);
		r = store_mark_feed(m.s, 0, NOW - 15000, STORE_MARK_READ);
		if (r < 0) {
			fprintf(stderr, "marker: mark_feed: %d %s\n", r,
			        store_errmsg(m.s));
			m.errors++;
		}
		q = (struct store_query){.search = "news", .limit = 20};
		r = store_stories(m.s, &q, NULL, NULL);
		if (r < 0) {
			fprintf(stderr, "marker: search: %d %s\n", r,
			        store_errmsg(m.s));
			m.errors++;
		}
		r = store_feeds(m.s, &v, &n);
		if (r < 0) {
			fprintf(stderr, "marker: feeds: %d %s\n", r,
			        store_errmsg(m.s));
			m.errors++;
		}
		store_feeds_free(v, n);
		rounds++;
		if (!alive || m.errors)
			break;
	}
	fclose(m.out);
	store_close(m.s);
	fprintf(stderr, "marker: %d rounds, %d stars, %d errors\n", rounds,
	        m.marked, m.errors);
	if (rounds < 2) {
		fprintf(stderr, "marker: ran only %d rounds\n", rounds);
		return 1;
	}
	return m.errors ? 1 : 0;
}

/* Tell whether the story got is starred. */
static int
is_starred(const struct store_story *st, void *arg)
{
	*(bool *)arg = st->starred;
	return 0;
}

/* Count the stories a query finds. */
static int
count(struct store *s, unsigned flags)
{
	struct store_query q = {.flags = flags};

	return store_stories(s, &q, NULL, NULL);
}

int
main(void)
{
	char dir[] = "/tmp/gz-stress-XXXXXX", path[512], report[600];
	const char *pg = getenv("GAZETTE_TEST_PG");
	int64_t feeds[N_FEEDS];
	struct store *s;
	pid_t pm, pk;
	int status, failed = 0, starred = 0, expect_read;
	FILE *in;
	char line[64];

	if (!mkdtemp(dir))
		return 2;
	if (pg && *pg)
		snprintf(path, sizeof(path), "%s", pg);
	else
		snprintf(path, sizeof(path), "%s/stress.db", dir);
	snprintf(report, sizeof(report), "%s/stars", dir);
	s = open_or_die(path, STORE_CREATE, "setup");
	for (int i = 0; i < N_FEEDS; i++) {
		char url[64], title[32];
		const char *u[] = {url};
		struct store_feed_spec spec = {
		        .title = title, .urls = u, .n_urls = 1};

		snprintf(url, sizeof(url), "https://feed%d.example/rss", i);
		snprintf(title, sizeof(title), "Feed %d", i);
		if (store_feed_add(s, &spec, &feeds[i]) != 1)
			return 2;
	}
	store_close(s);

	pm = fork();
	if (pm == 0)
		_exit(merger(path, feeds));
	pk = fork();
	if (pk == 0)
		_exit(marker(path, pm, report));
	if (waitpid(pm, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "FAIL: the merger had errors\n");
		failed = 1;
	}
	if (waitpid(pk, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "FAIL: the marker had errors\n");
		failed = 1;
	}

	/* Consistent: all stories there, every star the marker made kept. */
	s = open_or_die(path, 0, "check");
	if (count(s, 0) != N_STORIES) {
		fprintf(stderr, "FAIL: %d stories, expected %d\n", count(s, 0),
		        N_STORIES);
		failed = 1;
	}
	in = fopen(report, "re");
	while (in && fgets(line, sizeof(line), in)) {
		int64_t id = strtoll(line, NULL, 10);
		bool star = false;

		starred++;
		if (store_story_get(s, id, is_starred, &star) != 0 || !star) {
			fprintf(stderr,
			        "FAIL: story %" PRId64 " lost its star\n", id);
			failed = 1;
		}
	}
	if (in)
		fclose(in);
	if (count(s, STORE_Q_STARRED) != starred) {
		fprintf(stderr, "FAIL: %d starred, the marker starred %d\n",
		        count(s, STORE_Q_STARRED), starred);
		failed = 1;
	}
	/*
	 * The marker's last round began after the merger had exited, so
	 * every story published before NOW - 15000 (k > 15000) is read, and
	 * no other one is.
	 */
	expect_read = N_STORIES - 15001;
	if (N_STORIES - count(s, STORE_Q_UNREAD) != expect_read) {
		fprintf(stderr, "FAIL: %d read, expected %d\n",
		        N_STORIES - count(s, STORE_Q_UNREAD), expect_read);
		failed = 1;
	}
	store_close(s);
	fprintf(stderr, "%s: %d stories, %d starred\n", failed ? "FAIL" : "ok",
	        N_STORIES, starred);

	unlink(report);
	if (!store_is_url(path)) {
		unlink(path);
		snprintf(report, sizeof(report), "%s-wal", path);
		unlink(report);
		snprintf(report, sizeof(report), "%s-shm", path);
		unlink(report);
	}
	rmdir(dir);
	return failed;
}
