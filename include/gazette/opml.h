/*
 * OPML 1.0 / 2.0 subscription lists: reading them for `gazette import`,
 * writing them for `gazette export opml`. Mirrors, per-URL proxies and
 * intervals travel in attributes of gazette's own namespace:
 *
 *   <opml version="2.0" xmlns:gazette="https://gazette.invalid/ns/opml/1">
 *   <outline type="rss" text="T" xmlUrl="PRIMARY"
 *            gazette:proxy="PROXY OF THE PRIMARY"
 *            gazette:mirrors="URL1 URL2"
 *            gazette:mirror-proxies="PROXY1 -"
 *            gazette:interval="900"
 *            gazette:title-source="feed"/>
 *
 * gazette:title-source says whose the text is: "user" (set by the user
 * or the configuration), "feed" (what the feed calls itself, which a
 * later poll may change), "none" (no title yet: the text is the URL).
 * Without it (other readers' files) the text is taken as the user's.
 * Lists are separated by blanks; "-" stands for "no proxy". Nested
 * outlines without xmlUrl are folders: their names, joined with "/",
 * become the feed's category.
 */
#ifndef GAZETTE_OPML_H
#define GAZETTE_OPML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gazette/store.h"

/* gazette's namespace for its OPML attributes. */
#define OPML_NS "https://gazette.invalid/ns/opml/1"

/* Limits of what a file can make us allocate. */
#define OPML_MAX_SIZE     (64u << 20) /* bytes of the file */
#define OPML_MAX_OUTLINES 200000      /* ~1.5 KiB each while importing */
#define OPML_MAX_DEPTH    64
#define OPML_MAX_URLS     16 /* primary and mirrors of one feed */

/* One subscription found in the file. */
struct opml_feed {
	char *title;      /* text or title attribute; NULL when neither */
	bool feed_title;  /* title is the feed's own (gazette:title-source) */
	char *category;   /* folder path, or the category attribute; NULL */
	int64_t interval; /* gazette:interval in seconds, 0 none */
	size_t n_urls;    /* the primary first, then mirrors */
	char **urls;
	char **proxies; /* n_urls entries, each NULL for none */
	int line;
};

/* An outline that was not imported, and why. */
struct opml_skip {
	char *url; /* as written, NULL when there was none */
	char *reason;
	int line;
};

struct opml_doc {
	char *title; /* head/title, NULL when none */
	size_t n_feeds;
	struct opml_feed *feeds;
	size_t n_skipped;
	struct opml_skip *skipped;
};

/*
 * Parse an OPML document (no network, no DTD, no external entities).
 * Outlines whose URLs are not http/https are listed in skipped. A file
 * that is not well-formed OPML is -EINVAL with *ret_err naming the line
 * ("line 12: ..."); caller frees it.
 */
int opml_parse(const char *buf, size_t len, struct opml_doc **ret,
               char **ret_err);
void opml_doc_free(struct opml_doc *d);

/*
 * Write the feeds as OPML 2.0, grouped into folders by category, with
 * gazette's attributes for mirrors, proxies and intervals. 0 or -EIO.
 */
int opml_write(FILE *f, struct store_feed *const *feeds, size_t n, int64_t now);

#endif
