/* The plausibility check between parsing and committing (SPEC §5). */
#ifndef RATD_CHECK_H
#define RATD_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"
#include "state.h"

/* A reduced table must be seen this many fetches in a row before it is believed. */
#define CHECK_CONFIRMATIONS 3

/* Decides whether fresh may replace committed (NULL when nothing real is committed).
 * Returns true to accept; false with a one-line reason to refuse. Updates the
 * pending-confirmation fields of m. */
bool check_snapshot(const struct snapshot *committed, const struct snapshot *fresh,
    struct source_meta *m, char *reason, size_t len);

#endif
