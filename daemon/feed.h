/* The Atom feed (RFC 4287) of the latest events, feed.atom among the published files. */
#ifndef RATD_FEED_H
#define RATD_FEED_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#define FEED_MAX_ENTRIES 100
#define FEED_TAG_YEAR "2026"        /* the tag: URIs' date: never changes, nor do the ids */

/* The authority of the tag: URIs, from base_url's host (lowercased, without user or
 * port), or "ratd.invalid" when the host is not a DNS name or an IPv4 address. The
 * ids stay the same across restarts as long as base_url's host does. */
void feed_authority(const char *base_url, char *out, size_t len);

/* Writes the feed: events (journaled event objects, newest first; the first
 * FEED_MAX_ENTRIES are used), each an entry with id tag:AUTHORITY,2026:ratd/event/ID,
 * the summary as title, the event's time as updated, and a link to its treaty on
 * base_url's index.html. titles maps treaty ids to their titles (for the summaries).
 * The feed's updated is the newest event's time, else fallback (RFC 3339). base_url
 * ends with '/'. */
void feed_write(FILE *out, const json_t *events, const json_t *titles, const char *base_url,
    const char *fallback);

#endif
