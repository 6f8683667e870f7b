/*
 * Retention: removing old stories, leaving tombstones so that they never
 * return as new.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gazette/url.h"
#include "store-internal.h"

/* ---- retention ---- */

/* Remove read, unstarred stories published before `before`; tombstones. */
int
store_purge(struct store *s, int64_t before)
{
	int total = 0, r;

	/*
	 * In batches, each its own short transaction: a big purge must not
	 * hold the write lock longer than the CLI's busy timeout.
	 */
	do {
		r = sql_begin(s);
		if (r < 0)
			break;
		r = sql_exec(
		        s,
		        "INSERT OR IGNORE INTO tombstone"
		        " (feed_id, ident, purged)"
		        " SELECT m.feed_id, m.ident, ?2 FROM membership m"
		        " WHERE m.story_id IN (SELECT id FROM story"
		        "  WHERE read = 1 AND starred = 0 AND published < ?1"
		        "  ORDER BY published, id LIMIT " STR(PURGE_BATCH) ")",
		        "II", before, (int64_t)time(NULL));
		if (r >= 0)
			r = sql_exec(s,
			             "DELETE FROM story WHERE id IN"
			             " (SELECT id FROM story WHERE read = 1"
			             "  AND starred = 0 AND published < ?1"
			             "  ORDER BY published, id"
			             "  LIMIT " STR(PURGE_BATCH) ")",
			             "I", before);
		r = sql_end(s, r);
		if (r > 0)
			total += r;
	} while (r == PURGE_BATCH);
	return r < 0 ? r : total;
}
