/*
 * The ingest threads: a parser thread parses fetched documents, and the
 * merge thread merges them into the store and saves the polls, on a
 * connection of its own, while the loop thread runs the transfers: three
 * stages of a pipeline, each on a core when there are cores. Jobs go to it over
 * a queue bounded in bytes and come back, whole, as results: a job belongs to
 * one thread at a time.
 *
 * Writes are grouped: a transaction stays open over the jobs that follow
 * each other, and commits when the queue runs dry, after INGEST_BATCH
 * jobs or INGEST_BATCH_MS; a job that wrote comes back only once that is
 * committed (lost set when the commit failed). When idle, the thread
 * fills the full-text index (store_index_some), and also between batches
 * once the index is index_lag seconds behind.
 *
 * It never calls libevent or curl: results wake the loop through an
 * eventfd (ingest_fd), which the loop watches and then ingest_collect()s.
 */
#ifndef GAZETTE_DAEMON_INGEST_H
#define GAZETTE_DAEMON_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "gazette/store.h"
#include "poll.h"

struct ingest;

enum ingest_kind {
	/* A body: parse it; a feed is merged, with its served attempt. */
	INGEST_PARSE,
	/* The rest of a poll: attempts, schedule, disabling, URL moves. */
	INGEST_SAVE,
	/* Retention: purge by the rules, in batches of short transactions. */
	INGEST_PURGE,
};

/* One URL that a permanent redirect moves. */
struct ingest_move {
	int64_t url_id;
	char *url;
};

struct ingest_job {
	enum ingest_kind kind;
	int64_t feed_id;
	uint64_t poll; /* the loop's number for the poll it belongs to */

	/*
	 * INGEST_PARSE. A large body comes in pieces as it arrives: more
	 * set on all but the last, whose result alone comes back; abort
	 * drops what the pieces before it began (the transfer failed).
	 */
	size_t url_index;
	char *body;
	size_t len;
	bool more;
	bool abort;
	struct gz_feed *feed; /* parsed, on its way to the merge */
	char **urls;          /* the feed's URLs, primary first: for prep */
	size_t n_urls;
	struct store_merge_prep *prep; /* its identities, from the parser */
	size_t prep_bytes;             /* what they cost the queue's bound */
	char *base_url;
	char *content_type;
	struct store_attempt
	        served; /* recorded with the merge (strings ours) */
	int64_t now;

	/* INGEST_SAVE */
	struct store_attempt *attempts; /* strings ours */
	size_t n_attempts;
	struct store_feed sched; /* id and the scheduling fields only */
	char *disable;           /* disable the feed, saying why */
	struct ingest_move *moves;
	size_t n_moves;
	char **suggest; /* suggested mirrors: URL and source */
	char **suggest_src;
	size_t n_suggest;

	/* INGEST_PURGE: the rules (owned: config_purge_rules_clear) */
	struct store_purge_rules purge;
	struct store_purge_counts purged; /* what went */

	/* INGEST_PARSE from a mirror: the diverged guard's inputs */
	bool check_diverged;
	int64_t url_id;
	char *to_host;         /* the primary's host */
	char **from_hosts;     /* the mirrors' hosts, NULL-terminated */
	struct poll_summary d; /* the poll's outcome, carried back */

	/* the result */
	int error;     /* PARSE: -errno, the document is no feed to merge */
	char *message; /* what was wrong with it, for the URL's status */
	bool is_feed;
	bool wrote;    /* it wrote to the store (committed, unless lost) */
	bool lost;     /* the commit failed: none of it is stored */
	bool moved;    /* a URL of the feed changed */
	bool diverged; /* PARSE: a mirror that shares no story: not merged */
	struct store_merge_result merged;
	int64_t hint; /* the feed's own interval hint, seconds */

	TAILQ_ENTRY(ingest_job) link;
};

TAILQ_HEAD(ingest_list, ingest_job);

/* A new job (zeroed). */
struct ingest_job *ingest_job_new(enum ingest_kind kind, int64_t feed_id,
                                  uint64_t poll);
/* Free a job and all it owns; NULL is fine. */
void ingest_job_free(struct ingest_job *j);

/*
 * Start the thread on its own connection to the store at db_path
 * (store_open flags), with a queue of max_bytes body bytes. db_name
 * names the database in messages; index_idle: fill the full-text index
 * when idle (a daemon; not a poll run once, which leaves it to the next
 * search). instance: the daemon's in a shared store (store_lease_*),
 * whose lease of a feed the save of its poll gives back; NULL: none.
 * NULL with *ret_err when the store does not open there.
 */
struct ingest *ingest_new(const char *db_path, unsigned flags,
                          const char *db_name, size_t max_bytes,
                          int64_t index_lag, bool index_idle,
                          const char *instance, char **ret_err);
/*
 * Stop: the job in hand is finished and committed; queued jobs are done
 * too when drain, else dropped (nothing of them was written, so their
 * feeds are polled again on the next start). Results not collected are
 * freed. NULL is fine.
 */
void ingest_free(struct ingest *g, bool drain);

/* Change the limits (a reload). */
void ingest_set_limits(struct ingest *g, size_t max_bytes, int64_t index_lag);

/* Hand a job over. The loop checks ingest_full() before fetching more. */
void ingest_submit(struct ingest *g, struct ingest_job *j);
/* Whether the queued bodies fill the queue. */
bool ingest_full(struct ingest *g);
/* Body bytes queued and jobs queued or in hand, for status. */
void ingest_load(struct ingest *g, size_t *ret_bytes, size_t *ret_jobs);

/* The fd that becomes readable when results (or room) are there. */
int ingest_fd(const struct ingest *g);
/* Move every finished job into *out (in order), clearing the fd. */
void ingest_collect(struct ingest *g, struct ingest_list *out);

#endif
