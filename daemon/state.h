/* What ratd keeps on disk per treaty: the committed snapshot and the source's history,
 * in state_dir/ID.json, replaced atomically and durably. */
#ifndef RATD_STATE_H
#define RATD_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "snapshot.h"

#define STATE_MAX_FILE (16 << 20)

/* What ratd knows about fetching one treaty's page. Times are 0 when never. */
struct source_meta {
	char *etag;              /* validators of the committed page, echoed on the next fetch */
	char *last_modified;
	time_t last_attempt;
	time_t last_success;
	time_t last_change;
	time_t failing_since;    /* first failure of the current run, 0 when none */
	int consecutive_failures;
	char *error;             /* last failure or refusal, NULL after a success */
	uint64_t pending_hash;   /* a reduced table seen pending_count times in a row */
	int pending_count;
	bool failing_alerted;    /* source-failing raised for the current run of failures */
	bool eif_announced;      /* entered-into-force raised, or in force at the baseline */
	json_t *anomalies;       /* reasons raised as source-anomaly since the last commit */
	json_t *discrepancies;   /* page-versus-table disagreements already raised */
	uint64_t last_event_id;  /* the highest event id given when this was saved */
};

void source_meta_clear(struct source_meta *m);
/* Replaces *slot by a copy of value (or NULL); -1 on out-of-memory. */
int state_set_str(char **slot, const char *value);

/* Saves snap (may be NULL: nothing committed yet), m and the outbox (the events this
 * save raises, already numbered; NULL for none) as dir/ID.json. The outbox makes the
 * commit and its events one atomic step: events missing from the journal after a
 * crash are found here again. */
int state_save(const char *dir, const char *id, const struct snapshot *snap,
    const struct source_meta *m, const json_t *outbox, char *err, size_t errlen);
/* Reads the committed snapshot of dir/ID.json and changes nothing (for --check-config):
 * 1 when read, 0 when there is none, -1 when it cannot be read (err says why). */
int state_peek(const char *dir, const char *id, struct snapshot **snap, char *err,
    size_t errlen);
/* Reads the outbox (events not known to be journaled) and the last event id of
 * dir/ID.json and changes nothing: for a treaty that is no longer configured. 1 when
 * read (*outbox is the caller's), 0 when there is none, -1 when unreadable (err). */
int state_peek_outbox(const char *dir, const char *id, json_t **outbox,
    uint64_t *last_event_id, char *err, size_t errlen);
/* Loads dir/ID.json. 1 when loaded, 0 when there is none, -1 when it is unreadable or
 * invalid: then it has been moved aside to ID.json.corrupt-TIME and err says so. */
int state_load(const char *dir, const char *id, struct snapshot **snap,
    struct source_meta *m, json_t **outbox, char *err, size_t errlen);

#endif
