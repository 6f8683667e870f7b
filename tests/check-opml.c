/* Unit tests for lib/opml.c: reading OPML 1.0/2.0, writing, round trip. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gazette/opml.h"

/* Parse s, which must succeed. */
static struct opml_doc *
parse_ok(const char *s)
{
	struct opml_doc *d = NULL;
	char *err = NULL;
	int r = opml_parse(s, strlen(s), &d, &err);

	ck_assert_msg(r == 0, "opml_parse: %d %s", r, err ? err : "");
	ck_assert_ptr_nonnull(d);
	return d;
}

START_TEST(test_opml1_flat_outlines_are_read)
{
	struct opml_doc *d = parse_ok(
	        "<?xml version=\"1.0\"?>\n"
	        "<opml version=\"1.0\"><head><title>Mine</title></head><body>\n"
	        "<outline text=\"A\" type=\"rss\" xmlUrl=\"http://a.example/rss\"/>\n"
	        "<outline title=\"B\" xmlurl=\"https://b.example/atom\"/>\n"
	        "</body></opml>\n");

	ck_assert_str_eq(d->title, "Mine");
	ck_assert_uint_eq(d->n_feeds, 2);
	ck_assert_str_eq(d->feeds[0].title, "A");
	ck_assert_str_eq(d->feeds[0].urls[0], "http://a.example/rss");
	ck_assert_uint_eq(d->feeds[0].n_urls, 1);
	ck_assert_ptr_null(d->feeds[0].proxies[0]);
	ck_assert_ptr_null(d->feeds[0].category);
	ck_assert_int_eq(d->feeds[0].line, 3);
	ck_assert_str_eq(d->feeds[1].title, "B");
	ck_assert_str_eq(d->feeds[1].urls[0], "https://b.example/atom");
	ck_assert_uint_eq(d->n_skipped, 0);
	opml_doc_free(d);
}
END_TEST

START_TEST(test_opml2_nested_folders_become_the_category)
{
	struct opml_doc *d = parse_ok(
	        "<opml version=\"2.0\"><head/><body>"
	        "<outline text=\"News\">"
	        "  <outline text=\"World\">"
	        "    <outline text=\"W\" xmlUrl=\"https://w.example/f\"/>"
	        "  </outline>"
	        "  <outline text=\"N\" xmlUrl=\"https://n.example/f\"/>"
	        "</outline>"
	        "<outline text=\"Top\" xmlUrl=\"https://t.example/f\" "
	        "category=\"/Tech/C,/Other\"/>"
	        "</body></opml>");

	ck_assert_uint_eq(d->n_feeds, 3);
	ck_assert_str_eq(d->feeds[0].category, "News/World");
	ck_assert_str_eq(d->feeds[1].category, "News");
	ck_assert_str_eq(d->feeds[2].category, "Tech/C");
	opml_doc_free(d);
}
END_TEST

START_TEST(test_gazette_attributes_give_mirrors_proxies_and_interval)
{
	struct opml_doc *d = parse_ok(
	        "<opml version=\"2.0\" xmlns:gazette=\"" OPML_NS "\"><body>"
	        "<outline text=\"P\" xmlUrl=\"https://p.example/rss\" "
	        "gazette:proxy=\"socks5h://127.0.0.1:9050\" "
	        "gazette:mirrors=\"https://m1.example/rss  http://m2.example/rss\" "
	        "gazette:mirror-proxies=\"- socks5h://127.0.0.1:9051\" "
	        "gazette:interval=\"900\"/>"
	        "</body></opml>");
	const struct opml_feed *f = &d->feeds[0];

	ck_assert_uint_eq(d->n_feeds, 1);
	ck_assert_uint_eq(f->n_urls, 3);
	ck_assert_str_eq(f->urls[0], "https://p.example/rss");
	ck_assert_str_eq(f->proxies[0], "socks5h://127.0.0.1:9050");
	ck_assert_str_eq(f->urls[1], "https://m1.example/rss");
	ck_assert_ptr_null(f->proxies[1]);
	ck_assert_str_eq(f->urls[2], "http://m2.example/rss");
	ck_assert_str_eq(f->proxies[2], "socks5h://127.0.0.1:9051");
	ck_assert_int_eq(f->interval, 900);
	opml_doc_free(d);
}
END_TEST

START_TEST(test_attributes_of_another_namespace_are_ignored)
{
	struct opml_doc *d =
	        parse_ok("<opml version=\"2.0\" xmlns:x=\"urn:other\"><body>"
	                 "<outline text=\"P\" xmlUrl=\"https://p.example/rss\" "
	                 "x:mirrors=\"https://m1.example/rss\"/>"
	                 "</body></opml>");

	ck_assert_uint_eq(d->feeds[0].n_urls, 1);
	opml_doc_free(d);
}
END_TEST

START_TEST(test_non_http_urls_are_skipped_and_reported)
{
	struct opml_doc *d = parse_ok(
	        "<opml version=\"2.0\"><body>\n"
	        "<outline text=\"F\" xmlUrl=\"ftp://f.example/rss\"/>\n"
	        "<outline text=\"J\" xmlUrl=\"javascript:alert(1)\"/>\n"
	        "<outline text=\"G\" xmlUrl=\"gopher://g.example/\"/>\n"
	        "<outline text=\"H\" xmlUrl=\"https://h.example/rss\"/>\n"
	        "</body></opml>");

	ck_assert_uint_eq(d->n_feeds, 1);
	ck_assert_str_eq(d->feeds[0].title, "H");
	ck_assert_uint_eq(d->n_skipped, 3);
	ck_assert_str_eq(d->skipped[0].url, "ftp://f.example/rss");
	ck_assert_int_eq(d->skipped[0].line, 2);
	ck_assert_str_eq(d->skipped[2].url, "gopher://g.example/");
	opml_doc_free(d);
}
END_TEST

START_TEST(test_malformed_file_is_an_error_naming_the_line)
{
	const char *s = "<opml version=\"2.0\"><body>\n"
	                "<outline text=\"A\" xmlUrl=\"https://a.example/\"/>\n"
	                "<outline text=\"B\" xmlUrl=\"https://b.example/\">\n"
	                "</body></opml>\n";
	struct opml_doc *d = NULL;
	char *err = NULL;

	ck_assert_int_eq(opml_parse(s, strlen(s), &d, &err), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strncmp(err, "line 4: ", 8) == 0, "err: %s", err);
	free(err);
}
END_TEST

/* The error said "AttValue: ' expected", and libxml2 printed the real one. */
START_TEST(test_byte_not_in_the_encoding_is_the_error_named)
{
	const char *s =
	        "<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n"
	        "<opml version=\"2.0\"><body>\n"
	        "<outline text=\"A \x81 b\" xmlUrl=\"https://a.example/\"/>\n"
	        "</body></opml>\n";
	struct opml_doc *d = NULL;
	char *err = NULL;

	ck_assert_int_eq(opml_parse(s, strlen(s), &d, &err), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_msg(strncmp(err, "line 3: ", 8) == 0, "err: %s", err);
	ck_assert_msg(
	        strstr(err, "bytes not in the file's encoding, from 0x81"),
	        "err: %s", err);
	free(err);
}
END_TEST

START_TEST(test_document_without_opml_root_is_refused)
{
	const char *s = "<rss version=\"2.0\"><channel/></rss>";
	struct opml_doc *d = NULL;
	char *err = NULL;

	ck_assert_int_eq(opml_parse(s, strlen(s), &d, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not an OPML document"));
	free(err);
}
END_TEST

START_TEST(test_external_entities_are_refused_and_never_loaded)
{
	const char *s =
	        "<?xml version=\"1.0\"?>\n"
	        "<!DOCTYPE opml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
	        "<opml version=\"2.0\"><body>\n"
	        "<outline text=\"&x;\" xmlUrl=\"https://a.example/\"/>\n"
	        "</body></opml>\n";
	struct opml_doc *d = NULL;
	char *err = NULL;

	ck_assert_int_eq(opml_parse(s, strlen(s), &d, &err), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_ptr_null(strstr(err, "root:"));
	free(err);
}
END_TEST

START_TEST(test_folder_outlines_without_children_are_ignored)
{
	struct opml_doc *d = parse_ok("<opml version=\"1.0\"><body>"
	                              "<outline text=\"empty\"/>"
	                              "<outline text=\"x\" xmlUrl=\"\"/>"
	                              "</body></opml>");

	ck_assert_uint_eq(d->n_feeds, 0);
	ck_assert_uint_eq(d->n_skipped, 1);
	opml_doc_free(d);
}
END_TEST

START_TEST(test_bad_proxy_is_an_error_naming_the_line)
{
	const char *s = "<opml version=\"2.0\" xmlns:gazette=\"" OPML_NS "\">"
	                "<body>\n"
	                "<outline text=\"P\" xmlUrl=\"https://p.example/rss\" "
	                "gazette:mirrors=\"https://m.example/rss\" "
	                "gazette:mirror-proxies=\"socks0h://x\"/>\n"
	                "</body></opml>";
	struct opml_doc *d = NULL;
	char *err = NULL;

	ck_assert_int_eq(opml_parse(s, strlen(s), &d, &err), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_msg(strncmp(err, "line 2: ", 8) == 0 &&
	                      strstr(err, "mirror-proxies"),
	              "err: %s", err);
	free(err);
}
END_TEST

START_TEST(test_blanks_around_attributes_are_trimmed)
{
	size_t pad = 200000;
	char *s = malloc(pad + 200), *p = s;
	struct opml_doc *d;

	p += sprintf(p, "<opml version=\"2.0\"><body><outline text=\"");
	memset(p, ' ', pad);
	p += pad;
	sprintf(p, "Title \" xmlUrl=\"  https://a.example/rss \"/>"
	           "</body></opml>");
	d = parse_ok(s);
	ck_assert_str_eq(d->feeds[0].title, "Title");
	ck_assert_str_eq(d->feeds[0].urls[0], "https://a.example/rss");
	opml_doc_free(d);
	free(s);
}
END_TEST

/* A feed as the store would hand it over. */
static void
make_feed(struct store_feed *f, struct store_url *u, int64_t id,
          const char *title, const char *cat, int64_t interval)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->title = (char *)title;
	f->user_title = true;
	f->category = (char *)cat;
	f->interval = interval;
	f->urls = u;
}

START_TEST(test_export_then_import_gives_the_same_subscriptions)
{
	struct store_url u1[3] = {
	        {.url = "https://a.example/rss?x=1&y=2"},
	        {.url = "https://mirror.example/rss",
	         .proxy = "socks5h://127.0.0.1:9050"},
	        {.url = "http://other.example/rss"},
	};
	struct store_url u2[1] = {
	        {.url = "https://b.example/feed",
	         .proxy = "http://127.0.0.1:3128"},
	};
	struct store_url u3[2] = {
	        {.url = "https://c.example/atom"},
	        {.url = "https://c2.example/atom"},
	};
	struct store_feed f[3];
	struct store_feed *v[3] = {&f[0], &f[1], &f[2]};
	struct opml_doc *d;
	char *out = NULL;
	size_t n = 0;
	FILE *mf;

	make_feed(&f[0], u1, 1, "A \"quoted\" <title> & more", "News/World",
	          900);
	f[0].n_urls = 3;
	make_feed(&f[1], u2, 2, "B", NULL, 0);
	f[1].n_urls = 1;
	make_feed(&f[2], u3, 3, "C", "News/World", 0);
	f[2].n_urls = 2;
	f[2].user_title = false; /* what the feed calls itself */
	f[2].feed_title = true;

	mf = open_memstream(&out, &n);
	ck_assert_int_eq(opml_write(mf, v, 3, 1700000000), 0);
	fclose(mf);
	d = parse_ok(out);
	ck_assert_uint_eq(d->n_feeds, 3);
	ck_assert_uint_eq(d->n_skipped, 0);
	/* uncategorized feeds come first, then each folder */
	ck_assert_str_eq(d->feeds[0].title, "B");
	ck_assert_ptr_null(d->feeds[0].category);
	ck_assert_str_eq(d->feeds[0].urls[0], "https://b.example/feed");
	ck_assert_str_eq(d->feeds[0].proxies[0], "http://127.0.0.1:3128");

	ck_assert_str_eq(d->feeds[1].title, "A \"quoted\" <title> & more");
	ck_assert_str_eq(d->feeds[1].category, "News/World");
	ck_assert_int_eq(d->feeds[1].interval, 900);
	ck_assert_uint_eq(d->feeds[1].n_urls, 3);
	ck_assert_str_eq(d->feeds[1].urls[0], "https://a.example/rss?x=1&y=2");
	ck_assert_ptr_null(d->feeds[1].proxies[0]);
	ck_assert_str_eq(d->feeds[1].urls[1], "https://mirror.example/rss");
	ck_assert_str_eq(d->feeds[1].proxies[1], "socks5h://127.0.0.1:9050");
	ck_assert_str_eq(d->feeds[1].urls[2], "http://other.example/rss");
	ck_assert_ptr_null(d->feeds[1].proxies[2]);

	ck_assert_str_eq(d->feeds[2].title, "C");
	ck_assert(!d->feeds[0].feed_title && !d->feeds[1].feed_title);
	ck_assert(d->feeds[2].feed_title);
	ck_assert_str_eq(d->feeds[2].category, "News/World");
	ck_assert_uint_eq(d->feeds[2].n_urls, 2);
	ck_assert_str_eq(d->feeds[2].urls[1], "https://c2.example/atom");
	opml_doc_free(d);
	free(out);
}
END_TEST

/* A feed the store has no title for: exported as its URL, imported as none. */
START_TEST(test_export_of_a_feed_without_title_imports_none)
{
	struct store_url u[1] = {{.url = "https://t.example/rss"}};
	struct store_feed f;
	struct store_feed *v[1] = {&f};
	struct opml_doc *d;
	char *out = NULL;
	size_t n = 0;
	FILE *mf;

	make_feed(&f, u, 1, "https://t.example/rss", NULL, 0);
	f.n_urls = 1;
	f.user_title = false;
	mf = open_memstream(&out, &n);
	ck_assert_int_eq(opml_write(mf, v, 1, 1700000000), 0);
	fclose(mf);
	ck_assert_ptr_nonnull(strstr(out, "gazette:title-source=\"none\""));
	d = parse_ok(out);
	ck_assert_uint_eq(d->n_feeds, 1);
	ck_assert_ptr_null(d->feeds[0].title);
	ck_assert(!d->feeds[0].feed_title);
	opml_doc_free(d);
	free(out);
}
END_TEST

/* Other readers' files say nothing: their text stays the user's title. */
START_TEST(test_outline_without_title_source_is_the_users_title)
{
	struct opml_doc *d =
	        parse_ok("<opml version=\"2.0\"><body><outline text=\"T\" "
	                 "xmlUrl=\"https://t.example/rss\"/></body></opml>");

	ck_assert_str_eq(d->feeds[0].title, "T");
	ck_assert(!d->feeds[0].feed_title);
	opml_doc_free(d);
}
END_TEST

START_TEST(test_ten_thousand_outlines_parse)
{
	size_t cap = 10000 * 120 + 200, n = 0;
	char *s = malloc(cap);
	struct opml_doc *d;

	n += (size_t)snprintf(s + n, cap - n, "<opml version=\"2.0\"><body>\n");
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(s + n, cap - n,
		                      "<outline text=\"Feed %d\" "
		                      "xmlUrl=\"https://h%d.example/rss\"/>\n",
		                      i, i);
	snprintf(s + n, cap - n, "</body></opml>\n");
	d = parse_ok(s);
	ck_assert_uint_eq(d->n_feeds, 10000);
	ck_assert_str_eq(d->feeds[9999].urls[0], "https://h9999.example/rss");
	opml_doc_free(d);
	free(s);
}
END_TEST

/* The opml suite. */
static Suite *
opml_suite(void)
{
	Suite *s = suite_create("opml");
	TCase *tc = tcase_create("read");

	tcase_add_test(tc, test_opml1_flat_outlines_are_read);
	tcase_add_test(tc, test_export_of_a_feed_without_title_imports_none);
	tcase_add_test(tc,
	               test_outline_without_title_source_is_the_users_title);
	tcase_add_test(tc, test_opml2_nested_folders_become_the_category);
	tcase_add_test(
	        tc, test_gazette_attributes_give_mirrors_proxies_and_interval);
	tcase_add_test(tc, test_attributes_of_another_namespace_are_ignored);
	tcase_add_test(tc, test_non_http_urls_are_skipped_and_reported);
	tcase_add_test(tc, test_malformed_file_is_an_error_naming_the_line);
	tcase_add_test(tc, test_byte_not_in_the_encoding_is_the_error_named);
	tcase_add_test(tc, test_document_without_opml_root_is_refused);
	tcase_add_test(tc, test_external_entities_are_refused_and_never_loaded);
	tcase_add_test(tc, test_folder_outlines_without_children_are_ignored);
	tcase_add_test(tc, test_ten_thousand_outlines_parse);
	tcase_add_test(tc, test_bad_proxy_is_an_error_naming_the_line);
	tcase_add_test(tc, test_blanks_around_attributes_are_trimmed);
	suite_add_tcase(s, tc);
	tc = tcase_create("write");
	tcase_add_test(tc,
	               test_export_then_import_gives_the_same_subscriptions);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(opml_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
