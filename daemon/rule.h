/* A treaty's entry-into-force rule evaluated over a snapshot at a date (ratd.conf(5),
 * "Entry into force"). */
#ifndef RATD_RULE_H
#define RATD_RULE_H

#include <stdbool.h>
#include <stddef.h>

#include "date.h"
#include "snapshot.h"

enum rule_align {
	RULE_ALIGN_NONE = 0,
	RULE_ALIGN_NEXT_MONTH,   /* first day of the month following the delay */
};

/* Which instruments the treaty's per-State paragraph covers. */
enum rule_later {
	RULE_LATER_AFTER_EIF = 0,    /* deposited on or after the treaty's entry into force */
	RULE_LATER_AFTER_THRESHOLD,  /* deposited after the threshold date */
};

/* A participant named in the configuration with a date (withdrawn =, effective =). */
struct rule_dated {
	char *name;
	day_t date;
	int line;                /* its line in the treaty's file, for messages */
};

struct rule {
	int threshold;           /* instruments needed, >= 1 */
	int delay_months;        /* eif_delay = N months [N days] */
	int delay_days;
	enum rule_align align;
	unsigned count_mask;     /* bit (1u << kind) set for each kind that counts */
	char **exclude;          /* participants whose instruments never count */
	size_t nexclude;
	enum rule_later later;
	bool later_set;          /* false: later instruments take eif_delay and eif_align */
	int later_months;        /* later_delay */
	int later_days;
	enum rule_align later_align;
	bool has_not_before;
	day_t not_before;        /* never in force before this day */
	char **requires;         /* participants whose instruments are all needed */
	size_t nrequires;
	char *after_treaty;      /* never in force before that treaty; NULL when not set */
	struct rule_dated *withdrawn;   /* withdrawal dates the page does not give */
	size_t nwithdrawn;
	struct rule_dated *effective;   /* per-participant dates the page states in notes */
	size_t neffective;
};

/* The figures of one evaluation. Indices point into the evaluated snapshot. */
struct rule_result {
	day_t as_of;
	int parties;             /* participants with an instrument dated <= as_of and no
	                          * withdrawal in effect at as_of */
	int counted;             /* of them, kind counted and not excluded */
	int signatories;         /* signature dated <= as_of, no withdrawal in effect */
	int remaining;           /* max(0, threshold - counted) */
	bool threshold_reached;
	day_t threshold_date;    /* first day the threshold (and requires) was met, or DAY_NONE */
	size_t *threshold_idx;   /* every counted participant that deposited on threshold_date */
	size_t nthreshold;
	day_t rule_date;         /* eif_delay/eif_align applied to threshold_date, or DAY_NONE */
	day_t entry_into_force;  /* the latest of rule_date, not_before and after_treaty's
	                          * date; DAY_NONE when one of them is unknown */
	bool in_force;           /* entry_into_force <= as_of */
	const char **required_missing;  /* requires names without a counted instrument at
	                                 * as_of (pointers into the rule) */
	size_t nrequired_missing;
};

/* The entry-into-force date the rule gives for a deposit on day d. */
day_t rule_entry_into_force(const struct rule *r, day_t d);
/* The date the later rule (later_delay, later_align) gives for a deposit on day d. */
day_t rule_later_date(const struct rule *r, day_t d);
/* True when the participant is excluded by name. */
bool rule_excluded(const struct rule *r, const char *name);
/* The day p's withdrawal took effect: the page's date, else the configured one, else the
 * day ratd first saw it; DAY_NONE when p is not withdrawn; INT32_MIN + 1 (before every
 * date) for a withdrawn participant whose date nobody knows, who then never counts. */
day_t rule_withdrawal(const struct rule *r, const struct participant *p);
/* True when p is a party at as_of: an instrument by then and no withdrawal in effect. */
bool rule_is_party(const struct rule *r, const struct participant *p, day_t as_of);
/* True when p's instrument counts towards the threshold at as_of. */
bool rule_counts(const struct rule *r, const struct participant *p, day_t as_of);
/* Evaluates s at as_of into out (free with rule_result_clear); 0, or -1 on out-of-memory.
 * after_eif is the entry into force of r->after_treaty at as_of (DAY_NONE when that
 * treaty has none yet); it is ignored when r->after_treaty is NULL. The threshold date is
 * the first day the condition held: a later withdrawal never moves it. */
int rule_eval_after(const struct rule *r, const struct snapshot *s, day_t as_of,
    day_t after_eif, struct rule_result *out);
/* rule_eval_after with after_treaty's date unknown. */
int rule_eval(const struct rule *r, const struct snapshot *s, day_t as_of,
    struct rule_result *out);
void rule_result_clear(struct rule_result *res);
/* Entry into force for one participant: the configured `effective` date; else, for an
 * instrument the per-State paragraph covers (see enum rule_later), the later rule from
 * its own deposit but never before the treaty's date; else the treaty's date.
 * DAY_NONE when not a party at res->as_of or the treaty has no date. */
day_t rule_participant_eif(const struct rule *r, const struct rule_result *res,
    const struct participant *p);
/* A delay as written in the config: "3 months", "90 days", "1 months 15 days". */
void rule_format_delay(const struct rule *r, char *buf, size_t len);
void rule_format_later_delay(const struct rule *r, char *buf, size_t len);
/* Deep copy of src into dst (lists and names duplicated); 0 or -1. */
int rule_copy(struct rule *dst, const struct rule *src);
void rule_clear(struct rule *r);

#endif
