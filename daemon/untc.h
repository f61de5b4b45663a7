/* Reading UN Treaty Collection pages: the ViewDetails HTML and the MTDSG XML. */
#ifndef RATD_UNTC_H
#define RATD_UNTC_H

#include <stddef.h>

#include "snapshot.h"

enum untc_format {
	UNTC_AUTO = 0,
	UNTC_HTML,
	UNTC_XML,
};

/* "auto", "html", "xml". */
const char *untc_format_name(enum untc_format f);
/* Inverse of untc_format_name; -1 for an unknown name. */
int untc_format_from_name(const char *name);
/* Which parser a body needs: XML when it starts (after a BOM and blanks) with "<?xml"
 * and is not XHTML, HTML otherwise. */
enum untc_format untc_detect(const char *buf, size_t len);

/* Parses a page into a new snapshot. fmt UNTC_AUTO detects. On failure returns NULL and
 * writes a one-line reason for users into err ("no participants table", ...).
 * Never touches the network and never expands entities. */
struct snapshot *untc_parse(const char *buf, size_t len, enum untc_format fmt,
    char *err, size_t errlen);
struct snapshot *untc_parse_html(const char *buf, size_t len, char *err, size_t errlen);
struct snapshot *untc_parse_xml(const char *buf, size_t len, char *err, size_t errlen);

/* Reads one date cell (" 5 Jun\t 2007 a", "14 Mar\t 2003 ") into out, using the marker
 * meanings of the column: markers[k] is the marker text of kind k ("a", "AA", ...) or
 * NULL, and deflt the kind of a date without marker. 0 (also for an empty cell, which
 * gives DAY_NONE), or -1 when the cell is not a date. */
int untc_parse_cell(const char *cell, const char *const markers[KIND_COUNT_],
    enum kind deflt, struct action *out);

#endif
