/*
 * Replays inputs through a fuzz target without libFuzzer: every argument
 * is a file or a directory of files, each fed once to
 * LLVMFuzzerTestOneInput. Crashes and failed checks abort, so the test
 * fails; an argument that cannot be read fails it too, as does finding no
 * input at all.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Largest input replayed; libFuzzer runs use a smaller -max_len anyway. */
#define REGRESS_MAX_INPUT (16 * 1024 * 1024)

/* Read the file at path and run the target on it; 0, or -1 on error. */
static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > REGRESS_MAX_INPUT) {
		fprintf(stderr, "regress: cannot read '%s'\n", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* one spare byte so that a zero-size input has a valid pointer */
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		abort();
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	fprintf(stderr, "regress: %s (%zu bytes)\n", path, got);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 0;
}

/* Compare directory entries by name, for a stable replay order. */
static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replay every regular file of dir (not recursive); count in *n. */
static int
replay_dir(const char *dir, size_t *n)
{
	struct dirent **names;
	int k, rc = 0;

	k = scandir(dir, &names, NULL, by_name);
	if (k < 0) {
		fprintf(stderr, "regress: cannot list '%s'\n", dir);
		return -1;
	}
	for (int i = 0; i < k; i++) {
		char path[4096];
		struct stat st;

		if (names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		                     names[i]->d_name) < sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) < 0)
				rc = -1;
			else
				(*n)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Replay each argument; exit 1 when one could not be read or none ran. */
int
main(int argc, char **argv)
{
	size_t n = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			/* a regress/<target> directory with no findings yet */
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &n) < 0)
				rc = 1;
		} else if (replay_file(argv[i]) < 0) {
			rc = 1;
		} else {
			n++;
		}
	}
	fprintf(stderr, "regress: %zu inputs replayed\n", n);
	if (n == 0)
		rc = 1;
	return rc;
}
