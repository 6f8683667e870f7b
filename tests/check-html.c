/* Unit tests for lib/html.c: text rendering, wrapping, the sanitizer. */
#include <check.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gazette/html.h"

/* Render s at width w; the caller frees. */
static char *
text(const char *s, unsigned w)
{
	char *out = NULL;

	ck_assert_int_eq(html_to_text(s, strlen(s), w, &out), 0);
	ck_assert_ptr_nonnull(out);
	return out;
}

/* Sanitize s; the caller frees. */
static char *
clean(const char *s)
{
	char *out = NULL;

	ck_assert_int_eq(html_sanitize(s, strlen(s), &out), 0);
	ck_assert_ptr_nonnull(out);
	return out;
}

START_TEST(test_text_paragraphs_are_separated_by_a_blank_line)
{
	char *t = text("<p>One</p><p>Two</p>", 0);

	ck_assert_str_eq(t, "One\n\nTwo\n");
	free(t);
}
END_TEST

START_TEST(test_text_decodes_entities)
{
	char *t = text("<p>Fish &amp; chips &lt;3 &eacute;t&#233; &#x263A;</p>",
	               0);

	ck_assert_str_eq(t, "Fish & chips <3 \xc3\xa9t\xc3\xa9 \xe2\x98\xba\n");
	free(t);
}
END_TEST

START_TEST(test_text_collapses_whitespace_outside_pre)
{
	char *t = text("<p>  a \n\n  b\t c </p><pre>x  y\n  z</pre>", 0);

	ck_assert_str_eq(t, "a b c\n\nx  y\n  z\n");
	free(t);
}
END_TEST

START_TEST(test_text_wraps_words_at_width)
{
	char *t = text("<p>aaa bbb ccc ddd eee</p>", 11);

	ck_assert_str_eq(t, "aaa bbb ccc\nddd eee\n");
	free(t);
}
END_TEST

START_TEST(test_text_wrapping_counts_wide_characters_twice)
{
	/* four CJK characters are 8 columns: two words of them do not fit
	 * in 12 columns */
	char *t = text("<p>\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x96\x87 "
	               "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x96\x87</p>",
	               12);

	ck_assert_str_eq(t,
	                 "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x96\x87\n"
	                 "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x96\x87\n");
	free(t);
}
END_TEST

START_TEST(test_text_cuts_a_word_longer_than_the_width)
{
	char *t = text("<p>abcdefghijklmnopqrstuvwxyz</p>", 10);

	ck_assert_str_eq(t, "abcdefghij\nklmnopqrst\nuvwxyz\n");
	free(t);
}
END_TEST

START_TEST(test_text_drops_script_and_style)
{
	char *t = text("<style>p{color:red}</style><p>Hi<script>alert(1)"
	               "</script> there</p>",
	               0);

	ck_assert_str_eq(t, "Hi there\n");
	free(t);
}
END_TEST

START_TEST(test_text_lists_get_bullets_and_numbers)
{
	char *t = text("<ul><li>one</li><li>two</li></ul>"
	               "<ol><li>first</li><li>second</li></ol>",
	               0);

	ck_assert_str_eq(t, "- one\n- two\n\n1. first\n2. second\n");
	free(t);
}
END_TEST

START_TEST(test_text_links_are_numbered_and_listed)
{
	char *t = text("<p>See <a href=\"https://example.org/a\">this</a> and "
	               "<a href=\"javascript:alert(1)\">that</a>.</p>",
	               0);

	ck_assert_str_eq(
	        t, "See this[1] and that.\n\n[1] https://example.org/a\n");
	free(t);
}
END_TEST

START_TEST(test_text_br_breaks_the_line)
{
	char *t = text("line one<br>line two", 0);

	ck_assert_str_eq(t, "line one\nline two\n");
	free(t);
}
END_TEST

START_TEST(test_text_blockquote_is_prefixed)
{
	char *t = text("<blockquote><p>quoted words here</p></blockquote>", 12);

	ck_assert_str_eq(t, "> quoted\n> words here\n");
	free(t);
}
END_TEST

START_TEST(test_text_plain_text_without_markup_is_kept)
{
	char *t = text("just text, 5 > 3", 0);

	ck_assert_str_eq(t, "just text, 5 > 3\n");
	free(t);
}
END_TEST

START_TEST(test_text_empty_input_gives_empty_text)
{
	char *t = text("", 0);

	ck_assert_str_eq(t, "");
	free(t);
}
END_TEST

START_TEST(test_sanitize_removes_script_style_iframe_object_embed_form)
{
	char *c = clean("<p>ok</p><script>alert(1)</script><style>x{}</style>"
	                "<iframe src=\"https://e.org\"></iframe><object data=x>"
	                "</object><embed src=x><form><input name=a></form>");

	ck_assert_str_eq(c, "<p>ok</p>");
	free(c);
}
END_TEST

START_TEST(test_sanitize_removes_event_handlers_and_style_attributes)
{
	char *c = clean("<p onclick=\"evil()\" style=\"x\" title=\"t\">a</p>"
	                "<img src=\"https://e.org/i.png\" onerror=\"evil()\">");

	ck_assert_str_eq(c,
	                 "<p title=\"t\">a</p><img src=\"https://e.org/i.png\" "
	                 "referrerpolicy=\"no-referrer\">");
	free(c);
}
END_TEST

START_TEST(test_sanitize_drops_javascript_vbscript_and_data_urls)
{
	char *c = clean("<a href=\"javascript:alert(1)\">a</a>"
	                "<a href=\" JaVa&#x09;script:alert(1)\">b</a>"
	                "<a href=\"vbscript:x\">c</a>"
	                "<img src=\"data:image/png;base64,AAAA\">");

	ck_assert_ptr_null(strstr(c, "script:"));
	ck_assert_ptr_null(strstr(c, "data:"));
	ck_assert_ptr_null(strstr(c, "href"));
	ck_assert_ptr_null(strstr(c, "src"));
	free(c);
}
END_TEST

START_TEST(test_sanitize_keeps_allowed_markup_and_links)
{
	char *c = clean("<h2>T</h2><p><b>bold</b> <em>em</em> "
	                "<a href=\"https://e.org/?a=1&amp;b=2\">link</a></p>"
	                "<ul><li>x</li></ul>");

	ck_assert_str_eq(c, "<h2>T</h2><p><b>bold</b> <em>em</em> "
	                    "<a href=\"https://e.org/?a=1&amp;b=2\" "
	                    "rel=\"noopener noreferrer nofollow\">link</a></p>"
	                    "<ul><li>x</li></ul>");
	free(c);
}
END_TEST

START_TEST(test_sanitize_unwraps_unknown_elements_and_escapes_text)
{
	char *c = clean("<font color=red>a &lt;b&gt; &amp; \"c\"</font>");

	ck_assert_str_eq(c, "a &lt;b&gt; &amp; &quot;c&quot;");
	free(c);
}
END_TEST

START_TEST(test_escape_drops_control_characters_and_fixes_utf8)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	ck_assert_int_eq(html_escape(f, "a\x01<b>\xff'\"&\n"), 0);
	fclose(f);
	ck_assert_str_eq(out, "a&lt;b&gt;\xef\xbf\xbd&#39;&quot;&amp;\n");
	free(out);
}
END_TEST

START_TEST(test_width_and_fit_count_display_columns)
{
	ck_assert_uint_eq(html_width("abc"), 3);
	ck_assert_uint_eq(html_width("\xe6\x97\xa5\xe6\x9c\xac"), 4);
	ck_assert_uint_eq(html_width("e\xcc\x81"), 1); /* combining accent */
	/* three columns hold one wide character and one narrow, not two
	 * wide ones */
	ck_assert_uint_eq(html_fit("\xe6\x97\xa5\xe6\x9c\xac", 3), 3);
	ck_assert_uint_eq(html_fit("\xe6\x97\xa5x", 3), 4);
	ck_assert_uint_eq(html_fit("abc", 10), 3);
}
END_TEST

START_TEST(test_feed_links_are_found_resolved_and_deduplicated)
{
	const char *page =
	        "<html><head><title>Site</title>"
	        "<link rel=\"stylesheet\" href=\"/s.css\">"
	        "<link rel=\"alternate\" type=\"application/rss+xml\" "
	        "title=\"News\" href=\"/rss.xml\">"
	        "<LINK REL=\"Alternate feed\" TYPE=\"application/atom+xml\" "
	        "href=\"https://other.example/atom\">"
	        "<link rel=\"alternate\" type=\"application/rss+xml\" "
	        "href=\"rss.xml\">"
	        "<link rel=\"alternate\" type=\"text/html\" href=\"/fr/\">"
	        "<link rel=\"alternate\" type=\"application/rss+xml\" "
	        "href=\"javascript:alert(1)\">"
	        "</head><body><p>hi</p></body></html>";
	struct html_feed_link *v = NULL;
	size_t n = 0;

	ck_assert_int_eq(html_feed_links(page, strlen(page),
	                                 "https://site.example/", &v, &n),
	                 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0].href, "https://site.example/rss.xml");
	ck_assert_str_eq(v[0].title, "News");
	ck_assert_str_eq(v[0].type, "application/rss+xml");
	ck_assert_str_eq(v[1].href, "https://other.example/atom");
	ck_assert_ptr_null(v[1].title);
	html_feed_links_free(v, n);
}
END_TEST

START_TEST(test_page_without_feed_links_gives_none)
{
	const char *page = "<html><body><a href=\"/rss\">RSS</a></body></html>";
	struct html_feed_link *v = NULL;
	size_t n = 7;

	ck_assert_int_eq(html_feed_links(page, strlen(page),
	                                 "https://site.example/", &v, &n),
	                 0);
	ck_assert_uint_eq(n, 0);
	html_feed_links_free(v, n);
}
END_TEST

START_TEST(test_sanitize_replaces_an_image_without_usable_source_by_its_alt)
{
	char *c = clean("<p><img src=\"x.png\" alt=\"a <cat>\">"
	                "<img src=\"javascript:x\"><img></p>");

	ck_assert_str_eq(c, "<p>a &lt;cat&gt;</p>");
	free(c);
}
END_TEST

/* The html suite. */
static Suite *
html_suite(void)
{
	Suite *s = suite_create("html");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, test_text_paragraphs_are_separated_by_a_blank_line);
	tcase_add_test(tc, test_text_decodes_entities);
	tcase_add_test(tc, test_text_collapses_whitespace_outside_pre);
	tcase_add_test(tc, test_text_wraps_words_at_width);
	tcase_add_test(tc, test_text_wrapping_counts_wide_characters_twice);
	tcase_add_test(tc, test_text_cuts_a_word_longer_than_the_width);
	tcase_add_test(tc, test_text_drops_script_and_style);
	tcase_add_test(tc, test_text_lists_get_bullets_and_numbers);
	tcase_add_test(tc, test_text_links_are_numbered_and_listed);
	tcase_add_test(tc, test_text_br_breaks_the_line);
	tcase_add_test(tc, test_text_blockquote_is_prefixed);
	tcase_add_test(tc, test_text_plain_text_without_markup_is_kept);
	tcase_add_test(tc, test_text_empty_input_gives_empty_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("sanitize");
	tcase_add_test(
	        tc,
	        test_sanitize_removes_script_style_iframe_object_embed_form);
	tcase_add_test(
	        tc, test_sanitize_removes_event_handlers_and_style_attributes);
	tcase_add_test(tc,
	               test_sanitize_drops_javascript_vbscript_and_data_urls);
	tcase_add_test(tc, test_sanitize_keeps_allowed_markup_and_links);
	tcase_add_test(tc,
	               test_sanitize_unwraps_unknown_elements_and_escapes_text);
	tcase_add_test(tc, test_escape_drops_control_characters_and_fixes_utf8);
	tcase_add_test(
	        tc,
	        test_sanitize_replaces_an_image_without_usable_source_by_its_alt);
	tcase_add_test(tc, test_width_and_fit_count_display_columns);
	suite_add_tcase(s, tc);

	tc = tcase_create("discovery");
	tcase_add_test(tc, test_feed_links_are_found_resolved_and_deduplicated);
	tcase_add_test(tc, test_page_without_feed_links_gives_none);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	setlocale(LC_ALL, "C.UTF-8");
	sr = srunner_create(html_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
