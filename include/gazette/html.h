/*
 * HTML from feeds, for people: rendered as wrapped plain text for the
 * terminal, or sanitized through an allow-list for the HTML export. Both
 * parse with libxml2's HTML parser (no network), never with regexes.
 */
#ifndef GAZETTE_HTML_H
#define GAZETTE_HTML_H

#include <stddef.h>
#include <stdio.h>

/* Input larger than this is cut before parsing (bytes). */
#define HTML_MAX_INPUT (4u << 20)

/*
 * Render an HTML fragment as plain text: paragraphs separated by a blank
 * line, words wrapped at width display columns (0: no wrapping), lists
 * with bullets, <pre> kept as is, links numbered "[N]" and listed at the
 * end, scripts and styles dropped, entities decoded. 0 and a newly
 * allocated *ret, or a negative errno.
 */
int html_to_text(const char *html, size_t len, unsigned width, char **ret);

/*
 * Keep only allowed markup: structural and inline text elements, links
 * and images with http(s)/mailto URLs, no script, style, iframe, object,
 * embed, form, no on* or style attributes. Returns a serialized fragment
 * with text escaped. 0 and a newly allocated *ret, or a negative errno.
 */
int html_sanitize(const char *html, size_t len, char **ret);

/*
 * Write s escaped for XML/HTML text and attribute values (& < > " '),
 * characters XML 1.0 forbids dropped, invalid UTF-8 replaced with U+FFFD.
 * 0, or -EIO when the write failed.
 */
int html_escape(FILE *f, const char *s);

/* A feed a web page announces with <link rel="alternate" type=...>. */
struct html_feed_link {
	char *href;  /* resolved against the page's URL */
	char *type;  /* application/rss+xml, application/atom+xml... */
	char *title; /* NULL when the link has none */
};

/* Links beyond this many are ignored. */
#define HTML_MAX_FEED_LINKS 64

/*
 * The feeds an HTML page links to (RSS, Atom and RDF types; JSON Feed
 * is not taken: gazette reads XML feeds), in document order, without
 * repeats, resolved against base_url; only http(s) results. 0 and
 * *ret / *ret_n (possibly 0), or a negative errno.
 */
int html_feed_links(const char *html, size_t len, const char *base_url,
                    struct html_feed_link **ret, size_t *ret_n);
void html_feed_links_free(struct html_feed_link *v, size_t n);

/* Display columns of a UTF-8 string (wide characters count 2). */
size_t html_width(const char *s);

/*
 * The byte length of the longest prefix of s that fits in cols display
 * columns, ending on a character boundary.
 */
size_t html_fit(const char *s, size_t cols);

#endif
