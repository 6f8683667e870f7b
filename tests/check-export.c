/* Unit tests for lib/export.c: JSON Lines, CSV, Atom read back, HTML. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <libxml/HTMLparser.h>

#include "gazette/export.h"
#include "gazette/parse.h"

static const int64_t feed_ids[] = {1, 2};
static const char *const feed_titles[] = {"Feed, One", "Feed \"Two\""};

/* Three stories with the awkward characters each format must survive. */
static void
stories(struct store_story st[3])
{
	memset(st, 0, 3 * sizeof(*st));
	st[0] = (struct store_story){
	        .id = 3,
	        .guid = "https://a.example/3",
	        .title = "Commas, \"quotes\"\nand newlines",
	        .link = "https://a.example/3?x=1&y=2",
	        .author = "Ann",
	        .summary = "<p>Short &amp; sweet</p>",
	        .content = "<p>Body <b>bold</b></p>"
	                   "<script>alert(1)</script>",
	        .published = 1700000000,
	        .updated = 1700003600,
	        .first_seen = 1700000100,
	        .starred = true,
	        .n_feeds = 2,
	        .feed_ids = feed_ids,
	        .feed_titles = feed_titles,
	};
	st[1] = (struct store_story){
	        .id = 2,
	        .guid = NULL,
	        .title = "Caf\xc3\xa9 <tags> & \xe6\x97\xa5\xe6\x9c\xac",
	        .link = "http://b.example/2",
	        .published = 1690000000,
	        .updated = GZ_NO_DATE,
	        .first_seen = 1690000000,
	        .read = true,
	        .n_feeds = 1,
	        .feed_ids = feed_ids,
	        .feed_titles = feed_titles,
	};
	st[2] = (struct store_story){
	        .id = 1,
	        .title = "Hostile",
	        .link = "javascript:alert(1)",
	        .content = "<p onclick=\"x()\" onmouseover='y()'>Hi</p>"
	                   "<style>body{display:none}</style>"
	                   "<iframe src=\"https://evil.example/\"></iframe>"
	                   "<object data=\"x.swf\"></object><embed src=x>"
	                   "<a href=\"javascript:alert(2)\">js</a>"
	                   "<a href=\"JAVASCRIPT&#58;alert(3)\">js2</a>"
	                   "<img src=\"data:text/html,<script>\" alt=a>"
	                   "<form action=x><input></form>"
	                   "<svg><script>alert(4)</script></svg>",
	        .published = 1680000000,
	        .updated = GZ_NO_DATE,
	        .first_seen = 1680000000,
	        .n_feeds = 1,
	        .feed_ids = feed_ids + 1,
	        .feed_titles = feed_titles + 1,
	};
}

/* Export the three stories in fmt; the caller frees. */
static char *
run_export(enum export_format fmt)
{
	struct store_story st[3];
	struct export *x = NULL;
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	stories(st);
	ck_assert_int_eq(
	        export_begin(f, fmt, "My <stories>", 1700009999, 0, &x), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(export_story(x, &st[i]), 0);
	ck_assert_int_eq(export_end(x), 0);
	export_free(x);
	fclose(f);
	return out;
}

START_TEST(test_format_names_parse)
{
	enum export_format f;

	ck_assert_int_eq(export_format_parse("json", &f), 0);
	ck_assert_int_eq(f, EXPORT_JSON);
	ck_assert_int_eq(export_format_parse("csv", &f), 0);
	ck_assert_int_eq(f, EXPORT_CSV);
	ck_assert_int_eq(export_format_parse("atom", &f), 0);
	ck_assert_int_eq(export_format_parse("html", &f), 0);
	ck_assert_int_eq(export_format_parse("xml", &f), -EINVAL);
}
END_TEST

START_TEST(test_json_lines_are_one_valid_object_each)
{
	char *out = run_export(EXPORT_JSON), *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		struct json_object *o = json_tokener_parse(line), *v;

		ck_assert_msg(o != NULL, "not JSON: %s", line);
		ck_assert(json_object_is_type(o, json_type_object));
		ck_assert(json_object_object_get_ex(o, "title", &v));
		if (n == 0) {
			ck_assert_str_eq(json_object_get_string(v),
			                 "Commas, \"quotes\"\nand newlines");
			ck_assert(
			        json_object_object_get_ex(o, "published", &v));
			ck_assert_str_eq(json_object_get_string(v),
			                 "2023-11-14T22:13:20Z");
			ck_assert(json_object_object_get_ex(o, "feeds", &v));
			ck_assert_int_eq(json_object_array_length(v), 2);
			ck_assert(json_object_object_get_ex(o, "starred", &v));
			ck_assert(json_object_get_boolean(v));
		}
		if (n == 1) {
			ck_assert_str_eq(json_object_get_string(v),
			                 "Caf\xc3\xa9 <tags> & "
			                 "\xe6\x97\xa5\xe6\x9c\xac");
			ck_assert(json_object_object_get_ex(o, "updated", &v));
			ck_assert(v == NULL);
		}
		json_object_put(o);
	}
	ck_assert_int_eq(n, 3);
	free(out);
}
END_TEST

START_TEST(test_json_escapes_controls_and_replaces_invalid_utf8)
{
	struct store_story st = {
	        .id = 9,
	        .title = "tab\there \"q\" back\\slash \x01 bell\x07 "
	                 "bad\xff\xc3 ok\xc3\xa9 \xe6\x97\xa5 /path",
	        .published = 0,
	        .updated = GZ_NO_DATE,
	};
	struct json_object *o, *v;
	struct export *x = NULL;
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	ck_assert_int_eq(export_begin(f, EXPORT_JSON, NULL, 0, 0, &x), 0);
	ck_assert_int_eq(export_story(x, &st), 0);
	ck_assert_int_eq(export_end(x), 0);
	export_free(x);
	fclose(f);
	o = json_tokener_parse(out);
	ck_assert_msg(o != NULL, "not JSON: %s", out);
	ck_assert(json_object_object_get_ex(o, "title", &v));
	ck_assert_str_eq(json_object_get_string(v),
	                 "tab\there \"q\" back\\slash \x01 bell\x07 "
	                 "bad\xef\xbf\xbd\xef\xbf\xbd ok\xc3\xa9 "
	                 "\xe6\x97\xa5 /path");
	ck_assert(json_object_object_get_ex(o, "published", &v));
	ck_assert_str_eq(json_object_get_string(v), "1970-01-01T00:00:00Z");
	ck_assert(json_object_object_get_ex(o, "guid", &v));
	ck_assert(v == NULL);
	json_object_put(o);
	free(out);
}
END_TEST

#define A40 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

START_TEST(test_json_escapes_specials_at_every_offset_of_long_strings)
{
	static const char *const specials[] = {"\"",   "\\",       "\n",
	                                       "\x1f", "\xc3\xa9", "\xff"};

	for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
		for (size_t at = 0; at < 40; at++) {
			char title[128], want[128];
			struct store_story st = {.id = 1,
			                         .title = title,
			                         .published = GZ_NO_DATE,
			                         .updated = GZ_NO_DATE};
			struct json_object *o, *v;
			struct export *x = NULL;
			char *out = NULL;
			size_t n = 0;
			FILE *f = open_memstream(&out, &n);

			snprintf(title, sizeof(title), "%.*s%s%.*s", (int)at,
			         A40, specials[k], (int)(40 - at), A40);
			/* an invalid byte comes back as U+FFFD */
			snprintf(want, sizeof(want), "%.*s%s%.*s", (int)at, A40,
			         k == 5 ? "\xef\xbf\xbd" : specials[k],
			         (int)(40 - at), A40);
			ck_assert_int_eq(
			        export_begin(f, EXPORT_JSON, NULL, 0, 0, &x),
			        0);
			ck_assert_int_eq(export_story(x, &st), 0);
			ck_assert_int_eq(export_end(x), 0);
			export_free(x);
			fclose(f);
			o = json_tokener_parse(out);
			ck_assert_msg(o != NULL, "not JSON: %s", out);
			ck_assert(json_object_object_get_ex(o, "title", &v));
			ck_assert_str_eq(json_object_get_string(v), want);
			json_object_put(o);
			free(out);
		}
	}
}
END_TEST

/*
 * Read one RFC 4180 record from *p into fields (at most max); returns
 * the number of fields, 0 at the end.
 */
static int
csv_record(const char **p, char **fields, int max)
{
	const char *s = *p;
	int n = 0;

	if (*s == '\0')
		return 0;
	for (;;) {
		char *f = malloc(strlen(s) + 1), *o = f;

		if (*s == '"') {
			s++;
			for (;;) {
				ck_assert_msg(*s, "unterminated quoted field");
				if (*s == '"' && s[1] == '"') {
					*o++ = '"';
					s += 2;
				} else if (*s == '"') {
					s++;
					break;
				} else {
					*o++ = *s++;
				}
			}
		} else {
			while (*s && *s != ',' && *s != '\r' && *s != '\n') {
				ck_assert_msg(*s != '"', "bare quote");
				*o++ = *s++;
			}
		}
		*o = '\0';
		ck_assert_int_lt(n, max);
		fields[n++] = f;
		if (*s == ',') {
			s++;
			continue;
		}
		ck_assert_msg(s[0] == '\r' && s[1] == '\n',
		              "record not ended by CRLF");
		s += 2;
		break;
	}
	*p = s;
	return n;
}

START_TEST(test_csv_quotes_commas_quotes_and_newlines)
{
	char *out = run_export(EXPORT_CSV), *fields[16];
	const char *p = out;
	int n;

	n = csv_record(&p, fields, 16);
	ck_assert_int_eq(n, 10);
	ck_assert_str_eq(fields[0], "id");
	ck_assert_str_eq(fields[4], "title");
	for (int i = 0; i < n; i++)
		free(fields[i]);

	n = csv_record(&p, fields, 16);
	ck_assert_int_eq(n, 10);
	ck_assert_str_eq(fields[0], "3");
	ck_assert_str_eq(fields[1], "2023-11-14T22:13:20Z");
	ck_assert_str_eq(fields[3], "Feed, One; Feed \"Two\"");
	ck_assert_str_eq(fields[4], "Commas, \"quotes\"\nand newlines");
	ck_assert_str_eq(fields[5], "https://a.example/3?x=1&y=2");
	ck_assert_str_eq(fields[8], "1");
	for (int i = 0; i < n; i++)
		free(fields[i]);

	n = csv_record(&p, fields, 16);
	ck_assert_int_eq(n, 10);
	ck_assert_str_eq(fields[4], "Caf\xc3\xa9 <tags> & "
	                            "\xe6\x97\xa5\xe6\x9c\xac");
	ck_assert_str_eq(fields[2], "");
	for (int i = 0; i < n; i++)
		free(fields[i]);
	n = csv_record(&p, fields, 16);
	ck_assert_int_eq(n, 10);
	for (int i = 0; i < n; i++)
		free(fields[i]);
	ck_assert_int_eq(csv_record(&p, fields, 16), 0);
	free(out);
}
END_TEST

START_TEST(test_atom_is_read_back_with_the_same_titles_links_and_dates)
{
	char *out = run_export(EXPORT_ATOM);
	struct gz_feed *feed = NULL;

	ck_assert_int_eq(gz_parse_buffer(out, strlen(out), NULL, &feed), 0);
	ck_assert(feed->is_feed);
	ck_assert_msg(!feed->bozo, "bozo: %s",
	              feed->bozo_message ? feed->bozo_message : "");
	ck_assert_str_eq(feed->title, "My <stories>");
	ck_assert_uint_eq(feed->n_entries, 3);
	ck_assert_str_eq(feed->entries[0].title,
	                 "Commas, \"quotes\"\nand newlines");
	ck_assert_str_eq(feed->entries[0].link, "https://a.example/3?x=1&y=2");
	ck_assert_str_eq(feed->entries[0].id, "https://a.example/3");
	ck_assert_int_eq(feed->entries[0].published, 1700000000);
	ck_assert_int_eq(feed->entries[0].updated, 1700003600);
	ck_assert_str_eq(feed->entries[0].author, "Ann");
	ck_assert_str_eq(feed->entries[1].title,
	                 "Caf\xc3\xa9 <tags> & \xe6\x97\xa5\xe6\x9c\xac");
	ck_assert_str_eq(feed->entries[1].link, "http://b.example/2");
	ck_assert_int_eq(feed->entries[1].published, 1690000000);
	ck_assert_str_eq(feed->entries[2].title, "Hostile");
	ck_assert_int_eq(feed->entries[2].published, 1680000000);
	gz_feed_free(feed);
	free(out);
}
END_TEST

/* What a hostile page could still do, found by walking the parsed page. */
struct hostile {
	int scripts, handlers, bad_urls, embeds;
};

/* Walk the parsed HTML for anything that could run. */
static void
hunt(xmlNodePtr n, struct hostile *h)
{
	static const char *const bad[] = {"script", "iframe", "object",
	                                  "embed",  "form",   "svg",
	                                  "frame",  "applet", NULL};

	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)n->name, "script") == 0)
			h->scripts++;
		for (int i = 1; bad[i]; i++)
			if (strcmp((const char *)n->name, bad[i]) == 0)
				h->embeds++;
		/* the page's own <style> in <head> is ours; none elsewhere */
		if (strcmp((const char *)n->name, "style") == 0 &&
		    strcmp((const char *)n->parent->name, "head") != 0)
			h->embeds++;
		for (xmlAttrPtr a = n->properties; a; a = a->next) {
			xmlChar *v =
			        xmlNodeListGetString(n->doc, a->children, 1);
			const char *s = v ? (const char *)v : "";

			if (strncasecmp((const char *)a->name, "on", 2) == 0 ||
			    strcasecmp((const char *)a->name, "style") == 0)
				h->handlers++;
			while (*s == ' ')
				s++;
			if (strncasecmp(s, "javascript:", 11) == 0 ||
			    strncasecmp(s, "vbscript:", 9) == 0 ||
			    strncasecmp(s, "data:", 5) == 0)
				h->bad_urls++;
			xmlFree(v);
		}
		hunt(n->children, h);
	}
}

START_TEST(test_html_page_of_hostile_content_has_no_script_or_handler)
{
	char *out = run_export(EXPORT_HTML);
	htmlDocPtr doc = htmlReadMemory(out, (int)strlen(out), NULL, "UTF-8",
	                                HTML_PARSE_NONET | HTML_PARSE_NOERROR |
	                                        HTML_PARSE_NOWARNING);
	struct hostile h = {0};

	ck_assert_ptr_nonnull(doc);
	hunt(doc->children, &h);
	ck_assert_int_eq(h.scripts, 0);
	ck_assert_int_eq(h.handlers, 0);
	ck_assert_int_eq(h.bad_urls, 0);
	ck_assert_int_eq(h.embeds, 0);
	/* the allowed markup and the titles stay */
	ck_assert_ptr_nonnull(strstr(out, "<b>bold</b>"));
	ck_assert_ptr_nonnull(strstr(out, "<p>Hi</p>"));
	ck_assert_ptr_nonnull(strstr(out, "Caf\xc3\xa9 &lt;tags&gt; &amp;"));
	ck_assert_ptr_nonnull(strstr(out, "<title>My &lt;stories&gt;</title>"));
	ck_assert_ptr_nonnull(
	        strstr(out, "<a href=\"https://a.example/3?x=1&amp;y=2\""));
	/* a story whose link is javascript: gets no link at all */
	ck_assert_ptr_nonnull(strstr(out, "<h2>Hostile</h2>"));
	xmlFreeDoc(doc);
	free(out);
}
END_TEST

START_TEST(test_html_page_forbids_scripts_by_content_security_policy)
{
	char *out = run_export(EXPORT_HTML);

	ck_assert_ptr_nonnull(strstr(out, "default-src 'none'"));
	ck_assert_ptr_null(strstr(out, "script-src"));
	free(out);
}
END_TEST

/* The export suite. */
static Suite *
export_suite(void)
{
	Suite *s = suite_create("export");
	TCase *tc = tcase_create("formats");

	tcase_add_test(tc, test_format_names_parse);
	tcase_add_test(tc, test_json_lines_are_one_valid_object_each);
	tcase_add_test(tc,
	               test_json_escapes_controls_and_replaces_invalid_utf8);
	tcase_add_test(
	        tc, test_json_escapes_specials_at_every_offset_of_long_strings);
	tcase_add_test(tc, test_csv_quotes_commas_quotes_and_newlines);
	tcase_add_test(
	        tc,
	        test_atom_is_read_back_with_the_same_titles_links_and_dates);
	tcase_add_test(
	        tc, test_html_page_of_hostile_content_has_no_script_or_handler);
	tcase_add_test(
	        tc, test_html_page_forbids_scripts_by_content_security_policy);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(export_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
