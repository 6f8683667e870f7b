/* URLs through curl's URL API: resolve, canonicalize, compare hosts. */
#ifndef GAZETTE_URL_H
#define GAZETTE_URL_H

#include <stdbool.h>

/*
 * Resolve ref against base (RFC 3986). A NULL or unusable base leaves ref
 * as written. An unsafe scheme (javascript:, data:, ...) gives "". 0 and
 * a newly allocated *ret, or a negative errno.
 */
int url_resolve(const char *base, const char *ref, char **ret);

/*
 * Resolve ref against base like url_resolve, but keep any scheme (for
 * identifiers such as tag: URIs). 0 and a newly allocated *ret.
 */
int url_join(const char *base, const char *ref, char **ret);

/* true for an absolute http:// or https:// URL with a host. */
bool url_is_http(const char *url);

/* The host of an absolute URL, lower-cased, newly allocated; or NULL. */
char *url_host(const char *url);

/*
 * The identity form of a link for deduplication: scheme folded to https,
 * host lower-cased (and rewritten to to_host when it is one of the
 * from_hosts, which may be NULL), default port and fragment dropped.
 */
int url_identity(const char *url, const char *const *from_hosts,
                 const char *to_host, char **ret);

#endif
