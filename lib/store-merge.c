/*
 * Merging a parsed feed into a subscription: the identities of entries
 * and deduplication within a feed, across mirrors and across feeds.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gazette/url.h"
#include "store-internal.h"

/* ---- merging ---- */

/*
 * A 64-bit hash of a string, folded into h eight bytes at a time, with
 * its length mixed in so that NULL, "" and field boundaries differ.
 * Not cryptographic: it tells text apart, it does not defend against
 * crafted collisions (a collision only hides one changed text).
 */
static uint64_t
fnv(uint64_t h, const char *t)
{
	const uint64_t m = 0x9e3779b97f4a7c15ULL;
	size_t n, i = 0;

	if (!t) {
		h = (h ^ 0xff) * m;
		return h ^ (h >> 29);
	}
	n = strlen(t);
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, t + i, 8);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	if (i < n) {
		uint64_t w = 0;

		memcpy(&w, t + i, n - i);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	h = (h ^ (uint64_t)n ^ 0xfe00) * m;
	return h ^ (h >> 32);
}

#define FNV_SEED 0xcbf29ce484222325ULL

/* The keys one entry is known by, computed before the transaction. */
struct entry_keys {
	char *guid;       /* guid identity (mirror host folded), NULL none */
	char *link;       /* canonical link, NULL none */
	char *ident;      /* the primary identity, for tombstones */
	int64_t chash;    /* title + summary + content, to see changes */
	bool link_shared; /* several entries of this document share link */
	bool repeated;    /* a key of it is another entry's in the document */
};

/* What one merge knows of the feed, read in its transaction. */
struct merge_ctx {
	int64_t feed;
	int64_t now;
	const struct keyset *guids;
	bool members;    /* the feed has stories: entries are looked up */
	bool tombstones; /* the feed has tombstones: new ones are checked */
	int64_t *pg_new; /* PostgreSQL: the new stories of queued entries */
	int *pg_queued;  /* and how many entries were queued */
	bool locked;     /* PostgreSQL: this merge holds LOCK_MERGE */
	struct pg_rows *rows; /* PostgreSQL: new entries not yet sent */
};

/*
 * PostgreSQL: the new entries of a merge, an array per column in the
 * binary format, sent as one statement (rows_send). One statement per
 * entry cost the server 72 us each, most of it the statement rather
 * than the rows: a cold 1,000 stored 35,062 stories in 2.54 s of
 * execution, where the same rows inserted whole took 1.43 s. Arrays as
 * text cost as much again for the server to parse (array_in, 15% of its
 * time): in binary, an element is its length and its bytes.
 */
enum {
	ROW_LINK_KEY,
	ROW_GUID,
	ROW_TITLE,
	ROW_LINK,
	ROW_AUTHOR,
	ROW_SUMMARY,
	ROW_CONTENT,
	ROW_PUBLISHED,
	ROW_UPDATED,
	ROW_IDENT,
	ROW_GUID_KEY,
	ROW_CHASH,
	ROW_SHARED,
	ROW_COLS
};

#define ROWS_MAX_BYTES (4u << 20) /* sent once the arrays hold this much */
#define ARRAY_HEADER   20         /* dimensions, flags, type, size, base */
#define OID_BOOL       16
#define OID_INT8       20
#define OID_TEXT       25

struct pg_rows {
	struct {
		unsigned char *p;
		size_t len, cap;
		bool nulls;
	} col[ROW_COLS];
	size_t n;
	bool oom;
};

/*
 * Several daemons merge into one PostgreSQL store at once, each in its
 * own transaction, and two feeds may carry the same story: both would
 * look its link up, find nothing the other has not committed, and store
 * it twice. So a merge that writes takes one advisory lock, LOCK_MERGE,
 * held to the end of its transaction, and looks again once it has it:
 * merges that write are serialized across daemons; reading (entries
 * unchanged, the usual poll) takes no lock. One lock rather than a lock
 * per story key: the daemon's merge thread keeps a transaction open over
 * many feeds (its group commit), and per-key locks taken in the order
 * entries come would deadlock two such batches (A then B against B then
 * A); one lock has no order to get wrong. What else a merge writes is its
 * own feed's rows, which its lease keeps to it; retention's deletes and
 * a feed's removal take the lock too (a merge must not link a story being
 * deleted, nor write to a feed being removed: on PostgreSQL memberships
 * have no foreign keys, schema version 10). Measured
 * with the feeds of tests/integration/pg-daemons.py (3,000 feeds of 5
 * entries, 500 stories in 6 feeds each) served by lighttpd, 3 daemons,
 * on 2 busy cores: a cold round saved in 7.4-8.3 s with the lock, 6.2 s
 * without it, which stored 5 of the shared stories twice; one daemon
 * alone took 7.9 s. Fetching and parsing stay parallel; the merges that
 * write take turns, a batch (INGEST_BATCH_MS at most) at a time.
 */

/* Whether the feed has memberships, tombstones: what merges look up. */
static int
feed_has(struct store *s, struct merge_ctx *c)
{
	int64_t has = 0;
	int r;

	/*
	 * One round trip: 1 for memberships, 2 for tombstones; no row when
	 * the feed is gone (removed meanwhile: on PostgreSQL no foreign key
	 * refuses what a merge would write to it).
	 */
	r = sql_int(s, &has,
	            "SELECT CASE WHEN EXISTS (SELECT 1 FROM membership"
	            "  WHERE feed_id = ?1) THEN 1 ELSE 0 END"
	            " + CASE WHEN EXISTS (SELECT 1 FROM tombstone"
	            "  WHERE feed_id = ?1) THEN 2 ELSE 0 END"
	            " FROM feed WHERE id = ?1",
	            "I", c->feed);
	if (r == 0)
		r = sql_failf(s, -ENOENT, "feed %" PRId64 " was removed",
		              c->feed);
	if (r < 0)
		return r;
	c->members = (has & 1) != 0;
	c->tombstones = (has & 2) != 0;
	return 0;
}

/* Take LOCK_MERGE (PostgreSQL), once per merge. */
static int
merge_lock(struct store *s, struct merge_ctx *c)
{
	int r;

	if (s->backend != BACKEND_PG || c->locked)
		return 0;
	r = sql_lock_xact(s, LOCK_MERGE);
	if (r < 0)
		return r;
	c->locked = true;
	/* Held since before this merge looked: what it saw stands. */
	if (r == 0)
		return 0;
	/* What others committed before we had it is there now: look. */
	r = feed_has(s, c);
	return r < 0 ? r : 1;
}

/* A string set with counts, for the keys of one document. */
struct keyset {
	const char **k;
	unsigned *n;
	size_t cap;
};

/* Slot of key in the set (an empty slot when it is absent). */
static size_t
keyset_slot(const struct keyset *ks, const char *key)
{
	size_t i = fnv(FNV_SEED, key) & (ks->cap - 1);

	while (ks->k[i] && strcmp(ks->k[i], key) != 0)
		i = (i + 1) & (ks->cap - 1);
	return i;
}

/* Make a set for up to n keys. */
static int
keyset_init(struct keyset *ks, size_t n)
{
	ks->cap = 16;
	while (ks->cap < 2 * n + 1)
		ks->cap *= 2;
	ks->k = calloc(ks->cap, sizeof(*ks->k));
	ks->n = calloc(ks->cap, sizeof(*ks->n));
	return ks->k && ks->n ? 0 : -ENOMEM;
}

/* Count key (not copied; it must outlive the set). */
static void
keyset_add(struct keyset *ks, const char *key)
{
	size_t i = keyset_slot(ks, key);

	ks->k[i] = key;
	ks->n[i]++;
}

/* How many times key was added. */
static unsigned
keyset_count(const struct keyset *ks, const char *key)
{
	size_t i = keyset_slot(ks, key);

	return ks->k[i] ? ks->n[i] : 0;
}

/* Free the set's tables (not the keys). */
static void
keyset_free(struct keyset *ks)
{
	free(ks->k);
	free(ks->n);
}

/* Equal strings, NULL equal only to NULL. */
static bool
same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The hosts of a feed's URLs: to_host from the primary, from_hosts the rest. */
struct feed_hosts {
	char *to;
	char *from[MAX_URLS + 1];
	size_t n_from;
	size_t n_urls;
};

/* Free the hosts. */
static void
hosts_free(struct feed_hosts *h)
{
	free(h->to);
	for (size_t i = 0; i < h->n_from; i++)
		free(h->from[i]);
}

/* Add the next URL of the feed (NULL: one without a host). */
static void
hosts_add(struct feed_hosts *h, const char *u)
{
	char *host = u ? url_host(u) : NULL;

	if (h->n_urls >= MAX_URLS) {
		free(host);
		return;
	}
	if (h->n_urls++ == 0) {
		h->to = host;
		return;
	}
	if (!host)
		return;
	if (h->to && strcmp(host, h->to) == 0) {
		free(host);
		return;
	}
	h->from[h->n_from++] = host;
}

/* Load the primary's host and the mirrors' other hosts. */
static int
hosts_load(struct store *s, int64_t feed, struct feed_hosts *h)
{
	struct sql_stmt *st =
	        sql_prep(s, "SELECT url FROM feed_url WHERE feed_id = ?1"
	                    " ORDER BY position, id");
	int rc, r = 0;

	if (!st)
		return -EIO;
	sql_bind_int64(st, 1, feed);
	while ((rc = sql_step(st)) == SQL_ROW && h->n_urls < MAX_URLS)
		hosts_add(h, sql_col_text(st, 0));
	if (rc != SQL_DONE && rc != SQL_ROW)
		r = sql_fail(s, rc);
	sql_done(st);
	return r;
}

/* The same hosts, the same entries' identities. */
static bool
hosts_same(const struct feed_hosts *a, const struct feed_hosts *b)
{
	if (a->n_urls != b->n_urls || a->n_from != b->n_from ||
	    !same(a->to, b->to))
		return false;
	for (size_t i = 0; i < a->n_from; i++)
		if (strcmp(a->from[i], b->from[i]) != 0)
			return false;
	return true;
}

/* The identity of a link or URL-like guid; the raw text when not a URL. */
static char *
identity(const char *u, const struct feed_hosts *h, bool *oom)
{
	char *out = NULL;

	if (url_is_http(u) &&
	    url_identity(u, h->to ? (const char *const *)h->from : NULL, h->to,
	                 &out) == 0 &&
	    out)
		return out;
	out = strdup(u);
	if (!out)
		*oom = true;
	return out;
}

/* Compute the identity keys of an entry. */
static int
entry_keys(const struct gz_entry *e, const struct feed_hosts *h,
           struct entry_keys *k)
{
	bool oom = false;
	uint64_t c;

	memset(k, 0, sizeof(*k));
	if (e->link && *e->link)
		k->link = identity(e->link, h, &oom);
	/* A permalink guid is the link: canonicalize once. */
	if (e->id && *e->id && k->link && e->link && !strcmp(e->id, e->link)) {
		k->guid = strdup(k->link);
		if (!k->guid)
			oom = true;
	} else if (e->id && *e->id) {
		k->guid = identity(e->id, h, &oom);
	}
	c = fnv(fnv(fnv(FNV_SEED, e->title), e->summary), e->content);
	k->chash = (int64_t)c;
	if (oom)
		return -ENOMEM;
	if (k->guid)
		k->ident =
		        sql_join4("g:", k->guid, "\n", k->link ? k->link : "");
	else if (k->link)
		k->ident = sql_join4("l:", k->link, "", "");
	else {
		char date[32];

		snprintf(date, sizeof(date), "%lld", (long long)e->published);
		c = fnv(fnv(fnv(fnv(FNV_SEED, e->title), date), e->content),
		        e->summary);
		k->ident = malloc(20);
		if (k->ident)
			snprintf(k->ident, 20, "h:%016llx",
			         (unsigned long long)c);
	}
	return k->ident ? 0 : -ENOMEM;
}

/* Free an entry's keys. */
static void
entry_keys_free(struct entry_keys *k)
{
	free(k->guid);
	free(k->link);
	free(k->ident);
}

/* A story of this feed an entry matches. */
struct match {
	int64_t story;
	int64_t chash;
	bool rekey; /* the membership's keys differ from the entry's */
};

/* Find the story of feed an entry is, by guid, link or hash. 1 found. */
static int
find_in_feed(struct store *s, int64_t feed, const struct entry_keys *k,
             const struct keyset *guids, struct match *m)
{
	struct sql_stmt *st;
	int rc, r = 0;

	/*
	 * By guid; a candidate whose link differs is another entry of a
	 * feed that repeats its guids (guid + link tells them apart).
	 */
	if (k->guid) {
		st = sql_prep2(s,
		               "SELECT story_id, link_key, chash"
		               " FROM membership INDEXED BY membership_guid"
		               " WHERE feed_id = ?1 AND guid_key = ?2"
		               " AND guid_key IS NOT NULL",
		               "SELECT story_id, link_key, chash"
		               " FROM membership"
		               " WHERE feed_id = ?1 AND guid_key = ?2"
		               " AND guid_key IS NOT NULL");
		if (!st)
			return -EIO;
		sql_bind_int64(st, 1, feed);
		sql_bind_text(st, 2, k->guid);
		while ((rc = sql_step(st)) == SQL_ROW) {
			const char *l = sql_col_text(st, 1);
			bool exact = same(l, k->link);

			if (!exact && l && k->link)
				continue;
			if (r == 0 || exact) {
				m->story = sql_col_int64(st, 0);
				m->chash = sql_col_int64(st, 2);
				m->rekey = !exact;
				r = 1;
			}
			if (exact)
				break;
		}
		if (rc != SQL_DONE && rc != SQL_ROW)
			r = sql_fail(s, rc);
		sql_done(st);
		if (r != 0)
			return r;
	}
	/*
	 * By canonical link, when it is the identity: the feed changed its
	 * guids (the old guid is gone from the document), or has none.
	 * Links shared by several entries are no identity.
	 */
	if (k->link && !k->link_shared) {
		int64_t sid = 0, ch = 0;
		bool ok = false;
		int n = 0;

		st = sql_prep2(s,
		               "SELECT story_id, guid_key, chash"
		               " FROM membership INDEXED BY membership_link"
		               " WHERE feed_id = ?1 AND link_key = ?2"
		               " AND link_key IS NOT NULL LIMIT 2",
		               "SELECT story_id, guid_key, chash"
		               " FROM membership"
		               " WHERE feed_id = ?1 AND link_key = ?2"
		               " AND link_key IS NOT NULL LIMIT 2");
		if (!st)
			return -EIO;
		sql_bind_int64(st, 1, feed);
		sql_bind_text(st, 2, k->link);
		while ((rc = sql_step(st)) == SQL_ROW) {
			const char *g = sql_col_text(st, 1);

			n++;
			sid = sql_col_int64(st, 0);
			ch = sql_col_int64(st, 2);
			ok = !k->guid || !g || !keyset_count(guids, g);
		}
		if (rc != SQL_DONE)
			r = sql_fail(s, rc);
		sql_done(st);
		if (r < 0)
			return r;
		if (n == 1 && ok) {
			m->story = sid;
			m->chash = ch;
			m->rekey = k->guid != NULL;
			return 1;
		}
		return 0;
	}
	if (!k->guid && !k->link) {
		st = sql_prep2(s,
		               "SELECT story_id, chash"
		               " FROM membership INDEXED BY membership_hash"
		               " WHERE feed_id = ?1 AND ident = ?2"
		               " AND guid_key IS NULL AND link_key IS NULL",
		               "SELECT story_id, chash"
		               " FROM membership"
		               " WHERE feed_id = ?1 AND ident = ?2"
		               " AND guid_key IS NULL AND link_key IS NULL");
		if (!st)
			return -EIO;
		sql_bind_int64(st, 1, feed);
		sql_bind_text(st, 2, k->ident);
		rc = sql_step(st);
		if (rc == SQL_ROW) {
			m->story = sql_col_int64(st, 0);
			m->chash = sql_col_int64(st, 1);
			m->rekey = false;
			r = 1;
		} else if (rc != SQL_DONE) {
			r = sql_fail(s, rc);
		}
		sql_done(st);
	}
	return r;
}

/* Add the story to the feed with the entry's keys. */
static int
add_membership(struct store *s, int64_t feed, int64_t story,
               const struct entry_keys *k)
{
	return sql_exec(s,
	                "INSERT INTO membership"
	                " (feed_id, story_id, ident, guid_key, link_key, chash)"
	                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                "IItttI", feed, story, k->ident, k->guid, k->link,
	                k->chash);
}

/* Room for n more bytes in column c of the rows, after its header. */
static unsigned char *
rows_room(struct pg_rows *pr, int c, size_t n)
{
	size_t len = pr->col[c].len ? pr->col[c].len : ARRAY_HEADER;
	size_t cap = pr->col[c].cap ? pr->col[c].cap : 256;
	unsigned char *p;

	if (pr->oom)
		return NULL;
	while (cap < len + n)
		cap *= 2;
	if (cap != pr->col[c].cap) {
		p = realloc(pr->col[c].p, cap);
		if (!p) {
			pr->oom = true;
			return NULL;
		}
		pr->col[c].p = p;
		pr->col[c].cap = cap;
	}
	pr->col[c].len = len;
	return pr->col[c].p + len;
}

/* v in network byte order at p; p after it. */
static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

/* Append an element of len bytes (NULL: SQL's NULL) to column c. */
static void
rows_put(struct pg_rows *pr, int c, const void *v, size_t len)
{
	unsigned char *p = rows_room(pr, c, 4 + len);

	if (!p)
		return;
	if (!v) {
		put32(p, UINT32_MAX); /* -1: NULL */
		pr->col[c].nulls = true;
		len = 0;
	} else {
		memcpy(put32(p, (uint32_t)len), v, len);
	}
	pr->col[c].len += 4 + len;
}

static void
rows_text(struct pg_rows *pr, int c, const char *t)
{
	rows_put(pr, c, t, t ? strlen(t) : 0);
}

static void
rows_int(struct pg_rows *pr, int c, int64_t v)
{
	unsigned char b[8];

	put32(put32(b, (uint32_t)((uint64_t)v >> 32)), (uint32_t)v);
	rows_put(pr, c, b, sizeof(b));
}

static void
rows_bool(struct pg_rows *pr, int c, bool v)
{
	unsigned char b = v;

	rows_put(pr, c, &b, 1);
}

/* Write each column's header: one dimension of pr->n elements. */
static void
rows_close(struct pg_rows *pr)
{
	for (int c = 0; c < ROW_COLS && !pr->oom; c++) {
		uint32_t type =
		        c == ROW_PUBLISHED || c == ROW_UPDATED || c == ROW_CHASH
		                ? OID_INT8
		        : c == ROW_SHARED ? OID_BOOL
		                          : OID_TEXT;
		unsigned char *p = pr->col[c].p;

		p = put32(p, 1);
		p = put32(p, pr->col[c].nulls);
		p = put32(p, type);
		p = put32(p, (uint32_t)pr->n);
		put32(p, 1);
	}
}

static void
rows_free(struct pg_rows *pr)
{
	for (int c = 0; c < ROW_COLS; c++)
		free(pr->col[c].p);
	memset(pr, 0, sizeof(*pr));
}

static size_t
rows_bytes(const struct pg_rows *pr)
{
	size_t b = 0;

	for (int c = 0; c < ROW_COLS; c++)
		b += pr->col[c].len;
	return b;
}

/*
 * Store the gathered entries: for each, the story of another feed with
 * the same canonical link (unless the document shares that link between
 * entries) or a new story, and the feed's membership of it. Queued
 * (sql_defer): the server stores these while we gather the next feed's.
 * The entries of one send have distinct links and identities (the
 * document's repeats are looked up, and a lookup sends what came
 * before), so that no row of it needs to see another. A new story's id
 * is drawn from the sequence first, for its membership to name it: the
 * identity's, story_id_seq, named once when the statement is prepared
 * (pg_get_serial_sequence looked it up for every row, 3.5% of the
 * server's time).
 */
static int
rows_send(struct store *s, const struct merge_ctx *c)
{
	struct pg_rows *pr = c->rows;
	int r;

	if (!pr || pr->n == 0)
		return 0;
	rows_close(pr);
	if (pr->oom) {
		rows_free(pr);
		return -ENOMEM;
	}
#define COL(i) (const void *)pr->col[i].p, pr->col[i].len
	r = sql_defer(s, c->pg_new,
	              "WITH e AS (SELECT * FROM unnest(?1::text[], ?2::text[],"
	              "  ?3::text[], ?4::text[], ?5::text[], ?6::text[],"
	              "  ?7::text[], ?8::bigint[], ?9::bigint[], ?10::text[],"
	              "  ?11::text[], ?12::bigint[], ?13::boolean[])"
	              "  WITH ORDINALITY AS e(link_key, guid, title, link,"
	              "  author, summary, content, published, updated, ident,"
	              "  guid_key, chash, shared, ord)),"
	              " x AS MATERIALIZED (SELECT e.*, f.id IS NULL AS fresh,"
	              "  coalesce(f.id, nextval('story_id_seq')) AS sid"
	              "  FROM e LEFT JOIN LATERAL (SELECT id FROM story"
	              "   WHERE story.link_key = e.link_key AND NOT e.shared"
	              "   AND NOT EXISTS (SELECT 1 FROM membership m"
	              "    WHERE m.story_id = story.id AND m.feed_id = ?14)"
	              "   ORDER BY id LIMIT 1) f ON true ORDER BY e.ord),"
	              " n AS (INSERT INTO story (id, link_key, guid, title,"
	              "  link, author, summary, content, published, updated,"
	              "  first_seen) SELECT sid, link_key, guid, title, link,"
	              "  author, summary, content, published, updated, ?15"
	              "  FROM x WHERE fresh ORDER BY ord RETURNING id),"
	              " m AS (INSERT INTO membership (feed_id, story_id, ident,"
	              "  guid_key, link_key, chash)"
	              "  SELECT ?14, sid, ident, guid_key, link_key, chash"
	              "  FROM x RETURNING story_id)" /* runs, read or not */
	              " SELECT count(*) FROM n",
	              "bbbbbbbbbbbbbII", COL(ROW_LINK_KEY), COL(ROW_GUID),
	              COL(ROW_TITLE), COL(ROW_LINK), COL(ROW_AUTHOR),
	              COL(ROW_SUMMARY), COL(ROW_CONTENT), COL(ROW_PUBLISHED),
	              COL(ROW_UPDATED), COL(ROW_IDENT), COL(ROW_GUID_KEY),
	              COL(ROW_CHASH), COL(ROW_SHARED), c->feed, c->now);
#undef COL
	*c->pg_queued += (int)pr->n; /* counted when the answers are read */
	rows_free(pr);
	return r;
}

/* merge_entry's last step on PostgreSQL: gather the entry for rows_send. */
static int
merge_new_pg(struct store *s, const struct merge_ctx *c,
             const struct gz_entry *e, const struct entry_keys *k,
             int64_t published)
{
	struct pg_rows *pr = c->rows;

	rows_text(pr, ROW_LINK_KEY, k->link);
	rows_text(pr, ROW_GUID, e->id);
	rows_text(pr, ROW_TITLE, e->title);
	rows_text(pr, ROW_LINK, e->link);
	rows_text(pr, ROW_AUTHOR, e->author);
	rows_text(pr, ROW_SUMMARY, e->summary);
	rows_text(pr, ROW_CONTENT, e->content);
	rows_int(pr, ROW_PUBLISHED, published);
	if (e->updated == GZ_NO_DATE || e->updated == 0) /* as 'z' binds */
		rows_text(pr, ROW_UPDATED, NULL);
	else
		rows_int(pr, ROW_UPDATED, e->updated);
	rows_text(pr, ROW_IDENT, k->ident);
	rows_text(pr, ROW_GUID_KEY, k->guid);
	rows_int(pr, ROW_CHASH, k->chash);
	rows_bool(pr, ROW_SHARED, k->link_shared);
	pr->n++;
	if (pr->oom) {
		rows_free(pr);
		return -ENOMEM;
	}
	return rows_bytes(pr) >= ROWS_MAX_BYTES ? rows_send(s, c) : 0;
}

/* Merge one entry into the feed (inside the merge's transaction). */
static int
merge_entry(struct store *s, struct merge_ctx *c, const struct gz_entry *e,
            const struct entry_keys *k, struct store_merge_result *res)
{
	struct match m = {0};
	int64_t sid = 0, published, feed = c->feed, now = c->now;
	int found, r = 0;

	/* What this entry looks up must see the entries gathered before. */
	if (c->rows && c->rows->n && (c->members || k->repeated))
		r = rows_send(s, c);
	if (r < 0)
		return r;
	/*
	 * A feed with no stories yet (its first poll) has none to find,
	 * but for an entry whose key an earlier entry of the document had.
	 */
	if (c->members || k->repeated)
		r = find_in_feed(s, feed, k, c->guids, &m);
	if (r < 0)
		return r;
	if (r == 1 && !m.rekey && m.chash == k->chash) {
		res->unchanged++;
		return 0;
	}
	/* It writes: under the lock, from a fresh look (once: locked now). */
	found = r;
	r = merge_lock(s, c);
	if (r < 0)
		return r;
	if (r == 1)
		return merge_entry(s, c, e, k, res);
	if (found == 1) {
		if (m.rekey) {
			r = sql_exec(s,
			             "UPDATE membership SET ident = ?3,"
			             " guid_key = ?4, link_key = ?5"
			             " WHERE feed_id = ?1 AND story_id = ?2",
			             "IIttt", feed, m.story, k->ident, k->guid,
			             k->link);
			if (r < 0)
				return r;
		}
		if (m.chash == k->chash) {
			res->unchanged++;
			return 0;
		}
		/* Changed: new text, the read state kept, flagged. */
		r = sql_exec(s,
		             "UPDATE story SET title = ?2, link = ?3,"
		             " author = ?4, summary = ?5, content = ?6,"
		             " updated = ?7, guid = ?8,"
		             " link_key = coalesce(?9, link_key), changed = 1"
		             " WHERE id = ?1",
		             "ItttttItt", m.story, e->title, e->link, e->author,
		             e->summary, e->content,
		             e->updated == GZ_NO_DATE ? now : e->updated, e->id,
		             k->link);
		if (r >= 0)
			r = sql_exec(s,
			             "UPDATE membership SET chash = ?3"
			             " WHERE feed_id = ?1 AND story_id = ?2",
			             "III", feed, m.story, k->chash);
		if (r < 0)
			return r;
		res->updated++;
		return 0;
	}

	/* Retention removed it: it never comes back as new. */
	r = 0;
	if (c->tombstones)
		r = sql_int(s, &sid,
		            "SELECT 1 FROM tombstone"
		            " WHERE feed_id = ?1 AND ident = ?2",
		            "It", feed, k->ident);
	if (r < 0)
		return r;
	if (r == 1) {
		res->unchanged++;
		return 0;
	}

	published = e->published != GZ_NO_DATE ? e->published : e->updated;
	if (published == GZ_NO_DATE || published > now)
		published = now;
	if (s->backend == BACKEND_PG)
		return merge_new_pg(s, c, e, k, published);

	/* The same canonical link in another feed: one story, two feeds. */
	if (k->link && !k->link_shared) {
		r = sql_int(s, &sid,
		            "SELECT id FROM story WHERE link_key = ?2"
		            " AND NOT EXISTS (SELECT 1 FROM membership m"
		            "  WHERE m.story_id = story.id AND m.feed_id = ?1)"
		            " ORDER BY id LIMIT 1",
		            "It", feed, k->link);
		if (r < 0)
			return r;
		if (r == 1) {
			r = add_membership(s, feed, sid, k);
			if (r < 0)
				return r;
			res->unchanged++;
			return 0;
		}
	}

	r = sql_exec(s,
	             "INSERT INTO story (link_key, guid, title, link, author,"
	             " summary, content, published, updated, first_seen)"
	             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	             "tttttttIzI", k->link, e->id, e->title, e->link, e->author,
	             e->summary, e->content, published,
	             e->updated == GZ_NO_DATE ? (int64_t)0 : e->updated, now);
	if (r < 0)
		return r;
	sid = sql_last_id(s);
	r = add_membership(s, feed, sid, k);
	if (r < 0)
		return r;
	res->new_stories++;
	return 0;
}

/*
 * What a merge works out before it touches the store: the hosts of the
 * feed's URLs and each entry's identity keys, with the document's own
 * repeats and shared links.
 */
struct store_merge_prep {
	const struct gz_feed *feed; /* made for */
	struct feed_hosts hosts;
	struct entry_keys *keys;
	size_t n;
	struct keyset guids;
};

void
store_merge_prep_free(struct store_merge_prep *mp)
{
	if (!mp)
		return;
	for (size_t i = 0; mp->keys && i < mp->n; i++)
		entry_keys_free(&mp->keys[i]);
	free(mp->keys);
	keyset_free(&mp->guids);
	hosts_free(&mp->hosts);
	free(mp);
}

/* What malloc takes for a string (its header and rounding); 0 for none. */
static size_t
str_cost(const char *s)
{
	return s ? (strlen(s) + 1 + 8 + 15) / 16 * 16 : 0;
}

size_t
store_merge_prep_bytes(const struct store_merge_prep *mp)
{
	size_t b;

	if (!mp)
		return 0;
	b = sizeof(*mp) + mp->n * sizeof(*mp->keys) +
	    mp->guids.cap * (sizeof(*mp->guids.k) + sizeof(*mp->guids.n));
	for (size_t i = 0; i < mp->n; i++)
		b += str_cost(mp->keys[i].guid) + str_cost(mp->keys[i].link) +
		     str_cost(mp->keys[i].ident);
	return b;
}

/* Keys for feed's entries under mp->hosts. */
static int
prep_keys(struct store_merge_prep *mp, const struct gz_feed *feed)
{
	struct keyset links = {0}, counts = {0};
	struct entry_keys *keys;
	bool *shared = NULL;
	size_t n = feed->n_entries;
	int r = -ENOMEM;

	mp->feed = feed;
	mp->n = n;
	mp->keys = keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys || keyset_init(&mp->guids, n) < 0 ||
	    keyset_init(&links, n) < 0 || keyset_init(&counts, 2 * n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		r = entry_keys(&feed->entries[i], &mp->hosts, &keys[i]);
		if (r < 0)
			goto out;
		if (keys[i].guid)
			keyset_add(&mp->guids, keys[i].guid);
	}
	/*
	 * A link is no identity when entries with different guids carry it
	 * (a home page as every item's link); the same entry twice is.
	 * links.n holds the first entry with the link, shared[] the verdict.
	 */
	r = -ENOMEM;
	shared = calloc(links.cap, sizeof(*shared));
	if (!shared)
		goto out;
	for (size_t i = 0; i < n; i++) {
		size_t sl;

		if (!keys[i].link)
			continue;
		sl = keyset_slot(&links, keys[i].link);
		if (!links.k[sl]) {
			links.k[sl] = keys[i].link;
			links.n[sl] = (unsigned)i;
		} else if (!same(keys[links.n[sl]].guid, keys[i].guid)) {
			shared[sl] = true;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (keys[i].link)
			keys[i].link_shared =
			        shared[keyset_slot(&links, keys[i].link)];
	/* links (those not "l:" idents) and idents twice in the document */
	for (size_t i = 0; i < n; i++) {
		keyset_add(&counts, keys[i].ident);
		if (keys[i].link && strncmp(keys[i].ident, "l:", 2) != 0)
			keyset_add(&counts, keys[i].link);
	}
	for (size_t i = 0; i < n; i++) {
		struct entry_keys *k = &keys[i];

		k->repeated =
		        keyset_count(&counts, k->ident) > 1 ||
		        (k->guid && keyset_count(&mp->guids, k->guid) > 1) ||
		        (k->link && strncmp(k->ident, "l:", 2) != 0 &&
		         keyset_count(&counts, k->link) > 1);
	}
	r = 0;
out:
	keyset_free(&links);
	keyset_free(&counts);
	free(shared);
	return r;
}

struct store_merge_prep *
store_merge_prepare(const char *const *urls, size_t n_urls,
                    const struct gz_feed *feed)
{
	struct store_merge_prep *mp;

	if (!feed || feed->n_entries > MAX_ENTRIES)
		return NULL;
	mp = calloc(1, sizeof(*mp));
	if (!mp)
		return NULL;
	for (size_t i = 0; i < n_urls; i++)
		hosts_add(&mp->hosts, urls[i]);
	if (prep_keys(mp, feed) < 0) {
		store_merge_prep_free(mp);
		return NULL;
	}
	return mp;
}

int
store_merge_prepared(struct store *s, int64_t feed_id, size_t url_index,
                     const struct gz_feed *feed, struct store_merge_prep *prep,
                     int64_t now, struct store_merge_result *ret)
{
	struct store_merge_result res = {0};
	struct store_merge_prep *mp = NULL;
	struct merge_ctx ctx = {.feed = feed_id, .now = now};
	struct pg_rows rows = {0};
	int64_t pg_new = 0;
	int pg_queued = 0;
	size_t n;
	int r;

	if (!feed)
		return -EINVAL;
	n = feed->n_entries;
	if (n > MAX_ENTRIES)
		return sql_failf(s, -E2BIG,
		                 "%zu entries in one feed (limit %d)", n,
		                 MAX_ENTRIES);
	mp = calloc(1, sizeof(*mp));
	if (!mp)
		return -ENOMEM;
	r = hosts_load(s, feed_id, &mp->hosts);
	if (r < 0)
		goto out;
	if (mp->hosts.n_urls == 0) {
		r = sql_failf(s, -ENOENT, "no feed %lld", (long long)feed_id);
		goto out;
	}
	if (url_index >= mp->hosts.n_urls) {
		r = sql_failf(s, -EINVAL, "feed %lld has no URL number %zu",
		              (long long)feed_id, url_index);
		goto out;
	}
	/* Keys worked out elsewhere hold while the feed's hosts do. */
	if (!prep || prep->feed != feed ||
	    !hosts_same(&prep->hosts, &mp->hosts)) {
		r = prep_keys(mp, feed);
		if (r < 0)
			goto out;
		prep = mp;
	}
	ctx.guids = &prep->guids;

	r = sql_begin(s);
	if (r < 0)
		goto out;
	r = feed_has(s, &ctx);
	ctx.pg_new = &pg_new;
	ctx.pg_queued = &pg_queued;
	if (s->backend == BACKEND_PG)
		ctx.rows = &rows;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = merge_entry(s, &ctx, &feed->entries[i], &prep->keys[i],
		                &res);
	if (r >= 0)
		r = rows_send(s, &ctx);
	rows_free(&rows);
	if (r >= 0)
		r = sql_defer(s, NULL,
		              "UPDATE feed SET last_served = ?2 WHERE id = ?1",
		              "II", feed_id, (int64_t)url_index);
	if (r >= 0)
		r = sql_flush(s);
	res.new_stories += (int)pg_new;
	res.unchanged += pg_queued - (int)pg_new;
	r = sql_end(s, r < 0 ? r : 0);
	if (r >= 0 && ret)
		*ret = res;
out:
	store_merge_prep_free(mp);
	return r < 0 ? r : 0;
}

/* Merge a parsed feed into a subscription, in one transaction. */
int
store_merge(struct store *s, int64_t feed_id, size_t url_index,
            const struct gz_feed *feed, int64_t now,
            struct store_merge_result *ret)
{
	return store_merge_prepared(s, feed_id, url_index, feed, NULL, now,
	                            ret);
}
