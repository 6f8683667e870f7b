/*
 * curl multi on libevent, the hiperfifo way: curl tells us which sockets
 * to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION, which only arms our timer); libevent tells curl
 * what happened through curl_multi_socket_action, after which finished
 * transfers are drained with curl_multi_info_read.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "fetch.h"
#include "gazette/log.h"
#include "gazette/xalloc.h"

#define MAX_HEADER_VALUE 4096 /* longer validators are not kept */

struct fetch {
	struct event_base *base;
	CURLM *multi;
	struct event timer;
	struct fetch_opts opts;
	char *user_agent;
	char *ca_file;
	int running;
	struct fetch_xfer *xfers; /* every live transfer, to cancel on free */
};

struct fetch_xfer {
	struct fetch *f;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *resolve; /* CURLOPT_RESOLVE */
	CURLSH *share;              /* a DNS cache of its own, or NULL */
	fetch_data_fn on_data;
	fetch_done_fn on_done;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct fetch_result r;
	int hop_status;     /* status of the response being received */
	char *hop_location; /* its Location header */
	bool in_body_hop;   /* this response's body is the one we deliver */
	bool too_big;
	bool aborted;
	struct event stall_ev; /* one window of stall_after_ms */
	fetch_stall_fn on_stall;
	int64_t seen;      /* body bytes received (headers are no feed) */
	int64_t seen_mark; /* ... when the window began */
	struct fetch_xfer *prev, *next;
};

/* A socket curl asked us to watch. */
struct sock {
	struct fetch *f;
	struct event ev;
	bool ev_set;
};

/* Free what a result owns. */
static void
result_clear(struct fetch_result *r)
{
	free(r->message);
	free(r->etag);
	free(r->last_modified);
	free(r->content_type);
	free(r->effective_url);
	free(r->redirect_url);
	free(r->primary_ip);
	free(r->onion_location);
	memset(r, 0, sizeof(*r));
}

/* Remove x from the multi, free it (curl's handle last but one). */
static void
xfer_free(struct fetch_xfer *x)
{
	struct fetch *f = x->f;

	if (x->prev)
		x->prev->next = x->next;
	else
		f->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (x->on_stall)
		evtimer_del(&x->stall_ev);
	curl_multi_remove_handle(f->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->resolve);
	if (x->share)
		curl_share_cleanup(x->share);
	free(x->hop_location);
	result_clear(&x->r);
	free(x);
}

/* Whether a TLS failure was the peer's certificate (not the handshake). */
static bool
tls_cert_error(CURLcode c)
{
	return c == CURLE_PEER_FAILED_VERIFICATION ||
	       c == CURLE_SSL_ISSUER_ERROR ||
	       c == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	       c == CURLE_SSL_INVALIDCERTSTATUS;
}

/* Classify a finished transfer's curl code. */
static enum fetch_error
classify(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return FETCH_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return FETCH_DNS;
	case CURLE_COULDNT_CONNECT:
		return FETCH_CONNECT;
	case CURLE_PROXY:
		return FETCH_PROXY;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
		return FETCH_BROKEN;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_USE_SSL_FAILED:
		return FETCH_TLS;
	case CURLE_OPERATION_TIMEDOUT:
		return FETCH_TIMEOUT;
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return FETCH_REDIRECT;
	default:
		return FETCH_OTHER;
	}
}

/* Drain finished transfers: remove, clean up, free, in that order. */
static void
check_multi_info(struct fetch *f)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left))) {
		struct fetch_xfer *x = NULL;
		struct fetch_result *r;
		char *eff = NULL, *ip = NULL;
		long status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
		if (x == NULL)
			continue;
		r = &x->r;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &eff);
		r->status = (int)status;
		if (eff)
			r->effective_url = xstrdup(eff);
		if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) ==
		            CURLE_OK &&
		    ip && ip[0])
			r->primary_ip = xstrdup(ip);
		if (x->too_big) {
			r->error = FETCH_TOO_BIG;
			r->message = xasprintf("body larger than %lld bytes "
			                       "(max-feed-size)",
			                       (long long)f->opts.max_size);
		} else if (x->aborted) {
			r->error = FETCH_ABORTED;
			r->message = xstrdup("aborted");
		} else {
			const char *why =
			        x->errbuf[0]
			                ? x->errbuf
			                : curl_easy_strerror(msg->data.result);

			r->error = classify(msg->data.result);
			r->tls_cert = r->error == FETCH_TLS &&
			              tls_cert_error(msg->data.result);
			if (r->error == FETCH_TLS)
				r->message =
				        xasprintf("TLS %s: %s",
				                  r->tls_cert ? "certificate"
				                              : "handshake",
				                  why);
			else if (r->error != FETCH_OK)
				r->message = xstrdup(why);
		}
		/* A transfer cut short after a response still has its status;
		 * only a complete one is an HTTP outcome. */
		if (r->error != FETCH_OK && r->error != FETCH_TOO_BIG &&
		    r->error != FETCH_ABORTED && r->error != FETCH_TIMEOUT &&
		    r->error != FETCH_OTHER && r->error != FETCH_BROKEN)
			r->status = 0;
		x->on_done(x, r, x->arg);
		xfer_free(x);
	}
}

/* libevent: activity on a socket curl watches. */
static void
event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct fetch *f = arg;
	int action = ((kind & EV_READ) ? CURL_CSELECT_IN : 0) |
	             ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	CURLMcode rc;

	rc = curl_multi_socket_action(f->multi, fd, action, &f->running);
	if (rc != CURLM_OK)
		log_warn("curl_multi_socket_action: %s",
		         curl_multi_strerror(rc));
	/* No evtimer_del when nothing runs: a done callback may have added
	 * a transfer whose timeout curl has just armed. */
	check_multi_info(f);
}

/* libevent: curl's timeout expired. */
static void
timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct fetch *f = arg;
	CURLMcode rc;

	(void)fd;
	(void)kind;
	rc = curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0,
	                              &f->running);
	if (rc != CURLM_OK)
		log_warn("curl_multi_socket_action: %s",
		         curl_multi_strerror(rc));
	check_multi_info(f);
}

/* curl: arm (or disarm) our one timer; nothing else happens here. */
static int
multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct fetch *f = arg;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(&f->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(&f->timer, &tv);
	return 0;
}

/* curl: watch socket s for what, or stop watching it. */
static int
sock_cb(CURL *e, curl_socket_t s, int what, void *cbp, void *sockp)
{
	struct fetch *f = cbp;
	struct sock *sk = sockp;
	short kind;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		/* A remove for a socket never seen is fine. */
		if (sk) {
			if (sk->ev_set)
				event_del(&sk->ev);
			free(sk);
		}
		curl_multi_assign(f->multi, s, NULL);
		return 0;
	}
	if (sk == NULL) {
		sk = xcalloc(1, sizeof(*sk));
		sk->f = f;
		curl_multi_assign(f->multi, s, sk);
	}
	kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
	               ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
	if (sk->ev_set)
		event_del(&sk->ev);
	event_assign(&sk->ev, f->base, s, kind, event_cb, f);
	sk->ev_set = true;
	event_add(&sk->ev, NULL);
	return 0;
}

/* Whether this libcurl can resolve names without blocking the loop. */
bool
fetch_curl_ok(char **ret_why)
{
	curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	if (!(v->features & CURL_VERSION_ASYNCHDNS)) {
		if (ret_why)
			*ret_why = xasprintf("libcurl %s resolves names "
			                     "synchronously (no "
			                     "CURL_VERSION_ASYNCHDNS)",
			                     v->version);
		return false;
	}
	return true;
}

/* The multi handle on base, with curl's own caps behind ours. */
struct fetch *
fetch_new(struct event_base *base, const struct fetch_opts *o)
{
	struct fetch *f = xcalloc(1, sizeof(*f));

	f->base = base;
	f->multi = curl_multi_init();
	if (f->multi == NULL) {
		free(f);
		return NULL;
	}
	evtimer_assign(&f->timer, base, timer_cb, f);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	fetch_set_opts(f, o);
	return f;
}

/* New limits and manners for transfers started from now on. */
void
fetch_set_opts(struct fetch *f, const struct fetch_opts *o)
{
	free(f->user_agent);
	free(f->ca_file);
	f->opts = *o;
	f->user_agent = xstrdup(o->user_agent ? o->user_agent : "gazette");
	f->opts.user_agent = f->user_agent;
	f->ca_file = o->ca_file ? xstrdup(o->ca_file) : NULL;
	f->opts.ca_file = f->ca_file;
	/* Stalled transfers leave the scheduler's count for a pool of
	 * their own: curl's cap holds both. */
	curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	                  (long)o->max_connections + (long)o->slow_connections);
	curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	                  (long)o->per_host_connections);
	/* Idle connections kept for reuse: bounded. */
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS,
	                  (long)o->max_connections);
}

/* Cancel every transfer, then the multi, then our timer. */
void
fetch_free(struct fetch *f)
{
	if (f == NULL)
		return;
	while (f->xfers)
		xfer_free(f->xfers);
	curl_multi_cleanup(f->multi);
	evtimer_del(&f->timer);
	free(f->user_agent);
	free(f->ca_file);
	free(f);
}

/* Copy a header value with surrounding blanks trimmed; NULL if too long. */
static char *
header_value(const char *v, size_t len)
{
	while (len && isspace((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len && isspace((unsigned char)v[len - 1]))
		len--;
	if (len > MAX_HEADER_VALUE)
		return NULL;
	return xstrndup(v, len);
}

/* Resolve target against base (the URL of the response that redirects). */
static char *
resolve(const char *base, const char *target)
{
	CURLU *h = curl_url();
	char *out = NULL, *res = NULL;

	if (h == NULL)
		return NULL;
	if (curl_url_set(h, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_URL, target, CURLU_NON_SUPPORT_SCHEME) ==
	            CURLUE_OK &&
	    curl_url_get(h, CURLUPART_URL, &out, 0) == CURLUE_OK)
		res = xstrdup(out);
	curl_free(out);
	curl_url_cleanup(h);
	return res;
}

/* The end of one response's headers: is it a redirect we note, or the
 * one whose body we deliver? */
static void
hop_end(struct fetch_xfer *x)
{
	struct fetch_result *r = &x->r;
	int st = x->hop_status;

	if (st >= 100 && st < 200)
		return;
	if (st >= 300 && st < 400 && st != 304 && x->hop_location) {
		x->in_body_hop = false;
		if (r->redirect_status == 0) {
			char *eff = NULL;

			curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL,
			                  &eff);
			r->redirect_status = st;
			r->redirect_url =
			        resolve(eff ? eff : "", x->hop_location);
		}
		return;
	}
	x->in_body_hop = true;
}

/* curl: one header line; the validators of the final response are kept. */
static size_t
header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct fetch_xfer *x = arg;
	struct fetch_result *r = &x->r;
	size_t len = size * n;
	const char *colon;
	size_t klen;
	char **dst = NULL;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);

		/* A new response: forget the previous one's headers. */
		x->hop_status = sp ? atoi(sp + 1) : 0;
		free(x->hop_location);
		x->hop_location = NULL;
		free(r->etag);
		free(r->last_modified);
		free(r->content_type);
		free(r->onion_location);
		r->etag = r->last_modified = r->content_type = NULL;
		r->onion_location = NULL;
		r->retry_after = 0;
		r->max_age = -1;
		return len;
	}
	if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
		hop_end(x);
		return len;
	}
	colon = memchr(buf, ':', len);
	if (colon == NULL)
		return len;
	klen = (size_t)(colon - buf);
	colon++;
#define IS(name) (klen == strlen(name) && strncasecmp(buf, name, klen) == 0)
	if (IS("ETag"))
		dst = &r->etag;
	else if (IS("Last-Modified"))
		dst = &r->last_modified;
	else if (IS("Content-Type"))
		dst = &r->content_type;
	else if (IS("Location"))
		dst = &x->hop_location;
	else if (IS("Onion-Location"))
		dst = &r->onion_location;
	if (dst) {
		free(*dst);
		*dst = header_value(colon, len - (size_t)(colon - buf));
	} else if (IS("Retry-After") || IS("Cache-Control")) {
		char *v = header_value(colon, len - (size_t)(colon - buf));
		int64_t t;

		if (v && IS("Retry-After") &&
		    fetch_parse_retry_after(v, (int64_t)time(NULL), &t) == 0)
			r->retry_after = t;
		else if (v && IS("Cache-Control") &&
		         fetch_parse_max_age(v, &t) == 0)
			r->max_age = t;
		free(v);
	}
#undef IS
	return len;
}

/* curl: decoded body bytes; counted against max_size, passed on. */
static size_t
write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct fetch_xfer *x = arg;
	size_t len = size * n;

	int r;

	if (!x->in_body_hop) {
		x->seen += (int64_t)len;
		return len; /* a redirect's body: not ours */
	}
	if (x->r.bytes + (int64_t)len > x->f->opts.max_size) {
		x->seen += (int64_t)len;
		x->too_big = true;
		return 0;
	}
	r = x->on_data ? x->on_data(x, buf, len, x->arg) : 0;
	if (r == FETCH_PAUSE)
		return CURL_WRITEFUNC_PAUSE; /* the same bytes come again */
	x->seen += (int64_t)len;
	if (r != 0) {
		x->aborted = true;
		return 0;
	}
	x->r.bytes += (int64_t)len;
	return len;
}

/* Go on with a transfer its data callback paused. */
void
fetch_resume(struct fetch_xfer *x)
{
	if (x)
		curl_easy_pause(x->easy, CURLPAUSE_CONT);
}

/*
 * A resolver of the request's own: DNS over HTTPS, and pinned addresses.
 * Either gets the transfer a DNS cache of its own (a share that holds
 * only that) and a fresh connection, never reused: a pin or a DoH
 * answer must not leak into the multi's cache for other transfers, and
 * a connection the system's (maybe poisoned) answer made must not serve
 * this one.
 */
static int
resolver_setup(struct fetch_xfer *x, const struct fetch_req *req)
{
	CURL *e = x->easy;

	if (!req->doh_url && req->n_resolve == 0)
		return 0;
	x->share = curl_share_init();
	if (x->share == NULL ||
	    curl_share_setopt(x->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
	            CURLSHE_OK ||
	    curl_easy_setopt(e, CURLOPT_SHARE, x->share) != CURLE_OK)
		return -ENOMEM;
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	if (req->doh_url &&
	    curl_easy_setopt(e, CURLOPT_DOH_URL, req->doh_url) != CURLE_OK)
		return -EINVAL;
	for (size_t i = 0; i < req->n_resolve; i++) {
		struct curl_slist *n;

		if (req->resolve[i] == NULL)
			continue;
		n = curl_slist_append(x->resolve, req->resolve[i]);
		if (n == NULL)
			return -ENOMEM;
		x->resolve = n;
	}
	if (x->resolve &&
	    curl_easy_setopt(e, CURLOPT_RESOLVE, x->resolve) != CURLE_OK)
		return -EINVAL;
	return 0;
}

/* Start a conditional GET of req->url. */
int
fetch_start(struct fetch *f, const struct fetch_req *req, fetch_data_fn on_data,
            fetch_done_fn on_done, void *arg, struct fetch_xfer **ret)
{
	struct fetch_xfer *x = xcalloc(1, sizeof(*x));
	const struct fetch_opts *o = &f->opts;
	CURL *e;
	CURLMcode mc;

	e = curl_easy_init();
	if (e == NULL) {
		free(x);
		return -ENOMEM;
	}
	x->f = f;
	x->easy = e;
	x->on_data = on_data;
	x->on_done = on_done;
	x->arg = arg;
	x->r.max_age = -1;
	x->in_body_hop = true;

	if (req->etag && req->etag[0]) {
		char *h = xasprintf("If-None-Match: %s", req->etag);

		x->headers = curl_slist_append(x->headers, h);
		free(h);
	}
	if (req->last_modified && req->last_modified[0]) {
		char *h =
		        xasprintf("If-Modified-Since: %s", req->last_modified);

		x->headers = curl_slist_append(x->headers, h);
		free(h);
	}
	x->headers = curl_slist_append(
	        x->headers,
	        "Accept: application/rss+xml, application/atom+xml, "
	        "application/rdf+xml;q=0.9, application/xml;q=0.9, "
	        "text/xml;q=0.9, */*;q=0.8");

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)o->timeout);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)o->low_speed_limit);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)o->low_speed_time);
	/* The configured proxy or none: the environment's is not used. */
	curl_easy_setopt(e, CURLOPT_PROXY, req->proxy ? req->proxy : "");
	if (o->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
	/* No cookie engine: CURLOPT_COOKIEFILE is never set. */
	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
	    resolver_setup(x, req) < 0) {
		curl_easy_cleanup(e);
		curl_slist_free_all(x->headers);
		curl_slist_free_all(x->resolve);
		if (x->share)
			curl_share_cleanup(x->share);
		free(x);
		return -EINVAL;
	}
	x->next = f->xfers;
	if (f->xfers)
		f->xfers->prev = x;
	f->xfers = x;
	mc = curl_multi_add_handle(f->multi, e);
	if (mc != CURLM_OK) {
		log_warn("curl_multi_add_handle: %s", curl_multi_strerror(mc));
		xfer_free(x);
		return -EIO;
	}
	*ret = x;
	return 0;
}

/* libevent: a window is over; stalled if it brought too few bytes. */
static void
stall_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct fetch_xfer *x = arg;
	const struct fetch_opts *o = &x->f->opts;
	int64_t want = o->low_speed_limit * o->stall_after_ms / 1000;
	struct timeval tv = {
	        .tv_sec = (time_t)(o->stall_after_ms / 1000),
	        .tv_usec = (suseconds_t)(o->stall_after_ms % 1000) * 1000,
	};

	(void)fd;
	(void)kind;
	if (x->seen - x->seen_mark < (want > 0 ? want : 1)) {
		x->on_stall(x, x->arg); /* once: x stays slow until done */
		return;
	}
	x->seen_mark = x->seen;
	evtimer_add(&x->stall_ev, &tv);
}

/* Watch x for a stall, one stall_after_ms window at a time. */
void
fetch_on_stall(struct fetch_xfer *x, fetch_stall_fn fn)
{
	int64_t ms = x->f->opts.stall_after_ms;
	struct timeval tv = {
	        .tv_sec = (time_t)(ms / 1000),
	        .tv_usec = (suseconds_t)(ms % 1000) * 1000,
	};

	if (ms <= 0 || x->on_stall)
		return;
	x->on_stall = fn;
	x->seen_mark = x->seen;
	evtimer_assign(&x->stall_ev, x->f->base, stall_cb, x);
	evtimer_add(&x->stall_ev, &tv);
}

/* Stop x without a done callback. */
void
fetch_cancel(struct fetch_xfer *x)
{
	if (x)
		xfer_free(x);
}

/* The Content-Type of the response being received. */
const char *
fetch_content_type(const struct fetch_xfer *x)
{
	return x->r.content_type;
}

/* The URL being received from, after redirects. */
const char *
fetch_url(const struct fetch_xfer *x)
{
	char *eff = NULL;

	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &eff);
	return eff;
}

/* The status of the response being received. */
int
fetch_status(const struct fetch_xfer *x)
{
	return x->hop_status;
}

/* Transfers curl is running. */
int
fetch_running(const struct fetch *f)
{
	int n = 0;
	const struct fetch_xfer *x;

	for (x = f->xfers; x; x = x->next)
		n++;
	return n;
}

/* Retry-After: delta-seconds, or an HTTP-date (curl_getdate reads it). */
int
fetch_parse_retry_after(const char *v, int64_t now, int64_t *ret)
{
	const char *p = v;
	int64_t n = 0;
	time_t t;

	while (isspace((unsigned char)*p))
		p++;
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++) {
			if (n > 100000000)
				return -EINVAL; /* years: nonsense */
			n = n * 10 + (*p - '0');
		}
		while (isspace((unsigned char)*p))
			p++;
		if (*p)
			return -EINVAL;
		*ret = now + n;
		return 0;
	}
	t = curl_getdate(p, NULL);
	if (t == -1)
		return -EINVAL;
	*ret = (int64_t)t < now ? now : (int64_t)t;
	return 0;
}

/* Cache-Control: the max-age directive's seconds. */
int
fetch_parse_max_age(const char *v, int64_t *ret)
{
	const char *p = v;

	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncasecmp(p, "max-age", 7) == 0) {
			int64_t n = 0;

			p += 7;
			while (*p == ' ')
				p++;
			if (*p != '=')
				return -EINVAL;
			p++;
			while (*p == ' ')
				p++;
			if (*p == '"')
				p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			for (; isdigit((unsigned char)*p); p++) {
				if (n > 1000000000)
					return -EINVAL;
				n = n * 10 + (*p - '0');
			}
			*ret = n;
			return 0;
		}
		p += strcspn(p, ",");
	}
	return -ENOENT;
}
