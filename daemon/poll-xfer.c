/*
 * Transfers: which poll may start (global and per-host limits, a FIFO per
 * host served round-robin, a pool for stalled transfers), the walk
 * through a feed's URLs in one poll, and fetching one URL for the CLI.
 * A 2xx body is kept whole and handed to the ingest thread; a failure
 * moves on to the next URL at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "gazette/config.h"
#include "gazette/log.h"
#include "gazette/xalloc.h"
#include "poll-internal.h"

#define MAX_PINS 64 /* CURLOPT_RESOLVE entries of one attempt */

/* The fetcher's options from the configuration. */
struct fetch_opts
poll_fetch_opts(const struct config *c)
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
	        .ca_file = c->ca_file,
	};
	return o;
}

/* The lower-cased host of url, or "" when it has none. */
char *
poll_host_of(const char *url)
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
	poll_pump(p);
}

/* Free what an attempt owns. */
static void
attempt_clear(struct attempt *a)
{
	free(a->error);
	free(a->etag);
	free(a->last_modified);
	free(a->redirect);
	free(a->kind);
	free(a->ip);
	free(a->via);
	free(a->good_addrs);
	free(a->content_type);
}

/* Forget the poll in progress (transfer, body, attempts). */
void
poll_reset(struct pfeed *pf)
{
	size_t i;

	if (pf->waiting) {
		TAILQ_REMOVE(&pf->host->waitq, pf, wait_link);
		pf->waiting = false;
	}
	if (pf->paused) {
		TAILQ_REMOVE(&pf->p->paused, pf, pause_link);
		pf->paused = false;
	}
	if (pf->xfer) {
		fetch_cancel(pf->xfer);
		xfer_release(pf);
	}
	if (pf->streaming)
		poll_ingest_abort(pf);
	pf->host = NULL;
	free(pf->body);
	pf->body = NULL;
	pf->len = pf->cap = 0;
	pf->parsing = false;
	free(pf->sniff);
	pf->sniff = NULL;
	free(pf->pin);
	pf->pin = NULL;
	for (i = 0; i < pf->n_suggest; i++) {
		free(pf->suggest[i]);
		free(pf->suggest_src[i]);
	}
	free(pf->suggest);
	free(pf->suggest_src);
	pf->suggest = pf->suggest_src = NULL;
	pf->n_suggest = 0;
	for (i = 0; i < pf->n_attempts; i++)
		attempt_clear(&pf->attempts[i]);
	free(pf->attempts);
	pf->attempts = NULL;
	pf->n_attempts = 0;
	free(pf->order);
	pf->order = NULL;
	pf->n_order = pf->pos = 0;
}

/* Queue the attempt at order[pos] on its host. */
void
poll_attempt_next(struct pfeed *pf)
{
	struct poller *p = pf->p;
	const struct store_url *u = &pf->sf->urls[pf->order[pf->pos]];
	char *name = poll_host_of(u->url);

	pf->host = host_get(p, name);
	free(name);
	TAILQ_INSERT_TAIL(&pf->host->waitq, pf, wait_link);
	pf->waiting = true;
	host_check(p, pf->host);
}

/* The next URL of the poll, or its end when every one has failed. */
void
poll_failover(struct pfeed *pf)
{
	if (pf->pos + 1 < pf->n_order) {
		pf->pos++;
		poll_attempt_next(pf);
		poll_pump(pf->p);
		return;
	}
	poll_finish(pf, -1, NULL);
}

/* fetch: bytes of the body, kept for the ingest thread (capped there). */
static int
on_data(struct fetch_xfer *x, const char *buf, size_t len, void *arg)
{
	struct pfeed *pf = arg;
	int st = fetch_status(x);

	/* The start of any body: is it a challenge, does it name mirrors? */
	if (pf->sniff && pf->sniff->len < MIRROR_SNIFF)
		mirror_sniff_add(pf->sniff, buf, len);
	/* An error page is no feed: not worth keeping. */
	if (st < 200 || st >= 300)
		return 0;
	/* A piece is due and the queue is full: wait for room. */
	if (pf->len + len >= INGEST_PIECE && ingest_full(pf->p->ingest)) {
		if (!pf->paused) {
			pf->paused = true;
			TAILQ_INSERT_TAIL(&pf->p->paused, pf, pause_link);
		}
		return FETCH_PAUSE;
	}
	if (pf->len + len + 1 > pf->cap) {
		size_t cap = pf->cap ? pf->cap : 16384;

		while (cap < pf->len + len + 1)
			cap *= 2;
		/* A piece goes at INGEST_PIECE: no room beyond it is needed. */
		if (cap > INGEST_PIECE &&
		    pf->len + len + 1 <= INGEST_PIECE + 65536)
			cap = INGEST_PIECE + 65536;
		pf->body = xreallocarray(pf->body, cap, 1);
		pf->cap = cap;
	}
	memcpy(pf->body + pf->len, buf, len);
	pf->len += len;
	/* A large body is parsed as it arrives, not held whole. */
	if (pf->len >= INGEST_PIECE)
		poll_ingest_body(pf, fetch_content_type(x), fetch_url(x), true);
	return 0;
}

/* Whether url is http:// or https:// (a redirect target we may keep). */
static bool
http_target(const char *url)
{
	return url && (strncasecmp(url, "http://", 7) == 0 ||
	               strncasecmp(url, "https://", 8) == 0);
}

/*
 * What the mirrors need of an attempt: its failure kind (a 2xx body's is
 * known once it is parsed), the address it reached, how, the addresses
 * to remember when it served, and the mirrors the response names.
 */
static void
classify(struct pfeed *pf, struct attempt *a, const struct fetch_result *r,
         bool body, bool not_modified)
{
	const struct store_url *u = &pf->sf->urls[a->url_idx];
	const struct mirror_sniff *sn = pf->sniff;
	struct mirror_outcome o = {
	        .error = r->error,
	        .tls_cert = r->tls_cert,
	        .via_proxy = u->proxy != NULL,
	        .status = r->status,
	        .content_type = r->content_type,
	        .bytes = r->bytes,
	};
	struct mirror_suggestion *v = NULL;
	size_t n = 0, i;

	a->ip = r->primary_ip ? xstrdup(r->primary_ip) : NULL;
	if (pf->pin) {
		a->pinned = true;
		a->via = xasprintf("pinned %s", pf->pin);
		free(pf->pin);
		pf->pin = NULL;
	} else if (u->proxy) {
		a->via = xasprintf("proxy %s", u->proxy);
	} else if (u->doh) {
		a->via = xasprintf("doh %s", u->doh);
	}
	a->challenge = sn && r->status > 0 &&
	               mirror_looks_like_challenge(r->status, r->content_type,
	                                           sn->buf, sn->len);
	o.challenge = a->challenge;
	if (body || not_modified) {
		if (a->ip)
			mirror_addrs_update(u->good_addrs, a->ip,
			                    &a->good_addrs);
		a->content_type =
		        r->content_type ? xstrdup(r->content_type) : NULL;
	} else {
		a->kind = xstrdup(mirror_kind_name(mirror_classify(&o)));
	}
	if (r->status >= 200 && r->status < 300 &&
	    mirror_suggestions(r->effective_url ? r->effective_url : u->url,
	                       r->onion_location, sn ? sn->buf : NULL,
	                       sn ? sn->len : 0, &v, &n) >= 0) {
		for (i = 0; i < n; i++) {
			pf->suggest =
			        xreallocarray(pf->suggest, pf->n_suggest + 1,
			                      sizeof(*pf->suggest));
			pf->suggest_src = xreallocarray(
			        pf->suggest_src, pf->n_suggest + 1,
			        sizeof(*pf->suggest_src));
			pf->suggest[pf->n_suggest] = xstrdup(v[i].url);
			pf->suggest_src[pf->n_suggest++] =
			        xstrdup(mirror_source_name(v[i].source));
		}
		mirror_suggestions_free(v, n);
	}
	free(pf->sniff);
	pf->sniff = NULL;
}

/* fetch: one URL's transfer is over: a body to parse, served, or failed. */
static void
on_done(struct fetch_xfer *x, const struct fetch_result *r, void *arg)
{
	struct pfeed *pf = arg;
	struct poller *p = pf->p;
	struct attempt *a;
	size_t idx = pf->order[pf->pos];
	int64_t now = poll_now();
	char *err = NULL;
	bool body = false, not_modified = false;
	enum mirror_kind kind;

	(void)x;
	xfer_release(pf);
	if (pf->paused) {
		TAILQ_REMOVE(&p->paused, pf, pause_link);
		pf->paused = false;
	}

	if (r->status > 0)
		p->last_response = now;
	if (r->error == FETCH_OK && r->status == 304) {
		not_modified = true;
	} else if (r->error == FETCH_OK && r->status >= 200 &&
	           r->status < 300) {
		if (pf->len == 0 && !pf->streaming)
			err = xstrdup("empty body");
		else
			body = true;
	} else if (r->error == FETCH_OK) {
		err = xasprintf("HTTP %d", r->status);
	} else {
		err = xstrdup(r->message ? r->message : "failed");
	}

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
	if (body) {
		a->etag = r->etag ? xstrdup(r->etag) : NULL;
		a->last_modified =
		        r->last_modified ? xstrdup(r->last_modified) : NULL;
	}
	/* A permanent redirect counts only when its target served: a URL
	 * is never moved to one that fails (or to itself, in a loop). */
	if ((body || not_modified) &&
	    (r->redirect_status == 301 || r->redirect_status == 308) &&
	    http_target(r->redirect_url))
		a->redirect = xstrdup(r->redirect_url);
	classify(pf, a, r, body, not_modified);
	if ((r->status == 429 || r->status == 503) && r->retry_after > 0 &&
	    r->retry_after > pf->retry_after)
		pf->retry_after = sched_retry_after(now, r->retry_after);
	if (r->status == 410)
		pf->gone = true;
	if ((body || not_modified) && r->max_age >= 0)
		pf->max_age = r->max_age;

	if (err) {
		char b1[200];

		log_info("feed %lld: %s: %s", (long long)pf->sf->id,
		         log_quote(pf->sf->urls[idx].url, b1, sizeof(b1)), err);
	}
	if (body) {
		poll_ingest_body(pf, r->content_type,
		                 r->effective_url ? r->effective_url
		                                  : pf->sf->urls[idx].url,
		                 false);
		poll_pump(p);
		return;
	}
	if (pf->streaming)
		poll_ingest_abort(pf);
	free(pf->body);
	pf->body = NULL;
	pf->len = pf->cap = 0;
	if (not_modified) {
		struct poll_served sv = {.not_modified = true};

		poll_finish(pf, (ssize_t)idx, &sv);
		return;
	}
	if (a->kind && mirror_kind_parse(a->kind, &kind) == 0 &&
	    poll_retry_pinned(pf, kind, a->ip))
		return;
	poll_failover(pf);
}

/* Try the same URL again at its remembered address, if that may help. */
bool
poll_retry_pinned(struct pfeed *pf, enum mirror_kind kind,
                  const char *served_ip)
{
	const struct store_url *u = &pf->sf->urls[pf->order[pf->pos]];
	const struct attempt *a = &pf->attempts[pf->n_attempts - 1];
	const char *known[MIRROR_MAX_ADDRS];
	char buf[256];
	size_t n;

	if (!u->good_addrs)
		return false;
	n = mirror_addrs_split(u->good_addrs, buf, sizeof(buf), known,
	                       MIRROR_MAX_ADDRS);
	if (n == 0 || !mirror_should_pin(kind, served_ip, known, n, a->pinned,
	                                 u->proxy != NULL))
		return false;
	free(pf->pin);
	pf->pin = xstrdup(known[0]);
	log_info("feed %lld: trying %s again at its last address %s",
	         (long long)pf->sf->id, u->url, known[0]);
	poll_attempt_next(pf);
	poll_pump(pf->p);
	return true;
}

/*
 * The CURLOPT_RESOLVE entries of an attempt: the configuration's, the
 * feed's, and the remembered address when this is the pinned retry.
 * They point into the config, the feed and *ret_held (freed after).
 */
static size_t
pins_of(struct poller *p, struct pfeed *pf, const struct store_url *u,
        char **pins, char **ret_held)
{
	size_t n = 0, i;
	char *s, *line, *save = NULL, *entry = NULL;

	for (i = 0; i < p->cfg->n_resolve && n < MAX_PINS - 1; i++)
		pins[n++] = p->cfg->resolve[i];
	*ret_held = NULL;
	if (pf->pin && mirror_resolve_entry(u->url, pf->pin, &entry) < 0)
		entry = NULL;
	s = xasprintf("%s%s%s", pf->sf->resolve ? pf->sf->resolve : "",
	              entry ? "\n" : "", entry ? entry : "");
	free(entry);
	for (line = strtok_r(s, "\n", &save); line && n < MAX_PINS;
	     line = strtok_r(NULL, "\n", &save))
		pins[n++] = line;
	*ret_held = s;
	return n;
}

/* Start what the limits allow: hosts served round-robin. */
void
poll_pump(struct poller *p)
{
	while (p->active < p->cfg->max_connections &&
	       !TAILQ_EMPTY(&p->runnable)) {
		struct host *h = TAILQ_FIRST(&p->runnable);
		struct pfeed *pf;
		const struct store_url *u;
		struct fetch_req req;
		char *pins[MAX_PINS], *held = NULL;
		size_t n_pins;
		int r;

		/* Bodies fill the ingest queue: no more until it drains. */
		if (ingest_full(p->ingest))
			break;
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
		        .doh_url = u->doh,
		        .etag = u->etag,
		        .last_modified = u->last_modified,
		};
		n_pins = pins_of(p, pf, u, pins, &held);
		req.resolve = (const char *const *)pins;
		req.n_resolve = n_pins;
		free(pf->sniff);
		pf->sniff = xcalloc(1, sizeof(*pf->sniff));
		h->active++;
		p->active++;
		r = fetch_start(p->fetch, &req, on_data, on_done, pf,
		                &pf->xfer);
		free(held);
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
	struct fetch_opts o = poll_fetch_opts(cfg);
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

/* Free every host record. */
void
poll_hosts_free(struct poller *p)
{
	for (size_t i = 0; i < HOST_BUCKETS; i++) {
		while (p->hosts[i]) {
			struct host *h = p->hosts[i];

			p->hosts[i] = h->next;
			free(h->name);
			free(h);
		}
	}
}

/* Resume the transfers that waited for room, while there is room. */
void
poll_resume(struct poller *p)
{
	struct pfeed *pf;

	while ((pf = TAILQ_FIRST(&p->paused)) && !ingest_full(p->ingest)) {
		TAILQ_REMOVE(&p->paused, pf, pause_link);
		pf->paused = false;
		fetch_resume(pf->xfer); /* may call on_data, even pause again */
	}
}
