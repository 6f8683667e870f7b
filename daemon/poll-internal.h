/*
 * What the poller's files share (poll.h is the API):
 *
 *   poll.c         the poller object, its API, waiters and the summary
 *   poll-sched.c   when a feed is due, the one timer, a poll's begin and
 *                  its end: the schedule arithmetic, failover order,
 *                  network-down holds, redirects
 *   poll-xfer.c    transfers: global and per-host limits, the stalled
 *                  pool, the walk through a feed's URLs, fetching one URL
 *   poll-ingest.c  the loop's side of the ingest thread: bodies out,
 *                  parse results back (failover on "not a feed"), saves
 *   poll-lease.c   a store several daemons share (PostgreSQL): due feeds
 *                  leased before they are polled, the heartbeat
 *
 * Everything here runs on the loop thread; the ingest thread sees only
 * the jobs handed to it (ingest.h).
 */
#ifndef GAZETTE_DAEMON_POLL_INTERNAL_H
#define GAZETTE_DAEMON_POLL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "fetch.h"
#include "gazette/store.h"
#include "ingest.h"
#include "mirror.h"
#include "poll.h"
#include "sched.h"

#define HOST_BUCKETS 1024
#define MAX_WAITERS  64
#define INGEST_PIECE (1024 * 1024) /* a larger body goes over in pieces */

struct pfeed;

/* One host's transfers: how many run, and the feeds waiting for it. */
struct host {
	char *name;
	int active;
	bool runnable; /* on the poller's runnable list */
	TAILQ_HEAD(, pfeed) waitq;
	TAILQ_ENTRY(host) run_link;
	struct host *next; /* hash chain */
};

/* One URL tried in a poll, to be recorded when the poll is over. */
struct attempt {
	size_t url_idx;
	int64_t when;
	int status;
	char *error;
	char *etag;
	char *last_modified;
	char *redirect;
	bool network;     /* failed before any HTTP response (DNS, connect) */
	bool recorded;    /* saved with its merge by the ingest thread */
	char *kind;       /* failure kind (mirror_kind_name), NULL served */
	char *ip;         /* the address it reached */
	char *via;        /* "proxy URL", "doh URL", "pinned ADDRESS", NULL */
	char *good_addrs; /* the URL's remembered addresses after it served */
	bool pinned;      /* made at a remembered address */
	bool challenge;   /* its 2xx body looked like a challenge page */
	char *content_type;
};

/* A subscription as the poller keeps it. */
struct pfeed {
	struct poller *p;
	struct store_feed *sf;
	struct store_feed *pending_sf; /* newer row, applied when idle */
	struct sched_node node;
	bool busy;
	int saving; /* polls handed to the ingest thread, not yet saved */
	int64_t not_before; /* another daemon's lease: not polled before */
	bool held; /* failed with network errors; counted later or never */
	int64_t held_since;

	/* the poll in progress */
	uint64_t poll_no; /* its number, which its jobs carry */
	int64_t started;
	size_t *order, n_order, pos;
	struct host *host; /* host of the current URL */
	bool waiting;      /* in host->waitq */
	TAILQ_ENTRY(pfeed) wait_link;
	TAILQ_ENTRY(pfeed) held_link;
	struct fetch_xfer *xfer;
	bool slow;    /* xfer stalled: counted in p->slow, not p->active */
	bool stalled; /* xfer stalled, waiting in p->stalled for the pool */
	TAILQ_ENTRY(pfeed) stall_link;
	char *body; /* what the current transfer has delivered */
	size_t len, cap;
	bool parsing;   /* the body is with the ingest thread */
	bool streaming; /* pieces of it are (INGEST_PIECE bytes each) */
	bool paused;    /* the queue was full: in p->paused */
	struct mirror_sniff *sniff; /* the start of the current body */
	char *pin;                  /* the next attempt: at this address */
	char **suggest;             /* mirrors the responses named */
	char **suggest_src;
	size_t n_suggest;
	TAILQ_ENTRY(pfeed) pause_link;
	struct attempt *attempts;
	size_t n_attempts;
	int64_t retry_after;
	int64_t max_age;
	bool gone; /* a 410 came */
};

/* A poller_poll_now() caller waiting for its feeds. */
struct waiter {
	poller_done_fn fn;
	void *arg;
	int64_t *ids; /* sorted */
	bool *done;
	size_t n_ids, remaining;
	struct poll_summary sum;
};

struct poller {
	struct event_base *base;
	const struct config *cfg;
	struct store *store; /* the loop's: feeds read, never stories */
	char *db_name;       /* for messages; NULL: not said */
	struct fetch *fetch;
	struct ingest *ingest;
	struct event ingest_ev; /* results from the ingest thread */
	bool once;
	struct event timer;
	uint64_t polls; /* numbers given to polls */
	bool shared;    /* the store is shared: feeds are leased first */
	int polling;    /* polls begun and not finished */
	bool beating;   /* the lease heartbeat is armed */
	struct event lease_timer;

	struct pfeed **feeds; /* sorted by id */
	size_t n_feeds;
	struct sched_heap heap;

	struct host *hosts[HOST_BUCKETS];
	TAILQ_HEAD(, host) runnable;
	TAILQ_HEAD(, pfeed) held;
	size_t n_held;
	int active;                  /* transfers running, but the slow ones */
	int slow;                    /* stalled transfers moved out of active */
	TAILQ_HEAD(, pfeed) stalled; /* stalled, the slow pool full */
	TAILQ_HEAD(, pfeed) paused;  /* transfers waiting for queue room */
	int inflight;                /* polls begun and not saved */
	int purging;                 /* purges handed over, not done */
	int64_t last_response;       /* last time any HTTP response came */
	bool network_down;

	struct waiter *waiters[MAX_WAITERS];
	size_t n_waiters;
	void (*idle_fn)(void *);
	void *idle_arg;

	struct poll_summary totals;
	struct poll_summary round; /* of the current --once run */
	int64_t round_start;
};

/* A poll's outcome as poll_finish takes it. */
struct poll_served {
	bool not_modified;
	bool have_feed; /* a document was parsed and merged */
	bool lost;      /* ... but not stored */
	struct store_merge_result merged;
	int64_t hint;
};

/* ---- poll.c ---- */
int64_t poll_now(void);
struct pfeed *poll_feed_find(const struct poller *p, int64_t id,
                             size_t *ret_pos);
/* A poll's outcome is saved: count it, tell the waiters. */
void poll_account(struct poller *p, int64_t id, const struct poll_summary *d);
/* Call the idle callback when nothing is in flight. */
void poll_check_idle(struct poller *p);

/* ---- poll-sched.c ---- */
struct sched_params poll_params(const struct poller *p);
int64_t poll_feed_interval(const struct pfeed *pf);
void poll_feed_schedule(struct pfeed *pf);
void poll_arm_timer(struct poller *p);
void poll_timer_cb(evutil_socket_t fd, short what, void *arg);
void poll_begin(struct pfeed *pf);
/* served: the URL index that served, -1 none; sv what it gave. */
void poll_finish(struct pfeed *pf, ssize_t served,
                 const struct poll_served *sv);
void poll_held_flush(struct poller *p, int64_t now);
void poll_held_drop(struct poller *p);
void poll_schedule_copy(struct store_feed *to, const struct store_feed *from);

/* ---- poll-xfer.c ---- */
struct fetch_opts poll_fetch_opts(const struct config *c);
/* The lower-cased host of url, or "" (newly allocated). */
char *poll_host_of(const char *url);
void poll_attempt_next(struct pfeed *pf);
void poll_pump(struct poller *p);
/* Forget the poll in progress (transfer, body, attempts). */
void poll_reset(struct pfeed *pf);
void poll_hosts_free(struct poller *p);
/* Resume the transfers paused for room in the ingest queue. */
void poll_resume(struct poller *p);
/* The next URL of the poll, or the poll's end when none is left. */
void poll_failover(struct pfeed *pf);
/*
 * After the last attempt failed with kind: try the same URL again at its
 * remembered address when mirror_should_pin says so. Whether it does.
 */
bool poll_retry_pinned(struct pfeed *pf, enum mirror_kind kind,
                       const char *served_ip);

/* ---- poll-lease.c ---- */
/* Lease when the store is shared (and this daemon registered in it). */
void poll_lease_init(struct poller *p);
void poll_lease_stop(struct poller *p);
/* How many more polls may be leased now (0: wait for room). */
size_t poll_lease_room(const struct poller *p);
/* Lease the due feeds v[0..n), begin those leased, reschedule the rest. */
void poll_lease_begin(struct poller *p, struct pfeed **v, size_t n);

/* ---- poll-ingest.c ---- */
/*
 * A 2xx body is there: hand it to the ingest thread (more: a piece of it,
 * more to come; the last call, without more, gets the answer).
 */
void poll_ingest_body(struct pfeed *pf, const char *content_type,
                      const char *base_url, bool more);
/* The transfer whose pieces went over failed: drop them there. */
void poll_ingest_abort(struct pfeed *pf);
/* Hand over what a finished poll leaves to write. */
void poll_ingest_save(struct pfeed *pf, struct ingest_job *j);
/* Save a feed's schedule alone (a held failure counted after all). */
void poll_ingest_schedule(struct pfeed *pf);
/* The ingest thread's fd is readable. */
void poll_ingest_cb(evutil_socket_t fd, short what, void *arg);

#endif
