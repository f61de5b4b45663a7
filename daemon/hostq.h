/* Politeness to the hosts pages come from: per host, at most host_concurrency transfers
 * at once, host_spacing between two starts, waiting transfers served first come first
 * served, and a pause for the whole host when it asks for one (429, 503, Retry-After). */
#ifndef RATD_HOSTQ_H
#define RATD_HOSTQ_H

#include <ev.h>
#include <stdbool.h>

struct hostq;
struct hostq_host;
struct hostq_item;

/* Called from the loop (never from inside hostq_enter) when the item's turn has come:
 * it holds one of its host's slots until hostq_leave. */
typedef void hostq_go_fn(struct hostq_item *it);

/* Embedded in what waits (a fetch); all zero before hostq_enter. */
struct hostq_item {
	struct hostq_host *host;      /* NULL when not entered or already left */
	hostq_go_fn *go;
	bool active;                  /* its turn came: it holds a slot */
	bool asked;                   /* an operator's: set before hostq_enter, it does not
	                               * wait out a pause (hostq_hold), only spacing and slots */
	struct hostq_item *next, *prev;
};

/* NULL on out-of-memory. Limits default to 2 at once, 1 s apart. */
struct hostq *hostq_new(struct ev_loop *loop);
/* Every item must have left. */
void hostq_free(struct hostq *q);
/* concurrency >= 1, spacing >= 0 seconds; applies to the next starts. */
void hostq_set_limits(struct hostq *q, int concurrency, double spacing);
/* Puts it at the end of host's queue (host compared without regard to ASCII case).
 * 0, or -1 on out-of-memory (it is then not entered). */
int hostq_enter(struct hostq *q, struct hostq_item *it, const char *host, hostq_go_fn *go);
/* Takes it out: a waiting item loses its place, an active one frees its slot. Does
 * nothing for an item not entered. */
void hostq_leave(struct hostq_item *it);
/* No transfer to it's host starts in the next seconds (a longer pause already set
 * stays). */
void hostq_hold(struct hostq_item *it, double seconds);
/* it, waiting, becomes an operator's (asked): a pause no longer holds it back. */
void hostq_ask(struct hostq_item *it);
/* Transfers waiting for their turn, all hosts together. */
unsigned hostq_waiting(const struct hostq *q);

#endif
