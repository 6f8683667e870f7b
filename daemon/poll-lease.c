/*
 * Several daemons on one store (PostgreSQL): the feeds the timer finds
 * due are leased in one statement before any is polled, as many as this
 * daemon is about to poll (a window of twice max-connections), so that
 * the daemons share a round rather than the first taking it all; those
 * another daemon polled or holds are put back in the heap at the time
 * the store gives (their new next_poll, or the end of the other's
 * lease). While
 * leases are held, a heartbeat every third of lease-time extends them;
 * with none held and nothing polling, no timer runs. On SQLite none of
 * this is used: one daemon per store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "gazette/config.h"
#include "gazette/log.h"
#include "gazette/xalloc.h"
#include "poll-internal.h"

#define LEASE_RETRY_S 5 /* after the store failed to lease */

/* The heartbeat's period: a third of the lease. */
static struct timeval
beat_period(const struct poller *p)
{
	int64_t t = p->cfg->lease_time / 3;
	struct timeval tv = {(time_t)(t > 0 ? t : 1), 0};

	return tv;
}

/* The heartbeat: extend our leases; stop when none is held. */
static void
beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poller *p = arg;
	struct timeval tv = beat_period(p);
	int n;

	(void)fd;
	(void)what;
	n = store_lease_heartbeat(p->store, poll_now(), p->cfg->lease_time);
	if (n < 0)
		log_warn("cannot renew the leases in '%s': %s",
		         p->db_name ? p->db_name : store_path(p->store),
		         store_errmsg(p->store));
	if (n == 0 && p->inflight == 0) {
		p->beating = false;
		return;
	}
	evtimer_add(&p->lease_timer, &tv);
}

/* Start the heartbeat unless it runs. */
static void
beat_start(struct poller *p)
{
	struct timeval tv = beat_period(p);

	if (p->beating)
		return;
	p->beating = true;
	/* The daemon's row says it is alive again (idle, it stays still). */
	if (store_lease_heartbeat(p->store, poll_now(), p->cfg->lease_time) < 0)
		log_warn("cannot renew the leases in '%s': %s",
		         p->db_name ? p->db_name : store_path(p->store),
		         store_errmsg(p->store));
	evtimer_add(&p->lease_timer, &tv);
}

/* Set up leasing when the store is shared and registered. */
void
poll_lease_init(struct poller *p)
{
	p->shared = !p->once && store_lease_shared(p->store) &&
	            store_lease_instance(p->store) != NULL;
	evtimer_assign(&p->lease_timer, p->base, beat_cb, p);
}

/* Stop the heartbeat. */
void
poll_lease_stop(struct poller *p)
{
	evtimer_del(&p->lease_timer);
	p->beating = false;
}

/* Compare ids for bsearch/qsort. */
static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Compare lease states by id. */
static int
cmp_state(const void *a, const void *b)
{
	return cmp_id(&((const struct store_lease_state *)a)->id,
	              &((const struct store_lease_state *)b)->id);
}

/*
 * Put the feeds we did not get back in the heap where the store says:
 * their next poll (another daemon polled them), or just after the lease
 * another holds ends.
 */
static void
not_leased(struct poller *p, struct pfeed **v, size_t n, int64_t now)
{
	struct store_lease_state *st = NULL;
	int64_t *ids = xcalloc(n, sizeof(*ids));
	size_t ns = 0, i;

	for (i = 0; i < n; i++)
		ids[i] = v[i]->sf->id;
	if (store_lease_where(p->store, ids, n, &st, &ns) < 0) {
		log_warn("cannot read the leases in '%s': %s",
		         p->db_name ? p->db_name : store_path(p->store),
		         store_errmsg(p->store));
		ns = 0;
	}
	if (ns > 0)
		qsort(st, ns, sizeof(*st), cmp_state);
	for (i = 0; i < n; i++) {
		struct pfeed *pf = v[i];
		struct store_lease_state key = {.id = pf->sf->id};
		const struct store_lease_state *s =
		        ns ? bsearch(&key, st, ns, sizeof(*st), cmp_state)
		           : NULL;

		pf->not_before = now + LEASE_RETRY_S;
		if (s && s->disabled) {
			pf->sf->disabled = true; /* until the next reread */
		} else if (s) {
			pf->sf->next_poll = s->next_poll;
			pf->sf->retry_after = s->retry_after;
			/* Held elsewhere (or by our save): until it ends. */
			pf->not_before = s->lease_until >= now
			                         ? s->lease_until + 1
			                         : now + 1;
			if (s->next_poll > now || s->retry_after > now)
				pf->not_before = 0;
		}
		poll_feed_schedule(pf);
	}
	free(st);
	free(ids);
}

/*
 * How many more polls to lease now: the window less the polls running,
 * but none until half of it is free (one statement per lease, not per
 * poll that ends).
 */
size_t
poll_lease_room(const struct poller *p)
{
	int window = 2 * p->cfg->max_connections + 16;
	int room = window - p->polling;

	if (room <= 0 || (p->polling > 0 && room < window / 2))
		return 0;
	return (size_t)room;
}

/*
 * The feeds v[0..n) are due: lease what the window takes, begin those
 * we got; when the store had no more for us, reschedule the others
 * where it says, else they wait in the heap for room.
 */
void
poll_lease_begin(struct poller *p, struct pfeed **v, size_t n)
{
	int64_t now = poll_now(), *ids, *got = NULL;
	size_t ngot = 0, nlost = 0, room = poll_lease_room(p), i;
	struct pfeed **lost;

	if (n == 0)
		return;
	if (room == 0) {
		for (i = 0; i < n; i++)
			poll_feed_schedule(v[i]);
		return;
	}
	ids = xcalloc(n, sizeof(*ids));
	for (i = 0; i < n; i++)
		ids[i] = v[i]->sf->id;
	if (store_lease_take(p->store, ids, n, room, now, p->cfg->lease_time,
	                     &got, &ngot) < 0) {
		log_warn("cannot lease %zu due feeds in '%s': %s; trying "
		         "again in %ds",
		         n, p->db_name ? p->db_name : store_path(p->store),
		         store_errmsg(p->store), LEASE_RETRY_S);
		for (i = 0; i < n; i++) {
			v[i]->not_before = now + LEASE_RETRY_S;
			poll_feed_schedule(v[i]);
		}
		free(ids);
		return;
	}
	free(ids);
	qsort(got, ngot, sizeof(*got), cmp_id);
	lost = xcalloc(n, sizeof(*lost));
	for (i = 0; i < n; i++) {
		struct pfeed *pf = v[i];

		if (bsearch(&pf->sf->id, got, ngot, sizeof(*got), cmp_id)) {
			pf->not_before = 0;
			poll_begin(pf);
		} else {
			lost[nlost++] = pf;
		}
	}
	if (ngot > 0)
		beat_start(p);
	if (nlost > 0 && ngot == room) {
		/* The window is full: the rest wait for room, still due. */
		for (i = 0; i < nlost; i++)
			poll_feed_schedule(lost[i]);
	} else if (nlost > 0) {
		log_debug("%zu of %zu due feeds are another daemon's", nlost,
		          n);
		not_leased(p, lost, nlost, now);
	}
	free(lost);
	free(got);
}
