/* Helpers shared by the fuzz targets. */
#include <string.h>

#include "fuzz.h"

/* A NUL-terminated copy of size bytes of data. */
char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
