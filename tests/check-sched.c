/*
 * Unit tests for the scheduler's arithmetic and heap, and the fetcher's
 * header parsing (Retry-After both forms, Cache-Control max-age).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "fetch.h"
#include "sched.h"

static const struct sched_params params = {
        .min_interval = 300,
        .max_backoff = 86400,
};

START_TEST(test_backoff_doubles_per_error_up_to_the_cap)
{
	/* rnd 0: no jitter taken away. */
	ck_assert_int_eq(sched_backoff(&params, 1800, 1, 0), 1800);
	ck_assert_int_eq(sched_backoff(&params, 1800, 2, 0), 3600);
	ck_assert_int_eq(sched_backoff(&params, 1800, 3, 0), 7200);
	ck_assert_int_eq(sched_backoff(&params, 1800, 6, 0), 57600);
	ck_assert_int_eq(sched_backoff(&params, 1800, 7, 0), 86400);
	ck_assert_int_eq(sched_backoff(&params, 1800, 1000, 0), 86400);
}
END_TEST

START_TEST(test_backoff_jitter_stays_within_a_quarter)
{
	uint32_t rnd[] = {0,         1, 12345, UINT32_MAX / 2, UINT32_MAX - 1,
	                  UINT32_MAX};
	size_t i;
	int e;

	for (e = 1; e <= 10; e++) {
		int64_t full = sched_backoff(&params, 1800, e, 0);

		for (i = 0; i < sizeof(rnd) / sizeof(rnd[0]); i++) {
			int64_t d = sched_backoff(&params, 1800, e, rnd[i]);

			ck_assert_int_le(d, full);
			ck_assert_int_ge(d, full - full / 4);
		}
	}
	/* Different draws give different delays: jitter spreads them. */
	ck_assert_int_ne(sched_backoff(&params, 1800, 3, 0),
	                 sched_backoff(&params, 1800, 3, UINT32_MAX));
}
END_TEST

START_TEST(test_backoff_never_goes_below_the_floor)
{
	ck_assert_int_eq(sched_backoff(&params, 10, 1, UINT32_MAX), 300);
	ck_assert_int_ge(sched_backoff(&params, 0, 5, 0), 300);
}
END_TEST

START_TEST(test_backoff_of_a_huge_error_count_does_not_overflow)
{
	struct sched_params p = {.min_interval = 1, .max_backoff = INT64_MAX};

	ck_assert_int_gt(sched_backoff(&p, 1800, 100000, 0), 0);
}
END_TEST

START_TEST(test_hints_raise_the_interval_but_the_floor_holds)
{
	/* No hint: the interval. */
	ck_assert_int_eq(sched_ok_delay(&params, 1800, 0, -1), 1800);
	/* A ttl of 2h raises a 30m interval. */
	ck_assert_int_eq(sched_ok_delay(&params, 1800, 7200, -1), 7200);
	/* Cache-Control max-age counts too. */
	ck_assert_int_eq(sched_ok_delay(&params, 1800, 0, 3600), 3600);
	/* A hint below the interval does not shorten it. */
	ck_assert_int_eq(sched_ok_delay(&params, 1800, 60, 60), 1800);
	/* An interval below the floor is raised to it. */
	ck_assert_int_eq(sched_ok_delay(&params, 10, 0, -1), 300);
	/* A hint of a month is held to the cap. */
	ck_assert_int_eq(sched_ok_delay(&params, 1800, 30 * 86400, -1),
	                 SCHED_HINT_CAP);
	/* Unless the interval itself is longer. */
	ck_assert_int_eq(sched_ok_delay(&params, 2 * 86400, 30 * 86400, -1),
	                 2 * 86400);
}
END_TEST

START_TEST(test_retry_after_seconds_and_http_date)
{
	int64_t t = 0, now = 1700000000;

	ck_assert_int_eq(fetch_parse_retry_after("120", now, &t), 0);
	ck_assert_int_eq(t, now + 120);
	ck_assert_int_eq(fetch_parse_retry_after(" 0 ", now, &t), 0);
	ck_assert_int_eq(t, now);
	/* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT. */
	ck_assert_int_eq(fetch_parse_retry_after(
	                         "Tue, 14 Nov 2023 22:23:20 GMT", now, &t),
	                 0);
	ck_assert_int_eq(t, now + 600);
	/* A date in the past means now. */
	ck_assert_int_eq(fetch_parse_retry_after(
	                         "Wed, 21 Oct 2015 07:28:00 GMT", now, &t),
	                 0);
	ck_assert_int_eq(t, now);
	ck_assert_int_eq(fetch_parse_retry_after("soon", now, &t), -EINVAL);
	ck_assert_int_eq(fetch_parse_retry_after("12abc", now, &t), -EINVAL);
	ck_assert_int_eq(fetch_parse_retry_after("99999999999999", now, &t),
	                 -EINVAL);
}
END_TEST

START_TEST(test_retry_after_is_held_within_a_week)
{
	ck_assert_int_eq(sched_retry_after(100, 200), 200);
	ck_assert_int_eq(sched_retry_after(100, 100 + 365 * 86400),
	                 100 + SCHED_RETRY_AFTER_CAP);
}
END_TEST

START_TEST(test_cache_control_max_age)
{
	int64_t v = 0;

	ck_assert_int_eq(fetch_parse_max_age("max-age=600", &v), 0);
	ck_assert_int_eq(v, 600);
	ck_assert_int_eq(fetch_parse_max_age("public, max-age = 60, x", &v), 0);
	ck_assert_int_eq(v, 60);
	ck_assert_int_eq(fetch_parse_max_age("no-cache", &v), -ENOENT);
	ck_assert_int_eq(fetch_parse_max_age("max-age=x", &v), -EINVAL);
}
END_TEST

/* A node with a label, for the heap tests. */
struct item {
	struct sched_node node;
	int label;
};

START_TEST(test_heap_pops_in_due_order_and_moves_nodes)
{
	struct sched_heap h;
	struct item it[50];
	int64_t last = INT64_MIN;
	int i, n = 0;

	sched_heap_init(&h);
	for (i = 0; i < 50; i++) {
		it[i].node.idx = SIZE_MAX;
		it[i].label = i;
		sched_heap_set(&h, &it[i].node, (i * 7919) % 101);
	}
	/* Move one to the front, remove another. */
	sched_heap_set(&h, &it[10].node, -5);
	sched_heap_remove(&h, &it[20].node);
	ck_assert_uint_eq(it[20].node.idx, SIZE_MAX);
	ck_assert_ptr_eq(sched_heap_top(&h), &it[10].node);
	while (sched_heap_top(&h)) {
		struct sched_node *s = sched_heap_pop(&h);

		ck_assert_int_ge(s->due, last);
		ck_assert_ptr_ne(s, &it[20].node);
		last = s->due;
		n++;
	}
	ck_assert_int_eq(n, 49);
	sched_heap_clear(&h);
}
END_TEST

static Suite *
sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("sched");

	tcase_add_test(tc, test_backoff_doubles_per_error_up_to_the_cap);
	tcase_add_test(tc, test_backoff_jitter_stays_within_a_quarter);
	tcase_add_test(tc, test_backoff_never_goes_below_the_floor);
	tcase_add_test(tc,
	               test_backoff_of_a_huge_error_count_does_not_overflow);
	tcase_add_test(tc, test_hints_raise_the_interval_but_the_floor_holds);
	tcase_add_test(tc, test_retry_after_seconds_and_http_date);
	tcase_add_test(tc, test_retry_after_is_held_within_a_week);
	tcase_add_test(tc, test_cache_control_max_age);
	tcase_add_test(tc, test_heap_pops_in_due_order_and_moves_nodes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sched_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
