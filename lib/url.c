/* URLs through curl's URL API: resolve, canonicalize, compare hosts. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "gazette/url.h"

/* The schemes feedparser accepts in links; anything else becomes "". */
static const char *const safe_schemes[] = {
        "file",  "ftp",      "gopher",  "h323",   "hdl",   "http", "https",
        "imap",  "magnet",   "mailto",  "mms",    "news",  "nntp", "prospero",
        "rsync", "rtsp",     "rtspu",   "sftp",   "shttp", "sip",  "sips",
        "snews", "svn",      "svn+ssh", "telnet", "wais",  "aim",  "callto",
        "cvs",   "facetime", "feed",    "git",    "gtalk", "irc",  "ircs",
        "irc6",  "itms",     "msnim",   "skype",  "ssh",   "smb",  "ymsg",
        NULL,
};

/* Length of the scheme of s ("http" in "http://"), 0 when s has none. */
static size_t
scheme_len(const char *s)
{
	size_t i = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
	       s[i] == '.')
		i++;
	return s[i] == ':' ? i : 0;
}

/* true when the scheme of an absolute URL is on the safe list. */
static bool
scheme_is_safe(const char *s, size_t n)
{
	for (size_t i = 0; safe_schemes[i]; i++)
		if (strlen(safe_schemes[i]) == n &&
		    strncasecmp(safe_schemes[i], s, n) == 0)
			return true;
	return false;
}

/* Copy s without leading and trailing ASCII whitespace. */
static char *
strdup_trim(const char *s)
{
	size_t n;

	while (*s && isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

/*
 * Copy s with bytes curl refuses (non-ASCII, space) percent-encoded, and
 * note whether there were any.
 */
static char *
encode_raw(const char *s, bool *had)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += ((unsigned char)*p >= 0x80 || *p == ' ') ? 3 : 1;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80 || *p == ' ') {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
			*had = true;
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

/* Undo encode_raw: %XX of non-ASCII bytes and spaces back to bytes. */
static void
decode_raw(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		unsigned v;
		if (p[0] == '%' && isxdigit((unsigned char)p[1]) &&
		    isxdigit((unsigned char)p[2]) &&
		    sscanf(p + 1, "%2x", &v) == 1 && (v >= 0x80 || v == 0x20)) {
			*o++ = (char)v;
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* Join ref to base with curl; NULL when curl cannot. */
static char *
curl_join(const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *out = NULL, *ret = NULL, *b = NULL, *r = NULL;
	unsigned flags = CURLU_NON_SUPPORT_SCHEME;
	bool had = false;

	if (u == NULL)
		return NULL;
	b = encode_raw(base, &had);
	r = encode_raw(ref, &had);
	if (b == NULL || r == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, b, flags) != CURLUE_OK)
		goto out;
	/* curl resolves "#frag" against the directory; RFC 3986 keeps
	 * the whole document */
	if (r[0] == '#') {
		if (curl_url_set(u, CURLUPART_FRAGMENT, r[1] ? r + 1 : NULL,
		                 0) != CURLUE_OK)
			goto out;
	} else if (r[0] &&
	           curl_url_set(u, CURLUPART_URL, r, flags) != CURLUE_OK) {
		goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &out, flags) != CURLUE_OK)
		goto out;
	ret = strdup(out);
	if (ret && had)
		decode_raw(ret);
out:
	free(b);
	free(r);
	curl_free(out);
	curl_url_cleanup(u);
	return ret;
}

/* Resolve ref against base without judging the scheme of the result. */
int
url_join(const char *base, const char *ref, char **ret)
{
	char *r = strdup_trim(ref), *j;

	if (r == NULL)
		return -ENOMEM;
	if (base == NULL || base[0] == '\0' || scheme_len(r) > 0) {
		*ret = r;
		return 0;
	}
	if (r[0] == '\0') {
		free(r);
		r = strdup(base);
		if (r == NULL)
			return -ENOMEM;
		*ret = r;
		return 0;
	}
	j = curl_join(base, r);
	if (j) {
		free(r);
		r = j;
	}
	*ret = r;
	return 0;
}

/* Resolve ref against base (RFC 3986); an unsafe scheme gives "". */
int
url_resolve(const char *base, const char *ref, char **ret)
{
	char *r = NULL;
	size_t n;
	int e;

	e = url_join(base, ref, &r);
	if (e < 0)
		return e;
	n = scheme_len(r);
	if (n > 0 && !scheme_is_safe(r, n))
		r[0] = '\0';
	*ret = r;
	return 0;
}

/* true for an absolute http:// or https:// URL with a host. */
bool
url_is_http(const char *url)
{
	char *h;

	if (url == NULL || (strncasecmp(url, "http://", 7) != 0 &&
	                    strncasecmp(url, "https://", 8) != 0))
		return false;
	h = url_host(url);
	if (h == NULL)
		return false;
	free(h);
	return true;
}

/* The host of an absolute URL, lower-cased, newly allocated; or NULL. */
char *
url_host(const char *url)
{
	CURLU *u;
	char *h = NULL, *ret = NULL;

	if (url == NULL)
		return NULL;
	u = curl_url();
	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ==
	            CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && h[0]) {
		ret = strdup(h);
		for (char *p = ret; p && *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	curl_free(h);
	curl_url_cleanup(u);
	return ret;
}

/* The identity form of a link for deduplication (see url.h). */
int
url_identity(const char *url, const char *const *from_hosts,
             const char *to_host, char **ret)
{
	CURLU *u;
	char *h = NULL, *s = NULL, *out = NULL, *r;
	int e = -EINVAL;

	if (url == NULL)
		return -EINVAL;
	u = curl_url();
	if (u == NULL)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(s, "http") == 0 || strcasecmp(s, "https") == 0) {
		curl_url_set(u, CURLUPART_SCHEME, "https", 0);
		/* :80 and :443 are both the default once folded */
		char *port = NULL;
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
		    (strcmp(port, "80") == 0 || strcmp(port, "443") == 0))
			curl_url_set(u, CURLUPART_PORT, NULL, 0);
		curl_free(port);
	}
	if (curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
		for (char *p = h; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		for (size_t i = 0; from_hosts && to_host && from_hosts[i]; i++)
			if (strcasecmp(from_hosts[i], h) == 0) {
				curl_free(h);
				h = NULL;
				break;
			}
		curl_url_set(u, CURLUPART_HOST, h ? h : to_host, 0);
	}
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &out, CURLU_NO_DEFAULT_PORT) !=
	    CURLUE_OK)
		goto out;
	r = strdup(out);
	if (r == NULL) {
		e = -ENOMEM;
		goto out;
	}
	*ret = r;
	e = 0;
out:
	curl_free(h);
	curl_free(s);
	curl_free(out);
	curl_url_cleanup(u);
	return e;
}
