/* Unit tests for the logger's quoting of user-controlled text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gazette/log.h"

START_TEST(test_quote_escapes_control_characters)
{
	char buf[64];

	ck_assert_str_eq(log_quote("a\nb'c", buf, sizeof(buf)),
	                 "'a\\x0ab\\x27c'");
}
END_TEST

START_TEST(test_quote_cuts_long_text_within_buffer)
{
	char buf[16], in[100];

	memset(in, 'x', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	log_quote(in, buf, sizeof(buf));
	ck_assert_uint_lt(strlen(buf), sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "..."));
}
END_TEST

START_TEST(test_quote_escapes_bytes_that_are_not_utf8_keeps_utf8)
{
	char buf[64];

	ck_assert_str_eq(log_quote("caf\xc3\xa9 \xff\xc3(", buf, sizeof(buf)),
	                 "'caf\xc3\xa9 \\xff\\xc3('");
}
END_TEST

START_TEST(test_quote_null_is_marked)
{
	char buf[16];

	ck_assert_str_eq(log_quote(NULL, buf, sizeof(buf)), "'(null)'");
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("quote");

	tcase_add_test(tc, test_quote_escapes_control_characters);
	tcase_add_test(tc, test_quote_cuts_long_text_within_buffer);
	tcase_add_test(tc,
	               test_quote_escapes_bytes_that_are_not_utf8_keeps_utf8);
	tcase_add_test(tc, test_quote_null_is_marked);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
