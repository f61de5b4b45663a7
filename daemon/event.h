/* Events (man/ratd.8, EVENTS): what changed between two committed snapshots, and their
 * JSON form. */
#ifndef RATD_EVENT_H
#define RATD_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "rule.h"
#include "snapshot.h"

/* Event types, in the order man/ratd.8 lists them under EVENTS. */
#define EV_NEW_PARTY             "new-party"
#define EV_NEW_SIGNATORY         "new-signatory"
#define EV_THRESHOLD_REACHED     "threshold-reached"
#define EV_APPROACHING           "approaching-threshold"
#define EV_ENTERED_INTO_FORCE    "entered-into-force"
#define EV_PARTICIPANT_CHANGED   "participant-changed"
#define EV_PARTICIPANT_WITHDRAWN "participant-withdrawn"
#define EV_SOURCE_FAILING        "source-failing"
#define EV_SOURCE_RECOVERED      "source-recovered"
#define EV_SOURCE_ANOMALY        "source-anomaly"
/* All of them, for messages that list them. */
#define EV_TYPE_NAMES EV_NEW_PARTY ", " EV_NEW_SIGNATORY ", " EV_THRESHOLD_REACHED ", " \
	EV_APPROACHING ", " EV_ENTERED_INTO_FORCE ", " EV_PARTICIPANT_CHANGED ", " \
	EV_PARTICIPANT_WITHDRAWN ", " EV_SOURCE_FAILING ", " EV_SOURCE_RECOVERED ", " \
	EV_SOURCE_ANOMALY

/* An event is its JSON object {"id", "time", "type", "treaty", "summary", "data"}:
 * the form it is journaled, delivered and watched in, so it is built once. */
struct event_list {
	json_t **v;
	size_t n;
};

/* Appends a new event without an id (event_list_number gives ids). data is taken over;
 * NULL means building it failed. The summary is cut at 1024 bytes, between characters.
 * An event that cannot be encoded whole (data NULL, text not UTF-8) is logged as an
 * error and raised anyway with the schema's members, a repaired summary and what data
 * could be kept: never dropped. -1 only on out-of-memory. */
int event_add(struct event_list *l, time_t now, const char *type, const char *treaty,
    json_t *data, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Gives the events ids *next, *next + 1, ... and advances *next. */
void event_list_number(struct event_list *l, uint64_t *next);
void event_list_clear(struct event_list *l);

/* The events a commit of after over before raises at today (man/ratd.8, EVENTS):
 * parties and signatories that appear, rows that change, disappear or are withdrawn,
 * the threshold being reached or approached. before must be a committed snapshot (not the seed).
 * after_eif: the entry into force at today of the treaty ct's after_treaty names
 * (DAY_NONE when none yet, or when ct has no after_treaty). */
int event_diff(struct event_list *l, const struct conf_treaty *ct,
    const struct snapshot *before, const struct snapshot *after, day_t today,
    day_t after_eif, time_t now);

/* Accessors of an event object. */
uint64_t event_id(const json_t *ev);
const char *event_type(const json_t *ev);
const char *event_treaty(const json_t *ev);
/* Validates an event read back from disk; 0 or -1. */
int event_check(const json_t *ev);
/* True when type is one of those man/ratd.8 lists under EVENTS. */
bool event_type_known(const char *type);

#endif
