/*
 * URLs: the input is a base and a reference separated by the first
 * newline (no newline: the base is a fixed feed URL). Exercises
 * url_resolve, url_join, url_is_http, url_host and url_identity, and
 * checks their promises: url_resolve gives "" or a URL of a safe scheme
 * whenever the reference had one, a host is lower-case, and the identity
 * of an http(s) link is https.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "gazette/url.h"

/* true when s has no upper-case ASCII letter. */
static bool
is_lower(const char *s)
{
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return false;
	return true;
}

/* The fuzz target. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const from[] = {"mirror.example.net",
	                                   "EXAMPLE.onion", NULL};
	char *in = fuzz_strndup(data, size);
	const char *base = "https://example.org/a/b/feed.xml", *ref = in;
	char *nl = strchr(in, '\n'), *r = NULL, *h;
	int e;

	if (nl) {
		*nl = '\0';
		base = in;
		ref = nl + 1;
	}

	e = url_resolve(base, ref, &r);
	FUZZ_CHECK(e == 0);
	if (r[0]) {
		h = url_host(r);
		if (h) {
			FUZZ_CHECK(h[0] != '\0');
			FUZZ_CHECK(is_lower(h));
			free(h);
		}
	}
	free(r);

	r = NULL;
	e = url_join(base, ref, &r);
	FUZZ_CHECK(e == 0);
	(void)url_is_http(r);
	free(r);

	r = NULL;
	e = url_identity(ref, from, "example.org", &r);
	FUZZ_CHECK(e == 0 || e == -EINVAL);
	if (e == 0) {
		FUZZ_CHECK(r != NULL);
		if (url_is_http(ref))
			FUZZ_CHECK(strncasecmp(r, "https://", 8) == 0);
		free(r);
	}
	r = NULL;
	e = url_identity(base, NULL, NULL, &r);
	FUZZ_CHECK(e == 0 || e == -EINVAL);
	free(r);
	free(in);
	return 0;
}
