/*
 * Test helper: merge a feed file into a database the way a poll would,
 * for the CLI's integration tests (no network, no daemon).
 *
 *   populate DB URL FILE [NOW]
 *
 * subscribes to URL when no feed has it, parses FILE with URL as its
 * base and merges it as seen at NOW (default: the current time).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gazette/parse.h"
#include "gazette/store.h"

/* Read a whole file. */
static char *
slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rbe");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
			if (buf == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

/* populate DB URL FILE [NOW]: subscribe if needed, parse, merge. */
int
main(int argc, char **argv)
{
	struct gz_parser_opts opts = {0};
	struct store_merge_result res = {0};
	struct gz_feed *feed = NULL;
	struct store *s = NULL;
	const char *urls[1];
	char *err = NULL, *buf;
	int64_t id, now = argc > 4 ? strtoll(argv[4], NULL, 10) : time(NULL);
	size_t len;
	int r;

	if (argc < 4) {
		fprintf(stderr, "usage: populate DB URL FILE [NOW]\n");
		return 2;
	}
	buf = slurp(argv[3], &len);
	if (buf == NULL) {
		perror(argv[3]);
		return 1;
	}
	opts.base_url = argv[2];
	r = gz_parse_buffer(buf, len, &opts, &feed);
	free(buf);
	if (r < 0 || !feed->is_feed) {
		fprintf(stderr, "populate: %s is not a feed\n", argv[3]);
		return 1;
	}
	r = store_open(argv[1], STORE_CREATE, &s, &err);
	if (r < 0) {
		fprintf(stderr, "populate: %s\n", err ? err : strerror(-r));
		return 1;
	}
	urls[0] = argv[2];
	if (store_feed_find(s, argv[2], &id) < 0) {
		struct store_feed_spec spec = {.n_urls = 1, .urls = urls};

		if (store_feed_add(s, &spec, &id) < 0) {
			fprintf(stderr, "populate: %s\n", store_errmsg(s));
			return 1;
		}
	}
	r = store_merge(s, id, 0, feed, now, &res);
	if (r < 0) {
		fprintf(stderr, "populate: merge: %s\n", store_errmsg(s));
		return 1;
	}
	if (feed->title)
		store_feed_set_parsed_title(s, id, feed->title);
	printf("feed %" PRId64 ": %d new, %d updated\n", id, res.new_stories,
	       res.updated);
	gz_feed_free(feed);
	store_close(s);
	return 0;
}
