/*
 * The ingest threads (see ingest.h): one mutex, a FIFO of bodies for the
 * parser thread and one of parsed feeds and saves for the merge thread
 * (each with its condition variable), bounded together in the bytes of
 * the bodies they hold until merged, and a list of results the loop
 * collects when the eventfd says so. Nothing else is shared: the parser
 * owns the parsers of bodies still arriving, the merge thread the store
 * connection, opened by it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "gazette/config.h"
#include "gazette/log.h"
#include "gazette/parse.h"
#include "gazette/xalloc.h"
#include "ingest.h"
#include "mirror.h"

#define INGEST_BATCH    2048 /* jobs in one transaction at most */
#define INGEST_BATCH_MS 500  /* the longest a job waits for its commit */
#define INDEX_STEP      5000 /* stories indexed between looks at the queue */
#define INDEX_QUIET_MS  1000 /* no job for this long: the thread is idle */
#define REDO_TRIES      5    /* a rolled-back batch merged again at most */
#define REDO_FIRST_MS   200  /* then 400, 800...: about 6 s in all */
/*
 * What a document costs the queue's bound, per byte: the body, then the
 * parsed feed it becomes (measured at 2 to 3 times the body, strings and
 * structures), and the allocator's share; so that ingest-queue bounds
 * the memory the queue holds, not only its bodies.
 */
#define INGEST_CHARGE 4

/* A parser fed with the pieces of a large body. */
struct stream {
	int64_t feed_id;
	uint64_t poll;
	struct gz_parser *parser;
	int err; /* the first push that failed */
	struct stream *next;
};

struct ingest {
	pthread_t thread; /* merges and commits: the store's */
	pthread_t parser; /* parses: no store */
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* the merge thread's */
	pthread_cond_t parse_cond; /* the parser's */
	int efd;

	/* under lock */
	struct ingest_list parse_q; /* bodies to parse, in order */
	struct ingest_list queue;   /* parsed feeds and saves, in order */
	struct ingest_list results;
	size_t bytes; /* charged for the bodies not yet merged (INGEST_CHARGE)
	               */
	size_t jobs;  /* queued, and the one in hand */
	size_t max_bytes; /* full at this */
	int64_t index_lag;
	bool stop, drain;
	bool parser_done; /* the parser has stopped: nothing more comes */
	bool started;     /* the thread has opened its store (or failed to) */
	bool running;     /* there is a thread to join */
	bool parser_running; /* and a parser */
	bool index_idle;     /* fill the index when idle (not for --once) */
	int open_err;
	char *open_msg;

	/* the thread's own */
	char *db_path, *db_name;
	char *instance; /* the daemon's leases, in a shared store */
	unsigned flags;
	struct store *store;
	struct stream *streams;   /* parsers of bodies still arriving */
	struct ingest_list batch; /* jobs that wrote, awaiting the commit */
	size_t n_batch;
	int64_t batch_ms; /* when the open transaction began, 0: none open */
	int64_t unindexed_ms; /* first commit the index has not caught up */
	int64_t job_ms;       /* when the last job was done */
};

/* Milliseconds on a clock that does not jump. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A new job. */
struct ingest_job *
ingest_job_new(enum ingest_kind kind, int64_t feed_id, uint64_t poll)
{
	struct ingest_job *j = xcalloc(1, sizeof(*j));

	j->kind = kind;
	j->feed_id = feed_id;
	j->poll = poll;
	return j;
}

/* Free the strings of an attempt record that a job owns. */
static void
attempt_strings_free(struct store_attempt *a)
{
	free((char *)a->error);
	free((char *)a->etag);
	free((char *)a->last_modified);
	free((char *)a->redirect);
	free((char *)a->kind);
	free((char *)a->ip);
	free((char *)a->via);
	free((char *)a->good_addrs);
}

/* Free a job and what it owns. */
void
ingest_job_free(struct ingest_job *j)
{
	size_t i;

	if (j == NULL)
		return;
	free(j->body);
	free(j->base_url);
	free(j->content_type);
	attempt_strings_free(&j->served);
	for (i = 0; i < j->n_attempts; i++)
		attempt_strings_free(&j->attempts[i]);
	free(j->attempts);
	free(j->disable);
	for (i = 0; i < j->n_moves; i++)
		free(j->moves[i].url);
	free(j->moves);
	for (i = 0; i < j->n_suggest; i++) {
		free(j->suggest[i]);
		free(j->suggest_src[i]);
	}
	free(j->suggest);
	free(j->suggest_src);
	free(j->to_host);
	for (i = 0; j->from_hosts && j->from_hosts[i]; i++)
		free(j->from_hosts[i]);
	free(j->from_hosts);
	free(j->message);
	for (i = 0; i < j->n_urls; i++)
		free(j->urls[i]);
	free(j->urls);
	store_merge_prep_free(j->prep);
	gz_feed_free(j->feed);
	config_purge_rules_clear(&j->purge);
	free(j);
}

/* Wake the loop: results are there, or room in the queue. */
static void
wake_loop(struct ingest *g)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is already up, and the loop will look. */
	if (write(g->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("ingest: cannot wake the loop: %s", strerror(errno));
}

/* Hand finished jobs to the loop. */
static void
publish(struct ingest *g, struct ingest_list *done)
{
	if (TAILQ_EMPTY(done))
		return;
	pthread_mutex_lock(&g->lock);
	TAILQ_CONCAT(&g->results, done, link);
	pthread_mutex_unlock(&g->lock);
	wake_loop(g);
}

/*
 * Whether a failed write may succeed when done again: the connection was
 * lost (the server rolled the transaction back; the store reconnects) or
 * the database was busy.
 */
static bool
transient(int r)
{
	return r == -EIO || r == -EBUSY;
}

/* Open the batch's transaction unless it is open; 0 or -errno. */
static int
batch_begin(struct ingest *g)
{
	int r;

	if (g->batch_ms)
		return 0;
	/* When it cannot open, each job's writes are transactions alone. */
	r = store_begin_batch(g->store);
	if (r < 0)
		log_warn("cannot begin a transaction in '%s': %s", g->db_name,
		         store_errmsg(g->store));
	else
		g->batch_ms = now_ms();
	return r;
}

static void run_parse(struct ingest *g, struct ingest_job *j);
static void run_save(struct ingest *g, struct ingest_job *j);
static void room_free(struct ingest *g, struct ingest_job *j);

/* j is committed or given up: what it kept for a redo goes. */
static void
job_settle(struct ingest *g, struct ingest_job *j)
{
	if (j->kind != INGEST_PARSE)
		return;
	gz_feed_free(j->feed);
	j->feed = NULL;
	store_merge_prep_free(j->prep);
	j->prep = NULL;
	room_free(g, j);
}

/*
 * Commit the open batch, then hand its jobs back. A batch the server
 * rolled back because the connection went (or that stayed busy) is
 * merged again, job by job, after 0.2 s, 0.4 s, ...: every job keeps
 * its parsed feed till then, and a merge is all or nothing, so that
 * nothing is half-merged and nothing dropped while the database comes
 * back within the tries.
 */
static void
batch_commit(struct ingest *g)
{
	struct ingest_job *j;
	long wait_ms = REDO_FIRST_MS;
	int r, tries = 0;
	bool lost;

	if (g->batch_ms == 0)
		return;
	for (;;) {
		struct timespec ts;

		r = g->batch_ms ? store_commit(g->store) : -EIO;
		g->batch_ms = 0;
		if (r >= 0 || !transient(r) || tries == REDO_TRIES)
			break;
		tries++;
		log_warn("the last %zu polls were rolled back in '%s': %s; "
		         "merging them again in %ld ms (try %d of %d)",
		         g->n_batch, g->db_name, store_errmsg(g->store),
		         wait_ms, tries, REDO_TRIES);
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000;
		nanosleep(&ts, NULL);
		wait_ms *= 2;
		if (batch_begin(g) < 0)
			continue;
		TAILQ_FOREACH(j, &g->batch, link)
		{
			if (j->kind == INGEST_PARSE)
				run_parse(g, j);
			else
				run_save(g, j);
		}
	}
	lost = r < 0;
	if (lost)
		log_warn("cannot save the last %zu polls in '%s': %s; what "
		         "they fetched is not stored, and their feeds are "
		         "fetched in full next time",
		         g->n_batch, g->db_name, store_errmsg(g->store));
	else if (tries)
		log_notice("saved the last %zu polls in '%s' after %d %s",
		           g->n_batch, g->db_name, tries,
		           tries > 1 ? "redos" : "redo");
	if (!lost && g->unindexed_ms == 0)
		g->unindexed_ms = now_ms();
	TAILQ_FOREACH(j, &g->batch, link)
	{
		j->lost = j->lost || lost;
		job_settle(g, j);
	}
	g->n_batch = 0;
	publish(g, &g->batch);
}

/* The stream of j's poll: found, or made when make; NULL otherwise. */
static struct stream *
stream_get(struct ingest *g, const struct ingest_job *j, bool make)
{
	struct stream *st;

	for (st = g->streams; st; st = st->next)
		if (st->feed_id == j->feed_id && st->poll == j->poll)
			return st;
	if (!make)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->feed_id = j->feed_id;
	st->poll = j->poll;
	st->next = g->streams;
	g->streams = st;
	return st;
}

/* Unlink a stream and hand back its parser. */
static struct gz_parser *
stream_take(struct ingest *g, struct stream *st, int *ret_err)
{
	struct stream **pp = &g->streams;
	struct gz_parser *ps = st->parser;

	while (*pp != st)
		pp = &(*pp)->next;
	*pp = st->next;
	*ret_err = st->err;
	free(st);
	return ps;
}

/*
 * j is done with (merged, or dropped): give back the room its body took
 * (the parsed feed it became held as much till then).
 */
static void
room_free(struct ingest *g, struct ingest_job *j)
{
	bool wake;

	size_t charged = j->len * INGEST_CHARGE + j->prep_bytes;

	free(j->body);
	j->body = NULL;
	if (charged == 0)
		return;
	pthread_mutex_lock(&g->lock);
	g->bytes -= charged;
	/* From full to not: the loop may start transfers again. */
	wake = g->bytes + charged >= g->max_bytes && g->bytes < g->max_bytes;
	pthread_mutex_unlock(&g->lock);
	j->len = 0;
	j->prep_bytes = 0;
	if (wake)
		wake_loop(g);
}

/*
 * Push j's bytes to its parser (made on the first piece). Returns the
 * parser when j is the last piece (the caller finishes it), else NULL.
 */
static struct gz_parser *
feed_parser(struct ingest *g, struct ingest_job *j, int *ret_err)
{
	struct gz_parser_opts o = {
	        .base_url = j->base_url,
	        .content_type = j->content_type,
	};
	struct stream *st = stream_get(g, j, j->more);
	struct gz_parser *ps = NULL;
	int err = 0;

	if (st && !st->parser && !st->err) {
		st->parser = gz_parser_new(&o);
		if (!st->parser)
			st->err = -ENOMEM;
	}
	if (st) {
		if (!st->err && j->len && !j->abort) {
			int r = gz_parser_push(st->parser, j->body, j->len);

			if (r < 0)
				st->err = r;
		}
		if (j->more && !j->abort)
			return NULL;
		ps = stream_take(g, st, &err);
		if (j->abort) {
			gz_parser_free(ps);
			*ret_err = -ECANCELED;
			return NULL;
		}
	} else if (j->abort) {
		*ret_err = -ECANCELED;
		return NULL;
	} else {
		ps = gz_parser_new(&o);
		if (!ps)
			err = -ENOMEM;
		else if (j->len)
			err = gz_parser_push(ps, j->body, j->len);
		if (err > 0)
			err = 0;
	}
	*ret_err = err;
	return ps;
}

/*
 * The diverged guard: a mirror's feed that shares no identity with the
 * primary's recent stories is flagged and not merged. Whether it is.
 */
static bool
diverged(struct ingest *g, struct ingest_job *j, const struct gz_feed *feed)
{
	char **keys = NULL;
	size_t n = 0;
	bool d;

	if (store_feed_recent_keys(g->store, j->feed_id, 200, &keys, &n) < 0)
		return false; /* cannot tell: merge as before */
	d = mirror_diverged((const char *const *)keys, n, feed,
	                    (const char *const *)j->from_hosts, j->to_host);
	store_keys_free(keys, n);
	if (store_url_set_diverged(g->store, j->url_id, d) < 0)
		return false;
	if (d) {
		j->is_feed = false;
		j->diverged = true;
		j->error = -EMEDIUMTYPE;
		j->message = xstrdup("diverged: shares no story with the "
		                     "primary; not merged until accepted "
		                     "(gazette mirror accept)");
	}
	return d;
}

/*
 * The parser thread's part: parse a body (or a piece of one). A feed
 * goes on to the merge (j->feed); anything else is answered at once.
 * Whether j goes on.
 */
static bool
parse_stage(struct ingest *g, struct ingest_job *j)
{
	struct gz_parser *ps;
	struct gz_feed *feed = NULL;
	int r = 0;

	ps = feed_parser(g, j, &r);
	free(j->body);
	j->body = NULL;
	if (!ps && j->more && !j->abort) {
		room_free(g, j);
		ingest_job_free(j); /* a piece: only the last one answers */
		return false;
	}
	if (r == -ECANCELED) {
		j->error = r;
		goto answer;
	}
	if (r >= 0 && ps)
		r = gz_parser_finish(ps, &feed);
	else if (r >= 0)
		r = -ENOMEM;
	if (r < 0 && r != -ENOMEM && r != -E2BIG && ps && gz_parser_error(ps))
		j->message = xasprintf("cannot parse the document: %s",
		                       gz_parser_error(ps));
	gz_parser_free(ps);
	if (r == -ENOMEM && !feed) {
		j->error = r;
		j->message = xstrdup("out of memory");
	} else if (r == -E2BIG) {
		j->error = r;
		j->message = xstrdup("too many entries");
	} else if (r < 0) {
		j->error = r;
		if (!j->message)
			j->message = xstrdup(
			        r == -EFBIG ? "document too large to parse"
			                    : "cannot parse the document");
	} else if (!feed->is_feed) {
		j->error = -EMEDIUMTYPE;
		j->message =
		        xasprintf("not a feed (Content-Type: %s)",
		                  j->content_type ? j->content_type : "none");
		gz_feed_free(feed);
	} else {
		j->feed = feed;
		j->is_feed = true;
		/* the merge thread is the busier: the identities are ours */
		if (j->n_urls)
			j->prep = store_merge_prepare(
			        (const char *const *)j->urls, j->n_urls, feed);
		/* held till the merge, as the feed is: on the bound too */
		if (j->prep) {
			j->prep_bytes = store_merge_prep_bytes(j->prep);
			pthread_mutex_lock(&g->lock);
			g->bytes += j->prep_bytes;
			pthread_mutex_unlock(&g->lock);
		}
		j->hint = feed->ttl > feed->update_period ? feed->ttl
		                                          : feed->update_period;
		return true;
	}
answer:
	room_free(g, j);
	{
		struct ingest_list one = TAILQ_HEAD_INITIALIZER(one);

		TAILQ_INSERT_TAIL(&one, j, link);
		publish(g, &one);
	}
	return false;
}

/*
 * The merge thread's part: store the feed j's body became. In a batch,
 * the feed stays with j till the commit (batch_commit may merge it
 * again); alone, it goes now.
 */
static void
run_parse(struct ingest *g, struct ingest_job *j)
{
	struct gz_feed *feed = j->feed;
	int r;

	batch_begin(g);
	j->wrote = true;
	j->lost = false;
	memset(&j->merged, 0, sizeof(j->merged));
	if (j->diverged) { /* again, after a rollback: decided afresh */
		j->diverged = false;
		j->is_feed = true;
		j->error = 0;
		free(j->message);
		j->message = NULL;
	}
	if (j->check_diverged && diverged(g, j, feed)) {
		if (!g->batch_ms)
			job_settle(g, j);
		return;
	}
	r = store_merge_prepared(g->store, j->feed_id, j->url_index, feed,
	                         j->prep, j->now, &j->merged);
	/* The validators only with the stories: else a 304 would skip them. */
	if (r >= 0)
		r = store_url_record(g->store, &j->served);
	if (r >= 0 && feed->title && feed->title[0])
		r = store_feed_set_parsed_title(g->store, j->feed_id,
		                                feed->title);
	if (r < 0) {
		char b1[200];

		j->lost = true;
		/* In a batch batch_commit says what became of it. */
		if (!g->batch_ms || !transient(r))
			log_warn("feed %lld: cannot store what %s served in "
			         "'%s': %s",
			         (long long)j->feed_id,
			         log_quote(j->base_url, b1, sizeof(b1)),
			         g->db_name, store_errmsg(g->store));
		memset(&j->merged, 0, sizeof(j->merged));
	}
	if (!g->batch_ms)
		job_settle(g, j);
}

/* Save the rest of a poll. */
static void
run_save(struct ingest *g, struct ingest_job *j)
{
	struct store *s = g->store;
	size_t i;
	int r = 0;

	batch_begin(g);
	j->wrote = true;
	j->moved = false;
	for (i = 0; r >= 0 && i < j->n_attempts; i++)
		r = store_url_record(s, &j->attempts[i]);
	if (r >= 0 && j->disable)
		r = store_feed_set_disabled(s, j->feed_id, true, j->disable);
	if (r >= 0)
		r = store_feed_save_schedule(s, &j->sched);
	/* In the transaction that writes its next_poll: nothing between. */
	if (r >= 0 && j->poll != 0)
		r = store_lease_release(s, j->feed_id);
	for (i = 0; r >= 0 && i < j->n_suggest; i++)
		r = store_suggestion_add(s, j->feed_id, j->suggest[i],
		                         j->suggest_src[i],
		                         (int64_t)time(NULL));
	if (r == -ENOENT)
		r = 0; /* the feed was removed meanwhile */
	if (r < 0 && (!g->batch_ms || !transient(r)))
		log_warn("feed %lld: cannot save the poll in '%s': %s",
		         (long long)j->feed_id, g->db_name, store_errmsg(s));
	for (i = 0; i < j->n_moves; i++) {
		if (store_url_update(s, j->moves[i].url_id, j->moves[i].url) <
		    0) {
			char b1[200];

			log_warn("feed %lld: cannot move a URL to %s: %s",
			         (long long)j->feed_id,
			         log_quote(j->moves[i].url, b1, sizeof(b1)),
			         store_errmsg(s));
			continue;
		}
		j->moved = true;
	}
}

/*
 * Retention, on this connection: what the batch holds is committed
 * first, then the purge runs in transactions of its own, each short (a
 * batch of stories), so that neither the CLI nor a merge waits long.
 */
static void
run_purge(struct ingest *g, struct ingest_job *j)
{
	int r;

	batch_commit(g);
	r = store_purge_run(g->store, &j->purge, &j->purged);
	if (r < 0) {
		j->error = r;
		j->message = xstrdup(store_errmsg(g->store));
		return;
	}
	/* What went leaves the index too. */
	if (j->purged.read + j->purged.unread + j->purged.over_limit > 0 &&
	    g->unindexed_ms == 0)
		g->unindexed_ms = now_ms();
}

/* Do one job; keep it for the commit when it wrote, else hand it back. */
static void
run(struct ingest *g, struct ingest_job *j)
{
	if (j->kind == INGEST_PARSE)
		run_parse(g, j);
	else if (j->kind == INGEST_PURGE)
		run_purge(g, j);
	else
		run_save(g, j);
	if (j->wrote && g->batch_ms) {
		TAILQ_INSERT_TAIL(&g->batch, j, link);
		g->n_batch++;
	} else {
		struct ingest_list one = TAILQ_HEAD_INITIALIZER(one);

		TAILQ_INSERT_TAIL(&one, j, link);
		publish(g, &one);
	}
}

/* Wait on g->cond for ms at most (g->lock held). */
static void
wait_ms(struct ingest *g, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&g->cond, &g->lock, &ts);
}

/* Index a step of what waits; whether more may wait. */
static bool
index_step(struct ingest *g)
{
	int r = store_index_some(g->store, INDEX_STEP);

	if (r < 0) {
		log_warn("cannot update the full-text index of '%s': %s",
		         g->db_name, store_errmsg(g->store));
		g->unindexed_ms = 0; /* a search, or the next commit, retries */
		return false;
	}
	if (r < INDEX_STEP) {
		g->unindexed_ms = 0;
		return false;
	}
	return true;
}

/* The parser thread: bodies in order, feeds on to the merge thread. */
static void *
parser_main(void *arg)
{
	struct ingest *g = arg;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		struct ingest_job *j;

		while (TAILQ_EMPTY(&g->parse_q) && !g->stop)
			pthread_cond_wait(&g->parse_cond, &g->lock);
		if (g->stop && (!g->drain || TAILQ_EMPTY(&g->parse_q)))
			break;
		j = TAILQ_FIRST(&g->parse_q);
		TAILQ_REMOVE(&g->parse_q, j, link);
		pthread_mutex_unlock(&g->lock);
		if (parse_stage(g, j)) {
			pthread_mutex_lock(&g->lock);
			TAILQ_INSERT_TAIL(&g->queue, j, link);
			pthread_cond_signal(&g->cond);
		} else {
			pthread_mutex_lock(&g->lock);
			g->jobs--;
		}
	}
	g->parser_done = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* The merge thread: take jobs in order; index when there are none. */
static void *
ingest_main(void *arg)
{
	struct ingest *g = arg;
	char *err = NULL;
	int r;

	r = store_open(g->db_path, g->flags, &g->store, &err);
	if (r >= 0 && g->instance) {
		r = store_lease_adopt(g->store, g->instance);
		if (r < 0) {
			err = xasprintf("cannot lease: %s", strerror(-r));
			store_close(g->store);
			g->store = NULL;
		}
	}
	pthread_mutex_lock(&g->lock);
	g->started = true;
	g->open_err = r;
	g->open_msg = err;
	pthread_cond_broadcast(&g->cond);
	if (r < 0) {
		pthread_mutex_unlock(&g->lock);
		return NULL;
	}
	for (;;) {
		struct ingest_job *j;

		if (TAILQ_EMPTY(&g->queue) && !g->stop) {
			bool idle_index = g->unindexed_ms != 0 && g->index_idle;
			int64_t quiet = now_ms() - g->job_ms;

			pthread_mutex_unlock(&g->lock);
			/*
			 * Dry: commit; then, once no job has come for a while,
			 * the index, a step at a time. Not in every gap between
			 * jobs: in a round of polls the queue runs dry between
			 * documents, and a step (a second or more of the
			 * store's work) in each gap made the round wait for an
			 * index it need not wait for.
			 */
			if (g->batch_ms)
				batch_commit(g);
			else if (idle_index && quiet >= INDEX_QUIET_MS)
				index_step(g);
			pthread_mutex_lock(&g->lock);
			if (!TAILQ_EMPTY(&g->queue) || g->stop || g->batch_ms)
				continue;
			if (!g->unindexed_ms || !g->index_idle)
				pthread_cond_wait(&g->cond, &g->lock);
			else if (quiet < INDEX_QUIET_MS)
				wait_ms(g, INDEX_QUIET_MS - quiet);
			continue;
		}
		if (g->stop && (!g->drain || TAILQ_EMPTY(&g->queue)) &&
		    (!g->drain || g->parser_done))
			break;
		if (TAILQ_EMPTY(&g->queue)) {
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		j = TAILQ_FIRST(&g->queue);
		TAILQ_REMOVE(&g->queue, j, link);
		pthread_mutex_unlock(&g->lock);

		run(g, j);
		g->job_ms = now_ms();
		if (g->batch_ms &&
		    (g->n_batch >= INGEST_BATCH ||
		     now_ms() - g->batch_ms >= INGEST_BATCH_MS)) {
			batch_commit(g);
			/* Busy for long: the index may not fall further behind.
			 */
			if (g->unindexed_ms && g->index_idle &&
			    now_ms() - g->unindexed_ms >= g->index_lag * 1000)
				index_step(g);
		}
		pthread_mutex_lock(&g->lock);
		g->jobs--;
	}
	pthread_mutex_unlock(&g->lock);
	batch_commit(g);
	store_close(g->store);
	g->store = NULL;
	return NULL;
}

/* Start the thread; wait until it has its store. */
struct ingest *
ingest_new(const char *db_path, unsigned flags, const char *db_name,
           size_t max_bytes, int64_t index_lag, bool index_idle,
           const char *instance, char **ret_err)
{
	struct ingest *g = xcalloc(1, sizeof(*g));
	pthread_condattr_t ca;
	int r;

	g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->efd < 0) {
		if (ret_err)
			*ret_err = xasprintf("eventfd: %s", strerror(errno));
		free(g);
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* as now_ms */
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&g->parse_cond, NULL);
	TAILQ_INIT(&g->parse_q);
	TAILQ_INIT(&g->queue);
	TAILQ_INIT(&g->results);
	TAILQ_INIT(&g->batch);
	g->max_bytes = max_bytes;
	g->index_lag = index_lag;
	g->index_idle = index_idle;
	g->db_path = xstrdup(db_path);
	g->db_name = xstrdup(db_name ? db_name : db_path);
	g->instance = instance ? xstrdup(instance) : NULL;
	g->flags = flags;
	/* What an earlier run left unindexed is taken when idle. */
	g->unindexed_ms = now_ms();
	g->job_ms = now_ms();
	r = pthread_create(&g->thread, NULL, ingest_main, g);
	g->running = r == 0;
	if (r != 0) {
		if (ret_err)
			*ret_err = xasprintf("cannot start the ingest thread: "
			                     "%s",
			                     strerror(r));
		ingest_free(g, false);
		return NULL;
	}
	pthread_mutex_lock(&g->lock);
	while (!g->started)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	if (g->open_err < 0) {
		if (ret_err) {
			*ret_err = g->open_msg;
			g->open_msg = NULL;
		}
		ingest_free(g, false);
		return NULL;
	}
	r = pthread_create(&g->parser, NULL, parser_main, g);
	g->parser_running = r == 0;
	if (r != 0) {
		if (ret_err)
			*ret_err = xasprintf("cannot start the parser thread: "
			                     "%s",
			                     strerror(r));
		ingest_free(g, false);
		return NULL;
	}
	return g;
}

/* Free every job of a list. */
static void
list_free(struct ingest_list *l)
{
	struct ingest_job *j;

	while ((j = TAILQ_FIRST(l))) {
		TAILQ_REMOVE(l, j, link);
		ingest_job_free(j);
	}
}

/* Stop the thread (draining the queue or not) and free. */
void
ingest_free(struct ingest *g, bool drain)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	g->drain = drain;
	if (!g->parser_running)
		g->parser_done = true;
	pthread_cond_signal(&g->cond);
	pthread_cond_signal(&g->parse_cond);
	pthread_mutex_unlock(&g->lock);
	if (g->parser_running)
		pthread_join(g->parser, NULL);
	if (g->running)
		pthread_join(g->thread, NULL);
	while (g->streams) {
		struct stream *st = g->streams;

		g->streams = st->next;
		gz_parser_free(st->parser);
		free(st);
	}
	list_free(&g->parse_q);
	list_free(&g->queue);
	list_free(&g->results);
	list_free(&g->batch);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	pthread_cond_destroy(&g->parse_cond);
	close(g->efd);
	free(g->open_msg);
	free(g->db_path);
	free(g->db_name);
	free(g->instance);
	free(g);
}

/* New limits. */
void
ingest_set_limits(struct ingest *g, size_t max_bytes, int64_t index_lag)
{
	pthread_mutex_lock(&g->lock);
	g->max_bytes = max_bytes;
	g->index_lag = index_lag;
	pthread_mutex_unlock(&g->lock);
}

/* Queue a job for the thread. */
void
ingest_submit(struct ingest *g, struct ingest_job *j)
{
	pthread_mutex_lock(&g->lock);
	if (j->kind == INGEST_PARSE) {
		TAILQ_INSERT_TAIL(&g->parse_q, j, link);
		pthread_cond_signal(&g->parse_cond);
	} else {
		TAILQ_INSERT_TAIL(&g->queue, j, link);
		pthread_cond_signal(&g->cond);
	}
	g->bytes += j->len * INGEST_CHARGE;
	g->jobs++;
	pthread_mutex_unlock(&g->lock);
}

/* Whether the bodies queued fill the queue. */
bool
ingest_full(struct ingest *g)
{
	bool full;

	pthread_mutex_lock(&g->lock);
	full = g->bytes >= g->max_bytes;
	pthread_mutex_unlock(&g->lock);
	return full;
}

/* What the queue holds. */
void
ingest_load(struct ingest *g, size_t *ret_bytes, size_t *ret_jobs)
{
	pthread_mutex_lock(&g->lock);
	*ret_bytes = g->bytes;
	*ret_jobs = g->jobs;
	pthread_mutex_unlock(&g->lock);
}

/* The fd the loop watches. */
int
ingest_fd(const struct ingest *g)
{
	return g->efd;
}

/* Take the results. */
void
ingest_collect(struct ingest *g, struct ingest_list *out)
{
	uint64_t n;

	while (read(g->efd, &n, sizeof(n)) > 0)
		;
	pthread_mutex_lock(&g->lock);
	TAILQ_CONCAT(out, &g->results, link);
	pthread_mutex_unlock(&g->lock);
}
