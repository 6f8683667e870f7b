/* Unit tests for URL resolution and identity (lib/url.c). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gazette/url.h"

struct rcase {
	const char *base, *ref, *want;
};

static const struct rcase resolves[] = {
        {"http://a.example/b/c/d;p?q", "g", "http://a.example/b/c/g"},
        {"http://a.example/b/c/d;p?q", "./g", "http://a.example/b/c/g"},
        {"http://a.example/b/c/d;p?q", "g/", "http://a.example/b/c/g/"},
        {"http://a.example/b/c/d;p?q", "/g", "http://a.example/g"},
        {"http://a.example/b/c/d;p?q", "//g.example/x", "http://g.example/x"},
        {"http://a.example/b/c/d;p?q", "?y", "http://a.example/b/c/d;p?y"},
        {"http://a.example/b/c/d;p?q", "g?y", "http://a.example/b/c/g?y"},
        {"http://a.example/b/c/d;p?q", "#s", "http://a.example/b/c/d;p?q#s"},
        {"http://a.example/b/c/d;p?q", "../g", "http://a.example/b/g"},
        {"http://a.example/b/c/d;p?q", "../../g", "http://a.example/g"},
        {"https://a.example/dir/", "  page.html  ",
         "https://a.example/dir/page.html"},
        {"http://a.example/", "https://b.example/x", "https://b.example/x"},
        {"http://a.example/", "mailto:me@example.org", "mailto:me@example.org"},
        {"http://a.example/", "", "http://a.example/"},
        {NULL, "/relative/uri", "/relative/uri"},
        {"", "relative", "relative"},
        {"http://any.test/", "\xc3\x80", "http://any.test/\xc3\x80"},
        {"http://a.example/", "javascript:alert(1)", ""},
        {"http://a.example/", "data:text/html,hi", ""},
        {NULL, "vbscript:x", ""},
};

START_TEST(test_resolve_follows_rfc3986_and_drops_unsafe_schemes)
{
	const struct rcase *c = &resolves[_i];
	char *r = NULL;

	ck_assert_int_eq(url_resolve(c->base, c->ref, &r), 0);
	ck_assert_msg(strcmp(r, c->want) == 0, "'%s' + '%s' gave '%s'",
	              c->base ? c->base : "(null)", c->ref, r);
	free(r);
}
END_TEST

START_TEST(test_join_keeps_identifier_schemes)
{
	char *r = NULL;

	ck_assert_int_eq(
	        url_join("http://a.example/", "tag:a.example,2005:1", &r), 0);
	ck_assert_str_eq(r, "tag:a.example,2005:1");
	free(r);
	ck_assert_int_eq(url_join("http://a.example/x/", "urn:uuid:1234", &r),
	                 0);
	ck_assert_str_eq(r, "urn:uuid:1234");
	free(r);
	ck_assert_int_eq(url_join("http://a.example/x/", "y", &r), 0);
	ck_assert_str_eq(r, "http://a.example/x/y");
	free(r);
}
END_TEST

START_TEST(test_is_http_only_for_absolute_web_urls)
{
	ck_assert(url_is_http("http://a.example/"));
	ck_assert(url_is_http("HTTPS://a.example/feed?x=1"));
	ck_assert(!url_is_http("ftp://a.example/"));
	ck_assert(!url_is_http("/relative"));
	ck_assert(!url_is_http("http://"));
	ck_assert(!url_is_http(NULL));
}
END_TEST

START_TEST(test_host_is_lowercased)
{
	char *h = url_host("https://WWW.Example.ORG:8443/x");

	ck_assert_str_eq(h, "www.example.org");
	free(h);
	ck_assert_ptr_null(url_host("not a url"));
	ck_assert_ptr_null(url_host(NULL));
}
END_TEST

START_TEST(test_identity_folds_scheme_host_port_and_fragment)
{
	char *r = NULL;

	ck_assert_int_eq(url_identity("http://WWW.Example.org:80/a/b?x=1#frag",
	                              NULL, NULL, &r),
	                 0);
	ck_assert_str_eq(r, "https://www.example.org/a/b?x=1");
	free(r);
	ck_assert_int_eq(
	        url_identity("https://www.example.org:443/a", NULL, NULL, &r),
	        0);
	ck_assert_str_eq(r, "https://www.example.org/a");
	free(r);
	ck_assert_int_eq(
	        url_identity("http://www.example.org:8080/a", NULL, NULL, &r),
	        0);
	ck_assert_str_eq(r, "https://www.example.org:8080/a");
	free(r);
}
END_TEST

START_TEST(test_identity_rewrites_mirror_hosts_to_primary)
{
	const char *mirrors[] = {"mirror.example.net", "abcdefgh.onion", NULL};
	char *a = NULL, *b = NULL, *c = NULL;

	ck_assert_int_eq(url_identity("http://Mirror.Example.NET/news/1",
	                              mirrors, "www.example.org", &a),
	                 0);
	ck_assert_int_eq(url_identity("https://www.example.org/news/1", mirrors,
	                              "www.example.org", &b),
	                 0);
	ck_assert_int_eq(url_identity("http://abcdefgh.onion/news/1#top",
	                              mirrors, "www.example.org", &c),
	                 0);
	ck_assert_str_eq(a, b);
	ck_assert_str_eq(c, b);
	free(a);
	free(b);
	free(c);
	ck_assert_int_eq(url_identity("http://other.example.com/news/1",
	                              mirrors, "www.example.org", &a),
	                 0);
	ck_assert_str_eq(a, "https://other.example.com/news/1");
	free(a);
}
END_TEST

START_TEST(test_identity_rejects_what_is_not_a_url)
{
	char *r = (char *)"untouched";

	ck_assert_int_eq(url_identity("no scheme here", NULL, NULL, &r),
	                 -EINVAL);
	ck_assert_str_eq(r, "untouched");
	ck_assert_int_eq(url_identity(NULL, NULL, NULL, &r), -EINVAL);
}
END_TEST

static Suite *
url_suite(void)
{
	Suite *s = suite_create("url");
	TCase *tc = tcase_create("url");

	tcase_add_loop_test(
	        tc, test_resolve_follows_rfc3986_and_drops_unsafe_schemes, 0,
	        sizeof(resolves) / sizeof(resolves[0]));
	tcase_add_test(tc, test_join_keeps_identifier_schemes);
	tcase_add_test(tc, test_is_http_only_for_absolute_web_urls);
	tcase_add_test(tc, test_host_is_lowercased);
	tcase_add_test(tc, test_identity_folds_scheme_host_port_and_fragment);
	tcase_add_test(tc, test_identity_rewrites_mirror_hosts_to_primary);
	tcase_add_test(tc, test_identity_rejects_what_is_not_a_url);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(url_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
