/* One tracked treaty: the fetch -> parse -> check -> commit pipeline and its schedule. */
#ifndef RATD_TREATY_H
#define RATD_TREATY_H

#include <ev.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "conf.h"
#include "snapshot.h"
#include "state.h"

struct core;
struct fetch;
struct fetch_result;
struct parser_job;

enum treaty_outcome {
	TREATY_CHANGED,
	TREATY_UNCHANGED,
	TREATY_NOT_MODIFIED,
	TREATY_REFUSED,
	TREATY_ERROR,
};
#define TREATY_OUTCOMES (TREATY_ERROR + 1)

/* Called when a fetch that was asked for ends; error is NULL on success. */
typedef void treaty_done_fn(void *arg, struct treaty *t, enum treaty_outcome o,
    const char *error);

/* What a treaty tells its owner of each fetch that ended: the outcome, the response
 * body's bytes (0 when none) and the CPU seconds its parse took (0 when none). */
struct treaty_report {
	enum treaty_outcome outcome;
	size_t bytes;
	double parse_seconds;
};
typedef void treaty_report_fn(void *owner, struct treaty *t, const struct treaty_report *r);

struct treaty_waiter {
	treaty_done_fn *fn;
	void *arg;
	struct treaty_waiter *next;
};

struct treaty {
	struct core *core;
	const struct conf_treaty *conf;
	treaty_report_fn *report;     /* the owner's, told of every fetch that ends */
	void *owner;
	struct snapshot *snap;        /* committed snapshot, the seed, or NULL */
	bool from_seed;               /* snap is the bundled seed, nothing fetched yet */
	struct source_meta meta;
	time_t next_fetch;            /* 0 when none is scheduled */
	ev_timer timer;
	struct fetch *inflight;
	struct parser_job *parsing;   /* the fetched page being parsed, or NULL */
	struct fetch_result *fetched; /* that fetch's validators, size and time (no body) */
	struct treaty_waiter *waiters;
	json_t *outbox;               /* events of the last save, as loaded at start-up */
	/* core->generation when what its status shows last changed: every such change is
	 * made by treaty.c, which notes it (treaty_touch). */
	uint64_t changed;
	/* Its status entry of one day as JSON text, built by status_treaty_text and kept
	 * while treaty_changed_at stays at key. */
	struct {
		char *text;
		size_t len;
		uint64_t key;
		day_t day;
	} status_cache;
};

/* Creates the treaty and serves what it has at once: the committed state, else the
 * seed. report (may be NULL) hears of every fetch that ends. NULL on out-of-memory.
 * Nothing is scheduled until treaty_start. */
struct treaty *treaty_new(struct core *core, const struct conf_treaty *ct,
    treaty_report_fn *report, void *owner);
/* The treaty of that id among core's, or NULL. */
struct treaty *treaty_find(const struct core *core, const char *id);
/* Cancels its fetch; waiters hear TREATY_ERROR with "treaty removed". */
void treaty_free(struct treaty *t);
/* Schedules the first fetch: soon when due, else when the interval says. */
void treaty_start(struct treaty *t);
/* Fetches now (joining a fetch in progress). fn, when not NULL, is called at the end. */
void treaty_fetch_now(struct treaty *t, treaty_done_fn *fn, void *arg);
/* Points t at a new configuration of the same id; reschedules if the interval changed. */
void treaty_reconfigure(struct treaty *t, const struct conf_treaty *ct);
/* rule_eval_after of t's rule over s at as_of, with the entry into force at as_of of the
 * treaty its after_treaty names (evaluated the same way); 0, or -1 on out-of-memory. */
int treaty_eval(const struct treaty *t, const struct snapshot *s, day_t as_of,
    struct rule_result *out);
/* The generation of the last change to anything t's status shows: t itself and the
 * treaties its after_treaty names, in turn (their dates enter its evaluation). */
uint64_t treaty_changed_at(const struct treaty *t);
/* Raises entered-into-force when today has reached the date (the daily check). */
void treaty_check_in_force(struct treaty *t);
/* The earliest day t could enter into force were every missing instrument deposited at
 * as_of: the rule's date from as_of, never before not_before, nor before the treaty it
 * waits for (after_treaty) is in force or could be. */
day_t treaty_earliest(const struct treaty *t, day_t as_of);
/* Parses seed_dir/ID.xml, else ID.html (path: the one read); NULL when neither is there
 * or usable (logged). */
struct snapshot *treaty_read_seed(const char *seed_dir, const char *id, char *path,
    size_t pathlen);
/* Each withdrawn = line of ct whose date is not after the participant's instrument in s
 * (which then ignores it): one FILE:LINE message each, to out, or logged as a warning
 * when out is NULL. Returns how many. */
size_t treaty_check_withdrawn(const struct conf_treaty *ct, const struct snapshot *s,
    FILE *out);
/* "ok", "seed", "failing" or "none" (source.state in man/ratd.8, CONTROL SOCKET). */
const char *treaty_source_state(const struct treaty *t);
/* "changed", "unchanged", "not-modified", "refused", "error". */
const char *treaty_outcome_name(enum treaty_outcome o);

#endif
