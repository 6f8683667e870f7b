/*
 * The feed parser, pushed at fuzzer-chosen chunk boundaries.
 *
 * Input: byte 0 picks the options (bits 0-2: the HTTP Content-Type,
 * bit 3: entries through the callback, bits 4-7: the largest chunk,
 * 1 << bits), byte 1 seeds the chunk sizes; the rest is the document.
 *
 * parse.h promises that any chunking gives the same result as the whole
 * document at once: for a well-formed document the two parses are
 * compared field by field here (with FUZZ_PARSE_STRICT=1 in the
 * environment, malformed ones too). fuzz-parse-chunks holds every
 * document to it, in more chunkings, bozo messages included.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "gazette/parse.h"

/* Content-Types a server may send, charsets true, false and unknown. */
static const char *const content_types[8] = {
        NULL,
        "application/rss+xml",
        "text/xml; charset=utf-8",
        "application/atom+xml; charset=iso-8859-1",
        "text/xml",
        "application/xml; charset=windows-1251",
        "text/html; charset=utf-8",
        "application/xml; charset=x-no-such-charset",
};

/* Entries handed over by the callback, gathered for the comparison. */
struct collect {
	struct gz_entry *v;
	size_t n, cap;
};

/* The parser's per-entry callback: keep the entry. */
static int
on_entry(struct gz_entry *e, void *arg)
{
	struct collect *c = arg;

	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		if (c->v == NULL)
			abort();
	}
	c->v[c->n++] = *e;
	*e = (struct gz_entry){.published = GZ_NO_DATE, .updated = GZ_NO_DATE};
	return 0;
}

/* true when two optional strings are both NULL or equal. */
static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Check that two entries are field by field the same. */
static void
check_same_entry(const struct gz_entry *a, const struct gz_entry *b)
{
	FUZZ_CHECK(same_str(a->id, b->id));
	FUZZ_CHECK(same_str(a->title, b->title));
	FUZZ_CHECK(same_str(a->link, b->link));
	FUZZ_CHECK(same_str(a->summary, b->summary));
	FUZZ_CHECK(same_str(a->content, b->content));
	FUZZ_CHECK(same_str(a->author, b->author));
	FUZZ_CHECK(a->published == b->published);
	FUZZ_CHECK(a->updated == b->updated);
	FUZZ_CHECK(a->n_links == b->n_links);
	for (size_t i = 0; i < a->n_links; i++) {
		FUZZ_CHECK(same_str(a->links[i].href, b->links[i].href));
		FUZZ_CHECK(same_str(a->links[i].rel, b->links[i].rel));
		FUZZ_CHECK(same_str(a->links[i].type, b->links[i].type));
	}
	FUZZ_CHECK(a->n_categories == b->n_categories);
	for (size_t i = 0; i < a->n_categories; i++)
		FUZZ_CHECK(same_str(a->categories[i], b->categories[i]));
	FUZZ_CHECK(a->n_enclosures == b->n_enclosures);
	for (size_t i = 0; i < a->n_enclosures; i++) {
		FUZZ_CHECK(
		        same_str(a->enclosures[i].url, b->enclosures[i].url));
		FUZZ_CHECK(
		        same_str(a->enclosures[i].type, b->enclosures[i].type));
		FUZZ_CHECK(same_str(a->enclosures[i].length,
		                    b->enclosures[i].length));
	}
}

/* Check that two feeds' channel fields are the same. */
static void
check_same_feed(const struct gz_feed *a, const struct gz_feed *b)
{
	FUZZ_CHECK(same_str(a->title, b->title));
	FUZZ_CHECK(same_str(a->link, b->link));
	FUZZ_CHECK(same_str(a->subtitle, b->subtitle));
	FUZZ_CHECK(same_str(a->id, b->id));
	FUZZ_CHECK(same_str(a->language, b->language));
	FUZZ_CHECK(same_str(a->author, b->author));
	FUZZ_CHECK(same_str(a->image, b->image));
	FUZZ_CHECK(same_str(a->generator, b->generator));
	FUZZ_CHECK(a->updated == b->updated);
	FUZZ_CHECK(a->ttl == b->ttl);
	FUZZ_CHECK(a->update_period == b->update_period);
	FUZZ_CHECK(a->is_feed == b->is_feed);
	FUZZ_CHECK(a->bozo == b->bozo);
}

/* Check what the parser promises of any result: well-formed strings. */
static void
check_sane(const struct gz_feed *f)
{
	FUZZ_CHECK(!f->bozo || f->bozo_message != NULL);
	FUZZ_CHECK(f->n_entries == 0 || f->entries != NULL);
}

/* The fuzz target: one whole parse, one chunked parse, compared. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gz_parser_opts opts = {
	        .base_url = "https://example.org/dir/feed.xml",
	        .content_language = "en",
	};
	struct collect col = {0};
	struct gz_feed *whole = NULL, *chunked = NULL;
	struct gz_parser *p;
	static int strict = -1;
	const char *doc;
	size_t len, max_chunk, off = 0;
	unsigned seed;
	int rw, rc = 0;

	if (size < 2)
		return 0;
	opts.content_type = content_types[data[0] & 7];
	max_chunk = (size_t)1 << (data[0] >> 4);
	seed = data[1] * 2654435761u + 1;
	doc = (const char *)data + 2;
	len = size - 2;

	rw = gz_parse_buffer(doc, len, &opts, &whole);
	/* a malformed (or too large) JSON Feed fails */
	FUZZ_CHECK(rw == 0 || rw == -E2BIG || rw == -EBADMSG || rw == -EFBIG);

	if (data[0] & 8) {
		opts.on_entry = on_entry;
		opts.arg = &col;
	}
	p = gz_parser_new(&opts);
	FUZZ_CHECK(p != NULL);
	while (off < len && rc == 0) {
		size_t n;
		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % max_chunk;
		if (n > len - off)
			n = len - off;
		rc = gz_parser_push(p, doc + off, n);
		off += n;
	}
	FUZZ_CHECK(rc == 0 || rc == -E2BIG || rc == -EFBIG);
	if (rc == 0) {
		rc = gz_parser_finish(p, &chunked);
		FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
		/* JSON fails whole or not at all, whatever the chunks */
		FUZZ_CHECK((rc == 0) == (rw == 0 || rw == -E2BIG));
		FUZZ_CHECK(rc == 0 || col.n == 0);
	}
	gz_parser_free(p);

	if (whole)
		check_sane(whole);
	if (chunked)
		check_sane(chunked);
	/* Same bytes, same answer, whatever the chunks were. */
	if (strict < 0)
		strict = getenv("FUZZ_PARSE_STRICT") != NULL;
	if (rw == 0 && chunked && (strict || !whole->bozo)) {
		const struct gz_entry *ev =
		        opts.on_entry ? col.v : chunked->entries;
		size_t en = opts.on_entry ? col.n : chunked->n_entries;

		check_same_feed(whole, chunked);
		FUZZ_CHECK(whole->n_entries == en);
		for (size_t i = 0; i < en; i++)
			check_same_entry(&whole->entries[i], &ev[i]);
	}

	for (size_t i = 0; i < col.n; i++)
		gz_entry_clear(&col.v[i]);
	free(col.v);
	gz_feed_free(whole);
	gz_feed_free(chunked);
	return 0;
}
