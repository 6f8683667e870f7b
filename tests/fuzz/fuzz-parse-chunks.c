/*
 * The feed parser's chunking promise, as a differential target: one
 * document parsed whole and in several chunkings must give the same
 * feed, well-formed or not, byte for byte of what `gazette parse` prints
 * (every field, bozo and its message); a JSON Feed that fails must fail
 * the same way, with nothing handed over.
 *
 * Input, as for fuzz-parse: byte 0 picks the options (bits 0-2: the HTTP
 * Content-Type, bit 3: entries through the callback, bits 4-7: the
 * largest random chunk, 1 << bits), byte 1 seeds the random chunk sizes;
 * the rest is the document. The chunkings: 1 byte at a time; random
 * sizes; cuts inside every multi-byte UTF-8 sequence; cuts inside every
 * reference and markup delimiter ("&amp;", "<![CDATA[", "]]>", "-->");
 * and the document cut in two at a point the input picks.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "gazette/parse.h"

/* Content-Types a server may send, charsets true, false and unknown. */
static const char *const content_types[8] = {
        NULL,
        "application/rss+xml",
        "text/xml; charset=utf-8",
        "application/atom+xml; charset=iso-8859-1",
        "application/feed+json",
        "application/xml; charset=windows-1251",
        "text/html; charset=utf-8",
        "application/xml; charset=x-no-such-charset",
};

/* Where a chunking cuts the document: before byte i when cut(i). */
enum cuts {
	CUT_EVERY_BYTE,
	CUT_RANDOM,
	CUT_UTF8,
	CUT_MARKUP,
	CUT_HALVES,
	CUT_KINDS,
};

/* One chunked parse: the document and how to cut it. */
struct run {
	const char *doc;
	size_t len;
	size_t max_chunk;
	unsigned seed;
	size_t half;
};

/* The serialized parse: the entries (as they came) and the feed. */
struct out {
	FILE *m;
	char *s;
	size_t n;
};

/* Print an optional string, telling NULL from "". */
static void
put(FILE *m, const char *key, const char *v)
{
	if (v)
		fprintf(m, "%s=\"%s\"\n", key, v);
	else
		fprintf(m, "%s=null\n", key);
}

/* Serialize one entry, every field. */
static void
put_entry(FILE *m, const struct gz_entry *e)
{
	fputs("entry\n", m);
	put(m, "id", e->id);
	put(m, "title", e->title);
	put(m, "link", e->link);
	put(m, "summary", e->summary);
	put(m, "content", e->content);
	put(m, "author", e->author);
	fprintf(m, "published=%lld updated=%lld\n", (long long)e->published,
	        (long long)e->updated);
	for (size_t i = 0; i < e->n_links; i++) {
		put(m, "link.href", e->links[i].href);
		put(m, "link.rel", e->links[i].rel);
		put(m, "link.type", e->links[i].type);
	}
	for (size_t i = 0; i < e->n_categories; i++)
		put(m, "category", e->categories[i]);
	for (size_t i = 0; i < e->n_enclosures; i++) {
		put(m, "enclosure.url", e->enclosures[i].url);
		put(m, "enclosure.type", e->enclosures[i].type);
		put(m, "enclosure.length", e->enclosures[i].length);
	}
}

/* Serialize the feed's own fields and its collected entries. */
static void
put_feed(FILE *m, const struct gz_feed *f)
{
	for (size_t i = 0; i < f->n_entries; i++)
		put_entry(m, &f->entries[i]);
	fputs("feed\n", m);
	put(m, "title", f->title);
	put(m, "link", f->link);
	put(m, "subtitle", f->subtitle);
	put(m, "id", f->id);
	put(m, "language", f->language);
	put(m, "author", f->author);
	put(m, "image", f->image);
	put(m, "generator", f->generator);
	fprintf(m, "updated=%lld ttl=%lld update_period=%lld\n",
	        (long long)f->updated, (long long)f->ttl,
	        (long long)f->update_period);
	fprintf(m, "is_feed=%d bozo=%d\n", f->is_feed, f->bozo);
	put(m, "bozo_message", f->bozo_message);
}

/* The parser's per-entry callback: serialize the entry, then free it. */
static int
on_entry(struct gz_entry *e, void *arg)
{
	struct out *o = arg;

	put_entry(o->m, e);
	gz_entry_clear(e);
	return 0;
}

/* true when the chunking cuts before byte i (0 < i < len). */
static bool
cut_before(enum cuts how, const struct run *r, size_t i, unsigned *seed,
           size_t *left)
{
	const unsigned char *u = (const unsigned char *)r->doc;

	switch (how) {
	case CUT_EVERY_BYTE:
		return true;
	case CUT_RANDOM:
		if (--*left > 0)
			return false;
		*seed = *seed * 1103515245u + 12345u;
		*left = 1 + (*seed >> 8) % r->max_chunk;
		return true;
	case CUT_UTF8:
		/* after a lead byte, or between two continuation bytes */
		return u[i - 1] >= 0xC0 ||
		       ((u[i - 1] & 0xC0) == 0x80 && (u[i] & 0xC0) == 0x80);
	case CUT_MARKUP:
		return strchr("&#<![]-?", u[i - 1]) != NULL ||
		       strchr(";>", u[i]) != NULL;
	case CUT_HALVES:
		return i == r->half;
	case CUT_KINDS:
		break;
	}
	return false;
}

/* Parse the document cut the given way (whole when how is CUT_KINDS);
 * the serialized result, newly allocated. */
static char *
parse_cut(const struct run *r, enum cuts how, const char *content_type,
          bool callback)
{
	struct gz_parser_opts opts = {
	        .base_url = "https://example.org/dir/feed.xml",
	        .content_type = content_type,
	        .content_language = "en",
	};
	struct out o = {0};
	struct gz_feed *f = NULL;
	struct gz_parser *p;
	unsigned seed = r->seed;
	size_t left = 1, start = 0;
	int rc = 0;

	o.m = open_memstream(&o.s, &o.n);
	FUZZ_CHECK(o.m != NULL);
	if (callback) {
		opts.on_entry = on_entry;
		opts.arg = &o;
	}
	p = gz_parser_new(&opts);
	FUZZ_CHECK(p != NULL);
	for (size_t i = 1; i <= r->len && rc == 0; i++) {
		if (i < r->len &&
		    (how == CUT_KINDS || !cut_before(how, r, i, &seed, &left)))
			continue;
		rc = gz_parser_push(p, r->doc + start, i - start);
		start = i;
	}
	/* a limit stops the parse; the feed until then is still handed over */
	FUZZ_CHECK(rc == 0 || rc == -E2BIG || rc == -EFBIG);
	rc = gz_parser_finish(p, &f);
	if (rc == 0) {
		FUZZ_CHECK(!f->bozo || f->bozo_message != NULL);
		put_feed(o.m, f);
		gz_feed_free(f);
	} else {
		/* only a JSON Feed fails, malformed or too large, and whole:
		 * no entry may have reached the callback */
		FUZZ_CHECK(rc == -EBADMSG || rc == -EFBIG);
		FUZZ_CHECK(gz_parser_error(p) != NULL);
		FUZZ_CHECK(ftell(o.m) == 0);
		fprintf(o.m, "failed %d: %s\n", rc, gz_parser_error(p));
	}
	gz_parser_free(p);
	FUZZ_CHECK(fclose(o.m) == 0);
	return o.s;
}

/* The fuzz target: the whole parse and each chunked one, compared. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r;
	const char *ct;
	bool callback;
	char *whole;

	if (size < 2)
		return 0;
	ct = content_types[data[0] & 7];
	callback = data[0] & 8;
	r.max_chunk = (size_t)1 << (data[0] >> 4);
	r.seed = data[1] * 2654435761u + 1;
	r.doc = (const char *)data + 2;
	r.len = size - 2;
	r.half = r.len ? 1 + (data[1] * 257u) % r.len : 0;

	whole = parse_cut(&r, CUT_KINDS, ct, false);
	for (int how = 0; how < CUT_KINDS; how++) {
		char *part = parse_cut(&r, (enum cuts)how, ct, callback);

		if (strcmp(whole, part) != 0) {
			fprintf(stderr,
			        "chunking %d differs from the whole parse:\n"
			        "%s\n-- chunked --\n%s\n",
			        how, whole, part);
			abort();
		}
		free(part);
	}
	free(whole);
	return 0;
}
