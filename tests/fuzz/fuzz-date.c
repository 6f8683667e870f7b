/*
 * Dates: date_parse on anything, date_parse_user likewise, and a round
 * trip: a parsed date within years 1..9999, formatted as RFC 3339 and
 * parsed again, is the same instant. (Year 0 is left out: date_parse
 * refuses it, yet "0001 IST" gives an instant in year 0.)
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "gazette/date.h"

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define FIRST_FORMATTED (-62135596800LL)
#define LAST_FORMATTED  253402300799LL

/* The fuzz target. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char buf[DATE_RFC3339_LEN];
	int64_t t, u;
	int r;

	r = date_parse(s, &t);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		date_format(t, buf);
		FUZZ_CHECK(strlen(buf) == DATE_RFC3339_LEN - 1);
		if (t >= FIRST_FORMATTED && t <= LAST_FORMATTED) {
			FUZZ_CHECK(date_parse(buf, &u) == 0);
			FUZZ_CHECK(u == t);
		}
	}
	r = date_parse_user(s, 1700000000, &t);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		date_format(t, buf);
		FUZZ_CHECK(strlen(buf) == DATE_RFC3339_LEN - 1);
	}
	free(s);
	return 0;
}
