/*
 * The fetcher: libcurl's multi interface driven by libevent, the
 * hiperfifo way. One fetch_xfer per HTTP GET; bytes go to the caller's
 * data callback as they arrive, then the done callback gets the outcome.
 */
#ifndef GAZETTE_DAEMON_FETCH_H
#define GAZETTE_DAEMON_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct fetch;
struct fetch_xfer;

/* Limits and manners shared by every transfer. */
struct fetch_opts {
	const char *user_agent;
	int64_t timeout;         /* seconds, whole transfer */
	int64_t connect_timeout; /* seconds */
	int64_t low_speed_limit; /* bytes/second ... */
	int64_t low_speed_time;  /* ... for this many seconds aborts */
	int64_t max_size;        /* decoded body bytes */
	int max_connections;     /* curl's own caps, behind the scheduler's */
	int per_host_connections;
	int slow_connections;   /* stalled transfers beside max_connections */
	int64_t stall_after_ms; /* a window below low_speed_limit: stalled */
	const char *ca_file;    /* CA certificates (PEM); NULL: the system's */
};

/* One request. */
struct fetch_req {
	const char *url;
	const char *proxy;         /* NULL: none (environment ignored) */
	const char *etag;          /* If-None-Match, NULL none */
	const char *last_modified; /* If-Modified-Since, NULL none */
	const char *doh_url;       /* resolve through DNS over HTTPS, NULL no */
	/*
	 * CURLOPT_RESOLVE entries, "host:port:address" (mirror.h makes
	 * them): the name still goes in Host, SNI and the certificate
	 * check. With doh_url or resolve the transfer has a DNS cache and
	 * a connection of its own, so that neither a pin nor another
	 * resolver's answer reaches other transfers, or theirs this one.
	 */
	const char *const *resolve;
	size_t n_resolve;
};

/* How a transfer failed, for failover and backoff decisions. */
enum fetch_error {
	FETCH_OK,       /* an HTTP response came (any status) */
	FETCH_DNS,      /* name resolution (host or proxy) */
	FETCH_CONNECT,  /* connection refused / unreachable */
	FETCH_TLS,      /* handshake or certificate */
	FETCH_TIMEOUT,  /* total timeout or low-speed abort */
	FETCH_TOO_BIG,  /* body above max_size */
	FETCH_REDIRECT, /* too many, or to a protocol other than http(s) */
	FETCH_ABORTED,  /* the data callback said stop */
	FETCH_OTHER,    /* anything else curl reported */
	FETCH_PROXY,    /* the proxy refused or failed the tunnel (SOCKS) */
	FETCH_BROKEN,   /* the connection broke: reset, cut short, no reply */
};

struct fetch_result {
	enum fetch_error error;
	int status;    /* final HTTP status; 0 when none came */
	char *message; /* what went wrong, NULL when error is OK */
	char *etag;    /* validators of the final response */
	char *last_modified;
	char *content_type;
	char *effective_url; /* after redirects */
	int64_t retry_after; /* absolute time, 0 none */
	int64_t max_age;     /* Cache-Control max-age, -1 none */
	int redirect_status; /* the first redirect's status, 0 none */
	char *redirect_url;  /* ... and its absolute target */
	int64_t bytes;       /* decoded body bytes delivered */
	bool tls_cert;       /* FETCH_TLS: the certificate, not the handshake */
	char *primary_ip;    /* the address last connected to, NULL none */
	char *onion_location; /* the final response's Onion-Location */
};

/*
 * Body bytes of the final response (never of a redirect), decoded. Return
 * 0 to go on, FETCH_PAUSE to leave these bytes for later (they come again
 * after fetch_resume), other non-zero to abort the transfer
 * (FETCH_ABORTED).
 */
#define FETCH_PAUSE 2
typedef int (*fetch_data_fn)(struct fetch_xfer *x, const char *buf, size_t len,
                             void *arg);
/* The transfer ended; r lives until the callback returns. */
typedef void (*fetch_done_fn)(struct fetch_xfer *x,
                              const struct fetch_result *r, void *arg);

/*
 * The transfer has delivered less than low_speed_limit bytes a second
 * (nothing at all, or a drip) over a stall_after_ms window. Said once.
 */
typedef void (*fetch_stall_fn)(struct fetch_xfer *x, void *arg);

/* Whether this libcurl resolves names asynchronously (else we refuse). */
bool fetch_curl_ok(char **ret_why);

struct fetch *fetch_new(struct event_base *base, const struct fetch_opts *o);
/* Cancel every transfer (no done callbacks) and free. NULL is fine. */
void fetch_free(struct fetch *f);
/* New limits for transfers started from now on. */
void fetch_set_opts(struct fetch *f, const struct fetch_opts *o);

/* Start a GET. 0 and *ret (owned by f until done/cancel), or -errno. */
int fetch_start(struct fetch *f, const struct fetch_req *req,
                fetch_data_fn on_data, fetch_done_fn on_done, void *arg,
                struct fetch_xfer **ret);
/* Call fn (with fetch_start's arg) if x stalls; stall_after_ms 0: never. */
void fetch_on_stall(struct fetch_xfer *x, fetch_stall_fn fn);
/* Go on with a transfer paused by FETCH_PAUSE. NULL is fine. */
void fetch_resume(struct fetch_xfer *x);
/* Stop a transfer: no done callback follows. NULL is fine. */
void fetch_cancel(struct fetch_xfer *x);

/*
 * During a transfer (from its data callback): the Content-Type of the
 * response and the URL it came from after redirects; NULL when unknown.
 */
const char *fetch_content_type(const struct fetch_xfer *x);
const char *fetch_url(const struct fetch_xfer *x);
/* The HTTP status of the response being received, 0 before one came. */
int fetch_status(const struct fetch_xfer *x);

/* Transfers running now. */
int fetch_running(const struct fetch *f);

/*
 * Parse a Retry-After value, delta-seconds or an HTTP-date, into an
 * absolute time. -EINVAL when it is neither.
 */
int fetch_parse_retry_after(const char *v, int64_t now, int64_t *ret);
/* max-age of a Cache-Control value; -ENOENT when absent, -EINVAL bad. */
int fetch_parse_max_age(const char *v, int64_t *ret);

#endif
