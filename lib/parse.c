/*
 * The streaming feed parser: libxml2's SAX2 push interface with a small
 * state machine over the elements of RSS 0.9x/1.0/2.0 and Atom 0.3/1.0.
 * This file is the API: a parser, its pushes and its end; the layers it
 * drives are listed in parse-internal.h.
 *
 * The first bytes are held back until the encoding is known (BOM, XML
 * declaration, HTTP charset) and junk before the first '<' is dropped, so
 * that every chunking hands libxml2 the same bytes. Text of the fields we
 * want is gathered in one growing buffer; nothing is allocated per
 * character.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/hash.h>
#include <libxml/parser.h>

#include "gazette/parse.h"
#include "parse-internal.h"

/* Grow b to hold at least need more bytes; false when out of memory. */
bool
parse_buf_reserve(struct buf *b, size_t need)
{
	size_t cap;
	char *s;

	if (b->len + need < b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap <= b->len + need)
		cap *= 2;
	s = realloc(b->s, cap);
	if (s == NULL)
		return false;
	b->s = s;
	b->cap = cap;
	return true;
}

/* Append n bytes to b; false when out of memory. */
bool
parse_buf_add(struct buf *b, const char *s, size_t n)
{
	if (!parse_buf_reserve(b, n + 1))
		return false;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	return true;
}

/* Record the first error that stops parsing, and stop libxml2. */
void
parse_fail(struct gz_parser *p, int err)
{
	if (p->error == 0)
		p->error = err;
	if (p->ctxt)
		xmlStopParser(p->ctxt);
}

/* Mark the document bozo; the first message of each layer is kept. */
void
parse_bozo(struct gz_parser *p, enum bozo_from from, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	p->feed->bozo = true;
	if (p->bozo_msg[from])
		return;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	p->bozo_msg[from] = m;
}

/* A new parser; opts may be NULL. */
struct gz_parser *
gz_parser_new(const struct gz_parser_opts *opts)
{
	struct gz_parser *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (opts)
		p->opts = *opts;
	if (p->opts.max_entries == 0)
		p->opts.max_entries = DEFAULT_MAX_ENTRIES;
	if (p->opts.max_field == 0)
		p->opts.max_field = DEFAULT_MAX_FIELD;
	p->cd = (iconv_t)-1;
	p->cd_unit = 1;
	p->feed = calloc(1, sizeof(*p->feed));
	p->entities = xmlHashCreate(64);
	p->refused = xmlHashCreate(16);
	p->external_pe = xmlHashCreate(4);
	p->attr_entities = xmlHashCreate(16);
	/* the text buffer always exists: offsets into it are never on NULL */
	if (p->feed == NULL || p->entities == NULL || p->refused == NULL ||
	    p->external_pe == NULL || p->attr_entities == NULL ||
	    !parse_buf_reserve(&p->text, 256))
		goto fail;
	p->feed->updated = GZ_NO_DATE;
	p->lead_bom = true;
	p->feed_published = GZ_NO_DATE;
	if (p->opts.base_url && p->opts.base_url[0]) {
		p->base_url = strdup(p->opts.base_url);
		if (p->base_url == NULL)
			goto fail;
	}
	if (p->opts.content_language && p->opts.content_language[0]) {
		p->content_language = strdup(p->opts.content_language);
		if (p->content_language == NULL)
			goto fail;
	}
	p->opts.base_url = p->base_url;
	p->opts.content_language = p->content_language;
	p->opts.content_type = NULL;
	if (opts && opts->content_type) {
		const char *ct = opts->content_type, *c;
		char mime[128];
		size_t n = strcspn(ct, ";");
		while (n > 0 && isspace((unsigned char)ct[n - 1]))
			n--;
		while (n > 0 && isspace((unsigned char)*ct)) {
			ct++;
			n--;
		}
		if (n >= sizeof(mime))
			n = sizeof(mime) - 1;
		memcpy(mime, ct, n);
		mime[n] = '\0';
		c = strcasestr(opts->content_type, "charset=");
		if (c) {
			c += 8;
			while (*c == ' ' || *c == '"' || *c == '\'')
				c++;
			n = strcspn(c, " \"';,");
			if (n > 0 && n < 64)
				p->charset = strndup(c, n);
		}
		p->http_json = !strcasecmp(mime, "application/feed+json") ||
		               !strcasecmp(mime, "application/json");
		if (!strncasecmp(mime, "text/", 5)) {
			p->http_text = p->charset == NULL;
			if (strcasecmp(mime, "text/xml") &&
			    strcasecmp(mime,
			               "text/xml-external-parsed-entity") &&
			    !(n > 4 &&
			      !strcasecmp(mime + strlen(mime) - 4, "+xml")))
				p->http_nonxml = true;
		} else if (mime[0] && strncasecmp(mime, "application/", 12)) {
			p->http_nonxml = true;
		} else if (mime[0] && !strstr(mime, "xml")) {
			p->http_nonxml = true;
		}
	}
	parse_xml_setup();
	return p;
fail:
	gz_parser_free(p);
	return NULL;
}

/* Push the next len bytes of an XML document. */
static int
xml_push(struct gz_parser *p, const char *buf, size_t len)
{
	if (p->http_text)
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)buf[i] >= 0x80) {
				parse_bozo(
				        p, BZ_RAW,
				        "non-ASCII bytes in a text/* document "
				        "without a charset");
				p->http_text = false;
				break;
			}
	while (!p->started && len > 0) {
		size_t take;
		if (p->skipping_junk) {
			const char *lt = memchr(buf, '<', len);
			if (lt == NULL)
				return 0;
			len -= (size_t)(lt - buf);
			buf = lt;
			p->skipping_junk = false;
		}
		take = SNIFF_MAX - p->pre.len;
		if (take > len)
			take = len;
		if (!parse_buf_add(&p->pre, buf, take))
			return -ENOMEM;
		buf += take;
		len -= take;
		if (p->pre.len < SNIFF_MAX && !parse_encoding_ready(p))
			return 0;
		int r = parse_encoding_start(p);
		if (r < 0)
			return r;
	}
	if (len > 0)
		parse_encoding_push(p, buf, len, false);
	return p->error;
}

/* Settle XML or JSON, and hand over what was held back meanwhile. */
static int
decide(struct gz_parser *p, bool json)
{
	int r;

	p->mode = json ? MODE_JSON : MODE_XML;
	if (p->lead.len == 0)
		return 0;
	r = json ? parse_json_push(p, p->lead.s, p->lead.len)
	         : xml_push(p, p->lead.s, p->lead.len);
	free(p->lead.s);
	p->lead = (struct buf){0};
	return r;
}

/*
 * Look for the first byte that is neither a UTF-8 BOM nor whitespace:
 * '{' is JSON, '<' is XML, anything else is JSON only when the server
 * said so. Returns 1 once the mode is known, 0 while it is not (the
 * bytes are held), or a negative errno.
 */
static int
sniff_mode(struct gz_parser *p, const char *buf, size_t len)
{
	size_t seen = p->lead.len;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (p->lead_bom && seen + i < 3 &&
		    c == (unsigned char)"\xef\xbb\xbf"[seen + i])
			continue;
		p->lead_bom = false;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		return decide(p, c == '{' || (c != '<' && p->http_json)) < 0
		               ? p->error
		               : 1;
	}
	/* only space so far: hold it, up to a point */
	if (seen + len > LEAD_MAX) {
		int r = decide(p, p->http_json);
		return r < 0 ? r : 1;
	}
	if (!parse_buf_add(&p->lead, buf, len))
		return -ENOMEM;
	return 0;
}

/* Push the next len bytes of the document. */
int
gz_parser_push(struct gz_parser *p, const char *buf, size_t len)
{
	int r;

	if (p == NULL || p->finished)
		return -EINVAL;
	if (p->error)
		return p->error;
	if (p->stopped)
		return 0;
	if (p->mode == MODE_SNIFF) {
		r = sniff_mode(p, buf, len);
		if (r <= 0)
			return r;
	}
	if (p->mode == MODE_JSON)
		return parse_json_push(p, buf, len);
	return xml_push(p, buf, len);
}

/* Why the last gz_parser_finish failed, in words; NULL when it did not. */
const char *
gz_parser_error(const struct gz_parser *p)
{
	return p ? p->errmsg : NULL;
}

/*
 * libxml2 2.9's push parser leaves the input's last byte unread when it
 * is character data alone (it wants two bytes to look at), even at the
 * end of the document; whether a document's last text byte came alone
 * depended on the chunking (a text of 300 bytes or more is read before
 * its end arrives). Give it to the text as libxml2 would have.
 */
static void
last_char(struct gz_parser *p)
{
	xmlParserInputPtr in = p->ctxt->input;

	if (p->ctxt->instate != XML_PARSER_CONTENT || p->ctxt->inputNr != 1 ||
	    in == NULL || in->cur == NULL || in->end - in->cur != 1)
		return;
	if (*in->cur < 0x80 && *in->cur != '<' && *in->cur != '&')
		parse_map_chars(p, in->cur, 1);
}

/* End of document: finish parsing and hand over the feed. */
int
gz_parser_finish(struct gz_parser *p, struct gz_feed **ret_feed)
{
	struct gz_feed *f;
	int r = 0;

	if (p == NULL || p->finished)
		return -EINVAL;
	if (p->mode == MODE_SNIFF && !p->error) {
		/* nothing but space (or nothing): JSON only when served so */
		r = decide(p, p->http_json);
		if (r == -ENOMEM)
			return r;
	}
	if (p->mode == MODE_JSON) {
		r = parse_json_finish(p);
		p->finished = true;
		if (r < 0)
			return r;
	} else if (!p->started && !p->error) {
		if (p->pre.len == 0 && !p->skipping_junk) {
			parse_bozo(p, BZ_START, "empty document");
		} else if (p->pre.len == 0) {
			parse_bozo(p, BZ_START, "no XML in the document");
		} else {
			p->skipping_junk = false;
			r = parse_encoding_start(p);
			if (r == -ENOMEM)
				return r;
			if (!p->started)
				parse_bozo(p, BZ_START,
				           "no XML in the document");
		}
	}
	if (p->mode == MODE_XML && p->ctxt && !p->error && !p->stopped) {
		if (p->filter && (p->hold.len || p->carry.len))
			parse_encoding_push(p, "", 0, true);
		parse_encoding_flush(p);
		last_char(p);
		xmlParseChunk(p->ctxt, NULL, 0, 1);
		if (!p->ctxt->wellFormed && !p->wf_ignored)
			p->feed->bozo = true;
	}
	p->finished = true;
	if (p->error == -ENOMEM)
		return -ENOMEM;
	/* a truncated document: close what was open, keeping its text */
	if (p->depth && !p->error)
		parse_map_unwind(p);
	if (p->field_truncated)
		parse_bozo(p, BZ_LIMIT, "a field longer than %zu bytes was cut",
		           p->opts.max_field);

	f = p->feed;
	if (p->sy_period)
		f->update_period = p->sy_period / (p->sy_freq ? p->sy_freq : 1);
	if (f->updated == GZ_NO_DATE)
		f->updated = p->feed_published;
	if (f->language == NULL && p->root_lang) {
		f->language = p->root_lang;
		p->root_lang = NULL;
	}
	if (f->language == NULL && p->content_language)
		f->language = strdup(p->content_language);
	for (int i = 0; i < BZ_N; i++) {
		if (f->bozo_message == NULL) {
			f->bozo_message = p->bozo_msg[i];
			p->bozo_msg[i] = NULL;
		}
	}
	if (f->bozo && f->bozo_message == NULL)
		f->bozo_message = strdup("the document is not well-formed XML");
	p->feed = NULL;
	*ret_feed = f;
	return 0;
}

/* Free a parser and whatever it still holds; NULL is fine. */
void
gz_parser_free(struct gz_parser *p)
{
	if (p == NULL)
		return;
	parse_xml_release(p);
	parse_map_release(p);
	if (p->entry) {
		gz_entry_clear(p->entry);
		free(p->entry);
	}
	gz_feed_free(p->feed);
	xmlHashFree(p->entities, parse_xml_entity_free);
	xmlHashFree(p->refused, NULL);
	xmlHashFree(p->external_pe, NULL);
	xmlHashFree(p->attr_entities, parse_xml_entity_free);
	free(p->stack);
	free(p->text.s);
	free(p->pre.s);
	free(p->hold.s);
	free(p->fin.s);
	free(p->fout.s);
	free(p->fix.s);
	if (p->cd != (iconv_t)-1)
		iconv_close(p->cd);
	free(p->conv.s);
	free(p->cin.s);
	free(p->carry.s);
	free(p->blk.s);
	free(p->author_name);
	free(p->author_email);
	free(p->root_lang);
	free(p->base_url);
	free(p->content_language);
	free(p->charset);
	free(p->lead.s);
	free(p->json.s);
	free(p->errmsg);
	for (int i = 0; i < BZ_N; i++)
		free(p->bozo_msg[i]);
	free(p);
}

/* Parse a whole buffer at once. */
int
gz_parse_buffer(const char *buf, size_t len, const struct gz_parser_opts *opts,
                struct gz_feed **ret_feed)
{
	struct gz_parser *p = gz_parser_new(opts);
	int r;

	if (p == NULL)
		return -ENOMEM;
	r = gz_parser_push(p, buf, len);
	/* a limit or a stop still leaves a feed worth handing over */
	if (r == 0 || r == -E2BIG || r == -ECANCELED)
		r = gz_parser_finish(p, ret_feed);
	gz_parser_free(p);
	return r;
}
