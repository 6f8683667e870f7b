/* Feed dates: RFC 822/2822 and RFC 3339 / ISO 8601, tolerant of breakage. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gazette/config.h"
#include "gazette/date.h"

/* Longest date string we look at; real dates are far shorter. */
#define DATE_MAX 128

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Days in month m of year y. */
static int
month_days(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
	                           31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Seconds since the epoch of a broken-down UTC time, checked. */
static int
make_time(int64_t y, int mo, int d, int h, int mi, int s, int64_t off,
          int64_t *ret)
{
	if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > month_days(y, mo) || h < 0 || h > 24 || mi < 0 || mi > 59 ||
	    s < 0 || s > 60)
		return -EINVAL;
	if (h == 24 && (mi != 0 || s != 0))
		return -EINVAL;
	*ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;
	return 0;
}

/* Read exactly n digits at *p; -1 when they are not there. */
static int
digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

struct zone {
	const char *name;
	int minutes;
};

/* Named zones of RFC 822 and the usual extras. */
static const struct zone zones[] = {
        {"UT", 0},         {"UTC", 0},        {"GMT", 0},
        {"Z", 0},          {"EST", -5 * 60},  {"EDT", -4 * 60},
        {"CST", -6 * 60},  {"CDT", -5 * 60},  {"MST", -7 * 60},
        {"MDT", -6 * 60},  {"PST", -8 * 60},  {"PDT", -7 * 60},
        {"AST", -4 * 60},  {"ADT", -3 * 60},  {"AKST", -9 * 60},
        {"AKDT", -8 * 60}, {"HST", -10 * 60}, {"BST", 60},
        {"CET", 60},       {"CEST", 120},     {"MET", 60},
        {"MEST", 120},     {"EET", 120},      {"EEST", 180},
        {"WET", 0},        {"WEST", 60},      {"JST", 9 * 60},
        {"KST", 9 * 60},   {"IST", 330},      {"MSK", 180},
        {"NZST", 12 * 60}, {"NZDT", 13 * 60}, {"AEST", 10 * 60},
        {"AEDT", 11 * 60}, {"ACST", 570},     {"AWST", 8 * 60},
        {"ET", -5 * 60},   {"CT", -6 * 60},   {"MT", -7 * 60},
        {"PT", -8 * 60},   {NULL, 0},
};

/* A zone name or military letter of length n at s; true and *min. */
static bool
zone_lookup(const char *s, size_t n, int *min)
{
	for (size_t i = 0; zones[i].name; i++)
		if (strlen(zones[i].name) == n &&
		    strncasecmp(zones[i].name, s, n) == 0) {
			*min = zones[i].minutes;
			return true;
		}
	if (n == 1 && isalpha((unsigned char)s[0]) &&
	    toupper((unsigned char)s[0]) != 'J') {
		/* RFC 822 military zones; their signs are famously reversed
		 * in the RFC, and everyone treats them as UTC. */
		*min = 0;
		return true;
	}
	return false;
}

/* A numeric offset "+HH:MM", "+HHMM" or "+HH" at *p; true and *min. */
static bool
numeric_zone(const char **p, int *min)
{
	const char *s = *p;
	int sign, h, m = 0;

	if (*s != '+' && *s != '-')
		return false;
	sign = *s == '-' ? -1 : 1;
	s++;
	h = digits(&s, 2);
	if (h < 0)
		return false;
	if (*s == ':')
		s++;
	if (isdigit((unsigned char)*s)) {
		m = digits(&s, 2);
		if (m < 0)
			return false;
	}
	if (h > 23 || m > 59)
		return false;
	*min = sign * (h * 60 + m);
	*p = s;
	return true;
}

/* W3C-DTF / ISO 8601 / RFC 3339, with feedparser's relaxations. */
static int
parse_iso(const char *s, int64_t *ret)
{
	const char *p = s;
	int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, zmin = 0;

	y = digits(&p, 4);
	if (y < 0)
		return -EINVAL;
	if (*p == '-' || isdigit((unsigned char)*p)) {
		bool dash = *p == '-';
		const char *q;
		if (dash)
			p++;
		/* ordinal date: YYYY-DDD */
		q = p;
		if (dash && digits(&q, 3) >= 0 && !isdigit((unsigned char)*q) &&
		    *q != '-') {
			int yd = digits(&p, 3);
			if (yd < 1 || yd > 366)
				return -EINVAL;
			mo = 1;
			while (mo < 12 && yd > month_days(y, mo))
				yd -= month_days(y, mo++);
			d = yd;
		} else {
			mo = digits(&p, 2);
			if (mo < 0)
				return -EINVAL;
			if (*p == '-' ||
			    (!dash && isdigit((unsigned char)*p))) {
				if (*p == '-')
					p++;
				d = digits(&p, 2);
				if (d < 0)
					return -EINVAL;
			}
		}
	}
	if (*p == 'T' || *p == 't' || *p == ' ') {
		const char *q = p + 1;
		while (*q == ' ')
			q++;
		if (isdigit((unsigned char)*q)) {
			p = q;
			h = digits(&p, 2);
			if (h < 0)
				return -EINVAL;
			if (*p == ':')
				p++;
			mi = digits(&p, 2);
			if (mi < 0)
				return -EINVAL;
			if (*p == ':' || isdigit((unsigned char)*p)) {
				if (*p == ':')
					p++;
				sec = digits(&p, 2);
				if (sec < 0)
					return -EINVAL;
			}
			if (*p == '.' || *p == ',') {
				p++;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
	}
	while (*p == ' ')
		p++;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (!numeric_zone(&p, &zmin))
			return -EINVAL;
	} else if (isalpha((unsigned char)*p)) {
		size_t n = 0;
		while (isalpha((unsigned char)p[n]))
			n++;
		if (!zone_lookup(p, n, &zmin))
			return -EINVAL;
		p += n;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return -EINVAL;
	return make_time(y, mo, d, h, mi, sec, (int64_t)zmin * 60, ret);
}

/* Month number of a name (English, 3+ letters), 0 when none. */
static int
month_of(const char *s, size_t n)
{
	static const char *const names[] = {"jan", "feb", "mar", "apr",
	                                    "may", "jun", "jul", "aug",
	                                    "sep", "oct", "nov", "dec"};
	static const char *const full[] = {"january", "february", "march",
	                                   "april",   "may",      "june",
	                                   "july",    "august",   "september",
	                                   "october", "november", "december"};

	if (n < 3)
		return 0;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(s, names[i], 3) != 0)
			continue;
		if (n == 3 ||
		    (n <= strlen(full[i]) && strncasecmp(s, full[i], n) == 0))
			return i + 1;
		if (n == 4 && i == 8 && strncasecmp(s, "sept", 4) == 0)
			return 9;
	}
	return 0;
}

/* true for a day name, abbreviated or not. */
static bool
is_day_name(const char *s, size_t n)
{
	static const char *const full[] = {"monday",   "tuesday", "wednesday",
	                                   "thursday", "friday",  "saturday",
	                                   "sunday"};

	if (n < 2)
		return false;
	for (int i = 0; i < 7; i++)
		if (n <= strlen(full[i]) && strncasecmp(s, full[i], n) == 0 &&
		    n >= 3)
			return true;
	return (n == 4 && strncasecmp(s, "tues", 4) == 0) ||
	       (n == 5 && strncasecmp(s, "thurs", 5) == 0);
}

/* RFC 822/1123/2822, asctime, and their common breakage, by tokens. */
static int
parse_tokens(const char *s, int64_t *ret)
{
	const char *p = s;
	int64_t year = -1;
	int mo = 0, d = -1, h = 0, mi = 0, sec = 0, zmin = 0;
	bool have_time = false, have_zone = false, pm = false, am = false;

	while (*p) {
		const char *t = p;
		size_t n;

		if (isspace((unsigned char)*p) || *p == ',' || *p == '/' ||
		    (*p == '-' &&
		     !(have_time && isdigit((unsigned char)p[1]))) ||
		    *p == '.') {
			p++;
			continue;
		}
		if (isdigit((unsigned char)*p)) {
			long v = 0;
			while (isdigit((unsigned char)*p) && v < 100000)
				v = v * 10 + (*p++ - '0');
			n = (size_t)(p - t);
			if (*p == ':' && !have_time) {
				/* HH:MM[:SS[.frac]] */
				h = (int)v;
				p++;
				if (digits(&p, 2) < 0) {
					if (!isdigit((unsigned char)*p))
						return -EINVAL;
					mi = *p++ - '0';
				} else {
					mi = (p[-2] - '0') * 10 + (p[-1] - '0');
				}
				if (*p == ':') {
					p++;
					sec = digits(&p, 2);
					if (sec < 0)
						return -EINVAL;
				}
				if (*p == '.' || *p == ',')
					for (p++; isdigit((unsigned char)*p);)
						p++;
				have_time = true;
				continue;
			}
			if (n >= 3 || v > 31) {
				if (year >= 0)
					return -EINVAL;
				year = v;
			} else if (d < 0) {
				d = (int)v;
			} else if (year < 0) {
				year = v;
			} else {
				return -EINVAL;
			}
			continue;
		}
		if (*p == '+' || *p == '-') {
			int z;
			if (!numeric_zone(&p, &z))
				return -EINVAL;
			zmin = z;
			have_zone = true;
			continue;
		}
		if (!isalpha((unsigned char)*p))
			return -EINVAL;
		while (isalpha((unsigned char)*p))
			p++;
		n = (size_t)(p - t);
		int m = month_of(t, n), z;
		if (m && mo == 0) {
			mo = m;
		} else if (is_day_name(t, n)) {
			continue;
		} else if (n == 2 && strncasecmp(t, "PM", 2) == 0) {
			pm = true;
		} else if (n == 2 && strncasecmp(t, "AM", 2) == 0) {
			am = true;
		} else if (!have_zone && zone_lookup(t, n, &z)) {
			zmin = z;
			have_zone = true;
			/* "GMT+0200" or "UTC-5" */
			if (*p == '+' || *p == '-') {
				if (numeric_zone(&p, &z))
					zmin = z;
			}
		} else {
			return -EINVAL;
		}
	}
	if (year < 0 || mo == 0 || d < 0)
		return -EINVAL;
	if (year < 100)
		year += year < 70 ? 2000 : 1900;
	if (pm && h < 12)
		h += 12;
	if (am && h == 12)
		h = 0;
	return make_time(year, mo, d, h, mi, sec, (int64_t)zmin * 60, ret);
}

/* Parse a date in any format feeds use; 0 and *ret, or -EINVAL. */
int
date_parse(const char *s, int64_t *ret)
{
	char buf[DATE_MAX];
	size_t n;
	int64_t t;

	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (parse_iso(buf, &t) == 0 || parse_tokens(buf, &t) == 0) {
		*ret = t;
		return 0;
	}
	return -EINVAL;
}

/* Format t as RFC 3339 UTC with no fraction into buf. */
void
date_format(int64_t t, char buf[DATE_RFC3339_LEN])
{
	int64_t days = t / 86400, secs = t % 86400;
	int64_t z, era, doe, yoe, y, doy, mp, d, m;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	/* civil_from_days (Howard Hinnant) */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 0 || y > 9999) {
		snprintf(buf, DATE_RFC3339_LEN, "%s", "0000-01-01T00:00:00Z");
		return;
	}
	snprintf(buf, DATE_RFC3339_LEN, "%04u-%02u-%02uT%02u:%02u:%02uZ",
	         (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u,
	         (unsigned)(secs / 3600) % 100u, (unsigned)(secs / 60 % 60),
	         (unsigned)(secs % 60));
}

/* A user's date on the command line: RFC 3339, YYYY-MM-DD, or an age. */
int
date_parse_user(const char *s, int64_t now, int64_t *ret)
{
	int64_t age, t;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	/* An age is a duration as gazette.conf writes them: 3d, 12h, 1h30m. */
	if (isdigit((unsigned char)*s) && config_parse_duration(s, &age) == 0) {
		*ret = now - age;
		return 0;
	}
	if (parse_iso(s, &t) < 0)
		return -EINVAL;
	*ret = t;
	return 0;
}
