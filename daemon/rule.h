/* A treaty's entry-into-force rule evaluated over a snapshot at a date (SPEC §5). */
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

struct rule {
	int threshold;           /* instruments needed, >= 1 */
	int delay_months;        /* eif_delay = N months [N days] */
	int delay_days;
	enum rule_align align;
	unsigned count_mask;     /* bit (1u << kind) set for each kind that counts */
	char **exclude;          /* participants whose instruments never count */
	size_t nexclude;
};

/* The figures of one evaluation. Indices point into the evaluated snapshot. */
struct rule_result {
	day_t as_of;
	int parties;             /* non-withdrawn participants with an instrument dated <= as_of */
	int counted;             /* of them, kind counted and not excluded */
	int signatories;         /* non-withdrawn participants with a signature dated <= as_of */
	int remaining;           /* max(0, threshold - counted) */
	bool threshold_reached;
	day_t threshold_date;    /* deposit of the threshold-th counted instrument, or DAY_NONE */
	size_t *threshold_idx;   /* every counted participant that deposited on threshold_date */
	size_t nthreshold;
	day_t entry_into_force;  /* the rule applied to threshold_date, or DAY_NONE */
	bool in_force;           /* entry_into_force <= as_of */
};

/* The entry-into-force date the rule gives for a deposit on day d. */
day_t rule_entry_into_force(const struct rule *r, day_t d);
/* True when the participant is excluded by name. */
bool rule_excluded(const struct rule *r, const char *name);
/* True when p's instrument counts towards the threshold at as_of. */
bool rule_counts(const struct rule *r, const struct participant *p, day_t as_of);
/* Evaluates s at as_of into out (free with rule_result_clear); 0, or -1 on out-of-memory. */
int rule_eval(const struct rule *r, const struct snapshot *s, day_t as_of,
    struct rule_result *out);
void rule_result_clear(struct rule_result *res);
/* Entry into force for one participant (article 87(2)): the treaty's date for an
 * instrument deposited before it, else the rule applied to its own deposit;
 * DAY_NONE when withdrawn, without an instrument at as_of, or the treaty has no date. */
day_t rule_participant_eif(const struct rule *r, const struct rule_result *res,
    const struct participant *p);
/* The delay as written in the config: "3 months", "90 days", "1 months 15 days". */
void rule_format_delay(const struct rule *r, char *buf, size_t len);
/* Deep copy of src into dst (the exclude list is duplicated); 0 or -1. */
int rule_copy(struct rule *dst, const struct rule *src);
void rule_clear(struct rule *r);

#endif
