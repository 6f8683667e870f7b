/*
 * Polling feeds: what gazetted does, offered to the CLI as well.
 *
 * How the CLI uses it (link with poller_dep from daemon/meson.build):
 *
 *   gazette poll [FEED]   First ask the daemon: ctl_request(socket, "poll",
 *                         id_or_NULL, ...) from gazette/ctl.h. When that
 *                         returns -ENOENT or -ECONNREFUSED no daemon runs:
 *                         then poll in-process with
 *                           struct poll_summary sum;
 *                           r = poll_once(cfg, store, feed_id_or_0, &sum,
 *                                         &err);
 *                         which is exactly `gazetted --once` (the same
 *                         code, limits and store updates), blocking until
 *                         every selected feed has been polled. The store
 *                         must be open read-write; config feeds are NOT
 *                         synced by poll_once (call store_config_sync
 *                         first if you want that).
 *
 *   gazette add URL       poll_fetch_url(cfg, url, NULL, &got, &err)
 *                         fetches one URL with the daemon's limits and
 *                         manners (size cap, timeouts, http/https only,
 *                         5 redirects) and returns the body, Content-Type,
 *                         the final URL and the status. Parse it with
 *                         gz_parse_buffer(); when it is not a feed (an
 *                         HTML page), look for <link rel="alternate"> in
 *                         got.body, resolve against got.final_url, and
 *                         fetch that. poll_fetched_clear(&got) after.
 *
 * Neither prints anything; errors come back as -errno and *ret_err.
 * The daemon itself uses the poller_* functions below on its event base.
 */
#ifndef GAZETTE_DAEMON_POLL_H
#define GAZETTE_DAEMON_POLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct event_base;
struct poller;

struct poll_summary {
	int feeds;        /* polls made */
	int ok;           /* served with a feed (200) */
	int not_modified; /* served with 304 */
	int failed;       /* every URL failed */
	int skipped;      /* disabled, or Retry-After not yet passed */
	int new_stories;
	int updated_stories;
	bool network_down; /* every poll failed with network errors */
};

/*
 * Poll feed_id (0: every enabled feed) once, now, blocking; fill *ret.
 * Returns 0 (even when feeds failed: see the summary), -ENOENT when
 * feed_id is not a feed, or another -errno with *ret_err.
 */
int poll_once(const struct config *cfg, struct store *s, int64_t feed_id,
              struct poll_summary *ret, char **ret_err);

/* One URL fetched whole (for `gazette add`). */
struct poll_fetched {
	int status;         /* final HTTP status, 0 when none came */
	char *content_type; /* NULL when none */
	char *final_url;    /* after redirects */
	char *body;         /* NUL-terminated, at most max-feed-size */
	size_t len;
};

/*
 * GET url (through proxy when not NULL) with the configured limits.
 * 0 when a response came (any status: look at ret->status); -EIO etc.
 * with *ret_err saying what failed (DNS, connect, timeout, too big),
 * without the URL: the caller names it.
 */
int poll_fetch_url(const struct config *cfg, const char *url, const char *proxy,
                   struct poll_fetched *ret, char **ret_err);
void poll_fetched_clear(struct poll_fetched *f);

/* ---- the daemon's poller ---- */

/* Called when the feeds a poller_poll_now() asked for are all done. */
typedef void (*poller_done_fn)(const struct poll_summary *sum, void *arg);

/*
 * A poller on base. once: poll the feeds asked for and go idle (no
 * schedule); otherwise every enabled feed is polled when due.
 */
struct poller *poller_new(struct event_base *base, const struct config *cfg,
                          struct store *s, bool once);
/* Cancel every transfer (nothing half-written) and free. NULL is fine. */
void poller_free(struct poller *p);

/* Use cfg from now on (it must outlive the poller or the next call). */
void poller_set_config(struct poller *p, const struct config *cfg);

/* The database's file name, for messages about failed writes; copied. */
void poller_set_db_name(struct poller *p, const char *name);

/* (Re)read the subscriptions from the store: new, changed, removed. */
int poller_load(struct poller *p);

/* Commit the polls saved so far (the group commit), before other writes. */
void poller_save(struct poller *p);

/*
 * Poll feed_id (0: all enabled) now; fn(arg) when they are done (fn may
 * be NULL). Returns how many polls were started or joined, or -ENOENT.
 */
int poller_poll_now(struct poller *p, int64_t feed_id, poller_done_fn fn,
                    void *arg);
/* Forget a waiter (its client went away) before fn is called. */
void poller_forget(struct poller *p, void *arg);

/*
 * Retention: hand a purge by the configuration's rules to the ingest
 * thread, which runs it between merges on its own connection. Not idle
 * until it is done; what went is logged.
 */
void poller_purge(struct poller *p);

/* Called whenever nothing is in flight or queued (for --once). */
void poller_on_idle(struct poller *p, void (*fn)(void *arg), void *arg);
bool poller_idle(const struct poller *p);

/* The summary since start. */
const struct poll_summary *poller_totals(const struct poller *p);

/* A human-readable status, one "key: value" per line (caller frees). */
char *poller_status(const struct poller *p);

#endif
