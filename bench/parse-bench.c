/*
 * The parser's throughput, driven as the daemon drives it: the file is
 * pushed in curl-sized chunks (16 KiB) and every entry is handed to a
 * callback that frees it. Prints bytes, seconds, MB/s and entries.
 *   parse-bench FILE [ROUNDS]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gazette/parse.h"

#define CHUNK (16 * 1024)

static size_t n_entries;

/* The daemon's stand-in: count the entry, free it. */
static int
drop(struct gz_entry *e, void *arg)
{
	(void)arg;
	n_entries++;
	gz_entry_clear(e);
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct gz_parser_opts o = {.on_entry = drop};
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	double best = 0;
	char *buf;
	size_t len = 0;
	struct stat st;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: parse-bench FILE [ROUNDS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "parse-bench: %s: %s\n", argv[1],
		        strerror(errno));
		return 1;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL || len != (size_t)st.st_size) {
		fprintf(stderr, "parse-bench: cannot read %s\n", argv[1]);
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		struct gz_parser *p = gz_parser_new(&o);
		struct gz_feed *f = NULL;
		double t0 = now(), dt;

		n_entries = 0;
		for (size_t i = 0; i < len; i += CHUNK)
			if (gz_parser_push(p, buf + i,
			                   len - i < CHUNK ? len - i : CHUNK) <
			    0)
				break;
		if (gz_parser_finish(p, &f) < 0)
			return 1;
		dt = now() - t0;
		if (best == 0 || dt < best)
			best = dt;
		gz_feed_free(f);
		gz_parser_free(p);
	}
	printf("%zu bytes %.3f s %.1f MB/s %zu entries\n", len, best,
	       (double)len / 1e6 / best, n_entries);
	free(buf);
	return 0;
}
