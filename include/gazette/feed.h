/* The parsed feed model shared by the parser, the store and the exporters. */
#ifndef GAZETTE_FEED_H
#define GAZETTE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A date that the document did not give, or that could not be parsed. */
#define GZ_NO_DATE INT64_MIN

struct gz_link {
	char *href;
	char *rel;  /* "alternate" when the document gave none */
	char *type; /* NULL when absent */
};

struct gz_enclosure {
	char *url;
	char *type;   /* NULL when absent */
	char *length; /* the attribute text as given, NULL when absent */
};

/*
 * One RSS <item> or Atom <entry>. Every string is UTF-8 and NULL when the
 * element was absent ("" when present but empty), as CONTRACT.md says.
 */
struct gz_entry {
	char *id;
	char *title;
	char *link;
	char *summary;
	char *content;
	char *author;
	int64_t published; /* seconds since the epoch, UTC, or GZ_NO_DATE */
	int64_t updated;   /* GZ_NO_DATE when the entry has no updated date */

	struct gz_link *links;
	size_t n_links;
	char **categories;
	size_t n_categories;
	struct gz_enclosure *enclosures;
	size_t n_enclosures;
};

/* The channel / feed, and the entries when the parser collects them. */
struct gz_feed {
	char *title;
	char *link;
	char *subtitle;
	char *id;
	char *language;
	char *author;
	char *image;
	char *generator;
	int64_t updated;

	/* Polling hints the document gave, in seconds; 0 when none. */
	int64_t ttl;           /* RSS <ttl> (minutes in the document) */
	int64_t update_period; /* sy:updatePeriod / sy:updateFrequency */

	bool is_feed; /* the root element was rss, RDF or feed */
	bool bozo;    /* the document was not well-formed; see bozo_message */
	char *bozo_message;

	struct gz_entry *entries;
	size_t n_entries;
};

/* Free what an entry owns (not the entry itself); NULL is fine. */
void gz_entry_clear(struct gz_entry *e);

/* Free a feed, its entries and everything they own; NULL is fine. */
void gz_feed_free(struct gz_feed *f);

#endif
