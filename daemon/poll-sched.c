/*
 * Scheduling: when a feed is due (sched.c's heap, one timer), the order
 * a poll tries its URLs in (the preferred one; the primary re-probed
 * every primary-retry), and what a poll's end does to the schedule:
 * hints, Retry-After, backoff, failures held while the network may be
 * down, 410 Gone, permanent redirects.
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

/* The scheduler's parameters from the configuration. */
struct sched_params
poll_params(const struct poller *p)
{
	struct sched_params sp = {
	        .min_interval = p->cfg->min_interval,
	        .max_backoff = p->cfg->max_backoff,
	};
	return sp;
}

/* The feed's own interval, else the configured one. */
int64_t
poll_feed_interval(const struct pfeed *pf)
{
	return pf->sf->interval > 0 ? pf->sf->interval : pf->p->cfg->interval;
}

/* When the daemon polls this feed next (0: now). */
static int64_t
feed_due(const struct pfeed *pf)
{
	const struct store_feed *sf = pf->sf;
	int64_t due = sf->next_poll > sf->retry_after ? sf->next_poll
	                                              : sf->retry_after;

	return pf->not_before > due ? pf->not_before : due;
}

/* Put an idle, enabled feed in the heap at its due time (daemon only). */
void
poll_feed_schedule(struct pfeed *pf)
{
	struct poller *p = pf->p;

	if (p->once || pf->busy || pf->saving > 0 || pf->sf->disabled ||
	    pf->sf->n_urls == 0) {
		sched_heap_remove(&p->heap, &pf->node);
		return;
	}
	sched_heap_set(&p->heap, &pf->node, feed_due(pf));
}

/* Begin a poll of pf now: the order of URLs to try, then the first. */
void
poll_begin(struct pfeed *pf)
{
	struct poller *p = pf->p;
	struct store_feed *sf = pf->sf;
	int64_t now = poll_now();
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
	pf->poll_no = ++p->polls;
	p->polling++;

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
	poll_attempt_next(pf);
}

/* Count a held (network) failure after all: the network was up. */
static void
hold_count(struct pfeed *pf, int64_t now)
{
	struct poller *p = pf->p;
	struct store_feed *sf = pf->sf;

	TAILQ_REMOVE(&p->held, pf, held_link);
	p->n_held--;
	pf->held = false;
	sf->error_count++;
	if (sf->failing_since == 0)
		sf->failing_since = pf->held_since;
	struct sched_params sp = poll_params(p);

	sf->next_poll = now + sched_backoff(&sp, poll_feed_interval(pf),
	                                    sf->error_count, arc4random());
	poll_ingest_schedule(pf);
	poll_feed_schedule(pf);
}

/* Some response came: the held network failures were real; count them. */
void
poll_held_flush(struct poller *p, int64_t now)
{
	p->network_down = false;
	while (!TAILQ_EMPTY(&p->held))
		hold_count(TAILQ_FIRST(&p->held), now);
}

/* Every feed failed with network errors: the network is down. */
void
poll_held_drop(struct poller *p)
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
void
poll_schedule_copy(struct store_feed *to, const struct store_feed *from)
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

/* The permanent redirects now seen often enough: URLs for j to move. */
static void
redirect_moves(struct pfeed *pf, struct ingest_job *j)
{
	struct poller *p = pf->p;
	struct store_feed *sf = pf->sf;
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
		log_notice("feed %lld: %s moved permanently to %s",
		           (long long)sf->id, log_quote(u->url, b1, sizeof(b1)),
		           log_quote(a->redirect, b2, sizeof(b2)));
		j->moves = xreallocarray(j->moves, j->n_moves + 1,
		                         sizeof(*j->moves));
		j->moves[j->n_moves].url_id = u->id;
		j->moves[j->n_moves].url = xstrdup(a->redirect);
		j->n_moves++;
	}
}

/* Keep in memory the validators of the attempts that served. */
static void
validators_keep(struct pfeed *pf)
{
	for (size_t i = 0; i < pf->n_attempts; i++) {
		struct attempt *a = &pf->attempts[i];
		struct store_url *u = &pf->sf->urls[a->url_idx];

		if (a->error)
			continue;
		if (a->etag) {
			free(u->etag);
			u->etag = xstrdup(a->etag);
		}
		if (a->last_modified) {
			free(u->last_modified);
			u->last_modified = xstrdup(a->last_modified);
		}
		if (a->good_addrs) {
			free(u->good_addrs);
			u->good_addrs = xstrdup(a->good_addrs);
		}
	}
}

/*
 * A poll is over: served is the URL index that served (-1: none), sv
 * what it gave (NULL when none served). The schedule is worked out
 * here; what is left to write goes to the ingest thread.
 */
void
poll_finish(struct pfeed *pf, ssize_t served, const struct poll_served *sv)
{
	struct poller *p = pf->p;
	struct store_feed *sf = pf->sf;
	struct poll_summary d = {.feeds = 1};
	struct sched_params sp = poll_params(p);
	struct ingest_job *j;
	int64_t now = poll_now();
	char b1[200];
	size_t i;
	bool all_network = pf->n_attempts > 0;

	j = ingest_job_new(INGEST_SAVE, sf->id, pf->poll_no);
	if (sv && sv->have_feed) {
		if (!sv->lost) {
			d.new_stories = sv->merged.new_stories;
			d.updated_stories = sv->merged.updated;
		}
		sf->hint = sv->hint;
	}
	if (served >= 0) {
		if (pf->held) {
			TAILQ_REMOVE(&p->held, pf, held_link);
			p->n_held--;
			pf->held = false;
		}
		if (sv->not_modified)
			d.not_modified = 1;
		else if (sv->lost)
			d.failed = 1;
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
		sf->next_poll =
		        now + sched_ok_delay(&sp, poll_feed_interval(pf),
		                             sf->hint, pf->max_age);
		if (sv->have_feed)
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
			        now + sched_ok_delay(&sp,
			                             poll_feed_interval(pf), 0,
			                             -1);
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
			        now + sched_backoff(&sp, poll_feed_interval(pf),
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
			sf->disabled = true;
			log_notice("feed %lld: disabled: %s", (long long)sf->id,
			           log_quote(why, b1, sizeof(b1)));
			j->disable = why;
		}
	}
	if (served >= 0 && pf->retry_after > now)
		sf->retry_after = pf->retry_after;
	if (sv && sv->lost) {
		/* Not stored: the next poll fetches it in full. */
		for (i = 0; i < sf->n_urls; i++) {
			free(sf->urls[i].etag);
			sf->urls[i].etag = NULL;
			free(sf->urls[i].last_modified);
			sf->urls[i].last_modified = NULL;
		}
	} else {
		validators_keep(pf);
	}
	redirect_moves(pf, j);
	j->d = d;
	/* Counted (p->inflight, waiters) when its save comes back. */
	poll_ingest_save(pf, j);

	poll_reset(pf);
	pf->busy = false;
	p->polling--;
	if (pf->pending_sf) {
		/* A newer row came while polling; our schedule wins. */
		struct store_feed *n = pf->pending_sf;

		poll_schedule_copy(n, sf);
		store_feed_free(sf);
		pf->sf = sf = n;
		pf->pending_sf = NULL;
	}
	if (p->last_response >= pf->started || served >= 0)
		poll_held_flush(p, now);
	else if (p->n_held > 0 && !p->once && p->n_held >= enabled_feeds(p))
		poll_held_drop(p);

	poll_feed_schedule(pf);
	poll_pump(p);
	poll_arm_timer(p);
	poll_check_idle(p);
}

/* The one timer: wake when the earliest feed is due. */
void
poll_arm_timer(struct poller *p)
{
	struct sched_node *n = sched_heap_top(&p->heap);
	struct timeval tv = {0, 0};
	int64_t now;

	if (p->once || n == NULL) {
		evtimer_del(&p->timer);
		return;
	}
	now = poll_now();
	/* Shared and no room to lease: a poll's end arms it again. */
	if (p->shared && n->due <= now && poll_lease_room(p) == 0) {
		evtimer_del(&p->timer);
		return;
	}
	if (n->due > now)
		tv.tv_sec = (time_t)(n->due - now);
	evtimer_add(&p->timer, &tv);
}

/* The timer: begin every feed that is due. */
void
poll_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller *p = arg;
	int64_t now = poll_now();
	struct sched_node *n;
	struct pfeed **due = NULL;
	size_t n_due = 0, cap = 0;

	(void)fd;
	(void)what;
	while ((!p->shared || poll_lease_room(p) > 0) &&
	       (n = sched_heap_top(&p->heap)) && n->due <= now) {
		struct pfeed *pf =
		        (struct pfeed *)(void *)((char *)n -
		                                 offsetof(struct pfeed, node));

		sched_heap_pop(&p->heap);
		if (!p->shared) {
			poll_begin(pf);
			continue;
		}
		if (n_due == cap) {
			cap = cap ? 2 * cap : 64;
			due = xreallocarray(due, cap, sizeof(*due));
		}
		due[n_due++] = pf;
	}
	/* Shared: each due feed is polled by the daemon that leases it. */
	if (n_due > 0)
		poll_lease_begin(p, due, n_due);
	free(due);
	poll_pump(p);
	poll_arm_timer(p);
}
