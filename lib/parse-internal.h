/*
 * Private to the feed parser (lib/parse*.c), never installed: the parser
 * state and what its layers export to each other.
 *
 *   parse.c           the API (gz_parser_*), dispatch, buffers and bozo
 *   parse-encoding.c  the byte layer: sniffing, encodings, bad UTF-8, the
 *                     '&' filter, CDATA and DOCTYPE held whole; it feeds
 *                     libxml2
 *   parse-xml.c       libxml2's side: the SAX2 handler, entities, errors,
 *                     attribute values
 *   parse-map.c       RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and RDF elements
 *                     mapped onto struct gz_feed / gz_entry
 *   parse-json.c      JSON Feed 1.0 and 1.1, by json-c
 *   parse-html.c      HTML fragments normalized as feedparser does
 */
#ifndef GAZETTE_PARSE_INTERNAL_H
#define GAZETTE_PARSE_INTERNAL_H

#include <iconv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/hash.h>
#include <libxml/parser.h>

#include "gazette/parse.h"

#define DEFAULT_MAX_ENTRIES 100000
#define DEFAULT_MAX_FIELD   (1024 * 1024)
/* Bytes held back to find the BOM, the XML declaration and the encoding. */
#define SNIFF_MAX 1024
/* Per entry: links, categories and enclosures kept at most. */
#define MAX_LIST 1024
/* Bytes handed to the filter and libxml2 at a time. */
#define PUSH_SLICE (64 * 1024)
/* libxml2 gets the document in blocks of this size at fixed offsets. */
#ifndef XML_BLOCK
#define XML_BLOCK (64 * 1024)
#endif
/* Deepest element nesting we follow (libxml2's own default limit). */
#define MAX_DEPTH 256
/* Entities an internal DTD subset may declare. */
#define MAX_DECLARED 1024
/* Longest entity replacement text we accept from a DTD subset. */
#define MAX_ENTITY_TEXT 4096
/* Longest DOCTYPE held back until its end has arrived. */
#define MAX_DOCTYPE_HOLD (1024 * 1024)
/* Largest JSON Feed kept to be parsed at the end. */
#define MAX_JSON (64 * 1024 * 1024)
/* Leading whitespace looked through for the first byte ('{' or '<'). */
#define LEAD_MAX 1024

enum ns {
	NS_CORE, /* no namespace, RSS namespaces, Atom */
	NS_RDF,
	NS_CONTENT,
	NS_DC,
	NS_DCTERMS,
	NS_MEDIA,
	NS_ITUNES,
	NS_XHTML,
	NS_SY,
	NS_OTHER,
};

/* What an element on the stack is. */
enum kind {
	K_OTHER,
	K_ROOT,
	K_CHANNEL,
	K_ENTRY,
	K_IMAGE,
	K_TEXTINPUT,
	K_SOURCE,
	K_IGNORE, /* contributor and the like: nothing inside counts */
	K_AUTHOR, /* author: its own text, or name/email children */
	K_MARKUP, /* an element inside captured content */
	K_FIELD,  /* a field whose text is captured */
};

/* Which field a K_FIELD element fills. */
enum field {
	F_NONE,
	F_TITLE,
	F_TITLE_WEAK, /* media:title: only when there is no title */
	F_LINK,
	F_SUMMARY,
	F_CONTENT,
	F_SUBTITLE,
	F_SUBTITLE_WEAK, /* itunes:summary of a channel: only when unset */
	F_ID,
	F_GUID,
	F_PUBLISHED,
	F_UPDATED,
	F_AUTHOR,
	F_AUTHOR_NAME,
	F_AUTHOR_EMAIL,
	F_CATEGORY,
	F_KEYWORDS,
	F_LANGUAGE,
	F_GENERATOR,
	F_IMAGE_URL,
	F_TTL,
	F_SY_PERIOD,
	F_SY_FREQ,
};

/* How captured text is kept. */
enum cap {
	CAP_NONE,
	CAP_TEXT,  /* decoded text; child elements serialized as markup */
	CAP_XHTML, /* XHTML: markup serialized, text escaped */
	CAP_OWN,   /* author: only the element's own text */
};

/* Content kinds, for summary-from-content and base64. */
enum ctype {
	CT_TEXT,
	CT_HTML,
	CT_XHTML,

};

struct frame {
	enum kind kind;
	enum field field;
	enum cap cap;
	enum ctype ctype;
	bool strip_wrapper; /* the next child div of xhtml content is a wrapper
	                     */
	bool wrapper;       /* this element is that wrapper div */
	bool void_elem;     /* serialized as <x />, no end tag */
	bool permalink;
	bool b64;
	/* the text is base64 */ /* guid isPermaLink was not "false" */
	bool base_owned, lang_owned;
	size_t text_start;
	char *rel, *type; /* of a link whose href is its text */
	char *base;
	char *lang;
};

struct buf {
	char *s;
	size_t len, cap;
};

/*
 * Where a bozo message comes from, in the order the feed's message is
 * picked. Each layer reads the document in order, so its first message
 * is the same however the bytes arrive; the order between layers is
 * not (the byte layers run ahead of libxml2 by as much as a push
 * holds), so the message is the first layer's first, never the first
 * that happened to come.
 */
enum bozo_from {
	BZ_LIMIT,   /* a limit stopped or cut the parse */
	BZ_RAW,     /* the bytes as pushed, against the HTTP headers */
	BZ_START,   /* what the first bytes and the headers say */
	BZ_CONVERT, /* the conversion from another encoding */
	BZ_UTF8,    /* the repair of bad UTF-8 */
	BZ_FILTER,  /* the '&' filter */
	BZ_XML,     /* libxml2, and what the SAX handlers see */
	BZ_N,
};

struct gz_parser {
	struct gz_parser_opts opts;
	char *base_url, *charset, *content_language;
	bool http_text; /* served as text without a charset: us-ascii */
	bool http_nonxml;
	bool http_json; /* served as application/(feed+)json */

	/* XML or JSON: told by the first byte that is not a BOM or space */
	enum { MODE_SNIFF, MODE_XML, MODE_JSON } mode;
	struct buf lead; /* what came before it */
	bool lead_bom;   /* the bytes so far are a UTF-8 BOM's first ones */
	struct buf json; /* a JSON body, parsed at the end */
	char *errmsg;    /* why finish failed, when it did */

	xmlParserCtxtPtr ctxt;
	xmlHashTablePtr entities;      /* name -> xmlEntityPtr we made */
	xmlHashTablePtr refused;       /* name -> why it is not expanded */
	xmlHashTablePtr external_pe;   /* external parameter entities */
	xmlHashTablePtr attr_entities; /* their twins for attribute values */
	size_t n_declared;

	/* sniffing */
	bool started, skipping_junk, skipped_junk;
	struct buf pre;

	/* the '&' filter: bare ampersands escaped before libxml2 sees them */
	bool filter;
	bool utf8; /* the document is UTF-8: bad bytes are read as cp1252 */
	enum { FS_TEXT, FS_COMMENT, FS_CDATA, FS_PI } fs;
	int fmatch;         /* bytes of the end marker seen */
	struct {            /* a DOCTYPE held until it is whole */
		size_t pos; /* bytes of it scanned */
		char quote; /* the open literal's quote, or 0 */
		enum { DT_HEAD, DT_SUBSET, DT_COMMENT, DT_PI, DT_CLOSE } at;
	} dt;
	struct buf hold, fin, fout; /* held-back tail, joined input, output */
	struct buf fix;             /* input with its bad UTF-8 repaired */
	/* a document in another ASCII-compatible encoding, made UTF-8 */
	iconv_t cd;                  /* or (iconv_t)-1 */
	char cd_from[64];            /* the encoding's name, for messages */
	size_t cd_unit;              /* bytes of its code unit (1, 2, 4) */
	struct buf conv, cin, carry; /* output, joined input, unfinished */
	struct buf blk;              /* libxml2's next block, filling */

	struct gz_feed *feed;
	int64_t feed_published;
	struct gz_entry *entry;
	int64_t entry_published_fallback;
	size_t n_entries;
	size_t entries_cap; /* of feed->entries, when collected */

	struct frame *stack;
	size_t depth, stack_cap;
	size_t entry_level, image_level, textinput_level, source_level,
	        ignore_level, author_level;
	char *author_name, *author_email;

	struct buf text;
	bool field_truncated;
	bool atom;       /* the root is an Atom feed */
	bool wf_ignored; /* the last error was one we forgive */

	int64_t sy_period, sy_freq;

	/* the first message of each layer (see bozo()) */
	char *bozo_msg[BZ_N];

	int error; /* sticky: -E2BIG, -ECANCELED, -ENOMEM */
	bool finished;
	bool stopped; /* a limit of the document's shape stopped parsing */
	char *root_lang;
};

/* parse.c */

/* Grow b to hold at least need more bytes; false when out of memory. */
bool parse_buf_reserve(struct buf *b, size_t need);

/* Append n bytes to b; false when out of memory. */
bool parse_buf_add(struct buf *b, const char *s, size_t n);

/* Record the first error that stops parsing, and stop libxml2. */
void parse_fail(struct gz_parser *p, int err);

/* Mark the document bozo; the first message of each layer is kept. */
void parse_bozo(struct gz_parser *p, enum bozo_from from, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* parse-encoding.c */

/* true once the held bytes tell the encoding (see parse-encoding.c). */
bool parse_encoding_ready(const struct gz_parser *p);

/* Decide the encoding from the held bytes and start libxml2 on them. */
int parse_encoding_start(struct gz_parser *p);

/* Push bytes through the byte layer to libxml2; final at the end. */
void parse_encoding_push(struct gz_parser *p, const char *s, size_t n,
                         bool final);
/* Hand libxml2 what waits for a whole block: the document has ended. */
void parse_encoding_flush(struct gz_parser *p);

/* parse-xml.c */

/* Fill in the SAX2 handler of a parser. */
void parse_xml_sax(xmlSAXHandler *sax);

/* What libxml2 is told once per parser: never load, never print. */
void parse_xml_setup(void);

/* Free an entity of the parser's tables (an xmlHashDeallocator). */
void parse_xml_entity_free(void *payload, const xmlChar *name);

/* Free libxml2's context of a parser. */
void parse_xml_release(struct gz_parser *p);

/* After an error libxml2 forgets entities; go on as if well-formed. */
void parse_xml_wf_reset(struct gz_parser *p);

/* Decode what libxml2 leaves in SAX2 attribute values. */
char *parse_xml_attr_dup(struct gz_parser *p, const xmlChar *v,
                         const xmlChar *end);

/* Find attribute local (no namespace, or any when any_ns) in SAX2 form. */
const xmlChar **parse_xml_attr_find(int n, const xmlChar **attrs,
                                    const char *local, bool any_ns);

/* A decoded copy of an attribute's value, or NULL when absent. */
char *parse_xml_attr_get(struct gz_parser *p, int n, const xmlChar **attrs,
                         const char *local);

/* parse-map.c */

/* SAX2 startElementNs, endElementNs and characters of the mapping. */
void parse_map_start(void *ctx, const xmlChar *local, const xmlChar *prefix,
                     const xmlChar *uri, int nb_ns, const xmlChar **namespaces,
                     int na, int nb_defaulted, const xmlChar **attrs);
void parse_map_end(void *ctx, const xmlChar *local, const xmlChar *prefix,
                   const xmlChar *uri);
void parse_map_chars(void *ctx, const xmlChar *ch, int len);

/* Close every open element as if the document had closed them. */
void parse_map_unwind(struct gz_parser *p);

/* Pop every open element's frame (a parser freed mid-document). */
void parse_map_release(struct gz_parser *p);

/* Add a link, an enclosure, a category to p->entry (taking the strings
 * but rel and the link's type). */
void parse_map_add_link(struct gz_parser *p, char *href, const char *rel,
                        const char *type);
void parse_map_add_enclosure(struct gz_parser *p, char *url, char *type,
                             char *length);
void parse_map_add_category(struct gz_parser *p, char *term);

/* Hand p->entry over: to the callback or to the feed (limits counted). */
void parse_map_entry_end(struct gz_parser *p);

/* parse-json.c */

/* Keep the next bytes of a JSON body; 0, -EFBIG (too large), -ENOMEM. */
int parse_json_push(struct gz_parser *p, const char *buf, size_t len);

/* Parse the body into p->feed; 0, or a negative errno (p->errmsg). */
int parse_json_finish(struct gz_parser *p);

#endif
