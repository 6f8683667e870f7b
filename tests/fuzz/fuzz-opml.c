/*
 * OPML import: opml_parse on anything. What it accepts is written back
 * with opml_write and parsed again: the same feeds come back, with the
 * same URLs, proxies and intervals (export then import loses nothing).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "gazette/opml.h"

/* true when two optional strings are both NULL or equal. */
static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The feeds of d as the store would hand them to opml_write. */
static struct store_feed *
to_store(const struct opml_doc *d)
{
	struct store_feed *v = calloc(d->n_feeds + 1, sizeof(*v));

	if (v == NULL)
		abort();
	for (size_t i = 0; i < d->n_feeds; i++) {
		const struct opml_feed *f = &d->feeds[i];

		v[i].id = (int64_t)i + 1;
		v[i].title = f->title;
		v[i].category = f->category;
		v[i].interval = f->interval;
		v[i].n_urls = f->n_urls;
		v[i].urls = calloc(f->n_urls + 1, sizeof(*v[i].urls));
		if (v[i].urls == NULL)
			abort();
		for (size_t j = 0; j < f->n_urls; j++) {
			v[i].urls[j].url = f->urls[j];
			v[i].urls[j].proxy = f->proxies[j];
		}
	}
	return v;
}

/* true when a and b have the same URLs, proxies and interval. */
static bool
same_feed(const struct opml_feed *a, const struct opml_feed *b)
{
	if (a->interval != b->interval || a->n_urls != b->n_urls)
		return false;
	for (size_t j = 0; j < a->n_urls; j++)
		if (!same_str(a->urls[j], b->urls[j]) ||
		    !same_str(a->proxies[j], b->proxies[j]))
			return false;
	return true;
}

/* An unused feed of d the same as a (feeds come back reordered). */
static bool
find_feed(const struct opml_doc *d, const struct opml_feed *a, bool *used)
{
	for (size_t i = 0; i < d->n_feeds; i++)
		if (!used[i] && same_feed(a, &d->feeds[i])) {
			used[i] = true;
			return true;
		}
	return false;
}

/* Write d as OPML, parse it again and check nothing was lost. */
static void
check_round_trip(const struct opml_doc *d)
{
	struct store_feed *sf = to_store(d);
	struct store_feed **pv = calloc(d->n_feeds + 1, sizeof(*pv));
	struct opml_doc *d2 = NULL;
	char *out = NULL, *err = NULL;
	size_t out_len = 0;
	bool *used;
	FILE *f;
	int r;

	if (pv == NULL)
		abort();
	for (size_t i = 0; i < d->n_feeds; i++)
		pv[i] = &sf[i];
	f = open_memstream(&out, &out_len);
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(opml_write(f, pv, d->n_feeds, 1700000000) == 0);
	FUZZ_CHECK(fclose(f) == 0);

	r = opml_parse(out, out_len, &d2, &err);
	if (r < 0)
		fprintf(stderr, "re-import failed: %s\n%s\n", err ? err : "?",
		        out);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(d2->n_feeds == d->n_feeds);
	FUZZ_CHECK(d2->n_skipped == 0);
	used = calloc(d->n_feeds + 1, sizeof(*used));
	if (used == NULL)
		abort();
	for (size_t i = 0; i < d->n_feeds; i++) {
		bool found = find_feed(d2, &d->feeds[i], used);

		if (!found)
			fprintf(stderr, "feed %zu (%s) lost:\n%s\n", i,
			        d->feeds[i].urls[0], out);
		FUZZ_CHECK(found);
	}
	free(used);
	opml_doc_free(d2);
	free(err);
	free(out);
	for (size_t i = 0; i < d->n_feeds; i++)
		free(sf[i].urls);
	free(sf);
	free(pv);
}

/* The fuzz target. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct opml_doc *d = NULL;
	char *err = NULL;
	int r;

	r = opml_parse((const char *)data, size, &d, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG || r == -EFBIG);
	if (r == 0) {
		for (size_t i = 0; i < d->n_feeds; i++) {
			FUZZ_CHECK(d->feeds[i].n_urls >= 1);
			FUZZ_CHECK(d->feeds[i].n_urls <= OPML_MAX_URLS);
			FUZZ_CHECK(d->feeds[i].urls[0] != NULL);
		}
		check_round_trip(d);
	}
	opml_doc_free(d);
	free(err);
	return 0;
}
