/* The plausibility check between parsing and committing (man/ratd.8, DESCRIPTION,
 * Check). */
#ifndef RATD_PLAUSIBLE_H
#define RATD_PLAUSIBLE_H

#include <stdbool.h>
#include <stddef.h>

#include "rule.h"
#include "snapshot.h"
#include "state.h"

/* A reduced table must be seen this many fetches in a row before it is believed. */
#define PLAUSIBLE_CONFIRMATIONS 3

/* Decides whether fresh may replace committed (NULL when nothing real is committed).
 * Returns true to accept; false with a one-line reason to refuse. Updates the
 * pending-confirmation fields of m. */
bool plausible_snapshot(const struct snapshot *committed, const struct snapshot *fresh,
    struct source_meta *m, char *reason, size_t len);

/* Where the page's own statements (Status counts, entry-into-force date) disagree with
 * res, the table evaluated today: one sentence each, appended to out (a JSON array).
 * The statements describe the page's own day, so callers compare only the current view;
 * nothing is compared before the page's "status as at" date. */
void plausible_discrepancies(const struct snapshot *s, const struct rule_result *res,
    json_t *out);

#endif
