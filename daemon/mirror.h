/*
 * Mirror decisions, pure (no libevent, no curl handle, no store): what
 * kind of failure a finished attempt was, whether to try the same URL
 * again pinned to the address that last served it, the CURLOPT_RESOLVE
 * entry for that, whether a mirror has diverged from the primary, and
 * the other copies of a feed a response names (Onion-Location, <meta
 * http-equiv="onion-location">, <atom:link rel="alternate">).
 */
#ifndef GAZETTE_DAEMON_MIRROR_H
#define GAZETTE_DAEMON_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch.h"
#include "gazette/feed.h"

/* Why an attempt at one URL did not serve a feed (MIRROR_OK: it did). */
enum mirror_kind {
	MIRROR_OK,         /* a feed, or 304 Not Modified */
	MIRROR_DNS,        /* the name did not resolve */
	MIRROR_CONNECT,    /* refused or unreachable */
	MIRROR_TLS,        /* the TLS handshake failed */
	MIRROR_TLS_CERT,   /* the certificate: untrusted, expired, wrong name */
	MIRROR_TIMEOUT,    /* nothing came in time */
	MIRROR_STALLED,    /* the body began, then stopped coming */
	MIRROR_RESET,      /* the connection broke (reset, cut short) */
	MIRROR_HTTP_4XX,   /* 4xx other than a challenge */
	MIRROR_HTTP_5XX,   /* 5xx other than a challenge */
	MIRROR_CHALLENGE,  /* an HTML challenge or block page */
	MIRROR_NOT_A_FEED, /* 2xx, but no feed (a parked or captive page) */
	MIRROR_TOO_BIG,    /* above max-feed-size */
	MIRROR_REDIRECT,   /* too many redirects, or to another protocol */
	MIRROR_PROXY,      /* the proxy failed (refused, unknown, handshake) */
	MIRROR_OTHER,      /* anything else */
	MIRROR_KIND_MAX
};

/* The stored name of a kind: "dns", "tls-certificate", "http-5xx"... */
const char *mirror_kind_name(enum mirror_kind k);
/* The kind of a stored name; -EINVAL when none. */
int mirror_kind_parse(const char *name, enum mirror_kind *ret);

/* Bytes kept from the start of a body, for mirror_looks_like_challenge. */
#define MIRROR_SNIFF 4096

/* The first MIRROR_SNIFF bytes of a body, whatever its status. */
struct mirror_sniff {
	char buf[MIRROR_SNIFF + 1]; /* NUL-terminated */
	size_t len;
};

/* Keep what still fits of buf in s (call from the data callback). */
void mirror_sniff_add(struct mirror_sniff *s, const char *buf, size_t len);

/*
 * Whether a response is a challenge or block page rather than a server
 * error: HTML (by Content-Type, or by its first bytes) with a status of
 * 200, 403, 429 or 503 and a marker of the usual ones ("Just a
 * moment", "captcha", "cf-chl", "Checking your browser", "Access
 * denied"...). body may be NULL.
 */
bool mirror_looks_like_challenge(int status, const char *content_type,
                                 const char *body, size_t len);

/* Everything mirror_classify needs to know about one finished attempt. */
struct mirror_outcome {
	enum fetch_error error; /* fetch_result.error */
	bool tls_cert;          /* fetch_result.tls_cert */
	bool via_proxy;         /* the attempt went through a proxy */
	int status;             /* fetch_result.status */
	const char *content_type;
	int64_t bytes;    /* body bytes delivered before it ended */
	bool parsed_feed; /* 2xx whose body parsed as a feed (is_feed) */
	bool challenge;   /* mirror_looks_like_challenge() said so */
};

/* The failure kind of an attempt (MIRROR_OK when it served). */
enum mirror_kind mirror_classify(const struct mirror_outcome *o);

/*
 * Whether to try the same URL again, pinned to one of the addresses that
 * last served it a feed (known, n_known), before moving to the next URL:
 * when its name did not resolve, or when it resolved to an address that
 * is none of the known ones (served_ip, CURLINFO_PRIMARY_IP) and served
 * nothing or a block page there. Never twice (pinned: this attempt
 * already was), never through a proxy (the proxy resolves the name).
 */
bool mirror_should_pin(enum mirror_kind kind, const char *served_ip,
                       const char *const *known, size_t n_known, bool pinned,
                       bool via_proxy);

/*
 * The CURLOPT_RESOLVE entry that sends url's host and port (the scheme's
 * default when the URL has none) to address: "host:port:address", an
 * IPv6 address in brackets. 0 and a newly allocated *ret; -EINVAL when
 * url has no host or address is no IP address; -ENOMEM.
 */
int mirror_resolve_entry(const char *url, const char *address, char **ret);

/* Whether s is a literal IPv4 or IPv6 address. */
bool mirror_is_ip(const char *s);

/*
 * The remembered addresses after a success from served_ip: it first,
 * then the older ones of old (comma-separated, NULL: none) but itself,
 * at most MIRROR_MAX_ADDRS, comma-separated. 0 and *ret, -EINVAL when
 * served_ip is not an address, -ENOMEM.
 */
#define MIRROR_MAX_ADDRS 4
int mirror_addrs_update(const char *old, const char *served_ip, char **ret);
/* Split a comma-separated address list into v (at most max); the count. */
size_t mirror_addrs_split(const char *list, char *buf, size_t size,
                          const char **v, size_t max);

/*
 * Whether a mirror has diverged from its primary: the primary has recent
 * stories (primary_keys: their identity keys, guid or canonical link, as
 * the store keeps them), the mirror's feed has entries, and not one of
 * those entries has a guid or link whose identity is among them. Links
 * and URL-like guids are compared in identity form, the mirror's hosts
 * (from_hosts, may be NULL) read as the primary's (to_host).
 */
bool mirror_diverged(const char *const *primary_keys, size_t n_keys,
                     const struct gz_feed *mirror,
                     const char *const *from_hosts, const char *to_host);

/* Where a suggested mirror was seen. */
enum mirror_source {
	MIRROR_SRC_ONION_HEADER, /* an Onion-Location response header */
	MIRROR_SRC_META,         /* <meta http-equiv="onion-location"> */
	MIRROR_SRC_ALTERNATE,    /* <atom:link rel="alternate" type=feed> */
};

/* The stored name of a source: "onion-location", "meta", "alternate". */
const char *mirror_source_name(enum mirror_source s);

/* One other copy of the feed a response named. */
struct mirror_suggestion {
	char *url; /* absolute http(s) */
	enum mirror_source source;
};

#define MIRROR_MAX_SUGGESTIONS 8

/*
 * The other copies a response names: its Onion-Location header value
 * (onion_header, may be NULL), and in the body's first bytes (body, len)
 * <meta http-equiv="onion-location" content=URL> and <link> or
 * <atom:link> elements with rel="alternate" and an RSS or Atom type.
 * Relative URLs resolve against base_url; only absolute http(s) results,
 * none equal to base_url, without repeats, at most
 * MIRROR_MAX_SUGGESTIONS. 0 and *ret / *ret_n (maybe 0), or -ENOMEM.
 */
int mirror_suggestions(const char *base_url, const char *onion_header,
                       const char *body, size_t len,
                       struct mirror_suggestion **ret, size_t *ret_n);
void mirror_suggestions_free(struct mirror_suggestion *v, size_t n);

#endif
