/*
 * The scheduler's arithmetic and its queue: when a feed is polled next
 * (interval, hints, floor, backoff with jitter, Retry-After), and a
 * min-heap of feeds by that time so that one timer serves them all.
 */
#ifndef GAZETTE_DAEMON_SCHED_H
#define GAZETTE_DAEMON_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* Hints (ttl, sy:updatePeriod, max-age) raise the interval at most to
 * this, unless the interval itself is longer. */
#define SCHED_HINT_CAP (86400)
/* A Retry-After further away than this is held to it. */
#define SCHED_RETRY_AFTER_CAP (7 * 86400)

struct sched_params {
	int64_t min_interval; /* the floor of every delay */
	int64_t max_backoff;  /* the cap of error backoff */
};

/*
 * Delay after a poll that served: the interval raised by the largest
 * hint (each 0 or negative when absent), capped, and never below the
 * floor.
 */
int64_t sched_ok_delay(const struct sched_params *p, int64_t interval,
                       int64_t hint, int64_t max_age);

/*
 * Delay after the errors-th failed poll in a row (errors >= 1): the
 * interval doubled per error up to max_backoff, less up to a quarter
 * of jitter (rnd uniform over uint32), never below the floor nor the
 * interval's own floor.
 */
int64_t sched_backoff(const struct sched_params *p, int64_t interval,
                      int errors, uint32_t rnd);

/* A Retry-After time, held within SCHED_RETRY_AFTER_CAP of now. */
int64_t sched_retry_after(int64_t now, int64_t retry_after);

/* A place in the heap; embed it in what is scheduled. */
struct sched_node {
	int64_t due;
	size_t idx; /* SIZE_MAX when not in the heap */
};

struct sched_heap {
	struct sched_node **v;
	size_t n, cap;
};

void sched_heap_init(struct sched_heap *h);
void sched_heap_clear(struct sched_heap *h);
/* Insert, or move when already in, to its due time. */
void sched_heap_set(struct sched_heap *h, struct sched_node *n, int64_t due);
void sched_heap_remove(struct sched_heap *h, struct sched_node *n);
/* The earliest, or NULL. */
struct sched_node *sched_heap_top(const struct sched_heap *h);
/* Remove and return the earliest, or NULL. */
struct sched_node *sched_heap_pop(struct sched_heap *h);

#endif
