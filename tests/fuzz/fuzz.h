/*
 * What every fuzz target shares: libFuzzer's entry point, and a helper to
 * turn the fuzzer's bytes into C strings. The same target sources link
 * either with libFuzzer (-Dfuzz=true) or with regress-main.c, which
 * replays the seeds and the regression inputs as a unit test.
 */
#ifndef GAZETTE_FUZZ_H
#define GAZETTE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A finding that is not a memory error: a broken promise of the API.
 * abort() so that libFuzzer records the input and the replay test fails.
 */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* A NUL-terminated copy of size bytes of data; aborts when out of memory. */
char *fuzz_strndup(const uint8_t *data, size_t size);

#endif
