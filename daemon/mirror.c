/*
 * Mirror decisions, kept apart from the event loop so that each is a
 * function of its inputs: tests/check-mirror.c drives every one.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "gazette/url.h"
#include "mirror.h"

#define MAX_DIVERGE_ENTRIES 500 /* mirror entries compared at most */

static const char *const kind_names[MIRROR_KIND_MAX] = {
        [MIRROR_OK] = "ok",
        [MIRROR_DNS] = "dns",
        [MIRROR_CONNECT] = "connect",
        [MIRROR_TLS] = "tls",
        [MIRROR_TLS_CERT] = "tls-certificate",
        [MIRROR_TIMEOUT] = "timeout",
        [MIRROR_STALLED] = "stalled",
        [MIRROR_RESET] = "reset",
        [MIRROR_HTTP_4XX] = "http-4xx",
        [MIRROR_HTTP_5XX] = "http-5xx",
        [MIRROR_CHALLENGE] = "challenge",
        [MIRROR_NOT_A_FEED] = "not-a-feed",
        [MIRROR_TOO_BIG] = "too-big",
        [MIRROR_REDIRECT] = "redirect",
        [MIRROR_PROXY] = "proxy",
        [MIRROR_OTHER] = "other",
};

/* The stored name of a failure kind. */
const char *
mirror_kind_name(enum mirror_kind k)
{
	if ((unsigned)k >= MIRROR_KIND_MAX)
		return "other";
	return kind_names[k];
}

/* The failure kind a stored name stands for. */
int
mirror_kind_parse(const char *name, enum mirror_kind *ret)
{
	if (name == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < MIRROR_KIND_MAX; i++) {
		if (strcmp(kind_names[i], name) == 0) {
			*ret = (enum mirror_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Append what fits of buf to the sniffed start of a body. */
void
mirror_sniff_add(struct mirror_sniff *s, const char *buf, size_t len)
{
	size_t room = MIRROR_SNIFF - s->len;

	if (len > room)
		len = room;
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	s->buf[s->len] = '\0';
}

/* Case-insensitive memmem for a NUL-terminated needle. */
static const char *
find_ci(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0 || n > len)
		return NULL;
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(hay + i, needle, n) == 0)
			return hay + i;
	return NULL;
}

/* Whether a body starts (after blanks) like an HTML document. */
static bool
starts_html(const char *body, size_t len)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (len - i >= 14 && strncasecmp(body + i, "<!doctype html", 14) == 0)
		return true;
	return len - i >= 5 && strncasecmp(body + i, "<html", 5) == 0;
}

/* A challenge or block page, not a feed and not a plain server error. */
bool
mirror_looks_like_challenge(int status, const char *content_type,
                            const char *body, size_t len)
{
	static const char *const markers[] = {
	        "just a moment",
	        "checking your browser",
	        "captcha",
	        "cf-chl",
	        "challenge-platform",
	        "ddos-guard",
	        "ddos protection",
	        "attention required",
	        "access denied",
	        "are you a robot",
	        "are you human",
	        "verify you are human",
	        "unusual traffic",
	        "request blocked",
	        "sucuri website firewall",
	};
	bool html;

	if (status != 200 && status != 403 && status != 429 && status != 503)
		return false;
	html = (content_type &&
	        find_ci(content_type, strlen(content_type), "html") != NULL) ||
	       (body && starts_html(body, len));
	if (!html || body == NULL)
		return false;
	for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
		if (find_ci(body, len, markers[i]))
			return true;
	return false;
}

/* The failure kind of a finished attempt. */
enum mirror_kind
mirror_classify(const struct mirror_outcome *o)
{
	switch (o->error) {
	case FETCH_OK:
		if (o->status == 304)
			return MIRROR_OK;
		if (o->status >= 200 && o->status < 300) {
			if (o->parsed_feed)
				return MIRROR_OK;
			return o->challenge ? MIRROR_CHALLENGE
			                    : MIRROR_NOT_A_FEED;
		}
		if (o->status >= 400 && o->status < 600 && o->challenge)
			return MIRROR_CHALLENGE;
		if (o->status >= 400 && o->status < 500)
			return MIRROR_HTTP_4XX;
		if (o->status >= 500 && o->status < 600)
			return MIRROR_HTTP_5XX;
		return MIRROR_OTHER;
	case FETCH_DNS:
		return o->via_proxy ? MIRROR_PROXY : MIRROR_DNS;
	case FETCH_CONNECT:
		return o->via_proxy ? MIRROR_PROXY : MIRROR_CONNECT;
	case FETCH_PROXY:
		return MIRROR_PROXY;
	case FETCH_TLS:
		return o->tls_cert ? MIRROR_TLS_CERT : MIRROR_TLS;
	case FETCH_TIMEOUT:
		return o->bytes > 0 ? MIRROR_STALLED : MIRROR_TIMEOUT;
	case FETCH_TOO_BIG:
		return MIRROR_TOO_BIG;
	case FETCH_REDIRECT:
		return MIRROR_REDIRECT;
	case FETCH_BROKEN:
		return MIRROR_RESET;
	case FETCH_ABORTED:
	case FETCH_OTHER:
		break;
	}
	return MIRROR_OTHER;
}

/* Whether ip is one of v. */
static bool
known_ip(const char *ip, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] && strcmp(v[i], ip) == 0)
			return true;
	return false;
}

/* Retry pinned to a remembered address before the next URL? */
bool
mirror_should_pin(enum mirror_kind kind, const char *served_ip,
                  const char *const *known, size_t n_known, bool pinned,
                  bool via_proxy)
{
	if (pinned || via_proxy || n_known == 0)
		return false;
	switch (kind) {
	case MIRROR_DNS:
		return true;
	case MIRROR_CONNECT:
	case MIRROR_TLS:
	case MIRROR_TLS_CERT:
	case MIRROR_TIMEOUT:
	case MIRROR_STALLED:
	case MIRROR_RESET:
	case MIRROR_HTTP_4XX:
	case MIRROR_HTTP_5XX:
	case MIRROR_CHALLENGE:
	case MIRROR_NOT_A_FEED:
		/* The name led somewhere new that failed: poisoned? */
		return served_ip && served_ip[0] &&
		       !known_ip(served_ip, known, n_known);
	default:
		return false;
	}
}

/* A literal IPv4 or IPv6 address. */
bool
mirror_is_ip(const char *s)
{
	unsigned char b[16];

	return s && (inet_pton(AF_INET, s, b) == 1 ||
	             inet_pton(AF_INET6, s, b) == 1);
}

/* "host:port:address" for CURLOPT_RESOLVE. */
int
mirror_resolve_entry(const char *url, const char *address, char **ret)
{
	CURLU *h;
	char *host = NULL, *port = NULL, *out = NULL;
	bool v6;
	int r = -EINVAL;

	if (url == NULL || !mirror_is_ip(address))
		return -EINVAL;
	h = curl_url();
	if (h == NULL)
		return -ENOMEM;
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	            CURLUE_OK ||
	    host[0] == '\0')
		goto out;
	v6 = strchr(address, ':') != NULL;
	if (asprintf(&out, "%s:%s:%s%s%s", host, port, v6 ? "[" : "", address,
	             v6 ? "]" : "") < 0) {
		r = -ENOMEM;
		goto out;
	}
	*ret = out;
	r = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	return r;
}

/* Split "a,b,c" into v, copying into buf; how many there were. */
size_t
mirror_addrs_split(const char *list, char *buf, size_t size, const char **v,
                   size_t max)
{
	size_t n = 0, len;
	char *p, *save = NULL;

	if (list == NULL || size == 0)
		return 0;
	len = strlen(list);
	if (len >= size) {
		/* Too long: the addresses that fit whole. */
		len = size - 1;
		while (len > 0 && list[len] != ',')
			len--;
	}
	memcpy(buf, list, len);
	buf[len] = '\0';
	for (p = strtok_r(buf, ",", &save); p && n < max;
	     p = strtok_r(NULL, ",", &save))
		if (*p)
			v[n++] = p;
	return n;
}

/* The remembered addresses with served_ip first. */
int
mirror_addrs_update(const char *old, const char *served_ip, char **ret)
{
	const char *v[MIRROR_MAX_ADDRS];
	char buf[MIRROR_MAX_ADDRS * 48], out[MIRROR_MAX_ADDRS * 48];
	size_t n, o;
	int w;

	if (!mirror_is_ip(served_ip))
		return -EINVAL;
	n = mirror_addrs_split(old, buf, sizeof(buf), v, MIRROR_MAX_ADDRS);
	w = snprintf(out, sizeof(out), "%s", served_ip);
	o = (size_t)w;
	for (size_t i = 0, kept = 1; i < n && kept < MIRROR_MAX_ADDRS; i++) {
		if (strcmp(v[i], served_ip) == 0 || !mirror_is_ip(v[i]))
			continue;
		w = snprintf(out + o, sizeof(out) - o, ",%s", v[i]);
		if (w < 0 || (size_t)w >= sizeof(out) - o)
			break;
		o += (size_t)w;
		kept++;
	}
	*ret = strdup(out);
	return *ret ? 0 : -ENOMEM;
}

/* The identity form of a link or URL-like guid, as the store keeps it. */
static char *
identity(const char *u, const char *const *from_hosts, const char *to_host)
{
	char *out = NULL;

	if (url_is_http(u) &&
	    url_identity(u, to_host ? from_hosts : NULL, to_host, &out) == 0 &&
	    out)
		return out;
	return strdup(u);
}

/* Whether key (maybe NULL) is one of the primary's. */
static bool
is_key(const char *key, const char *const *keys, size_t n)
{
	if (key == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (keys[i] && strcmp(keys[i], key) == 0)
			return true;
	return false;
}

/* No identity of the mirror's entries among the primary's recent ones. */
bool
mirror_diverged(const char *const *primary_keys, size_t n_keys,
                const struct gz_feed *mirror, const char *const *from_hosts,
                const char *to_host)
{
	size_t n;

	if (n_keys == 0 || mirror == NULL || mirror->n_entries == 0)
		return false;
	n = mirror->n_entries < MAX_DIVERGE_ENTRIES ? mirror->n_entries
	                                            : MAX_DIVERGE_ENTRIES;
	for (size_t i = 0; i < n; i++) {
		const struct gz_entry *e = &mirror->entries[i];
		char *link = e->link && *e->link
		                     ? identity(e->link, from_hosts, to_host)
		                     : NULL;
		char *guid = e->id && *e->id
		                     ? identity(e->id, from_hosts, to_host)
		                     : NULL;
		bool shared = is_key(link, primary_keys, n_keys) ||
		              is_key(guid, primary_keys, n_keys);

		free(link);
		free(guid);
		if (shared)
			return false;
	}
	return true;
}

/* The stored name of a suggestion's source. */
const char *
mirror_source_name(enum mirror_source s)
{
	switch (s) {
	case MIRROR_SRC_ONION_HEADER:
		return "onion-location";
	case MIRROR_SRC_META:
		return "meta";
	case MIRROR_SRC_ALTERNATE:
		return "alternate";
	}
	return "unknown";
}

/* Free suggestions. */
void
mirror_suggestions_free(struct mirror_suggestion *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].url);
	free(v);
}

/* The attributes of one tag we look at. */
struct tag_attrs {
	char *http_equiv, *content, *rel, *type, *href;
};

/* Free a tag's attributes. */
static void
tag_attrs_clear(struct tag_attrs *a)
{
	free(a->http_equiv);
	free(a->content);
	free(a->rel);
	free(a->type);
	free(a->href);
	memset(a, 0, sizeof(*a));
}

/* A copy of an attribute value with &amp; and friends undone. */
static char *
attr_value(const char *v, size_t len)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'},   {"&quot;", '"'}, {"&#38;", '&'},
	            {"&apos;", '\''}, {"&lt;", '<'},   {"&gt;", '>'}};
	char *out = malloc(len + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t k, el = 0;

		for (k = 0; v[i] == '&' && k < sizeof(ents) / sizeof(ents[0]);
		     k++) {
			el = strlen(ents[k].ent);
			if (i + el <= len &&
			    strncmp(v + i, ents[k].ent, el) == 0)
				break;
		}
		if (v[i] == '&' && k < sizeof(ents) / sizeof(ents[0])) {
			*o++ = ents[k].c;
			i += el;
		} else {
			*o++ = v[i++];
		}
	}
	*o = '\0';
	return out;
}

/*
 * Read the attributes of a tag from p (just after its name) up to its
 * '>' or end; the ones we want into a. Returns where the tag ends.
 */
static const char *
read_attrs(const char *p, const char *end, struct tag_attrs *a, bool *oom)
{
	while (p < end && *p != '>') {
		const char *name, *val;
		size_t nlen, vlen = 0;
		char **dst = NULL;

		while (p < end && (isspace((unsigned char)*p) || *p == '/'))
			p++;
		name = p;
		while (p < end && *p != '=' && *p != '>' && *p != '/' &&
		       !isspace((unsigned char)*p))
			p++;
		nlen = (size_t)(p - name);
		while (p < end && isspace((unsigned char)*p))
			p++;
		val = NULL;
		if (p < end && *p == '=') {
			p++;
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p < end && (*p == '"' || *p == '\'')) {
				char qc = *p++;

				val = p;
				while (p < end && *p != qc)
					p++;
				vlen = (size_t)(p - val);
				if (p < end)
					p++;
			} else {
				val = p;
				while (p < end && *p != '>' &&
				       !isspace((unsigned char)*p))
					p++;
				vlen = (size_t)(p - val);
			}
		}
		if (nlen == 0) {
			if (p < end && *p != '>')
				p++;
			continue;
		}
#define IS(n) (nlen == strlen(n) && strncasecmp(name, n, nlen) == 0)
		if (IS("http-equiv"))
			dst = &a->http_equiv;
		else if (IS("content"))
			dst = &a->content;
		else if (IS("rel"))
			dst = &a->rel;
		else if (IS("type"))
			dst = &a->type;
		else if (IS("href"))
			dst = &a->href;
#undef IS
		if (dst && val && *dst == NULL) {
			*dst = attr_value(val, vlen);
			if (*dst == NULL)
				*oom = true;
		}
	}
	return p;
}

/* Whether the space-separated rel has the token alternate. */
static bool
rel_alternate(const char *rel)
{
	const char *p = rel;

	if (rel == NULL)
		return true; /* Atom's default */
	while (*p) {
		size_t n;

		while (isspace((unsigned char)*p))
			p++;
		n = strcspn(p, " \t\r\n");
		if (n == 9 && strncasecmp(p, "alternate", 9) == 0)
			return true;
		p += n;
	}
	return false;
}

/* Whether a type names an XML feed. */
static bool
feed_type(const char *type)
{
	return type && (strncasecmp(type, "application/rss+xml", 19) == 0 ||
	                strncasecmp(type, "application/atom+xml", 20) == 0 ||
	                strncasecmp(type, "application/rdf+xml", 19) == 0);
}

/* Add url (resolved against base) to the list unless there or unfit. */
static int
add_suggestion(struct mirror_suggestion **v, size_t *n, const char *base,
               const char *url, enum mirror_source src)
{
	struct mirror_suggestion *nv;
	char *abs = NULL;
	int r;

	if (url == NULL || *n >= MIRROR_MAX_SUGGESTIONS)
		return 0;
	r = url_resolve(base, url, &abs);
	if (r < 0)
		return r;
	if (!url_is_http(abs) || (base && strcmp(abs, base) == 0)) {
		free(abs);
		return 0;
	}
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*v)[i].url, abs) == 0) {
			free(abs);
			return 0;
		}
	}
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(abs);
		return -ENOMEM;
	}
	*v = nv;
	nv[*n].url = abs;
	nv[*n].source = src;
	(*n)++;
	return 0;
}

/* The other copies of a feed a response names. */
int
mirror_suggestions(const char *base_url, const char *onion_header,
                   const char *body, size_t len, struct mirror_suggestion **ret,
                   size_t *ret_n)
{
	struct mirror_suggestion *v = NULL;
	const char *p = body, *end = body ? body + len : NULL;
	size_t n = 0;
	int r = 0;

	if (onion_header && *onion_header)
		r = add_suggestion(&v, &n, base_url, onion_header,
		                   MIRROR_SRC_ONION_HEADER);
	while (r >= 0 && p && p < end) {
		struct tag_attrs a = {0};
		const char *name;
		size_t nlen;
		bool oom = false, meta, link;

		p = memchr(p, '<', (size_t)(end - p));
		if (p == NULL)
			break;
		p++;
		if ((size_t)(end - p) >= 3 && strncmp(p, "!--", 3) == 0) {
			const char *c = find_ci(p, (size_t)(end - p), "-->");

			p = c ? c + 3 : end;
			continue;
		}
		name = p;
		while (p < end && (isalnum((unsigned char)*p) || *p == ':' ||
		                   *p == '-' || *p == '_'))
			p++;
		nlen = (size_t)(p - name);
		meta = nlen == 4 && strncasecmp(name, "meta", 4) == 0;
		link = (nlen == 4 && strncasecmp(name, "link", 4) == 0) ||
		       (nlen > 5 &&
		        strncasecmp(name + nlen - 5, ":link", 5) == 0);
		if (!meta && !link)
			continue;
		p = read_attrs(p, end, &a, &oom);
		if (oom)
			r = -ENOMEM;
		else if (meta && a.http_equiv &&
		         strcasecmp(a.http_equiv, "onion-location") == 0)
			r = add_suggestion(&v, &n, base_url, a.content,
			                   MIRROR_SRC_META);
		else if (link && a.href && rel_alternate(a.rel) &&
		         feed_type(a.type))
			r = add_suggestion(&v, &n, base_url, a.href,
			                   MIRROR_SRC_ALTERNATE);
		tag_attrs_clear(&a);
	}
	if (r < 0) {
		mirror_suggestions_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
