/* index.html: the published status page of every tracked treaty. */
#ifndef RATD_PAGE_H
#define RATD_PAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define PAGE_EVENTS 10           /* latest events shown per treaty */
#define PAGE_FULL_MAX 3          /* treaties the index shows whole; past that, summaries */

/* Writes the page: one section per element of views, each
 * {"status": TreatyStatus, "parties": a parties result, "timeline": a
 *  render_timeline_build result, "events": [its events, newest first]},
 * with the figures, the chart inline, the latest events, the source's health and the
 * participants. Self-contained HTML5: inline CSS and SVG, no script, no outside
 * resource; everything from a page or the configuration is escaped. today:
 * "YYYY-MM-DD", the date the figures are evaluated at, a day of zone (day_zone's IANA
 * name, NULL when days are UTC's). summary: each section leaves the participants out and links to
 * the treaty's own page, ID.html, instead (an index of many treaties stays short). */
void page_write(FILE *out, const json_t *views, const char *today, const char *zone,
    bool summary);

#endif
