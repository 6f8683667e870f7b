/* Unit tests for feed dates (lib/date.c). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gazette/date.h"

struct case_ {
	const char *in;
	const char *want; /* RFC 3339 UTC */
};

/* Date strings as real feeds write them, and what they mean in UTC. */
static const struct case_ good[] = {
        /* RFC 822 / 1123 / 2822 */
        {"Thu, 01 Jan 2004 19:48:21 GMT", "2004-01-01T19:48:21Z"},
        {"Sat, 07 Sep 2002 00:00:01 GMT", "2002-09-07T00:00:01Z"},
        {"Fri, 25 Dec 2009 03:30:22 +0000", "2009-12-25T03:30:22Z"},
        {"Tue, 10 Jun 2003 04:00:00 -0400", "2003-06-10T08:00:00Z"},
        {"Tue, 10 Jun 2003 04:00:00 +0530", "2003-06-09T22:30:00Z"},
        {"Mon, 02 Jan 2006 15:04:05 MST", "2006-01-02T22:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 EST", "2006-01-02T20:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 EDT", "2006-01-02T19:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 CST", "2006-01-02T21:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 CDT", "2006-01-02T20:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 PST", "2006-01-02T23:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 PDT", "2006-01-02T22:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 UT", "2006-01-02T15:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 UTC", "2006-01-02T15:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 Z", "2006-01-02T15:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 A", "2006-01-02T15:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 CEST", "2006-01-02T13:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 GMT+0200", "2006-01-02T13:04:05Z"},
        {"Mon, 02 Jan 2006 15:04:05 +02:00", "2006-01-02T13:04:05Z"},
        {"02 Jan 2006 15:04:05 GMT", "2006-01-02T15:04:05Z"},
        {"2 Jan 2006 15:04:05 GMT", "2006-01-02T15:04:05Z"},
        {"Mon, 2 Jan 2006 5:04:05 GMT", "2006-01-02T05:04:05Z"},
        {"Mon, 02 Jan 06 15:04:05 GMT", "2006-01-02T15:04:05Z"},
        {"Thu, 01 Jan 04 19:48:21 GMT", "2004-01-01T19:48:21Z"},
        {"Wed, 31 Dec 97 23:59:59 GMT", "1997-12-31T23:59:59Z"},
        {"Mon, 02 Jan 2006 15:04 GMT", "2006-01-02T15:04:00Z"},
        {"Mon, 02 Jan 2006 15:04:05", "2006-01-02T15:04:05Z"},
        {"Mon, 02 Jan 2006", "2006-01-02T00:00:00Z"},
        {"02 Jan 2006", "2006-01-02T00:00:00Z"},
        {"Monday, 02 January 2006 15:04:05 GMT", "2006-01-02T15:04:05Z"},
        {"Mon, 02 January 2006 15:04:05 +0000", "2006-01-02T15:04:05Z"},
        {"mon, 02 jan 2006 15:04:05 gmt", "2006-01-02T15:04:05Z"},
        {"MON, 02 JAN 2006 15:04:05 GMT", "2006-01-02T15:04:05Z"},
        {"  Mon,  02  Jan  2006  15:04:05  GMT  ", "2006-01-02T15:04:05Z"},
        {"Mon,02 Jan 2006 15:04:05 GMT", "2006-01-02T15:04:05Z"},
        {"Mon, 02-Jan-2006 15:04:05 GMT", "2006-01-02T15:04:05Z"},
        {"Tues, 03 Jan 2006 15:04:05 GMT", "2006-01-03T15:04:05Z"},
        {"Thurs, 05 Jan 2006 15:04:05 GMT", "2006-01-05T15:04:05Z"},
        {"Sun, 17 Sept 2006 10:00:00 GMT", "2006-09-17T10:00:00Z"},
        {"Mon, 02 Jan 2006 15:04:05.123 GMT", "2006-01-02T15:04:05Z"},
        {"Jan 02 2006 15:04:05 GMT", "2006-01-02T15:04:05Z"},
        /* asctime and friends */
        {"Sun Jan  4 16:29:06 2004", "2004-01-04T16:29:06Z"},
        {"Sun Jan  4 16:29:06 PST 2004", "2004-01-05T00:29:06Z"},
        {"Mon, 02 Jan 2006 03:04:05 PM GMT", "2006-01-02T15:04:05Z"},
        {"Mon, 02 Jan 2006 12:04:05 AM GMT", "2006-01-02T00:04:05Z"},
        /* W3C-DTF / ISO 8601 / RFC 3339 */
        {"2003-12-31T10:14:55Z", "2003-12-31T10:14:55Z"},
        {"2003-12-31T10:14:55-08:00", "2003-12-31T18:14:55Z"},
        {"2003-12-31T10:14:55+01:00", "2003-12-31T09:14:55Z"},
        {"2003-12-31T10:14:55.123456Z", "2003-12-31T10:14:55Z"},
        {"2009-12-08T16:59:02.544-08:00", "2009-12-09T00:59:02Z"},
        {"2003-12-31T10:14:55", "2003-12-31T10:14:55Z"},
        {"2003-12-31T10:14Z", "2003-12-31T10:14:00Z"},
        {"2002-10-17T17:00+01:00", "2002-10-17T16:00:00Z"},
        {"2003-12-31 10:14:55", "2003-12-31T10:14:55Z"},
        {"2003-12-31 10:14:55 +0100", "2003-12-31T09:14:55Z"},
        {"2003-12-31t10:14:55z", "2003-12-31T10:14:55Z"},
        {"2003-12-31T10:14:55+0100", "2003-12-31T09:14:55Z"},
        {"2003-12-31T10:14:55+01", "2003-12-31T09:14:55Z"},
        {"2003-12-31T10:14:55 GMT", "2003-12-31T10:14:55Z"},
        {"2003-12-31", "2003-12-31T00:00:00Z"},
        {"2003-12", "2003-12-01T00:00:00Z"},
        {"2003", "2003-01-01T00:00:00Z"},
        {"20031231", "2003-12-31T00:00:00Z"},
        {"20031231T101455Z", "2003-12-31T10:14:55Z"},
        {"2003-335", "2003-12-01T00:00:00Z"},
        {"2004-02-29T00:00:00Z", "2004-02-29T00:00:00Z"},
        {"2000-02-29T12:00:00Z", "2000-02-29T12:00:00Z"},
        {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
        {"1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"},
        {"2038-01-19T03:14:08Z", "2038-01-19T03:14:08Z"},
        {"2003-12-31T23:59:59-23:59", "2004-01-01T23:58:59Z"},
        {"2003-12-31T24:00:00Z", "2004-01-01T00:00:00Z"},
};

/* Strings that are not dates, or impossible ones. */
static const char *const bad[] = {
        "",
        "   ",
        "not a date",
        "yesterday",
        "2003-13-01",
        "2003-02-30",
        "2003-12-31T25:00:00Z",
        "2003-12-31T10:61:00Z",
        "Mon, 32 Jan 2006 15:04:05 GMT",
        "Mon, 29 Feb 2006 15:04:05 GMT",
        "Mon, 02 Foo 2006 15:04:05 GMT",
        "Mon, 02 Jan 2006 15:04:05 NOTAZONE",
        "2003-12-31T10:14:55+99:00",
        "12:00",
        "\xc3\xa9t\xc3\xa9 2003",
};

START_TEST(test_real_world_dates_parse_to_utc)
{
	const struct case_ *c = &good[_i];
	int64_t t = 0;
	char buf[DATE_RFC3339_LEN];

	ck_assert_msg(date_parse(c->in, &t) == 0, "'%s' did not parse", c->in);
	date_format(t, buf);
	ck_assert_msg(strcmp(buf, c->want) == 0, "'%s' gave %s, want %s", c->in,
	              buf, c->want);
}
END_TEST

START_TEST(test_non_dates_are_einval_and_leave_result_alone)
{
	int64_t t = 42;

	ck_assert_int_eq(date_parse(bad[_i], &t), -EINVAL);
	ck_assert_int_eq(t, 42);
}
END_TEST

START_TEST(test_null_and_overlong_input_are_einval)
{
	char longer[300];
	int64_t t;

	memset(longer, '1', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ck_assert_int_eq(date_parse(NULL, &t), -EINVAL);
	ck_assert_int_eq(date_parse(longer, &t), -EINVAL);
}
END_TEST

START_TEST(test_format_epoch_and_negative_times)
{
	char buf[DATE_RFC3339_LEN];

	date_format(0, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	date_format(-1, buf);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
	date_format(951782400, buf);
	ck_assert_str_eq(buf, "2000-02-29T00:00:00Z");
	date_format(253402300799LL, buf);
	ck_assert_str_eq(buf, "9999-12-31T23:59:59Z");
}
END_TEST

START_TEST(test_user_dates_accept_rfc3339_day_and_ages)
{
	int64_t now = 1700000000, t;

	ck_assert_int_eq(date_parse_user("2023-11-14", now, &t), 0);
	ck_assert_int_eq(t, 1699920000);
	ck_assert_int_eq(date_parse_user("2023-11-14T22:13:20Z", now, &t), 0);
	ck_assert_int_eq(t, 1700000000);
	ck_assert_int_eq(date_parse_user("3d", now, &t), 0);
	ck_assert_int_eq(t, now - 3 * 86400);
	ck_assert_int_eq(date_parse_user("12h", now, &t), 0);
	ck_assert_int_eq(t, now - 12 * 3600);
	ck_assert_int_eq(date_parse_user("30m", now, &t), 0);
	ck_assert_int_eq(t, now - 30 * 60);
	ck_assert_int_eq(date_parse_user("2w", now, &t), 0);
	ck_assert_int_eq(t, now - 14 * 86400);
}
END_TEST

START_TEST(test_user_dates_reject_garbage)
{
	int64_t t = 7;

	ck_assert_int_eq(date_parse_user("", 0, &t), -EINVAL);
	ck_assert_int_eq(date_parse_user("3x", 0, &t), -EINVAL);
	ck_assert_int_eq(date_parse_user("d", 0, &t), -EINVAL);
	ck_assert_int_eq(date_parse_user("3dd", 0, &t), -EINVAL);
	ck_assert_int_eq(date_parse_user("last week", 0, &t), -EINVAL);
	ck_assert_int_eq(date_parse_user("Mon, 02 Jan 2006", 0, &t), -EINVAL);
	ck_assert_int_eq(t, 7);
}
END_TEST

static Suite *
date_suite(void)
{
	Suite *s = suite_create("date");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_real_world_dates_parse_to_utc, 0,
	                    sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc,
	                    test_non_dates_are_einval_and_leave_result_alone, 0,
	                    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_null_and_overlong_input_are_einval);
	tcase_add_test(tc, test_format_epoch_and_negative_times);
	tcase_add_test(tc, test_user_dates_accept_rfc3339_day_and_ages);
	tcase_add_test(tc, test_user_dates_reject_garbage);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(date_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
