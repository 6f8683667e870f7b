/* OPML subscription lists: reading for import, writing for export. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "gazette/html.h"
#include "gazette/opml.h"

/* What parsing carries along. */
struct opml_state {
	struct opml_doc *doc;
	size_t outlines;
	size_t cap_feeds, cap_skipped;
	char *msg;
	int line;
	char generic[256]; /* what libxml2 said with no context */
	size_t generic_len;
};

/* true for an absolute http:// or https:// URL with a host. */
static bool
http_url(const char *u)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (h == NULL)
		return false;
	if (curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = (strcmp(scheme, "http") == 0 ||
		      strcmp(scheme, "https") == 0) &&
		     host[0] != '\0';
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(h);
	return ok;
}

/* A proxy URL gazette can use: http(s), socks4(a), socks5(h). */
static bool
proxy_url(const char *u)
{
	static const char *const schemes[] = {
	        "http://",    "https://",  "socks4://",
	        "socks4a://", "socks5://", "socks5h://",
	};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncasecmp(u, schemes[i], strlen(schemes[i])) == 0 &&
		    u[strlen(schemes[i])] != '\0')
			return true;
	return false;
}

/* An attribute without namespace, its name compared case-insensitively. */
static char *
attr(xmlNodePtr n, const char *name)
{
	for (xmlAttrPtr a = n->properties; a; a = a->next) {
		if (a->ns == NULL &&
		    xmlStrcasecmp(a->name, (const xmlChar *)name) == 0) {
			xmlChar *v =
			        xmlNodeListGetString(n->doc, a->children, 1);
			char *s = v ? strdup((const char *)v) : strdup("");

			xmlFree(v);
			return s;
		}
	}
	return NULL;
}

/* An attribute of gazette's namespace. */
static char *
gz_attr(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetNsProp(n, (const xmlChar *)name,
	                          (const xmlChar *)OPML_NS);
	char *s = NULL;

	if (v) {
		s = strdup((const char *)v);
		xmlFree(v);
	}
	return s;
}

/* Cut blanks at both ends, in place. */
static char *
trim(char *s)
{
	char *e;

	if (s == NULL)
		return NULL;
	/* one move, however many blanks lead */
	e = s + strspn(s, " \t\n\r");
	if (e > s)
		memmove(s, e, strlen(e) + 1);
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	                 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Split a blank-separated list into at most max words (newly allocated). */
static size_t
split(const char *s, char **out, size_t max)
{
	size_t n = 0;

	while (s && *s && n < max) {
		size_t len;

		s += strspn(s, " \t\r\n");
		len = strcspn(s, " \t\r\n");
		if (len == 0)
			break;
		out[n] = strndup(s, len);
		if (out[n] == NULL)
			break;
		n++;
		s += len;
	}
	return n;
}

/* Free what a feed owns. */
static void
feed_clear(struct opml_feed *f)
{
	for (size_t i = 0; i < f->n_urls; i++) {
		free(f->urls[i]);
		free(f->proxies[i]);
	}
	free(f->urls);
	free(f->proxies);
	free(f->title);
	free(f->category);
}

/* Free a parsed document. */
void
opml_doc_free(struct opml_doc *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_feeds; i++)
		feed_clear(&d->feeds[i]);
	for (size_t i = 0; i < d->n_skipped; i++) {
		free(d->skipped[i].url);
		free(d->skipped[i].reason);
	}
	free(d->feeds);
	free(d->skipped);
	free(d->title);
	free(d);
}

/* Record an outline that is not imported. */
static int
add_skip(struct opml_state *st, const char *url, const char *reason, int line)
{
	struct opml_doc *d = st->doc;
	struct opml_skip *v;

	if (d->n_skipped == st->cap_skipped) {
		size_t cap = st->cap_skipped ? st->cap_skipped * 2 : 16;

		v = reallocarray(d->skipped, cap, sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		d->skipped = v;
		st->cap_skipped = cap;
	}
	v = d->skipped;
	v[d->n_skipped] = (struct opml_skip){
	        .url = url ? strdup(url) : NULL,
	        .reason = strdup(reason),
	        .line = line,
	};
	if ((url && !v[d->n_skipped].url) || !v[d->n_skipped].reason) {
		free(v[d->n_skipped].url);
		free(v[d->n_skipped].reason);
		return -ENOMEM;
	}
	d->n_skipped++;
	return 0;
}

/* Set a parse error with its line. */
static int
fail(struct opml_state *st, int line, const char *msg)
{
	if (st->msg == NULL) {
		st->line = line;
		st->msg = strdup(msg);
	}
	return -EINVAL;
}

/*
 * The URLs of a feed outline: xmlUrl, then gazette:mirrors, each with
 * its proxy. Returns 0, 1 when the outline is skipped, or -errno.
 */
static int
outline_feed(struct opml_state *st, xmlNodePtr n, char *url,
             const char *category)
{
	char *mirrors[OPML_MAX_URLS] = {0}, *mproxies[OPML_MAX_URLS] = {0};
	char *gz_mirrors = gz_attr(n, "mirrors");
	char *gz_mproxies = gz_attr(n, "mirror-proxies");
	char *gz_proxy = trim(gz_attr(n, "proxy"));
	char *gz_interval = gz_attr(n, "interval");
	char *gz_source = trim(gz_attr(n, "title-source"));
	char *title = trim(attr(n, "text"));
	size_t nm, np, i;
	struct opml_feed f = {.line = (int)xmlGetLineNo(n)};
	struct opml_feed *v;
	int r = 0;

	if (title == NULL || *title == '\0') {
		free(title);
		title = trim(attr(n, "title"));
	}
	if (title && *title == '\0') {
		free(title);
		title = NULL;
	}
	nm = split(gz_mirrors, mirrors, OPML_MAX_URLS - 1);
	np = split(gz_mproxies, mproxies, OPML_MAX_URLS - 1);
	if (!http_url(url)) {
		r = add_skip(st, url, "not an http or https URL", f.line);
		if (r == 0)
			r = 1;
		goto out;
	}
	f.urls = calloc(nm + 1, sizeof(char *));
	f.proxies = calloc(nm + 1, sizeof(char *));
	if (f.urls == NULL || f.proxies == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* counted at once, so that feed_clear() frees it on any error */
	f.urls[f.n_urls++] = url;
	url = NULL;
	if (gz_proxy && *gz_proxy) {
		if (!proxy_url(gz_proxy)) {
			r = fail(st, f.line,
			         "gazette:proxy is not a proxy URL");
			goto out;
		}
		f.proxies[0] = gz_proxy;
		gz_proxy = NULL;
	}
	for (i = 0; i < nm; i++) {
		if (!http_url(mirrors[i])) {
			r = add_skip(st, mirrors[i],
			             "mirror is not an http or https URL",
			             f.line);
			if (r < 0)
				goto out;
			continue;
		}
		f.urls[f.n_urls++] = mirrors[i];
		mirrors[i] = NULL;
		if (i < np && strcmp(mproxies[i], "-") != 0) {
			if (!proxy_url(mproxies[i])) {
				r = fail(st, f.line,
				         "gazette:mirror-proxies has a value "
				         "that is not a proxy URL");
				goto out;
			}
			f.proxies[f.n_urls - 1] = mproxies[i];
			mproxies[i] = NULL;
		}
	}
	if (gz_interval && *gz_interval) {
		char *end;
		long long s = strtoll(gz_interval, &end, 10);

		if (*end != '\0' || s < 0 || s > 366LL * 86400) {
			r = fail(st, f.line,
			         "gazette:interval is not a number of seconds");
			goto out;
		}
		f.interval = s;
	}
	if (category && *category) {
		f.category = strdup(category);
		if (f.category == NULL) {
			r = -ENOMEM;
			goto out;
		}
	} else {
		char *cat = trim(attr(n, "category"));
		char *c = cat;

		/* OPML 2.0: comma-separated, slash-delimited paths */
		if (c) {
			c[strcspn(c, ",")] = '\0';
			while (*c == '/')
				c++;
			if (*c)
				f.category = strdup(c);
		}
		free(cat);
	}
	if (gz_source && strcmp(gz_source, "none") == 0) {
		free(title);
		title = NULL;
	}
	f.feed_title = title && gz_source && strcmp(gz_source, "feed") == 0;
	f.title = title;
	title = NULL;
	if (st->doc->n_feeds == st->cap_feeds) {
		size_t cap = st->cap_feeds ? st->cap_feeds * 2 : 64;

		v = reallocarray(st->doc->feeds, cap, sizeof(*v));
		if (v == NULL) {
			r = -ENOMEM;
			goto out;
		}
		st->doc->feeds = v;
		st->cap_feeds = cap;
	}
	v = st->doc->feeds;
	v[st->doc->n_feeds++] = f;
	f = (struct opml_feed){0};
out:
	feed_clear(&f);
	for (i = 0; i < OPML_MAX_URLS; i++) {
		free(mirrors[i]);
		free(mproxies[i]);
	}
	free(url);
	free(title);
	free(gz_mirrors);
	free(gz_mproxies);
	free(gz_proxy);
	free(gz_interval);
	free(gz_source);
	return r < 0 ? r : 0;
}

static int walk(struct opml_state *st, xmlNodePtr parent, const char *path,
                int depth);

/* One <outline>: a feed when it has xmlUrl, else a folder. */
static int
outline(struct opml_state *st, xmlNodePtr n, const char *path, int depth)
{
	char *url = trim(attr(n, "xmlUrl"));
	char *name, *sub;
	int r;

	if (++st->outlines > OPML_MAX_OUTLINES)
		return fail(st, (int)xmlGetLineNo(n), "too many outlines");
	if (url && *url)
		return outline_feed(st, n, url, path);
	if (url) {
		free(url);
		return add_skip(st, NULL, "empty xmlUrl", (int)xmlGetLineNo(n));
	}
	if (n->children == NULL)
		return 0; /* an empty folder or a separator */
	name = trim(attr(n, "text"));
	if (name == NULL || *name == '\0') {
		free(name);
		name = trim(attr(n, "title"));
	}
	if (name && *name) {
		if (path && *path) {
			if (asprintf(&sub, "%s/%s", path, name) < 0)
				sub = NULL;
		} else {
			sub = strdup(name);
		}
	} else {
		sub = strdup(path ? path : "");
	}
	free(name);
	if (sub == NULL)
		return -ENOMEM;
	r = walk(st, n, sub, depth + 1);
	free(sub);
	return r;
}

/* The outlines under parent. */
static int
walk(struct opml_state *st, xmlNodePtr parent, const char *path, int depth)
{
	if (depth > OPML_MAX_DEPTH)
		return fail(st, (int)xmlGetLineNo(parent),
		            "outlines nested too deep");
	for (xmlNodePtr c = parent->children; c; c = c->next) {
		int r;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (xmlStrcmp(c->name, (const xmlChar *)"outline") != 0)
			continue;
		r = outline(st, c, path, depth);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The first child element called name. */
static xmlNodePtr
child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(c->name, (const xmlChar *)name) == 0)
			return c;
	return NULL;
}

/* Keep the first parse error: the later ones follow from it. */
static void
on_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;
	struct opml_state *st = ctxt ? ctxt->_private : NULL;

	if (st == NULL || st->msg != NULL || e == NULL ||
	    e->level < XML_ERR_ERROR)
		return;
	st->line = e->line;
	st->msg = trim(strdup(e->message ? e->message : "not well-formed"));
}

/*
 * libxml2's messages with no parser context, in pieces: an encoding
 * error is one, and says what is wrong better than the parse errors
 * that follow it. Kept, not printed: lib/ never prints.
 */
static void __attribute__((format(printf, 2, 3)))
on_generic(void *data, const char *fmt, ...)
{
	struct opml_state *st = data;
	size_t room = sizeof(st->generic) - st->generic_len;
	va_list ap;
	int n;

	if (room <= 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(st->generic + st->generic_len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		st->generic_len += (size_t)n < room ? (size_t)n : room - 1;
}

/* The first line of what on_generic() kept, said plainly, or NULL. */
static char *
generic_msg(struct opml_state *st)
{
	char *m = st->generic, *nl, *label, *bytes, *ret;

	if ((nl = strchr(m, '\n')))
		*nl = '\0';
	if ((label = strstr(m, " : ")))
		m = label + 3;
	/* "input conversion failed due to input error, bytes 0x81 0x20" */
	if (strstr(m, "conversion failed") && (bytes = strstr(m, "bytes 0x"))) {
		if (asprintf(&ret, "bytes not in the file's encoding, from %s",
		             bytes + 6) < 0)
			return NULL;
		return ret;
	}
	return *m ? strdup(m) : NULL;
}

/* Parse an OPML document. */
int
opml_parse(const char *buf, size_t len, struct opml_doc **ret, char **ret_err)
{
	struct opml_state st = {0};
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	xmlNodePtr root, body, head, title;
	xmlGenericErrorFunc old_generic;
	void *old_generic_ctx;
	int r;

	if (len > OPML_MAX_SIZE) {
		st.msg = strdup("file too large");
		r = -EFBIG;
		goto out;
	}
	st.doc = calloc(1, sizeof(*st.doc));
	ctxt = xmlNewParserCtxt();
	if (st.doc == NULL || ctxt == NULL) {
		r = -ENOMEM;
		goto out;
	}
	ctxt->_private = &st;
	ctxt->sax->serror = on_error;
	/* no XML_PARSE_NOENT / DTDLOAD / DTDATTR: entities stay unloaded */
	old_generic = xmlGenericError;
	old_generic_ctx = xmlGenericErrorContext;
	xmlSetGenericErrorFunc(&st, on_generic);
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
	                        XML_PARSE_NONET | XML_PARSE_NOERROR |
	                                XML_PARSE_NOWARNING);
	xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
	if (doc == NULL || !ctxt->wellFormed) {
		char *g = generic_msg(&st);
		if (g) {
			free(st.msg);
			st.msg = g;
		}
		if (st.msg == NULL)
			st.msg = strdup("not well-formed XML");
		r = -EINVAL;
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL || xmlStrcmp(root->name, (const xmlChar *)"opml")) {
		r = fail(&st, root ? (int)xmlGetLineNo(root) : 1,
		         "not an OPML document (no <opml> root)");
		goto out;
	}
	if (doc->intSubset && doc->intSubset->entities) {
		r = fail(&st, (int)xmlGetLineNo(root),
		         "entity declarations are not accepted");
		goto out;
	}
	head = child(root, "head");
	title = head ? child(head, "title") : NULL;
	if (title) {
		xmlChar *t = xmlNodeGetContent(title);

		st.doc->title = t ? strdup((const char *)t) : NULL;
		xmlFree(t);
	}
	body = child(root, "body");
	if (body == NULL) {
		r = fail(&st, (int)xmlGetLineNo(root), "no <body>");
		goto out;
	}
	r = walk(&st, body, "", 0);
	if (r < 0)
		goto out;
	*ret = st.doc;
	st.doc = NULL;
out:
	if (r < 0 && ret_err && st.msg) {
		if (st.line > 0) {
			if (asprintf(ret_err, "line %d: %s", st.line, st.msg) <
			    0)
				*ret_err = NULL;
		} else {
			*ret_err = st.msg;
			st.msg = NULL;
		}
	}
	free(st.msg);
	opml_doc_free(st.doc);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return r;
}

/* ---- writing ---- */

/* Write one attribute, name="escaped value". */
static void
put_attr(FILE *f, const char *name, const char *value)
{
	fprintf(f, " %s=\"", name);
	html_escape(f, value);
	fputc('"', f);
}

/* Write one feed's outline. */
static void
put_feed(FILE *f, const struct store_feed *feed, const char *indent)
{
	const char *title = feed->title ? feed->title : feed->urls[0].url;
	bool mproxy = false;

	fprintf(f, "%s<outline type=\"rss\"", indent);
	put_attr(f, "text", title);
	put_attr(f, "title", title);
	put_attr(f, "xmlUrl", feed->urls[0].url);
	if (feed->urls[0].proxy)
		put_attr(f, "gazette:proxy", feed->urls[0].proxy);
	if (feed->n_urls > 1) {
		fputs(" gazette:mirrors=\"", f);
		for (size_t i = 1; i < feed->n_urls; i++) {
			if (i > 1)
				fputc(' ', f);
			html_escape(f, feed->urls[i].url);
			if (feed->urls[i].proxy)
				mproxy = true;
		}
		fputc('"', f);
	}
	if (mproxy) {
		fputs(" gazette:mirror-proxies=\"", f);
		for (size_t i = 1; i < feed->n_urls; i++) {
			if (i > 1)
				fputc(' ', f);
			if (feed->urls[i].proxy)
				html_escape(f, feed->urls[i].proxy);
			else
				fputc('-', f);
		}
		fputc('"', f);
	}
	if (feed->interval > 0)
		fprintf(f, " gazette:interval=\"%" PRId64 "\"", feed->interval);
	put_attr(f, "gazette:title-source",
	         feed->user_title   ? "user"
	         : feed->feed_title ? "feed"
	                            : "none");
	fputs("/>\n", f);
}

/* t as an RFC 822 date, as OPML's dateCreated wants (no locale). */
static void
rfc822(int64_t t, char *buf, size_t size)
{
	static const char days[][4] = {"Sun", "Mon", "Tue", "Wed",
	                               "Thu", "Fri", "Sat"};
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr",
	                                 "May", "Jun", "Jul", "Aug",
	                                 "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	         days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Order feeds by category (none first), then by id. */
static int
by_category(const void *a, const void *b)
{
	const struct store_feed *x = *(const struct store_feed *const *)a;
	const struct store_feed *y = *(const struct store_feed *const *)b;
	int c;

	if (!x->category != !y->category)
		return x->category ? 1 : -1;
	if (x->category && (c = strcmp(x->category, y->category)) != 0)
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Write the feeds as OPML 2.0. */
int
opml_write(FILE *f, struct store_feed *const *feeds, size_t n, int64_t now)
{
	struct store_feed **v = calloc(n ? n : 1, sizeof(*v));
	char date[160];
	const char *open = NULL;

	if (v == NULL)
		return -ENOMEM;
	memcpy(v, feeds, n * sizeof(*v));
	qsort(v, n, sizeof(*v), by_category);
	rfc822(now, date, sizeof(date));
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<opml version=\"2.0\" xmlns:gazette=\"" OPML_NS "\">\n"
	      "  <head>\n"
	      "    <title>gazette subscriptions</title>\n",
	      f);
	fprintf(f, "    <dateCreated>%s</dateCreated>\n", date);
	fputs("  </head>\n  <body>\n", f);
	for (size_t i = 0; i < n; i++) {
		if (v[i]->n_urls == 0)
			continue;
		if (v[i]->category &&
		    (open == NULL || strcmp(open, v[i]->category) != 0)) {
			if (open)
				fputs("    </outline>\n", f);
			open = v[i]->category;
			fputs("    <outline", f);
			put_attr(f, "text", open);
			fputs(">\n", f);
		}
		put_feed(f, v[i], open ? "      " : "    ");
	}
	if (open)
		fputs("    </outline>\n", f);
	fputs("  </body>\n</opml>\n", f);
	free(v);
	return ferror(f) ? -EIO : 0;
}
