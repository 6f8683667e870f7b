/*
 * HTML for people: plain text for the terminal, an allow-list sanitizer
 * for the HTML export, escaping, and display widths.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "gazette/html.h"
#include "gazette/url.h"

/* Deeper trees are cut here (libxml2 limits depth too). */
#define MAX_DEPTH 256
/* Links numbered in the text rendering; further links are not numbered. */
#define MAX_LINKS 1000

/* A growing byte buffer; oom set once an allocation failed. */
struct buf {
	char *s;
	size_t len, cap;
	bool oom;
};

/* Make room for n more bytes and the NUL. */
static bool
buf_grow(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->s, cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	b->s = p;
	b->cap = cap;
	return true;
}

/* Append n bytes. */
static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (!buf_grow(b, n))
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Append a string. */
static void
buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Hand over the buffer's string (never NULL unless out of memory). */
static int
buf_take(struct buf *b, char **ret)
{
	if (!b->oom && b->s == NULL)
		buf_add(b, "", 0);
	if (b->oom) {
		free(b->s);
		*b = (struct buf){0};
		return -ENOMEM;
	}
	*ret = b->s;
	*b = (struct buf){0};
	return 0;
}

/*
 * Decode one UTF-8 character of s (n bytes left, n >= 1) into *cp;
 * returns the bytes used. Invalid sequences give U+FFFD for one byte.
 */
static size_t
utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	if (n < len) {
		*cp = 0xfffd;
		return 1;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
		*cp = 0xfffd;
		return 1;
	}
	*cp = c;
	return len;
}

/* Display columns of one character: controls 0, wide 2, unknown 1. */
static int
char_width(uint32_t cp)
{
	int w;

	if (cp < 0x20 || cp == 0x7f)
		return 0;
	if (cp < 0x7f)
		return 1;
	w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : w;
}

/* Display columns of a UTF-8 string (wide characters count 2). */
size_t
html_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), w = 0, k;
	uint32_t cp;

	while (n > 0) {
		k = utf8_next(p, n, &cp);
		w += (size_t)char_width(cp);
		p += k;
		n -= k;
	}
	return w;
}

/* The byte length of the longest prefix of s within cols columns. */
size_t
html_fit(const char *s, size_t cols)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, k, off = 0;
	uint32_t cp;

	/* no strlen: the cost is that of the prefix, not of the string */
	while (p[off]) {
		k = utf8_next(p + off, strnlen(s + off, 4), &cp);
		if (w + (size_t)char_width(cp) > cols)
			break;
		w += (size_t)char_width(cp);
		off += k;
	}
	return off;
}

/* Append s escaped for XML/HTML to b. */
static void
escape_to(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k, run = 0;
	uint32_t cp;

	while (run < n) {
		k = utf8_next(p + run, n - run, &cp);
		if (cp >= 0x20 && cp != '&' && cp != '<' && cp != '>' &&
		    cp != '"' && cp != '\'' && cp != 0xfffd && cp != 0xfffe &&
		    cp != 0xffff) {
			buf_add(b, s + run, k);
		} else if (cp == '\t' || cp == '\n' || cp == '\r') {
			buf_add(b, s + run, 1);
		} else if (cp == '&') {
			buf_puts(b, "&amp;");
		} else if (cp == '<') {
			buf_puts(b, "&lt;");
		} else if (cp == '>') {
			buf_puts(b, "&gt;");
		} else if (cp == '"') {
			buf_puts(b, "&quot;");
		} else if (cp == '\'') {
			buf_puts(b, "&#39;");
		} else if (cp == 0xfffd) {
			buf_puts(b, "\xef\xbf\xbd");
		}
		/* other C0 controls, U+FFFE and U+FFFF: not XML, dropped */
		run += k;
	}
}

/* Write s escaped for XML/HTML text and attribute values. */
int
html_escape(FILE *f, const char *s)
{
	struct buf b = {0};
	int r = 0;

	if (s == NULL || *s == '\0')
		return 0;
	escape_to(&b, s);
	if (b.oom)
		r = -ENOMEM;
	else if (fwrite(b.s, 1, b.len, f) != b.len)
		r = -EIO;
	free(b.s);
	return r;
}

/* Parse an HTML fragment with no network and no error output. */
static htmlDocPtr
parse_html(const char *html, size_t len)
{
	if (len > HTML_MAX_INPUT)
		len = HTML_MAX_INPUT;
	return htmlReadMemory(html, (int)len, NULL, "UTF-8",
	                      HTML_PARSE_NONET | HTML_PARSE_NOERROR |
	                              HTML_PARSE_NOWARNING);
}

/* true when name is one of the NULL-terminated list. */
static bool
name_in(const xmlChar *name, const char *const *list)
{
	for (; *list; list++)
		if (xmlStrcasecmp(name, (const xmlChar *)*list) == 0)
			return true;
	return false;
}

/* Elements whose whole content is never shown nor kept. */
static const char *const dropped[] = {
        "script", "style",  "head",     "title",  "noscript",  "template",
        "iframe", "frame",  "frameset", "object", "embed",     "applet",
        "form",   "input",  "button",   "select", "textarea",  "option",
        "svg",    "math",   "link",     "meta",   "base",      "param",
        "audio",  "video",  "source",   "track",  "canvas",    "dialog",
        "portal", "object", "xml",      "xmp",    "plaintext", NULL,
};

/* ---- rendering as text ---- */

struct render {
	struct buf out;     /* the text so far */
	struct buf para;    /* the paragraph being built */
	struct buf prefix;  /* indentation of the current block */
	const char *bullet; /* first-line marker of the next paragraph */
	char bullet_buf[16];
	bool space;     /* whitespace seen since the last word */
	bool pre;       /* inside <pre> */
	bool item;      /* the paragraph is a list item */
	bool last_item; /* the previous paragraph was a list item */
	int lists;      /* open lists */
	unsigned width;
	char *links[MAX_LINKS];
	size_t n_links;
};

/* Add text to the paragraph, collapsing whitespace outside <pre>. */
static void
render_text(struct render *r, const char *s)
{
	if (r->pre) {
		buf_puts(&r->para, s);
		return;
	}
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
		    *s == '\f') {
			r->space = true;
			continue;
		}
		if (r->space && r->para.len > 0 &&
		    r->para.s[r->para.len - 1] != '\n')
			buf_add(&r->para, " ", 1);
		r->space = false;
		buf_add(&r->para, s, 1);
	}
}

/* Append one line: the prefix, the text, a newline. */
static void
emit_line(struct render *r, const char *lead, const char *s, size_t n)
{
	size_t end = n;

	buf_add(&r->out, r->prefix.s ? r->prefix.s : "", r->prefix.len);
	buf_puts(&r->out, lead);
	while (end > 0 && s[end - 1] == ' ')
		end--;
	buf_add(&r->out, s, end);
	/* no trailing blanks on lines with only a prefix */
	while (r->out.len > 0 && r->out.s[r->out.len - 1] == ' ')
		r->out.len--;
	buf_add(&r->out, "\n", 1);
}

/* Wrap one hard line (no '\n') of the paragraph at the width. */
static void
wrap_line(struct render *r, const char *s, size_t n, const char **lead,
          const char *rest)
{
	size_t avail, pw = html_width(r->prefix.s ? r->prefix.s : "");
	struct buf line = {0};
	size_t lw = 0, i = 0;

	pw += html_width(*lead);
	avail = r->width > pw + 10 ? r->width - pw : 10;
	while (i < n) {
		size_t j = i, ww;
		char *word, *rest_of;

		while (j < n && s[j] != ' ')
			j++;
		word = strndup(s + i, j - i);
		if (word == NULL) {
			r->out.oom = true;
			return;
		}
		ww = html_width(word);
		if (lw > 0 && lw + 1 + ww > avail) {
			emit_line(r, *lead, line.s, line.len);
			*lead = rest;
			line.len = 0;
			lw = 0;
		}
		/* a word longer than a line is cut, in one pass over it */
		rest_of = word;
		while (ww > avail && lw == 0) {
			size_t k = html_fit(rest_of, avail);
			char keep;

			if (k == 0)
				k = 1;
			emit_line(r, *lead, rest_of, k);
			*lead = rest;
			keep = rest_of[k];
			rest_of[k] = '\0';
			ww -= html_width(rest_of);
			rest_of[k] = keep;
			rest_of += k;
		}
		if (lw > 0) {
			buf_add(&line, " ", 1);
			lw++;
		}
		buf_puts(&line, rest_of);
		lw += ww;
		free(word);
		i = j < n ? j + 1 : j;
	}
	if (lw > 0 || line.len == 0)
		emit_line(r, *lead, line.s ? line.s : "", line.len);
	*lead = rest;
	if (line.oom)
		r->out.oom = true;
	free(line.s);
}

/* End the current paragraph: wrap it into the output. */
static void
render_flush(struct render *r)
{
	const char *lead, *p, *end;
	char rest[sizeof(r->bullet_buf)];
	size_t n;

	r->space = false;
	n = r->para.len;
	while (n > 0 && (r->para.s[n - 1] == ' ' || r->para.s[n - 1] == '\n'))
		n--;
	if (n == 0) {
		r->para.len = 0;
		return;
	}
	if (r->out.len > 0 && !(r->item && r->last_item))
		buf_add(&r->out, "\n", 1);
	lead = r->bullet ? r->bullet : "";
	memset(rest, ' ', sizeof(rest));
	rest[strlen(lead) < sizeof(rest) ? strlen(lead) : sizeof(rest) - 1] =
	        '\0';
	p = r->para.s;
	end = r->para.s + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (r->pre || r->width == 0) {
			emit_line(r, lead, p, len);
			lead = rest;
		} else {
			wrap_line(r, p, len, &lead, rest);
		}
		p += len + (nl ? 1 : 0);
	}
	r->last_item = r->item;
	r->item = false;
	r->bullet = NULL;
	r->para.len = 0;
}

/* true for a URL a reader may follow: http, https or mailto. */
static bool
url_ok(const char *u, bool mail)
{
	while (*u && (unsigned char)*u <= 0x20)
		u++;
	if (strncasecmp(u, "http://", 7) == 0 ||
	    strncasecmp(u, "https://", 8) == 0)
		return true;
	return mail && strncasecmp(u, "mailto:", 7) == 0;
}

static void render_node(struct render *r, xmlNodePtr n, int depth);

/* Render the children of n. */
static void
render_children(struct render *r, xmlNodePtr n, int depth)
{
	for (xmlNodePtr c = n->children; c; c = c->next)
		render_node(r, c, depth + 1);
}

/* Block elements: a paragraph ends before and after them. */
static const char *const blocks[] = {
        "p",       "div",      "h1",      "h2",      "h3",      "h4",
        "h5",      "h6",       "ul",      "ol",      "dl",      "dt",
        "dd",      "table",    "tr",      "section", "article", "header",
        "footer",  "aside",    "nav",     "main",    "figure",  "figcaption",
        "address", "details",  "summary", "caption", "center",  "body",
        "html",    "fieldset", "legend",  "tbody",   "thead",   "tfoot",
        NULL,
};

/* Render an element as text. */
static void
render_element(struct render *r, xmlNodePtr n, int depth)
{
	const xmlChar *name = n->name;
	size_t saved;

	if (name_in(name, dropped))
		return;
	if (xmlStrcasecmp(name, (const xmlChar *)"br") == 0) {
		if (r->pre)
			buf_add(&r->para, "\n", 1);
		else if (r->para.len > 0)
			buf_add(&r->para, "\n", 1);
		r->space = false;
		return;
	}
	if (xmlStrcasecmp(name, (const xmlChar *)"hr") == 0) {
		render_flush(r);
		buf_puts(&r->para, "----");
		render_flush(r);
		return;
	}
	if (xmlStrcasecmp(name, (const xmlChar *)"img") == 0) {
		xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");

		render_text(r, " ");
		render_text(r, "[image");
		if (alt && *alt) {
			render_text(r, ": ");
			render_text(r, (const char *)alt);
		}
		render_text(r, "]");
		xmlFree(alt);
		return;
	}
	if (xmlStrcasecmp(name, (const xmlChar *)"pre") == 0) {
		render_flush(r);
		r->pre = true;
		render_children(r, n, depth);
		render_flush(r);
		r->pre = false;
		return;
	}
	if (xmlStrcasecmp(name, (const xmlChar *)"blockquote") == 0 ||
	    xmlStrcasecmp(name, (const xmlChar *)"ul") == 0 ||
	    xmlStrcasecmp(name, (const xmlChar *)"ol") == 0) {
		bool quote = name[0] == 'b' || name[0] == 'B';
		bool ordered = name[0] == 'o' || name[0] == 'O';
		int num = 1;

		render_flush(r);
		saved = r->prefix.len;
		if (quote) {
			buf_puts(&r->prefix, "> ");
			render_children(r, n, depth);
			render_flush(r);
		} else {
			if (r->lists > 0)
				buf_puts(&r->prefix, "  ");
			r->lists++;
			for (xmlNodePtr c = n->children; c; c = c->next) {
				if (c->type == XML_ELEMENT_NODE &&
				    xmlStrcasecmp(c->name,
				                  (const xmlChar *)"li") == 0) {
					render_flush(r);
					if (ordered)
						snprintf(r->bullet_buf,
						         sizeof(r->bullet_buf),
						         "%d. ", num++);
					else
						snprintf(r->bullet_buf,
						         sizeof(r->bullet_buf),
						         "- ");
					r->bullet = r->bullet_buf;
					r->item = true;
					render_children(r, c, depth + 1);
					r->item = true;
					render_flush(r);
				} else {
					render_node(r, c, depth + 1);
				}
			}
			render_flush(r);
			r->lists--;
		}
		r->prefix.len = saved;
		if (r->prefix.s)
			r->prefix.s[saved] = '\0';
		r->last_item = false;
		return;
	}
	if (xmlStrcasecmp(name, (const xmlChar *)"a") == 0) {
		xmlChar *href = xmlGetProp(n, (const xmlChar *)"href");
		size_t before = r->para.len;

		render_children(r, n, depth);
		if (href && url_ok((const char *)href, true) &&
		    r->para.len > before && r->n_links < MAX_LINKS) {
			char num[24];
			char *copy = strdup((const char *)href);

			if (copy == NULL) {
				r->out.oom = true;
			} else {
				r->links[r->n_links++] = copy;
				snprintf(num, sizeof(num), "[%zu]", r->n_links);
				buf_puts(&r->para, num);
			}
		}
		xmlFree(href);
		return;
	}
	if (xmlStrcasecmp(name, (const xmlChar *)"td") == 0 ||
	    xmlStrcasecmp(name, (const xmlChar *)"th") == 0) {
		render_text(r, " ");
		render_children(r, n, depth);
		render_text(r, " ");
		return;
	}
	if (xmlStrcasecmp(name, (const xmlChar *)"li") == 0) {
		/* an <li> outside a list */
		render_flush(r);
		r->bullet = "- ";
		r->item = true;
		render_children(r, n, depth);
		r->item = true;
		render_flush(r);
		return;
	}
	if (name_in(name, blocks)) {
		render_flush(r);
		render_children(r, n, depth);
		render_flush(r);
		return;
	}
	render_children(r, n, depth);
}

/* Render one node as text. */
static void
render_node(struct render *r, xmlNodePtr n, int depth)
{
	if (depth > MAX_DEPTH)
		return;
	switch (n->type) {
	case XML_TEXT_NODE:
	case XML_CDATA_SECTION_NODE:
		if (n->content)
			render_text(r, (const char *)n->content);
		break;
	case XML_ELEMENT_NODE:
		render_element(r, n, depth);
		break;
	default:
		break;
	}
}

/* Render an HTML fragment as wrapped plain text. */
int
html_to_text(const char *html, size_t len, unsigned width, char **ret)
{
	struct render r = {.width = width};
	htmlDocPtr doc = NULL;
	int e;

	if (html && len > 0)
		doc = parse_html(html, len);
	if (doc) {
		for (xmlNodePtr c = doc->children; c; c = c->next)
			render_node(&r, c, 0);
		render_flush(&r);
	}
	if (r.n_links > 0) {
		buf_add(&r.out, "\n", 1);
		for (size_t i = 0; i < r.n_links; i++) {
			char num[24];

			snprintf(num, sizeof(num), "[%zu] ", i + 1);
			buf_puts(&r.out, num);
			buf_puts(&r.out, r.links[i]);
			buf_add(&r.out, "\n", 1);
		}
	}
	for (size_t i = 0; i < r.n_links; i++)
		free(r.links[i]);
	xmlFreeDoc(doc);
	free(r.para.s);
	free(r.prefix.s);
	if (r.para.oom || r.prefix.oom)
		r.out.oom = true;
	e = buf_take(&r.out, ret);
	return e;
}

/* ---- the sanitizer ---- */

/* Elements kept, with the allowed attributes below. */
static const char *const allowed[] = {
        "a",     "abbr",  "b",     "blockquote", "br",         "caption",
        "cite",  "code",  "dd",    "del",        "details",    "dfn",
        "div",   "dl",    "dt",    "em",         "figcaption", "figure",
        "h1",    "h2",    "h3",    "h4",         "h5",         "h6",
        "hr",    "i",     "img",   "ins",        "kbd",        "li",
        "mark",  "ol",    "p",     "pre",        "q",          "s",
        "samp",  "small", "span",  "strong",     "sub",        "summary",
        "sup",   "table", "tbody", "td",         "tfoot",      "th",
        "thead", "time",  "tr",    "u",          "ul",         "var",
        NULL,
};

/* Elements with no content and no end tag. */
static const char *const voids[] = {"br", "hr", "img", NULL};

/* Attributes kept on any allowed element (values escaped). */
static const char *const plain_attrs[] = {"title", "lang", "alt", "datetime",
                                          NULL};
/* Attributes kept only when they are a small number. */
static const char *const number_attrs[] = {"width",   "height", "colspan",
                                           "rowspan", "start",  NULL};

/* true for a short run of digits. */
static bool
is_number(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!isdigit((unsigned char)*s) || n >= 6)
			return false;
	return n > 0;
}

/*
 * A URL attribute as it may be kept: browsers ignore tabs and newlines
 * inside a URL and blanks before it, so they are removed before the
 * scheme is judged. NULL when the URL is not allowed.
 */
static char *
clean_url(const char *v, bool mail)
{
	char *c = malloc(strlen(v) + 1), *o = c;

	if (c == NULL)
		return NULL;
	while (*v && (unsigned char)*v <= 0x20)
		v++;
	for (; *v; v++)
		if (*v != '\t' && *v != '\n' && *v != '\r')
			*o++ = *v;
	*o = '\0';
	if (!url_ok(c, mail)) {
		free(c);
		return NULL;
	}
	return c;
}

/* Write the allowed attributes of an allowed element. */
static void
sanitize_attrs(struct buf *b, xmlNodePtr n)
{
	bool is_a = xmlStrcasecmp(n->name, (const xmlChar *)"a") == 0;
	bool is_img = xmlStrcasecmp(n->name, (const xmlChar *)"img") == 0;

	for (xmlAttrPtr a = n->properties; a; a = a->next) {
		xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
		const char *val = v ? (const char *)v : "";
		char *url = NULL;
		bool keep = false;

		if (a->ns != NULL) {
			/* namespaced attributes (xlink:href...) never */
		} else if (name_in(a->name, plain_attrs)) {
			keep = true;
		} else if (name_in(a->name, number_attrs)) {
			keep = is_number(val);
		} else if ((is_a &&
		            xmlStrcasecmp(a->name, (const xmlChar *)"href") ==
		                    0) ||
		           (is_img &&
		            xmlStrcasecmp(a->name, (const xmlChar *)"src") ==
		                    0) ||
		           xmlStrcasecmp(a->name, (const xmlChar *)"cite") ==
		                   0) {
			url = clean_url(val, is_a);
			keep = url != NULL;
			val = url;
		}
		if (keep) {
			buf_add(b, " ", 1);
			buf_puts(b, (const char *)a->name);
			buf_puts(b, "=\"");
			escape_to(b, val);
			buf_add(b, "\"", 1);
		}
		free(url);
		xmlFree(v);
	}
	if (is_a)
		buf_puts(b, " rel=\"noopener noreferrer nofollow\"");
	if (is_img)
		buf_puts(b, " referrerpolicy=\"no-referrer\"");
}

/* Serialize what the allow-list keeps of n. */
static void
sanitize_node(struct buf *b, xmlNodePtr n, int depth)
{
	bool keep;

	if (depth > MAX_DEPTH)
		return;
	if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
		if (n->content)
			escape_to(b, (const char *)n->content);
		return;
	}
	if (n->type != XML_ELEMENT_NODE || name_in(n->name, dropped))
		return;
	if (xmlStrcasecmp(n->name, (const xmlChar *)"img") == 0) {
		xmlChar *src = xmlGetProp(n, (const xmlChar *)"src");
		char *url = src ? clean_url((const char *)src, false) : NULL;

		xmlFree(src);
		free(url);
		if (url == NULL) {
			/* an image that may not load: its words instead */
			xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");

			if (alt)
				escape_to(b, (const char *)alt);
			xmlFree(alt);
			return;
		}
	}
	keep = name_in(n->name, allowed);
	if (keep) {
		buf_add(b, "<", 1);
		buf_puts(b, (const char *)n->name);
		sanitize_attrs(b, n);
		buf_add(b, ">", 1);
		if (name_in(n->name, voids))
			return;
	}
	for (xmlNodePtr c = n->children; c; c = c->next)
		sanitize_node(b, c, depth + 1);
	if (keep) {
		buf_add(b, "</", 2);
		buf_puts(b, (const char *)n->name);
		buf_add(b, ">", 1);
	}
}

/* Keep only allowed markup of an HTML fragment. */
int
html_sanitize(const char *html, size_t len, char **ret)
{
	struct buf b = {0};
	htmlDocPtr doc = NULL;

	if (html && len > 0)
		doc = parse_html(html, len);
	if (doc)
		for (xmlNodePtr c = doc->children; c; c = c->next)
			sanitize_node(&b, c, 0);
	xmlFreeDoc(doc);
	return buf_take(&b, ret);
}

/* ---- feed discovery ---- */

/* true when the space-separated rel list holds "alternate". */
static bool
rel_alternate(const char *rel)
{
	while (rel && *rel) {
		size_t n;

		rel += strspn(rel, " \t\r\n\f");
		n = strcspn(rel, " \t\r\n\f");
		if (n == 9 && strncasecmp(rel, "alternate", 9) == 0)
			return true;
		rel += n;
	}
	return false;
}

/* true for a feed type gazette reads. */
static bool
feed_type(const char *type)
{
	static const char *const types[] = {
	        "application/rss+xml",
	        "application/atom+xml",
	        "application/rdf+xml",
	        "application/xml",
	        "text/xml",
	        NULL,
	};
	size_t n = strcspn(type, "; \t");

	for (size_t i = 0; types[i]; i++)
		if (n == strlen(types[i]) &&
		    strncasecmp(type, types[i], n) == 0)
			return true;
	return false;
}

/* Collect the <link> elements that announce feeds, depth first. */
static int
collect_links(xmlNodePtr n, const char *base, struct html_feed_link *v,
              size_t *count, int depth)
{
	for (; n && *count < HTML_MAX_FEED_LINKS; n = n->next) {
		xmlChar *rel, *type, *href, *title;
		char *abs = NULL;
		bool dup = false;
		int r = 0;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (depth < MAX_DEPTH && n->children) {
			r = collect_links(n->children, base, v, count,
			                  depth + 1);
			if (r < 0)
				return r;
		}
		if (xmlStrcasecmp(n->name, (const xmlChar *)"link") != 0)
			continue;
		rel = xmlGetProp(n, (const xmlChar *)"rel");
		type = xmlGetProp(n, (const xmlChar *)"type");
		href = xmlGetProp(n, (const xmlChar *)"href");
		title = xmlGetProp(n, (const xmlChar *)"title");
		if (rel && type && href && rel_alternate((const char *)rel) &&
		    feed_type((const char *)type)) {
			r = url_resolve(base, (const char *)href, &abs);
			if (r == 0 && !url_is_http(abs)) {
				free(abs);
				abs = NULL;
			}
			for (size_t i = 0; abs && i < *count; i++)
				if (strcmp(v[i].href, abs) == 0)
					dup = true;
		}
		if (abs && !dup) {
			struct html_feed_link *l = &v[(*count)++];

			l->href = abs;
			abs = NULL;
			l->type = strdup((const char *)type);
			l->title = title ? strdup((const char *)title) : NULL;
			if (l->type == NULL || (title && l->title == NULL))
				r = -ENOMEM;
		}
		free(abs);
		xmlFree(rel);
		xmlFree(type);
		xmlFree(href);
		xmlFree(title);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The feeds an HTML page links to. */
int
html_feed_links(const char *html, size_t len, const char *base_url,
                struct html_feed_link **ret, size_t *ret_n)
{
	struct html_feed_link *v = calloc(HTML_MAX_FEED_LINKS, sizeof(*v));
	htmlDocPtr doc = NULL;
	size_t n = 0;
	int r = 0;

	if (v == NULL)
		return -ENOMEM;
	if (html && len > 0)
		doc = parse_html(html, len);
	if (doc)
		r = collect_links(doc->children, base_url, v, &n, 0);
	xmlFreeDoc(doc);
	if (r < 0) {
		html_feed_links_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Free what html_feed_links() returned. */
void
html_feed_links_free(struct html_feed_link *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].href);
		free(v[i].type);
		free(v[i].title);
	}
	free(v);
}
