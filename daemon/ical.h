/* iCalendar (RFC 5545) files of entry-into-force dates, ID.ics among the published files. */
#ifndef RATD_ICAL_H
#define RATD_ICAL_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define ICAL_LINE_OCTETS 75      /* RFC 5545 3.1: fold longer lines */

/* Writes one content line: CRLF-terminated, folded before ICAL_LINE_OCTETS octets
 * (continuations start with a blank), never inside a UTF-8 character. */
void ical_line(FILE *out, const char *line);
/* Writes s as an RFC 5545 TEXT value: backslash, ';', ',' and newlines escaped,
 * other control characters dropped. */
void ical_text(FILE *out, const char *s);
/* FNV-1a of s: the participant part of the UIDs, the same on every host. */
uint64_t ical_hash(const char *s);

/* Writes the calendar of one treaty: an all-day event for its entry into force (while
 * the threshold is not reached: the earliest possible date, labelled so) and one per
 * participant with a date of entry into force of its own. status: its TreatyStatus;
 * parties: a parties result. UIDs: ID-eif@ratd, ID-earliest@ratd,
 * ID-eif-HASH@ratd (HASH: ical_hash of the participant's name in hex): the same
 * across restarts. stamp: DTSTAMP; the same data and stamp give the same bytes.
 * base_url ends with '/'. */
void ical_write(FILE *out, const json_t *status, const json_t *parties,
    const char *base_url, time_t stamp);

#endif
