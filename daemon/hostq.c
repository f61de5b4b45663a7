/* Per-host queues of page transfers: how many at once, how far apart, and pauses. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostq.h"

struct hostq_host {
	struct hostq *q;
	char *name;
	int active;                   /* items holding a slot */
	struct hostq_item *head, *tail;   /* waiting, oldest first */
	ev_tstamp last_start;         /* 0 before the first */
	ev_tstamp hold_until;         /* no start before this */
	ev_timer timer;               /* the next start, or the host's end once idle */
	struct hostq_host *next;
};

struct hostq {
	struct ev_loop *loop;
	int concurrency;
	double spacing;
	unsigned waiting;
	struct hostq_host *hosts;
};

struct hostq *
hostq_new(struct ev_loop *loop)
{
	struct hostq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->loop = loop;
	q->concurrency = 2;
	q->spacing = 1;
	return q;
}

static void
hostq_host_free(struct hostq_host *h)
{
	struct hostq_host **pp;

	for (pp = &h->q->hosts; *pp != h; pp = &(*pp)->next)
		;
	*pp = h->next;
	ev_timer_stop(h->q->loop, &h->timer);
	free(h->name);
	free(h);
}

void
hostq_free(struct hostq *q)
{
	if (q == NULL)
		return;
	while (q->hosts != NULL)
		hostq_host_free(q->hosts);
	free(q);
}

void
hostq_set_limits(struct hostq *q, int concurrency, double spacing)
{
	q->concurrency = concurrency < 1 ? 1 : concurrency;
	q->spacing = spacing < 0 ? 0 : spacing;
}

unsigned
hostq_waiting(const struct hostq *q)
{
	return q->waiting;
}

/* Runs the host's timer after delay seconds (0: on the loop's next turn). */
static void
hostq_arm(struct hostq_host *h, ev_tstamp delay)
{
	ev_timer_stop(h->q->loop, &h->timer);
	ev_timer_set(&h->timer, delay > 0 ? delay : 0., 0.);
	ev_timer_start(h->q->loop, &h->timer);
}

/* The earliest time the next transfer to h may start, a pause included or not. */
static ev_tstamp
hostq_next_start(const struct hostq_host *h, bool held)
{
	ev_tstamp t = h->last_start > 0 ? h->last_start + h->q->spacing : 0;

	return held && h->hold_until > t ? h->hold_until : t;
}

/* The first waiting item a pause does not hold back, or NULL. */
static struct hostq_item *
hostq_first_asked(const struct hostq_host *h)
{
	struct hostq_item *it;

	for (it = h->head; it != NULL && !it->asked; it = it->next)
		;
	return it;
}

static void
hostq_unlink(struct hostq_item *it)
{
	struct hostq_host *h = it->host;

	if (it->prev != NULL)
		it->prev->next = it->next;
	else
		h->head = it->next;
	if (it->next != NULL)
		it->next->prev = it->prev;
	else
		h->tail = it->prev;
	it->next = it->prev = NULL;
	h->q->waiting--;
}

/* Starts what may start now; otherwise arms the timer for when it may. An idle host is
 * kept until its spacing and any pause are over, then forgotten. */
static void
hostq_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hostq_host *h = w->data;
	struct hostq_item *it = h->head;
	ev_tstamp now = ev_now(loop), at = hostq_next_start(h, true);

	(void)revents;
	if (it == NULL) {
		if (h->active == 0 && at <= now)
			hostq_host_free(h);
		else if (h->active == 0)
			hostq_arm(h, at - now);
		return;
	}
	if (h->active >= h->q->concurrency)
		return;         /* hostq_leave rearms when a slot frees */
	/* During a pause, only what an operator asked for goes, in its turn. */
	if (at > now && (it = hostq_first_asked(h)) != NULL)
		at = hostq_next_start(h, false);
	if (at > now || it == NULL) {
		hostq_arm(h, at - now);
		return;
	}
	hostq_unlink(it);
	it->active = true;
	h->active++;
	h->last_start = now;
	/* The next one, if any, is looked at after this one has started. */
	hostq_arm(h, h->q->spacing);
	it->go(it);
}

static struct hostq_host *
hostq_host(struct hostq *q, const char *name)
{
	struct hostq_host *h;

	for (h = q->hosts; h != NULL; h = h->next)
		if (strcasecmp(h->name, name) == 0)
			return h;
	if ((h = calloc(1, sizeof(*h))) == NULL || (h->name = strdup(name)) == NULL) {
		free(h);
		return NULL;
	}
	h->q = q;
	ev_init(&h->timer, hostq_timer_cb);
	h->timer.data = h;
	h->next = q->hosts;
	q->hosts = h;
	return h;
}

int
hostq_enter(struct hostq *q, struct hostq_item *it, const char *host, hostq_go_fn *go)
{
	struct hostq_host *h;

	if ((h = hostq_host(q, host)) == NULL)
		return -1;
	it->host = h;
	it->go = go;
	it->active = false;
	it->next = NULL;
	it->prev = h->tail;
	if (h->tail != NULL)
		h->tail->next = it;
	else
		h->head = it;
	h->tail = it;
	q->waiting++;
	/* An operator's may go before the pause is over: look again now. */
	if (!ev_is_active(&h->timer) || it->asked)
		hostq_arm(h, 0);
	return 0;
}

void
hostq_leave(struct hostq_item *it)
{
	struct hostq_host *h = it->host;

	if (h == NULL)
		return;
	if (it->active) {
		h->active--;
		it->active = false;
		/* A freed slot: the timer sees what may go now, or when. */
		hostq_arm(h, 0);
	} else
		hostq_unlink(it);
	it->host = NULL;
	if (!ev_is_active(&h->timer))
		hostq_arm(h, 0);
}

void
hostq_ask(struct hostq_item *it)
{
	if (it->host == NULL || it->asked)
		return;
	it->asked = true;
	if (!it->active)
		hostq_arm(it->host, 0);
}

void
hostq_hold(struct hostq_item *it, double seconds)
{
	struct hostq_host *h = it->host;
	ev_tstamp until;

	if (h == NULL)
		return;
	until = ev_now(h->q->loop) + seconds;
	if (until > h->hold_until)
		h->hold_until = until;
	hostq_arm(h, 0);
}
