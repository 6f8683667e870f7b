/*
 * The streaming feed parser: libxml2's SAX2 push interface with a small
 * state machine over the elements of RSS 0.9x/1.0/2.0 and Atom 0.3/1.0.
 *
 * The first bytes are held back until the encoding is known (BOM, XML
 * declaration, HTTP charset) and junk before the first '<' is dropped, so
 * that every chunking hands libxml2 the same bytes. Text of the fields we
 * want is gathered in one growing buffer; nothing is allocated per
 * character.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/entities.h>
#include <libxml/hash.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "gazette/date.h"
#include "gazette/parse.h"
#include "gazette/url.h"
#include "gazette/utf8.h"
#include "parse-html.h"

#define DEFAULT_MAX_ENTRIES 100000
#define DEFAULT_MAX_FIELD   (1024 * 1024)
/* Bytes held back to find the BOM, the XML declaration and the encoding. */
#define SNIFF_MAX 1024
/* Per entry: links, categories and enclosures kept at most. */
#define MAX_LIST 1024
/* Bytes handed to the filter and libxml2 at a time. */
#define PUSH_SLICE (64 * 1024)
/* Deepest element nesting we follow (libxml2's own default limit). */
#define MAX_DEPTH 256
/* Entities an internal DTD subset may declare. */
#define MAX_DECLARED 1024
/* Longest entity replacement text we accept from a DTD subset. */
#define MAX_ENTITY_TEXT 4096
/* Longest DOCTYPE held back until its end has arrived. */
#define MAX_DOCTYPE_HOLD (1024 * 1024)

enum ns {
	NS_CORE, /* no namespace, RSS namespaces, Atom */
	NS_RDF,
	NS_CONTENT,
	NS_DC,
	NS_DCTERMS,
	NS_MEDIA,
	NS_ITUNES,
	NS_XHTML,
	NS_SY,
	NS_OTHER,
};

/* What an element on the stack is. */
enum kind {
	K_OTHER,
	K_ROOT,
	K_CHANNEL,
	K_ENTRY,
	K_IMAGE,
	K_TEXTINPUT,
	K_SOURCE,
	K_IGNORE, /* contributor and the like: nothing inside counts */
	K_AUTHOR, /* author: its own text, or name/email children */
	K_MARKUP, /* an element inside captured content */
	K_FIELD,  /* a field whose text is captured */
};

/* Which field a K_FIELD element fills. */
enum field {
	F_NONE,
	F_TITLE,
	F_TITLE_WEAK, /* media:title: only when there is no title */
	F_LINK,
	F_SUMMARY,
	F_CONTENT,
	F_SUBTITLE,
	F_SUBTITLE_WEAK, /* itunes:summary of a channel: only when unset */
	F_ID,
	F_GUID,
	F_PUBLISHED,
	F_UPDATED,
	F_AUTHOR,
	F_AUTHOR_NAME,
	F_AUTHOR_EMAIL,
	F_CATEGORY,
	F_KEYWORDS,
	F_LANGUAGE,
	F_GENERATOR,
	F_IMAGE_URL,
	F_TTL,
	F_SY_PERIOD,
	F_SY_FREQ,
};

/* How captured text is kept. */
enum cap {
	CAP_NONE,
	CAP_TEXT,  /* decoded text; child elements serialized as markup */
	CAP_XHTML, /* XHTML: markup serialized, text escaped */
	CAP_OWN,   /* author: only the element's own text */
};

/* Content kinds, for summary-from-content and base64. */
enum ctype {
	CT_TEXT,
	CT_HTML,
	CT_XHTML,

};

struct frame {
	enum kind kind;
	enum field field;
	enum cap cap;
	enum ctype ctype;
	bool strip_wrapper; /* the next child div of xhtml content is a wrapper
	                     */
	bool wrapper;       /* this element is that wrapper div */
	bool void_elem;     /* serialized as <x />, no end tag */
	bool permalink;
	bool b64;
	/* the text is base64 */ /* guid isPermaLink was not "false" */
	bool base_owned, lang_owned;
	size_t text_start;
	char *rel, *type; /* of a link whose href is its text */
	char *base;
	char *lang;
};

struct buf {
	char *s;
	size_t len, cap;
};

/*
 * Where a bozo message comes from, in the order the feed's message is
 * picked. Each layer reads the document in order, so its first message
 * is the same however the bytes arrive; the order between layers is
 * not (the byte layers run ahead of libxml2 by as much as a push
 * holds), so the message is the first layer's first, never the first
 * that happened to come.
 */
enum bozo_from {
	BZ_LIMIT,   /* a limit stopped or cut the parse */
	BZ_RAW,     /* the bytes as pushed, against the HTTP headers */
	BZ_START,   /* what the first bytes and the headers say */
	BZ_CONVERT, /* the conversion from another encoding */
	BZ_UTF8,    /* the repair of bad UTF-8 */
	BZ_FILTER,  /* the '&' filter */
	BZ_XML,     /* libxml2, and what the SAX handlers see */
	BZ_N,
};

struct gz_parser {
	struct gz_parser_opts opts;
	char *base_url, *charset, *content_language;
	bool http_text; /* served as text without a charset: us-ascii */
	bool http_nonxml;

	xmlParserCtxtPtr ctxt;
	xmlHashTablePtr entities;      /* name -> xmlEntityPtr we made */
	xmlHashTablePtr refused;       /* name -> why it is not expanded */
	xmlHashTablePtr external_pe;   /* external parameter entities */
	xmlHashTablePtr attr_entities; /* their twins for attribute values */
	size_t n_declared;

	/* sniffing */
	bool started, skipping_junk, skipped_junk;
	struct buf pre;

	/* the '&' filter: bare ampersands escaped before libxml2 sees them */
	bool filter;
	bool utf8; /* the document is UTF-8: bad bytes are read as cp1252 */
	enum { FS_TEXT, FS_COMMENT, FS_CDATA, FS_PI } fs;
	int fmatch;         /* bytes of the end marker seen */
	struct {            /* a DOCTYPE held until it is whole */
		size_t pos; /* bytes of it scanned */
		char quote; /* the open literal's quote, or 0 */
		enum { DT_HEAD, DT_SUBSET, DT_COMMENT, DT_PI, DT_CLOSE } at;
	} dt;
	struct buf hold, fin, fout; /* held-back tail, joined input, output */
	struct buf fix;             /* input with its bad UTF-8 repaired */
	/* a document in another ASCII-compatible encoding, made UTF-8 */
	iconv_t cd;                  /* or (iconv_t)-1 */
	char cd_from[64];            /* the encoding's name, for messages */
	struct buf conv, cin, carry; /* output, joined input, unfinished */

	struct gz_feed *feed;
	int64_t feed_published;
	struct gz_entry *entry;
	int64_t entry_published_fallback;
	size_t n_entries;
	size_t entries_cap; /* of feed->entries, when collected */

	struct frame *stack;
	size_t depth, stack_cap;
	size_t entry_level, image_level, textinput_level, source_level,
	        ignore_level, author_level;
	char *author_name, *author_email;

	struct buf text;
	bool field_truncated;
	bool atom;       /* the root is an Atom feed */
	bool wf_ignored; /* the last error was one we forgive */

	int64_t sy_period, sy_freq;

	/* the first message of each layer (see bozo()) */
	char *bozo_msg[BZ_N];

	int error; /* sticky: -E2BIG, -ECANCELED, -ENOMEM */
	bool finished;
	bool stopped; /* a limit of the document's shape stopped parsing */
	char *root_lang;
};

static const char *const xml_ns = "http://www.w3.org/XML/1998/namespace";
static const char *const atom10_ns = "http://www.w3.org/2005/Atom";

/* Grow b to hold at least need more bytes; false when out of memory. */
static bool
buf_reserve(struct buf *b, size_t need)
{
	size_t cap;
	char *s;

	if (b->len + need < b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap <= b->len + need)
		cap *= 2;
	s = realloc(b->s, cap);
	if (s == NULL)
		return false;
	b->s = s;
	b->cap = cap;
	return true;
}

/* Append n bytes to b; false when out of memory. */
static bool
buf_add(struct buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n + 1))
		return false;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	return true;
}

/* Record the first error that stops parsing, and stop libxml2. */
static void
fail(struct gz_parser *p, int err)
{
	if (p->error == 0)
		p->error = err;
	if (p->ctxt)
		xmlStopParser(p->ctxt);
}

static void bozo(struct gz_parser *p, enum bozo_from from, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Mark the document bozo; the first message of each layer is kept. */
static void
bozo(struct gz_parser *p, enum bozo_from from, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	p->feed->bozo = true;
	if (p->bozo_msg[from])
		return;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	p->bozo_msg[from] = m;
}

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

/* Free an entity we made for the getEntity hook. */
static void
entity_free(void *payload, const xmlChar *name)
{
	xmlEntityPtr ent = payload;

	(void)name;
	if (ent == NULL)
		return;
	xmlFree((xmlChar *)ent->name);
	xmlFree(ent->content);
	xmlFree(ent->orig);
	free(ent);
}

/* A predefined-type entity whose replacement text is text. */
static xmlEntityPtr
entity_make(const xmlChar *name, const char *text)
{
	xmlEntityPtr ent = calloc(1, sizeof(*ent));

	if (ent == NULL)
		return NULL;
	ent->type = XML_ENTITY_DECL;
	ent->etype = XML_INTERNAL_PREDEFINED_ENTITY;
	ent->name = xmlStrdup(name);
	ent->content = xmlStrdup((const xmlChar *)text);
	if (ent->name == NULL || ent->content == NULL) {
		entity_free(ent, NULL);
		return NULL;
	}
	ent->length = xmlStrlen(ent->content);
	return ent;
}

/* Make an entity of name with text and keep it in the parser's table. */
static xmlEntityPtr
entity_cache(struct gz_parser *p, const xmlChar *name, const char *text)
{
	xmlEntityPtr ent = entity_make(name, text);

	if (ent == NULL)
		return NULL;
	if (xmlHashAddEntry(p->entities, name, ent) != 0) {
		entity_free(ent, NULL);
		return NULL;
	}
	return ent;
}

/* The text an undeclared (HTML) or declared entity stands for, or NULL. */
static xmlEntityPtr
entity_find(struct gz_parser *p, const xmlChar *name)
{
	xmlEntityPtr ent;
	const htmlEntityDesc *h;
	char u[8];

	ent = xmlHashLookup(p->entities, name);
	if (ent)
		return ent;
	h = htmlEntityLookup(name);
	if (h == NULL)
		return NULL;
	u[utf8_encode(h->value, u)] = '\0';
	return entity_cache(p, name, u);
}

/* An unknown entity kept as written ("&name;"), cached like the rest. */
static xmlEntityPtr
entity_literal(struct gz_parser *p, const xmlChar *name)
{
	char text[64];

	if (xmlStrlen(name) > 40 || xmlHashSize(p->entities) > 4096)
		return NULL;
	snprintf(text, sizeof(text), "&%s;", (const char *)name);
	return entity_cache(p, name, text);
}

/*
 * In an attribute value libxml2 copies only the first byte of a
 * predefined entity; a general one it leaves as "&name;", which
 * attr_dup() then decodes. So attributes get a general twin.
 */
static xmlEntityPtr
attr_entity(struct gz_parser *p, xmlEntityPtr ent)
{
	xmlEntityPtr twin = xmlHashLookup(p->attr_entities, ent->name);

	if (twin)
		return twin;
	twin = entity_make(ent->name, (const char *)ent->content);
	if (twin == NULL)
		return NULL;
	twin->etype = XML_INTERNAL_GENERAL_ENTITY;
	twin->_private = ent->_private;
	if (xmlHashAddEntry(p->attr_entities, ent->name, twin) != 0) {
		entity_free(twin, NULL);
		return NULL;
	}
	return twin;
}

/* SAX getEntity: declared plain-text entities and HTML's named ones. */
static xmlEntityPtr
on_get_entity(void *ctx, const xmlChar *name)
{
	struct gz_parser *p = ctx;
	xmlEntityPtr ent;

	ent = xmlGetPredefinedEntity(name);
	if (ent)
		return ent;
	ent = entity_find(p, name);
	if (ent == NULL && p->ctxt && p->ctxt->instate == XML_PARSER_CONTENT &&
	    !xmlHashLookup(p->refused, name))
		ent = entity_literal(p, name);
	if (ent == NULL)
		return NULL;
	if (ent->_private == NULL /* HTML, not declared */)
		bozo(p, BZ_XML, "undeclared entity '&%s;' decoded as HTML",
		     (const char *)name);
	if (p->ctxt && p->ctxt->instate == XML_PARSER_ATTRIBUTE_VALUE)
		return attr_entity(p, ent);
	return ent;
}

/* SAX getParameterEntity: none are ever loaded or expanded. */
static xmlEntityPtr
on_get_pentity(void *ctx, const xmlChar *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

/* Remember why a declared entity will not be expanded. */
static void
refuse(struct gz_parser *p, const xmlChar *name, const char *why)
{
	if (p->n_declared >= MAX_DECLARED)
		return;
	if (xmlHashAddEntry(p->refused, name, (void *)why) == 0)
		p->n_declared++;
}

/* SAX entityDecl: keep internal entities whose text is plain. */
static void
on_entity_decl(void *ctx, const xmlChar *name, int type,
               const xmlChar *public_id, const xmlChar *system_id,
               xmlChar *content)
{
	struct gz_parser *p = ctx;
	xmlEntityPtr ent;

	(void)public_id;
	if (type == XML_EXTERNAL_GENERAL_PARSED_ENTITY ||
	    type == XML_EXTERNAL_GENERAL_UNPARSED_ENTITY) {
		refuse(p, name, "is external: not loaded");
		return;
	}
	if (type == XML_EXTERNAL_PARAMETER_ENTITY) {
		/* a non-validating parser may leave it unread */
		if (p->n_declared < MAX_DECLARED &&
		    xmlHashAddEntry(p->external_pe, name, p) == 0)
			p->n_declared++;
		return;
	}
	if (type != XML_INTERNAL_GENERAL_ENTITY)
		return;
	if (content == NULL || xmlStrchr(content, '&') ||
	    xmlStrchr(content, '<') || xmlStrlen(content) > MAX_ENTITY_TEXT) {
		refuse(p, name, "holds markup or references: not expanded");
		return;
	}
	if (p->n_declared >= MAX_DECLARED || xmlHashLookup(p->entities, name))
		return;
	ent = entity_make(name, (const char *)content);
	if (ent == NULL)
		return;
	/* mark it declared (HTML entities found by name have NULL) */
	ent->_private = p;
	if (xmlHashAddEntry(p->entities, name, ent) != 0) {
		entity_free(ent, NULL);
		return;
	}
	p->n_declared++;
}

/* The deny-all external entity loader: nothing is ever fetched. */
static xmlParserInputPtr
deny_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

/* SAX structured errors: any error makes the document bozo. */
static void
on_error(void *ctx, xmlErrorPtr err)
{
	struct gz_parser *p = ctx;
	size_t n;
	char *m;

	if (err == NULL || err->level < XML_ERR_ERROR)
		return;
	/* a parameter entity of the DTD that we never load */
	if ((err->code == XML_WAR_UNDECLARED_ENTITY ||
	     (err->code == XML_ERR_UNDECLARED_ENTITY && err->str1 &&
	      xmlHashLookup(p->external_pe, (const xmlChar *)err->str1))) &&
	    err->message && !strncmp(err->message, "PEReference", 11)) {
		p->wf_ignored = true;
		return;
	}
	if (err->code == XML_ERR_UNDECLARED_ENTITY ||
	    err->code == XML_WAR_UNDECLARED_ENTITY) {
		/* the hook decoded it if HTML knows it */
		const char *why;
		if (err->str1 && entity_find(p, (const xmlChar *)err->str1))
			return;
		why = err->str1 ? xmlHashLookup(p->refused,
		                                (const xmlChar *)err->str1)
		                : NULL;
		if (why) {
			bozo(p, BZ_XML, "entity '%s' %s", err->str1, why);
			return;
		}
	}
	if (p->bozo_msg[BZ_XML]) {
		p->feed->bozo = true;
		return;
	}
	m = strdup(err->message ? err->message : "not well-formed");
	if (m == NULL) {
		p->feed->bozo = true;
		return;
	}
	n = strlen(m);
	while (n > 0 && isspace((unsigned char)m[n - 1]))
		m[--n] = '\0';
	bozo(p, BZ_XML, "line %d: %s", err->line, m);
	free(m);
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
		if (!buf_add(&p->text, s, n))
			fail(p, -ENOMEM);
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
		if (!buf_add(&p->text, rep ? rep : s + i, rn)) {
			fail(p, -ENOMEM);
			return;
		}
		room -= rn;
	}
}

/*
 * libxml2 drops every entity reference once a document is found not
 * well-formed; the error made it bozo already (unless it was one we
 * forgive), so let the parse go on as if it were well-formed.
 */
static void
wf_reset(struct gz_parser *p)
{
	if (!p->wf_ignored)
		p->feed->bozo = true;
	p->wf_ignored = false;
	p->ctxt->wellFormed = 1;
}

/* SAX characters and CDATA: text of the captured field, if any. */
static void
on_chars(void *ctx, const xmlChar *ch, int len)
{
	struct gz_parser *p = ctx;
	struct frame *f = top(p);

	if (!p->ctxt->wellFormed)
		wf_reset(p);
	if (f == NULL || f->cap == CAP_NONE || len <= 0)
		return;
	text_add(p, (const char *)ch, (size_t)len, f->cap == CAP_XHTML);
}

/* Decode what libxml2 leaves in SAX2 attribute values: &#38; and &name;. */
static char *
attr_dup(struct gz_parser *p, const xmlChar *v, const xmlChar *end)
{
	size_t n = (size_t)(end - v);
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (const xmlChar *s = v; s < end;) {
		if (*s == '&') {
			const xmlChar *q = s + 1;
			while (q < end && q - s < 40 &&
			       (isalnum(*q) || *q == '#' || *q == '_'))
				q++;
			if (q < end && *q == ';' && q > s + 1) {
				char name[48];
				size_t nl = (size_t)(q - s - 1);
				memcpy(name, s + 1, nl);
				name[nl] = '\0';
				if (strcmp(name, "#38") == 0) {
					*o++ = '&';
					s = q + 1;
					continue;
				}
				xmlEntityPtr ent =
				        name[0] == '#'
				                ? NULL
				                : entity_find(p,
				                              (xmlChar *)name);
				/* replacement never longer than "&name;" */
				if (ent && (size_t)ent->length <= nl + 2) {
					memcpy(o, ent->content,
					       (size_t)ent->length);
					o += ent->length;
					s = q + 1;
					continue;
				}
			}
		}
		*o++ = (char)*s++;
	}
	*o = '\0';
	out = parse_html_fix_text(out);
	return out;
}

/* Find attribute local (in no namespace, or any when any_ns) in SAX2 form. */
static const xmlChar **
attr_find(int n, const xmlChar **attrs, const char *local, bool any_ns)
{
	for (int i = 0; i < n; i++) {
		const xmlChar **a = attrs + i * 5;
		if (strcmp((const char *)a[0], local) == 0 &&
		    (any_ns || a[2] == NULL))
			return a;
	}
	return NULL;
}

/* A decoded copy of an attribute's value, or NULL when absent. */
static char *
attr_get(struct gz_parser *p, int n, const xmlChar **attrs, const char *local)
{
	const xmlChar **a = attr_find(n, attrs, local, false);

	if (a == NULL)
		return NULL;
	return attr_dup(p, a[3], a[4]);
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
static void
entry_add_link(struct gz_parser *p, char *href, const char *rel,
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
static void
entry_add_enclosure(struct gz_parser *p, char *url, char *type, char *length)
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
static void
entry_add_category(struct gz_parser *p, char *term)
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
	char *href = attr_get(p, na, attrs, "href");
	char *rel = attr_get(p, na, attrs, "rel");
	char *type = attr_get(p, na, attrs, "type");
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
			entry_add_enclosure(p, strdup(url),
			                    type ? strdup(type) : NULL,
			                    attr_get(p, na, attrs, "length"));
		entry_add_link(p, url, rel && rel[0] ? rel : "alternate", type);
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
	char *type = attr_get(p, na, attrs, "type");
	char *mode = attr_get(p, na, attrs, "mode");
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
		char *v = attr_dup(p, a[3], a[4]);
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
		fail(p, -ENOMEM);
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
		char *v = attr_dup(p, a[3], a[4]);
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
			href = attr_dup(p, a[3], a[4]);
		else if (mod == NULL &&
		         !strcasecmp((const char *)a[0], "lastmod"))
			mod = attr_dup(p, a[3], a[4]);
	}
	if (href) {
		char *r = resolve(f->base, trim(href), false);
		if (r && p->entry) {
			entry_add_link(p, strdup(r), "alternate", "text/html");
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
static void
on_start(void *ctx, const xmlChar *local, const xmlChar *prefix,
         const xmlChar *uri, int nb_ns, const xmlChar **namespaces, int na,
         int nb_defaulted, const xmlChar **attrs)
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
		wf_reset(p);
	if (p->error || p->stopped)
		return;
	if (p->depth >= MAX_DEPTH) {
		/* libxml2's push parser does not bound nesting itself */
		bozo(p, BZ_LIMIT,
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
			fail(p, -ENOMEM);
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
				const xmlChar **a =
				        attr_find(na, attrs, "about", true);
				if (a && a[2] && ns_of(a[2], NULL) == NS_RDF) {
					char *v = attr_dup(p, a[3], a[4]);
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
			char *url = attr_get(p, na, attrs, "url");
			if (url) {
				char *r = resolve(f->base, trim(url), false);
				char *type = attr_get(p, na, attrs, "type");
				if (r) {
					entry_add_link(p, strdup(r),
					               "enclosure", type);
					entry_add_enclosure(p, r, type,
					                    attr_get(p, na,
					                             attrs,
					                             "length"));
				} else {
					free(type);
				}
			}
			free(url);
			return;
		}
		if (!strcasecmp(n, "link") &&
		    attr_find(na, attrs, "href", false)) {
			if (!p->image_level && !p->textinput_level)
				atom_link(p, f, na, attrs);
			return;
		}
		if (!strcasecmp(n, "category") && in_entry) {
			char *term = attr_get(p, na, attrs, "term");
			if (term) {
				entry_add_category(p, trim(term));
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
		char *t = attr_get(p, na, attrs, "text");
		if (t && trim(t)[0])
			entry_add_category(p, t);
		else
			free(t);
		return;
	}
	if (ns == NS_ITUNES && !in_entry &&
	    (!strcasecmp(n, "image") || !strcasecmp(n, "link"))) {
		char *href = attr_get(p, na, attrs, "href"), *rel;
		if (href == NULL)
			href = attr_get(p, na, attrs, "url");
		rel = attr_get(p, na, attrs, "rel");
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
		f->rel = attr_get(p, na, attrs, "rel");
		f->type = attr_get(p, na, attrs, "type");
		if (f->rel)
			trim(f->rel);
	}
	if (f->field == F_GUID) {
		char *pl = attr_get(p, na, attrs, "isPermaLink");
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
		fail(p, -ENOMEM);
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
		bozo(p, BZ_XML, "content announced as base64 is not");
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
				entry_add_enclosure(
				        p, strdup(r),
				        f->type ? strdup(f->type) : NULL, NULL);
			entry_add_link(p, r, f->rel, f->type);
			return;
		}
		if (e) {
			entry_add_link(p, strdup(r), "alternate", "text/html");
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
			entry_add_category(p, s);
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
					entry_add_category(p, strdup(k));
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
static void
entry_end(struct gz_parser *p)
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
		bozo(p, BZ_LIMIT, "more than %zu entries: the rest is ignored",
		     p->opts.max_entries);
		fail(p, -E2BIG);
		return;
	}
	p->n_entries++;
	if (p->opts.on_entry) {
		r = p->opts.on_entry(e, p->opts.arg);
		free(e);
		if (r != 0)
			fail(p, -ECANCELED);
		return;
	}
	if (p->feed->n_entries == p->entries_cap) {
		size_t cap = p->entries_cap ? 2 * p->entries_cap : 16;
		struct gz_entry *arr =
		        reallocarray(p->feed->entries, cap, sizeof(*arr));

		if (arr == NULL) {
			gz_entry_clear(e);
			free(e);
			fail(p, -ENOMEM);
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
		fail(p, -ENOMEM);
	} else {
		if (b > a)
			memcpy(s, p->text.s + a, b - a);
		s[b - a] = '\0';
		s = parse_html_fix_text(s);
		if (s == NULL)
			fail(p, -ENOMEM);
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
static void
on_end(void *ctx, const xmlChar *local, const xmlChar *prefix,
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
		entry_end(p);
		return;
	default:
		break;
	}
	frame_pop(p);
}

/* Free the parts of a parser that parse it (not the feed). */
static void
parser_release(struct gz_parser *p)
{
	if (p->ctxt) {
		/* libxml2 keeps a DTD's entities in a document of its own */
		if (p->ctxt->myDoc)
			xmlFreeDoc(p->ctxt->myDoc);
		p->ctxt->myDoc = NULL;
		xmlFreeParserCtxt(p->ctxt);
		p->ctxt = NULL;
	}
	while (p->depth)
		frame_pop(p);
}

/* Where libxml2's context-free messages go: nowhere; lib/ never prints. */
static void
silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* A new parser; opts may be NULL. */
struct gz_parser *
gz_parser_new(const struct gz_parser_opts *opts)
{
	struct gz_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (opts)
		p->opts = *opts;
	if (p->opts.max_entries == 0)
		p->opts.max_entries = DEFAULT_MAX_ENTRIES;
	if (p->opts.max_field == 0)
		p->opts.max_field = DEFAULT_MAX_FIELD;
	p->cd = (iconv_t)-1;
	p->feed = calloc(1, sizeof(*p->feed));
	p->entities = xmlHashCreate(64);
	p->refused = xmlHashCreate(16);
	p->external_pe = xmlHashCreate(4);
	p->attr_entities = xmlHashCreate(16);
	/* the text buffer always exists: offsets into it are never on NULL */
	if (p->feed == NULL || p->entities == NULL || p->refused == NULL ||
	    p->external_pe == NULL || p->attr_entities == NULL ||
	    !buf_reserve(&p->text, 256))
		goto fail;
	p->feed->updated = GZ_NO_DATE;
	p->feed_published = GZ_NO_DATE;
	if (p->opts.base_url && p->opts.base_url[0]) {
		p->base_url = strdup(p->opts.base_url);
		if (p->base_url == NULL)
			goto fail;
	}
	if (p->opts.content_language && p->opts.content_language[0]) {
		p->content_language = strdup(p->opts.content_language);
		if (p->content_language == NULL)
			goto fail;
	}
	p->opts.base_url = p->base_url;
	p->opts.content_language = p->content_language;
	p->opts.content_type = NULL;
	if (opts && opts->content_type) {
		const char *ct = opts->content_type, *c;
		char mime[128];
		size_t n = strcspn(ct, ";");
		while (n > 0 && isspace((unsigned char)ct[n - 1]))
			n--;
		while (n > 0 && isspace((unsigned char)*ct)) {
			ct++;
			n--;
		}
		if (n >= sizeof(mime))
			n = sizeof(mime) - 1;
		memcpy(mime, ct, n);
		mime[n] = '\0';
		c = strcasestr(opts->content_type, "charset=");
		if (c) {
			c += 8;
			while (*c == ' ' || *c == '"' || *c == '\'')
				c++;
			n = strcspn(c, " \"';,");
			if (n > 0 && n < 64)
				p->charset = strndup(c, n);
		}
		if (!strncasecmp(mime, "text/", 5)) {
			p->http_text = p->charset == NULL;
			if (strcasecmp(mime, "text/xml") &&
			    strcasecmp(mime,
			               "text/xml-external-parsed-entity") &&
			    !(n > 4 &&
			      !strcasecmp(mime + strlen(mime) - 4, "+xml")))
				p->http_nonxml = true;
		} else if (mime[0] && strncasecmp(mime, "application/", 12)) {
			p->http_nonxml = true;
		} else if (mime[0] && !strstr(mime, "xml")) {
			p->http_nonxml = true;
		}
	}
	xmlSetExternalEntityLoader(deny_loader);
	/* errors without a parser context (encoders) would go to stderr */
	xmlSetGenericErrorFunc(NULL, silent);
	return p;
fail:
	gz_parser_free(p);
	return NULL;
}

/* The encoding named by the XML declaration at s (n bytes), or "". */
static void
decl_encoding(const char *s, size_t n, char out[64])
{
	const char *end, *e;
	size_t len;

	out[0] = '\0';
	if (s == NULL || n < 6 || memcmp(s, "<?xml", 5) != 0)
		return;
	end = memmem(s, n, "?>", 2);
	if (end == NULL)
		return;
	e = memmem(s, (size_t)(end - s), "encoding", 8);
	if (e == NULL)
		return;
	e += 8;
	while (e < end && (isspace((unsigned char)*e) || *e == '='))
		e++;
	if (e >= end || (*e != '"' && *e != '\''))
		return;
	e++;
	len = 0;
	while (e + len < end && e[len] != '"' && e[len] != '\'' && len < 63)
		len++;
	memcpy(out, e, len);
	out[len] = '\0';
}

/* Feed bytes to libxml2 in pieces it accepts (int sizes). */
static void
xml_push_raw(struct gz_parser *p, const char *buf, size_t len)
{
	while (len > 0 && !p->error) {
		int n = len > (1 << 30) ? (1 << 30) : (int)len;
		xmlParseChunk(p->ctxt, buf, n, 0);
		buf += n;
		len -= (size_t)n;
	}
}

/* Keep s[i..n) for the next push: a reference or tag cut by the chunk. */
static void
filter_hold(struct gz_parser *p, const char *s, size_t i, size_t n)
{
	p->hold.len = 0;
	if (!buf_add(&p->hold, s + i, n - i))
		fail(p, -ENOMEM);
}

/* Length of a well-formed reference body after '&' at s[i], or 0; *more
 * is set when the buffer ends before it could be told. */
static size_t
ref_scan(const char *s, size_t i, size_t n, bool *more)
{
	size_t j = i + 1;

	*more = false;
	if (j < n && s[j] == '#') {
		bool hex;
		j++;
		hex = j < n && (s[j] == 'x' || s[j] == 'X');
		if (hex)
			j++;
		size_t d = j;
		while (j < n && j - i < 40 &&
		       (hex ? isxdigit((unsigned char)s[j])
		            : isdigit((unsigned char)s[j])))
			j++;
		if (j == n) {
			*more = j - i < 40;
			return 0;
		}
		return j > d && s[j] == ';' ? j - i : 0;
	}
	if (j < n && !(isalpha((unsigned char)s[j]) || s[j] == '_' ||
	               s[j] == ':' || (unsigned char)s[j] >= 0x80))
		return 0;
	while (j < n && j - i < 40 &&
	       (isalnum((unsigned char)s[j]) || s[j] == '_' || s[j] == ':' ||
	        s[j] == '.' || s[j] == '-' || (unsigned char)s[j] >= 0x80))
		j++;
	if (j == n) {
		*more = j - i < 40;
		return 0;
	}
	return j > i + 1 && s[j] == ';' ? j - i : 0;
}

/*
 * true once the DOCTYPE at d (avail bytes, from "<!DOCTYPE") has its end.
 * libxml2's push parser looks for the end of an internal subset with a
 * scan that loses its place in a comment cut by the chunk ("<!-- it's
 * ]> -->" then ends the subset early), so the filter holds the whole
 * declaration back and libxml2 gets it in one piece, as from a whole
 * document. p->dt keeps the scan's place between pushes: d is the same
 * held bytes, with more after them, each time until the end is found.
 */
static bool
doctype_whole(struct gz_parser *p, const char *d, size_t avail)
{
	size_t i = p->dt.pos ? p->dt.pos : 9;

	for (; i < avail; i++) {
		char c = d[i];
		size_t rest = avail - i;

		if (p->dt.quote) {
			if (c == p->dt.quote)
				p->dt.quote = 0;
			continue;
		}
		switch (p->dt.at) {
		case DT_HEAD:
			if (c == '"' || c == '\'')
				p->dt.quote = c;
			else if (c == '[')
				p->dt.at = DT_SUBSET;
			else if (c == '>')
				goto whole;
			break;
		case DT_CLOSE:
			if (c == '>')
				goto whole;
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
				break;
			p->dt.at = DT_SUBSET;
			i--; /* c again, in the subset */
			break;
		case DT_SUBSET:
			if (c == '<' && rest < 4)
				goto more; /* "<!--" or not: told later */
			if (c == '<' && !memcmp(d + i, "<!--", 4)) {
				p->dt.at = DT_COMMENT;
				i += 3;
			} else if (c == '<' && d[i + 1] == '?') {
				p->dt.at = DT_PI;
				i++;
			} else if (c == '"' || c == '\'') {
				p->dt.quote = c;
			} else if (c == ']') {
				p->dt.at = DT_CLOSE;
			}
			break;
		case DT_COMMENT:
			if (c == '-' && rest < 3)
				goto more;
			if (c == '-' && !memcmp(d + i, "-->", 3)) {
				p->dt.at = DT_SUBSET;
				i += 2;
			}
			break;
		case DT_PI:
			if (c == '?' && rest < 2)
				goto more;
			if (c == '?' && d[i + 1] == '>') {
				p->dt.at = DT_SUBSET;
				i++;
			}
			break;
		}
	}
more:
	if (i <= MAX_DOCTYPE_HOLD) {
		p->dt.pos = i;
		return false;
	}
	/* too long to hold: libxml2 takes it as it comes */
whole:
	memset(&p->dt, 0, sizeof(p->dt));
	return true;
}

/*
 * The text of a CDATA section from s[i], up to its "]]>" or to n, into
 * p->fout as character data: '<', '&' and ']' as character references.
 * libxml2 2.9's push parser reads a section whose end has not arrived
 * 300 bytes per xmlParseChunk() call and drops what is left at the end
 * of the document, so how much of an unterminated section it saw, and
 * what it did with a byte XML forbids in one, depended on the chunking;
 * character data it reads the same way however the bytes arrive.
 * Returns where the text after the section starts, n when the section
 * goes on, or SIZE_MAX when a "]" or "]]" at the end of s is held back.
 */
static size_t
cdata_run(struct gz_parser *p, const char *s, size_t i, size_t n, bool final)
{
	size_t run = i;

	for (; i < n; i++) {
		const char *rep;

		switch (s[i]) {
		case '<':
			rep = "&#60;";
			break;
		case '&':
			rep = "&#38;";
			break;
		case ']':
			if (n - i >= 3 && s[i + 1] == ']' && s[i + 2] == '>') {
				buf_add(&p->fout, s + run, i - run);
				p->fs = FS_TEXT;
				return i + 3;
			}
			/* "]" or "]]" at the end: maybe the end of the section
			 */
			if (!final &&
			    (n - i == 1 || (n - i == 2 && s[i + 1] == ']'))) {
				buf_add(&p->fout, s + run, i - run);
				filter_hold(p, s, i, n);
				return SIZE_MAX;
			}
			rep = "&#93;";
			break;
		default:
			continue;
		}
		buf_add(&p->fout, s + run, i - run);
		buf_add(&p->fout, rep, 5);
		run = i + 1;
	}
	buf_add(&p->fout, s + run, n - run);
	return n;
}

/*
 * The '&' filter over s[0..n): a '&' that starts no reference becomes
 * "&amp;", and "&#X" becomes "&#x", outside comments, CDATA and PIs;
 * CDATA sections become character data (cdata_run).
 * Output goes to p->fout; an undecidable tail is held back unless final.
 */
static void
filter_run(struct gz_parser *p, const char *s, size_t n, bool final)
{
	size_t i = 0, run = 0, next_amp = 0, next_lt = 0;
	bool amp_known = false, lt_known = false;

	while (i < n) {
		char c;
		if (p->fs == FS_CDATA) {
			i = cdata_run(p, s, i, n, final);
			if (i == SIZE_MAX)
				return;
			run = i;
			continue;
		}
		if (p->fs != FS_TEXT) {
			char mark = p->fs == FS_COMMENT ? '-' : '?';
			size_t need = p->fs == FS_PI ? 1 : 2, m = 0, end;
			const char *gt = memchr(s + i, '>', n - i);
			end = gt ? (size_t)(gt - s) : n;
			/* the marks just before '>', with those carried over
			 * from the last chunk when the run reaches back */
			while (m < need && end - m > i &&
			       s[end - m - 1] == mark)
				m++;
			if (end - m == i)
				m += (size_t)p->fmatch;
			if (m > need)
				m = need;
			if (gt == NULL) {
				p->fmatch = (int)m;
				i = n;
				continue;
			}
			i = end + 1;
			p->fmatch = 0;
			if (m == need)
				p->fs = FS_TEXT;
			continue;
		}
		/* the next '&' and '<', each searched once per position */
		if (!amp_known || next_amp < i) {
			const char *a = memchr(s + i, '&', n - i);
			next_amp = a ? (size_t)(a - s) : n;
			amp_known = true;
		}
		if (!lt_known || next_lt < i) {
			const char *l = memchr(s + i, '<', n - i);
			next_lt = l ? (size_t)(l - s) : n;
			lt_known = true;
		}
		i = next_amp < next_lt ? next_amp : next_lt;
		if (i >= n)
			break;
		c = s[i];
		size_t rest = n - i;
		if (c == '<') {
			if (rest < 9 && !final) {
				buf_add(&p->fout, s + run, i - run);
				filter_hold(p, s, i, n);
				return;
			}
			if (rest >= 4 && !memcmp(s + i, "<!--", 4)) {
				p->fs = FS_COMMENT;
				i += 4;
				/*
				 * libxml2's push parser takes "<!-->" and
				 * "<!--->" for whole comments when it has only
				 * those bytes; a space in the (unreported)
				 * comment keeps every chunking the same.
				 */
				if (i < n &&
				    (s[i] == '>' || (s[i] == '-' && i + 1 < n &&
				                     s[i + 1] == '>'))) {
					buf_add(&p->fout, s + run, i - run);
					buf_add(&p->fout, " ", 1);
					run = i;
				}
			} else if (rest >= 9 &&
			           !memcmp(s + i, "<![CDATA[", 9)) {
				buf_add(&p->fout, s + run, i - run);
				p->fs = FS_CDATA;
				i += 9;
				run = i;
			} else if (rest >= 2 && s[i + 1] == '?') {
				p->fs = FS_PI;
				i += 2;
			} else if (!final && !memcmp(s + i, "<!DOCTYPE", 9) &&
			           !doctype_whole(p, s + i, rest)) {
				buf_add(&p->fout, s + run, i - run);
				filter_hold(p, s, i, n);
				return;
			} else {
				i++;
			}
			continue;
		}
		bool more;
		size_t r = ref_scan(s, i, n, &more);
		if (more && !final) {
			buf_add(&p->fout, s + run, i - run);
			filter_hold(p, s, i, n);
			return;
		}
		if (r) {
			if (s[i + 1] == '#' && s[i + 2] == 'X') {
				buf_add(&p->fout, s + run, i + 2 - run);
				buf_add(&p->fout, "x", 1);
				run = i + 3;
				bozo(p, BZ_FILTER,
				     "a character reference with '&#X'");
			}
			i += r + 1;
			continue;
		}
		buf_add(&p->fout, s + run, i - run);
		buf_add(&p->fout, "&amp;", 5);
		bozo(p, BZ_FILTER, "an unescaped '&' was read as '&amp;'");
		run = ++i;
	}
	if (!buf_add(&p->fout, s + run, n - run))
		fail(p, -ENOMEM);
}

/* Length of the valid UTF-8 sequence at s (avail bytes), 0 if none. */
static size_t
utf8_seq(const unsigned char *s, size_t avail)
{
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		need = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		need = 4;
	else
		return 0;
	if (avail < need)
		return 0;
	for (size_t k = 1; k < need; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
	    (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
		return 0;
	return need;
}

/*
 * Bytes of a UTF-8 document that are not UTF-8 are read as windows-1252
 * (what such a byte almost always is), before libxml2 sees them: libxml2
 * would switch the rest of the document to Latin-1 at a point that
 * depends on the chunking. Returns how many bytes of s were taken; an
 * unfinished sequence at the end is left for the next push.
 */
static size_t
utf8_repair(struct gz_parser *p, const char *s, size_t n, bool final,
            const char **out, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, end = n;
	bool copied = false;

	if (!final) {
		size_t j = n;
		while (j > 0 && n - j < 3 && (u[j - 1] & 0xC0) == 0x80)
			j--;
		if (j > 0 && u[j - 1] >= 0xC2 && u[j - 1] <= 0xF4) {
			size_t need = u[j - 1] >= 0xF0   ? 4
			              : u[j - 1] >= 0xE0 ? 3
			                                 : 2;
			if (n - (j - 1) < need)
				end = j - 1;
		}
	}
	while (i < end) {
		size_t k;
		if (u[i] < 0x80) {
			i++;
			while (i + 8 <= end) {
				uint64_t w;
				memcpy(&w, u + i, 8);
				if (w & 0x8080808080808080ULL)
					break;
				i += 8;
			}
			continue;
		}
		k = utf8_seq(u + i, end - i);
		if (k) {
			i += k;
			continue;
		}
		if (!copied) {
			p->fix.len = 0;
			copied = true;
			bozo(p, BZ_UTF8,
			     "bytes that are not UTF-8 were read as "
			     "windows-1252");
		}
		char c[4];
		/* read once the text it is in is whole (parse-html.c) */
		size_t cl = parse_html_byte_escape(u[i], c);
		buf_add(&p->fix, s + run, i - run);
		buf_add(&p->fix, c, cl);
		run = ++i;
	}
	if (copied) {
		buf_add(&p->fix, s + run, end - run);
		*out = p->fix.s;
		*out_len = p->fix.len;
	} else {
		*out = s;
		*out_len = end;
	}
	return end;
}

/*
 * *s (*n bytes) after the bytes held back in held, joined in into, which
 * *s then points to; held is emptied. false when out of memory.
 */
static bool
join_held(struct buf *held, struct buf *into, const char **s, size_t *n)
{
	into->len = 0;
	if (!buf_add(into, held->s, held->len) || !buf_add(into, *s, *n))
		return false;
	held->len = 0;
	*s = into->s;
	*n = into->len;
	return true;
}

/*
 * s[0..n) of a document in another ASCII-compatible encoding, as UTF-8
 * in p->conv. libxml2's own conversion stops at the first byte sequence
 * the encoding does not have and ends the document there without a
 * word: a windows-1252 feed with one stray 0x81 was lost whole, and
 * where depended on the chunking. Here such a sequence becomes U+FFFD;
 * one cut by the end of s waits for the next push.
 */
static void
convert(struct gz_parser *p, const char *s, size_t n, bool final)
{
	char *in, *o;
	size_t left, room;

	if (p->carry.len && !join_held(&p->carry, &p->cin, &s, &n)) {
		fail(p, -ENOMEM);
		return;
	}
	in = (char *)s;
	left = n;
	p->conv.len = 0;
	for (;;) {
		size_t r;

		/* first: p->conv.s is never NULL, even for no bytes */
		if (!buf_reserve(&p->conv, 4 * left + 16)) {
			fail(p, -ENOMEM);
			return;
		}
		if (left == 0 && !final)
			return;
		o = p->conv.s + p->conv.len;
		room = p->conv.cap - p->conv.len - 1;
		if (left == 0) {
			/* the end: back to the initial shift state */
			iconv(p->cd, NULL, NULL, &o, &room);
			p->conv.len = (size_t)(o - p->conv.s);
			return;
		}
		r = iconv(p->cd, &in, &left, &o, &room);
		p->conv.len = (size_t)(o - p->conv.s);
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		if (errno == EINVAL && !final) {
			if (!buf_add(&p->carry, in, left))
				fail(p, -ENOMEM);
			return;
		}
		/* EILSEQ, or EINVAL at the end of the document */
		bozo(p, BZ_CONVERT, "bytes that are not %s were read as U+FFFD",
		     p->cd_from);
		if (!buf_add(&p->conv, "\xef\xbf\xbd", 3)) {
			fail(p, -ENOMEM);
			return;
		}
		in++;
		left--;
	}
}

/*
 * The bytes libxml2 gets for s[0..n): bad UTF-8 repaired, bare '&'
 * escaped; into p->fout, with an undecidable tail held back.
 */
static void
prepare(struct gz_parser *p, const char *s, size_t n, bool final)
{
	const char *t = s;
	size_t tn = n, taken = n;

	if (p->utf8)
		taken = utf8_repair(p, s, n, final, &t, &tn);
	p->fout.len = 0;
	p->hold.len = 0;
	filter_run(p, t, tn, final);
	/* an unfinished UTF-8 sequence follows what the filter held */
	if (taken < n && !buf_add(&p->hold, s + taken, n - taken))
		fail(p, -ENOMEM);
}

/* Push one slice through the '&' filter (when on) to libxml2. */
static void
xml_push_slice(struct gz_parser *p, const char *s, size_t n, bool final)
{
	if (!p->filter) {
		xml_push_raw(p, s, n);
		return;
	}
	if (p->cd != (iconv_t)-1) {
		convert(p, s, n, final);
		s = p->conv.s;
		n = p->conv.len;
	}
	if (p->hold.len && !join_held(&p->hold, &p->fin, &s, &n)) {
		fail(p, -ENOMEM);
		return;
	}
	prepare(p, s, n, final);
	xml_push_raw(p, p->fout.s, p->fout.len);
}

/*
 * Push bytes through the '&' filter (when on) to libxml2, in slices, so
 * that a whole document pushed at once is not copied whole.
 */
static void
xml_push(struct gz_parser *p, const char *s, size_t n, bool final)
{
	do {
		size_t k = n < PUSH_SLICE ? n : PUSH_SLICE;
		xml_push_slice(p, s, k, final && k == n);
		s += k;
		n -= k;
	} while (n > 0 && !p->error && !p->stopped);
}

/* How an ASCII-compatible document in encoding name is read. */
enum enc_way {
	ENC_LIBXML, /* by libxml2: UTF-8 and Latin-1, or UTF-16 and -32 */
	ENC_ICONV,  /* through iconv, by convert() */
	ENC_UTF8,   /* as UTF-8: another spelling of it ("utf--8") */
	ENC_UNKNOWN /* as UTF-8: iconv does not know the name */
};

/*
 * Decide how a document in encoding name is read, and open the iconv
 * conversion for ENC_ICONV. libxml2 is not left the others: it takes
 * names iconv does not know to ICU, which reads them differently
 * depending on the chunking.
 */
static enum enc_way
convert_start(struct gz_parser *p, const char *name)
{
	char alnum[64];
	size_t n = 0;

	for (const char *c = name; *c && n < sizeof(alnum) - 1; c++)
		if (isalnum((unsigned char)*c))
			alnum[n++] = (char)tolower((unsigned char)*c);
	alnum[n] = '\0';
	if (!strcasecmp(name, "utf-8") || !strcasecmp(name, "utf8") ||
	    strstr(alnum, "utf16") || strstr(alnum, "utf32") ||
	    strstr(alnum, "ucs") || !strcmp(alnum, "unicode"))
		return ENC_LIBXML;
	/* every byte is Latin-1: libxml2's own reader never stops */
	if (!strcmp(alnum, "iso88591") || !strcmp(alnum, "latin1") ||
	    !strcmp(alnum, "isolatin1"))
		return ENC_LIBXML;
	if (!strcmp(alnum, "utf8"))
		return ENC_UTF8;
	p->cd = iconv_open("UTF-8", name);
	if (p->cd == (iconv_t)-1)
		p->cd = iconv_open("UTF-8", alnum);
	if (p->cd == (iconv_t)-1)
		return ENC_UNKNOWN;
	snprintf(p->cd_from, sizeof(p->cd_from), "%s", name);
	return ENC_ICONV;
}

/* Create the libxml2 context once the first bytes are known. */
static int
parser_start(struct gz_parser *p)
{
	xmlSAXHandler sax;
	xmlCharEncodingHandlerPtr force = NULL;
	const char *s = p->pre.s;
	size_t n = p->pre.len;
	bool ascii_compat = true;
	char enc[64];
	const char *eff = NULL; /* the encoding the bytes are read in */
	int opts = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOWARNING;

	p->started = true;
	if (n >= 2 && ((s[0] == '\xfe' && s[1] == '\xff') ||
	               (s[0] == '\xff' && s[1] == '\xfe')))
		ascii_compat = false;
	if (n >= 4 && (s[0] == 0 || s[1] == 0))
		ascii_compat = false;
	if (ascii_compat) {
		size_t i = 0, skip;
		if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
			i = 3;
		skip = i;
		while (skip < n && s[skip] != '<')
			skip++;
		for (size_t j = i; j < skip; j++)
			if (!isspace((unsigned char)s[j])) {
				p->skipped_junk = true;
				break;
			}
		if (skip == n && n >= SNIFF_MAX) {
			/* still in junk: drop it and keep looking */
			p->skipping_junk = true;
			p->pre.len = 0;
			p->started = false;
			return 0;
		}
		if (skip > i) {
			memmove(p->pre.s + i, p->pre.s + skip, n - skip);
			p->pre.len = n = n - (skip - i);
		}
		decl_encoding(s + i, n - i, enc);
		eff = enc[0] ? enc : "UTF-8";
		if (p->skipped_junk)
			bozo(p, BZ_START, "junk before the XML document");
		if (p->charset) {
			force = xmlFindCharEncodingHandler(p->charset);
			if (force)
				eff = p->charset;
			if (force == NULL) {
				bozo(p, BZ_START,
				     "unknown charset '%s' in Content-Type",
				     p->charset);
			}
		} else if (enc[0]) {
			xmlCharEncodingHandlerPtr h =
			        xmlFindCharEncodingHandler(enc);
			if (h == NULL) {
				bozo(p, BZ_START,
				     "unknown encoding '%s' in the XML "
				     "declaration",
				     enc);
				force = xmlFindCharEncodingHandler("UTF-8");
				eff = "UTF-8";
			} else {
				/* iconv handlers are made afresh each time */
				xmlCharEncCloseFunc(h);
			}
		}
		if (i == 3) {
			/* a UTF-8 BOM wins over any charset; libxml2 need not
			 * see it (its push parser trips on it byte by byte) */
			if (force)
				xmlCharEncCloseFunc(force);
			force = xmlFindCharEncodingHandler("UTF-8");
			eff = "UTF-8";
			memmove(p->pre.s, p->pre.s + 3, n - 3);
			p->pre.len = n = n - 3;
		}
		enum enc_way way = convert_start(p, eff);
		if (way == ENC_UNKNOWN)
			bozo(p, BZ_START,
			     "unknown encoding '%s': read as UTF-8", eff);
		if (way != ENC_LIBXML) {
			if (force)
				xmlCharEncCloseFunc(force);
			force = xmlFindCharEncodingHandler("UTF-8");
			if (way != ENC_ICONV)
				eff = "UTF-8";
		}
	}
	if (p->http_nonxml)
		bozo(p, BZ_START, "served with a non-XML Content-Type");

	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_chars;
	sax.cdataBlock = on_chars;
	sax.ignorableWhitespace = on_chars;
	sax.getEntity = on_get_entity;
	sax.getParameterEntity = on_get_pentity;
	sax.entityDecl = on_entity_decl;
	sax.serror = on_error;

	p->filter = ascii_compat;
	if (p->filter && p->cd == (iconv_t)-1) {
		const char *names[] = {enc, p->charset};
		for (int k = 0; k < 2; k++)
			if (names[k] && (strstr(names[k], "2022") ||
			                 strcasestr(names[k], "utf-7")))
				p->filter = false;
	}
	/* (what convert() makes is UTF-8 already: nothing to repair) */
	p->utf8 = p->filter && eff && p->cd == (iconv_t)-1 &&
	          (!strcasecmp(eff, "utf-8") || !strcasecmp(eff, "utf8"));
	if (p->filter) {
		s = p->pre.s;
		n = p->pre.len;
		if (p->cd != (iconv_t)-1) {
			convert(p, s, n, false);
			s = p->conv.s;
			n = p->conv.len;
		}
		prepare(p, s, n, false);
		s = p->fout.s;
		n = p->fout.len;
	} else {
		s = p->pre.s;
		n = p->pre.len;
	}
	if (force) {
		p->ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
		if (p->ctxt) {
			xmlSwitchToEncoding(p->ctxt, force);
			opts |= XML_PARSE_IGNORE_ENC;
		} else {
			xmlCharEncCloseFunc(force);
		}
	} else {
		p->ctxt = xmlCreatePushParserCtxt(&sax, p, s,
		                                  (int)(n < 4 ? n : 4), NULL);
		s += n < 4 ? n : 4;
		n -= n < 4 ? n : 4;
	}
	if (p->ctxt == NULL)
		return -ENOMEM;
	xmlCtxtUseOptions(p->ctxt, opts);
	p->ctxt->replaceEntities = 0;
	p->ctxt->loadsubset = 0;
	p->ctxt->validate = 0;
	if (n)
		xml_push_raw(p, s, n);
	p->pre.len = 0;
	return p->error;
}

/*
 * true once the held bytes tell the encoding: the whole XML declaration,
 * or a first tag that is not one. UTF-16/32 wait for SNIFF_MAX bytes.
 */
static bool
sniff_ready(const struct gz_parser *p)
{
	const char *s = p->pre.s, *lt;
	size_t n = p->pre.len, i = 0;

	if (n < 4 || s[0] == 0 || s[1] == 0 || (unsigned char)s[0] == 0xFE ||
	    (unsigned char)s[0] == 0xFF)
		return false;
	if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		i = 3;
	lt = memchr(s + i, '<', n - i);
	if (lt == NULL || (size_t)(s + n - lt) < 6)
		return false;
	if (memcmp(lt, "<?xml", 5) != 0)
		return true;
	return memmem(lt, (size_t)(s + n - lt), "?>", 2) != NULL;
}

/* Push the next len bytes of the document. */
int
gz_parser_push(struct gz_parser *p, const char *buf, size_t len)
{
	if (p == NULL || p->finished)
		return -EINVAL;
	if (p->error)
		return p->error;
	if (p->stopped)
		return 0;
	if (p->http_text)
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)buf[i] >= 0x80) {
				bozo(p, BZ_RAW,
				     "non-ASCII bytes in a text/* document "
				     "without a charset");
				p->http_text = false;
				break;
			}
	while (!p->started && len > 0) {
		size_t take;
		if (p->skipping_junk) {
			const char *lt = memchr(buf, '<', len);
			if (lt == NULL)
				return 0;
			len -= (size_t)(lt - buf);
			buf = lt;
			p->skipping_junk = false;
		}
		take = SNIFF_MAX - p->pre.len;
		if (take > len)
			take = len;
		if (!buf_add(&p->pre, buf, take))
			return -ENOMEM;
		buf += take;
		len -= take;
		if (p->pre.len < SNIFF_MAX && !sniff_ready(p))
			return 0;
		int r = parser_start(p);
		if (r < 0)
			return r;
	}
	if (len > 0)
		xml_push(p, buf, len, false);
	return p->error;
}

/* Close every open element as if the document had closed them. */
static void
unwind(struct gz_parser *p)
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
			entry_end(p);
			continue;
		default:
			break;
		}
		frame_pop(p);
	}
	if (in_entry)
		bozo(p, BZ_XML, "the document ends inside an entry");
}

/* End of document: finish parsing and hand over the feed. */
int
gz_parser_finish(struct gz_parser *p, struct gz_feed **ret_feed)
{
	struct gz_feed *f;
	int r = 0;

	if (p == NULL || p->finished)
		return -EINVAL;
	if (!p->started && !p->error) {
		if (p->pre.len == 0 && !p->skipping_junk) {
			bozo(p, BZ_START, "empty document");
		} else if (p->pre.len == 0) {
			bozo(p, BZ_START, "no XML in the document");
		} else {
			p->skipping_junk = false;
			r = parser_start(p);
			if (r == -ENOMEM)
				return r;
			if (!p->started)
				bozo(p, BZ_START, "no XML in the document");
		}
	}
	if (p->ctxt && !p->error && !p->stopped) {
		if (p->filter && (p->hold.len || p->carry.len))
			xml_push(p, "", 0, true);
		xmlParseChunk(p->ctxt, NULL, 0, 1);
		if (!p->ctxt->wellFormed && !p->wf_ignored)
			p->feed->bozo = true;
	}
	p->finished = true;
	if (p->error == -ENOMEM)
		return -ENOMEM;
	/* a truncated document: close what was open, keeping its text */
	if (p->depth && !p->error)
		unwind(p);
	if (p->field_truncated)
		bozo(p, BZ_LIMIT, "a field longer than %zu bytes was cut",
		     p->opts.max_field);

	f = p->feed;
	if (p->sy_period)
		f->update_period = p->sy_period / (p->sy_freq ? p->sy_freq : 1);
	if (f->updated == GZ_NO_DATE)
		f->updated = p->feed_published;
	if (f->language == NULL && p->root_lang) {
		f->language = p->root_lang;
		p->root_lang = NULL;
	}
	if (f->language == NULL && p->content_language)
		f->language = strdup(p->content_language);
	for (int i = 0; i < BZ_N; i++) {
		if (f->bozo_message == NULL) {
			f->bozo_message = p->bozo_msg[i];
			p->bozo_msg[i] = NULL;
		}
	}
	if (f->bozo && f->bozo_message == NULL)
		f->bozo_message = strdup("the document is not well-formed XML");
	p->feed = NULL;
	*ret_feed = f;
	return 0;
}

/* Free a parser and whatever it still holds; NULL is fine. */
void
gz_parser_free(struct gz_parser *p)
{
	if (p == NULL)
		return;
	parser_release(p);
	if (p->entry) {
		gz_entry_clear(p->entry);
		free(p->entry);
	}
	gz_feed_free(p->feed);
	xmlHashFree(p->entities, entity_free);
	xmlHashFree(p->refused, NULL);
	xmlHashFree(p->external_pe, NULL);
	xmlHashFree(p->attr_entities, entity_free);
	free(p->stack);
	free(p->text.s);
	free(p->pre.s);
	free(p->hold.s);
	free(p->fin.s);
	free(p->fout.s);
	free(p->fix.s);
	if (p->cd != (iconv_t)-1)
		iconv_close(p->cd);
	free(p->conv.s);
	free(p->cin.s);
	free(p->carry.s);
	free(p->author_name);
	free(p->author_email);
	free(p->root_lang);
	free(p->base_url);
	free(p->content_language);
	free(p->charset);
	for (int i = 0; i < BZ_N; i++)
		free(p->bozo_msg[i]);
	free(p);
}

/* Parse a whole buffer at once. */
int
gz_parse_buffer(const char *buf, size_t len, const struct gz_parser_opts *opts,
                struct gz_feed **ret_feed)
{
	struct gz_parser *p = gz_parser_new(opts);
	int r;

	if (p == NULL)
		return -ENOMEM;
	r = gz_parser_push(p, buf, len);
	/* a limit or a stop still leaves a feed worth handing over */
	if (r == 0 || r == -E2BIG || r == -ECANCELED)
		r = gz_parser_finish(p, ret_feed);
	gz_parser_free(p);
	return r;
}
