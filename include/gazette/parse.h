/*
 * The streaming feed parser: libxml2's SAX2 push interface, fed bytes as
 * they arrive, with no DOM. RSS 0.9x/1.0/2.0, Atom 0.3/1.0, and JSON
 * Feed 1.0/1.1: a document whose first byte (after a BOM and space) is
 * '{', or one served as application/feed+json or application/json that
 * does not start with '<', is JSON; its bytes are kept (up to 64 MiB) and
 * parsed by gz_parser_finish, which fails on malformed JSON.
 */
#ifndef GAZETTE_PARSE_H
#define GAZETTE_PARSE_H

#include <stddef.h>

#include "gazette/feed.h"

struct gz_parser;

/*
 * Called once per entry, in document order, as the entry closes. The
 * callback takes ownership of *e (it must gz_entry_clear() it). Return 0
 * to go on, non-zero to stop parsing (gz_parser_push then returns
 * -ECANCELED).
 */
typedef int (*gz_entry_fn)(struct gz_entry *e, void *arg);

struct gz_parser_opts {
	const char *base_url;     /* document URL, for relative links; NULL */
	const char *content_type; /* HTTP Content-Type, for its charset; NULL */
	const char *content_language; /* HTTP Content-Language; NULL */
	size_t max_entries;           /* 0: the default, 100,000 */
	size_t max_field;     /* bytes per text field; 0: default 1 MiB */
	gz_entry_fn on_entry; /* NULL: entries are collected in the feed */
	void *arg;
};

/* A new parser; opts may be NULL. Returns NULL only when out of memory. */
struct gz_parser *gz_parser_new(const struct gz_parser_opts *opts);

/*
 * Push the next len bytes of the document. Any chunking gives the same
 * result as the whole document at once, well-formed or not (the fuzz
 * target fuzz-parse-chunks holds the parser to it). Returns 0, or a
 * negative errno: -E2BIG when a limit was hit (entries), -ECANCELED when
 * the callback stopped the parse, -EFBIG when a JSON Feed is larger than
 * the parser keeps. Malformed XML is not an error
 * here: it sets bozo. So do bytes the document's encoding does not have:
 * they are read as U+FFFD (as windows-1252 in a UTF-8 document), and the
 * rest of the document is still read.
 */
int gz_parser_push(struct gz_parser *p, const char *buf, size_t len);

/*
 * End of document: finish parsing and hand over the feed (with the
 * collected entries when no callback was given). Returns 0, or a negative
 * errno; *ret_feed is written only on success. A JSON Feed is parsed
 * here: its entries reach the callback here, and malformed JSON fails
 * with -EBADMSG (-EFBIG after a push said so) before any entry does;
 * gz_parser_error() says why. After a push returned
 * -E2BIG or -ECANCELED, finish still hands over what was parsed until
 * then (bozo_message says which limit). A small document may be parsed
 * only here, so its limits show in the feed, not in a push's return.
 */
int gz_parser_finish(struct gz_parser *p, struct gz_feed **ret_feed);

/*
 * Why gz_parser_finish failed, in words ("not valid JSON: ... at byte
 * 120"), or NULL when it gave no words (out of memory) or did not fail.
 * Valid until the parser is freed.
 */
const char *gz_parser_error(const struct gz_parser *p);

/* Free a parser and whatever it still holds; NULL is fine. */
void gz_parser_free(struct gz_parser *p);

/*
 * Parse a whole buffer at once; convenience for tests and the CLI. A
 * limit or a stop still gives 0 and the feed parsed until then.
 */
int gz_parse_buffer(const char *buf, size_t len,
                    const struct gz_parser_opts *opts,
                    struct gz_feed **ret_feed);

#endif
