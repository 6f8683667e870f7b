/*
 * The poller: which feed is due (sched.c's heap, one timer), which may
 * start (global and per-host limits, a FIFO per host served round-robin),
 * the walk through a feed's URLs in one poll (mirror failover), and what
 * the outcome does to the store and the schedule.
 *
 * Bytes go from the fetcher's data callback straight into the feed's
 * push parser; the store is touched only when a poll is over. Finished
 * polls are saved in a group commit: the first opens a transaction, and
 * it commits after BATCH_FEEDS polls or BATCH_MS, whichever comes first,
 * and before anyone is told of a result (a waiter's reply, the end of a
 * round). No savepoint per poll (store_begin_batch): they cost more than
 * the writes. One failure fails the batch; its polls count as failed and
 * forget their validators, so that nothing lost is skipped as unchanged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "fetch.h"
#include "gazette/config.h"
#include "gazette/log.h"
#include "gazette/parse.h"
#include "gazette/store.h"
#include "gazette/xalloc.h"
#include "poll.h"
#include "sched.h"

#define HOST_BUCKETS 1024
#define MAX_WAITERS  64
#define BATCH_FEEDS  64 /* polls saved in one transaction at most */
#define BATCH_MS     50 /* the longest a saved poll waits for its commit */

struct pfeed;

/* One host's transfers: how many run, and the feeds waiting for it. */
struct host {
	char *name;
	int active;
	bool runnable; /* on the poller's runnable list */
	TAILQ_HEAD(, pfeed) waitq;
	TAILQ_ENTRY(host) run_link;
	struct host *next; /* hash chain */
};

/* One URL tried in a poll, to be recorded when the poll is over. */
struct attempt {
	size_t url_idx;
	int64_t when;
	int status;
	char *error;
	char *etag;
	char *last_modified;
	char *redirect;
	bool network; /* failed before any HTTP response (DNS, connect) */
};

/* A subscription as the poller keeps it. */
struct pfeed {
	struct poller *p;
	struct store_feed *sf;
	struct store_feed *pending_sf; /* newer row, applied when idle */
	struct sched_node node;
	bool busy;
	bool held; /* failed with network errors; counted later or never */
	int64_t held_since;

	/* the poll in progress */
	int64_t started;
	size_t *order, n_order, pos;
	struct host *host; /* host of the current URL */
	bool waiting;      /* in host->waitq */
	TAILQ_ENTRY(pfeed) wait_link;
	TAILQ_ENTRY(pfeed) held_link;
	struct fetch_xfer *xfer;
	bool slow;    /* xfer stalled: counted in p->slow, not p->active */
	bool stalled; /* xfer stalled, waiting in p->stalled for the pool */
	TAILQ_ENTRY(pfeed) stall_link;
	struct gz_parser *parser;
	int parse_err;
	struct attempt *attempts;
	size_t n_attempts;
	int64_t retry_after;
	int64_t max_age;
	bool gone;   /* a 410 came */
	char *title; /* the title the document gave, saved with the poll */
};

/* A poller_poll_now() caller waiting for its feeds. */
struct waiter {
	poller_done_fn fn;
	void *arg;
	int64_t *ids; /* sorted */
	bool *done;
	size_t n_ids, remaining;
	struct poll_summary sum;
};

struct poller {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;
	char *db_name; /* for messages; NULL: not said */
	struct fetch *fetch;
	bool once;
	struct event timer;

	struct pfeed **feeds; /* sorted by id */
	size_t n_feeds;
	struct sched_heap heap;

	struct host *hosts[HOST_BUCKETS];
	TAILQ_HEAD(, host) runnable;
	TAILQ_HEAD(, pfeed) held;
	size_t n_held;
	int active;                  /* transfers running, but the slow ones */
	int slow;                    /* stalled transfers moved out of active */
	TAILQ_HEAD(, pfeed) stalled; /* stalled, the slow pool full */
	int inflight;                /* polls begun and not finished */
	int64_t last_response;       /* last time any HTTP response came */
	bool network_down;

	struct waiter *waiters[MAX_WAITERS];
	size_t n_waiters;
	void (*idle_fn)(void *);
	void *idle_arg;

	struct poll_summary totals;
	struct poll_summary round; /* of the current --once run */
	int64_t round_start;

	/* the group commit: polls saved in the open transaction */
	bool batch_open;
	struct batched {
		struct pfeed *pf;
		struct poll_summary d; /* counted once it is committed */
	} batch[BATCH_FEEDS];
	size_t n_batch;
	struct event batch_timer;
};

static void pump(struct poller *p);
static void arm_timer(struct poller *p);
static void attempt_next(struct pfeed *pf);
static void held_flush(struct poller *p, int64_t now);
static void held_drop(struct poller *p);
static void batch_commit(struct poller *p);

/* Seconds since the epoch. */
static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/* The scheduler's parameters from the configuration. */
static struct sched_params
params(const struct poller *p)
{
	struct sched_params sp = {
	        .min_interval = p->cfg->min_interval,
	        .max_backoff = p->cfg->max_backoff,
	};
	return sp;
}

/* The feed's own interval, else the configured one. */
static int64_t
feed_interval(const struct pfeed *pf)
{
	return pf->sf->interval > 0 ? pf->sf->interval : pf->p->cfg->interval;
}

/* The fetcher's options from the configuration. */
static struct fetch_opts
fopts(const struct config *c)
{
	struct fetch_opts o = {
	        .user_agent = c->user_agent,
	        .timeout = c->timeout,
	        .connect_timeout = c->connect_timeout,
	        .low_speed_limit = c->low_speed_limit,
	        .low_speed_time = c->low_speed_time,
	        .max_size = c->max_feed_size,
	        .max_connections = c->max_connections,
	        .per_host_connections = c->per_host_connections,
	        .slow_connections = c->slow_connections,
	        .stall_after_ms = c->stall_after_ms,
	};
	return o;
}

/* The lower-cased host of url, or "" when it has none. */
static char *
host_of(const char *url)
{
	CURLU *h = curl_url();
	char *host = NULL, *res, *c;

	if (h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		res = xstrdup(host);
	else
		res = xstrdup("");
	curl_free(host);
	curl_url_cleanup(h);
	for (c = res; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	return res;
}

/* The host record for name, created when new. */
static struct host *
host_get(struct poller *p, const char *name)
{
	unsigned long hash = 5381;
	const char *c;
	struct host *h;

	for (c = name; *c; c++)
		hash = hash * 33 + (unsigned char)*c;
	for (h = p->hosts[hash % HOST_BUCKETS]; h; h = h->next)
		if (strcmp(h->name, name) == 0)
			return h;
	h = xcalloc(1, sizeof(*h));
	h->name = xstrdup(name);
	TAILQ_INIT(&h->waitq);
	h->next = p->hosts[hash % HOST_BUCKETS];
	p->hosts[hash % HOST_BUCKETS] = h;
	return h;
}

/* Put h on the runnable list when it has waiters and room. */
static void
host_check(struct poller *p, struct host *h)
{
	if (!h->runnable && !TAILQ_EMPTY(&h->waitq) &&
	    h->active < p->cfg->per_host_connections) {
		TAILQ_INSERT_TAIL(&p->runnable, h, run_link);
		h->runnable = true;
	}
}

/* pf's transfer ended or was cancelled: give back its slot. */
static void
xfer_release(struct pfeed *pf)
{
	struct poller *p = pf->p;

	pf->xfer = NULL;
	pf->host->active--;
	if (pf->slow) {
		pf->slow = false;
		p->slow--;
		/* The oldest stalled transfer takes the room in the pool. */
		if (!TAILQ_EMPTY(&p->stalled)) {
			struct pfeed *o = TAILQ_FIRST(&p->stalled);

			TAILQ_REMOVE(&p->stalled, o, stall_link);
			o->stalled = false;
			o->slow = true;
			p->slow++;
			p->active--;
		}
	} else {
		if (pf->stalled) {
			TAILQ_REMOVE(&p->stalled, pf, stall_link);
			pf->stalled = false;
		}
		p->active--;
	}
	host_check(p, pf->host);
}

/* fetch: pf's transfer stalled: it leaves max-connections for the slow
 * pool (slow-connections), or waits for room there keeping its slot. */
static void
on_stall(struct fetch_xfer *x, void *arg)
{
	struct pfeed *pf = arg;
	struct poller *p = pf->p;

	(void)x;
	if (p->slow >= p->cfg->slow_connections) {
		TAILQ_INSERT_TAIL(&p->stalled, pf, stall_link);
		pf->stalled = true;
		return;
	}
	pf->slow = true;
	p->slow++;
	p->active--;
	pump(p);
}

/* Free what an attempt owns. */
static void
attempt_clear(struct attempt *a)
{
	free(a->error);
	free(a->etag);
	free(a->last_modified);
	free(a->redirect);
}

/* Forget the poll in progress (transfer, parser, attempts). */
static void
poll_reset(struct pfeed *pf)
{
	size_t i;

	if (pf->waiting) {
		TAILQ_REMOVE(&pf->host->waitq, pf, wait_link);
		pf->waiting = false;
	}
	if (pf->xfer) {
		fetch_cancel(pf->xfer);
		xfer_release(pf);
	}
	pf->host = NULL;
	gz_parser_free(pf->parser);
	pf->parser = NULL;
	free(pf->title);
	pf->title = NULL;
	for (i = 0; i < pf->n_attempts; i++)
		attempt_clear(&pf->attempts[i]);
	free(pf->attempts);
	pf->attempts = NULL;
	pf->n_attempts = 0;
	free(pf->order);
	pf->order = NULL;
	pf->n_order = pf->pos = 0;
}

/* Free a feed record. */
static void
pfeed_free(struct pfeed *pf)
{
	if (pf == NULL)
		return;
	poll_reset(pf);
	if (pf->held) {
		TAILQ_REMOVE(&pf->p->held, pf, held_link);
		pf->p->n_held--;
	}
	sched_heap_remove(&pf->p->heap, &pf->node);
	store_feed_free(pf->sf);
	store_feed_free(pf->pending_sf);
	free(pf);
}

/* Binary search of the feed with id; its slot in *ret_pos either way. */
static struct pfeed *
feed_find(const struct poller *p, int64_t id, size_t *ret_pos)
{
	size_t lo = 0, hi = p->n_feeds;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->feeds[mid]->sf->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (ret_pos)
		*ret_pos = lo;
	if (lo < p->n_feeds && p->feeds[lo]->sf->id == id)
		return p->feeds[lo];
	return NULL;
}

/* When the daemon polls this feed next (0: now). */
static int64_t
feed_due(const struct pfeed *pf)
{
	const struct store_feed *sf = pf->sf;

	return sf->next_poll > sf->retry_after ? sf->next_poll
	                                       : sf->retry_after;
}

/* Put an idle, enabled feed in the heap at its due time (daemon only). */
static void
feed_schedule(struct pfeed *pf)
{
	struct poller *p = pf->p;

	if (p->once || pf->busy || pf->sf->disabled || pf->sf->n_urls == 0) {
		sched_heap_remove(&p->heap, &pf->node);
		return;
	}
	sched_heap_set(&p->heap, &pf->node, feed_due(pf));
}

/* Count an outcome into a summary. */
static void
sum_add(struct poll_summary *s, const struct poll_summary *d)
{
	s->feeds += d->feeds;
	s->ok += d->ok;
	s->not_modified += d->not_modified;
	s->failed += d->failed;
	s->skipped += d->skipped;
	s->new_stories += d->new_stories;
	s->updated_stories += d->updated_stories;
	s->network_down = s->network_down || d->network_down;
}

/* Compare ids for bsearch/qsort. */
static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Free a waiter. */
static void
waiter_free(struct waiter *w)
{
	free(w->ids);
	free(w->done);
	free(w);
}

/* Tell the waiters that feed id is done with outcome d. */
static void
waiters_note(struct poller *p, int64_t id, const struct poll_summary *d)
{
	size_t i = 0;

	while (i < p->n_waiters) {
		struct waiter *w = p->waiters[i];
		int64_t *hit =
		        bsearch(&id, w->ids, w->n_ids, sizeof(*w->ids), cmp_id);

		if (hit && !w->done[hit - w->ids]) {
			w->done[hit - w->ids] = true;
			w->remaining--;
			sum_add(&w->sum, d);
		}
		if (w->remaining == 0) {
			p->waiters[i] = p->waiters[--p->n_waiters];
			if (w->fn)
				w->fn(&w->sum, w->arg);
			waiter_free(w);
			continue;
		}
		i++;
	}
}

/* Call the idle callback when nothing is in flight or queued. */
static void
check_idle(struct poller *p)
{
	if (p->inflight != 0)
		return;
	batch_commit(p);
	/*
	 * The round's new stories into the full-text index in one batch; on
	 * failure they stay queued (the next round or a search takes them).
	 */
	store_index(p->store);
	/* --once: the round is over; were the held failures the network? */
	if (p->once && p->n_held > 0) {
		if (p->last_response >= p->round_start) {
			held_flush(p, now_s());
		} else {
			held_drop(p);
			p->round.network_down = true;
		}
	}
	if (p->idle_fn)
		p->idle_fn(p->idle_arg);
}

/* Begin a poll of pf now: the order of URLs to try, then the first. */
static void
poll_begin(struct pfeed *pf)
{
	struct poller *p = pf->p;
	struct store_feed *sf = pf->sf;
	int64_t now = now_s();
	size_t n = sf->n_urls, i, k = 0;
	size_t pref = sf->preferred >= 0 && (size_t)sf->preferred < n
	                      ? (size_t)sf->preferred
	                      : 0;
	bool probe;

	sched_heap_remove(&p->heap, &pf->node);
	pf->busy = true;
	pf->started = now;
	pf->retry_after = 0;
	pf->max_age = -1;
	pf->gone = false;
	pf->parse_err = 0;

	pf->order = xcalloc(n, sizeof(*pf->order));
	/* A mirror is preferred: re-probe the primary every primary-retry. */
	probe = pref != 0 && now - sf->primary_probe >= p->cfg->primary_retry;
	if (probe) {
		pf->order[k++] = 0;
		sf->primary_probe = now;
	}
	pf->order[k++] = pref;
	for (i = 0; i < n; i++)
		if (i != pref && !(probe && i == 0))
			pf->order[k++] = i;
	pf->n_order = k;
	pf->pos = 0;
	p->inflight++;
	attempt_next(pf);
}

/* Queue the attempt at order[pos] on its host. */
static void
attempt_next(struct pfeed *pf)
{
	struct poller *p = pf->p;
	const struct store_url *u = &pf->sf->urls[pf->order[pf->pos]];
	char *name = host_of(u->url);

	pf->host = host_get(p, name);
	free(name);
	TAILQ_INSERT_TAIL(&pf->host->waitq, pf, wait_link);
	pf->waiting = true;
	host_check(p, pf->host);
}

/* fetch: bytes of the body, straight into the parser. */
static int
on_data(struct fetch_xfer *x, const char *buf, size_t len, void *arg)
{
	struct pfeed *pf = arg;
	int st = fetch_status(x), r;

	/* An error page is no feed: not worth parsing (the size cap holds). */
	if (st < 200 || st >= 300)
		return 0;
	if (pf->parser == NULL) {
		struct gz_parser_opts o = {
		        .base_url = fetch_url(x),
		        .content_type = fetch_content_type(x),
		};

		pf->parser = gz_parser_new(&o);
		if (pf->parser == NULL) {
			pf->parse_err = -ENOMEM;
			return 1;
		}
	}
	r = gz_parser_push(pf->parser, buf, len);
	if (r < 0) {
		pf->parse_err = r;
		return 1;
	}
	return 0;
}

/* Whether url is http:// or https:// (a redirect target we may keep). */
static bool
http_target(const char *url)
{
	return url && (strncasecmp(url, "http://", 7) == 0 ||
	               strncasecmp(url, "https://", 8) == 0);
}

static void poll_finish(struct pfeed *pf, ssize_t served, struct gz_feed *feed,
                        bool not_modified);

/* fetch: one URL's transfer is over: served, or on to the next URL. */
static void
on_done(struct fetch_xfer *x, const struct fetch_result *r, void *arg)
{
	struct pfeed *pf = arg;
	struct poller *p = pf->p;
	struct attempt *a;
	struct gz_feed *feed = NULL;
	size_t idx = pf->order[pf->pos];
	int64_t now = now_s();
	char *err = NULL;
	bool served = false, not_modified = false;

	(void)x;
	xfer_release(pf);

	if (r->status > 0)
		p->last_response = now;
	if (r->error == FETCH_OK && r->status == 304) {
		served = not_modified = true;
	} else if (r->error == FETCH_OK && r->status >= 200 &&
	           r->status < 300) {
		if (pf->parser == NULL) {
			err = xstrdup("empty body");
		} else if (gz_parser_finish(pf->parser, &feed) < 0) {
			err = xstrdup("cannot parse the document");
		} else if (!feed->is_feed) {
			err = xasprintf("not a feed (Content-Type: %s)",
			                r->content_type ? r->content_type
			                                : "none");
			gz_feed_free(feed);
			feed = NULL;
		} else {
			served = true;
		}
	} else if (r->error == FETCH_OK) {
		err = xasprintf("HTTP %d", r->status);
	} else if (r->error == FETCH_ABORTED && pf->parse_err == -E2BIG) {
		err = xstrdup("too many entries");
	} else {
		err = xstrdup(r->message ? r->message : "failed");
	}
	gz_parser_free(pf->parser);
	pf->parser = NULL;

	pf->attempts = xreallocarray(pf->attempts, pf->n_attempts + 1,
	                             sizeof(*pf->attempts));
	a = &pf->attempts[pf->n_attempts++];
	memset(a, 0, sizeof(*a));
	a->url_idx = idx;
	a->when = now;
	a->status = r->status;
	a->error = err;
	a->network = r->status == 0 &&
	             (r->error == FETCH_DNS || r->error == FETCH_CONNECT);
	if (served && !not_modified) {
		a->etag = r->etag ? xstrdup(r->etag) : NULL;
		a->last_modified =
		        r->last_modified ? xstrdup(r->last_modified) : NULL;
	}
	/* A permanent redirect counts only when its target served: a URL
	 * is never moved to one that fails (or to itself, in a loop). */
	if (served &&
	    (r->redirect_status == 301 || r->redirect_status == 308) &&
	    http_target(r->redirect_url))
		a->redirect = xstrdup(r->redirect_url);
	if ((r->status == 429 || r->status == 503) && r->retry_after > 0 &&
	    r->retry_after > pf->retry_after)
		pf->retry_after = sched_retry_after(now, r->retry_after);
	if (r->status == 410)
		pf->gone = true;
	if (served && r->max_age >= 0)
		pf->max_age = r->max_age;

	if (err) {
		char b1[200];

		log_info("feed %lld: %s: %s", (long long)pf->sf->id,
		         log_quote(pf->sf->urls[idx].url, b1, sizeof(b1)), err);
	}
	if (served) {
		poll_finish(pf, (ssize_t)idx, feed, not_modified);
		return;
	}
	if (pf->pos + 1 < pf->n_order) {
		pf->pos++;
		attempt_next(pf);
		pump(p);
		return;
	}
	poll_finish(pf, -1, NULL, false);
}

/* Count a held (network) failure after all: the network was up. */
static void
hold_count(struct pfeed *pf, int64_t now)
{
	struct poller *p = pf->p;
	struct store_feed *sf = pf->sf;
	int r;

	TAILQ_REMOVE(&p->held, pf, held_link);
	p->n_held--;
	pf->held = false;
	sf->error_count++;
	if (sf->failing_since == 0)
		sf->failing_since = pf->held_since;
	struct sched_params sp = params(p);

	sf->next_poll = now + sched_backoff(&sp, feed_interval(pf),
	                                    sf->error_count, arc4random());
	r = store_feed_save_schedule(p->store, sf);
	if (r < 0)
		log_warn("feed %lld: cannot save its schedule: %s",
		         (long long)sf->id, store_errmsg(p->store));
	feed_schedule(pf);
}

/* Some response came: the held network failures were real; count them. */
static void
held_flush(struct poller *p, int64_t now)
{
	p->network_down = false;
	while (!TAILQ_EMPTY(&p->held))
		hold_count(TAILQ_FIRST(&p->held), now);
}

/* Every feed failed with network errors: the network is down. */
static void
held_drop(struct poller *p)
{
	if (!p->network_down)
		log_notice("every feed failed with network errors: the "
		           "network seems down; no feed is counted as "
		           "failing");
	p->network_down = true;
	while (!TAILQ_EMPTY(&p->held)) {
		struct pfeed *pf = TAILQ_FIRST(&p->held);

		TAILQ_REMOVE(&p->held, pf, held_link);
		pf->held = false;
	}
	p->n_held = 0;
}

/* Feeds that can be polled (enabled, with a URL). */
static size_t
enabled_feeds(const struct poller *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->n_feeds; i++)
		if (!p->feeds[i]->sf->disabled && p->feeds[i]->sf->n_urls)
			n++;
	return n;
}

/* Carry a feed's scheduling state over to a newer row of the same feed. */
static void
schedule_copy(struct store_feed *to, const struct store_feed *from)
{
	to->next_poll = from->next_poll;
	to->error_count = from->error_count;
	to->failing_since = from->failing_since;
	to->retry_after = from->retry_after;
	to->hint = from->hint;
	to->preferred = from->preferred;
	to->last_served = from->last_served;
	to->primary_probe = from->primary_probe;
}

/* Apply the permanent redirects that have now been seen often enough. */
static void
apply_redirects(struct pfeed *pf)
{
	struct poller *p = pf->p;
	struct store_feed *sf = pf->sf, *fresh = NULL;
	bool changed = false;
	size_t i;

	for (i = 0; i < pf->n_attempts; i++) {
		struct attempt *a = &pf->attempts[i];
		struct store_url *u = &sf->urls[a->url_idx];
		char b1[200], b2[200];

		if (a->redirect == NULL) {
			free(u->redirect);
			u->redirect = NULL;
			u->redirect_count = 0;
			continue;
		}
		if (u->redirect && strcmp(u->redirect, a->redirect) == 0) {
			u->redirect_count++;
		} else {
			free(u->redirect);
			u->redirect = xstrdup(a->redirect);
			u->redirect_count = 1;
		}
		if (u->redirect_count < p->cfg->redirect_polls)
			continue;
		if (store_url_update(p->store, u->id, a->redirect) < 0) {
			log_warn("feed %lld: cannot move %s to %s: %s",
			         (long long)sf->id,
			         log_quote(u->url, b1, sizeof(b1)),
			         log_quote(a->redirect, b2, sizeof(b2)),
			         store_errmsg(p->store));
			continue;
		}
		log_notice("feed %lld: %s moved permanently to %s",
		           (long long)sf->id, log_quote(u->url, b1, sizeof(b1)),
		           log_quote(a->redirect, b2, sizeof(b2)));
		changed = true;
	}
	if (changed && store_feed_get(p->store, sf->id, &fresh) == 0) {
		/* Keep our scheduling state; take the new URLs. */
		schedule_copy(fresh, sf);
		store_feed_free(sf);
		pf->sf = fresh;
	}
}

/* The group commit's timer: the batch has waited long enough. */
static void
batch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	batch_commit(arg);
}

/* Open the group commit's transaction unless it is open. */
static void
batch_begin(struct poller *p)
{
	struct timeval tv = {0, BATCH_MS * 1000};

	if (p->batch_open)
		return;
	/* When it cannot open, each poll has transactions of its own. */
	if (store_begin_batch(p->store) < 0)
		return;
	p->batch_open = true;
	evtimer_add(&p->batch_timer, &tv);
}

/*
 * Count a poll's outcome d into the totals and tell its waiters: only
 * once it is committed (never with the batch open), so that what a
 * waiter is told is saved is saved.
 */
static void
account(struct poller *p, int64_t id, const struct poll_summary *d)
{
	sum_add(&p->totals, d);
	sum_add(&p->round, d);
	waiters_note(p, id, d);
}

/*
 * A poll with outcome d was saved: in the batch, it counts when the
 * batch commits (and the batch commits when full); else it counts now.
 */
static void
batch_add(struct poller *p, struct pfeed *pf, const struct poll_summary *d)
{
	if (!p->batch_open) {
		account(p, pf->sf->id, d);
		return;
	}
	p->batch[p->n_batch].pf = pf;
	p->batch[p->n_batch].d = *d;
	if (++p->n_batch == BATCH_FEEDS)
		batch_commit(p);
}

/*
 * Commit the batch, then count its polls. When the commit fails, nothing
 * of them was stored: each counts as failed, and its feed forgets its
 * validators, so that the next poll fetches it in full.
 */
static void
batch_commit(struct poller *p)
{
	struct batched b[BATCH_FEEDS];
	size_t i, j, n = p->n_batch;
	bool lost;

	if (!p->batch_open)
		return;
	evtimer_del(&p->batch_timer);
	p->batch_open = false;
	memcpy(b, p->batch, n * sizeof(*b));
	p->n_batch = 0;
	lost = store_commit(p->store) < 0;
	if (lost)
		log_warn("cannot save the last %zu polls in '%s': %s; what "
		         "they fetched is not stored, and their feeds are "
		         "fetched in full next time",
		         n, p->db_name ? p->db_name : "the database",
		         store_errmsg(p->store));
	for (i = 0; i < n; i++) {
		struct store_feed *sf = b[i].pf->sf;

		if (lost) {
			for (j = 0; j < sf->n_urls; j++) {
				free(sf->urls[j].etag);
				sf->urls[j].etag = NULL;
				free(sf->urls[j].last_modified);
				sf->urls[j].last_modified = NULL;
			}
			b[i].d = (struct poll_summary){.feeds = 1, .failed = 1};
		}
		account(p, sf->id, &b[i].d);
	}
}

/* Write the attempts and the schedule: in the batch, else on their own. */
static void
save_poll(struct pfeed *pf)
{
	struct poller *p = pf->p;
	struct store *s = p->store;
	size_t i;
	int r;

	r = store_begin(s);
	for (i = 0; r >= 0 && i < pf->n_attempts; i++) {
		struct attempt *a = &pf->attempts[i];
		struct store_attempt sa = {
		        .url_id = pf->sf->urls[a->url_idx].id,
		        .when = a->when,
		        .status = a->status,
		        .error = a->error,
		        .etag = a->etag,
		        .last_modified = a->last_modified,
		        .redirect = a->redirect,
		};

		r = store_url_record(s, &sa);
		if (r >= 0 && a->error == NULL) {
			struct store_url *u = &pf->sf->urls[a->url_idx];

			if (a->etag) {
				free(u->etag);
				u->etag = xstrdup(a->etag);
			}
			if (a->last_modified) {
				free(u->last_modified);
				u->last_modified = xstrdup(a->last_modified);
			}
		}
	}
	if (r >= 0 && pf->title)
		r = store_feed_set_parsed_title(s, pf->sf->id, pf->title);
	if (r >= 0)
		r = store_feed_save_schedule(s, pf->sf);
	if (r >= 0)
		r = store_commit(s);
	else
		store_rollback(s);
	if (r < 0)
		log_warn("feed %lld: cannot save the poll in '%s': %s",
		         (long long)pf->sf->id,
		         p->db_name ? p->db_name : "the database",
		         store_errmsg(s));
	apply_redirects(pf);
}

/*
 * A poll is over: served is the URL index that served (-1: none), feed
 * what it parsed (NULL on 304 or failure).
 */
static void
poll_finish(struct pfeed *pf, ssize_t served, struct gz_feed *feed,
            bool not_modified)
{
	struct poller *p = pf->p;
	struct store_feed *sf = pf->sf;
	struct poll_summary d = {.feeds = 1};
	struct sched_params sp = params(p);
	int64_t now = now_s();
	char b1[200];
	size_t i;
	bool all_network = pf->n_attempts > 0;

	batch_begin(p);
	if (served >= 0 && feed) {
		struct store_merge_result m = {0};
		int r = store_merge(p->store, sf->id, (size_t)served, feed, now,
		                    &m);

		if (r < 0) {
			/*
			 * Keep the validators we had: with the new ones the
			 * next poll would be a 304, and these stories lost.
			 */
			for (i = 0; i < pf->n_attempts; i++) {
				struct attempt *a = &pf->attempts[i];

				if (a->url_idx != (size_t)served)
					continue;
				free(a->etag);
				a->etag = NULL;
				free(a->last_modified);
				a->last_modified = NULL;
			}
			/* The batch failed with it: end it, then go on. */
			batch_commit(p);
			log_warn(
			        "feed %lld: cannot store what %s served in "
			        "'%s': %s",
			        (long long)sf->id,
			        log_quote(sf->urls[served].url, b1, sizeof(b1)),
			        p->db_name ? p->db_name : "the database",
			        store_errmsg(p->store));
		} else {
			d.new_stories = m.new_stories;
			d.updated_stories = m.updated;
		}
		if (feed->title && feed->title[0])
			pf->title = xstrdup(feed->title);
		sf->hint = feed->ttl > feed->update_period
		                   ? feed->ttl
		                   : feed->update_period;
	}
	if (served >= 0) {
		if (pf->held) {
			TAILQ_REMOVE(&p->held, pf, held_link);
			p->n_held--;
			pf->held = false;
		}
		if (not_modified)
			d.not_modified = 1;
		else
			d.ok = 1;
		if (served != 0 && sf->preferred == 0)
			sf->primary_probe = now; /* the primary just failed */
		if (sf->preferred != (int)served && sf->n_urls > 1)
			log_notice("feed %lld: now served by %s",
			           (long long)sf->id,
			           log_quote(sf->urls[served].url, b1,
			                     sizeof(b1)));
		sf->preferred = (int)served;
		sf->last_served = (int)served;
		sf->error_count = 0;
		sf->failing_since = 0;
		sf->next_poll = now + sched_ok_delay(&sp, feed_interval(pf),
		                                     sf->hint, pf->max_age);
		if (feed)
			log_info("feed %lld: %d new, %d updated from %s",
			         (long long)sf->id, d.new_stories,
			         d.updated_stories,
			         log_quote(sf->urls[served].url, b1,
			                   sizeof(b1)));
		else
			log_debug("feed %lld: not modified", (long long)sf->id);
	} else {
		d.failed = 1;
		for (i = 0; i < pf->n_attempts; i++)
			if (!pf->attempts[i].network)
				all_network = false;
		if (all_network && p->last_response < pf->started &&
		    !pf->gone) {
			/* Maybe the network, not the feed: decide later. */
			if (!pf->held) {
				pf->held = true;
				pf->held_since = now;
				TAILQ_INSERT_TAIL(&p->held, pf, held_link);
				p->n_held++;
			}
			sf->next_poll =
			        now +
			        sched_ok_delay(&sp, feed_interval(pf), 0, -1);
		} else {
			if (pf->held) {
				TAILQ_REMOVE(&p->held, pf, held_link);
				p->n_held--;
				pf->held = false;
			}
			sf->error_count++;
			if (sf->failing_since == 0)
				sf->failing_since = now;
			sf->next_poll =
			        now + sched_backoff(&sp, feed_interval(pf),
			                            sf->error_count,
			                            arc4random());
		}
		if (pf->retry_after > now)
			sf->retry_after = pf->retry_after;
		if (pf->gone) {
			size_t g = 0;
			char *why;

			for (i = 0; i < pf->n_attempts; i++)
				if (pf->attempts[i].status == 410)
					g = pf->attempts[i].url_idx;
			why = xasprintf("410 Gone at '%s'", sf->urls[g].url);

			if (store_feed_set_disabled(p->store, sf->id, true,
			                            why) == 0) {
				sf->disabled = true;
				log_notice("feed %lld: disabled: %s",
				           (long long)sf->id,
				           log_quote(why, b1, sizeof(b1)));
			}
			free(why);
		}
	}
	if (served >= 0 && pf->retry_after > now)
		sf->retry_after = pf->retry_after;
	gz_feed_free(feed);
	save_poll(pf);
	sf = pf->sf;

	poll_reset(pf);
	pf->busy = false;
	p->inflight--;
	if (pf->pending_sf) {
		/* A newer row came while polling; our schedule wins. */
		struct store_feed *n = pf->pending_sf;

		schedule_copy(n, sf);
		store_feed_free(sf);
		pf->sf = sf = n;
		pf->pending_sf = NULL;
	}
	if (p->last_response >= pf->started || served >= 0)
		held_flush(p, now);
	else if (p->n_held > 0 && !p->once && p->n_held >= enabled_feeds(p))
		held_drop(p);

	feed_schedule(pf);
	batch_add(p, pf, &d);
	pump(p);
	arm_timer(p);
	check_idle(p);
}

/* Start what the limits allow: hosts served round-robin. */
static void
pump(struct poller *p)
{
	while (p->active < p->cfg->max_connections &&
	       !TAILQ_EMPTY(&p->runnable)) {
		struct host *h = TAILQ_FIRST(&p->runnable);
		struct pfeed *pf;
		const struct store_url *u;
		struct fetch_req req;
		int r;

		TAILQ_REMOVE(&p->runnable, h, run_link);
		h->runnable = false;
		if (TAILQ_EMPTY(&h->waitq) ||
		    h->active >= p->cfg->per_host_connections)
			continue;
		pf = TAILQ_FIRST(&h->waitq);
		TAILQ_REMOVE(&h->waitq, pf, wait_link);
		pf->waiting = false;
		u = &pf->sf->urls[pf->order[pf->pos]];
		req = (struct fetch_req){
		        .url = u->url,
		        .proxy = u->proxy,
		        .etag = u->etag,
		        .last_modified = u->last_modified,
		};
		h->active++;
		p->active++;
		r = fetch_start(p->fetch, &req, on_data, on_done, pf,
		                &pf->xfer);
		host_check(p, h);
		if (r == 0)
			fetch_on_stall(pf->xfer, on_stall);
		if (r < 0) {
			struct fetch_result fr = {
			        .error = FETCH_OTHER,
			        .message = xasprintf("cannot start: %s",
			                             strerror(-r)),
			        .max_age = -1,
			};

			on_done(NULL, &fr, pf);
			free(fr.message);
		}
	}
}

/* The one timer: wake when the earliest feed is due. */
static void
arm_timer(struct poller *p)
{
	struct sched_node *n = sched_heap_top(&p->heap);
	struct timeval tv = {0, 0};
	int64_t now;

	if (p->once || n == NULL) {
		evtimer_del(&p->timer);
		return;
	}
	now = now_s();
	if (n->due > now)
		tv.tv_sec = (time_t)(n->due - now);
	evtimer_add(&p->timer, &tv);
}

/* The timer: begin every feed that is due. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller *p = arg;
	int64_t now = now_s();
	struct sched_node *n;

	(void)fd;
	(void)what;
	while ((n = sched_heap_top(&p->heap)) && n->due <= now) {
		struct pfeed *pf =
		        (struct pfeed *)(void *)((char *)n -
		                                 offsetof(struct pfeed, node));

		sched_heap_pop(&p->heap);
		poll_begin(pf);
	}
	pump(p);
	arm_timer(p);
}

/* A poller on base. */
struct poller *
poller_new(struct event_base *base, const struct config *cfg, struct store *s,
           bool once)
{
	struct poller *p = xcalloc(1, sizeof(*p));
	struct fetch_opts o = fopts(cfg);

	p->base = base;
	p->cfg = cfg;
	p->store = s;
	p->once = once;
	p->fetch = fetch_new(base, &o);
	if (p->fetch == NULL) {
		free(p);
		return NULL;
	}
	evtimer_assign(&p->timer, base, timer_cb, p);
	evtimer_assign(&p->batch_timer, base, batch_timer_cb, p);
	sched_heap_init(&p->heap);
	TAILQ_INIT(&p->runnable);
	TAILQ_INIT(&p->held);
	TAILQ_INIT(&p->stalled);
	return p;
}

/* Cancel everything and free. */
void
poller_free(struct poller *p)
{
	size_t i;

	if (p == NULL)
		return;
	batch_commit(p); /* the polls that finished are kept */
	evtimer_del(&p->timer);
	for (i = 0; i < p->n_feeds; i++)
		pfeed_free(p->feeds[i]);
	free(p->feeds);
	fetch_free(p->fetch);
	sched_heap_clear(&p->heap);
	for (i = 0; i < HOST_BUCKETS; i++) {
		while (p->hosts[i]) {
			struct host *h = p->hosts[i];

			p->hosts[i] = h->next;
			free(h->name);
			free(h);
		}
	}
	for (i = 0; i < p->n_waiters; i++) {
		waiter_free(p->waiters[i]);
	}
	free(p->db_name);
	free(p);
}

/* Use a new configuration. */
void
poller_set_config(struct poller *p, const struct config *cfg)
{
	struct fetch_opts o = fopts(cfg);

	p->cfg = cfg;
	fetch_set_opts(p->fetch, &o);
}

/* The database's file name, for messages about failed writes. */
void
poller_set_db_name(struct poller *p, const char *name)
{
	free(p->db_name);
	p->db_name = name ? xstrdup(name) : NULL;
}

/* A feed gone from the store: cancel its poll, tell its waiters. */
static void
feed_drop(struct poller *p, struct pfeed *pf)
{
	struct poll_summary d = {.feeds = 0};
	int64_t id = pf->sf->id;

	if (pf->busy)
		p->inflight--;
	pfeed_free(pf);
	waiters_note(p, id, &d);
}

void
poller_save(struct poller *p)
{
	batch_commit(p);
}

/* Read the subscriptions and reconcile them with what we hold. */
int
poller_load(struct poller *p)
{
	struct store_feed **v = NULL;
	struct pfeed **keep;
	size_t n = 0, i, j = 0, k = 0;
	int r;

	batch_commit(p); /* a pfeed in the batch may go */
	r = store_feeds_uncounted(p->store, &v, &n);
	if (r < 0)
		return r;
	keep = xcalloc(n ? n : 1, sizeof(*keep));
	/* Both lists are sorted by id: walk them together. */
	for (i = 0; i < n; i++) {
		struct pfeed *pf = NULL;

		while (j < p->n_feeds && p->feeds[j]->sf->id < v[i]->id)
			feed_drop(p, p->feeds[j++]); /* removed */
		if (j < p->n_feeds && p->feeds[j]->sf->id == v[i]->id) {
			pf = p->feeds[j++];
			if (pf->busy) {
				store_feed_free(pf->pending_sf);
				pf->pending_sf = v[i];
			} else {
				store_feed_free(pf->sf);
				pf->sf = v[i];
			}
		} else {
			pf = xcalloc(1, sizeof(*pf));
			pf->p = p;
			pf->sf = v[i];
			pf->node.idx = SIZE_MAX;
		}
		v[i] = NULL;
		keep[k++] = pf;
		feed_schedule(pf);
	}
	for (; j < p->n_feeds; j++)
		feed_drop(p, p->feeds[j]);
	free(v);
	free(p->feeds);
	p->feeds = keep;
	p->n_feeds = k;
	pump(p);
	arm_timer(p);
	return 0;
}

/* Poll feed_id (0: all enabled) now. */
int
poller_poll_now(struct poller *p, int64_t feed_id, poller_done_fn fn, void *arg)
{
	struct waiter *w;
	int64_t now = now_s();
	size_t i;
	int n = 0;

	if (p->n_waiters >= MAX_WAITERS)
		return -EBUSY;
	w = xcalloc(1, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	w->ids = xcalloc(p->n_feeds ? p->n_feeds : 1, sizeof(*w->ids));
	w->done = xcalloc(p->n_feeds ? p->n_feeds : 1, sizeof(*w->done));
	memset(&p->round, 0, sizeof(p->round));
	p->round_start = now;
	for (i = 0; i < p->n_feeds; i++) {
		struct pfeed *pf = p->feeds[i];

		if (feed_id && pf->sf->id != feed_id)
			continue;
		if (pf->sf->disabled || pf->sf->n_urls == 0 ||
		    (pf->sf->retry_after > now && !pf->busy)) {
			p->totals.skipped++;
			w->sum.skipped++;
			p->round.skipped++;
			continue;
		}
		w->ids[w->n_ids++] = pf->sf->id;
		if (!pf->busy)
			poll_begin(pf);
		n++;
	}
	if (feed_id && feed_find(p, feed_id, NULL) == NULL) {
		waiter_free(w);
		return -ENOENT;
	}
	w->remaining = w->n_ids;
	if (w->remaining == 0) {
		if (fn)
			fn(&w->sum, arg);
		waiter_free(w);
	} else {
		p->waiters[p->n_waiters++] = w;
	}
	pump(p);
	arm_timer(p);
	check_idle(p);
	return n;
}

/* Drop the waiter whose arg is arg: its client is gone. */
void
poller_forget(struct poller *p, void *arg)
{
	size_t i = 0;

	while (i < p->n_waiters) {
		if (p->waiters[i]->arg == arg) {
			waiter_free(p->waiters[i]);
			p->waiters[i] = p->waiters[--p->n_waiters];
			continue;
		}
		i++;
	}
}

/* Set the idle callback. */
void
poller_on_idle(struct poller *p, void (*fn)(void *arg), void *arg)
{
	p->idle_fn = fn;
	p->idle_arg = arg;
}

/* Whether nothing is in flight. */
bool
poller_idle(const struct poller *p)
{
	return p->inflight == 0;
}

/* Everything since start. */
const struct poll_summary *
poller_totals(const struct poller *p)
{
	return &p->totals;
}

/* The status text for `gazette status`. */
char *
poller_status(const struct poller *p)
{
	const struct sched_node *n = sched_heap_top(&p->heap);
	size_t disabled = 0, failing = 0, i, waiting = 0, stalled = 0;
	int64_t now = now_s();
	const struct pfeed *pf;
	char *s;

	TAILQ_FOREACH(pf, &p->stalled, stall_link)
	stalled++;

	for (i = 0; i < p->n_feeds; i++) {
		if (p->feeds[i]->sf->disabled)
			disabled++;
		else if (p->feeds[i]->sf->error_count > 0)
			failing++;
		if (p->feeds[i]->waiting)
			waiting++;
	}
	s = xasprintf("feeds: %zu\n"
	              "disabled: %zu\n"
	              "failing: %zu\n"
	              "polling: %d\n"
	              "transfers: %d\n"
	              "slow-transfers: %d\n"
	              "stalled-waiting: %zu\n"
	              "queued: %zu\n"
	              "next-poll-in: %lld\n"
	              "network: %s\n"
	              "polls: %d\n"
	              "polls-ok: %d\n"
	              "polls-not-modified: %d\n"
	              "polls-failed: %d\n"
	              "new-stories: %d\n"
	              "config: %s\n",
	              p->n_feeds, disabled, failing, p->inflight, p->active,
	              p->slow, stalled, waiting,
	              n ? (long long)(n->due > now ? n->due - now : 0) : -1LL,
	              p->network_down ? "down" : "up", p->totals.feeds,
	              p->totals.ok, p->totals.not_modified, p->totals.failed,
	              p->totals.new_stories,
	              p->cfg->path ? p->cfg->path : "(defaults)");
	return s;
}

/* --once's end: leave the loop. */
static void
once_idle(void *arg)
{
	event_base_loopexit(arg, NULL);
}

/* Poll once, blocking, on a private event base. */
int
poll_once(const struct config *cfg, struct store *s, int64_t feed_id,
          struct poll_summary *ret, char **ret_err)
{
	struct event_base *base;
	struct poller *p;
	int r;

	base = event_base_new();
	if (base == NULL)
		return -ENOMEM;
	p = poller_new(base, cfg, s, true);
	if (p == NULL) {
		event_base_free(base);
		return -ENOMEM;
	}
	r = poller_load(p);
	if (r < 0) {
		if (ret_err)
			*ret_err = xasprintf("cannot read the feeds: %s",
			                     store_errmsg(s));
		goto out;
	}
	poller_on_idle(p, once_idle, base);
	r = poller_poll_now(p, feed_id, NULL, NULL);
	if (r == -ENOENT) {
		if (ret_err)
			*ret_err =
			        xasprintf("no feed %lld", (long long)feed_id);
		goto out;
	}
	if (!poller_idle(p))
		event_base_dispatch(base);
	r = 0;
	*ret = p->round;
out:
	poller_free(p);
	event_base_free(base);
	return r;
}

/* What poll_fetch_url collects. */
struct grab {
	struct fetch_result res; /* copied out of the done callback */
	char *body;
	size_t len, cap;
	bool done;
	struct event_base *base;
};

/* fetch: append body bytes (the fetcher has capped them already). */
static int
grab_data(struct fetch_xfer *x, const char *buf, size_t len, void *arg)
{
	struct grab *g = arg;

	(void)x;
	if (g->len + len + 1 > g->cap) {
		size_t cap = g->cap ? g->cap : 65536;

		while (cap < g->len + len + 1)
			cap *= 2;
		g->body = xreallocarray(g->body, cap, 1);
		g->cap = cap;
	}
	memcpy(g->body + g->len, buf, len);
	g->len += len;
	g->body[g->len] = '\0';
	return 0;
}

/* Duplicate s, or NULL. */
static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* fetch: keep what the result says; leave the loop. */
static void
grab_done(struct fetch_xfer *x, const struct fetch_result *r, void *arg)
{
	struct grab *g = arg;

	(void)x;
	g->res.error = r->error;
	g->res.status = r->status;
	g->res.message = dup_or_null(r->message);
	g->res.content_type = dup_or_null(r->content_type);
	g->res.effective_url = dup_or_null(r->effective_url);
	g->done = true;
	event_base_loopexit(g->base, NULL);
}

/* GET one URL whole, with the configured limits (for `gazette add`). */
int
poll_fetch_url(const struct config *cfg, const char *url, const char *proxy,
               struct poll_fetched *ret, char **ret_err)
{
	struct fetch_opts o = fopts(cfg);
	struct fetch_req req = {.url = url, .proxy = proxy};
	struct grab g = {0};
	struct fetch_xfer *x = NULL;
	struct fetch *f;
	int r;

	g.base = event_base_new();
	if (g.base == NULL)
		return -ENOMEM;
	f = fetch_new(g.base, &o);
	if (f == NULL) {
		event_base_free(g.base);
		return -ENOMEM;
	}
	r = fetch_start(f, &req, grab_data, grab_done, &g, &x);
	if (r < 0) {
		if (ret_err)
			*ret_err = xstrdup(strerror(-r));
		goto out;
	}
	event_base_dispatch(g.base);
	if (!g.done || g.res.error != FETCH_OK) {
		r = !g.done                        ? -EINTR
		    : g.res.error == FETCH_TIMEOUT ? -ETIMEDOUT
		    : g.res.error == FETCH_TOO_BIG ? -EFBIG
		    : g.res.error == FETCH_DNS     ? -EHOSTUNREACH
		    : g.res.error == FETCH_CONNECT ? -ECONNREFUSED
		                                   : -EIO;
		if (ret_err)
			*ret_err = xstrdup(g.res.message ? g.res.message
			                                 : "interrupted");
		goto out;
	}
	ret->status = g.res.status;
	ret->content_type = g.res.content_type;
	ret->final_url =
	        g.res.effective_url ? g.res.effective_url : xstrdup(url);
	ret->body = g.body ? g.body : xstrdup("");
	ret->len = g.len;
	g.res.content_type = g.res.effective_url = NULL;
	g.body = NULL;
	r = 0;
out:
	fetch_free(f);
	event_base_free(g.base);
	free(g.body);
	free(g.res.message);
	free(g.res.content_type);
	free(g.res.effective_url);
	return r;
}

/* Free what poll_fetch_url gave. */
void
poll_fetched_clear(struct poll_fetched *f)
{
	if (f == NULL)
		return;
	free(f->content_type);
	free(f->final_url);
	free(f->body);
	memset(f, 0, sizeof(*f));
}
