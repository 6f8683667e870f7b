/*
 * The full-text index (FTS5): the plain text it holds, and indexing the
 * stories merges queued.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gazette/url.h"
#include "store-internal.h"

/* The UTF-8 bytes of code point c into o; how many. */
static size_t
utf8_put(char *o, unsigned long c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * A character reference at p ("&...;", at most 10 bytes): its code point
 * and length, else 0. Numeric ones and the few named ones that letters
 * need; others read as a space.
 */
static size_t
char_ref(const char *p, const char *end, unsigned long *ret)
{
	static const struct {
		const char *name;
		unsigned long c;
	} named[] = {
	        {"amp;", '&'},      {"lt;", '<'},       {"gt;", '>'},
	        {"quot;", '"'},     {"apos;", '\''},    {"nbsp;", ' '},
	        {"rsquo;", 0x2019}, {"lsquo;", 0x2018}, {"hellip;", 0x2026}};
	const char *q = p + 1;
	unsigned long c = 0;

	if (q < end && *q == '#') {
		int base = 10, digits = 0;

		q++;
		if (q < end && (*q == 'x' || *q == 'X')) {
			base = 16;
			q++;
		}
		for (; q < end && q - p < 10; q++, digits++) {
			int d;

			if (*q >= '0' && *q <= '9')
				d = *q - '0';
			else if (base == 16 && *q >= 'a' && *q <= 'f')
				d = *q - 'a' + 10;
			else if (base == 16 && *q >= 'A' && *q <= 'F')
				d = *q - 'A' + 10;
			else
				break;
			c = c * (unsigned long)base + (unsigned long)d;
		}
		if (!digits || q >= end || *q != ';' || c == 0 ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		*ret = c;
		return (size_t)(q + 1 - p);
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t l = strlen(named[i].name);

		if ((size_t)(end - q) >= l &&
		    memcmp(q, named[i].name, l) == 0) {
			*ret = named[i].c;
			return l + 1;
		}
	}
	return 0;
}

/*
 * gz_fts_text(html): the words of an HTML fragment for the full-text
 * index: tags (with their attributes and URLs) and comments become
 * spaces, character references their characters. Text without markup
 * is returned as it is. Deterministic: an index entry is removed with
 * the same words it was added with.
 */
static void
fts_text_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *t, *p, *end;
	char *out, *o;
	int n;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	t = (const char *)sqlite3_value_text(argv[0]);
	n = sqlite3_value_bytes(argv[0]);
	if (!t) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (!memchr(t, '<', (size_t)n) && !memchr(t, '&', (size_t)n)) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	/* Never longer: a reference's UTF-8 is shorter than the reference. */
	out = sqlite3_malloc(n + 1);
	if (!out) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	o = out;
	end = t + n;
	for (p = t; p < end;) {
		if (*p == '<') {
			const char *q;

			if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
				q = p + 4;
				while (q + 2 < end && memcmp(q, "-->", 3) != 0)
					q++;
				p = q + 2 < end ? q + 3 : end;
			} else {
				q = memchr(p, '>', (size_t)(end - p));
				p = q ? q + 1 : end;
			}
			*o++ = ' ';
		} else if (*p == '&') {
			unsigned long c;
			size_t l = char_ref(p, end, &c);

			if (l) {
				o += utf8_put(o, c);
				p += l;
			} else {
				*o++ = ' ';
				p++;
			}
		} else {
			*o++ = *p++;
		}
	}
	sqlite3_result_text(ctx, out, (int)(o - out), sqlite3_free);
}

/* Index up to INDEX_BATCH pending stories in one transaction; how many. */
static int
index_batch(struct store *s)
{
	int r, n;

	r = sql_begin(s);
	if (r < 0)
		return r;
	r = sql_exec(s,
	             "INSERT INTO story_fts(rowid, title, summary, content)"
	             " SELECT s.id, s.title, gz_fts_text(s.summary),"
	             " gz_fts_text(s.content) FROM story s WHERE s.id IN"
	             " (SELECT id FROM fts_pending ORDER BY id LIMIT ?1)",
	             "i", INDEX_BATCH);
	if (r >= 0)
		r = sql_exec(
		        s,
		        "DELETE FROM fts_pending WHERE id IN"
		        " (SELECT id FROM fts_pending ORDER BY id LIMIT ?1)",
		        "i", INDEX_BATCH);
	n = r;
	r = sql_end(s, r < 0 ? r : 0);
	return r < 0 ? r : n;
}

/* Index every story waiting for the full-text index. */
int
store_index(struct store *s)
{
	int total = 0;

	if (!s)
		return -EINVAL;
	if (s->flags & STORE_READONLY)
		return 0;
	/* Nothing queued: no write lock taken. */
	{
		int64_t any = 0;
		int r = sql_int(s, &any, "SELECT 1 FROM fts_pending LIMIT 1",
		                "");

		if (r <= 0) {
			s->unindexed = 0;
			return r;
		}
	}
	for (;;) {
		int r = index_batch(s);

		if (r < 0)
			return r;
		total += r;
		if (r < INDEX_BATCH)
			break;
	}
	s->unindexed = 0;
	return total;
}

/* Register gz_fts_text() on a connection; an SQLite result code. */
int
index_register(sqlite3 *db)
{
	return sqlite3_create_function_v2(db, "gz_fts_text", 1,
	                                  SQLITE_UTF8 | SQLITE_DETERMINISTIC |
	                                          SQLITE_INNOCUOUS,
	                                  NULL, fts_text_fn, NULL, NULL, NULL);
}
