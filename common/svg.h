/* The timeline chart as SVG, shared by `ratctl timeline --svg` and the daemon's published
 * files (index.html inlines it, ID.svg stands alone). */
#ifndef RATD_SVG_H
#define RATD_SVG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Writes s with & < > " ' as character references and control characters other than tab
 * and newline as '?' (XML 1.0 forbids them): right for XML and HTML text and attribute
 * values alike. NULL writes nothing. */
void svg_escape(FILE *out, const char *s);

/* Writes timeline (a render_timeline_build result) as an SVG chart: the counted
 * instruments as a step line, the threshold as a dashed line, the threshold date and the
 * entry into force as marked vertical lines, both axes labelled, with <title> and
 * <desc> for screen readers. standalone: an XML declaration first, for a file of its
 * own; else an <svg> element to inline in HTML. A timeline without a counted
 * instrument still gets its axes and a note saying so. */
void svg_timeline(FILE *out, const json_t *timeline, bool standalone);

#endif
