/*
 * The parser's mapping: the elements of RSS 0.9x/1.0/2.0, Atom 0.3/1.0,
 * RDF, CDF and their modules (dc, dcterms, content, media, itunes, sy)
 * onto struct gz_feed and gz_entry, with the precedence feedparser has.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include "gazette/date.h"
#include "gazette/url.h"
#include "parse-html.h"
#include "parse-internal.h"

static const char *const xml_ns = "http://www.w3.org/XML/1998/namespace";
static const char *const atom10_ns = "http://www.w3.org/2005/Atom";

/* Classify a namespace URI (or, when undeclared, its prefix). */
static enum ns
ns_of(const xmlChar *uri, const xmlChar *prefix)
{
	static const struct {
		const char *uri;
		enum ns ns;
	} map[] = {
	        {"http://www.w3.org/2005/Atom", NS_CORE},
	        {"http://purl.org/atom/ns#", NS_CORE},
	        {"http://purl.org/rss/1.0/", NS_CORE},
	        {"http://my.netscape.com/rdf/simple/0.9/", NS_CORE},
	        {"http://backend.userland.com/rss", NS_CORE},
	        {"http://backend.userland.com/rss2", NS_CORE},
	        {"http://blogs.law.harvard.edu/tech/rss", NS_CORE},
	        {"http://purl.org/net/rss1.1#", NS_CORE},
	        {"http://www.w3.org/1999/02/22-rdf-syntax-ns#", NS_RDF},
	        {"http://purl.org/rss/1.0/modules/content/", NS_CONTENT},
	        {"http://purl.org/dc/elements/1.1/", NS_DC},
	        {"http://purl.org/dc/elements/1.0/", NS_DC},
	        {"http://purl.org/dc/terms/", NS_DCTERMS},
	        {"http://search.yahoo.com/mrss/", NS_MEDIA},
	        {"http://search.yahoo.com/mrss", NS_MEDIA},
	        {"http://www.itunes.com/dtds/podcast-1.0.dtd", NS_ITUNES},
	        {"http://example.com/DTDs/PodCast-1.0.dtd", NS_ITUNES},
	        {"http://www.w3.org/1999/xhtml", NS_XHTML},
	        {"http://purl.org/rss/1.0/modules/syndication/", NS_SY},
	};
	static const struct {
		const char *prefix;
		enum ns ns;
	} pmap[] = {
	        {"atom", NS_CORE},       {"rdf", NS_RDF},
	        {"content", NS_CONTENT}, {"dc", NS_DC},
	        {"dcterms", NS_DCTERMS}, {"media", NS_MEDIA},
	        {"itunes", NS_ITUNES},   {"xhtml", NS_XHTML},
	        {"sy", NS_SY},
	};

	if (uri == NULL || uri[0] == '\0') {
		if (prefix == NULL)
			return NS_CORE;
		for (size_t i = 0; i < sizeof(pmap) / sizeof(pmap[0]); i++)
			if (strcasecmp(pmap[i].prefix, (const char *)prefix) ==
			    0)
				return pmap[i].ns;
		return NS_OTHER;
	}
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(map[i].uri, (const char *)uri) == 0)
			return map[i].ns;
	return NS_OTHER;
}

/* The current (innermost) frame, or NULL at top level. */
static struct frame *
top(struct gz_parser *p)
{
	return p->depth ? &p->stack[p->depth - 1] : NULL;
}

/* Append text to the capture, escaped for XHTML when asked. */
static void
text_add(struct gz_parser *p, const char *s, size_t n, bool escape)
{
	size_t room, start = 0;

	/* the field (not the markup inside it) bounds the text */
	for (size_t i = p->depth; i > 0; i--) {
		if (p->stack[i - 1].cap == CAP_NONE ||
		    p->stack[i - 1].kind == K_MARKUP)
			continue;
		start = p->stack[i - 1].text_start;
		break;
	}
	room = p->opts.max_field > p->text.len - start
	               ? p->opts.max_field - (p->text.len - start)
	               : 0;
	if (!escape) {
		if (n > room) {
			n = room;
			p->field_truncated = true;
		}
		if (!parse_buf_add(&p->text, s, n))
			parse_fail(p, -ENOMEM);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		size_t rn = 1;
		switch (s[i]) {
		case '<':
			rep = "&lt;";
			rn = 4;
			break;
		case '>':
			rep = "&gt;";
			rn = 4;
			break;
		case '&':
			rep = "&amp;";
			rn = 5;
			break;
		default:
			break;
		}
		if (rn > room) {
			p->field_truncated = true;
			return;
		}
		if (!parse_buf_add(&p->text, rep ? rep : s + i, rn)) {
			parse_fail(p, -ENOMEM);
			return;
		}
		room -= rn;
	}
}

/* SAX characters and CDATA: text of the captured field, if any. */
void
parse_map_chars(void *ctx, const xmlChar *ch, int len)
{
	struct gz_parser *p = ctx;
	struct frame *f = top(p);

	if (!p->ctxt->wellFormed)
		parse_xml_wf_reset(p);
	if (f == NULL || f->cap == CAP_NONE || len <= 0)
		return;
	text_add(p, (const char *)ch, (size_t)len, f->cap == CAP_XHTML);
}

/* Trim ASCII whitespace in place; returns s. */
static char *
trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	if (i)
		memmove(s, s + i, n - i + 1);
	return s;
}

/* Replace *dst with src (taking ownership). */
static void
set_str(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

/* A link resolved against base, newly allocated (NULL: out of memory). */
static char *
resolve(const char *base, const char *ref, bool keep_scheme)
{
	char *r = NULL;

	if (keep_scheme ? url_join(base, ref, &r) : url_resolve(base, ref, &r))
		return NULL;
	return r;
}

/* Grow an array of n elements of size sz by one; NULL on failure. */
static void *
grow(void *arr, size_t n, size_t sz)
{
	if (n >= MAX_LIST)
		return NULL;
	return realloc(arr, (n + 1) * sz);
}

/* Add a link to the current entry. Takes href. */
void
parse_map_add_link(struct gz_parser *p, char *href, const char *rel,
                   const char *type)
{
	struct gz_entry *e = p->entry;
	struct gz_link *l = grow(e->links, e->n_links, sizeof(*l));

	if (l == NULL) {
		free(href);
		return;
	}
	e->links = l;
	l += e->n_links++;
	l->href = href;
	l->rel = strdup(rel ? rel : "alternate");
	l->type = type ? strdup(type) : NULL;
}

/* Add an enclosure to the current entry. Takes the strings. */
void
parse_map_add_enclosure(struct gz_parser *p, char *url, char *type,
                        char *length)
{
	struct gz_entry *e = p->entry;
	struct gz_enclosure *x =
	        grow(e->enclosures, e->n_enclosures, sizeof(*x));

	if (x == NULL) {
		free(url);
		free(type);
		free(length);
		return;
	}
	e->enclosures = x;
	x += e->n_enclosures++;
	x->url = url;
	x->type = type;
	x->length = length;
}

/* Add a category to the current entry. Takes term. */
void
parse_map_add_category(struct gz_parser *p, char *term)
{
	struct gz_entry *e = p->entry;
	char **c;

	if (term == NULL)
		return;
	c = grow(e->categories, e->n_categories, sizeof(*c));
	if (c == NULL) {
		free(term);
		return;
	}
	e->categories = c;
	c[e->n_categories++] = term;
}

/* An Atom link element (href attribute), in an entry or the feed. */
static void
atom_link(struct gz_parser *p, struct frame *f, int na, const xmlChar **attrs)
{
	char *href = parse_xml_attr_get(p, na, attrs, "href");
	char *rel = parse_xml_attr_get(p, na, attrs, "rel");
	char *type = parse_xml_attr_get(p, na, attrs, "type");
	char *url;

	if (href == NULL)
		goto out;
	url = resolve(f->base, href, false);
	if (url == NULL)
		goto out;
	if (rel)
		trim(rel);
	if (p->entry && !p->source_level) {
		bool alt = rel == NULL || rel[0] == '\0' ||
		           strcmp(rel, "alternate") == 0;
		if (alt && p->entry->link == NULL)
			p->entry->link = strdup(url);
		if (rel && strcmp(rel, "enclosure") == 0)
			parse_map_add_enclosure(
			        p, strdup(url), type ? strdup(type) : NULL,
			        parse_xml_attr_get(p, na, attrs, "length"));
		parse_map_add_link(p, url, rel && rel[0] ? rel : "alternate",
		                   type);
	} else if (!p->entry && !p->source_level) {
		if ((rel == NULL || rel[0] == '\0' ||
		     strcmp(rel, "alternate") == 0) &&
		    p->feed->link == NULL)
			p->feed->link = url;
		else
			free(url);
	} else {
		free(url);
	}
out:
	free(href);
	free(rel);
	free(type);
}

/* The content kind an Atom text construct's attributes announce. */
static enum ctype
content_type_of(struct gz_parser *p, int na, const xmlChar **attrs,
                enum ctype dflt, bool *wrapper, bool *b64)
{
	char *type = parse_xml_attr_get(p, na, attrs, "type");
	char *mode = parse_xml_attr_get(p, na, attrs, "mode");
	enum ctype ct = dflt;

	*wrapper = false;
	*b64 = false;
	if (type) {
		trim(type);
		if (strcasecmp(type, "xhtml") == 0) {
			ct = CT_XHTML;
			*wrapper = true;
		} else if (strcasecmp(type, "application/xhtml+xml") == 0) {
			ct = CT_XHTML;
		} else if (strcasecmp(type, "html") == 0 ||
		           strcasecmp(type, "text/html") == 0) {
			ct = CT_HTML;
		} else if (strcasecmp(type, "text") == 0 ||
		           strncasecmp(type, "text/", 5) == 0) {
			ct = CT_TEXT;
		} else if (strchr(type, '/') && !strstr(type, "xml")) {
			ct = CT_TEXT;
			*b64 = true;
		}
	}
	if (mode) {
		trim(mode);
		if (strcasecmp(mode, "base64") == 0)
			*b64 = true;
		else if (strcasecmp(mode, "escaped") == 0 && ct == CT_XHTML)
			ct = CT_HTML;
		else if (strcasecmp(mode, "xml") == 0)
			ct = CT_XHTML;
	}
	free(type);
	free(mode);
	return ct;
}

/* HTML elements serialized as <x />. */
static bool
is_void(const char *name)
{
	static const char *const v[] = {"area",  "base", "br",    "col",
	                                "embed", "hr",   "img",   "input",
	                                "link",  "meta", "param", "source",
	                                "track", "wbr",  NULL};

	for (size_t i = 0; v[i]; i++)
		if (strcasecmp(v[i], name) == 0)
			return true;
	return false;
}

/* Attributes of HTML elements that hold URLs (feedparser's list). */
static bool
is_url_attr(const char *name)
{
	static const char *const v[] = {
	        "href",     "src",    "cite",     "background", "action",
	        "longdesc", "usemap", "codebase", "data",       "classid",
	        "profile",  "poster", NULL};

	for (size_t i = 0; v[i]; i++)
		if (strcasecmp(v[i], name) == 0)
			return true;
	return false;
}

/* Serialize a start tag of markup inside captured content. */
static void
markup_start(struct gz_parser *p, struct frame *f, const xmlChar *local,
             const xmlChar *uri, int na, const xmlChar **attrs)
{
	static const char *const ns_svg = "http://www.w3.org/2000/svg";
	static const char *const ns_math = "http://www.w3.org/1998/Math/MathML";

	/* as feedparser: the element's name without its prefix, and the
	 * namespace of SVG and MathML said on their root */
	text_add(p, "<", 1, false);
	text_add(p, (const char *)local, strlen((const char *)local), false);
	if (uri && ((!strcmp((const char *)local, "svg") &&
	             !strcmp((const char *)uri, ns_svg)) ||
	            (!strcmp((const char *)local, "math") &&
	             !strcmp((const char *)uri, ns_math)))) {
		text_add(p, " xmlns=\"", 8, false);
		text_add(p, (const char *)uri, strlen((const char *)uri),
		         false);
		text_add(p, "\"", 1, false);
	}
	for (int i = 0; i < na; i++) {
		const xmlChar **a = attrs + i * 5;
		char *v = parse_xml_attr_dup(p, a[3], a[4]);
		if (v == NULL)
			continue;
		if (a[2] == NULL && is_url_attr((const char *)a[0])) {
			char *r = resolve(f->base, v, false);
			if (r) {
				free(v);
				v = r;
			}
		}
		text_add(p, " ", 1, false);
		if (a[1]) {
			text_add(p, (const char *)a[1],
			         strlen((const char *)a[1]), false);
			text_add(p, ":", 1, false);
		}
		text_add(p, (const char *)a[0], strlen((const char *)a[0]),
		         false);
		text_add(p, "=\"", 2, false);
		for (const char *s = v; *s; s++) {
			if (*s == '"')
				text_add(p, "&quot;", 6, false);
			else if (*s == '&')
				text_add(p, "&amp;", 5, false);
			else if (*s == '<')
				text_add(p, "&lt;", 4, false);
			else
				text_add(p, s, 1, false);
		}
		text_add(p, "\"", 1, false);
		free(v);
	}
	if (f->void_elem)
		text_add(p, " />", 3, false);
	else
		text_add(p, ">", 1, false);
}

/* Start a new entry. */
static void
entry_begin(struct gz_parser *p)
{
	p->entry = calloc(1, sizeof(*p->entry));
	if (p->entry == NULL) {
		parse_fail(p, -ENOMEM);
		return;
	}
	p->entry->published = GZ_NO_DATE;
	p->entry->updated = GZ_NO_DATE;
	p->entry_level = p->depth;
}

/* Pick the field of an element in the feed or an entry. */
static enum field
field_of(struct gz_parser *p, enum ns ns, const char *n, bool in_entry,
         bool has_href)
{
	switch (ns) {
	case NS_CORE:
		if (!strcasecmp(n, "title"))
			return F_TITLE;
		if (!strcasecmp(n, "link") && !has_href)
			return F_LINK;
		if (!strcasecmp(n, "description"))
			return in_entry ? F_SUMMARY : F_SUBTITLE;
		if (!strcasecmp(n, "summary") || !strcasecmp(n, "abstract"))
			return in_entry ? F_SUMMARY
			                : (!strcasecmp(n, "abstract")
			                           ? F_SUBTITLE
			                           : F_NONE);
		if (!strcasecmp(n, "content") || !strcasecmp(n, "fullitem"))
			return in_entry ? F_CONTENT : F_NONE;
		if (!strcasecmp(n, "body"))
			return in_entry ? F_CONTENT : F_NONE;
		if (!strcasecmp(n, "tags"))
			return in_entry ? F_KEYWORDS : F_NONE;
		if (!strcasecmp(n, "subtitle") || !strcasecmp(n, "tagline"))
			return in_entry ? F_NONE : F_SUBTITLE;
		if (!strcasecmp(n, "id"))
			return F_ID;
		if (!strcasecmp(n, "guid"))
			return in_entry ? F_GUID : F_NONE;
		if (!strcasecmp(n, "pubDate") || !strcasecmp(n, "published") ||
		    !strcasecmp(n, "issued"))
			return F_PUBLISHED;
		if (!strcasecmp(n, "updated") || !strcasecmp(n, "modified") ||
		    (!strcasecmp(n, "lastBuildDate") && !in_entry))
			return F_UPDATED;
		if (!strcasecmp(n, "managingEditor") && !in_entry)
			return F_AUTHOR;
		if (!strcasecmp(n, "category"))
			return in_entry ? F_CATEGORY : F_NONE;
		if (!strcasecmp(n, "language"))
			return in_entry ? F_NONE : F_LANGUAGE;
		if (!strcasecmp(n, "generator"))
			return in_entry ? F_NONE : F_GENERATOR;
		if (!strcasecmp(n, "ttl"))
			return in_entry ? F_NONE : F_TTL;
		return F_NONE;
	case NS_CONTENT:
		return in_entry && !strcasecmp(n, "encoded") ? F_CONTENT
		                                             : F_NONE;
	case NS_DC:
		if (!strcasecmp(n, "creator") || !strcasecmp(n, "author"))
			return F_AUTHOR;
		if (!strcasecmp(n, "date"))
			return F_UPDATED;
		if (!strcasecmp(n, "subject"))
			return in_entry ? F_CATEGORY : F_NONE;
		if (!strcasecmp(n, "language"))
			return in_entry ? F_NONE : F_LANGUAGE;
		if (!strcasecmp(n, "title"))
			return F_TITLE;
		if (!strcasecmp(n, "description"))
			return in_entry ? F_SUMMARY : F_SUBTITLE;
		return F_NONE;
	case NS_DCTERMS:
		if (!strcasecmp(n, "modified"))
			return F_UPDATED;
		if (!strcasecmp(n, "issued"))
			return F_PUBLISHED;
		return F_NONE;
	case NS_ITUNES:
		if (!strcasecmp(n, "author"))
			return F_AUTHOR;
		if (!strcasecmp(n, "subtitle"))
			return in_entry ? F_NONE : F_SUBTITLE;
		if (!strcasecmp(n, "summary"))
			return in_entry ? F_SUMMARY : F_SUBTITLE_WEAK;
		if (!strcasecmp(n, "keywords"))
			return in_entry ? F_KEYWORDS : F_NONE;
		return F_NONE;
	case NS_MEDIA:
		if (!strcasecmp(n, "description"))
			return in_entry ? F_SUMMARY : F_NONE;
		if (!strcasecmp(n, "title"))
			return in_entry ? F_TITLE_WEAK : F_NONE;
		if (!strcasecmp(n, "category"))
			return in_entry ? F_CATEGORY : F_NONE;
		return F_NONE;
	case NS_XHTML:
		return in_entry && !strcasecmp(n, "body") ? F_CONTENT : F_NONE;
	case NS_SY:
		if (!strcasecmp(n, "updatePeriod"))
			return in_entry ? F_NONE : F_SY_PERIOD;
		if (!strcasecmp(n, "updateFrequency"))
			return in_entry ? F_NONE : F_SY_FREQ;
		return F_NONE;
	default:
		return F_NONE;
	}
}

/* Inherit or set xml:base and xml:lang of a new frame. */
static void
frame_scope(struct gz_parser *p, struct frame *f, const struct frame *parent,
            int na, const xmlChar **attrs)
{
	f->base = parent ? parent->base : p->base_url;
	f->lang = parent ? parent->lang : NULL;
	for (int i = 0; i < na; i++) {
		const xmlChar **a = attrs + i * 5;
		if (a[2] == NULL || strcmp((const char *)a[2], xml_ns) != 0)
			continue;
		char *v = parse_xml_attr_dup(p, a[3], a[4]);
		if (v == NULL)
			continue;
		if (!strcmp((const char *)a[0], "base")) {
			char *r = resolve(f->base, trim(v), true);
			free(v);
			if (r) {
				/* a broken document may repeat the attribute */
				if (f->base_owned)
					free(f->base);
				f->base = r;
				f->base_owned = true;
			}
		} else if (!strcmp((const char *)a[0], "lang")) {
			if (f->lang_owned)
				free(f->lang);
			f->lang = trim(v);
			for (char *c = v; *c; c++)
				if (*c == '_')
					*c = '-';
			f->lang_owned = true;
		} else {
			free(v);
		}
	}
}

/* true when the n bytes at s are all whitespace. */
static bool
only_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/* CDF: href and lastmod attributes of a channel or item. */
static void
cdf_attrs(struct gz_parser *p, struct frame *f, int na, const xmlChar **attrs)
{
	const xmlChar **a;
	char *href = NULL, *mod = NULL;
	int64_t t;

	/* CDF's names are case-blind: of HREF and href, the first counts */
	for (int i = 0; i < na; i++) {
		a = attrs + i * 5;
		if (a[2] != NULL)
			continue;
		if (href == NULL && !strcasecmp((const char *)a[0], "href"))
			href = parse_xml_attr_dup(p, a[3], a[4]);
		else if (mod == NULL &&
		         !strcasecmp((const char *)a[0], "lastmod"))
			mod = parse_xml_attr_dup(p, a[3], a[4]);
	}
	if (href) {
		char *r = resolve(f->base, trim(href), false);
		if (r && p->entry) {
			parse_map_add_link(p, strdup(r), "alternate",
			                   "text/html");
			set_str(&p->entry->link, r);
		} else if (r) {
			set_str(&p->feed->link, r);
		}
	}
	if (mod && date_parse(mod, &t) == 0) {
		if (p->entry)
			p->entry->updated = t;
		else
			p->feed->updated = t;
	}
	free(href);
	free(mod);
}

/* SAX startElementNs: push a frame and decide what the element is. */
void
parse_map_start(void *ctx, const xmlChar *local, const xmlChar *prefix,
                const xmlChar *uri, int nb_ns, const xmlChar **namespaces,
                int na, int nb_defaulted, const xmlChar **attrs)
{
	struct gz_parser *p = ctx;
	struct frame *parent, *f;
	const char *n = (const char *)local;
	enum ns ns = ns_of(uri, prefix);
	bool in_entry;

	if (ns == NS_OTHER && prefix == NULL)
		ns = NS_CORE;
	(void)nb_ns;
	(void)namespaces;
	(void)nb_defaulted;
	if (!p->ctxt->wellFormed)
		parse_xml_wf_reset(p);
	if (p->error || p->stopped)
		return;
	if (p->depth >= MAX_DEPTH) {
		/* libxml2's push parser does not bound nesting itself */
		parse_bozo(p, BZ_LIMIT,
		           "elements nested deeper than %d: parsing stopped",
		           MAX_DEPTH);
		p->stopped = true;
		xmlStopParser(p->ctxt);
		return;
	}
	if (p->depth == p->stack_cap) {
		size_t cap = p->stack_cap ? p->stack_cap * 2 : 32;
		f = realloc(p->stack, cap * sizeof(*f));
		if (f == NULL) {
			parse_fail(p, -ENOMEM);
			return;
		}
		p->stack = f;
		p->stack_cap = cap;
	}
	parent = top(p);
	f = &p->stack[p->depth++];
	*f = (struct frame){.kind = K_OTHER, .text_start = p->text.len};
	frame_scope(p, f, parent, na, attrs);

	if (parent == NULL) {
		f->kind = K_ROOT;
		p->atom = ns == NS_CORE && !strcasecmp(n, "feed");
		p->feed->is_feed =
		        (ns == NS_CORE &&
		         (!strcasecmp(n, "rss") || !strcasecmp(n, "feed"))) ||
		        (ns == NS_RDF && !strcasecmp(n, "RDF"));
		if (f->lang)
			p->root_lang = strdup(f->lang);
		if (ns == NS_CORE && !strcasecmp(n, "channel"))
			cdf_attrs(p, f, na, attrs);
		return;
	}

	/* inside captured content: serialize it */
	if (parent->cap == CAP_TEXT || parent->cap == CAP_XHTML) {
		f->kind = K_MARKUP;
		f->cap = parent->cap;
		if (parent->strip_wrapper && !strcasecmp(n, "div") &&
		    ns == NS_XHTML &&
		    only_space(p->text.s + parent->text_start,
		               p->text.len - parent->text_start)) {
			p->text.len = parent->text_start;
			f->wrapper = true;
			return;
		}
		f->void_elem = is_void(n);
		markup_start(p, f, local, uri, na, attrs);
		return;
	}
	if (p->ignore_level || p->source_level) {
		f->kind = K_IGNORE;
		return;
	}
	if (parent->kind == K_AUTHOR) {
		if (ns == NS_CORE && !strcasecmp(n, "name")) {
			f->kind = K_FIELD;
			f->field = F_AUTHOR_NAME;
			f->cap = CAP_TEXT;
		} else if (ns == NS_CORE && !strcasecmp(n, "email")) {
			f->kind = K_FIELD;
			f->field = F_AUTHOR_EMAIL;
			f->cap = CAP_TEXT;
		} else {
			f->kind = K_IGNORE;
			p->ignore_level = p->depth;
		}
		return;
	}

	in_entry = p->entry != NULL;
	if (ns == NS_CORE) {
		if (!strcasecmp(n, "channel") && !in_entry) {
			f->kind = K_CHANNEL;
			cdf_attrs(p, f, na, attrs);
			if (f->lang && !p->root_lang)
				p->root_lang = strdup(f->lang);
			return;
		}
		if ((!strcasecmp(n, "item") || !strcasecmp(n, "entry")) &&
		    !in_entry) {
			f->kind = K_ENTRY;
			entry_begin(p);
			if (p->entry) {
				const xmlChar **a = parse_xml_attr_find(
				        na, attrs, "about", true);
				if (a && a[2] && ns_of(a[2], NULL) == NS_RDF) {
					char *v = parse_xml_attr_dup(p, a[3],
					                             a[4]);
					if (v)
						p->entry->id = resolve(
						        f->base, trim(v), true);
					free(v);
				}
				cdf_attrs(p, f, na, attrs);
			}
			return;
		}
		if (!strcasecmp(n, "image")) {
			f->kind = K_IMAGE;
			if (!p->image_level)
				p->image_level = p->depth;
			return;
		}
		if (!strcasecmp(n, "textinput")) {
			f->kind = K_TEXTINPUT;
			if (!p->textinput_level)
				p->textinput_level = p->depth;
			return;
		}
		if (!strcasecmp(n, "source") && in_entry) {
			f->kind = K_SOURCE;
			p->source_level = p->depth;
			return;
		}
		if (!strcasecmp(n, "contributor")) {
			f->kind = K_IGNORE;
			p->ignore_level = p->depth;
			return;
		}
		if (!strcasecmp(n, "author") && !p->image_level &&
		    !p->textinput_level) {
			f->kind = K_AUTHOR;
			f->cap = CAP_OWN;
			p->author_level = p->depth;
			free(p->author_name);
			free(p->author_email);
			p->author_name = p->author_email = NULL;
			return;
		}
		if (!strcasecmp(n, "enclosure") && in_entry) {
			char *url = parse_xml_attr_get(p, na, attrs, "url");
			if (url) {
				char *r = resolve(f->base, trim(url), false);
				char *type = parse_xml_attr_get(p, na, attrs,
				                                "type");
				if (r) {
					parse_map_add_link(p, strdup(r),
					                   "enclosure", type);
					parse_map_add_enclosure(
					        p, r, type,
					        parse_xml_attr_get(p, na, attrs,
					                           "length"));
				} else {
					free(type);
				}
			}
			free(url);
			return;
		}
		if (!strcasecmp(n, "link") &&
		    parse_xml_attr_find(na, attrs, "href", false)) {
			if (!p->image_level && !p->textinput_level)
				atom_link(p, f, na, attrs);
			return;
		}
		if (!strcasecmp(n, "category") && in_entry) {
			char *term = parse_xml_attr_get(p, na, attrs, "term");
			if (term) {
				parse_map_add_category(p, trim(term));
				return;
			}
		}
		if (!strcasecmp(n, "url") && p->image_level && !in_entry) {
			f->kind = K_FIELD;
			f->field = F_IMAGE_URL;
			f->cap = CAP_TEXT;
			return;
		}
	}
	if (ns == NS_ITUNES && !strcasecmp(n, "category") && in_entry) {
		char *t = parse_xml_attr_get(p, na, attrs, "text");
		if (t && trim(t)[0])
			parse_map_add_category(p, t);
		else
			free(t);
		return;
	}
	if (ns == NS_ITUNES && !in_entry &&
	    (!strcasecmp(n, "image") || !strcasecmp(n, "link"))) {
		char *href = parse_xml_attr_get(p, na, attrs, "href"), *rel;
		if (href == NULL)
			href = parse_xml_attr_get(p, na, attrs, "url");
		rel = parse_xml_attr_get(p, na, attrs, "rel");
		if (!strcasecmp(n, "link") &&
		    (rel == NULL || strcmp(rel, "image"))) {
			free(href);
			href = NULL;
		}
		free(rel);
		if (href) {
			char *r = resolve(f->base, trim(href), false);
			if (r)
				set_str(&p->feed->image, r);
		}
		free(href);
		return;
	}
	if (p->image_level || p->textinput_level)
		return;

	f->field = field_of(p, ns, n, in_entry, false);
	if (f->field == F_NONE)
		return;
	f->kind = K_FIELD;
	f->cap = CAP_TEXT;
	if (f->field == F_LINK) {
		f->rel = parse_xml_attr_get(p, na, attrs, "rel");
		f->type = parse_xml_attr_get(p, na, attrs, "type");
		if (f->rel)
			trim(f->rel);
	}
	if (f->field == F_GUID) {
		char *pl = parse_xml_attr_get(p, na, attrs, "isPermaLink");
		f->permalink = pl == NULL || strcasecmp(trim(pl), "false");
		free(pl);
	}
	switch (f->field) {
	case F_TITLE:
	case F_SUBTITLE:
	case F_SUMMARY:
	case F_CONTENT:
		if (f->field == F_SUMMARY && p->entry && p->entry->summary &&
		    !p->entry->content && ns == NS_CORE)
			f->field = F_CONTENT; /* a second summary */
		if (ns == NS_XHTML || !strcasecmp(n, "body")) {
			f->ctype = CT_XHTML;
		} else if (ns == NS_CORE) {
			bool wrap, b64;
			enum ctype dflt = (!strcasecmp(n, "content") ||
			                   !strcasecmp(n, "fullitem") ||
			                   !strcasecmp(n, "abstract") ||
			                   !strcasecmp(n, "description") ||
			                   !strcasecmp(n, "summary"))
			                          ? CT_HTML
			                          : CT_TEXT;
			/* Atom's text constructs are text unless they say */
			if (p->atom && (!strcasecmp(n, "summary") ||
			                !strcasecmp(n, "content")))
				dflt = CT_TEXT;
			f->ctype = content_type_of(p, na, attrs, dflt, &wrap,
			                           &b64);
			f->b64 = b64;
			f->strip_wrapper =
			        wrap ||
			        (uri && !strcmp((const char *)uri, atom10_ns));
		} else {
			f->ctype = CT_HTML;
		}
		if (f->ctype == CT_XHTML)
			f->cap = CAP_XHTML;
		break;
	default:
		break;
	}
}

/* Decode base64 text in place; false when it is not base64. */
static bool
base64_decode(char *s)
{
	static const char *const alpha =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned acc = 0;
	int bits = 0;
	char *o = s;

	for (const char *i = s; *i; i++) {
		const char *c;
		if (isspace((unsigned char)*i))
			continue;
		if (*i == '=')
			break;
		c = strchr(alpha, *i);
		if (c == NULL)
			return false;
		acc = (acc << 6) | (unsigned)(c - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (char)((acc >> bits) & 0xFF);
		}
	}
	*o = '\0';
	return true;
}

/* Seconds of an sy:updatePeriod name, 0 when unknown. */
static int64_t
period_seconds(const char *s)
{
	if (!strcasecmp(s, "hourly"))
		return 3600;
	if (!strcasecmp(s, "daily"))
		return 86400;
	if (!strcasecmp(s, "weekly"))
		return 7 * 86400;
	if (!strcasecmp(s, "monthly"))
		return 30 * 86400;
	if (!strcasecmp(s, "yearly"))
		return 365 * 86400;
	return 0;
}

/* HTML text normalized and its links resolved; plain text as it is. */
static char *
html_field(struct gz_parser *p, struct frame *f, char *s)
{
	char *r = NULL;

	if ((f->ctype == CT_TEXT && (p->atom || !parse_html_looks_like(s))))
		return s;
	if (parse_html_normalize(s, f->base, p->opts.max_field, &r) < 0) {
		free(s);
		parse_fail(p, -ENOMEM);
		return NULL;
	}
	free(s);
	return r;
}

/* Store the text of a finished field where it belongs. Takes s. */
static void
field_store(struct gz_parser *p, struct frame *f, char *s)
{
	struct gz_entry *e = p->source_level ? NULL : p->entry;
	struct gz_feed *fd = p->feed;
	int64_t t;
	char *r;

	if (f->b64 && !base64_decode(s))
		parse_bozo(p, BZ_XML, "content announced as base64 is not");
	switch (f->field) {
	case F_TITLE:
	case F_SUBTITLE:
	case F_SUMMARY:
	case F_CONTENT:
		s = html_field(p, f, s);
		if (s == NULL)
			return;
		break;
	default:
		break;
	}
	switch (f->field) {
	case F_TITLE:
		set_str(e ? &e->title : &fd->title, s);
		return;
	case F_TITLE_WEAK:
		if (e && e->title == NULL)
			e->title = s;
		else
			free(s);
		return;
	case F_LINK:
		r = resolve(f->base, s, false);
		free(s);
		if (r == NULL)
			return;
		if (e && f->rel && f->rel[0] && strcmp(f->rel, "alternate")) {
			if (!strcmp(f->rel, "enclosure"))
				parse_map_add_enclosure(
				        p, strdup(r),
				        f->type ? strdup(f->type) : NULL, NULL);
			parse_map_add_link(p, r, f->rel, f->type);
			return;
		}
		if (e) {
			parse_map_add_link(p, strdup(r), "alternate",
			                   "text/html");
			set_str(&e->link, r);
		} else {
			set_str(&fd->link, r);
		}
		return;
	case F_SUMMARY:
		if (e)
			set_str(&e->summary, s);
		else
			free(s);
		return;
	case F_CONTENT:
		if (e == NULL) {
			free(s);
			return;
		}
		/* feedparser copies text, HTML and XHTML content */
		if (e->summary == NULL)
			e->summary = strdup(s);
		set_str(&e->content, s);
		return;
	case F_SUBTITLE:
		set_str(&fd->subtitle, s);
		return;
	case F_SUBTITLE_WEAK:
		if (fd->subtitle == NULL)
			fd->subtitle = s;
		else
			free(s);
		return;
	case F_ID:
	case F_GUID:
		if (f->field == F_GUID && !f->permalink)
			r = strdup(s);
		else
			r = resolve(f->base, s, true);
		free(s);
		if (r == NULL)
			return;
		if (e) {
			set_str(&e->id, r);
			if (f->field == F_GUID && f->permalink &&
			    e->link == NULL)
				e->link = resolve(f->base, e->id, false);
		} else {
			set_str(&fd->id, r);
		}
		return;
	case F_PUBLISHED:
		if (date_parse(s, &t) < 0)
			t = GZ_NO_DATE;
		free(s);
		if (e)
			e->published = t;
		else
			p->feed_published = t;
		return;
	case F_UPDATED:
		if (date_parse(s, &t) < 0)
			t = GZ_NO_DATE;
		free(s);
		if (e)
			e->updated = t;
		else
			fd->updated = t;
		return;
	case F_AUTHOR:
		set_str(e ? &e->author : &fd->author, s);
		return;
	case F_AUTHOR_NAME:
		set_str(&p->author_name, s);
		return;
	case F_AUTHOR_EMAIL:
		set_str(&p->author_email, s);
		return;
	case F_CATEGORY:
		if (e && s[0])
			parse_map_add_category(p, s);
		else
			free(s);
		return;
	case F_KEYWORDS:
		if (e) {
			char *save = NULL;
			for (char *k = strtok_r(s, ",", &save); k;
			     k = strtok_r(NULL, ",", &save)) {
				trim(k);
				if (k[0])
					parse_map_add_category(p, strdup(k));
			}
		}
		free(s);
		return;
	case F_LANGUAGE:
		set_str(&fd->language, s);
		return;
	case F_GENERATOR:
		set_str(&fd->generator, s);
		return;
	case F_IMAGE_URL:
		r = resolve(f->base, s, false);
		free(s);
		if (r)
			set_str(&fd->image, r);
		return;
	case F_TTL:
		t = strtoll(s, NULL, 10);
		if (t > 0 && t < INT64_MAX / 60)
			fd->ttl = t * 60;
		free(s);
		return;
	case F_SY_PERIOD:
		p->sy_period = period_seconds(trim(s));
		free(s);
		return;
	case F_SY_FREQ:
		t = strtoll(s, NULL, 10);
		if (t > 0 && t <= 1000000)
			p->sy_freq = t;
		free(s);
		return;
	case F_NONE:
		break;
	}
	free(s);
}

/* An entry with nothing to identify or show: no id, link, title or text. */
static bool
entry_is_empty(const struct gz_entry *e)
{
	return e && !e->id && !e->link && !e->title && !e->summary &&
	       !e->content && e->n_links == 0 && e->n_enclosures == 0;
}

/* Hand a finished entry over: to the callback or to the feed. */
void
parse_map_entry_end(struct gz_parser *p)
{
	struct gz_entry *e = p->entry;
	int r;

	p->entry = NULL;
	p->entry_level = 0;
	if (e == NULL)
		return;
	if (p->n_entries >= p->opts.max_entries) {
		gz_entry_clear(e);
		free(e);
		parse_bozo(p, BZ_LIMIT,
		           "more than %zu entries: the rest is ignored",
		           p->opts.max_entries);
		parse_fail(p, -E2BIG);
		return;
	}
	p->n_entries++;
	if (p->opts.on_entry) {
		r = p->opts.on_entry(e, p->opts.arg);
		free(e);
		if (r != 0)
			parse_fail(p, -ECANCELED);
		return;
	}
	if (p->feed->n_entries == p->entries_cap) {
		size_t cap = p->entries_cap ? 2 * p->entries_cap : 16;
		struct gz_entry *arr =
		        reallocarray(p->feed->entries, cap, sizeof(*arr));

		if (arr == NULL) {
			gz_entry_clear(e);
			free(e);
			parse_fail(p, -ENOMEM);
			return;
		}
		p->feed->entries = arr;
		p->entries_cap = cap;
	}
	p->feed->entries[p->feed->n_entries++] = *e;
	free(e);
}

/* Pop the top frame, freeing what it owns. */
static void
frame_pop(struct gz_parser *p)
{
	struct frame *f = &p->stack[--p->depth];

	free(f->rel);
	free(f->type);
	if (f->base_owned)
		free(f->base);
	if (f->lang_owned)
		free(f->lang);
	if (p->image_level > p->depth)
		p->image_level = 0;
	if (p->textinput_level > p->depth)
		p->textinput_level = 0;
	if (p->source_level > p->depth)
		p->source_level = 0;
	if (p->ignore_level > p->depth)
		p->ignore_level = 0;
	if (p->author_level > p->depth)
		p->author_level = 0;
}

/* The captured text of frame f, trimmed, newly allocated; buffer rewound. */
static char *
take_text(struct gz_parser *p, struct frame *f)
{
	char *s;
	size_t a = f->text_start, b = p->text.len;

	while (a < b && isspace((unsigned char)p->text.s[a]))
		a++;
	while (b > a && isspace((unsigned char)p->text.s[b - 1]))
		b--;
	s = malloc(b - a + 1);
	if (s == NULL) {
		parse_fail(p, -ENOMEM);
	} else {
		if (b > a)
			memcpy(s, p->text.s + a, b - a);
		s[b - a] = '\0';
		s = parse_html_fix_text(s);
		if (s == NULL)
			parse_fail(p, -ENOMEM);
	}
	p->text.len = f->text_start;
	return s;
}

/* An author: "name (email)", either alone, or the element's own text. */
static void
author_end(struct gz_parser *p, struct frame *f)
{
	char *own = take_text(p, f), *a = NULL;

	if (own == NULL)
		return;
	if (p->author_name && p->author_email && p->author_name[0] &&
	    p->author_email[0]) {
		if (asprintf(&a, "%s (%s)", p->author_name, p->author_email) <
		    0)
			a = NULL;
	} else if (p->author_name && p->author_name[0]) {
		a = strdup(p->author_name);
	} else if (p->author_email && p->author_email[0]) {
		a = strdup(p->author_email);
	} else {
		a = own;
		own = NULL;
	}
	free(own);
	free(p->author_name);
	free(p->author_email);
	p->author_name = p->author_email = NULL;
	if (a == NULL)
		return;
	if (p->source_level) {
		free(a);
		return;
	}
	set_str(p->entry ? &p->entry->author : &p->feed->author, a);
}

/* SAX endElementNs: finish the element on top of the stack. */
void
parse_map_end(void *ctx, const xmlChar *local, const xmlChar *prefix,
              const xmlChar *uri)
{
	struct gz_parser *p = ctx;
	struct frame *f = top(p);

	(void)uri;
	if (f == NULL || p->stopped)
		return;
	switch (f->kind) {
	case K_MARKUP:
		if (!f->wrapper && !f->void_elem) {
			text_add(p, "</", 2, false);
			text_add(p, (const char *)local,
			         strlen((const char *)local), false);
			text_add(p, ">", 1, false);
		}
		break;
	case K_FIELD: {
		char *s = take_text(p, f);
		if (s)
			field_store(p, f, s);
		break;
	}
	case K_AUTHOR:
		author_end(p, f);
		break;
	case K_ENTRY:
		frame_pop(p);
		parse_map_entry_end(p);
		return;
	default:
		break;
	}
	frame_pop(p);
}

/* Close every open element as if the document had closed them. */
void
parse_map_unwind(struct gz_parser *p)
{
	bool in_entry = p->entry != NULL;

	while (p->depth && !p->error) {
		struct frame *f = top(p);
		char *s;

		switch (f->kind) {
		case K_FIELD:
			s = take_text(p, f);
			if (s)
				field_store(p, f, s);
			break;
		case K_AUTHOR:
			author_end(p, f);
			break;
		case K_ENTRY:
			frame_pop(p);
			/* cut before anything to identify or show: no entry */
			if (entry_is_empty(p->entry)) {
				gz_entry_clear(p->entry);
				free(p->entry);
				p->entry = NULL;
			}
			parse_map_entry_end(p);
			continue;
		default:
			break;
		}
		frame_pop(p);
	}
	if (in_entry)
		parse_bozo(p, BZ_XML, "the document ends inside an entry");
}

/* Pop every open element's frame (a parser freed mid-document). */
void
parse_map_release(struct gz_parser *p)
{
	while (p->depth)
		frame_pop(p);
}
