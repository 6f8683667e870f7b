/*
 * Stories out of gazette: JSON Lines (one object a line, RFC 8259), CSV
 * (RFC 4180), Atom 1.0 (which gazette's own parser reads back), and one
 * self-contained HTML page with the content sanitized (html.h).
 */
#ifndef GAZETTE_EXPORT_H
#define GAZETTE_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "gazette/store.h"

enum export_format {
	EXPORT_JSON,
	EXPORT_CSV,
	EXPORT_ATOM,
	EXPORT_HTML,
};

/* "json", "csv", "atom" or "html": 0 and *ret, or -EINVAL. */
int export_format_parse(const char *name, enum export_format *ret);

struct export;

/* export_begin flags */
#define EXPORT_IMAGES 0x1 /* HTML: the page may load the stories' images */

/*
 * Start writing to f: the header of the format (CSV's header row, Atom's
 * <feed>, the page's head). title names the collection (Atom and HTML);
 * now is the time of the export. Without EXPORT_IMAGES the HTML page
 * loads nothing from anywhere (its policy allows no image source). 0 and
 * *ret, or a negative errno.
 */
int export_begin(FILE *f, enum export_format fmt, const char *title,
                 int64_t now, unsigned flags, struct export **ret);

/* Write one story (with its content when the query asked for it). */
int export_story(struct export *x, const struct store_story *st);

/* Write the trailer and flush. 0, or -EIO when any write failed. */
int export_end(struct export *x);

/* Free the writer (after export_end, or to abandon it). NULL is fine. */
void export_free(struct export *x);

#endif
