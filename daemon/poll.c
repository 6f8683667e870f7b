/*
 * The poller: the subscriptions it holds, the API the daemon and the CLI
 * use (poll.h), the waiters of poller_poll_now() and the summaries. The
 * work is in poll-sched.c (when and in which order), poll-xfer.c (the
 * transfers) and poll-ingest.c (the ingest thread's jobs): see
 * poll-internal.h.
 *
 * The loop thread only fetches: each 2xx body goes whole to the ingest
 * thread, which parses, merges and commits in batches on its own store
 * connection, and sends back what the loop needs to go on (failover on
 * a document that is no feed; the feed's hints; whether it was stored).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "gazette/config.h"
#include "gazette/log.h"
#include "gazette/xalloc.h"
#include "poll-internal.h"

/* Seconds since the epoch. */
int64_t
poll_now(void)
{
	return (int64_t)time(NULL);
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
struct pfeed *
poll_feed_find(const struct poller *p, int64_t id, size_t *ret_pos)
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
void
poll_check_idle(struct poller *p)
{
	if (p->inflight != 0)
		return;
	/* --once: the round is over; were the held failures the network? */
	if (p->once && p->n_held > 0) {
		if (p->last_response >= p->round_start) {
			poll_held_flush(p, poll_now());
		} else {
			poll_held_drop(p);
			p->round.network_down = true;
		}
	}
	/* The held failures counted after all are being saved: wait. */
	if (p->inflight != 0 || p->purging != 0)
		return;
	if (p->idle_fn)
		p->idle_fn(p->idle_arg);
}

/*
 * Count a poll's outcome d into the totals and tell its waiters: only
 * once the ingest thread has committed it, so that what a waiter is
 * told is saved is saved.
 */
void
poll_account(struct poller *p, int64_t id, const struct poll_summary *d)
{
	sum_add(&p->totals, d);
	sum_add(&p->round, d);
	waiters_note(p, id, d);
}

/* A poller on base. */
struct poller *
poller_new(struct event_base *base, const struct config *cfg, struct store *s,
           bool once)
{
	struct poller *p = xcalloc(1, sizeof(*p));
	struct fetch_opts o = poll_fetch_opts(cfg);
	char *err = NULL, *shown;

	p->base = base;
	p->cfg = cfg;
	p->store = s;
	p->once = once;
	p->fetch = fetch_new(base, &o);
	if (p->fetch == NULL) {
		free(p);
		return NULL;
	}
	shown = store_display(store_path(s)); /* no password in the log */
	p->ingest =
	        ingest_new(store_path(s), store_flags(s) & ~STORE_CREATE, shown,
	                   (size_t)cfg->ingest_queue, cfg->index_lag, !once,
	                   once ? NULL : store_lease_instance(s), &err);
	free(shown);
	if (p->ingest == NULL) {
		log_err("cannot start the ingest thread: %s",
		        err ? err : "out of memory");
		free(err);
		fetch_free(p->fetch);
		free(p);
		return NULL;
	}
	event_assign(&p->ingest_ev, base, ingest_fd(p->ingest),
	             EV_READ | EV_PERSIST, poll_ingest_cb, p);
	event_add(&p->ingest_ev, NULL);
	evtimer_assign(&p->timer, base, poll_timer_cb, p);
	poll_lease_init(p);
	sched_heap_init(&p->heap);
	TAILQ_INIT(&p->runnable);
	TAILQ_INIT(&p->held);
	TAILQ_INIT(&p->stalled);
	TAILQ_INIT(&p->paused);
	return p;
}

/* Cancel everything and free. */
void
poller_free(struct poller *p)
{
	size_t i;

	if (p == NULL)
		return;
	event_del(&p->ingest_ev);
	evtimer_del(&p->timer);
	poll_lease_stop(p);
	for (i = 0; i < p->n_feeds; i++)
		pfeed_free(p->feeds[i]);
	free(p->feeds);
	/*
	 * What the ingest thread has in hand is finished and committed;
	 * what waits is dropped: it wrote nothing, and its feeds, whose
	 * schedule was not saved, are polled again on the next start.
	 */
	ingest_free(p->ingest, false);
	fetch_free(p->fetch);
	sched_heap_clear(&p->heap);
	poll_hosts_free(p);
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
	struct fetch_opts o = poll_fetch_opts(cfg);

	p->cfg = cfg;
	fetch_set_opts(p->fetch, &o);
	ingest_set_limits(p->ingest, (size_t)cfg->ingest_queue, cfg->index_lag);
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

	if (pf->busy) {
		p->inflight--;
		p->polling--;
	}
	pfeed_free(pf);
	waiters_note(p, id, &d);
}

/* Nothing to do: the ingest thread commits as it goes. */
void
poller_save(struct poller *p)
{
	(void)p;
}

/* Read the subscriptions and reconcile them with what we hold. */
int
poller_load(struct poller *p)
{
	struct store_feed **v = NULL;
	struct pfeed **keep;
	size_t n = 0, i, j = 0, k = 0;
	int r;

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
			if (pf->busy || pf->saving > 0) {
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
		poll_feed_schedule(pf);
	}
	for (; j < p->n_feeds; j++)
		feed_drop(p, p->feeds[j]);
	free(v);
	free(p->feeds);
	p->feeds = keep;
	p->n_feeds = k;
	poll_pump(p);
	poll_arm_timer(p);
	return 0;
}

/* Poll feed_id (0: all enabled) now. */
int
poller_poll_now(struct poller *p, int64_t feed_id, poller_done_fn fn, void *arg)
{
	struct waiter *w;
	int64_t now = poll_now();
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
	if (feed_id && poll_feed_find(p, feed_id, NULL) == NULL) {
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
	poll_pump(p);
	poll_arm_timer(p);
	poll_check_idle(p);
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
	return p->inflight == 0 && p->purging == 0;
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
	int64_t now = poll_now();
	const struct pfeed *pf;
	char *s;

	size_t qbytes = 0, qjobs = 0;

	TAILQ_FOREACH(pf, &p->stalled, stall_link)
	stalled++;
	ingest_load(p->ingest, &qbytes, &qjobs);

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
	              "ingest-jobs: %zu\n"
	              "ingest-bytes: %zu\n"
	              "next-poll-in: %lld\n"
	              "network: %s\n"
	              "polls: %d\n"
	              "polls-ok: %d\n"
	              "polls-not-modified: %d\n"
	              "polls-failed: %d\n"
	              "new-stories: %d\n"
	              "purging: %s\n"
	              "config: %s\n",
	              p->n_feeds, disabled, failing, p->inflight, p->active,
	              p->slow, stalled, waiting, qjobs, qbytes,
	              n ? (long long)(n->due > now ? n->due - now : 0) : -1LL,
	              p->network_down ? "down" : "up", p->totals.feeds,
	              p->totals.ok, p->totals.not_modified, p->totals.failed,
	              p->totals.new_stories, p->purging ? "yes" : "no",
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
