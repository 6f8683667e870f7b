/*
 * Unit tests for daemon/mirror.c: failure kinds, challenge pages, the
 * pinned retry, CURLOPT_RESOLVE entries, remembered addresses, the
 * diverged guard and suggested mirrors.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror.h"

/* An outcome of error e with HTTP status st. */
static struct mirror_outcome
outcome(enum fetch_error e, int st)
{
	struct mirror_outcome o = {.error = e, .status = st};

	return o;
}

START_TEST(test_classify_names_every_network_failure)
{
	struct mirror_outcome o = outcome(FETCH_DNS, 0);

	ck_assert_int_eq(mirror_classify(&o), MIRROR_DNS);
	o = outcome(FETCH_CONNECT, 0);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_CONNECT);
	o = outcome(FETCH_TLS, 0);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_TLS);
	o.tls_cert = true;
	ck_assert_int_eq(mirror_classify(&o), MIRROR_TLS_CERT);
	o = outcome(FETCH_TIMEOUT, 0);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_TIMEOUT);
	o = outcome(FETCH_TIMEOUT, 200);
	o.bytes = 512;
	ck_assert_int_eq(mirror_classify(&o), MIRROR_STALLED);
	o = outcome(FETCH_BROKEN, 200);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_RESET);
	o = outcome(FETCH_TOO_BIG, 200);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_TOO_BIG);
	o = outcome(FETCH_REDIRECT, 0);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_REDIRECT);
	o = outcome(FETCH_OTHER, 0);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_OTHER);
}
END_TEST

START_TEST(test_classify_blames_the_proxy_when_one_was_used)
{
	struct mirror_outcome o = outcome(FETCH_CONNECT, 0);

	o.via_proxy = true;
	ck_assert_int_eq(mirror_classify(&o), MIRROR_PROXY);
	o = outcome(FETCH_DNS, 0);
	o.via_proxy = true;
	ck_assert_int_eq(mirror_classify(&o), MIRROR_PROXY);
	o = outcome(FETCH_PROXY, 0);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_PROXY);
}
END_TEST

START_TEST(test_classify_http_outcomes)
{
	struct mirror_outcome o = outcome(FETCH_OK, 304);

	ck_assert_int_eq(mirror_classify(&o), MIRROR_OK);
	o = outcome(FETCH_OK, 200);
	o.parsed_feed = true;
	ck_assert_int_eq(mirror_classify(&o), MIRROR_OK);
	o = outcome(FETCH_OK, 200);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_NOT_A_FEED);
	o.challenge = true;
	ck_assert_int_eq(mirror_classify(&o), MIRROR_CHALLENGE);
	o = outcome(FETCH_OK, 404);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_HTTP_4XX);
	o = outcome(FETCH_OK, 502);
	ck_assert_int_eq(mirror_classify(&o), MIRROR_HTTP_5XX);
	o = outcome(FETCH_OK, 503);
	o.challenge = true;
	ck_assert_int_eq(mirror_classify(&o), MIRROR_CHALLENGE);
	o = outcome(FETCH_OK, 429);
	o.challenge = true;
	ck_assert_int_eq(mirror_classify(&o), MIRROR_CHALLENGE);
}
END_TEST

START_TEST(test_kind_names_round_trip)
{
	for (int k = 0; k < MIRROR_KIND_MAX; k++) {
		enum mirror_kind back;

		ck_assert_int_eq(mirror_kind_parse(mirror_kind_name(k), &back),
		                 0);
		ck_assert_int_eq(back, k);
	}
	ck_assert_str_eq(mirror_kind_name(MIRROR_TLS_CERT), "tls-certificate");
	ck_assert_str_eq(mirror_kind_name(MIRROR_HTTP_5XX), "http-5xx");
	ck_assert_str_eq(mirror_kind_name(MIRROR_NOT_A_FEED), "not-a-feed");
	{
		enum mirror_kind k = MIRROR_OK;

		ck_assert_int_eq(mirror_kind_parse("frobnicated", &k), -EINVAL);
		ck_assert_int_eq(k, MIRROR_OK);
	}
}
END_TEST

START_TEST(test_challenge_pages_are_told_from_errors_and_feeds)
{
	static const char cf[] = "<!DOCTYPE html><html><head><title>Just a "
	                         "moment...</title></head><body>"
	                         "<div id=\"cf-chl-widget\"></div></body>"
	                         "</html>";
	static const char plain[] = "<html><body><h1>503 Service "
	                            "Unavailable</h1></body></html>";
	static const char rss[] = "<?xml version=\"1.0\"?><rss><channel>"
	                          "<title>captcha news</title></channel>"
	                          "</rss>";

	ck_assert(
	        mirror_looks_like_challenge(503, "text/html", cf, strlen(cf)));
	ck_assert(mirror_looks_like_challenge(403, "text/html; charset=utf-8",
	                                      cf, strlen(cf)));
	ck_assert(mirror_looks_like_challenge(429, NULL, cf, strlen(cf)));
	ck_assert(
	        mirror_looks_like_challenge(200, "text/html", cf, strlen(cf)));
	/* A plain error page, a feed that says captcha, a 404. */
	ck_assert(!mirror_looks_like_challenge(503, "text/html", plain,
	                                       strlen(plain)));
	ck_assert(!mirror_looks_like_challenge(200, "application/rss+xml", rss,
	                                       strlen(rss)));
	ck_assert(
	        !mirror_looks_like_challenge(404, "text/html", cf, strlen(cf)));
	ck_assert(!mirror_looks_like_challenge(503, "text/html", NULL, 0));
}
END_TEST

START_TEST(test_sniff_keeps_only_the_start_of_a_body)
{
	struct mirror_sniff s = {.len = 0};
	char big[3000];

	memset(big, 'x', sizeof(big));
	mirror_sniff_add(&s, "<html>", 6);
	ck_assert_str_eq(s.buf, "<html>");
	mirror_sniff_add(&s, big, sizeof(big));
	mirror_sniff_add(&s, big, sizeof(big));
	ck_assert_uint_eq(s.len, MIRROR_SNIFF);
	ck_assert_uint_eq(strlen(s.buf), MIRROR_SNIFF);
	mirror_sniff_add(&s, big, sizeof(big));
	ck_assert_uint_eq(s.len, MIRROR_SNIFF);
}
END_TEST

START_TEST(test_pin_when_the_name_fails_or_leads_to_a_new_address)
{
	const char *known[] = {"192.0.2.10", "2001:db8::10"};

	/* The name does not resolve: try the address that served. */
	ck_assert(mirror_should_pin(MIRROR_DNS, NULL, known, 2, false, false));
	/* A block page or nothing from an address never seen. */
	ck_assert(mirror_should_pin(MIRROR_CHALLENGE, "198.51.100.7", known, 2,
	                            false, false));
	ck_assert(mirror_should_pin(MIRROR_TIMEOUT, "198.51.100.7", known, 2,
	                            false, false));
	ck_assert(mirror_should_pin(MIRROR_TLS_CERT, "198.51.100.7", known, 2,
	                            false, false));
	ck_assert(mirror_should_pin(MIRROR_NOT_A_FEED, "198.51.100.7", known, 2,
	                            false, false));
}
END_TEST

START_TEST(test_no_pin_when_it_cannot_help)
{
	const char *known[] = {"192.0.2.10"};

	/* The known address itself failed: the server is down. */
	ck_assert(!mirror_should_pin(MIRROR_HTTP_5XX, "192.0.2.10", known, 1,
	                             false, false));
	/* Nothing remembered, already pinned, or through a proxy. */
	ck_assert(!mirror_should_pin(MIRROR_DNS, NULL, known, 0, false, false));
	ck_assert(!mirror_should_pin(MIRROR_DNS, NULL, known, 1, true, false));
	ck_assert(!mirror_should_pin(MIRROR_DNS, NULL, known, 1, false, true));
	/* Not about where the name led. */
	ck_assert(!mirror_should_pin(MIRROR_OK, "198.51.100.7", known, 1, false,
	                             false));
	ck_assert(!mirror_should_pin(MIRROR_TOO_BIG, "198.51.100.7", known, 1,
	                             false, false));
	/* A failure with no address at all but DNS: no way to tell. */
	ck_assert(!mirror_should_pin(MIRROR_CONNECT, NULL, known, 1, false,
	                             false));
}
END_TEST

START_TEST(test_resolve_entry_has_host_default_port_and_address)
{
	char *e = NULL;

	ck_assert_int_eq(mirror_resolve_entry("https://news.example/rss.xml",
	                                      "192.0.2.1", &e),
	                 0);
	ck_assert_str_eq(e, "news.example:443:192.0.2.1");
	free(e);
	ck_assert_int_eq(mirror_resolve_entry("http://News.Example:8080/f",
	                                      "192.0.2.1", &e),
	                 0);
	ck_assert_str_eq(e, "News.Example:8080:192.0.2.1");
	free(e);
	ck_assert_int_eq(mirror_resolve_entry("http://news.example/f",
	                                      "2001:db8::1", &e),
	                 0);
	ck_assert_str_eq(e, "news.example:80:[2001:db8::1]");
	free(e);
	e = NULL;
	ck_assert_int_eq(
	        mirror_resolve_entry("http://news.example/f", "not-an-ip", &e),
	        -EINVAL);
	ck_assert_int_eq(mirror_resolve_entry("no url", "192.0.2.1", &e),
	                 -EINVAL);
	ck_assert_ptr_null(e);
}
END_TEST

START_TEST(test_remembered_addresses_put_the_last_first_and_stay_few)
{
	char *v = NULL, *w = NULL;
	const char *parts[MIRROR_MAX_ADDRS];
	char buf[256];

	ck_assert_int_eq(mirror_addrs_update(NULL, "192.0.2.1", &v), 0);
	ck_assert_str_eq(v, "192.0.2.1");
	ck_assert_int_eq(mirror_addrs_update(v, "192.0.2.2", &w), 0);
	ck_assert_str_eq(w, "192.0.2.2,192.0.2.1");
	free(v);
	ck_assert_int_eq(mirror_addrs_update(w, "192.0.2.1", &v), 0);
	ck_assert_str_eq(v, "192.0.2.1,192.0.2.2");
	free(w);
	w = NULL;
	ck_assert_int_eq(mirror_addrs_update("1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4",
	                                     "::1", &w),
	                 0);
	ck_assert_str_eq(w, "::1,1.1.1.1,2.2.2.2,3.3.3.3");
	ck_assert_uint_eq(mirror_addrs_split(w, buf, sizeof(buf), parts,
	                                     MIRROR_MAX_ADDRS),
	                  4);
	ck_assert_str_eq(parts[0], "::1");
	ck_assert_str_eq(parts[3], "3.3.3.3");
	free(w);
	free(v);
	v = NULL;
	ck_assert_int_eq(mirror_addrs_update(NULL, "example.org", &v), -EINVAL);
	ck_assert_ptr_null(v);
}
END_TEST

/* A feed of n entries with these links and guids (NULL: none). */
static struct gz_feed *
feed_of(const char *const *links, const char *const *ids, size_t n)
{
	struct gz_feed *f = calloc(1, sizeof(*f));

	f->is_feed = true;
	f->entries = calloc(n, sizeof(*f->entries));
	f->n_entries = n;
	for (size_t i = 0; i < n; i++) {
		f->entries[i].link = links[i] ? strdup(links[i]) : NULL;
		f->entries[i].id = ids[i] ? strdup(ids[i]) : NULL;
	}
	return f;
}

START_TEST(test_mirror_sharing_one_story_has_not_diverged)
{
	/* The store's keys: identity form, the primary's host. */
	const char *keys[] = {"https://news.example/a", "tag:news,1"};
	const char *links[] = {"http://mirror.example/zzz",
	                       "http://mirror.example/a"};
	const char *ids[] = {NULL, NULL};
	const char *from[] = {"mirror.example", NULL};
	struct gz_feed *f = feed_of(links, ids, 2);

	ck_assert(!mirror_diverged(keys, 2, f, from, "news.example"));
	gz_feed_free(f);
}
END_TEST

START_TEST(test_mirror_sharing_nothing_has_diverged)
{
	const char *keys[] = {"https://news.example/a", "tag:news,1"};
	const char *links[] = {"http://mirror.example/other",
	                       "http://elsewhere.example/a"};
	const char *ids[] = {"tag:spam,1", NULL};
	const char *from[] = {"mirror.example", NULL};
	struct gz_feed *f = feed_of(links, ids, 2);

	ck_assert(mirror_diverged(keys, 2, f, from, "news.example"));
	gz_feed_free(f);
}
END_TEST

START_TEST(test_guid_match_alone_means_the_same_feed)
{
	const char *keys[] = {"tag:news,1"};
	const char *links[] = {NULL};
	const char *ids[] = {"tag:news,1"};
	struct gz_feed *f = feed_of(links, ids, 1);

	ck_assert(!mirror_diverged(keys, 1, f, NULL, NULL));
	gz_feed_free(f);
}
END_TEST

START_TEST(test_nothing_to_compare_is_not_divergence)
{
	const char *keys[] = {"tag:news,1"};
	const char *links[] = {"http://m.example/x"};
	const char *ids[] = {NULL};
	struct gz_feed *f = feed_of(links, ids, 1);
	struct gz_feed empty = {.is_feed = true};

	ck_assert(!mirror_diverged(NULL, 0, f, NULL, NULL));
	ck_assert(!mirror_diverged(keys, 1, &empty, NULL, NULL));
	gz_feed_free(f);
}
END_TEST

START_TEST(test_onion_location_header_and_meta_are_suggested)
{
	static const char page[] =
	        "<!DOCTYPE html><html><head>"
	        "<!-- <meta http-equiv=\"onion-location\" "
	        "content=\"http://commented.onion/\"> -->"
	        "<META HTTP-EQUIV='Onion-Location' "
	        "CONTENT='http://abcdefghij.onion/rss.xml?a=1&amp;b=2'>"
	        "</head></html>";
	struct mirror_suggestion *v = NULL;
	size_t n = 0;

	ck_assert_int_eq(mirror_suggestions("https://news.example/rss.xml",
	                                    "http://xyz.onion/rss.xml", page,
	                                    strlen(page), &v, &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].url, "http://xyz.onion/rss.xml");
	ck_assert_int_eq(v[0].source, MIRROR_SRC_ONION_HEADER);
	ck_assert_str_eq(v[1].url, "http://abcdefghij.onion/rss.xml?a=1&b=2");
	ck_assert_int_eq(v[1].source, MIRROR_SRC_META);
	ck_assert_str_eq(mirror_source_name(v[1].source), "meta");
	mirror_suggestions_free(v, n);
}
END_TEST

START_TEST(test_feed_alternate_links_to_feeds_are_suggested)
{
	static const char rss[] =
	        "<?xml version=\"1.0\"?><rss xmlns:atom="
	        "\"http://www.w3.org/2005/Atom\"><channel>"
	        "<atom:link rel=\"self\" type=\"application/rss+xml\" "
	        "href=\"https://news.example/rss.xml\"/>"
	        "<atom:link rel=\"alternate\" type=\"application/rss+xml\" "
	        "href=\"https://copy.example/rss.xml\"/>"
	        "<atom:link rel=\"alternate\" type=\"text/html\" "
	        "href=\"https://news.example/\"/>"
	        "<link>https://news.example/</link>"
	        "<atom:link rel=\"alternate\" type=\"application/atom+xml\" "
	        "href=\"/atom.xml\"/>"
	        "<atom:link rel=\"alternate\" type=\"application/rss+xml\" "
	        "href=\"https://copy.example/rss.xml\"/>"
	        "<atom:link rel=\"alternate\" type=\"application/rss+xml\" "
	        "href=\"https://news.example/rss.xml\"/>"
	        "</channel></rss>";
	struct mirror_suggestion *v = NULL;
	size_t n = 0;

	ck_assert_int_eq(mirror_suggestions("https://news.example/rss.xml",
	                                    NULL, rss, strlen(rss), &v, &n),
	                 0);
	/* Not self, not the web page, not itself, no repeats. */
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].url, "https://copy.example/rss.xml");
	ck_assert_int_eq(v[0].source, MIRROR_SRC_ALTERNATE);
	ck_assert_str_eq(v[1].url, "https://news.example/atom.xml");
	mirror_suggestions_free(v, n);
}
END_TEST

START_TEST(test_suggestions_refuse_other_schemes_and_stay_bounded)
{
	char body[8192];
	size_t o = 0;
	struct mirror_suggestion *v = NULL;
	size_t n = 0;

	o += (size_t)snprintf(body + o, sizeof(body) - o,
	                      "<meta http-equiv=onion-location "
	                      "content=javascript:alert(1)>");
	for (int i = 0; i < 20; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o,
		                      "<link rel=alternate "
		                      "type=application/atom+xml "
		                      "href=http://m%d.example/a>",
		                      i);
	ck_assert_int_eq(mirror_suggestions("http://news.example/", "ftp://x/",
	                                    body, o, &v, &n),
	                 0);
	ck_assert_uint_eq(n, MIRROR_MAX_SUGGESTIONS);
	ck_assert_str_eq(v[0].url, "http://m0.example/a");
	mirror_suggestions_free(v, n);
	/* A tag cut at the end of the bytes is no trouble. */
	ck_assert_int_eq(mirror_suggestions("http://news.example/", NULL,
	                                    "<link href=\"http://a", 20, &v,
	                                    &n),
	                 0);
	ck_assert_uint_eq(n, 0);
	mirror_suggestions_free(v, n);
}
END_TEST

/* The suite. */
static Suite *
mirror_suite(void)
{
	Suite *s = suite_create("mirror");
	TCase *tc = tcase_create("mirror");

	tcase_add_test(tc, test_classify_names_every_network_failure);
	tcase_add_test(tc, test_classify_blames_the_proxy_when_one_was_used);
	tcase_add_test(tc, test_classify_http_outcomes);
	tcase_add_test(tc, test_kind_names_round_trip);
	tcase_add_test(tc, test_challenge_pages_are_told_from_errors_and_feeds);
	tcase_add_test(tc, test_sniff_keeps_only_the_start_of_a_body);
	tcase_add_test(tc,
	               test_pin_when_the_name_fails_or_leads_to_a_new_address);
	tcase_add_test(tc, test_no_pin_when_it_cannot_help);
	tcase_add_test(tc,
	               test_resolve_entry_has_host_default_port_and_address);
	tcase_add_test(
	        tc, test_remembered_addresses_put_the_last_first_and_stay_few);
	tcase_add_test(tc, test_mirror_sharing_one_story_has_not_diverged);
	tcase_add_test(tc, test_mirror_sharing_nothing_has_diverged);
	tcase_add_test(tc, test_guid_match_alone_means_the_same_feed);
	tcase_add_test(tc, test_nothing_to_compare_is_not_divergence);
	tcase_add_test(tc, test_onion_location_header_and_meta_are_suggested);
	tcase_add_test(tc, test_feed_alternate_links_to_feeds_are_suggested);
	tcase_add_test(tc,
	               test_suggestions_refuse_other_schemes_and_stay_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mirror_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
