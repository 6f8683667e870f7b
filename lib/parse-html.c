/* HTML fragments in feeds: re-serialized and their URLs resolved. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>

#include "gazette/url.h"
#include "gazette/utf8.h"
#include "parse-html.h"

/* Attributes a tag may have that we keep; more are dropped. */
#define MAX_ATTRS 64

struct out {
	char *s;
	size_t len, cap, max;
	bool oom;
	unsigned foreign; /* open svg and math elements */
};

struct attr {
	const char *name;
	size_t name_len;
	const char *raw; /* the value as written, NULL when it had none */
	size_t raw_len;
	char *value; /* decoded (URL attributes), or NULL */
};

/* Append n bytes, silently cut at the limit. */
static void
put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n > o->max)
		n = o->max > o->len ? o->max - o->len : 0;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		char *p;
		while (cap < o->len + n + 1)
			cap *= 2;
		p = realloc(o->s, cap);
		if (p == NULL) {
			o->oom = true;
			return;
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

/* Append a NUL-terminated string. */
static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Append s escaped for a double-quoted attribute value. */
static void
put_attr_value(struct out *o, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "&\"<>");
		put(o, s, n);
		s += n;
		if (*s == '\0')
			break;
		switch (*s++) {
		case '&':
			puts_(o, "&amp;");
			break;
		case '"':
			puts_(o, "&quot;");
			break;
		case '<':
			puts_(o, "&lt;");
			break;
		default: /* '>' */
			puts_(o, "&gt;");
			break;
		}
	}
}

/* Length of an entity or character reference at s ("&amp;"), 0 if none. */
static size_t
ref_len(const char *s)
{
	size_t i = 1;

	if (s[i] == '#') {
		i++;
		if (s[i] == 'x' || s[i] == 'X') {
			i++;
			if (!isxdigit((unsigned char)s[i]))
				return 0;
			while (isxdigit((unsigned char)s[i]))
				i++;
		} else {
			if (!isdigit((unsigned char)s[i]))
				return 0;
			while (isdigit((unsigned char)s[i]))
				i++;
		}
	} else {
		if (!isalpha((unsigned char)s[i]))
			return 0;
		while (isalnum((unsigned char)s[i]) && i < 40)
			i++;
	}
	return s[i] == ';' ? i + 1 : 0;
}

/* Decode the references in an attribute value of n bytes. */
static char *
decode_value(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	const char *end = s + n;

	if (out == NULL)
		return NULL;
	while (s < end) {
		size_t r = *s == '&' ? ref_len(s) : 0;
		if (r && s + r <= end) {
			char name[48], u[8];
			unsigned long c = 0;
			bool ok = false;
			if (s[1] == '#') {
				c = (s[2] == 'x' || s[2] == 'X')
				            ? strtoul(s + 3, NULL, 16)
				            : strtoul(s + 2, NULL, 10);
				ok = true;
			} else if (r - 2 < sizeof(name)) {
				const htmlEntityDesc *h;
				memcpy(name, s + 1, r - 2);
				name[r - 2] = '\0';
				h = htmlEntityLookup((const xmlChar *)name);
				if (h) {
					c = h->value;
					ok = true;
				}
			}
			if (ok) {
				size_t k = utf8_encode(c, u);
				/* a reference is never shorter than its UTF-8
				 */
				if (k <= r) {
					memcpy(o, u, k);
					o += k;
					s += r;
					continue;
				}
			}
		}
		*o++ = *s++;
	}
	*o = '\0';
	return out;
}

struct word {
	const char *s;
	size_t n;
};

#define W(x)                                                                   \
	{                                                                      \
		x, sizeof(x) - 1                                               \
	}

/* true when name (n bytes) is one of words, case aside. */
static bool
in_words(const struct word *words, const char *name, size_t n)
{
	for (; words->s; words++)
		if (words->n == n && (words->s[0] | 0x20) == (name[0] | 0x20) &&
		    strncasecmp(words->s, name, n) == 0)
			return true;
	return false;
}

/* HTML elements that have no end tag. */
static bool
is_void(const char *name, size_t n)
{
	static const struct word v[] = {
	        W("area"),  W("base"),    W("br"),    W("col"),  W("embed"),
	        W("hr"),    W("img"),     W("input"), W("link"), W("meta"),
	        W("param"), W("source"),  W("track"), W("wbr"),  W("basefont"),
	        W("frame"), W("isindex"), {NULL, 0},
	};

	return in_words(v, name, n);
}

/* Attributes holding URLs (feedparser's relative_uris list). */
static bool
is_url_attr(const char *name, size_t n)
{
	static const struct word v[] = {
	        W("href"),   W("src"),      W("cite"),    W("background"),
	        W("action"), W("longdesc"), W("usemap"),  W("codebase"),
	        W("data"),   W("classid"),  W("profile"), W("poster"),
	        {NULL, 0},
	};

	return in_words(v, name, n);
}

/*
 * Append the value of an attribute as written, as feedparser's serializer
 * does: references kept (but "&#39;" and "&#34;", which it reads
 * first), a bare '&' and '<', '>', '"' escaped.
 */
static void
put_attr_raw(struct out *o, const char *s, size_t n)
{
	const char *end = s + n;

	while (s < end) {
		size_t r;

		switch (*s) {
		case '&':
			r = ref_len(s);
			if (r == 0 || s + r > end) {
				puts_(o, "&amp;");
				r = 1;
			} else if (r == 5 && !strncmp(s, "&#39;", 5)) {
				puts_(o, "'");
			} else if (r == 5 && !strncmp(s, "&#34;", 5)) {
				puts_(o, "&quot;");
			} else {
				put(o, s, r);
			}
			s += r;
			continue;
		case '<':
			puts_(o, "&lt;");
			break;
		case '>':
			puts_(o, "&gt;");
			break;
		case '"':
			puts_(o, "&quot;");
			break;
		default:
			put(o, s, 1);
			break;
		}
		s++;
	}
}

/* The attribute of name among attrs, or NULL. */
static struct attr *
attr_named(struct attr *attrs, size_t na, const char *name)
{
	for (size_t i = 0; i < na; i++)
		if (attrs[i].name_len == strlen(name) &&
		    !strncasecmp(attrs[i].name, name, attrs[i].name_len))
			return &attrs[i];
	return NULL;
}

/*
 * Namespace declarations feedparser's sanitizer adds to inline SVG and
 * MathML: xmlns on an svg or math element without one, xmlns:xlink on
 * an element inside them that has xlink: attributes.
 */
static size_t
foreign_decls(struct out *o, const char *name, size_t name_len,
              struct attr *attrs, size_t na)
{
	static const char *const ns_svg = "http://www.w3.org/2000/svg";
	static const char *const ns_math = "http://www.w3.org/1998/Math/MathML";
	static const char *const ns_xlink = "http://www.w3.org/1999/xlink";
	bool svg = name_len == 3 && !strncasecmp(name, "svg", 3);
	bool math = name_len == 4 && !strncasecmp(name, "math", 4);
	bool xlink = false;

	if (svg || math) {
		o->foreign++;
		if (na < MAX_ATTRS && !attr_named(attrs, na, "xmlns")) {
			attrs[na++] = (struct attr){
			        .name = "xmlns",
			        .name_len = 5,
			        .raw = svg ? ns_svg : ns_math,
			        .raw_len = strlen(svg ? ns_svg : ns_math),
			};
		}
	}
	if (o->foreign == 0)
		return na;
	for (size_t i = 0; i < na; i++)
		if (attrs[i].name_len > 6 &&
		    !strncasecmp(attrs[i].name, "xlink:", 6))
			xlink = true;
	if (xlink && na < MAX_ATTRS && !attr_named(attrs, na, "xmlns:xlink"))
		attrs[na++] = (struct attr){
		        .name = "xmlns:xlink",
		        .name_len = 11,
		        .raw = ns_xlink,
		        .raw_len = strlen(ns_xlink),
		};
	return na;
}

/* Order attributes by name, as feedparser's serializer does. */
static int
attr_cmp(const void *a, const void *b)
{
	const struct attr *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = strncasecmp(x->name, y->name, n);

	if (c)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

/* Parse a start tag at s (after '<'); the length consumed, 0 if not one. */
static size_t
start_tag(struct out *o, const char *s, const char *base)
{
	const char *p = s, *name = s;
	size_t name_len, na = 0;
	struct attr attrs[MAX_ATTRS];

	while (isalnum((unsigned char)*p) || *p == ':' || *p == '-' ||
	       *p == '_')
		p++;
	name_len = (size_t)(p - name);
	if (name_len == 0)
		return 0;
	for (;;) {
		const char *an, *v = NULL;
		size_t anl, vl = 0;
		while (isspace((unsigned char)*p) || *p == '/')
			p++;
		if (*p == '>' || *p == '\0')
			break;
		an = p;
		while (*p && !isspace((unsigned char)*p) && *p != '=' &&
		       *p != '>' && !(*p == '/' && p[1] == '>'))
			p++;
		anl = (size_t)(p - an);
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '=') {
			p++;
			while (isspace((unsigned char)*p))
				p++;
			if (*p == '"' || *p == '\'') {
				char q = *p++;
				v = p;
				while (*p && *p != q)
					p++;
				vl = (size_t)(p - v);
				if (*p)
					p++;
			} else {
				v = p;
				while (*p && !isspace((unsigned char)*p) &&
				       *p != '>')
					p++;
				vl = (size_t)(p - v);
			}
		}
		if (anl == 0) {
			if (*p)
				p++;
			continue;
		}
		/* two slots kept for foreign_decls() */
		if (na < MAX_ATTRS - 2) {
			attrs[na] = (struct attr){
			        .name = an,
			        .name_len = anl,
			        .raw = v,
			        .raw_len = vl,
			};
			na++;
		}
	}
	if (*p != '>')
		return 0;
	p++;
	na = foreign_decls(o, name, name_len, attrs, na);
	qsort(attrs, na, sizeof(attrs[0]), attr_cmp);
	put(o, "<", 1);
	put(o, name, name_len);
	for (size_t i = 0; i < na; i++) {
		const struct attr *a = &attrs[i];
		char *val, *r = NULL;

		put(o, " ", 1);
		put(o, a->name, a->name_len);
		put(o, "=\"", 2);
		if (a->raw == NULL) {
			/* <input checked>: the name is the value */
			put_attr_raw(o, a->name, a->name_len);
		} else if (is_url_attr(a->name, a->name_len)) {
			/* a URL is resolved decoded, then escaped again */
			val = decode_value(a->raw, a->raw_len);
			if (val == NULL) {
				o->oom = true;
				break;
			}
			if (url_resolve(base, val, &r) == 0) {
				free(val);
				val = r;
			}
			put_attr_value(o, val);
			free(val);
		} else {
			put_attr_raw(o, a->raw, a->raw_len);
		}
		put(o, "\"", 1);
	}
	puts_(o, is_void(name, name_len) ? " />" : ">");
	return (size_t)(p - s);
}

/* Rewrite an HTML fragment as feedparser's serializer would. */
int
parse_html_normalize(const char *in, const char *base, size_t max, char **ret)
{
	struct out o = {.max = max};
	const char *s = in;

	put(&o, "", 0);
	while (*s && !o.oom) {
		size_t n = strcspn(s, "<&");
		put(&o, s, n);
		s += n;
		if (*s == '&') {
			size_t r = ref_len(s);
			if (r == 0) {
				puts_(&o, "&amp;");
				s++;
			} else if (s[1] == '#') {
				bool hex = s[2] == 'x' || s[2] == 'X';
				unsigned long c = strtoul(s + (hex ? 3 : 2),
				                          NULL, hex ? 16 : 10);
				if (c >= 0x80 && c <= 0x9F) {
					char ref[16];
					snprintf(
					        ref, sizeof(ref), "&#x%x;",
					        parse_html_cp1252((unsigned)c));
					puts_(&o, ref);
				} else if (hex) {
					puts_(&o, "&#x");
					put(&o, s + 3, r - 3);
				} else {
					put(&o, s, r);
				}
				s += r;
			} else {
				put(&o, s, r);
				s += r;
			}
			continue;
		}
		if (*s != '<')
			break;
		if (s[1] == '>' || (s[1] == '/' && s[2] == '>')) {
			/* SGML's empty tags, "<>" and "</>", which name no
			 * element of their own: feedparser drops them */
			s += s[1] == '>' ? 2 : 3;
		} else if (!strncmp(s, "<!--", 4)) {
			const char *e = strstr(s + 4, "-->");
			n = e ? (size_t)(e + 3 - s) : strlen(s);
			put(&o, s, n);
			s += n;
		} else if (s[1] == '/' && isalpha((unsigned char)s[2])) {
			const char *p = s + 2, *name = p;
			while (isalnum((unsigned char)*p) || *p == ':' ||
			       *p == '-' || *p == '_')
				p++;
			n = (size_t)(p - name);
			while (*p && *p != '>')
				p++;
			if (*p != '>') {
				puts_(&o, "&lt;");
				s++;
				continue;
			}
			if (o.foreign &&
			    ((n == 3 && !strncasecmp(name, "svg", 3)) ||
			     (n == 4 && !strncasecmp(name, "math", 4))))
				o.foreign--;
			if (!is_void(name, n)) {
				put(&o, "</", 2);
				put(&o, name, n);
				put(&o, ">", 1);
			}
			s = p + 1;
		} else if (isalpha((unsigned char)s[1]) &&
		           (n = start_tag(&o, s + 1, base)) > 0) {
			s += n + 1;
		} else if (s[1] == '!' && isalpha((unsigned char)s[2])) {
			const char *e = strchr(s, '>');
			n = e ? (size_t)(e + 1 - s) : strlen(s);
			put(&o, s, n);
			s += n;
		} else {
			puts_(&o, "&lt;");
			s++;
		}
	}
	if (o.oom) {
		free(o.s);
		return -ENOMEM;
	}
	*ret = o.s;
	return 0;
}

/* true when text looks like HTML (a closing tag or an entity reference). */
int
parse_html_looks_like(const char *s)
{
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<'))
		if (p[1] == '/' && isalpha((unsigned char)p[2]))
			return 1;
	for (const char *p = strchr(s, '&'); p; p = strchr(p + 1, '&'))
		if (ref_len(p))
			return 1;
	return 0;
}

/* The windows-1252 character of a C1 control (0x80-0x9F), else c. */
unsigned
parse_html_cp1252(unsigned c)
{
	static const unsigned short map[32] = {
	        0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
	        0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178,
	};

	return c >= 0x80 && c <= 0x9F ? map[c - 0x80] : c;
}

/*
 * A byte of a UTF-8 document that is not UTF-8 travels through libxml2
 * as one of the last 128 code points (U+10FF80 + byte - 0x80), so that
 * the text it ends up in can be read again as a whole once it is known
 * (parse_html_fix_text). Writes the 4 bytes of its UTF-8; returns 4.
 */
size_t
parse_html_byte_escape(unsigned char b, char out[4])
{
	out[0] = (char)0xF4;
	out[1] = (char)0x8F;
	out[2] = (char)(b >= 0xC0 ? 0xBF : 0xBE);
	out[3] = (char)(0x80 | (b & 0x3F));
	return 4;
}

/* The byte an escape at u stands for (parse_html_byte_escape), or -1. */
static int
byte_escaped(const unsigned char *u)
{
	if (u[0] != 0xF4 || u[1] != 0x8F || (u[2] != 0xBE && u[2] != 0xBF) ||
	    (u[3] & 0xC0) != 0x80)
		return -1;
	return (u[2] == 0xBF ? 0xC0 : 0x80) | (u[3] & 0x3F);
}

/* true for the five bytes windows-1252 has no character for. */
static bool
cp1252_lacks(unsigned b)
{
	return b == 0x81 || b == 0x8D || b == 0x8F || b == 0x90 || b == 0x9D;
}

/* The ISO-8859-2 character of a byte, C1 controls as windows-1252. */
static unsigned
latin2_cp1252(unsigned b)
{
	static const unsigned short hi[96] = {
	        0x00A0, 0x0104, 0x02D8, 0x0141, 0x00A4, 0x013D, 0x015A, 0x00A7,
	        0x00A8, 0x0160, 0x015E, 0x0164, 0x0179, 0x00AD, 0x017D, 0x017B,
	        0x00B0, 0x0105, 0x02DB, 0x0142, 0x00B4, 0x013E, 0x015B, 0x02C7,
	        0x00B8, 0x0161, 0x015F, 0x0165, 0x017A, 0x02DD, 0x017E, 0x017C,
	        0x0154, 0x00C1, 0x00C2, 0x0102, 0x00C4, 0x0139, 0x0106, 0x00C7,
	        0x010C, 0x00C9, 0x0118, 0x00CB, 0x011A, 0x00CD, 0x00CE, 0x010E,
	        0x0110, 0x0143, 0x0147, 0x00D3, 0x00D4, 0x0150, 0x00D6, 0x00D7,
	        0x0158, 0x016E, 0x00DA, 0x0170, 0x00DC, 0x00DD, 0x0162, 0x00DF,
	        0x0155, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x013A, 0x0107, 0x00E7,
	        0x010D, 0x00E9, 0x0119, 0x00EB, 0x011B, 0x00ED, 0x00EE, 0x010F,
	        0x0111, 0x0144, 0x0148, 0x00F3, 0x00F4, 0x0151, 0x00F6, 0x00F7,
	        0x0159, 0x016F, 0x00FA, 0x0171, 0x00FC, 0x00FD, 0x0163, 0x02D9,
	};

	return b >= 0xA0 ? hi[b - 0xA0] : parse_html_cp1252(b);
}

/*
 * Text with escaped bytes (parse_html_byte_escape) read again, as
 * feedparser reads a document whose UTF-8 is broken: as windows-1252,
 * and when windows-1252 lacks one of its bytes, as ISO-8859-2 (the
 * "unguessable" case). feedparser reads the whole document again; here
 * only the text that holds the bytes is, and in the windows-1252 case
 * only the bytes themselves: the good UTF-8 beside them stays, which is
 * what a feed that mixes the two almost always means. A new string, or
 * NULL when out of memory.
 */
static char *
bytes_read_again(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	bool latin2 = false;
	char *out = malloc(len * 3 + 1), *o = out;
	size_t k;
	int b;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len && !latin2; i += k) {
		k = u[i] < 0x80 ? 1 : utf8_valid_len(s + i);
		if (k == 0)
			k = 1;
		b = k == 4 ? byte_escaped(u + i) : -1;
		if (b >= 0) {
			latin2 = cp1252_lacks((unsigned)b);
			continue;
		}
		for (size_t j = 1; j < k; j++)
			if (cp1252_lacks(u[i + j]))
				latin2 = true;
	}
	for (size_t i = 0; i < len; i += k) {
		k = u[i] < 0x80 ? 1 : utf8_valid_len(s + i);
		if (k == 0)
			k = 1;
		b = k == 4 ? byte_escaped(u + i) : -1;
		if (b < 0 && !latin2) {
			memcpy(o, u + i, k);
			o += k;
			continue;
		}
		if (b >= 0) {
			o += utf8_encode(
			        latin2 ? latin2_cp1252((unsigned)b)
			               : parse_html_cp1252((unsigned)b),
			        o);
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			if (u[i + j] < 0x80)
				*o++ = (char)u[i + j];
			else
				o += utf8_encode(latin2_cp1252(u[i + j]), o);
		}
	}
	*o = '\0';
	return out;
}

/*
 * Text as feeds mean it: invalid UTF-8 replaced by U+FFFD, UTF-8 that was
 * decoded as Latin-1 and encoded again put right, and C1 controls read as
 * windows-1252. Returns s itself or a new string (s then freed); NULL
 * when out of memory.
 */
char *
parse_html_fix_text(char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	bool bad = false, c1 = false, latin = true, high = false;
	bool escaped = false;
	size_t len = strlen(s), k;
	char *out, *o;

	for (size_t i = 0; i < len; i += k) {
		if (u[i] < 0x80) {
			/* ASCII runs, eight bytes at a time */
			k = 1;
			while (i + k + 8 <= len) {
				uint64_t w;
				memcpy(&w, u + i + k, 8);
				if (w & 0x8080808080808080ULL)
					break;
				k += 8;
			}
			continue;
		}
		k = utf8_valid_len((const char *)u + i);
		if (k == 0) {
			bad = true;
			k = 1;
			continue;
		}
		if (k == 4 && byte_escaped(u + i) >= 0)
			escaped = true;
		if (k > 2 || (k == 2 && u[i] > 0xC3))
			latin = false;
		if (k == 2) {
			unsigned cp =
			        ((u[i] & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu);
			/* a lead byte then a continuation byte, as characters
			 */
			if (cp <= 0xBF && i >= 2 && u[i - 2] == 0xC3 &&
			    u[i - 1] >= 0x82 && u[i - 1] <= 0xB4)
				high = true;
			if (u[i] == 0xC2 && u[i + 1] <= 0x9F)
				c1 = true;
		}
	}
	if (escaped) {
		out = bytes_read_again(s, len);
		free(s);
		/* what is read again has no escapes left */
		return out ? parse_html_fix_text(out) : NULL;
	}
	if (!bad && !c1 && !(latin && high))
		return s;
	out = malloc(strlen(s) * 3 + 1);
	if (out == NULL) {
		free(s);
		return NULL;
	}
	o = out;
	if (!bad && latin && high) {
		/* the code points, taken as bytes, may be UTF-8 */
		char *b = malloc(strlen(s) + 1), *bo = b;
		bool ok = b != NULL;
		for (size_t i = 0; ok && u[i]; i += k) {
			k = utf8_valid_len((const char *)u + i);
			*bo++ = (char)(k == 1 ? u[i]
			                      : ((u[i] & 0x1F) << 6) |
			                                (u[i + 1] & 0x3F));
		}
		if (ok) {
			*bo = '\0';
			bool multi = false;
			for (const unsigned char *x = (unsigned char *)b;
			     *x && ok; x += k) {
				k = utf8_valid_len((const char *)x);
				if (k == 0)
					ok = false;
				else if (k > 1)
					multi = true;
			}
			if (ok && multi) {
				free(out);
				free(s);
				return b;
			}
		}
		free(b);
	}
	for (size_t i = 0; u[i]; i += k) {
		k = utf8_valid_len((const char *)u + i);
		if (k == 0) {
			memcpy(o, "\xEF\xBF\xBD", 3);
			o += 3;
			k = 1;
		} else if (k == 2 && u[i] == 0xC2 && u[i + 1] <= 0x9F) {
			o += utf8_encode(parse_html_cp1252(u[i + 1]), o);
		} else {
			memcpy(o, u + i, k);
			o += k;
		}
	}
	*o = '\0';
	free(s);
	return out;
}
