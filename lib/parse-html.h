/* Private to the parser: HTML fragments normalized as feedparser does. */
#ifndef GAZETTE_PARSE_HTML_H
#define GAZETTE_PARSE_HTML_H

#include <stddef.h>

/*
 * Rewrite an HTML fragment: tags re-serialized with sorted, double-quoted,
 * escaped attributes, void elements as <x />, stray '<' and '&' escaped,
 * and URL attributes (href, src, ...) resolved against base (may be NULL).
 * Output is at most max bytes. 0 and a newly allocated *ret, or -ENOMEM.
 */
int parse_html_normalize(const char *in, const char *base, size_t max,
                         char **ret);

/* true when text looks like HTML (a closing tag or an entity reference). */
int parse_html_looks_like(const char *s);

/* The windows-1252 character of a C1 control (0x80-0x9F), else c. */
unsigned parse_html_cp1252(unsigned c);

/*
 * The 4 bytes that carry a byte that is not UTF-8 through libxml2 to
 * parse_html_fix_text, which reads it as windows-1252 (or the text it is
 * in as ISO-8859-2). Returns 4.
 */
size_t parse_html_byte_escape(unsigned char b, char out[4]);

/*
 * Invalid UTF-8 replaced, escaped bytes read as windows-1252 or
 * ISO-8859-2, double-encoded UTF-8 undone, C1 controls read as
 * windows-1252. Returns s or a new string (s freed); NULL: no memory.
 */
char *parse_html_fix_text(char *s);

#endif
