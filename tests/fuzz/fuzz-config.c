/*
 * The configuration parser, both ways in: config_parse_string on the text
 * and config_load on the same bytes as a file (a memfd, read through
 * /proc/self/fd). A file without NUL bytes gives the same answer both
 * ways. The duration and size parsers get the input too.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "gazette/config.h"
#include "gazette/store.h"

/* true when two optional strings are both NULL or equal. */
static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Check what config.h promises of a configuration that loaded. */
static void
check_config(const struct config *c)
{
	struct store_feed_spec *specs = NULL;
	size_t n = 0;

	FUZZ_CHECK(c->database != NULL && c->socket != NULL);
	FUZZ_CHECK(c->user_agent != NULL);
	FUZZ_CHECK(c->max_connections > 0 && c->per_host_connections > 0);
	FUZZ_CHECK(c->max_feed_size > 0);
	for (size_t i = 0; i < c->n_feeds; i++) {
		FUZZ_CHECK(c->feeds[i].name != NULL);
		FUZZ_CHECK(c->feeds[i].n_urls >= 1);
		FUZZ_CHECK(config_feed_find(c, c->feeds[i].name) != NULL);
		for (size_t j = 0; j < c->feeds[i].n_urls; j++)
			FUZZ_CHECK(c->feeds[i].urls[j].url != NULL);
	}
	FUZZ_CHECK(config_store_specs(c, &specs, &n) == 0);
	FUZZ_CHECK(n == c->n_feeds);
	config_store_specs_free(specs, n);
}

/* Check two configurations read from the same bytes are the same. */
static void
check_same(const struct config *a, const struct config *b)
{
	FUZZ_CHECK(same_str(a->database, b->database));
	FUZZ_CHECK(same_str(a->socket, b->socket));
	FUZZ_CHECK(same_str(a->user_agent, b->user_agent));
	FUZZ_CHECK(a->interval == b->interval);
	FUZZ_CHECK(a->timeout == b->timeout);
	FUZZ_CHECK(a->max_feed_size == b->max_feed_size);
	FUZZ_CHECK(a->max_connections == b->max_connections);
	FUZZ_CHECK(a->n_feeds == b->n_feeds);
	for (size_t i = 0; i < a->n_feeds; i++) {
		const struct config_feed *x = &a->feeds[i], *y = &b->feeds[i];

		FUZZ_CHECK(same_str(x->name, y->name));
		FUZZ_CHECK(same_str(x->category, y->category));
		FUZZ_CHECK(x->interval == y->interval);
		FUZZ_CHECK(x->n_urls == y->n_urls);
		for (size_t j = 0; j < x->n_urls; j++) {
			FUZZ_CHECK(same_str(x->urls[j].url, y->urls[j].url));
			FUZZ_CHECK(
			        same_str(x->urls[j].proxy, y->urls[j].proxy));
			FUZZ_CHECK(x->urls[j].line == y->urls[j].line);
		}
	}
}

/* A memfd holding exactly the input; its /proc path in path. */
static int
input_file(const uint8_t *data, size_t size, char *path, size_t path_size)
{
	static int fd = -1;
	size_t off = 0;

	if (fd < 0) {
		fd = memfd_create("fuzz-config", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	if (ftruncate(fd, 0) < 0)
		return -errno;
	while (off < size) {
		ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
		if (w <= 0)
			return -EIO;
		off += (size_t)w;
	}
	snprintf(path, path_size, "/proc/self/fd/%d", fd);
	return 0;
}

/* The fuzz target. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cs = NULL, *cf = NULL;
	char *text = fuzz_strndup(data, size), *es = NULL, *ef = NULL;
	char path[64];
	int64_t v;
	int rs, rf;

	if (getenv("HOME") == NULL)
		setenv("HOME", "/nonexistent", 0);

	rs = config_parse_string(text, "fuzz.conf", &cs, &es);
	FUZZ_CHECK(rs == 0 || rs == -EINVAL || rs == -ERANGE);
	if (rs == 0)
		check_config(cs);
	else
		FUZZ_CHECK(es != NULL);

	FUZZ_CHECK(input_file(data, size, path, sizeof(path)) == 0);
	rf = config_load(path, CONFIG_MUST_EXIST, &cf, &ef);
	FUZZ_CHECK(rf == 0 || rf == -EINVAL || rf == -ERANGE);
	if (rf == 0)
		check_config(cf);
	else
		FUZZ_CHECK(ef != NULL);

	if (memchr(data, '\0', size) == NULL) {
		FUZZ_CHECK(rs == rf);
		if (rs == 0)
			check_same(cs, cf);
	}

	if (config_parse_duration(text, &v) == 0)
		FUZZ_CHECK(v >= 0);
	if (config_parse_size(text, &v) == 0)
		FUZZ_CHECK(v >= 0);

	config_free(cs);
	config_free(cf);
	free(es);
	free(ef);
	free(text);
	return 0;
}
