/* Prometheus text exposition of the daemon's figures: `ratctl metrics` and the
 * optional node-exporter textfile. */
#ifndef RATD_METRICS_H
#define RATD_METRICS_H

#include <stdint.h>
#include <time.h>

struct conf;
struct ratd;

/* What the daemon counts since it started. */
struct metrics {
	uint64_t fetches[5];     /* by enum treaty_outcome */
	uint64_t bytes;          /* page bytes received */
	double parse_seconds;    /* CPU spent parsing pages */
	time_t started;
};

/* The exposition text (malloc'ed), or NULL on out-of-memory. */
char *metrics_text(struct ratd *rd);
/* Writes metrics_text to the configured textfile, atomically; nothing when unset. */
void metrics_write_textfile(struct ratd *rd);
/* At start: removes the temporaries of the textfile a crash left beside it, and warns
 * when everyone may write its directory (the write itself stays safe: a new file
 * renamed over the old, never through a link). */
void metrics_clean_textfile(const struct conf *conf);

#endif
