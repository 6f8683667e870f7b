/*
 * The parser's JSON Feed 1.0 and 1.1 input (https://jsonfeed.org/), by
 * json-c. The body is kept as it arrives, up to MAX_JSON bytes, and
 * parsed at the end: a JSON document is not a stream of elements, and a
 * feed that turns out malformed must leave nothing half-delivered.
 *
 * Mapping onto the feed model: title, home_page_url (link), description
 * (subtitle), feed_url (id: the spec makes it the feed's identifier),
 * language, icon (else favicon) as image, authors (1.1) or author (1.0);
 * per item: id, url (link; else external_url), title, content_html /
 * content_text (content), summary (else the content, as for RSS and
 * Atom), date_published / date_modified (RFC 3339), authors or author
 * (else the feed's, as 1.1 says), tags (categories) and attachments
 * (enclosures, and links of rel "enclosure"). Keys starting with '_'
 * are extensions and are never read; neither is anything else the model
 * has no place for.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "gazette/date.h"
#include "gazette/url.h"
#include "parse-html.h"
#include "parse-internal.h"

/* Deepest nesting json-c follows (a JSON Feed needs 5; extensions more). */
#define JSON_DEPTH 64

/* The parse failed: why, for gz_parser_error(). */
static int json_fail(struct gz_parser *p, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Record why finish fails (the first reason); returns err. */
static int
json_fail(struct gz_parser *p, int err, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	if (p->errmsg == NULL) {
		va_start(ap, fmt);
		if (vasprintf(&m, fmt, ap) < 0)
			m = NULL;
		va_end(ap);
		p->errmsg = m;
	}
	return err;
}

/* Keep the next len bytes of a JSON body. */
int
parse_json_push(struct gz_parser *p, const char *buf, size_t len)
{
	if (p->json.len + len > MAX_JSON) {
		parse_bozo(p, BZ_LIMIT, "a JSON Feed larger than %d bytes",
		           MAX_JSON);
		json_fail(p, -EFBIG, "a JSON Feed larger than %d bytes",
		          MAX_JSON);
		p->error = -EFBIG;
		return -EFBIG;
	}
	if (!parse_buf_add(&p->json, buf, len)) {
		p->error = -ENOMEM;
		return -ENOMEM;
	}
	return 0;
}

/* The member key of o when it is a string (a number as its text). */
static const char *
get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	switch (json_object_get_type(v)) {
	case json_type_string:
	case json_type_int:
	case json_type_double:
		return json_object_get_string(v);
	default:
		return NULL;
	}
}

/* The member key of o when it is of type t, else NULL. */
static struct json_object *
get_typed(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* A field's text as the model keeps it: valid UTF-8, trimmed, cut at the
 * field limit; NULL for NULL (or out of memory, then p->error). */
static char *
text_of(struct gz_parser *p, const char *s)
{
	size_t a = 0, b;
	char *t;

	if (s == NULL)
		return NULL;
	b = strlen(s);
	while (a < b && strchr(" \t\r\n", s[a]))
		a++;
	while (b > a && strchr(" \t\r\n", s[b - 1]))
		b--;
	if (b - a > p->opts.max_field) {
		b = a + p->opts.max_field;
		p->field_truncated = true;
	}
	t = strndup(s + a, b - a);
	if (t)
		t = parse_html_fix_text(t);
	if (t == NULL)
		p->error = -ENOMEM;
	return t;
}

/* A URL of the document resolved against the document's own, or NULL. */
static char *
url_of(struct gz_parser *p, const char *s)
{
	char *t = text_of(p, s), *r = NULL;

	if (t == NULL)
		return NULL;
	if (url_resolve(p->base_url, t, &r) < 0)
		r = NULL;
	free(t);
	return r;
}

/* HTML as feedparser gives it (normalized, its links resolved). */
static char *
html_of(struct gz_parser *p, const char *s)
{
	char *t = text_of(p, s), *r = NULL;

	if (t == NULL)
		return NULL;
	if (parse_html_normalize(t, p->base_url, p->opts.max_field, &r) < 0) {
		p->error = -ENOMEM;
		r = NULL;
	}
	free(t);
	return r;
}

/* A date of the document, or GZ_NO_DATE. */
static int64_t
date_of(struct json_object *o, const char *key)
{
	const char *s = get_str(o, key);
	int64_t t;

	if (s == NULL || date_parse(s, &t) < 0)
		return GZ_NO_DATE;
	return t;
}

/*
 * The author of an object: the first of 1.1's "authors" with a name or
 * a URL, else 1.0's "author"; its name, else its URL (an e-mail address
 * without "mailto:"), as "name (email)" when both are given that way.
 */
static char *
author_of(struct gz_parser *p, struct json_object *o)
{
	struct json_object *list = get_typed(o, "authors", json_type_array);
	struct json_object *a = NULL;
	const char *name, *url;
	char *r = NULL, *t;

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		if (json_object_is_type(c, json_type_object) &&
		    (get_str(c, "name") || get_str(c, "url"))) {
			a = c;
			break;
		}
	}
	if (a == NULL)
		a = get_typed(o, "author", json_type_object);
	if (a == NULL)
		return NULL;
	name = get_str(a, "name");
	url = get_str(a, "url");
	if (url && strncmp(url, "mailto:", 7) == 0) {
		int n = name ? asprintf(&r, "%s (%s)", name, url + 7)
		             : asprintf(&r, "%s", url + 7);
		if (n < 0) {
			p->error = -ENOMEM;
			return NULL;
		}
		name = r;
	} else if (name == NULL) {
		name = url;
	}
	t = text_of(p, name);
	free(r);
	return t;
}

/* The attachments of an item: enclosures, and links of rel "enclosure". */
static void
json_attachments(struct gz_parser *p, struct json_object *it)
{
	struct json_object *list =
	        get_typed(it, "attachments", json_type_array);

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *a = json_object_array_get_idx(list, i);
		char *url, *type, *len;

		if (!json_object_is_type(a, json_type_object))
			continue;
		url = url_of(p, get_str(a, "url"));
		if (url == NULL)
			continue;
		type = text_of(p, get_str(a, "mime_type"));
		len = text_of(p, get_str(a, "size_in_bytes"));
		parse_map_add_link(p, strdup(url), "enclosure", type);
		parse_map_add_enclosure(p, url, type, len);
	}
}

/* One item of "items", handed over as an entry. */
static void
json_item(struct gz_parser *p, struct json_object *it, const char *feed_author)
{
	struct json_object *tags = get_typed(it, "tags", json_type_array);
	const char *html = get_str(it, "content_html");
	char *link, *ext;
	struct gz_entry *e;

	if (!json_object_is_type(it, json_type_object)) {
		parse_bozo(p, BZ_XML, "an item that is not a JSON object");
		return;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		p->error = -ENOMEM;
		return;
	}
	e->published = date_of(it, "date_published");
	e->updated = date_of(it, "date_modified");
	p->entry = e;
	e->id = text_of(p, get_str(it, "id"));
	e->title = text_of(p, get_str(it, "title"));
	link = url_of(p, get_str(it, "url"));
	ext = url_of(p, get_str(it, "external_url"));
	if (link) {
		e->link = strdup(link);
		parse_map_add_link(p, link, "alternate", "text/html");
	}
	if (ext) {
		if (e->link == NULL)
			e->link = strdup(ext);
		parse_map_add_link(p, ext, "related", NULL);
	}
	e->content = html ? html_of(p, html)
	                  : text_of(p, get_str(it, "content_text"));
	e->summary = text_of(p, get_str(it, "summary"));
	if (e->summary == NULL && e->content)
		e->summary = strdup(e->content);
	e->author = author_of(p, it);
	if (e->author == NULL && feed_author)
		e->author = strdup(feed_author);
	for (size_t i = 0; tags && i < json_object_array_length(tags); i++) {
		struct json_object *t = json_object_array_get_idx(tags, i);
		char *s = json_object_is_type(t, json_type_string)
		                  ? text_of(p, json_object_get_string(t))
		                  : NULL;
		if (s && s[0])
			parse_map_add_category(p, s);
		else
			free(s);
	}
	json_attachments(p, it);
	parse_map_entry_end(p);
}

/* The feed's own fields. */
static void
json_feed_fields(struct gz_parser *p, struct json_object *root)
{
	struct gz_feed *f = p->feed;

	f->title = text_of(p, get_str(root, "title"));
	f->link = url_of(p, get_str(root, "home_page_url"));
	f->subtitle = text_of(p, get_str(root, "description"));
	f->id = url_of(p, get_str(root, "feed_url"));
	f->language = text_of(p, get_str(root, "language"));
	f->image = url_of(p, get_str(root, "icon"));
	if (f->image == NULL)
		f->image = url_of(p, get_str(root, "favicon"));
	f->author = author_of(p, root);
}

/* Parse the body kept; 0, or a negative errno with p->errmsg set. */
int
parse_json_finish(struct gz_parser *p)
{
	struct json_tokener *tok;
	struct json_object *root, *items;
	enum json_tokener_error jerr;
	const char *version;
	size_t end, skip = 0;

	if (p->error)
		return p->error;
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok == NULL)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	/* a UTF-8 BOM is no part of the JSON (RFC 8259 lets it be ignored) */
	if (p->json.len >= 3 && !memcmp(p->json.s, "\xef\xbb\xbf", 3))
		skip = 3;
	root = json_tokener_parse_ex(tok, p->json.s ? p->json.s + skip : "",
	                             (int)(p->json.len - skip));
	jerr = json_tokener_get_error(tok);
	end = skip + json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (root == NULL && jerr == json_tokener_continue)
		return json_fail(p, -EBADMSG,
		                 "not valid JSON: the document ends inside "
		                 "its value (%zu bytes)",
		                 p->json.len);
	if (root == NULL || jerr != json_tokener_success) {
		json_object_put(root);
		return json_fail(p, -EBADMSG, "not valid JSON: %s at byte %zu",
		                 json_tokener_error_desc(jerr), end);
	}
	for (; end < p->json.len; end++)
		if (!strchr(" \t\r\n", p->json.s[end])) {
			json_object_put(root);
			return json_fail(
			        p, -EBADMSG,
			        "not valid JSON: text after the value, "
			        "at byte %zu",
			        end);
		}
	if (!json_object_is_type(root, json_type_object)) {
		parse_bozo(p, BZ_XML, "JSON, but not a JSON Feed: no object");
		json_object_put(root);
		return 0;
	}
	version = get_str(root, "version");
	if (version == NULL ||
	    strncmp(version, "https://jsonfeed.org/version/", 29) != 0) {
		parse_bozo(p, BZ_XML, "JSON, but not a JSON Feed: no version");
		json_object_put(root);
		return 0;
	}
	p->feed->is_feed = true;
	json_feed_fields(p, root);
	items = get_typed(root, "items", json_type_array);
	if (items == NULL)
		parse_bozo(p, BZ_XML, "a JSON Feed without an items array");
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		if (p->error)
			break;
		json_item(p, json_object_array_get_idx(items, i),
		          p->feed->author);
	}
	json_object_put(root);
	/* a limit or a stop hands over the feed so far, as for XML */
	return p->error == -ENOMEM ? -ENOMEM : 0;
}
