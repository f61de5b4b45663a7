/* Human output of control-socket replies, shared by ratctl and `ratd --once`. */
#ifndef RATD_RENDER_H
#define RATD_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* result: the "result" object of a status reply ({"treaties": [TreatyStatus...]}). */
void render_status(FILE *out, const json_t *result, bool color);
/* The same result as one line per treaty (id, counted/threshold, where it stands, the
 * source's state), then a count of those not ok, the alerts and a failing journal. */
void render_status_summary(FILE *out, const json_t *result, bool color);
/* result: the "result" object of a parties reply. */
void render_parties(FILE *out, const json_t *result, bool color);
/* After the table: each participant's footnote texts, one line each (parties --notes). */
void render_parties_notes(FILE *out, const json_t *result);
/* result: the "result" object of a refresh reply. */
void render_refresh(FILE *out, const json_t *result, bool color);
/* result: the "result" object of a history reply; one line per event. */
void render_history(FILE *out, const json_t *result, bool color);
/* One event as the line "#ID TIME TREATY TYPE summary" (history and watch). */
void render_event(FILE *out, const json_t *event, bool color);
/* Writes s (NULL as "-") with control characters as '?': network text must not drive a terminal. */
void render_text(FILE *out, const char *s);
/* The integer member key of o, or "-" when it has none. */
void render_int(FILE *out, const json_t *o, const char *key);
/* Terminal columns of s as render_text prints it: one per character. */
size_t render_text_width(const char *s);
/* Writes many lines (the metrics text) as they are, but for control characters other than
 * newline and tab, written as '?'. */
void render_lines(FILE *out, const char *s);

/* A parties result reduced to the signatories that are not yet parties at its as_of
 * (signed by then, no instrument by then, not withdrawn); NULL on out-of-memory. */
json_t *render_pending_filter(const json_t *result);
/* A result of render_pending_filter: each signatory with its signature date. */
void render_pending(FILE *out, const json_t *result, bool color);

/* From a parties result and the TreatyStatus of the same treaty, the timeline
 * {"treaty", "as_of", "threshold", "threshold_date", "entry_into_force",
 *  "bucket": "year"|"month", "series": [{"period": "2003", "counted": 21}...]}:
 * counted instruments, cumulative, from the first one's period to as_of's; by month
 * over a span of at most 60 months. NULL without a readable as_of or memory. */
json_t *render_timeline_build(const json_t *parties, const json_t *status);
/* That timeline as a chart fitting width columns (40 at least): the threshold a
 * horizontal line, its date and entry into force marked under the axis. Unicode
 * blocks when utf8, plain ASCII otherwise. */
void render_timeline(FILE *out, const json_t *timeline, int width, bool utf8);

#endif
