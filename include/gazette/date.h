/* Feed dates: RFC 822/2822 and RFC 3339 / ISO 8601, tolerant of breakage. */
#ifndef GAZETTE_DATE_H
#define GAZETTE_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Length of "YYYY-MM-DDTHH:MM:SSZ" plus its NUL. */
#define DATE_RFC3339_LEN 21

/* Parse a date in any format feeds use; 0 and *ret, or -EINVAL. */
int date_parse(const char *s, int64_t *ret);

/* Format t as RFC 3339 UTC with no fraction into buf. */
void date_format(int64_t t, char buf[DATE_RFC3339_LEN]);

/*
 * Parse a user's date or age on the command line: RFC 3339, YYYY-MM-DD,
 * or a duration back from now ("3d", "12h"). 0 and *ret, or -EINVAL.
 */
int date_parse_user(const char *s, int64_t now, int64_t *ret);

#endif
