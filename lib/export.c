/* Stories as JSON Lines, CSV, Atom 1.0 and one self-contained HTML page. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gazette/export.h"
#include "gazette/feed.h"
#include "gazette/html.h"

/* Room for an RFC 3339 date, and for what the compiler fears. */
#define DLEN 72

static void json_classes(void);

struct export
{
	FILE *f;
	enum export_format fmt;
	size_t count;
	int err;
};

/* "json", "csv", "atom" or "html". */
int
export_format_parse(const char *name, enum export_format *ret)
{
	static const struct {
		const char *name;
		enum export_format fmt;
	} names[] = {
	        {"json", EXPORT_JSON}, {"jsonl", EXPORT_JSON},
	        {"csv", EXPORT_CSV},   {"atom", EXPORT_ATOM},
	        {"html", EXPORT_HTML},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i].name) == 0) {
			*ret = names[i].fmt;
			return 0;
		}
	}
	return -EINVAL;
}

/* t as RFC 3339 UTC ("2024-01-02T03:04:05Z") into buf; "" for none. */
static void
rfc3339(int64_t t, char buf[DLEN])
{
	time_t tt = (time_t)t;
	struct tm tm;
	int v[6], i;
	char *o = buf;

	if (t == GZ_NO_DATE || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		buf[0] = '\0';
		return;
	}
	/* by hand: this runs three times per exported story */
	v[0] = tm.tm_year + 1900;
	v[1] = tm.tm_mon + 1;
	v[2] = tm.tm_mday;
	v[3] = tm.tm_hour;
	v[4] = tm.tm_min;
	v[5] = tm.tm_sec;
	*o++ = (char)('0' + v[0] / 1000);
	*o++ = (char)('0' + v[0] / 100 % 10);
	*o++ = (char)('0' + v[0] / 10 % 10);
	*o++ = (char)('0' + v[0] % 10);
	for (i = 1; i < 6; i++) {
		*o++ = "--T::"[i - 1];
		*o++ = (char)('0' + v[i] / 10 % 10);
		*o++ = (char)('0' + v[i] % 10);
	}
	*o++ = 'Z';
	*o = '\0';
}

/* The CSS of the HTML page: readable, printable, no external resources. */
static const char page_css[] =
        "body{font-family:sans-serif;max-width:46em;margin:2em auto;"
        "padding:0 1em;line-height:1.5;color:#222;background:#fff}"
        "article{border-bottom:1px solid #ddd;padding:1em 0}"
        "h2{font-size:1.25em;margin:0 0 .25em}"
        ".meta{color:#666;font-size:.9em;margin:0 0 .75em}"
        "img{max-width:100%;height:auto}"
        "pre{overflow:auto;background:#f6f6f6;padding:.5em}"
        "blockquote{border-left:3px solid #ccc;margin-left:0;padding-left:1em}";

/* Start writing. */
int
export_begin(FILE *f, enum export_format fmt, const char *title, int64_t now,
             unsigned flags, struct export **ret)
{
	struct export *x = calloc(1, sizeof(*x));
	char date[DLEN];

	if (x == NULL)
		return -ENOMEM;
	x->f = f;
	x->fmt = fmt;
	if (title == NULL)
		title = "gazette";
	rfc3339(now, date);
	switch (fmt) {
	case EXPORT_JSON:
		json_classes();
		break;
	case EXPORT_CSV:
		fputs("id,published,updated,feeds,title,link,author,read,"
		      "starred,guid\r\n",
		      f);
		break;
	case EXPORT_ATOM:
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		      "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
		      "  <title type=\"text\">",
		      f);
		html_escape(f, title);
		fprintf(f,
		        "</title>\n"
		        "  <id>urn:gazette:export:%" PRId64 "</id>\n"
		        "  <updated>%s</updated>\n"
		        "  <generator version=\"%s\">gazette</generator>\n",
		        now, date, GAZETTE_VERSION);
		break;
	case EXPORT_HTML:
		fputs("<!DOCTYPE html>\n<html>\n<head>\n"
		      "<meta charset=\"utf-8\">\n"
		      "<meta http-equiv=\"Content-Security-Policy\" "
		      "content=\"default-src 'none'; ",
		      f);
		/* the user's choice: a page that stays offline, or images */
		fputs(flags & EXPORT_IMAGES ? "img-src http: https:; "
		                            : "img-src 'none'; ",
		      f);
		fputs("style-src 'unsafe-inline'\">\n"
		      "<meta name=\"referrer\" content=\"no-referrer\">\n"
		      "<meta name=\"viewport\" "
		      "content=\"width=device-width, initial-scale=1\">\n"
		      "<title>",
		      f);
		html_escape(f, title);
		fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>",
		        page_css);
		html_escape(f, title);
		fprintf(f, "</h1>\n<p class=\"meta\">Exported %s</p>\n", date);
		break;
	}
	*ret = x;
	return 0;
}

/*
 * The length of the valid UTF-8 sequence at s (n bytes left), 0 when
 * it is not one.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates and beyond U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return len;
}

/* The class of each byte for json_string(); see json_classes(). */
static unsigned char json_class[256];

/* 0: copied as is; 1: escaped; 2: UTF-8 lead or stray byte; 3: end. */
static void
json_classes(void)
{
	for (int c = 0; c < 0x20; c++)
		json_class[c] = 1;
	for (int c = 0x80; c < 0x100; c++)
		json_class[c] = 2;
	json_class['"'] = json_class['\\'] = 1;
	json_class[0] = 3;
}

/*
 * true when none of the 8 bytes at p needs a look: no control character,
 * quote, backslash or byte of a multi-byte character (bit tricks on one
 * 64-bit word: a byte below n shows as a high bit of v - n * 0x01..).
 */
static bool
plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
	uint64_t v, q, b;

	memcpy(&v, p, sizeof(v));
	q = v ^ (ones * '"');
	b = v ^ (ones * '\\');
	return ((v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) |
	         ((b - ones) & ~b)) &
	        high) == 0;
}

/*
 * A JSON string (RFC 8259), or null. Written directly, in runs: the
 * export of a million stories spends its time here. Invalid UTF-8
 * becomes U+FFFD, so that every line is valid JSON.
 */
static void
json_string(FILE *f, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str, *run, *end8;

	if (str == NULL) {
		fputs_unlocked("null", f);
		return;
	}
	putc_unlocked('"', f);
	run = s;
	end8 = s + strlen(str);
	end8 = end8 - s >= 8 ? end8 - 8 : s;
	for (;;) {
		unsigned char c;
		size_t k;

		while (s < end8 && plain8(s))
			s += 8;
		while (json_class[*s] == 0)
			s++;
		c = *s;
		if (json_class[c] == 3)
			break;
		if (json_class[c] == 2 &&
		    (k = utf8_len(s, strnlen((const char *)s, 4))) > 0) {
			s += k;
			continue;
		}
		fwrite_unlocked(run, 1, (size_t)(s - run), f);
		switch (c) {
		case '"':
			fputs_unlocked("\\\"", f);
			break;
		case '\\':
			fputs_unlocked("\\\\", f);
			break;
		case '\n':
			fputs_unlocked("\\n", f);
			break;
		case '\r':
			fputs_unlocked("\\r", f);
			break;
		case '\t':
			fputs_unlocked("\\t", f);
			break;
		default:
			if (c < 0x20) {
				char u[7] = {'\\',        'u',         '0', '0',
				             hex[c >> 4], hex[c & 15], '\0'};

				fputs_unlocked(u, f);
			} else {
				fputs_unlocked("\xef\xbf\xbd", f);
			}
			break;
		}
		s++;
		run = s;
	}
	fwrite_unlocked(run, 1, (size_t)(s - run), f);
	putc_unlocked('"', f);
}

/* A date as a JSON RFC 3339 string, or null. */
static void
json_date(FILE *f, int64_t t)
{
	char d[DLEN];

	rfc3339(t, d);
	json_string(f, d[0] ? d : NULL);
}

/* One story as one line of JSON. */
static int
story_json(struct export *x, const struct store_story *st)
{
	FILE *f = x->f;

	fprintf(f, "{\"id\":%" PRId64 ",\"guid\":", st->id);
	json_string(f, st->guid);
	fputs_unlocked(",\"title\":", f);
	json_string(f, st->title);
	fputs_unlocked(",\"link\":", f);
	json_string(f, st->link);
	fputs_unlocked(",\"author\":", f);
	json_string(f, st->author);
	fputs_unlocked(",\"published\":", f);
	json_date(f, st->published);
	fputs_unlocked(",\"updated\":", f);
	json_date(f, st->updated);
	fputs_unlocked(",\"first_seen\":", f);
	json_date(f, st->first_seen);
	fprintf(f, ",\"read\":%s,\"starred\":%s,\"feeds\":[",
	        st->read ? "true" : "false", st->starred ? "true" : "false");
	for (size_t i = 0; i < st->n_feeds; i++) {
		fprintf(f, "%s{\"id\":%" PRId64 ",\"title\":", i ? "," : "",
		        st->feed_ids[i]);
		json_string(f, st->feed_titles[i]);
		putc_unlocked('}', f);
	}
	putc_unlocked(']', f);
	if (st->summary) {
		fputs_unlocked(",\"summary\":", f);
		json_string(f, st->summary);
	}
	if (st->content) {
		fputs_unlocked(",\"content\":", f);
		json_string(f, st->content);
	}
	fputs_unlocked("}\n", f);
	return 0;
}

/* One CSV field, quoted when it holds a comma, quote, CR or LF. */
static void
csv_field(FILE *f, const char *s, bool last)
{
	if (s && strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else if (s) {
		fputs(s, f);
	}
	fputs(last ? "\r\n" : ",", f);
}

/* One story as one CSV record. */
static int
story_csv(struct export *x, const struct store_story *st)
{
	char id[24], pub[DLEN], upd[DLEN];
	char *feeds = NULL;
	size_t n = 0;
	FILE *m;

	m = open_memstream(&feeds, &n);
	if (m == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_feeds; i++)
		fprintf(m, "%s%s", i ? "; " : "",
		        st->feed_titles[i] ? st->feed_titles[i] : "");
	if (fclose(m) != 0) {
		free(feeds);
		return -ENOMEM;
	}
	snprintf(id, sizeof(id), "%" PRId64, st->id);
	rfc3339(st->published, pub);
	rfc3339(st->updated, upd);
	csv_field(x->f, id, false);
	csv_field(x->f, pub, false);
	csv_field(x->f, upd, false);
	csv_field(x->f, feeds, false);
	csv_field(x->f, st->title, false);
	csv_field(x->f, st->link, false);
	csv_field(x->f, st->author, false);
	csv_field(x->f, st->read ? "1" : "0", false);
	csv_field(x->f, st->starred ? "1" : "0", false);
	csv_field(x->f, st->guid, true);
	free(feeds);
	return 0;
}

/* An element with escaped text, when the text is not NULL. */
static void
atom_text(FILE *f, const char *indent, const char *name, const char *attrs,
          const char *s)
{
	if (s == NULL)
		return;
	fprintf(f, "%s<%s%s>", indent, name, attrs);
	html_escape(f, s);
	fprintf(f, "</%s>\n", name);
}

/* One story as an Atom <entry>. */
static int
story_atom(struct export *x, const struct store_story *st)
{
	FILE *f = x->f;
	char pub[DLEN], upd[DLEN];

	rfc3339(st->published, pub);
	rfc3339(st->updated != GZ_NO_DATE ? st->updated : st->published, upd);
	fputs("  <entry>\n", f);
	if (st->guid && *st->guid)
		atom_text(f, "    ", "id", "", st->guid);
	else if (st->link && *st->link)
		atom_text(f, "    ", "id", "", st->link);
	else
		fprintf(f, "    <id>urn:gazette:story:%" PRId64 "</id>\n",
		        st->id);
	atom_text(f, "    ", "title", " type=\"text\"",
	          st->title ? st->title : "");
	if (st->link && *st->link) {
		fputs("    <link rel=\"alternate\" href=\"", f);
		html_escape(f, st->link);
		fputs("\"/>\n", f);
	}
	if (pub[0])
		fprintf(f, "    <published>%s</published>\n", pub);
	if (upd[0])
		fprintf(f, "    <updated>%s</updated>\n", upd);
	if (st->author && *st->author) {
		fputs("    <author>\n", f);
		atom_text(f, "      ", "name", "", st->author);
		fputs("    </author>\n", f);
	}
	for (size_t i = 0; i < st->n_feeds; i++) {
		if (st->feed_titles[i] == NULL)
			continue;
		fputs("    <category term=\"", f);
		html_escape(f, st->feed_titles[i]);
		fputs("\"/>\n", f);
	}
	atom_text(f, "    ", "summary", " type=\"html\"", st->summary);
	atom_text(f, "    ", "content", " type=\"html\"", st->content);
	fputs("  </entry>\n", f);
	return 0;
}

/* true for a link a reader may follow from the page. */
static bool
http_link(const char *u)
{
	return u && (strncasecmp(u, "http://", 7) == 0 ||
	             strncasecmp(u, "https://", 8) == 0);
}

/* One story as an <article> of the page. */
static int
story_html(struct export *x, const struct store_story *st)
{
	FILE *f = x->f;
	const char *body =
	        st->content && *st->content ? st->content : st->summary;
	char pub[DLEN];
	char *clean = NULL;
	int r;

	rfc3339(st->published, pub);
	fputs("<article>\n<h2>", f);
	if (http_link(st->link)) {
		fputs("<a href=\"", f);
		html_escape(f, st->link);
		fputs("\" rel=\"noopener noreferrer\">", f);
	}
	html_escape(f, st->title && *st->title ? st->title : "(untitled)");
	if (http_link(st->link))
		fputs("</a>", f);
	fputs("</h2>\n<p class=\"meta\">", f);
	for (size_t i = 0; i < st->n_feeds; i++) {
		if (i)
			fputs(", ", f);
		html_escape(f, st->feed_titles[i]);
	}
	if (pub[0]) {
		fputs(st->n_feeds ? " · " : "", f);
		fprintf(f, "<time datetime=\"%s\">%.10s %.5s UTC</time>", pub,
		        pub, pub + 11);
	}
	if (st->author && *st->author) {
		fputs(" · ", f);
		html_escape(f, st->author);
	}
	fputs("</p>\n", f);
	if (body && *body) {
		r = html_sanitize(body, strlen(body), &clean);
		if (r < 0)
			return r;
		fprintf(f, "<div class=\"content\">%s</div>\n", clean);
		free(clean);
	}
	fputs("</article>\n", f);
	return 0;
}

/* Write one story. */
int
export_story(struct export *x, const struct store_story *st)
{
	int r = 0;

	switch (x->fmt) {
	case EXPORT_JSON:
		r = story_json(x, st);
		break;
	case EXPORT_CSV:
		r = story_csv(x, st);
		break;
	case EXPORT_ATOM:
		r = story_atom(x, st);
		break;
	case EXPORT_HTML:
		r = story_html(x, st);
		break;
	}
	if (r == 0 && ferror(x->f))
		r = -EIO;
	if (r == 0)
		x->count++;
	return r;
}

/* Write the trailer and flush. */
int
export_end(struct export *x)
{
	switch (x->fmt) {
	case EXPORT_ATOM:
		fputs("</feed>\n", x->f);
		break;
	case EXPORT_HTML:
		if (x->count == 0)
			fputs("<p>No stories.</p>\n", x->f);
		fputs("</body>\n</html>\n", x->f);
		break;
	default:
		break;
	}
	if (fflush(x->f) != 0 || ferror(x->f))
		return -EIO;
	return 0;
}

/* Free the writer. */
void
export_free(struct export *x)
{
	free(x);
}
