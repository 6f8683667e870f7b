/*
 * The loop's side of the ingest thread. A poll hands over its body (the
 * thread parses it and, when it is a feed, merges it) and, once it is
 * over, the rest of what it leaves to write (attempts, schedule). Results
 * come back through the eventfd: a document that is no feed moves the
 * poll to the next URL; a saved poll is counted and its waiters told.
 * A result whose poll is no longer current (the feed was removed or
 * reloaded meanwhile) is dropped: what it wrote is committed and whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gazette/config.h"
#include "gazette/log.h"
#include "gazette/xalloc.h"
#include "poll-internal.h"

/* A copy of s, or NULL. */
static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* The store's record of an attempt, with copies of its strings. */
static struct store_attempt
attempt_record(const struct pfeed *pf, const struct attempt *a)
{
	struct store_attempt sa = {
	        .url_id = pf->sf->urls[a->url_idx].id,
	        .when = a->when,
	        .status = a->status,
	        .error = dup_or_null(a->error),
	        .etag = dup_or_null(a->etag),
	        .last_modified = dup_or_null(a->last_modified),
	        .redirect = dup_or_null(a->redirect),
	        .kind = dup_or_null(a->kind),
	        .ip = dup_or_null(a->ip),
	        .via = dup_or_null(a->via),
	        .good_addrs = dup_or_null(a->good_addrs),
	};
	return sa;
}

/* Hand the body of the last attempt to the ingest thread. */
void
poll_ingest_body(struct pfeed *pf, const char *content_type,
                 const char *base_url, bool more)
{
	struct poller *p = pf->p;
	struct ingest_job *j =
	        ingest_job_new(INGEST_PARSE, pf->sf->id, pf->poll_no);

	j->body = pf->body;
	j->len = pf->len;
	pf->body = NULL;
	pf->len = pf->cap = 0;
	j->base_url = xstrdup(base_url);
	j->content_type = dup_or_null(content_type);
	j->more = more;
	if (more) {
		pf->streaming = true;
	} else {
		struct attempt *a = &pf->attempts[pf->n_attempts - 1];
		const struct store_url *u = &pf->sf->urls[a->url_idx];

		j->url_index = a->url_idx;
		j->n_urls = pf->sf->n_urls;
		j->urls = xcalloc(j->n_urls, sizeof(*j->urls));
		for (size_t i = 0; i < j->n_urls; i++)
			j->urls[i] = xstrdup(pf->sf->urls[i].url);
		j->served = attempt_record(pf, a);
		j->now = a->when;
		/* A mirror not yet accepted: does it share stories? */
		if (a->url_idx != 0 && u->diverged != STORE_DIVERGED_ACCEPTED) {
			size_t i, k = 0;

			j->check_diverged = true;
			j->url_id = u->id;
			j->to_host = poll_host_of(pf->sf->urls[0].url);
			j->from_hosts = xcalloc(pf->sf->n_urls + 1,
			                        sizeof(*j->from_hosts));
			for (i = 1; i < pf->sf->n_urls; i++)
				j->from_hosts[k++] =
				        poll_host_of(pf->sf->urls[i].url);
		}
		pf->parsing = true;
		pf->streaming = false;
	}
	ingest_submit(p->ingest, j);
}

/* Drop the pieces of a body that will not be finished. */
void
poll_ingest_abort(struct pfeed *pf)
{
	struct ingest_job *j =
	        ingest_job_new(INGEST_PARSE, pf->sf->id, pf->poll_no);

	j->abort = true;
	pf->streaming = false;
	ingest_submit(pf->p->ingest, j);
}

/* The id and scheduling fields of sf, none of what it owns. */
static void
sched_snapshot(struct store_feed *to, const struct store_feed *sf)
{
	*to = (struct store_feed){.id = sf->id};
	poll_schedule_copy(to, sf);
}

/* Whether a later attempt of the poll was at the same URL (its record wins). */
static bool
retried(const struct pfeed *pf, size_t i)
{
	for (size_t k = i + 1; k < pf->n_attempts; k++)
		if (pf->attempts[k].url_idx == pf->attempts[i].url_idx)
			return true;
	return false;
}

/* Hand over what a finished poll leaves to write. */
void
poll_ingest_save(struct pfeed *pf, struct ingest_job *j)
{
	size_t i, n = 0;

	j->attempts = xcalloc(pf->n_attempts ? pf->n_attempts : 1,
	                      sizeof(*j->attempts));
	for (i = 0; i < pf->n_attempts; i++)
		if (!pf->attempts[i].recorded && !retried(pf, i))
			j->attempts[n++] = attempt_record(pf, &pf->attempts[i]);
	j->n_attempts = n;
	/* The mirrors the responses named go with it (the list moves). */
	j->suggest = pf->suggest;
	j->suggest_src = pf->suggest_src;
	j->n_suggest = pf->n_suggest;
	pf->suggest = pf->suggest_src = NULL;
	pf->n_suggest = 0;
	sched_snapshot(&j->sched, pf->sf);
	/* Out of the heap till saved: a reread would see the old schedule. */
	pf->saving++;
	ingest_submit(pf->p->ingest, j);
}

/* Save a feed's schedule alone. */
void
poll_ingest_schedule(struct pfeed *pf)
{
	struct ingest_job *j = ingest_job_new(INGEST_SAVE, pf->sf->id, 0);

	sched_snapshot(&j->sched, pf->sf);
	/* In flight until saved: --once must not end before it is. */
	pf->p->inflight++;
	ingest_submit(pf->p->ingest, j);
}

/* Forget a feed's validators: what they promise was not stored. */
static void
validators_forget(struct store_feed *sf)
{
	for (size_t i = 0; i < sf->n_urls; i++) {
		free(sf->urls[i].etag);
		sf->urls[i].etag = NULL;
		free(sf->urls[i].last_modified);
		sf->urls[i].last_modified = NULL;
	}
}

/* A body came back parsed: merged, or on to the next URL. */
static void
parsed(struct poller *p, struct ingest_job *j)
{
	struct pfeed *pf = poll_feed_find(p, j->feed_id, NULL);
	struct attempt *a;
	struct poll_served sv = {.have_feed = true};
	char b1[200];

	if (j->abort || !pf || !pf->busy || !pf->parsing ||
	    pf->poll_no != j->poll)
		return;
	pf->parsing = false;
	a = &pf->attempts[pf->n_attempts - 1];
	if (!j->is_feed) {
		struct mirror_outcome o = {
		        .error = FETCH_OK,
		        .status = a->status,
		        .content_type = a->content_type,
		        .bytes = 1,
		        .challenge = a->challenge,
		};
		enum mirror_kind k =
		        j->diverged ? MIRROR_OTHER : mirror_classify(&o);

		a->error = xstrdup(j->message ? j->message : "not a feed");
		free(a->etag);
		free(a->last_modified);
		free(a->redirect);
		free(a->good_addrs);
		a->etag = a->last_modified = a->redirect = NULL;
		a->good_addrs = NULL;
		free(a->kind);
		a->kind = xstrdup(mirror_kind_name(k));
		log_info(
		        "feed %lld: %s: %s", (long long)pf->sf->id,
		        log_quote(pf->sf->urls[a->url_idx].url, b1, sizeof(b1)),
		        a->error);
		if (!j->diverged && poll_retry_pinned(pf, k, a->ip))
			return;
		poll_failover(pf);
		return;
	}
	a->recorded = true;
	sv.lost = j->lost;
	sv.merged = j->merged;
	sv.hint = j->hint;
	poll_finish(pf, (ssize_t)a->url_idx, &sv);
}

/* A poll's save came back: count it, take moved URLs. */
static void
saved(struct poller *p, struct ingest_job *j)
{
	struct pfeed *pf = poll_feed_find(p, j->feed_id, NULL);
	struct poll_summary d = j->d;
	struct store_feed *fresh = NULL;

	p->inflight--;
	if (j->poll == 0)
		return; /* a schedule alone */
	if (pf && pf->saving > 0 && --pf->saving == 0 && !pf->busy) {
		if (pf->pending_sf) {
			/* Read while saving: our schedule is the newer. */
			poll_schedule_copy(pf->pending_sf, pf->sf);
			store_feed_free(pf->sf);
			pf->sf = pf->pending_sf;
			pf->pending_sf = NULL;
		}
		poll_feed_schedule(pf);
	}
	if (j->lost) {
		/* Nothing of it is stored: fetched in full next time. */
		if (pf)
			validators_forget(pf->sf);
		d = (struct poll_summary){.feeds = 1, .failed = 1};
	}
	if (pf && j->moved &&
	    store_feed_get(p->store, pf->sf->id, &fresh) == 0) {
		/* Keep our scheduling state; take the new URLs. */
		if (pf->busy) {
			store_feed_free(pf->pending_sf);
			pf->pending_sf = fresh;
		} else {
			poll_schedule_copy(fresh, pf->sf);
			store_feed_free(pf->sf);
			pf->sf = fresh;
		}
	}
	poll_account(p, j->feed_id, &d);
}

/* Hand a purge to the ingest thread, when the rules would purge at all. */
void
poller_purge(struct poller *p)
{
	struct ingest_job *j = ingest_job_new(INGEST_PURGE, 0, 0);

	if (config_purge_rules(p->cfg, poll_now(), &j->purge) < 0) {
		log_warn("retention: out of memory");
		ingest_job_free(j);
		return;
	}
	if (j->purge.read_before == 0 && j->purge.keep_unread <= 0 &&
	    j->purge.max_stories <= 0 && j->purge.n_feeds == 0) {
		ingest_job_free(j);
		return;
	}
	p->purging++;
	ingest_submit(p->ingest, j);
}

/* A purge came back: say what went. */
static void
purged(struct poller *p, struct ingest_job *j)
{
	const struct store_purge_counts *c = &j->purged;
	int64_t n = c->read + c->unread + c->over_limit;

	p->purging--;
	if (j->error < 0)
		log_warn("retention: cannot purge '%s': %s",
		         p->db_name ? p->db_name : store_path(p->store),
		         j->message ? j->message : strerror(-j->error));
	else if (n > 0)
		log_info("retention: %lld stories removed (read %lld, unread "
		         "%lld, over limit %lld)",
		         (long long)n, (long long)c->read, (long long)c->unread,
		         (long long)c->over_limit);
}

/* The ingest thread has results (or room): take them. */
void
poll_ingest_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller *p = arg;
	struct ingest_list done = TAILQ_HEAD_INITIALIZER(done);
	struct ingest_job *j;

	(void)fd;
	(void)what;
	ingest_collect(p->ingest, &done);
	while ((j = TAILQ_FIRST(&done))) {
		TAILQ_REMOVE(&done, j, link);
		if (j->kind == INGEST_PARSE)
			parsed(p, j);
		else if (j->kind == INGEST_PURGE)
			purged(p, j);
		else
			saved(p, j);
		ingest_job_free(j);
	}
	poll_resume(p);
	poll_pump(p);
	poll_arm_timer(p);
	poll_check_idle(p);
}
