/* What the daemon's modules share: the loop, the configuration in force, the fetcher,
 * the parser, the treaties and the journal. Its owner (ratd.c) sets it up and hears
 * through two callbacks; the modules that use it (treaty, alert, status, metrics,
 * publish, control) never call their owner. */
#ifndef RATD_CORE_H
#define RATD_CORE_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "date.h"
#include "event.h"
#include "journal.h"

struct conf;
struct fetcher;
struct parser;
struct treaty;

struct core {
	struct ev_loop *loop;
	struct conf *conf;            /* the configuration in force */
	struct fetcher *fetcher;
	struct parser *parser;        /* pages are parsed in its child */
	struct treaty **treaties;     /* one per [treaty] section, in config order */
	size_t ntreaties;
	struct journal journal;
	uint64_t generation;          /* bumped by anything a status reply shows */
	uint64_t rng;                 /* xorshift state for jitter */
	bool once;                    /* --once: fetch each treaty once, no timers */
	/* Set by the owner. touched: after generation moved (the metrics textfile is due).
	 * commit: numbered events to journal, then hand to the sinks and the watchers. */
	void (*touched)(void *owner);
	void (*commit)(void *owner, const struct event_list *evs);
	void *owner;
};

/* Uniform in [0, 1). */
double core_random(struct core *c);
/* The calendar date at now where days begin: day_zone, UTC by default. */
day_t core_today(const struct core *c, time_t now);
/* Something a status reply shows has changed: cached replies are stale, the owner
 * hears of it. */
void core_touch(struct core *c);
/* Gives evs the next event ids; they are never given again, even if unused. */
void core_number_events(struct core *c, struct event_list *evs);
/* Hands numbered events to the owner's commit callback (journal, then delivery). */
void core_commit(struct core *c, const struct event_list *evs);

#endif
