/* Unit tests for the control socket's message codec and client. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gazette/ctl.h"

START_TEST(test_request_round_trips_with_and_without_argument)
{
	char *p = NULL, *cmd = NULL, *arg = NULL;
	size_t n = 0;

	ck_assert_int_eq(ctl_request_encode("poll", "Press TV", &p, &n), 0);
	ck_assert_uint_eq(n, strlen("poll") + 1 + strlen("Press TV") + 1);
	ck_assert_int_eq(ctl_request_decode(p, n, &cmd, &arg), 0);
	ck_assert_str_eq(cmd, "poll");
	ck_assert_str_eq(arg, "Press TV");
	free(p);
	free(cmd);
	free(arg);

	ck_assert_int_eq(ctl_request_encode("status", NULL, &p, &n), 0);
	ck_assert_int_eq(ctl_request_decode(p, n, &cmd, &arg), 0);
	ck_assert_str_eq(cmd, "status");
	ck_assert_ptr_null(arg);
	free(p);
	free(cmd);
}
END_TEST

START_TEST(test_malformed_requests_are_refused)
{
	char *cmd = NULL, *arg = NULL;

	ck_assert_int_eq(ctl_request_decode("", 0, &cmd, &arg), -EBADMSG);
	ck_assert_int_eq(ctl_request_decode("poll", 4, &cmd, &arg), -EBADMSG);
	ck_assert_int_eq(ctl_request_decode("\0x\0", 3, &cmd, &arg), -EBADMSG);
	ck_assert_int_eq(ctl_request_decode("a\0b\0c\0", 6, &cmd, &arg),
	                 -EBADMSG);
	ck_assert_ptr_null(cmd);
	ck_assert_int_eq(ctl_request_encode("", NULL, &cmd, &(size_t){0}),
	                 -EINVAL);
}
END_TEST

START_TEST(test_header_checks_version_and_size)
{
	char *f = NULL;
	size_t n = 0, len = 0;
	unsigned char hdr[CTL_HEADER];

	ck_assert_int_eq(ctl_frame("abc", 3, &f, &n), 0);
	ck_assert_uint_eq(n, CTL_HEADER + 3);
	ck_assert_int_eq(ctl_header((unsigned char *)f, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(f + CTL_HEADER, "abc", 3), 0);
	free(f);

	memcpy(hdr, "\0\0\0\2\0\0\0\1", 8); /* version 2 */
	ck_assert_int_eq(ctl_header(hdr, &len), -EPROTO);
	memcpy(hdr, "\0\0\0\1\0\2\0\1", 8); /* 128 KiB + 1 */
	ck_assert_int_eq(ctl_header(hdr, &len), -EMSGSIZE);
	ck_assert_int_eq(ctl_frame("x", CTL_MAX_MSG + 1, &f, &n), -EMSGSIZE);
}
END_TEST

START_TEST(test_reply_round_trips_and_a_long_one_is_cut)
{
	char *p = NULL, *t = NULL, *big;
	size_t n = 0;
	bool ok = false;

	ck_assert_int_eq(ctl_reply_encode(true, "feeds: 3\n", &p, &n), 0);
	ck_assert_int_eq(ctl_reply_decode(p, n, &ok, &t), 0);
	ck_assert(ok);
	ck_assert_str_eq(t, "feeds: 3\n");
	free(p);
	free(t);

	big = malloc(CTL_MAX_MSG * 2);
	memset(big, 'x', CTL_MAX_MSG * 2 - 1);
	big[CTL_MAX_MSG * 2 - 1] = '\0';
	ck_assert_int_eq(ctl_reply_encode(false, big, &p, &n), 0);
	ck_assert_uint_eq(n, CTL_MAX_MSG);
	ck_assert_int_eq(ctl_reply_decode(p, n, &ok, &t), 0);
	ck_assert(!ok);
	free(p);
	free(t);
	free(big);
	ck_assert_int_eq(ctl_reply_decode("?x", 2, &ok, &t), -EBADMSG);
	ck_assert_int_eq(ctl_reply_decode("o\0x", 3, &ok, &t), -EBADMSG);
}
END_TEST

START_TEST(test_request_without_daemon_says_so)
{
	char *reply = NULL, *err = NULL;
	char dir[] = "/tmp/check-ctl-XXXXXX", path[64];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	ck_assert_int_eq(ctl_request(path, "status", NULL, &reply, &err),
	                 -ENOENT);
	/* A socket file nobody listens on: refused. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(ctl_request(path, "status", NULL, &reply, &err),
	                 -ECONNREFUSED);
	ck_assert_ptr_null(reply);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *
ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("ctl");

	tcase_add_test(tc, test_request_round_trips_with_and_without_argument);
	tcase_add_test(tc, test_malformed_requests_are_refused);
	tcase_add_test(tc, test_header_checks_version_and_size);
	tcase_add_test(tc, test_reply_round_trips_and_a_long_one_is_cut);
	tcase_add_test(tc, test_request_without_daemon_says_so);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
