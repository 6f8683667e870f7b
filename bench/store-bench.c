/*
 * The store's benchmark (not a test): merge 100,000 new entries across
 * 1,000 feeds, merge them again (all unchanged), against a plain bulk
 * INSERT of the same rows through the sqlite3 shell; then list 50 unread
 * and search on a database of 1,000,000 stories.
 *
 *   bench/store-bench.sh [BUILDDIR] [WORKDIR]   (builds and runs this)
 *   store-bench [-f FEEDS] [-n PER_FEED] [-b BIG_STORIES] WORKDIR
 *
 * -f 0 skips the merge runs, -b 0 the big database; WORKDIR/big.db is
 * kept and reused while it holds at least BIG_STORIES stories.
 *
 * Text is generated (a fixed seed, a skewed pick from a made-up 20,000
 * word vocabulary), so every run sees the same rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gazette/store.h"

#define VOCAB 20000
#define NOW   1700000000

static char *vocab[VOCAB];
static uint64_t rng = 88172645463325252ULL;

/* xorshift64: deterministic numbers. */
static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A made-up vocabulary of pronounceable-ish words. */
static void
make_vocab(void)
{
	for (int i = 0; i < VOCAB; i++) {
		int len = 3 + (int)(next() % 8);
		char *w = malloc((size_t)len + 1);

		for (int j = 0; j < len; j++)
			w[j] = (char)('a' + next() % 26);
		w[len] = '\0';
		vocab[i] = w;
	}
}

/* A word, low indexes much more frequent (a rough Zipf). */
static const char *
word(void)
{
	double u = (double)(next() % 1000000) / 1000000.0;

	return vocab[(int)(VOCAB * u * u * u)];
}

/* n words separated by spaces into a new string, wrapped in <p> if html. */
static char *
text(int n, int html)
{
	size_t cap = (size_t)n * 12 + 16, len = 0;
	char *t = malloc(cap);

	if (html)
		len += (size_t)sprintf(t, "<p>");
	for (int i = 0; i < n; i++) {
		const char *w = word();
		size_t l = strlen(w);

		if (len + l + 8 >= cap)
			break;
		if (i)
			t[len++] = ' ';
		memcpy(t + len, w, l);
		len += l;
	}
	if (html)
		len += (size_t)sprintf(t + len, "</p>");
	t[len] = '\0';
	return t;
}

/* Wall and process CPU clocks. */
struct clocks {
	double wall, cpu;
};

/* Read both clocks. */
static struct clocks
now(void)
{
	struct timespec w, c;

	clock_gettime(CLOCK_MONOTONIC, &w);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
	return (struct clocks){w.tv_sec + w.tv_nsec / 1e9,
	                       c.tv_sec + c.tv_nsec / 1e9};
}

/* The entries of feed f: n of them, deterministic for (f, i). */
static void
make_entries(struct gz_entry *e, int f, int n, int n_summary, int n_content)
{
	for (int i = 0; i < n; i++) {
		char b[96];

		memset(&e[i], 0, sizeof(e[i]));
		snprintf(b, sizeof(b), "https://site%d.example/%d/story-%d", f,
		         i % 7, i);
		e[i].id = strdup(b);
		e[i].link = strdup(b);
		e[i].title = text(8, 0);
		e[i].summary = text(n_summary, 0);
		e[i].content = text(n_content, 1);
		e[i].author = strdup("A. Writer");
		e[i].published = NOW - (int64_t)f * 100 - i;
		e[i].updated = GZ_NO_DATE;
	}
}

/* Free what make_entries made. */
static void
free_entries(struct gz_entry *e, int n)
{
	for (int i = 0; i < n; i++) {
		free(e[i].id);
		free(e[i].link);
		free(e[i].title);
		free(e[i].summary);
		free(e[i].content);
		free(e[i].author);
	}
}

/* Write s as an SQL string literal. */
static void
sql_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("NULL", f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* Add feeds 0..n-1 with one URL each; ids into ids. */
static void
add_feeds(struct store *s, int64_t *ids, int n)
{
	store_begin(s);
	for (int f = 0; f < n; f++) {
		char url[64], title[32];
		const char *u[] = {url};
		struct store_feed_spec spec = {
		        .title = title, .urls = u, .n_urls = 1};

		snprintf(url, sizeof(url), "https://site%d.example/rss", f);
		snprintf(title, sizeof(title), "Site %d", f);
		if (store_feed_add(s, &spec, &ids[f]) < 0) {
			fprintf(stderr, "feed_add: %s\n", store_errmsg(s));
			exit(1);
		}
	}
	store_commit(s);
}

/* Open a store or exit. */
static struct store *
open_store(const char *path, unsigned flags)
{
	struct store *s;
	char *err = NULL;

	if (store_open(path, flags, &s, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err ? err : "");
		exit(1);
	}
	return s;
}

/* Run the sqlite3 shell on a script; wall and child CPU seconds. */
static struct clocks
run_shell(const char *db, const char *script)
{
	struct timespec a, b;
	struct rusage ru;
	int status;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid == 0) {
		if (!freopen(script, "r", stdin))
			_exit(127);
		execlp("sqlite3", "sqlite3", "-bail", db, (char *)NULL);
		_exit(127);
	}
	wait4(pid, &status, 0, &ru);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "sqlite3 shell failed\n");
		exit(1);
	}
	return (struct clocks){
	        (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
	        ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	                ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6};
}

/* Remove a database and its WAL files. */
static void
rm_db(const char *path)
{
	char p[600];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

/* Count stories a callback sees. */
static int
count_cb(const struct store_story *st, void *arg)
{
	(void)st;
	(*(int *)arg)++;
	return 0;
}

/* Merge feeds' entries: one store_merge (one transaction) per feed. */
static void
merge_all(struct store *s, const int64_t *ids, int feeds, int per,
          struct gz_entry **all, int64_t t, struct store_merge_result *tot)
{
	memset(tot, 0, sizeof(*tot));
	for (int f = 0; f < feeds; f++) {
		struct gz_feed gf = {0};
		struct store_merge_result r;

		gf.entries = all[f];
		gf.n_entries = (size_t)per;
		if (store_merge(s, ids[f], 0, &gf, t, &r) < 0) {
			fprintf(stderr, "merge: %s\n", store_errmsg(s));
			exit(1);
		}
		tot->new_stories += r.new_stories;
		tot->updated += r.updated;
		tot->unchanged += r.unchanged;
	}
}

/* Phase 1: merge new, merge unchanged, plain INSERT baseline. */
static void
bench_merge(const char *dir, int feeds, int per)
{
	char db[512], plain[512], plainfts[512], script[512], script2[512];
	char script3[512];
	struct gz_entry **all = calloc((size_t)feeds, sizeof(*all));
	int64_t *ids = calloc((size_t)feeds, sizeof(*ids));
	struct store_merge_result tot;
	struct clocks a, ix, b, c;
	double new_wall, new_cpu, un_wall, un_cpu;
	struct clocks sh, shf, shi;
	struct store *s;
	FILE *f, *f2;
	int n = feeds * per;

	snprintf(db, sizeof(db), "%s/merge.db", dir);
	snprintf(plain, sizeof(plain), "%s/plain.db", dir);
	snprintf(plainfts, sizeof(plainfts), "%s/plainfts.db", dir);
	snprintf(script, sizeof(script), "%s/plain.sql", dir);
	snprintf(script2, sizeof(script2), "%s/plainfts.sql", dir);
	snprintf(script3, sizeof(script3), "%s/ftsonly.sql", dir);
	rm_db(db);
	rm_db(plain);
	rm_db(plainfts);
	for (int i = 0; i < feeds; i++) {
		all[i] = calloc((size_t)per, sizeof(**all));
		make_entries(all[i], i, per, 30, 150);
	}

	s = open_store(db, STORE_CREATE);
	add_feeds(s, ids, feeds);
	a = now();
	merge_all(s, ids, feeds, per, all, NOW, &tot);
	ix = now();
	/* What the merges left queued for the full-text index, as a
	 * poller does at the end of its round: part of the time. */
	if (store_index(s) < 0) {
		fprintf(stderr, "index: %s\n", store_errmsg(s));
		exit(1);
	}
	b = now();
	if (tot.new_stories != n) {
		fprintf(stderr, "expected %d new, got %d\n", n,
		        tot.new_stories);
		exit(1);
	}
	merge_all(s, ids, feeds, per, all, NOW + 1800, &tot);
	c = now();
	if (tot.unchanged != n) {
		fprintf(stderr, "expected %d unchanged, got %d\n", n,
		        tot.unchanged);
		exit(1);
	}
	store_close(s);
	new_wall = b.wall - a.wall;
	new_cpu = b.cpu - a.cpu;
	un_wall = c.wall - b.wall;
	un_cpu = c.cpu - b.cpu;

	/* The same rows as one bulk INSERT through the shell. */
	f = fopen(script, "we");
	f2 = fopen(script2, "we");
	if (!f || !f2)
		exit(1);
	fputs("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
	      "CREATE TABLE story (id INTEGER PRIMARY KEY, guid TEXT,"
	      " title TEXT, link TEXT, author TEXT, summary TEXT,"
	      " content TEXT, published INTEGER, updated INTEGER,"
	      " first_seen INTEGER, read INTEGER, starred INTEGER,"
	      " changed INTEGER);\n",
	      f);
	fputs("PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n"
	      "CREATE TABLE story (id INTEGER PRIMARY KEY, guid TEXT,"
	      " title TEXT, link TEXT, author TEXT, summary TEXT,"
	      " content TEXT, published INTEGER, updated INTEGER,"
	      " first_seen INTEGER, read INTEGER, starred INTEGER,"
	      " changed INTEGER);\n"
	      "CREATE VIRTUAL TABLE story_fts USING fts5(title, summary,"
	      " content, content='story', content_rowid='id');\n"
	      "CREATE TRIGGER story_ai AFTER INSERT ON story BEGIN"
	      " INSERT INTO story_fts(rowid, title, summary, content)"
	      " VALUES (new.id, new.title, new.summary, new.content); END;\n",
	      f2);
	fputs("BEGIN;\n", f);
	fputs("BEGIN;\n", f2);
	for (int i = 0; i < feeds; i++)
		for (int j = 0; j < per; j++) {
			const struct gz_entry *e = &all[i][j];
			FILE *out[2] = {f, f2};

			for (int k = 0; k < 2; k++) {
				fputs("INSERT INTO story VALUES (NULL,",
				      out[k]);
				sql_str(out[k], e->id);
				fputc(',', out[k]);
				sql_str(out[k], e->title);
				fputc(',', out[k]);
				sql_str(out[k], e->link);
				fputc(',', out[k]);
				sql_str(out[k], e->author);
				fputc(',', out[k]);
				sql_str(out[k], e->summary);
				fputc(',', out[k]);
				sql_str(out[k], e->content);
				fprintf(out[k],
				        ",%" PRId64 ",NULL,%d,0,0,0);\n",
				        e->published, NOW);
			}
		}
	fputs("COMMIT;\n", f);
	fputs("COMMIT;\n", f2);
	fclose(f);
	fclose(f2);
	/*
	 * The full-text index alone, at its cheapest: the same rows into a
	 * contentless FTS5 table (gazette's kind) in one bulk transaction,
	 * after the plain INSERT, in a shell of its own. What any merge that
	 * indexes title, summary and content pays on top of the INSERT.
	 */
	f = fopen(script3, "we");
	if (!f)
		exit(1);
	fputs("CREATE VIRTUAL TABLE story_fts USING fts5(title, summary,"
	      " content, content='');\n"
	      "INSERT INTO story_fts(story_fts, rank)"
	      " VALUES ('hashsize', 33554432);\n"
	      "BEGIN;\nINSERT INTO story_fts(rowid, title, summary, content)"
	      " SELECT id, title, summary, content FROM story;\nCOMMIT;\n",
	      f);
	fclose(f);
	sh = run_shell(plain, script);
	shi = run_shell(plain, script3);
	shf = run_shell(plainfts, script2);

	printf("## merge: %d feeds x %d entries = %d rows\n\n", feeds, per, n);
	printf("| run | wall s | cpu s | us/row (wall) | rows/s (wall) |\n");
	printf("| --- | ---: | ---: | ---: | ---: |\n");
	printf("| store_merge, new (FTS included) | %.3f | %.3f | %.1f | %.0f "
	       "|\n",
	       new_wall, new_cpu, 1e6 * new_wall / n, n / new_wall);
	printf("| of which store_index at the end | %.3f | %.3f | | |\n",
	       b.wall - ix.wall, b.cpu - ix.cpu);
	printf("| store_merge, unchanged | %.3f | %.3f | %.1f | %.0f |\n",
	       un_wall, un_cpu, 1e6 * un_wall / n, n / un_wall);
	printf("| sqlite3 shell, plain INSERT | %.3f | %.3f | %.1f | %.0f |\n",
	       sh.wall, sh.cpu, 1e6 * sh.wall / n, n / sh.wall);
	printf("| sqlite3 shell, FTS5 index alone (bulk, after the INSERT) "
	       "| %.3f | %.3f | %.1f | %.0f |\n",
	       shi.wall, shi.cpu, 1e6 * shi.wall / n, n / shi.wall);
	printf("| sqlite3 shell, INSERT + FTS5 (a trigger per row) | %.3f "
	       "| %.3f | %.1f | %.0f |\n\n",
	       shf.wall, shf.cpu, 1e6 * shf.wall / n, n / shf.wall);
	printf("new / plain INSERT: %.2fx (target <= 2x); "
	       "new / (INSERT + FTS5): %.2fx; "
	       "new / unchanged: %.1fx (target >= 5x)\n\n",
	       new_wall / sh.wall, new_wall / shf.wall, new_wall / un_wall);
	printf("the index alone / plain INSERT: %.2fx (cpu %.2fx): the least "
	       "an indexed merge can cost is (1 + that) x the INSERT\n\n",
	       shi.wall / sh.wall, shi.cpu / sh.cpu);
	printf("by cpu: new / plain INSERT: %.2fx; "
	       "new / (INSERT + FTS5): %.2fx; new / unchanged: %.1fx\n\n",
	       new_cpu / sh.cpu, new_cpu / shf.cpu, new_cpu / un_cpu);
	fflush(stdout);

	for (int i = 0; i < feeds; i++) {
		free_entries(all[i], per);
		free(all[i]);
	}
	free(all);
	free(ids);
	if (!getenv("STORE_BENCH_KEEP")) {
		unlink(script);
		unlink(script2);
		unlink(script3);
	}
	rm_db(plain);
	rm_db(plainfts);
	rm_db(db);
}

/* Phase 2: list and search on a big database (built once, kept). */
static void
bench_big(const char *dir, int big)
{
	const int per = 100, feeds = big / per;
	char db[512];
	struct store *s;
	struct clocks a, b;
	int64_t max = 0;
	const char *queries[3];

	snprintf(db, sizeof(db), "%s/big.db", dir);
	s = open_store(db, STORE_CREATE);
	store_max_story_id(s, &max);
	if (max < big) {
		int64_t *ids = calloc((size_t)feeds, sizeof(*ids));
		struct gz_entry *e = calloc((size_t)per, sizeof(*e));

		struct store_feed **v = NULL;
		size_t nv = 0;
		int first = 0;

		/* Resume a build cut short after a committed batch. */
		if (max > 0 && max % ((int64_t)per * 1000) == 0 &&
		    store_feeds(s, &v, &nv) == feeds) {
			for (size_t i = 0; i < nv; i++)
				ids[i] = v[i]->id;
			first = (int)(max / per);
		} else {
			store_close(s);
			rm_db(db);
			s = open_store(db, STORE_CREATE);
			add_feeds(s, ids, feeds);
		}
		store_feeds_free(v, nv);
		a = now();
		/*
		 * Setup, not measured: shorter stories (title, 30 words of
		 * summary, 40 of content) and 1,000 feeds per transaction, so
		 * that a million stories take minutes, not hours.
		 */
		for (int f = first; f < feeds; f++) {
			if (f % 1000 == 0)
				store_begin(s);
			struct gz_feed gf = {0};
			struct store_merge_result r;

			make_entries(e, f, per, 30, 40);
			gf.entries = e;
			gf.n_entries = (size_t)per;
			if (store_merge(s, ids[f], 0, &gf, NOW, &r) < 0) {
				fprintf(stderr, "merge: %s\n", store_errmsg(s));
				exit(1);
			}
			free_entries(e, per);
			/* Most of an old database has been read. */
			if (f % 10 != 0)
				store_mark_feed(s, ids[f], 0, STORE_MARK_READ);
			if (f % 1000 == 999 || f == feeds - 1)
				store_commit(s);
		}
		store_index(s);
		b = now();
		printf("built %d stories in %.1f s (%.0f rows/s)\n\n",
		       big - first * per, b.wall - a.wall,
		       (big - first * per) / (b.wall - a.wall));
		free(ids);
		free(e);
	}
	store_close(s);

	printf("## %d stories\n\n", big);
	printf("| query | results | cpu ms (open+query+close) | cpu ms "
	       "(query) | wall ms (query) |\n");
	printf("| --- | ---: | ---: | ---: | ---: |\n");
	/* Words of high, middle and low frequency in the vocabulary. */
	queries[0] = vocab[300];
	queries[1] = vocab[3000];
	queries[2] = vocab[15000];
	for (int q = -1; q < 3; q++) {
		struct store_query sq = {.flags = STORE_Q_UNREAD, .limit = 50};
		struct clocks o, c0, c1, e;
		int got = 0, r;

		if (q >= 0) {
			sq.flags = 0;
			sq.search = queries[q];
		}
		o = now();
		s = open_store(db, STORE_SYNC_FULL);
		c0 = now();
		r = store_stories(s, &sq, count_cb, &got);
		c1 = now();
		store_close(s);
		e = now();
		if (r < 0) {
			fprintf(stderr, "query failed\n");
			exit(1);
		}
		if (q < 0)
			printf("| list 50 unread |");
		else
			printf("| search '%s' (limit 50) |", queries[q]);
		printf(" %d | %.2f | %.2f | %.2f |\n", got,
		       1e3 * (e.cpu - o.cpu), 1e3 * (c1.cpu - c0.cpu),
		       1e3 * (c1.wall - c0.wall));
	}
	printf("\n");
}

int
main(int argc, char **argv)
{
	int feeds = 1000, per = 100, big = 1000000, opt;

	while ((opt = getopt(argc, argv, "f:n:b:")) != -1) {
		switch (opt) {
		case 'f':
			feeds = atoi(optarg);
			break;
		case 'n':
			per = atoi(optarg);
			break;
		case 'b':
			big = atoi(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: store-bench [-f FEEDS] [-n PER] "
			        "[-b BIG] WORKDIR\n");
			return 2;
		}
	}
	if (optind >= argc || feeds < 0 || per <= 0 || big < 0)
		return 2;
	make_vocab();
	if (feeds > 0)
		bench_merge(argv[optind], feeds, per);
	if (big > 0)
		bench_big(argv[optind], big);
	return 0;
}
