/* Prometheus text exposition of the daemon's figures: `ratctl metrics` and the
 * optional node-exporter textfile. */
#ifndef RATD_METRICS_H
#define RATD_METRICS_H

#include <ev.h>
#include <stdint.h>
#include <time.h>

struct alerts;
struct conf;
struct core;

/* What the daemon counts since it started, and what the exposition reads besides. */
struct metrics {
	struct core *core;       /* the treaties, the journal and the configuration */
	struct alerts *alerts;   /* the sinks' figures; NULL: none shown */
	uint64_t fetches[5];     /* by enum treaty_outcome (TREATY_OUTCOMES) */
	uint64_t bytes;          /* response body bytes after decoding, error bodies too */
	double parse_seconds;    /* CPU spent parsing pages */
	time_t started;
	ev_timer textfile_timer;  /* the next textfile write, when one is due */
	ev_tstamp textfile_last;  /* loop time of the last write */
};

/* The exposition text (malloc'ed), or NULL on out-of-memory. */
char *metrics_text(struct metrics *m);
/* Writes metrics_text to the configured textfile, atomically, with the configured
 * mode; nothing when unset. */
void metrics_write_textfile(struct metrics *m);
/* A figure of the textfile has changed: it is rewritten within a second, and never
 * more often than once a second (changes in between are written together). No-op
 * without a textfile or a loop. */
void metrics_schedule(struct metrics *m);
/* Writes a textfile write still due and stops its timer (before the figures go). */
void metrics_flush(struct metrics *m);
/* At start: removes the temporaries of the textfile a crash left beside it, and warns
 * when everyone may write its directory (the write itself stays safe: a new file
 * renamed over the old, never through a link). */
void metrics_clean_textfile(const struct conf *conf);

#endif
