/*
 * The schema and its migrations, keyed on PRAGMA user_version.
 */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "store-internal.h"

/*
 * The schema, one entry per version: migrations[i] takes a database from
 * user_version i to i + 1 and ends by setting it. Applied in order, all
 * in one transaction.
 */
static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE feed ("
        "  id INTEGER PRIMARY KEY,"
        "  title TEXT,"        /* set by the user or the configuration */
        "  parsed_title TEXT," /* what the feed calls itself */
        "  category TEXT,"
        "  interval INTEGER NOT NULL DEFAULT 0,"
        "  from_config INTEGER NOT NULL DEFAULT 0,"
        "  disabled INTEGER NOT NULL DEFAULT 0,"
        "  disabled_reason TEXT,"
        "  next_poll INTEGER NOT NULL DEFAULT 0,"
        "  error_count INTEGER NOT NULL DEFAULT 0,"
        "  failing_since INTEGER NOT NULL DEFAULT 0,"
        "  retry_after INTEGER NOT NULL DEFAULT 0,"
        "  hint INTEGER NOT NULL DEFAULT 0,"
        "  preferred INTEGER NOT NULL DEFAULT 0,"
        "  last_served INTEGER NOT NULL DEFAULT -1,"
        "  primary_probe INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE TABLE feed_url ("
        "  id INTEGER PRIMARY KEY,"
        "  feed_id INTEGER NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  position INTEGER NOT NULL,"
        "  url TEXT NOT NULL UNIQUE,"
        "  proxy TEXT,"
        "  etag TEXT,"
        "  last_modified TEXT,"
        "  last_status INTEGER NOT NULL DEFAULT 0,"
        "  last_error TEXT,"
        "  last_ok INTEGER NOT NULL DEFAULT 0,"
        "  last_tried INTEGER NOT NULL DEFAULT 0,"
        "  redirect TEXT,"
        "  redirect_count INTEGER NOT NULL DEFAULT 0,"
        "  moved_from TEXT"
        ");"
        "CREATE INDEX feed_url_feed ON feed_url(feed_id, position);"
        /* AUTOINCREMENT: ids never come back, so the "new" cursor holds. */
        /*
         * The small columns first: reading read/starred must not walk
         * through a long content's overflow pages.
         */
        "CREATE TABLE story ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  read INTEGER NOT NULL DEFAULT 0,"
        "  starred INTEGER NOT NULL DEFAULT 0,"
        "  changed INTEGER NOT NULL DEFAULT 0,"
        "  published INTEGER NOT NULL,"
        "  updated INTEGER,"
        "  first_seen INTEGER NOT NULL,"
        "  link_key TEXT," /* canonical link, the identity across feeds */
        "  guid TEXT,"
        "  title TEXT,"
        "  link TEXT," /* as served */
        "  author TEXT,"
        "  summary TEXT,"
        "  content TEXT"
        ");"
        "CREATE INDEX story_link ON story(link_key) WHERE link_key IS NOT NULL;"
        "CREATE INDEX story_published ON story(published, id);"
        "CREATE INDEX story_unread ON story(published, id) WHERE read = 0;"
        "CREATE INDEX story_starred ON story(id) WHERE starred = 1;"
        /*
         * A story in a feed, with the keys that feed identifies it by:
         * ident is the primary identity (guid + link, else link, else a
         * hash of title + date + content), chash what the feed last served.
         */
        "CREATE TABLE membership ("
        "  feed_id INTEGER NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  story_id INTEGER NOT NULL REFERENCES story(id) ON DELETE CASCADE,"
        "  ident TEXT NOT NULL,"
        "  guid_key TEXT,"
        "  link_key TEXT,"
        "  chash INTEGER NOT NULL,"
        "  PRIMARY KEY (feed_id, story_id)"
        ") WITHOUT ROWID;"
        "CREATE INDEX membership_story ON membership(story_id);"
        "CREATE INDEX membership_guid ON membership(feed_id, guid_key)"
        "  WHERE guid_key IS NOT NULL;"
        "CREATE INDEX membership_link ON membership(feed_id, link_key)"
        "  WHERE link_key IS NOT NULL;"
        "CREATE INDEX membership_hash ON membership(feed_id, ident)"
        "  WHERE guid_key IS NULL AND link_key IS NULL;"
        /* What retention removed, so that it never returns as new. */
        "CREATE TABLE tombstone ("
        "  feed_id INTEGER NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  ident TEXT NOT NULL,"
        "  purged INTEGER NOT NULL,"
        "  PRIMARY KEY (feed_id, ident)"
        ") WITHOUT ROWID;"
        "CREATE TABLE state ("
        "  key TEXT PRIMARY KEY,"
        "  value INTEGER"
        ") WITHOUT ROWID;"
        "CREATE VIRTUAL TABLE story_fts USING fts5("
        "  title, summary, content, content='story', content_rowid='id');"
        "CREATE TRIGGER story_fts_insert AFTER INSERT ON story BEGIN"
        "  INSERT INTO story_fts(rowid, title, summary, content)"
        "    VALUES (new.id, new.title, new.summary, new.content);"
        "END;"
        "CREATE TRIGGER story_fts_delete AFTER DELETE ON story BEGIN"
        "  INSERT INTO story_fts(story_fts, rowid, title, summary, content)"
        "    VALUES ('delete', old.id, old.title, old.summary, old.content);"
        "END;"
        "CREATE TRIGGER story_fts_update AFTER UPDATE OF title, summary, content"
        "  ON story BEGIN"
        "  INSERT INTO story_fts(story_fts, rowid, title, summary, content)"
        "    VALUES ('delete', old.id, old.title, old.summary, old.content);"
        "  INSERT INTO story_fts(rowid, title, summary, content)"
        "    VALUES (new.id, new.title, new.summary, new.content);"
        "END;"
        "PRAGMA user_version = 1;",
        /*
         * 1 -> 2: the full-text index holds plain text (markup stripped
         * by gz_fts_text, registered on every connection), no copy of
         * it (contentless), and is built in batches: a new or changed
         * story waits in fts_pending until store_index (or the next
         * search, or a merge that finds the batch full) indexes it, so
         * that many small merge transactions do not each write a tiny
         * index segment. An indexed story leaves the index when it
         * changes or goes, with the text it was indexed with.
         */
        "DROP TRIGGER story_fts_insert;"
        "DROP TRIGGER story_fts_delete;"
        "DROP TRIGGER story_fts_update;"
        "DROP TABLE story_fts;"
        "CREATE VIRTUAL TABLE story_fts USING fts5("
        "  title, summary, content, content='');"
        "INSERT INTO story_fts(story_fts, rank) VALUES ('hashsize', "
        "  " STR(
                FTS_HASHSIZE) ");"
                              "CREATE TABLE fts_pending (id INTEGER PRIMARY KEY);"
                              "INSERT INTO fts_pending(id) SELECT id FROM story;"
                              "CREATE TRIGGER story_fts_insert AFTER INSERT ON story BEGIN"
                              "  INSERT INTO fts_pending(id) VALUES (new.id);"
                              "END;"
                              "CREATE TRIGGER story_fts_delete AFTER DELETE ON story BEGIN"
                              "  INSERT INTO story_fts(story_fts, rowid, title, summary, content)"
                              "    SELECT 'delete', old.id, old.title, gz_fts_text(old.summary),"
                              "    gz_fts_text(old.content) WHERE NOT EXISTS"
                              "    (SELECT 1 FROM fts_pending WHERE id = old.id);"
                              "  DELETE FROM fts_pending WHERE id = old.id;"
                              "END;"
                              "CREATE TRIGGER story_fts_update AFTER UPDATE OF title, summary, content"
                              "  ON story BEGIN"
                              "  INSERT INTO story_fts(story_fts, rowid, title, summary, content)"
                              "    SELECT 'delete', old.id, old.title, gz_fts_text(old.summary),"
                              "    gz_fts_text(old.content) WHERE NOT EXISTS"
                              "    (SELECT 1 FROM fts_pending WHERE id = old.id);"
                              "  INSERT OR IGNORE INTO fts_pending(id) VALUES (new.id);"
                              "END;"
                              "PRAGMA user_version = 2;",
        /*
         * 2 -> 3: indexes for what every daemon start runs: retention's
         * walk of read, unstarred stories by date (before, a table
         * lookup for every old story, read or not), the configuration's
         * match of a feed by title, and of a URL a permanent redirect
         * replaced.
         */
        "CREATE INDEX story_purge ON story(published, id)"
        "  WHERE read = 1 AND starred = 0;"
        "CREATE INDEX feed_config_title ON feed(title) WHERE from_config = 1;"
        "CREATE INDEX feed_url_moved ON feed_url(moved_from)"
        "  WHERE moved_from IS NOT NULL;"
        "PRAGMA user_version = 3;",
        /*
         * 3 -> 4: the story queues itself for the index from C, not by
         * a trigger: an INSERT that fires a trigger writes a statement
         * journal (the old content of every page it touches), which in
         * the daemon's long transactions was the most written file.
         */
        ("DROP TRIGGER story_fts_insert;"
         "PRAGMA user_version = 4;"),
        /*
         * 4 -> 5: the full-text index leaves the store for a file of its
         * own (schema_index), kept by an indexer that lags behind the
         * merges instead of slowing them. It indexes the stories above
         * the last id it took, and learns from story_change, written in
         * the transaction that changes a story's text or removes it,
         * which of those it took to re-index or drop. 'instance' tells
         * an index file which store it belongs to.
         */
        "DROP TRIGGER story_fts_delete;"
        "DROP TRIGGER story_fts_update;"
        "DROP TABLE story_fts;"
        "DROP TABLE fts_pending;"
        "CREATE TABLE story_change ("
        "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  story_id INTEGER NOT NULL,"
        "  at INTEGER NOT NULL"
        ");"
        "CREATE TRIGGER story_change_update"
        "  AFTER UPDATE OF title, summary, content ON story BEGIN"
        "  INSERT INTO story_change(story_id, at)"
        "    VALUES (new.id, CAST(strftime('%s', 'now') AS INTEGER));"
        "END;"
        "CREATE TRIGGER story_change_delete AFTER DELETE ON story BEGIN"
        "  INSERT INTO story_change(story_id, at)"
        "    VALUES (old.id, CAST(strftime('%s', 'now') AS INTEGER));"
        "END;"
        "INSERT OR REPLACE INTO state(key, value)"
        "  VALUES ('instance', random());"
        "PRAGMA user_version = 5;",
        /*
         * 5 -> 6 (issue 14, mirrors v2): per URL the failure kind of the
         * last attempt, the addresses that last served it a feed, the
         * address and the proxy/resolver/pin of the last attempt, its
         * DoH resolver, whether it diverged from the primary; per feed
         * its resolve pins; and the mirrors responses suggested.
         */
        ("ALTER TABLE feed ADD COLUMN resolve TEXT;"
         "ALTER TABLE feed_url ADD COLUMN doh TEXT;"
         "ALTER TABLE feed_url ADD COLUMN fail_kind TEXT;"
         "ALTER TABLE feed_url ADD COLUMN good_addrs TEXT;"
         "ALTER TABLE feed_url ADD COLUMN last_ip TEXT;"
         "ALTER TABLE feed_url ADD COLUMN via TEXT;"
         "ALTER TABLE feed_url ADD COLUMN diverged INTEGER NOT NULL"
         "  DEFAULT 0;"
         "CREATE TABLE mirror_suggestion ("
         "  feed_id INTEGER NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
         "  url TEXT NOT NULL,"
         "  source TEXT NOT NULL,"
         "  first_seen INTEGER NOT NULL,"
         "  last_seen INTEGER NOT NULL,"
         "  PRIMARY KEY (feed_id, url)"
         ") WITHOUT ROWID;"
         "PRAGMA user_version = 6;"),
        /*
         * 6 -> 7 (issue 16): the stories `list --new` printed above the
         * cursor, which stay new no more; the cursor moves up to just
         * below the oldest story still unprinted, and what is below it
         * leaves this table.
         */
        ("CREATE TABLE new_seen (id INTEGER PRIMARY KEY);"
         "PRAGMA user_version = 7;"),
        /*
         * 7 -> 8 (issue 16, retention for unread stories): what each
         * feed lost to retention, by reason (the store's own totals,
         * the stories removed, are state's purged_read, purged_unread
         * and purged_limit).
         */
        ("CREATE TABLE purge_count ("
         "  feed_id INTEGER PRIMARY KEY"
         "    REFERENCES feed(id) ON DELETE CASCADE,"
         "  read INTEGER NOT NULL DEFAULT 0,"
         "  unread INTEGER NOT NULL DEFAULT 0,"
         "  over_limit INTEGER NOT NULL DEFAULT 0"
         ");"
         "PRAGMA user_version = 8;"),
        /*
         * 8 -> 9 (issue 17): a merge looks a story up by its link and
         * takes the lowest id; with the id in the index that is the
         * first entry, not a sort. On PostgreSQL it mattered: a
         * connection plans the statement once for its life (a generic
         * plan, made while the table was small), and with the link
         * alone it chose to walk story_pkey in id order, filtering on
         * the link: every new story read every story before it (4,140
         * buffers a merge at 20,000 stories; 3 daemons took 1.7 times
         * one daemon's round).
         */
        ("DROP INDEX story_link;"
         "CREATE INDEX story_link ON story(link_key, id)"
         "  WHERE link_key IS NOT NULL;"
         "PRAGMA user_version = 9;"),
        /*
         * 9 -> 10: PostgreSQL's memberships lose their foreign keys (a
         * check per row, 12% of a cold poll's time on the server); not
         * SQLite's, which cost little in-process.
         */
        "PRAGMA user_version = 10;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/*
 * The same versions on PostgreSQL, whose backend began at version 7:
 * a database at 0 takes the whole schema of version 7 in the first
 * seven steps (split only to keep each string short), and every later
 * version has its entry here too. Ids are identities (never
 * reused, like AUTOINCREMENT); every integer is a bigint. Search is
 * story_words, a tsvector per story with a GIN index, in the store
 * itself (no index file), filled by the lagging indexer
 * (lib/store-index-pg.c) from story_change, which the same triggers as
 * SQLite's write.
 * Leases (issue 17): feed.lease_owner holds a feed for the daemon that
 * polls it until lease_until; daemon is each running daemon's heartbeat.
 */
#define PG_BUMP(n) "UPDATE gazette_meta SET version = " #n ";"
static const char *const pg_migrations[] = {
        "CREATE TABLE feed ("
        "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  title TEXT,"
        "  parsed_title TEXT,"
        "  category TEXT,"
        "  interval BIGINT NOT NULL DEFAULT 0,"
        "  from_config BIGINT NOT NULL DEFAULT 0,"
        "  disabled BIGINT NOT NULL DEFAULT 0,"
        "  disabled_reason TEXT,"
        "  next_poll BIGINT NOT NULL DEFAULT 0,"
        "  error_count BIGINT NOT NULL DEFAULT 0,"
        "  failing_since BIGINT NOT NULL DEFAULT 0,"
        "  retry_after BIGINT NOT NULL DEFAULT 0,"
        "  hint BIGINT NOT NULL DEFAULT 0,"
        "  preferred BIGINT NOT NULL DEFAULT 0,"
        "  last_served BIGINT NOT NULL DEFAULT -1,"
        "  primary_probe BIGINT NOT NULL DEFAULT 0,"
        "  resolve TEXT,"
        "  lease_owner TEXT,"
        "  lease_until BIGINT NOT NULL DEFAULT 0"
        ");"
        "CREATE TABLE feed_url ("
        "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  feed_id BIGINT NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  position BIGINT NOT NULL,"
        "  url TEXT NOT NULL UNIQUE,"
        "  proxy TEXT,"
        "  etag TEXT,"
        "  last_modified TEXT,"
        "  last_status BIGINT NOT NULL DEFAULT 0,"
        "  last_error TEXT,"
        "  last_ok BIGINT NOT NULL DEFAULT 0,"
        "  last_tried BIGINT NOT NULL DEFAULT 0,"
        "  redirect TEXT,"
        "  redirect_count BIGINT NOT NULL DEFAULT 0,"
        "  moved_from TEXT,"
        "  doh TEXT,"
        "  fail_kind TEXT,"
        "  good_addrs TEXT,"
        "  last_ip TEXT,"
        "  via TEXT,"
        "  diverged BIGINT NOT NULL DEFAULT 0"
        ");" PG_BUMP(1),
        "CREATE INDEX feed_url_feed ON feed_url(feed_id, position);"
        "CREATE INDEX feed_config_title ON feed(title) WHERE from_config = 1;"
        "CREATE INDEX feed_url_moved ON feed_url(moved_from)"
        "  WHERE moved_from IS NOT NULL;"
        "CREATE INDEX feed_due ON feed(next_poll)"
        "  WHERE disabled = 0;" PG_BUMP(2),
        "CREATE TABLE story ("
        "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  read BIGINT NOT NULL DEFAULT 0,"
        "  starred BIGINT NOT NULL DEFAULT 0,"
        "  changed BIGINT NOT NULL DEFAULT 0,"
        "  published BIGINT NOT NULL,"
        "  updated BIGINT,"
        "  first_seen BIGINT NOT NULL,"
        "  link_key TEXT,"
        "  guid TEXT,"
        "  title TEXT,"
        "  link TEXT,"
        "  author TEXT,"
        "  summary TEXT,"
        "  content TEXT"
        ");"
        "CREATE INDEX story_link ON story(link_key) WHERE link_key IS NOT NULL;"
        "CREATE INDEX story_published ON story(published, id);"
        "CREATE INDEX story_unread ON story(published, id) WHERE read = 0;"
        "CREATE INDEX story_starred ON story(id) WHERE starred = 1;"
        "CREATE INDEX story_purge ON story(published, id)"
        "  WHERE read = 1 AND starred = 0;"
        /*
         * The words of a story, the indexer's (lib/store-index-pg.c):
         * a table of their own, so that indexing writes a narrow row
         * where setting a story column rewrote the story with its text
         * and its six index entries, which merges then read past.
         */
        "CREATE TABLE story_words ("
        "  story_id BIGINT PRIMARY KEY"
        "   REFERENCES story(id) ON DELETE CASCADE,"
        "  tsv tsvector NOT NULL"
        ");"
        "CREATE INDEX story_words_tsv ON story_words"
        "  USING GIN (tsv);" PG_BUMP(3),
        "CREATE TABLE membership ("
        "  feed_id BIGINT NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  story_id BIGINT NOT NULL REFERENCES story(id) ON DELETE CASCADE,"
        "  ident TEXT NOT NULL,"
        "  guid_key TEXT,"
        "  link_key TEXT,"
        "  chash BIGINT NOT NULL,"
        "  PRIMARY KEY (feed_id, story_id)"
        ");"
        "CREATE INDEX membership_story ON membership(story_id);"
        "CREATE INDEX membership_guid ON membership(feed_id, guid_key)"
        "  WHERE guid_key IS NOT NULL;"
        "CREATE INDEX membership_link ON membership(feed_id, link_key)"
        "  WHERE link_key IS NOT NULL;"
        /*
         * What keeps two daemons merging the same feed at once (a lease
         * taken over while the first still wrote) from storing an
         * entry twice: one membership per identity in a feed.
         */
        "CREATE UNIQUE INDEX membership_ident"
        "  ON membership(feed_id, ident);" PG_BUMP(4),
        "CREATE TABLE tombstone ("
        "  feed_id BIGINT NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  ident TEXT NOT NULL,"
        "  purged BIGINT NOT NULL,"
        "  PRIMARY KEY (feed_id, ident)"
        ");"
        "CREATE TABLE state ("
        "  key TEXT PRIMARY KEY,"
        "  value BIGINT"
        ");"
        "CREATE TABLE story_change ("
        "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  story_id BIGINT NOT NULL,"
        "  at BIGINT NOT NULL"
        ");"
        "CREATE FUNCTION gazette_story_change() RETURNS trigger"
        "  LANGUAGE plpgsql AS $$ BEGIN"
        "  INSERT INTO story_change(story_id, at) VALUES"
        "    (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,"
        "     extract(epoch FROM now())::bigint);"
        "  RETURN NULL; END $$;"
        "CREATE TRIGGER story_change_update"
        "  AFTER UPDATE OF title, summary, content ON story"
        "  FOR EACH ROW EXECUTE FUNCTION gazette_story_change();"
        "CREATE TRIGGER story_change_delete AFTER DELETE ON story"
        "  FOR EACH ROW EXECUTE FUNCTION gazette_story_change();"
        "INSERT INTO state(key, value)"
        "  VALUES ('instance', (random() * 9e18)::bigint);" PG_BUMP(5),
        "CREATE TABLE mirror_suggestion ("
        "  feed_id BIGINT NOT NULL REFERENCES feed(id) ON DELETE CASCADE,"
        "  url TEXT NOT NULL,"
        "  source TEXT NOT NULL,"
        "  first_seen BIGINT NOT NULL,"
        "  last_seen BIGINT NOT NULL,"
        "  PRIMARY KEY (feed_id, url)"
        ");"
        "CREATE TABLE new_seen (id BIGINT PRIMARY KEY);" PG_BUMP(6),
        "CREATE TABLE daemon ("
        "  instance TEXT PRIMARY KEY,"
        "  host TEXT,"
        "  pid BIGINT NOT NULL,"
        "  started BIGINT NOT NULL,"
        "  heartbeat BIGINT NOT NULL"
        ");" PG_BUMP(7),
        "CREATE TABLE purge_count ("
        "  feed_id BIGINT PRIMARY KEY REFERENCES feed(id) ON DELETE CASCADE,"
        "  read BIGINT NOT NULL DEFAULT 0,"
        "  unread BIGINT NOT NULL DEFAULT 0,"
        "  over_limit BIGINT NOT NULL DEFAULT 0"
        ");" PG_BUMP(8),
        "DROP INDEX story_link;"
        "CREATE INDEX story_link ON story(link_key, id)"
        "  WHERE link_key IS NOT NULL;" PG_BUMP(9),
        /*
         * A membership's foreign keys checked its story and its feed for
         * every row a merge inserted: 12% of the server's time in a cold
         * poll (3.36 s against 3.82 s, medians of 5). What they ensured
         * holds by the lock discipline instead: a membership is written
         * under LOCK_MERGE, after the merge saw its feed (feed_has), to a
         * story inserted by the same statement or seen under the lock;
         * stories and feeds are deleted under the lock too. Their
         * cascade is a trigger.
         */
        "ALTER TABLE membership DROP CONSTRAINT membership_story_id_fkey,"
        "  DROP CONSTRAINT membership_feed_id_fkey;"
        "CREATE FUNCTION gazette_membership_cascade() RETURNS trigger"
        "  LANGUAGE plpgsql AS $$ BEGIN"
        "  IF TG_TABLE_NAME = 'story' THEN"
        "    DELETE FROM membership WHERE story_id = OLD.id;"
        "  ELSE"
        "    DELETE FROM membership WHERE feed_id = OLD.id;"
        "  END IF;"
        "  RETURN NULL; END $$;"
        "CREATE TRIGGER story_membership_delete AFTER DELETE ON story"
        "  FOR EACH ROW EXECUTE FUNCTION gazette_membership_cascade();"
        "CREATE TRIGGER feed_membership_delete AFTER DELETE ON feed"
        "  FOR EACH ROW EXECUTE FUNCTION gazette_membership_cascade();" PG_BUMP(
                10),
};

_Static_assert(sizeof(pg_migrations) == sizeof(migrations),
               "one version number for both backends");

const struct schema schema_store = {migrations, pg_migrations, SCHEMA_VERSION};

/*
 * The index file: the words of every story (plain text, markup stripped
 * by gz_fts_text) and how far the indexer has come: indexed_upto, the
 * highest story id indexed; changes_upto, the last story_change applied;
 * instance, the store's (another store's index is rebuilt).
 */
static const char *const index_steps[] = {
        "CREATE VIRTUAL TABLE story_fts USING fts5(title, summary, content);"
        "INSERT INTO story_fts(story_fts, rank) VALUES ('hashsize', "
        "  " STR(FTS_HASHSIZE) ");"
                               "CREATE TABLE index_state ("
                               "  key TEXT PRIMARY KEY,"
                               "  value INTEGER NOT NULL"
                               ") WITHOUT ROWID;"
                               "PRAGMA user_version = 1;",
};

const struct schema schema_index = {
        index_steps, NULL, (int)(sizeof(index_steps) / sizeof(index_steps[0]))};
/* The schema version of the open database, or -errno. */
int
schema_version(struct store *s, int *ret)
{
	int64_t v = 0;
	int r;

	if (s->backend == BACKEND_PG) {
		r = sql_int(s, &v,
		            "SELECT to_regclass('gazette_meta') IS NOT NULL",
		            "");
		if (r > 0 && v)
			r = sql_int(s, &v, "SELECT version FROM gazette_meta",
			            "");
		else
			v = 0;
	} else {
		r = sql_int(s, &v, "PRAGMA user_version", "");
	}
	if (r < 0)
		return r;
	*ret = (int)v;
	return 0;
}

/* Apply the migrations from the database's version up, in one transaction. */
int
schema_migrate(struct store *s, const struct schema *sc)
{
	int r, v;

	r = sql_begin(s);
	if (r < 0)
		return r;
	/*
	 * On PostgreSQL, one migrating process at a time (a lock held to
	 * the end of the transaction), the version table created first.
	 */
	if (s->backend == BACKEND_PG) {
		r = sql_lock_xact(s, LOCK_SCHEMA);
		if (r >= 0)
			r = sql_script(s,
			               "CREATE TABLE IF NOT EXISTS gazette_meta"
			               " (version BIGINT NOT NULL);"
			               "INSERT INTO gazette_meta (version)"
			               " SELECT 0 WHERE NOT EXISTS"
			               " (SELECT 1 FROM gazette_meta)");
		if (r < 0)
			return sql_end(s, r);
	}
	/* Read again under the write lock: another process may have done it. */
	r = schema_version(s, &v);
	if (r >= 0 && v > sc->n)
		r = sql_failf(s, -EPROTO, "schema version %d is newer than %d",
		              v, sc->n);
	for (; r >= 0 && v < sc->n; v++) {
		const char *step = s->backend == BACKEND_PG ? sc->pg_steps[v]
		                                            : sc->steps[v];
		char msg[sizeof(s->err)];

		r = sql_script(s, step);
		if (r < 0) {
			memcpy(msg, s->err, sizeof(msg));
			sql_failf(s, r, "migration to version %d: %s", v + 1,
			          msg);
		}
	}
	return sql_end(s, r);
}
