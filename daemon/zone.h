/* The day boundary of an IANA time zone (day_zone in ratd.conf(5)), computed without
 * touching the process's TZ after load. */
#ifndef RATD_ZONE_H
#define RATD_ZONE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "date.h"

/* UTC offsets from each change on: off[i] holds from at[i] until at[i + 1]. */
struct zone {
	char *name;       /* "America/New_York", "UTC"; NULL when no zone was named */
	time_t *at;
	int32_t *off;     /* seconds east of UTC */
	size_t n;
};

#define ZONE_YEARS 50     /* offsets are computed this far past the load */

/* Loads the zone name from the tz database (TZDIR, else /usr/share/zoneinfo) with its
 * offsets from `from` - 1 day to ZONE_YEARS later: TZ is set and restored around the
 * computation, so call it only where nothing else reads the time zone (configuration
 * load). 0, or -1 with a reason in err. "UTC" and "Etc/UTC" need no file. */
int zone_load(struct zone *z, const char *name, time_t from, char *err, size_t errlen);
/* The calendar date at t in z (UTC for an empty zone); beyond the computed span the
 * last offset holds. */
day_t zone_day(const struct zone *z, time_t t);
/* z's name for people, NULL when its days are UTC's (no zone named, UTC or Etc/UTC). */
const char *zone_label(const struct zone *z);
/* The first 00:00 in z strictly after t. */
time_t zone_next_midnight(const struct zone *z, time_t t);
void zone_free(struct zone *z);

#endif
