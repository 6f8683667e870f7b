/* Unit tests for the streaming feed parser (lib/parse.c). */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gazette/date.h"
#include "gazette/parse.h"

static char *
load(const char *name, size_t *len)
{
	const char *dir = getenv("GAZETTE_TESTDATA");
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/feeds/%s", dir ? dir : "tests/data",
	         name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Parse buf pushed in chunks of chunk bytes (0: all at once). */
static struct gz_feed *
parse_chunked(const char *buf, size_t len, size_t chunk,
              const struct gz_parser_opts *opts)
{
	struct gz_parser *p = gz_parser_new(opts);
	struct gz_feed *f = NULL;

	ck_assert_ptr_nonnull(p);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t i = 0; i < len; i += chunk) {
		int r = gz_parser_push(p, buf + i,
		                       len - i < chunk ? len - i : chunk);
		if (r < 0)
			break;
	}
	ck_assert_int_eq(gz_parser_finish(p, &f), 0);
	gz_parser_free(p);
	ck_assert_ptr_nonnull(f);
	return f;
}

static struct gz_feed *
parse_file(const char *name, const char *base)
{
	struct gz_parser_opts o = {.base_url = base};
	size_t len;
	char *buf = load(name, &len);
	struct gz_feed *f = parse_chunked(buf, len, 0, &o);

	free(buf);
	return f;
}

static struct gz_feed *
parse_str(const char *s, const struct gz_parser_opts *o)
{
	return parse_chunked(s, strlen(s), 0, o);
}

static const char *
or_null(const char *s)
{
	return s ? s : "(null)";
}

/* Everything the parser produced, as text, to compare two parses. */
static char *
dump(const struct gz_feed *f)
{
	char *out = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&out, &n);

	fprintf(m, "%s|%s|%s|%s|%s|%s|%s|%s|%lld|%lld|%lld|%d|%d|%s\n",
	        or_null(f->title), or_null(f->link), or_null(f->subtitle),
	        or_null(f->id), or_null(f->language), or_null(f->author),
	        or_null(f->image), or_null(f->generator), (long long)f->updated,
	        (long long)f->ttl, (long long)f->update_period, f->is_feed,
	        f->bozo, or_null(f->bozo_message));
	for (size_t i = 0; i < f->n_entries; i++) {
		const struct gz_entry *e = &f->entries[i];
		fprintf(m, "%s|%s|%s|%s|%s|%s|%lld|%lld\n", or_null(e->id),
		        or_null(e->title), or_null(e->link),
		        or_null(e->summary), or_null(e->content),
		        or_null(e->author), (long long)e->published,
		        (long long)e->updated);
		for (size_t j = 0; j < e->n_links; j++)
			fprintf(m, " L %s %s %s\n", or_null(e->links[j].href),
			        or_null(e->links[j].rel),
			        or_null(e->links[j].type));
		for (size_t j = 0; j < e->n_categories; j++)
			fprintf(m, " C %s\n", e->categories[j]);
		for (size_t j = 0; j < e->n_enclosures; j++)
			fprintf(m, " E %s %s %s\n",
			        or_null(e->enclosures[j].url),
			        or_null(e->enclosures[j].type),
			        or_null(e->enclosures[j].length));
	}
	fclose(m);
	return out;
}

/* Check that buf in chunks of k parses as it did whole (a, its dump). */
static void
assert_same_in_chunks(const char *name, const char *buf, size_t len,
                      const char *a, size_t k, const struct gz_parser_opts *o)
{
	struct gz_feed *part = parse_chunked(buf, len, k, o);
	char *b = dump(part);

	ck_assert_msg(strcmp(a, b) == 0,
	              "%s in chunks of %zu differs:\n%s\n--\n%s", name, k, a,
	              b);
	free(b);
	gz_feed_free(part);
}

static int64_t
when(const char *s)
{
	int64_t t;

	ck_assert_int_eq(date_parse(s, &t), 0);
	return t;
}

START_TEST(test_rss20_channel_fields_come_from_channel_not_image)
{
	struct gz_feed *f = parse_file("rss20.xml", NULL);

	ck_assert(f->is_feed);
	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "Gazette Test Channel");
	ck_assert_str_eq(f->link, "http://news.example.org/");
	ck_assert_str_eq(f->subtitle, "All the news that fits");
	ck_assert_str_eq(f->language, "en-gb");
	ck_assert_str_eq(f->author, "editor@example.org (The Editor)");
	ck_assert_str_eq(f->generator, "hand-written");
	ck_assert_str_eq(f->image, "/logo.png");
	/* lastBuildDate, not pubDate */
	ck_assert_int_eq(f->updated, when("2003-06-10T09:41:01Z"));
	ck_assert_int_eq(f->ttl, 45 * 60);
	ck_assert_int_eq(f->update_period, 86400 / 4);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_rss20_item_fields_enclosure_and_categories)
{
	struct gz_feed *f =
	        parse_file("rss20.xml", "http://news.example.org/rss.xml");
	struct gz_entry *e;

	ck_assert_uint_eq(f->n_entries, 2);
	e = &f->entries[0];
	ck_assert_str_eq(e->title, "First story");
	ck_assert_str_eq(e->id, "story-1");
	ck_assert_str_eq(e->link, "http://news.example.org/2003/06/first");
	ck_assert_str_eq(
	        e->summary,
	        "<p>Summary with <a href=\"http://news.example.org/rel\">a link</a></p>");
	ck_assert_str_eq(e->content, "<p>Full <b>content</b> here</p>");
	ck_assert_str_eq(e->author, "reporter@example.org (A Reporter)");
	ck_assert_int_eq(e->published, when("2003-06-07T08:30:00Z"));
	ck_assert_int_eq(e->updated, GZ_NO_DATE);
	ck_assert_uint_eq(e->n_categories, 2);
	ck_assert_str_eq(e->categories[0], "World");
	ck_assert_str_eq(e->categories[1], "Politics");
	ck_assert_uint_eq(e->n_enclosures, 1);
	ck_assert_str_eq(e->enclosures[0].url,
	                 "http://news.example.org/audio/first.mp3");
	ck_assert_str_eq(e->enclosures[0].type, "audio/mpeg");
	ck_assert_str_eq(e->enclosures[0].length, "123456");
	ck_assert_uint_eq(e->n_links, 2);
	ck_assert_str_eq(e->links[0].rel, "alternate");
	ck_assert_str_eq(e->links[1].rel, "enclosure");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_rss20_dc_dcterms_media_and_itunes_keywords)
{
	struct gz_feed *f = parse_file("rss20.xml", NULL);
	struct gz_entry *e = &f->entries[1];

	/* a permalink guid is the link too */
	ck_assert_str_eq(e->id, "http://news.example.org/2003/06/second");
	ck_assert_str_eq(e->link, "http://news.example.org/2003/06/second");
	ck_assert_str_eq(e->author, "Second Author");
	ck_assert_int_eq(e->updated, when("2003-06-08T12:00:00Z"));
	ck_assert_int_eq(e->published, when("2003-06-08T12:00:00Z"));
	ck_assert_str_eq(e->summary, "A media description");
	ck_assert_uint_eq(e->n_categories, 3);
	ck_assert_str_eq(e->categories[0], "Science");
	ck_assert_str_eq(e->categories[1], "space");
	ck_assert_str_eq(e->categories[2], "rockets");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_rss091_with_doctype_and_latin1_declaration)
{
	struct gz_feed *f = parse_file("rss091.xml", NULL);

	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "Old school");
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].title, "Caf\xc3\xa9 opens");
	ck_assert_str_eq(f->entries[0].link, "http://old.example.com/cafe");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_rdf_item_about_is_entry_id_and_dc_fields_map)
{
	struct gz_feed *f = parse_file("rdf.xml", NULL);

	ck_assert(f->is_feed);
	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "RDF Site");
	ck_assert_str_eq(f->language, "fr");
	ck_assert_str_eq(f->author, "Le Auteur");
	ck_assert_str_eq(f->image, "http://rdf.example.net/img.png");
	ck_assert_int_eq(f->updated, when("2002-09-05T16:00:00Z"));
	ck_assert_uint_eq(f->n_entries, 2);
	ck_assert_str_eq(f->entries[0].id, "http://rdf.example.net/items/1");
	ck_assert_str_eq(f->entries[0].title, "RDF item one");
	ck_assert_str_eq(f->entries[0].summary, "First RDF item");
	ck_assert_str_eq(f->entries[0].content, "<p>Encoded</p>");
	ck_assert_str_eq(f->entries[0].categories[0], "Tech");
	ck_assert_str_eq(f->entries[1].id, "http://rdf.example.net/items/2");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_atom10_feed_fields_and_author_name_email)
{
	struct gz_feed *f = parse_file("atom10.xml", NULL);

	ck_assert(f->is_feed);
	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "Atom & Eve");
	ck_assert_str_eq(f->subtitle, "A <em>subtitle</em>");
	ck_assert_str_eq(f->link, "http://atom.example.com/blog/");
	ck_assert_str_eq(f->id, "tag:atom.example.com,2005:blog");
	ck_assert_str_eq(f->generator, "GenX");
	ck_assert_str_eq(f->author, "Jane Doe (jane@example.com)");
	ck_assert_str_eq(f->language, "en-US");
	ck_assert_ptr_null(f->image); /* atom:logo is not mapped */
	ck_assert_int_eq(f->updated, when("2005-07-31T12:29:29Z"));
	gz_feed_free(f);
}
END_TEST

START_TEST(test_atom10_entry_links_xml_base_and_source_ignored)
{
	struct gz_feed *f = parse_file("atom10.xml", NULL);
	struct gz_entry *e = &f->entries[0];

	ck_assert_str_eq(e->id, "tag:atom.example.com,2005:1");
	ck_assert_str_eq(e->title, "Title <b>bold</b>");
	ck_assert_str_eq(e->link,
	                 "http://atom.example.com/blog/posts/2005/first");
	ck_assert_uint_eq(e->n_links, 3);
	ck_assert_str_eq(e->links[1].rel, "enclosure");
	ck_assert_str_eq(e->links[2].rel, "related");
	ck_assert_uint_eq(e->n_enclosures, 1);
	ck_assert_str_eq(e->enclosures[0].url,
	                 "http://atom.example.com/media/first.mp3");
	ck_assert_str_eq(e->enclosures[0].length, "1337");
	ck_assert_str_eq(e->author, "John");
	ck_assert_int_eq(e->published, when("2005-07-30T08:00:00Z"));
	ck_assert_int_eq(e->updated, when("2005-07-31T12:29:29Z"));
	ck_assert_uint_eq(e->n_categories, 2);
	ck_assert_str_eq(e->categories[1], "xml");
	/* type text: decoded, not markup */
	ck_assert_str_eq(e->summary, "Plain summary <not a tag>");
	/* xhtml: the wrapper div goes, relative links use the content's base */
	ck_assert_str_eq(
	        e->content,
	        "<p>Hello <a href=\"http://cdn.example.com/x/page\">link</a> <img src=\"http://cdn.example.com/x/i.png\" /></p>");
	gz_feed_free(f);
}
END_TEST

START_TEST(
        test_atom10_html_content_is_summary_when_none_and_contributor_ignored)
{
	struct gz_feed *f = parse_file("atom10.xml", NULL);
	struct gz_entry *e = &f->entries[1];

	ck_assert_str_eq(e->link, "http://atom.example.com/blog/second");
	ck_assert_str_eq(
	        e->content,
	        "<p>HTML <a href=\"http://atom.example.com/blog/rel/x\">content</a></p>");
	ck_assert_str_eq(e->summary, e->content);
	ck_assert_ptr_null(e->author);
	ck_assert_int_eq(e->published, GZ_NO_DATE);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_atom03_tagline_modified_issued_and_escaped_content)
{
	struct gz_feed *f = parse_file("atom03.xml", NULL);
	struct gz_entry *e = &f->entries[0];

	ck_assert(f->is_feed);
	ck_assert_str_eq(f->subtitle, "Old Atom");
	ck_assert_str_eq(f->link, "http://atom03.example.com/");
	ck_assert_int_eq(f->updated, when("2004-01-01T19:48:21Z"));
	ck_assert_int_eq(e->published, when("2003-12-31T18:14:55Z"));
	ck_assert_int_eq(e->updated, when("2004-01-01T00:00:00Z"));
	ck_assert_str_eq(e->summary, "Atom 0.3 summary");
	ck_assert_str_eq(e->content, "<p>escaped</p>");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_later_itunes_subtitle_and_summary_replace_description)
{
	struct gz_feed *f = parse_file("precedence.xml", NULL);

	ck_assert_str_eq(f->subtitle, "Later subtitle wins");
	ck_assert_str_eq(f->author, "Pod Author");
	ck_assert_str_eq(f->image, "http://pod.example.com/art.jpg");
	ck_assert_str_eq(f->entries[0].summary, "Later summary wins");
	ck_assert_str_eq(f->entries[0].author, "Episode Author");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_relative_links_resolve_against_document_url)
{
	struct gz_feed *f = parse_file(
	        "rss20.xml", "https://mirror.example.net/feeds/rss.xml");

	ck_assert_str_eq(f->image, "https://mirror.example.net/logo.png");
	ck_assert_str_eq(f->entries[0].link,
	                 "https://mirror.example.net/2003/06/first");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_relative_links_without_any_base_stay_as_written)
{
	struct gz_feed *f = parse_file("rss20.xml", NULL);

	ck_assert_str_eq(f->entries[0].link, "/2003/06/first");
	ck_assert_str_eq(f->entries[0].enclosures[0].url, "/audio/first.mp3");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_nested_xml_base_applies_to_its_element)
{
	static const char doc[] =
	        "<feed xmlns='http://www.w3.org/2005/Atom' xml:base='http://a.example/one/'>"
	        "<entry xml:base='two/'><link href='three'/></entry>"
	        "<entry xml:base='/root/'><link href='x?y=1'/></entry></feed>";
	struct gz_feed *f = parse_str(doc, NULL);

	ck_assert_str_eq(f->entries[0].link, "http://a.example/one/two/three");
	ck_assert_str_eq(f->entries[1].link, "http://a.example/root/x?y=1");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_repeated_xml_base_and_lang_keep_the_last)
{
	static const char doc[] =
	        "<feed xmlns='http://www.w3.org/2005/Atom'>"
	        "<entry xml:base='http://a.example/' xml:base='http://b.example/'"
	        " xml:lang='en' xml:lang='fr'><link href='x'/></entry></feed>";
	struct gz_feed *f = parse_str(doc, NULL);

	ck_assert(f->bozo);
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_ptr_nonnull(f->entries[0].link);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_unsafe_link_scheme_becomes_empty)
{
	static const char doc[] =
	        "<rss><channel><item><link>javascript:alert(1)</link>"
	        "<description>&lt;a href=\"javascript:evil()\"&gt;x&lt;/a&gt;</description>"
	        "</item></channel></rss>";
	struct gz_parser_opts o = {.base_url = "http://x.example/"};
	struct gz_feed *f = parse_str(doc, &o);

	ck_assert_str_eq(f->entries[0].link, "");
	ck_assert_str_eq(f->entries[0].summary, "<a href=\"\">x</a>");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_guid_not_permalink_is_not_the_link)
{
	static const char doc[] =
	        "<rss><channel><item><guid isPermaLink='false'>http://x.example/1</guid>"
	        "</item></channel></rss>";
	struct gz_feed *f = parse_str(doc, NULL);

	ck_assert_str_eq(f->entries[0].id, "http://x.example/1");
	ck_assert_ptr_null(f->entries[0].link);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_atom_link_inside_rss_sets_only_alternate)
{
	static const char doc[] =
	        "<rss xmlns:atom='http://www.w3.org/2005/Atom'><channel>"
	        "<atom:link rel='self' href='http://x.example/feed'/>"
	        "<item><atom:link rel='alternate' href='http://x.example/a'/></item>"
	        "</channel></rss>";
	struct gz_feed *f = parse_str(doc, NULL);

	ck_assert_ptr_null(f->link);
	ck_assert_str_eq(f->entries[0].link, "http://x.example/a");
	gz_feed_free(f);
}
END_TEST

/* Fuzzing found the first HREF leaked when a second one followed. */
START_TEST(test_cdf_attribute_given_twice_in_two_cases_keeps_the_first)
{
	static const char doc[] =
	        "<CHANNEL HREF='http://a.example/' href='http://b.example/'"
	        " LASTMOD='2004-01-02T03:04' lastmod='2010-01-01T00:00'>"
	        "<TITLE>t</TITLE>"
	        "<ITEM HREF='http://a.example/1' Href='http://b.example/1'>"
	        "<TITLE>i</TITLE></ITEM></CHANNEL>";
	struct gz_feed *f = parse_str(doc, NULL);

	ck_assert(!f->bozo);
	ck_assert_str_eq(f->link, "http://a.example/");
	ck_assert_int_eq(f->updated, when("2004-01-02T03:04:00Z"));
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].link, "http://a.example/1");
	ck_assert_uint_eq(f->entries[0].n_links, 1);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_empty_element_gives_empty_string_absent_gives_null)
{
	static const char doc[] =
	        "<rss><channel><title></title><item><title/></item></channel></rss>";
	struct gz_feed *f = parse_str(doc, NULL);

	ck_assert_str_eq(f->title, "");
	ck_assert_ptr_null(f->link);
	ck_assert_str_eq(f->entries[0].title, "");
	ck_assert_ptr_null(f->entries[0].summary);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_cdata_is_unwrapped_and_whitespace_trimmed)
{
	static const char doc[] =
	        "<rss><channel><title>\n  <![CDATA[ A <b> & c ]]>\n</title></channel></rss>";
	struct gz_feed *f = parse_str(doc, NULL);

	ck_assert_str_eq(f->title, "A <b> & c");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_latin1_declared_document_is_decoded)
{
	struct gz_feed *f = parse_file("latin1.xml", NULL);

	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "Caf\xc3\xa9 cr\xc3\xa8me");
	ck_assert_str_eq(f->entries[0].title, "\xc3\x80 la carte");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_utf16_with_bom_is_decoded)
{
	struct gz_feed *f = parse_file("utf16.xml", NULL);

	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title,
	                 "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e UTF-16");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_utf8_bom_is_skipped)
{
	struct gz_feed *f = parse_file("utf8bom.xml", NULL);

	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "BOM \xe2\x9c\x93");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_http_charset_overrides_xml_declaration)
{
	struct gz_parser_opts o = {.content_type =
	                                   "text/xml; charset=windows-1252"};
	size_t len;
	char *buf = load("cp1252.xml", &len);
	struct gz_feed *f = parse_chunked(buf, len, 0, &o);

	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "\xe2\x80\x9cquoted\xe2\x80\x9d");
	gz_feed_free(f);
	free(buf);
}
END_TEST

START_TEST(test_text_content_type_without_charset_and_non_ascii_is_bozo)
{
	struct gz_parser_opts o = {.content_type = "text/xml"};
	size_t len;
	char *buf = load("utf8bom.xml", &len);
	struct gz_feed *f = parse_chunked(buf, len, 0, &o);

	ck_assert(f->bozo);
	ck_assert_str_eq(f->title, "BOM \xe2\x9c\x93");
	gz_feed_free(f);
	free(buf);
}
END_TEST

START_TEST(test_invalid_utf8_bytes_are_read_as_windows_1252_and_bozo)
{
	struct gz_feed *f = parse_file("badbytes.xml", NULL);

	ck_assert(f->bozo);
	ck_assert_ptr_nonnull(f->title);
	ck_assert_str_eq(f->title, "bad \xc3\xbf\xc3\xbe bytes");
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].title, "still here");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_windows_1252_bytes_in_utf8_document_are_read_as_such)
{
	struct gz_feed *f = parse_file("cp1252-in-utf8.xml", NULL);

	ck_assert(f->bozo);
	/* bad bytes are windows-1252; the valid UTF-8 beside them stays */
	ck_assert_str_eq(f->title, "Caf\xc3\xa9 \xe2\x80\x9cquoted\xe2\x80\x9d "
	                           "&\xc3\xaf x");
	ck_assert_str_eq(f->entries[0].title, "na\xc3\xafve \xc3\xa9t\xc3\xa9");
	gz_feed_free(f);
}
END_TEST

/*
 * feedparser's last resort for broken UTF-8: when windows-1252 lacks a
 * byte (0x9D of the UTF-8 for U+201D here), the text is ISO-8859-2,
 * C1 controls read as windows-1252 (its encoding/bozo_linenoise.xml).
 */
START_TEST(test_bad_utf8_that_windows_1252_lacks_reads_the_text_as_latin2)
{
	const char *doc = "<?xml version='1.0' encoding='utf-8'?><rss><channel>"
	                  "<title>ok \xe2\x80\x9c</title><item><description>"
	                  "<![CDATA[ \xe2\x80\x99<>\xe2\x80\x9d\xa9 ]]>"
	                  "</description><title>x\xa9 \xc3\xa9</title>"
	                  "</item></channel></rss>";
	struct gz_parser_opts o = {0};
	struct gz_feed *f = parse_str(doc, &o);
	char *a = dump(f);

	ck_assert(f->bozo);
	ck_assert_str_eq(f->bozo_message,
	                 "bytes that are not UTF-8 were read as windows-1252");
	/* text without a bad byte keeps its UTF-8 */
	ck_assert_str_eq(f->title, "ok \xe2\x80\x9c");
	ck_assert_uint_eq(f->n_entries, 1);
	/* "\xe2\x80\x99" "\xe2\x80\x9d" "\xa9" as ISO-8859-2, "<>" dropped */
	ck_assert_str_eq(f->entries[0].summary,
	                 "\xc3\xa2\xe2\x82\xac\xe2\x84\xa2"
	                 "\xc3\xa2\xe2\x82\xac\xc2\x9d\xc5\xa0");
	/* windows-1252 has every byte: only the bad one is read as such */
	ck_assert_str_eq(f->entries[0].title, "x\xc2\xa9 \xc3\xa9");
	for (size_t k = 1; k <= 8; k++)
		assert_same_in_chunks("latin2", doc, strlen(doc), a, k, &o);
	free(a);
	gz_feed_free(f);
}
END_TEST

/* Escaped HTML keeps the references of its attribute values as written. */
START_TEST(test_html_attribute_references_are_kept_as_written)
{
	const char *doc =
	        "<feed xmlns='http://www.w3.org/2005/Atom'><entry>"
	        "<title type='html'>&lt;a title=\"&amp;#38; &amp;#x26; "
	        "&amp;amp; &amp;#39; &amp;eacute; &amp; x\" "
	        "href=\"/p?a=1&amp;amp;b=2\"&gt;t&lt;/a&gt;&lt;input "
	        "checked&gt;</title></entry></feed>";
	struct gz_parser_opts o = {.base_url = "http://example.org/f"};
	struct gz_feed *f = parse_str(doc, &o);

	ck_assert(!f->bozo);
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].title,
	                 "<a href=\"http://example.org/p?a=1&amp;b=2\" "
	                 "title=\"&#38; &#x26; &amp; ' &eacute; &amp; x\">t</a>"
	                 "<input checked=\"checked\" />");
	gz_feed_free(f);
}
END_TEST

/*
 * Inline SVG and MathML, escaped in RSS or as XHTML in Atom, come out as
 * feedparser gives them: without prefixes, their namespaces declared,
 * and Atom's XHTML content is the summary too when there is none.
 */
START_TEST(test_inline_svg_and_mathml_declare_their_namespaces)
{
	const char *rss = "<rss><channel><item><description>&lt;svg "
	                  "width='1'&gt;&lt;a xlink:href='#x'&gt;&lt;/a&gt;"
	                  "&lt;/svg&gt;&lt;a xlink:href='#y'&gt;&lt;/a&gt;"
	                  "</description></item></channel></rss>";
	const char *atom =
	        "<feed xmlns='http://www.w3.org/2005/Atom'><entry "
	        "xmlns:s='http://www.w3.org/2000/svg' "
	        "xmlns:xlink='http://www.w3.org/1999/xlink'><content "
	        "type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>"
	        "<s:svg width='1'><s:a xlink:href='#x'/></s:svg>"
	        "<math xmlns='http://www.w3.org/1998/Math/MathML'><mi>a</mi>"
	        "</math></div></content></entry></feed>";
	struct gz_parser_opts o = {0};
	struct gz_feed *f = parse_str(rss, &o);

	ck_assert(!f->bozo);
	ck_assert_str_eq(
	        f->entries[0].summary,
	        "<svg width=\"1\" xmlns=\"http://www.w3.org/2000/svg\">"
	        "<a xlink:href=\"#x\" "
	        "xmlns:xlink=\"http://www.w3.org/1999/xlink\"></a>"
	        "</svg><a xlink:href=\"#y\"></a>");
	gz_feed_free(f);
	f = parse_str(atom, &o);
	ck_assert(!f->bozo);
	ck_assert_str_eq(
	        f->entries[0].content,
	        "<svg width=\"1\" xmlns=\"http://www.w3.org/2000/svg\">"
	        "<a xlink:href=\"#x\" "
	        "xmlns:xlink=\"http://www.w3.org/1999/xlink\"></a>"
	        "</svg><math "
	        "xmlns=\"http://www.w3.org/1998/Math/MathML\">"
	        "<mi>a</mi></math>");
	ck_assert_str_eq(f->entries[0].summary, f->entries[0].content);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_comment_opening_with_gt_is_a_comment)
{
	struct gz_feed *f = parse_file("comment-gt.xml", NULL);

	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "T");
	ck_assert_str_eq(f->entries[0].title, "x & y");
	gz_feed_free(f);
}
END_TEST

/*
 * libxml2's push parser finds the end of an internal subset with a scan
 * that loses its place when a chunk cuts a comment: "it's" then opened a
 * quote, or the "]>" in the comment ended the subset, and the whole feed
 * was lost (found by fuzzing). Every chunk size must give one answer.
 */
START_TEST(test_doctype_subset_parses_the_same_in_every_chunk_size)
{
	struct gz_parser_opts o = {0};
	size_t len;
	char *buf = load("doctype-subset.xml", &len);
	struct gz_feed *whole = parse_chunked(buf, len, 0, &o);
	char *a = dump(whole);

	ck_assert(!whole->bozo);
	ck_assert_str_eq(whole->title, "The Daily Example | World");
	ck_assert_str_eq(whole->subtitle, "News from The Daily Example");
	ck_assert_uint_eq(whole->n_entries, 1);
	for (size_t k = 1; k <= len; k++)
		assert_same_in_chunks("doctype-subset.xml", buf, len, a, k, &o);
	free(a);
	gz_feed_free(whole);
	free(buf);
}
END_TEST

/*
 * libxml2 2.9's push parser read a CDATA section whose end had not come
 * 300 bytes per push, and dropped the rest at the end of the document:
 * a section left open (or holding a byte XML forbids) gave a title as
 * long as the number of pushes allowed (tests/fuzz/known/parse).
 */
START_TEST(test_cdata_left_open_or_with_a_bad_byte_reads_the_same_in_chunks)
{
	static const size_t sizes[] = {1, 2, 3, 7, 64, 301, 4096};
	struct gz_parser_opts o = {0};
	char open_doc[4096], bad_doc[4096];
	const char *docs[2] = {open_doc, bad_doc};
	char text[1500];
	struct gz_feed *f;

	for (size_t i = 0; i < sizeof(text) - 1; i++)
		text[i] = "<a&b]]c>d"[i % 9];
	text[sizeof(text) - 1] = '\0';
	snprintf(open_doc, sizeof(open_doc), "<rss><channel><title><![CDATA[%s",
	         text);
	snprintf(bad_doc, sizeof(bad_doc),
	         "<rss><channel><title><![CDATA[%.700s\x12%s]]></title>"
	         "<item><title>after</title></item></channel></rss>",
	         text, text);

	f = parse_str(open_doc, &o);
	ck_assert(f->bozo);
	ck_assert_str_eq(f->title, text);
	gz_feed_free(f);
	for (size_t d = 0; d < 2; d++) {
		size_t len = strlen(docs[d]);
		struct gz_feed *whole = parse_chunked(docs[d], len, 0, &o);
		char *a = dump(whole);

		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			assert_same_in_chunks(d ? "bad byte" : "left open",
			                      docs[d], len, a, sizes[k], &o);
		free(a);
		gz_feed_free(whole);
	}
}
END_TEST

/*
 * libxml2 2.9's push parser leaves the last byte of the input unread when
 * it is text alone, even at the end; a text of 300 bytes or more is read
 * before its end arrives, so an unclosed document's last text byte was
 * kept whole and lost when it came in a push of its own (found by
 * fuzzing: tests/fuzz/regress/parse-chunks/last-text-byte-*).
 */
START_TEST(test_last_text_byte_of_an_unclosed_document_in_its_own_push)
{
	struct gz_parser_opts o = {0};
	char doc[2048], want[1024];
	struct gz_feed *whole, *part;
	struct gz_parser *p;
	size_t len;

	for (size_t n = 1; n < 700; n += 37) {
		memset(want, 'x', n);
		want[n] = '>';
		want[n + 1] = '\0';
		snprintf(doc, sizeof(doc),
		         "<rss><channel><item><title>t</title><description>%s",
		         want);
		len = strlen(doc);
		whole = parse_chunked(doc, len, 0, &o);
		ck_assert_uint_eq(whole->n_entries, 1);
		ck_assert_str_eq(whole->entries[0].summary, want);
		p = gz_parser_new(&o);
		ck_assert_int_eq(gz_parser_push(p, doc, len - 1), 0);
		ck_assert_int_eq(gz_parser_push(p, doc + len - 1, 1), 0);
		ck_assert_int_eq(gz_parser_finish(p, &part), 0);
		gz_parser_free(p);
		ck_assert_uint_eq(part->n_entries, 1);
		ck_assert_msg(strcmp(part->entries[0].summary, want) == 0,
		              "%zu bytes of text: \"%s\"", n + 1,
		              part->entries[0].summary);
		gz_feed_free(part);
		gz_feed_free(whole);
	}
}
END_TEST

/*
 * libxml2 ended a UTF-16 or UTF-32 document at a sequence it could not
 * convert, without an error, and had read (and found malformed) only as
 * much as the pushes had brought before it: the answer depended on the
 * chunking (found by fuzzing). iconv reads them now, a bad unit as
 * U+FFFD, the rest of the document kept.
 */
/* cp as one code unit of w bytes, big- or little-endian, at o. */
static void
put_unit(char *o, uint32_t cp, size_t w, bool be)
{
	for (size_t k = 0; k < w; k++)
		o[be ? w - 1 - k : k] = (char)(cp >> (8 * k) & 0xFF);
}

START_TEST(test_bad_unit_in_utf32_or_utf16_is_replaced_in_any_chunks)
{
	static const char *const encs[] = {"UTF-32BE", "UTF-32LE", "UTF-16BE",
	                                   "UTF-16LE"};
	/* \x01: a unit that is no character (a lone surrogate, > U+10FFFF) */
	const char *text = "<?xml version=\"1.0\"?><rss><channel><title>A"
	                   "\x01</title><item><title>after</title></item>"
	                   "</channel></rss>";
	struct gz_parser_opts o = {0};

	for (size_t e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
		size_t w = encs[e][4] == '3' ? 4 : 2, len = 0;
		bool be = strstr(encs[e], "BE") != NULL;
		uint32_t bad = w == 4 ? 0x110000 : 0xDC00;
		char doc[1024];

		for (const char *c = text; *c; c++, len += w)
			put_unit(doc + len, *c == '\x01' ? bad : (uint32_t)*c,
			         w, be);
		struct gz_feed *whole = parse_chunked(doc, len, 0, &o);
		char *a = dump(whole);

		ck_assert_msg(whole->bozo, "%s", encs[e]);
		ck_assert_str_eq(whole->title, "A\xef\xbf\xbd");
		ck_assert_uint_eq(whole->n_entries, 1);
		ck_assert_str_eq(whole->entries[0].title, "after");
		for (size_t k = 1; k <= 9; k++)
			assert_same_in_chunks(encs[e], doc, len, a, k, &o);
		free(a);
		gz_feed_free(whole);
	}
}
END_TEST

/* A CDATA section is its text, with ']' and ']]' that do not end it. */
START_TEST(test_cdata_text_keeps_markup_brackets_and_ampersands)
{
	const char *doc = "<rss><channel><item><description><![CDATA["
	                  "<p>a &amp; b]] ]]]></description>"
	                  "<title>x<![CDATA[]]>y<![CDATA[]]]]><![CDATA[>]]>"
	                  "</title></item></channel></rss>";
	size_t len = strlen(doc);
	struct gz_parser_opts o = {0};
	struct gz_feed *f = parse_str(doc, &o);
	char *a = dump(f);

	ck_assert(!f->bozo);
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].summary, "<p>a &amp; b]] ]");
	ck_assert_str_eq(f->entries[0].title, "xy]]>");
	for (size_t k = 1; k <= len; k++)
		assert_same_in_chunks("cdata", doc, len, a, k, &o);
	free(a);
	gz_feed_free(f);
}
END_TEST

/*
 * libxml2 ended a document at the first byte its encoding lacks, without
 * an error: a windows-1252 feed with one stray 0x81 had no title and no
 * entries, and where it ended depended on the chunking (found by fuzzing).
 */
START_TEST(test_byte_the_encoding_lacks_is_replaced_not_the_feed_lost)
{
	static const char doc[] =
	        "<?xml version='1.0' encoding='windows-1252'?>"
	        "<rss><channel><title>T \x81 \x93q\x94</title>"
	        "<item><title>a</title></item></channel></rss>";
	struct gz_parser_opts o = {0};
	struct gz_feed *f = parse_str(doc, NULL);
	char *a = dump(f);

	ck_assert(f->bozo);
	ck_assert_str_eq(f->bozo_message,
	                 "bytes that are not windows-1252 were read as U+FFFD");
	ck_assert_str_eq(f->title, "T \xef\xbf\xbd \xe2\x80\x9cq\xe2\x80\x9d");
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].title, "a");
	for (size_t k = 1; k <= 8; k++)
		assert_same_in_chunks("windows-1252", doc, strlen(doc), a, k,
		                      &o);
	free(a);
	gz_feed_free(f);
}
END_TEST

/* libxml2 took "utf--8" to ICU, which read it one way whole and another
 * in chunks (found by fuzzing); it is UTF-8, with UTF-8's repairs. */
START_TEST(test_encoding_spelled_loosely_is_read_as_that_encoding)
{
	static const char doc[] =
	        "<?xml version='1.0' encoding='utf--8'?>"
	        "<rss><channel><title>T \x99 x</title>"
	        "<item><title>a</title></item></channel></rss>";
	struct gz_parser_opts o = {0};
	struct gz_feed *f = parse_str(doc, NULL);
	char *a = dump(f);

	ck_assert(f->bozo);
	ck_assert_str_eq(f->bozo_message, "bytes that are not UTF-8 were read "
	                                  "as windows-1252");
	ck_assert_str_eq(f->title, "T \xe2\x84\xa2 x");
	ck_assert_uint_eq(f->n_entries, 1);
	for (size_t k = 1; k <= 8; k++)
		assert_same_in_chunks("utf--8", doc, strlen(doc), a, k, &o);
	free(a);
	gz_feed_free(f);
}
END_TEST

/* The HTTP charset wins, and a multi-byte character cut by a chunk
 * waits for its other bytes. */
START_TEST(test_charset_from_http_reads_multibyte_text_in_any_chunks)
{
	static const char doc[] =
	        "<?xml version='1.0' encoding='iso-8859-1'?>"
	        "<rss><channel><title>\x93\xfa\x96\x7b \x82\xa0</title>"
	        "<item><title>\x83\x4e</title></item></channel></rss>";
	struct gz_parser_opts o = {
	        .content_type = "application/xml; charset=Shift_JIS"};
	struct gz_feed *f = parse_str(doc, &o);
	char *a = dump(f);

	ck_assert(!f->bozo);
	/* 日本 あ, ク */
	ck_assert_str_eq(f->title, "\xe6\x97\xa5\xe6\x9c\xac \xe3\x81\x82");
	ck_assert_str_eq(f->entries[0].title, "\xe3\x82\xaf");
	for (size_t k = 1; k <= 8; k++)
		assert_same_in_chunks("Shift_JIS", doc, strlen(doc), a, k, &o);
	free(a);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_html_entities_decoded_and_unknown_kept_as_written)
{
	struct gz_feed *f = parse_file("broken.xml", NULL);

	ck_assert(f->bozo);
	ck_assert_ptr_nonnull(f->bozo_message);
	/* &nbsp; is U+00A0, &mdash; U+2014, the bare & of AT&T kept */
	ck_assert_str_eq(f->title, "Tom & Jerry \xc2\xa0\xe2\x80\x94 AT&T");
	ck_assert_str_eq(f->entries[0].title,
	                 "Caf\xc3\xa9 \xe2\x80\xa6 &unknownentity;");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_html_entities_in_attributes_are_decoded_whole)
{
	static const char doc[] =
	        "<feed xmlns='http://www.w3.org/2005/Atom'><entry>"
	        "<link href='http://x.example/caf&eacute;?a=1&amp;b=&mdash;'/>"
	        "</entry></feed>";
	struct gz_feed *f = parse_str(doc, NULL);

	ck_assert(f->bozo);
	ck_assert_str_eq(f->entries[0].link,
	                 "http://x.example/caf\xc3\xa9?a=1&b=\xe2\x80\x94");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_unescaped_ampersands_in_links_are_kept)
{
	struct gz_feed *f = parse_file("broken.xml", NULL);

	ck_assert_str_eq(f->link, "http://broken.example.com/?a=1&b=2");
	ck_assert_str_eq(f->entries[0].link,
	                 "http://broken.example.com/1?x=1&y=2");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_truncated_document_keeps_the_open_entry_and_its_text)
{
	struct gz_feed *f = parse_file("broken.xml", NULL);

	ck_assert(f->bozo);
	ck_assert_uint_eq(f->n_entries, 2);
	ck_assert_str_eq(f->entries[1].title, "Second is cut");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_truncated_document_drops_an_entry_cut_before_any_field)
{
	static const char doc[] =
	        "<rss version=\"2.0\"><channel><title>T</title>"
	        "<item><guid>a-1</guid><title>First</title>"
	        "</item><item><gui";
	struct gz_feed *f = NULL;

	ck_assert_int_eq(gz_parse_buffer(doc, sizeof(doc) - 1, NULL, &f), 0);
	ck_assert(f->bozo);
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].title, "First");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_declared_internal_entity_is_expanded_without_bozo)
{
	struct gz_feed *f = parse_file("entity-decl.xml", NULL);

	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "Example Site news");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_junk_before_prolog_is_skipped_and_bozo)
{
	struct gz_feed *f = parse_file("junk.xml", NULL);

	ck_assert(f->bozo);
	ck_assert(f->is_feed);
	ck_assert_str_eq(f->title, "After junk");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_html_page_is_not_a_feed)
{
	struct gz_feed *f = parse_file("captive.html", NULL);

	ck_assert(!f->is_feed);
	ck_assert_uint_eq(f->n_entries, 0);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_empty_and_text_only_documents_are_bozo)
{
	struct gz_feed *f = parse_str("", NULL);

	ck_assert(f->bozo);
	ck_assert(!f->is_feed);
	gz_feed_free(f);
	f = parse_str("no markup here at all", NULL);
	ck_assert(f->bozo);
	ck_assert(!f->is_feed);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_language_falls_back_to_xml_lang_then_http)
{
	struct gz_parser_opts o = {.content_language = "de"};
	struct gz_feed *f =
	        parse_str("<rss xml:lang='pt-BR'><channel/></rss>", &o);

	ck_assert_str_eq(f->language, "pt-BR");
	gz_feed_free(f);
	f = parse_str("<rss><channel/></rss>", &o);
	ck_assert_str_eq(f->language, "de");
	gz_feed_free(f);
}
END_TEST

static const char *const fixtures[] = {
        "rss20.xml",
        "rss091.xml",
        "rdf.xml",
        "atom10.xml",
        "atom03.xml",
        "latin1.xml",
        "utf16.xml",
        "utf8bom.xml",
        "cp1252.xml",
        "badbytes.xml",
        "broken.xml",
        "junk.xml",
        "captive.html",
        "entity-decl.xml",
        "billion.xml",
        "precedence.xml",
        "comment-gt.xml",
        "cp1252-in-utf8.xml",
        "doctype-subset.xml",
        "../jsonfeed/spec-1.1-simple.json",
        "../jsonfeed/spec-1.1-podcast.json",
        "../jsonfeed/spec-1.0-microblog.json",
        "../jsonfeed/news-1.1.json",
        "../jsonfeed/linkblog-1.0.json",
        NULL,
};

START_TEST(test_every_fixture_parses_the_same_in_chunks_of_1_7_4096)
{
	static const size_t sizes[] = {1, 7, 4096};
	struct gz_parser_opts o = {.base_url = "http://base.example/d/f.xml"};

	for (size_t i = 0; fixtures[i]; i++) {
		size_t len;
		char *buf = load(fixtures[i], &len);
		struct gz_feed *whole = parse_chunked(buf, len, 0, &o);
		char *a = dump(whole);

		for (size_t k = 0; k < 3; k++)
			assert_same_in_chunks(fixtures[i], buf, len, a,
			                      sizes[k], &o);
		free(a);
		gz_feed_free(whole);
		free(buf);
	}
}
END_TEST

/* A file of the conformance corpus read whole; NULL when unreadable. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/*
 * The Content-Type a corpus test's "Header:" line gives, as the harness
 * sets it (conform.py): the charset decides how the bytes are read.
 */
static void
corpus_content_type(const char *path, const char *buf, char *out, size_t n)
{
	const char *h = strstr(buf, "Header:"), *v, *eol;

	out[0] = '\0';
	for (; h; h = strstr(h + 7, "Header:")) {
		v = h + 7;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strncasecmp(v, "Content-type:", 13) != 0)
			continue;
		v += 13;
		while (*v == ' ' || *v == '\t')
			v++;
		eol = v + strcspn(v, "\r\n");
		if ((size_t)(eol - v) >= n)
			return;
		memcpy(out, v, (size_t)(eol - v));
		out[eol - v] = '\0';
		return;
	}
	/* the harness serves its http tests as text/xml by default */
	if (strstr(path, "http"))
		snprintf(out, n, "text/xml");
}

/* Parse buf in chunks of random sizes 1..max from seed (an LCG). */
static struct gz_feed *
parse_random_chunks(const char *buf, size_t len, size_t max, unsigned seed,
                    const struct gz_parser_opts *opts)
{
	struct gz_parser *p = gz_parser_new(opts);
	struct gz_feed *f = NULL;

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0, k; i < len; i += k) {
		seed = seed * 1103515245u + 12345u;
		k = 1 + (seed >> 8) % max;
		if (k > len - i)
			k = len - i;
		if (gz_parser_push(p, buf + i, k) < 0)
			break;
	}
	ck_assert_int_eq(gz_parser_finish(p, &f), 0);
	gz_parser_free(p);
	ck_assert_ptr_nonnull(f);
	return f;
}

/* What the corpus walk counts. */
static size_t corpus_files;

/* nftw: one corpus document, whole, 1 byte at a time and in random
 * chunks, must give the same feed each time. */
static int
corpus_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	static const size_t max[] = {2, 16, 512, 8192};
	struct gz_parser_opts o = {.base_url = "http://127.0.0.1:8097/t.xml",
	                           .content_language = "en"};
	char ct[256];
	struct gz_feed *whole, *part;
	size_t len;
	char *buf, *a, *b;

	(void)st;
	(void)ftw;
	if (type != FTW_F || strstr(path, ".xml") == NULL)
		return 0;
	buf = slurp(path, &len);
	ck_assert_msg(buf != NULL, "cannot read %s", path);
	corpus_content_type(path, buf, ct, sizeof(ct));
	o.content_type = ct[0] ? ct : NULL;
	whole = parse_chunked(buf, len, 0, &o);
	a = dump(whole);
	gz_feed_free(whole);
	part = parse_chunked(buf, len, 1, &o);
	b = dump(part);
	gz_feed_free(part);
	ck_assert_msg(strcmp(a, b) == 0,
	              "%s 1 byte at a time differs:\n%s\n--\n%s", path, a, b);
	free(b);
	for (size_t k = 0; k < sizeof(max) / sizeof(max[0]); k++) {
		unsigned seed = (unsigned)(corpus_files * 4 + k) + 1;

		part = parse_random_chunks(buf, len, max[k], seed, &o);
		b = dump(part);
		gz_feed_free(part);
		ck_assert_msg(strcmp(a, b) == 0,
		              "%s in random chunks of 1..%zu (seed %u) differs:"
		              "\n%s\n--\n%s",
		              path, max[k], seed, a, b);
		free(b);
	}
	free(a);
	free(buf);
	corpus_files++;
	return 0;
}

/*
 * Every document of the conformance corpus (tests/corpus, a copy of the
 * shared kit's), well-formed or not, parses the same whole, 1 byte at a
 * time and in random chunks: what a feed says cannot depend on how the
 * network cut it.
 */
START_TEST(test_every_corpus_document_parses_the_same_in_any_chunks)
{
	const char *data = getenv("GAZETTE_TESTDATA");
	char dir[4096];

	/* beside tests/data, as the shared kit is beside the source tree */
	snprintf(dir, sizeof(dir), "%s/../corpus/feedparser",
	         data ? data : "tests/data");
	corpus_files = 0;
	ck_assert_int_eq(nftw(dir, corpus_one, 16, FTW_PHYS), 0);
	ck_assert_uint_ge(corpus_files, 2000);
}
END_TEST

/* A JSON Feed of tests/data/jsonfeed, parsed whole with base and ct. */
static struct gz_feed *
parse_json_file(const char *name, const char *base, const char *ct)
{
	struct gz_parser_opts o = {.base_url = base, .content_type = ct};
	char path[256];
	size_t len;
	char *buf;
	struct gz_feed *f;

	snprintf(path, sizeof(path), "../jsonfeed/%s", name);
	buf = load(path, &len);
	f = parse_chunked(buf, len, 0, &o);
	free(buf);
	return f;
}

/* The JSON Feed 1.1 spec's first example: two items, in order. */
START_TEST(test_json_feed_spec_example_gives_its_items_in_order)
{
	struct gz_feed *f = parse_json_file("spec-1.1-simple.json", NULL, NULL);

	ck_assert(f->is_feed);
	ck_assert(!f->bozo);
	ck_assert_str_eq(f->title, "My Example Feed");
	ck_assert_str_eq(f->link, "https://example.org/");
	ck_assert_str_eq(f->id, "https://example.org/feed.json");
	ck_assert_uint_eq(f->n_entries, 2);
	ck_assert_str_eq(f->entries[0].id, "2");
	ck_assert_str_eq(f->entries[0].link, "https://example.org/second-item");
	ck_assert_str_eq(f->entries[0].content, "This is a second item.");
	ck_assert_str_eq(f->entries[0].summary, "This is a second item.");
	ck_assert_ptr_null(f->entries[0].title);
	ck_assert_str_eq(f->entries[1].id, "1");
	ck_assert_str_eq(f->entries[1].content, "<p>Hello, world!</p>");
	ck_assert_int_eq(f->entries[1].published, GZ_NO_DATE);
	gz_feed_free(f);
}
END_TEST

/* The spec's podcast: content_html over content_text, an attachment. */
START_TEST(test_json_feed_attachment_is_an_enclosure_and_html_wins)
{
	struct gz_feed *f =
	        parse_json_file("spec-1.1-podcast.json", NULL, NULL);
	const struct gz_entry *e;

	ck_assert(f->is_feed && !f->bozo);
	ck_assert_uint_eq(f->n_entries, 1);
	e = &f->entries[0];
	ck_assert_str_eq(e->title, "Special #1 - Chris Parrish");
	ck_assert_str_eq(e->summary, "Brent interviews Chris Parrish, co-host "
	                             "of The Record and one-half of Aged & "
	                             "Distilled.");
	ck_assert(
	        strstr(e->content, "<a href=\"http://adobe.com/\">Adobe</a>"));
	ck_assert_int_eq(e->published, when("2014-05-09T21:04:00Z"));
	ck_assert_uint_eq(e->n_enclosures, 1);
	ck_assert_str_eq(e->enclosures[0].url,
	                 "http://therecord.co/downloads/"
	                 "The-Record-sp1e1-ChrisParrish.m4a");
	ck_assert_str_eq(e->enclosures[0].type, "audio/x-m4a");
	ck_assert_str_eq(e->enclosures[0].length, "89970236");
	ck_assert_uint_eq(e->n_links, 2);
	ck_assert_str_eq(e->links[1].rel, "enclosure");
	gz_feed_free(f);
}
END_TEST

/* JSON Feed 1.0: the feed's "author" is the author of its items. */
START_TEST(test_json_feed_1_0_author_is_the_items_author)
{
	struct gz_feed *f =
	        parse_json_file("spec-1.0-microblog.json", NULL, NULL);

	ck_assert(f->is_feed && !f->bozo);
	ck_assert_str_eq(f->author, "Brent Simmons");
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].author, "Brent Simmons");
	ck_assert_str_eq(f->entries[0].content,
	                 "Cats are neat. \n\nhttps://example.org/cats");
	ck_assert_int_eq(f->entries[0].published, when("2016-02-09T21:22:00Z"));
	gz_feed_free(f);
}
END_TEST

/*
 * A news site's feed: relative URLs resolved against the document's,
 * 1.1 "authors" (mailto: as an e-mail address), tags that are not strings
 * or are empty skipped, dates with offsets and fractions, a numeric id,
 * external_url as the link when there is no url, '_' extensions unread.
 */
START_TEST(test_json_feed_news_site_maps_every_field)
{
	struct gz_feed *f = parse_json_file(
	        "news-1.1.json", "https://daily.example/world/feed.json", NULL);
	const struct gz_entry *e;

	ck_assert(f->is_feed && !f->bozo);
	ck_assert_str_eq(f->link, "https://daily.example/world/");
	ck_assert_str_eq(f->id, "https://daily.example/world/feed.json");
	ck_assert_str_eq(f->subtitle, "News from The Daily Example");
	ck_assert_str_eq(f->image, "https://daily.example/static/icon-512.png");
	ck_assert_str_eq(f->language, "en-GB");
	ck_assert_str_eq(f->author, "The Daily Example newsroom");
	/* the extension's own "items" are not the feed's */
	ck_assert_uint_eq(f->n_entries, 3);
	e = &f->entries[0];
	ck_assert_str_eq(e->link,
	                 "https://daily.example/world/2024/05/09/harbour");
	ck_assert_str_eq(e->author, "Ana Lima (ana@daily.example)");
	ck_assert_str_eq(
	        e->summary,
	        "Ships are back in the harbour & the ferry runs again.");
	ck_assert_str_eq(
	        e->content,
	        "<p>Ships are <b>back</b> in the harbour.<img "
	        "src=\"https://daily.example/img/harbour.jpg\" /></p>");
	ck_assert_int_eq(e->published, when("2024-05-09T05:30:00Z"));
	ck_assert_int_eq(e->updated, when("2024-05-09T08:15:30Z"));
	ck_assert_uint_eq(e->n_categories, 3);
	ck_assert_str_eq(e->categories[0], "world");
	ck_assert_str_eq(e->categories[2], "ports");
	e = &f->entries[1];
	ck_assert_str_eq(e->id, "1002");
	ck_assert_str_eq(e->author, "The Daily Example newsroom");
	/* the attachment without a url is no enclosure */
	ck_assert_uint_eq(e->n_enclosures, 1);
	ck_assert_str_eq(e->enclosures[0].url,
	                 "https://daily.example/audio/briefing-0508.mp3");
	ck_assert_str_eq(e->enclosures[0].length, "1234567");
	e = &f->entries[2];
	ck_assert_str_eq(e->link, "https://elsewhere.example/report");
	ck_assert_str_eq(e->links[0].rel, "related");
	gz_feed_free(f);
}
END_TEST

/* JSON is told by its first byte (after a BOM and space), or by the
 * Content-Type; XML served as JSON is still XML. */
START_TEST(test_json_feed_is_told_by_its_first_byte_or_content_type)
{
	const char *doc = "\xef\xbb\xbf \n\t{\"version\": "
	                  "\"https://jsonfeed.org/version/1.1\", \"items\": "
	                  "[{\"id\": \"a\"}]}";
	struct gz_parser_opts json = {.content_type = "application/feed+json"};
	struct gz_parser_opts none = {0};
	struct gz_feed *f;
	struct gz_parser *p;

	for (size_t k = 0; k <= 4; k++) {
		f = parse_chunked(doc, strlen(doc), k, &none);
		ck_assert(f->is_feed && !f->bozo);
		ck_assert_uint_eq(f->n_entries, 1);
		ck_assert_str_eq(f->entries[0].id, "a");
		gz_feed_free(f);
	}
	f = parse_str("<rss><channel><title>x</title></channel></rss>", &json);
	ck_assert(f->is_feed);
	ck_assert_str_eq(f->title, "x");
	gz_feed_free(f);
	/* served as JSON: an empty or non-JSON body is malformed JSON */
	p = gz_parser_new(&json);
	ck_assert_int_eq(gz_parser_push(p, "  ", 2), 0);
	ck_assert_int_eq(gz_parser_finish(p, &f), -EBADMSG);
	gz_parser_free(p);
	p = gz_parser_new(&json);
	ck_assert_int_eq(gz_parser_push(p, "Hello", 5), 0);
	ck_assert_int_eq(gz_parser_finish(p, &f), -EBADMSG);
	gz_parser_free(p);
}
END_TEST

/* The callback's entries: each item, in order, at the end. */
static int
count_entry(struct gz_entry *e, void *arg)
{
	(*(size_t *)arg)++;
	gz_entry_clear(e);
	return 0;
}

/* Malformed JSON fails finish with words, and no entry is handed over. */
START_TEST(test_malformed_json_fails_finish_and_hands_over_nothing)
{
	static const char *const names[] = {"truncated.json",
	                                    "trailing-comma.json"};

	for (size_t i = 0; i < 2; i++) {
		size_t len, n = 0;
		char path[64], *buf;
		struct gz_parser_opts o = {.on_entry = count_entry, .arg = &n};
		struct gz_parser *p = gz_parser_new(&o);
		struct gz_feed *f = NULL;

		snprintf(path, sizeof(path), "../jsonfeed/%s", names[i]);
		buf = load(path, &len);
		for (size_t k = 0; k < len; k += 7)
			ck_assert_int_eq(
			        gz_parser_push(p, buf + k,
			                       len - k < 7 ? len - k : 7),
			        0);
		ck_assert_int_eq(gz_parser_finish(p, &f), -EBADMSG);
		ck_assert_ptr_null(f);
		ck_assert_uint_eq(n, 0);
		ck_assert_ptr_nonnull(gz_parser_error(p));
		ck_assert(strncmp(gz_parser_error(p), "not valid JSON", 14) ==
		          0);
		ck_assert_int_eq(gz_parse_buffer(buf, len, NULL, &f), -EBADMSG);
		gz_parser_free(p);
		free(buf);
	}
}
END_TEST

/* JSON that is no JSON Feed is no feed (the daemon says so), no error. */
START_TEST(test_json_without_version_is_not_a_feed)
{
	struct gz_parser_opts o = {0};
	struct gz_feed *f = parse_str("{\"items\": [{\"id\": \"1\"}]}", &o);

	ck_assert(!f->is_feed);
	ck_assert(f->bozo);
	ck_assert_uint_eq(f->n_entries, 0);
	ck_assert_str_eq(f->bozo_message,
	                 "JSON, but not a JSON Feed: no version");
	gz_feed_free(f);
	f = parse_str("[1, 2]", &o);
	ck_assert(!f->is_feed);
	gz_feed_free(f);
}
END_TEST

/* A JSON Feed's limits: entries counted, fields cut, as for XML. */
START_TEST(test_json_feed_limits_entries_and_fields)
{
	struct gz_parser_opts o = {.max_entries = 1, .max_field = 8};
	struct gz_feed *f;
	size_t len;
	char *buf = load("../jsonfeed/news-1.1.json", &len);

	f = parse_chunked(buf, len, 0, &o);
	ck_assert(f->bozo);
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].title, "Harbour ");
	ck_assert_str_eq(f->bozo_message,
	                 "more than 1 entries: the rest is ignored");
	gz_feed_free(f);
	free(buf);
}
END_TEST

struct seen {
	size_t n;
	char titles[8][32];
	size_t stop_after;
};

static int
collect(struct gz_entry *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->titles[s->n], sizeof(s->titles[0]), "%s",
		         e->title ? e->title : "");
	s->n++;
	gz_entry_clear(e);
	return s->stop_after && s->n >= s->stop_after;
}

START_TEST(test_callback_gets_entries_in_order_and_feed_keeps_none)
{
	struct seen s = {0};
	struct gz_parser_opts o = {.on_entry = collect, .arg = &s};
	struct gz_feed *f = parse_file("rdf.xml", NULL);

	gz_feed_free(f);
	f = parse_str(
	        "<rss><channel><item><title>a</title></item>"
	        "<item><title>b</title></item><title>T</title></channel></rss>",
	        &o);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.titles[0], "a");
	ck_assert_str_eq(s.titles[1], "b");
	ck_assert_uint_eq(f->n_entries, 0);
	ck_assert_str_eq(f->title, "T");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_callback_can_stop_the_parse)
{
	struct seen s = {.stop_after = 1};
	struct gz_parser_opts o = {.on_entry = collect, .arg = &s};
	static char doc[128 * 1024] = "<rss><channel>";
	struct gz_parser *p = gz_parser_new(&o);

	/* more than a block (XML_BLOCK): parsed, and stopped, in the push */
	for (int i = 0; i < 5000; i++)
		strcat(doc, "<item/><item/>");
	strcat(doc, "</channel></rss>");
	ck_assert_int_eq(gz_parser_push(p, doc, strlen(doc)), -ECANCELED);
	ck_assert_uint_eq(s.n, 1);
	gz_parser_free(p);
}
END_TEST

START_TEST(test_entry_cap_stops_with_e2big_and_bozo)
{
	struct gz_parser_opts o = {.max_entries = 3};
	struct gz_parser *p = gz_parser_new(&o);
	struct gz_feed *f = NULL;
	static char doc[128 * 1024] = "<rss><channel>";
	int r = 0;

	/* more than a block (XML_BLOCK): parsed, and stopped, in the push */
	for (int i = 0; i < 3000; i++)
		strcat(doc, "<item><title>x</title></item>");
	strcat(doc, "</channel></rss>");
	r = gz_parser_push(p, doc, strlen(doc));
	ck_assert_int_eq(r, -E2BIG);
	ck_assert_int_eq(gz_parser_finish(p, &f), 0);
	ck_assert_uint_eq(f->n_entries, 3);
	ck_assert(f->bozo);
	ck_assert_ptr_nonnull(strstr(f->bozo_message, "entries"));
	gz_feed_free(f);
	gz_parser_free(p);
}
END_TEST

START_TEST(test_field_cap_truncates_long_text_and_bozo)
{
	struct gz_parser_opts o = {.max_field = 100};
	size_t n = 100000;
	char *doc = malloc(n + 100);
	struct gz_feed *f;

	strcpy(doc, "<rss><channel><title>");
	memset(doc + strlen(doc), 'x', n);
	strcpy(doc + 21 + n, "</title></channel></rss>");
	f = parse_str(doc, &o);
	ck_assert_uint_le(strlen(f->title), 100);
	ck_assert_uint_ge(strlen(f->title), 90);
	ck_assert(f->bozo);
	gz_feed_free(f);
	free(doc);
}
END_TEST

START_TEST(test_billion_laughs_is_bounded_and_bozo)
{
	struct gz_feed *f = parse_file("billion.xml", NULL);

	ck_assert(f->bozo);
	ck_assert_ptr_nonnull(strstr(f->bozo_message, "not expanded"));
	ck_assert_uint_lt(strlen(f->title), 100);
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_uint_lt(strlen(f->entries[0].title), 100);
	gz_feed_free(f);
}
END_TEST

START_TEST(test_external_entity_file_is_never_read)
{
	char path[] = "/tmp/gazette-xxe-XXXXXX", doc[1024];
	const char *secret = "SECRET-7f3a9c-never-in-output";
	int fd = mkstemp(path);
	struct gz_feed *f;
	char *d;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, secret, strlen(secret)),
	                 (int)strlen(secret));
	close(fd);
	snprintf(doc, sizeof(doc),
	         "<?xml version='1.0'?>\n<!DOCTYPE rss [\n"
	         "<!ENTITY xxe SYSTEM 'file://%s'>\n"
	         "<!ENTITY %% pe SYSTEM 'file://%s'>\n%%pe;\n]>\n"
	         "<rss><channel><title>a&xxe;b</title><item>"
	         "<description>&xxe;</description></item></channel></rss>",
	         path, path);
	f = parse_str(doc, NULL);
	d = dump(f);
	ck_assert_ptr_null(strstr(d, "SECRET"));
	ck_assert(f->bozo);
	ck_assert_str_eq(f->title, "ab");
	free(d);
	gz_feed_free(f);
	unlink(path);
}
END_TEST

START_TEST(test_deep_nesting_stops_with_bozo)
{
	size_t depth = 100000;
	char *doc = malloc(depth * 7 + 200), *p = doc;
	struct gz_feed *f;

	p += sprintf(p, "<rss><channel><item><title>before</title></item>");
	for (size_t i = 0; i < depth; i++)
		p += sprintf(p, "<x>");
	for (size_t i = 0; i < depth; i++)
		p += sprintf(p, "</x>");
	sprintf(p, "</channel></rss>");
	f = parse_str(doc, NULL);
	ck_assert(f->bozo);
	ck_assert_ptr_nonnull(strstr(f->bozo_message, "nested"));
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].title, "before");
	gz_feed_free(f);
	free(doc);
}
END_TEST

START_TEST(test_parse_buffer_collects_entries)
{
	const char *doc =
	        "<feed xmlns='http://www.w3.org/2005/Atom'><entry><id>1</id></entry></feed>";
	struct gz_feed *f = NULL;

	ck_assert_int_eq(gz_parse_buffer(doc, strlen(doc), NULL, &f), 0);
	ck_assert_uint_eq(f->n_entries, 1);
	ck_assert_str_eq(f->entries[0].id, "1");
	gz_feed_free(f);
}
END_TEST

START_TEST(test_free_accepts_null_and_unfinished_parser)
{
	struct gz_parser *p = gz_parser_new(NULL);

	gz_feed_free(NULL);
	gz_entry_clear(NULL);
	gz_parser_free(NULL);
	ck_assert_int_eq(gz_parser_push(p, "<rss><channel><item><title>x", 28),
	                 0);
	gz_parser_free(p);
}
END_TEST

static Suite *
parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("formats");
	TCase *tb = tcase_create("broken");
	TCase *th = tcase_create("hostile");
	TCase *tk = tcase_create("corpus");
	TCase *tj = tcase_create("jsonfeed");

	tcase_add_test(tc,
	               test_rss20_channel_fields_come_from_channel_not_image);
	tcase_add_test(tc, test_rss20_item_fields_enclosure_and_categories);
	tcase_add_test(tc, test_rss20_dc_dcterms_media_and_itunes_keywords);
	tcase_add_test(tc, test_rss091_with_doctype_and_latin1_declaration);
	tcase_add_test(tc, test_rdf_item_about_is_entry_id_and_dc_fields_map);
	tcase_add_test(tc, test_atom10_feed_fields_and_author_name_email);
	tcase_add_test(tc, test_atom10_entry_links_xml_base_and_source_ignored);
	tcase_add_test(
	        tc,
	        test_atom10_html_content_is_summary_when_none_and_contributor_ignored);
	tcase_add_test(tc,
	               test_atom03_tagline_modified_issued_and_escaped_content);
	tcase_add_test(
	        tc, test_later_itunes_subtitle_and_summary_replace_description);
	tcase_add_test(tc, test_relative_links_resolve_against_document_url);
	tcase_add_test(tc,
	               test_relative_links_without_any_base_stay_as_written);
	tcase_add_test(tc, test_nested_xml_base_applies_to_its_element);
	tcase_add_test(tc, test_unsafe_link_scheme_becomes_empty);
	tcase_add_test(tb, test_repeated_xml_base_and_lang_keep_the_last);
	tcase_add_test(tc, test_guid_not_permalink_is_not_the_link);
	tcase_add_test(tc, test_atom_link_inside_rss_sets_only_alternate);
	tcase_add_test(
	        tc,
	        test_cdf_attribute_given_twice_in_two_cases_keeps_the_first);
	tcase_add_test(tc,
	               test_empty_element_gives_empty_string_absent_gives_null);
	tcase_add_test(tc, test_cdata_is_unwrapped_and_whitespace_trimmed);
	tcase_add_test(tc, test_latin1_declared_document_is_decoded);
	tcase_add_test(tc, test_utf16_with_bom_is_decoded);
	tcase_add_test(tc, test_utf8_bom_is_skipped);
	tcase_add_test(tc, test_http_charset_overrides_xml_declaration);
	tcase_add_test(tc, test_language_falls_back_to_xml_lang_then_http);
	tcase_add_test(
	        tc, test_every_fixture_parses_the_same_in_chunks_of_1_7_4096);
	tcase_add_test(
	        tk, test_every_corpus_document_parses_the_same_in_any_chunks);
	tcase_add_test(tc,
	               test_callback_gets_entries_in_order_and_feed_keeps_none);
	tcase_add_test(tc, test_callback_can_stop_the_parse);
	tcase_add_test(tc, test_parse_buffer_collects_entries);
	tcase_add_test(tc, test_free_accepts_null_and_unfinished_parser);
	suite_add_tcase(s, tc);

	tcase_add_test(
	        tb,
	        test_text_content_type_without_charset_and_non_ascii_is_bozo);
	tcase_add_test(
	        tb, test_invalid_utf8_bytes_are_read_as_windows_1252_and_bozo);
	tcase_add_test(
	        tb, test_windows_1252_bytes_in_utf8_document_are_read_as_such);
	tcase_add_test(
	        tb,
	        test_bad_utf8_that_windows_1252_lacks_reads_the_text_as_latin2);
	tcase_add_test(tc, test_comment_opening_with_gt_is_a_comment);
	tcase_add_test(
	        tc, test_byte_the_encoding_lacks_is_replaced_not_the_feed_lost);
	tcase_add_test(
	        tc, test_charset_from_http_reads_multibyte_text_in_any_chunks);
	tcase_add_test(tc,
	               test_encoding_spelled_loosely_is_read_as_that_encoding);
	tcase_add_test(tc,
	               test_doctype_subset_parses_the_same_in_every_chunk_size);
	tcase_add_test(
	        tb,
	        test_cdata_left_open_or_with_a_bad_byte_reads_the_same_in_chunks);
	tcase_add_test(
	        tb,
	        test_last_text_byte_of_an_unclosed_document_in_its_own_push);
	tcase_add_test(
	        tb, test_bad_unit_in_utf32_or_utf16_is_replaced_in_any_chunks);
	tcase_add_test(tc,
	               test_cdata_text_keeps_markup_brackets_and_ampersands);
	tcase_add_test(tb,
	               test_html_entities_decoded_and_unknown_kept_as_written);
	tcase_add_test(tb, test_unescaped_ampersands_in_links_are_kept);
	tcase_add_test(tb, test_html_entities_in_attributes_are_decoded_whole);
	tcase_add_test(tc, test_html_attribute_references_are_kept_as_written);
	tcase_add_test(tc, test_inline_svg_and_mathml_declare_their_namespaces);
	tcase_add_test(
	        tb, test_truncated_document_keeps_the_open_entry_and_its_text);
	tcase_add_test(
	        tb,
	        test_truncated_document_drops_an_entry_cut_before_any_field);
	tcase_add_test(tb,
	               test_declared_internal_entity_is_expanded_without_bozo);
	tcase_add_test(tb, test_junk_before_prolog_is_skipped_and_bozo);
	tcase_add_test(tb, test_html_page_is_not_a_feed);
	tcase_add_test(tb, test_empty_and_text_only_documents_are_bozo);
	suite_add_tcase(s, tb);

	tcase_add_test(th, test_entry_cap_stops_with_e2big_and_bozo);
	tcase_add_test(th, test_field_cap_truncates_long_text_and_bozo);
	tcase_add_test(th, test_billion_laughs_is_bounded_and_bozo);
	tcase_add_test(th, test_external_entity_file_is_never_read);
	tcase_add_test(th, test_deep_nesting_stops_with_bozo);
	suite_add_tcase(s, th);
	tcase_add_test(tj,
	               test_json_feed_spec_example_gives_its_items_in_order);
	tcase_add_test(tj,
	               test_json_feed_attachment_is_an_enclosure_and_html_wins);
	tcase_add_test(tj, test_json_feed_1_0_author_is_the_items_author);
	tcase_add_test(tj, test_json_feed_news_site_maps_every_field);
	tcase_add_test(
	        tj, test_json_feed_is_told_by_its_first_byte_or_content_type);
	tcase_add_test(tj,
	               test_malformed_json_fails_finish_and_hands_over_nothing);
	tcase_add_test(tj, test_json_without_version_is_not_a_feed);
	tcase_add_test(tj, test_json_feed_limits_entries_and_fields);
	suite_add_tcase(s, tj);
	/* 2,100 documents, each parsed six ways */
	tcase_set_timeout(tk, 600);
	suite_add_tcase(s, tk);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
