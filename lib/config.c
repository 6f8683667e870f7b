/*
 * gazette.conf through inih. inih hands us name/value pairs only; we feed
 * it through our own line reader so that we know the line number of each
 * pair (Debian's inih is built without INI_HANDLER_LINENO), see section
 * headers (an empty [feed] section is an error too) and pass lines too
 * long for inih's buffer to our handler ourselves.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "gazette/config.h"
#include "gazette/store.h"

#ifndef GAZETTE_URL
#define GAZETTE_URL "https://github.com/gazette-reader/gazette"
#endif

#define MAX_FEEDS    100000
#define MAX_MIRRORS  64
#define MAX_RESOLVE  64        /* resolve lines in one section */
#define MAX_STORIES  100000000 /* max-stories at most */
#define MAX_FILE_LEN (16 * 1024 * 1024)

enum section {
	SEC_NONE,
	SEC_DAEMON,
	SEC_FEED,
};

/* What the reader and the handler share while one file is read. */
struct parse_state {
	const char *name; /* file name for messages */
	FILE *file;       /* the source: a file ... */
	const char *text; /* ... or a string */
	unsigned line;    /* the line just read */
	enum section section;
	int last_url; /* index of the last url/mirror line, -1 */
	bool has_url; /* the current feed has its url line */
	struct config *cfg;
	int err;      /* first error, negative errno */
	char *errmsg; /* its message */
};

/* Record the first error with its line; later ones are dropped. */
static void __attribute__((format(printf, 3, 4)))
fail(struct parse_state *st, int err, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL, *full = NULL;

	if (st->err)
		return;
	st->err = err;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg && asprintf(&full, "%s:%u: %s", st->name, st->line, msg) < 0)
		full = NULL;
	free(msg);
	st->errmsg = full;
	if (full == NULL)
		st->err = -ENOMEM;
}

/* Copy s quoted for a message, cut at 80 bytes, control bytes escaped. */
static const char *
q(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s && o + 5 < size && o < 80; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

/* Multiply-add with overflow check: *acc = *acc + n * unit. */
static int
add_mul(int64_t *acc, int64_t n, int64_t unit)
{
	int64_t v;

	if (__builtin_mul_overflow(n, unit, &v) ||
	    __builtin_add_overflow(*acc, v, acc))
		return -ERANGE;
	return 0;
}

/* Parse a run of decimal digits at *p into *ret; advances *p. */
static int
digits(const char **p, int64_t *ret)
{
	const char *s = *p;
	int64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, *s - '0', &v))
			return -ERANGE;
	}
	*p = s;
	*ret = v;
	return 0;
}

/* A duration: one or more NUMBER UNIT groups, or a bare "0". */
int
config_parse_duration(const char *s, int64_t *ret)
{
	int64_t total = 0;
	const char *p;
	int r;

	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	p = s;
	if (*p == '0') {
		for (p++; isspace((unsigned char)*p); p++)
			;
		if (*p == '\0') {
			*ret = 0;
			return 0;
		}
		p = s;
	}
	if (*p == '\0')
		return -EINVAL;
	while (*p && !isspace((unsigned char)*p)) {
		int64_t n, unit;

		r = digits(&p, &n);
		if (r < 0)
			return r;
		switch (*p) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -EINVAL;
		}
		p++;
		r = add_mul(&total, n, unit);
		if (r < 0)
			return r;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return -EINVAL;
	*ret = total;
	return 0;
}

/* Seconds as the largest units that divide them: 5400 is "1h30m". */
const char *
config_format_duration(int64_t secs, char *buf, size_t size)
{
	static const struct {
		char name;
		int64_t secs;
	} units[] = {
	        {'w', 7 * 86400}, {'d', 86400}, {'h', 3600},
	        {'m', 60},        {'s', 1},
	};
	size_t o = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (secs <= 0) {
		if (size >= 3)
			memcpy(buf, "0s", 3);
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		int64_t n = secs / units[i].secs;
		char part[24];
		int w;

		if (n == 0)
			continue;
		secs -= n * units[i].secs;
		w = snprintf(part, sizeof(part), "%" PRId64 "%c", n,
		             units[i].name);
		if (w < 0 || (size_t)w >= size - o)
			break;
		memcpy(buf + o, part, (size_t)w + 1);
		o += (size_t)w;
	}
	return buf;
}

/* A size: a number of bytes with an optional B/KiB/MiB/GiB unit. */
int
config_parse_size(const char *s, int64_t *ret)
{
	static const struct {
		const char *name;
		int64_t mult;
	} units[] = {
	        {"", 1},
	        {"B", 1},
	        {"KiB", 1024},
	        {"MiB", 1024 * 1024},
	        {"GiB", 1024 * 1024 * 1024},
	};
	const char *p;
	int64_t n, v = 0;
	size_t i, len;
	int r;

	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	p = s;
	r = digits(&p, &n);
	if (r < 0)
		return r;
	while (*p == ' ')
		p++;
	len = strlen(p);
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].name) == len &&
		    strncmp(p, units[i].name, len) == 0) {
			r = add_mul(&v, n, units[i].mult);
			if (r < 0)
				return r;
			*ret = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* Whether url is an absolute http or https URL with a host. */
static bool
http_url(const char *url)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (h == NULL)
		return false;
	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ==
	            CURLUE_OK &&
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = (strcasecmp(scheme, "http") == 0 ||
		      strcasecmp(scheme, "https") == 0) &&
		     host[0] != '\0';
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(h);
	return ok && strncasecmp(url, "http", 4) == 0;
}

/* Whether url is https:// with a host: DoH is HTTPS only in libcurl. */
bool
config_check_doh(const char *url)
{
	return url && http_url(url) && strncasecmp(url, "https://", 8) == 0;
}

/* Whether s[0..len) is one IPv4 or IPv6 address ("[...]" allowed). */
static bool
ip_address(const char *s, size_t len)
{
	unsigned char bin[16];
	char buf[64];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
		if (len == 0 || len >= sizeof(buf))
			return false;
		memcpy(buf, s, len);
		buf[len] = '\0';
		return inet_pton(AF_INET6, buf, bin) == 1;
	}
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, bin) == 1 ||
	       inet_pton(AF_INET6, buf, bin) == 1;
}

/* host:port:address[,address...], as CURLOPT_RESOLVE reads it. */
int
config_check_resolve(const char *s)
{
	const char *colon, *p, *addrs;
	int64_t port;

	if (s == NULL || *s == '\0' || *s == '+' || *s == '-')
		return -EINVAL;
	colon = strchr(s, ':');
	if (colon == NULL || colon == s)
		return -EINVAL;
	for (p = s; p < colon; p++)
		if (isspace((unsigned char)*p) || *p == ',' || *p == '[')
			return -EINVAL;
	p = colon + 1;
	if (digits(&p, &port) < 0 || *p != ':' || port < 1 || port > 65535)
		return -EINVAL;
	addrs = p + 1;
	while (1) {
		size_t n = strcspn(addrs, ",");

		if (!ip_address(addrs, n))
			return -EINVAL;
		if (addrs[n] == '\0')
			return 0;
		addrs += n + 1;
	}
}

/* Append a copy of v to a list of strings (resolve lines). */
static int
list_add(struct parse_state *st, char ***v, size_t *n, const char *what,
         const char *val)
{
	char b[100];
	char **nv;
	char *c;

	if (config_check_resolve(val) < 0) {
		fail(st, -EINVAL,
		     "bad %s '%s' (host:port:address, as in "
		     "news.example:443:192.0.2.7)",
		     what, q(val, b, sizeof(b)));
		return 0;
	}
	if (*n >= MAX_RESOLVE) {
		fail(st, -EINVAL, "more than %d %s lines", MAX_RESOLVE, what);
		return 0;
	}
	c = strdup(val);
	nv = c ? realloc(*v, (*n + 1) * sizeof(*nv)) : NULL;
	if (nv == NULL) {
		free(c);
		fail(st, -ENOMEM, "out of memory");
		return 0;
	}
	*v = nv;
	nv[(*n)++] = c;
	return 1;
}

/* Whether proxy names a scheme libcurl proxies through. */
static bool
proxy_url(const char *proxy)
{
	static const char *const schemes[] = {
	        "http://",    "https://",  "socks4://",
	        "socks4a://", "socks5://", "socks5h://",
	};
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncasecmp(proxy, schemes[i], strlen(schemes[i])) == 0 &&
		    proxy[strlen(schemes[i])] != '\0')
			return true;
	return false;
}

/* Replace *dst by a copy of v. */
static int
set_str(struct parse_state *st, char **dst, const char *v)
{
	char *c = strdup(v);

	if (c == NULL) {
		fail(st, -ENOMEM, "out of memory");
		return 0;
	}
	free(*dst);
	*dst = c;
	return 1;
}

/* Parse a duration setting into *dst, failing with the key's name. */
static int
set_duration(struct parse_state *st, const char *key, const char *v,
             int64_t *dst)
{
	char b[100];
	int r = config_parse_duration(v, dst);

	if (r < 0) {
		fail(st, -EINVAL,
		     "bad duration '%s' for %s (a number and a unit: 30s, "
		     "15m, 2h, 1d)",
		     q(v, b, sizeof(b)), key);
		return 0;
	}
	return 1;
}

/* A duration, or "forever" (0): how long something is kept. */
static int
set_keep(struct parse_state *st, const char *key, const char *v, int64_t *dst)
{
	char b[100];

	if (strcasecmp(v, "forever") == 0) {
		*dst = 0;
		return 1;
	}
	if (config_parse_duration(v, dst) == 0)
		return 1;
	fail(st, -EINVAL,
	     "bad duration '%s' for %s (a number and a unit: 90d, 12w; or "
	     "forever)",
	     q(v, b, sizeof(b)), key);
	return 0;
}

/* A count of stories, 0 for no limit. */
static int
set_limit(struct parse_state *st, const char *key, const char *v, int64_t *dst)
{
	char b[100];
	const char *p = v;
	int64_t n;

	if (digits(&p, &n) < 0 || *p != '\0' || n > MAX_STORIES) {
		fail(st, -EINVAL,
		     "bad number '%s' for %s (0 for no limit, up to %d)",
		     q(v, b, sizeof(b)), key, MAX_STORIES);
		return 0;
	}
	*dst = n;
	return 1;
}

/* Parse milliseconds ("250ms") or a duration (in ms) into *dst. */
static int
set_ms(struct parse_state *st, const char *key, const char *v, int64_t *dst)
{
	char b[100];
	const char *p = v;
	int64_t n;

	if (digits(&p, &n) == 0 && strcmp(p, "ms") == 0 && n <= 86400000) {
		*dst = n;
		return 1;
	}
	if (config_parse_duration(v, &n) == 0 && n <= 86400) {
		*dst = n * 1000;
		return 1;
	}
	fail(st, -EINVAL,
	     "bad duration '%s' for %s (250ms, or a number and a unit: "
	     "1s, 2m)",
	     q(v, b, sizeof(b)), key);
	return 0;
}

/* Parse a size setting into *dst. */
static int
set_size(struct parse_state *st, const char *key, const char *v, int64_t *dst)
{
	char b[100];
	int r = config_parse_size(v, dst);

	if (r < 0) {
		fail(st, -EINVAL,
		     "bad size '%s' for %s (bytes, or with a unit: KiB, MiB)",
		     q(v, b, sizeof(b)), key);
		return 0;
	}
	return 1;
}

/* Parse a positive count no larger than max. */
static int
set_count(struct parse_state *st, const char *key, const char *v, int max,
          int *dst)
{
	char b[100];
	const char *p = v;
	int64_t n;

	if (digits(&p, &n) < 0 || *p != '\0' || n < 1 || n > max) {
		fail(st, -EINVAL, "bad number '%s' for %s (1 to %d)",
		     q(v, b, sizeof(b)), key, max);
		return 0;
	}
	*dst = (int)n;
	return 1;
}

/* A file mode in octal that leaves the owner read and write. */
static int
set_mode(struct parse_state *st, const char *key, const char *v, unsigned *dst)
{
	char b[100];
	unsigned m = 0;
	const char *p;

	for (p = v; *p >= '0' && *p <= '7' && m <= 0777; p++)
		m = m * 8 + (unsigned)(*p - '0');
	if (p == v || *p != '\0' || m > 0777 || (m & 0600) != 0600) {
		fail(st, -EINVAL,
		     "bad mode '%s' for %s (octal, at most 0777, the owner "
		     "reading and writing: 0600, 0660)",
		     q(v, b, sizeof(b)), key);
		return 0;
	}
	*dst = m;
	return 1;
}

/* A [daemon] setting. */
static int
daemon_key(struct parse_state *st, const char *k, const char *v)
{
	struct config *c = st->cfg;
	char b[100];

	if (strcasecmp(k, "database") == 0)
		return set_str(st, &c->database, v);
	if (strcasecmp(k, "socket") == 0)
		return set_str(st, &c->socket, v);
	if (strcasecmp(k, "control-socket-mode") == 0)
		return set_mode(st, k, v, &c->control_socket_mode);
	if (strcasecmp(k, "control-socket-group") == 0) {
		c->control_socket_group_set = true;
		return set_str(st, &c->control_socket_group, v);
	}
	if (strcasecmp(k, "user-agent") == 0)
		return set_str(st, &c->user_agent, v);
	if (strcasecmp(k, "ca-file") == 0)
		return set_str(st, &c->ca_file, v);
	if (strcasecmp(k, "resolve") == 0)
		return list_add(st, &c->resolve, &c->n_resolve, "resolve", v);
	if (strcasecmp(k, "interval") == 0)
		return set_duration(st, k, v, &c->interval);
	if (strcasecmp(k, "min-interval") == 0)
		return set_duration(st, k, v, &c->min_interval);
	if (strcasecmp(k, "max-backoff") == 0)
		return set_duration(st, k, v, &c->max_backoff);
	if (strcasecmp(k, "timeout") == 0)
		return set_duration(st, k, v, &c->timeout);
	if (strcasecmp(k, "connect-timeout") == 0)
		return set_duration(st, k, v, &c->connect_timeout);
	if (strcasecmp(k, "low-speed-time") == 0)
		return set_duration(st, k, v, &c->low_speed_time);
	if (strcasecmp(k, "stall-after") == 0)
		return set_ms(st, k, v, &c->stall_after_ms);
	if (strcasecmp(k, "primary-retry") == 0)
		return set_duration(st, k, v, &c->primary_retry);
	if (strcasecmp(k, "retention") == 0)
		return set_keep(st, k, v, &c->retention);
	if (strcasecmp(k, "keep-unread") == 0)
		return set_keep(st, k, v, &c->keep_unread);
	if (strcasecmp(k, "max-stories") == 0)
		return set_limit(st, k, v, &c->max_stories);
	if (strcasecmp(k, "low-speed-limit") == 0)
		return set_size(st, k, v, &c->low_speed_limit);
	if (strcasecmp(k, "max-feed-size") == 0)
		return set_size(st, k, v, &c->max_feed_size);
	if (strcasecmp(k, "ingest-queue") == 0)
		return set_size(st, k, v, &c->ingest_queue);
	if (strcasecmp(k, "index-lag") == 0)
		return set_duration(st, k, v, &c->index_lag);
	if (strcasecmp(k, "lease-time") == 0)
		return set_duration(st, k, v, &c->lease_time);
	if (strcasecmp(k, "max-connections") == 0)
		return set_count(st, k, v, 4096, &c->max_connections);
	if (strcasecmp(k, "per-host-connections") == 0)
		return set_count(st, k, v, 256, &c->per_host_connections);
	if (strcasecmp(k, "slow-connections") == 0)
		return set_count(st, k, v, 4096, &c->slow_connections);
	if (strcasecmp(k, "redirect-polls") == 0)
		return set_count(st, k, v, 100, &c->redirect_polls);
	fail(st, -EINVAL, "unknown key '%s' in [daemon]", q(k, b, sizeof(b)));
	return 0;
}

/* Append a URL (the primary when primary) to the current feed. */
static int
feed_add_url(struct parse_state *st, const char *v, bool primary)
{
	struct config_feed *f = &st->cfg->feeds[st->cfg->n_feeds - 1];
	struct config_url *n, u = {0};
	size_t at;

	if (primary && st->has_url) {
		fail(st, -EINVAL,
		     "second url line in [feed \"%s\"] "
		     "(more addresses are mirror lines)",
		     f->name);
		return 0;
	}
	if (f->n_urls >= MAX_MIRRORS) {
		fail(st, -EINVAL, "more than %d addresses for one feed",
		     MAX_MIRRORS);
		return 0;
	}
	u.url = strdup(v);
	u.line = st->line;
	n = realloc(f->urls, (f->n_urls + 1) * sizeof(*n));
	if (u.url == NULL || n == NULL) {
		free(u.url);
		if (n)
			f->urls = n;
		fail(st, -ENOMEM, "out of memory");
		return 0;
	}
	f->urls = n;
	/* The url line is the primary wherever it stands among the mirrors. */
	at = primary ? 0 : f->n_urls;
	memmove(&f->urls[at + 1], &f->urls[at], (f->n_urls - at) * sizeof(*n));
	f->urls[at] = u;
	f->n_urls++;
	if (primary) {
		st->has_url = true;
		if (st->last_url >= 0)
			st->last_url++;
	}
	st->last_url = (int)at;
	return 1;
}

/* A [feed "NAME"] setting. */
static int
feed_key(struct parse_state *st, const char *k, const char *v)
{
	struct config_feed *f = &st->cfg->feeds[st->cfg->n_feeds - 1];
	char b[100];

	if (strcasecmp(k, "url") == 0)
		return feed_add_url(st, v, true);
	if (strcasecmp(k, "mirror") == 0)
		return feed_add_url(st, v, false);
	if (strcasecmp(k, "proxy") == 0) {
		if (st->last_url < 0) {
			fail(st, -EINVAL,
			     "proxy before any url or mirror "
			     "line (it applies to the line "
			     "just before it)");
			return 0;
		}
		if (f->urls[st->last_url].proxy) {
			fail(st, -EINVAL, "second proxy for '%s'",
			     q(f->urls[st->last_url].url, b, sizeof(b)));
			return 0;
		}
		return set_str(st, &f->urls[st->last_url].proxy, v);
	}
	if (strcasecmp(k, "doh") == 0) {
		if (st->last_url < 0) {
			fail(st, -EINVAL,
			     "doh before any url or mirror line (it applies "
			     "to the line just before it)");
			return 0;
		}
		if (f->urls[st->last_url].doh) {
			fail(st, -EINVAL, "second doh for '%s'",
			     q(f->urls[st->last_url].url, b, sizeof(b)));
			return 0;
		}
		if (!config_check_doh(v)) {
			fail(st, -EINVAL,
			     "bad doh '%s' (the https:// URL of a "
			     "DNS-over-HTTPS resolver)",
			     q(v, b, sizeof(b)));
			return 0;
		}
		return set_str(st, &f->urls[st->last_url].doh, v);
	}
	if (strcasecmp(k, "resolve") == 0)
		return list_add(st, &f->resolve, &f->n_resolve, "resolve", v);
	if (strcasecmp(k, "interval") == 0) {
		if (!set_duration(st, k, v, &f->interval))
			return 0;
		if (f->interval == 0) {
			fail(st, -EINVAL, "interval of a feed cannot be 0");
			return 0;
		}
		return 1;
	}
	if (strcasecmp(k, "category") == 0)
		return set_str(st, &f->category, v);
	if (strcasecmp(k, "keep-unread") == 0)
		return set_keep(st, k, v, &f->keep_unread);
	if (strcasecmp(k, "max-stories") == 0)
		return set_limit(st, k, v, &f->max_stories);
	fail(st, -EINVAL, "unknown key '%s' in [feed \"%s\"]",
	     q(k, b, sizeof(b)), f->name);
	return 0;
}

/* inih's callback: one name = value pair. */
static int
on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	int r;

	(void)section; /* the reader tracks sections itself */
	if (st->err)
		return 0;
	switch (st->section) {
	case SEC_DAEMON:
		r = daemon_key(st, name, value);
		break;
	case SEC_FEED:
		r = feed_key(st, name, value);
		break;
	default:
		fail(st, -EINVAL, "setting '%s' outside a section", name);
		r = 0;
		break;
	}
	return r;
}

/* Checks at the end of a [feed] section: it has a url, and valid URLs. */
static void
feed_end(struct parse_state *st)
{
	struct config_feed *f;
	unsigned line = st->line;
	size_t i;
	char b[100];

	if (st->section != SEC_FEED || st->err)
		return;
	f = &st->cfg->feeds[st->cfg->n_feeds - 1];
	if (f->n_urls == 0 || !st->has_url) {
		st->line = f->line;
		fail(st, -EINVAL, "feed \"%s\" without url", f->name);
	}
	if (!st->err && f->n_resolve > 0) {
		size_t len = 0, o = 0;

		for (i = 0; i < f->n_resolve; i++)
			len += strlen(f->resolve[i]) + 1;
		f->resolve_text = malloc(len);
		if (f->resolve_text == NULL) {
			fail(st, -ENOMEM, "out of memory");
			return;
		}
		for (i = 0; i < f->n_resolve; i++) {
			size_t l = strlen(f->resolve[i]);

			memcpy(f->resolve_text + o, f->resolve[i], l);
			o += l;
			f->resolve_text[o++] = '\n';
		}
		f->resolve_text[o - 1] = '\0';
	}
	for (i = 0; i < f->n_urls && !st->err; i++) {
		st->line = f->urls[i].line;
		if (!http_url(f->urls[i].url))
			fail(st, -EINVAL,
			     "'%s' is not an http:// or https:// URL",
			     q(f->urls[i].url, b, sizeof(b)));
		else if (f->urls[i].proxy && !proxy_url(f->urls[i].proxy))
			fail(st, -EINVAL,
			     "bad proxy '%s' (http, https, socks4, socks4a, "
			     "socks5 or socks5h URL)",
			     q(f->urls[i].proxy, b, sizeof(b)));
	}
	st->line = line;
}

/* Parse the quoted name of [feed "NAME"]; NULL when malformed. */
static char *
feed_name(const char *s, const char *end)
{
	char *name = malloc((size_t)(end - s) + 1), *o = name;

	if (name == NULL || *s != '"')
		goto bad;
	for (s++; s < end && *s != '"'; s++) {
		if (*s == '\\' && s + 1 < end)
			s++;
		*o++ = *s;
	}
	if (s >= end || o == name)
		goto bad;
	for (s++; s < end; s++)
		if (!isspace((unsigned char)*s))
			goto bad;
	*o = '\0';
	return name;
bad:
	free(name);
	return NULL;
}

/* A section header line (starting with '['): open the section. */
static void
section_start(struct parse_state *st, const char *s)
{
	struct config *c = st->cfg;
	const char *end = strrchr(s, ']'), *p = s + 1;
	char b[100];
	char *name;
	struct config_feed *n;
	size_t i;

	feed_end(st);
	if (st->err)
		return;
	st->last_url = -1;
	st->has_url = false;
	if (end == NULL) {
		fail(st, -EINVAL, "section header without ']'");
		return;
	}
	while (p < end && isspace((unsigned char)*p))
		p++;
	if ((size_t)(end - p) >= 6 && strncasecmp(p, "daemon", 6) == 0) {
		const char *t = p + 6;

		while (t < end && isspace((unsigned char)*t))
			t++;
		if (t == end) {
			st->section = SEC_DAEMON;
			return;
		}
	}
	if ((size_t)(end - p) < 5 || strncasecmp(p, "feed", 4) != 0 ||
	    !isspace((unsigned char)p[4])) {
		fail(st, -EINVAL,
		     "unknown section '%s' (daemon, or feed \"NAME\")",
		     q(s, b, sizeof(b)));
		return;
	}
	p += 4;
	while (p < end && isspace((unsigned char)*p))
		p++;
	name = feed_name(p, end);
	if (name == NULL) {
		fail(st, -EINVAL,
		     "bad section '%s': the feed's name goes in "
		     "double quotes: [feed \"NAME\"]",
		     q(s, b, sizeof(b)));
		return;
	}
	for (i = 0; i < c->n_feeds; i++) {
		if (strcmp(c->feeds[i].name, name) == 0) {
			fail(st, -EINVAL,
			     "feed \"%s\" declared twice (first on line %u)",
			     q(name, b, sizeof(b)), c->feeds[i].line);
			free(name);
			return;
		}
	}
	if (c->n_feeds >= MAX_FEEDS) {
		fail(st, -EINVAL, "more than %d feeds", MAX_FEEDS);
		free(name);
		return;
	}
	n = realloc(c->feeds, (c->n_feeds + 1) * sizeof(*n));
	if (n == NULL) {
		free(name);
		fail(st, -ENOMEM, "out of memory");
		return;
	}
	c->feeds = n;
	memset(&n[c->n_feeds], 0, sizeof(*n));
	n[c->n_feeds].name = name;
	n[c->n_feeds].line = st->line;
	n[c->n_feeds].keep_unread = -1;
	n[c->n_feeds].max_stories = -1;
	c->n_feeds++;
	st->section = SEC_FEED;
}

/* Read the next raw line (with its '\n') into a new string; NULL at EOF. */
static char *
next_line(struct parse_state *st, size_t *ret_len)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (st->file) {
		n = getline(&line, &cap, st->file);
		if (n < 0) {
			free(line);
			return NULL;
		}
		*ret_len = (size_t)n;
		return line;
	}
	if (*st->text == '\0')
		return NULL;
	n = (ssize_t)strcspn(st->text, "\n");
	if (st->text[n] == '\n')
		n++;
	line = strndup(st->text, (size_t)n);
	if (line)
		st->text += n;
	*ret_len = (size_t)n;
	return line;
}

/*
 * A line too long for inih's line buffer: a "key = value" pair is handed
 * to on_pair here (long URLs exist), anything else is an error.
 */
static void
long_line(struct parse_state *st, char *s)
{
	char *eq = s + strcspn(s, "=:"), *k_end, *v, *c;

	if (*s == '[' || *eq == '\0') {
		fail(st, -EINVAL, "line too long");
		return;
	}
	k_end = eq;
	while (k_end > s && isspace((unsigned char)k_end[-1]))
		k_end--;
	*k_end = '\0';
	v = eq + 1;
	while (isspace((unsigned char)*v))
		v++;
	for (c = v; *c; c++) /* inih's inline comments: " ;" */
		if (*c == ';' && c > v && isspace((unsigned char)c[-1])) {
			*c = '\0';
			break;
		}
	c = v + strlen(v);
	while (c > v && isspace((unsigned char)c[-1]))
		*--c = '\0';
	if (*s == '\0') {
		fail(st, -EINVAL, "line without a key");
		return;
	}
	on_pair(st, NULL, s, v);
}

/*
 * inih's reader: one whole line per call, so inih's line count is ours.
 * Leading blanks go (keys may be indented as in git-config; this also
 * keeps inih's Python-style continuation lines from applying). Section
 * headers are handled here, so an empty [feed] section is seen too.
 */
static char *
reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	size_t len = 0;
	char *line, *s;

	if (st->err)
		return NULL;
	line = next_line(st, &len);
	if (line == NULL)
		return NULL;
	st->line++;
	if (memchr(line, '\0', len)) {
		fail(st, -EINVAL, "NUL byte in the file");
		free(line);
		return NULL;
	}
	s = line;
	if (st->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	len = strlen(s);
	if (*s == '[')
		section_start(st, s);
	if (!st->err && len + 1 >= (size_t)num) {
		s[strcspn(s, "\r\n")] = '\0';
		long_line(st, s);
		s = ";\n";
		len = 2;
	}
	if (st->err) {
		free(line);
		return NULL;
	}
	memcpy(str, s, len + 1);
	free(line);
	return str;
}

/* The defaults, and the paths from paths_default(). */
static int
config_defaults(struct config **ret)
{
	struct config *c = calloc(1, sizeof(*c));
	struct paths p = {0};
	int r;

	if (c == NULL)
		return -ENOMEM;
	r = paths_default(&p);
	if (r < 0) {
		free(c);
		return r;
	}
	c->database = p.db;
	c->socket = p.socket;
	c->control_socket_mode = p.system ? 0660 : 0600;
	if (p.system)
		c->control_socket_group = strdup("gazette");
	p.db = p.socket = NULL;
	paths_clear(&p);
	if (p.system && c->control_socket_group == NULL) {
		config_free(c);
		return -ENOMEM;
	}
	c->interval = 30 * 60;
	c->min_interval = 5 * 60;
	c->max_backoff = 86400;
	c->max_connections = 32;
	c->per_host_connections = 2;
	c->timeout = 30;
	c->connect_timeout = 15;
	c->low_speed_limit = 100;
	c->low_speed_time = 20;
	c->stall_after_ms = 100;
	c->slow_connections = 128;
	c->max_feed_size = 16 * 1024 * 1024;
	c->ingest_queue = 32 * 1024 * 1024;
	c->index_lag = 60;
	c->lease_time = 120;
	c->primary_retry = 3600;
	c->retention = 90 * 86400;
	c->redirect_polls = 3;
	c->user_agent =
	        strdup("gazette/" GAZETTE_VERSION " (+" GAZETTE_URL ")");
	if (c->user_agent == NULL) {
		config_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

/* Checks across settings once the whole file is read. */
static void
config_check(struct parse_state *st)
{
	struct config *c = st->cfg;

	if (st->err)
		return;
	if (c->database[0] == '\0')
		fail(st, -EINVAL, "database is empty");
	else if (c->socket[0] == '\0')
		fail(st, -EINVAL, "socket is empty");
	else if (c->interval < 1)
		fail(st, -EINVAL, "interval must be at least 1s");
	else if (c->min_interval > c->interval)
		fail(st, -EINVAL, "min-interval is above interval");
	else if (c->timeout < 1 || c->connect_timeout < 1)
		fail(st, -EINVAL, "timeouts must be at least 1s");
	else if (c->max_feed_size < 1)
		fail(st, -EINVAL, "max-feed-size must be at least 1 byte");
	else if (c->ingest_queue < 64 * 1024)
		fail(st, -EINVAL, "ingest-queue must be at least 64KiB");
	else if (c->max_backoff < 1)
		fail(st, -EINVAL, "max-backoff must be at least 1s");
	else if (c->lease_time < 3)
		fail(st, -EINVAL, "lease-time must be at least 3s");
	else if (c->per_host_connections > c->max_connections)
		fail(st, -EINVAL,
		     "per-host-connections is above max-connections");
}

/* Run the parse over st's source into a fresh config. */
static int
parse(struct parse_state *st, struct config **ret, char **ret_err)
{
	int r, line;

	r = config_defaults(&st->cfg);
	if (r < 0)
		return r;
	st->last_url = -1;
	line = ini_parse_stream(reader, st, on_pair, st);
	feed_end(st);
	if (!st->err && line > 0) {
		st->line = (unsigned)line;
		fail(st, -EINVAL,
		     "syntax error (expected 'key = value' or "
		     "'[section]')");
	}
	if (!st->err && line < 0)
		fail(st, -ENOMEM, "out of memory");
	config_check(st);
	if (st->err) {
		r = st->err;
		if (ret_err && st->errmsg) {
			*ret_err = st->errmsg;
			st->errmsg = NULL;
		}
		free(st->errmsg);
		config_free(st->cfg);
		return r;
	}
	*ret = st->cfg;
	return 0;
}

/* Read the configuration file (or the defaults when it is absent). */
int
config_load(const char *path, unsigned flags, struct config **ret,
            char **ret_err)
{
	struct parse_state st = {0};
	struct paths p = {0};
	struct config *c = NULL;
	char *file = NULL;
	int r;

	if (path == NULL) {
		r = paths_default(&p);
		if (r < 0)
			return r;
		file = p.config;
		p.config = NULL;
		paths_clear(&p);
	} else {
		file = strdup(path);
		if (file == NULL)
			return -ENOMEM;
	}
	st.name = file;
	st.file = fopen(file, "re");
	if (st.file == NULL) {
		r = -errno;
		if (r == -ENOENT && !(flags & CONFIG_MUST_EXIST)) {
			r = config_defaults(&c);
			if (r == 0)
				*ret = c;
		} else if (ret_err) {
			if (asprintf(ret_err, "cannot open '%s': %s", file,
			             strerror(-r)) < 0)
				*ret_err = NULL;
		}
		free(file);
		return r;
	}
	r = parse(&st, &c, ret_err);
	fclose(st.file);
	if (r < 0) {
		free(file);
		return r;
	}
	c->path = file;
	*ret = c;
	return 0;
}

/* Parse text as the file `name`. */
int
config_parse_string(const char *text, const char *name, struct config **ret,
                    char **ret_err)
{
	struct parse_state st = {0};
	struct config *c = NULL;
	int r;

	st.name = name ? name : "<string>";
	st.text = text;
	r = parse(&st, &c, ret_err);
	if (r < 0)
		return r;
	if (name) {
		c->path = strdup(name);
		if (c->path == NULL) {
			config_free(c);
			return -ENOMEM;
		}
	}
	*ret = c;
	return 0;
}

/* Free a configuration; NULL is fine. */
void
config_free(struct config *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	free(c->control_socket_group);
	for (i = 0; i < c->n_feeds; i++) {
		struct config_feed *f = &c->feeds[i];

		for (j = 0; j < f->n_urls; j++) {
			free(f->urls[j].url);
			free(f->urls[j].proxy);
			free(f->urls[j].doh);
		}
		free(f->urls);
		for (j = 0; j < f->n_resolve; j++)
			free(f->resolve[j]);
		free(f->resolve);
		free(f->resolve_text);
		free(f->name);
		free(f->category);
	}
	free(c->feeds);
	free(c->path);
	free(c->database);
	free(c->socket);
	free(c->user_agent);
	free(c->ca_file);
	for (i = 0; i < c->n_resolve; i++)
		free(c->resolve[i]);
	free(c->resolve);
	free(c);
}

/* The feed section named name. */
const struct config_feed *
config_feed_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_feeds; i++)
		if (strcmp(c->feeds[i].name, name) == 0)
			return &c->feeds[i];
	return NULL;
}

/* The feeds as store_feed_spec, pointing into c. */
int
config_store_specs(const struct config *c, struct store_feed_spec **ret,
                   size_t *ret_n)
{
	struct store_feed_spec *v;
	size_t i, j;

	v = calloc(c->n_feeds ? c->n_feeds : 1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < c->n_feeds; i++) {
		const struct config_feed *f = &c->feeds[i];
		const char **urls = calloc(f->n_urls, sizeof(*urls));
		const char **proxies = calloc(f->n_urls, sizeof(*proxies));
		const char **dohs = calloc(f->n_urls, sizeof(*dohs));

		v[i].urls = urls;
		v[i].proxies = proxies;
		v[i].dohs = dohs;
		if (urls == NULL || proxies == NULL || dohs == NULL) {
			config_store_specs_free(v, i + 1);
			return -ENOMEM;
		}
		for (j = 0; j < f->n_urls; j++) {
			urls[j] = f->urls[j].url;
			proxies[j] = f->urls[j].proxy;
			dohs[j] = f->urls[j].doh;
		}
		v[i].resolve = f->resolve_text;
		v[i].title = f->name;
		v[i].category = f->category;
		v[i].interval = f->interval;
		v[i].from_config = true;
		v[i].n_urls = f->n_urls;
	}
	*ret = v;
	*ret_n = c->n_feeds;
	return 0;
}

/* Free what config_store_specs() allocated (not the strings). */
void
config_store_specs_free(struct store_feed_spec *specs, size_t n)
{
	size_t i;

	if (specs == NULL)
		return;
	for (i = 0; i < n; i++) {
		free((void *)specs[i].urls);
		free((void *)specs[i].proxies);
		free((void *)specs[i].dohs);
	}
	free(specs);
}

/* The retention rules of c at time now. */
int
config_purge_rules(const struct config *c, int64_t now,
                   struct store_purge_rules *ret)
{
	struct store_purge_feed *v;
	size_t i, n = 0;

	v = calloc(c->n_feeds ? c->n_feeds : 1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < c->n_feeds; i++) {
		const struct config_feed *f = &c->feeds[i];

		if (f->keep_unread < 0 && f->max_stories < 0)
			continue;
		v[n].title = strdup(f->name);
		if (v[n].title == NULL) {
			struct store_purge_rules half = {.feeds = v,
			                                 .n_feeds = n};

			config_purge_rules_clear(&half);
			return -ENOMEM;
		}
		v[n].keep_unread = f->keep_unread < 0 ? STORE_PURGE_DEFAULT
		                                      : f->keep_unread;
		v[n].max_stories = f->max_stories < 0 ? STORE_PURGE_DEFAULT
		                                      : f->max_stories;
		n++;
	}
	*ret = (struct store_purge_rules){
	        .now = now,
	        .read_before = c->retention > 0 ? now - c->retention : 0,
	        .keep_unread = c->keep_unread,
	        .max_stories = c->max_stories,
	        .feeds = v,
	        .n_feeds = n,
	};
	return 0;
}

/* Free what config_purge_rules() allocated. */
void
config_purge_rules_clear(struct store_purge_rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_feeds; i++)
		free((char *)r->feeds[i].title);
	free((void *)r->feeds);
	r->feeds = NULL;
	r->n_feeds = 0;
}
