/* The published files ([publish] in ratd.conf): index.html, feed.atom, ID.svg and ID.ics
 * in dir, rewritten whenever what they show changes. */
#ifndef RATD_PUBLISH_H
#define RATD_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

struct core;

#define PUBLISH_MAX_FILE (64 << 20)  /* a rendered file above this is refused, not written */
#define PUBLISH_RETRY 30.            /* seconds between tries while writing fails */

/* Watches rd->generation from a prepare watcher: once per loop turn in which something
 * a status reply shows changed (a commit, an event, a fetch's outcome, a reload), the
 * files are rendered again, and those whose bytes differ are replaced, each atomically
 * (a fresh temporary file in dir, fsync, rename). A burst of changes in one turn
 * writes once; after a failure, the next loop turn at least PUBLISH_RETRY seconds
 * later tries again. Does nothing while the configuration has no [publish]. NULL on
 * out-of-memory (logged). */
struct publish *publish_new(struct core *core);
/* Writes a last time if something changed since the last write (ratd --once ends
 * without another loop turn), then frees p. NULL is fine. */
void publish_free(struct publish *p);
/* Renders and writes every file now. Returns the number of files replaced, or -1 when
 * one could not be written (logged once until writing works again). 0 without
 * [publish]. */
int publish_now(struct publish *p);

#endif
