/* The scheduler's arithmetic and its min-heap of feeds by due time. */
#include <stdint.h>
#include <stdlib.h>

#include "gazette/xalloc.h"
#include "sched.h"

/* The larger of a and b. */
static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Delay after a poll that served. */
int64_t
sched_ok_delay(const struct sched_params *p, int64_t interval, int64_t hint,
               int64_t max_age)
{
	int64_t h = max64(hint, max_age), d = interval;

	if (h > SCHED_HINT_CAP)
		h = SCHED_HINT_CAP;
	d = max64(d, h);
	return max64(d, max64(p->min_interval, 1));
}

/* Delay after the errors-th failure in a row, with jitter. */
int64_t
sched_backoff(const struct sched_params *p, int64_t interval, int errors,
              uint32_t rnd)
{
	int64_t d = max64(interval, 1), cap = max64(p->max_backoff, 1);
	int i;

	if (d > cap)
		d = cap;
	for (i = 1; i < errors && d < cap; i++)
		d = d > cap / 2 ? cap : d * 2;
	/* Jitter: take away up to a quarter, so failing feeds spread out. */
	d -= (int64_t)((double)(d / 4) * ((double)rnd / UINT32_MAX));
	return max64(d, max64(p->min_interval, 1));
}

/* A Retry-After time, within bounds. */
int64_t
sched_retry_after(int64_t now, int64_t retry_after)
{
	if (retry_after > now + SCHED_RETRY_AFTER_CAP)
		return now + SCHED_RETRY_AFTER_CAP;
	return retry_after;
}

/* Swap two heap slots, keeping their indexes right. */
static void
swap(struct sched_heap *h, size_t a, size_t b)
{
	struct sched_node *t = h->v[a];

	h->v[a] = h->v[b];
	h->v[b] = t;
	h->v[a]->idx = a;
	h->v[b]->idx = b;
}

/* Move slot i up while it is earlier than its parent. */
static void
up(struct sched_heap *h, size_t i)
{
	while (i > 0 && h->v[(i - 1) / 2]->due > h->v[i]->due) {
		swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/* Move slot i down while a child is earlier. */
static void
down(struct sched_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && h->v[l]->due < h->v[m]->due)
			m = l;
		if (r < h->n && h->v[r]->due < h->v[m]->due)
			m = r;
		if (m == i)
			return;
		swap(h, i, m);
		i = m;
	}
}

/* An empty heap. */
void
sched_heap_init(struct sched_heap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
}

/* Free the heap's array (not the nodes). */
void
sched_heap_clear(struct sched_heap *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		h->v[i]->idx = SIZE_MAX;
	free(h->v);
	sched_heap_init(h);
}

/* Insert n at due, or move it there. */
void
sched_heap_set(struct sched_heap *h, struct sched_node *n, int64_t due)
{
	if (n->idx != SIZE_MAX && n->idx < h->n && h->v[n->idx] == n) {
		int64_t old = n->due;

		n->due = due;
		if (due < old)
			up(h, n->idx);
		else
			down(h, n->idx);
		return;
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
	}
	n->due = due;
	n->idx = h->n;
	h->v[h->n++] = n;
	up(h, n->idx);
}

/* Take n out of the heap, if it is in. */
void
sched_heap_remove(struct sched_heap *h, struct sched_node *n)
{
	size_t i = n->idx;

	if (i == SIZE_MAX || i >= h->n || h->v[i] != n)
		return;
	h->n--;
	if (i != h->n) {
		h->v[i] = h->v[h->n];
		h->v[i]->idx = i;
		up(h, i);
		down(h, h->v[i]->idx);
	}
	n->idx = SIZE_MAX;
}

/* The earliest node. */
struct sched_node *
sched_heap_top(const struct sched_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

/* Remove and return the earliest node. */
struct sched_node *
sched_heap_pop(struct sched_heap *h)
{
	struct sched_node *n = sched_heap_top(h);

	if (n)
		sched_heap_remove(h, n);
	return n;
}
