/*
 * HTML from feeds: html_sanitize (the HTML export), html_to_text (`gazette
 * show`) and html_feed_links (`gazette add SITE`). Byte 0 picks the text
 * width; the rest is the HTML.
 *
 * The sanitizer's output is checked lexically, the way any browser would
 * tokenize it: every tag is an allowed element with allowed, double-quoted
 * attributes; URLs are http, https or mailto; text and attribute values
 * hold no raw '<', '>' or '"', and every '&' starts one of the escapes the
 * sanitizer writes. Feed links found must be http(s).
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "gazette/html.h"
#include "gazette/url.h"

/* What html.c keeps (its allow-list), and the attributes it writes. */
static const char *const elements[] = {
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
static const char *const attributes[] = {
        "title",  "lang",    "alt",     "datetime",       "width",
        "height", "colspan", "rowspan", "start",          "href",
        "src",    "cite",    "rel",     "referrerpolicy", NULL,
};

/* true when the n bytes at s are one of the words of list. */
static bool
in_list(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && memcmp(*list, s, n) == 0)
			return true;
	return false;
}

/* true when s (n bytes) starts with one of the sanitizer's escapes. */
static bool
is_escape(const char *s, size_t n)
{
	static const char *const esc[] = {"&amp;",  "&lt;",  "&gt;",
	                                  "&quot;", "&#39;", NULL};

	for (size_t i = 0; esc[i]; i++)
		if (n >= strlen(esc[i]) && !memcmp(s, esc[i], strlen(esc[i])))
			return true;
	return false;
}

/* Check a URL attribute value as a browser would judge its scheme. */
static void
check_url(const char *v, size_t n)
{
	char u[16];
	size_t k = 0;

	/* browsers skip leading blanks and controls and drop tab/newline */
	while (n > 0 && (unsigned char)*v <= 0x20) {
		v++;
		n--;
	}
	for (size_t i = 0; i < n && k < sizeof(u) - 1; i++)
		if (v[i] != '\t' && v[i] != '\n' && v[i] != '\r')
			u[k++] = v[i];
	u[k] = '\0';
	FUZZ_CHECK(strncasecmp(u, "http://", 7) == 0 ||
	           strncasecmp(u, "https://", 8) == 0 ||
	           strncasecmp(u, "mailto:", 7) == 0);
}

/* Check the tag at s (after '<'); returns the length up to its '>'. */
static size_t
check_tag(const char *s, size_t n)
{
	size_t i = 0, name;

	if (i < n && s[i] == '/')
		i++;
	name = i;
	while (i < n && s[i] >= 'a' && s[i] <= 'z')
		i++;
	while (i < n && s[i] >= '1' && s[i] <= '6') /* h1..h6 */
		i++;
	FUZZ_CHECK(in_list(s + name, i - name, elements));
	if (s[0] == '/') {
		FUZZ_CHECK(i < n && s[i] == '>');
		return i;
	}
	while (i < n && s[i] == ' ') {
		size_t a = ++i, v;
		bool url;

		while (i < n && s[i] >= 'a' && s[i] <= 'z')
			i++;
		FUZZ_CHECK(in_list(s + a, i - a, attributes));
		url = (i - a == 4 && !memcmp(s + a, "href", 4)) ||
		      (i - a == 3 && !memcmp(s + a, "src", 3)) ||
		      (i - a == 4 && !memcmp(s + a, "cite", 4));
		FUZZ_CHECK(i + 1 < n && s[i] == '=' && s[i + 1] == '"');
		i += 2;
		v = i;
		while (i < n && s[i] != '"') {
			FUZZ_CHECK(s[i] != '<' && s[i] != '>');
			FUZZ_CHECK(s[i] != '&' || is_escape(s + i, n - i));
			i++;
		}
		FUZZ_CHECK(i < n);
		if (url)
			check_url(s + v, i - v);
		i++;
	}
	FUZZ_CHECK(i < n && s[i] == '>');
	return i;
}

/* Check the whole sanitized fragment. */
static void
check_sanitized(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '<') {
			i += 1 + check_tag(s + i + 1, n - i - 1);
			continue;
		}
		FUZZ_CHECK(s[i] != '>' && s[i] != '"');
		FUZZ_CHECK(s[i] != '&' || is_escape(s + i, n - i));
	}
}

/* The fuzz target. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct html_feed_link *links = NULL;
	const char *html;
	char *out = NULL;
	size_t len, n_links = 0;
	unsigned width;

	if (size < 1)
		return 0;
	width = data[0] < 8 ? 0 : data[0];
	html = (const char *)data + 1;
	len = size - 1;

	if (html_sanitize(html, len, &out) == 0) {
		check_sanitized(out);
		free(out);
	}
	out = NULL;
	if (html_to_text(html, len, width, &out) == 0) {
		size_t w = html_width(out);
		(void)w;
		FUZZ_CHECK(html_fit(out, width) <= strlen(out));
		free(out);
	}
	if (html_feed_links(html, len, "https://example.org/dir/page.html",
	                    &links, &n_links) == 0) {
		FUZZ_CHECK(n_links <= HTML_MAX_FEED_LINKS);
		for (size_t i = 0; i < n_links; i++)
			FUZZ_CHECK(url_is_http(links[i].href));
		html_feed_links_free(links, n_links);
	}
	return 0;
}
